"""The small Numba-CUDA kernels that join :mod:`dlkit.kernels.cuda` into layers.

:mod:`dlkit.kernels.cuda` holds the kernels the book studies (GEMM, convolution,
pooling, ReLU, softmax cross-entropy, the SGD update). A layer needs a little more
glue to run on the device: a transpose (Z^(j) = A^(j-1) W^(j)ᵀ), the bias added to
every row, the column sums of the bias gradient (BP3: ∂𝓛/∂b^(j) = Σ_n δ^(j)_n), zero
padding, and the two gradients of a convolution. They are here, each written in the
simplest way that is correct: one thread per output value, with the sum over its
inputs in a loop, in the precision of the arrays.

- ``transpose(a)``: aᵀ as a contiguous array, (M, K) -> (K, M).
- ``add_bias(Z, b)``: Z[n, j] += b[j] in place, Z (N, s), b (s,).
- ``sum_rows(a)``: Σ_n a[n, j], (N, s) -> (s,).
- ``sum_nhw(d)``: Σ_{n, u1, u2} d[n, f, u1, u2], (N, F, H, W) -> (F,).
- ``pad2d(x, p)``: zero padding by p on both spatial axes,
  (N, C, H, W) -> (N, C, H + 2p, W + 2p).
- ``conv2d_weight_grad(dout, xp, KH, KW, stride)``, s the stride:
  ∂𝓛/∂W[f, c, o1, o2] = Σ_n Σ_{u1, u2} dout[n, f, u1, u2] · a[n, c, s·u1 + o1, s·u2 + o2]
  for the padded input a = xp (N, C, H_p, W_p) and dout (N, F, H_out, W_out).
- ``conv2d_input_grad(dout, w, H, W, stride, padding)``: ∂𝓛/∂a (N, C, H, W) of the
  unpadded input: for each input value, the sum of dout · w over the outputs whose
  window covers it.

Every host wrapper accepts numpy or Numba device arrays and returns a device array;
the kernels trust their arguments (the layers of :mod:`dlkit.nn` check shapes first).
Importing this module imports ``numba.cuda`` (the simulator when
``NUMBA_ENABLE_CUDASIM=1`` was set before numba was first imported).
"""

from __future__ import annotations

import os

import numpy as np
from numba import cuda

#: True when ``numba.cuda`` is Numba's CUDA simulator (``NUMBA_ENABLE_CUDASIM=1``).
SIMULATOR = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"

# The simulator runs every thread of a block as a Python thread, so it gets small blocks.
#: threads per block of the one-dimensional launches
THREADS = 32 if SIMULATOR else 128
#: block edge of the two-dimensional launches (BLOCK × BLOCK threads)
BLOCK = 4 if SIMULATOR else 16


def as_device(a):
    """`a` on the device: a device array as it is, anything else copied there."""
    return a if hasattr(a, "copy_to_host") else cuda.to_device(np.ascontiguousarray(a))


