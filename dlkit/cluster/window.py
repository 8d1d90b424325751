r"""One-sided communication (MPI RMA windows) on the simulated cluster.

``win = MPI.Win.Create(memory, disp_unit=8, comm=comm)`` exposes each rank's numpy
array ``memory``; ``win = MPI.Win.Allocate(nbytes, disp_unit=8, comm=comm)`` lets MPI
allocate it (view it with ``np.frombuffer(win.tomemory(), dtype=np.float64)``). As in
mpi4py, ``comm`` defaults to ``MPI.COMM_SELF``: pass ``comm=comm`` to share a window.
Any rank can then read and write a target's window without the target taking part -
the shape of a parameter server (Downpour SGD, Dean et al. 2012).

Epochs (MPI's synchronisation; an operation outside one is an error):

* passive target - ``Lock(rank, MPI.LOCK_EXCLUSIVE | MPI.LOCK_SHARED)`` ...
  ``Unlock(rank)``, or ``Lock_all()`` ... ``Unlock_all()`` (shared locks on every
  target); ``Flush(rank)``/``Flush_all()`` complete the operations issued so far
  without ending the epoch, ``Flush_local``/``Flush_local_all`` only their local part
  (a Put's origin buffer may be reused at once; a Get's data has arrived);
* active target - ``Fence()`` is collective: it completes every operation issued
  before it and opens an epoch in which every rank may access every window;
  ``Fence(MPI.MODE_NOSUCCEED)`` closes it without opening another. A ``Lock`` right
  after a ``Fence``, with no operation between them, ends the fence epoch.

Operations: ``Put``, ``Get``, ``Accumulate`` (ops ``MPI.SUM``, ``MAX``, ``MIN``,
``PROD``, ``REPLACE``...), ``Get_accumulate`` (also ``MPI.NO_OP``), ``Fetch_and_op``
and ``Compare_and_swap`` (one element, atomic). ``MPI.PROC_NULL`` as the target makes
an operation, a lock or a flush do nothing.

Simulation model: an operation moves its data when it is issued (in virtual-time
order, so a Get sees every Put issued before it) and does not block: the origin's
clock moves on, and the operation completes in virtual time at the end of its transfer
(``alpha + m*beta`` for m bytes on the ports between origin and target; an accumulate
adds ``gamma * m`` at the target; Get_accumulate, Fetch_and_op and Compare_and_swap are
a request to the target and a reply, each a transfer). ``Flush``, ``Unlock``,
``Unlock_all`` and ``Fence`` wait until the operations they complete have completed;
``Lock`` and ``Unlock`` cost one latency ``alpha`` each, ``Lock_all`` nothing (its locks
are taken lazily, as MPICH does); an exclusive lock waits until every other holder has
unlocked (FIFO). Access to one's own window is free. Events are traced with kind 'win'.

Progress at the target (``SimCluster(progress=...)``), the pitfall of passive-target
RMA on real clusters:

* ``"async"`` (the default) - operations progress by themselves (RDMA hardware or an
  asynchronous progress thread): a busy target does not delay them.
* ``"target"`` - what the MPICH wheel does on one machine: a request that the target's
  MPI library must handle waits until the target next enters an MPI call; a target
  that is computing (inside a stretch of ``compute`` charges) handles it at the end
  of that stretch. Such requests are the lock requests (``Lock``, and ``Lock_all``'s
  lock on each target, taken at its first operation) unless the epoch asserts
  ``MPI.MODE_NOCHECK`` (no other rank holds a conflicting lock, so no lock message
  is sent), and every operation on a ``Win.Create`` window. Operations on a
  ``Win.Allocate`` window reach the memory directly (shared memory on one node, RDMA
  across nodes) and do not wait. So a Get stalls behind a busy target with
  ``Win.Create`` (whatever the lock) and with ``Win.Allocate`` + ``Lock`` or
  ``Lock_all``; it does not with ``Win.Allocate`` + ``Lock_all(MPI.MODE_NOCHECK)`` +
  ``Flush``, nor when the target polls MPI (``comm.Iprobe()``) between short pieces
  of work. These are the rules measured with ``tests/mpi_scripts/progress.py``.

A rank's own writes to its exposed memory (plain numpy assignments) become visible to
others when it is charged for the computation before them: with windows in a run,
``compute`` lets the ranks that are earlier in virtual time act first.
"""

