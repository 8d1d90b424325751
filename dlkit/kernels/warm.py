"""Compile every Numba CPU kernel once, for float32 and float64, into Numba's disk cache.

    python -m dlkit.kernels          # runs main(); what ``make`` does after installing

A kernel is compiled the first time it meets a new dtype, which takes seconds per
kernel (the parallel ones most); ``cache=True`` then keeps the machine code on disk, and
every later process (a notebook, a test, the benchmark) loads it in milliseconds.
Compiling them all up front means no chapter pays for it. The two dtypes are compiled
in two processes at once.
"""

from __future__ import annotations

import time

import numpy as np

DTYPES = ("float32", "float64")


def calls(dtype) -> dict:
    """One small call per kernel of :mod:`dlkit.kernels.cpu`, with the argument types
    dlkit passes (C-contiguous arrays of `dtype`, Python ints), keyed by kernel name."""
    from dlkit.kernels import cpu

    dt = np.dtype(dtype)
    x = np.ones((2, 3, 8, 8), dt)
    w = np.ones((4, 3, 3, 3), dt)
    b = np.zeros(4, dt)
    dout = np.ones((2, 4, 6, 6), dt)
    cols = np.ones((27, 72), dt)
    pooled, arg = np.ones((2, 3, 4, 4), dt), np.zeros((2, 3, 4, 4), np.int32)
    A = np.ones((8, 8), dt)
    off = np.zeros(5, np.int64)
    wgrad = (np.ones((4, 2, 8), dt), np.ones(64, dt), np.zeros((4, 5), dt), 0, 0, off, 16, 2, 8)
    return {
        "conv2d_direct": lambda: cpu.conv2d_direct(x, w, b, 1),
        "conv2d_chwn": lambda: cpu.conv2d_chwn(x, w, b, 0),
        "conv2d_weight_grad": lambda: cpu.conv2d_weight_grad(dout, x, 3, 3, 1),
        "to_chwn": lambda: cpu.to_chwn(x, 1),
        "conv2d_weight_grad_chwn": lambda: cpu.conv2d_weight_grad_chwn(dout, x, 3, 3, 0),
        "conv2d_input_grad_chwn": lambda: cpu.conv2d_input_grad_chwn(dout, w, 8, 8, 0),
        "wgrad_block_4x5": lambda: cpu.wgrad_block_4x5(*wgrad),
        "wgrad_block_4x3": lambda: cpu.wgrad_block_4x3(*wgrad),
        "im2col": lambda: cpu.im2col(x, 3, 3, 1),
        "col2im": lambda: cpu.col2im(cols, 2, 3, 8, 8, 3, 3, 1),
        "gemm_blocked": lambda: cpu.gemm_blocked(A, A),
        "gemm_naive": lambda: cpu.gemm_naive(A, A),
        "gemm_loop_order": lambda: cpu.gemm_loop_order(A, A),
        "gemm_tiled": lambda: cpu.gemm_tiled(A, A),
        "gemm_packed": lambda: cpu.gemm_packed(A, A),
        "gemm_pack_b": lambda: cpu.gemm_pack_b(A, 4),
        "gemm_pack_b_columns": lambda: cpu.gemm_pack_b_columns(A, np.zeros((2, 9, 4), dt), 0, 8),
        "gemm_kernel_4x3": lambda: cpu.gemm_kernel_4x3(A, A, A.copy(), 0, 0, 8),
        "gemm_kernel_5x5": lambda: cpu.gemm_kernel_5x5(A, A, A.copy(), 0, 0, 8),
        "gemm_micro": lambda: cpu.gemm_micro(A, A),
        "maxpool2d_forward": lambda: cpu.maxpool2d_forward(x, 2, 2, 2, 2),
        "maxpool2d_backward": lambda: cpu.maxpool2d_backward(pooled, arg, 8, 8, 2, 2, 2, 2),
        "lasso_cd_gram": lambda: cpu.lasso_cd_gram(A, A, 0.1, 1e-6, 10),
    }


def compile_dtype(dtype: str) -> dict[str, float]:
    """Compile (or load from the cache) every kernel for `dtype`; seconds per kernel."""
    seconds = {}
    for name, call in calls(dtype).items():
        t0 = time.perf_counter()
        call()
        seconds[name] = time.perf_counter() - t0
    return seconds


def warm(dtypes=DTYPES, processes: int = 2) -> dict[str, dict[str, float]]:
    """Compile every kernel for each dtype, one fresh process per dtype (at most
    `processes` at once); returns {dtype: {kernel: seconds}}.

    Fresh ("spawn") processes, because a process that has started Numba's thread pool
    should not fork.
    """
    import multiprocessing as mp
    from concurrent.futures import ProcessPoolExecutor

    with ProcessPoolExecutor(
        max(1, min(processes, len(dtypes))), mp_context=mp.get_context("spawn")
    ) as pool:
        return dict(zip(dtypes, pool.map(compile_dtype, dtypes)))


def main() -> int:
    """Compile everything and print the seconds per kernel and dtype."""
    try:
        import numba  # noqa: F401
    except ImportError:
        print("numba is not installed: nothing to compile (dlkit runs its numpy reference)")
        return 0
    t0 = time.perf_counter()
    seconds = warm()
    print(f"{'kernel':<20}" + "".join(f"{d:>10}" for d in seconds) + "   (seconds)")
    for name in next(iter(seconds.values())):
        print(f"{name:<20}" + "".join(f"{s[name]:10.2f}" for s in seconds.values()))
    print(f"compiled into Numba's cache in {time.perf_counter() - t0:.1f} s")
    return 0
