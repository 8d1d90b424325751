r"""Collective algorithms written from point-to-point messages.

Every function here takes a communicator and numpy arrays and uses only
``Get_rank``, ``Get_size``, ``Send``, ``Recv``, ``Isend`` and ``Request.Wait``, so the
same code runs on the simulated cluster and on a real ``mpi4py`` communicator
(``mpiexec -n 4 python -m mpi4py script.py``). On the simulator the reduction
arithmetic is charged ``gamma`` seconds per byte (:func:`~dlkit.cluster.hooks.charge_reduce`);
on real MPI that hook does nothing.

Notation (as in :mod:`dlkit.cluster.costs`): :math:`p` ranks, a vector of :math:`N`
elements of :math:`s` bytes (:math:`n = Ns` bytes), :math:`L = \lceil\log_2 p\rceil`,
:math:`p' = 2^{\lfloor\log_2 p\rfloor}` and :math:`r = p - p'`.

Allreduce algorithms (``ALLREDUCE[name]``):

* ``"ps"`` - parameter server: every rank sends to a root, which reduces and sends
  the sum back to everyone; the root's ports carry :math:`2(p-1)` messages.
* ``"tree"`` - binomial-tree reduce to rank 0, then binomial-tree broadcast.
* ``"recursive_doubling"`` - :math:`\log_2 p` exchanges of the whole vector with the
  partner ``rank ^ mask``.
* ``"ring"`` - reduce-scatter then allgather around the ring, :math:`2(p-1)` steps
  of one chunk (Patarasuk & Yuan 2009). Chunks are ``np.array_split`` pieces: the
  first :math:`N \bmod p` chunks have :math:`\lceil N/p\rceil` elements.
* ``"rabenseifner"`` - recursive-halving reduce-scatter then recursive-doubling
  allgather (Rabenseifner 2004). The vector is zero-padded to
  :math:`\lceil N/p'\rceil p'` elements so that every halving is exact; the padding
  is dropped from the result.

Non-powers of two (recursive doubling and Rabenseifner, Thakur et al. 2005): the
first :math:`2r` ranks pair up; each even one sends its vector to the odd one above
it, which reduces, and then sits out; the remaining :math:`p'` ranks run the
power-of-two algorithm; at the end each odd rank sends the result to its even
neighbour.
"""

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .hooks import charge_reduce
from .mpi import SUM, Op

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


def ufunc_of(op: Any) -> np.ufunc:
    """The numpy ufunc of a reduction op (dlkit's ``MPI.SUM`` or mpi4py's ``MPI.SUM``)."""
    if isinstance(op, Op):
        return op.ufunc
    if isinstance(op, np.ufunc):
        return op
    try:  # an mpi4py Op
        from mpi4py import MPI as _M

        table = [(_M.SUM, np.add), (_M.PROD, np.multiply), (_M.MAX, np.maximum),
                 (_M.MIN, np.minimum)]
        for mop, uf in table:
            if op == mop:
                return uf
    except ImportError:
        pass
    raise TypeError(f"unsupported reduction op {op!r}: use MPI.SUM, MPI.PROD, MPI.MAX, "
                    "MPI.MIN or a numpy ufunc")


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


