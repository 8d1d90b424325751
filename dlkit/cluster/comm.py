"""``SimComm``: a simulated rank's communicator, with mpi4py's names and semantics.

Lower-case methods move pickled Python objects (``send``, ``recv``, ``bcast``...);
capitalised ones move numpy buffers (``Send``, ``Recv``, ``Bcast``, ``Allreduce``...).
A buffer may be given as an array or as ``[array, MPI.DOUBLE]``. Blocking follows
MPI: ``recv`` waits for its message; ``send`` of at most ``eager_limit`` bytes returns
at once, a larger one waits until the receiver has posted the matching receive.

Built-in collectives run the algorithms of :mod:`dlkit.cluster.collectives` on a
private context (their messages never match user messages). Inside them the
point-to-point events are not traced one by one: each call records one
'collective' (or 'barrier') event per rank; the messages still appear in
``RunResult.messages``.

Costs of the built-ins: ``Bcast``/``bcast`` binomial tree; ``Reduce``/``reduce``
binomial tree; ``Allreduce`` the algorithm chosen by ``SimCluster(allreduce=...)``
(default "ring"); ``allreduce`` (objects) reduce + broadcast trees; ``gather``/
``Gather`` and ``scatter``/``Scatter`` linear at the root; ``allgather`` gather +
broadcast, ``Allgather`` ring; ``Barrier`` dissemination.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from . import collectives as C
from .engine import Engine, Request
from .hooks import charge_reduce
from .mpi import ANY_SOURCE, ANY_TAG, IN_PLACE, SUM, UNDEFINED, Status

__all__ = ["SimComm", "Request"]


def _buffer(spec: Any, me: int, what: str) -> np.ndarray:
    """Accept ``arr`` or ``[arr, MPI.DOUBLE]`` / ``(arr, count, MPI.DOUBLE)``."""
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ValueError(f"rank {me}: empty buffer spec for {what}")
        spec = spec[0]
    if not isinstance(spec, np.ndarray):
        raise TypeError(f"rank {me}: {what} needs a numpy array buffer, got "
                        f"{type(spec).__name__}; use the lower-case method for Python objects")
    return spec


class SimComm:
    """The communicator a simulated rank receives as ``train(comm)``."""

    _dlkit_sim = True

    def __init__(self, engine: Engine, rank: int, ctx: int = 0, allreduce: str = "ring",
                 group: tuple[int, ...] | None = None):
        self._engine = engine
        self._rank = rank  # this rank's index in the engine (its rank in the world)
        self._ctx = ctx
        self._allreduce = allreduce
        self._group = group  # world ranks of this communicator's members, or None = all
        if group is None:
            self._local = rank
            self._rmap = None
        else:
            self._local = group.index(rank)
            self._rmap = {w: i for i, w in enumerate(group)}
        self._cc_comm = None
        self._nsplit = 0

    # ------------------------------------------------------------ basics ----
    def Get_rank(self) -> int:
        return self._local

    def Get_size(self) -> int:
        return self._engine.n if self._group is None else len(self._group)

    @property
    def rank(self) -> int:
        return self._local

    @property
    def size(self) -> int:
        return self.Get_size()

    def Wtime(self) -> float:
        """This rank's virtual clock in seconds."""
        return self._engine.clock[self._rank]

    def Free(self) -> None:
        pass

    def Abort(self, errorcode: int = 1) -> None:
        raise SystemExit(f"rank {self._rank} called Abort({errorcode})")

    def __repr__(self) -> str:
        return f"<SimComm rank {self._local} of {self.size}>"

    @property
    def _cc(self) -> "SimComm":
        """The same rank on the private context used by built-in collectives."""
        if self._cc_comm is None:
            self._cc_comm = SimComm(self._engine, self._rank, self._ctx + 1, self._allreduce,
                                    self._group)
        return self._cc_comm

    def _to_world(self, r: int, what: str = "dest") -> int:
        """A rank of this communicator -> the engine's (world) rank."""
        if self._group is None or r == ANY_SOURCE:
            return r
        if not isinstance(r, (int, np.integer)) or not 0 <= r < len(self._group):
            raise ValueError(f"rank {self._local}: {what}={r!r} is not a rank of this "
                             f"communicator (0..{len(self._group) - 1})")
        return self._group[r]

    def _req(self, req: Request) -> Request:
        req.rmap = self._rmap
        return req

    # ------------------------------------------------------ communicators ----
    def Split(self, color: int = 0, key: int = 0) -> "SimComm | None":
        """Collective: a new communicator of the ranks that passed the same ``color``,
        ordered by ``key`` (ties by rank). ``color=MPI.UNDEFINED`` gives None."""
        info = self.allgather((color, key))
        self._nsplit += 1
        if color == UNDEFINED or color is None:
            return None
        members = sorted((k, i) for i, (c, k) in enumerate(info) if c == color)
        group = tuple(self._to_world(i) for _, i in members)
        eng = self._engine
        contexts = eng.__dict__.setdefault("contexts", {})
        ident = (self._ctx, self._nsplit, color)
        if ident not in contexts:
            contexts[ident] = 2 * (len(contexts) + 1)
        return SimComm(eng, self._rank, contexts[ident], self._allreduce, group)

    def Dup(self) -> "SimComm":
        """Collective: the same group of ranks on a new context (messages do not mix)."""
        return self.Split(0, self._local)

    Clone = Dup

    # ----------------------------------------------------- point to point ----
    def isend(self, obj: Any, dest: int, tag: int = 0) -> Request:
        data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        return self._engine.post_send(self._rank, self._to_world(dest), tag, self._ctx, data,
                                      len(data), True, f"send(dest={dest}, tag={tag})")

    def send(self, obj: Any, dest: int, tag: int = 0) -> None:
        req = self.isend(obj, dest, tag)
        self._engine.wait(self._rank, [req], "send")

    def irecv(self, buf: Any = None, source: int = ANY_SOURCE, tag: int = ANY_TAG) -> Request:
        return self._req(self._engine.post_recv(
            self._rank, self._to_world(source, "source"), tag, self._ctx, None, True,
            f"recv(source={_src(source)}, tag={_tag(tag)})"))

    def recv(self, buf: Any = None, source: int = ANY_SOURCE, tag: int = ANY_TAG,
             status: Status | None = None) -> Any:
        req = self.irecv(buf, source, tag)
        self._engine.wait(self._rank, [req], "recv", status=status)
        return req.value

    def Isend(self, buf: Any, dest: int, tag: int = 0) -> Request:
        arr = _buffer(buf, self._rank, "Isend")
        data, nbytes = Engine.pack(arr, "Isend")
        return self._engine.post_send(self._rank, self._to_world(dest), tag, self._ctx, data,
                                      nbytes, False, f"Send(dest={dest}, tag={tag}, {nbytes} bytes)")

    def Send(self, buf: Any, dest: int, tag: int = 0) -> None:
        req = self.Isend(buf, dest, tag)
        if not req.done:
            req.desc += (f" > eager_limit {self._engine.eager_limit}: waits for the "
                         "matching receive")
        self._engine.wait(self._rank, [req], "send")

    def Irecv(self, buf: Any, source: int = ANY_SOURCE, tag: int = ANY_TAG) -> Request:
        arr = Engine.check_recv_buf(_buffer(buf, self._rank, "Irecv"), self._rank)
        return self._req(self._engine.post_recv(
            self._rank, self._to_world(source, "source"), tag, self._ctx, arr, False,
            f"Recv(source={_src(source)}, tag={_tag(tag)})"))

    def Recv(self, buf: Any, source: int = ANY_SOURCE, tag: int = ANY_TAG,
             status: Status | None = None) -> None:
        req = self.Irecv(buf, source, tag)
        self._engine.wait(self._rank, [req], "recv", status=status)

    def Iprobe(self, source: int = ANY_SOURCE, tag: int = ANY_TAG,
               status: Status | None = None) -> bool:
        """Is a message matching (source, tag) waiting? Fills ``status`` if so."""
        found = self._engine.iprobe(self._rank, self._to_world(source, "source"), tag,
                                    self._ctx, self._rmap)
        if found is None:
            self._engine._poll_failed(self._rank, float("inf"),
                                      f"polling Iprobe(source={_src(source)}, tag={_tag(tag)})")
            return False
        if status is not None:
            status._fill(*found)
        return True

    iprobe = Iprobe

    def Probe(self, source: int = ANY_SOURCE, tag: int = ANY_TAG,
              status: Status | None = None) -> bool:
        """Wait until a message matching (source, tag) has been sent; fill ``status``.

        In virtual time the probe returns when the message is sent (it need not have
        arrived), to within the simulator's polling step ``Engine.POLL``.
        """
        found = self._engine.probe(self._rank, self._to_world(source, "source"), tag,
                                   self._ctx, self._rmap,
                                   f"Probe(source={_src(source)}, tag={_tag(tag)})")
        if status is not None:
            status._fill(*found)
        return True

    probe = Probe

    def sendrecv(self, sendobj: Any, dest: int, sendtag: int = 0, recvbuf: Any = None,
                 source: int = ANY_SOURCE, recvtag: int = ANY_TAG,
                 status: Status | None = None) -> Any:
        sreq = self.isend(sendobj, dest, sendtag)
        rreq = self.irecv(None, source, recvtag)
        self._engine.wait(self._rank, [rreq, sreq], "recv", status=status)
        return rreq.value

    def Sendrecv(self, sendbuf: Any, dest: int, sendtag: int = 0, recvbuf: Any = None,
                 source: int = ANY_SOURCE, recvtag: int = ANY_TAG,
                 status: Status | None = None) -> None:
        sreq = self.Isend(sendbuf, dest, sendtag)
        rreq = self.Irecv(recvbuf, source, recvtag)
        self._engine.wait(self._rank, [rreq, sreq], "recv", status=status)

    # --------------------------------------------------------- collectives ----
    def _collective(self, label: str, nbytes: int, fn, kind: str = "collective"):
        eng, me = self._engine, self._rank
        t0 = eng.clock[me]
        outer = eng.quiet[me]
        if outer is None:
            eng.quiet[me] = label
        try:
            result = fn()
        finally:
            eng.quiet[me] = outer
        if outer is None:
            eng.record(me, t0, eng.clock[me], kind, None, nbytes, label)
        return result

    def Barrier(self) -> None:
        self._collective("Barrier", 0, lambda: C.barrier_dissemination(self._cc), "barrier")

    barrier = Barrier

    def Bcast(self, buf: Any, root: int = 0) -> None:
        arr = _buffer(buf, self._rank, "Bcast")
        self._collective("Bcast", arr.nbytes, lambda: C.bcast_binomial(self._cc, arr, root))

    def bcast(self, obj: Any = None, root: int = 0) -> Any:
        return self._collective("bcast", 0, lambda: _bcast_obj(self._cc, obj, root))

    def Reduce(self, sendbuf: Any, recvbuf: Any, op=SUM, root: int = 0) -> None:
        me = self._rank
        if sendbuf is IN_PLACE:
            sendbuf = recvbuf
        x = _buffer(sendbuf, me, "Reduce")

        def run():
            out = C.reduce_binomial(self._cc, x, op, root)
            if out is not None:
                _assign(_buffer(recvbuf, me, "Reduce"), out)

        self._collective("Reduce", x.nbytes, run)

    def reduce(self, sendobj: Any, op=SUM, root: int = 0) -> Any:
        return self._collective("reduce", 0, lambda: _reduce_obj(self._cc, sendobj, op, root))

    def Allreduce(self, sendbuf: Any, recvbuf: Any, op=SUM) -> None:
        me = self._rank
        out = _buffer(recvbuf, me, "Allreduce")
        x = out if sendbuf is IN_PLACE else _buffer(sendbuf, me, "Allreduce")
        if x.size != out.size:
            raise ValueError(f"rank {me}: Allreduce sendbuf has {x.size} elements but recvbuf "
                             f"{out.size}; they must match")
        algo = self._allreduce

        def run():
            res = C.allreduce(self._cc, x, op, algo)
            _assign(out, res)

        self._collective(f"Allreduce[{algo}]", x.nbytes, run)

    def allreduce(self, sendobj: Any, op=SUM) -> Any:
        def run():
            res = _reduce_obj(self._cc, sendobj, op, 0)
            return _bcast_obj(self._cc, res, 0)

        return self._collective("allreduce", 0, run)

    def Gather(self, sendbuf: Any, recvbuf: Any, root: int = 0) -> None:
        me = self._rank
        x = _buffer(sendbuf, me, "Gather")

        def run():
            out = C.gather_linear(self._cc, x, root)
            if out is not None:
                _assign(_buffer(recvbuf, me, "Gather"), out)

        self._collective("Gather", x.nbytes, run)

    def gather(self, sendobj: Any, root: int = 0) -> list | None:
        return self._collective("gather", 0, lambda: _gather_obj(self._cc, sendobj, root))

    def Allgather(self, sendbuf: Any, recvbuf: Any) -> None:
        me = self._rank
        x = _buffer(sendbuf, me, "Allgather")
        out = _buffer(recvbuf, me, "Allgather")
        if out.size != x.size * self.size:
            raise ValueError(f"rank {me}: Allgather recvbuf has {out.size} elements; it needs "
                             f"size * {x.size} = {x.size * self.size}")

        def run():
            _assign(out, C.allgather_ring(self._cc, x))

        self._collective("Allgather", x.nbytes, run)

    def allgather(self, sendobj: Any) -> list:
        def run():
            return _bcast_obj(self._cc, _gather_obj(self._cc, sendobj, 0), 0)

        return self._collective("allgather", 0, run)

    def Scatter(self, sendbuf: Any, recvbuf: Any, root: int = 0) -> None:
        me = self._local
        out = _buffer(recvbuf, me, "Scatter")
        xs = _buffer(sendbuf, me, "Scatter") if me == root else None
        self._collective("Scatter", out.nbytes,
                         lambda: C.scatter_linear(self._cc, xs, out, root))

    def scatter(self, sendobj: Any = None, root: int = 0) -> Any:
        return self._collective("scatter", 0, lambda: _scatter_obj(self._cc, sendobj, root))

    def alltoall(self, sendobj: list) -> list:
        def run():
            p, me = self.size, self._local
            if len(sendobj) != p:
                raise ValueError(f"rank {me}: alltoall needs a list of {p} items")
            reqs = [self._cc.isend(sendobj[d], d, C.TAG_SCATTER) for d in range(p) if d != me]
            out = [self._cc.recv(source=s, tag=C.TAG_SCATTER) if s != me else sendobj[me]
                   for s in range(p)]
            Request.Waitall(reqs)
            return out

        return self._collective("alltoall", 0, run)


