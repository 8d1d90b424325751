"""The simulator's scheduler: virtual clocks, the ready heap, hand-offs and run limits.

Each rank runs ``train(comm)`` in its own greenlet (a coroutine with its own stack),
and one runs at a time: the ready rank with the smallest ``(virtual time, rank)``.
Before every operation that touches shared state a rank calls :meth:`Scheduler.yield_`,
which hands control to any rank with a smaller ``(time, rank)``; a rank that must wait
calls :meth:`Scheduler.block` and the next ready rank runs; whoever completes what it
waits for calls :meth:`Scheduler.wake`. There is no polling: a hand-off is a switch to
the next rank's greenlet. Local work (``compute`` charges, clock advances after a wait)
needs no hand-off: nobody can observe it until the rank's next interaction, which
waits its turn. Because the order in which ranks act depends only on virtual times,
two runs of the same program produce identical traces.

The ready heap holds ``(time, key, rank, version)``; an entry is valid while its
version is the rank's current one, so re-queueing a rank needs no search. A crash
(``Faults(crash={rank: t})``) is an entry with version ``_CRASH``: when it comes up the
rank is woken with a ``_Crash`` to unwind.

Run limits: no ready rank while some are blocked is a :class:`DeadlockError`; a clock
that would pass ``max_virtual_time`` is a :class:`SimTimeoutError` (the wall-clock
limit is watched by ``SimCluster.run``, which calls :meth:`Scheduler.wall_timeout`); a
rank that only polls (``test``, ``Iprobe``) while nobody else makes progress is
reported as a deadlock after ``MAX_POLLS`` polls.
"""

from __future__ import annotations

import heapq
import threading

from .errors import DeadlockError, SimTimeoutError, _Abort, _Crash
from .records import Event

READY, BLOCKED, DONE = 0, 1, 2
_CRASH = -1  # version field of a crash entry in the ready heap

__all__ = ["Scheduler", "READY", "BLOCKED", "DONE"]


