"""One-sided communication (MPI RMA windows) on the simulated cluster.

``win = MPI.Win.Create(memory, disp_unit=8, comm=comm)`` exposes each rank's numpy
array ``memory``; any rank can then ``Lock`` a target's window, ``Put``/``Get``/
``Accumulate`` into it and ``Unlock`` it, without the target taking part - the shape of
a parameter server (Downpour SGD, Dean et al. 2012) or HOGWILD!-style shared weights
(Niu, Recht, Ré & Wright 2011).

Simulation model: an operation moves its data at the moment it is issued (in
virtual-time order), so a ``Get`` sees every ``Put`` issued before it. Its cost is a
transfer on the ports (``alpha + m*beta`` for m bytes between origin and target,
sender's send port and receiver's receive port), and the origin waits for it;
``Accumulate`` adds ``gamma * m`` for the arithmetic. ``Lock`` and ``Unlock`` cost one
latency ``alpha`` each; an exclusive lock waits until every other holder has unlocked
(FIFO). Access to one's own window is free. Events are traced with kind 'win'.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from . import collectives as C
from .constants import LOCK_EXCLUSIVE, LOCK_SHARED, SUM
from .current import current_comm
from .errors import RankCrashed
from .requests import Request


class _Shared:
    """State shared by all ranks' handles of one window."""

    def __init__(self, n):
        self.memory: list[np.ndarray | None] = [None] * n
        self.disp_unit = [1] * n
        self.excl: list[int | None] = [None] * n
        self.shared: list[set] = [set() for _ in range(n)]
        self.queue: list[deque] = [deque() for _ in range(n)]
        self.freed = False


