"""The fully connected layer.

In the book's notation a layer maps the activations a^(j) (s_j units) to
z^(j+1) = Θ^(j) [1; a^(j)], with Θ^(j) ∈ R^{s_{j+1} × (s_j + 1)} whose first column
multiplies the bias unit. dlkit keeps that first column apart, as the bias ``b``, and
the rest as ``W`` (``out_features × in_features``), and works on a batch at once: for
``X`` of shape (N, in_features), ``Z = X W^T + b``.
"""

from __future__ import annotations

import numpy as np

from dlkit import rng as _rng
from dlkit.nn import init as _init
from dlkit.nn.core import Layer, Param, check_array, check_flag, check_float_dtype, check_int


class Linear(Layer):
    """Z = X W^T + b.

    Parameters
    ----------
    in_features, out_features : int
        s_j and s_{j+1}.
    bias : bool
        Whether the layer has the bias unit's weights ``b`` (shape ``(out_features,)``).
    init : str or callable
        Weight initialiser (see :mod:`dlkit.nn.init`); biases start at zero.
    input_grad : bool
        False skips dX in backward (which then returns None): for a network's first
        layer, whose input is data and needs no gradient (frameworks skip it too).
    seed : int or numpy Generator
        Source of the initial weights.
    dtype : numpy dtype
        float64 (default: exact gradient checks) or float32 (speed).

    Shapes: forward ``(N, in_features) -> (N, out_features)``; backward the reverse.
    Gradients: dW = dZ^T X, db = Σ_n dZ_n, dX = dZ W.
    """

    def __init__(self, in_features: int, out_features: int, *, bias: bool = True,
                 init="xavier", input_grad: bool = True, seed=0, dtype=np.float64):
        self.in_features = check_int(in_features, "in_features", "Linear")
        self.out_features = check_int(out_features, "out_features", "Linear")
        self.dtype = check_float_dtype(dtype, "Linear")
        check_flag(bias, "bias", "Linear")
        g = _rng(seed)
        self.W = Param(_init.get(init)((self.out_features, self.in_features), g, self.dtype), "W")
        self.b = Param(np.zeros(self.out_features, self.dtype), "b") if bias else None
        self.input_grad = check_flag(input_grad, "input_grad", "Linear")
        self._x = None

    def parameters(self) -> list[Param]:
        return [self.W] if self.b is None else [self.W, self.b]

    def forward(self, x: np.ndarray) -> np.ndarray:
        who = f"Linear({self.in_features}, {self.out_features})"
        x = check_array(x, who, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            hint = (
                f"flatten it to ({x.shape[0]}, {int(np.prod(x.shape[1:]))}) first"
                if x.ndim > 2 and int(np.prod(x.shape[1:])) == self.in_features
                else f"it needs shape (N, {self.in_features})"
            )
            raise ValueError(f"{who} got input of shape {x.shape}; {hint}")
        self._x = x
        z = x @ self.W.data.T
        if self.b is not None:
            z += self.b.data
        return z

    def _output_shape(self):
        return None if self._x is None else (self._x.shape[0], self.out_features)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._check_dout(dout)
        np.matmul(dout.T, self._x, out=self.W.grad)
        if self.b is not None:
            np.sum(dout, axis=0, out=self.b.grad)
        return dout @ self.W.data if self.input_grad else None

    def __repr__(self) -> str:
        extra = ("" if self.b else ", bias=False") + ("" if self.input_grad else ", input_grad=False")
        return f"Linear({self.in_features}, {self.out_features}{extra})"