class Scheduler:
    """Who runs next, and each rank's virtual clock, state and trace.

    Parameters
    ----------
    n : the number of ranks p.
    faults : the run's :class:`~dlkit.cluster.Faults` (crash times, slow factors).
    max_virtual_time : the largest virtual time a clock may reach (None: no limit).
    """

    #: virtual seconds charged for a ``test()`` that finds its request incomplete
    POLL = 1e-7
    #: failed polls in a row, with no send, receive or compute anywhere, taken as a deadlock
    MAX_POLLS = 20000

    def __init__(self, n, faults, max_virtual_time=None):
        self.n = n
        self.faults = faults
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
        self.blocked_desc = [""] * n
        self.crashed: dict[int, float] = {}
        self.quiet = [None] * n  # label of the collective a rank is inside, or None
        self.trace: list[Event] = []
        self.error: BaseException | None = None
        self.aborting = False
        self.done_count = 0
        self.done_lock = threading.Lock()
        self.finished = threading.Event()  # set by SimCluster.run's scheduler thread
        self.values = [None] * n
        self.polls = 0
        self.poll_desc = [""] * n  # what a rank last polled for, "" after real progress
        self.call = [""] * n  # the MPI call a rank is in or made last (for timeout reports)
        # each rank's latest stretch of back-to-back compute charges (outside MPI)
        self.busy_start = [0.0] * n
        self.busy_end = [0.0] * n

    # ---------------------------------------------------------------- the heap ----
    def next_rank(self):
        """Pop the next rank to run (smallest (time, rank)), processing crash entries;
        None if no rank is ready."""
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

    # -------------------------------------------------------------- hand-offs ----
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
        nxt = self.next_rank()
        if nxt == me:
            self.after_wake(me)
            return
        self._handoff(me, nxt)

    def block(self, me, desc=None):
        """`me` cannot continue until someone wakes it: run someone else.

        ``desc`` (optional) says what it waits for, in deadlock and timeout reports.
        """
        if desc is not None:
            self.blocked_desc[me] = desc
        self.state[me] = BLOCKED
        nxt = self.next_rank()
        if nxt is None:
            self._stalled()
            raise _Abort()
        if nxt == me:
            self.after_wake(me)
            return
        self._handoff(me, nxt)

    def _handoff(self, me, nxt):
        self.glets[nxt].switch()  # returns when some rank switches back to me
        self.after_wake(me)

    def after_wake(self, me):
        """Rank `me` runs again: raise what it was sent meanwhile (a crash, an abort)."""
        if self.resume is not None:
            self.resume(me)
        exc = self.pending[me]
        if exc is not None:
            self.pending[me] = None
            raise exc
        if self.aborting:
            raise _Abort()

    def wake(self, r, t):
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

    # ------------------------------------------------------------ local work ----
    def progress(self, me):
        """Rank `me` made real progress (a send, a receive, a compute): reset the poll count."""
        self.polls = 0
        self.poll_desc[me] = ""

    def record(self, rank, start, end, kind, peer=None, nbytes=0, label=""):
        """Append an :class:`Event` to the trace (not inside a collective's own messages)."""
        if self.quiet[rank] is None:
            self.trace.append(Event(rank, start, end, kind, peer, int(nbytes), label))

    def compute(self, me, seconds, label="compute", kind="compute"):
        """Charge `seconds` of CPU time to rank me (already scaled by the slow factor)."""
        if self.aborting:
            raise _Abort()
        t0 = self.clock[me]
        self.progress(me)
        if kind == "compute":  # busy outside MPI over [busy_start, busy_end)
            if t0 != self.busy_end[me]:
                self.busy_start[me] = t0
            self.busy_end[me] = t0 + seconds
        self.advance(me, t0 + seconds)
        self.record(me, t0, self.clock[me], kind, None, 0, label)

    def busy_until(self, r, t):
        """If rank r is computing outside MPI at virtual time t, the time it next enters
        MPI (the end of its stretch of compute charges); otherwise t."""
        if self.busy_start[r] <= t < self.busy_end[r]:
            return self.busy_end[r]
        return t

    def poll_failed(self, me, when, desc):
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
            return (
                f"its clock would pass the limit, going from t={t:.9g} s to "
                f"t={t_next:.9g} s{inside} (last MPI call: {last})"
            )
        if self.state[r] == BLOCKED:
            return f"blocked in {self.blocked_desc[r]}{inside} since virtual t={t:.6g} s"
        parked = {e[2] for e in list(self.heap) if e[3] == self.version[r]}
        if r in parked:
            if not self.call[r] and t == 0:
                return "ready at virtual t=0 s, not started yet"
            return f"ready at virtual t={t:.6g} s, waiting for its turn in {last}{inside}"
        return (
            f"running Python code outside MPI since virtual t={t:.6g} s{inside} "
            f"(last MPI call: {last})"
        )

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
        self.stop(SimTimeoutError("virtual time", self.t_limit, ranks, max(self.clock)), current=me)
        raise _Abort()

    def wall_timeout(self, seconds):
        """Called by the watching thread when the wall-clock limit has passed: stop the
        run; return the ranks that were running Python code (their threads cannot be
        woken, only asked to stop)."""
        ranks = {r: self.describe(r) for r in range(self.n)}
        self.stop(SimTimeoutError("wall-clock", seconds, ranks, max(self.clock)))
        return [r for r, what in ranks.items() if what.startswith("running")]

    def stall_notes(self) -> str:
        """Extra lines for a DeadlockError: the ranks that crashed."""
        if not self.crashed:
            return ""
        return "crashed ranks: " + ", ".join(
            f"{r} (at {tc:.6g} s)" for r, tc in sorted(self.crashed.items())
        )

    def _stalled(self):
        """No rank is ready: either everything finished or the live ranks deadlock."""
        blocked = {r: self.blocked_desc[r] for r in range(self.n) if self.state[r] == BLOCKED}
        if not blocked:
            return
        t = max(self.clock[r] for r in blocked)
        if self.error is None:
            self.error = DeadlockError(blocked, t, self.stall_notes())
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
        nxt = self.next_rank()
        if nxt is None:
            self._stalled()
        return nxt

    def rank_failed(self, me, exc):
        """An exception escaped rank me's train function: stop everyone."""
        self.stop((me, exc), current=me)
