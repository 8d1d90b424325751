"""``SimCluster``: run ``train(comm)`` on n simulated ranks in one process.

>>> from dlkit.cluster import SimCluster, networks
>>> def train(comm):
...     return comm.allreduce(comm.rank)
>>> res = SimCluster(4, network=networks.preset("10gbe")).run(train)
>>> res.values
[6, 6, 6, 6]

See :mod:`dlkit.cluster.engine` for the scheduler and the timing rules.
"""

from __future__ import annotations

import threading
from collections import defaultdict
from dataclasses import dataclass, field
from typing import Any, Callable

from . import devices as _devices
from . import networks as _networks
from .collectives import ALLREDUCE
from .comm import SimComm
from .engine import Engine, Event, Transfer
from .errors import RankCrashed, RankError, _Abort, _Crash
from .faults import Faults
from .mpi import _local


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
    """

    values: list
    trace: list[Event]
    messages: list[Transfer]
    time: float
    rank_times: list[float]
    crashed: dict[int, float] = field(default_factory=dict)
    n: int = 0

    def __repr__(self) -> str:
        vals = repr(self.values)
        if len(vals) > 120:
            vals = vals[:117] + "..."
        crashed = f", crashed={self.crashed}" if self.crashed else ""
        return (f"RunResult(n={self.n}, time={self.time:.6g} s, values={vals}, "
                f"{len(self.trace)} events, {len(self.messages)} messages{crashed})")

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
        return [e for e in self.trace
                if (rank is None or e.rank == rank) and (kind is None or e.kind == kind)]


class SimCluster:
    """n simulated ranks joined by a network model, each on a compute device.

    Parameters
    ----------
    n : number of ranks.
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
    """

    def __init__(self, n: int, network: Any = None, compute: Any = None,
                 faults: Faults | None = None, seed: int = 0, eager_limit: int = 65536,
                 allreduce: str = "ring"):
        if not isinstance(n, int) or n < 1:
            raise ValueError(f"SimCluster needs n >= 1 ranks, got {n!r}")
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
            raise ValueError(f"unknown allreduce algorithm {allreduce!r}; choose one of "
                             f"{', '.join(ALLREDUCE)}")
        self.n = n
        self.network = network
        self.device = compute
        self.faults = faults if faults is not None else Faults()
        self.faults.validate(n)
        self.seed = seed
        self.eager_limit = int(eager_limit)
        self.allreduce = allreduce

    def __repr__(self) -> str:
        return (f"SimCluster({self.n}, network={self.network.name!r}, "
                f"compute={self.device.name!r}, allreduce={self.allreduce!r})")

    def run(self, train: Callable, *args, **kwargs) -> RunResult:
        """Run ``train(comm, *args, **kwargs)`` on every rank; return a :class:`RunResult`.

        Raises :class:`DeadlockError` if the ranks deadlock, :class:`RankCrashed` if a
        survivor did not handle a crashed peer, and :class:`RankError` (with the
        original exception as its cause) if ``train`` raised in some rank.
        """
        eng = Engine(self.n, self.network, self.device, self.faults, self.eager_limit)
        comms = [SimComm(eng, r, 0, self.allreduce) for r in range(self.n)]
        for r, c in enumerate(comms):
            c.seed = self.seed + r
        end_time = [0.0] * self.n

        def body(r):
            comm = comms[r]
            _local.comm = comm
            try:
                eng.sem[r].acquire()
                eng._after_wake(r)
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
                eng.finish(r)

        threads = [threading.Thread(target=body, args=(r,), name=f"rank-{r}", daemon=True)
                   for r in range(self.n)]
        for t in threads:
            t.start()
        first = eng._pop_valid()
        eng.sem[first].release()
        eng.finished.wait()
        for t in threads:
            t.join()
        if eng.error is not None:
            err = eng.error
            if isinstance(err, tuple):
                rank, exc = err
                if isinstance(exc, RankCrashed):
                    raise exc
                raise RankError(rank, exc, eng.clock[rank]) from exc
            raise err
        return RunResult(values=list(eng.values), trace=eng.trace, messages=eng.messages,
                         time=max(end_time), rank_times=end_time, crashed=dict(eng.crashed),
                         n=self.n)
