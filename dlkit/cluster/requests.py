"""Requests: the handles of nonblocking operations, and how a rank waits for them.

A send or a receive returns a :class:`Request` at once; it completes when the
message is matched (:mod:`.matching` sets ``done`` and ``t_complete``). A rank that
waits for requests blocks in the scheduler until the last of them completes, then
moves its clock to the latest completion time; ``test`` looks without blocking.
:class:`Status` is what a completed receive reports (mpi4py's ``MPI.Status``).
"""

from __future__ import annotations

from typing import Any

from .constants import ANY_SOURCE, ANY_TAG, BYTE, UNDEFINED, Datatype
from .errors import _Abort
from .records import Event
from .scheduler import BLOCKED, Scheduler

__all__ = ["Status", "Request", "Completion"]


class Status:
    """What a receive matched: ``Get_source()``, ``Get_tag()``, ``Get_count()``."""

    def __init__(self):
        self.source = ANY_SOURCE
        self.tag = ANY_TAG
        self.count = 0  # bytes
        self.error = 0

    def Get_source(self) -> int:
        return self.source

    def Get_tag(self) -> int:
        return self.tag

    def Get_count(self, datatype: Datatype = BYTE) -> int:
        return self.count // datatype.Get_size()

    def Get_elements(self, datatype: Datatype = BYTE) -> int:
        return self.Get_count(datatype)

    def _fill(self, source: int, tag: int, count: int) -> None:
        self.source, self.tag, self.count = source, tag, count


