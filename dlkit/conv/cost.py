"""Operation counts of the convolution algorithms: the model chapter 7 reasons with.

A convolution of x (N, C, H, W) with w (F, C, kh, kw), stride s, padding p has
N·F·H_out·W_out outputs, each a sum of C·kh·kw products. The counts below are exact
for the multiplications each algorithm performs in its core loop; the FFT count is
the standard model of an FFT's arithmetic.

- direct and im2col: N·F·C·kh·kw·H_out·W_out multiplications (im2col only moves data
  so that one GEMM can do the same products faster).
- Winograd F(2×2, 3×3): 16 per 2×2 output tile, input channel and output channel
  instead of 2·2·3·3 = 36, i.e. 2.25× fewer. The transforms use only additions and
  halvings; the kernel transform is done once per kernel.
- FFT: a complex FFT of n points costs 5·n·log2(n) real flops (Cooley-Tukey's
  classic count); a real-input 2-D FFT about half of that. The layer transforms N·C
  inputs, F·C kernels (padded to the input size) and N·F outputs, and multiplies
  N·F·C complex pairs at each of H·(W//2+1) frequencies (4 real multiplications and
  4 additions each). None of this depends on the kernel size.
"""

from __future__ import annotations

import math

from dlkit.shapes import conv_macs, output_size


def direct_mults(
    N: int, C: int, F: int, H: int, W: int, kh: int, kw: int, stride: int = 1, padding: int = 0
) -> int:
    """Multiplications of the direct sum: N·F·C·kh·kw·H_out·W_out."""
    Ho, Wo = output_size(H, kh, stride, padding), output_size(W, kw, stride, padding)
    return N * conv_macs(C, F, (kh, kw), (Ho, Wo))


def im2col_mults(
    N: int, C: int, F: int, H: int, W: int, kh: int, kw: int, stride: int = 1, padding: int = 0
) -> int:
    """Multiplications of the GEMM (F × C·kh·kw) @ (C·kh·kw × N·H_out·W_out): as direct."""
    Ho, Wo = output_size(H, kh, stride, padding), output_size(W, kw, stride, padding)
    M, K, Ncols = F, C * kh * kw, N * Ho * Wo
    return M * K * Ncols


def winograd_mults(N: int, C: int, F: int, H: int, W: int, padding: int = 0) -> int:
    """Elementwise multiplications of F(2×2, 3×3): 16 per 2×2 tile, channel pair."""
    Ho, Wo = output_size(H, 3, 1, padding), output_size(W, 3, 1, padding)
    tiles = math.ceil(Ho / 2) * math.ceil(Wo / 2)
    return N * F * C * tiles * 16


def fft_flops(N: int, C: int, F: int, H: int, W: int, padding: int = 0) -> float:
    """Real floating-point operations of FFT convolution (model; see the module text)."""
    Hp, Wp = H + 2 * padding, W + 2 * padding
    n = Hp * Wp
    one_fft = 2.5 * n * math.log2(n)  # real-input 2-D FFT (half a complex one)
    transforms = (N * C + F * C + N * F) * one_fft
    products = 8 * N * F * C * Hp * (Wp // 2 + 1)  # complex multiply-add = 8 real flops
    return transforms + products


def fft_mults(N: int, C: int, F: int, H: int, W: int, padding: int = 0) -> float:
    """FFT convolution's cost in multiply-add units (flops / 2), to set beside direct."""
    return fft_flops(N, C, F, H, W, padding) / 2


def fft_crossover(N: int, C: int, F: int, H: int, W: int, kernel_sizes) -> int | None:
    """The smallest kernel size k (k×k, stride 1, no padding) at which the FFT model
    needs fewer operations than the direct sum; None if it never does in `kernel_sizes`.
    """
    for k in kernel_sizes:
        if fft_mults(N, C, F, H, W) < direct_mults(N, C, F, H, W, k, k):
            return int(k)
    return None
