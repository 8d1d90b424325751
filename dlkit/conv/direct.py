"""Direct convolution: the defining sum, computed as written.

    z[n, f, u1, u2] = b[f] + Σ_c Σ_{o1} Σ_{o2} w[f, c, o1, o2] · a[n, c, s·u1 + o1, s·u2 + o2]

for image n, output channel f, output position (u1, u2), input channel c and kernel
offset (o1, o2), with s the stride (the input a = ``x`` padded first).
:func:`conv2d_direct_loops` is the six nested loops, for tiny inputs only (it is pure
Python). :func:`conv2d_direct` keeps the two kernel loops (o1, o2) and lets numpy do
the rest of the sum for all images, channels and positions at once: for each kernel
offset, the shifted input is multiplied by the (C_out, C) matrix of that offset's
weights. Its cost is exactly N·C_out·C·kh·kw·H_out·W_out multiply-accumulates, the
count every faster algorithm is compared with.
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
    """The definition, one multiply-accumulate at a time (pure Python: tiny inputs only).

    x (N, C, H, W), w (C_out, C, kh, kw), b (C_out,) or None -> z (N, C_out, H_out, W_out).
    Loop names as in the text: image n, output channel f, output position (u1, u2),
    input channel c, kernel offset (o1, o2).
    """
    x, w, b, s, p = check_conv_args(x, w, b, stride, padding, "conv2d_direct_loops")
    a = pad_input(x, p)
    N, C, H, W = a.shape
    C_out, _, kh, kw = w.shape
    Ho, Wo = output_size(H, kh, s), output_size(W, kw, s)
    z = np.zeros((N, C_out, Ho, Wo), x.dtype)
    for n in range(N):
        for f in range(C_out):
            for u1 in range(Ho):
                for u2 in range(Wo):
                    acc = 0.0
                    for c in range(C):
                        for o1 in range(kh):
                            for o2 in range(kw):
                                acc += w[f, c, o1, o2] * a[n, c, s * u1 + o1, s * u2 + o2]
                    z[n, f, u1, u2] = acc
    return add_bias(z, b)


def conv2d_direct(x, w, b=None, stride: int = 1, padding: int = 0) -> np.ndarray:
    """Direct convolution, looping over the kh·kw kernel offsets (o1, o2).

    x (N, C, H, W), w (C_out, C, kh, kw), b (C_out,) or None -> z (N, C_out, H_out, W_out).
    """
    x, w, b, s, p = check_conv_args(x, w, b, stride, padding, "conv2d_direct")
    a = pad_input(x, p)
    N, C, H, W = a.shape
    C_out, _, kh, kw = w.shape
    Ho, Wo = output_size(H, kh, s), output_size(W, kw, s)
    z = np.zeros((N, C_out, Ho, Wo), x.dtype)
    for o1 in range(kh):
        for o2 in range(kw):
            # a[n, c, stride·u1 + o1, stride·u2 + o2] for every n, c, u1, u2: (N, C, Ho, Wo)
            shifted = a[:, :, o1 : o1 + s * (Ho - 1) + 1 : s, o2 : o2 + s * (Wo - 1) + 1 : s]
            z += np.einsum("fc,nchw->nfhw", w[:, :, o1, o2], shifted, optimize=True)
    return add_bias(z, b)


def conv2d_direct_backward(dout, x, w, stride: int = 1, padding: int = 0):
    """Gradients of :func:`conv2d_direct`: the same two loops, run backwards.

    dout (N, C_out, H_out, W_out) -> dx (N, C, H, W), dw (C_out, C, kh, kw), db (C_out,).
    For each kernel offset (o1, o2): dw[:, :, o1, o2] = Σ dout · shifted input, and the
    shifted window of dx receives wᵀ · dout.
    """
    x, w, _, s, p = check_conv_args(x, w, None, stride, padding, "conv2d_direct_backward")
    dout = check_conv_dout(dout, x, w, s, p, "conv2d_direct_backward")
    xp = pad_input(x, p)
    C_out, C, kh, kw = w.shape
    Ho, Wo = dout.shape[2:]
    dxp = np.zeros_like(xp)
    dw = np.empty_like(w)
    for o1 in range(kh):
        for o2 in range(kw):
            win = (
                slice(None),
                slice(None),
                slice(o1, o1 + s * (Ho - 1) + 1, s),
                slice(o2, o2 + s * (Wo - 1) + 1, s),
            )
            dw[:, :, o1, o2] = np.einsum("nfhw,nchw->fc", dout, xp[win], optimize=True)
            dxp[win] += np.einsum("fc,nfhw->nchw", w[:, :, o1, o2], dout, optimize=True)
    db = dout.sum(axis=(0, 2, 3))
    return unpad(dxp, p), dw, db
