"""im2col + GEMM (Chellapilla, Puri & Simard 2006): convolution as one matrix product.

Every receptive field (the C·kh·kw input values one output position sees) is copied
into a column of a matrix ``cols`` of shape (C·kh·kw, N·H_out·W_out). The kernel,
reshaped to a (F, C·kh·kw) matrix, times ``cols`` gives every output at once:

    out_matrix (F, N·H_out·W_out) = w_matrix (F, C·kh·kw) @ cols (C·kh·kw, N·H_out·W_out)

so the whole layer is a single call to an optimised BLAS GEMM. The price is memory:
``cols`` repeats each input value up to kh·kw times. The backward pass is two more
GEMMs, dw = dout_matrix @ colsᵀ and dcols = w_matrixᵀ @ dout_matrix, and
:func:`col2im`, which adds each column back where it came from.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlkit.conv.common import (
    check_col2im_args,
    check_conv_args,
    check_conv_dout,
    check_unfold_args,
    output_size,
    pad_input,
    unpad,
)


def im2col(x: np.ndarray, kh: int, kw: int, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Unfold (N, C, H, W) into columns of shape (C·kh·kw, N·H_out·W_out).

    Row index (c, k_x, k_y) in C order; column index (n, x, y) in C order.
    """
    x = check_unfold_args(x, kh, kw, stride, padding)
    xp = pad_input(x, padding)
    # windows[n, c, x, y, k_x, k_y] = xp[n, c, s·x + k_x, s·y + k_y]: a view, no copy yet
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    N, C, Ho, Wo = windows.shape[:4]
    # the one copy: reorder to (c, k_x, k_y, n, x, y)
    return windows.transpose(1, 4, 5, 0, 2, 3).reshape(C * kh * kw, N * Ho * Wo)


def col2im(
    cols: np.ndarray, x_shape: tuple, kh: int, kw: int, stride: int = 1, padding: int = 0
) -> np.ndarray:
    """The adjoint of :func:`im2col`: add every column entry back to its input position.

    cols (C·kh·kw, N·H_out·W_out) -> (N, C, H, W). Positions seen by several windows
    receive the sum of their entries.
    """
    cols, x_shape = check_col2im_args(cols, x_shape, kh, kw, stride, padding)
    N, C, H, W = x_shape
    Hp, Wp = H + 2 * padding, W + 2 * padding
    Ho, Wo = output_size(H, kh, stride, padding), output_size(W, kw, stride, padding)
    c6 = cols.reshape(C, kh, kw, N, Ho, Wo)
    xp = np.zeros((N, C, Hp, Wp), cols.dtype)
    for kx in range(kh):
        for ky in range(kw):
            xp[
                :,
                :,
                kx : kx + stride * (Ho - 1) + 1 : stride,
                ky : ky + stride * (Wo - 1) + 1 : stride,
            ] += c6[:, kx, ky].transpose(1, 0, 2, 3)
    return unpad(xp, padding)


def conv2d_im2col(x, w, b=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Convolution as im2col followed by one GEMM.

    x (N, C, H, W), w (F, C, kh, kw), b (F,) or None -> out (N, F, H_out, W_out).
    """
    x, w, b, s, p = check_conv_args(x, w, b, stride, padding, "conv2d_im2col")
    N, C, H, W = x.shape
    F, _, kh, kw = w.shape
    Ho, Wo = output_size(H, kh, s, p), output_size(W, kw, s, p)
    cols = im2col(x, kh, kw, s, p)  # (C·kh·kw, N·Ho·Wo)
    out = w.reshape(F, -1) @ cols  # one GEMM: (F, N·Ho·Wo)
    if b is not None:
        out += b[:, None]
    return np.ascontiguousarray(out.reshape(F, N, Ho, Wo).transpose(1, 0, 2, 3))


def conv2d_im2col_backward(dout, x, w, stride: int = 1, padding: int = 0, cols=None):
    """Gradients by two GEMMs and col2im.

    dout (N, F, H_out, W_out) -> dx (N, C, H, W), dw (F, C, kh, kw), db (F,).
    Pass the forward pass's ``cols`` to skip unfolding x again.
    """
    x, w, _, s, p = check_conv_args(x, w, None, stride, padding, "conv2d_im2col_backward")
    dout = check_conv_dout(dout, x, w, s, p, "conv2d_im2col_backward")
    F, C, kh, kw = w.shape
    if cols is None:
        cols = im2col(x, kh, kw, s, p)
    dout_m = dout.transpose(1, 0, 2, 3).reshape(F, -1)  # (F, N·Ho·Wo)
    dw = (dout_m @ cols.T).reshape(w.shape)
    dx = col2im(w.reshape(F, -1).T @ dout_m, x.shape, kh, kw, s, p)
    return dx, dw, dout_m.sum(axis=1)
