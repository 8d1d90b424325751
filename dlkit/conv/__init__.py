"""2-D convolution (cross-correlation, as deep-learning frameworks define it) by four
algorithms, plus a compiled direct kernel.

    z[n, f, u1, u2] = b[f] + Σ_c Σ_{o1} Σ_{o2} w[f, c, o1, o2] · a[n, c, s·u1 + o1, s·u2 + o2]

for image n, output channel f, output position (u1, u2), input channel c, kernel
offset (o1, o2) and stride s (a is the zero-padded input): x (N, C, H, W) and
w (C_out, C, kh, kw) give z (N, C_out, H_out, W_out).

==========  =================================================  =====================
algorithm   idea                                               applies to
==========  =================================================  =====================
direct      the sum as written, looping over kernel offsets    any kernel, stride
im2col      unfold receptive fields, then one GEMM             any kernel, stride
            (Chellapilla et al. 2006)
winograd    F(2×2, 3×3) minimal filtering (Winograd 1980;      3×3 kernels, stride 1
            Lavin & Gray 2016)
fft         pointwise products in frequency space              any kernel; a stride
            (Mathieu et al. 2014)                              wastes work
numba       the direct sum, compiled with a vectorising        any kernel, stride;
            loop order (the backend's kernels:                 a backend with kernels
            :func:`dlkit.kernels.for_backend`)
==========  =================================================  =====================

``conv2d(x, w, b, stride, padding, algorithm=...)`` runs any of them;
``conv2d_backward(dout, x, w, stride, padding, algorithm=...)`` returns (dx, dw, db).
Every algorithm is tested against ``scipy.signal.correlate``. :mod:`dlkit.conv.cost`
counts their multiply-accumulates, flops and memory traffic.
"""

from __future__ import annotations

import numpy as np

from dlkit import kernels
from dlkit.conv.common import (
    check_conv_args,
    check_conv_dout,
    check_int_arg,
    dilate,
    output_size,
    pad_input,
    unpad,
)
from dlkit.conv.compiled import (
    backward_plan,
    conv2d_fast_backward,
    conv2d_numba,
    conv2d_numba_backward,
)
from dlkit.conv.cost import (
    INTENSITY_ALGORITHMS,
    arithmetic_intensity,
    conv_bytes,
    direct_flops,
    direct_mults,
    fft_crossover,
    fft_flops,
    fft_mults,
    im2col_mults,
    winograd_mults,
)
from dlkit.conv.direct import conv2d_direct, conv2d_direct_backward, conv2d_direct_loops
from dlkit.conv.fft import conv2d_fft, conv2d_fft_backward
from dlkit.conv.im2col import col2im, conv2d_im2col, conv2d_im2col_backward, im2col
from dlkit.conv.winograd import AT, BT, G, conv2d_winograd, winograd_check

__all__ = [
    "ALGORITHMS",
    "conv2d",
    "conv2d_backward",
    "choose_algorithm",
    "output_size",
    "pad_input",
    "dilate",
    "check_conv_args",
    "check_conv_dout",
    "conv2d_direct",
    "conv2d_direct_loops",
    "conv2d_direct_backward",
    "im2col",
    "col2im",
    "conv2d_im2col",
    "conv2d_im2col_backward",
    "conv2d_winograd",
    "winograd_check",
    "BT",
    "G",
    "AT",
    "conv2d_fft",
    "conv2d_fft_backward",
    "conv2d_numba",
    "conv2d_numba_backward",
    "conv2d_fast_backward",
    "backward_plan",
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

ALGORITHMS = ("direct", "im2col", "winograd", "fft", "numba")

_FORWARD = {
    "direct": conv2d_direct,
    "im2col": conv2d_im2col,
    "winograd": conv2d_winograd,
    "fft": conv2d_fft,
    "numba": conv2d_numba,
}


def _check_choice(algorithm, stride) -> None:
    if not isinstance(algorithm, str):
        raise TypeError(
            f"conv2d: algorithm must be a name (str), got {algorithm!r}; choose "
            f"'auto' or one of {', '.join(repr(a) for a in ALGORITHMS)}"
        )
    check_int_arg(stride, "stride", "conv2d", 1)


def choose_algorithm(algorithm: str, kernel_shape, stride: int = 1) -> str:
    """Resolve ``"auto"`` (and check the name): the fastest correct path on a CPU.

    ``auto`` follows :mod:`dlkit.backend`: on a backend with compiled kernels
    (:func:`dlkit.kernels.has_kernels`; ``numba``, the default when numba is installed)
    it is the compiled direct kernel (no unfolded copy, parallel over images and
    channels); on the ``numpy`` reference backend it is im2col + GEMM.
    """
    _check_choice(algorithm, stride)
    if algorithm == "auto":
        return "numba" if kernels.has_kernels() else "im2col"
    if algorithm not in ALGORITHMS:
        raise ValueError(
            f"unknown convolution algorithm {algorithm!r}: choose one of "
            f"'auto', {', '.join(repr(a) for a in ALGORITHMS)}"
        )
    if algorithm == "winograd":
        winograd_check(kernel_shape, stride)
    return algorithm


def conv2d(x, w, b=None, stride: int = 1, padding: int = 0, algorithm: str = "im2col"):
    """2-D convolution of x (N, C, H, W) with w (C_out, C, kh, kw) -> (N, C_out, H_out, W_out).

    H_out = (H + 2·padding − kh) // stride + 1 (same for W).
    """
    algorithm = choose_algorithm(algorithm, np.shape(w), stride)
    return _FORWARD[algorithm](x, w, b, stride, padding)


def conv2d_backward(dout, x, w, stride: int = 1, padding: int = 0, algorithm: str = "im2col"):
    """Gradients of :func:`conv2d`: returns (dx, dw, db) for dout (N, C_out, H_out, W_out).

    Each algorithm computes them its own way: direct and numba by the transposed
    loops, im2col by two GEMMs and col2im, fft by FFTs. Winograd computes dx with
    Winograd itself (the gradient of a 3×3 stride-1 correlation is a 3×3 correlation
    of the padded dout with the flipped kernel) and dw, whose 'kernel' is the size of
    the output, by im2col.
    """
    algorithm = choose_algorithm(algorithm, np.shape(w), stride)
    if algorithm == "direct":
        return conv2d_direct_backward(dout, x, w, stride, padding)
    if algorithm == "im2col":
        return conv2d_im2col_backward(dout, x, w, stride, padding)
    if algorithm == "fft":
        return conv2d_fft_backward(dout, x, w, stride, padding)
    if algorithm == "numba":
        return conv2d_numba_backward(dout, x, w, stride, padding)
    # winograd
    x, w, _, s, p = check_conv_args(x, w, None, stride, padding, "conv2d_backward")
    C_out = w.shape[0]
    from dlkit.conv.im2col import im2col as _im2col

    dout = np.asarray(check_conv_dout(dout, x, w, s, p, "conv2d_backward"), x.dtype)
    dout_m = dout.transpose(1, 0, 2, 3).reshape(C_out, -1)
    dw = (dout_m @ _im2col(x, 3, 3, 1, p).T).reshape(w.shape)
    dxp = conv2d_winograd(dout, w[:, :, ::-1, ::-1].transpose(1, 0, 2, 3), None, 1, 2)
    dx = unpad(dxp, p)
    return np.ascontiguousarray(dx), dw, dout_m.sum(axis=1)
