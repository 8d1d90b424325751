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

Every algorithm lives in :mod:`dlkit.cluster.collectives`, the object (pickle)
versions of the lower-case methods included; this module only checks arguments and
dispatches. Costs of the built-ins: ``Bcast``/``bcast`` binomial tree; ``Reduce``/``reduce``
binomial tree; ``Allreduce`` the algorithm chosen by ``SimCluster(allreduce=...)``
(default "ring"); ``allreduce`` (objects) reduce + broadcast trees; ``gather``/
``Gather`` and ``scatter``/``Scatter`` linear at the root; ``allgather`` gather +
broadcast, ``Allgather`` ring; ``Barrier`` dissemination.

Checks (each raises naming the rank, the call, what was expected and the fix):
ranks (``dest``, ``source``, ``root``) must be ints of this communicator, with
``MPI.PROC_NULL`` (a send, receive or probe that does nothing, as in MPI: a receive
leaves its buffer, its status reports source ``MPI.PROC_NULL``) and, for sources,
``MPI.ANY_SOURCE``; tags must be ints >= 0 (``MPI.ANY_TAG`` for receives); a buffer
receive must match the sender's dtype and have room for its elements. Every rank's
collective calls are numbered per communicator: ranks that enter different
collectives at the same number (``bcast`` against ``gather``, different roots or ops,
buffers of different dtype or size) stop the run with
:class:`~dlkit.cluster.CollectiveMismatchError` naming each rank and its call.
"""

from __future__ import annotations

import pickle
from typing import Any

import numpy as np

from . import collectives as C
from . import fastring as _fastring
from .constants import ANY_SOURCE, ANY_TAG, IN_PLACE, PROC_NULL, SUM, UNDEFINED
from .args import _assign, _buffer, _check_op, _check_pair, _op_name, _src, _tag
from .comm_more import CommMore
from .engine import Engine
from .requests import Request, Status

__all__ = ["SimComm", "Request"]


def _bad_rank(me: int, call: str, what: str, r: Any, size: int, extra: str) -> Exception:
    """The error for a rank argument that is not a rank of a size-`size` communicator."""
    fix = f"pass an int in range(comm.size){extra}"
    if isinstance(r, (bool, np.bool_)):
        return TypeError(f"rank {me}: {call}: {what}={r!r} is a bool, not a rank; {fix}")
    if not isinstance(r, (int, np.integer)):
        return TypeError(
            f"rank {me}: {call}: {what}={r!r} ({type(r).__name__}) is not an int rank; {fix}"
        )
    return ValueError(
        f"rank {me}: {call}: {what}={r!r} is not a rank of this communicator (0..{size - 1}); {fix}"
    )


def _check_tag(me: int, call: str, tag: Any, recv: bool) -> None:
    """A send tag is an int >= 0; a receive tag may also be MPI.ANY_TAG."""
    if type(tag) is int and (tag >= 0 or (recv and tag == ANY_TAG)):
        return
    extra = " or MPI.ANY_TAG" if recv else " (MPI.ANY_TAG is for receives only)"
    if isinstance(tag, (bool, np.bool_)) or not isinstance(tag, (int, np.integer)):
        raise TypeError(f"rank {me}: {call}: tag={tag!r} is not an int; pass an int >= 0{extra}")
    if not (tag >= 0 or (recv and tag == ANY_TAG)):
        raise ValueError(f"rank {me}: {call}: tag={tag} is negative; pass an int >= 0{extra}")


def _check_split(me: int, color: Any, key: Any) -> None:
    """Split's color is an int >= 0 (or MPI.UNDEFINED / None); its key an int."""
    if color is not None and color != UNDEFINED:
        if not isinstance(color, (int, np.integer)):
            raise TypeError(
                f"rank {me}: Split(color={color!r}): the color must be an int >= 0 or MPI.UNDEFINED"
            )
        if color < 0:
            raise ValueError(
                f"rank {me}: Split(color={color}): the color must be >= 0 (or "
                "MPI.UNDEFINED to get no communicator)"
            )
    if not isinstance(key, (int, np.integer)):
        raise TypeError(
            f"rank {me}: Split(key={key!r}): the key orders the new ranks and must be an int"
        )


def _spec(x: np.ndarray) -> str:
    return f"{x.size} x {x.dtype}"


