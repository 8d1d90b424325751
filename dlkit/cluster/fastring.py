"""The ring allreduce of :mod:`dlkit.cluster.collectives`, simulated for all ranks at once.

:func:`dlkit.cluster.collectives.allreduce_ring` is the algorithm as a reader should
read it: each rank, in each of 2(p - 1) steps, sends one chunk to its right neighbour
and receives one from its left. Simulated message by message, a ring on p ranks costs
2p(p - 1) scheduler hand-offs: two million at p = 1,000. This module computes the very
same run without them: when the last rank of ``COMM_WORLD`` enters the collective, it
replays the ring's steps for every rank with the engine's own rules (a transfer starts
at the latest of the send, the posted receive and the two ports being free, and takes
alpha + c beta for a chunk of c bytes; the reduction charges gamma per byte; a send
above the eager limit completes with its transfer), so the results, every rank's
clock, the ports, each rank's trace events and the transfers are those of the
message-by-message run. Only the order
of the records differs: transfers are recorded step by step, rank by rank, where the
message-by-message run records them in the order the scheduler matched them, and the
ranks' trace events may interleave differently (each rank's own stay in order, so
``RunResult.breakdown()`` is the same).

The replay is exact only when nothing else can touch the ports of the ranks inside the
collective while they wait for the others, so it is used only then:

* every rank of the simulation is in the communicator (``COMM_WORLD``), p >= 2;
* no crash, dropped link or link delay is configured and there is no virtual-time
  limit (slow ranks are fine: they only scale the reduction's arithmetic);
* a rank entering has no unmatched send and no posted receive. Messages other ranks
  send it meanwhile wait for receives it posts after the collective, so they cannot
  share a port with the ring.

When an entering rank has unmatched traffic, every rank of that call runs the ring
message by message instead, from the clock at which it entered. Tests check both ways
against each other, and the simulated time against the closed form.
"""

from __future__ import annotations

import gc

import numpy as np

from .collectives import TAG_RING, chunk_bounds
from .records import Transfer

FALLBACK = object()  # returned when the call must run message by message


class _Call:
    """One ring allreduce call: who has entered, with what, and the outcome."""

    __slots__ = ("p", "entered", "seen", "fallback", "results")

    def __init__(self, p: int):
        self.p = p
        self.entered: dict[int, np.ndarray] = {}  # rank -> its flat copy of x
        self.seen = 0  # ranks that have entered, either way
        self.fallback = False
        self.results: list | None = None


def eligible(eng, comm) -> bool:
    """May this communicator's ring allreduce be replayed for all ranks at once?"""
    f = eng.faults
    return (
        comm._group is None
        and eng.n >= 2
        and not f.crash
        and not f.drop
        and not f.delay
        and eng.t_limit == float("inf")
        and not eng.crashed
    )


def allreduce_ring(eng, comm, x: np.ndarray, ufunc: np.ufunc):
    """Rank ``comm._rank``'s share of a ring allreduce of `x`; FALLBACK if the call
    must run message by message (:func:`.collectives.allreduce_ring`)."""
    me = comm._rank
    eng.yield_(me)  # enter in (time, rank) order, as the first send would
    key = (comm._ctx, comm._ncoll)
    calls = eng.ring_calls
    call = calls.get(key)
    if call is None:
        call = calls[key] = _Call(eng.n)
    call.seen += 1
    if call.seen == call.p:
        del calls[key]
    if not call.fallback and eng.has_traffic(me):
        call.fallback = True
        for r in call.entered:  # they wait inside the call: run it message by message
            eng.wake(r, eng.clock[r])
    if call.fallback:
        return FALLBACK
    call.entered[me] = np.ascontiguousarray(x).reshape(-1).copy()
    if len(call.entered) < call.p:
        waiting = sorted(set(range(call.p)) - set(call.entered))
        eng.block(
            me,
            f"Allreduce[ring] (waiting for rank(s) "
            f"{', '.join(map(str, waiting[:10]))}"
            f"{' ...' if len(waiting) > 10 else ''} to enter)",
        )
        if call.fallback:
            return FALLBACK
        return call.results[me]
    paused = gc.isenabled()  # millions of new transfer records would set off the cyclic
    gc.disable()  # garbage collector over and over (three times the cost of
    try:  # making them); they hold no cycles
        finish = _replay(eng, call, ufunc)
    finally:
        if paused:
            gc.enable()
    for r in range(call.p):
        if r != me:
            eng.wake(r, finish[r])
    eng.clock[me] = max(eng.clock[me], finish[me])
    return call.results[me]


