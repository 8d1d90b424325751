"""Weight initialisers.

Each takes a shape ``(fan_out, fan_in, ...)`` (a Linear layer's ``W`` is W^(j), of shape
``(out_features, in_features)`` = s_j × s_{j-1}, so fan_in = s_{j-1} and fan_out = s_j;
a conv kernel is ``(C_out, C_in, kh, kw)``), a numpy Generator and a dtype, and returns
a new array.

- ``xavier`` / ``glorot`` (Glorot & Bengio 2010, their "normalised initialisation"):
  U(-a, a), a = sqrt(6 / (fan_in + fan_out)), so Var W = 2 / (fan_in + fan_out). Its
  derivation assumes units that are linear with slope 1 around z = 0, as tanh is; then
  it keeps the variance of activations and of gradients about equal across layers. The
  sigmoid's slope at 0 is 1/4, so a Xavier-initialised sigmoid network still loses
  gradient from layer to layer (chapter 5 measures it).
- ``he`` / ``kaiming`` (He et al. 2015): N(0, 2 / fan_in), for ReLU layers.
- ``lecun``: N(0, 1 / fan_in).
- ``normal``: N(0, 0.01^2), the small-random-weights recipe of older papers.
- ``zeros``: for biases (and to show why weights must not all be equal).
"""

from __future__ import annotations

from typing import Callable

import numpy as np


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight of `shape` = (out, in, *receptive field)."""
    shape = check_shape(shape, "init.fans")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def check_shape(shape, who: str) -> tuple[int, ...]:
    """`shape` as a tuple of at least 2 ints >= 0: (out, in, *receptive field)."""
    if isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__"):
        raise TypeError(
            f"{who}: shape must be a tuple of ints such as (out, in) or "
            f"(C_out, C_in, kh, kw), got {shape!r} ({type(shape).__name__})"
        )
    if len(shape) < 2:
        raise ValueError(f"a weight needs at least 2 dimensions (out, in), got shape {shape}")
    if not all(
        isinstance(d, (int, np.integer)) and not isinstance(d, (bool, np.bool_)) and d >= 0
        for d in shape
    ):
        raise TypeError(f"{who}: shape must hold ints >= 0 such as (out, in), got {shape!r}")
    return tuple(int(d) for d in shape)


def xavier(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """U(-a, a) with a = sqrt(6 / (fan_in + fan_out)): Glorot & Bengio's initialisation,
    derived for units of slope 1 at z = 0 (tanh)."""
    fan_in, fan_out = fans(shape)
    a = np.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-a, a, size=shape).astype(dtype)


def he(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """N(0, 2 / fan_in): He et al.'s initialisation for ReLU units (fan_in = s_{j-1})."""
    fan_in, _ = fans(shape)
    return (rng.standard_normal(shape) * np.sqrt(2.0 / fan_in)).astype(dtype)


def lecun(shape, rng: np.random.Generator, dtype=np.float64) -> np.ndarray:
    """N(0, 1 / fan_in)."""
    fan_in, _ = fans(shape)
    return (rng.standard_normal(shape) * np.sqrt(1.0 / fan_in)).astype(dtype)


def normal(shape, rng: np.random.Generator, dtype=np.float64, std: float = 0.01) -> np.ndarray:
    """N(0, std²), std = 0.01 by default."""
    return (rng.standard_normal(shape) * std).astype(dtype)


def zeros(shape, rng: np.random.Generator | None = None, dtype=np.float64) -> np.ndarray:
    """All zeros (`rng` is ignored)."""
    return np.zeros(shape, dtype=dtype)


INITIALIZERS: dict[str, Callable] = {
    "xavier": xavier,
    "glorot": xavier,
    "he": he,
    "kaiming": he,
    "lecun": lecun,
    "normal": normal,
    "zeros": zeros,
}


def get(name: str | Callable) -> Callable:
    """Look an initialiser up by name (or return a callable unchanged)."""
    if callable(name):
        return name
    try:
        return INITIALIZERS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown initialiser {name!r}: choose one of {', '.join(sorted(INITIALIZERS))}"
        ) from None
