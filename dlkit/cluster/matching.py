"""Message matching: posted sends and receives, the ports they occupy, what is delivered.

Timing (see :mod:`dlkit.cluster.networks` for the port model):

* A send is *issued* at the sender's clock ``t_s``; the matching receive is *posted*
  at the receiver's clock ``t_r``. The transfer starts at
  ``s = max(t_s, t_r, send port of the sender free, receive port of the receiver free)``
  and ends at ``e = s + alpha + m*beta`` for a message of m bytes; it occupies both
  ports until then (:meth:`Matcher.transfer`). A link delay (``Faults(delay=...)``) is
  time in flight: the message arrives that much later, but the ports are free at ``e``,
  so other messages of the two ranks are not held up by it.
* A receive completes at ``e``. A send of at most ``eager_limit`` bytes completes
  locally at ``t_s`` (the message is buffered); a larger send completes at ``e``, so a
  blocking ``Send`` waits for the matching receive to be posted, as MPI may.

A message matches the first posted receive of its destination with the same context
whose source and tag agree (``ANY_SOURCE``, ``ANY_TAG`` match anything); a receive
matches the oldest such message. MPI's non-overtaking rule follows: two messages from
one sender with one tag arrive in the order they were sent.

Checks at matching: a buffer receive must have the dtype of the matched buffer send
(MPI does not convert types) and room for its elements (a larger buffer is fine, as
in MPI; a smaller one is a truncation error). The error is raised in the receiving
rank when it completes the receive.
"""

from __future__ import annotations

import pickle
from collections import deque

import numpy as np

from .constants import ANY_SOURCE, ANY_TAG
from .errors import RankCrashed
from .records import Transfer, Unreceived
from .requests import Completion, Request
from .scheduler import BLOCKED

__all__ = ["Matcher", "Message"]


class Message:
    __slots__ = (
        "src",
        "dst",
        "tag",
        "ctx",
        "data",
        "nbytes",
        "t_send",
        "sreq",
        "is_obj",
        "dtype",
        "label",
    )

    def __init__(
        self, src, dst, tag, ctx, data, nbytes, t_send, sreq, is_obj, dtype=None, label=""
    ):
        self.src, self.dst, self.tag, self.ctx = src, dst, tag, ctx
        self.data, self.nbytes, self.t_send = data, nbytes, t_send
        self.sreq, self.is_obj, self.dtype = sreq, is_obj, dtype
        self.label = label  # the collective the sender was in when it sent, or ""


def _matches(want_src, want_tag, src, tag) -> bool:
    return (want_src == ANY_SOURCE or want_src == src) and (want_tag == ANY_TAG or want_tag == tag)


