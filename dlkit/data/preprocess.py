"""Input preprocessing that uses only the training split's statistics."""

from __future__ import annotations

from dlkit.data.digits import Split

__all__ = ["standardize"]


def standardize(split, floor: float = 0.1):
    """Shift and scale every pixel by the *training* mean μ and standard deviation σ.

    x ← (x − μ) / (σ + floor); `floor` keeps always-blank pixels (σ = 0) finite. The
    test images use the training statistics, as they would in deployment. Returns a
    new Split.
    """
    X, y, Xt, yt = split
    mu, sd = X.mean(axis=0), X.std(axis=0) + floor
    return Split((X - mu) / sd, y, (Xt - mu) / sd, yt)
