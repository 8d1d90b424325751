"""Data augmentation: images moved by a few pixels (Simard, Steinkraus & Platt 2003).

A digit moved one pixel to the left is still the same digit, so a classifier should give
it the same label. Training on randomly shifted copies of the training images (a new
shift for every image in every epoch) shows the network variations it would otherwise
never see, and teaches it that small translations do not matter.

- :func:`translate` moves every image by the same (dy, dx), filling with zeros (blank
  paper, for pixels scaled to [0, 1]);
- :func:`random_shifts` draws one (dy, dx) per image, uniformly from
  {−max_shift, ..., max_shift}², from a seed;
- :func:`shift_images` moves each image by its own random shift.

Images are (N, H, W) or (N, C, H, W) arrays (the last two axes are the pixel rows and
columns), or flat rows (N, H·W) such as ``load_digits()``'s with ``shape=(H, W)``; the
result has the shape and dtype of the input.
"""

from __future__ import annotations

import numpy as np

from dlkit import rng as _rng
from dlkit.checks import check_int

__all__ = ["translate", "random_shifts", "shift_images"]


def translate(
    X: np.ndarray, dy: int, dx: int, *, shape: tuple[int, int] | None = None
) -> np.ndarray:
    """Every image of `X` moved down by `dy` and right by `dx` pixels (negative: up, left).

    The pixel at row r, column c lands at row r + dy, column c + dx; pixels moved off the
    image are lost and the uncovered border is 0. ``translate(X, 0, 0)`` is a copy of `X`.
    """
    images, H, W = _as_images(X, shape, "translate")
    dy = _check_offset(dy, "dy", H)
    dx = _check_offset(dx, "dx", W)
    out = np.zeros_like(images)
    out[..., _to(dy, H), _to(dx, W)] = images[..., _to(-dy, H), _to(-dx, W)]
    return out.reshape(np.shape(X))


def random_shifts(n: int, max_shift: int = 1, *, seed=0) -> tuple[np.ndarray, np.ndarray]:
    """(dy, dx): `n` random shifts each, integers drawn uniformly from [−max_shift, max_shift]."""
    n = check_int(n, "n", "random_shifts", 0)
    max_shift = check_int(max_shift, "max_shift", "random_shifts", 0)
    g = _rng(seed)
    return (g.integers(-max_shift, max_shift + 1, n), g.integers(-max_shift, max_shift + 1, n))


def shift_images(
    X: np.ndarray, max_shift: int = 1, *, seed=0, shape: tuple[int, int] | None = None
) -> np.ndarray:
    """Each image of `X` moved by its own random (dy, dx) from :func:`random_shifts`.

    Parameters
    ----------
    X : (N, H, W), (N, C, H, W), or flat (N, H·W) with `shape`
    max_shift : the largest move along each axis, in pixels (0 returns a copy)
    seed : int or Generator; the same seed gives the same shifts on every machine
    shape : (H, W) of the images when `X` holds them as flat rows
    """
    images, H, W = _as_images(X, shape, "shift_images")
    max_shift = check_int(max_shift, "max_shift", "shift_images", 0)
    if max_shift >= min(H, W):
        raise ValueError(
            f"shift_images: max_shift={max_shift} would move {H}x{W} images off the page; "
            f"pass max_shift < {min(H, W)} (1 or 2 pixels is usual)"
        )
    dys, dxs = random_shifts(len(images), max_shift, seed=seed)
    out = np.empty_like(images)
    for dy in range(-max_shift, max_shift + 1):  # one vectorised move per distinct shift
        for dx in range(-max_shift, max_shift + 1):
            idx = np.flatnonzero((dys == dy) & (dxs == dx))
            if len(idx):
                out[idx] = translate(images[idx], dy, dx)
    return out.reshape(np.shape(X))


def _to(d: int, n: int) -> slice:
    """The rows (or columns) that a move by `d` fills, of `n`: [d, n) or [0, n + d)."""
    return slice(max(d, 0), n + min(d, 0))


def _check_offset(d, name: str, n: int) -> int:
    if isinstance(d, (bool, np.bool_)) or not isinstance(d, (int, np.integer)):
        raise TypeError(
            f"translate: {name} must be an int (pixels), got {d!r} ({type(d).__name__})"
        )
    if abs(d) >= n:
        raise ValueError(
            f"translate: {name}={d} moves the whole image off its {n} pixels; pass |{name}| < {n}"
        )
    return int(d)


def _as_images(X, shape, who: str) -> tuple[np.ndarray, int, int]:
    """`X` as an array (N, ..., H, W) (a view of flat rows when `shape` is given), H, W."""
    if not isinstance(X, np.ndarray) or X.dtype.kind not in "fiub":
        raise TypeError(
            f"{who}: X must be a numpy array of pixel values, got "
            f"{type(X).__name__}{' of dtype ' + str(X.dtype) if isinstance(X, np.ndarray) else ''}"
        )
    if shape is None:
        if X.ndim < 3:
            raise ValueError(
                f"{who}: X of shape {X.shape} holds no (H, W) images; pass images (N, H, W) "
                "or (N, C, H, W), or flat rows with shape=(H, W), e.g. shape=(8, 8) for the digits"
            )
        return X, X.shape[-2], X.shape[-1]
    if not (isinstance(shape, (tuple, list)) and len(shape) == 2):
        raise TypeError(f"{who}: shape must be a pair (H, W) such as (8, 8), got {shape!r}")
    H = check_int(shape[0], "shape[0]", who)
    W = check_int(shape[1], "shape[1]", who)
    if X.ndim != 2 or X.shape[1] != H * W:
        raise ValueError(
            f"{who}: shape=({H}, {W}) needs flat rows (N, {H * W}), got X of shape {X.shape}"
        )
    return X.reshape(len(X), H, W), H, W