def _grid1(n: int) -> int:
    return max(1, (n + THREADS - 1) // THREADS)


@cuda.jit
def _transpose(a, out):
    i, j = cuda.grid(2)
    if i < a.shape[0] and j < a.shape[1]:
        out[j, i] = a[i, j]


def transpose(a):
    """aᵀ as a new contiguous device array: (M, K) -> (K, M)."""
    a = as_device(a)
    M, K = a.shape
    out = cuda.device_array((K, M), a.dtype)
    grid = ((M + BLOCK - 1) // BLOCK, (K + BLOCK - 1) // BLOCK)
    _transpose[grid, (BLOCK, BLOCK)](a, out)
    return out


@cuda.jit
def _add_bias(z, b):
    n, j = cuda.grid(2)
    if n < z.shape[0] and j < z.shape[1]:
        z[n, j] += b[j]


def add_bias(z, b):
    """Z[n, j] += b[j] for every row n, in place on the device array `z`; returns `z`."""
    N, s = z.shape
    grid = ((N + BLOCK - 1) // BLOCK, (s + BLOCK - 1) // BLOCK)
    _add_bias[grid, (BLOCK, BLOCK)](z, as_device(b))
    return z


@cuda.jit
def _sum_rows(a, out):
    j = cuda.grid(1)
    if j < a.shape[1]:
        acc = out.dtype.type(0)
        for n in range(a.shape[0]):  # neighbouring threads read neighbouring columns
            acc += a[n, j]
        out[j] = acc


def sum_rows(a, out=None):
    """Σ_n a[n, j], the column sums of (N, s) `a`: (s,), into `out` if given."""
    a = as_device(a)
    if out is None:
        out = cuda.device_array(a.shape[1], a.dtype)
    _sum_rows[_grid1(a.shape[1]), THREADS](a, out)
    return out


@cuda.jit
def _sum_nhw(d, out):
    f = cuda.grid(1)
    if f < d.shape[1]:
        acc = out.dtype.type(0)
        for n in range(d.shape[0]):
            for i in range(d.shape[2]):
                for j in range(d.shape[3]):
                    acc += d[n, f, i, j]
        out[f] = acc


def sum_nhw(d, out=None):
    """Σ over images and positions of (N, F, H, W) `d`, per channel: (F,)."""
    d = as_device(d)
    if out is None:
        out = cuda.device_array(d.shape[1], d.dtype)
    _sum_nhw[_grid1(d.shape[1]), THREADS](d, out)
    return out


@cuda.jit
def _pad2d(x, p, out):
    t = cuda.grid(1)
    N, C, Hp, Wp = out.shape
    if t < N * C * Hp * Wp:
        j = t % Wp
        i = (t // Wp) % Hp
        c = (t // (Wp * Hp)) % C
        n = t // (Wp * Hp * C)
        H, W = x.shape[2], x.shape[3]
        if p <= i < H + p and p <= j < W + p:
            out[n, c, i, j] = x[n, c, i - p, j - p]
        else:
            out[n, c, i, j] = 0


def pad2d(x, p: int):
    """`x` (N, C, H, W) zero-padded by `p` on each side of both spatial axes."""
    x = as_device(x)
    if p == 0:
        return x
    N, C, H, W = x.shape
    out = cuda.device_array((N, C, H + 2 * p, W + 2 * p), x.dtype)
    _pad2d[_grid1(out.size), THREADS](x, p, out)
    return out


@cuda.jit
def _conv2d_weight_grad(dout, xp, stride, dw):
    t = cuda.grid(1)
    F, C, KH, KW = dw.shape
    if t < F * C * KH * KW:
        o2 = t % KW
        o1 = (t // KW) % KH
        c = (t // (KW * KH)) % C
        f = t // (KW * KH * C)
        acc = dw.dtype.type(0)
        for n in range(dout.shape[0]):
            for u1 in range(dout.shape[2]):
                for u2 in range(dout.shape[3]):
                    acc += dout[n, f, u1, u2] * xp[n, c, stride * u1 + o1, stride * u2 + o2]
        dw[f, c, o1, o2] = acc


def conv2d_weight_grad(dout, xp, KH: int, KW: int, stride: int):
    """dW (F, C, kh, kw) from dout (N, F, Ho, Wo) and the padded input xp (N, C, Hp, Wp).

    The CPU twin is :func:`dlkit.kernels.cpu.conv2d_weight_grad` (same arguments).
    """
    dout, xp = as_device(dout), as_device(xp)
    F, C = dout.shape[1], xp.shape[1]
    dw = cuda.device_array((F, C, KH, KW), xp.dtype)
    _conv2d_weight_grad[_grid1(dw.size), THREADS](dout, xp, stride, dw)
    return dw


@cuda.jit
def _conv2d_input_grad(dout, w, stride, padding, dx):
    t = cuda.grid(1)
    N, C, H, W = dx.shape
    if t < N * C * H * W:
        j = t % W
        i = (t // W) % H
        c = (t // (W * H)) % C
        n = t // (W * H * C)
        Ho, Wo = dout.shape[2], dout.shape[3]
        F, KH, KW = w.shape[0], w.shape[2], w.shape[3]
        acc = dx.dtype.type(0)
        for o1 in range(KH):  # output row u1 with s·u1 + o1 = i + padding
            r = i + padding - o1
            if r < 0 or r % stride != 0 or r // stride >= Ho:
                continue
            u1 = r // stride
            for o2 in range(KW):
                q = j + padding - o2
                if q < 0 or q % stride != 0 or q // stride >= Wo:
                    continue
                u2 = q // stride
                for f in range(F):
                    acc += dout[n, f, u1, u2] * w[f, c, o1, o2]
        dx[n, c, i, j] = acc


def conv2d_input_grad(dout, w, H: int, W: int, stride: int, padding: int):
    """∂𝓛/∂a (N, C, H, W) of the unpadded input, from dout (N, F, Ho, Wo) and W (F, C, kh, kw).

    Each thread owns one input value and sums dout · W over the outputs whose window
    covers it: no two threads write the same place, so no atomics are needed.
    """
    dout, w = as_device(dout), as_device(w)
    dx = cuda.device_array((dout.shape[0], w.shape[1], H, W), dout.dtype)
    _conv2d_input_grad[_grid1(dx.size), THREADS](dout, w, stride, padding, dx)
    return dx


def signatures(t) -> dict:
    """The kernels of this module with their argument types for the float type t
    (``numba.float32`` or ``numba.float64``): name -> (kernel, types), for
    ``numba.cuda.compile_ptx(kernel.py_func, types, cc=(7, 5))``."""
    from numba import int64

    v1, v2, v4 = t[::1], t[:, ::1], t[:, :, :, ::1]
    return {
        "transpose": (_transpose, (v2, v2)),
        "add_bias": (_add_bias, (v2, v1)),
        "sum_rows": (_sum_rows, (v2, v1)),
        "sum_nhw": (_sum_nhw, (v4, v1)),
        "pad2d": (_pad2d, (v4, int64, v4)),
        "conv2d_weight_grad": (_conv2d_weight_grad, (v4, v4, int64, v4)),
        "conv2d_input_grad": (_conv2d_input_grad, (v4, v4, int64, int64, v4)),
    }