from __future__ import annotations

from collections import deque
from typing import Any

import numpy as np

from . import collectives as C
from .constants import (
    LOCK_EXCLUSIVE,
    LOCK_SHARED,
    MODE_NOCHECK,
    MODE_NOSUCCEED,
    NO_OP,
    PROC_NULL,
    REPLACE,
    SUM,
    Op,
)
from .current import current_comm
from .errors import RankCrashed
from .requests import Request


class _Shared:
    """State shared by all ranks' handles of one window."""

    def __init__(self, n, allocated=False):
        self.memory: list[np.ndarray | None] = [None] * n
        self.disp_unit = [1] * n
        self.excl: list[int | None] = [None] * n
        self.shared: list[set] = [set() for _ in range(n)]
        self.queue: list[deque] = [deque() for _ in range(n)]
        self.freed = False
        self.allocated = allocated  # memory from Win.Allocate (reachable directly)


def _lock_name(lock_type: Any) -> str:
    if lock_type == LOCK_EXCLUSIVE:
        return "exclusive"
    if lock_type == LOCK_SHARED:
        return "shared"
    return repr(lock_type)


class Win:
    """A rank's handle on an RMA window (mpi4py's ``MPI.Win``)."""

    def __init__(self, comm, shared: _Shared):
        self._comm = comm
        self._engine = comm._engine
        self._rank = comm._rank
        self._s = shared
        self._held: dict[int, int] = {}  # target (world rank) -> lock type of Lock
        self._all = False  # inside Lock_all ... Unlock_all
        self._nocheck = False  # that Lock_all asserted MPI.MODE_NOCHECK
        self._acquired: set[int] = set()  # targets whose Lock_all lock has been taken
        self._fence = False  # inside a fence epoch
        self._fence_ops = 0  # operations issued since the last Fence
        self._done: dict[int, float] = {}  # target -> completion time of its operations
        self._local: dict[int, float] = {}  # target -> local completion time
        self._tw = comm._to_world  # target ranks are ranks of comm

    # ---------------------------------------------------------------- creation ----
    @staticmethod
    def _comm_of(comm: Any, call: str):
        if comm is None:
            return current_comm()._self_comm  # mpi4py's default: MPI.COMM_SELF
        return comm

    @classmethod
    def Create(cls, memory: Any, disp_unit: int = 1, info: Any = None, comm: Any = None) -> "Win":
        """Collective over ``comm`` (default ``MPI.COMM_SELF``, as in mpi4py): every rank
        exposes ``memory``, a C-contiguous numpy array (``np.zeros(0)`` or None for
        none)."""
        comm = cls._comm_of(comm, "Win.Create")
        if not getattr(comm, "_dlkit_sim", False):
            from mpi4py import MPI as _M  # a real communicator: use mpi4py's windows

            return _M.Win.Create(memory, disp_unit=disp_unit, comm=comm)
        me = comm._rank
        if memory is not None:
            if isinstance(memory, (list, tuple)):
                memory = memory[0]
            if not isinstance(memory, np.ndarray) or not memory.flags.c_contiguous:
                raise TypeError(
                    f"rank {me}: Win.Create(memory=...) needs a C-contiguous numpy array "
                    f"(or None), got {type(memory).__name__}"
                )
        return cls._make(comm, memory, disp_unit, "Win.Create", allocated=False)

    @classmethod
    def Allocate(cls, size: int, disp_unit: int = 1, info: Any = None, comm: Any = None) -> "Win":
        """Collective over ``comm`` (default ``MPI.COMM_SELF``): every rank gets a
        window of ``size`` bytes allocated by MPI, zero-filled; reach it with
        ``win.tomemory()`` (``np.frombuffer(win.tomemory(), dtype=...)`` is a view)."""
        comm = cls._comm_of(comm, "Win.Allocate")
        if not getattr(comm, "_dlkit_sim", False):
            from mpi4py import MPI as _M

            return _M.Win.Allocate(size, disp_unit=disp_unit, comm=comm)
        me = comm._rank
        if isinstance(size, (bool, np.bool_)) or not isinstance(size, (int, np.integer)):
            raise TypeError(
                f"rank {me}: Win.Allocate(size={size!r}): size is a number of bytes, an int >= 0"
            )
        if size < 0:
            raise ValueError(f"rank {me}: Win.Allocate(size={size}): size must be >= 0 bytes")
        memory = np.zeros(int(size), dtype=np.uint8)
        return cls._make(comm, memory, disp_unit, "Win.Allocate", allocated=True)

    @classmethod
    def _make(cls, comm, memory, disp_unit, call, allocated):
        eng, me = comm._engine, comm._rank
        if (
            isinstance(disp_unit, (bool, np.bool_))
            or not isinstance(disp_unit, (int, np.integer))
            or disp_unit < 1
        ):
            raise ValueError(
                f"rank {me}: {call}(disp_unit={disp_unit!r}): disp_unit is the size in "
                "bytes of one displacement step, an int >= 1 (8 for float64)"
            )
        shared = eng.window_state(comm._ctx, me, lambda: _Shared(eng.n, allocated))
        shared.memory[me] = memory
        shared.disp_unit[me] = int(disp_unit)
        comm._collective(call, 0, lambda: C.barrier_dissemination(comm._cc), "win")
        return cls(comm, shared)

    def tomemory(self) -> memoryview:
        """This rank's window memory as a writable buffer (``np.frombuffer`` views it)."""
        mem = self._s.memory[self._rank]
        if mem is None:
            return memoryview(np.zeros(0, dtype=np.uint8))
        return memoryview(mem.reshape(-1).view(np.uint8))

    def Get_group(self):
        """The group of the window's communicator."""
        return self._comm.Get_group()

    # ------------------------------------------------------------------ checks ----
    def _target(self, rank: Any, what: str, call: str) -> int:
        """The world rank of a target (PROC_NULL kept), after the usual checks."""
        if rank == PROC_NULL and not isinstance(rank, (bool, np.bool_)):
            return PROC_NULL
        rank = self._tw(rank, what, call)
        self._engine.yield_(self._rank)
        self._check_target(rank, call)
        return rank

    def _check_target(self, target_rank: int, call: str) -> None:
        eng = self._engine
        if target_rank in eng.crashed:
            raise RankCrashed(target_rank, eng.crashed[target_rank], self._rank, call)
        if self._s.freed:
            raise RuntimeError(f"rank {self._rank}: {call} on a freed window")

    def _progress_at(self, target: int, t: float, lock: bool) -> float:
        """When the target's MPI library has handled what an operation (or, with
        ``lock``, a Lock request) issued at t needs from it (the progress rule)."""
        if target == self._rank or self._engine.progress_rule != "target":
            return t
        busy = self._engine.busy_until
        if lock:
            return busy(target, t)
        if self._all and not self._nocheck and target not in self._acquired:
            t = busy(target, t)  # Lock_all's lock on this target, taken at its first use
            self._acquired.add(target)
        if not self._s.allocated:
            t = busy(target, t)  # the target's library serves the operation
        return t

    # ---------------------------------------------------------------- locks ----
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

    def _acquire(self, target: int, lock_type: int, call: str) -> None:
        """Take a lock on target, waiting in its FIFO queue if needed."""
        eng, me = self._engine, self._rank
        if not self._s.queue[target] and self._can_grant(target, lock_type):
            self._grant(target, me, lock_type)
            return
        req = Request(eng, me, "lock", target, 0, -1, call, eng.clock[me])
        self._s.queue[target].append((req, lock_type))
        eng.wait(me, [req], "win", record=False)

    def _release(self, target: int, lock_type: int, t1: float) -> None:
        s, eng = self._s, self._engine
        if lock_type == LOCK_EXCLUSIVE:
            s.excl[target] = None
        else:
            s.shared[target].discard(self._rank)
        q = s.queue[target]
        while q and self._can_grant(target, q[0][1]):
            req, lt = q.popleft()
            self._grant(target, req.owner, lt)
            req.done = True
            req.t_complete = max(req.t_post, t1)
            eng.notify(req)

    def _end_fence_for_lock(self, call: str) -> None:
        if self._fence:
            if self._fence_ops:
                raise RuntimeError(
                    f"rank {self._rank}: {call} inside a fence epoch with operations "
                    "issued: close it with win.Fence(MPI.MODE_NOSUCCEED) (collective) first"
                )
            self._fence = False

    def Lock(self, rank: int, lock_type: int = LOCK_EXCLUSIVE, assertion: int = 0) -> None:
        """Start a passive-target epoch on ``rank``'s window (waits while it is locked)."""
        eng, me = self._engine, self._rank
        if lock_type not in (LOCK_EXCLUSIVE, LOCK_SHARED) or isinstance(lock_type, bool):
            raise ValueError(
                f"rank {me}: Win.Lock(lock_type={lock_type!r}): the lock type must be "
                "MPI.LOCK_EXCLUSIVE or MPI.LOCK_SHARED"
            )
        call = f"Win.Lock(rank={rank!r}, {_lock_name(lock_type)})"
        rank = self._target(rank, "rank", "Win.Lock")
        if rank == PROC_NULL:
            return
        if rank in self._held or self._all:
            raise RuntimeError(
                f"rank {me}: {call} but it already holds a lock on that window "
                "(Lock_all or Lock); Unlock it first"
            )
        self._end_fence_for_lock(call)
        t0 = eng.clock[me]
        self._acquire(rank, lock_type, call)
        self._held[rank] = lock_type
        t = eng.clock[me]
        if not int(assertion) & MODE_NOCHECK:
            t = self._progress_at(rank, t, lock=True)
        self._charge(t0, t + self._alpha(rank), "Lock", rank, 0)

    def Unlock(self, rank: int) -> None:
        """End the epoch on ``rank``: wait for its operations to complete, release the
        lock (waiting lockers are granted in FIFO order)."""
        eng, me = self._engine, self._rank
        rank = self._target(rank, "rank", "Win.Unlock")
        if rank == PROC_NULL:
            return
        if rank not in self._held:
            raise RuntimeError(
                f"rank {me}: Win.Unlock({rank}) without a matching Lock({rank})"
                + (" (the epoch was opened by Lock_all: use Unlock_all)" if self._all else "")
            )
        lock_type = self._held.pop(rank)
        t0 = eng.clock[me]
        t1 = max(t0, self._done.pop(rank, t0)) + self._alpha(rank)
        self._local.pop(rank, None)
        self._release(rank, lock_type, t1)
        self._charge(t0, t1, "Unlock", rank, 0)

    def Lock_all(self, assertion: int = 0) -> None:
        """Start a passive-target epoch with shared locks on every target."""
        eng, me = self._engine, self._rank
        eng.yield_(me)
        self._check_target(me, "Win.Lock_all")
        if self._all or self._held:
            raise RuntimeError(
                f"rank {me}: Win.Lock_all() but it already holds a lock on this window; "
                "Unlock it first"
            )
        self._end_fence_for_lock("Win.Lock_all()")
        t0 = eng.clock[me]
        for target in self._comm._members():
            self._acquire(target, LOCK_SHARED, "Win.Lock_all()")
        self._all = True
        self._nocheck = bool(int(assertion) & MODE_NOCHECK)
        self._acquired = set()
        self._charge(t0, eng.clock[me], "Lock_all", None, 0)

    def Unlock_all(self) -> None:
        """End the Lock_all epoch: wait for every operation, release every lock."""
        eng, me = self._engine, self._rank
        eng.yield_(me)
        if not self._all:
            raise RuntimeError(f"rank {me}: Win.Unlock_all() without a matching Lock_all()")
        t0 = eng.clock[me]
        others = [t for t in self._comm._members() if t != me]
        t1 = max([t0, *self._done.values()])
        if others:
            t1 += max(self._alpha(t) for t in others)
        self._done.clear()
        self._local.clear()
        self._all = False
        for target in self._comm._members():
            self._release(target, LOCK_SHARED, t1)
        self._charge(t0, t1, "Unlock_all", None, 0)

    def _in_passive(self, target: int, call: str) -> None:
        if target not in self._held and not self._all:
            raise RuntimeError(
                f"rank {self._rank}: {call} outside a passive-target epoch on rank "
                f"{target}: call win.Lock({target}) or win.Lock_all() first"
            )

    def _flush(self, targets, local: bool, label: str) -> None:
        """Wait until the operations issued to `targets` have completed (remotely, or
        only locally)."""
        eng, me = self._engine, self._rank
        t0 = eng.clock[me]
        table = self._local if local else self._done
        t1 = max([t0] + [table.pop(t) for t in targets if t in table])
        if not local:
            for t in targets:
                self._local.pop(t, None)
        self._charge(t0, t1, label, targets[0] if len(targets) == 1 else None, 0)

    def _any_passive(self, call: str) -> None:
        if not self._held and not self._all:
            raise RuntimeError(
                f"rank {self._rank}: {call} outside a passive-target epoch: call "
                "win.Lock(rank) or win.Lock_all() first"
            )

    def Flush(self, rank: int) -> None:
        """Complete every operation issued to ``rank`` (the epoch stays open)."""
        rank = self._target(rank, "rank", "Win.Flush")
        if rank == PROC_NULL:
            return
        self._in_passive(rank, "Win.Flush")
        self._flush([rank], False, "Flush")

    def Flush_all(self) -> None:
        """Complete every operation issued in this epoch, to every target."""
        self._engine.yield_(self._rank)
        self._any_passive("Win.Flush_all")
        self._flush(list(self._done), False, "Flush_all")

    def Flush_local(self, rank: int) -> None:
        """Complete locally the operations issued to ``rank``: a Put's origin buffer
        may be reused (at once in the simulator: its data were copied) and a Get's data
        have arrived."""
        rank = self._target(rank, "rank", "Win.Flush_local")
        if rank == PROC_NULL:
            return
        self._in_passive(rank, "Win.Flush_local")
        self._flush([rank], True, "Flush_local")

    def Flush_local_all(self) -> None:
        """Flush_local on every target."""
        self._engine.yield_(self._rank)
        self._any_passive("Win.Flush_local_all")
        self._flush(list(self._local), True, "Flush_local_all")

    def Fence(self, assertion: int = 0) -> None:
        """Collective: complete every operation issued before it (by every rank) and
        open an active-target epoch, unless ``assertion`` has MPI.MODE_NOSUCCEED."""
        eng, me = self._engine, self._rank
        eng.yield_(me)
        if self._held or self._all:
            raise RuntimeError(
                f"rank {me}: Win.Fence() inside a passive-target epoch: Unlock first"
            )
        t0 = eng.clock[me]
        t1 = max([t0, *self._done.values()])
        self._done.clear()
        self._local.clear()
        self._charge(t0, t1, "Fence (completion)", None, 0)
        self._comm._collective(
            "Win.Fence", 0, lambda: C.barrier_dissemination(self._comm._cc), "win"
        )
        self._fence = not (int(assertion) & MODE_NOSUCCEED)
        self._fence_ops = 0

    def Free(self) -> None:
        """Collective: release the window (no epoch may be open)."""
        if self._held or self._all:
            raise RuntimeError(
                f"rank {self._rank}: Win.Free() with a passive-target epoch open: "
                "Unlock (or Unlock_all) first"
            )
        eng, me = self._engine, self._rank
        t0 = eng.clock[me]
        eng.advance(me, max([t0, *self._done.values()]))
        self._done.clear()
        self._comm._collective(
            "Win.Free", 0, lambda: C.barrier_dissemination(self._comm._cc), "win"
        )
        self._s.freed = True

    # ---------------------------------------------------------- data movement ----
    def _alpha(self, target: int) -> float:
        if target == self._rank:
            return 0.0
        return self._engine.network.link(self._rank, target, self._engine.n)[0]

    def _region(self, nbytes: int, target_rank: int, target: Any, call: str):
        mem = self._s.memory[target_rank]
        if mem is None:
            raise ValueError(f"rank {self._rank}: {call}: rank {target_rank} exposed no memory")
        disp = 0
        if target is not None:
            disp = target[0] if isinstance(target, (list, tuple)) else target
        if isinstance(disp, (bool, np.bool_)) or not isinstance(disp, (int, np.integer)):
            raise TypeError(
                f"rank {self._rank}: {call}: the target displacement must be an int, got {disp!r}"
            )
        unit = self._s.disp_unit[target_rank]
        off = int(disp) * unit
        raw = mem.reshape(-1).view(np.uint8)
        if off < 0 or off + nbytes > raw.size:
            raise ValueError(
                f"rank {self._rank}: {call}: displacement {disp} (x disp_unit {unit}) "
                f"and {nbytes} bytes give bytes [{off}, {off + nbytes}), outside rank "
                f"{target_rank}'s {raw.size}-byte window; pass a displacement in "
                f"0..{max(raw.size - nbytes, 0) // unit}"
            )
        return raw[off : off + nbytes]

    def _transfer(self, src: int, dst: int, t: float, nbytes: int) -> float:
        """Occupy the ports for a transfer that may start at t; return its end time."""
        if src == dst:
            return t
        return self._engine.transfer(src, dst, t, nbytes, -1, "rma")

    def _charge(self, t0: float, t1: float, label: str, peer: int | None, nbytes: int) -> None:
        eng, me = self._engine, self._rank
        eng.advance(me, t1)
        eng.record(me, t0, eng.clock[me], "win", peer, nbytes, label)

    def _epoch(self, target_rank: int, call: str) -> int:
        """Check that an operation on ``target_rank`` is inside an epoch; world rank."""
        target_rank = self._target(target_rank, "target_rank", call)
        if target_rank == PROC_NULL:
            return target_rank
        if target_rank not in self._held and not self._all and not self._fence:
            raise RuntimeError(
                f"rank {self._rank}: {call} outside an epoch on rank {target_rank}: call "
                f"win.Lock({target_rank}) (or win.Lock_all(), or the collective "
                "win.Fence()) first"
            )
        self._fence_ops += 1
        self._engine.progress(self._rank)
        return target_rank

    def _issued(self, target: int, label: str, nbytes: int, done: float, local: float) -> None:
        """Record an issued operation completing remotely at `done`, locally at `local`."""
        eng, me = self._engine, self._rank
        self._done[target] = max(self._done.get(target, done), done)
        self._local[target] = max(self._local.get(target, local), local)
        t = eng.clock[me]
        eng.record(me, t, t, "win", target, nbytes, label)

    def _start(self, target: int) -> float:
        """When the target begins to handle an operation issued now (progress rule)."""
        return self._progress_at(target, self._engine.clock[self._rank], lock=False)

    def Put(self, origin: Any, target_rank: int, target: Any = None) -> None:
        """Copy ``origin`` into ``target_rank``'s window at displacement ``target``."""
        origin = _arr(origin, self._rank, "Win.Put")
        target_rank = self._epoch(target_rank, "Win.Put")
        if target_rank == PROC_NULL:
            return
        self._region(origin.nbytes, target_rank, target, "Win.Put")[:] = _bytes(origin)
        me, m = self._rank, origin.nbytes
        e = self._transfer(me, target_rank, self._start(target_rank), m)
        self._issued(target_rank, "Put", m, e, self._engine.clock[me])

    def Get(self, origin: Any, target_rank: int, target: Any = None) -> None:
        """Copy ``target_rank``'s window (from displacement ``target``) into ``origin``."""
        origin = _arr(origin, self._rank, "Win.Get")
        target_rank = self._epoch(target_rank, "Win.Get")
        if target_rank == PROC_NULL:
            return
        _writable(origin, self._rank, "Win.Get")
        origin.reshape(-1).view(np.uint8)[:] = self._region(
            origin.nbytes, target_rank, target, "Win.Get"
        )
        m = origin.nbytes
        e = self._transfer(target_rank, self._rank, self._start(target_rank), m)
        self._issued(target_rank, "Get", m, e, e)

    def Accumulate(self, origin: Any, target_rank: int, target: Any = None, op: Any = SUM) -> None:
        """target <- target (op) origin, elementwise in ``origin``'s dtype (atomic per
        element; ``MPI.REPLACE`` writes origin)."""
        origin = np.ascontiguousarray(_arr(origin, self._rank, "Win.Accumulate"))
        fn = _rma_op(op, self._rank, "Win.Accumulate", allow_no_op=False)
        target_rank = self._epoch(target_rank, "Win.Accumulate")
        if target_rank == PROC_NULL:
            return
        region = self._region(origin.nbytes, target_rank, target, "Win.Accumulate")
        fn(region.view(origin.dtype), origin.reshape(-1))
        eng, me, m = self._engine, self._rank, origin.nbytes
        e = self._transfer(me, target_rank, self._start(target_rank), m)
        e += m * eng.network.gamma * eng.slow[target_rank]
        self._issued(target_rank, "Accumulate", m, e, eng.clock[me])

    def _fetch(self, origin, result, target_rank, target, op, call, compare=None):
        """Shared body of Get_accumulate, Fetch_and_op, Compare_and_swap."""
        me = self._rank
        result = _arr(result, me, call)
        _writable(result, me, call)
        if origin.dtype != result.dtype or origin.size != result.size:
            raise ValueError(
                f"rank {me}: {call}: result must match origin ({origin.size} x "
                f"{origin.dtype}), got {result.size} x {result.dtype}"
            )
        target_rank = self._epoch(target_rank, call)
        if target_rank == PROC_NULL:
            return
        region = self._region(origin.nbytes, target_rank, target, call).view(origin.dtype)
        result.reshape(-1)[...] = region
        if compare is None:
            op(region, origin.reshape(-1))
        elif region[0] == compare.reshape(-1)[0]:
            region[0] = origin.reshape(-1)[0]
        eng, m = self._engine, origin.nbytes
        sent = m if compare is None else 2 * m
        e = self._transfer(me, target_rank, self._start(target_rank), sent)
        e += m * eng.network.gamma * eng.slow[target_rank]
        e = self._transfer(target_rank, me, e, m)
        self._issued(target_rank, call.split(".")[-1], m, e, e)

    def Get_accumulate(
        self, origin: Any, result: Any, target_rank: int, target: Any = None, op: Any = SUM
    ) -> None:
        """result <- target; target <- target (op) origin, atomically per element
        (``MPI.NO_OP``: an atomic read). The result is ready after a flush."""
        origin = np.ascontiguousarray(_arr(origin, self._rank, "Win.Get_accumulate"))
        fn = _rma_op(op, self._rank, "Win.Get_accumulate", allow_no_op=True)
        self._fetch(origin, result, target_rank, target, fn, "Win.Get_accumulate")

    def Fetch_and_op(
        self, origin: Any, result: Any, target_rank: int, target_disp: int = 0, op: Any = SUM
    ) -> None:
        """One element: result <- target; target <- target (op) origin, atomically."""
        origin = np.ascontiguousarray(_arr(origin, self._rank, "Win.Fetch_and_op"))
        _one(origin, self._rank, "Win.Fetch_and_op")
        fn = _rma_op(op, self._rank, "Win.Fetch_and_op", allow_no_op=True)
        self._fetch(origin, result, target_rank, target_disp, fn, "Win.Fetch_and_op")

    def Compare_and_swap(
        self, origin: Any, compare: Any, result: Any, target_rank: int, target_disp: int = 0
    ) -> None:
        """One element: result <- target; if target == compare, target <- origin
        (atomically)."""
        me = self._rank
        origin = np.ascontiguousarray(_arr(origin, me, "Win.Compare_and_swap"))
        compare = np.ascontiguousarray(_arr(compare, me, "Win.Compare_and_swap"))
        _one(origin, me, "Win.Compare_and_swap")
        if origin.dtype.kind not in "iub":
            raise TypeError(
                f"rank {me}: Win.Compare_and_swap on {origin.dtype}: MPI allows it only on "
                "integer, logical and byte types; keep the word as an int64"
            )
        if compare.dtype != origin.dtype or compare.size != 1:
            raise ValueError(
                f"rank {me}: Win.Compare_and_swap: compare must be one element of "
                f"{origin.dtype}, like origin"
            )
        self._fetch(origin, result, target_rank, target_disp, None, "Win.Compare_and_swap", compare)


