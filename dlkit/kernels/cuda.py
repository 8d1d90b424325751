"""Numba-CUDA kernels: the loops of dlkit written for a GPU, one thread per output.

One source runs in three places: on an NVIDIA GPU, in Numba's CUDA simulator (set
``NUMBA_ENABLE_CUDASIM=1`` before numba is first imported; every thread then runs as
Python, so use small sizes), and compiled to PTX with no GPU at all
(:mod:`dlkit.kernels.ptx`). The module imports ``numba.cuda`` only.

Each host wrapper checks shapes and dtypes (float32 or float64, one dtype per call),
accepts numpy arrays or device arrays, computes the grid (``blocks = ceil(n / threads)``),
launches, and returns the kind of array it was given: numpy in, numpy out; device in,
device out. Names and arguments are those of the CPU twins in :mod:`dlkit.kernels.cpu`
where one exists.

Host wrappers (arguments -> result), and what one thread of the kernel computes::

    axpy(a, x, y) -> a·x + y (a new array)                         one entry
    axpy_unguarded(a, x, y)   the same without the bounds check:   one entry
                              IndexError in the simulator when
                              the size is not a multiple of THREADS
    relu_forward(z) -> a = max(z, 0)                               one entry
    relu_backward(dout, z) -> dz = dout ⊙ [z > 0]                  one entry
    sum_reduce(x) -> Σ x (a float; a (1,) device array for a       shared-memory tree,
                  device x)                                        then warp shuffles
    gemm_naive(A, B) -> C = A @ B, A (M, K), B (K, N)              one entry of C
    gemm_tiled(A, B, tile=16) -> C through shared tile × tile      one entry of C
                  tiles (make_gemm_tiled(tile): the kernel)
    gemm_tiled_unsafe(A, B, tile=16) -> the same without           one entry of C
                  syncthreads: a race, wrong on purpose
    conv2d_direct(xp, w, b, stride) -> z (N, C_out, H_out, W_out)  one output value
                  of a padded input xp, as cpu.conv2d_direct
    im2col(xp, KH, KW, stride) -> cols (C·k_h·k_w, N·H_out·W_out)  one entry of cols
    maxpool2d_forward(x, KH, KW, stride_h, stride_w) -> (out, arg) one output value
                  arg (int32) = o_1·k_w + o_2 of each maximum,
                  the first on ties
    maxpool2d_backward(dout, arg, H, W, KH, KW, stride_h,          one input value
                  stride_w) -> dx (N, C, H, W)                     (a gather, no atomics)
    softmax_xent(z, y) -> (𝓛, ∂𝓛/∂z) for logits z (N, K) and       one row
                  labels y (N,): 𝓛 = −(1/N) Σ_n log ŷ_{n, y_n},
                  a float; ∂𝓛/∂z = (ŷ − onehot(y)) / N
    sgd_update(theta, grad, lr) -> theta                           one entry
                  θ ← θ − η ∇, in place
    momentum_update(theta, v, grad, lr, mu) -> (theta, v)          one entry
                  v ← μ v − η ∇, θ ← θ + v, in place

The kernels themselves are the ``*_kernel`` functions (``make_gemm_tiled(tile)`` builds,
and caches, the tiled GEMM for one tile size); :data:`KERNELS` lists them with the
argument types that :mod:`dlkit.kernels.ptx` compiles (:func:`signatures`).

Two facts of the simulator shape this file. It keys each ``cuda.shared.array`` by its
source line, so two on one line would share memory: one per line here. And it has no
warp shuffles: under it :func:`_shfl_down` is emulated through shared memory, while the
GPU and the PTX use the real ``shfl.sync.down`` instruction.
"""

from __future__ import annotations

import math

import numpy as np
from numba import cuda

from dlkit.shapes import output_size

__all__ = [
    "SIMULATOR",
    "THREADS",
    "TILE",
    "KERNELS",
    "axpy",
    "axpy_unguarded",
    "relu_forward",
    "relu_backward",
    "sum_reduce",
    "gemm_naive",
    "gemm_tiled",
    "gemm_tiled_unsafe",
    "make_gemm_tiled",
    "make_gemm_tiled_unsafe",
    "conv2d_direct",
    "im2col",
    "maxpool2d_forward",
    "maxpool2d_backward",
    "softmax_xent",
    "sgd_update",
    "momentum_update",
]

#: True when ``numba.cuda`` is Numba's CUDA simulator: ``NUMBA_ENABLE_CUDASIM=1`` was set
#: before numba was first imported (setting it later changes nothing).
SIMULATOR = cuda.jit.__module__.startswith("numba.cuda.simulator")

#: Threads per block of the one-dimensional kernels (a multiple of the warp size, 32).
#: The simulator runs every thread of a block as a Python thread, so it gets 64 (the
#: reduction still takes one tree step before the warp's shuffles); a GPU gets 256.
THREADS = 64 if SIMULATOR else 256

#: The default tile of :func:`gemm_tiled`: a 16 × 16 block of threads, 256 per block.
TILE = 16

#: Lanes of a warp taking part in a shuffle: all 32.
FULL_MASK = 0xFFFFFFFF


