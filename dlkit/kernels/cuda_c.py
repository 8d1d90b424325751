"""The tiled GEMM in CUDA C: the Numba-CUDA kernel's twin, compiled by NVRTC.

:data:`GEMM_TILED_SRC` is the shared-memory tiled product C = A B written in CUDA C,
the language of NVIDIA's own libraries. Each block of TILE × TILE threads computes one
TILE × TILE tile of C: it walks along the K axis one tile at a time, every thread
loading one entry of A's tile and one of B's into shared memory, a barrier
(``__syncthreads``), TILE multiply-adds from shared memory, and a second barrier
before the tiles are overwritten. Each entry of A and B is read from global memory
K / TILE times fewer than by the naive kernel. TILE is a preprocessor constant
(16 unless ``-DTILE=...`` is passed), so the same source compiles for any tile size.

- :func:`compile_ptx` compiles CUDA C to PTX (NVIDIA's portable assembly) through
  NVRTC, the runtime compiler of the CUDA toolkit wheels (``cuda.bindings.nvrtc``,
  installed with ``numba-cuda[cu12]``). It needs no GPU and no system toolkit, so the
  tests compile the kernel on every machine.
- :func:`cupy_gemm_tiled` launches the kernel through a ``cupy.RawKernel`` on CuPy
  arrays; it needs CuPy and an NVIDIA GPU.

:data:`GEMM_BLOCKED_SRC` goes one step further, as fast GEMMs do: register blocking.
Each thread computes a TM × TN patch of C in registers, so every value it reads from
shared memory serves several multiply-adds (:func:`cupy_gemm_blocked`).

The shapes are those of the book: A (M, K), B (K, N), C (M, N), row-major float32.
"""

from __future__ import annotations

#: Default tile edge (threads per block = TILE²; shared memory = 2 · TILE² floats).
TILE = 16

GEMM_TILED_SRC = r"""
#ifndef TILE
#define TILE 16
#endif

// C = A B for row-major A (M, K), B (K, N), C (M, N), float32.
// Block (TILE, TILE) computes the tile of C at rows blockIdx.y*TILE.., columns
// blockIdx.x*TILE..; thread (tx, ty) owns C[row, col].
extern "C" __global__ void gemm_tiled(const float* __restrict__ A,
                                      const float* __restrict__ B,
                                      float* __restrict__ C,
                                      int M, int N, int K)
{
    __shared__ float As[TILE][TILE];   // one tile of A
    __shared__ float Bs[TILE][TILE];   // one tile of B
    int tx = threadIdx.x, ty = threadIdx.y;
    int row = blockIdx.y * TILE + ty;
    int col = blockIdx.x * TILE + tx;
    float acc = 0.0f;
    for (int k0 = 0; k0 < K; k0 += TILE) {
        // Each thread loads one entry of each tile (zero outside the matrices);
        // neighbouring threads (tx) read neighbouring addresses: coalesced.
        As[ty][tx] = (row < M && k0 + tx < K) ? A[row * K + k0 + tx] : 0.0f;
        Bs[ty][tx] = (k0 + ty < K && col < N) ? B[(k0 + ty) * N + col] : 0.0f;
        __syncthreads();                // the tiles are complete
        #pragma unroll
        for (int k = 0; k < TILE; ++k)
            acc += As[ty][k] * Bs[k][tx];
        __syncthreads();                // everyone is done before the next load
    }
    if (row < M && col < N)
        C[row * N + col] = acc;
}
"""


GEMM_BLOCKED_SRC = r"""
#ifndef BM
#define BM 64   // rows of C per block
#endif
#ifndef BN
#define BN 64   // columns of C per block
#endif
#ifndef BK
#define BK 8    // depth of the tiles of A and B in shared memory
#endif
#ifndef TM
#define TM 4    // rows of C per thread
#endif
#ifndef TN
#define TN 4    // columns of C per thread
#endif

// C = A B for row-major float32 A (M, K), B (K, N), C (M, N), with register blocking:
// a block of (BM/TM)·(BN/TN) threads (one-dimensional) computes a BM × BN tile of C,
// and each thread a TM × TN patch of it, held in registers. Per step of BK along K the
// thread reads TM values of A's tile and TN of B's from shared memory and does TM·TN
// multiply-adds with them: (TM·TN)/(TM+TN) flops per shared load instead of the tiled
// kernel's 1/2.
extern "C" __global__ void gemm_blocked(const float* __restrict__ A,
                                        const float* __restrict__ B,
                                        float* __restrict__ C,
                                        int M, int N, int K)
{
    __shared__ float As[BK][BM];   // A's tile, transposed: As[k][m]
    __shared__ float Bs[BK][BN];
    const int threads = (BM / TM) * (BN / TN);
    const int tx = threadIdx.x % (BN / TN);   // which TN columns of the tile
    const int ty = threadIdx.x / (BN / TN);   // which TM rows
    const int row0 = blockIdx.y * BM, col0 = blockIdx.x * BN;
    float acc[TM][TN];
    #pragma unroll
    for (int i = 0; i < TM; ++i)
        #pragma unroll
        for (int j = 0; j < TN; ++j) acc[i][j] = 0.0f;
    float a[TM], b[TN];
    for (int k0 = 0; k0 < K; k0 += BK) {
        for (int t = threadIdx.x; t < BM * BK; t += threads) {   // A's BM × BK tile
            int m = t / BK, k = t % BK, r = row0 + m, c = k0 + k;
            As[k][m] = (r < M && c < K) ? A[r * K + c] : 0.0f;
        }
        for (int t = threadIdx.x; t < BK * BN; t += threads) {   // B's BK × BN tile
            int k = t / BN, n = t % BN, r = k0 + k, c = col0 + n;
            Bs[k][n] = (r < K && c < N) ? B[r * N + c] : 0.0f;   // coalesced along n
        }
        __syncthreads();
        #pragma unroll
        for (int k = 0; k < BK; ++k) {
            #pragma unroll
            for (int i = 0; i < TM; ++i) a[i] = As[k][ty * TM + i];
            #pragma unroll
            for (int j = 0; j < TN; ++j) b[j] = Bs[k][tx * TN + j];
            #pragma unroll
            for (int i = 0; i < TM; ++i)
                #pragma unroll
                for (int j = 0; j < TN; ++j) acc[i][j] += a[i] * b[j];
        }
        __syncthreads();
    }
    #pragma unroll
    for (int i = 0; i < TM; ++i)
        #pragma unroll
        for (int j = 0; j < TN; ++j) {
            int r = row0 + ty * TM + i, c = col0 + tx * TN + j;
            if (r < M && c < N) C[r * N + c] = acc[i][j];
        }
}
"""


