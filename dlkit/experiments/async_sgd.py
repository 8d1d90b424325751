"""The runs of the chapter *Asynchronous SGD*: HOGWILD!, Downpour, Sandblaster,
Project Adam, the parameter server's progress rules and the synchronous schemes.

Every function runs dlkit code (:mod:`dlkit.parallel`) on a small problem and returns
plain numbers, arrays and :class:`~dlkit.cluster.RunResult` traces for
:mod:`dlkit.viz.async_sgd` to draw. Everything here is deterministic: HOGWILD! from the
serialised replay (:func:`dlkit.parallel.hogwild.replay_epoch`), the rest on the
simulated cluster's virtual clock.

The model of the Downpour runs is a 64-32-10 sigmoid network on the digits
(:func:`digits_problem`), the fine-tuning network of a small DBN, trained from its
flat parameter vector θ by :func:`dlkit.unsupervised.steps.finetune_gradient`. The same
program (:func:`ps_train`) runs under real MPI::

    mpiexec -n 3 python -m mpi4py -m dlkit.experiments.async_sgd
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any, Sequence

import numpy as np

from dlkit.cluster import MPI, Faults, SimCluster, devices, networks
from dlkit.data.digits import load_digits
from dlkit.parallel import downpour as dp
from dlkit.parallel import hierarchical as hier
from dlkit.parallel import project_adam as pa
from dlkit.parallel import sandblaster as sb
from dlkit.parallel.param_server import wait
from dlkit.unsupervised.steps import finetune_gradient, param_layout

__all__ = [
    "SIZES",
    "NETWORK",
    "DEVICE",
    "DigitsProblem",
    "digits_problem",
    "hogwild_runs",
    "PROGRESS_VARIANTS",
    "progress_probe",
    "progress_runs",
    "downpour_run",
    "DownpourSummary",
    "downpour_grid",
    "GRID",
    "TARGET",
    "GRID_TARGET",
    "sandblaster_runs",
    "adam_runs",
    "hierarchical_rows",
    "ps_train",
]

#: the Downpour model: 64 inputs, 32 sigmoid hidden units (then 10 classes)
SIZES = (64, 32)
#: the network of the Downpour runs: FDR InfiniBand between all ranks
NETWORK = networks.preset("fdr_ib")
#: one simulated core at a tenth of its peak (small mini-batches reach little more)
DEVICE = devices.preset("cpu_core").scaled(0.1)


# ------------------------------------------------------------------- HOGWILD! ----
def hogwild_runs(
    problem, threads: Sequence[int] = (1, 2, 4, 16), epochs: int = 5, lr: float = 0.5
) -> dict:
    """{(mode, p): HogwildResult} of the serialised replay (``serial=True``) for every
    mode of :data:`dlkit.parallel.hogwild.MODES` and every thread count p."""
    from dlkit.parallel import hogwild as hw

    return {
        (mode, p): hw.hogwild(problem, p, mode, epochs=epochs, lr=lr, seed=0, serial=True)
        for mode in hw.MODES
        for p in threads
    }


# ------------------------------------------------------------ progress rules ----
#: the window variants of :func:`progress_probe` (those of tests/mpi_scripts/progress.py)
PROGRESS_VARIANTS = (
    "create_lock",
    "allocate_lock",
    "allocate_lock_all",
    "allocate_lock_all_nocheck",
    "polling",
)


def progress_probe(comm, variant: str = "create_lock", busy: float = 0.2, n: int = 1000):
    """A server (rank 0) busy outside MPI for ``busy`` seconds; the worker (rank 1)
    starts a Get of n float64 from the server's window 10% into that time. Returns
    the worker's wait in seconds (None on the server).

    ``variant``: ``"create_lock"`` (``Win.Create`` + ``Lock``/``Get``/``Unlock``),
    ``"allocate_lock"`` (``Win.Allocate`` + ``Lock``), ``"allocate_lock_all"``
    (``Win.Allocate`` + ``Lock_all()``/``Get``/``Flush``),
    ``"allocate_lock_all_nocheck"`` (the same with ``MPI.MODE_NOCHECK``, dlkit's
    parameter server) or ``"polling"`` (``Win.Create`` + ``Lock``, the server entering
    MPI by ``Iprobe`` every tenth of its work). Simulator only: the busy time is charged
    as compute.
    """
    if variant not in PROGRESS_VARIANTS:
        raise ValueError(
            f"progress_probe(variant={variant!r}): choose one of {', '.join(PROGRESS_VARIANTS)}"
        )
    rank = comm.Get_rank()
    if variant.startswith("allocate"):
        win = MPI.Win.Allocate(8 * n if rank == 0 else 0, disp_unit=8, comm=comm)
        if rank == 0:
            np.frombuffer(win.tomemory(), dtype=np.float64)[:] = np.arange(n)
    else:
        win = MPI.Win.Create(
            np.arange(n, dtype=np.float64) if rank == 0 else np.zeros(0), 8, comm=comm
        )
    comm.Barrier()
    waited = None
    if rank == 0:
        if variant == "polling":
            for _ in range(10):
                wait(comm, busy / 10)
                comm.Iprobe()  # entering MPI lets its progress engine serve the worker
        else:
            wait(comm, busy)
    else:
        wait(comm, busy / 10)
        got = np.zeros(n)
        t0 = MPI.Wtime()
        if "lock_all" in variant:
            win.Lock_all(MPI.MODE_NOCHECK if "nocheck" in variant else 0)
            win.Get(got, 0)
            win.Flush(0)
            waited = MPI.Wtime() - t0
            win.Unlock_all()
        else:
            win.Lock(0, MPI.LOCK_SHARED)
            win.Get(got, 0)
            win.Unlock(0)
            waited = MPI.Wtime() - t0
        if not np.array_equal(got, np.arange(n)):
            raise AssertionError(f"progress_probe({variant!r}) read wrong values")
    comm.Barrier()
    win.Free()
    return waited


def progress_runs(
    variants: Sequence[str] = PROGRESS_VARIANTS, busy: float = 0.2, network=NETWORK
) -> dict:
    """{(progress, variant): RunResult} of :func:`progress_probe` on two simulated ranks
    under both progress rules (``"async"``, ``"target"``); ``values[1]`` is the wait."""
    return {
        (rule, v): SimCluster(2, network=network, progress=rule).run(progress_probe, v, busy)
        for rule in ("async", "target")
        for v in variants
    }


# ------------------------------------------------------------------ Downpour ----
@dataclass(frozen=True)
class DigitsProblem:
    """The digits (train and test), the model's sizes and θ₀ (small random weights)."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    sizes: tuple = SIZES
    theta0: np.ndarray = field(default=None, repr=False)

    @property
    def P(self) -> int:
        return int(self.theta0.size)

    def grad(self, theta, batch, seed=0) -> np.ndarray:
        """∇ of the mean cross-entropy of ``batch`` = (X, y) at θ (async_sgd's grad_fn)."""
        X, y = batch
        return finetune_gradient(theta, X, y, sizes=list(self.sizes), n_classes=10)[1]

    def test_loss(self, theta) -> float:
        """The mean cross-entropy on the test digits."""
        return float(
            finetune_gradient(
                theta, self.X_test, self.y_test, sizes=list(self.sizes), n_classes=10
            )[0]
        )

    def accuracy(self, theta) -> float:
        """The fraction of test digits classified right."""
        from scipy.special import expit

        A = self.X_test
        blocks, at = [], 0
        for _, shape in param_layout(list(self.sizes), 10):
            k = int(np.prod(shape))
            blocks.append(theta[at : at + k].reshape(shape))
            at += k
        Ws, bs = blocks[0::2], blocks[1::2]
        for W, b in zip(Ws[:-1], bs[:-1]):
            A = expit(A @ W.T + b)
        scores = A @ Ws[-1].T + bs[-1]
        return float(np.mean(np.argmax(scores, axis=1) == self.y_test))


