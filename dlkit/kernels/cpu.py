"""Numba CPU kernels for convolution and matrix multiplication.

All kernels are compiled by ``@njit`` with ``parallel`` limited to ``prange`` loops (see
:data:`PARALLEL`), ``cache=True`` and ``fastmath=True``: ``prange`` splits the outermost
independent loop over the cores, ``cache=True`` keeps the compiled code on disk so only
the first run of a new dtype pays the compile time, and ``fastmath`` lets LLVM reorder
the sums so that the innermost loops become SIMD instructions.

The loop order is the whole story. A loop vectorises when its body reads and writes
memory at consecutive addresses; so each kernel puts the longest contiguous axis
innermost and hoists everything else (a weight, an offset) out of it:

- :func:`conv2d_direct`: for stride 1 a flat index p = x·W_p + y of the padded image
  turns the two output axes into one contiguous run of length (H_out−1)·W_p + W_out, and
  every kernel offset (k_x, k_y) becomes a shift ``off = k_x·W_p + k_y``:
  ``acc[p] += w · in[off + p]``, one long vectorised loop per weight (the positions
  with y ≥ W_out wrap into the next row and are discarded).
- :func:`conv2d_chwn`: stride 1 with the batch as the innermost axis, the layout
  (C, H, W, N) of cuda-convnet (Krizhevsky 2012). One padded row of every image is then
  one contiguous run, a kernel offset (k_x, k_y) is a shift by whole rows and whole
  images, and no position is wasted; four output channels and five terms of the sum
  per pass, so each loaded input serves four channels and each accumulator load and
  store serves five multiply-adds.
- :func:`conv2d_weight_grad`: the same shifts give dw as contiguous dot products; the
  input gradient is :func:`conv2d_direct` itself, run on the zero-padded dout with the
  flipped kernel (see :func:`dlkit.conv.compiled.conv2d_numba_backward`).
- :func:`conv2d_weight_grad_chwn` and :func:`conv2d_input_grad_chwn`: the stride-1
  gradients on the batch-innermost layout, dw by register-blocked dot products
  (:func:`wgrad_block_4x5`, ``_4x3`` with 16 registers) and dx by the transpose of
  :func:`conv2d_chwn`; what ``Conv2d(algorithm="auto")`` runs
  (:func:`dlkit.conv.compiled.backward_plan`).
- :func:`im2col` / :func:`col2im`: copies in the order of the matrix they fill.
- :func:`gemm_blocked`: cache blocking plus four rows of C updated from four rows of B.
- :func:`gemm_naive` … :func:`gemm_micro`: the matrix product one idea at a time (loop
  order, cache blocking, packing, a register-blocked micro-kernel, threads), the steps
  from the formula's loops to a kernel within reach of BLAS (``python -m dlkit.bench
  --only gemm`` measures each one). The register blocks fit the target's register file
  (:mod:`dlkit.kernels.target`): :func:`gemm_kernel_5x5` with AVX-512's 32 vector
  registers, :func:`gemm_kernel_4x3` with AVX2's 16.

numpy (BLAS) remains the reference: tests/test_kernels.py compares every kernel
with it.
"""

from __future__ import annotations

import os

# Numba runs ``prange`` loops on an OpenMP thread pool and numpy runs matrix products on
# OpenBLAS's own pool. By default OpenMP threads spin (busy-wait) for a while after each
# parallel loop, taking the cores from the BLAS threads that run next: a training step
# of chapter 7's LeNet-style network, which alternates the two a dozen times, ran three times slower on
# two cores. Threads that sleep at once (PASSIVE) avoid that. The setting is read when
# Numba first starts its threads; a value the user has set is kept.
os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")

import numpy as np  # noqa: E402
from numba import njit, prange  # noqa: E402

from dlkit.kernels.target import vector_registers  # noqa: E402

#: What Numba may run in parallel: only the ``prange`` loops. With plain
#: ``parallel=True`` Numba also turns array expressions (``np.zeros``, slice assignments,
#: reductions) into parallel loops; outside a ``prange`` each of them wakes the sleeping
#: thread pool, which costs tens of microseconds apiece on a small machine: a sizeable
#: share of a small layer's time. Inside a ``prange`` they run serially anyway.
PARALLEL = dict(
    prange=True,
    comprehension=False,
    reduction=False,
    inplace_binop=False,
    setitem=False,
    numpy=False,
    stencil=False,
    fusion=False,
)


def _jit() -> dict:
    """Options for ``@njit`` (a fresh ``parallel`` dict each time: Numba consumes it)."""
    return dict(parallel=dict(PARALLEL), cache=True, fastmath=True)


@njit(**_jit())
def conv2d_direct(xp, w, b, stride):
    """Direct convolution of an already padded input.

    xp (N, C, H_p, W_p), w (C_out, C, kh, kw), b (C_out,), stride s
    -> z (N, C_out, H_out, W_out). One (image, output channel) pair per parallel task.
    For stride 1 the innermost loop runs over the flat output index p = u1·W_p + u2 and
    adds four kernel columns at once (the offset o2 unrolled by four), so each load and
    store of ``acc[p]`` serves four multiply-accumulates.
    """
    N, C, Hp, Wp = xp.shape
    F, _, KH, KW = w.shape
    Ho = (Hp - KH) // stride + 1
    Wo = (Wp - KW) // stride + 1
    out = np.empty((N, F, Ho, Wo), xp.dtype)
    if stride == 1:
        L = (Ho - 1) * Wp + Wo  # flat run covering every output
        xf = xp.reshape(N, C, Hp * Wp)
        for nf in prange(N * F):
            n = nf // F
            f = nf - n * F
            acc = np.zeros(L, xp.dtype)
            for c in range(C):
                xr = xf[n, c]  # one input channel, flattened
                for kx in range(KH):
                    ky = 0
                    while ky + 4 <= KW:
                        w0 = w[f, c, kx, ky]
                        w1 = w[f, c, kx, ky + 1]
                        w2 = w[f, c, kx, ky + 2]
                        w3 = w[f, c, kx, ky + 3]
                        xs = xr[kx * Wp + ky : kx * Wp + ky + L + 3]
                        for p in range(L):  # contiguous: vectorises
                            acc[p] += w0 * xs[p] + w1 * xs[p + 1] + w2 * xs[p + 2] + w3 * xs[p + 3]
                        ky += 4
                    while ky < KW:
                        wv = w[f, c, kx, ky]
                        xs = xr[kx * Wp + ky : kx * Wp + ky + L]
                        for p in range(L):
                            acc[p] += wv * xs[p]
                        ky += 1
            for i in range(Ho):
                for j in range(Wo):
                    out[n, f, i, j] = acc[i * Wp + j] + b[f]
    else:
        for nf in prange(N * F):
            n = nf // F
            f = nf - n * F
            o = out[n, f]
            o[:, :] = b[f]
            for c in range(C):
                for kx in range(KH):
                    for ky in range(KW):
                        wv = w[f, c, kx, ky]
                        for i in range(Ho):
                            row = xp[n, c, i * stride + kx]
                            for j in range(Wo):
                                o[i, j] += wv * row[j * stride + ky]
    return out


