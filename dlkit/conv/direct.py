"""Direct convolution: the defining sum, computed as written.

    out[n, f_o, x, y] = Σ_{f_i} Σ_{k_x} Σ_{k_y} w[f_o, f_i, k_x, k_y] · in[n, f_i, s·x + k_x, s·y + k_y]

:func:`conv2d_direct_loops` is the six nested loops, for tiny inputs only (it is pure
Python). :func:`conv2d_direct` keeps the two kernel loops (k_x, k_y) and lets numpy do
the rest of the sum for all images, channels and positions at once: for each kernel
offset, the shifted input is multiplied by the (F, C) matrix of that offset's weights.
Its cost is exactly N·F·C·kh·kw·H_out·W_out multiply-adds, the count every faster
algorithm is compared with.
"""

from __future__ import annotations

import numpy as np

from dlkit.conv.common import (
    add_bias,
    check_conv_args,
    check_conv_dout,
    output_size,
    pad_input,
    unpad,
)


def conv2d_direct_loops(x, w, b=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """The definition, one multiply-add at a time (pure Python: tiny inputs only).

    x (N, C, H, W), w (F, C, kh, kw), b (F,) or None -> out (N, F, H_out, W_out).
    """
    x, w, b, s, p = check_conv_args(x, w, b, stride, padding, "conv2d_direct_loops")
    xp = pad_input(x, p)
    N, C, H, W = xp.shape
    F, _, kh, kw = w.shape
    Ho, Wo = output_size(H, kh, s), output_size(W, kw, s)
    out = np.zeros((N, F, Ho, Wo), x.dtype)
    for n in range(N):
        for fo in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    acc = 0.0
                    for fi in range(C):
                        for kx in range(kh):
                            for ky in range(kw):
                                acc += w[fo, fi, kx, ky] * xp[n, fi, s * i + kx, s * j + ky]
                    out[n, fo, i, j] = acc
    return add_bias(out, b)


def conv2d_direct(x, w, b=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Direct convolution, looping over the kh·kw kernel offsets.

    x (N, C, H, W), w (F, C, kh, kw), b (F,) or None -> out (N, F, H_out, W_out).
    """
    x, w, b, s, p = check_conv_args(x, w, b, stride, padding, "conv2d_direct")
    xp = pad_input(x, p)
    N, C, H, W = xp.shape
    F, _, kh, kw = w.shape
    Ho, Wo = output_size(H, kh, s), output_size(W, kw, s)
    out = np.zeros((N, F, Ho, Wo), x.dtype)
    for kx in range(kh):
        for ky in range(kw):
            # in[n, f_i, s·x + k_x, s·y + k_y] for every n, f_i, x, y: (N, C, Ho, Wo)
            shifted = xp[:, :, kx : kx + s * (Ho - 1) + 1 : s, ky : ky + s * (Wo - 1) + 1 : s]
            out += np.einsum("fc,nchw->nfhw", w[:, :, kx, ky], shifted, optimize=True)
    return add_bias(out, b)


def conv2d_direct_backward(dout, x, w, stride: int = 1, padding: int = 0):
    """Gradients of :func:`conv2d_direct`: the same two loops, run backwards.

    dout (N, F, H_out, W_out) -> dx (N, C, H, W), dw (F, C, kh, kw), db (F,).
    For each kernel offset (k_x, k_y): dw[:, :, k_x, k_y] = Σ dout · shifted input, and the
    shifted window of dx receives wᵀ · dout.
    """
    x, w, _, s, p = check_conv_args(x, w, None, stride, padding, "conv2d_direct_backward")
    dout = check_conv_dout(dout, x, w, s, p, "conv2d_direct_backward")
    xp = pad_input(x, p)
    F, C, kh, kw = w.shape
    Ho, Wo = dout.shape[2:]
    dxp = np.zeros_like(xp)
    dw = np.empty_like(w)
    for kx in range(kh):
        for ky in range(kw):
            win = (
                slice(None),
                slice(None),
                slice(kx, kx + s * (Ho - 1) + 1, s),
                slice(ky, ky + s * (Wo - 1) + 1, s),
            )
            dw[:, :, kx, ky] = np.einsum("nfhw,nchw->fc", dout, xp[win], optimize=True)
            dxp[win] += np.einsum("fc,nfhw->nchw", w[:, :, kx, ky], dout, optimize=True)
    db = dout.sum(axis=(0, 2, 3))
    return unpad(dxp, p), dw, db
