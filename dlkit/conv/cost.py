"""Operation counts and memory traffic of the convolution algorithms: the model chapter 7
reasons with.

A convolution of x (N, C, H, W) with w (C_out, C, kh, kw), stride and padding has
N·C_out·H_out·W_out outputs, each a sum of C·kh·kw products: one multiply-accumulate
(MAC) per product, and a MAC is two floating-point operations (flops). The book writes
a flop count F (so F = 2·MACs) and keeps C_out, not F, for the number of output
channels. The counts below are exact for the multiplications each algorithm performs
in its core loop; the FFT count is the standard model of an FFT's arithmetic.

- direct and im2col: N·C_out·C·kh·kw·H_out·W_out MACs (im2col only moves data so
  that one GEMM can do the same products faster).
- Winograd F(2×2, 3×3): 16 multiplications per 2×2 output tile, input channel and
  output channel instead of 2·2·3·3 = 36, i.e. 2.25× fewer. The transforms use only
  additions and halvings; the kernel transform is done once per kernel.
- FFT: a complex FFT of M points costs 5·M·log2(M) real flops (Cooley-Tukey's classic
  count); a real-input 2-D FFT about half of that. The layer transforms N·C inputs,
  C_out·C kernels (padded to the input size) and N·C_out outputs, and multiplies
  N·C_out·C complex pairs at each of H·(W//2+1) frequencies (4 real multiplications and
  4 additions each). None of this depends on the kernel size.

The arithmetic intensity I = F / bytes moved to and from memory (:func:`conv_bytes`,
:func:`arithmetic_intensity`) counts every array once, as if the caches kept whatever
is reused: the least traffic an algorithm can have.

The old keyword ``F=`` for the number of output channels still works (it is now
``C_out``).
"""

from __future__ import annotations

import math

from dlkit.conv.common import check_int_arg, renamed_arg
from dlkit.shapes import conv_macs, output_size

__all__ = [
    "direct_mults",
    "direct_flops",
    "im2col_mults",
    "winograd_mults",
    "fft_flops",
    "fft_mults",
    "fft_crossover",
    "conv_bytes",
    "arithmetic_intensity",
    "INTENSITY_ALGORITHMS",
]

#: The algorithms :func:`conv_bytes` knows the memory traffic of.
INTENSITY_ALGORITHMS = ("direct", "im2col")


def _counts(who: str, N, C, C_out) -> tuple[int, int, int]:
    """N >= 0 images, C >= 1 input and C_out >= 1 output channels, as ints."""
    return (
        check_int_arg(N, "N", who, 0),
        check_int_arg(C, "C", who, 1),
        check_int_arg(C_out, "C_out", who, 1),
    )


@renamed_arg("F", "C_out")
def direct_mults(
    N: int, C: int, C_out: int, H: int, W: int, kh: int, kw: int, stride: int = 1, padding: int = 0
) -> int:
    """Multiply-accumulates (MACs) of the direct sum: N·C_out·C·kh·kw·H_out·W_out."""
    N, C, C_out = _counts("direct_mults", N, C, C_out)
    Ho, Wo = output_size(H, kh, stride, padding), output_size(W, kw, stride, padding)
    return N * conv_macs(C, C_out, (kh, kw), (Ho, Wo))


@renamed_arg("F", "C_out")
def direct_flops(
    N: int, C: int, C_out: int, H: int, W: int, kh: int, kw: int, stride: int = 1, padding: int = 0
) -> int:
    """Flops F of the direct sum, 2 per multiply-accumulate: 2·N·C_out·C·kh·kw·H_out·W_out."""
    return 2 * direct_mults(N, C, C_out, H, W, kh, kw, stride, padding)


@renamed_arg("F", "C_out")
def im2col_mults(
    N: int, C: int, C_out: int, H: int, W: int, kh: int, kw: int, stride: int = 1, padding: int = 0
) -> int:
    """MACs of the GEMM (C_out × C·kh·kw) @ (C·kh·kw × N·H_out·W_out): as direct."""
    N, C, C_out = _counts("im2col_mults", N, C, C_out)
    Ho, Wo = output_size(H, kh, stride, padding), output_size(W, kw, stride, padding)
    rows, inner, cols = C_out, C * kh * kw, N * Ho * Wo
    return rows * inner * cols