# ------------------------------------------------------------------- broadcast --
def bcast_binomial(comm, buf: np.ndarray, root: int = 0) -> np.ndarray:
    """Binomial-tree broadcast of ``buf`` (in place) from ``root``; returns ``buf``.

    With relative rank v = (rank - root) mod p, rank v receives from v minus its
    lowest set bit, then sends to v + 2^k for each smaller power of two. The root
    sends L = ceil(log2 p) messages in a row; time L(alpha + n beta).
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    v = (rank - root) % p
    mask = 1
    while mask < p:
        if v & mask:
            comm.Recv(buf, source=(v - mask + root) % p, tag=TAG_BCAST)
            break
        mask <<= 1
    mask >>= 1
    while mask > 0:
        if v + mask < p:
            comm.Send(buf, dest=(v + mask + root) % p, tag=TAG_BCAST)
        mask >>= 1
    return buf


# --------------------------------------------------------------------- reduce --
def reduce_binomial(comm, x: np.ndarray, op: Any = SUM, root: int = 0) -> np.ndarray | None:
    """Binomial-tree reduce of ``x`` to ``root``: the result there, None elsewhere.

    At step k, relative ranks with bit k set send their partial result to the rank
    2^k below and drop out; the others receive and combine. Time L(alpha + n beta +
    n gamma).
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    uf = ufunc_of(op)
    acc = _flat_copy(x)
    tmp = np.empty_like(acc)
    v = (rank - root) % p
    mask = 1
    while mask < p:
        if v & mask == 0:
            src = v | mask
            if src < p:
                comm.Recv(tmp, source=(src + root) % p, tag=TAG_REDUCE)
                _combine(comm, uf, acc, tmp)
        else:
            comm.Send(acc, dest=((v & ~mask) + root) % p, tag=TAG_REDUCE)
            return None
        mask <<= 1
    return acc.reshape(np.shape(x))


# ------------------------------------------------------------------ allreduce --
def allreduce_ps(comm, x: np.ndarray, op: Any = SUM, root: int = 0) -> np.ndarray:
    """Parameter server: gather to ``root``, reduce there, send the result back.

    The root receives p - 1 vectors one after the other, combining each, then sends
    p - 1 copies: time 2(p-1)(alpha + n beta) + (p-1) n gamma. Its ports are the
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

    Time L(2 alpha + 2 n beta + n gamma), L = ceil(log2 p).
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

    Power of two: log2 p (alpha + n beta + n gamma). Otherwise (p' < p) one fold-in
    step and one fold-out step are added: (log2 p' + 2)(alpha + n beta) +
    (log2 p' + 1) n gamma.
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


def allreduce_ring(comm, x: np.ndarray, op: Any = SUM) -> np.ndarray:
    """Ring allreduce: reduce-scatter then allgather, each p - 1 steps of one chunk.

    In reduce-scatter step s, rank r sends chunk (r - s) mod p to its right
    neighbour and adds the chunk (r - s - 1) mod p arriving from its left; after
    p - 1 steps rank r owns the full sum of chunk (r + 1) mod p. The allgather
    passes the finished chunks around the ring the same way. Time
    2(p-1)(alpha + m beta) + (p-1) m gamma with m = ceil(N/p) s bytes.
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    uf = ufunc_of(op)
    acc = _flat_copy(x)
    if p == 1:
        return acc.reshape(np.shape(x))
    off = chunk_bounds(acc.size, p)
    tmp = np.empty(int(off[1] - off[0]), dtype=acc.dtype)
    right, left = (rank + 1) % p, (rank - 1) % p

    def chunk(i):
        return acc[off[i]:off[i + 1]]

    for s in range(p - 1):  # reduce-scatter
        send_i, recv_i = (rank - s) % p, (rank - s - 1) % p
        req = comm.Isend(chunk(send_i), dest=right, tag=TAG_RING)
        incoming = tmp[: off[recv_i + 1] - off[recv_i]]
        comm.Recv(incoming, source=left, tag=TAG_RING)
        _combine(comm, uf, chunk(recv_i), incoming)
        req.Wait()
    for s in range(p - 1):  # allgather
        send_i, recv_i = (rank + 1 - s) % p, (rank - s) % p
        req = comm.Isend(chunk(send_i), dest=right, tag=TAG_RING)
        comm.Recv(chunk(recv_i), source=left, tag=TAG_RING)
        req.Wait()
    return acc.reshape(np.shape(x))


