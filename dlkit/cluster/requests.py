"""Requests: the handles of nonblocking operations, and how a rank waits for them.

A send or a receive returns a :class:`Request` at once; it completes when the
message is matched (:mod:`.matching` sets ``done`` and ``t_complete``). A rank that
waits for requests blocks in the scheduler until the last of them completes, then
moves its clock to the latest completion time; ``test`` looks without blocking.
:class:`Status` is what a completed receive reports (mpi4py's ``MPI.Status``).
"""

from __future__ import annotations

from typing import Any

from .constants import ANY_SOURCE, ANY_TAG, BYTE, Datatype
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

    def __repr__(self) -> str:
        state = f"done at {self.t_complete:.6g} s" if self.done else "pending"
        return f"<Request {self.desc} of rank {self.owner}, {state}>"


class Completion(Scheduler):
    """The scheduler plus requests: a rank waits for, tests and is woken by requests."""

    def __init__(self, n, faults, max_virtual_time=None):
        super().__init__(n, faults, max_virtual_time)
        self.waiting = [None] * n  # requests a blocked rank waits for

    def notify(self, req):
        """`req` has completed: wake its owner if that was the last request it waits for."""
        r = req.owner
        if self.state[r] == BLOCKED:
            reqs = self.waiting[r]
            if reqs is not None and all(q.done for q in reqs):
                self.wake(r, max(q.t_complete for q in reqs))

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
