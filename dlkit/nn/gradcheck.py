"""Numerical gradient checking.

Backpropagation is checked against centred finite differences,
∂L/∂θ ≈ (L(θ + h) − L(θ − h)) / 2h, on the scalar loss L = Σ out ⊙ R for a fixed
random R (so every output contributes). The relative error

    max |a − n| / max(|a| + |n|, tiny)

is around 1e-9 for a correct layer in float64 and 1e-2 or worse for a wrong one.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable

import numpy as np

from dlkit import rng as _rng
from dlkit.nn.core import Layer


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest elementwise relative error between two arrays of the same shape."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    denom = np.maximum(np.abs(a) + np.abs(b), 1e-12)
    return float(np.max(np.abs(a - b) / denom)) if a.size else 0.0


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Centred differences of the scalar f() with respect to array x, changed in place."""
    grad = np.zeros(x.shape, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + h
        fp = f()
        x[i] = old - h
        fm = f()
        x[i] = old
        grad[i] = (fp - fm) / (2 * h)
    return grad


@dataclass
class GradCheck:
    """Relative errors of one layer's analytic gradients, by name ('x', 'W', 'b'...)."""

    layer: str
    errors: dict[str, float]

    @property
    def max_error(self) -> float:
        return max(self.errors.values())

    def __repr__(self) -> str:
        parts = ", ".join(f"d{k}: {v:.1e}" for k, v in self.errors.items())
        return f"{self.layer:<28} {parts}"


def check_layer(layer: Layer, x: np.ndarray, *, seed=0, h: float = 1e-6) -> GradCheck:
    """Compare `layer`'s backward with finite differences at input `x` (use float64).

    Returns the relative error for the input and for every parameter.
    """
    x = np.array(x, dtype=np.float64)
    g = _rng(seed)
    out = layer.forward(x)
    R = g.standard_normal(out.shape)

    def loss() -> float:
        return float(np.sum(layer.forward(x) * R))

    layer.forward(x)
    dx = layer.backward(R.copy())
    # Names such as "W" or, inside a Sequential, "0.W" and "2.W" keep parameters apart.
    named = [(name or f"p{i}", p) for i, (name, p) in enumerate(layer.named_parameters())]
    analytic = {name: p.grad.copy() for name, p in named}
    errors = {"x": rel_error(dx, numerical_gradient(loss, x, h))}
    for name, p in named:
        errors[name] = rel_error(analytic[name], numerical_gradient(loss, p.data, h))
    label = repr(layer)
    if "\n" in label:  # a Sequential: name its layers on one line
        label = " > ".join(repr(sub) for sub in getattr(layer, "layers", [layer]))
    return GradCheck(label, errors)


def check_loss(loss_fn, pred: np.ndarray, target, h: float = 1e-6) -> float:
    """Relative error of a loss's backward() against finite differences in `pred`."""
    pred = np.array(pred, dtype=np.float64)
    loss_fn.forward(pred, target)
    analytic = loss_fn.backward()
    num = numerical_gradient(lambda: loss_fn.forward(pred, target), pred, h)
    return rel_error(analytic, num)
