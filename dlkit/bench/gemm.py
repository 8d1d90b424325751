"""Benchmark group "gemm": what it takes a matrix product in Numba to reach BLAS.

One row per step of chapter 7's "What it takes to reach BLAS", each the product
C = A B of two 1024 × 1024 float32 matrices, beside numpy's ``A @ B`` (BLAS) with
``DLKIT_BENCH_THREADS`` threads (default: all cores):

1. :func:`~dlkit.kernels.cpu.gemm_naive`, the formula as loops (timed on the first
   :data:`NAIVE_ROWS` rows of A, which cost the same per row, and scaled to the whole);
2. :func:`~dlkit.kernels.cpu.gemm_loop_order`, loop order i, k, j;
3. :func:`~dlkit.kernels.cpu.gemm_tiled`, cache blocking;
4. :func:`~dlkit.kernels.cpu.gemm_packed`, packed panels;
5. :func:`~dlkit.kernels.cpu.gemm_micro` on one thread, the register-blocked micro-kernel
   (5 × 5 with AVX-512's 32 vector registers, 4 × 3 with 16; the row names it);
6. :func:`~dlkit.kernels.cpu.gemm_micro` on all the threads;

and :func:`~dlkit.kernels.cpu.gemm_blocked`, the earlier teaching kernel (cache blocking
and four rows of C at a time, on all the threads).
Steps 1 to 5 run on one thread, against the same multi-threaded BLAS: the percentage
of BLAS in each note is how far that step is from the goal. Each round times dlkit's
steps in one fresh process and BLAS in another (:func:`dlkit.bench.alternate`); a
row's ratio is the median of the per-round ratios.
"""

from __future__ import annotations

import os
import time

import numpy as np

from dlkit.bench import Row, alternate, register

N = 1024
#: Rows of A the naive step is timed on (its rate per row does not depend on the row).
NAIVE_ROWS = 64

#: (row label, kernel name, threads: "one" or "all"), in the order of the chapter.
STEPS = (
    ("1 naive loops i,j,k", "gemm_naive", "one"),
    ("2 loop order i,k,j", "gemm_loop_order", "one"),
    ("3 cache blocking", "gemm_tiled", "one"),
    ("4 packing", "gemm_packed", "one"),
    ("5 micro-kernel", "gemm_micro", "one"),
    ("6 threads", "gemm_micro", "all"),
    ("gemm_blocked", "gemm_blocked", "all"),
)


def step_label(label: str) -> str:
    """A step's row name; the micro-kernel's names its register block on this target
    (:data:`dlkit.kernels.cpu.MICRO_MR` × :data:`dlkit.kernels.cpu.MICRO_NR`)."""
    if label != "5 micro-kernel":
        return label
    from dlkit.kernels import cpu

    return f"{label} {cpu.MICRO_MR}x{cpu.MICRO_NR}"


def bench_threads() -> int:
    """The thread count the libraries use (``DLKIT_BENCH_THREADS`` or all cores)."""
    return int(os.environ.get("DLKIT_BENCH_THREADS", os.cpu_count() or 1))


def _operands(n: int = N):
    g = np.random.default_rng(0)
    A = g.standard_normal((n, n)).astype(np.float32)
    B = g.standard_normal((n, n)).astype(np.float32)
    return A, B


def _best(fn, repeat: int) -> float:
    """Best of `repeat` timed calls of `fn`, after one untimed call."""
    fn()
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def gemm_worker(side: str, n: int = N, repeat: int = 5) -> dict[str, float]:
    """Seconds of one n × n float32 product per step (side "dlkit"), or of numpy's
    ``A @ B`` (side "numpy", key "blas"), measured in this process alone."""
    threads = bench_threads()
    A, B = _operands(n)
    if side == "numpy":
        from threadpoolctl import threadpool_limits

        with threadpool_limits(threads, user_api="blas"):
            return {"blas": _best(lambda: A @ B, repeat)}
    import numba

    from dlkit.kernels import cpu  # sets Numba's OpenMP wait policy before its threads start

    threads = min(threads, numba.config.NUMBA_NUM_THREADS)  # Numba's pool is no larger
    out = {}
    for label, kernel, who in STEPS:
        label = step_label(label)
        numba.set_num_threads(1 if who == "one" else threads)
        fn = getattr(cpu, kernel)
        if kernel == "gemm_naive":
            m = min(NAIVE_ROWS, n)
            out[label] = _best(lambda: fn(A[:m], B), 1) * n / m
        else:
            out[label] = _best(lambda: fn(A, B), repeat)
    return out


