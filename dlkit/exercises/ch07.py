"""Checks for the exercises of chapter 7, *Convolution algorithms*.

Each check prints a verdict and returns True or False; a wrong answer never raises.

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


def _whole(answer) -> int | None:
    try:
        v = float(answer)
    except (TypeError, ValueError):
        return None
    return int(v) if v.is_integer() else None


def check_output_size(H: int, k: int, stride: int, padding: int, answer) -> bool:
    """Is `answer` the output height of a k×k convolution on H rows?"""
    try:
        want = output_size(H, k, stride, padding)
    except (TypeError, ValueError) as exc:
        print(f"Cannot check: {exc}")
        return False
    got = _whole(answer)
    if got is None:
        print(f"Not quite: an output size is a whole number, got {answer!r} (round down: "
              "a window that does not fit is not computed).")
        return False
    if got == want:
        print(f"Correct: (H + 2p - k) // s + 1 = ({H} + {2 * padding} - {k}) // {stride} + 1 "
              f"= {want}.")
        return True
    hint = ""
    if got == (H + 2 * padding - k) / stride + 1:
        hint = " (did you forget to round down?)"
    elif H >= k and got == output_size(H, k, stride, 0):
        hint = " (did you forget the padding on both sides?)"
    print(f"Not quite: {got} is not the output size{hint}. The window's first position is 0 "
          f"and its last must start at most H + 2p - k.")
    return False


def check_winograd_multiplications(N: int, C: int, F: int, H: int, W: int, padding: int,
                                   answer) -> bool:
    """Is `answer` the number of elementwise multiplications of F(2×2, 3×3) on the layer?"""
    want = winograd_mults(N, C, F, H, W, padding)
    got = _whole(answer)
    if got is None:
        print(f"Cannot check: expected a whole number, got {answer!r}")
        return False
    Ho, Wo = output_size(H, 3, 1, padding), output_size(W, 3, 1, padding)
    if got == want:
        print(f"Correct: {-(-Ho // 2)}·{-(-Wo // 2)} tiles × 16 products × N·C·F = {want:,} "
              f"(direct: {N * C * F * Ho * Wo * 9:,}).")
        return True
    if got == N * C * F * Ho * Wo * 9:
        print("Not quite: that is the direct count (9 per output); Winograd needs 16 per "
              "2x2 tile of outputs.")
    elif got == N * C * F * (Ho // 2) * (Wo // 2) * 16:
        print("Not quite: an odd output size needs one more (partial) tile: round the tile "
              "count up.")
    else:
        print(f"Not quite: {got:,}. Count the 2x2 output tiles (rounded up), then 16 "
              "products per tile for every (image, input channel, output channel).")
    return False


def _reference(x, w, b, stride, padding):
    from scipy.signal import correlate

    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    out = np.array([[sum(correlate(xp[n, c], w[f, c], mode="valid") for c in range(x.shape[1]))
                     + b[f] for f in range(w.shape[0])] for n in range(x.shape[0])])
    return out[:, :, ::stride, ::stride]


def check_conv2d(fn: Callable, *, seed: int = 0) -> bool:
    """Does ``fn(x, w, b, stride, padding)`` compute dlkit's convolution?

    x (N, C, H, W), w (F, C, kh, kw), b (F,) -> (N, F, H_out, W_out), cross-correlation
    as in deep-learning frameworks (the kernel is not flipped).
    """
    g = np.random.default_rng(seed)
    cases = [((1, 1, 5, 5), (1, 1, 3, 3), 1, 0), ((2, 3, 7, 6), (4, 3, 3, 2), 1, 1),
             ((2, 2, 9, 8), (3, 2, 3, 3), 2, 1)]
    for xs, ws, s, p in cases:
        x, w, b = g.standard_normal(xs), g.standard_normal(ws), g.standard_normal(ws[0])
        want = _reference(x, w, b, s, p)
        try:
            got = np.asarray(fn(x, w, b, s, p), dtype=float)
        except Exception as exc:  # noqa: BLE001 - report any failure of the reader's code
            print(f"Your function raised {type(exc).__name__}: {exc} (x {xs}, w {ws}, "
                  f"stride {s}, padding {p})")
            return False
        if got.shape != want.shape:
            print(f"Not quite: for x {xs}, w {ws}, stride {s}, padding {p} the output should "
                  f"have shape {want.shape}, yours has {got.shape}.")
            return False
        if not np.allclose(got, want, atol=1e-8):
            flipped = _reference(x, w[:, :, ::-1, ::-1], b, s, p)
            hint = (" It matches a convolution with the flipped kernel: frameworks do not "
                    "flip (cross-correlation).") if np.allclose(got, flipped, atol=1e-8) else ""
            print(f"Not quite: values differ by up to {np.abs(got - want).max():.3g} for x {xs}, "
                  f"w {ws}, stride {s}, padding {p}.{hint}")
            return False
    print("Correct: your convolution matches scipy.signal.correlate on all test shapes.")
    return True
