"""The measurements and runs of the chapter *GPUs and kernels*.

- :func:`machine_ceiling`: this machine's peak P (BLAS GEMM) and bandwidth B (STREAM
  triad), as a :class:`dlkit.hardware.roofline.Ceiling`.
- :func:`comparison_rows`: the seed's CPU/GPU table, the datacenter GPU and this
  machine's measured row.
- :func:`three_ways`: one small convolution by pure-Python loops, by the Numba kernel
  and by im2col + BLAS, timed, with the outputs checked against each other.
- :func:`cuda_model_runs`: the simulator runs the chapter draws (ownership map, GEMM
  load counts, a tiled GEMM without barriers), in one simulator process.
- :func:`explorer_table`: ownership maps and load counts for every position of the
  explorer's controls, computed ahead.
- :func:`load_gpu_runs`: the recorded runs on real GPUs, from ``dlkit/data/gpu_runs.json``.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Sequence

import numpy as np

from dlkit.hardware import cudamodel, roofline, specs

__all__ = [
    "machine_ceiling",
    "comparison_rows",
    "three_ways",
    "cuda_model_runs",
    "explorer_table",
    "GPU_RUNS_PATH",
    "load_gpu_runs",
    "add_gpu_run",
]

#: The committed file of GPU runs (schema in :func:`load_gpu_runs`).
GPU_RUNS_PATH = Path(__file__).resolve().parent.parent / "data" / "gpu_runs.json"


def machine_ceiling(n_gemm: int = 1024, n_triad: int = 2**22, repeats: int = 3):
    """(Ceiling, gemm point, triad point) of the machine this runs on (timings: they vary)."""
    g = roofline.measure_peak(n_gemm, repeats=repeats)
    t = roofline.measure_triad(n_triad, repeats=repeats)
    name = f"this machine ({os.cpu_count()} cores)"
    return roofline.Ceiling(name, g.gflops, t.bytes / t.seconds / 1e9), g, t


def comparison_rows(ceiling: roofline.Ceiling | None = None) -> list[dict]:
    """Rows of the CPU/GPU table: name, cores, clock, memory, B (GB/s), P (GFLOP/s),
    price, P / B; the seed's rows, the datacenter GPU, and `ceiling` (measured) if given."""
    rows = [
        {
            "name": d.name,
            "cores": f"{d.cores:,}",
            "clock": f"{d.clock_ghz:g} GHz",
            "memory": d.memory,
            "B": d.bandwidth_gbs,
            "P": d.peak_gflops,
            "price": d.price,
            "ridge": d.ridge,
        }
        for d in specs.all_devices()
    ]
    if ceiling is not None:
        rows.append(
            {
                "name": ceiling.name,
                "cores": str(os.cpu_count()),
                "clock": "",
                "memory": "system RAM",
                "B": ceiling.bandwidth_gbs,
                "P": ceiling.peak_gflops,
                "price": "",
                "ridge": ceiling.ridge,
            }
        )
    return rows


def three_ways(
    N: int = 4, C: int = 3, C_out: int = 8, H: int = 16, k: int = 3, repeats: int = 7
) -> dict:
    """One float32 convolution (N, C, H, H) * (C_out, C, k, k), stride 1, by three codes.

    ``loops`` is :func:`dlkit.conv.direct.conv2d_direct_loops` (the definition in pure
    Python, one multiply-accumulate at a time), ``numba`` is
    :func:`dlkit.conv.compiled.conv2d_numba` (the compiled direct kernel), ``blas`` is
    ``dlkit.conv.conv2d(..., algorithm="im2col")`` (unfold, then one GEMM by numpy's
    BLAS). Returns their times (seconds: one call of the loops, which take a large
    fraction of a second; the best of `repeats` calls of the compiled codes, which take
    microseconds) and the largest difference between the outputs.
    """
    import time

    from dlkit import conv
    from dlkit.conv.compiled import conv2d_numba
    from dlkit.conv.direct import conv2d_direct_loops

    r = np.random.default_rng(0)
    x = r.standard_normal((N, C, H, H)).astype(np.float32)
    w = r.standard_normal((C_out, C, k, k)).astype(np.float32)
    t0 = time.perf_counter()
    ref = conv2d_direct_loops(x, w)
    seconds = {"loops": time.perf_counter() - t0}
    fns = {
        "numba": lambda: conv2d_numba(x, w),
        "blas": lambda: conv.conv2d(x, w, algorithm="im2col"),
    }
    for name, fn in fns.items():
        seconds[name] = roofline.best_time(fn, repeats)
    diff = max(float(np.abs(fn() - ref).max()) for fn in fns.values())
    return {"seconds": seconds, "max_difference": diff, "shape": (N, C, C_out, H, k)}


