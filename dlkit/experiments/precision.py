"""Rounding small values to fixed point (chapter 9, *Low precision*).

- :func:`sample_values`: values spread around a small mean, like the weight updates
  η∇ of a training step;
- :func:`round_sample`: those values rounded to FL fractional bits, and the bias of
  their mean.

:mod:`dlkit.viz.precision` draws the results.
"""

from __future__ import annotations

import numpy as np

from dlkit import precision as P


def sample_values(mean: float, n: int = 4000, seed: int = 0) -> np.ndarray:
    """n values spread around `mean` (standard deviation mean/2): updates η∇, say."""
    g = np.random.default_rng(seed)
    return mean + 0.5 * mean * g.standard_normal(n)


def round_sample(x: np.ndarray, fl: int, rounding: str, seed: int = 0) -> tuple[np.ndarray, float]:
    """Round(x) to FL fractional bits of a 16-bit fixed-point format, and the bias.

    The format is ``FixedPoint(max(1, 16 - fl), fl)``; `rounding` is ``"nearest"`` or
    ``"stochastic"`` (seeded by `seed`). Returns the rounded values (same shape as x)
    and the bias mean(Round(x)) − mean(x).
    """
    fmt = P.FixedPoint(max(1, 16 - fl), fl)
    r = fmt.quantize(x, rounding, seed)
    return r, float(r.mean() - x.mean())
