"""Convolution through the compiled kernels of the current backend.

The kernels come from :func:`dlkit.kernels.for_backend` (:mod:`dlkit.kernels.cpu` on the
``numba`` backend): the same direct sum as :mod:`dlkit.conv.direct`, compiled, parallel
over the cores and ordered so that the innermost loop vectorises (see the kernels'
docstrings). On a backend with no kernels (``numpy``) these functions raise
:class:`dlkit.kernels.NoKernelsError`.
"""

from __future__ import annotations

import numpy as np

from dlkit import kernels
from dlkit.conv.common import check_conv_args, check_conv_dout, dilate, pad_input, unpad


#: Receptive-field size C·kh·kw from which dw is computed by a GEMM (measured on a
#: 2-core x86 CPU with chapter 7's LeNet-style network: its first layer, 25, is faster
#: with the dot-product kernel; its second, 150, with the GEMM).
GEMM_MIN_K = 64


def conv2d_numba(x, w, b=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Direct convolution by the compiled kernel.

    x (N, C, H, W), w (C_out, C, kh, kw), b (C_out,) or None -> z (N, C_out, H_out, W_out).
    Stride 1 with C_out a multiple of 4 runs the kernel ``conv2d_chwn`` (batch innermost,
    four output channels per pass; :func:`dlkit.kernels.cpu.conv2d_chwn` on the numba
    backend), the rest (and an empty batch, which that kernel's tiling cannot divide)
    ``conv2d_direct`` (one image and channel per task; with few channels, such as the
    first layer of chapter 7's LeNet-style network, it wastes less).
    """
    x, w, b, s, p = check_conv_args(x, w, b, stride, padding, "conv2d_numba")
    kern = kernels.for_backend()
    if b is None:
        b = np.zeros(w.shape[0], x.dtype)
    w = np.ascontiguousarray(w)
    if s == 1 and w.shape[0] % 4 == 0 and len(x):  # batch innermost, four channels a pass
        return kern.conv2d_chwn(np.ascontiguousarray(x), w, b, p)
    xp = np.ascontiguousarray(pad_input(x, p))
    return kern.conv2d_direct(xp, w, b, s)


def _padded_input_grad(kern, dout, w, stride: int, xp):
    """The gradient with respect to the padded input xp, by the direct kernel of `kern`.

    A 'full' correlation: dout, dilated by the stride and padded by kh − 1, kw − 1, is
    correlated with the kernel flipped in both axes and with its channel axes swapped.
    """
    C = w.shape[1]
    kh, kw = w.shape[2:]
    dpad = pad_input(dilate(dout, stride), kh - 1, kw - 1)
    wflip = np.ascontiguousarray(w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3))
    full = kern.conv2d_direct(dpad, wflip, np.zeros(C, xp.dtype), 1)
    if full.shape[2:] == xp.shape[2:]:
        return full
    dxp = np.zeros_like(xp)  # rows/cols a stride never reached
    dxp[:, :, : full.shape[2], : full.shape[3]] = full
    return dxp


def conv2d_numba_backward(dout, x, w, stride: int = 1, padding: int = 0):
    """Gradients by the compiled kernels: dx (N, C, H, W), dw (C_out, C, kh, kw), db (C_out,).

    dx is a 'full' correlation: dout (dilated by the stride) padded by kh − 1, kw − 1
    and correlated with the kernel flipped in both axes and with its channel axes
    swapped, which is exactly what the forward kernel computes.
    """
    x, w, _, s, p = check_conv_args(x, w, None, stride, padding, "conv2d_numba_backward")
    dout = check_conv_dout(dout, x, w, s, p, "conv2d_numba_backward")
    kern = kernels.for_backend()
    kh, kw = w.shape[2:]
    xp = np.ascontiguousarray(pad_input(x, p))
    dout = np.ascontiguousarray(dout, dtype=x.dtype)
    dw = kern.conv2d_weight_grad(dout, xp, kh, kw, s)
    dxp = _padded_input_grad(kern, dout, w, s, xp)
    dx = unpad(dxp, p)
    return dx, dw, dout.sum(axis=(0, 2, 3))


def backward_plan(kernel_shape, stride: int = 1, kern=None) -> tuple[str, str]:
    """How :func:`conv2d_fast_backward` computes (dw, dx) for kernels of shape
    (C_out, C, kh, kw) at `stride`: each ``"chwn"`` (the batch-innermost kernels),
    ``"dot"`` (dw by dot products over the padded grid, dx by the direct kernel) or
    ``"gemm"`` (im2col or col2im around BLAS).

    The rule, from the times of each path on the layers of chapter 7's LeNet-style
    network (batch 64, float32, one thread, CPU time, on an AVX-512 and an AVX2 target;
    microseconds, chwn / dot / gemm):

    - stride 1, dw: ``chwn`` (conv2 6→16 5×5: 365 / 1552 / 1156; conv1 1→6 5×5:
      241 / 387 / 1413; conv2 as 3×3 pad 1: 239 / 1623 / 743);
    - stride 1, dx: ``chwn`` when C ≥ 2 (conv2: 332 / 1341 / 437; 3×3 pad 1:
      242 / 798 / 417). It works on blocks of three input channels, so with C = 1 it
      wastes two thirds of its work and ``dot`` wins (482 / 313 / 581 on conv1's shape);
    - other strides: ``gemm`` when the receptive field C·kh·kw is at least
      :data:`GEMM_MIN_K`, else ``dot``.

    A backend whose kernels lack the batch-innermost ones (`kern`) gets the last rule.
    Every path computes the same sums; they differ only in rounding.
    """
    C, kh, kw = kernel_shape[1:]
    has_chwn = kern is None or hasattr(kern, "conv2d_weight_grad_chwn")
    if stride == 1 and has_chwn:
        return "chwn", "chwn" if C >= 2 else "dot"
    other = "gemm" if C * kh * kw >= GEMM_MIN_K else "dot"
    return other, other


def conv2d_fast_backward(dout, x, w, stride: int = 1, padding: int = 0, need_dx: bool = True):
    """The quickest CPU gradients (used by ``Conv2d(algorithm="auto")``).

    The path for dw and for dx is chosen per layer shape by :func:`backward_plan`:
    the batch-innermost kernels for stride 1 (dw by register-blocked dot products,
    dx by the transpose of the forward kernel); for other strides, when the receptive
    field C·kh·kw is small, few long dot products (dw by the compiled dot-product
    kernel, dx by the compiled direct kernel, as in :func:`conv2d_numba_backward`), and
    when it is large (at least ``GEMM_MIN_K``), GEMMs: dw = dout_matrix @ colsᵀ against
    the compiled im2col's columns, and dx = col2im(w_matrixᵀ @ dout_matrix). dx is
    skipped when ``need_dx`` is False (a network's first layer, whose input needs no
    gradient).
    """
    x, w, _, s, p = check_conv_args(x, w, None, stride, padding, "conv2d_fast_backward")
    dout = check_conv_dout(dout, x, w, s, p, "conv2d_fast_backward")
    kern = kernels.for_backend()
    C_out, C, kh, kw = w.shape
    dout = np.ascontiguousarray(dout, dtype=x.dtype)
    db = dout.sum(axis=(0, 2, 3))
    dw_path, dx_path = backward_plan(w.shape, s, kern)
    if not len(x):  # an empty batch: nothing to tile
        dw_path = dx_path = "dot"
    xp = None if dw_path == "chwn" and (dx_path == "chwn" or not need_dx) else pad_input(x, p)
    xp = None if xp is None else np.ascontiguousarray(xp)
    dout_m = None
    if dw_path == "chwn":
        dw = kern.conv2d_weight_grad_chwn(dout, np.ascontiguousarray(x), kh, kw, p)
    elif dw_path == "gemm":
        dout_m = dout.transpose(1, 0, 2, 3).reshape(C_out, -1)  # (C_out, N·Ho·Wo)
        dw = (dout_m @ kern.im2col(xp, kh, kw, s).T).reshape(w.shape)
    else:
        dw = kern.conv2d_weight_grad(dout, xp, kh, kw, s)
    if not need_dx:
        return None, dw, db
    if dx_path == "chwn":
        wc = np.ascontiguousarray(w)
        return kern.conv2d_input_grad_chwn(dout, wc, x.shape[2], x.shape[3], p), dw, db
    if dx_path == "gemm":
        if dout_m is None:
            dout_m = dout.transpose(1, 0, 2, 3).reshape(C_out, -1)
        dxp = kern.col2im(w.reshape(C_out, -1).T @ dout_m, *xp.shape, kh, kw, s)
    else:
        dxp = _padded_input_grad(kern, dout, w, s, xp)
    dx = unpad(dxp, p)
    return dx, dw, db