class NVRTCError(RuntimeError):
    """NVRTC could not compile a CUDA C source; the message carries its log."""


def _nvrtc():
    try:
        from cuda.bindings import nvrtc
    except ImportError as exc:  # pragma: no cover - depends on the installation
        raise ImportError(
            "NVRTC is not installed: compile_ptx needs cuda.bindings.nvrtc, which comes "
            "with pip install 'numba-cuda[cu12]' (the gpu extra of dlkit)"
        ) from exc
    return nvrtc


def _check(nvrtc, result, what: str) -> None:
    if result != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        _, msg = nvrtc.nvrtcGetErrorString(result)
        raise NVRTCError(f"NVRTC {what} failed: {msg.decode()}")


def compile_ptx(
    src: str = GEMM_TILED_SRC,
    arch: str = "compute_75",
    *,
    options: tuple[str, ...] = (),
    name: str = "kernel.cu",
) -> str:
    """Compile CUDA C source to PTX text with NVRTC (no GPU needed).

    Parameters
    ----------
    src : str
        CUDA C source (default :data:`GEMM_TILED_SRC`).
    arch : str
        The virtual architecture, ``"compute_75"`` (Turing, the RTX 2080 Ti),
        ``"compute_90"`` (Hopper)...; the PTX runs on that compute capability and later.
    options : tuple of str
        Further NVRTC options, e.g. ``("-DTILE=32",)``.
    name : str
        The file name NVRTC uses in its messages.

    Returns
    -------
    str
        The PTX; look for ``.shared`` (the tiles) and ``bar.sync`` (``__syncthreads``).

    Raises
    ------
    NVRTCError
        If the source does not compile; the message holds NVRTC's log (line and error).
    """
    if not isinstance(src, str) or not src.strip():
        raise TypeError(f"compile_ptx: src must be CUDA C source text, got {type(src).__name__}")
    if not isinstance(arch, str) or not arch.startswith("compute_"):
        raise ValueError(
            f"compile_ptx: arch must name a virtual architecture such as 'compute_75', got {arch!r}"
        )
    nvrtc = _nvrtc()
    err, prog = nvrtc.nvrtcCreateProgram(src.encode(), name.encode(), 0, [], [])
    _check(nvrtc, err, "program creation")
    try:
        opts = [f"--gpu-architecture={arch}".encode(), *(o.encode() for o in options)]
        (result,) = nvrtc.nvrtcCompileProgram(prog, len(opts), opts)
        if result != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            _, size = nvrtc.nvrtcGetProgramLogSize(prog)
            log = b" " * size
            nvrtc.nvrtcGetProgramLog(prog, log)
            _, msg = nvrtc.nvrtcGetErrorString(result)
            text = log.decode(errors="replace").rstrip("\x00 \n")
            raise NVRTCError(f"NVRTC could not compile {name} for {arch} ({msg.decode()}):\n{text}")
        err, size = nvrtc.nvrtcGetPTXSize(prog)
        _check(nvrtc, err, "PTX size")
        ptx = b" " * size
        (err,) = nvrtc.nvrtcGetPTX(prog, ptx)
        _check(nvrtc, err, "PTX retrieval")
    finally:
        nvrtc.nvrtcDestroyProgram(prog)
    return ptx.decode().rstrip("\x00")


_RAW_KERNELS: dict[tuple, object] = {}


