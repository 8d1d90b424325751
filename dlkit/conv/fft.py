"""Convolution by the FFT (Mathieu, Henaff & LeCun 2014).

By the convolution theorem, a correlation becomes a pointwise product in the
frequency domain: for a single channel pair on an (H, W) grid,

    out = IFFT( FFT(in) ⊙ conj(FFT(w padded to H×W)) ),  kept where the kernel fits.

Each input and each kernel is transformed once; the sum over input channels is a
complex matrix product at each frequency, (N × C) @ (C × F); each output map is
transformed back once. The cost is O(H·W·log(H·W)) per transform plus N·C·F products
per frequency, whatever the kernel size: this is why FFT wins for large kernels
(Vasilache et al. 2015). Stride s is done by computing the stride-1 result and keeping
every s-th output (correct, but the skipped outputs are wasted work).
"""

from __future__ import annotations

import numpy as np

from dlkit.conv.common import (
    check_conv_args,
    check_conv_dout,
    dilate,
    output_size,
    pad_input,
    unpad,
)


def _fft_correlate(a: np.ndarray, k: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Channel-summed correlation of a (N, C, H, W) with k (F, C, kh, kw): (N, F, *out_hw)."""
    H, W = a.shape[2:]
    A = np.fft.rfft2(a, s=(H, W))  # (N, C, H, W//2+1)
    K = np.fft.rfft2(k, s=(H, W))  # (F, C, H, W//2+1)
    # at every frequency: (N × C) @ (C × F); moved to the leading axes for matmul
    P = np.matmul(A.transpose(2, 3, 0, 1), np.conj(K).transpose(2, 3, 1, 0))  # (H, W', N, F)
    out = np.fft.irfft2(P.transpose(2, 3, 0, 1), s=(H, W))
    return out[:, :, : out_hw[0], : out_hw[1]]


def conv2d_fft(x, w, b=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Convolution through the 2-D real FFT.

    x (N, C, H, W), w (F, C, kh, kw), b (F,) or None -> out (N, F, H_out, W_out).
    """
    x, w, b, s, p = check_conv_args(x, w, b, stride, padding, "conv2d_fft")
    xp = pad_input(x, p)
    kh, kw = w.shape[2:]
    Ho1, Wo1 = output_size(xp.shape[2], kh), output_size(xp.shape[3], kw)
    out = _fft_correlate(xp, w, (Ho1, Wo1))[:, :, ::s, ::s]
    out = np.ascontiguousarray(out, dtype=x.dtype)
    if b is not None:
        out += b[None, :, None, None]
    return out


def conv2d_fft_backward(dout, x, w, stride: int = 1, padding: int = 0):
    """Gradients of :func:`conv2d_fft`, themselves computed with FFTs.

    dw is the correlation of the input with dout (summed over images); dx is the
    correlation of the zero-padded dout with the flipped kernel (a 'full' convolution).
    A stride is handled by :func:`dlkit.conv.common.dilate`.
    """
    x, w, _, s, p = check_conv_args(x, w, None, stride, padding, "conv2d_fft_backward")
    dout = check_conv_dout(dout, x, w, s, p, "conv2d_fft_backward")
    xp = pad_input(x, p)
    F, C, kh, kw = w.shape
    d = dilate(np.asarray(dout, x.dtype), s)  # (N, F, Hd, Wd), stride 1
    Hd, Wd = d.shape[2:]
    xc = xp[:, :, : Hd + kh - 1, : Wd + kw - 1]  # rows a stride never reached
    # dw[f, c] = Σ_n corr(x[n, c], d[n, f]): images play the role of channels
    dw = _fft_correlate(xc.transpose(1, 0, 2, 3), d.transpose(1, 0, 2, 3), (kh, kw))
    dw = dw.transpose(1, 0, 2, 3).astype(x.dtype)
    # dx = full correlation of d with the flipped, channel-swapped kernel
    dpad = pad_input(d, kh - 1, kw - 1)
    wflip = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    dxc = _fft_correlate(dpad, wflip, (Hd + kh - 1, Wd + kw - 1)).astype(x.dtype)
    dxp = np.zeros_like(xp)
    dxp[:, :, : Hd + kh - 1, : Wd + kw - 1] = dxc
    return unpad(dxp, p), dw, np.asarray(dout).sum(axis=(0, 2, 3)).astype(x.dtype)