class Matcher(Completion):
    """Requests plus point-to-point messages: post, match, deliver, probe.

    Parameters
    ----------
    n, faults, max_virtual_time : as for :class:`~dlkit.cluster.scheduler.Scheduler`.
    network : the :class:`~dlkit.cluster.networks.Network` that prices each transfer.
    eager_limit : sends of more bytes complete only when matched.
    """

    def __init__(self, n, network, faults, eager_limit, max_virtual_time=None):
        super().__init__(n, faults, max_virtual_time)
        self.network = network
        self.eager_limit = eager_limit
        self.sendfree = [0.0] * n
        self.recvfree = [0.0] * n
        self.unexpected = [deque() for _ in range(n)]  # sent, not yet matched, per receiver
        self.posted = [[] for _ in range(n)]  # posted receives not yet matched, per receiver
        self.lost: list[tuple[int, int, int, float]] = []  # (src, dst, tag, time) dropped
        self.messages: list[Transfer] = []

    # ----------------------------------------------------------------- the wire ----
    def transfer(self, src, dst, t, nbytes, tag, label=""):
        """Occupy src's send port and dst's receive port for a message that may start at
        virtual time t; record the :class:`Transfer`; return its end time."""
        alpha, beta = self.network.link(src, dst, self.n)
        s = max(t, self.sendfree[src], self.recvfree[dst])
        e = s + alpha + nbytes * beta
        self.sendfree[src] = e
        self.recvfree[dst] = e
        if self.faults.delay:  # time in flight: it delays this message, not the ports
            e += self.faults.link_delay(src, dst)
        self.messages.append(Transfer(src, dst, s, e, nbytes, tag, label))
        return e

    # ------------------------------------------------------------ point to point ----
    def post_send(self, me, dest, tag, ctx, data, nbytes, is_obj, desc, dtype=None, sync=False):
        """Issue a send (dest, tag already checked by the communicator). A synchronous
        send (``sync``, MPI's ``Ssend``) completes only when matched, whatever its size."""
        self.call[me] = desc
        self.yield_(me)
        self.progress(me)
        t = self.clock[me]
        if dest in self.crashed:
            raise RankCrashed(dest, self.crashed[dest], me, desc)
        sreq = Request(self, me, "send", dest, tag, ctx, desc, t)
        sreq.nbytes = nbytes
        if nbytes <= self.eager_limit and not sync:
            sreq.done = True
            sreq.t_complete = t
        if self.faults.drop and self.faults.dropped(me, dest):
            # A dropped link: the message leaves the sender and is never delivered.
            alpha, beta = self.network.link(me, dest, self.n)
            sreq.done = True
            eager = nbytes <= self.eager_limit and not sync
            sreq.t_complete = t if eager else t + alpha + nbytes * beta
            self.lost.append((me, dest, tag, t))
            return sreq
        msg = Message(
            me, dest, tag, ctx, data, nbytes, t, sreq, is_obj, dtype, self.quiet[me] or ""
        )
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
        self.progress(me)
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
        e = self.transfer(
            msg.src, msg.dst, max(msg.t_send, rreq.t_post), msg.nbytes, msg.tag, msg.label
        )
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
        rreq.status = (msg.src, msg.tag, msg.nbytes)
        rreq.done = True
        rreq.t_complete = e
        self.notify(rreq)
        sreq = msg.sreq
        if not sreq.done:
            sreq.done = True
            sreq.t_complete = e
            self.notify(sreq)

    def has_traffic(self, me) -> bool:
        """Has rank `me` an unmatched send or a posted receive (on any context)?"""
        return bool(self.posted[me]) or any(m.src == me for q in self.unexpected for m in q)

    def iprobe(self, me, source, tag, ctx, rmap):
        """Is a matching message waiting for rank me? Returns (src, tag, nbytes) or None."""
        self.yield_(me)
        for msg in self.unexpected[me]:
            if msg.ctx == ctx and _matches(source, tag, msg.src, msg.tag):
                self.polls = 0
                return (rmap[msg.src] if rmap else msg.src), msg.tag, msg.nbytes
        return None

    def take(self, me, source, tag, ctx):
        """Remove and return the oldest message waiting for rank me that matches (Mprobe);
        no receive can match it afterwards, only :meth:`receive_taken`."""
        queue = self.unexpected[me]
        for i, msg in enumerate(queue):
            if msg.ctx == ctx and _matches(source, tag, msg.src, msg.tag):
                del queue[i]
                return msg
        return None

    def receive_taken(self, me, msg, buf, is_obj, desc):
        """A receive of the message `msg` taken by Mprobe: returns the completed request."""
        self.call[me] = desc
        self.yield_(me)
        self.progress(me)
        rreq = Request(self, me, "recv", msg.src, msg.tag, msg.ctx, desc, self.clock[me])
        rreq.buf = buf
        rreq.is_obj = is_obj
        self._match(msg, rreq)
        return rreq

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
            self.poll_failed(me, float("inf"), desc)

    # ---------------------------------------------------------- crashes, the end ----
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
                self.wake(r, t)

    def unreceived(self):
        """Messages still waiting for a receive, to ranks that did not crash."""
        return [
            Unreceived(m.src, m.dst, m.tag, m.nbytes)
            for d, queue in enumerate(self.unexpected)
            if d not in self.crashed
            for m in queue
        ]

    def stall_notes(self) -> str:
        """Extra lines for a DeadlockError: crashed ranks and messages lost on dropped links."""
        extra = super().stall_notes()
        if self.lost:
            extra += (
                ("\n" if extra else "")
                + "messages lost on dropped links: "
                + ", ".join(
                    f"{a}->{b} (tag {tag}, sent at {ts:.6g} s)" for a, b, tag, ts in self.lost[:10]
                )
            )
        return extra

    # ---------------------------------------------------------------- buffers ----
    @staticmethod
    def pack(buf, what):
        """Copy a numpy buffer's bytes (the message payload)."""
        arr = np.asarray(buf)
        if not arr.flags.c_contiguous:
            arr = np.ascontiguousarray(arr)
        return arr.reshape(-1).view(np.uint8).copy(), arr.nbytes

    @staticmethod
    def check_recv_buf(buf, me, call="Recv"):
        """A receive buffer is a writeable C-contiguous numpy array."""
        if not isinstance(buf, np.ndarray):
            raise TypeError(
                f"rank {me}: {call} needs a numpy array buffer, got "
                f"{type(buf).__name__}; use recv() for Python objects"
            )
        if not buf.flags.c_contiguous or not buf.flags.writeable:
            raise ValueError(
                f"rank {me}: {call} buffer must be a writeable C-contiguous array "
                "(np.empty(shape) or a contiguous slice)"
            )
        return buf


def _mismatch(msg, rreq):
    """The error for a receive that cannot take the message it matched."""
    src, dst = msg.src, rreq.owner
    call = rreq.desc
    if rreq.is_obj:
        return TypeError(
            f"rank {dst}: {call} (a pickled object) matched a buffer Send from "
            f"rank {src}; use Recv(buf) for buffers"
        )
    if msg.is_obj:
        return TypeError(
            f"rank {dst}: {call} (a buffer) matched a pickled send() from rank "
            f"{src}; use recv() for objects"
        )
    buf = rreq.buf
    sent = f"{msg.nbytes // max(msg.dtype.itemsize, 1)} x {msg.dtype} ({msg.nbytes} bytes)"
    if msg.dtype != buf.dtype:
        return TypeError(
            f"rank {dst}: {call} into a {buf.dtype} buffer matched rank {src}'s "
            f"Send of {sent} (tag {msg.tag}); MPI does not convert types: "
            f"receive into an array of dtype {msg.dtype}, or send "
            f"x.astype({buf.dtype}) from rank {src}"
        )
    need = msg.nbytes // max(msg.dtype.itemsize, 1)
    return ValueError(
        f"rank {dst}: message truncated: rank {src} sent {sent} (tag {msg.tag}) "
        f"into a {buf.size}-element ({buf.nbytes}-byte) receive buffer of "
        f"{call}; make the buffer larger (at least np.empty({need}, "
        f"dtype={buf.dtype}))"
    )
