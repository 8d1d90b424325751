"""The simulator's engine: virtual clocks, a deterministic scheduler and message matching.

Each rank runs ``train(comm)`` in its own greenlet (a coroutine with its own stack),
and one runs at a time: the ready rank with the smallest ``(virtual time, rank)``.
Before every operation that touches shared state (posting a send or a receive,
testing a request, a one-sided access) a rank hands control to any rank with a smaller
``(time, rank)``, and it hands control on whenever it must wait, by switching to the
next rank's greenlet; there is no polling. A switch costs about a microsecond, where
a hand-off between operating-system threads costs tens, so a thousand ranks running a
ring allreduce (two million hand-offs) take seconds, not minutes. Local work (``compute`` charges, clock
advances after a wait) needs no hand-off: nobody can observe it until the rank's
next interaction, which waits its turn. Because the order in which ranks act depends only on virtual times,
two runs of the same program produce identical traces.

Timing (see :mod:`dlkit.cluster.networks` for the port model):

* A send is *issued* at the sender's clock ``t_s``; the matching receive is *posted*
  at the receiver's clock ``t_r``. The transfer starts at
  ``s = max(t_s, t_r, send port of the sender free, receive port of the receiver free)``
  and ends at ``e = s + alpha + n*beta (+ link delay)``; it occupies both ports.
* A receive completes at ``e``. A send of at most ``eager_limit`` bytes completes
  locally at ``t_s`` (the message is buffered); a larger send completes at ``e``, so a
  blocking ``Send`` waits for the matching receive to be posted, as MPI may.
* CPU time is charged only by ``compute`` (flops / device rate) and by the reduction
  arithmetic of collectives (``gamma`` seconds per byte); messages cost port time.

A run stops with :class:`DeadlockError` when no rank is ready and some are blocked,
with :class:`CollectiveMismatchError` when the ranks of a communicator enter different
collectives at the same point, and with :class:`SimTimeoutError` when a rank's clock
would pass ``max_virtual_time`` (the wall-clock limit is watched by ``SimCluster.run``).

Checks at matching: a buffer receive must have the dtype of the matched buffer send
(MPI does not convert types) and room for its elements (a larger buffer is fine, as
in MPI; a smaller one is a truncation error). The error is raised in the receiving
rank when it completes the receive.
"""

from __future__ import annotations

import heapq
import pickle
import threading
from collections import deque
from typing import Any, NamedTuple

import numpy as np

from .errors import (CollectiveMismatchError, DeadlockError, RankCrashed, SimTimeoutError,
                     _Abort, _Crash)
from .mpi import ANY_SOURCE, ANY_TAG, Status

READY, BLOCKED, DONE = 0, 1, 2
_CRASH = -1  # version field of a crash entry in the ready heap


class Event(NamedTuple):
    """One interval of a rank's virtual time, as recorded in ``RunResult.trace``.

    kind is one of 'compute', 'reduce' (arithmetic inside collectives), 'send',
    'recv', 'wait', 'collective', 'barrier', 'win'.
    """

    rank: int
    start: float
    end: float
    kind: str
    peer: int | None = None
    bytes: int = 0
    label: str = ""


class Transfer(NamedTuple):
    """One message on the wire: ``src`` -> ``dst`` during ``[start, end]``."""

    src: int
    dst: int
    start: float
    end: float
    bytes: int
    tag: int
    label: str = ""


class Unreceived(NamedTuple):
    """A message sent but never received by the end of a run (``RunResult.unreceived``)."""

    src: int
    dst: int
    tag: int
    bytes: int


class Message:
    __slots__ = ("src", "dst", "tag", "ctx", "data", "nbytes", "t_send", "sreq", "is_obj",
                 "dtype", "label")

    def __init__(self, src, dst, tag, ctx, data, nbytes, t_send, sreq, is_obj, dtype=None,
                 label=""):
        self.src, self.dst, self.tag, self.ctx = src, dst, tag, ctx
        self.data, self.nbytes, self.t_send = data, nbytes, t_send
        self.sreq, self.is_obj, self.dtype = sreq, is_obj, dtype
        self.label = label  # the collective the sender was in when it sent, or ""