def _blocks(n: int, threads: int) -> int:
    """Blocks of `threads` threads that cover n items: ceil(n / threads), at least 1."""
    return max(1, math.ceil(n / threads))


# -- elementwise -------------------------------------------------------------------------


@cuda.jit
def axpy_kernel(a, x, y, out):
    """out[i] = a·x[i] + y[i]: thread i owns entry i (consecutive threads, consecutive
    addresses, so the loads of a warp coalesce into few memory transactions)."""
    i = cuda.grid(1)
    if i < out.size:  # the last block overhangs the array
        out[i] = a * x[i] + y[i]


@cuda.jit
def axpy_unguarded_kernel(a, x, y, out):
    """:func:`axpy_kernel` without its bounds check: the threads of the last block that
    fall past the end read and write outside the arrays. The simulator raises
    ``IndexError`` naming the thread and the block; a GPU does not check, and corrupts
    whatever lies there (or stops with an illegal address)."""
    i = cuda.grid(1)
    out[i] = a * x[i] + y[i]


@cuda.jit
def relu_forward_kernel(z, a):
    """a[i] = max(z[i], 0)."""
    i = cuda.grid(1)
    if i < a.size:
        a[i] = z[i] if z[i] > 0 else z.dtype.type(0)


@cuda.jit
def relu_backward_kernel(dout, z, dz):
    """dz[i] = dout[i] where z[i] > 0, else 0: the gradient g'(z) ⊙ dout of ReLU."""
    i = cuda.grid(1)
    if i < dz.size:
        dz[i] = dout[i] if z[i] > 0 else dout.dtype.type(0)


# -- reduction ---------------------------------------------------------------------------

if SIMULATOR:

    @cuda.jit(device=True)
    def _shfl_down(val, delta):
        """The simulator's stand-in for ``cuda.shfl_down_sync``: lane ℓ gets the value
        of lane ℓ + delta (its own past lane 31), exchanged through shared memory."""
        buf = cuda.shared.array(32, dtype=np.float64)
        lane = cuda.threadIdx.x % 32
        buf[lane] = val
        cuda.syncthreads()
        out = buf[lane + delta] if lane + delta < 32 else val
        cuda.syncthreads()
        return type(val)(out)

else:

    @cuda.jit(device=True, inline=True)
    def _shfl_down(val, delta):
        """Lane ℓ of the warp gets the value of lane ℓ + delta, register to register."""
        return cuda.shfl_down_sync(FULL_MASK, val, delta)


@cuda.jit
def sum_reduce_kernel(x, out):
    """out[0] += Σ x, one block of THREADS threads at a time.

    1. Each thread adds the entries i, i + (all threads), ... (a grid-stride loop) into
       its slot of a shared array.
    2. A tree in shared memory halves the live slots until 32 remain, with a
       ``syncthreads`` between steps (another warp wrote the slot read next).
    3. The first warp finishes with shuffles: five steps, no shared memory and no
       barrier, since the 32 lanes of a warp run in step.
    4. Thread 0 adds the block's sum to out[0] atomically: one atomic per block.
    """
    partial = cuda.shared.array(THREADS, dtype=x.dtype)
    tid = cuda.threadIdx.x
    i = cuda.grid(1)
    acc = x.dtype.type(0)
    while i < x.size:  # 1.
        acc += x[i]
        i += cuda.gridsize(1)
    partial[tid] = acc
    cuda.syncthreads()
    s = THREADS // 2
    while s >= 32:  # 2. slots [0, 2s) -> [0, s)
        if tid < s:
            partial[tid] += partial[tid + s]
        cuda.syncthreads()
        s //= 2
    if tid < 32:  # 3. one warp: 32 -> 1
        val = partial[tid]
        d = 16
        while d > 0:
            val += _shfl_down(val, d)
            d //= 2
        if tid == 0:  # 4.
            cuda.atomic.add(out, 0, val)


# -- matrix multiplication ---------------------------------------------------------------


@cuda.jit
def gemm_naive_kernel(A, B, C):
    """C[i, j] = Σ_k A[i, k] B[k, j]: thread (x, y) of the grid owns C[y, x].

    threadIdx.x runs along a row of C, so the 32 threads of a warp read 32 consecutive
    entries of a row of B (coalesced) and one entry of A (a broadcast). Every thread
    reads 2K values from global memory for its 2K flops.
    """
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x  # column of C
    i = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y  # row of C
    if i < C.shape[0] and j < C.shape[1]:
        acc = C.dtype.type(0)
        for k in range(A.shape[1]):
            acc += A[i, k] * B[k, j]
        C[i, j] = acc


def _check_tile(tile) -> int:
    """`tile` as an int in [1, 32]: a tile × tile block may hold at most 1,024 threads."""
    if isinstance(tile, bool) or not isinstance(tile, (int, np.integer)):
        raise TypeError(f"tile must be an int between 1 and 32, got {tile!r}")
    if not 1 <= tile <= 32:
        raise ValueError(
            f"tile must be between 1 and 32 (a tile × tile block has at most 1,024 "
            f"threads), got {tile}"
        )
    return int(tile)