def _assign(dst: np.ndarray, src: np.ndarray) -> None:
    """Copy src into the buffer dst element by element (shapes may differ, sizes not)."""
    if dst.size != src.size:
        raise ValueError(f"receive buffer has {dst.size} elements but the result has "
                         f"{src.size}; allocate it with the right size")
    dst[...] = np.reshape(src, dst.shape)


def _src(source: int) -> str:
    return "ANY_SOURCE" if source == ANY_SOURCE else str(source)


def _tag(tag: int) -> str:
    return "ANY_TAG" if tag == ANY_TAG else str(tag)


# Object (pickle) versions of the trees, used by the lower-case collectives.
def _bcast_obj(comm: SimComm, obj: Any, root: int) -> Any:
    p, v = comm.size, (comm.rank - root) % comm.size
    mask = 1
    while mask < p:
        if v & mask:
            obj = comm.recv(source=(v - mask + root) % p, tag=C.TAG_BCAST)
            break
        mask <<= 1
    mask >>= 1
    while mask > 0:
        if v + mask < p:
            comm.send(obj, dest=(v + mask + root) % p, tag=C.TAG_BCAST)
        mask >>= 1
    return obj


def _reduce_obj(comm: SimComm, obj: Any, op, root: int) -> Any:
    p, v = comm.size, (comm.rank - root) % comm.size
    acc = obj
    mask = 1
    while mask < p:
        if v & mask == 0:
            if v | mask < p:
                st = Status()
                other = comm.recv(source=((v | mask) + root) % p, tag=C.TAG_REDUCE, status=st)
                acc = op(acc, other)
                charge_reduce(comm, st.count)
        else:
            comm.send(acc, dest=((v & ~mask) + root) % p, tag=C.TAG_REDUCE)
            return None
        mask <<= 1
    return acc


def _gather_obj(comm: SimComm, obj: Any, root: int) -> list | None:
    if comm.rank != root:
        comm.send(obj, dest=root, tag=C.TAG_GATHER)
        return None
    return [obj if s == root else comm.recv(source=s, tag=C.TAG_GATHER)
            for s in range(comm.size)]


def _scatter_obj(comm: SimComm, objs: Any, root: int) -> Any:
    if comm.rank == root:
        objs = list(objs)
        if len(objs) != comm.size:
            raise ValueError(f"rank {root}: scatter needs a sequence of {comm.size} items, got "
                             f"{len(objs)}")
        for d in range(comm.size):
            if d != root:
                comm.send(objs[d], dest=d, tag=C.TAG_SCATTER)
        return objs[root]
    return comm.recv(source=root, tag=C.TAG_SCATTER)
