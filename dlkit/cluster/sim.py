"""``SimCluster``: run ``train(comm)`` on p simulated ranks in one process.

>>> from dlkit.cluster import SimCluster, networks
>>> def train(comm):
...     return comm.allreduce(comm.rank)
>>> res = SimCluster(4, network=networks.preset("10gbe")).run(train)
>>> res.values
[6, 6, 6, 6]

See :mod:`dlkit.cluster.scheduler` for the scheduler and :mod:`dlkit.cluster.matching`
for the timing rules.

A run never hangs: ``run(train, timeout=60.0)`` raises :class:`SimTimeoutError` once
the run has taken ``timeout`` seconds of wall-clock time (a rank that loops or sleeps
without calling MPI never hands control back), and ``max_virtual_time`` bounds the
simulated clock the same way. Messages still unreceived when every rank has
finished are listed in ``RunResult.unreceived`` with an
:class:`UnreceivedMessageWarning`.
"""

from __future__ import annotations

import functools
import math
import threading
import warnings
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np
from greenlet import greenlet

from . import devices as _devices
from . import networks as _networks
from .collectives import ALLREDUCE
from .comm import SimComm
from .current import _local
from .engine import Engine
from .errors import RankCrashed, RankError, UnreceivedMessageWarning, _Abort, _Crash
from .faults import Faults
from .records import Event, Transfer, Unreceived

#: the passive-target progress rules of ``SimCluster(progress=...)`` (see :mod:`.window`)
PROGRESS = ("async", "target")


@dataclass
class RunResult:
    """What a simulated run produced.

    Attributes
    ----------
    values : list, one per rank: what ``train`` returned (None for a crashed rank).
    trace : list of :class:`Event` (rank, start, end, kind, peer, bytes, label), in the
        order they were recorded.
    messages : list of :class:`Transfer` (src, dst, start, end, bytes, tag, label).
    time : the makespan, the largest rank clock at the end, in virtual seconds.
    rank_times : each rank's clock when its ``train`` returned (or it crashed).
    crashed : {rank: virtual time of its crash}.
    unreceived : list of :class:`~dlkit.cluster.records.Unreceived` (src, dst, tag,
        bytes): messages sent but never received by the end of the run (world ranks;
        messages to crashed ranks are not listed).
    """

    values: list
    trace: list[Event]
    messages: list[Transfer]
    time: float
    rank_times: list[float]
    crashed: dict[int, float] = field(default_factory=dict)
    n: int = 0
    unreceived: list[Unreceived] = field(default_factory=list)

    def __repr__(self) -> str:
        vals = repr(self.values)
        if len(vals) > 120:
            vals = vals[:117] + "..."
        crashed = f", crashed={self.crashed}" if self.crashed else ""
        if self.unreceived:
            crashed += f", {len(self.unreceived)} unreceived"
        return (
            f"RunResult(n={self.n}, time={self.time:.6g} s, values={vals}, "
            f"{len(self.trace)} events, {len(self.messages)} messages{crashed})"
        )

    def breakdown(self) -> list[dict[str, float]]:
        """Per rank, the virtual seconds spent in each event kind, plus 'idle'
        (time not covered by any event, up to the makespan)."""
        out = [defaultdict(float) for _ in range(self.n)]
        for e in self.trace:
            out[e.rank][e.kind] += e.end - e.start
        for r in range(self.n):
            busy = sum(out[r].values())
            out[r]["idle"] += max(0.0, self.time - busy)
        return [dict(d) for d in out]

    def events(self, rank: int | None = None, kind: str | None = None) -> list[Event]:
        """Trace events filtered by rank and/or kind."""
        return [
            e
            for e in self.trace
            if (rank is None or e.rank == rank) and (kind is None or e.kind == kind)
        ]


