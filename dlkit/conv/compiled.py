"""Convolution through the Numba kernels of :mod:`dlkit.kernels.cpu`.

The same direct sum as :mod:`dlkit.conv.direct`, compiled, parallel over the cores
and ordered so that the innermost loop vectorises (see the kernels' docstrings).
"""

from __future__ import annotations

import numpy as np

from dlkit.conv.common import check_conv_args, check_conv_dout, dilate, pad_input


#: Receptive-field size C·kh·kw from which dw is computed by a GEMM (measured on a
#: 2-core x86 CPU: the first LeNet layer, 25, is faster with the dot-product kernel;
#: the second, 150, with the GEMM).
GEMM_MIN_K = 64


def _kernels():
    from dlkit.kernels import cpu  # imports numba only when asked for

    return cpu


def conv2d_numba(x, w, b=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Direct convolution by the compiled kernel.

    x (N, C, H, W), w (F, C, kh, kw), b (F,) or None -> out (N, F, H_out, W_out).
    Stride 1 with F a multiple of 4 runs :func:`dlkit.kernels.cpu.conv2d_chwn` (batch
    innermost, four output channels per pass), the rest (and an empty batch, which that
    kernel's tiling cannot divide) :func:`dlkit.kernels.cpu.conv2d_direct` (one image and
    channel per task; with few channels, such as LeNet-5's first layer, it wastes less).
    """
    x, w, b, s, p = check_conv_args(x, w, b, stride, padding, "conv2d_numba")
    if b is None:
        b = np.zeros(w.shape[0], x.dtype)
    w = np.ascontiguousarray(w)
    if s == 1 and w.shape[0] % 4 == 0 and len(x):   # batch innermost, four channels a pass
        return _kernels().conv2d_chwn(np.ascontiguousarray(x), w, b, p)
    xp = np.ascontiguousarray(pad_input(x, p))
    return _kernels().conv2d_direct(xp, w, b, s)


def _padded_input_grad(dout, w, stride: int, xp):
    """The gradient with respect to the padded input xp, by the compiled direct kernel.

    A 'full' correlation: dout, dilated by the stride and padded by kh − 1, kw − 1, is
    correlated with the kernel flipped in both axes and with its channel axes swapped.
    """
    F, C, kh, kw = w.shape
    dpad = pad_input(dilate(dout, stride), kh - 1, kw - 1)
    wflip = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    full = _kernels().conv2d_direct(dpad, wflip, np.zeros(C, xp.dtype), 1)
    if full.shape[2:] == xp.shape[2:]:
        return full
    dxp = np.zeros_like(xp)                          # rows/cols a stride never reached
    dxp[:, :, : full.shape[2], : full.shape[3]] = full
    return dxp


def conv2d_numba_backward(dout, x, w, stride: int = 1, padding: int = 0):
    """Gradients by the compiled kernels: dx (N, C, H, W), dw (F, C, kh, kw), db (F,).

    dx is a 'full' correlation: dout (dilated by the stride) padded by kh − 1, kw − 1
    and correlated with the kernel flipped in both axes and with its channel axes
    swapped, which is exactly what the forward kernel computes.
    """
    x, w, _, s, p = check_conv_args(x, w, None, stride, padding, "conv2d_numba_backward")
    dout = check_conv_dout(dout, x, w, s, p, "conv2d_numba_backward")
    cpu = _kernels()
    F, C, kh, kw = w.shape
    xp = np.ascontiguousarray(pad_input(x, p))
    dout = np.ascontiguousarray(dout, dtype=x.dtype)
    dw = cpu.conv2d_weight_grad(dout, xp, kh, kw, s)
    dxp = _padded_input_grad(dout, w, s, xp)
    dx = dxp[:, :, p : p + x.shape[2], p : p + x.shape[3]] if p else dxp
    return dx, dw, dout.sum(axis=(0, 2, 3))


def conv2d_fast_backward(dout, x, w, stride: int = 1, padding: int = 0, need_dx: bool = True):
    """The quickest CPU gradients (used by ``Conv2d(algorithm="auto")``).

    When the receptive field C·kh·kw is small, few long dot products: dw by the
    compiled dot-product kernel and dx by the compiled direct kernel, as in
    :func:`conv2d_numba_backward`. When it is large (at least ``GEMM_MIN_K``), GEMMs pay
    off: dw = dout_matrix @ colsᵀ against the compiled im2col's columns, and
    dx = col2im(w_matrixᵀ @ dout_matrix). dx is skipped when ``need_dx`` is False (a
    network's first layer, whose input needs no gradient).
    """
    x, w, _, s, p = check_conv_args(x, w, None, stride, padding, "conv2d_fast_backward")
    dout = check_conv_dout(dout, x, w, s, p, "conv2d_fast_backward")
    cpu = _kernels()
    F, C, kh, kw = w.shape
    xp = np.ascontiguousarray(pad_input(x, p))
    dout = np.ascontiguousarray(dout, dtype=x.dtype)
    db = dout.sum(axis=(0, 2, 3))
    if C * kh * kw >= GEMM_MIN_K:
        dout_m = dout.transpose(1, 0, 2, 3).reshape(F, -1)             # (F, N·Ho·Wo)
        dw = (dout_m @ cpu.im2col(xp, kh, kw, s).T).reshape(w.shape)
        if not need_dx:
            return None, dw, db
        dxp = cpu.col2im(w.reshape(F, -1).T @ dout_m, *xp.shape, kh, kw, s)
    else:
        dw = cpu.conv2d_weight_grad(dout, xp, kh, kw, s)
        if not need_dx:
            return None, dw, db
        dxp = _padded_input_grad(dout, w, s, xp)
    dx = dxp[:, :, p : p + x.shape[2], p : p + x.shape[3]] if p else dxp
    return dx, dw, db
