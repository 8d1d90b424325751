"""Sandblaster L-BFGS (Dean et al. 2012): a coordinator, parameter shards, work units.

Batch methods need the gradient of the whole batch at each step, so the slowest
machine sets the pace. Sandblaster keeps L-BFGS but changes who does what:

* **The coordinator** (rank 0) holds no vectors. It runs L-BFGS's two-loop recursion
  by sending *small operations* to the S parameter shards (ranks 1..S): ``dot(a, b)``
  (each shard returns its partial sum; the coordinator adds the S numbers), ``axpy``
  (y ← y + a x), ``scale`` (x ← a x), ``copy``. Every vector (θ, ∇, the history s_i and
  y_i of the last ``memory`` steps) lives cut into S pieces on the shards, so a
  command is a few bytes while the vectors never move.
* **The batch is split into many small work units** (``n_units`` pieces of the N
  examples). Each of the p workers (ranks S+1..S+p) gets θ from the shards, computes
  the summed loss and gradient of a unit, sends the gradient's pieces to the shards
  and tells the coordinator. With the ``"dynamic"`` schedule the coordinator gives
  the next unit to whichever worker reports first, so fast workers take more; with
  ``"static"`` every worker gets its n_units/p units up front (what plain data
  parallelism does).
* **Backup tasks** (``"backup"``): when no unit is left to hand out, an idle worker
  gets a copy of the unit that has been running longest; the first copy to arrive
  wins and the other is dropped, so one straggler no longer holds up the step.

A shard keeps each unit's gradient piece and adds them in unit order, so the three
schedules give the same θ bit for bit: load balancing changes the time, not the
arithmetic. One iteration (f and ∇ over the whole batch; l2 adds λ/2‖θ‖²):

    y_{t−1} = ∇_t − ∇_{t−1};  two-loop recursion → r ≈ H ∇_t;  θ ← θ − η r;  s_t = −η r.

:func:`simulate` runs it on a :class:`~dlkit.cluster.SimCluster` and returns the losses,
the time of each gradient phase and the log of every work unit (for timelines).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from dlkit.cluster import compute
from dlkit.parallel._mpi import mpi_for
from dlkit.parallel.param_server import shard_bounds

__all__ = ["SCHEDULES", "sandblaster", "simulate", "SandblasterRun", "unit_bounds"]

SCHEDULES = ("static", "dynamic", "backup")
CMD, THETA, GRAD, DONE, TASK, REPLY = 11, 12, 13, 14, 15, 16


def unit_bounds(N: int, n_units: int) -> list[tuple[int, int]]:
    """The [start, end) rows of each of the n_units work units of N examples."""
    return shard_bounds(N, n_units)


# ----------------------------------------------------------------------- shards ----
def _shard(comm, s, S, p, theta0, n_units, l2, op_flops):
    """Shard s (rank 1 + s): hold the pieces of every vector, obey commands."""
    a, b = shard_bounds(theta0.size, S)[s]
    vec = {"theta": theta0[a:b].copy()}
    pending, seen_iters = [], 0
    while True:
        cmd = comm.recv(source=0, tag=CMD)
        op = cmd[0]
        if op == "grad":  # a gradient phase: θ to every worker, then the units' pieces
            _, it, N = cmd
            MPI = mpi_for(comm)
            MPI.Request.Waitall(pending)
            pending = [
                comm.Isend(vec["theta"], dest=1 + S + w, tag=THETA + 100 * it) for w in range(p)
            ]
            got: dict[int, np.ndarray] = {}
            while len(got) < n_units:
                it_u, u, g = comm.recv(source=MPI.ANY_SOURCE, tag=GRAD)
                seen_iters += 1
                if it_u == it and u not in got:  # first copy wins
                    got[u] = g
            g = np.zeros_like(vec["theta"])
            for u in range(n_units):  # unit order: the same sum whatever the schedule
                g += got[u]
            g /= N
            if l2:
                g += l2 * vec["theta"]
            vec["g"] = g
        elif op == "dot":
            _, x, y = cmd
            compute(comm, 2.0 * (b - a), label="dot")
            comm.send(float(vec[x] @ vec[y]), dest=0, tag=REPLY)
        elif op == "axpy":  # y ← y + alpha x
            _, alpha, x, y = cmd
            compute(comm, op_flops * (b - a), label="axpy")
            vec[y] = vec[y] + alpha * vec[x]
        elif op == "scale":
            _, alpha, x = cmd
            compute(comm, (b - a), label="scale")
            vec[x] = alpha * vec[x]
        elif op == "copy":
            _, x, y = cmd
            vec[y] = vec[x].copy()
        elif op == "get":
            comm.Send(vec["theta"], dest=0, tag=REPLY)
        elif op == "stop":  # drain the copies that lost, then leave
            _, total = cmd
            while seen_iters < total:
                comm.recv(source=mpi_for(comm).ANY_SOURCE, tag=GRAD)
                seen_iters += 1
            mpi_for(comm).Request.Waitall(pending)
            return vec["theta"]


# ---------------------------------------------------------------------- workers ----
def _worker(comm, w, S, P, grad_fn, data, units, unit_flops):
    """Worker w (rank 1 + S + w): compute the units it is given."""
    bounds = shard_bounds(P, S)
    theta, have = np.empty(P), set()
    done = 0
    while True:
        task = comm.recv(source=0, tag=TASK)
        if task[0] == "stop":
            for it in range(task[1]):  # θ of iterations this worker had no unit in
                if it not in have:
                    for s, (a, b) in enumerate(bounds):
                        comm.Recv(theta[a:b], source=1 + s, tag=THETA + 100 * it)
            return done
        _, it, u = task
        if it not in have:
            for s, (a, b) in enumerate(bounds):
                comm.Recv(theta[a:b], source=1 + s, tag=THETA + 100 * it)
            have.add(it)
        lo, hi = units[u]
        batch = tuple(x[lo:hi] for x in data) if isinstance(data, tuple) else data[lo:hi]
        loss, g = grad_fn(theta, batch)
        compute(comm, unit_flops(hi - lo), label=f"unit {u}")
        for s, (a, b) in enumerate(bounds):
            comm.send((it, u, g[a:b]), dest=1 + s, tag=GRAD)
        comm.send((it, u, float(loss), w), dest=0, tag=DONE)
        done += 1


# ------------------------------------------------------------------ coordinator ----
class _Coordinator:
    def __init__(self, comm, S, p, n_units, schedule):
        self.comm, self.S, self.p, self.n_units, self.schedule = comm, S, p, n_units, schedule
        self.MPI = mpi_for(comm)
        self.busy = [False] * p  # a worker has an unfinished task
        self.sent = 0  # unit tasks handed out (every one sends S gradient pieces)
        self.log: list[dict] = []

    def cmd(self, *op) -> None:
        for s in range(self.S):
            self.comm.send(op, dest=1 + s, tag=CMD)

    def dot(self, x: str, y: str) -> float:
        self.cmd("dot", x, y)
        return sum(self.comm.recv(source=1 + s, tag=REPLY) for s in range(self.S))

    def give(self, w: int, it: int, u: int, backup: bool = False) -> None:
        self.comm.send(("unit", it, u), dest=1 + self.S + w, tag=TASK)
        self.busy[w] = True
        self.sent += 1
        self.log.append(
            dict(
                it=it, unit=u, worker=w, start=self.MPI.Wtime(), end=None, backup=backup, won=False
            )
        )

    def gradient(self, it: int, N: int) -> float:
        """One gradient phase: hand out the units, collect the first result of each;
        return Σ_u loss_u (in unit order)."""
        self.cmd("grad", it, N)
        queue = list(range(self.n_units))
        losses: dict[int, float] = {}
        if self.schedule == "static":
            for u in queue:
                self.give(u % self.p, it, u)
            queue = []
        else:
            for w in range(self.p):
                if queue and not self.busy[w]:
                    self.give(w, it, queue.pop(0))
        backed: set[int] = set()
        while len(losses) < self.n_units:
            it_u, u, loss, w = self.comm.recv(source=self.MPI.ANY_SOURCE, tag=DONE)
            self._finish(it_u, u, w, first=it_u == it and u not in losses)
            if it_u == it and u not in losses:
                losses[u] = loss
            if self.schedule == "static":
                continue
            self.busy[w] = any(e["worker"] == w and e["end"] is None for e in self.log)
            if self.busy[w]:
                continue
            if queue:
                self.give(w, it, queue.pop(0))
            elif self.schedule == "backup":
                running = [
                    e
                    for e in self.log
                    if e["it"] == it
                    and e["end"] is None
                    and e["unit"] not in losses
                    and e["unit"] not in backed
                ]
                if running:
                    oldest = min(running, key=lambda e: (e["start"], e["unit"]))
                    backed.add(oldest["unit"])
                    self.give(w, it, oldest["unit"], backup=True)
        return sum(losses[u] for u in range(self.n_units))

    def _finish(self, it, u, w, first):
        for e in self.log:
            if e["it"] == it and e["unit"] == u and e["worker"] == w and e["end"] is None:
                e["end"], e["won"] = self.MPI.Wtime(), first
                return

    def drain(self) -> None:
        """Wait for the tasks still running (copies that lost)."""
        while any(e["end"] is None for e in self.log):
            it_u, u, _, w = self.comm.recv(source=self.MPI.ANY_SOURCE, tag=DONE)
            self._finish(it_u, u, w, first=False)


def _lbfgs(co: _Coordinator, N, iterations, memory, lr, l2):
    """L-BFGS driven by small operations on the shards (two-loop recursion)."""
    MPI = co.MPI
    hist: list[tuple[str, str, float]] = []  # (s name, y name, ρ) newest last
    losses, phases = [], []
    slot = 0
    for it in range(iterations):
        t0 = MPI.Wtime()
        f = co.gradient(it, N) / N
        phases.append((t0, MPI.Wtime()))
        if l2:
            f += 0.5 * l2 * co.dot("theta", "theta")
        losses.append(f)
        if it > 0:  # y = ∇_t − ∇_{t−1}
            sname, yname = f"s{slot}", f"y{slot}"
            co.cmd("copy", "g", yname)
            co.cmd("axpy", -1.0, "gprev", yname)
            ys = co.dot(yname, sname)
            if ys > 1e-12:
                hist.append((sname, yname, 1.0 / ys))
                hist = hist[-memory:]
                slot = (slot + 1) % (memory + 1)
        co.cmd("copy", "g", "q")  # two-loop recursion: r ≈ H ∇
        alphas = []
        for sname, yname, rho in reversed(hist):
            a = rho * co.dot(sname, "q")
            alphas.append(a)
            co.cmd("axpy", -a, yname, "q")
        if hist:
            sname, yname, rho = hist[-1]
            co.cmd("scale", 1.0 / (rho * co.dot(yname, yname)), "q")  # γ = sᵀy / yᵀy
        for (sname, yname, rho), a in zip(hist, reversed(alphas)):
            beta = rho * co.dot(yname, "q")
            co.cmd("axpy", a - beta, sname, "q")
        co.cmd("axpy", -lr, "q", "theta")  # θ ← θ − η r
        co.cmd("copy", "q", f"s{slot}")
        co.cmd("scale", -lr, f"s{slot}")  # s = −η r
        co.cmd("copy", "g", "gprev")
    return losses, phases


def sandblaster(
    comm,
    grad_fn: Callable[[np.ndarray, Any], tuple[float, np.ndarray]],
    theta0: np.ndarray,
    data: Any,
    *,
    n_servers: int = 1,
    n_units: int = 32,
    schedule: str = "dynamic",
    iterations: int = 10,
    memory: int = 5,
    lr: float = 1.0,
    l2: float = 0.0,
    unit_flops: Callable[[int], float] | None = None,
) -> Any:
    """Sandblaster L-BFGS on ``comm``: rank 0 the coordinator, ranks 1..S the shards,
    the other p ranks the workers.

    Parameters
    ----------
    grad_fn : ``grad_fn(θ, batch) -> (loss, ∇)``, the *summed* loss and gradient of a
        batch (the coordinator divides by N), θ and ∇ float64 vectors of P entries.
    theta0 : θ₀ ∈ R^P. data : the N examples, an array or a tuple of arrays (every
        worker can read every unit, as from a shared file system).
    n_servers : S. n_units : work units the batch is split into (>= p).
    schedule : "static", "dynamic" or "backup" (module docstring).
    iterations, memory, lr, l2 : L-BFGS steps, the m pairs (s_i, y_i) kept, the step η,
        the weight λ of λ/2‖θ‖².
    unit_flops : flops charged for a unit of n examples (default 6 P n).

    Returns
    -------
    On the coordinator: a dict with ``losses`` (f at each iteration), ``phases``
    ((start, end) of each gradient phase), ``log`` (one dict per task: it, unit,
    worker, start, end, backup, won) and ``theta`` (the final θ); on a shard its piece
    of θ; on a worker the number of units it computed.
    """
    size, rank = comm.Get_size(), comm.Get_rank()
    S, p = n_servers, size - 1 - n_servers
    theta0 = np.asarray(theta0, dtype=np.float64)
    if schedule not in SCHEDULES:
        raise ValueError(
            f"sandblaster(schedule={schedule!r}): choose one of {', '.join(SCHEDULES)}"
        )
    if S < 1 or p < 1:
        raise ValueError(
            f"sandblaster on {size} ranks with n_servers={n_servers}: needs a coordinator, "
            "at least one shard and one worker (size >= n_servers + 2)"
        )
    N = len(data[0]) if isinstance(data, tuple) else len(data)
    if not p <= n_units <= N:
        raise ValueError(
            f"sandblaster(n_units={n_units}): use between p = {p} (one per worker) and "
            f"N = {N} units"
        )
    units = unit_bounds(N, n_units)
    P = theta0.size
    flops = unit_flops or (lambda n: 6.0 * P * n)
    if rank == 0:
        co = _Coordinator(comm, S, p, n_units, schedule)
        losses, phases = _lbfgs(co, N, iterations, memory, lr, l2)
        co.drain()
        for w in range(p):
            comm.send(("stop", iterations), dest=1 + S + w, tag=TASK)
        theta = np.empty(P)
        for s, (a, b) in enumerate(shard_bounds(P, S)):
            comm.send(("get",), dest=1 + s, tag=CMD)
            comm.Recv(theta[a:b], source=1 + s, tag=REPLY)
        co.cmd("stop", co.sent)
        return dict(losses=losses, phases=phases, log=co.log, theta=theta)
    if rank <= S:
        return _shard(comm, rank - 1, S, p, theta0, n_units, l2, 2.0)
    return _worker(comm, rank - 1 - S, S, P, grad_fn, data, units, flops)


@dataclass
class SandblasterRun:
    """A simulated run: losses f_t, the final θ, the total time T, the gradient phases'
    (start, end), the task log and the simulator's RunResult."""

    losses: list
    theta: np.ndarray
    time: float
    phases: list
    log: list
    result: Any

    @property
    def gradient_time(self) -> float:
        """Seconds spent in gradient phases (where the schedule matters)."""
        return sum(b - a for a, b in self.phases)


def simulate(
    p: int,
    grad_fn,
    theta0,
    data,
    *,
    n_servers: int = 1,
    network: Any = None,
    compute: Any = None,
    faults: Any = None,
    timeout: float | None = 60.0,
    **kwargs,
) -> SandblasterRun:
    """Run :func:`sandblaster` with p workers on a SimCluster of 1 + S + p ranks (rank 0
    the coordinator, 1..S the shards, worker w is rank 1 + S + w)."""
    from dlkit.cluster import SimCluster

    res = SimCluster(1 + n_servers + p, network=network, compute=compute, faults=faults).run(
        sandblaster, grad_fn, theta0, data, n_servers=n_servers, timeout=timeout, **kwargs
    )
    out = res.values[0]
    return SandblasterRun(out["losses"], out["theta"], res.time, out["phases"], out["log"], res)