def allreduce_rabenseifner(comm, x: np.ndarray, op: Any = SUM) -> np.ndarray:
    """Rabenseifner: recursive-halving reduce-scatter, then recursive-doubling allgather.

    The vector is zero-padded to M = ceil(N/p') p' elements and cut into p' blocks of
    B = M/p'. In halving step k (mask = p'/2, p'/4, ..., 1) each rank keeps the half of
    its current block range on the side of its own bit, sends the other half to
    ``newrank ^ mask`` and adds what it receives; it ends owning block ``newrank``.
    The allgather runs the steps backwards, doubling the range each time. Power of
    two: 2 log2 p alpha + 2 (p-1)/p M s beta + (p-1)/p M s gamma.
    """
    p = comm.Get_size()
    uf = ufunc_of(op)
    flat = _flat_copy(x)
    N = flat.size
    if p == 1:
        return flat.reshape(np.shape(x))
    pp, r_extra = _fold(p)
    B = -(-N // pp)
    acc = np.zeros(B * pp, dtype=flat.dtype)
    acc[:N] = flat
    tmp = np.empty_like(acc)
    newrank = _fold_in(comm, acc, tmp, uf, pp, r_extra, TAG_RAB)
    if newrank >= 0:
        lo, hi = 0, pp
        mask = pp >> 1
        while mask >= 1:  # reduce-scatter by recursive halving
            dst = _real_rank(newrank ^ mask, r_extra)
            mid = (lo + hi) // 2
            (klo, khi), (glo, ghi) = ((mid, hi), (lo, mid)) if newrank & mask else \
                ((lo, mid), (mid, hi))
            req = comm.Isend(acc[glo * B:ghi * B], dest=dst, tag=TAG_RAB)
            incoming = tmp[: (khi - klo) * B]
            comm.Recv(incoming, source=dst, tag=TAG_RAB)
            _combine(comm, uf, acc[klo * B:khi * B], incoming)
            req.Wait()
            lo, hi = klo, khi
            mask >>= 1
        mask = 1
        while mask < pp:  # allgather by recursive doubling
            dst = _real_rank(newrank ^ mask, r_extra)
            w = hi - lo
            olo, ohi = (lo - w, lo) if newrank & mask else (hi, hi + w)
            req = comm.Isend(acc[lo * B:hi * B], dest=dst, tag=TAG_RAB)
            comm.Recv(acc[olo * B:ohi * B], source=dst, tag=TAG_RAB)
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
        raise ValueError(f"unknown allreduce algorithm {algorithm!r}; choose one of "
                         f"{', '.join(ALLREDUCE)}") from None
    return fn(comm, x, op)


# ------------------------------------------------------------------ allgather --
def allgather_ring(comm, x: np.ndarray) -> np.ndarray:
    """Ring allgather: p - 1 steps, each passing one rank's block to the right.

    Returns an array of shape (p,) + x.shape whose row i is rank i's ``x``. Time
    (p-1)(alpha + n beta).
    """
    p, rank = comm.Get_size(), comm.Get_rank()
    flat = np.ascontiguousarray(x).reshape(-1)
    out = np.empty((p, flat.size), dtype=flat.dtype)
    out[rank] = flat
    right, left = (rank + 1) % p, (rank - 1) % p
    for s in range(p - 1):
        send_i, recv_i = (rank - s) % p, (rank - s - 1) % p
        req = comm.Isend(out[send_i], dest=right, tag=TAG_ALLGATHER)
        comm.Recv(out[recv_i], source=left, tag=TAG_ALLGATHER)
        req.Wait()
    return out.reshape((p,) + np.shape(x))


# ------------------------------------------------------- gather, scatter, barrier --
def gather_linear(comm, x: np.ndarray, root: int = 0) -> np.ndarray | None:
    """Every rank sends ``x`` to ``root``, which receives them in rank order.

    Returns shape (p,) + x.shape on the root, None elsewhere. Time (p-1)(alpha + n beta).
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

    Time (p-1)(alpha + n beta) with n the bytes of one row.
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
    Time L alpha (empty messages).
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
