"""Checks for the exercises of the chapter *Convolution algorithms*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given.

- :func:`check_output_size`: H_out of a convolution with kernel k, stride s, padding p.
- :func:`check_winograd_multiplications`: the elementwise multiplications of
  F(2×2, 3×3) for a whole layer.
- :func:`check_conv2d`: your own convolution function, compared with
  ``scipy.signal.correlate`` on random shapes (odd sizes, several channels, stride,
  padding).
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dlkit.conv import output_size, winograd_mults
from dlkit.exercises import cannot_check, never_raises, raised, verdict, whole


@never_raises
def check_output_size(H: int, k: int, stride: int, padding: int, answer) -> bool:
    """Is `answer` the output height of a k×k convolution on H rows?"""
    try:
        want = output_size(H, k, stride, padding)
    except (TypeError, ValueError) as exc:
        return cannot_check(str(exc))
    got = whole(answer)
    if got is None:
        return verdict(
            False,
            f"an output size is a whole number, got {answer!r} (round down: "
            "a window that does not fit is not computed).",
        )
    if got == want:
        return verdict(
            True, f"(H + 2p - k) // s + 1 = ({H} + {2 * padding} - {k}) // {stride} + 1 = {want}."
        )
    hint = ""
    if got == (H + 2 * padding - k) / stride + 1:
        hint = " (did you forget to round down?)"
    elif H >= k and got == output_size(H, k, stride, 0):
        hint = " (did you forget the padding on both sides?)"
    return verdict(
        False,
        f"{got} is not the output size{hint}. The window's first position is "
        "0 and its last must start at most H + 2p - k.",
    )


@never_raises
def check_winograd_multiplications(
    N: int, C: int, F: int, H: int, W: int, padding: int, answer
) -> bool:
    """Is `answer` the number of elementwise multiplications of F(2×2, 3×3) on the layer?"""
    try:
        want = winograd_mults(N, C, F, H, W, padding)
        Ho, Wo = output_size(H, 3, 1, padding), output_size(W, 3, 1, padding)
    except (TypeError, ValueError) as exc:
        return cannot_check(str(exc))
    got = whole(answer)
    if got is None:
        return verdict(False, f"the count is a whole number, got {answer!r}")
    if got == want:
        return verdict(
            True,
            f"{-(-Ho // 2)}·{-(-Wo // 2)} tiles × 16 products × N·C·F = "
            f"{want:,} (direct: {N * C * F * Ho * Wo * 9:,}).",
        )
    if got == N * C * F * Ho * Wo * 9:
        return verdict(
            False,
            "that is the direct count (9 per output); Winograd needs 16 per 2x2 tile of outputs.",
        )
    if got == N * C * F * (Ho // 2) * (Wo // 2) * 16:
        return verdict(
            False, "an odd output size needs one more (partial) tile: round the tile count up."
        )
    return verdict(
        False,
        f"{got:,}. Count the 2x2 output tiles (rounded up), then 16 "
        "products per tile for every (image, input channel, output channel).",
    )


def _reference(x, w, b, stride, padding):
    from scipy.signal import correlate

    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.array(
        [
            [
                sum(correlate(xp[n, c], w[f, c], mode="valid") for c in range(x.shape[1])) + b[f]
                for f in range(w.shape[0])
            ]
            for n in range(x.shape[0])
        ]
    )
    return out[:, :, ::stride, ::stride]


@never_raises
def check_conv2d(fn: Callable, *, seed: int = 0) -> bool:
    """Does ``fn(x, w, b, stride, padding)`` compute dlkit's convolution?

    x (N, C, H, W), w (F, C, kh, kw), b (F,) -> (N, F, H_out, W_out), cross-correlation
    as in deep-learning frameworks (the kernel is not flipped).
    """
    g = np.random.default_rng(seed)
    cases = [
        ((1, 1, 5, 5), (1, 1, 3, 3), 1, 0),
        ((2, 3, 7, 6), (4, 3, 3, 2), 1, 1),
        ((2, 2, 9, 8), (3, 2, 3, 3), 2, 1),
    ]
    for xs, ws, s, p in cases:
        x, w, b = g.standard_normal(xs), g.standard_normal(ws), g.standard_normal(ws[0])
        want = _reference(x, w, b, s, p)
        where = f"x {xs}, w {ws}, stride {s}, padding {p}"
        try:
            got = np.asarray(fn(x.copy(), w.copy(), b.copy(), s, p), dtype=float)
        except Exception as exc:  # noqa: BLE001 - report any failure of the reader's code
            return verdict(False, f"{raised(exc)} ({where})")
        if got.shape != want.shape:
            return verdict(
                False,
                f"for {where} the output should have shape {want.shape}, yours has {got.shape}.",
            )
        if not np.allclose(got, want, atol=1e-8):
            flipped = _reference(x, w[:, :, ::-1, ::-1], b, s, p)
            hint = (
                (
                    " It matches a convolution with the flipped kernel: frameworks do not "
                    "flip (cross-correlation)."
                )
                if np.allclose(got, flipped, atol=1e-8)
                else ""
            )
            return verdict(
                False, f"values differ by up to {np.abs(got - want).max():.3g} for {where}.{hint}"
            )
    return verdict(True, "your convolution matches scipy.signal.correlate on all test shapes.")
