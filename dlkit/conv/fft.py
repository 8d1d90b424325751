"""Convolution by the FFT (Mathieu, Henaff & LeCun 2014).

By the convolution theorem, a correlation becomes a pointwise product in the
frequency domain: for a single channel pair on an (H, W) grid,

    z = IFFT( FFT(a) ⊙ conj(FFT(w padded to H×W)) ),  kept where the kernel fits.

Each input and each kernel is transformed once; the sum over input channels is a
complex matrix product at each frequency, (N × C) @ (C × C_out); each output map is
transformed back once. The cost is O(H·W·log(H·W)) per transform plus N·C·C_out products
per frequency, whatever the kernel size: this is why FFT wins for large kernels
(Vasilache et al. 2015). A stride is done by computing the stride-1 result and keeping
every stride-th output (correct, but the skipped outputs are wasted work).
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


def _fft_correlate(a: np.ndarray, w: np.ndarray, out_hw: tuple[int, int]) -> np.ndarray:
    """Channel-summed correlation of a (N, C, H, W) with w (C_out, C, kh, kw).

    Returns z (N, C_out, *out_hw): the stride-1 outputs at the positions `out_hw`.
    """
    H, W = a.shape[2:]
    a_hat = np.fft.rfft2(a, s=(H, W))  # (N, C, H, W//2+1)
    w_hat = np.fft.rfft2(w, s=(H, W))  # (C_out, C, H, W//2+1), w zero-padded to H×W
    # at every frequency: (N × C) @ (C × C_out); frequencies moved first for matmul
    z_hat = np.matmul(a_hat.transpose(2, 3, 0, 1), np.conj(w_hat).transpose(2, 3, 1, 0))
    z = np.fft.irfft2(z_hat.transpose(2, 3, 0, 1), s=(H, W))  # (N, C_out, H, W)
    return z[:, :, : out_hw[0], : out_hw[1]]


def conv2d_fft(x, w, b=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Convolution through the 2-D real FFT.

    x (N, C, H, W), w (C_out, C, kh, kw), b (C_out,) or None -> z (N, C_out, H_out, W_out).
    A stride keeps every stride-th output of the stride-1 result.
    """
    x, w, b, s, p = check_conv_args(x, w, b, stride, padding, "conv2d_fft")
    xp = pad_input(x, p)
    kh, kw = w.shape[2:]
    Ho1, Wo1 = output_size(xp.shape[2], kh), output_size(xp.shape[3], kw)
    z = _fft_correlate(xp, w, (Ho1, Wo1))[:, :, ::s, ::s]
    z = np.ascontiguousarray(z, dtype=x.dtype)
    if b is not None:
        z += b[None, :, None, None]
    return z


def conv2d_fft_backward(dout, x, w, stride: int = 1, padding: int = 0):
    """Gradients of :func:`conv2d_fft`, themselves computed with FFTs.

    dw is the correlation of the input with dout (summed over images); dx is the
    correlation of the zero-padded dout with the flipped kernel (a 'full' convolution).
    A stride is handled by :func:`dlkit.conv.common.dilate`.
    """
    x, w, _, s, p = check_conv_args(x, w, None, stride, padding, "conv2d_fft_backward")
    dout = check_conv_dout(dout, x, w, s, p, "conv2d_fft_backward")
    xp = pad_input(x, p)
    kh, kw = w.shape[2:]
    d = dilate(np.asarray(dout, x.dtype), s)  # (N, C_out, Hd, Wd), stride 1
    Hd, Wd = d.shape[2:]
    xc = xp[:, :, : Hd + kh - 1, : Wd + kw - 1]  # rows a stride never reached
    # dw[f, c] = Σ_n corr(x[n, c], d[n, f]): the images play the role of the channels
    dw = _fft_correlate(xc.transpose(1, 0, 2, 3), d.transpose(1, 0, 2, 3), (kh, kw))
    dw = dw.transpose(1, 0, 2, 3).astype(x.dtype)
    # dx = full correlation of d with the flipped, channel-swapped kernel
    dpad = pad_input(d, kh - 1, kw - 1)
    wflip = w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3)
    dxc = _fft_correlate(dpad, wflip, (Hd + kh - 1, Wd + kw - 1)).astype(x.dtype)
    dxp = np.zeros_like(xp)
    dxp[:, :, : Hd + kh - 1, : Wd + kw - 1] = dxc
    return unpad(dxp, p), dw, np.asarray(dout).sum(axis=(0, 2, 3)).astype(x.dtype)
