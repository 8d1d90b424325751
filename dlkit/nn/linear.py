"""The fully connected layer.

In the book's notation (chapters/notation.md) layer j computes, from the activations
a^(j-1) of the s_{j-1} units below it, z^(j) = Θ^(j) [1; a^(j-1)], with
Θ^(j) = [b^(j) | W^(j)] ∈ R^{s_j × (s_{j-1} + 1)} whose first column multiplies the
bias unit. dlkit keeps that first column apart, as the bias ``b`` (b^(j)), and the rest
as ``W`` (W^(j), ``out_features × in_features``), and works on a batch at once, one
example per row: for the input activations A^(j-1) of shape (N, s_{j-1}),
Z^(j) = A^(j-1) W^(j)ᵀ + b^(j). Given δ^(j) = ∂𝓛/∂Z^(j) from above, backward applies
chapter 5's equations: ∂𝓛/∂W^(j) = δ^(j)ᵀ A^(j-1) (BP4), ∂𝓛/∂b^(j) = Σ_n δ^(j)_n
(BP3), and returns ∂𝓛/∂A^(j-1) = δ^(j) W^(j), the first half of BP2 (the activation
layer below multiplies it by g'(Z^(j-1))).
"""

from __future__ import annotations

import numpy as np

from dlkit import rng as _rng
from dlkit.nn import device
from dlkit.nn import init as _init
from dlkit.nn.core import Layer, Param, check_array, check_flag, check_float_dtype, check_int


class Linear(Layer):
    """Z^(j) = A^(j-1) W^(j)ᵀ + b^(j), with A^(j-1) the layer's input activations.

    Parameters
    ----------
    in_features, out_features : int
        s_{j-1} and s_j.
    bias : bool
        Whether the layer has the bias unit's weights ``b`` = b^(j) (shape
        ``(out_features,)``).
    init : str or callable
        Weight initialiser (see :mod:`dlkit.nn.init`); biases start at zero.
    input_grad : bool
        False skips ∂𝓛/∂A^(j-1) in backward (which then returns None): for a
        network's first layer, whose input is data and needs no gradient (frameworks
        skip it too, saving a third of that layer's backward flops).
    seed : int or numpy Generator
        Source of the initial weights.
    dtype : numpy dtype
        float64 (default: exact gradient checks) or float32 (speed).

    Shapes: forward ``A^(j-1) (N, in_features) -> Z^(j) (N, out_features)``; backward
    takes δ^(j) = ∂𝓛/∂Z^(j) (N, out_features) and returns ∂𝓛/∂A^(j-1)
    (N, in_features). Gradients: ∂𝓛/∂W^(j) = δ^(j)ᵀ A^(j-1) (BP4),
    ∂𝓛/∂b^(j) = Σ_n δ^(j)_n (BP3), ∂𝓛/∂A^(j-1) = δ^(j) W^(j).
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
        """Z^(j) = A^(j-1) W^(j)ᵀ + b^(j) for the input activations A^(j-1) = `x`
        (N, in_features)."""
        A = self._check_input(x)
        self._A = A  # A^(j-1), kept for backward: ∂𝓛/∂W^(j) = δ^(j)ᵀ A^(j-1)
        Z = A @ self.W.data.T
        if self.b is not None:
            Z += self.b.data
        return Z

    def _output_shape(self):
        return None if self._A is None else (self._A.shape[0], self.out_features)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        """δ^(j) = ∂𝓛/∂Z^(j) (`dout`, N × s_j) in; sets W.grad = ∂𝓛/∂W^(j) and
        b.grad = ∂𝓛/∂b^(j); returns ∂𝓛/∂A^(j-1) (N × s_{j-1})."""
        δ = self._check_dout(dout)
        np.matmul(δ.T, self._A, out=self.W.grad)  # BP4: ∂𝓛/∂W^(j) = δ^(j)ᵀ A^(j-1)
        if self.b is not None:
            np.sum(δ, axis=0, out=self.b.grad)  # BP3: ∂𝓛/∂b^(j) = Σ_n δ^(j)_n
        return δ @ self.W.data if self.input_grad else None  # ∂𝓛/∂A^(j-1) = δ^(j) W^(j)

    def __repr__(self) -> str:
        extra = ("" if self.b else ", bias=False") + (
            "" if self.input_grad else ", input_grad=False"
        )
        return f"Linear({self.in_features}, {self.out_features}{extra})"


# On a GPU backend (cuda, cudasim, cupy) the layer runs on the device: dlkit.nn.device.
device.runs_on_device(Linear, forward="linear_forward", backward="linear_backward")
