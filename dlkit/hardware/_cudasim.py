"""Demonstration kernels for the chapter *GPUs and kernels*, run in Numba's CUDA simulator.

Not imported by dlkit: :func:`dlkit.hardware.cudamodel.simulate_many` runs this module
as ``python -m dlkit.hardware._cudasim OUT`` with ``NUMBA_ENABLE_CUDASIM=1`` set, reads
the jobs as JSON from stdin and writes their results (dicts of numpy arrays) to OUT.
The same kernels compile for a real GPU (``numba.cuda.compile_ptx``); the counters are
atomic adds, so they are the instrumented twins of an ordinary GEMM kernel.

The simulator runs every thread of a block as a Python thread, so the order in which
the threads of a kernel without barriers interleave is up to the interpreter: the
result of ``gemm_no_sync`` is wrong, but not always wrong in the same places.
"""

from __future__ import annotations

import json
import pickle
import sys

import numpy as np
from numba import cuda


@cuda.jit
def whoami(block_x, block_y, thread_x, thread_y):
    """Each thread writes its blockIdx and threadIdx into the output it owns."""
    row = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    col = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if row < block_x.shape[0] and col < block_x.shape[1]:
        block_x[row, col] = cuda.blockIdx.x
        block_y[row, col] = cuda.blockIdx.y
        thread_x[row, col] = cuda.threadIdx.x
        thread_y[row, col] = cuda.threadIdx.y


@cuda.jit
def gemm_naive(A, B, C, nA, nB):
    """C[i, j] = Σ_k A[i, k] B[k, j], one thread per output; nA, nB count the loads."""
    i = cuda.blockIdx.y * cuda.blockDim.y + cuda.threadIdx.y
    j = cuda.blockIdx.x * cuda.blockDim.x + cuda.threadIdx.x
    if i < C.shape[0] and j < C.shape[1]:
        acc = 0.0
        for k in range(A.shape[1]):
            acc += A[i, k] * B[k, j]
            cuda.atomic.add(nA, (i, k), 1)
            cuda.atomic.add(nB, (k, j), 1)
        C[i, j] = acc


def make_gemm_tiled(T: int, barriers: bool = True):
    """The tiled GEMM for T × T blocks: each phase stages a tile of A and one of B in
    shared memory, one element per thread, then every thread reads T of each."""

    @cuda.jit
    def gemm_tiled(A, B, C, nA, nB):
        sA = cuda.shared.array((T, T), np.float64)
        sB = cuda.shared.array((T, T), np.float64)
        tx, ty = cuda.threadIdx.x, cuda.threadIdx.y
        i = cuda.blockIdx.y * T + ty
        j = cuda.blockIdx.x * T + tx
        M, K, N = A.shape[0], A.shape[1], B.shape[1]
        acc = 0.0
        for phase in range((K + T - 1) // T):
            ka, kb = phase * T + tx, phase * T + ty
            if i < M and ka < K:
                sA[ty, tx] = A[i, ka]
                cuda.atomic.add(nA, (i, ka), 1)
            else:
                sA[ty, tx] = 0.0
            if kb < K and j < N:
                sB[ty, tx] = B[kb, j]
                cuda.atomic.add(nB, (kb, j), 1)
            else:
                sB[ty, tx] = 0.0
            if barriers:
                cuda.syncthreads()  # every tile element is loaded
            for k in range(T):
                acc += sA[ty, k] * sB[k, tx]
            if barriers:
                cuda.syncthreads()  # everyone has read the tiles before they change
        if i < M and j < N:
            C[i, j] = acc

    return gemm_tiled


def _ownership(shape, block):
    rows, cols = shape
    bx, by = block
    arrs = [np.full((rows, cols), -1, np.int64) for _ in range(4)]
    grid = (-(-cols // bx), -(-rows // by))
    whoami[grid, (bx, by)](*arrs)
    return dict(zip(("block_x", "block_y", "thread_x", "thread_y"), arrs))


def _gemm(M, N, K, tile=None, seed=0, barriers=True):
    r = np.random.default_rng(seed)
    A, B = r.standard_normal((M, K)), r.standard_normal((K, N))
    C = np.zeros((M, N))
    nA, nB = np.zeros((M, K), np.int64), np.zeros((K, N), np.int64)
    if tile is None:
        bx = by = 8
        gemm_naive[(-(-N // bx), -(-M // by)), (bx, by)](A, B, C, nA, nB)
    else:
        k = make_gemm_tiled(int(tile), barriers)
        k[(-(-N // tile), -(-M // tile)), (tile, tile)](A, B, C, nA, nB)
    return {"A": A, "B": B, "C": C, "nA": nA, "nB": nB}


JOBS = {
    "ownership": _ownership,
    "gemm": _gemm,
    "gemm_no_sync": lambda **kw: _gemm(**kw, barriers=False),
}


def main(argv: list[str]) -> int:
    jobs = json.loads(sys.stdin.read())
    results = []
    for name, kw in jobs:
        if name not in JOBS:
            raise SystemExit(f"unknown job {name!r}; the jobs are {', '.join(JOBS)}")
        results.append(JOBS[name](**kw))
    with open(argv[0], "wb") as f:
        pickle.dump(results, f)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