class Request:
    """A nonblocking operation's handle (mpi4py's ``MPI.Request``): ``wait``/``Wait``,
    ``test``/``Test``, and the class methods ``Waitall``/``waitall``/``Testall``."""

    __slots__ = ("engine", "owner", "kind", "done", "t_complete", "value", "peer", "tag",
                 "ctx", "buf", "is_obj", "nbytes", "desc", "status", "t_post", "rmap", "error")

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


def _matches(want_src, want_tag, src, tag) -> bool:
    return (want_src == ANY_SOURCE or want_src == src) and (want_tag == ANY_TAG or want_tag == tag)


class Engine:
    """Shared state of one simulated run (one instance per ``SimCluster.run`` call)."""

    #: virtual seconds charged for a ``test()`` that finds its request incomplete
    POLL = 1e-7
    #: failed polls in a row, with no send, receive or compute anywhere, taken as a deadlock
    MAX_POLLS = 20000

    def __init__(self, n, network, device, faults, eager_limit, max_virtual_time=None):
        self.n = n
        self.network = network
        self.device = device
        self.faults = faults
        self.eager_limit = eager_limit
        self.clock = [0.0] * n
        self.state = [READY] * n
        self.version = [0] * n
        self.heap = [(0.0, r, r, 0) for r in range(n)]  # (time, key, rank, version)
        self.crash_at = [float("inf")] * n
        for r, t in faults.crash.items():
            self.crash_at[r] = float(t)
            self.heap.append((float(t), r, r, _CRASH))
        heapq.heapify(self.heap)
        # advance() takes its slow path at min(crash time, virtual-time limit)
        self.t_limit = float("inf") if max_virtual_time is None else float(max_virtual_time)
        self.stop_at = [min(t, self.t_limit) for t in self.crash_at]
        self.slow = [faults.slow_factor(r) for r in range(n)]
        self.glets: list = []  # each rank's greenlet, set by SimCluster.run
        self.resume = None  # called as resume(rank) whenever a rank's greenlet resumes
        self.pending = [None] * n  # exception to raise in a rank when it wakes
        self.waiting = [None] * n  # requests a blocked rank waits for
        self.blocked_desc = [""] * n
        self.sendfree = [0.0] * n
        self.recvfree = [0.0] * n
        self.unexpected = [deque() for _ in range(n)]  # sent, not yet matched, per receiver
        self.posted = [[] for _ in range(n)]  # posted receives not yet matched, per receiver
        self.crashed: dict[int, float] = {}
        self.lost: list[tuple[int, int, int, float]] = []  # (src, dst, tag, time) dropped
        self.quiet = [None] * n  # label of the collective a rank is inside, or None
        self.trace: list[Event] = []
        self.messages: list[Transfer] = []
        self.error: BaseException | None = None
        self.aborting = False
        self.done_count = 0
        self.done_lock = threading.Lock()
        self.finished = threading.Event()  # set by SimCluster.run's scheduler thread
        self.values = [None] * n
        self.polls = 0
        self.poll_desc = [""] * n  # what a rank last polled for, "" after real progress
        self.call = [""] * n  # the MPI call a rank is in or made last (for timeout reports)
        self.ring_calls: dict = {}  # ring allreduce calls replayed at once (fastring.py)
        self.coll: dict = {}  # (ctx, seq) -> [signature, {rank in comm: signature}]

    # ---------------------------------------------------------------- scheduling ----
    def _pop_valid(self):
        """Pop the next rank to run (smallest (time, rank)), processing crash entries."""
        heap = self.heap
        state, version = self.state, self.version
        while heap:
            t, _key, r, v = heapq.heappop(heap)
            if v == _CRASH:
                if state[r] != DONE and r not in self.crashed:
                    # The rank's crash time has come: wake it so its thread unwinds.
                    self.clock[r] = t
                    self.pending[r] = _Crash()
                    state[r] = READY
                    self.version[r] += 1
                    return r
                continue
            if state[r] == READY and version[r] == v:
                return r
        return None

    def _clean_top(self):
        heap = self.heap
        while heap:
            t, _key, r, v = heap[0]
            if v == _CRASH:
                if self.state[r] != DONE and r not in self.crashed:
                    return heap[0]
            elif self.state[r] == READY and self.version[r] == v:
                return heap[0]
            heapq.heappop(heap)
        return None

    def _push(self, r, key=None):
        self.version[r] += 1
        heapq.heappush(self.heap, (self.clock[r], r if key is None else key, r, self.version[r]))

    def yield_(self, me, after_peers=False):
        """Let ranks with a smaller (time, rank) act before `me` continues."""
        if self.aborting:
            raise _Abort()
        top = self._clean_top()
        if top is None:
            return
        t = self.clock[me]
        key = me + self.n if after_peers else me
        if (t, key) < (top[0], top[1]):
            return
        self.state[me] = READY
        self._push(me, key)
        nxt = self._pop_valid()
        if nxt == me:
            self._after_wake(me)
            return
        self._handoff(me, nxt)

    def _block(self, me):
        """`me` cannot continue until a request completes: run someone else."""
        self.state[me] = BLOCKED
        nxt = self._pop_valid()
        if nxt is None:
            self._stalled()
            raise _Abort()
        if nxt == me:
            self._after_wake(me)
            return
        self._handoff(me, nxt)

    def _handoff(self, me, nxt):
        self.glets[nxt].switch()  # returns when some rank switches back to me
        self._after_wake(me)

    def _after_wake(self, me):
        if self.resume is not None:
            self.resume(me)
        exc = self.pending[me]
        if exc is not None:
            self.pending[me] = None
            raise exc
        if self.aborting:
            raise _Abort()

    def _wake(self, r, t):
        """Make blocked rank r ready at virtual time >= t."""
        if self.state[r] == BLOCKED:
            self.clock[r] = max(self.clock[r], t)
            self.state[r] = READY
            self._push(r)

    def advance(self, me, t):
        """Set me's clock to t (>= now), crashing the rank if its crash time comes first."""
        if t >= self.stop_at[me]:
            if t >= self.crash_at[me]:
                # Stop at the crash time, after every rank before it has acted.
                self.clock[me] = max(self.clock[me], self.crash_at[me])
                self.yield_(me)
                raise _Crash()
            if t > self.t_limit:
                self._virtual_timeout(me, t)
        if t > self.clock[me]:
            self.clock[me] = t

    # ------------------------------------------------------------- run limits ----
    def describe(self, r, current=None, t_next=None):
        """What rank r is doing, in words (for SimTimeoutError)."""
        t = self.clock[r]
        inside = f" inside {self.quiet[r]}" if self.quiet[r] else ""
        last = self.call[r] or "none yet"
        if r in self.crashed:
            return f"crashed at virtual t={self.crashed[r]:.6g} s"
        if self.state[r] == DONE:
            return f"finished at virtual t={t:.6g} s"
        if r == current:
            return (f"its clock would pass the limit, going from t={t:.9g} s to "
                    f"t={t_next:.9g} s{inside} (last MPI call: {last})")
        if self.state[r] == BLOCKED:
            return f"blocked in {self.blocked_desc[r]}{inside} since virtual t={t:.6g} s"
        parked = {e[2] for e in list(self.heap) if e[3] == self.version[r]}
        if r in parked:
            if not self.call[r] and t == 0:
                return "ready at virtual t=0 s, not started yet"
            return f"ready at virtual t={t:.6g} s, waiting for its turn in {last}{inside}"
        return (f"running Python code outside MPI since virtual t={t:.6g} s{inside} "
                f"(last MPI call: {last})")

    def stop(self, error, current=None):
        """Stop the run with `error` (kept if the run has none yet) and unwind every rank."""
        with self.done_lock:
            if self.done_count == self.n:  # every rank finished meanwhile
                return
            if self.error is None and not self.aborting:
                self.error = error
            self.abort_all(current=current)

    def _virtual_timeout(self, me, t):
        ranks = {r: self.describe(r, me, t) for r in range(self.n)}
        self.stop(SimTimeoutError("virtual time", self.t_limit, ranks,
                                  max(self.clock)), current=me)
        raise _Abort()

    def wall_timeout(self, seconds):
        """Called by the watching thread when the wall-clock limit has passed: stop the
        run; return the ranks that were running Python code (their threads cannot be
        woken, only asked to stop)."""
        ranks = {r: self.describe(r) for r in range(self.n)}
        self.stop(SimTimeoutError("wall-clock", seconds, ranks, max(self.clock)))
        return [r for r, what in ranks.items() if what.startswith("running")]

    # ------------------------------------------------------------- collectives ----
    def enter_collective(self, me, ctx, seq, local, size, sig, where):
        """Rank `local` of a communicator (context ctx) enters its collective call #seq.

        The first rank to arrive sets the call's signature; a rank whose signature
        differs stops the run with CollectiveMismatchError naming every rank's call.
        """
        key = (ctx, seq)
        entry = self.coll.get(key)
        if entry is None:
            entry = self.coll[key] = [sig, {}]
        calls = entry[1]
        calls[local] = sig
        if sig != entry[0]:
            missing = [r for r in range(size) if r not in calls]
            self.stop(CollectiveMismatchError(seq, calls, missing, self.clock[me],
                                              where._name()), current=me)
            raise _Abort()
        if len(calls) == size:
            del self.coll[key]

    def unreceived(self):
        """Messages still waiting for a receive, to ranks that did not crash."""
        return [Unreceived(m.src, m.dst, m.tag, m.nbytes)
                for d, queue in enumerate(self.unexpected) if d not in self.crashed
                for m in queue]

    def _stalled(self):
        """No rank is ready: either everything finished or the live ranks deadlock."""
        blocked = {r: self.blocked_desc[r] for r in range(self.n) if self.state[r] == BLOCKED}
        if not blocked:
            return
        t = max(self.clock[r] for r in blocked)
        extra = ""
        if self.crashed:
            extra = "crashed ranks: " + ", ".join(
                f"{r} (at {tc:.6g} s)" for r, tc in sorted(self.crashed.items()))
        if self.lost:
            extra += ("\n" if extra else "") + "messages lost on dropped links: " + ", ".join(
                f"{a}->{b} (tag {tag}, sent at {ts:.6g} s)" for a, b, tag, ts in self.lost[:10])
        if self.error is None:
            self.error = DeadlockError(blocked, t, extra)
        self.abort_all()

    def abort_all(self, current=None):
        """Stop the run: wake every waiting thread so that it unwinds with _Abort."""
        self.aborting = True
        for r in range(self.n):
            if r != current and self.state[r] != DONE:
                self.pending[r] = _Abort()  # raised when SimCluster.run resumes the rank

    def finish(self, me):
        """Rank `me`'s program ends (normally, by crash, or unwinding an abort); return
        the rank to run next (None: nobody is ready, or the run is stopping)."""
        with self.done_lock:
            self.state[me] = DONE
            self.done_count += 1
            if self.aborting:
                return None
        nxt = self._pop_valid()
        if nxt is None:
            self._stalled()
        return nxt

    def rank_failed(self, me, exc):
        """An exception escaped rank me's train function: stop everyone."""
        self.stop((me, exc), current=me)

    def on_crash(self, me):
        """Rank me has crashed: tell the ranks that wait on it."""
        t = self.crash_at[me]
        self.clock[me] = t
        self.crashed[me] = t
        self.posted[me].clear()
        for r in range(self.n):
            if self.state[r] != BLOCKED or self.waiting[r] is None:
                continue
            waited = self.waiting[r]
            if any(not q.done and q.peer == me for q in waited):
                self.pending[r] = RankCrashed(me, t, r, self.blocked_desc[r])
                self.posted[r] = [q for q in self.posted[r] if q not in waited]
                self._wake(r, t)

    # --------------------------------------------------------------- recording ----
    def record(self, rank, start, end, kind, peer=None, nbytes=0, label=""):
        if self.quiet[rank] is None:
            self.trace.append(Event(rank, start, end, kind, peer, int(nbytes), label))

    def compute(self, me, seconds, label="compute", kind="compute"):
        """Charge `seconds` of CPU time to rank me (already scaled by the slow factor)."""
        if self.aborting:
            raise _Abort()
        t0 = self.clock[me]
        self.polls = 0
        self.poll_desc[me] = ""
        self.advance(me, t0 + seconds)
        self.record(me, t0, self.clock[me], kind, None, 0, label)

    # ------------------------------------------------------------ point to point ----
    def post_send(self, me, dest, tag, ctx, data, nbytes, is_obj, desc, dtype=None):
        """Issue a send (dest, tag already checked by the communicator)."""
        self.call[me] = desc
        self.yield_(me)
        self.polls = 0
        self.poll_desc[me] = ""
        t = self.clock[me]
        if dest in self.crashed:
            raise RankCrashed(dest, self.crashed[dest], me, desc)
        sreq = Request(self, me, "send", dest, tag, ctx, desc, t)
        sreq.nbytes = nbytes
        if nbytes <= self.eager_limit:
            sreq.done = True
            sreq.t_complete = t
        if self.faults.drop and self.faults.dropped(me, dest):
            # A dropped link: the message leaves the sender and is never delivered.
            alpha, beta = self.network.link(me, dest, self.n)
            sreq.done = True
            sreq.t_complete = t if nbytes <= self.eager_limit else t + alpha + nbytes * beta
            self.lost.append((me, dest, tag, t))
            return sreq
        msg = Message(me, dest, tag, ctx, data, nbytes, t, sreq, is_obj, dtype,
                      self.quiet[me] or "")
        posted = self.posted[dest]
        for i, rreq in enumerate(posted):
            if rreq.ctx == ctx and _matches(rreq.peer, rreq.tag, me, tag):
                del posted[i]
                self._match(msg, rreq)
                break
        else:
            self.unexpected[dest].append(msg)
        return sreq

    def post_recv(self, me, source, tag, ctx, buf, is_obj, desc):
        """Post a receive (source, tag and buffer already checked by the communicator)."""
        self.call[me] = desc
        self.yield_(me)
        self.polls = 0
        self.poll_desc[me] = ""
        rreq = Request(self, me, "recv", source, tag, ctx, desc, self.clock[me])
        rreq.buf = buf
        rreq.is_obj = is_obj
        queue = self.unexpected[me]
        for i, msg in enumerate(queue):
            if msg.ctx == ctx and _matches(source, tag, msg.src, msg.tag):
                del queue[i]
                self._match(msg, rreq)
                return rreq
        if source != ANY_SOURCE and source in self.crashed:
            raise RankCrashed(source, self.crashed[source], me, desc)
        self.posted[me].append(rreq)
        return rreq

    def _match(self, msg, rreq):
        src, dst = msg.src, msg.dst
        net = self.network
        alpha, beta = net.link(src, dst, self.n)
        s = max(msg.t_send, rreq.t_post, self.sendfree[src], self.recvfree[dst])
        e = s + alpha + msg.nbytes * beta
        if self.faults.delay:
            e += self.faults.link_delay(src, dst)
        self.sendfree[src] = e
        self.recvfree[dst] = e
        self.messages.append(Transfer(src, dst, s, e, msg.nbytes, msg.tag, msg.label))
        # deliver (a mismatch is raised in the receiver when it completes the receive)
        if rreq.is_obj and msg.is_obj:
            rreq.value = pickle.loads(msg.data)
        else:
            buf = rreq.buf
            if msg.is_obj or rreq.is_obj or msg.dtype != buf.dtype or msg.nbytes > buf.nbytes:
                rreq.error = _mismatch(msg, rreq)
            else:
                buf.reshape(-1).view(np.uint8)[: msg.nbytes] = msg.data
        rreq.nbytes = msg.nbytes
        rreq.status = (src, msg.tag, msg.nbytes)
        rreq.done = True
        rreq.t_complete = e
        self._notify(rreq)
        sreq = msg.sreq
        if not sreq.done:
            sreq.done = True
            sreq.t_complete = e
            self._notify(sreq)

    def _notify(self, req):
        r = req.owner
        if self.state[r] == BLOCKED:
            reqs = self.waiting[r]
            if reqs is not None and all(q.done for q in reqs):
                self._wake(r, max(q.t_complete for q in reqs))

    def wait(self, me, reqs, kind, status=None, statuses=None, record=True, label=""):
        """Block rank me until all `reqs` complete; advance its clock to the latest end."""
        if self.aborting:
            raise _Abort()
        t0 = self.clock[me]
        if len(reqs) == 1 and statuses is None:  # the common case, kept short
            q = reqs[0]
            if not q.done:
                self.waiting[me] = reqs
                self.blocked_desc[me] = q.desc
                try:
                    self._block(me)
                finally:
                    self.waiting[me] = None
            self.advance(me, q.t_complete)
            if q.error is not None:
                raise q.error
            if status is not None:
                q._fill(status)
            if record and self.quiet[me] is None:
                self.trace.append(Event(me, t0, self.clock[me], kind,
                                        q.status[0] if q.status else q.peer, q.nbytes, label))
            return
        if not all(q.done for q in reqs):
            self.waiting[me] = reqs
            self.blocked_desc[me] = " + ".join(q.desc for q in reqs if not q.done)
            try:
                self._block(me)
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
            peer = reqs[0].status[0] if len(reqs) == 1 and reqs[0].status else (
                reqs[0].peer if len(reqs) == 1 else None)
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
        self._poll_failed(me, req.t_complete if req.done else float("inf"),
                          f"polling test() on {req.desc}")
        return False

    def _poll_failed(self, me, when, desc):
        """A nonblocking check failed: charge POLL seconds, or jump to the next moment
        something can change (`when`, or the next rank's clock), and let every other
        rank at that moment act first. If nothing else can ever run, the rank would
        poll forever: after many such polls that is reported as a deadlock."""
        t = self.clock[me]
        self.poll_desc[me] = desc
        self.polls += 1
        if self.polls > self.MAX_POLLS:  # nobody but pollers has acted for a long time
            for r in range(self.n):
                if self.state[r] != DONE and self.poll_desc[r]:
                    self.blocked_desc[r] = self.poll_desc[r]
                    self.state[r] = BLOCKED
            self._stalled()
            raise _Abort()
        nxt = when
        top = self._clean_top()
        if top is not None:
            nxt = min(nxt, top[0])
        if nxt == float("inf"):
            return
        self.advance(me, max(t + self.POLL, nxt))
        self.yield_(me, after_peers=True)

    def iprobe(self, me, source, tag, ctx, rmap):
        """Is a matching message waiting for rank me? Returns (src, tag, nbytes) or None."""
        self.yield_(me)
        for msg in self.unexpected[me]:
            if msg.ctx == ctx and _matches(source, tag, msg.src, msg.tag):
                self.polls = 0
                return (rmap[msg.src] if rmap else msg.src), msg.tag, msg.nbytes
        return None

    def probe(self, me, source, tag, ctx, rmap, desc):
        """Wait (polling in virtual time) until a matching message has been sent."""
        t0 = self.clock[me]
        while True:
            found = self.iprobe(me, source, tag, ctx, rmap)
            if found is not None:
                self.record(me, t0, self.clock[me], "wait", found[0], 0, "probe")
                return found
            if source != ANY_SOURCE and source in self.crashed:
                raise RankCrashed(source, self.crashed[source], me, desc)
            self._poll_failed(me, float("inf"), desc)

    # ---------------------------------------------------------------- helpers ----
    @staticmethod
    def pack(buf, what):
        """Copy a numpy buffer's bytes (the message payload)."""
        arr = np.asarray(buf)
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        return arr.reshape(-1).view(np.uint8).copy(), arr.nbytes

    @staticmethod
    def check_recv_buf(buf, me, call="Recv"):
        if not isinstance(buf, np.ndarray):
            raise TypeError(f"rank {me}: {call} needs a numpy array buffer, got "
                            f"{type(buf).__name__}; use recv() for Python objects")
        if not buf.flags.c_contiguous or not buf.flags.writeable:
            raise ValueError(f"rank {me}: {call} buffer must be a writeable C-contiguous array "
                             "(np.empty(shape) or a contiguous slice)")
        return buf