class SimCluster:
    """p simulated ranks joined by a network model, each on a compute device.

    Parameters
    ----------
    n : the number of ranks p (rank r = 0, ..., p - 1).
    network : a :class:`~dlkit.cluster.networks.Network` or a preset name
        (default "10gbe", all-to-all).
    compute : a :class:`~dlkit.cluster.devices.Device` or a preset name (default
        "cpu_core"); ``compute(comm, flops)`` charges flops / device.flops seconds.
    faults : :class:`~dlkit.cluster.faults.Faults` to inject (slow, crashed ranks,
        delayed links).
    seed : base seed; rank r's ``comm.seed`` is ``seed + r`` (use ``dlkit.rng``).
    eager_limit : sends of more bytes block until the receive is posted.
    allreduce : algorithm behind ``comm.Allreduce``: "ring" (default; bandwidth-
        optimal, what NCCL and Horovod use for large gradients), "tree",
        "recursive_doubling", "rabenseifner" or "ps".
    progress : who moves passive-target one-sided operations (:mod:`.window`):
        "async" (default; they progress by themselves, as with RDMA hardware or an
        asynchronous progress thread) or "target" (a request the target's MPI library
        must handle waits until the target next enters an MPI call, as with the MPICH
        wheel on CPUs: a target busy computing delays it).
    """

    def __init__(
        self,
        n: int,
        network: Any = None,
        compute: Any = None,
        faults: Faults | None = None,
        seed: int = 0,
        eager_limit: int = 65536,
        allreduce: str = "ring",
        progress: str = "async",
    ):
        _check_args(n, faults, seed, eager_limit, allreduce)
        if progress not in PROGRESS:
            raise ValueError(
                f"SimCluster(progress={progress!r}): choose one of {', '.join(map(repr, PROGRESS))}"
            )
        if network is None:
            network = _networks.preset("10gbe")
        elif isinstance(network, str):
            network = _networks.preset(network)
        if not isinstance(network, _networks.Network):
            raise TypeError(f"network must be a Network or preset name, got {network!r}")
        if compute is None:
            compute = _devices.preset("cpu_core")
        elif isinstance(compute, str):
            compute = _devices.preset(compute)
        if not isinstance(compute, _devices.Device):
            raise TypeError(f"compute must be a Device or preset name, got {compute!r}")
        if allreduce not in ALLREDUCE:
            raise ValueError(
                f"unknown allreduce algorithm {allreduce!r}; choose one of {', '.join(ALLREDUCE)}"
            )
        self.n = int(n)
        self.network = network
        self.device = compute
        self.faults = faults if faults is not None else Faults()
        self.faults.validate(n)
        self.seed = seed
        self.eager_limit = int(eager_limit)
        self.allreduce = allreduce
        self.progress = progress

    def __repr__(self) -> str:
        return (
            f"SimCluster({self.n}, network={self.network.name!r}, "
            f"compute={self.device.name!r}, allreduce={self.allreduce!r})"
        )

    def run(
        self,
        train: Callable,
        *args,
        timeout: float | None = 60.0,
        max_virtual_time: float | None = None,
        **kwargs,
    ) -> RunResult:
        """Run ``train(comm, *args, **kwargs)`` on every rank; return a :class:`RunResult`.

        Parameters
        ----------
        train : the program, called as ``train(comm, *args, **kwargs)`` on each rank.
        timeout : wall-clock seconds the whole run may take (None: no limit). Past
            it, the run stops with :class:`SimTimeoutError` naming what each rank was
            doing; a rank stuck in Python code (a loop or a sleep without MPI calls)
            cannot be killed, so its daemon thread is left behind and unwinds at its
            next MPI call. These two names are taken by ``run``, not passed to train.
        max_virtual_time : the largest virtual time (seconds) a rank's clock may
            reach (None: no limit); past it, :class:`SimTimeoutError`.

        Raises :class:`DeadlockError` if the ranks deadlock, :class:`RankCrashed` if a
        survivor did not handle a crashed peer, :class:`RankError` (with the original
        exception as its cause) if ``train`` raised in some rank,
        :class:`CollectiveMismatchError` if ranks entered different collectives and
        :class:`SimTimeoutError` past a limit. Warns with
        :class:`UnreceivedMessageWarning` if messages were left unreceived.
        """
        if not callable(train):
            raise TypeError(
                f"SimCluster.run(train): train must be a function of comm, got "
                f"{type(train).__name__}"
            )
        _check_limit("timeout", timeout)
        _check_limit("max_virtual_time", max_virtual_time)
        eng = Engine(
            self.n, self.network, self.device, self.faults, self.eager_limit, max_virtual_time
        )
        eng.progress_rule = self.progress
        comms = [SimComm(eng, r, 0, self.allreduce) for r in range(self.n)]
        for r, c in enumerate(comms):
            c.seed = self.seed + r
        end_time = [0.0] * self.n

        programs = [
            functools.partial(_rank, eng, r, comms[r], end_time, train, args, kwargs)
            for r in range(self.n)
        ]
        eng.resume = functools.partial(_resume, comms)
        scheduler = threading.Thread(
            target=_schedule, args=(eng, programs), name="simcluster", daemon=True
        )
        scheduler.start()
        if not eng.finished.wait(timeout):
            eng.wall_timeout(timeout)
            _reap(scheduler)
        else:
            scheduler.join()
        if eng.error is not None:
            err = eng.error
            if isinstance(err, tuple):
                rank, exc = err
                if isinstance(exc, RankCrashed):
                    raise exc
                raise RankError(rank, exc, eng.clock[rank]) from exc
            raise err
        unreceived = eng.unreceived()
        if unreceived:
            shown = ", ".join(
                f"{m.src}->{m.dst} (tag {m.tag}, {m.bytes} bytes)" for m in unreceived[:10]
            )
            more = f" and {len(unreceived) - 10} more" if len(unreceived) > 10 else ""
            warnings.warn(
                f"{len(unreceived)} message(s) were sent but never received when "
                f"every rank had finished: {shown}{more}. Post a matching receive "
                "for each (an MPI program must receive every message it sends); "
                "they are listed in RunResult.unreceived.",
                UnreceivedMessageWarning,
                stacklevel=2,
            )
        return RunResult(
            values=list(eng.values),
            trace=eng.trace,
            messages=eng.messages,
            time=max(end_time),
            rank_times=end_time,
            crashed=dict(eng.crashed),
            n=self.n,
            unreceived=unreceived,
        )


