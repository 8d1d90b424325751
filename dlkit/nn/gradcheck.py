"""Numerical gradient checking.

Backpropagation is checked against centred finite differences with a small step ε,
∂𝓛/∂θ ≈ (𝓛(θ + ε) − 𝓛(θ − ε)) / 2ε, one entry of θ at a time, on the scalar loss
𝓛 = Σ out ⊙ R for a fixed random R (so every output contributes, and backward starts
from ∂𝓛/∂out = R). The relative error

    max |a − n| / max(|a| + |n|, tiny)

is around 1e-9 for a correct layer in float64 and 1e-2 or worse for a wrong one.
The step is the argument ``eps``; ``h`` is its older name and still works.
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


def numerical_gradient(
    f: Callable[[], float], x: np.ndarray, eps: float = 1e-6, *, h: float | None = None
) -> np.ndarray:
    """(f(x + ε) − f(x − ε)) / 2ε for each entry of the array x, which is changed in
    place (and restored), for the scalar f() and the step ε = `eps` (``h``: its old name)."""
    eps = _step(eps, h, "numerical_gradient")
    _check_numerical_gradient_args(f, x)
    grad = np.zeros(x.shape, dtype=np.float64)
    it = np.nditer(x, flags=["multi_index"])
    for _ in it:
        i = it.multi_index
        old = x[i]
        x[i] = old + eps
        fp = f()
        x[i] = old - eps
        fm = f()
        x[i] = old
        grad[i] = _central_difference(fp, fm, eps)
    return grad


_EPS = 1e-6  # the default finite-difference step


def _step(eps, h, who: str) -> float:
    """The finite-difference step: `eps`, or `h` (its old name) when that is given; a
    positive finite real number, checked under the name the caller used."""
    if h is None:
        return check_real(eps, "eps", who, low=0.0, low_open=True)
    if not (isinstance(eps, float) and eps == _EPS):
        raise TypeError(f"{who}: pass the step once, as eps (h is its old name), not both")
    return check_real(h, "h", who, low=0.0, low_open=True)


def _as_float64(a, name: str, who: str) -> np.ndarray:
    """`a` as a float64 array; None, strings, objects and complex numbers are a TypeError."""
    if type(a) is np.ndarray and a.dtype.kind in "fiub":
        return a.astype(np.float64, copy=False)
    fix = "pass an array of real numbers (the gradients to compare)"
    arr = as_real_array(a, name, who, what="an array of real numbers", fix=fix)
    return arr.astype(np.float64, copy=False)


def _check_numerical_gradient_args(f, x) -> None:
    """f a callable, x a float ndarray (it is nudged in place)."""
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
            f"{who}: x has dtype {x.dtype}, which cannot hold x ± ε; pass a float "
            "array, e.g. x = x.astype(np.float64)"
        )


def _central_difference(fp, fm, eps: float):
    """(fp − fm) / 2ε for the values fp = f(x + ε), fm = f(x − ε), real numbers."""
    try:
        return (fp - fm) / (2 * eps)
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


def check_layer(
    layer: Layer, x: np.ndarray, *, seed=0, eps: float = 1e-6, h: float | None = None
) -> GradCheck:
    """Compare `layer`'s backward with finite differences of step ε = `eps` at input `x`.

    The loss is 𝓛 = Σ out ⊙ R for a fixed random R, so backward starts from
    ∂𝓛/∂out = R. Returns the relative error of ∂𝓛/∂x and of ∂𝓛/∂θ for every parameter
    θ, computed in float64 (``h`` is the old name of `eps`).
    """
    eps = _check_layer_args(layer, x, eps, h)
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
    errors = {"x": rel_error(dx, numerical_gradient(loss, x, eps))}
    for name, p in named:
        errors[name] = rel_error(analytic[name], numerical_gradient(loss, p.data, eps))
    label = repr(layer)
    if "\n" in label:  # a Sequential: name its layers on one line
        label = " > ".join(repr(sub) for sub in getattr(layer, "layers", [layer]))
    return GradCheck(label, errors)


def _check_layer_args(layer, x, eps, h) -> float:
    """layer has forward, backward and named_parameters; x holds real numbers; return
    the finite-difference step (`eps`, or `h`, its old name)."""
    if not all(
        callable(getattr(layer, m, None)) for m in ("forward", "backward", "named_parameters")
    ):
        raise TypeError(
            f"check_layer: layer must be a dlkit layer (with forward, backward and "
            f"named_parameters), got {layer!r}; pass e.g. nn.Linear(4, 3)"
        )
    _as_float64(x, "x", "check_layer")
    return _step(eps, h, "check_layer")


def check_loss(
    loss_fn, pred: np.ndarray, target, eps: float = 1e-6, *, h: float | None = None
) -> float:
    """Relative error of a loss's backward(), ∂𝓛/∂(prediction), against finite
    differences of step ε = `eps` in `pred` (``h`` is the old name of `eps`)."""
    eps = _step(eps, h, "check_loss")
    pred = np.array(pred, dtype=np.float64)
    loss_fn.forward(pred, target)
    analytic = loss_fn.backward()
    num = numerical_gradient(lambda: loss_fn.forward(pred, target), pred, eps)
    return rel_error(analytic, num)