def _mismatch(msg, rreq):
    """The error for a receive that cannot take the message it matched."""
    src, dst = msg.src, rreq.owner
    call = rreq.desc
    if rreq.is_obj:
        return TypeError(f"rank {dst}: {call} (a pickled object) matched a buffer Send from "
                         f"rank {src}; use Recv(buf) for buffers")
    if msg.is_obj:
        return TypeError(f"rank {dst}: {call} (a buffer) matched a pickled send() from rank "
                         f"{src}; use recv() for objects")
    buf = rreq.buf
    sent = f"{msg.nbytes // max(msg.dtype.itemsize, 1)} x {msg.dtype} ({msg.nbytes} bytes)"
    if msg.dtype != buf.dtype:
        return TypeError(f"rank {dst}: {call} into a {buf.dtype} buffer matched rank {src}'s "
                         f"Send of {sent} (tag {msg.tag}); MPI does not convert types: "
                         f"receive into an array of dtype {msg.dtype}, or send "
                         f"x.astype({buf.dtype}) from rank {src}")
    need = msg.nbytes // max(msg.dtype.itemsize, 1)
    return ValueError(f"rank {dst}: message truncated: rank {src} sent {sent} (tag {msg.tag}) "
                      f"into a {buf.size}-element ({buf.nbytes}-byte) receive buffer of "
                      f"{call}; make the buffer larger (at least np.empty({need}, "
                      f"dtype={buf.dtype}))")
