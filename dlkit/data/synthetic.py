"""Seeded 2-D classification problems that no straight line separates."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from dlkit import rng as _rng


def _check(n: int, noise: float, fn: str = "the data set") -> None:
    """Refuse a sample count that is not an int >= 2 or a noise that is not a real >= 0."""
    if isinstance(n, (bool, np.bool_)) or not isinstance(n, (int, np.integer)):
        raise TypeError(f"{fn}: n must be an int >= 2, got {n!r} ({type(n).__name__})")
    if n < 2:
        raise ValueError(f"{fn}: n must be an int >= 2, got {n!r}")
    _check_real(fn, "noise", noise)
    if noise < 0:
        raise ValueError(f"{fn}: noise must be >= 0, got {noise}")


def _check_real(fn: str, name: str, value) -> None:
    """Refuse anything but a finite real number (bools are not numbers here)."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(
            f"{fn}: {name} must be a real number, got {value!r} ({type(value).__name__})"
        )
    if not math.isfinite(value):
        raise ValueError(f"{fn}: {name} must be finite, got {value!r}")


def _check_spirals(n, classes, noise, turns) -> None:
    _check(n, noise, "spirals")
    if isinstance(classes, (bool, np.bool_)) or not isinstance(classes, (int, np.integer)):
        raise TypeError(
            f"spirals: classes must be an int >= 2, got {classes!r} ({type(classes).__name__})"
        )
    if classes < 2:
        raise ValueError(f"spirals needs at least 2 classes, got {classes}")
    if classes > n:
        raise ValueError(
            f"spirals: n={n} points cannot fill classes={classes} arms; pass n >= {classes}"
        )
    _check_real("spirals", "turns", turns)


def moons(n: int = 200, noise: float = 0.1, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """Two interleaving half circles. X (n, 2) float64, y (n,) in {0, 1}."""
    _check(n, noise, "moons")
    g = _rng(seed)
    n0 = n // 2
    t0 = np.linspace(0, np.pi, n0)
    t1 = np.linspace(0, np.pi, n - n0)
    X = np.vstack(
        [
            np.column_stack([np.cos(t0), np.sin(t0)]),
            np.column_stack([1 - np.cos(t1), 0.5 - np.sin(t1)]),
        ]
    )
    y = np.r_[np.zeros(n0, np.int64), np.ones(n - n0, np.int64)]
    X += noise * g.standard_normal(X.shape)
    p = g.permutation(n)
    return X[p], y[p]


def circles(n: int = 200, noise: float = 0.05, factor: float = 0.5, seed=0):
    """A small circle (class 1) inside a large one (class 0)."""
    _check(n, noise, "circles")
    _check_real("circles", "factor", factor)
    if not 0 < factor < 1:
        raise ValueError(f"factor (inner radius / outer) must be in (0, 1), got {factor}")
    g = _rng(seed)
    n0 = n // 2
    t0 = np.linspace(0, 2 * np.pi, n0, endpoint=False)
    t1 = np.linspace(0, 2 * np.pi, n - n0, endpoint=False)
    X = np.vstack(
        [
            np.column_stack([np.cos(t0), np.sin(t0)]),
            factor * np.column_stack([np.cos(t1), np.sin(t1)]),
        ]
    )
    y = np.r_[np.zeros(n0, np.int64), np.ones(n - n0, np.int64)]
    X += noise * g.standard_normal(X.shape)
    p = g.permutation(n)
    return X[p], y[p]


def spirals(n: int = 300, classes: int = 3, noise: float = 0.2, turns: float = 1.0, seed=0):
    """`classes` interleaved spiral arms (the CS231n toy problem). y in {0..classes-1}."""
    _check_spirals(n, classes, noise, turns)
    g = _rng(seed)
    per = [n // classes + (1 if k < n % classes else 0) for k in range(classes)]
    X, y = [], []
    for k, m in enumerate(per):
        r = np.linspace(0.0, 1.0, m)
        t = np.linspace(k * 2 * np.pi / classes, k * 2 * np.pi / classes + turns * 2 * np.pi, m)
        t = t + noise * g.standard_normal(m)
        X.append(np.column_stack([r * np.sin(t), r * np.cos(t)]))
        y.append(np.full(m, k, np.int64))
    X, y = np.vstack(X), np.concatenate(y)
    p = g.permutation(n)
    return X[p], y[p]
