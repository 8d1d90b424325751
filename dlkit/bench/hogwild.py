"""Benchmark group "hogwild": SGD updates per second of threads sharing one θ.

:func:`dlkit.parallel.hogwild.hogwild` runs p Numba ``nogil`` workers on Python threads
that update one weight vector: with no lock (HOGWILD!), with a global spin lock, or
with atomic adds. One row per problem, mode and thread count (p = 1 and 2), on

* the sparse problem: logistic regression with 10 non-zeros per example among
  P = 10,000 coordinates, 50,000 training examples
  (:func:`~dlkit.parallel.hogwild.sparse_problem`);
* the dense problem: every example non-zero on all P = 100 coordinates, 20,000 examples
  (:func:`~dlkit.parallel.hogwild.dense_problem`).

An update is one SGD step on one example. Each row's time is seconds per million
updates (all threads together), the median over the rounds of
:func:`dlkit.bench.rounds`; in each round dlkit's side (all its rows, one run of four
epochs each) and the peer's run in fresh processes, in alternating order, and the
ratio is the median of the per-round ratios. The note gives the median rate.

The HOGWILD! rows of the sparse problem have a peer: PyTorch's shared-memory Hogwild
pattern of its ``mnist_hogwild`` example (``torch.multiprocessing``, p processes
updating one ``share_memory_()`` tensor in place), running the same SGD steps on the
first 20,000 of the same examples, in the same order, with ``index_select`` and
``index_add_`` (a Python loop of per-example tensor operations, as that pattern runs
one). Goal: ratio at most 1.0 (dlkit at least as fast).

PyTorch may live in another interpreter than dlkit's (it needs only numpy and torch):
set ``DLKIT_BENCH_TORCH_PYTHON`` to that interpreter's path. Without PyTorch the peer
columns stay empty.
"""

from __future__ import annotations

import json
import os
import statistics
import subprocess
import sys
import tempfile

from dlkit.bench import Row, register, rounds

THREADS = (1, 2)
LR = 0.5
EPOCHS = 4  # per timed run; the rate is epochs × N / (time inside the epochs)
TORCH_N = 20_000  # examples of PyTorch's epoch (its per-step cost is far higher)


def dlkit_rates() -> dict:
    """{"problem/mode/p": updates per second} for every row, in this process."""
    from dlkit.parallel import hogwild as hw

    rates = {}
    for problem, lr in ((hw.sparse_problem(), LR), (hw.dense_problem(), LR / 10)):
        kind = "sparse" if problem.name.startswith("sparse") else "dense"
        for mode in hw.MODES:
            for p in THREADS:
                res = hw.hogwild(problem, p, mode, epochs=EPOCHS, lr=lr, seed=0)
                rates[f"{kind}/{mode}/{p}"] = res.updates_per_s
    return rates


def write_sparse_problem(path: str) -> None:
    """The first TORCH_N sparse training examples in the order of dlkit's first epoch
    (an .npz file)."""
    import numpy as np

    from dlkit.parallel import hogwild as hw

    problem = hw.sparse_problem()
    tr = problem.train
    ex = hw.shuffled(tr, hw.epoch_orders(tr.N, 1, 0)[0][:TORCH_N])
    np.savez(path, indptr=ex.indptr, indices=ex.indices, data=ex.data, y=ex.y, P=problem.P)


def _torch_worker(r, p, indptr, indices, data, y, theta, lr, barrier, times):
    """mnist_hogwild's ``train``: this process's SGD steps on the shared θ, in place."""
    import math
    import time

    import torch

    torch.set_num_threads(1)
    bounds, labels = indptr.tolist(), y.tolist()
    barrier.wait()
    t0 = time.perf_counter()
    with torch.no_grad():
        for n in range(r, len(labels), p):
            lo, hi = bounds[n], bounds[n + 1]
            j, x = indices[lo:hi], data[lo:hi]
            z = torch.dot(theta.index_select(0, j), x).item()
            step = lr * (-labels[n] / (1.0 + math.exp(labels[n] * z)))
            theta.index_add_(0, j, x, alpha=-step)
    times[2 * r], times[2 * r + 1] = t0, time.perf_counter()


