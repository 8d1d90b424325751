r"""More of mpi4py's communicator on the simulated cluster: groups, ``COMM_SELF``,
synchronous sends, matched probes, vector and prefix collectives, non-blocking
collectives.

:class:`~dlkit.cluster.comm.SimComm` inherits these methods from :class:`CommMore`;
they follow mpi4py's signatures and MPI's semantics:

* ``Get_group()`` - a :class:`Group` (``Get_size``, ``Get_rank``, ``Translate_ranks``,
  ``Incl``, ``Excl``); ``MPI.COMM_SELF`` - the calling rank alone; ``MPI.COMM_NULL``.
* ``Ssend``/``Issend`` - a send that completes only when the receiver has matched it,
  whatever its size (the eager limit does not apply).
* ``Mprobe``/``Improbe`` (and ``mprobe``/``improbe``) - probe and take the matched
  message: only the returned :class:`Message`'s ``Recv``/``recv`` can receive it.
  With ``MPI.PROC_NULL`` they return a message whose receive does nothing.
* ``Alltoall``, ``Alltoallv`` - pairwise exchange, (p-1) T(m) for blocks of m bytes;
  ``Gatherv``, ``Scatterv`` - linear at the root, the sum of T(m_i) over the other
  ranks; ``Allgatherv`` - ring, (p-1) T(m) for equal blocks; ``Reduce_scatter_block``
  and ``Reduce_scatter`` - ring, (p-1)(T(c) + c gamma) for blocks of c bytes;
  ``Scan``, ``Exscan`` - recursive doubling, ceil(log2 p) rounds (Scan:
  ceil(log2 p)(T(m) + m gamma)). The algorithms are in :mod:`dlkit.cluster.collectives`.
* ``Iallreduce``, ``Ibcast``, ``Ibarrier`` - return a Request at once. The operation
  starts when the last rank has called it and completes ``cost`` virtual seconds
  later, ``cost`` being the closed form of the blocking collective
  (:mod:`.costs`: the communicator's allreduce algorithm, the binomial broadcast, the
  dissemination barrier); a rank that computes meanwhile overlaps that work with the
  collective, and ``Wait`` returns at ``max(own clock, completion)``. On a network
  that is not uniform the closed form is taken with the slowest link between two
  members (exact for the ring allreduce, whose every step waits for the slowest
  link). A non-blocking collective occupies no ports: point-to-point traffic at the
  same time is not slowed by it.

Buffer specs of the vector forms, as in mpi4py: ``[buf, counts]``,
``[buf, (counts, displs)]``, ``[buf, counts, displs]``, each optionally followed by a
datatype; counts and displacements are in elements. A plain array is split into p
equal blocks.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from . import collectives as C
from . import costs as K
from .args import _assign, _buffer, _check_op, _check_pair, _op_name, _src, _tag
from .constants import ANY_SOURCE, ANY_TAG, IN_PLACE, PROC_NULL, SUM, UNDEFINED, Datatype
from .requests import Request, Status

__all__ = ["CommMore", "Group", "Message", "COMM_NULL", "MESSAGE_NO_PROC"]


class Group:
    """An ordered set of ranks (mpi4py's ``MPI.Group``), from ``comm.Get_group()``.

    It lists world ranks; ``Get_rank()`` is the calling rank's place in it
    (``MPI.UNDEFINED`` if it is not a member).
    """

    def __init__(self, world: tuple[int, ...], me: int):
        self._world = tuple(world)
        self._me = me

    def Get_size(self) -> int:
        return len(self._world)

    def Get_rank(self) -> int:
        return self._world.index(self._me) if self._me in self._world else UNDEFINED

    size = property(Get_size)
    rank = property(Get_rank)

    def Translate_ranks(self, ranks: Any = None, group: "Group | None" = None) -> list[int]:
        """The ranks in ``group`` of this group's ``ranks`` (all of them if None);
        MPI.UNDEFINED for a process not in ``group``, MPI.PROC_NULL kept."""
        if ranks is None:
            ranks = range(self.Get_size())
        out = []
        for r in ranks:
            if r == PROC_NULL:
                out.append(PROC_NULL)
                continue
            if isinstance(r, (bool, np.bool_)) or not isinstance(r, (int, np.integer)):
                raise TypeError(f"Group.Translate_ranks: ranks must be ints, got {r!r}")
            if not 0 <= r < self.Get_size():
                raise ValueError(
                    f"Group.Translate_ranks: rank {r} is not in this group of "
                    f"{self.Get_size()} (0..{self.Get_size() - 1})"
                )
            w = self._world[r]
            if group is None:
                out.append(int(r))
            else:
                out.append(group._world.index(w) if w in group._world else UNDEFINED)
        return out

    def Incl(self, ranks) -> "Group":
        """The group of the listed ranks of this group, in that order."""
        return Group(tuple(self._world[r] for r in ranks), self._me)

    def Excl(self, ranks) -> "Group":
        """This group without the listed ranks."""
        drop = set(ranks)
        return Group(tuple(w for i, w in enumerate(self._world) if i not in drop), self._me)

    def Free(self) -> None:
        pass

    def __eq__(self, other) -> bool:
        return isinstance(other, Group) and other._world == self._world

    def __hash__(self) -> int:
        return hash(self._world)

    def __repr__(self) -> str:
        return f"<Group of {self.Get_size()} ranks>"


class _CommNull:
    """``MPI.COMM_NULL``: no communicator. It is falsy and equal to None, which is what
    ``comm.Split(MPI.UNDEFINED)`` returns, so ``sub != MPI.COMM_NULL`` and
    ``sub is None`` both work."""

    def __bool__(self) -> bool:
        return False

    def __eq__(self, other) -> bool:
        return other is None or isinstance(other, _CommNull)

    def __hash__(self) -> int:
        return 0

    def __repr__(self) -> str:
        return "MPI.COMM_NULL"


COMM_NULL = _CommNull()


class Message:
    """A message taken by ``Mprobe``/``Improbe`` (mpi4py's ``MPI.Message``): only its own
    ``Recv``/``recv``/``Irecv``/``irecv`` can receive it."""

    def __init__(self, comm, msg):
        self._comm = comm
        self._msg = msg  # None: MESSAGE_NO_PROC

    def _post(self, buf, is_obj, call) -> Request:
        comm = self._comm
        if self._msg is None:
            return comm._null(call, is_obj)
        if self._msg is False:
            raise RuntimeError(f"rank {comm._rank}: {call}: this message was already received")
        msg, self._msg = self._msg, False
        eng = comm._engine
        arr = None
        if not is_obj:
            arr = eng.check_recv_buf(_buffer(buf, comm._rank, call), comm._rank, call)
        return comm._req(eng.receive_taken(comm._rank, msg, arr, is_obj, call))

    def Irecv(self, buf: Any) -> Request:
        return self._post(buf, False, "Message.Recv")

    def Recv(self, buf: Any, status: Status | None = None) -> None:
        req = self.Irecv(buf)
        req.Wait(status)

    def irecv(self) -> Request:
        return self._post(None, True, "Message.recv")

    def recv(self, buf: Any = None, status: Status | None = None) -> Any:
        return self.irecv().wait(status)

    def __bool__(self) -> bool:
        return self._msg is not False

    def __repr__(self) -> str:
        return "MPI.MESSAGE_NO_PROC" if self._msg is None else "<Message>"


MESSAGE_NO_PROC = "MESSAGE_NO_PROC"  # the simulator returns Message(comm, None) for it


def _bufv(spec: Any, me: int, call: str, p: int):
    """A vector buffer spec -> (flat array, counts, displacements), in elements."""
    counts = displs = None
    if isinstance(spec, (list, tuple)):
        parts = [x for x in spec[1:] if not isinstance(x, Datatype) and not _is_mpi_type(x)]
        if parts:
            first = parts[0]
            if (
                len(parts) == 1
                and isinstance(first, tuple)
                and len(first) == 2
                and not any(isinstance(c, (int, np.integer)) for c in first)
            ):
                counts, displs = parts[0]
            elif len(parts) >= 2:
                counts, displs = parts[0], parts[1]
            else:
                counts = parts[0]
    arr = _buffer(spec, me, call)
    if not arr.flags.c_contiguous:
        raise ValueError(f"rank {me}: {call} needs C-contiguous buffers")
    flat = arr.reshape(-1)
    if counts is None:
        if flat.size % p:
            raise ValueError(
                f"rank {me}: {call}: a buffer of {flat.size} elements does not split into "
                f"{p} equal blocks; pass [buf, counts] or [buf, (counts, displs)]"
            )
        counts = [flat.size // p] * p
    if isinstance(counts, (int, np.integer)):
        counts = [int(counts)] * p
    counts = [int(c) for c in counts]
    if len(counts) != p or min(counts) < 0:
        raise ValueError(
            f"rank {me}: {call}: counts must list {p} block sizes >= 0 (one per rank), got {counts}"
        )
    if displs is None:
        displs = list(np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(int))
    displs = [int(d) for d in displs]
    if len(displs) != p:
        raise ValueError(f"rank {me}: {call}: displs must list {p} offsets, got {displs}")
    for c, d in zip(counts, displs):
        if d < 0 or d + c > flat.size:
            raise ValueError(
                f"rank {me}: {call}: the block of {c} elements at displacement {d} "
                f"falls outside the {flat.size}-element buffer; fix counts/displs"
            )
    return flat, counts, displs


def _is_mpi_type(x) -> bool:
    return type(x).__name__ == "Datatype"


def _blocks(flat, counts, displs):
    return [flat[d : d + c] for c, d in zip(counts, displs)]


def _uniform(network, members, n):
    """A uniform network with the slowest (alpha, beta) between two members: what the
    closed forms price a non-blocking collective on a network that is not uniform."""
    if getattr(network, "uniform", False):
        return network
    from .networks import Network

    q = len(members)
    if q <= 64:
        pairs = [(a, b) for a in members for b in members if a != b]
    else:  # neighbours and opposite ranks: the ring's links and the longest hops
        pairs = [(members[i], members[(i + k) % q]) for i in range(q) for k in (1, q // 2)]
    links = [network.link(a, b, n) for a, b in pairs] or [(0.0, 0.0)]
    return Network(
        alpha=max(a for a, _ in links),
        beta=max(b for _, b in links),
        gamma=network.gamma,
        name=network.name,
    )


class CommMore:
    """The methods that :class:`~dlkit.cluster.comm.SimComm` adds to the basic ones."""

    # --------------------------------------------------------------- groups ----
    def _members(self) -> tuple[int, ...]:
        return tuple(range(self._engine.n)) if self._group is None else self._group

    def Get_group(self) -> Group:
        """The group of this communicator's ranks."""
        return Group(self._members(), self._rank)

    @property
    def group(self) -> Group:
        return self.Get_group()

    @property
    def _self_comm(self):
        """``MPI.COMM_SELF`` of this rank: a communicator of one rank, its own."""
        c = self._engine.self_comms.get(self._rank)
        if c is None:
            ctx = self._engine.context(("self", self._rank))
            c = type(self)(self._engine, self._rank, ctx, self._allreduce, (self._rank,))
            c.seed = getattr(self, "seed", 0)
            self._engine.self_comms[self._rank] = c
        return c

    # --------------------------------------------------------- synchronous send ----
    def Issend(self, buf: Any, dest: int, tag: int = 0) -> Request:
        """A synchronous send: the request completes when the receiver has matched it."""
        arr = _buffer(buf, self._rank, "Issend")
        world = self._dest(dest, tag, "Ssend")
        data, nbytes = self._engine.pack(arr, "Issend")
        desc = f"Ssend(dest={dest}, tag={tag}, {nbytes} bytes): waits for the matching receive"
        if world == PROC_NULL:
            return self._null(desc, False)
        return self._engine.post_send(
            self._rank, world, tag, self._ctx, data, nbytes, False, desc, arr.dtype, sync=True
        )

    def Ssend(self, buf: Any, dest: int, tag: int = 0) -> None:
        """Send ``buf``; return only once the receiver has matched it (MPI_Ssend)."""
        self._engine.wait(self._rank, [self.Issend(buf, dest, tag)], "send")

    def issend(self, obj: Any, dest: int, tag: int = 0) -> Request:
        import pickle

        world = self._dest(dest, tag, "ssend")
        desc = f"ssend(dest={dest}, tag={tag}): waits for the matching receive"
        if world == PROC_NULL:
            return self._null(desc, True)
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return self._engine.post_send(
            self._rank, world, tag, self._ctx, data, len(data), True, desc, sync=True
        )

    def ssend(self, obj: Any, dest: int, tag: int = 0) -> None:
        self._engine.wait(self._rank, [self.issend(obj, dest, tag)], "send")

    # ------------------------------------------------------------ matched probe ----
    def Improbe(
        self, source: int = ANY_SOURCE, tag: int = ANY_TAG, status: Status | None = None
    ) -> "Message | None":
        """A matching message, taken (only the returned Message can receive it), or
        None if none is waiting."""
        call = f"Improbe(source={_src(source)}, tag={_tag(tag)})"
        world = self._source(source, tag, call)
        if world == PROC_NULL:
            if status is not None:
                status._fill(PROC_NULL, ANY_TAG, 0)
            return Message(self, None)
        found = self._engine.iprobe(self._rank, world, tag, self._ctx, self._rmap)
        if found is None:
            self._engine.poll_failed(self._rank, float("inf"), "polling " + call)
            return None
        if status is not None:
            status._fill(*found)
        return Message(self, self._engine.take(self._rank, world, tag, self._ctx))

    def Mprobe(
        self, source: int = ANY_SOURCE, tag: int = ANY_TAG, status: Status | None = None
    ) -> Message:
        """Wait for a matching message and take it: receive it with the returned
        Message's ``Recv`` (or ``recv``), which no other receive can steal."""
        call = f"Mprobe(source={_src(source)}, tag={_tag(tag)})"
        world = self._source(source, tag, call)
        if world == PROC_NULL:
            if status is not None:
                status._fill(PROC_NULL, ANY_TAG, 0)
            return Message(self, None)
        found = self._engine.probe(self._rank, world, tag, self._ctx, self._rmap, call)
        if status is not None:
            status._fill(*found)
        return Message(self, self._engine.take(self._rank, world, tag, self._ctx))

    mprobe = Mprobe
    improbe = Improbe

    # -------------------------------------------------------- vector collectives ----
    def Alltoall(self, sendbuf: Any, recvbuf: Any) -> None:
        """Rank r's block d of ``sendbuf`` goes to block r of rank d's ``recvbuf``
        (p equal blocks each); pairwise exchange, (p-1) T(m)."""
        self._alltoall("Alltoall", sendbuf, recvbuf, vector=False)

    def Alltoallv(self, sendbuf: Any, recvbuf: Any) -> None:
        """Alltoall with per-rank counts and displacements (``[buf, (counts, displs)]``)."""
        self._alltoall("Alltoallv", sendbuf, recvbuf, vector=True)

    def _alltoall(self, call, sendbuf, recvbuf, vector):
        me, p = self._rank, self._size
        rflat, rc, rd = _bufv(recvbuf, me, call, p)
        if sendbuf is IN_PLACE:
            sflat, sc, sd = rflat.copy(), rc, rd
        else:
            sflat, sc, sd = _bufv(sendbuf, me, call, p)
        if sflat.dtype != rflat.dtype:
            raise TypeError(
                f"rank {me}: {call}: sendbuf is {sflat.dtype} but recvbuf is {rflat.dtype}; "
                f"allocate recvbuf with dtype={sflat.dtype}"
            )
        if not vector and (len(set(sc)) != 1 or sc != rc):
            raise ValueError(
                f"rank {me}: {call}: sendbuf and recvbuf must hold p = {p} equal blocks of "
                f"the same size (got {sflat.size} and {rflat.size} elements)"
            )
        send, recv = _blocks(sflat, sc, sd), _blocks(rflat, rc, rd)
        self._collective(
            call,
            sflat.nbytes,
            lambda: C.alltoallv_pairwise(self._cc, send, recv),
            sig=f"{call}({sflat.dtype})",
        )

    def Gatherv(self, sendbuf: Any, recvbuf: Any, root: int = 0) -> None:
        """Gather blocks of different sizes to ``root``: recvbuf ``[buf, (counts, displs)]``
        there (ignored elsewhere); linear, the sum of T(m_i) at the root."""
        me = self._rank
        root = self._root(root, "Gatherv")
        out = None
        if self._local == root:
            flat, counts, displs = _bufv(recvbuf, me, "Gatherv", self._size)
            out = _blocks(flat, counts, displs)
            x = out[root].copy() if sendbuf is IN_PLACE else _flat(sendbuf, me, "Gatherv")
            if x.dtype != flat.dtype or x.size != counts[root]:
                raise ValueError(
                    f"rank {me}: Gatherv: the root's own block needs {counts[root]} x "
                    f"{flat.dtype}, got {x.size} x {x.dtype}"
                )
        else:
            x = _flat(sendbuf, me, "Gatherv")
        self._collective(
            "Gatherv",
            x.nbytes,
            lambda: C.gatherv_linear(self._cc, x, out, root),
            sig=f"Gatherv(root={root}, {x.dtype})",
        )

    def Scatterv(self, sendbuf: Any, recvbuf: Any, root: int = 0) -> None:
        """Scatter blocks of different sizes from ``root`` (sendbuf ``[buf, (counts,
        displs)]`` there); linear, the sum of T(m_i) at the root."""
        me = self._rank
        root = self._root(root, "Scatterv")
        out = _buffer(recvbuf, me, "Scatterv")
        blocks = None
        if self._local == root:
            flat, counts, displs = _bufv(sendbuf, me, "Scatterv", self._size)
            blocks = _blocks(flat, counts, displs)
            if flat.dtype != out.dtype:
                raise TypeError(
                    f"rank {me}: Scatterv: sendbuf is {flat.dtype} but recvbuf is {out.dtype}"
                )
        self._collective(
            "Scatterv",
            out.nbytes,
            lambda: C.scatterv_linear(self._cc, blocks, out, root),
            sig=f"Scatterv(root={root}, {out.dtype})",
        )

    def Allgatherv(self, sendbuf: Any, recvbuf: Any) -> None:
        """Allgather of blocks of different sizes: recvbuf ``[buf, (counts, displs)]``;
        ring, (p-1) T(m) for equal blocks of m bytes."""
        me = self._rank
        flat, counts, displs = _bufv(recvbuf, me, "Allgatherv", self._size)
        out = _blocks(flat, counts, displs)
        x = out[self._local].copy() if sendbuf is IN_PLACE else _flat(sendbuf, me, "Allgatherv")
        if x.dtype != flat.dtype or x.size != counts[self._local]:
            raise ValueError(
                f"rank {me}: Allgatherv: this rank's block needs {counts[self._local]} x "
                f"{flat.dtype} (counts[{self._local}]), got {x.size} x {x.dtype}"
            )
        self._collective(
            "Allgatherv",
            x.nbytes,
            lambda: C.allgatherv_ring(self._cc, x, out),
            sig=f"Allgatherv({flat.dtype})",
        )

    def Reduce_scatter_block(self, sendbuf: Any, recvbuf: Any, op=SUM) -> None:
        """Reduce p equal blocks over all ranks; rank r receives block r. Ring,
        (p-1)(T(c) + c gamma) for blocks of c bytes."""
        me, p = self._rank, self._size
        out = _buffer(recvbuf, me, "Reduce_scatter_block")
        x = _flat(out if sendbuf is IN_PLACE else sendbuf, me, "Reduce_scatter_block")
        _check_op(me, "Reduce_scatter_block", op, buffers=True)
        n = out.size if sendbuf is not IN_PLACE else x.size // p
        if x.size != n * p or x.dtype != out.dtype:
            raise ValueError(
                f"rank {me}: Reduce_scatter_block: sendbuf needs p * recvbuf.size = "
                f"{p} * {n} elements of {out.dtype}, got {x.size} of {x.dtype}"
            )
        self._reduce_scatter("Reduce_scatter_block", x, out, [n] * p, op)

    def Reduce_scatter(self, sendbuf: Any, recvbuf: Any, recvcounts=None, op=SUM) -> None:
        """Reduce blocks of ``recvcounts[i]`` elements; rank i receives block i (equal
        blocks if recvcounts is None). Ring, (p-1)(T(c) + c gamma)."""
        me, p = self._rank, self._size
        out = _buffer(recvbuf, me, "Reduce_scatter")
        x = _flat(out if sendbuf is IN_PLACE else sendbuf, me, "Reduce_scatter")
        _check_op(me, "Reduce_scatter", op, buffers=True)
        if recvcounts is None:
            if x.size % p:
                raise ValueError(
                    f"rank {me}: Reduce_scatter: {x.size} elements do not split into {p} "
                    "equal blocks; pass recvcounts"
                )
            recvcounts = [x.size // p] * p
        counts = [int(c) for c in recvcounts]
        if len(counts) != p or sum(counts) != x.size or min(counts) < 0:
            raise ValueError(
                f"rank {me}: Reduce_scatter: recvcounts must list {p} sizes >= 0 summing "
                f"to sendbuf's {x.size} elements, got {counts}"
            )
        if out.size < counts[self._local] or x.dtype != out.dtype:
            raise ValueError(
                f"rank {me}: Reduce_scatter: recvbuf needs {counts[self._local]} elements "
                f"of {x.dtype}, got {out.size} of {out.dtype}"
            )
        self._reduce_scatter("Reduce_scatter", x, out, counts, op)

    def _reduce_scatter(self, call, x, out, counts, op):
        acc = x.copy()
        off = np.concatenate([[0], np.cumsum(counts)]).astype(int)
        blocks = [acc[off[i] : off[i + 1]] for i in range(self._size)]

        def run():
            res = C.reduce_scatter_blocks_ring(self._cc, blocks, op)
            out.reshape(-1)[: res.size] = res

        self._collective(call, x.nbytes, run, sig=f"{call}(op={_op_name(op)}, {x.dtype})")

    def Scan(self, sendbuf: Any, recvbuf: Any, op=SUM) -> None:
        """Inclusive prefix reduction: rank r receives x_0 (op) ... (op) x_r. Recursive
        doubling, ceil(log2 p)(T(m) + m gamma)."""
        self._scan("Scan", sendbuf, recvbuf, op, False)

    def Exscan(self, sendbuf: Any, recvbuf: Any, op=SUM) -> None:
        """Exclusive prefix reduction: rank r > 0 receives x_0 (op) ... (op) x_{r-1};
        rank 0's recvbuf is left as it was (MPI leaves it undefined)."""
        self._scan("Exscan", sendbuf, recvbuf, op, True)

    def _scan(self, call, sendbuf, recvbuf, op, exclusive):
        me = self._rank
        out = _buffer(recvbuf, me, call)
        x = out.copy() if sendbuf is IN_PLACE else _buffer(sendbuf, me, call)
        _check_pair(me, call, x, out)
        _check_op(me, call, op, buffers=True)

        def run():
            res = C.scan_recursive_doubling(self._cc, x, op, exclusive)
            if res is not None:
                _assign(out, res, me, call)

        self._collective(
            call, x.nbytes, run, sig=f"{call}(op={_op_name(op)}, {x.size} x {x.dtype})"
        )

    def scan(self, sendobj: Any, op=SUM) -> Any:
        """Inclusive prefix reduction of Python objects (rank order, linear chain)."""
        return self._collective("scan", 0, lambda: _scan_obj(self._cc, sendobj, op, False))

    def exscan(self, sendobj: Any, op=SUM) -> Any:
        """Exclusive prefix reduction of Python objects; None on rank 0."""
        return self._collective("exscan", 0, lambda: _scan_obj(self._cc, sendobj, op, True))

    # ------------------------------------------------------ non-blocking collectives ----
    def _nonblocking(self, label, sig, part, out, finish, cost) -> Request:
        """Register this rank's part of a non-blocking collective (``part``, and ``out``,
        the buffer its result goes to); the last rank to call it runs
        ``finish(parts, outs)`` and completes every rank's request at the latest
        arrival time plus ``cost``."""
        eng, me = self._engine, self._rank
        self._enter(sig)
        key = (self._ctx, self._ncoll)
        eng.call[me] = sig
        eng.yield_(me)
        t = eng.clock[me]
        req = Request(eng, me, "coll", None, -1, self._ctx, f"{label} (non-blocking)", t)
        state = eng.nbc.setdefault(key, ([], {}, {}, {}))
        times, parts, outs, reqs = state
        times.append(t)
        parts[self._local], outs[self._local], reqs[self._local] = part, out, req
        if len(parts) == self._size:
            del eng.nbc[key]
            finish(parts, outs)
            t_end = max(times) + cost
            for r in reqs.values():
                r.done = True
                r.t_complete = t_end
                eng.notify(r)
        eng.record(me, t, t, "collective", None, 0, label)
        return req

    def _net(self):
        return _uniform(self._engine.network, list(self._members()), self._engine.n)

    def Iallreduce(self, sendbuf: Any, recvbuf: Any, op=SUM) -> Request:
        """Non-blocking Allreduce: returns a Request; complete it with Wait/Test."""
        me, p = self._rank, self._size
        out = _buffer(recvbuf, me, "Iallreduce")
        x = out if sendbuf is IN_PLACE else _buffer(sendbuf, me, "Iallreduce")
        if x.size != out.size:
            raise ValueError(
                f"rank {me}: Iallreduce sendbuf has {x.size} elements but recvbuf "
                f"{out.size}; they must match"
            )
        _check_pair(me, "Iallreduce", x, out)
        _check_op(me, "Iallreduce", op, buffers=True)
        uf = C.ufunc_of(op)

        def finish(parts, outs):
            acc = parts[0].copy()
            for r in range(1, p):
                uf(acc, parts[r], out=acc)
            for o in outs.values():
                o.reshape(-1)[...] = acc

        algo = self._allreduce
        cost = K.allreduce(algo, p, x.size, x.itemsize, self._net()) if p > 1 else 0.0
        part = np.ascontiguousarray(x).reshape(-1).copy()
        sig = f"Iallreduce(op={_op_name(op)}, {x.size} x {x.dtype})"
        return self._nonblocking(f"Iallreduce[{algo}]", sig, part, out, finish, cost)

    def Ibcast(self, buf: Any, root: int = 0) -> Request:
        """Non-blocking Bcast from ``root``: returns a Request."""
        arr = _buffer(buf, self._rank, "Ibcast")
        root = self._root(root, "Ibcast")

        def finish(parts, outs):
            for r, o in outs.items():
                if r != root:
                    o.reshape(-1).view(np.uint8)[...] = parts[root]

        cost = K.bcast_binomial(self._size, arr.size, arr.itemsize, self._net())
        part = None
        if self._local == root:
            part = np.ascontiguousarray(arr).reshape(-1).view(np.uint8).copy()
        sig = f"Ibcast(root={root}, {arr.size} x {arr.dtype})"
        return self._nonblocking("Ibcast", sig, part, arr, finish, cost)

    def Ibarrier(self) -> Request:
        """Non-blocking Barrier: the request completes once every rank has called it
        (plus the dissemination barrier's ceil(log2 p) alpha)."""
        cost = K.barrier_dissemination(self._size, self._net())
        return self._nonblocking("Ibarrier", "Ibarrier()", None, None, lambda a, b: None, cost)


def _flat(buf, me, call) -> np.ndarray:
    return np.ascontiguousarray(_buffer(buf, me, call)).reshape(-1)


def _scan_obj(comm, obj, op, exclusive):
    """Prefix reduction of objects along the chain 0 -> 1 -> ... -> p-1."""
    p, rank = comm.Get_size(), comm.Get_rank()
    before = comm.recv(source=rank - 1, tag=C.TAG_SCAN) if rank > 0 else None
    mine = obj if before is None else op(before, obj)
    if rank + 1 < p:
        comm.send(mine, dest=rank + 1, tag=C.TAG_SCAN)
    return before if exclusive else mine
