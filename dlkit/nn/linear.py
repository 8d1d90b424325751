"""The fully connected layer.

In the book's notation a layer maps the activations a^(j) (s_j units) to
z^(j+1) = Θ^(j) [1; a^(j)], with Θ^(j) ∈ R^{s_{j+1} × (s_j + 1)} whose first column
multiplies the bias unit. dlkit keeps that first column apart, as the bias ``b``, and
the rest as ``W`` (``out_features × in_features``), and works on a batch at once, as
chapter 5 writes it: for the layer's input activations ``A`` of shape
(N, in_features), one example per row, ``Z = A Wᵀ + b``; with δ = ∂L/∂Z from above,
backward gives ∂L/∂W = δᵀ A, ∂L/∂b = Σ_n δ_n and ∂L/∂A = δ W.
"""

from __future__ import annotations

import numpy as np

from dlkit import rng as _rng
from dlkit.nn import init as _init
from dlkit.nn.core import Layer, Param, check_array, check_flag, check_float_dtype, check_int


class Linear(Layer):
    """Z = A Wᵀ + b, with A the layer's input activations (chapter 5's notation).

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

    Shapes: forward ``A (N, in_features) -> Z (N, out_features)``; backward takes
    δ = ∂L/∂Z (N, out_features) and returns ∂L/∂A (N, in_features).
    Gradients: ∂L/∂W = δᵀ A, ∂L/∂b = Σ_n δ_n, ∂L/∂A = δ W.
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        *,
        bias: bool = True,
        init="xavier",
        input_grad: bool = True,
        seed=0,
        dtype=np.float64,
    ):
        self.in_features = check_int(in_features, "in_features", "Linear")
        self.out_features = check_int(out_features, "out_features", "Linear")
        self.dtype = check_float_dtype(dtype, "Linear")
        check_flag(bias, "bias", "Linear")
        g = _rng(seed)
        self.W = Param(_init.get(init)((self.out_features, self.in_features), g, self.dtype), "W")
        self.b = Param(np.zeros(self.out_features, self.dtype), "b") if bias else None
        self.input_grad = check_flag(input_grad, "input_grad", "Linear")
        self._A = None

    def parameters(self) -> list[Param]:
        return [self.W] if self.b is None else [self.W, self.b]

    def _check_input(self, x) -> np.ndarray:
        """The first line of ``forward``: `x` as a finite float array (N, in_features)
        of the layer's dtype; a ValueError that says how to reshape it otherwise."""
        who = f"Linear({self.in_features}, {self.out_features})"
        x = check_array(x, who, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            hint = (
                f"flatten it to ({x.shape[0]}, {int(np.prod(x.shape[1:]))}) first"
                if x.ndim > 2 and int(np.prod(x.shape[1:])) == self.in_features
                else f"it needs shape (N, {self.in_features})"
            )
            raise ValueError(f"{who} got input of shape {x.shape}; {hint}")
        return x

    def forward(self, x: np.ndarray) -> np.ndarray:
        """Z = A Wᵀ + b for the input activations A = `x` (N, in_features)."""
        A = self._check_input(x)
        self._A = A  # kept for backward: ∂L/∂W = δᵀ A
        Z = A @ self.W.data.T
        if self.b is not None:
            Z += self.b.data
        return Z

    def _output_shape(self):
        return None if self._A is None else (self._A.shape[0], self.out_features)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """δ = ∂L/∂Z (`dout`, N × out_features) in; sets ∂L/∂W, ∂L/∂b; returns ∂L/∂A."""
        δ = self._check_dout(dout)
        np.matmul(δ.T, self._A, out=self.W.grad)  # ∂L/∂W = δᵀ A
        if self.b is not None:
            np.sum(δ, axis=0, out=self.b.grad)  # ∂L/∂b = Σ_n δ_n
        return δ @ self.W.data if self.input_grad else None  # ∂L/∂A = δ W

    def __repr__(self) -> str:
        extra = ("" if self.b else ", bias=False") + (
            "" if self.input_grad else ", input_grad=False"
        )
        return f"Linear({self.in_features}, {self.out_features}{extra})"