def digits_problem(seed: int = 0) -> DigitsProblem:
    """The 1,348 training and 449 test digits and θ₀ ~ N(0, 0.1²) for :data:`SIZES`."""
    d = load_digits()
    P = sum(int(np.prod(s)) for _, s in param_layout(list(SIZES), 10))
    theta0 = 0.1 * np.random.default_rng(seed).standard_normal(P)
    return DigitsProblem(d.X_train, d.y_train, d.X_test, d.y_test, SIZES, theta0)


@dataclass
class DownpourSummary:
    """What the chapter shows of one Downpour run.

    Attributes
    ----------
    staleness : the staleness τ of every applied gradient (all replicas); ``hist[τ]``
        its histogram; ``by_replica[w]`` replica w's τ of each of its pushes.
    curve : (version, virtual time, test loss) of each evaluation by server 0.
    reached : the virtual time of the first evaluation below the target loss (None
        if the run ended first).
    loss, accuracy : the final test loss and accuracy.
    time, bytes : the simulated time of the whole run and the bytes moved.
    steps : gradients computed per replica (by rank); presumed_crashed : replicas
        server 0 gave up on. run : the :class:`~dlkit.parallel.downpour.DownpourRun`.
    """

    staleness: np.ndarray
    hist: np.ndarray
    by_replica: list
    curve: np.ndarray
    reached: float | None
    loss: float
    accuracy: float
    time: float
    bytes: int
    steps: dict
    presumed_crashed: list
    run: Any = field(repr=False, default=None)