def _raw_kernel(src: str, name: str, defines: dict[str, int]):
    """The ``cupy.RawKernel`` `name` of `src` with the given #defines (compiled once)."""
    key = (name, tuple(sorted(defines.items())))
    kern = _RAW_KERNELS.get(key)
    if kern is None:
        import cupy

        options = tuple(f"-D{k}={v}" for k, v in sorted(defines.items()))
        kern = _RAW_KERNELS[key] = cupy.RawKernel(src, name, options=options)
    return kern


def _cupy_operands(A, B, who: str):
    """A, B as contiguous float32 CuPy arrays of shapes (M, K), (K, N); checks first."""
    from dlkit.backend import BackendUnavailable, _why_unavailable

    why = _why_unavailable("cupy")
    if why is not None:
        raise BackendUnavailable(f"{who} needs CuPy on a GPU: {why}")
    import cupy

    A = cupy.ascontiguousarray(cupy.asarray(A))
    B = cupy.ascontiguousarray(cupy.asarray(B))
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(f"{who} needs A (M, K) and B (K, N), got shapes {A.shape} and {B.shape}")
    if A.dtype != cupy.float32 or B.dtype != cupy.float32:
        raise TypeError(
            f"{who} computes in float32, got {A.dtype} and {B.dtype}; pass A.astype(cupy.float32)"
        )
    return cupy, A, B


def cupy_gemm_tiled(A, B, *, tile: int = TILE):
    """C = A @ B by :data:`GEMM_TILED_SRC` on the GPU, through a ``cupy.RawKernel``.

    Parameters
    ----------
    A : (M, K) array, B : (K, N) array
        float32, CuPy arrays (numpy arrays are copied to the GPU).
    tile : int
        The tile edge TILE (threads per block TILE², at most 32 so TILE² <= 1024).

    Returns
    -------
    cupy.ndarray
        C, (M, N) float32 on the GPU.

    Raises
    ------
    dlkit.backend.BackendUnavailable
        If CuPy is not installed or finds no GPU.
    """
    if not isinstance(tile, int) or isinstance(tile, bool) or not 1 <= tile <= 32:
        raise ValueError(f"cupy_gemm_tiled: tile must be an int in [1, 32], got {tile!r}")
    cupy, A, B = _cupy_operands(A, B, "cupy_gemm_tiled")
    M, K = A.shape
    N = B.shape[1]
    C = cupy.empty((M, N), cupy.float32)
    grid = ((N + tile - 1) // tile, (M + tile - 1) // tile)
    kernel = _raw_kernel(GEMM_TILED_SRC, "gemm_tiled", {"TILE": tile})
    kernel(grid, (tile, tile), (A, B, C, cupy.int32(M), cupy.int32(N), cupy.int32(K)))
    return C


#: The register-blocking configurations the GPU benchmark tries: (BM, BN, BK, TM, TN).
BLOCKED_CONFIGS = ((64, 64, 8, 4, 4), (128, 128, 8, 8, 8))


def check_blocked_config(bm: int, bn: int, bk: int, tm: int, tn: int) -> int:
    """The threads per block of a :data:`GEMM_BLOCKED_SRC` configuration, after checking
    that it divides evenly and fits a block (at most 1024 threads, 48 KiB of tiles)."""
    vals = dict(bm=bm, bn=bn, bk=bk, tm=tm, tn=tn)
    bad = [k for k, v in vals.items() if not isinstance(v, int) or isinstance(v, bool) or v < 1]
    if bad:
        raise ValueError(f"gemm_blocked: {', '.join(bad)} must be positive ints, got {vals}")
    if bm % tm or bn % tn:
        raise ValueError(f"gemm_blocked: tm must divide bm and tn divide bn, got {vals}")
    threads = (bm // tm) * (bn // tn)
    if threads > 1024 or 4 * bk * (bm + bn) > 48 * 1024:
        raise ValueError(
            f"gemm_blocked: {vals} needs {threads} threads and {4 * bk * (bm + bn)} bytes of "
            "shared memory per block; the limits are 1024 and 49152"
        )
    return threads


def cupy_gemm_blocked(A, B, *, bm=64, bn=64, bk=8, tm=4, tn=4):
    """C = A @ B by :data:`GEMM_BLOCKED_SRC` (register blocking) through a ``cupy.RawKernel``.

    A (M, K), B (K, N) float32 -> C (M, N) float32 on the GPU; each block computes a
    ``bm`` × ``bn`` tile of C, each thread a ``tm`` × ``tn`` patch, with tiles ``bk`` deep.
    """
    threads = check_blocked_config(bm, bn, bk, tm, tn)
    cupy, A, B = _cupy_operands(A, B, "cupy_gemm_blocked")
    M, K = A.shape
    N = B.shape[1]
    C = cupy.empty((M, N), cupy.float32)
    grid = ((N + bn - 1) // bn, (M + bm - 1) // bm)
    defines = {"BM": bm, "BN": bn, "BK": bk, "TM": tm, "TN": tn}
    kernel = _raw_kernel(GEMM_BLOCKED_SRC, "gemm_blocked", defines)
    kernel(grid, (threads,), (A, B, C, cupy.int32(M), cupy.int32(N), cupy.int32(K)))
    return C
