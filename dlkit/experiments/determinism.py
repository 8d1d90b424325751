"""Where run-to-run differences come from, measured (chapter 16's determinism section).

Each function runs one source of difference and returns the numbers a chapter asserts
and draws:

- :func:`order_sums`: one vector summed in several orders (left to right, right to
  left, by magnitude, numpy's pairwise sum) against the exact sum;
- :func:`thread_sums`: the usual parallel sum and the fixed-block sum of
  :mod:`dlkit.determinism` under several thread counts, and their times;
- :func:`blas_kernels`: one matrix product under another OpenBLAS kernel (a
  subprocess with ``OPENBLAS_CORETYPE``), the effect that changes printed digits
  between CPUs;
- :func:`hogwild_orders` and :func:`async_orders`: the update order of HOGWILD!
  threads (replayed) and of asynchronous SGD on a simulated cluster under two networks;
- :func:`atomic_orders`: the order in which a GPU's blocks add their partial sums
  atomically (the simulator runs blocks one after another, so it is drawn here);
- :func:`digits_run`, :func:`distance`: a small MLP on the digits with a trace of every
  step (another seed, another initialisation, an injected bug).
"""

from __future__ import annotations

import json
import math
import os
import subprocess
import sys
import time
from dataclasses import dataclass

import numpy as np

from dlkit import determinism as det
from dlkit import nn
from dlkit.optim import SGD
from dlkit.train import accuracy, fit

__all__ = [
    "wide_range",
    "order_sums",
    "thread_sums",
    "ThreadSums",
    "blas_kernels",
    "BlasKernels",
    "hogwild_orders",
    "async_orders",
    "atomic_orders",
    "digits_run",
    "DigitsRun",
    "distance",
    "rel_diff",
]


def rel_diff(a, b) -> float:
    """max |a − b| / max |b|: 0.0 for bit-equal results."""
    a, b = np.asarray(a, np.float64), np.asarray(b, np.float64)
    return float(np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-300))


def wide_range(n: int = 1_000_000, seed: int = 0) -> np.ndarray:
    """n float64 numbers of both signs whose magnitudes span 12 decades: a sum of them
    rounds differently in every order."""
    g = np.random.default_rng(seed)
    return g.standard_normal(n) * 10.0 ** g.uniform(-6, 6, n)


def order_sums(x: np.ndarray) -> dict[str, float]:
    """Σ x in five orders: left to right, right to left, by increasing magnitude, numpy's
    pairwise sum, and the exact sum rounded once (``math.fsum``)."""
    return {
        "left to right": det.sequential_sum(x),
        "right to left": det.sequential_sum(x[::-1]),
        "small first": det.sequential_sum(x[np.argsort(np.abs(x), kind="stable")]),
        "numpy (pairwise)": float(np.sum(x)),
        "exact": math.fsum(x.tolist()),
    }


@dataclass
class ThreadSums:
    """Sums of one vector under each thread count T: the usual one chunk per thread
    (``parallel``) and the fixed-block sum (``blocked``), and their median times (s)."""

    threads: tuple[int, ...]
    parallel: list[float]
    blocked: list[float]
    seconds_parallel: list[float]
    seconds_blocked: list[float]


def _median_time(fn, repeats: int) -> float:
    times = []
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def thread_sums(x: np.ndarray, threads=(1, 2, 3, 4, 8, 16), repeats: int = 5) -> ThreadSums:
    """:func:`dlkit.determinism.parallel_sum` and :func:`~dlkit.determinism.blocked_sum`
    of `x` with each thread count (each timed: the median of `repeats` runs)."""
    threads = tuple(threads)
    det.blocked_sum(x[:10], 2), det.parallel_sum(x[:10], 2)  # compiled before timing
    return ThreadSums(
        threads,
        [det.parallel_sum(x, t) for t in threads],
        [det.blocked_sum(x, t) for t in threads],
        [_median_time(lambda t=t: det.parallel_sum(x, t), repeats) for t in threads],
        [_median_time(lambda t=t: det.blocked_sum(x, t), repeats) for t in threads],
    )


_BLAS_CHILD = """
import json, sys
import numpy as np
from threadpoolctl import threadpool_info
n, seed, out = int(sys.argv[1]), int(sys.argv[2]), sys.argv[3]
g = np.random.default_rng(seed)
A, B = g.standard_normal((n, n)), g.standard_normal((n, n))
np.save(out, A @ B)
arch = [i.get("architecture") for i in threadpool_info() if i.get("internal_api") == "openblas"]
print(json.dumps(arch[0] if arch else None))
"""