def torch_rate(path: str, p: int, lr: float = LR) -> float:
    """Updates per second of p torch.multiprocessing workers on one shared θ (one epoch)."""
    import numpy as np
    import torch
    import torch.multiprocessing as mp

    f = np.load(path)
    tensors = [torch.from_numpy(f[k]).share_memory_() for k in ("indptr", "indices", "data", "y")]
    theta = torch.zeros(int(f["P"]), dtype=torch.float64).share_memory_()
    ctx = mp.get_context("spawn")
    barrier, times = ctx.Barrier(p), ctx.Array("d", 2 * p)
    procs = [
        ctx.Process(target=_torch_worker, args=(r, p, *tensors, theta, lr, barrier, times))
        for r in range(p)
    ]
    for proc in procs:
        proc.start()
    for proc in procs:
        proc.join()
        if proc.exitcode != 0:
            raise RuntimeError(f"a torch worker exited with code {proc.exitcode}")
    seconds = max(times[1::2]) - min(times[0::2])  # perf_counter is one clock for all
    return len(f["y"]) / seconds


def _run(python: str, code: str):
    root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    env = dict(os.environ, PYTHONPATH=root + os.pathsep + os.environ.get("PYTHONPATH", ""))
    proc = subprocess.run([python, "-c", code], capture_output=True, text=True, env=env)
    if proc.returncode != 0:
        raise RuntimeError(f"{python} -c {code!r} failed:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def _torch_python() -> str | None:
    python = os.environ.get("DLKIT_BENCH_TORCH_PYTHON", sys.executable)
    ok = subprocess.run([python, "-c", "import torch"], capture_output=True).returncode == 0
    return python if ok else None


@register("hogwild")
def bench() -> list[Row]:
    code = "import json, dlkit.bench.hogwild as m; print(json.dumps(m.{}))"
    torch_python = _torch_python()
    ours, theirs = [], {p: [] for p in THREADS}
    with tempfile.TemporaryDirectory() as tmp:
        path = os.path.join(tmp, "sparse.npz")
        if torch_python is not None:
            write_sparse_problem(path)

        def peer_round():
            for p in THREADS:
                theirs[p].append(_run(torch_python, code.format(f"torch_rate({path!r}, {p})")))

        for r in range(rounds()):  # alternate the sides, and which goes first
            if torch_python is not None and r % 2:
                peer_round()
            ours.append(_run(sys.executable, code.format("dlkit_rates()")))
            if torch_python is not None and not r % 2:
                peer_round()
    rows = []
    for key in ours[0]:
        kind, mode, p = key.split("/")
        p = int(p)
        rate = statistics.median(o[key] for o in ours)
        note = f"{rate / 1e6:.2f} M updates/s"
        if p > 1:
            one = statistics.median(o[f"{kind}/{mode}/1"] for o in ours)
            note += f", x{rate / one:.2f} over 1 thread"
        peer = peer_s = None
        if kind == "sparse" and mode == "hogwild":
            if theirs[p]:
                peer, peer_s = "torch.mp", [1e6 / t for t in theirs[p]]
                note += f"; torch {statistics.median(theirs[p]) / 1e6:.3f} M updates/s"
                note += "; goal ratio <= 1"
            else:
                note += "; torch not installed (set DLKIT_BENCH_TORCH_PYTHON)"
        name = f"{kind} {mode}, {p} thread{'s' if p > 1 else ''}, per 1M updates"
        dlkit_s = [1e6 / o[key] for o in ours]
        rows.append(Row.from_rounds("hogwild", name, dlkit_s, peer, peer_s, note))
    return rows
