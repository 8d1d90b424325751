"""Asynchronous SGD with a parameter server in MPI one-sided windows.

The seed lecture's Algorithm 4, for p workers that never wait for one another::

    while not stopping criterion:
        StartFetchingParameters(θ)          # MPI_Get from the server's window
        data ← GetNextMiniBatch()           # overlaps with the Get
        ∇ ← ComputeGradient(θ, data)
        θ ← θ − η ∇                         # the worker's own copy
        StartPushingGradients(∇)            # MPI_Accumulate into the server's window

Layout. The ranks of ``comm`` are S = ``n_servers`` servers (ranks 0, ..., S−1) and
p = size − S workers (ranks S, ..., S+p−1; worker w = rank − S). The parameter vector
θ ∈ R^P is cut into S contiguous shards (:func:`shard_bounds`); server s exposes its
shard in a window made by ``MPI.Win.Allocate``, followed (for AdaGrad) by the shard of
G, the sum of squared gradients. Server 0's window starts with a few control words
(:data:`HEADER`): the version v (the number of gradients applied so far), a stop flag,
a closed flag, and for each worker its step count and a finished flag.

Every rank opens one passive-target epoch, ``Lock_all(MPI.MODE_NOCHECK)``, for the
whole run, and completes operations with ``Flush``. With MPICH on one machine this is
the combination whose Get does not stall while a server is busy outside MPI
(``tests/mpi_scripts/progress.py``; :mod:`dlkit.cluster.window`): the servers never
have to serve requests, so they may sleep or evaluate the objective between polls.

``window="seed"`` builds the windows as the seed lecture's Algorithm 4 reads, the way a
first MPI program does: ``MPI.Win.Create`` on a numpy array of the server, and one
passive-target epoch per operation - a fetch is ``Lock(s, LOCK_SHARED)``, Get, ``Unlock``;
a push is ``Lock(s, LOCK_EXCLUSIVE)``, Get the shard (and the control words), Flush, add
−η∇ (and k) at the worker, Put them back, ``Unlock``. The arithmetic is the same (θ after
a run with one worker equals the default's bit for bit); the cost is not. With MPICH's
default progress (``SimCluster(progress="target")``) every lock request and every
operation on a ``Win.Create`` window waits until the server next enters MPI, and the
exclusive lock of a push is held across those waits, so the server becomes a queue
whose waiting grows with the number of workers: the pitfall the default avoids.

One worker step (:class:`ParamServer`, the default ``window="allocate"``):

* **fetch** (every ``n_fetch`` steps): Get the version v_f from server 0 and every
  shard of θ; Flush. The worker's copy becomes the server's θ;
* **gradient**: ∇ = ``grad_fn(θ, batch, seed)`` on the next mini-batch of B examples
  of the worker's data shard; its own copy moves on, θ ← θ − η∇;
* **push** (every ``n_push`` steps, the sum of the gradients since the last push):
  one control operation on server 0, ``Get_accumulate`` that adds the number of
  gradients k to v and to the worker's step count and returns the old control words
  (so the worker learns v_a, the version at apply time, and the stop flag); and, per
  shard, ``Accumulate`` of −η∇ (plain SGD: θ ← θ − η∇, atomic per element), or
  for AdaGrad ``Get_accumulate`` of ∇² into G followed by ``Accumulate`` of
  −η∇ / (√G + ε) with the G it returned plus ∇² (the arithmetic a server applying the
  pushes one by one would do); Flush.

The **staleness** of an applied gradient is τ = v_a − v_f: how many gradients other
workers applied between this worker's fetch and its push. With one worker,
``n_fetch = n_push = 1``, τ = 0 and θ after t steps equals serial SGD's
(:func:`serial_sgd`) bit for bit on the simulator. With p workers of equal speed and
``n_fetch = n_push = k``, each other worker pushes at most once (k gradients) while one
worker's fetch-to-push window is open, so 0 ≤ τ ≤ (p − 1) k; a worker c times faster
than the rest can push c times per window, so a slow worker's τ grows with the speed
ratio (Downpour's slow replicas).

Servers. Server 0 polls every ``poll`` seconds (it sleeps in between, or on the
simulator is charged that time): it reads the control words, evaluates ``until(θ)``
every ``check_every`` new gradients (that evaluation keeps it busy outside MPI, which is
why the windows must not need its help), and closes the run when every worker has
finished or gone silent for ``patience`` seconds (a crashed replica: the others carry
on, and the run ends without it). Real MPI has no fault tolerance, so crashes are
simulation-only (``Faults(crash=...)``).

Result: every rank returns an :class:`AsyncResult` with the final θ; a worker's has its
per-step trace and the staleness of each of its pushes; :func:`merge` combines the
results of a run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

import numpy as np

from dlkit.cluster import compute
from dlkit.cluster.hooks import wait as _wait
from dlkit.parallel._mpi import mpi_for
from dlkit.parallel.data_parallel import global_batches

__all__ = [
    "HEADER",
    "OPTIMIZERS",
    "WINDOWS",
    "ParamServer",
    "StepRecord",
    "AsyncResult",
    "async_sgd",
    "serial_sgd",
    "shard_bounds",
    "merge",
    "wait",
]

OPTIMIZERS = ("sgd", "adagrad")
#: the two ways of building and locking the servers' windows (:class:`ParamServer`)
WINDOWS = ("allocate", "seed")
#: the control words at the start of server 0's window (then steps and finished per worker)
HEADER = ("version", "stop", "closed")
_V, _STOP, _CLOSED = 0, 1, 2
EPS = 1e-8  # AdaGrad's ε


def shard_bounds(P: int, n_servers: int) -> list[tuple[int, int]]:
    """The [start, end) of each server's shard of θ ∈ R^P: S contiguous pieces whose
    sizes differ by at most one (the first P mod S are one longer)."""
    q, rem = divmod(P, n_servers)
    bounds, start = [], 0
    for s in range(n_servers):
        end = start + q + (s < rem)
        bounds.append((start, end))
        start = end
    return bounds


def wait(comm, seconds: float) -> None:
    """Stay out of MPI for ``seconds``: :func:`dlkit.cluster.hooks.wait` (sleep on a
    real communicator; on the simulator, advance the rank's clock by that much)."""
    _wait(comm, seconds)


@dataclass
class StepRecord:
    """One worker step: its start time t0, when its fetch completed (or None if it did
    not fetch), when its push completed (None if it did not push), the version v_f of
    the θ it computed on, the version v_a its push found (None) and the staleness
    τ = v_a − v_f."""

    step: int
    t0: float
    t_fetched: float | None
    t_end: float
    v_fetch: int
    v_apply: int | None
    staleness: int | None


@dataclass
class AsyncResult:
    """What one rank of :func:`async_sgd` returns.

    Attributes
    ----------
    rank, role : the rank and "server" or "worker".
    theta : the final θ on the servers (read by every rank after the run closed).
    steps : a worker's :class:`StepRecord` per step (empty on a server).
    staleness : a worker's τ of every push, in order (int array).
    fetch_waits : a worker's seconds spent in each fetch's Flush (the stall a busy
        server would cause).
    stopped_by : "steps" (the worker did its steps), "until" (the stop flag) or "".
    presumed_crashed : on server 0, the workers that went silent for ``patience``.
    checks : on server 0, (version, time, until's value) of each evaluation.
    version : the final version v (gradients applied), as the rank last read it.
    """

    rank: int
    role: str
    theta: np.ndarray
    steps: list[StepRecord] = field(default_factory=list)
    staleness: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    fetch_waits: np.ndarray = field(default_factory=lambda: np.zeros(0))
    stopped_by: str = ""
    presumed_crashed: list[int] = field(default_factory=list)
    checks: list[tuple[int, float, Any]] = field(default_factory=list)
    version: int = 0


class ParamServer:
    """One rank's handle on the sharded parameter server (collective constructor).

    Parameters
    ----------
    comm : the communicator (simulated or mpi4py); its first ``n_servers`` ranks are
        the servers, the others the p workers.
    theta0 : the initial θ ∈ R^P (float64; every rank passes the same).
    n_servers : S, the number of shards (1 <= S < size).
    optimizer : "sgd" (θ ← θ − η∇) or "adagrad" (G ← G + ∇², θ ← θ − η∇/(√G + ε)),
        applied to the server's θ at each push.
    lr : η.
    window : "allocate" (``Win.Allocate``, one ``Lock_all(MPI.MODE_NOCHECK)`` epoch for
        the whole run, ``Flush`` to complete) or "seed" (``Win.Create``, a
        ``Lock``/``Unlock`` epoch per operation, exclusive for a push's Get and Put;
        module docstring).
    """

    def __init__(
        self,
        comm,
        theta0,
        *,
        n_servers: int = 1,
        optimizer: str = "sgd",
        lr: float,
        window: str = "allocate",
    ):
        if window not in WINDOWS:
            raise ValueError(
                f"ParamServer(window={window!r}): choose one of {', '.join(map(repr, WINDOWS))}"
            )
        self.seed_mode = window == "seed"
        MPI = self.MPI = mpi_for(comm)
        self.comm = comm
        self.rank, size = comm.Get_rank(), comm.Get_size()
        self.S, self.p = n_servers, size - n_servers
        self.P, self.lr, self.optimizer = theta0.size, float(lr), optimizer
        self.bounds = shard_bounds(self.P, self.S)
        self.H = len(HEADER) + 2 * self.p  # control words on server 0
        words = 0
        if self.rank < self.S:
            n = self._n(self.rank)
            words = (self.H if self.rank == 0 else 0) + n * (2 if optimizer == "adagrad" else 1)
        if self.seed_mode:
            self.mem = np.zeros(words)
            self.win = MPI.Win.Create(self.mem, disp_unit=8, comm=comm)
        else:
            self.win = MPI.Win.Allocate(8 * words, disp_unit=8, comm=comm)
            self.mem = np.frombuffer(self.win.tomemory(), dtype=np.float64)
        if self.rank < self.S:
            a, b = self.bounds[self.rank]
            self.mem[self._theta_at(self.rank) : self._theta_at(self.rank) + b - a] = theta0[a:b]
        comm.Barrier()
        if not self.seed_mode:
            self.win.Lock_all(MPI.MODE_NOCHECK)
        self._ctrl = np.zeros(self.H)

    # ------------------------------------------------------------------ layout ----
    def _n(self, s: int) -> int:
        a, b = self.bounds[s]
        return b - a

    def _theta_at(self, s: int) -> int:
        """Displacement (in float64 words) of θ's shard in server s's window."""
        return self.H if s == 0 else 0

    def _G_at(self, s: int) -> int:
        return self._theta_at(s) + self._n(s)

    def _steps_at(self, w: int) -> int:
        return len(HEADER) + w

    def _done_at(self, w: int) -> int:
        return len(HEADER) + self.p + w

    # --------------------------------------------------------------- operations ----
    def control(self) -> np.ndarray:
        """The control words of server 0 (version, stop, closed, steps, finished)."""
        out = np.zeros(self.H)
        if self.seed_mode:
            self.win.Lock(0, self.MPI.LOCK_SHARED)
            self.win.Get(out, 0, 0)
            self.win.Unlock(0)
            return out
        self.win.Get(out, 0, 0)
        self.win.Flush(0)
        return out

    def fetch(self, theta_out: np.ndarray) -> int:
        """StartFetchingParameters and its completion: Get v from server 0 and every
        shard of θ into ``theta_out``; Flush (``window="seed"``: a shared Lock and an
        Unlock around each server's Gets). Returns the version v_f read."""
        head = np.zeros(1)
        if self.seed_mode:
            for s, (a, b) in enumerate(self.bounds):
                self.win.Lock(s, self.MPI.LOCK_SHARED)
                if s == 0:
                    self.win.Get(head, 0, _V)
                self.win.Get(theta_out[a:b], s, self._theta_at(s))
                self.win.Unlock(s)
            return int(head[0])
        self.win.Get(head, 0, _V)
        for s, (a, b) in enumerate(self.bounds):
            self.win.Get(theta_out[a:b], s, self._theta_at(s))
        self.win.Flush_all()
        return int(head[0])

    def _push_seed(self, grad: np.ndarray, k: int, worker: int) -> np.ndarray:
        """push for ``window="seed"``: per server, in rank order (no deadlock), an
        exclusive Lock; Get the shard (and G, and on server 0 the control words); Flush;
        the update at the worker; Put it back; Unlock."""
        MPI, win = self.MPI, self.win
        old = np.zeros(self.H)
        for s, (a, b) in enumerate(self.bounds):
            n = b - a
            win.Lock(s, MPI.LOCK_EXCLUSIVE)
            at = self._theta_at(s)
            adagrad = self.optimizer == "adagrad"
            buf = np.zeros(2 * n if adagrad else n)  # θ's shard, then G's (contiguous)
            if s == 0:
                win.Get(old, 0, 0)
            win.Get(buf, s, at)
            win.Flush(s)
            g = grad[a:b]
            if adagrad:
                G = buf[n:] + g * g  # the float Get_accumulate of ∇² would leave
                buf[:n] += -self.lr * g / (np.sqrt(G) + EPS)
                buf[n:] = G
            else:
                buf += -self.lr * g
            if s == 0:
                ctrl = old.copy()
                ctrl[_V] += k
                ctrl[self._steps_at(worker)] += k
                win.Put(ctrl, 0, 0)
            win.Put(buf, s, at)
            win.Unlock(s)
        return old

    def push(self, grad: np.ndarray, k: int, worker: int) -> np.ndarray:
        """StartPushingGradients: apply ∇ (the sum of k gradients) to the server's θ and
        add k to the version and to ``worker``'s step count; return the control words
        as they were just before (old v, stop, closed, ...)."""
        if self.seed_mode:
            return self._push_seed(grad, k, worker)
        MPI, win = self.MPI, self.win
        ctrl = np.zeros(self.H)
        ctrl[_V] = ctrl[self._steps_at(worker)] = k
        old = np.zeros(self.H)
        win.Get_accumulate(ctrl, old, 0, 0, op=MPI.SUM)
        if self.optimizer == "sgd":
            delta = -self.lr * grad  # θ ← θ − η∇ (θ + (−η∇) is the same float)
        else:
            g2 = grad * grad
            G_old = np.zeros(self.P)
            for s, (a, b) in enumerate(self.bounds):
                win.Get_accumulate(g2[a:b], G_old[a:b], s, self._G_at(s), op=MPI.SUM)
            win.Flush_all()
            delta = -self.lr * grad / (np.sqrt(G_old + g2) + EPS)
        for s, (a, b) in enumerate(self.bounds):
            win.Accumulate(delta[a:b], s, self._theta_at(s), op=MPI.SUM)
        win.Flush_all()
        return old

    def set_word(self, disp: int, value: float) -> None:
        """Write one control word of server 0 (atomically, by Accumulate REPLACE)."""
        if self.seed_mode:
            self.win.Lock(0, self.MPI.LOCK_EXCLUSIVE)
            self.win.Put(np.array([float(value)]), 0, disp)
            self.win.Unlock(0)
            return
        self.win.Accumulate(np.array([float(value)]), 0, disp, op=self.MPI.REPLACE)
        self.win.Flush(0)

    def close(self, free: bool = True) -> None:
        """End the epoch; free the window (collective) unless a rank has crashed."""
        if not self.seed_mode:
            self.win.Unlock_all()
        if free:
            self.win.Free()


# ---------------------------------------------------------------------- checks ----
def _check(comm, grad_fn, theta0, data_shards, args: dict) -> np.ndarray:
    """async_sgd's arguments, checked; returns θ₀ as an array."""
    size = comm.Get_size()
    if not callable(grad_fn):
        raise TypeError(
            f"async_sgd(grad_fn={grad_fn!r}): pass a function grad_fn(theta, batch, seed) "
            "returning the gradient, a float64 array shaped like theta"
        )
    theta0 = np.asarray(theta0)
    if theta0.ndim != 1 or theta0.dtype != np.float64 or theta0.size == 0:
        raise ValueError(
            f"async_sgd(theta0=...): θ must be a non-empty 1-D float64 vector, got shape "
            f"{theta0.shape} and dtype {theta0.dtype}; flatten it (dbn_flat_params) and "
            "use .astype(np.float64)"
        )
    for name in ("n_servers", "n_fetch", "n_push", "batch_size", "check_every", "steps"):
        v = args[name]
        if v is None and name in ("check_every", "steps"):
            continue
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
            raise ValueError(f"async_sgd({name}={v!r}): must be an int >= 1")
    S = args["n_servers"]
    if S >= size:
        raise ValueError(
            f"async_sgd(n_servers={S}) on {size} ranks leaves no worker: run on "
            f"at least {S + 1} ranks or use fewer servers"
        )
    if args["window"] not in WINDOWS:
        raise ValueError(
            f"async_sgd(window={args['window']!r}): choose one of {', '.join(map(repr, WINDOWS))}"
        )
    if args["optimizer"] not in OPTIMIZERS:
        raise ValueError(
            f"async_sgd(optimizer={args['optimizer']!r}): choose one of {', '.join(OPTIMIZERS)}"
        )
    for name, what in (("lr", "the learning rate η"), ("poll", "the seconds between polls")):
        v = args[name]
        if (
            isinstance(v, bool)
            or not isinstance(v, (int, float, np.floating))
            or not (math.isfinite(v) and v > 0)
        ):
            raise ValueError(f"async_sgd({name}={v!r}): {what} must be a number > 0")
    pat = args["patience"]
    if pat is not None and not (isinstance(pat, (int, float, np.floating)) and pat > 0):
        raise ValueError(f"async_sgd(patience={pat!r}): seconds > 0, or None for the default")
    if args["steps"] is None and args["until"] is None:
        raise ValueError("async_sgd: pass steps= (per worker), until= (a stopping test), or both")
    if args["until"] is not None and not callable(args["until"]):
        raise TypeError(f"async_sgd(until={args['until']!r}): pass a function until(theta) -> bool")
    p = size - S
    if len(data_shards) != p:
        raise ValueError(
            f"async_sgd: {len(data_shards)} data shards for {p} workers ({size} ranks minus "
            f"{S} servers); pass one shard per worker"
        )
    smallest = min(_len(d) for d in data_shards)
    if args["batch_size"] > smallest:
        raise ValueError(
            f"async_sgd(batch_size={args['batch_size']}): B must lie in [1, the smallest "
            f"shard's {smallest} examples]"
        )
    return theta0


def _check_grad(grad, P: int) -> None:
    if not isinstance(grad, np.ndarray) or grad.shape != (P,) or grad.dtype != np.float64:
        raise ValueError(
            f"async_sgd: grad_fn returned {type(grad).__name__} "
            f"{getattr(grad, 'shape', '')} {getattr(grad, 'dtype', '')}; it must return ∇, a "
            f"float64 vector of P = {P} entries shaped like θ"
        )


def _len(shard) -> int:
    return len(shard[0]) if isinstance(shard, tuple) else len(shard)


def _take(shard, idx):
    return tuple(a[idx] for a in shard) if isinstance(shard, tuple) else shard[idx]


# ----------------------------------------------------------------- the algorithm ----
def async_sgd(
    comm,
    grad_fn: Callable[[np.ndarray, Any, int], np.ndarray],
    theta0: np.ndarray,
    data_shards: Sequence[Any],
    *,
    lr: float,
    n_servers: int = 1,
    n_fetch: int = 1,
    n_push: int = 1,
    optimizer: str = "sgd",
    steps: int | None = None,
    until: Callable[[np.ndarray], bool] | None = None,
    check_every: int | None = None,
    batch_size: int = 1,
    step_flops: float | None = None,
    until_flops: float = 0.0,
    poll: float = 1e-3,
    patience: float | None = None,
    seed: int = 0,
    window: str = "allocate",
) -> AsyncResult:
    """Asynchronous SGD on a parameter server in one-sided windows (module docstring).

    Parameters
    ----------
    comm : communicator of S + p ranks: S = ``n_servers`` servers, then p workers.
    grad_fn : ``grad_fn(θ, batch, seed) -> ∇``, the gradient (float64, shaped like θ)
        of the mean loss of ``batch``; ``seed`` is an int unique to the worker and step
        (for stochastic gradients such as CD-k; ignore it otherwise).
    theta0 : the initial θ ∈ R^P (float64).
    data_shards : p shards, worker w's data: an array (rows are examples) or a tuple
        of arrays with the same number of rows (e.g. ``(X, y)``).
    lr : η. n_fetch, n_push : fetch θ every n_fetch steps; push the summed gradient
        every n_push steps. optimizer : "sgd" or "adagrad" (on the server's θ).
    steps : steps per worker (a cap when ``until`` is given).
    until : ``until(θ) -> bool``, evaluated by server 0 on the server's θ every
        ``check_every`` new gradients (default p · n_push); True stops the workers.
    batch_size : B, examples per gradient, drawn by epochs of a seeded permutation of
        the worker's shard (seed + w).
    step_flops, until_flops : flops charged on the simulator per gradient (default
        6 P B, a linear model's forward and backward) and per evaluation of ``until``.
    poll : seconds the servers wait between looks at the control words.
    patience : seconds without a step after which server 0 presumes a worker crashed
        (default: 50 times the longest gap between two pushes seen so far, at least
        50 polls).
    seed : base seed of the batch order and of ``grad_fn``'s seeds.
    window : "allocate" (the default: ``Win.Allocate`` + ``Lock_all(MPI.MODE_NOCHECK)``)
        or "seed" (``Win.Create`` + a ``Lock``/``Unlock`` per operation; module docstring).

    Returns
    -------
    :class:`AsyncResult` of this rank (``theta``: the final server θ, on every rank).
    """
    theta0 = _check(comm, grad_fn, theta0, data_shards, dict(locals()))
    ps = ParamServer(comm, theta0, n_servers=n_servers, optimizer=optimizer, lr=lr, window=window)
    if ps.rank >= ps.S:
        res = _worker(
            ps,
            grad_fn,
            data_shards[ps.rank - ps.S],
            n_fetch,
            n_push,
            steps,
            batch_size,
            step_flops,
            seed,
        )
    else:
        res = AsyncResult(ps.rank, "server", np.zeros(0))
        if ps.rank == 0:
            _monitor(ps, res, until, check_every or ps.p * n_push, until_flops, poll, patience)
    head = ps.control()
    while head[_CLOSED] == 0:  # wait until server 0 has closed the run
        wait(comm, poll)
        head = ps.control()
    res.theta = np.empty(ps.P)
    res.version = ps.fetch(res.theta)
    ps.close(free=head[_CLOSED] == 1)  # 1: every worker finished; 1 + c: c presumed crashed
    return res


def _worker(ps, grad_fn, shard, n_fetch, n_push, steps, batch_size, step_flops, seed):
    """Worker w's loop: Algorithm 4 with Downpour's n_fetch and n_push."""
    comm, MPI = ps.comm, ps.MPI
    w = ps.rank - ps.S
    res = AsyncResult(ps.rank, "worker", np.zeros(0))
    flops = 6.0 * ps.P * batch_size if step_flops is None else float(step_flops)
    theta = np.empty(ps.P)
    acc, k, v_f, stale, waits = np.zeros(ps.P), 0, 0, [], []
    batches = global_batches(_len(shard), batch_size, 2**62, seed=seed + w)
    t = 0
    stopped = "steps"
    while steps is None or t < steps:
        t0 = MPI.Wtime()
        t_fetched = None
        if t % n_fetch == 0:  # StartFetchingParameters, then the next mini-batch
            v_f = ps.fetch(theta)
            t_fetched = MPI.Wtime()
            waits.append(t_fetched - t0)
        batch = _take(shard, next(batches))
        grad = grad_fn(theta, batch, (seed + 1) * 1_000_003 + w * 7919 + t)
        if t == 0:
            _check_grad(grad, ps.P)
        compute(comm, flops, label="gradient")
        theta -= ps.lr * grad  # the replica's own copy moves on
        acc += grad
        k += 1
        t += 1
        v_a = tau = None
        if k == n_push or (steps is not None and t == steps):  # StartPushingGradients
            old = ps.push(acc, k, w)
            v_a, tau = int(old[_V]), int(old[_V]) - v_f
            stale.append(tau)
            acc[:] = 0.0
            k = 0
            if old[_STOP] or old[_CLOSED]:
                stopped = "until"
        res.steps.append(StepRecord(t, t0, t_fetched, MPI.Wtime(), v_f, v_a, tau))
        if stopped == "until":
            break
    ps.set_word(ps._done_at(w), 1.0)
    res.staleness = np.array(stale, dtype=np.int64)
    res.fetch_waits = np.array(waits)
    res.stopped_by = stopped
    return res


def _monitor(ps, res, until, check_every, until_flops, poll, patience):
    """Server 0: watch the control words, evaluate ``until``, close the run."""
    comm, MPI = ps.comm, ps.MPI
    p = ps.p
    last_steps = np.zeros(p)
    last_seen = np.full(p, MPI.Wtime())
    longest = 0.0
    next_check = check_every
    stop = False
    theta = np.empty(ps.P)
    while True:
        wait(comm, poll)
        head = ps.control()
        now = MPI.Wtime()
        steps_w = head[len(HEADER) : len(HEADER) + p]
        done = head[len(HEADER) + p : len(HEADER) + 2 * p] > 0
        moved = steps_w != last_steps
        if moved.any():
            longest = max(longest, float(np.max(now - last_seen[moved])))
        last_seen[moved] = now
        last_steps = steps_w.copy()
        if until is not None and not stop and head[_V] >= next_check:
            v = ps.fetch(theta)
            value = until(theta)
            compute(comm, until_flops, label="until")
            res.checks.append((v, MPI.Wtime(), value))
            next_check = v + check_every
            if value:
                stop = True
                ps.set_word(_STOP, 1.0)
        limit = patience if patience is not None else max(50 * longest, 50 * poll)
        silent = (~done) & (MPI.Wtime() - last_seen > limit)
        if np.all(done | silent):
            res.presumed_crashed = [int(w) for w in np.flatnonzero(silent)]
            ps.set_word(_CLOSED, 1.0 + len(res.presumed_crashed))
            return


# ------------------------------------------------------------------- reference ----
def serial_sgd(
    grad_fn,
    theta0: np.ndarray,
    shard,
    *,
    lr: float,
    steps: int,
    batch_size: int = 1,
    optimizer: str = "sgd",
    seed: int = 0,
    worker: int = 0,
) -> np.ndarray:
    """Single-process SGD (or AdaGrad) on the batches and seeds that worker ``worker``
    of :func:`async_sgd` uses: with one worker and ``n_fetch = n_push = 1`` the two
    give the same θ, bit for bit."""
    theta = np.array(theta0, dtype=np.float64)
    G = np.zeros_like(theta)
    batches = global_batches(_len(shard), batch_size, steps, seed=seed + worker)
    for t, idx in enumerate(batches):
        grad = grad_fn(theta, _take(shard, idx), (seed + 1) * 1_000_003 + worker * 7919 + t)
        if optimizer == "sgd":
            theta -= lr * grad
        else:
            G += grad * grad
            theta -= lr * grad / (np.sqrt(G) + EPS)
    return theta


def merge(values: Sequence[AsyncResult | None]) -> dict:
    """Combine the per-rank results of one run (None for a crashed rank): the final θ,
    every applied gradient's staleness τ (all workers, concatenated), its histogram
    (``hist[τ]`` = count), the steps and pushes per worker, the fetch waits, and the
    workers server 0 presumed crashed."""
    alive = [v for v in values if v is not None]
    workers = [v for v in alive if v.role == "worker"]
    stale = np.concatenate([v.staleness for v in workers]) if workers else np.zeros(0, int)
    server0 = next((v for v in alive if v.role == "server" and v.rank == 0), None)
    return {
        "theta": alive[0].theta,
        "staleness": stale,
        "hist": np.bincount(stale) if stale.size else np.zeros(0, int),
        "steps": {v.rank: len(v.steps) for v in workers},
        "pushes": {v.rank: int(v.staleness.size) for v in workers},
        "fetch_waits": np.concatenate([v.fetch_waits for v in workers]) if workers else None,
        "presumed_crashed": server0.presumed_crashed if server0 else [],
        "checks": server0.checks if server0 else [],
        "version": max(v.version for v in alive),
    }