def _arr(x: Any, me: int, call: str) -> np.ndarray:
    if isinstance(x, (list, tuple)):
        x = x[0] if x else None
    if not isinstance(x, np.ndarray):
        raise TypeError(
            f"rank {me}: {call} needs a numpy array buffer (or [array, MPI.DOUBLE]), "
            f"got {type(x).__name__}"
        )
    return x


def _bytes(x: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(x).reshape(-1).view(np.uint8)


def _writable(x: np.ndarray, me: int, call: str) -> None:
    if not x.flags.c_contiguous or not x.flags.writeable:
        raise ValueError(
            f"rank {me}: {call} needs a writeable C-contiguous buffer for the data it "
            "returns (np.empty(n) or a contiguous slice)"
        )


def _one(x: np.ndarray, me: int, call: str) -> None:
    if x.size != 1:
        raise ValueError(
            f"rank {me}: {call} works on one element; origin has {x.size} (use "
            "Get_accumulate for more)"
        )


def _rma_op(op: Any, me: int, call: str, allow_no_op: bool):
    """The in-place update target <- target (op) origin of a one-sided operation."""
    name = op.name if isinstance(op, Op) else None
    if name is None and not isinstance(op, np.ufunc):
        try:  # mpi4py's REPLACE and NO_OP
            from mpi4py import MPI as _M

            name = "REPLACE" if op == _M.REPLACE else "NO_OP" if op == _M.NO_OP else None
        except ImportError:
            pass
    if name == REPLACE.name:

        def replace(region, origin):
            region[...] = origin

        return replace
    if name == NO_OP.name:
        if not allow_no_op:
            raise ValueError(
                f"rank {me}: {call}: MPI.NO_OP is for Get_accumulate and Fetch_and_op; "
                "Accumulate needs MPI.SUM, MPI.REPLACE, ..."
            )
        return lambda region, origin: None
    try:
        uf = C.ufunc_of(op)
    except TypeError as exc:
        raise TypeError(f"rank {me}: {call}: {exc}") from None

    def update(region, origin):
        uf(region, origin, out=region)

    return update