def _replay(eng, call: _Call, ufunc: np.ufunc) -> list[float]:
    """Run the ring's 2(p - 1) steps for every rank, one step for all ranks at a time
    (numpy over ranks, elementwise the same arithmetic as the message-by-message run);
    store every rank's result in ``call.results``; return each rank's finish time."""
    p, n = call.p, eng.n
    X = np.stack([call.entered[r] for r in range(p)])  # (p, N): every rank's x
    N, item = X.shape[1], X.itemsize
    off = chunk_bounds(N, p)
    size = np.diff(off)  # chunk i holds size[i] elements
    # chunk i of rank r lives in A[r, i, :size[i]] (zero-padded to the largest chunk)
    pos = np.arange(N)
    which = np.searchsorted(off, pos, side="right") - 1
    A = np.zeros((p, p, max(int(size.max()), 1)), dtype=X.dtype)
    A[:, which, pos - off[which]] = X
    ranks = np.arange(p)
    right, left = (ranks + 1) % p, (ranks - 1) % p
    alpha, beta = (
        np.array(v) for v in zip(*(eng.network.link(r, (r + 1) % p, n) for r in range(p)))
    )
    slow = np.array(eng.slow[:p], dtype=np.float64)
    gamma, eager = eng.network.gamma, eng.eager_limit
    sendfree = np.array(eng.sendfree[:p], dtype=np.float64)
    recvfree = np.array(eng.recvfree[:p], dtype=np.float64)
    t = np.array([eng.clock[r] for r in range(p)], dtype=np.float64)
    labels = [eng.quiet[r] or "" for r in range(p)]
    src, dst, tags = ranks.tolist(), right.tolist(), [TAG_RING] * p
    messages = eng.messages
    for phase in ("reduce-scatter", "allgather"):
        for s in range(p - 1):
            # rank r sends chunk i_send[r] to its right neighbour
            i_send = (ranks - s) % p if phase == "reduce-scatter" else (ranks + 1 - s) % p
            nbytes = size[i_send] * item
            start = np.maximum(np.maximum(t, t[right]), np.maximum(sendfree, recvfree[right]))
            end = start + alpha + nbytes * beta
            sendfree = end
            recvfree = end[left]  # rank r's receive port: the transfer from its left
            _record(messages, src, dst, start, end, nbytes, tags, labels)
            # rank r receives its left neighbour's chunk, combines it, waits for its send
            i_recv = i_send[left]
            incoming = A[left, i_recv]
            done = np.maximum(t, end[left])
            if phase == "reduce-scatter":
                A[ranks, i_recv] = ufunc(A[ranks, i_recv], incoming)
                later = done + (size[i_recv] * item) * gamma * slow
                done = np.where(later > done, later, done)
            else:
                A[ranks, i_recv] = incoming
            t = np.where((nbytes > eager) & (end > done), end, done)
    call.results = list(A[:, which, pos - off[which]])
    eng.sendfree[:p] = sendfree.tolist()
    eng.recvfree[:p] = recvfree.tolist()
    for r in range(p):
        eng.call[r] = "Allreduce[ring]"
        eng.progress(r)
    return t.tolist()


def _record(messages, src, dst, start, end, nbytes, tags, labels) -> None:
    """Append one step's p transfers."""
    messages.extend(
        map(Transfer, src, dst, start.tolist(), end.tolist(), nbytes.tolist(), tags, labels)
    )


__all__ = ["allreduce_ring", "eligible", "FALLBACK"]