def cuda_model_runs(
    own_shape=(12, 20), own_block=(8, 4), gemm=(13, 11, 9), tile: int = 4, seed: int = 0
) -> dict:
    """The chapter's simulator runs, in one simulator process: the ownership map of an
    output of `own_shape` with blocks `own_block`; the naive and the tiled GEMM of
    sizes `gemm` = (M, N, K) with load counters; the tiled GEMM without barriers."""
    M, N, K = gemm
    g = {"M": M, "N": N, "K": K, "seed": seed}
    own, naive, tiled, nosync = cudamodel.simulate_many(
        [
            ("ownership", {"shape": list(own_shape), "block": list(own_block)}),
            ("gemm", {**g, "tile": None}),
            ("gemm", {**g, "tile": tile}),
            ("gemm_no_sync", {**g, "tile": tile}),
        ]
    )
    return {"ownership": own, "naive": naive, "tiled": tiled, "no_sync": nosync}


def explorer_table(
    shape=(16, 32),
    blocks: Sequence[tuple[int, int]] = ((4, 4), (8, 4), (8, 8), (16, 8), (32, 4), (32, 8)),
    tiles: Sequence[int] = (1, 2, 4, 8, 16, 32),
    gemm: int = 64,
) -> dict:
    """Everything the explorer shows, for each position of its controls: the ownership
    map of an output of `shape` for each block shape, and the global loads of a
    `gemm`³ GEMM for each tile size (closed form, checked here against the replay for
    the small sizes)."""
    maps = {b: cudamodel.ownership(shape, b) for b in blocks}
    loads = {}
    for T in tiles:
        a, b = cudamodel.gemm_loads(gemm, gemm, gemm, T)
        loads[T] = a + b
    naive = sum(cudamodel.gemm_loads(gemm, gemm, gemm))
    return {"shape": shape, "maps": maps, "loads": loads, "naive": naive, "gemm": gemm}


def load_gpu_runs(path: str | os.PathLike | None = None) -> list[dict]:
    """The runs recorded on real GPUs, oldest first.

    The file is JSON, ``{"runs": [run, ...]}``; each run is what
    ``python -m dlkit.bench.gpu --out FILE`` writes (:func:`dlkit.bench.gpu.figures`):

    - ``device``: the GPU's name, ``compute_capability`` (``"9.0"``), ``date`` (ISO),
      and the versions used (``numba``, ``numba-cuda``, ``cupy``, ``torch``,
      ``cuda_driver``) where present;
    - ``rows``: the benchmark rows, each ``{"group", "name", "dlkit_s", "peer",
      "peer_s", "note", ...}`` (:meth:`dlkit.bench.Row.as_dict`): dlkit's time in
      seconds beside its peer's (cuBLAS, cuDNN, PyTorch), ``None`` where one was not
      timed.

    An empty list means no GPU run has been recorded yet. :func:`add_gpu_run` appends
    a run to the file.
    """
    p = Path(path) if path is not None else GPU_RUNS_PATH
    data = json.loads(p.read_text(encoding="utf-8"))
    runs = data.get("runs") if isinstance(data, dict) else None
    if not isinstance(runs, list):
        raise ValueError(f"{p}: expected {{'runs': [...]}}, got {type(data).__name__}")
    for i, run in enumerate(runs):
        missing = {"device", "date", "rows"} - set(run)
        if missing:
            raise ValueError(f"{p}: run {i} lacks {', '.join(sorted(missing))}")
        for row in run["rows"]:
            if "name" not in row or "dlkit_s" not in row:
                raise ValueError(f"{p}: every row of run {i} needs 'name' and 'dlkit_s'")
    return runs


def add_gpu_run(run_file: str | os.PathLike, path: str | os.PathLike | None = None) -> int:
    """Append the run in `run_file` (written by ``python -m dlkit.bench.gpu --out``) to
    the runs file (``dlkit/data/gpu_runs.json`` by default); return the number of runs."""
    p = Path(path) if path is not None else GPU_RUNS_PATH
    run = json.loads(Path(run_file).read_text(encoding="utf-8"))
    runs = load_gpu_runs(p)
    runs.append(run)
    tmp = p.with_suffix(".json.tmp")
    tmp.write_text(json.dumps({"runs": runs}, indent=1) + "\n", encoding="utf-8")
    load_gpu_runs(tmp)  # refuse a run without device, date and rows before replacing
    os.replace(tmp, p)
    return len(runs)
