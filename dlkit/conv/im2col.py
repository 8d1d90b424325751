"""im2col + GEMM (Chellapilla, Puri & Simard 2006): convolution as one matrix product.

Every receptive field (the C·kh·kw input values one output position sees) is copied
into a column of a matrix ``cols`` of shape (C·kh·kw, N·H_out·W_out). The kernels,
reshaped to a (C_out, C·kh·kw) matrix, times ``cols`` give every output at once:

  z_matrix (C_out, N·H_out·W_out) = w_matrix (C_out, C·kh·kw) @ cols (C·kh·kw, N·H_out·W_out)

so the whole layer is a single call to an optimised BLAS GEMM. The price is memory:
``cols`` repeats each input value up to kh·kw times. The backward pass is two more
GEMMs, dw = δ_matrix @ colsᵀ and dcols = w_matrixᵀ @ δ_matrix (δ = ``dout``, the
gradient of the loss with respect to the output), and
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

    Row index (c, o1, o2) (input channel, kernel offset) in C order; column index
    (n, u1, u2) (image, output position) in C order.
    """
    x = check_unfold_args(x, kh, kw, stride, padding)
    xp = pad_input(x, padding)
    # windows[n, c, u1, u2, o1, o2] = xp[n, c, stride·u1 + o1, stride·u2 + o2]: a view, no copy
    windows = sliding_window_view(xp, (kh, kw), axis=(2, 3))[:, :, ::stride, ::stride]
    N, C, Ho, Wo = windows.shape[:4]
    # the one copy: reorder to (c, o1, o2, n, u1, u2)
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
    for o1 in range(kh):
        for o2 in range(kw):
            xp[
                :,
                :,
                o1 : o1 + stride * (Ho - 1) + 1 : stride,
                o2 : o2 + stride * (Wo - 1) + 1 : stride,
            ] += c6[:, o1, o2].transpose(1, 0, 2, 3)
    return unpad(xp, padding)


def conv2d_im2col(x, w, b=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Convolution as im2col followed by one GEMM.

    x (N, C, H, W), w (C_out, C, kh, kw), b (C_out,) or None -> z (N, C_out, H_out, W_out).
    """
    x, w, b, s, p = check_conv_args(x, w, b, stride, padding, "conv2d_im2col")
    N, C, H, W = x.shape
    C_out, _, kh, kw = w.shape
    Ho, Wo = output_size(H, kh, s, p), output_size(W, kw, s, p)
    cols = im2col(x, kh, kw, s, p)  # (C·kh·kw, N·Ho·Wo)
    z = w.reshape(C_out, -1) @ cols  # one GEMM: (C_out, N·Ho·Wo)
    if b is not None:
        z += b[:, None]
    return np.ascontiguousarray(z.reshape(C_out, N, Ho, Wo).transpose(1, 0, 2, 3))


def conv2d_im2col_backward(dout, x, w, stride: int = 1, padding: int = 0, cols=None):
    """Gradients by two GEMMs and col2im.

    dout (N, C_out, H_out, W_out) -> dx (N, C, H, W), dw (C_out, C, kh, kw), db (C_out,).
    Pass the forward pass's ``cols`` to skip unfolding x again.
    """
    x, w, _, s, p = check_conv_args(x, w, None, stride, padding, "conv2d_im2col_backward")
    dout = check_conv_dout(dout, x, w, s, p, "conv2d_im2col_backward")
    C_out, C, kh, kw = w.shape
    if cols is None:
        cols = im2col(x, kh, kw, s, p)
    dout_m = dout.transpose(1, 0, 2, 3).reshape(C_out, -1)  # (C_out, N·Ho·Wo)
    dw = (dout_m @ cols.T).reshape(w.shape)
    dx = col2im(w.reshape(C_out, -1).T @ dout_m, x.shape, kh, kw, s, p)
    return dx, dw, dout_m.sum(axis=1)