class Win:
    """A rank's handle on an RMA window (mpi4py's ``MPI.Win``)."""

    def __init__(self, comm, shared: _Shared):
        self._comm = comm
        self._engine = comm._engine
        self._rank = comm._rank
        self._s = shared
        self._held: dict[int, int] = {}
        self._tw = comm._to_world  # target ranks are ranks of comm

    @classmethod
    def Create(cls, memory: Any, disp_unit: int = 1, info: Any = None, comm: Any = None) -> "Win":
        """Collective: every rank of ``comm`` exposes ``memory`` (a numpy array or None)."""
        if comm is None:
            comm = current_comm()
        if not getattr(comm, "_dlkit_sim", False):
            from mpi4py import MPI as _M  # a real communicator: use mpi4py's windows

            return _M.Win.Create(memory, disp_unit=disp_unit, comm=comm)
        eng, me = comm._engine, comm._rank
        shared = eng.window_state(comm._ctx, me, lambda: _Shared(eng.n))
        if memory is not None:
            if isinstance(memory, (list, tuple)):
                memory = memory[0]
            if not isinstance(memory, np.ndarray) or not memory.flags.c_contiguous:
                raise TypeError(
                    f"rank {me}: Win.Create needs a C-contiguous numpy array (or "
                    f"None), got {type(memory).__name__}"
                )
        shared.memory[me] = memory
        shared.disp_unit[me] = int(disp_unit)
        comm._collective("Win.Create", 0, lambda: C.barrier_dissemination(comm._cc), "win")
        return cls(comm, shared)

    # ---------------------------------------------------------------- locks ----
    def _check_target(self, target_rank: int, call: str) -> None:
        eng = self._engine
        if not 0 <= target_rank < eng.n:
            raise ValueError(
                f"rank {self._rank}: {call} target_rank={target_rank} is not a "
                f"rank (0..{eng.n - 1})"
            )
        if target_rank in eng.crashed:
            raise RankCrashed(target_rank, eng.crashed[target_rank], self._rank, call)
        if self._s.freed:
            raise RuntimeError(f"rank {self._rank}: {call} on a freed window")

    def _can_grant(self, target: int, lock_type: int) -> bool:
        s = self._s
        if lock_type == LOCK_EXCLUSIVE:
            return s.excl[target] is None and not s.shared[target]
        return s.excl[target] is None

    def _grant(self, target: int, who: int, lock_type: int) -> None:
        if lock_type == LOCK_EXCLUSIVE:
            self._s.excl[target] = who
        else:
            self._s.shared[target].add(who)

    def Lock(self, rank: int, lock_type: int = LOCK_EXCLUSIVE, assertion: int = 0) -> None:
        """Start an access epoch on ``rank``'s window (waits while it is locked)."""
        eng, me = self._engine, self._rank
        rank = self._tw(rank, "rank", "Win.Lock")
        call = f"Win.Lock(rank={rank}, {'exclusive' if lock_type == LOCK_EXCLUSIVE else 'shared'})"
        eng.yield_(me)
        self._check_target(rank, call)
        if lock_type not in (LOCK_EXCLUSIVE, LOCK_SHARED):
            raise ValueError(f"rank {me}: lock_type must be MPI.LOCK_EXCLUSIVE or MPI.LOCK_SHARED")
        if rank in self._held:
            raise RuntimeError(f"rank {me}: {call} but it already holds a lock on that window")
        t0 = eng.clock[me]
        if not self._s.queue[rank] and self._can_grant(rank, lock_type):
            self._grant(rank, me, lock_type)
        else:
            req = Request(eng, me, "lock", rank, 0, -1, call, t0)
            req.is_obj = False
            self._s.queue[rank].append((req, lock_type))
            eng.wait(me, [req], "win", record=False)
        self._held[rank] = lock_type
        self._charge(t0, eng.clock[me] + self._alpha(rank), "Lock", rank, 0)

    def Unlock(self, rank: int) -> None:
        """End the access epoch on ``rank``; waiting lockers are granted in FIFO order."""
        eng, me = self._engine, self._rank
        rank = self._tw(rank, "rank", "Win.Unlock")
        if rank not in self._held:
            raise RuntimeError(f"rank {me}: Win.Unlock({rank}) without a matching Lock")
        eng.yield_(me)
        lock_type = self._held.pop(rank)
        t0 = eng.clock[me]
        t1 = t0 + self._alpha(rank)
        s = self._s
        if lock_type == LOCK_EXCLUSIVE:
            s.excl[rank] = None
        else:
            s.shared[rank].discard(me)
        q = s.queue[rank]
        while q and self._can_grant(rank, q[0][1]):
            req, lt = q.popleft()
            self._grant(rank, req.owner, lt)
            req.done = True
            req.t_complete = max(req.t_post, t1)
            eng.notify(req)
        self._charge(t0, t1, "Unlock", rank, 0)

    def Flush(self, rank: int) -> None:
        pass

    def Fence(self, assertion: int = 0) -> None:
        """Collective synchronisation of all ranks on the window (a barrier)."""
        self._comm._collective(
            "Win.Fence", 0, lambda: C.barrier_dissemination(self._comm._cc), "win"
        )

    def Free(self) -> None:
        """Collective: release the window."""
        self._comm._collective(
            "Win.Free", 0, lambda: C.barrier_dissemination(self._comm._cc), "win"
        )
        self._s.freed = True

    # ---------------------------------------------------------- data movement ----
    def _alpha(self, target: int) -> float:
        if target == self._rank:
            return 0.0
        return self._engine.network.link(self._rank, target, self._engine.n)[0]

    def _region(self, origin: np.ndarray, target_rank: int, target: Any, call: str):
        mem = self._s.memory[target_rank]
        if mem is None:
            raise ValueError(f"rank {self._rank}: {call}: rank {target_rank} exposed no memory")
        disp = 0
        if target is not None:
            disp = target[0] if isinstance(target, (list, tuple)) else int(target)
        off = disp * self._s.disp_unit[target_rank]
        nb = origin.nbytes
        raw = mem.reshape(-1).view(np.uint8)
        if off < 0 or off + nb > raw.size:
            raise ValueError(
                f"rank {self._rank}: {call}: bytes [{off}, {off + nb}) fall "
                f"outside rank {target_rank}'s {raw.size}-byte window"
            )
        return raw[off : off + nb]

    def _transfer(self, src: int, dst: int, nbytes: int) -> float:
        """Occupy the ports for a transfer issued now; return its end time."""
        eng = self._engine
        t = eng.clock[self._rank]
        if src == dst:
            return t
        return eng.transfer(src, dst, t, nbytes, -1, "rma")

    def _charge(self, t0: float, t1: float, label: str, peer: int, nbytes: int) -> None:
        eng, me = self._engine, self._rank
        eng.advance(me, t1)
        eng.record(me, t0, eng.clock[me], "win", peer, nbytes, label)

    def _epoch(self, target_rank: int, call: str) -> int:
        target_rank = self._tw(target_rank, "target_rank", call)
        self._engine.yield_(self._rank)
        self._check_target(target_rank, call)
        if target_rank not in self._held:
            raise RuntimeError(
                f"rank {self._rank}: {call} outside a Lock/Unlock epoch on rank "
                f"{target_rank}: call win.Lock({target_rank}) first"
            )
        return target_rank

    def Put(self, origin: Any, target_rank: int, target: Any = None) -> None:
        """Copy ``origin`` into ``target_rank``'s window at displacement ``target``."""
        origin = _arr(origin)
        target_rank = self._epoch(target_rank, "Win.Put")
        self._region(origin, target_rank, target, "Put")[:] = (
            np.ascontiguousarray(origin).reshape(-1).view(np.uint8)
        )
        t0 = self._engine.clock[self._rank]
        self._charge(
            t0,
            self._transfer(self._rank, target_rank, origin.nbytes),
            "Put",
            target_rank,
            origin.nbytes,
        )

    def Get(self, origin: Any, target_rank: int, target: Any = None) -> None:
        """Copy ``target_rank``'s window (from displacement ``target``) into ``origin``."""
        origin = _arr(origin)
        target_rank = self._epoch(target_rank, "Win.Get")
        if not origin.flags.c_contiguous:
            raise ValueError(f"rank {self._rank}: Win.Get needs a C-contiguous origin buffer")
        origin.reshape(-1).view(np.uint8)[:] = self._region(origin, target_rank, target, "Get")
        t0 = self._engine.clock[self._rank]
        self._charge(
            t0,
            self._transfer(target_rank, self._rank, origin.nbytes),
            "Get",
            target_rank,
            origin.nbytes,
        )

    def Accumulate(self, origin: Any, target_rank: int, target: Any = None, op: Any = SUM) -> None:
        """target <- target (op) origin, elementwise in ``origin``'s dtype."""
        origin = np.ascontiguousarray(_arr(origin))
        target_rank = self._epoch(target_rank, "Win.Accumulate")
        region = self._region(origin, target_rank, target, "Accumulate").view(origin.dtype)
        C.ufunc_of(op)(region, origin.reshape(-1), out=region)
        eng, me = self._engine, self._rank
        t0 = eng.clock[me]
        e = self._transfer(me, target_rank, origin.nbytes)
        e += origin.nbytes * eng.network.gamma * eng.slow[target_rank]
        self._charge(t0, e, "Accumulate", target_rank, origin.nbytes)


def _arr(x: Any) -> np.ndarray:
    if isinstance(x, (list, tuple)):
        x = x[0]
    if not isinstance(x, np.ndarray):
        raise TypeError(f"one-sided operations need a numpy array, got {type(x).__name__}")
    return x
