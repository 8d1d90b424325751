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
from dlkit.checks import as_real_array
from dlkit.nn.core import Layer, check_real


def rel_error(a: np.ndarray, b: np.ndarray) -> float:
    """Largest elementwise relative error between two arrays of the same shape."""
    a, b = _as_float64(a, "a", "rel_error"), _as_float64(b, "b", "rel_error")
    if a.shape != b.shape:
        raise ValueError(f"rel_error: shapes differ, {a.shape} vs {b.shape}")
    denom = np.maximum(np.abs(a) + np.abs(b), 1e-12)
    return float(np.max(np.abs(a - b) / denom)) if a.size else 0.0


def numerical_gradient(f: Callable[[], float], x: np.ndarray, h: float = 1e-6) -> np.ndarray:
    """Centred differences of the scalar f() with respect to array x, changed in place."""
    _check_numerical_gradient_args(f, x, h)
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
        grad[i] = _central_difference(fp, fm, h)
    return grad


def _as_float64(a, name: str, who: str) -> np.ndarray:
    """`a` as a float64 array; None, strings, objects and complex numbers are a TypeError."""
    if type(a) is np.ndarray and a.dtype.kind in "fiub":
        return a.astype(np.float64, copy=False)
    fix = "pass an array of real numbers (the gradients to compare)"
    arr = as_real_array(a, name, who, what="an array of real numbers", fix=fix)
    return arr.astype(np.float64, copy=False)


def _check_numerical_gradient_args(f, x, h) -> None:
    """f a callable, x a float ndarray (it is nudged in place), h a positive finite step."""
    who = "numerical_gradient"
    if not callable(f):
        raise TypeError(
            f"{who}: f must be a function of no arguments returning the scalar "
            f"loss, got {type(f).__name__}"
        )
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"{who}: x must be a numpy array (it is changed in place, so "
            f"f() sees each nudge), got {type(x).__name__}"
        )
    if x.dtype.kind != "f":
        raise TypeError(
            f"{who}: x has dtype {x.dtype}, which cannot hold x ± h; pass a float "
            "array, e.g. x = x.astype(np.float64)"
        )
    check_real(h, "h", who, low=0.0, low_open=True)


def _central_difference(fp, fm, h: float):
    """(fp − fm) / 2h for the values fp = f(x + h), fm = f(x − h), real numbers."""
    try:
        return (fp - fm) / (2 * h)
    except TypeError:
        raise TypeError(
            f"numerical_gradient: f() must return the loss as a real number, got "
            f"{fp!r} ({type(fp).__name__}); return e.g. float(loss)"
        ) from None


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
    _check_layer_args(layer, x)
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


def _check_layer_args(layer, x) -> None:
    """layer has forward, backward and named_parameters; x holds real numbers."""
    if not all(
        callable(getattr(layer, m, None)) for m in ("forward", "backward", "named_parameters")
    ):
        raise TypeError(
            f"check_layer: layer must be a dlkit layer (with forward, backward and "
            f"named_parameters), got {layer!r}; pass e.g. nn.Linear(4, 3)"
        )
    _as_float64(x, "x", "check_layer")


def check_loss(loss_fn, pred: np.ndarray, target, h: float = 1e-6) -> float:
    """Relative error of a loss's backward() against finite differences in `pred`."""
    pred = np.array(pred, dtype=np.float64)
    loss_fn.forward(pred, target)
    analytic = loss_fn.backward()
    num = numerical_gradient(lambda: loss_fn.forward(pred, target), pred, h)
    return rel_error(analytic, num)