@dataclass
class BlasKernels:
    """One product A B (n × n, seeded) under each OpenBLAS kernel asked for: the kernel
    the library reported (None when it is not OpenBLAS), and the products."""

    asked: list[str | None]
    reported: list[str | None]
    products: list[np.ndarray]


def blas_kernels(
    coretypes=(None, "Prescott"), n: int = 256, seed: int = 0, tmpdir: str | None = None
) -> BlasKernels:
    """Compute the same product in one subprocess per entry of `coretypes`, with
    ``OPENBLAS_CORETYPE`` set to it (None: the machine's own kernel, with any pinned
    ``OPENBLAS_CORETYPE`` left out) and one BLAS thread.

    On x86-64, ``Prescott`` (SSE3, no FMA) runs on every CPU; on other CPUs OpenBLAS
    ignores names it does not know and runs its own kernel.
    """
    import tempfile

    asked, reported, products = [], [], []
    with tempfile.TemporaryDirectory(dir=tmpdir) as tmp:
        for i, core in enumerate(coretypes):
            env = {k: v for k, v in os.environ.items() if k != "OPENBLAS_CORETYPE"}
            env["OPENBLAS_NUM_THREADS"] = "1"
            if core is not None:
                env["OPENBLAS_CORETYPE"] = core
            out = os.path.join(tmp, f"p{i}.npy")
            run = subprocess.run(
                [sys.executable, "-c", _BLAS_CHILD, str(n), str(seed), out],
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            asked.append(core)
            reported.append(json.loads(run.stdout.strip().splitlines()[-1]))
            products.append(np.load(out))
    return BlasKernels(asked, reported, products)


def hogwild_orders(threads=(1, 2, 4, 8), epochs: int = 3, seed: int = 0) -> dict[int, np.ndarray]:
    """θ after HOGWILD! (no lock) on one sparse problem, replayed serially with p threads
    for each p of `threads` (the same bits on every run and machine for a given p)."""
    from dlkit.parallel import hogwild as hw

    problem = hw.sparse_problem(N=4_000, P=1_000, nnz=10, seed=seed)
    return {
        p: hw.hogwild(problem, p, "hogwild", epochs, 0.5, seed, serial=True).theta for p in threads
    }


def _logistic_grad(theta, batch, seed):
    Xb, yb = batch
    return Xb.T @ (1.0 / (1.0 + np.exp(-(Xb @ theta))) - yb) / len(yb)


def async_orders(p: int = 4, steps: int = 30, slow: float = 3.0, seed: int = 0) -> dict:
    """θ after asynchronous SGD (Downpour, plain SGD on the server) with p replicas on a
    simulated cluster, under three timings: equal replicas on 10 GbE, the same on 1 GbE,
    and one replica `slow` times slower. The program and the data are the same; the
    gradients reach the server in another order, with other staleness. Returns
    ``{timing: (θ, staleness histogram)}``; each is the same on every rerun, since the
    simulator's clock is virtual."""
    from dlkit.cluster import Faults
    from dlkit.parallel.downpour import simulate

    g = np.random.default_rng(seed)
    X = g.standard_normal((800, 20))
    y = (X @ g.standard_normal(20) > 0).astype(np.float64)
    timings = {
        "10 GbE": dict(network="10gbe"),
        "1 GbE": dict(network="1gbe"),
        f"10 GbE, replica 1 {slow:g}x slower": dict(network="10gbe", faults=Faults(slow={2: slow})),
    }
    out = {}
    for name, kw in timings.items():
        run = simulate(
            p,
            _logistic_grad,
            np.zeros(20),
            (X, y),
            lr=0.5,
            steps=steps,
            batch_size=10,
            adagrad=False,
            step_flops=2e6,  # 2 Mflop per gradient: compute and messages both matter
            **kw,
        )
        out[name] = (run.theta, run.hist)
    return out


def atomic_orders(
    n: int = 1 << 20, blocks: int = 1024, threads: int = 256, trials: int = 200, seed: int = 0
) -> np.ndarray:
    """The float32 sum of n numbers as ``dlkit.kernels.cuda.sum_reduce_kernel`` computes
    it on a GPU, with the blocks' atomic adds landing in `trials` random orders.

    Each of the ``blocks × threads`` threads adds its entries of a grid-stride loop;
    each block reduces its threads' sums in a halving tree; then every block adds its
    sum to out[0] with one atomic add, in the order the blocks finish, which on a GPU
    changes from launch to launch. Numba's CUDA simulator runs the blocks one after
    another, always in the same order, so the orders are drawn here from a seeded
    generator. Returns the `trials` float32 results.
    """
    g = np.random.default_rng(seed)
    x = g.standard_normal(n).astype(np.float32)
    grid = blocks * threads
    acc = np.zeros(grid, np.float32)
    for start in range(0, n, grid):  # the grid-stride loop, one pass per stride
        part = x[start : start + grid]
        acc[: part.size] += part
    tree = acc.reshape(blocks, threads)
    while tree.shape[1] > 1:  # the halving tree inside each block
        half = tree.shape[1] // 2
        tree = tree[:, :half] + tree[:, half:]
    block_sums = tree[:, 0]
    out = np.empty(trials, np.float32)
    for t in range(trials):
        total = np.float32(0)
        for k in g.permutation(blocks):  # the order in which the blocks finish
            total = np.float32(total + block_sums[k])
        out[t] = total
    return out


class _FlipAt(det.Trace):
    """A Trace that flips the last bit of the weight W[0, 0] of the network's last layer
    right after step `step`, before recording it: the smallest change a run can see."""

    def __init__(self, step: int, keep_params: bool):
        super().__init__(keep_params=keep_params)
        self.flip_step = step

    def record(self, step: int, model) -> None:
        if step == self.flip_step:
            model.layers[-1].W.data.view(np.uint64)[0, 0] ^= 1
        super().record(step, model)


@dataclass
class DigitsRun:
    """A small MLP trained on the digits: its trace, step losses and test accuracy."""

    trace: det.Trace
    step_loss: list[float]
    test_accuracy: float


def digits_run(
    *,
    seed: int = 0,
    init_seed: int = 0,
    bug: str | None = None,
    epochs: int = 1,
    hidden: int = 32,
    lr: float = 0.05,
    keep_params: bool = True,
    split=None,
    flip_at: int | None = None,
) -> DigitsRun:
    """Train ``mlp([64, hidden, 10])`` on the standardised digits by SGD (batch 32),
    recording a :class:`~dlkit.determinism.Trace` of every step.

    ``seed`` orders the batches, ``init_seed`` draws the initial weights, ``bug`` (if
    given) puts a :class:`~dlkit.determinism.BuggyLinear` with that bug as the first
    layer; ``flip_at`` (if given) flips the last bit of one weight of the last layer
    right after that step, to follow how a difference in the last bit grows.
    """
    if split is None:
        from dlkit.data import load_digits
        from dlkit.data.preprocess import standardize

        split = standardize(load_digits())
    X, y, Xt, yt = split
    net = nn.mlp([X.shape[1], hidden, 10], "relu", seed=init_seed)
    if bug is not None:
        det.inject_bug(net, 0, bug)
    trace = det.Trace(keep_params) if flip_at is None else _FlipAt(flip_at, keep_params)
    opt = SGD(net.parameters(), lr=lr)
    hist = fit(
        net,
        nn.CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=epochs,
        batch_size=32,
        seed=seed,
        fingerprint=trace,
    )
    net.eval()
    return DigitsRun(trace, hist.step_loss, accuracy(net.forward(Xt), yt))


def distance(run_a: det.Trace, run_b: det.Trace) -> np.ndarray:
    """max over all tensors of |θ_a − θ_b| / max |θ_b| at every recorded step of two
    traces that kept their parameters (0 where the two runs are bit-equal)."""
    if not (run_a.params and run_b.params):
        raise ValueError("distance: both traces must keep their parameters (keep_params=True)")
    return np.array(
        [max(rel_diff(pa[k], pb[k]) for k in pa) for pa, pb in zip(run_a.params, run_b.params)]
    )


def _gradient_sync(comm, N: int, deterministic: bool) -> float:
    from dlkit.nn.core import Param
    from dlkit.parallel.data_parallel import allreduce_gradients

    p = Param(np.zeros(N))
    p.grad[...] = wide_range(N, seed=comm.Get_rank())
    t0 = comm.Wtime()
    allreduce_gradients(comm, [p], deterministic=deterministic)
    return comm.Wtime() - t0


def allreduce_cost(p: int = 8, N: int = 100_000, network: str = "10gbe") -> dict[str, float]:
    """Simulated seconds of one gradient synchronisation of N float64 numbers on p ranks:
    the plain ring Allreduce against the deterministic one (Allgather, then a fixed
    tree), ``{"allreduce": s, "deterministic": s}``."""
    from dlkit.cluster import SimCluster

    return {
        name: max(SimCluster(p, network=network).run(_gradient_sync, N, flag).values)
        for name, flag in (("allreduce", False), ("deterministic", True))
    }
