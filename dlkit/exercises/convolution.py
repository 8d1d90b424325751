"""Checks for the exercises of the chapter *Convolution algorithms*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given.

- :func:`check_output_size`: H_out of a convolution with kernel k, stride s, padding p.
- :func:`check_winograd_multiplications`: the elementwise multiplications of
  F(2×2, 3×3) for a whole layer.
- :func:`check_conv2d`: your own convolution function, compared with
  ``scipy.signal.correlate`` on random shapes (odd sizes, several channels, stride,
  padding).
- :func:`check_arithmetic_intensity`: the flops per byte of a layer computed by
  im2col + GEMM (or by direct convolution).

No check prints the expected value: a wrong answer gets a hint about the method.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dlkit.conv import (
    INTENSITY_ALGORITHMS,
    conv_bytes,
    direct_flops,
    direct_mults,
    output_size,
    winograd_mults,
)
from dlkit.conv.common import renamed_arg
from dlkit.exercises import cannot_check, never_raises, number, raised, verdict, whole


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
            f"an output size is a whole number of window positions, got {answer!r}: "
            "only the windows that fit entirely inside the padded image count.",
        )
    if got == want:
        return verdict(
            True,
            f"(H + 2·padding - k) // stride + 1 = ({H} + {2 * padding} - {k}) // {stride} + 1"
            f" = {want}.",
        )
    hint = ""
    if H >= k and got == output_size(H, k, stride, 0):
        hint = " (did you forget the padding on both sides?)"
    return verdict(
        False,
        f"{got} is not the output size{hint}. The window's first position is "
        "0 and its last must start at most H + 2·padding - k.",
    )


@never_raises
@renamed_arg("F", "C_out")
def check_winograd_multiplications(
    N: int, C: int, C_out: int, H: int, W: int, padding: int, answer
) -> bool:
    """Is `answer` the number of elementwise multiplications of F(2×2, 3×3) on the layer?

    N images of C channels and H × W pixels, C_out output channels, 3×3 kernels.
    """
    try:
        want = winograd_mults(N, C, C_out, H, W, padding)
        direct = direct_mults(N, C, C_out, H, W, 3, 3, 1, padding)
        Ho, Wo = output_size(H, 3, 1, padding), output_size(W, 3, 1, padding)
    except (TypeError, ValueError) as exc:
        return cannot_check(str(exc))
    got = whole(answer)
    if got is None:
        return verdict(False, f"the count is a whole number, got {answer!r}")
    if got == want:
        return verdict(
            True,
            f"{-(-Ho // 2)}·{-(-Wo // 2)} tiles × 16 products × N·C·C_out = "
            f"{want:,} (direct: {direct:,}).",
        )
    if got == direct:
        return verdict(
            False,
            "that is the direct count (9 per output); Winograd needs 16 per 2x2 tile of outputs.",
        )
    if got == N * C * C_out * (Ho // 2) * (Wo // 2) * 16:
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

    x (N, C, H, W), w (C_out, C, kh, kw), b (C_out,) -> (N, C_out, H_out, W_out),
    cross-correlation as in deep-learning frameworks (the kernel is not flipped).
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
                f"for {where} your output has shape {got.shape}, which is not "
                "(N, C_out, H_out, W_out) for these arguments.",
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


#: How close an intensity must be: 2%, so that an answer rounded to two digits passes.
INTENSITY_RTOL = 0.02


def _close(got: float, value: float) -> bool:
    return abs(got - value) <= INTENSITY_RTOL * abs(value)


@never_raises
def check_arithmetic_intensity(
    N: int, C: int, C_out: int, H: int, k: int, answer, *, algorithm: str = "im2col"
) -> bool:
    """Is `answer` the arithmetic intensity I (flops per byte) of the layer?

    N float32 images of C channels and H × H pixels, C_out kernels of k × k, stride 1,
    no padding, computed by `algorithm` ("im2col": im2col + GEMM, or "direct"), every
    array moved to or from memory once and the biases left out (as
    :func:`dlkit.conv.conv_bytes` counts). Answers within 2% pass.
    """
    if algorithm not in INTENSITY_ALGORITHMS:
        return cannot_check(
            f"algorithm must be one of {', '.join(map(repr, INTENSITY_ALGORITHMS))}, "
            f"got {algorithm!r}"
        )
    try:
        args = (N, C, C_out, H, H, k, k)
        flops = direct_flops(*args)
        moved = conv_bytes(*args, algorithm=algorithm)
        direct = flops / conv_bytes(*args, algorithm="direct")
        Ho = output_size(H, k)
    except (TypeError, ValueError) as exc:
        return cannot_check(str(exc))
    want = flops / moved
    got = number(answer)
    if got is None:
        return verdict(False, f"the intensity is a number of flops per byte, got {answer!r}")
    arrays = "the input, the kernels and the output"
    if algorithm == "im2col":
        arrays = "the input, the kernels, the output, and cols twice, written and read back"
    if _close(got, want):
        return verdict(
            True,
            f"I = {want:.3g} flops per byte: F = 2·N·C_out·C·k·k·H_out·W_out flops over the "
            f"bytes of {arrays}.",
        )
    cols_bytes = 4 * C * k * k * N * Ho * Ho
    im2col = algorithm == "im2col"
    hints = [
        (
            im2col and _close(got, direct),
            "that is direct convolution's intensity: im2col + GEMM also writes cols and "
            "reads it back, which is most of its traffic.",
        ),
        (_close(got, want / 2), "count flops, not multiply-accumulates: a MAC is two flops."),
        (_close(got, want * 4), "divide by bytes, not by values: a float32 value is 4 bytes."),
        (
            im2col and _close(got, flops / (moved - cols_bytes)),
            "cols crosses the memory bus twice: im2col writes it and the GEMM reads it.",
        ),
    ]
    for applies, hint in hints:
        if applies:
            return verdict(False, hint)
    return verdict(
        False,
        f"{got:g} is not it. I = F / bytes: 2 flops per multiply-accumulate, over 4 bytes "
        f"per float32 value of each array the algorithm reads or writes: {arrays}.",
    )