@register("gemm")
def bench_gemm() -> list[Row]:
    """Each step against numpy's BLAS, in alternating rounds of fresh processes."""
    ours, theirs = alternate(
        "dlkit.bench.gemm", f"gemm_worker('dlkit', {N})", f"gemm_worker('numpy', {N})"
    )
    threads = bench_threads()
    flop = 2 * N**3
    blas = [t["blas"] for t in theirs]
    rows = []
    for label, _kernel, who in STEPS:
        label = step_label(label)
        t = [o[label] for o in ours]
        row = Row.from_rounds("gemm", f"{label} {N}x{N} f32", t, "numpy (BLAS)", blas)
        on = "1 thread" if who == "one" else f"{threads} threads"
        row.note = (
            f"{flop / row.dlkit_s / 1e9:.1f} GFLOP/s on {on} vs BLAS "
            f"{flop / row.peer_s / 1e9:.0f} on {threads}: {100 / row.ratio:.0f}% of BLAS"
        )
        rows.append(row)
    return rows


#: The x86 features of an AVX2 target in :func:`fma_registers` (Numba replaces the
#: host's features with ``NUMBA_CPU_FEATURES`` when it is set, so the list is complete:
#: the base ISA, AVX2 and FMA) ...
AVX2_FEATURES = (
    "+64bit,+cx16,+popcnt,+sse,+sse2,+sse3,+ssse3,+sse4.1,+sse4.2,+avx,+avx2,+fma,+f16c,"
    "+bmi,+bmi2,+lzcnt,+movbe"
)
#: ... and of an AVX-512 target: the same and the AVX-512 subsets.
AVX512_FEATURES = AVX2_FEATURES + ",+avx512f,+avx512vl,+avx512bw,+avx512dq,+avx512cd,+evex512"

_FMA_CODE = """
import json, re
from numba import types
from dlkit.kernels import cpu
a = types.Array(types.float32, 2, "C")
kernel = getattr(cpu, {kernel!r})
sig = {sig}
kernel.compile(sig)
fma = re.findall(r"\\tvfmadd\\w*\\s+([^\\n]*)", kernel.inspect_asm(sig))
print(json.dumps({{w: sum(w in f for f in fma) for w in ("zmm", "ymm", "xmm")}}))
"""

_SIGS = {
    "gemm_kernel_4x3": "(a, a, a, types.int64, types.int64, types.int64)",
    "gemm_kernel_5x5": "(a, a, a, types.int64, types.int64, types.int64)",
    "gemm_loop_order": "(a, a)",
}


def fma_registers(
    kernel: str = "gemm_kernel_4x3", cpu_name: str | None = None, features: str | None = None
) -> dict[str, int]:
    """Count the fused multiply-add instructions in `kernel`'s float32 machine code by
    register width: ``{"zmm": 512-bit, "ymm": 256-bit, "xmm": 128-bit or scalar}``.

    The kernel is compiled, never run, in a fresh process for the CPU `cpu_name` (an LLVM
    name such as ``"haswell"``, ``"skylake-avx512"``, ``"znver4"``; None: this machine)
    with `features` (LLVM's ``+avx2,...``; None: the host's, or give
    :data:`AVX512_FEATURES` for an AVX-512 target), so any machine can show what LLVM
    emits for another. A fresh cache directory keeps the code out of Numba's cache.
    """
    import json
    import subprocess
    import sys
    import tempfile

    if kernel not in _SIGS:
        raise ValueError(f"kernel={kernel!r}: choose one of {', '.join(_SIGS)}")
    env = dict(os.environ)
    for var, value in (("NUMBA_CPU_NAME", cpu_name), ("NUMBA_CPU_FEATURES", features)):
        env.pop(var, None)
        if value is not None:
            env[var] = value
    with tempfile.TemporaryDirectory() as cache:
        env["NUMBA_CACHE_DIR"] = cache
        code = _FMA_CODE.format(kernel=kernel, sig=_SIGS[kernel])
        proc = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(
            f"compiling {kernel} for {cpu_name or 'this CPU'} failed:\n{proc.stderr[-2000:]}"
        )
    return json.loads(proc.stdout.strip().splitlines()[-1])


def step_rates(n: int = 512, repeat: int = 3) -> dict[str, float]:
    """GFLOP/s of every step and of numpy's BLAS (key "numpy BLAS") on n × n float32
    matrices, measured in this process (a quick look; the bench group measures each
    side in fresh processes, in alternating rounds). Numba's thread count is restored."""
    import numba

    before = numba.get_num_threads()
    try:
        seconds = gemm_worker("dlkit", n, repeat)
    finally:
        numba.set_num_threads(before)
    seconds["numpy BLAS"] = gemm_worker("numpy", n, repeat)["blas"]
    return {label: 2 * n**3 / t / 1e9 for label, t in seconds.items()}
