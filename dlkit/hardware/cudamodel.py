"""The CUDA execution model, counted: threads, warps, memory transactions, loads, occupancy.

A CUDA kernel runs as a *grid* of *blocks*, each a group of up to 1,024 *threads*;
the hardware runs a block's threads 32 at a time, as *warps*, on one streaming
multiprocessor (SM). This module counts what that model implies, with closed forms
and with exact replays of the kernels' loops, so that each count can be checked
against the other and against a run in Numba's CUDA simulator (:func:`simulate`):

- :func:`ownership`: which block, thread and warp computes each output of a 2-D
  output when output (row, col) belongs to thread (threadIdx.y, threadIdx.x) of
  block (blockIdx.y, blockIdx.x): row = blockIdx.y·blockDim.y + threadIdx.y,
  col = blockIdx.x·blockDim.x + threadIdx.x (x is the fast axis, as in CUDA).
- :func:`warp_transactions`, :func:`access_transactions`: the memory segments
  (32, 64 or 128 bytes, aligned) a warp's loads touch. A warp that reads 32
  consecutive float32 touches one 128-byte segment (a *coalesced* access); one that
  reads down a column of a row-major matrix touches 32.
- :func:`gemm_loads`, :func:`replay_gemm_loads`: global loads of C = A B by the naive
  kernel (each thread reads a row of A and a column of B) and by the tiled kernel
  (each block stages T × T tiles of A and B in shared memory): the tiled kernel reads
  each element of A once per block column, ceil(N / T) times instead of N times, so
  the loads fall by the tile size T.
- :func:`replay_tiled_gemm`: the tiled GEMM with or without its ``syncthreads``
  barriers, its threads run in a stated order, to show what a missing barrier does.
- :func:`occupancy`: resident blocks and warps per SM from registers per thread,
  shared memory per block and threads per block, by the rules of NVIDIA's CUDA
  Occupancy Calculator, for the limits of compute capabilities 7.5, 8.0 and 9.0
  (``SM_LIMITS``).

:func:`simulate` runs the demonstration kernels of :mod:`dlkit.hardware._cudasim` in
a separate Python process with ``NUMBA_ENABLE_CUDASIM=1``: the simulator must be
switched on before numba is first imported, and the caller's process keeps its
ordinary (CPU) numba.
"""

from __future__ import annotations

import json
import os
import pickle
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from typing import Sequence

import numpy as np

__all__ = [
    "WARP_SIZE",
    "Ownership",
    "ownership",
    "warp_transactions",
    "access_transactions",
    "gemm_loads",
    "replay_gemm_loads",
    "replay_tiled_gemm",
    "SMLimits",
    "SM_LIMITS",
    "Occupancy",
    "occupancy",
    "simulate",
    "simulate_many",
    "SimulatorError",
    "kernel_source",
    "grid_for",
]

#: Threads per warp on every NVIDIA GPU so far.
WARP_SIZE = 32


def _int(v, name: str, who: str, low: int = 1) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < low:
        raise ValueError(f"{who}: {name} must be an int >= {low}, got {v!r}")
    return int(v)


def _pair(v, name: str, who: str) -> tuple[int, int]:
    try:
        a, b = v
    except (TypeError, ValueError):
        raise ValueError(
            f"{who}: {name} must be a pair of ints such as (8, 4), got {v!r}"
        ) from None
    return _int(a, f"{name}[0]", who), _int(b, f"{name}[1]", who)


# ------------------------------------------------------------------------------ ownership


@dataclass(frozen=True)
class Ownership:
    """Who computes each output: arrays of the output's shape (rows, cols).

    ``block_x``/``block_y`` are blockIdx.x/.y, ``thread_x``/``thread_y`` threadIdx.x/.y,
    ``warp`` the warp within its block (threads are numbered x fastest:
    threadIdx.x + blockDim.x · threadIdx.y, and warp = that // 32).
    """

    block: tuple[int, int]
    grid: tuple[int, int]
    block_x: np.ndarray
    block_y: np.ndarray
    thread_x: np.ndarray
    thread_y: np.ndarray
    warp: np.ndarray

    @property
    def block_id(self) -> np.ndarray:
        """The block's number in the grid, blockIdx.x + gridDim.x · blockIdx.y."""
        return self.block_x + self.grid[0] * self.block_y

    @property
    def idle_threads(self) -> int:
        """Threads launched that own no output (the grid rounds the output up)."""
        bx, by = self.block
        gx, gy = self.grid
        return gx * gy * bx * by - self.warp.size