def _check_args(n, faults, seed, eager_limit, allreduce) -> None:
    """SimCluster's argument checks (n, faults, seed, eager_limit, allreduce)."""
    if isinstance(n, bool) or not isinstance(n, (int, np.integer)):
        raise TypeError(
            f"SimCluster(n={n!r}): n is the number of ranks, an int >= 1 (got {type(n).__name__})"
        )
    if n < 1:
        raise ValueError(f"SimCluster needs n >= 1 ranks, got {n!r}")
    if faults is not None and not isinstance(faults, Faults):
        raise TypeError(f"SimCluster(faults={faults!r}): pass a dlkit.cluster.Faults(...) or None")
    if isinstance(seed, bool) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"SimCluster(seed={seed!r}): the seed must be an int (rank r's comm.seed is seed + r)"
        )
    if isinstance(eager_limit, bool) or not isinstance(
        eager_limit, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"SimCluster(eager_limit={eager_limit!r}): the eager limit is a "
            "number of bytes, an int >= 0"
        )
    if not (math.isfinite(eager_limit) and eager_limit >= 0 and float(eager_limit).is_integer()):
        raise ValueError(
            f"SimCluster(eager_limit={eager_limit!r}): the eager limit must be "
            "a whole number of bytes >= 0"
        )
    if not isinstance(allreduce, str):
        raise TypeError(
            f"SimCluster(allreduce={allreduce!r}): name the algorithm, one of "
            f"{', '.join(ALLREDUCE)}"
        )


def _check_limit(name: str, value) -> None:
    """A run limit is None or a positive number of seconds (not a bool)."""
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)):
        raise TypeError(
            f"SimCluster.run({name}={value!r}): pass a number of seconds > 0, or None for no limit"
        )
    if not value > 0:
        raise ValueError(
            f"SimCluster.run({name}={value!r}): the limit must be > 0 seconds (None for no limit)"
        )


def _rank(eng, r, comm, end_time, train, args, kwargs):
    """Rank r's greenlet: run ``train(comm, ...)``; return the rank to run next."""
    greenlet.getcurrent().parent.switch()  # primed: wait for the first turn (see _schedule)
    try:
        eng.after_wake(r)
        eng.values[r] = train(comm, *args, **kwargs)
    except _Crash:
        eng.on_crash(r)
    except _Abort:
        pass
    except BaseException as exc:  # noqa: BLE001 - re-raised by run()
        eng.rank_failed(r, exc)
    finally:
        end_time[r] = eng.clock[r]
        _local.comm = None
    return eng.finish(r)


def _resume(comms, r):
    """A rank's greenlet resumes: MPI.COMM_WORLD and MPI.Wtime() now mean its comm."""
    _local.comm = comms[r]  # what current_comm() returns in this rank


def _schedule(eng, programs) -> None:
    """The scheduler thread: one greenlet per rank (greenlets live in the thread that
    made them); start the first rank; whenever a rank's program ends, its greenlet
    returns here with the rank to run next. After a stop (error, deadlock, time limit)
    every rank still suspended is resumed once more to unwind."""
    eng.glets = [greenlet(program) for program in programs]
    for g in eng.glets:  # each starts here, so its stack depth counts from here, not from
        g.switch()  # the rank that first switches to it
    try:
        nxt = eng.next_rank()
        while nxt is not None:
            nxt = eng.glets[nxt].switch()
    except _Abort:  # delivered by _reap after a wall-clock timeout
        pass
    finally:
        try:
            for g in eng.glets:
                while not g.dead:
                    g.switch()
        except _Abort:
            pass
        eng.finished.set()


def _reap(scheduler: threading.Thread, grace: float = 0.2) -> None:
    """After a wall-clock timeout: the ranks are told to stop; a rank stuck in Python
    code (a loop without MPI calls) is asked to stop by an asynchronous _Abort,
    delivered at its next bytecode. A rank asleep in C code keeps the daemon scheduler
    thread until it wakes; the run has returned by then."""
    scheduler.join(0.05)
    if not scheduler.is_alive():
        return
    try:
        import ctypes

        ctypes.pythonapi.PyThreadState_SetAsyncExc(
            ctypes.c_ulong(scheduler.ident), ctypes.py_object(_Abort)
        )
    except (ImportError, AttributeError):  # not CPython: the daemon thread stays
        return
    scheduler.join(grace)