#: the test loss at which :func:`downpour_run` stops (θ₀'s is about 2.4)
TARGET = 0.4


def downpour_run(
    prob: DigitsProblem,
    p: int = 4,
    *,
    n_servers: int = 2,
    n_fetch: int = 1,
    n_push: int = 1,
    slow: float = 1.0,
    crash_at: float | None = None,
    target: float | None = TARGET,
    steps: int = 1000,
    batch_size: int = 16,
    lr: float = 0.05,
    adagrad: bool = True,
    check_every: int = 20,
) -> DownpourSummary:
    """Downpour SGD (:func:`dlkit.parallel.downpour.simulate`) with p replicas on the
    digits and S = ``n_servers`` server shards, on :data:`NETWORK` and :data:`DEVICE`.

    Server 0 evaluates the test loss every ``check_every`` applied gradients and stops
    the run once it is below ``target`` (None: run ``steps`` per replica, the cap
    otherwise). The last replica runs ``slow`` times slower; with ``crash_at``
    (virtual seconds) replica 0 crashes then.
    """
    curve: list[float] = []

    def until(theta):  # server 0's evaluation: record the test loss
        curve.append(prob.test_loss(theta))
        return target is not None and curve[-1] < target

    slow_map = {n_servers + p - 1: float(slow)} if slow != 1.0 else {}
    crash = {n_servers: float(crash_at)} if crash_at is not None else {}
    run = dp.simulate(
        p,
        prob.grad,
        prob.theta0,
        (prob.X_train, prob.y_train),
        n_servers=n_servers,
        network=NETWORK,
        compute=DEVICE,
        faults=Faults(slow=slow_map, crash=crash),
        lr=lr,
        steps=steps,
        batch_size=batch_size,
        n_fetch=n_fetch,
        n_push=n_push,
        adagrad=adagrad,
        until=until,
        check_every=check_every,
    )
    checks = dp.merge(run.result.values)["checks"]
    pts = np.array([(v, t, c) for (v, t, _), c in zip(checks, curve)]).reshape(-1, 3)
    hit = [t for (_, t, ok) in checks if ok]
    by_replica = [
        v.staleness if v is not None else np.zeros(0, np.int64)
        for v in run.result.values[n_servers:]
    ]
    return DownpourSummary(
        staleness=run.staleness,
        hist=run.hist,
        by_replica=by_replica,
        curve=pts,
        reached=hit[0] if hit else None,
        loss=prob.test_loss(run.theta),
        accuracy=prob.accuracy(run.theta),
        time=run.time,
        bytes=run.bytes,
        steps=run.steps,
        presumed_crashed=run.presumed_crashed,
        run=run,
    )


#: the explorer's grid: replicas p, n_fetch, n_push, the slow replica's factor
GRID = {"p": (2, 4, 8), "n_fetch": (1, 4), "n_push": (1, 4), "slow": (1.0, 4.0)}
#: the explorer's target test loss (a shorter run than :data:`TARGET`)
GRID_TARGET = 0.6


def downpour_grid(prob: DigitsProblem, grid: dict = GRID, **kwargs) -> dict:
    """{(p, n_fetch, n_push, slow): DownpourSummary (without its run)} over the grid;
    ``kwargs`` go to :func:`downpour_run` (default: ``target=GRID_TARGET``, at most
    400 steps per replica)."""
    kwargs = {"target": GRID_TARGET, "steps": 400, **kwargs}
    out = {}
    for p in grid["p"]:
        for nf in grid["n_fetch"]:
            for npu in grid["n_push"]:
                for s in grid["slow"]:
                    r = downpour_run(prob, p, n_fetch=nf, n_push=npu, slow=s, **kwargs)
                    r.run = None
                    out[(p, nf, npu, s)] = r
    return out


# --------------------------------------------------------------- Sandblaster ----
def _logistic(N=1600, D=20, seed=1):
    g = np.random.default_rng(seed)
    X = g.normal(size=(N, D))
    y = (X @ g.normal(size=D) + g.normal(size=N) > 0).astype(np.float64)
    return X, y