def grid_for(shape: Sequence[int], block: Sequence[int]) -> tuple[int, int]:
    """The grid (gridDim.x, gridDim.y) that covers an output of `shape` (rows, cols)
    with blocks of `block` (blockDim.x, blockDim.y): ceil(cols / bx), ceil(rows / by)."""
    rows, cols = _pair(shape, "shape", "grid_for")
    bx, by = _pair(block, "block", "grid_for")
    return -(-cols // bx), -(-rows // by)


def ownership(shape: Sequence[int], block: Sequence[int]) -> Ownership:
    """The thread → output map of a 2-D launch, from the index arithmetic.

    Parameters
    ----------
    shape : (rows, cols)
        The output's shape.
    block : (blockDim.x, blockDim.y)
        Threads per block along x (columns) and y (rows); at most 1,024 in all.
    """
    rows, cols = _pair(shape, "shape", "ownership")
    bx, by = _pair(block, "block", "ownership")
    if bx * by > 1024:
        raise ValueError(
            f"ownership: a block has at most 1024 threads, got block={block!r} "
            f"({bx * by}); make blockDim.x · blockDim.y smaller"
        )
    r, c = np.meshgrid(np.arange(rows), np.arange(cols), indexing="ij")
    tx, ty = c % bx, r % by
    return Ownership(
        (bx, by),
        grid_for((rows, cols), (bx, by)),
        c // bx,
        r // by,
        tx,
        ty,
        (tx + bx * ty) // WARP_SIZE,
    )


# ------------------------------------------------------------------------------ coalescing


def warp_transactions(addresses, segment: int = 128) -> int:
    """Memory transactions of one warp's load: the aligned `segment`-byte blocks its
    byte addresses fall in (segments of 32, 64 or 128 bytes).

    Parameters
    ----------
    addresses : array of ints
        The first byte each active thread of the warp reads (at most 32 of them).
    segment : int
        32, 64 or 128.
    """
    if segment not in (32, 64, 128):
        raise ValueError(f"warp_transactions: segment must be 32, 64 or 128 bytes, got {segment!r}")
    a = np.asarray(addresses)
    if a.ndim != 1 or a.size > WARP_SIZE or not np.issubdtype(a.dtype, np.integer) or np.any(a < 0):
        raise ValueError(
            "warp_transactions: addresses must be at most 32 byte addresses (ints >= 0), "
            "one per thread of the warp"
        )
    return int(np.unique(a // segment).size)


def access_transactions(
    rows: int, cols: int, order: str = "row", itemsize: int = 4, segment: int = 128
) -> int:
    """Transactions for a grid of threads reading every element of a row-major
    (rows, cols) matrix once, one element per thread, warps of 32 consecutive threads.

    ``order="row"``: thread t reads element (t // cols, t % cols), so a warp reads
    along a row (consecutive addresses). ``order="column"``: thread t reads
    (t % rows, t // rows), so a warp reads down a column, each thread a row apart.
    The matrix starts at an aligned address.
    """
    who = "access_transactions"
    rows, cols = _int(rows, "rows", who), _int(cols, "cols", who)
    itemsize = _int(itemsize, "itemsize", who)
    if order not in ("row", "column"):
        raise ValueError(f"{who}: order must be 'row' or 'column', got {order!r}")
    if segment not in (32, 64, 128):
        raise ValueError(f"{who}: segment must be 32, 64 or 128 bytes, got {segment!r}")
    t = np.arange(rows * cols)
    r, c = (t // cols, t % cols) if order == "row" else (t % rows, t // rows)
    seg = (r * cols + c) * itemsize // segment
    warp = t // WARP_SIZE
    # distinct (warp, segment) pairs: the transactions
    return int(np.unique(warp * (seg.max() + 1) + seg).size)


# ------------------------------------------------------------------------------ GEMM loads


def gemm_loads(M: int, N: int, K: int, tile: int | None = None) -> tuple[int, int]:
    """Global loads of A and of B by a GEMM kernel C = A B, A (M, K), B (K, N): closed form.

    One thread per output C[i, j]. The naive kernel (``tile=None``) reads row i of A
    and column j of B: every element of A is read N times and every element of B M
    times, (M·K·N, K·N·M). The tiled kernel (blocks of T × T threads, ``tile=T``)
    loads, for each of its ceil(K / T) phases, one T × T tile of A and one of B into
    shared memory, each element by one thread, skipping elements outside the
    matrices: every element of A is loaded once per block column and every element of
    B once per block row, (M·K·ceil(N / T), K·N·ceil(M / T)). When T divides M and N
    the loads fall by exactly the factor T.
    """
    who = "gemm_loads"
    M, N, K = _int(M, "M", who), _int(N, "N", who), _int(K, "K", who)
    if tile is None:
        return M * K * N, K * N * M
    T = _int(tile, "tile", who)
    return M * K * -(-N // T), K * N * -(-M // T)


def replay_gemm_loads(
    M: int, N: int, K: int, tile: int | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """How often each element of A (M, K) and of B (K, N) is loaded: the kernel's loops
    replayed block by block, phase by phase and thread by thread.

    The same loops as the kernels of :mod:`dlkit.hardware._cudasim` (``gemm_naive`` and
    ``gemm_tiled``), with a counter where they read global memory. Returns the two
    count arrays; their sums equal :func:`gemm_loads`.
    """
    who = "replay_gemm_loads"
    M, N, K = _int(M, "M", who), _int(N, "N", who), _int(K, "K", who)
    nA, nB = np.zeros((M, K), np.int64), np.zeros((K, N), np.int64)
    if tile is None:
        for i in range(M):
            for j in range(N):
                for k in range(K):  # acc += A[i, k] * B[k, j]
                    nA[i, k] += 1
                    nB[k, j] += 1
        return nA, nB
    T = _int(tile, "tile", who)
    for by in range(-(-M // T)):
        for bx in range(-(-N // T)):
            for phase in range(-(-K // T)):
                for ty in range(T):
                    for tx in range(T):
                        i, j = by * T + ty, bx * T + tx
                        ka, kb = phase * T + tx, phase * T + ty
                        if i < M and ka < K:  # sA[ty, tx] = A[i, phase·T + tx]
                            nA[i, ka] += 1
                        if kb < K and j < N:  # sB[ty, tx] = B[phase·T + ty, j]
                            nB[kb, j] += 1
    return nA, nB


def replay_tiled_gemm(A, B, tile: int, barriers: bool = True) -> np.ndarray:
    """C = A B by the tiled kernel's arithmetic, its threads run in a stated order.

    With ``barriers=True`` every thread of a block loads its tile elements before any
    thread reads the tiles, and every thread finishes reading before the next phase
    overwrites them: what the two ``cuda.syncthreads()`` calls guarantee, and C
    equals A B. With ``barriers=False`` each thread of a block runs its whole loop
    before the next thread starts (threadIdx.x fastest), one schedule the hardware
    may choose when nothing makes the threads wait for each other: a thread then
    reads tile slots that the others have not filled yet (zeros here; whatever the
    memory held, on a GPU) or have already overwritten with a later phase.
    """
    A = np.asarray(A, dtype=float)
    B = np.asarray(B, dtype=float)
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(
            f"replay_tiled_gemm: A (M, K) and B (K, N) must be matrices with matching K, "
            f"got {A.shape} and {B.shape}"
        )
    T = _int(tile, "tile", "replay_tiled_gemm")
    M, K = A.shape
    N = B.shape[1]
    C = np.zeros((M, N))
    phases = -(-K // T)
    for by in range(-(-M // T)):
        for bx in range(-(-N // T)):
            sA, sB = np.zeros((T, T)), np.zeros((T, T))

            def load(ty, tx, ph):
                i, j, ka, kb = by * T + ty, bx * T + tx, ph * T + tx, ph * T + ty
                sA[ty, tx] = A[i, ka] if i < M and ka < K else 0.0
                sB[ty, tx] = B[kb, j] if kb < K and j < N else 0.0

            def dot(ty, tx):
                return sum(sA[ty, k] * sB[k, tx] for k in range(T))

            threads = [(ty, tx) for ty in range(T) for tx in range(T)]
            acc = dict.fromkeys(threads, 0.0)
            if barriers:
                for ph in range(phases):
                    for t in threads:
                        load(*t, ph)
                    # cuda.syncthreads(): all loads done
                    for t in threads:
                        acc[t] += dot(*t)
                    # cuda.syncthreads(): all reads done
            else:
                for t in threads:
                    for ph in range(phases):
                        load(*t, ph)
                        acc[t] += dot(*t)
            for (ty, tx), v in acc.items():
                i, j = by * T + ty, bx * T + tx
                if i < M and j < N:
                    C[i, j] = v
    return C


# ------------------------------------------------------------------------------ occupancy


@dataclass(frozen=True)
class SMLimits:
    """Per-SM limits of one compute capability (the CUDA C++ Programming Guide's table
    of technical specifications, and the CUDA Occupancy Calculator's allocation rules).
    """

    cc: str
    max_threads: int
    max_warps: int
    max_blocks: int
    registers: int
    max_registers_per_thread: int
    register_unit: int  # registers are allocated per warp in units of this many
    shared_bytes: int  # shared memory an SM can give its blocks (the largest carve-out)
    max_shared_per_block: int
    shared_unit: int  # shared memory is allocated per block in units of this many bytes
    shared_reserved: int  # bytes the system reserves in every block (cc >= 8.0)
    max_threads_per_block: int = 1024
    sub_partitions: int = 4  # registers are split over 4 SM sub-partitions


#: Turing (7.5, e.g. the RTX 2080 Ti), Ampere A100 (8.0) and Hopper H100/H200 (9.0).
SM_LIMITS = {
    "7.5": SMLimits("7.5", 1024, 32, 16, 65536, 255, 256, 65536, 65536, 256, 0),
    "8.0": SMLimits("8.0", 2048, 64, 32, 65536, 255, 256, 167936, 166912, 128, 1024),
    "9.0": SMLimits("9.0", 2048, 64, 32, 65536, 255, 256, 233472, 232448, 128, 1024),
}


@dataclass(frozen=True)
class Occupancy:
    """Resident blocks per SM, the limit of each resource, and the occupancy."""

    cc: str
    blocks: int
    warps: int
    max_warps: int
    limits: dict  # resource -> blocks that resource allows

    @property
    def fraction(self) -> float:
        """Active warps over the SM's maximum: the occupancy."""
        return self.warps / self.max_warps

    @property
    def limiter(self) -> str:
        """The resource that allows the fewest blocks (the first such, in the order
        warps, blocks, registers, shared memory)."""
        return min(self.limits, key=self.limits.get)


def occupancy(
    threads_per_block: int,
    registers_per_thread: int,
    shared_per_block: int = 0,
    cc: str = "7.5",
) -> Occupancy:
    """Blocks of a kernel resident on one SM, and the occupancy they give.

    Each resource allows some number of blocks; the SM holds the least of them:

    - warps: floor(max warps per SM / warps per block), warps per block = ceil(threads / 32);
    - blocks: the SM's maximum of resident blocks;
    - registers: a warp gets ceil(32·registers / 256)·256 registers; each of the 4
      sub-partitions of the SM holds floor((registers per SM / 4) / that) warps, and
      whole blocks of the resulting warps fit;
    - shared memory: a block gets its shared memory plus the reserved bytes, rounded
      up to the allocation unit; floor(shared memory per SM / that) blocks fit.

    Parameters
    ----------
    threads_per_block : int
        1 ... 1024.
    registers_per_thread : int
        As the compiler reports it (``ptxas -v``, or ``kernel.get_regs_per_thread()``), 1 ... 255.
    shared_per_block : int
        Bytes of shared memory per block (static plus dynamic), >= 0.
    cc : str
        Compute capability: a key of ``SM_LIMITS``.
    """
    who = "occupancy"
    if cc not in SM_LIMITS:
        raise ValueError(f"{who}: cc must be one of {', '.join(map(repr, SM_LIMITS))}, got {cc!r}")
    L = SM_LIMITS[cc]
    t = _int(threads_per_block, "threads_per_block", who)
    if t > L.max_threads_per_block:
        raise ValueError(f"{who}: at most {L.max_threads_per_block} threads per block, got {t}")
    r = _int(registers_per_thread, "registers_per_thread", who)
    if r > L.max_registers_per_thread:
        raise ValueError(
            f"{who}: at most {L.max_registers_per_thread} registers per thread on cc {cc}, got {r}"
        )
    s = _int(shared_per_block, "shared_per_block", who, 0)
    if s > L.max_shared_per_block:
        raise ValueError(
            f"{who}: at most {L.max_shared_per_block:,} bytes of shared memory per block on "
            f"cc {cc}, got {s:,}"
        )
    warps_per_block = -(-t // WARP_SIZE)
    regs_per_warp = -(-r * WARP_SIZE // L.register_unit) * L.register_unit
    warps_by_regs = (L.registers // L.sub_partitions // regs_per_warp) * L.sub_partitions
    limits = {
        "warps": L.max_warps // warps_per_block,
        "blocks": L.max_blocks,
        "registers": warps_by_regs // warps_per_block,
    }
    if s > 0:
        per_block = -(-(s + L.shared_reserved) // L.shared_unit) * L.shared_unit
        limits["shared memory"] = L.shared_bytes // per_block
    blocks = min(limits.values())
    return Occupancy(cc, blocks, blocks * warps_per_block, L.max_warps, limits)


# ------------------------------------------------------------------------------ simulator


class SimulatorError(RuntimeError):
    """A kernel run in Numba's CUDA simulator failed; the message holds its traceback."""


def simulate_many(jobs: Sequence[tuple[str, dict]], timeout: float = 300.0) -> list[dict]:
    """Run demonstration kernels in Numba's CUDA simulator, in one fresh Python process.

    Parameters
    ----------
    jobs : sequence of (name, kwargs)
        Jobs of :mod:`dlkit.hardware._cudasim`: ``("ownership", {"shape": (rows, cols),
        "block": (bx, by)})``, ``("gemm", {"M":, "N":, "K":, "tile": T or None,
        "seed":})`` (C and the per-element load counts of A and B, counted by atomic
        adds in the kernel), ``("gemm_no_sync", {...})`` (the tiled kernel without its
        barriers).
    timeout : float
        Seconds before the process is stopped.

    Returns
    -------
    list of dict of numpy arrays, one per job.

    The process starts with ``NUMBA_ENABLE_CUDASIM=1`` in its environment, so numba is
    imported there with the simulator on, whatever the calling process imported.
    """
    for job in jobs:
        if not (isinstance(job, tuple) and len(job) == 2 and isinstance(job[1], dict)):
            raise ValueError(f"simulate_many: each job must be (name, kwargs), got {job!r}")
    env = {**os.environ, "NUMBA_ENABLE_CUDASIM": "1"}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "result.pkl")
        spec = json.dumps([[name, kw] for name, kw in jobs])
        proc = subprocess.run(
            [sys.executable, "-m", "dlkit.hardware._cudasim", out],
            input=spec,
            text=True,
            capture_output=True,
            env=env,
            timeout=timeout,
        )
        if proc.returncode != 0:
            raise SimulatorError(proc.stderr.strip().splitlines()[-1] if proc.stderr else "failed")
        with open(out, "rb") as f:
            return pickle.load(f)


def simulate(job: str, **kwargs) -> dict:
    """One job of :func:`simulate_many`: ``simulate("ownership", shape=(6, 10), block=(4, 4))``."""
    return simulate_many([(job, kwargs)])[0]


def kernel_source(name: str, module: str = "dlkit.hardware._cudasim"):
    """The source of the kernel (or function) `name` of `module`, for display as
    ``dlkit.show_source`` shows code, read from the module's file without importing it
    (importing a CUDA module imports numba.cuda, which must not happen in a process
    that may later want the simulator).

    ``kernel_source("make_gemm_tiled")`` shows a demonstration kernel of
    :mod:`dlkit.hardware._cudasim`; ``kernel_source("conv2d_direct_kernel",
    "dlkit.kernels.cuda")`` a kernel of dlkit's CUDA backend.
    """
    import ast
    import importlib.util

    import dlkit

    spec = importlib.util.find_spec(module) if module.startswith("dlkit.") else None
    if spec is None or not spec.origin or not spec.origin.endswith(".py"):
        raise ValueError(f"kernel_source: module must be a dlkit module, got {module!r}")
    with open(spec.origin, encoding="utf-8") as f:
        text = f.read()
    for node in ast.parse(text).body:
        if isinstance(node, ast.FunctionDef) and node.name == name:
            first = min([d.lineno for d in node.decorator_list] + [node.lineno])
            code = "\n".join(text.splitlines()[first - 1 : node.end_lineno]) + "\n"
            # A compiled CUDA kernel has no entry of its own in the API reference: link
            # to its module, or to the public package above a private one.
            public = []
            for part in module.split("."):
                if part.startswith("_"):
                    break
                public.append(part)
            return dlkit.Source.from_code(code, module, name, anchor="module-" + ".".join(public))
    raise ValueError(f"kernel_source: no kernel {name!r} in {module.replace('.', '/')}.py")