class Request:
    """A nonblocking operation's handle (mpi4py's ``MPI.Request``): ``wait``/``Wait``,
    ``test``/``Test``, and the class methods ``Waitall``/``waitall``/``Testall``."""

    __slots__ = (
        "engine",
        "owner",
        "kind",
        "done",
        "t_complete",
        "value",
        "peer",
        "tag",
        "ctx",
        "buf",
        "is_obj",
        "nbytes",
        "desc",
        "status",
        "t_post",
        "rmap",
        "error",
        "inactive",
    )

    def __init__(self, engine, owner, kind, peer, tag, ctx, desc, t_post):
        self.engine, self.owner, self.kind = engine, owner, kind
        self.peer, self.tag, self.ctx, self.desc = peer, tag, ctx, desc
        self.t_post = t_post
        self.done = False
        self.t_complete = 0.0
        self.value = None
        self.buf = None
        self.is_obj = False
        self.nbytes = 0
        self.status = None
        self.rmap = None  # world rank -> rank in the request's communicator, if not world
        self.error = None  # an exception to raise in the owner when it completes the request
        self.inactive = False  # completed by Waitany/Waitsome/Testany: MPI's REQUEST_NULL

    def _fill(self, status):
        if status is not None and self.status is not None:
            src, tag, count = self.status
            status._fill(self.rmap[src] if self.rmap else src, tag, count)

    # mpi4py names ---------------------------------------------------------------
    def wait(self, status: Status | None = None) -> Any:
        """Block until complete; return the received object (None for sends)."""
        self.engine.wait(self.owner, [self], "wait", status=status)
        return self.value if self.is_obj else None

    def Wait(self, status: Status | None = None) -> bool:
        self.engine.wait(self.owner, [self], "wait", status=status)
        return True

    def test(self, status: Status | None = None) -> tuple[bool, Any]:
        flag = self.engine.test(self.owner, self, status)
        return flag, (self.value if flag and self.is_obj else None)

    def Test(self, status: Status | None = None) -> bool:
        return self.engine.test(self.owner, self, status)

    def Free(self) -> None:
        pass

    @classmethod
    def Waitall(cls, requests, statuses=None) -> bool:
        reqs = list(requests)
        if reqs:
            reqs[0].engine.wait(reqs[0].owner, reqs, "waitall", statuses=statuses)
        return True

    @classmethod
    def waitall(cls, requests, statuses=None) -> list:
        reqs = list(requests)
        if reqs:
            reqs[0].engine.wait(reqs[0].owner, reqs, "waitall", statuses=statuses)
        return [r.value if r.is_obj else None for r in reqs]

    @classmethod
    def Testall(cls, requests, statuses=None) -> bool:
        return all(r.engine.test(r.owner, r, None) for r in list(requests))

    # Completion of one or some of several requests. A request these calls complete
    # becomes inactive (MPI's REQUEST_NULL): later calls skip it, and a list with no
    # active request gives MPI.UNDEFINED. In virtual time the call returns when the
    # first request completes, to within the simulator's polling step ``Engine.POLL``.
    @classmethod
    def Waitany(cls, requests, status: Status | None = None) -> int:
        """Wait until one active request completes; return its index (MPI.UNDEFINED
        if none is active) and fill ``status`` from it."""
        reqs = list(requests)
        if not reqs:
            return UNDEFINED
        done = reqs[0].engine.wait_some(reqs[0].owner, reqs, first=True)
        if not done:
            return UNDEFINED
        reqs[done[0]]._fill(status)
        return done[0]

    @classmethod
    def waitany(cls, requests, status: Status | None = None) -> tuple[int, Any]:
        """As :meth:`Waitany`; returns (index, received object or None)."""
        reqs = list(requests)
        i = cls.Waitany(reqs, status)
        return i, (reqs[i].value if i != UNDEFINED and reqs[i].is_obj else None)

    @classmethod
    def Waitsome(cls, requests, statuses=None) -> list[int] | None:
        """Wait until at least one active request completes; return the indices of all
        that have completed by then (None if no request is active)."""
        reqs = list(requests)
        if not reqs:
            return None
        done = reqs[0].engine.wait_some(reqs[0].owner, reqs, first=False)
        if not done:
            return None
        if statuses is not None:
            for st, i in zip(statuses, done):
                reqs[i]._fill(st)
        return done

    @classmethod
    def waitsome(cls, requests, statuses=None) -> tuple[list[int] | None, list[Any] | None]:
        """As :meth:`Waitsome`; returns (indices, their objects)."""
        reqs = list(requests)
        done = cls.Waitsome(reqs, statuses)
        if done is None:
            return None, None
        return done, [reqs[i].value if reqs[i].is_obj else None for i in done]

    @classmethod
    def Testany(cls, requests, status: Status | None = None) -> tuple[int, bool]:
        """(index, True) if an active request has completed (it becomes inactive);
        (MPI.UNDEFINED, False) if none has yet; (MPI.UNDEFINED, True) if none is active."""
        reqs = list(requests)
        if not reqs:
            return UNDEFINED, True
        i = reqs[0].engine.test_some(reqs[0].owner, reqs, first=True)
        if i is None:
            return UNDEFINED, True
        if not i:
            return UNDEFINED, False
        reqs[i[0]]._fill(status)
        return i[0], True

    @classmethod
    def testany(cls, requests, status: Status | None = None) -> tuple[int, bool, Any]:
        """As :meth:`Testany`; returns (index, flag, received object or None)."""
        reqs = list(requests)
        i, flag = cls.Testany(reqs, status)
        obj = reqs[i].value if flag and i != UNDEFINED and reqs[i].is_obj else None
        return i, flag, obj

    @classmethod
    def Testsome(cls, requests, statuses=None) -> list[int] | None:
        """The indices of the active requests completed now ([] if none yet; None if no
        request is active)."""
        reqs = list(requests)
        if not reqs:
            return None
        done = reqs[0].engine.test_some(reqs[0].owner, reqs, first=False)
        if done and statuses is not None:
            for st, i in zip(statuses, done):
                reqs[i]._fill(st)
        return done

    def __repr__(self) -> str:
        state = f"done at {self.t_complete:.6g} s" if self.done else "pending"
        return f"<Request {self.desc} of rank {self.owner}, {state}>"