def _summed_logistic(theta, batch):
    """The summed logistic loss of a batch and its gradient (Sandblaster's grad_fn)."""
    from scipy.special import expit

    Xb, yb = batch
    z = Xb @ theta
    return float(np.sum(np.logaddexp(0.0, z) - yb * z)), Xb.T @ (expit(z) - yb)


def sandblaster_runs(
    p: int = 4,
    n_units: int = 32,
    iterations: int = 6,
    slow: float = 4.0,
    unit_seconds: float = 2e-3,
    l2: float = 1e-2,
) -> dict:
    """{schedule: SandblasterRun} for "static", "dynamic" and "backup": L-BFGS on a
    regularised logistic regression (1,600 examples, 20 features), 2 shards, p workers
    of which the last is ``slow`` times slower, each unit charged ``unit_seconds``."""
    X, y = _logistic()
    rate = SimCluster(1).device.flops
    slow_rank = 1 + 2 + (p - 1)
    return {
        s: sb.simulate(
            p,
            _summed_logistic,
            np.zeros(X.shape[1]),
            (X, y),
            n_servers=2,
            n_units=n_units,
            schedule=s,
            iterations=iterations,
            l2=l2,
            unit_flops=lambda n: unit_seconds * rate,
            faults=Faults(slow={slow_rank: slow}),
        )
        for s in sb.SCHEDULES
    }


# -------------------------------------------------------------- Project Adam ----
def adam_runs(
    p: int = 3,
    sizes: Sequence[int] = (64, 128, 128, 10),
    batch_size: int = 16,
    steps: int = 10,
    network: str = "1gbe",
) -> dict:
    """{scheme: AdamRun} of :func:`dlkit.parallel.project_adam.simulate` for
    "downpour" and "adam" on the digits."""
    d = load_digits()
    return {
        s: pa.simulate(
            p,
            d.X_train,
            d.y_train,
            sizes=sizes,
            scheme=s,
            steps=steps,
            batch_size=batch_size,
            network=network,
        )
        for s in pa.SCHEMES
    }


# ---------------------------------------------------------- synchronous again ----
def hierarchical_rows(
    ps: Sequence[int] = (8, 16),
    layers: Sequence[int] = (60_000, 40_000, 20_000, 2_000),
    flops: Sequence[float] = (4e8, 4e8, 2e8, 2e7),
    ranks_per_node: int = 4,
    network=None,
    bucket_bytes: int = 1 << 18,
) -> dict:
    """{p: the dict of :func:`dlkit.parallel.hierarchical.simulate`} on a two-level
    network (default NVLink inside nodes of four, 1 GbE between them)."""
    net = network or networks.two_level("nvlink", "1gbe", ranks_per_node=ranks_per_node)
    return {
        p: hier.simulate(
            p,
            ranks_per_node,
            list(layers),
            network=net,
            backward_flops=list(flops),
            bucket_bytes=bucket_bytes,
        )
        for p in ps
    }


# ---------------------------------------------- one program, simulated or real ----
def ps_train(comm, steps: int = 100, n_servers: int = 1, lr: float = 0.05, seed: int = 0):
    """Downpour on the digits with the parameter server of
    :func:`dlkit.parallel.param_server.async_sgd`: ranks 0..S−1 the servers, the others
    the replicas, each on its shard. The same function runs on a
    :class:`~dlkit.cluster.SimCluster` and under ``mpiexec``. Returns on rank 0 a dict
    with the initial and final test loss, the test accuracy, the gradients applied and
    the staleness summary; None elsewhere."""
    prob = digits_problem(seed)
    p = comm.Get_size() - n_servers
    res = dp.downpour(
        comm,
        prob.grad,
        prob.theta0,
        dp.split((prob.X_train, prob.y_train), p),
        lr=lr,
        n_servers=n_servers,
        steps=steps,
        batch_size=16,
        seed=seed,
        patience=30.0,
    )
    stale = comm.gather(res.staleness.tolist(), root=0)
    if comm.Get_rank() != 0:
        return None
    tau = np.concatenate([np.array(s, dtype=np.int64) for s in stale])
    return {
        "loss0": round(prob.test_loss(prob.theta0), 4),
        "loss": prob.test_loss(res.theta),
        "accuracy": prob.accuracy(res.theta),
        "version": res.version,
        "staleness": dp.staleness_summary(tau) if tau.size else None,
    }


def main() -> None:  # pragma: no cover - run under mpiexec
    from mpi4py import MPI as real

    out = ps_train(real.COMM_WORLD)
    if out is not None:
        print("RESULT " + json.dumps(out), flush=True)


if __name__ == "__main__":  # pragma: no cover
    main()