class SimComm(CommMore):
    """The communicator a simulated rank receives as ``train(comm)``.

    The groups, synchronous sends, matched probes, vector, prefix and non-blocking
    collectives come from :class:`~dlkit.cluster.comm_more.CommMore`."""

    _dlkit_sim = True

    def __init__(
        self,
        engine: Engine,
        rank: int,
        ctx: int = 0,
        allreduce: str = "ring",
        group: tuple[int, ...] | None = None,
    ):
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
        self._size = engine.n if group is None else len(group)
        self._cc_comm = None
        self._nsplit = 0
        self._ncoll = 0  # collective calls made on this communicator (their sequence number)
        self._skip = 0  # > 0 inside Split, whose allgather is part of the Split call

    # ------------------------------------------------------------ basics ----
    def Get_rank(self) -> int:
        return self._local

    def Get_size(self) -> int:
        return self._size

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
            self._cc_comm = SimComm(
                self._engine, self._rank, self._ctx + 1, self._allreduce, self._group
            )
        return self._cc_comm

    def _to_world(self, r: int, what: str = "dest", call: str = "") -> int:
        """A rank of this communicator -> the engine's (world) rank (ANY_SOURCE kept)."""
        if r == ANY_SOURCE and not isinstance(r, (bool, np.bool_)):
            return r
        return self._peer(r, what, call or f"{what}={r!r}", "")

    def _peer(self, r: Any, what: str, call: str, extra: str) -> int:
        """Check that r is a rank of this communicator; return its world rank."""
        if type(r) is not int or not 0 <= r < self._size:
            if (
                isinstance(r, (bool, np.bool_))
                or not isinstance(r, (int, np.integer))
                or not 0 <= r < self._size
            ):
                raise _bad_rank(self._rank, call, what, r, self._size, extra)
            r = int(r)
        return r if self._group is None else self._group[r]

    def _dest(self, dest: Any, tag: Any, kind: str) -> int:
        """The world rank of a send's dest (or PROC_NULL), after checking dest and tag."""
        if type(dest) is int and 0 <= dest < self._size and type(tag) is int and tag >= 0:
            return dest if self._group is None else self._group[dest]
        call = f"{kind}(dest={dest!r}, tag={tag!r})"
        _check_tag(self._rank, call, tag, recv=False)
        if dest == PROC_NULL and not isinstance(dest, (bool, np.bool_)):
            return PROC_NULL
        return self._peer(dest, "dest", call, ", or MPI.PROC_NULL to send nothing")

    def _source(self, source: Any, tag: Any, call: str) -> int:
        """The world rank of a receive's source (ANY_SOURCE, PROC_NULL kept), checked."""
        if type(source) is int and 0 <= source < self._size and type(tag) is int and tag >= 0:
            return source if self._group is None else self._group[source]
        _check_tag(self._rank, call, tag, recv=True)
        if (source == ANY_SOURCE or source == PROC_NULL) and not isinstance(
            source, (bool, np.bool_)
        ):
            return source
        return self._peer(source, "source", call, ", MPI.ANY_SOURCE or MPI.PROC_NULL")

    def _root(self, root: Any, call: str) -> int:
        """Check a collective's root: an int rank of this communicator."""
        if type(root) is int and 0 <= root < self._size:
            return root
        if (
            isinstance(root, (bool, np.bool_))
            or not isinstance(root, (int, np.integer))
            or not 0 <= root < self._size
        ):
            raise _bad_rank(self._rank, call, "root", root, self._size, "")
        return int(root)

    def _null(self, desc: str, is_obj: bool) -> Request:
        """A send to or receive from MPI.PROC_NULL: complete at once, moving nothing."""
        eng = self._engine
        req = Request(
            eng, self._rank, "null", PROC_NULL, ANY_TAG, self._ctx, desc, eng.clock[self._rank]
        )
        req.done = True
        req.t_complete = req.t_post
        req.is_obj = is_obj
        req.status = (PROC_NULL, ANY_TAG, 0)
        return req

    def _name(self) -> str:
        """How collective-mismatch errors name this communicator."""
        if self._group is None:
            return "COMM_WORLD" if self._ctx == 0 else f"a communicator (context {self._ctx})"
        ranks = ", ".join(map(str, self._group[:16])) + (", ..." if self._size > 16 else "")
        return f"the communicator of world ranks [{ranks}]"

    def _req(self, req: Request) -> Request:
        req.rmap = self._rmap
        return req

    # ------------------------------------------------------ communicators ----
    def Split(self, color: int = 0, key: int = 0) -> "SimComm | None":
        """Collective: a new communicator of the ranks that passed the same ``color``,
        ordered by ``key`` (ties by rank). ``color=MPI.UNDEFINED`` gives None."""
        _check_split(self._rank, color, key)
        self._enter("Split()")
        self._skip += 1
        try:
            info = self.allgather((color, key))
        finally:
            self._skip -= 1
        self._nsplit += 1
        if color == UNDEFINED or color is None:
            return None
        members = sorted((k, i) for i, (c, k) in enumerate(info) if c == color)
        group = tuple(self._to_world(i) for _, i in members)
        ctx = self._engine.context((self._ctx, self._nsplit, color))
        return SimComm(self._engine, self._rank, ctx, self._allreduce, group)

    def Dup(self) -> "SimComm":
        """Collective: the same group of ranks on a new context (messages do not mix)."""
        return self.Split(0, self._local)

    Clone = Dup

    # ----------------------------------------------------- point to point ----
    def isend(self, obj: Any, dest: int, tag: int = 0) -> Request:
        desc = f"send(dest={dest}, tag={tag})"
        world = self._dest(dest, tag, "send")
        if world == PROC_NULL:
            return self._null(desc, True)
        try:
            data = pickle.dumps(obj, protocol=pickle.HIGHEST_PROTOCOL)
        except (pickle.PicklingError, AttributeError, TypeError) as exc:
            raise TypeError(
                f"rank {self._rank}: {desc}: the object cannot be pickled ({exc}); "
                "send plain data (numbers, arrays, lists, dicts, module-level "
                "functions)"
            ) from exc
        return self._engine.post_send(
            self._rank, world, tag, self._ctx, data, len(data), True, desc
        )

    def send(self, obj: Any, dest: int, tag: int = 0) -> None:
        req = self.isend(obj, dest, tag)
        self._engine.wait(self._rank, [req], "send")

    def irecv(self, buf: Any = None, source: int = ANY_SOURCE, tag: int = ANY_TAG) -> Request:
        desc = f"recv(source={_src(source)}, tag={_tag(tag)})"
        world = self._source(source, tag, desc)
        if world == PROC_NULL:
            return self._null(desc, True)
        return self._req(
            self._engine.post_recv(self._rank, world, tag, self._ctx, None, True, desc)
        )

    def recv(
        self,
        buf: Any = None,
        source: int = ANY_SOURCE,
        tag: int = ANY_TAG,
        status: Status | None = None,
    ) -> Any:
        req = self.irecv(buf, source, tag)
        self._engine.wait(self._rank, [req], "recv", status=status)
        return req.value

    def Isend(self, buf: Any, dest: int, tag: int = 0) -> Request:
        arr = _buffer(buf, self._rank, "Isend")
        world = self._dest(dest, tag, "Send")
        data, nbytes = Engine.pack(arr, "Isend")
        desc = f"Send(dest={dest}, tag={tag}, {nbytes} bytes)"
        if world == PROC_NULL:
            return self._null(desc, False)
        return self._engine.post_send(
            self._rank, world, tag, self._ctx, data, nbytes, False, desc, arr.dtype
        )

    def Send(self, buf: Any, dest: int, tag: int = 0) -> None:
        req = self.Isend(buf, dest, tag)
        if not req.done:
            req.desc += f" > eager_limit {self._engine.eager_limit}: waits for the matching receive"
        self._engine.wait(self._rank, [req], "send")

    def Irecv(self, buf: Any, source: int = ANY_SOURCE, tag: int = ANY_TAG) -> Request:
        desc = f"Recv(source={_src(source)}, tag={_tag(tag)})"
        arr = Engine.check_recv_buf(_buffer(buf, self._rank, "Irecv"), self._rank, desc)
        world = self._source(source, tag, desc)
        if world == PROC_NULL:
            return self._null(desc, False)
        return self._req(
            self._engine.post_recv(self._rank, world, tag, self._ctx, arr, False, desc)
        )

    def Recv(
        self, buf: Any, source: int = ANY_SOURCE, tag: int = ANY_TAG, status: Status | None = None
    ) -> None:
        req = self.Irecv(buf, source, tag)
        self._engine.wait(self._rank, [req], "recv", status=status)

    def Iprobe(
        self, source: int = ANY_SOURCE, tag: int = ANY_TAG, status: Status | None = None
    ) -> bool:
        """Is a message matching (source, tag) waiting? Fills ``status`` if so."""
        call = f"Iprobe(source={_src(source)}, tag={_tag(tag)})"
        world = self._probe_source(source, tag, call, status)
        if world == PROC_NULL:
            return True
        found = self._engine.iprobe(self._rank, world, tag, self._ctx, self._rmap)
        if found is None:
            self._engine.poll_failed(
                self._rank, float("inf"), f"polling Iprobe(source={_src(source)}, tag={_tag(tag)})"
            )
            return False
        if status is not None:
            status._fill(*found)
        return True

    iprobe = Iprobe

    def _probe_source(self, source: Any, tag: Any, call: str, status: Status | None) -> int:
        """The world rank to probe; a probe of MPI.PROC_NULL returns at once with status
        source MPI.PROC_NULL, tag MPI.ANY_TAG and count 0, as in MPI."""
        world = self._source(source, tag, call)
        if world == PROC_NULL and status is not None:
            status._fill(PROC_NULL, ANY_TAG, 0)
        return world

    def Probe(
        self, source: int = ANY_SOURCE, tag: int = ANY_TAG, status: Status | None = None
    ) -> bool:
        """Wait until a message matching (source, tag) has been sent; fill ``status``.

        In virtual time the probe returns when the message is sent (it need not have
        arrived), to within the simulator's polling step ``Engine.POLL``.
        """
        call = f"Probe(source={_src(source)}, tag={_tag(tag)})"
        world = self._probe_source(source, tag, call, status)
        if world == PROC_NULL:
            return True
        found = self._engine.probe(self._rank, world, tag, self._ctx, self._rmap, call)
        if status is not None:
            status._fill(*found)
        return True

    probe = Probe

    def sendrecv(
        self,
        sendobj: Any,
        dest: int,
        sendtag: int = 0,
        recvbuf: Any = None,
        source: int = ANY_SOURCE,
        recvtag: int = ANY_TAG,
        status: Status | None = None,
    ) -> Any:
        sreq = self.isend(sendobj, dest, sendtag)
        rreq = self.irecv(None, source, recvtag)
        self._engine.wait(self._rank, [rreq, sreq], "recv", status=status)
        return rreq.value

    def Sendrecv(
        self,
        sendbuf: Any,
        dest: int,
        sendtag: int = 0,
        recvbuf: Any = None,
        source: int = ANY_SOURCE,
        recvtag: int = ANY_TAG,
        status: Status | None = None,
    ) -> None:
        sreq = self.Isend(sendbuf, dest, sendtag)
        rreq = self.Irecv(recvbuf, source, recvtag)
        self._engine.wait(self._rank, [rreq, sreq], "recv", status=status)

    # --------------------------------------------------------- collectives ----
    def _enter(self, sig: str) -> None:
        """Number this collective call and check it against the other ranks' calls."""
        if self._skip:
            return
        self._ncoll += 1
        self._engine.enter_collective(
            self._rank, self._ctx, self._ncoll, self._local, self._size, sig, self
        )

    def _collective(
        self, label: str, nbytes: int, fn, kind: str = "collective", sig: str | None = None
    ):
        eng, me = self._engine, self._rank
        self._enter(sig or label + "()")
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
        root = self._root(root, "Bcast")
        self._collective(
            "Bcast",
            arr.nbytes,
            lambda: C.bcast_binomial(self._cc, arr, root),
            sig=f"Bcast(root={root}, {_spec(arr)})",
        )

    def bcast(self, obj: Any = None, root: int = 0) -> Any:
        root = self._root(root, "bcast")
        return self._collective(
            "bcast", 0, lambda: C.bcast_obj_binomial(self._cc, obj, root), sig=f"bcast(root={root})"
        )

    def Reduce(self, sendbuf: Any, recvbuf: Any, op=SUM, root: int = 0) -> None:
        me = self._rank
        root = self._root(root, "Reduce")
        if sendbuf is IN_PLACE:
            sendbuf = recvbuf
        x = _buffer(sendbuf, me, "Reduce")
        _check_op(me, "Reduce", op, buffers=True)
        if self._local == root:
            _check_pair(me, "Reduce", x, _buffer(recvbuf, me, "Reduce"))

        def run():
            out = C.reduce_binomial(self._cc, x, op, root)
            if out is not None:
                _assign(_buffer(recvbuf, me, "Reduce"), out, me, "Reduce")

        self._collective(
            "Reduce", x.nbytes, run, sig=f"Reduce(op={_op_name(op)}, root={root}, {_spec(x)})"
        )

    def reduce(self, sendobj: Any, op=SUM, root: int = 0) -> Any:
        root = self._root(root, "reduce")
        _check_op(self._rank, "reduce", op, buffers=False)
        return self._collective(
            "reduce",
            0,
            lambda: C.reduce_obj_binomial(self._cc, sendobj, op, root),
            sig=f"reduce(op={_op_name(op)}, root={root})",
        )

    def Allreduce(self, sendbuf: Any, recvbuf: Any, op=SUM) -> None:
        me = self._rank
        out = _buffer(recvbuf, me, "Allreduce")
        x = out if sendbuf is IN_PLACE else _buffer(sendbuf, me, "Allreduce")
        if x.size != out.size:
            raise ValueError(
                f"rank {me}: Allreduce sendbuf has {x.size} elements but recvbuf "
                f"{out.size}; they must match"
            )
        _check_pair(me, "Allreduce", x, out)
        _check_op(me, "Allreduce", op, buffers=True)
        algo = self._allreduce

        def run():
            res = _fastring.FALLBACK
            if algo == "ring" and _fastring.eligible(self._engine, self):
                res = _fastring.allreduce_ring(self._engine, self, x, C.ufunc_of(op))
            if res is _fastring.FALLBACK:
                res = C.allreduce(self._cc, x, op, algo)
            _assign(out, res.reshape(np.shape(x)), me, "Allreduce")

        self._collective(
            f"Allreduce[{algo}]", x.nbytes, run, sig=f"Allreduce(op={_op_name(op)}, {_spec(x)})"
        )

    def allreduce(self, sendobj: Any, op=SUM) -> Any:
        _check_op(self._rank, "allreduce", op, buffers=False)
        return self._collective(
            "allreduce",
            0,
            lambda: C.allreduce_obj(self._cc, sendobj, op),
            sig=f"allreduce(op={_op_name(op)})",
        )

    def Gather(self, sendbuf: Any, recvbuf: Any, root: int = 0) -> None:
        me = self._rank
        root = self._root(root, "Gather")
        x = _buffer(sendbuf, me, "Gather")
        if self._local == root:
            _check_pair(me, "Gather", x, _buffer(recvbuf, me, "Gather"))

        def run():
            out = C.gather_linear(self._cc, x, root)
            if out is not None:
                _assign(_buffer(recvbuf, me, "Gather"), out, me, "Gather")

        self._collective("Gather", x.nbytes, run, sig=f"Gather(root={root}, {_spec(x)})")

    def gather(self, sendobj: Any, root: int = 0) -> list | None:
        root = self._root(root, "gather")
        return self._collective(
            "gather",
            0,
            lambda: C.gather_obj_linear(self._cc, sendobj, root),
            sig=f"gather(root={root})",
        )

    def Allgather(self, sendbuf: Any, recvbuf: Any) -> None:
        me = self._rank
        x = _buffer(sendbuf, me, "Allgather")
        out = _buffer(recvbuf, me, "Allgather")
        if out.size != x.size * self.size:
            raise ValueError(
                f"rank {me}: Allgather recvbuf has {out.size} elements; it needs "
                f"size * {x.size} = {x.size * self.size}"
            )
        _check_pair(me, "Allgather", x, out)

        def run():
            _assign(out, C.allgather_ring(self._cc, x), me, "Allgather")

        self._collective("Allgather", x.nbytes, run, sig=f"Allgather({_spec(x)})")

    def allgather(self, sendobj: Any) -> list:
        return self._collective("allgather", 0, lambda: C.allgather_obj(self._cc, sendobj))

    def Scatter(self, sendbuf: Any, recvbuf: Any, root: int = 0) -> None:
        me = self._local
        root = self._root(root, "Scatter")
        out = _buffer(recvbuf, me, "Scatter")
        xs = _buffer(sendbuf, me, "Scatter") if me == root else None
        if xs is not None:
            _check_pair(self._rank, "Scatter", xs, out)
            if xs.size != out.size * self._size:
                raise ValueError(
                    f"rank {self._rank}: Scatter sendbuf has {xs.size} elements; "
                    f"the root needs size * recvbuf.size = "
                    f"{self._size} * {out.size} = {out.size * self._size}"
                )
        self._collective(
            "Scatter",
            out.nbytes,
            lambda: C.scatter_linear(self._cc, xs, out, root),
            sig=f"Scatter(root={root}, {_spec(out)})",
        )

    def scatter(self, sendobj: Any = None, root: int = 0) -> Any:
        root = self._root(root, "scatter")
        return self._collective(
            "scatter",
            0,
            lambda: C.scatter_obj_linear(self._cc, sendobj, root),
            sig=f"scatter(root={root})",
        )

    def alltoall(self, sendobj: list) -> list:
        return self._collective("alltoall", 0, lambda: C.alltoall_obj(self._cc, sendobj))
