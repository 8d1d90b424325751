r"""Collective algorithms written from point-to-point messages.

Every function here takes a communicator and numpy arrays and uses only
``Get_rank``, ``Get_size``, ``Send``, ``Recv``, ``Isend`` and ``Request.Wait``, so the
same code runs on the simulated cluster and on a real ``mpi4py`` communicator
(``mpiexec -n 4 python -m mpi4py script.py``). On the simulator the reduction
arithmetic is charged ``gamma`` seconds per byte (:func:`~dlkit.cluster.hooks.charge_reduce`);
on real MPI that hook does nothing.

Notation (the book's, as in :mod:`dlkit.cluster.costs`): :math:`p` ranks, rank
:math:`r`; a message of :math:`m` bytes (a vector of ``N`` elements);
:math:`T(m) = \alpha + m\beta`; :math:`p' = 2^{\lfloor\log_2 p\rfloor}`, the largest power
of two not above :math:`p`, and :math:`p - p'` surplus ranks (``r_extra`` in the code).

Allreduce algorithms (``ALLREDUCE[name]``):

* ``"ps"`` - parameter server: every rank sends to a root, which reduces and sends
  the sum back to everyone; the root's ports carry :math:`2(p-1)` messages.
* ``"tree"`` - binomial-tree reduce to rank 0, then binomial-tree broadcast.
* ``"recursive_doubling"`` - :math:`\log_2 p` exchanges of the whole vector with the
  partner ``rank ^ mask`` (:math:`r \oplus 2^k` at step :math:`k`).
* ``"ring"`` - reduce-scatter then allgather around the ring, :math:`2(p-1)` steps
  of one chunk of about :math:`m/p` bytes (Patarasuk & Yuan 2009). Chunks are
  ``np.array_split`` pieces: the first ``N mod p`` chunks have :math:`\lceil N/p\rceil`
  elements. Every message goes to the right neighbour.
* ``"rabenseifner"`` - recursive-halving reduce-scatter then recursive-doubling
  allgather (Rabenseifner 2004; Thakur et al. 2005): :math:`2\log_2 p` steps whose
  messages halve from :math:`m/2` to :math:`m/p` and grow back. The vector is
  zero-padded to :math:`\lceil N/p'\rceil p'` elements so that every halving is exact;
  the padding is dropped from the result.

Non-powers of two (recursive doubling and Rabenseifner, Thakur et al. 2005): the
first :math:`2(p - p')` ranks pair up; each even one sends its vector to the odd one above
it, which reduces, and then sits out; the remaining :math:`p'` ranks run the
power-of-two algorithm; at the end each odd rank sends the result to its even
neighbour.

The ring's two halves are functions of their own, :func:`ring_reduce_scatter` and
:func:`ring_allgather`: the ring allreduce, :func:`reduce_scatter_ring` (the hybrid
scheme's fc-layer gradients) and :func:`allgather_ring` are made of them. The binomial
tree of the broadcast and the reduce is :func:`binomial_tree`.

This module is the one home of the algorithms behind the simulated communicator's
built-in collectives, the lower-case ones on pickled objects included
(``bcast_obj_binomial``, ``reduce_obj_binomial``, ``gather_obj_linear``...; these use
``send``/``recv`` and run on a real mpi4py communicator too).
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .constants import SUM, Op
from .hooks import charge_reduce, is_simulated
from .requests import Status

# Tags reserved for these algorithms (below MPI's guaranteed TAG_UB of 32767).
TAG_BCAST = 32001
TAG_REDUCE = 32002
TAG_PS = 32003
TAG_RD = 32004
TAG_RING = 32005
TAG_RAB = 32006
TAG_ALLGATHER = 32007
TAG_BARRIER = 32008
TAG_GATHER = 32009
TAG_SCATTER = 32010
TAG_REDUCE_SCATTER = 32011


def ufunc_of(op: Any) -> np.ufunc:
    """The numpy ufunc of a reduction op (dlkit's ``MPI.SUM`` or mpi4py's ``MPI.SUM``)."""
    if isinstance(op, Op):
        if op.ufunc is None:
            raise TypeError(
                f"{op!r} is a one-sided operation (Accumulate, Get_accumulate, "
                "Fetch_and_op); a reduction needs MPI.SUM, MPI.MAX, ..."
            )
        return op.ufunc
    if isinstance(op, np.ufunc):
        return op
    try:  # an mpi4py Op
        from mpi4py import MPI as _M

        from .constants import MAXLOC, MINLOC

        table = [
            (_M.SUM, np.add),
            (_M.PROD, np.multiply),
            (_M.MAX, np.maximum),
            (_M.MIN, np.minimum),
            (_M.MAXLOC, MAXLOC.ufunc),
            (_M.MINLOC, MINLOC.ufunc),
        ]
        for mop, uf in table:
            if op == mop:
                return uf
    except ImportError:
        pass
    raise TypeError(
        f"unsupported reduction op {op!r}: use MPI.SUM, MPI.PROD, MPI.MAX, MPI.MIN, "
        "MPI.MAXLOC, MPI.MINLOC or a numpy ufunc"
    )


def _combine(comm, ufunc: np.ufunc, acc: np.ndarray, incoming: np.ndarray) -> None:
    """acc <- acc (op) incoming, charging gamma per byte on the simulator."""
    ufunc(acc, incoming, out=acc)
    charge_reduce(comm, incoming.nbytes)


def _flat_copy(x: Any) -> np.ndarray:
    return np.ascontiguousarray(x).reshape(-1).copy()


def _fold(p: int) -> tuple[int, int]:
    """(p', r): the largest power of two p' <= p and the surplus r = p - p'."""
    pp = 1 << (p.bit_length() - 1)
    return pp, p - pp


# ------------------------------------------------------------- binomial trees --
def binomial_tree(v: int, p: int) -> tuple[int | None, list[int]]:
    """Parent and children of relative rank ``v`` in the binomial tree on p ranks.

    Rank 0 is the root; rank v's parent is v minus its lowest set bit, and its
    children are v + 2^k for every 2^k below that bit (and below p - v), listed
    nearest first. A broadcast goes down the tree (the farthest child first), a
    reduce comes up it (the nearest child first).
    """
    children = []
    mask = 1
    while mask < p:
        if v & mask:
            return v - mask, children
        if v + mask < p:
            children.append(v + mask)
        mask <<= 1
    return None, children


# ------------------------------------------------------------------- broadcast --
def bcast_binomial(comm, buf: np.ndarray, root: int = 0) -> np.ndarray:
    """Binomial-tree broadcast of ``buf`` (in place) from ``root``; returns ``buf``.

    With relative rank v = (rank - root) mod p, rank v receives from v minus its
    lowest set bit, then sends to v + 2^k for each smaller power of two, the largest
    first (:func:`binomial_tree`). The root sends ceil(log2 p) messages in a row;
    time ceil(log2 p) T(m) for m bytes.
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    parent, children = binomial_tree((rank - root) % p, p)
    if parent is not None:
        comm.Recv(buf, source=(parent + root) % p, tag=TAG_BCAST)
    for child in reversed(children):
        comm.Send(buf, dest=(child + root) % p, tag=TAG_BCAST)
    return buf


# --------------------------------------------------------------------- reduce --
def reduce_binomial(comm, x: np.ndarray, op: Any = SUM, root: int = 0) -> np.ndarray | None:
    """Binomial-tree reduce of ``x`` to ``root``: the result there, None elsewhere.

    At step k, relative ranks with bit k set send their partial result to the rank
    2^k below and drop out; the others receive and combine (:func:`binomial_tree`).
    Time ceil(log2 p) (T(m) + m gamma) for m bytes.
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    uf = ufunc_of(op)
    acc = _flat_copy(x)
    tmp = np.empty_like(acc)
    parent, children = binomial_tree((rank - root) % p, p)
    for child in children:
        comm.Recv(tmp, source=(child + root) % p, tag=TAG_REDUCE)
        _combine(comm, uf, acc, tmp)
    if parent is not None:
        comm.Send(acc, dest=(parent + root) % p, tag=TAG_REDUCE)
        return None
    return acc.reshape(np.shape(x))


# ------------------------------------------------------------------ allreduce --
def allreduce_ps(comm, x: np.ndarray, op: Any = SUM, root: int = 0) -> np.ndarray:
    """Parameter server: gather to ``root``, reduce there, send the result back.

    The root receives p - 1 vectors one after the other, combining each, then sends
    p - 1 copies: time 2(p-1) T(m) + (p-1) m gamma for m bytes. Its ports are the
    bottleneck, which is why the other algorithms exist.
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    uf = ufunc_of(op)
    acc = _flat_copy(x)
    if p == 1:
        return acc.reshape(np.shape(x))
    if rank == root:
        tmp = np.empty_like(acc)
        for src in range(p):
            if src != root:
                comm.Recv(tmp, source=src, tag=TAG_PS)
                _combine(comm, uf, acc, tmp)
        for dst in range(p):
            if dst != root:
                comm.Send(acc, dest=dst, tag=TAG_PS)
    else:
        comm.Send(acc, dest=root, tag=TAG_PS)
        comm.Recv(acc, source=root, tag=TAG_PS)
    return acc.reshape(np.shape(x))


def allreduce_tree(comm, x: np.ndarray, op: Any = SUM) -> np.ndarray:
    """Binomial-tree reduce to rank 0 followed by a binomial-tree broadcast.

    Time ceil(log2 p) (2 T(m) + m gamma) for m bytes.
    """
    out = reduce_binomial(comm, x, op, root=0)
    if out is None:
        out = np.empty(np.shape(x), dtype=np.asarray(x).dtype)
    return bcast_binomial(comm, np.ascontiguousarray(out), root=0)


def _fold_in(comm, acc, tmp, uf, pp, r_extra, tag):
    """Non-power-of-two fix-up: returns this rank's rank among the p' survivors or -1."""
    rank = comm.Get_rank()
    if rank < 2 * r_extra:
        if rank % 2 == 0:
            comm.Send(acc, dest=rank + 1, tag=tag)
            return -1
        comm.Recv(tmp, source=rank - 1, tag=tag)
        _combine(comm, uf, acc, tmp)
        return rank // 2
    return rank - r_extra


def _fold_out(comm, acc, r_extra, tag):
    """Send the result back to the ranks that sat out."""
    rank = comm.Get_rank()
    if rank < 2 * r_extra:
        if rank % 2:
            comm.Send(acc, dest=rank - 1, tag=tag)
        else:
            comm.Recv(acc, source=rank + 1, tag=tag)


def _real_rank(newrank: int, r_extra: int) -> int:
    return newrank * 2 + 1 if newrank < r_extra else newrank + r_extra


def allreduce_recursive_doubling(comm, x: np.ndarray, op: Any = SUM) -> np.ndarray:
    """Recursive doubling: at step k exchange the whole vector with ``rank ^ 2^k``.

    Power of two: log2 p (T(m) + m gamma) for m bytes. Otherwise (p' < p) one fold-in
    step and one fold-out step are added: (log2 p' + 2) T(m) + (log2 p' + 1) m gamma.
    Latency-optimal (log2 p messages in a row), but every step moves the whole vector.
    """
    p = comm.Get_size()
    uf = ufunc_of(op)
    acc = _flat_copy(x)
    tmp = np.empty_like(acc)
    pp, r_extra = _fold(p)
    newrank = _fold_in(comm, acc, tmp, uf, pp, r_extra, TAG_RD)
    if newrank >= 0:
        mask = 1
        while mask < pp:
            dst = _real_rank(newrank ^ mask, r_extra)
            req = comm.Isend(acc, dest=dst, tag=TAG_RD)
            comm.Recv(tmp, source=dst, tag=TAG_RD)
            req.Wait()
            _combine(comm, uf, acc, tmp)
            mask <<= 1
    _fold_out(comm, acc, r_extra, TAG_RD)
    return acc.reshape(np.shape(x))


def chunk_bounds(N: int, p: int) -> np.ndarray:
    """Offsets of the p ring chunks of an N-vector (``np.array_split`` sizes): shape (p+1,)."""
    q, rem = divmod(N, p)
    sizes = np.full(p, q, dtype=np.int64)
    sizes[:rem] += 1
    return np.concatenate([[0], np.cumsum(sizes)])


def ring_reduce_scatter(
    comm, chunks: list, op: Any = SUM, start: int | None = None, tag: int = TAG_RING
) -> int:
    """The reduce-scatter half of the ring: p - 1 steps, each passing one chunk right.

    ``chunks`` are this rank's p contiguous 1-d pieces of the vector (views, reduced
    in place). In step s rank r sends chunk (start - s) mod p to its right neighbour
    and adds the chunk (start - s - 1) mod p arriving from its left, where ``start``
    is r unless given (the same offset on every rank). After p - 1 steps chunk
    (start + 1) mod p holds the full reduction over all ranks: its index is returned.
    Time (p-1)(T(c) + c gamma) for chunks of c bytes.
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    uf = ufunc_of(op)
    start = rank if start is None else start
    right, left = (rank + 1) % p, (rank - 1) % p
    tmp = np.empty(max(c.size for c in chunks), dtype=chunks[0].dtype)
    for s in range(p - 1):
        send_i, recv_i = (start - s) % p, (start - s - 1) % p
        req = comm.Isend(chunks[send_i], dest=right, tag=tag)
        incoming = tmp[: chunks[recv_i].size]
        comm.Recv(incoming, source=left, tag=tag)
        _combine(comm, uf, chunks[recv_i], incoming)
        req.Wait()
    return (start + 1) % p


def ring_allgather(comm, chunks: list, owned: int, tag: int = TAG_RING) -> None:
    """The allgather half of the ring: p - 1 steps, each passing one chunk right.

    This rank holds chunk ``owned`` (rank r's neighbour to the left holds
    ``owned - 1``, and so on around the ring). In step s it sends chunk
    (owned - s) mod p to the right and receives chunk (owned - s - 1) mod p from the
    left into ``chunks`` (writeable contiguous views). Time (p-1) T(c) for chunks of
    c bytes.
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    right, left = (rank + 1) % p, (rank - 1) % p
    for s in range(p - 1):
        send_i, recv_i = (owned - s) % p, (owned - s - 1) % p
        req = comm.Isend(chunks[send_i], dest=right, tag=tag)
        comm.Recv(chunks[recv_i], source=left, tag=tag)
        req.Wait()


def allreduce_ring(comm, x: np.ndarray, op: Any = SUM) -> np.ndarray:
    """Ring allreduce: reduce-scatter then allgather, each p - 1 steps of one chunk.

    In reduce-scatter step s, rank r sends chunk (r - s) mod p to its right
    neighbour and adds the chunk (r - s - 1) mod p arriving from its left; after
    p - 1 steps rank r owns the full sum of chunk (r + 1) mod p. The allgather
    passes the finished chunks around the ring the same way. Time
    2(p-1) T(c) + (p-1) c gamma with chunks of c = ceil(N/p) itemsize bytes, m/p for an
    m-byte message that p divides: 2(p-1) alpha + 2 (p-1)/p m beta + (p-1)/p m gamma.
    """
    p = comm.Get_size()
    acc = _flat_copy(x)
    if p == 1:
        return acc.reshape(np.shape(x))
    off = chunk_bounds(acc.size, p)
    chunks = [acc[off[i] : off[i + 1]] for i in range(p)]
    owned = ring_reduce_scatter(comm, chunks, op)
    ring_allgather(comm, chunks, owned)
    return acc.reshape(np.shape(x))


def reduce_scatter_ring(comm, x: np.ndarray, op: Any = SUM) -> np.ndarray:
    """Ring reduce-scatter: rank r ends with block r of the sum over ranks of `x`.

    `x` has shape (p, ...) (block i is ``x[i]``). In step s = 0..p-2 rank r sends
    its partial sum of block (r - s - 1) mod p to the right and adds the partial sum
    of block (r - s - 2) mod p arriving from the left; after p - 1 steps block r is
    complete on rank r. Time (p - 1)(T(c) + c gamma) for blocks of c bytes:
    the first half of the ring allreduce (:func:`ring_reduce_scatter`; Patarasuk &
    Yuan 2009).
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    if np.shape(x)[0] != p:
        raise ValueError(
            f"reduce_scatter_ring needs x of shape ({p}, ...), one block per "
            f"rank; got {np.shape(x)}"
        )
    acc = np.array(x, copy=True, order="C")
    if p == 1:
        return acc[0]
    ring_reduce_scatter(comm, list(acc.reshape(p, -1)), op, start=rank - 1, tag=TAG_REDUCE_SCATTER)
    return acc[rank]


def allreduce_rabenseifner(comm, x: np.ndarray, op: Any = SUM) -> np.ndarray:
    """Rabenseifner: recursive-halving reduce-scatter, then recursive-doubling allgather.

    The vector is zero-padded to ceil(N/p') p' elements and cut into p' blocks of
    ``block`` = ceil(N/p') elements. In halving step k (mask = p'/2, p'/4, ..., 1) each
    rank keeps the half of its current block range on the side of its own bit, sends the
    other half to ``newrank ^ mask`` and adds what it receives; it ends owning block
    ``newrank``. The allgather runs the steps backwards, doubling the range each time.
    Power of two, m bytes (padded): 2 log2 p alpha + 2 (p-1)/p m beta + (p-1)/p m gamma,
    the ring's bandwidth and reduction terms with log2 p latencies instead of p - 1.
    """
    p = comm.Get_size()
    uf = ufunc_of(op)
    flat = _flat_copy(x)
    N = flat.size
    if p == 1:
        return flat.reshape(np.shape(x))
    pp, r_extra = _fold(p)
    block = -(-N // pp)
    acc = np.zeros(block * pp, dtype=flat.dtype)
    acc[:N] = flat
    tmp = np.empty_like(acc)
    newrank = _fold_in(comm, acc, tmp, uf, pp, r_extra, TAG_RAB)
    if newrank >= 0:
        lo, hi = 0, pp
        mask = pp >> 1
        while mask >= 1:  # reduce-scatter by recursive halving
            dst = _real_rank(newrank ^ mask, r_extra)
            mid = (lo + hi) // 2
            (klo, khi), (glo, ghi) = (
                ((mid, hi), (lo, mid)) if newrank & mask else ((lo, mid), (mid, hi))
            )
            req = comm.Isend(acc[glo * block : ghi * block], dest=dst, tag=TAG_RAB)
            incoming = tmp[: (khi - klo) * block]
            comm.Recv(incoming, source=dst, tag=TAG_RAB)
            _combine(comm, uf, acc[klo * block : khi * block], incoming)
            req.Wait()
            lo, hi = klo, khi
            mask >>= 1
        mask = 1
        while mask < pp:  # allgather by recursive doubling
            dst = _real_rank(newrank ^ mask, r_extra)
            w = hi - lo
            olo, ohi = (lo - w, lo) if newrank & mask else (hi, hi + w)
            req = comm.Isend(acc[lo * block : hi * block], dest=dst, tag=TAG_RAB)
            comm.Recv(acc[olo * block : ohi * block], source=dst, tag=TAG_RAB)
            req.Wait()
            lo, hi = min(lo, olo), max(hi, ohi)
            mask <<= 1
    _fold_out(comm, acc, r_extra, TAG_RAB)
    return acc[:N].reshape(np.shape(x))


ALLREDUCE: dict[str, Callable] = {
    "ps": allreduce_ps,
    "tree": allreduce_tree,
    "recursive_doubling": allreduce_recursive_doubling,
    "ring": allreduce_ring,
    "rabenseifner": allreduce_rabenseifner,
}


def allreduce(comm, x: np.ndarray, op: Any = SUM, algorithm: str = "ring") -> np.ndarray:
    """Allreduce ``x`` over all ranks with the named algorithm (see ``ALLREDUCE``)."""
    try:
        fn = ALLREDUCE[algorithm]
    except KeyError:
        raise ValueError(
            f"unknown allreduce algorithm {algorithm!r}; choose one of {', '.join(ALLREDUCE)}"
        ) from None
    return fn(comm, x, op)


# ------------------------------------------------------------------ allgather --
def allgather_ring(comm, x: np.ndarray) -> np.ndarray:
    """Ring allgather: p - 1 steps, each passing one rank's block to the right.

    Returns an array of shape (p,) + x.shape whose row i is rank i's ``x``. Time
    (p-1) T(m) for m bytes per rank.
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty((p, flat.size), dtype=flat.dtype)
    out[rank] = flat
    ring_allgather(comm, list(out), rank, TAG_ALLGATHER)
    return out.reshape((p,) + np.shape(x))


# ------------------------------------------------------- gather, scatter, barrier --
def gather_linear(comm, x: np.ndarray, root: int = 0) -> np.ndarray | None:
    """Every rank sends ``x`` to ``root``, which receives them in rank order.

    Returns shape (p,) + x.shape on the root, None elsewhere. Time (p-1) T(m) for m
    bytes per rank.
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    flat = np.ascontiguousarray(x).reshape(-1)
    if rank != root:
        comm.Send(flat, dest=root, tag=TAG_GATHER)
        return None
    out = np.empty((p, flat.size), dtype=flat.dtype)
    out[root] = flat
    for src in range(p):
        if src != root:
            comm.Recv(out[src], source=src, tag=TAG_GATHER)
    return out.reshape((p,) + np.shape(x))


def scatter_linear(comm, xs: np.ndarray | None, out: np.ndarray, root: int = 0) -> np.ndarray:
    """``root`` sends row i of ``xs`` (shape (p,) + out.shape) to rank i; fills ``out``.

    Time (p-1) T(m) with m the bytes of one row.
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    if rank == root:
        rows = np.ascontiguousarray(xs).reshape(p, -1)
        for dst in range(p):
            if dst != root:
                comm.Send(rows[dst], dest=dst, tag=TAG_SCATTER)
        out[...] = rows[root].reshape(out.shape)
    else:
        comm.Recv(out, source=root, tag=TAG_SCATTER)
    return out


def barrier_dissemination(comm) -> None:
    """Dissemination barrier: in round k rank r signals r + 2^k and waits for r - 2^k.

    After ceil(log2 p) rounds every rank has heard, directly or not, from all others.
    Time ceil(log2 p) alpha (empty messages).
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    token = np.zeros(0, dtype=np.uint8)
    got = np.zeros(0, dtype=np.uint8)
    mask = 1
    while mask < p:
        req = comm.Isend(token, dest=(rank + mask) % p, tag=TAG_BARRIER)
        comm.Recv(got, source=(rank - mask) % p, tag=TAG_BARRIER)
        req.Wait()
        mask <<= 1


# ------------------------------------------------------------- Python objects --
# The lower-case (pickled object) collectives of the simulated communicator: the
# same trees and linear patterns as above, moving objects with send/recv.
def bcast_obj_binomial(comm, obj: Any, root: int = 0) -> Any:
    """Binomial-tree broadcast of a Python object from ``root`` (as
    :func:`bcast_binomial`); returns the object on every rank."""
    p, rank = comm.Get_size(), comm.Get_rank()
    parent, children = binomial_tree((rank - root) % p, p)
    if parent is not None:
        obj = comm.recv(source=(parent + root) % p, tag=TAG_BCAST)
    for child in reversed(children):
        comm.send(obj, dest=(child + root) % p, tag=TAG_BCAST)
    return obj


def reduce_obj_binomial(comm, obj: Any, op: Any = SUM, root: int = 0) -> Any:
    """Binomial-tree reduce of Python objects with ``op(a, b)`` to ``root`` (as
    :func:`reduce_binomial`); the result there, None elsewhere. Each combination
    is charged gamma per pickled byte received."""
    p, rank = comm.Get_size(), comm.Get_rank()
    acc = obj
    parent, children = binomial_tree((rank - root) % p, p)
    st = Status() if is_simulated(comm) else None  # the simulator charges the bytes
    for child in children:
        other = comm.recv(source=(child + root) % p, tag=TAG_REDUCE, status=st)
        acc = op(acc, other)
        if st is not None:
            charge_reduce(comm, st.count)
    if parent is not None:
        comm.send(acc, dest=(parent + root) % p, tag=TAG_REDUCE)
        return None
    return acc


def allreduce_obj(comm, obj: Any, op: Any = SUM) -> Any:
    """Reduce to rank 0, then broadcast from it (two binomial trees)."""
    return bcast_obj_binomial(comm, reduce_obj_binomial(comm, obj, op, 0), 0)


def gather_obj_linear(comm, obj: Any, root: int = 0) -> list | None:
    """Every rank sends ``obj`` to ``root``, which receives them in rank order: the list
    there, None elsewhere."""
    if comm.Get_rank() != root:
        comm.send(obj, dest=root, tag=TAG_GATHER)
        return None
    return [
        obj if s == root else comm.recv(source=s, tag=TAG_GATHER) for s in range(comm.Get_size())
    ]


def allgather_obj(comm, obj: Any) -> list:
    """Gather to rank 0, then broadcast the list from it."""
    return bcast_obj_binomial(comm, gather_obj_linear(comm, obj, 0), 0)


def scatter_obj_linear(comm, objs: Any, root: int = 0) -> Any:
    """``root`` sends item i of ``objs`` (one per rank) to rank i; returns this rank's."""
    p = comm.Get_size()
    if comm.Get_rank() == root:
        objs = list(objs)
        if len(objs) != p:
            raise ValueError(f"rank {root}: scatter needs a sequence of {p} items, got {len(objs)}")
        for d in range(p):
            if d != root:
                comm.send(objs[d], dest=d, tag=TAG_SCATTER)
        return objs[root]
    return comm.recv(source=root, tag=TAG_SCATTER)


def alltoall_obj(comm, objs: list) -> list:
    """Rank r sends item d of ``objs`` to rank d and receives item r of every rank's
    list, in rank order."""
    p, me = comm.Get_size(), comm.Get_rank()
    if len(objs) != p:
        raise ValueError(f"rank {me}: alltoall needs a list of {p} items")
    reqs = [comm.isend(objs[d], d, TAG_SCATTER) for d in range(p) if d != me]
    out = [comm.recv(source=s, tag=TAG_SCATTER) if s != me else objs[me] for s in range(p)]
    if reqs:
        type(reqs[0]).Waitall(reqs)  # the Request class of this communicator
    return out


# ------------------------------------------- all-to-all, vector and prefix forms --
TAG_ALLTOALL = 32012
TAG_SCAN = 32013
TAG_GATHERV = 32014
TAG_SCATTERV = 32015
TAG_ALLGATHERV = 32016


def alltoallv_pairwise(comm, blocks: list, out: list) -> None:
    """Pairwise exchange: in step s = 1..p-1 rank r sends ``blocks[(r + s) mod p]`` to
    rank r + s and receives ``out[(r - s) mod p]`` from rank r - s (contiguous 1-d
    views; sizes may differ, as in ``Alltoallv``). Every rank sends one block and
    receives one per step on its two ports: time (p-1) T(m) for blocks of m bytes."""
    p, rank = comm.Get_size(), comm.Get_rank()
    out[rank][...] = blocks[rank]
    for s in range(1, p):
        dst, src = (rank + s) % p, (rank - s) % p
        req = comm.Isend(blocks[dst], dest=dst, tag=TAG_ALLTOALL)
        comm.Recv(out[src], source=src, tag=TAG_ALLTOALL)
        req.Wait()


def gatherv_linear(comm, x: np.ndarray, out: list | None, root: int = 0) -> None:
    """Every rank sends ``x`` to ``root``, which receives rank i's into ``out[i]`` (a
    contiguous 1-d view of its receive buffer) in rank order. Time sum over the other
    ranks of T(m_i), the root's receive port."""
    p, rank = comm.Get_size(), comm.Get_rank()
    flat = np.ascontiguousarray(x).reshape(-1)
    if rank != root:
        comm.Send(flat, dest=root, tag=TAG_GATHERV)
        return
    out[root][...] = flat
    for src in range(p):
        if src != root:
            comm.Recv(out[src], source=src, tag=TAG_GATHERV)


def scatterv_linear(comm, blocks: list | None, out: np.ndarray, root: int = 0) -> None:
    """``root`` sends ``blocks[i]`` to rank i in rank order; each rank receives into
    ``out``. Time sum over the other ranks of T(m_i), the root's send port."""
    p, rank = comm.Get_size(), comm.Get_rank()
    if rank == root:
        for dst in range(p):
            if dst != root:
                comm.Send(np.ascontiguousarray(blocks[dst]), dest=dst, tag=TAG_SCATTERV)
        out.reshape(-1)[...] = blocks[root]
    else:
        comm.Recv(out, source=root, tag=TAG_SCATTERV)


def allgatherv_ring(comm, x: np.ndarray, out: list) -> None:
    """Ring allgather of blocks of different sizes: rank r's ``x`` lands in ``out[r]``
    on every rank (contiguous 1-d views), by the p - 1 steps of :func:`ring_allgather`.
    Time (p-1) T(m) when every block has m bytes."""
    out[comm.Get_rank()][...] = np.ascontiguousarray(x).reshape(-1)
    ring_allgather(comm, out, comm.Get_rank(), TAG_ALLGATHERV)


def reduce_scatter_blocks_ring(comm, blocks: list, op: Any = SUM) -> np.ndarray:
    """Ring reduce-scatter of p blocks (1-d, sizes may differ): rank r ends with block r
    reduced over all ranks (returned; the blocks are reduced in place). Time
    (p-1)(T(c) + c gamma) for blocks of c bytes (:func:`ring_reduce_scatter`)."""
    p, rank = comm.Get_size(), comm.Get_rank()
    if p > 1:
        ring_reduce_scatter(comm, blocks, op, start=rank - 1, tag=TAG_REDUCE_SCATTER)
    return blocks[rank]


def scan_recursive_doubling(comm, x: np.ndarray, op: Any = SUM, exclusive: bool = False):
    """Prefix reduction: rank r gets x_0 (op) ... (op) x_r (``Scan``), or x_0 ... x_{r-1}
    (``Exscan``, None on rank 0).

    In round k rank r sends its partial result (the reduction of the ranks
    r - 2^k + 1 .. r) to rank r + 2^k and combines the one arriving from r - 2^k, if
    those ranks exist: ceil(log2 p) rounds, each T(m) + m gamma on the last rank (for
    Exscan the arriving partial is combined into two accumulators: 2 m gamma, the first
    one a copy).
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    uf = ufunc_of(op)
    partial = _flat_copy(x)
    excl = None
    tmp = np.empty_like(partial)
    mask = 1
    while mask < p:
        req = None
        if rank + mask < p:
            req = comm.Isend(partial, dest=rank + mask, tag=TAG_SCAN)
        if rank - mask >= 0:
            comm.Recv(tmp, source=rank - mask, tag=TAG_SCAN)
            if req is not None:
                req.Wait()
                req = None
            # the incoming segment lies to the left: incoming (op) partial
            if exclusive:
                if excl is None:
                    excl = tmp.copy()
                else:
                    combined = tmp.copy()
                    _combine(comm, uf, combined, excl)
                    excl = combined
            combined = tmp.copy()
            _combine(comm, uf, combined, partial)
            partial = combined
        if req is not None:
            req.Wait()
        mask <<= 1
    if exclusive:
        return None if excl is None else excl.reshape(np.shape(x))
    return partial.reshape(np.shape(x))