@njit(cache=True, fastmath=True)
def to_chwn(x, padding):
    """Copy x (N, C, H, W) into the zero-padded batch-innermost layout (C, H_p, W_p, N)
    of :func:`conv2d_chwn` (serial: cheap beside the convolution)."""
    N, C, H, W = x.shape
    Hp = H + 2 * padding
    Wp = W + 2 * padding
    if padding:
        xt = np.zeros((C, Hp, Wp, N), x.dtype)
    else:
        xt = np.empty((C, Hp, Wp, N), x.dtype)
    for c in range(C):
        for h in range(H):
            d = xt[c, h + padding]
            for v in range(W):
                for n in range(N):
                    d[v + padding, n] = x[n, c, h, v]
    return xt


@njit(**_jit())
def conv2d_chwn(x, w, b, padding):
    """Stride-1 direct convolution with the batch as the innermost axis.

    x (N, C, H, W), w (C_out, C, kh, kw), b (C_out,), zero padding
    -> z (N, C_out, H_out, W_out).

    1. The input is copied, padded, to the layout (C, H_p, W_p, N) (cuda-convnet's): one
       padded row of all N images is then one contiguous run of W_p·N values, and output
       row u1 of channel f is one run ``acc[p]`` over p = u2·N + n, W_out·N positions
       with none wrapped or wasted.
    2. The sum runs over the C·kh·kw terms t = (c, o1, o2). Term t reads the input run
       that starts ``off[t] = (c·H_p + o1)·W_p·N + o2·N`` values after the output row's
       own; the table is padded with zero weights to a multiple of five.
    3. Each pass of the innermost loop adds five terms to four output channels: five
       loads of input and four of accumulators feed twenty multiply-accumulates (the register
       reuse of :func:`gemm_blocked`). One task is four channels × one output row ×
       a block of whole output columns, at most 512 positions when N ≤ 512
       (accumulators of 4 × 2 KiB stay in the L1 cache).
    4. The accumulators are written back to (N, F, H_out, W_out), adding the bias.
    """
    N, C, H, W = x.shape
    F, _, KH, KW = w.shape
    Hp = H + 2 * padding
    Wp = W + 2 * padding
    Ho = Hp - KH + 1
    Wo = Wp - KW + 1
    RN = Wp * N  # one padded row of every image
    xf = to_chwn(x, padding).reshape(C * Hp * RN)  # 1. batch innermost
    R = C * KH * KW  # 2. terms of the sum, padded to 5s
    R5 = (R + 4) // 5 * 5
    F4 = (F + 3) // 4 * 4
    wr = np.zeros((F4, R5), x.dtype)
    off = np.zeros(R5, np.int64)
    for r in range(R):
        c = r // (KH * KW)
        kx = (r // KW) % KH
        ky = r % KW
        off[r] = (c * Hp + kx) * RN + ky * N
        for f in range(F):
            wr[f, r] = w[f, c, kx, ky]
    L = Wo * N  # positions (y, n) of one output row
    cols = max(1, 512 // N)  # output columns per task, balanced
    npb = (Wo + cols - 1) // cols
    P = (Wo + npb - 1) // npb * N
    out = np.empty((N, F, Ho, Wo), x.dtype)
    for t in prange(F4 // 4 * Ho * npb):  # 3. (4 channels, row, positions)
        f = t // (Ho * npb) * 4
        i = (t // npb) % Ho
        p0 = (t % npb) * P
        m = min(P, L - p0)
        acc = np.zeros((4, m), x.dtype)
        a0 = acc[0]
        a1 = acc[1]
        a2 = acc[2]
        a3 = acc[3]
        base = i * RN + p0
        for r in range(0, R5, 5):
            s0 = xf[base + off[r] : base + off[r] + m]
            s1 = xf[base + off[r + 1] : base + off[r + 1] + m]
            s2 = xf[base + off[r + 2] : base + off[r + 2] + m]
            s3 = xf[base + off[r + 3] : base + off[r + 3] + m]
            s4 = xf[base + off[r + 4] : base + off[r + 4] + m]
            w00, w01, w02, w03, w04 = (
                wr[f, r],
                wr[f, r + 1],
                wr[f, r + 2],
                wr[f, r + 3],
                wr[f, r + 4],
            )
            w10, w11, w12, w13, w14 = (
                wr[f + 1, r],
                wr[f + 1, r + 1],
                wr[f + 1, r + 2],
                wr[f + 1, r + 3],
                wr[f + 1, r + 4],
            )
            w20, w21, w22, w23, w24 = (
                wr[f + 2, r],
                wr[f + 2, r + 1],
                wr[f + 2, r + 2],
                wr[f + 2, r + 3],
                wr[f + 2, r + 4],
            )
            w30, w31, w32, w33, w34 = (
                wr[f + 3, r],
                wr[f + 3, r + 1],
                wr[f + 3, r + 2],
                wr[f + 3, r + 3],
                wr[f + 3, r + 4],
            )
            for p in range(m):  # contiguous: vectorises
                x0, x1, x2, x3, x4 = s0[p], s1[p], s2[p], s3[p], s4[p]
                a0[p] += w00 * x0 + w01 * x1 + w02 * x2 + w03 * x3 + w04 * x4
                a1[p] += w10 * x0 + w11 * x1 + w12 * x2 + w13 * x3 + w14 * x4
                a2[p] += w20 * x0 + w21 * x1 + w22 * x2 + w23 * x3 + w24 * x4
                a3[p] += w30 * x0 + w31 * x1 + w32 * x2 + w33 * x3 + w34 * x4
        j0 = p0 // N  # 4. back to (N, F, H_out, W_out)
        for q in range(min(4, F - f)):
            a = acc[q]
            bq = b[f + q]
            for n in range(N):
                for jj in range(m // N):
                    out[n, f + q, i, j0 + jj] = a[jj * N + n] + bq
    return out


@njit(**_jit())
def conv2d_weight_grad(dout, xp, KH, KW, stride):
    """dw[f, c, k_x, k_y] = Σ_n Σ_{x,y} dout[n, f, x, y] · xp[n, c, s·x + k_x, s·y + k_y].

    dout (N, F, H_out, W_out), xp (N, C, H_p, W_p) -> dw (F, C, kh, kw). One (f, c) pair
    per task; dout is first spread onto the padded grid's flat index (zeros between
    strided positions and in the wrapped columns), so each kernel offset is one
    contiguous dot product.
    """
    N, C, Hp, Wp = xp.shape
    F, Ho, Wo = dout.shape[1], dout.shape[2], dout.shape[3]
    L = (Ho - 1) * stride * Wp + (Wo - 1) * stride + 1
    dflat = np.zeros((N, F, L), xp.dtype)
    for n in prange(N):
        for f in range(F):
            for i in range(Ho):
                for j in range(Wo):
                    dflat[n, f, i * stride * Wp + j * stride] = dout[n, f, i, j]
    xf = xp.reshape(N, C, Hp * Wp)
    dw = np.zeros((F, C, KH, KW), xp.dtype)
    zero = np.zeros(1, xp.dtype)[0]  # sums in the input's precision
    for fc in prange(F * C):
        f = fc // C
        c = fc - f * C
        for kx in range(KH):
            ky = 0
            while ky < KW:  # four kernel columns per pass
                off = kx * Wp + ky
                s0, s1, s2, s3 = zero, zero, zero, zero
                for n in range(N):
                    d = dflat[n, f]
                    xs = xf[n, c, off : off + L + 3]
                    if ky + 4 <= KW:
                        for p in range(L):  # contiguous dot products
                            s0 += d[p] * xs[p]
                            s1 += d[p] * xs[p + 1]
                            s2 += d[p] * xs[p + 2]
                            s3 += d[p] * xs[p + 3]
                    else:
                        for p in range(L):
                            s0 += d[p] * xs[p]
                dw[f, c, kx, ky] = s0
                if ky + 4 <= KW:
                    dw[f, c, kx, ky + 1] = s1
                    dw[f, c, kx, ky + 2] = s2
                    dw[f, c, kx, ky + 3] = s3
                    ky += 4
                else:
                    ky += 1
    return dw


@njit(cache=True, fastmath=True)
def wgrad_block_4x5(dt, xf, dw, f, r, off, RN, Ho, L):
    """dw[f:f+4, r:r+5] += Σ_i Σ_p dt[f + a, i, p] · xf[i·RN + off[r + b] + p]: 20 dot
    products at once, the accumulators in vector registers (as :func:`gemm_kernel_5x5`)."""
    z = dt.dtype.type(0)
    s00 = s01 = s02 = s03 = s04 = s10 = s11 = s12 = s13 = s14 = z
    s20 = s21 = s22 = s23 = s24 = s30 = s31 = s32 = s33 = s34 = z
    for i in range(Ho):
        d0, d1, d2, d3 = dt[f, i], dt[f + 1, i], dt[f + 2, i], dt[f + 3, i]
        base = i * RN
        x0 = xf[base + off[r] : base + off[r] + L]
        x1 = xf[base + off[r + 1] : base + off[r + 1] + L]
        x2 = xf[base + off[r + 2] : base + off[r + 2] + L]
        x3 = xf[base + off[r + 3] : base + off[r + 3] + L]
        x4 = xf[base + off[r + 4] : base + off[r + 4] + L]
        for p in range(L):  # contiguous dot products: vectorises
            y0, y1, y2, y3, y4 = x0[p], x1[p], x2[p], x3[p], x4[p]
            e = d0[p]
            s00 += e * y0
            s01 += e * y1
            s02 += e * y2
            s03 += e * y3
            s04 += e * y4
            e = d1[p]
            s10 += e * y0
            s11 += e * y1
            s12 += e * y2
            s13 += e * y3
            s14 += e * y4
            e = d2[p]
            s20 += e * y0
            s21 += e * y1
            s22 += e * y2
            s23 += e * y3
            s24 += e * y4
            e = d3[p]
            s30 += e * y0
            s31 += e * y1
            s32 += e * y2
            s33 += e * y3
            s34 += e * y4
    dw[f, r] += s00
    dw[f, r + 1] += s01
    dw[f, r + 2] += s02
    dw[f, r + 3] += s03
    dw[f, r + 4] += s04
    dw[f + 1, r] += s10
    dw[f + 1, r + 1] += s11
    dw[f + 1, r + 2] += s12
    dw[f + 1, r + 3] += s13
    dw[f + 1, r + 4] += s14
    dw[f + 2, r] += s20
    dw[f + 2, r + 1] += s21
    dw[f + 2, r + 2] += s22
    dw[f + 2, r + 3] += s23
    dw[f + 2, r + 4] += s24
    dw[f + 3, r] += s30
    dw[f + 3, r + 1] += s31
    dw[f + 3, r + 2] += s32
    dw[f + 3, r + 3] += s33
    dw[f + 3, r + 4] += s34


@njit(cache=True, fastmath=True)
def wgrad_block_4x3(dt, xf, dw, f, r, off, RN, Ho, L):
    """dw[f:f+4, r:r+3] += Σ_i Σ_p dt[f + a, i, p] · xf[i·RN + off[r + b] + p]: 12 dot
    products at once, the accumulators in vector registers (as :func:`gemm_kernel_4x3`)."""
    z = dt.dtype.type(0)
    s00 = s01 = s02 = s10 = s11 = s12 = s20 = s21 = s22 = s30 = z
    s31 = s32 = z
    for i in range(Ho):
        d0, d1, d2, d3 = dt[f, i], dt[f + 1, i], dt[f + 2, i], dt[f + 3, i]
        base = i * RN
        x0 = xf[base + off[r] : base + off[r] + L]
        x1 = xf[base + off[r + 1] : base + off[r + 1] + L]
        x2 = xf[base + off[r + 2] : base + off[r + 2] + L]
        for p in range(L):  # contiguous dot products: vectorises
            y0, y1, y2 = x0[p], x1[p], x2[p]
            e = d0[p]
            s00 += e * y0
            s01 += e * y1
            s02 += e * y2
            e = d1[p]
            s10 += e * y0
            s11 += e * y1
            s12 += e * y2
            e = d2[p]
            s20 += e * y0
            s21 += e * y1
            s22 += e * y2
            e = d3[p]
            s30 += e * y0
            s31 += e * y1
            s32 += e * y2
    dw[f, r] += s00
    dw[f, r + 1] += s01
    dw[f, r + 2] += s02
    dw[f + 1, r] += s10
    dw[f + 1, r + 1] += s11
    dw[f + 1, r + 2] += s12
    dw[f + 2, r] += s20
    dw[f + 2, r + 1] += s21
    dw[f + 2, r + 2] += s22
    dw[f + 3, r] += s30
    dw[f + 3, r + 1] += s31
    dw[f + 3, r + 2] += s32


#: The register block of :func:`conv2d_weight_grad_chwn`: 4 output channels × WGRAD_RB
#: terms of the sum, 20 accumulators with the 32 vector registers of AVX-512, 12 with 16.
WGRAD_RB = 5 if vector_registers() >= 32 else 3


@njit(**_jit())
def conv2d_weight_grad_chwn(dout, x, KH, KW, padding):
    """dw[f, c, k_x, k_y] = Σ_n Σ_{u1,u2} dout[n, f, u1, u2] · a[n, c, u1 + k_x, u2 + k_y]
    for stride 1, on the batch-innermost layout of :func:`conv2d_chwn`.

    dout (N, F, H_out, W_out), x (N, C, H, W) unpadded, zero padding -> dw (F, C, kh, kw).

    1. x goes to (C, H_p, W_p, N) (:func:`to_chwn`) and dout to (F, H_out, W_out·N): row
       u1 of output channel f is then one run of W_out·N values, and under it the input
       of term t = (c, k_x, k_y) is the run that starts ``off[t] = (c·H_p + k_x)·W_p·N +
       k_y·N`` values after the row's own, none wrapped or wasted (unlike
       :func:`conv2d_weight_grad`, which runs over the padded grid).
    2. dw[f, t] is a sum over rows u1 of dot products of two contiguous runs: the shape
       of a matrix product, done as the micro-kernels of :func:`gemm_micro` do it:
       :func:`wgrad_block_4x5` (or ``_4x3`` with 16 vector registers) takes four output
       channels and WGRAD_RB terms at once, so that each loaded vector serves several
       multiply-adds and the sums stay in registers. One (channel block, term block)
       pair per parallel task; the channels and terms are padded with zeros to whole
       blocks.
    """
    N, C, H, W = x.shape
    F, Ho, Wo = dout.shape[1], dout.shape[2], dout.shape[3]
    Hp = H + 2 * padding
    Wp = W + 2 * padding
    RN = Wp * N
    L = Wo * N
    RB = WGRAD_RB
    xf = to_chwn(x, padding).reshape(C * Hp * RN)
    F4 = (F + 3) // 4 * 4
    dt = np.zeros((F4, Ho, L), x.dtype)  # dout, batch innermost
    for f in range(F):
        for i in range(Ho):
            row = dt[f, i]
            for j in range(Wo):
                for n in range(N):
                    row[j * N + n] = dout[n, f, i, j]
    R = C * KH * KW
    Rp = (R + RB - 1) // RB * RB
    off = np.zeros(Rp, np.int64)  # padded terms read the first run; their sums are dropped
    for r in range(R):
        c = r // (KH * KW)
        kx = (r // KW) % KH
        ky = r % KW
        off[r] = (c * Hp + kx) * RN + ky * N
    dwp = np.zeros((F4, Rp), x.dtype)
    nr = Rp // RB
    for t in prange(F4 // 4 * nr):
        f = t // nr * 4
        r = (t % nr) * RB
        if RB == 5:
            wgrad_block_4x5(dt, xf, dwp, f, r, off, RN, Ho, L)
        else:
            wgrad_block_4x3(dt, xf, dwp, f, r, off, RN, Ho, L)
    return np.ascontiguousarray(dwp[:F, :R]).reshape(F, C, KH, KW)


@njit(**_jit())
def conv2d_input_grad_chwn(dout, w, H, W, padding):
    """dx[n, c, h, v] = Σ_f Σ_{k_x, k_y} w[f, c, k_x, k_y] · dout[n, f, h − k_x, v − k_y]
    (stride 1; a dout outside the output counts as zero), batch innermost.

    dout (N, F, H_out, W_out), w (F, C, kh, kw), the input's H, W and padding
    -> dx (N, C, H, W). The transpose of :func:`conv2d_chwn`: with dout in the layout
    (F, H_out, W_out·N), output row u1 of channel f adds ``w[f, c, k_x, k_y]`` times its
    run of W_out·N values into row u1 + k_x of the padded dx of channel c, shifted by
    k_y·N: a contiguous run again, and only the terms that exist are computed (the
    "full" correlation of :func:`dlkit.conv.compiled.conv2d_numba_backward` also
    multiplies the zeros around dout). Each pass of the innermost loop adds four output
    channels' runs into three input channels (twelve multiply-adds for four loads of
    dout and three loads and stores of dx); one task is three input channels × one
    padded row; channels are padded with zeros to whole blocks.
    """
    N, F, Ho, Wo = dout.shape
    C, KH, KW = w.shape[1], w.shape[2], w.shape[3]
    Hp = H + 2 * padding
    Wp = W + 2 * padding
    L = Wo * N
    F4 = (F + 3) // 4 * 4
    C3 = (C + 2) // 3 * 3
    dt = np.zeros((F4, Ho, L), dout.dtype)  # dout, batch innermost
    for f in range(F):
        for i in range(Ho):
            row = dt[f, i]
            for j in range(Wo):
                for n in range(N):
                    row[j * N + n] = dout[n, f, i, j]
    wt = np.zeros((C3, KH, KW, F4), w.dtype)  # wt[c, k_x, k_y, f]
    for f in range(F):
        for c in range(C):
            for kx in range(KH):
                for ky in range(KW):
                    wt[c, kx, ky, f] = w[f, c, kx, ky]
    dxt = np.empty((C3, Hp, Wp * N), dout.dtype)  # padded dx, batch innermost
    for t in prange(C3 // 3 * Hp):
        c = t // Hp * 3
        h = t % Hp
        acc = np.zeros((3, Wp * N), dout.dtype)
        for kx in range(max(0, h - Ho + 1), min(KH, h + 1)):
            i = h - kx  # the output row that reaches row h through k_x
            for ky in range(KW):
                a0 = acc[0, ky * N : ky * N + L]
                a1 = acc[1, ky * N : ky * N + L]
                a2 = acc[2, ky * N : ky * N + L]
                v0 = wt[c, kx, ky]
                v1 = wt[c + 1, kx, ky]
                v2 = wt[c + 2, kx, ky]
                for f in range(0, F4, 4):
                    s0 = dt[f, i]
                    s1 = dt[f + 1, i]
                    s2 = dt[f + 2, i]
                    s3 = dt[f + 3, i]
                    w00, w01, w02, w03 = v0[f], v0[f + 1], v0[f + 2], v0[f + 3]
                    w10, w11, w12, w13 = v1[f], v1[f + 1], v1[f + 2], v1[f + 3]
                    w20, w21, w22, w23 = v2[f], v2[f + 1], v2[f + 2], v2[f + 3]
                    for p in range(L):  # contiguous: vectorises
                        y0, y1, y2, y3 = s0[p], s1[p], s2[p], s3[p]
                        a0[p] += w00 * y0 + w01 * y1 + w02 * y2 + w03 * y3
                        a1[p] += w10 * y0 + w11 * y1 + w12 * y2 + w13 * y3
                        a2[p] += w20 * y0 + w21 * y1 + w22 * y2 + w23 * y3
        for q in range(3):
            dxt[c + q, h] = acc[q]
    dx = np.empty((N, C, H, W), dout.dtype)  # back to (N, C, H, W), padding dropped
    for n in prange(N):
        for c in range(C):
            for h in range(H):
                row = dxt[c, h + padding]
                for v in range(W):
                    dx[n, c, h, v] = row[(v + padding) * N + n]
    return dx


@njit(**_jit())
def im2col(xp, KH, KW, stride):
    """Unfold a padded (N, C, H_p, W_p) input into cols (C·kh·kw, N·H_out·W_out).

    Same layout as :func:`dlkit.conv.im2col.im2col`; one row (c, k_x, k_y) per task.
    """
    N, C, Hp, Wp = xp.shape
    Ho = (Hp - KH) // stride + 1
    Wo = (Wp - KW) // stride + 1
    cols = np.empty((C * KH * KW, N * Ho * Wo), xp.dtype)
    for r in prange(C * KH * KW):
        c = r // (KH * KW)
        kx = (r // KW) % KH
        ky = r % KW
        for n in range(N):
            for i in range(Ho):
                base = (n * Ho + i) * Wo
                for j in range(Wo):
                    cols[r, base + j] = xp[n, c, i * stride + kx, j * stride + ky]
    return cols


@njit(**_jit())
def col2im(cols, N, C, Hp, Wp, KH, KW, stride):
    """Adjoint of :func:`im2col`: sum the columns back into a padded (N, C, H_p, W_p)."""
    Ho = (Hp - KH) // stride + 1
    Wo = (Wp - KW) // stride + 1
    xp = np.zeros((N, C, Hp, Wp), cols.dtype)
    for n in prange(N):
        for c in range(C):
            for kx in range(KH):
                for ky in range(KW):
                    r = (c * KH + kx) * KW + ky
                    for i in range(Ho):
                        base = (n * Ho + i) * Wo
                        src = cols[r, base : base + Wo]
                        dst = xp[n, c, i * stride + kx]
                        if stride == 1:
                            dst = dst[ky : ky + Wo]
                            for j in range(Wo):  # contiguous: vectorises
                                dst[j] += src[j]
                        else:
                            for j in range(Wo):
                                dst[j * stride + ky] += src[j]
    return xp


@njit(**_jit())
def gemm_blocked(A, B, bm=64, bk=128, bn=256):
    """C = A @ B by cache blocking, written to be read (numpy's BLAS is the fast path).

    A (M, K), B (K, N) -> C (M, N). Three ideas, from the outside in:

    1. Parallelism: blocks of ``bm`` rows of C are independent; one per task.
    2. Cache blocking: a (bk × bn) tile of B (128 KiB in float32) is reused for all
       ``bm`` rows while it sits in the L2 cache, and a row segment of C (bn values) in L1.
    3. Register reuse: four rows of C are updated together with four rows of B
       (k unrolled by four). In the innermost loop each value loaded from B serves four
       rows, and each load and store of C serves four multiply-adds, so the loop is
       limited by arithmetic, not by memory traffic; it runs along contiguous rows, so
       LLVM turns it into SIMD instructions.

    The leftover rows (M not a multiple of 4) and k values are done one at a time.
    """
    M, K = A.shape
    N = B.shape[1]
    C = np.zeros((M, N), A.dtype)
    for ib in prange((M + bm - 1) // bm):
        i0 = ib * bm
        i1 = min(i0 + bm, M)
        for k0 in range(0, K, bk):
            k1 = min(k0 + bk, K)
            for j0 in range(0, N, bn):
                j1 = min(j0 + bn, N)
                for i in range(i0, i1, 4):
                    rows = min(4, i1 - i)
                    k = k0
                    if rows == 4:
                        c0 = C[i, j0:j1]
                        c1 = C[i + 1, j0:j1]
                        c2 = C[i + 2, j0:j1]
                        c3 = C[i + 3, j0:j1]
                        while k + 4 <= k1:
                            b0 = B[k, j0:j1]
                            b1 = B[k + 1, j0:j1]
                            b2 = B[k + 2, j0:j1]
                            b3 = B[k + 3, j0:j1]
                            a0 = A[i, k : k + 4]
                            a1 = A[i + 1, k : k + 4]
                            a2 = A[i + 2, k : k + 4]
                            a3 = A[i + 3, k : k + 4]
                            for j in range(j1 - j0):
                                x0, x1, x2, x3 = b0[j], b1[j], b2[j], b3[j]
                                c0[j] += a0[0] * x0 + a0[1] * x1 + a0[2] * x2 + a0[3] * x3
                                c1[j] += a1[0] * x0 + a1[1] * x1 + a1[2] * x2 + a1[3] * x3
                                c2[j] += a2[0] * x0 + a2[1] * x1 + a2[2] * x2 + a2[3] * x3
                                c3[j] += a3[0] * x0 + a3[1] * x1 + a3[2] * x2 + a3[3] * x3
                            k += 4
                    for r in range(i, i + rows):  # what is left over
                        c = C[r, j0:j1]
                        for kk in range(k, k1):
                            a = A[r, kk]
                            b = B[kk, j0:j1]
                            for j in range(j1 - j0):
                                c[j] += a * b[j]
    return C


# --- What it takes to reach BLAS: the matrix product C = A B, one idea at a time -------
#
# A (M, K), B (K, N) -> C (M, N), C[i, j] = sum_k A[i, k] B[k, j]: 2 M N K flops. Each
# kernel below adds one idea to the one before; the bench group "gemm" times them all at
# 1024 x 1024 beside numpy's BLAS (``python -m dlkit.bench --only gemm``).


def _gemm_serial_jit() -> dict:
    """``@njit`` options of the one-thread steps: no ``prange``, so no thread pool."""
    return dict(cache=True, fastmath=True)


@njit(**_gemm_serial_jit())
def gemm_naive(A, B):
    """Step 1, the formula as loops: i, j, then the sum over k innermost.

    The inner loop reads A[i, k] along a row (consecutive addresses) but B[k, j] down a
    column, a whole row of B (N values) apart at each step: every term costs a cache
    line of B that is used once, and the loop cannot become SIMD instructions.
    """
    M, K = A.shape
    N = B.shape[1]
    C = np.zeros((M, N), A.dtype)
    for i in range(M):
        for j in range(N):
            s = A.dtype.type(0)
            for k in range(K):
                s += A[i, k] * B[k, j]  # B[k, j]: a stride of N values
            C[i, j] = s
    return C


@njit(**_gemm_serial_jit())
def gemm_loop_order(A, B):
    """Step 2, loop order i, k, j: row i of C gains A[i, k] times row k of B.

    The same multiply-adds; now the innermost loop runs along rows of B and C, so
    consecutive j are consecutive addresses and LLVM turns it into SIMD instructions.
    Each multiply-add still loads one value of B and loads and stores one of C: the loop
    is limited by memory operations, not by arithmetic.
    """
    M, K = A.shape
    N = B.shape[1]
    C = np.zeros((M, N), A.dtype)
    for i in range(M):
        c = C[i]
        for k in range(K):
            a = A[i, k]
            b = B[k]
            for j in range(N):  # contiguous: vectorises
                c[j] += a * b[j]
    return C


@njit(**_gemm_serial_jit())
def gemm_tiled(A, B, bm=64, bk=128, bn=256):
    """Step 3, cache blocking: step 2's loops on tiles of (bm × bk) of A and (bk × bn) of B.

    A (bk × bn) tile of B (128 KiB in float32) stays in the L2 cache while ``bm`` rows
    of C use it, and a row segment of C (bn values) stays in L1 across the bk terms, so
    for large matrices the loads come from cache instead of memory. The innermost loop is
    still step 2's: one load of B and one load and store of C per multiply-add.
    """
    M, K = A.shape
    N = B.shape[1]
    C = np.zeros((M, N), A.dtype)
    for i0 in range(0, M, bm):
        i1 = min(i0 + bm, M)
        for k0 in range(0, K, bk):
            k1 = min(k0 + bk, K)
            for j0 in range(0, N, bn):
                j1 = min(j0 + bn, N)
                for i in range(i0, i1):
                    c = C[i, j0:j1]
                    for k in range(k0, k1):
                        a = A[i, k]
                        b = B[k, j0:j1]
                        for j in range(j1 - j0):
                            c[j] += a * b[j]
    return C


#: The register block of :func:`gemm_kernel_4x3`: GEMM_MR rows of A times GEMM_NR columns
#: of B (also the column padding of :func:`gemm_pack_b`).
GEMM_MR, GEMM_NR = 4, 3

#: The register block :func:`gemm_micro` uses on this target: 5 × 5
#: (:func:`gemm_kernel_5x5`) with the 32 vector registers of AVX-512, else 4 × 3
#: (:func:`gemm_kernel_4x3`, 16 registers). Read from Numba's target when this module is
#: imported (:func:`dlkit.kernels.target.vector_registers`); the compiled code, cached per
#: target, holds the value it was compiled with.
MICRO_MR, MICRO_NR = (5, 5) if vector_registers() >= 32 else (GEMM_MR, GEMM_NR)


@njit(**_gemm_serial_jit())
def gemm_pack_b_columns(B, Bp, j0, j1):
    """Copy columns j0 to j1 − 1 of B (K, N) into the panels Bp (P, N', kc) of
    :func:`gemm_pack_b`, 16 columns at a time: one 64-byte cache line of float32 read along
    a row of B, then 16 rows of Bp written a value each (column by column, it would read
    one value per cache line of B)."""
    K = B.shape[0]
    P, _, kc = Bp.shape
    for t0 in range(j0, j1, 16):
        t1 = min(t0 + 16, j1)
        for p in range(P):
            k0 = p * kc
            for k in range(min(kc, K - k0)):
                for j in range(t0, t1):
                    Bp[p, j, k] = B[k0 + k, j]


@njit(**_gemm_serial_jit())
def gemm_pack_b(B, kc):
    """Pack B (K, N) into panels Bp (P, N', kc), P = ⌈K / kc⌉: Bp[p, j, :] is column j
    of B, rows p·kc to p·kc + kc − 1, in consecutive addresses (B transposed, panel by
    panel). N' rounds N up to a multiple of GEMM_NR; the padding is zeros."""
    K, N = B.shape
    P = (K + kc - 1) // kc
    Np = (N + GEMM_NR - 1) // GEMM_NR * GEMM_NR
    Bp = np.zeros((P, Np, kc), B.dtype)
    gemm_pack_b_columns(B, Bp, 0, N)
    return Bp


@njit(**_gemm_serial_jit())
def gemm_packed(A, B, bm=64, kc=256):
    """Step 4, packing: copy the tiles a product reads into consecutive memory first.

    B is packed once, transposed, by :func:`gemm_pack_b`; the bm × kc block of A is
    copied into a buffer ``Ap`` before its products. Every C[i, j] of the block is then a
    dot product of two contiguous rows, ``Ap[i]`` and ``Bp[p, j]``, that LLVM vectorises
    with the sum in a SIMD register (``fastmath`` lets it reorder the sum). The copies
    cost O(MK + KN) against the product's O(MNK); they remove the strides of the
    original arrays (whose rows, K values apart, fall into the same cache sets) and give
    the next step the layout its micro-kernel needs. Still two loads per multiply-add.
    """
    M, K = A.shape
    N = B.shape[1]
    C = np.zeros((M, N), A.dtype)
    Bp = gemm_pack_b(B, kc)
    Ap = np.zeros((bm, kc), A.dtype)
    for i0 in range(0, M, bm):
        rows = min(bm, M - i0)
        for p in range(Bp.shape[0]):
            k0 = p * kc
            kk = min(kc, K - k0)
            for i in range(rows):  # pack the block of A
                for k in range(kk):
                    Ap[i, k] = A[i0 + i, k0 + k]
            for j in range(N):
                b = Bp[p, j]
                for i in range(rows):
                    a = Ap[i]
                    s = A.dtype.type(0)
                    for k in range(kk):  # two contiguous rows: a vectorised dot product
                        s += a[k] * b[k]
                    C[i0 + i, j] += s
    return C


@njit(**_gemm_serial_jit())
def gemm_kernel_4x3(Ap, Bp, C, i, j, kk):
    """The micro-kernel: C[i:i+4, j:j+3] += Ap[i:i+4, :kk] @ Bp[j:j+3, :kk]ᵀ.

    Twelve dot products at once, in twelve accumulators. LLVM vectorises the k loop:
    each accumulator becomes a SIMD register of partial sums (8 float32 with AVX2), and
    one pass loads 4 + 3 vectors and does 12 fused multiply-adds (``vfmadd231ps``): 12
    accumulators, 3 vectors of B and one of A fill the 16 vector registers of AVX2
    without spilling. The sums are reduced across the lanes once, after the loop.
    """
    z = Ap.dtype.type(0)
    c00 = c01 = c02 = c10 = c11 = c12 = c20 = c21 = c22 = c30 = c31 = c32 = z
    a0, a1, a2, a3 = Ap[i], Ap[i + 1], Ap[i + 2], Ap[i + 3]
    b0, b1, b2 = Bp[j], Bp[j + 1], Bp[j + 2]
    for k in range(kk):
        x0, x1, x2 = b0[k], b1[k], b2[k]
        c00 += a0[k] * x0
        c01 += a0[k] * x1
        c02 += a0[k] * x2
        c10 += a1[k] * x0
        c11 += a1[k] * x1
        c12 += a1[k] * x2
        c20 += a2[k] * x0
        c21 += a2[k] * x1
        c22 += a2[k] * x2
        c30 += a3[k] * x0
        c31 += a3[k] * x1
        c32 += a3[k] * x2
    C[i, j] += c00
    C[i, j + 1] += c01
    C[i, j + 2] += c02
    C[i + 1, j] += c10
    C[i + 1, j + 1] += c11
    C[i + 1, j + 2] += c12
    C[i + 2, j] += c20
    C[i + 2, j + 1] += c21
    C[i + 2, j + 2] += c22
    C[i + 3, j] += c30
    C[i + 3, j + 1] += c31
    C[i + 3, j + 2] += c32


@njit(**_gemm_serial_jit())
def gemm_kernel_5x5(Ap, Bp, C, i, j, kk):
    """The micro-kernel for 32 vector registers:
    C[i:i+5, j:j+5] += Ap[i:i+5, :kk] @ Bp[j:j+5, :kk]ᵀ.

    :func:`gemm_kernel_4x3` grown to the register file of AVX-512: 25 accumulators,
    5 vectors of B and one of A take 31 of its 32 registers. One pass loads 5 + 5
    vectors for 25 FMAs (2.5 per load, against 12 / 7 = 1.7 for 4 × 3), and each row of
    A that the caller streams from the L2 cache serves five columns of B instead of
    three. With 16 registers (AVX2) the same code would spill accumulators to memory.
    """
    z = Ap.dtype.type(0)
    c00 = c01 = c02 = c03 = c04 = c10 = c11 = c12 = c13 = c14 = z
    c20 = c21 = c22 = c23 = c24 = c30 = c31 = c32 = c33 = c34 = z
    c40 = c41 = c42 = c43 = c44 = z
    a0, a1, a2, a3, a4 = Ap[i], Ap[i + 1], Ap[i + 2], Ap[i + 3], Ap[i + 4]
    b0, b1, b2, b3, b4 = Bp[j], Bp[j + 1], Bp[j + 2], Bp[j + 3], Bp[j + 4]
    for k in range(kk):
        x0, x1, x2, x3, x4 = b0[k], b1[k], b2[k], b3[k], b4[k]
        y = a0[k]
        c00 += y * x0
        c01 += y * x1
        c02 += y * x2
        c03 += y * x3
        c04 += y * x4
        y = a1[k]
        c10 += y * x0
        c11 += y * x1
        c12 += y * x2
        c13 += y * x3
        c14 += y * x4
        y = a2[k]
        c20 += y * x0
        c21 += y * x1
        c22 += y * x2
        c23 += y * x3
        c24 += y * x4
        y = a3[k]
        c30 += y * x0
        c31 += y * x1
        c32 += y * x2
        c33 += y * x3
        c34 += y * x4
        y = a4[k]
        c40 += y * x0
        c41 += y * x1
        c42 += y * x2
        c43 += y * x3
        c44 += y * x4
    C[i, j] += c00
    C[i, j + 1] += c01
    C[i, j + 2] += c02
    C[i, j + 3] += c03
    C[i, j + 4] += c04
    C[i + 1, j] += c10
    C[i + 1, j + 1] += c11
    C[i + 1, j + 2] += c12
    C[i + 1, j + 3] += c13
    C[i + 1, j + 4] += c14
    C[i + 2, j] += c20
    C[i + 2, j + 1] += c21
    C[i + 2, j + 2] += c22
    C[i + 2, j + 3] += c23
    C[i + 2, j + 4] += c24
    C[i + 3, j] += c30
    C[i + 3, j + 1] += c31
    C[i + 3, j + 2] += c32
    C[i + 3, j + 3] += c33
    C[i + 3, j + 4] += c34
    C[i + 4, j] += c40
    C[i + 4, j + 1] += c41
    C[i + 4, j + 2] += c42
    C[i + 4, j + 3] += c43
    C[i + 4, j + 4] += c44


@njit(**_jit())
def gemm_micro(A, B, bm=128, kc=512):
    """Steps 5 and 6: step 4's packing with a register-blocked micro-kernel, on all cores.

    A (M, K), B (K, N) -> C (M, N). From the outside in:

    1. Threads: blocks of ``bm`` rows of C are independent, one ``prange`` task each
       (run it under ``numba.set_num_threads(1)`` for one thread).
    2. Packing: B once into panels of ``kc`` rows (as :func:`gemm_pack_b`), and each
       task's bm × kc block of A into its own buffer, rows padded with zeros to a
       multiple of MR (B's columns to a multiple of NR), so every micro-kernel call is
       full.
    3. Cache blocking: NR columns of B (NR·kc values, 6 to 10 KiB in float32) stay in
       L1 while the micro-kernel runs down the block of A, which stays in L2 (256 KiB).
    4. Register blocking: the micro-kernel computes an MR × NR block of C, so each
       loaded vector serves several multiply-adds instead of one: :func:`gemm_kernel_4x3`
       for the 16 vector registers of AVX2, :func:`gemm_kernel_5x5` for the 32 of
       AVX-512 (:data:`MICRO_MR`, :data:`MICRO_NR`).

    The padded rows and columns of C are computed and dropped.
    """
    M, K = A.shape
    N = B.shape[1]
    MR, NR = MICRO_MR, MICRO_NR  # the register block: 5 x 5 with AVX-512, else 4 x 3
    Np = (N + NR - 1) // NR * NR
    Bp = np.zeros(((K + kc - 1) // kc, Np, kc), B.dtype)  # gemm_pack_b's panels,
    for jb in prange((N + 63) // 64):  # packed by all the threads, 64 columns a task
        gemm_pack_b_columns(B, Bp, jb * 64, min(jb * 64 + 64, N))
    nb = (M + bm - 1) // bm
    bmp = (bm + MR - 1) // MR * MR
    C = np.empty((M, N), A.dtype)
    for ib in prange(nb):
        i0 = ib * bm
        rows = min(bm, M - i0)
        Ap = np.zeros((bmp, kc), A.dtype)  # this task's packed block of A
        Cb = np.zeros((bmp, Np), A.dtype)  # and of C
        for p in range(Bp.shape[0]):
            k0 = p * kc
            kk = min(kc, K - k0)
            for i in range(rows):
                for k in range(kk):
                    Ap[i, k] = A[i0 + i, k0 + k]
            for j in range(0, Np, NR):
                for i in range(0, (rows + MR - 1) // MR * MR, MR):
                    if MR == 5:
                        gemm_kernel_5x5(Ap, Bp[p], Cb, i, j, kk)
                    else:
                        gemm_kernel_4x3(Ap, Bp[p], Cb, i, j, kk)
        for i in range(rows):
            for j in range(N):
                C[i0 + i, j] = Cb[i, j]
    return C


@njit(**_jit())
def maxpool2d_forward(x, KH, KW, stride_h, stride_w):
    """Max pooling: (out, arg) for x (N, C, H, W); arg is the flat window offset
    k_x·kw + k_y of each maximum (the first on ties), which the backward pass needs."""
    N, C, H, W = x.shape
    Ho = (H - KH) // stride_h + 1
    Wo = (W - KW) // stride_w + 1
    out = np.empty((N, C, Ho, Wo), x.dtype)
    arg = np.empty((N, C, Ho, Wo), np.int32)
    for nc in prange(N * C):
        n = nc // C
        c = nc - n * C
        for i in range(Ho):
            for j in range(Wo):
                best = x[n, c, i * stride_h, j * stride_w]
                where = 0
                for kx in range(KH):
                    for ky in range(KW):
                        v = x[n, c, i * stride_h + kx, j * stride_w + ky]
                        if v > best:
                            best = v
                            where = kx * KW + ky
                out[n, c, i, j] = best
                arg[n, c, i, j] = where
    return out, arg


@njit(**_jit())
def maxpool2d_backward(dout, arg, H, W, KH, KW, stride_h, stride_w):
    """Route each output gradient to its window's maximum: dx (N, C, H, W)."""
    N, C, Ho, Wo = dout.shape
    dx = np.zeros((N, C, H, W), dout.dtype)
    for nc in prange(N * C):
        n = nc // C
        c = nc - n * C
        for i in range(Ho):
            for j in range(Wo):
                a = arg[n, c, i, j]
                dx[n, c, i * stride_h + a // KW, j * stride_w + a % KW] += dout[n, c, i, j]
    return dx


@njit(**_jit())
def lasso_cd_gram(G, XD, lam, tol, max_sweeps):
    """Sparse codes by cyclic coordinate descent, one row of XD per example.

    For each row x the code h minimises ½‖x − D h‖² + λ‖h‖₁ given only the Gram matrix
    G = DᵀD (K × K) and the correlations Dᵀx (a row of XD, N × K). The loop keeps
    r = Dᵀx − G h; coordinate j moves to S_λ(r_j + G_jj h_j) / G_jj, and only a change
    touches r (a column of G), so a sweep over K atoms costs K plus K per atom that
    moved: little when the code is sparse. A row stops when no entry moved by more than
    ``tol`` times its largest entry, or after ``max_sweeps``. Rows run in parallel.
    """
    N, K = XD.shape
    H = np.zeros((N, K), XD.dtype)
    for n in prange(N):
        r = XD[n].copy()
        h = np.zeros(K, XD.dtype)
        for _ in range(max_sweeps):
            change = 0.0
            biggest = 0.0
            for j in range(K):
                gjj = G[j, j]
                z = r[j] + gjj * h[j]
                if z > lam:
                    new = (z - lam) / gjj
                elif z < -lam:
                    new = (z + lam) / gjj
                else:
                    new = 0.0
                d = new - h[j]
                if d != 0.0:
                    for i in range(K):
                        r[i] -= G[i, j] * d
                    h[j] = new
                    change = max(change, abs(d))
                biggest = max(biggest, abs(new))
            if change <= tol * biggest:
                break
        H[n] = h
    return H