@renamed_arg("F", "C_out")
def winograd_mults(N: int, C: int, C_out: int, H: int, W: int, padding: int = 0) -> int:
    """Elementwise multiplications of F(2×2, 3×3): 16 per 2×2 tile and channel pair."""
    N, C, C_out = _counts("winograd_mults", N, C, C_out)
    Ho, Wo = output_size(H, 3, 1, padding), output_size(W, 3, 1, padding)
    tiles = math.ceil(Ho / 2) * math.ceil(Wo / 2)
    return N * C_out * C * tiles * 16


@renamed_arg("F", "C_out")
def fft_flops(N: int, C: int, C_out: int, H: int, W: int, padding: int = 0) -> float:
    """Real flops of FFT convolution (the model of the module text), for any kernel size."""
    N, C, C_out = _counts("fft_flops", N, C, C_out)
    Hp, Wp = H + 2 * padding, W + 2 * padding
    M = Hp * Wp  # points per transform
    one_fft = 2.5 * M * math.log2(M)  # real-input 2-D FFT (half a complex one)
    transforms = (N * C + C_out * C + N * C_out) * one_fft
    products = 8 * N * C_out * C * Hp * (Wp // 2 + 1)  # complex multiply-add = 8 real flops
    return transforms + products


@renamed_arg("F", "C_out")
def fft_mults(N: int, C: int, C_out: int, H: int, W: int, padding: int = 0) -> float:
    """FFT convolution's flops in MAC units (:func:`fft_flops` / 2), to set beside MACs."""
    return fft_flops(N, C, C_out, H, W, padding) / 2


@renamed_arg("F", "C_out")
def fft_crossover(N: int, C: int, C_out: int, H: int, W: int, kernel_sizes) -> int | None:
    """The smallest kernel size k (k×k, stride 1, no padding) at which the FFT model
    needs fewer flops than the direct sum; None if it never does in `kernel_sizes`.
    """
    fft = fft_flops(N, C, C_out, H, W)
    for k in kernel_sizes:
        if fft < direct_flops(N, C, C_out, H, W, k, k):
            return int(k)
    return None


@renamed_arg("F", "C_out")
def conv_bytes(
    N: int,
    C: int,
    C_out: int,
    H: int,
    W: int,
    kh: int,
    kw: int,
    stride: int = 1,
    padding: int = 0,
    *,
    algorithm: str = "direct",
    itemsize: int = 4,
) -> int:
    """Bytes a convolution moves to and from memory, each array moved once.

    ``"direct"`` reads the input (N·C·H·W values) and the kernels (C_out·C·kh·kw) and
    writes the output (N·C_out·H_out·W_out). ``"im2col"`` also writes the unfolded
    matrix ``cols`` (C·kh·kw × N·H_out·W_out values) and reads it back for the GEMM.
    The C_out biases are too few to matter and are left out. `itemsize` is the bytes
    per value: 4 for float32, 8 for float64.
    """
    if algorithm not in INTENSITY_ALGORITHMS:
        raise ValueError(
            f"conv_bytes: algorithm must be one of {', '.join(map(repr, INTENSITY_ALGORITHMS))}"
            f", got {algorithm!r}"
        )
    N, C, C_out = _counts("conv_bytes", N, C, C_out)
    itemsize = check_int_arg(itemsize, "itemsize", "conv_bytes", 1)
    Ho, Wo = output_size(H, kh, stride, padding), output_size(W, kw, stride, padding)
    values = N * C * H * W + C_out * C * kh * kw + N * C_out * Ho * Wo
    if algorithm == "im2col":
        values += 2 * (C * kh * kw) * (N * Ho * Wo)  # cols: written, then read
    return values * itemsize


@renamed_arg("F", "C_out")
def arithmetic_intensity(
    N: int,
    C: int,
    C_out: int,
    H: int,
    W: int,
    kh: int,
    kw: int,
    stride: int = 1,
    padding: int = 0,
    *,
    algorithm: str = "direct",
    itemsize: int = 4,
) -> float:
    """Arithmetic intensity I = F / bytes: :func:`direct_flops` over :func:`conv_bytes`.

    Flops per byte moved. Below a machine's ridge point (its peak flop rate divided by
    its memory bandwidth) a kernel is limited by memory, above it by arithmetic.
    """
    flops = direct_flops(N, C, C_out, H, W, kh, kw, stride, padding)
    moved = conv_bytes(
        N, C, C_out, H, W, kh, kw, stride, padding, algorithm=algorithm, itemsize=itemsize
    )
    return flops / moved