#: The tiled GEMM kernels built so far, by tile size (see :func:`make_gemm_tiled`).
_TILED: dict[int, object] = {}
_TILED_UNSAFE: dict[int, object] = {}


def make_gemm_tiled(tile: int = TILE):
    """The tiled GEMM kernel for one tile size T (built once per T, then cached).

    A block of T × T threads computes a T × T tile of C = A @ B. It walks along K in
    steps of T: each thread loads one entry of A's tile and one of B's into shared
    memory, the block waits (``syncthreads``), every thread takes T multiply-adds from
    the shared tiles, and the block waits again before the tiles are overwritten. Each
    value loaded from global memory is used T times, so global loads fall by a factor
    of T against :func:`gemm_naive_kernel`. T is a compile-time constant: the shared
    arrays need a fixed size.
    """
    T = _check_tile(tile)
    if T in _TILED:
        return _TILED[T]

    @cuda.jit
    def gemm_tiled_kernel(A, B, C):
        """C = A @ B through shared T × T tiles; thread (x, y) owns C[i, j]."""
        sA = cuda.shared.array((T, T), dtype=A.dtype)  # one shared array per line
        sB = cuda.shared.array((T, T), dtype=B.dtype)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        j = cuda.blockIdx.x * T + tx  # column of C
        i = cuda.blockIdx.y * T + ty  # row of C
        M, K = A.shape
        N = B.shape[1]
        zero = C.dtype.type(0)
        acc = zero
        for k0 in range(0, K, T):
            # load: thread (tx, ty) fetches A[i, k0 + tx] and B[k0 + ty, j], zero outside
            sA[ty, tx] = A[i, k0 + tx] if i < M and k0 + tx < K else zero
            sB[ty, tx] = B[k0 + ty, j] if k0 + ty < K and j < N else zero
            cuda.syncthreads()  # every entry of both tiles is written
            for k in range(T):
                acc += sA[ty, k] * sB[k, tx]
            cuda.syncthreads()  # every thread is done with the tiles
        if i < M and j < N:
            C[i, j] = acc

    _TILED[T] = gemm_tiled_kernel
    return gemm_tiled_kernel


def make_gemm_tiled_unsafe(tile: int = TILE):
    """:func:`make_gemm_tiled` without its two ``syncthreads``: a deliberate race.

    A thread may read a shared entry before the thread that owns it has written it (or
    after it has been overwritten with the next tile), so C comes out wrong, and
    differently from run to run: on a GPU, where warps run in an order no one fixes, and
    in the simulator, where each thread runs as a Python thread (there, with no barrier,
    the first thread often finishes before the others have written anything, reading
    whatever the shared memory held). Kept to show what a missing barrier does.
    """
    T = _check_tile(tile)
    if T in _TILED_UNSAFE:
        return _TILED_UNSAFE[T]

    @cuda.jit
    def gemm_tiled_unsafe_kernel(A, B, C):
        """The tiled GEMM with no barrier between writing and reading the tiles."""
        sA = cuda.shared.array((T, T), dtype=A.dtype)
        sB = cuda.shared.array((T, T), dtype=B.dtype)
        tx = cuda.threadIdx.x
        ty = cuda.threadIdx.y
        j = cuda.blockIdx.x * T + tx
        i = cuda.blockIdx.y * T + ty
        M, K = A.shape
        N = B.shape[1]
        zero = C.dtype.type(0)
        acc = zero
        for k0 in range(0, K, T):
            sA[ty, tx] = A[i, k0 + tx] if i < M and k0 + tx < K else zero
            sB[ty, tx] = B[k0 + ty, j] if k0 + ty < K and j < N else zero
            for k in range(T):  # no syncthreads: other threads' entries may be stale
                acc += sA[ty, k] * sB[k, tx]
        if i < M and j < N:
            C[i, j] = acc

    _TILED_UNSAFE[T] = gemm_tiled_unsafe_kernel
    return gemm_tiled_unsafe_kernel


# -- convolution -------------------------------------------------------------------------


