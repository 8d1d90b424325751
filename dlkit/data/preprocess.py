"""Input preprocessing that uses only the training split's statistics."""

from __future__ import annotations

import math
from numbers import Real

import numpy as np

from dlkit.data.digits import Split

__all__ = ["standardize"]


def standardize(split, floor: float = 0.1):
    """Shift and scale every pixel by the *training* mean μ and standard deviation σ.

    x ← (x − μ) / (σ + floor); `floor` keeps always-blank pixels (σ = 0) finite. The
    test images use the training statistics, as they would in deployment. Returns a
    new Split.
    """
    X, y, Xt, yt = _check_standardize(split, floor)
    mu, sd = X.mean(axis=0), X.std(axis=0) + floor
    return Split((X - mu) / sd, y, (Xt - mu) / sd, yt)


def _check_standardize(split, floor) -> tuple:
    """The four parts of `split`, once they and `floor` are fit to standardize."""
    if isinstance(split, Split):
        parts = tuple(split)
    elif isinstance(split, (tuple, list)) and len(split) == 4:
        parts = tuple(split)
    else:
        raise TypeError(
            "standardize(split=...) must be a Split (X_train, y_train, X_test, "
            f"y_test), e.g. load_digits(); got {type(split).__name__}"
        )
    X, Xt = parts[0], parts[2]
    for name, a in (("X_train", X), ("X_test", Xt)):
        if not isinstance(a, np.ndarray) or a.dtype.kind not in "fiu" or a.ndim < 2:
            raise TypeError(
                f"standardize: {name} must be a numeric array of shape (N, ...), "
                f"got {type(a).__name__} {getattr(a, 'shape', '')}"
            )
    if len(X) == 0 or X.shape[1:] != Xt.shape[1:]:
        raise ValueError(
            f"standardize: X_train {X.shape} and X_test {Xt.shape} must be "
            "non-empty and agree in every axis but the first"
        )
    if isinstance(floor, (bool, np.bool_)) or not isinstance(floor, Real):
        raise TypeError(f"standardize(floor=...) must be a real number >= 0, got {floor!r}")
    if not (math.isfinite(floor) and floor >= 0):
        raise ValueError(f"standardize(floor={floor!r}) must be finite and >= 0; e.g. floor=0.1")
    if floor == 0 and (X.std(axis=0) == 0).any():
        raise ValueError(
            "standardize(floor=0) would divide by zero: some inputs are constant "
            "over the training set; pass floor > 0, e.g. floor=0.1"
        )
    return parts