class Completion(Scheduler):
    """The scheduler plus requests: a rank waits for, tests and is woken by requests."""

    def __init__(self, n, faults, max_virtual_time=None):
        super().__init__(n, faults, max_virtual_time)
        self.waiting = [None] * n  # requests a blocked rank waits for
        self.waiting_any = [False] * n  # True: it waits for any one of them (Waitany)

    def notify(self, req):
        """`req` has completed: wake its owner if that was the last request it waits for
        (or, in Waitany/Waitsome, the first)."""
        r = req.owner
        if self.state[r] == BLOCKED:
            reqs = self.waiting[r]
            if reqs is None:
                return
            if self.waiting_any[r]:
                self.wake(r, req.t_complete)
            elif all(q.done for q in reqs):
                self.wake(r, max(q.t_complete for q in reqs))

    def _some_done(self, me, reqs, first):
        """Indices of the active requests complete at me's clock (the first only if asked),
        marking them inactive; None if no request is active."""
        active = [i for i, q in enumerate(reqs) if not q.inactive]
        if not active:
            return None
        t = self.clock[me]
        done = [i for i in active if reqs[i].done and reqs[i].t_complete <= t]
        if first:
            done = done[:1]
        for i in done:
            reqs[i].inactive = True
            if reqs[i].error is not None:
                raise reqs[i].error
        return done

    def wait_some(self, me, reqs, first):
        """Block rank me until one of the active `reqs` completes (Waitany/Waitsome)."""
        if self.aborting:
            raise _Abort()
        t0 = self.clock[me]
        desc = ("Waitany" if first else "Waitsome") + " on " + " | ".join(q.desc for q in reqs)
        self.call[me] = desc
        self.yield_(me)
        while True:
            done = self._some_done(me, reqs, first)
            if done is None or done:
                break
            active = [q for q in reqs if not q.inactive]
            due = [q.t_complete for q in active if q.done]
            if due:  # complete later in virtual time: let earlier ranks act meanwhile
                self.poll_failed(me, min(due), "polling " + desc)
                continue
            self.waiting[me], self.waiting_any[me] = active, True
            try:
                self.block(me, desc)
            finally:
                self.waiting[me], self.waiting_any[me] = None, False
        self.progress(me)
        self.record(me, t0, self.clock[me], "wait", None, 0, "Waitany" if first else "Waitsome")
        return done

    def test_some(self, me, reqs, first):
        """Testany/Testsome: the active requests complete now, without blocking."""
        self.call[me] = ("Testany" if first else "Testsome") + f" on {len(reqs)} requests"
        self.yield_(me)
        done = self._some_done(me, reqs, first)
        if done is not None and not done:
            due = [q.t_complete for q in reqs if not q.inactive and q.done]
            self.poll_failed(me, min(due, default=float("inf")), "polling " + self.call[me])
        elif done:
            self.polls = 0
        return done

    def wait(self, me, reqs, kind, status=None, statuses=None, record=True, label=""):
        """Block rank me until all `reqs` complete; advance its clock to the latest end."""
        if self.aborting:
            raise _Abort()
        t0 = self.clock[me]
        if len(reqs) == 1 and statuses is None:  # the common case, kept short
            q = reqs[0]
            if not q.done:
                self.waiting[me] = reqs
                try:
                    self.block(me, q.desc)
                finally:
                    self.waiting[me] = None
            self.advance(me, q.t_complete)
            if q.error is not None:
                raise q.error
            if status is not None:
                q._fill(status)
            if record and self.quiet[me] is None:
                self.trace.append(
                    Event(
                        me,
                        t0,
                        self.clock[me],
                        kind,
                        q.status[0] if q.status else q.peer,
                        q.nbytes,
                        label,
                    )
                )
            return
        if not all(q.done for q in reqs):
            self.waiting[me] = reqs
            try:
                self.block(me, " + ".join(q.desc for q in reqs if not q.done))
            finally:
                self.waiting[me] = None
        t1 = max([t0] + [q.t_complete for q in reqs])
        self.advance(me, t1)
        for q in reqs:
            if q.error is not None:
                raise q.error
        reqs[0]._fill(status)
        if statuses is not None:
            for st, q in zip(statuses, reqs):
                q._fill(st)
        if record:
            peer = (
                reqs[0].status[0]
                if len(reqs) == 1 and reqs[0].status
                else (reqs[0].peer if len(reqs) == 1 else None)
            )
            nbytes = sum(q.nbytes for q in reqs)
            self.record(me, t0, self.clock[me], kind, peer, nbytes, label)

    def test(self, me, req, status=None):
        """Nonblocking completion check at me's current virtual time."""
        self.call[me] = f"test() on {req.desc}"
        self.yield_(me)
        t = self.clock[me]
        if req.done and req.t_complete <= t:
            if req.error is not None:
                raise req.error
            req._fill(status)
            self.polls = 0
            return True
        # Not complete yet.
        self.poll_failed(
            me, req.t_complete if req.done else float("inf"), f"polling test() on {req.desc}"
        )
        return False