@cuda.jit
def conv2d_direct_kernel(xp, w, b, stride, out):
    """out[n, f, u_1, u_2] = b[f] + Σ_{c, o_1, o_2} w[f, c, o_1, o_2] ·
    xp[n, c, s·u_1 + o_1, s·u_2 + o_2] for a padded input xp and stride s.

    Thread t owns one output value, t = ((n·C_out + f)·H_out + u_1)·W_out + u_2, so
    neighbouring threads write neighbouring outputs and read neighbouring inputs.
    """
    t = cuda.grid(1)
    if t < out.size:
        N, F, Ho, Wo = out.shape
        u2 = t % Wo
        u1 = (t // Wo) % Ho
        f = (t // (Wo * Ho)) % F
        n = t // (Wo * Ho * F)
        acc = b[f]
        for c in range(xp.shape[1]):
            for o1 in range(w.shape[2]):
                for o2 in range(w.shape[3]):
                    acc += w[f, c, o1, o2] * xp[n, c, stride * u1 + o1, stride * u2 + o2]
        out[n, f, u1, u2] = acc


@cuda.jit
def im2col_kernel(xp, KH, KW, stride, cols):
    """cols[(c·k_h + o_1)·k_w + o_2, (n·H_out + u_1)·W_out + u_2]
    = xp[n, c, s·u_1 + o_1, s·u_2 + o_2]: one thread per entry of cols, in its order."""
    t = cuda.grid(1)
    if t < cols.size:
        P = cols.shape[1]  # N·H_out·W_out
        r = t // P
        q = t % P
        Ho = (xp.shape[2] - KH) // stride + 1
        Wo = (xp.shape[3] - KW) // stride + 1
        c = r // (KH * KW)
        o1 = (r // KW) % KH
        o2 = r % KW
        n = q // (Ho * Wo)
        u1 = (q // Wo) % Ho
        u2 = q % Wo
        cols[r, q] = xp[n, c, stride * u1 + o1, stride * u2 + o2]


# -- max pooling -------------------------------------------------------------------------


@cuda.jit
def maxpool2d_forward_kernel(x, KH, KW, stride_h, stride_w, out, arg):
    """out = the maximum of each k_h × k_w window; arg = its offset o_1·k_w + o_2 (the
    first maximum on ties, as the CPU twin). One thread per output value."""
    t = cuda.grid(1)
    if t < out.size:
        N, C, Ho, Wo = out.shape
        u2 = t % Wo
        u1 = (t // Wo) % Ho
        c = (t // (Wo * Ho)) % C
        n = t // (Wo * Ho * C)
        h0 = u1 * stride_h
        w0 = u2 * stride_w
        best = x[n, c, h0, w0]
        where = 0
        for o1 in range(KH):
            for o2 in range(KW):
                v = x[n, c, h0 + o1, w0 + o2]
                if v > best:
                    best = v
                    where = o1 * KW + o2
        out[n, c, u1, u2] = best
        arg[n, c, u1, u2] = where


@cuda.jit
def maxpool2d_backward_kernel(dout, arg, KH, KW, stride_h, stride_w, dx):
    """dx[n, c, h, w] = Σ dout over the windows whose maximum sits at (h, w).

    One thread per input value gathers from the windows that cover it, rather than one
    thread per window scattering into dx: overlapping windows (stride < kernel) would
    then need atomic adds, and their order, hence the rounding, would vary.
    """
    t = cuda.grid(1)
    if t < dx.size:
        N, C, H, W = dx.shape
        Ho = dout.shape[2]
        Wo = dout.shape[3]
        w = t % W
        h = (t // W) % H
        c = (t // (W * H)) % C
        n = t // (W * H * C)
        # windows u_1 with u_1·s_h ≤ h < u_1·s_h + k_h, clipped to the output
        i0 = max(0, (h - KH + stride_h) // stride_h)
        i1 = min(Ho - 1, h // stride_h)
        j0 = max(0, (w - KW + stride_w) // stride_w)
        j1 = min(Wo - 1, w // stride_w)
        acc = dx.dtype.type(0)
        for i in range(i0, i1 + 1):
            for j in range(j0, j1 + 1):
                a = arg[n, c, i, j]
                if i * stride_h + a // KW == h and j * stride_w + a % KW == w:
                    acc += dout[n, c, i, j]
        dx[n, c, h, w] = acc


# -- loss --------------------------------------------------------------------------------


@cuda.jit
def softmax_xent_kernel(z, y, ell, dz):
    """Row n of the logits z (N, K): ell[n] = −log ŷ_{n, y_n} and
    dz[n] = (ŷ_n − onehot(y_n)) / N, with ŷ_n = softmax(z_n).

    One thread per row, three passes over it: the maximum m (so that exp never
    overflows), the sum of e^{z − m}, then the outputs; log ŷ_{n, k} = z_k − m − log Σ.
    """
    n = cuda.grid(1)
    if n < z.shape[0]:
        K = z.shape[1]
        m = z[n, 0]
        for k in range(1, K):
            m = max(m, z[n, k])
        s = z.dtype.type(0)
        for k in range(K):
            s += math.exp(z[n, k] - m)
        log_s = math.log(s)
        one = z.dtype.type(1)
        inv_N = one / z.dtype.type(z.shape[0])
        for k in range(K):
            p = math.exp(z[n, k] - m - log_s)  # ŷ_{n, k}
            dz[n, k] = (p - one if k == y[n] else p) * inv_N
        ell[n] = log_s + m - z[n, y[n]]


# -- optimizer steps ---------------------------------------------------------------------


@cuda.jit
def sgd_update_kernel(theta, grad, lr):
    """θ ← θ − η ∇, entry by entry (η = lr)."""
    i = cuda.grid(1)
    if i < theta.size:
        theta[i] -= lr * grad[i]


@cuda.jit
def momentum_update_kernel(theta, v, grad, lr, mu):
    """v ← μ v − η ∇, θ ← θ + v, entry by entry (η = lr, μ = mu)."""
    i = cuda.grid(1)
    if i < theta.size:
        vi = mu * v[i] - lr * grad[i]
        v[i] = vi
        theta[i] += vi


# -- host side: checks, transfers, launches ------------------------------------------------

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))


def _is_device(a) -> bool:
    """A Numba device array (real or simulated)."""
    return hasattr(a, "copy_to_host") and hasattr(a, "shape") and hasattr(a, "dtype")


def _device(a, name: str, who: str, ndim: int | None = None, floating: bool = True):
    """(a on the device, whether it already was); checks the rank and the dtype."""
    if _is_device(a):
        d, was = a, True
    elif isinstance(a, np.ndarray):
        d, was = None, False
    elif hasattr(a, "__cuda_array_interface__") and not SIMULATOR:
        d, was = cuda.as_cuda_array(a), True  # a CuPy or PyTorch array, no copy
    else:
        raise TypeError(
            f"{who}: {name} must be a numpy array or a CUDA device array "
            f"(numba.cuda.to_device(...)), got {type(a).__name__}"
        )
    arr = d if was else a
    if ndim is not None and len(arr.shape) != ndim:
        raise ValueError(f"{who}: {name} must have {ndim} dimensions, got shape {tuple(arr.shape)}")
    if floating and np.dtype(arr.dtype) not in _FLOATS:
        raise TypeError(
            f"{who}: {name} must be float32 or float64, got {arr.dtype}; "
            f"convert it with .astype(np.float32)"
        )
    if was:
        if not d.is_c_contiguous():
            raise ValueError(
                f"{who}: device array {name} must be C-contiguous; copy it with "
                "numba.cuda.to_device(np.ascontiguousarray(...))"
            )
        return d, True
    return cuda.to_device(np.ascontiguousarray(a)), False


def _same_dtype(who: str, **arrays) -> np.dtype:
    """The one float dtype of `arrays` (name -> array); mixed dtypes are a TypeError."""
    kinds = {name: np.dtype(a.dtype) for name, a in arrays.items()}
    if len(set(kinds.values())) > 1:
        have = ", ".join(f"{n} {d}" for n, d in kinds.items())
        raise TypeError(f"{who}: the arrays must share one dtype, got {have}; cast with .astype")
    return next(iter(kinds.values()))


def _same_shape(who: str, **arrays) -> None:
    shapes = {name: tuple(a.shape) for name, a in arrays.items()}
    if len(set(shapes.values())) > 1:
        have = ", ".join(f"{n} {s}" for n, s in shapes.items())
        raise ValueError(f"{who}: the arrays must have one shape, got {have}")


def _back(d, on_device: bool):
    """The result in the kind the caller gave: the device array, or a numpy copy."""
    return d if on_device else d.copy_to_host()


def _flat(d):
    """A 1-D view of a contiguous device array (elementwise kernels index it flat)."""
    return d.reshape(int(np.prod(d.shape, dtype=np.int64)))


def _elementwise(kernel, who: str, out_like, *args) -> None:
    """Launch a one-thread-per-entry kernel over flat views of its array arguments."""
    n = int(np.prod(out_like.shape, dtype=np.int64))
    flat = [_flat(a) if _is_device(a) else a for a in args]
    kernel[_blocks(n, THREADS), THREADS](*flat)


def axpy(a: float, x, y):
    """a·x + y for arrays x and y of one shape and dtype (the BLAS axpy, out of place).

    Returns a new array: numpy for numpy inputs, a device array if any input was one.
    """
    who = "axpy"
    dx, hx = _device(x, "x", who)
    dy, hy = _device(y, "y", who)
    _same_shape(who, x=dx, y=dy)
    dt = _same_dtype(who, x=dx, y=dy)
    out = cuda.device_array(dx.shape, dtype=dt)
    _elementwise(axpy_kernel, who, out, dt.type(a), dx, dy, out)
    return _back(out, hx or hy)


def axpy_unguarded(a: float, x, y):
    """:func:`axpy` launched on :func:`axpy_unguarded_kernel`: an out-of-bounds access
    whenever the size is not a multiple of :data:`THREADS`. For the simulator only."""
    who = "axpy_unguarded"
    dx, hx = _device(x, "x", who)
    dy, hy = _device(y, "y", who)
    _same_shape(who, x=dx, y=dy)
    dt = _same_dtype(who, x=dx, y=dy)
    out = cuda.device_array(dx.shape, dtype=dt)
    _elementwise(axpy_unguarded_kernel, who, out, dt.type(a), dx, dy, out)
    return _back(out, hx or hy)


def relu_forward(z):
    """a = max(z, 0) for an array z of any shape."""
    dz, hz = _device(z, "z", "relu_forward")
    a = cuda.device_array(dz.shape, dtype=dz.dtype)
    _elementwise(relu_forward_kernel, "relu_forward", a, dz, a)
    return _back(a, hz)


def relu_backward(dout, z):
    """dz = dout ⊙ [z > 0]: the gradient of ReLU at its input z, given dout = ∂𝓛/∂a."""
    who = "relu_backward"
    dd, hd = _device(dout, "dout", who)
    dzin, hz = _device(z, "z", who)
    _same_shape(who, dout=dd, z=dzin)
    _same_dtype(who, dout=dd, z=dzin)
    dz = cuda.device_array(dd.shape, dtype=dd.dtype)
    _elementwise(relu_backward_kernel, who, dz, dd, dzin, dz)
    return _back(dz, hd or hz)


#: At most this many blocks for :func:`sum_reduce`: each thread then adds several
#: entries in its grid-stride loop, and only this many atomic adds reach out[0].
MAX_REDUCE_BLOCKS = 1024


def sum_reduce(x, max_blocks: int = MAX_REDUCE_BLOCKS):
    """Σ x over every entry of x (any shape, not empty), in at most `max_blocks` blocks.

    Returns a Python float for a numpy x, and a (1,) device array for a device x (read
    it with ``float(s.copy_to_host()[0])``). The order of the additions depends on the
    blocks' order on a GPU, so the last bits may differ between runs.
    """
    dx, on_device = _device(x, "x", "sum_reduce")
    n = int(np.prod(dx.shape, dtype=np.int64))
    if n == 0:
        raise ValueError("sum_reduce: x is empty; give it at least one entry")
    out = cuda.to_device(np.zeros(1, dtype=dx.dtype))
    max_blocks = _check_int(max_blocks, "max_blocks", "sum_reduce", 1)
    blocks = min(_blocks(n, THREADS), max_blocks)
    sum_reduce_kernel[blocks, THREADS](_flat(dx), out)
    return out if on_device else float(out.copy_to_host()[0])


def _gemm_args(A, B, who: str):
    dA, hA = _device(A, "A", who, ndim=2)
    dB, hB = _device(B, "B", who, ndim=2)
    if dA.shape[1] != dB.shape[0]:
        raise ValueError(
            f"{who}: A is {tuple(dA.shape)} and B is {tuple(dB.shape)}; the columns of A "
            "must equal the rows of B (A (M, K) @ B (K, N))"
        )
    dt = _same_dtype(who, A=dA, B=dB)
    C = cuda.device_array((dA.shape[0], dB.shape[1]), dtype=dt)
    return dA, dB, C, hA or hB


def gemm_naive(A, B):
    """C = A @ B with one thread per entry of C reading straight from global memory.

    A (M, K), B (K, N) -> C (M, N), in blocks of 16 × 16 threads.
    """
    dA, dB, C, on_device = _gemm_args(A, B, "gemm_naive")
    M, N = C.shape
    grid = (_blocks(N, TILE), _blocks(M, TILE))  # x along the columns of C
    gemm_naive_kernel[grid, (TILE, TILE)](dA, dB, C)
    return _back(C, on_device)


def gemm_tiled(A, B, tile: int = TILE):
    """C = A @ B with shared-memory tiles of tile × tile (see :func:`make_gemm_tiled`).

    A (M, K), B (K, N) -> C (M, N); any M, K, N (the edge tiles are padded with zeros).
    """
    kernel = make_gemm_tiled(tile)
    dA, dB, C, on_device = _gemm_args(A, B, "gemm_tiled")
    M, N = C.shape
    kernel[(_blocks(N, tile), _blocks(M, tile)), (tile, tile)](dA, dB, C)
    return _back(C, on_device)


def gemm_tiled_unsafe(A, B, tile: int = TILE):
    """:func:`gemm_tiled` with the race of :func:`make_gemm_tiled_unsafe`: wrong results."""
    kernel = make_gemm_tiled_unsafe(tile)
    dA, dB, C, on_device = _gemm_args(A, B, "gemm_tiled_unsafe")
    M, N = C.shape
    kernel[(_blocks(N, tile), _blocks(M, tile)), (tile, tile)](dA, dB, C)
    return _back(C, on_device)


def _check_int(v, name: str, who: str, minimum: int) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{who}: {name} must be an int >= {minimum}, got {v!r}")
    if v < minimum:
        raise ValueError(f"{who}: {name} must be >= {minimum}, got {v}")
    return int(v)


def conv2d_direct(xp, w, b, stride: int):
    """Direct convolution of an already padded input, as :func:`dlkit.kernels.cpu.conv2d_direct`.

    Parameters
    ----------
    xp : (N, C_in, H_p, W_p) array, the input with its zero padding already added.
    w : (C_out, C_in, k_h, k_w) array of weights.
    b : (C_out,) array of biases.
    stride : int >= 1.

    Returns
    -------
    z : (N, C_out, H_out, W_out), H_out = (H_p − k_h) // stride + 1.
    """
    who = "conv2d_direct"
    dxp, hx = _device(xp, "xp", who, ndim=4)
    dw, hw = _device(w, "w", who, ndim=4)
    db, hb = _device(b, "b", who, ndim=1)
    dt = _same_dtype(who, xp=dxp, w=dw, b=db)
    stride = _check_int(stride, "stride", who, 1)
    N, C, Hp, Wp = dxp.shape
    F, Cw, KH, KW = dw.shape
    if Cw != C:
        raise ValueError(
            f"{who}: w has {Cw} input channels but xp has {C}; w is (C_out, C_in, k_h, k_w)"
        )
    if db.shape[0] != F:
        raise ValueError(f"{who}: b has {db.shape[0]} entries but w has {F} output maps")
    Ho = output_size(Hp, KH, stride, who=who)
    Wo = output_size(Wp, KW, stride, who=who)
    out = cuda.device_array((N, F, Ho, Wo), dtype=dt)
    conv2d_direct_kernel[_blocks(N * F * Ho * Wo, THREADS), THREADS](dxp, dw, db, stride, out)
    return _back(out, hx or hw or hb)


def im2col(xp, KH: int, KW: int, stride: int):
    """Unfold a padded (N, C, H_p, W_p) input into cols (C·k_h·k_w, N·H_out·W_out), as
    :func:`dlkit.kernels.cpu.im2col`."""
    who = "im2col"
    dxp, on_device = _device(xp, "xp", who, ndim=4)
    KH = _check_int(KH, "KH", who, 1)
    KW = _check_int(KW, "KW", who, 1)
    stride = _check_int(stride, "stride", who, 1)
    N, C, Hp, Wp = dxp.shape
    Ho = output_size(Hp, KH, stride, who=who)
    Wo = output_size(Wp, KW, stride, who=who)
    cols = cuda.device_array((C * KH * KW, N * Ho * Wo), dtype=dxp.dtype)
    im2col_kernel[_blocks(cols.shape[0] * cols.shape[1], THREADS), THREADS](
        dxp, KH, KW, stride, cols
    )
    return _back(cols, on_device)


def maxpool2d_forward(x, KH: int, KW: int, stride_h: int, stride_w: int):
    """Max pooling of x (N, C, H, W): (out, arg), as :func:`dlkit.kernels.cpu.maxpool2d_forward`.

    arg (int32) holds the offset o_1·k_w + o_2 of each window's maximum (the first on
    ties), which :func:`maxpool2d_backward` needs.
    """
    who = "maxpool2d_forward"
    dx, on_device = _device(x, "x", who, ndim=4)
    KH = _check_int(KH, "KH", who, 1)
    KW = _check_int(KW, "KW", who, 1)
    stride_h = _check_int(stride_h, "stride_h", who, 1)
    stride_w = _check_int(stride_w, "stride_w", who, 1)
    N, C, H, W = dx.shape
    Ho = output_size(H, KH, stride_h, who=who)
    Wo = output_size(W, KW, stride_w, who=who)
    out = cuda.device_array((N, C, Ho, Wo), dtype=dx.dtype)
    arg = cuda.device_array((N, C, Ho, Wo), dtype=np.int32)
    maxpool2d_forward_kernel[_blocks(N * C * Ho * Wo, THREADS), THREADS](
        dx, KH, KW, stride_h, stride_w, out, arg
    )
    return _back(out, on_device), _back(arg, on_device)


def maxpool2d_backward(dout, arg, H: int, W: int, KH: int, KW: int, stride_h: int, stride_w: int):
    """Route each output gradient to its window's maximum: dx (N, C, H, W), as
    :func:`dlkit.kernels.cpu.maxpool2d_backward`."""
    who = "maxpool2d_backward"
    dd, hd = _device(dout, "dout", who, ndim=4)
    da, ha = _device(arg, "arg", who, ndim=4, floating=False)
    if np.dtype(da.dtype) != np.int32:
        raise TypeError(f"{who}: arg must be the int32 array of maxpool2d_forward, got {da.dtype}")
    if tuple(da.shape) != tuple(dd.shape):
        raise ValueError(
            f"{who}: arg {tuple(da.shape)} and dout {tuple(dd.shape)} must have one shape"
        )
    H = _check_int(H, "H", who, 1)
    W = _check_int(W, "W", who, 1)
    KH = _check_int(KH, "KH", who, 1)
    KW = _check_int(KW, "KW", who, 1)
    stride_h = _check_int(stride_h, "stride_h", who, 1)
    stride_w = _check_int(stride_w, "stride_w", who, 1)
    N, C, Ho, Wo = dd.shape
    if (output_size(H, KH, stride_h, who=who), output_size(W, KW, stride_w, who=who)) != (Ho, Wo):
        raise ValueError(
            f"{who}: an input of {H} × {W} pooled by {KH} × {KW} with strides "
            f"({stride_h}, {stride_w}) does not give dout's {Ho} × {Wo}"
        )
    dx = cuda.device_array((N, C, H, W), dtype=dd.dtype)
    maxpool2d_backward_kernel[_blocks(N * C * H * W, THREADS), THREADS](
        dd, da, KH, KW, stride_h, stride_w, dx
    )
    return _back(dx, hd or ha)


def softmax_xent(z, y):
    """Softmax cross-entropy of logits z (N, K) with labels y (N,): (𝓛, ∂𝓛/∂z).

    𝓛 = −(1/N) Σ_n log ŷ_{n, y_n} is returned as a Python float (its mean is taken by
    :func:`sum_reduce`); ∂𝓛/∂z = (ŷ − onehot(y)) / N has z's shape and kind, as
    :class:`dlkit.nn.CrossEntropyLoss`'s forward and backward.
    """
    who = "softmax_xent"
    dz_in, hz = _device(z, "z", who, ndim=2)
    if _is_device(y):
        dy, hy = y, True
        if not np.issubdtype(np.dtype(dy.dtype), np.integer):
            raise TypeError(f"{who}: a device y must hold integer labels, got {dy.dtype}")
    else:
        yy = np.asarray(y)
        if yy.ndim != 1 or not np.issubdtype(yy.dtype, np.integer):
            raise TypeError(
                f"{who}: y must be a 1-D array of integer labels, got {yy.dtype} {yy.shape}"
            )
        dy, hy = cuda.to_device(np.ascontiguousarray(yy, dtype=np.int64)), False
        K = dz_in.shape[1]
        if yy.size and (yy.min() < 0 or yy.max() >= K):
            raise ValueError(f"{who}: labels must lie in [0, {K}) for z with {K} columns")
    N, K = dz_in.shape
    if dy.shape != (N,):
        raise ValueError(
            f"{who}: y has shape {tuple(dy.shape)}; z has {N} rows, so y must be ({N},)"
        )
    if N == 0:
        raise ValueError(f"{who}: z has no rows")
    ell = cuda.device_array(N, dtype=dz_in.dtype)
    dz = cuda.device_array((N, K), dtype=dz_in.dtype)
    softmax_xent_kernel[_blocks(N, THREADS), THREADS](dz_in, dy, ell, dz)
    loss = float(sum_reduce(ell).copy_to_host()[0]) / N
    return loss, _back(dz, hz or hy)


def _in_place(d, was_device: bool, host) -> None:
    """Copy an updated device array back into the caller's numpy array."""
    if not was_device:
        d.copy_to_host(host)


def _check_writable(a, name: str, who: str) -> None:
    if isinstance(a, np.ndarray) and not (a.flags.c_contiguous and a.flags.writeable):
        raise ValueError(
            f"{who}: {name} is updated in place, so it must be a writeable C-contiguous "
            "array; pass np.ascontiguousarray(...) and keep the result"
        )


def sgd_update(theta, grad, lr: float):
    """θ ← θ − η ∇ in place (η = lr); returns theta (numpy or device, as given)."""
    who = "sgd_update"
    _check_writable(theta, "theta", who)
    dt_, ht = _device(theta, "theta", who)
    dg, _ = _device(grad, "grad", who)
    _same_shape(who, theta=dt_, grad=dg)
    dt = _same_dtype(who, theta=dt_, grad=dg)
    _elementwise(sgd_update_kernel, who, dt_, dt_, dg, dt.type(lr))
    _in_place(dt_, ht, theta)
    return theta


def momentum_update(theta, v, grad, lr: float, mu: float):
    """v ← μ v − η ∇, θ ← θ + v in place (η = lr, μ = mu); returns (theta, v)."""
    who = "momentum_update"
    _check_writable(theta, "theta", who)
    _check_writable(v, "v", who)
    dth, ht = _device(theta, "theta", who)
    dv, hv = _device(v, "v", who)
    dg, _ = _device(grad, "grad", who)
    _same_shape(who, theta=dth, v=dv, grad=dg)
    dt = _same_dtype(who, theta=dth, v=dv, grad=dg)
    _elementwise(momentum_update_kernel, who, dth, dth, dv, dg, dt.type(lr), dt.type(mu))
    _in_place(dth, ht, theta)
    _in_place(dv, hv, v)
    return theta, v


# -- the kernels with their argument types, for dlkit.kernels.ptx ---------------------------


def signatures(t) -> dict:
    """Argument types of every kernel for the float type t (float32 or float64)."""
    from numba import int32, int64

    v1 = t[::1]
    v2 = t[:, ::1]
    v4 = t[:, :, :, ::1]
    i4 = int32[:, :, :, ::1]
    return {
        "axpy": (axpy_kernel, (t, v1, v1, v1)),
        "relu_forward": (relu_forward_kernel, (v1, v1)),
        "relu_backward": (relu_backward_kernel, (v1, v1, v1)),
        "sum_reduce": (sum_reduce_kernel, (v1, v1)),
        "gemm_naive": (gemm_naive_kernel, (v2, v2, v2)),
        "gemm_tiled": (make_gemm_tiled(TILE), (v2, v2, v2)),
        "conv2d_direct": (conv2d_direct_kernel, (v4, v4, v1, int64, v4)),
        "im2col": (im2col_kernel, (v4, int64, int64, int64, v2)),
        "maxpool2d_forward": (maxpool2d_forward_kernel, (v4, int64, int64, int64, int64, v4, i4)),
        "maxpool2d_backward": (maxpool2d_backward_kernel, (v4, i4, int64, int64, int64, int64, v4)),
        "softmax_xent": (softmax_xent_kernel, (v2, int64[::1], v1, v2)),
        "sgd_update": (sgd_update_kernel, (v1, v1, t)),
        "momentum_update": (momentum_update_kernel, (v1, v1, v1, t, t)),
    }


#: The kernels that :mod:`dlkit.kernels.ptx` compiles, by wrapper name (the tiled GEMM
#: with the default tile; ``gemm_tiled_unsafe`` is left out: it is wrong on purpose).
KERNELS = (
    "axpy",
    "relu_forward",
    "relu_backward",
    "sum_reduce",
    "gemm_naive",
    "gemm_tiled",
    "conv2d_direct",
    "im2col",
    "maxpool2d_forward",
    "maxpool2d_backward",
    "softmax_xent",
    "sgd_update",
    "momentum_update",
)
