"""A distributed array with halo exchange, and a locally connected layer on it (chapter 16).

Coates et al. (2013) hid the communication of their model-parallel networks inside a
**distributed array**: each GPU (one MPI process per GPU) holds a block of a layer's
neuron responses, and "after some hidden communication" it has all the inputs its own
units need, so the code that computes them is the one-GPU code. This module is that
idea on a communicator (simulated or real MPI) for a locally connected layer
(:class:`~dlkit.largescale.localconn.LocallyConnected2d`):

* :class:`DistArray` - an (N, C, H, W) array split over the p ranks along its rows
  (axis 2): rank r owns the rows [h0_r, h1_r) of ``np.array_split``.
* The layer's output rows are split the same way: rank r computes the output rows
  [o0_r, o1_r), whose windows read the input rows
  [a_r, b_r) = [o0_r · stride, (o1_r − 1) · stride + k). The rows of [a_r, b_r) that
  rank r does not own are its **halo**; they belong to its neighbours r − 1 and r + 1.
* :func:`exchange` - the halo exchange: two ``Sendrecv`` calls, the first sending to
  the previous rank while receiving from the next, the second the other way round;
  ``MPI.PROC_NULL`` stands for a missing neighbour (at the edges, or where no row is
  needed), so every rank runs the same two calls and none waits on a message that
  never comes.
* :meth:`DistArray.with_halo` assembles a rank's rows [a_r, b_r); its adjoint
  :meth:`DistArray.add_halo` sends the gradient of the halo rows back to their owners,
  which add it to their own: the backward pass of the exchange.
* :class:`DistLocallyConnected2d` - the layer on the distributed array: each rank keeps
  the filters of its output positions (the weights are untied, so no other rank ever
  needs them and no gradient is summed across ranks); forward = halo exchange + the
  one-process block GEMMs on the rank's rows; backward = the one-process backward +
  the reverse exchange.

Equality with the one-process layer: the forward output and the weight gradients are
**bit-equal** (each output position is the same GEMM on the same numbers, whatever the
rank); the input gradient is bit-equal on every row but the halo rows, where a sum of
two ranks' contributions is added in another order (equal to rounding, below 1e-12).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlkit.cluster import compute, is_simulated
from dlkit.largescale.localconn import LocallyConnected2d, block_backward, block_forward

__all__ = [
    "split_rows",
    "HaloPlan",
    "halo_plan",
    "exchange",
    "DistArray",
    "DistLocallyConnected2d",
    "needed_rows",
]

#: Message tags of the two halves of an exchange.
TAG_TO_PREV, TAG_TO_NEXT = 31, 32


def _mpi(comm):
    """``dlkit.cluster.MPI`` for a simulated communicator, ``mpi4py.MPI`` otherwise."""
    if is_simulated(comm):
        from dlkit.cluster import MPI

        return MPI
    from mpi4py import MPI

    return MPI


def split_rows(n: int, p: int) -> list[tuple[int, int]]:
    """The blocks [lo, hi) of ``np.array_split(range(n), p)``: the first n % p ranks own
    one row more."""
    q, extra = divmod(int(n), int(p))
    starts = [r * q + min(r, extra) for r in range(p + 1)]
    return [(starts[r], starts[r + 1]) for r in range(p)]


def needed_rows(p: int, rows_in: int, window: int, stride: int) -> list[tuple[int, int]]:
    """For each rank, the input rows [a_r, b_r) its output rows read: the output rows
    [o0_r, o1_r) of ``split_rows(Ho, p)`` need [o0_r · stride, (o1_r − 1) · stride + k)."""
    Ho = (rows_in - window) // stride + 1
    if Ho < p:
        raise ValueError(
            f"needed_rows: {Ho} output rows cannot be split over {p} ranks; use at most "
            f"{Ho} ranks or a taller input"
        )
    return [(o0 * stride, (o1 - 1) * stride + window) for o0, o1 in split_rows(Ho, p)]


def _cut(a: tuple[int, int], b: tuple[int, int]) -> tuple[int, int]:
    lo, hi = max(a[0], b[0]), min(a[1], b[1])
    return (lo, hi) if lo < hi else (lo, lo)


@dataclass(frozen=True)
class HaloPlan:
    """What rank r owns, needs, sends and receives, as global row ranges [lo, hi).

    ``own`` its block; ``need`` the rows its units read; ``from_prev``/``from_next`` the
    halo rows it receives from rank r − 1 / r + 1; ``to_prev``/``to_next`` the rows of
    its block that rank r − 1 / r + 1 needs. An empty range has lo == hi."""

    rank: int
    own: tuple[int, int]
    need: tuple[int, int]
    from_prev: tuple[int, int]
    from_next: tuple[int, int]
    to_prev: tuple[int, int]
    to_next: tuple[int, int]


def halo_plan(blocks, needs, rank: int) -> HaloPlan:
    """The :class:`HaloPlan` of `rank`, from every rank's block and needed rows (both
    lists of [lo, hi)). Every rank can compute every plan, so each knows what to send
    and what to expect without asking. A rank whose needed rows reach beyond its
    neighbours' blocks is refused: a halo comes from neighbours only."""
    p, r = len(blocks), rank
    none = (0, 0)
    prev = blocks[r - 1] if r > 0 else none
    nxt = blocks[r + 1] if r < p - 1 else none
    need = needs[r]
    plan = HaloPlan(
        r,
        blocks[r],
        need,
        _cut(need, prev),
        _cut(need, nxt),
        _cut(needs[r - 1], blocks[r]) if r > 0 else none,
        _cut(needs[r + 1], blocks[r]) if r < p - 1 else none,
    )
    got = sum(hi - lo for lo, hi in (plan.from_prev, _cut(need, blocks[r]), plan.from_next))
    if got != need[1] - need[0]:
        raise ValueError(
            f"halo_plan: rank {r} needs rows {need[0]}:{need[1]} but it and its neighbours "
            f"own only {prev[0] if r else blocks[r][0]}:{nxt[1] if r < p - 1 else blocks[r][1]};"
            " a halo comes from the neighbours only: use fewer ranks"
        )
    return plan


def _n(rng: tuple[int, int]) -> int:
    return rng[1] - rng[0]


def exchange(comm, to_prev, to_next, from_prev, from_next) -> None:
    """The halo exchange between neighbours: send `to_prev` to rank r − 1 and `to_next`
    to rank r + 1, receive into `from_prev` (from r − 1) and `from_next` (from r + 1).

    Each is a contiguous array, or None where there is nothing to move; None becomes
    ``MPI.PROC_NULL``, a send or receive that does nothing. Every rank makes the same
    two calls, so the pairs match: r's first send is r − 1's first receive."""
    MPI = _mpi(comm)
    r = comm.Get_rank()
    none, empty = MPI.PROC_NULL, np.empty(0)

    def peer(buf, rank):
        return none if buf is None else rank

    def data(buf):
        return empty if buf is None else buf

    # 1: every rank sends towards the previous rank while receiving from the next one
    comm.Sendrecv(
        data(to_prev),
        dest=peer(to_prev, r - 1),
        sendtag=TAG_TO_PREV,
        recvbuf=data(from_next),
        source=peer(from_next, r + 1),
        recvtag=TAG_TO_PREV,
    )
    # 2: and then towards the next rank, receiving from the previous one
    comm.Sendrecv(
        data(to_next),
        dest=peer(to_next, r + 1),
        sendtag=TAG_TO_NEXT,
        recvbuf=data(from_prev),
        source=peer(from_prev, r - 1),
        recvtag=TAG_TO_NEXT,
    )


def _rows(x, rg, first):
    """Rows rg = [lo, hi) (global) of x, whose first row is global row `first`, as a
    contiguous array; None if rg is empty."""
    return np.ascontiguousarray(x[:, :, rg[0] - first : rg[1] - first]) if _n(rg) else None


def _buffer(x, rg):
    """An empty receive buffer for the rows rg of an array shaped like x; None if empty."""
    return np.empty((*x.shape[:2], _n(rg), x.shape[3]), x.dtype) if _n(rg) else None


class DistArray:
    """An (N, C, H, W) array split over the ranks of `comm` along its rows (axis 2).

    Rank r holds ``local``, the rows [h0_r, h1_r) of ``split_rows(H, p)``
    (``self.own``). Build one with :meth:`scatter` (from the whole array, which every
    rank has) or from a rank's own block; :meth:`gather` gives the whole array back."""

    def __init__(self, comm, local: np.ndarray, rows: int):
        self.comm, self.rows = comm, int(rows)
        self.p, self.rank = comm.Get_size(), comm.Get_rank()
        self.blocks = split_rows(self.rows, self.p)
        self.own = self.blocks[self.rank]
        local = np.ascontiguousarray(local)
        if local.ndim != 4 or local.shape[2] != _n(self.own):
            raise ValueError(
                f"DistArray: rank {self.rank} owns rows {self.own[0]}:{self.own[1]} of {rows}, "
                f"so its block must have shape (N, C, {_n(self.own)}, W); got {local.shape}"
            )
        self.local = local

    @classmethod
    def scatter(cls, comm, x: np.ndarray) -> DistArray:
        """Keep this rank's rows of the whole array x (N, C, H, W)."""
        x = np.asarray(x)
        if x.ndim != 4:
            raise ValueError(f"DistArray.scatter: x must be (N, C, H, W), got shape {x.shape}")
        lo, hi = split_rows(x.shape[2], comm.Get_size())[comm.Get_rank()]
        return cls(comm, x[:, :, lo:hi], x.shape[2])

    def gather(self) -> np.ndarray:
        """The whole array, on every rank (an allgather of the blocks)."""
        return np.concatenate(self.comm.allgather(self.local), axis=2)

    def plan(self, needs) -> HaloPlan:
        return halo_plan(self.blocks, needs, self.rank)

    def with_halo(self, needs) -> np.ndarray:
        """Rows [a_r, b_r) = ``needs[r]`` of the whole array on rank r: its own rows plus
        the halo received from its neighbours by :func:`exchange`."""
        pl, x = self.plan(needs), self.local
        h0 = self.own[0]
        got_prev, got_next = _buffer(x, pl.from_prev), _buffer(x, pl.from_next)
        exchange(self.comm, _rows(x, pl.to_prev, h0), _rows(x, pl.to_next, h0), got_prev, got_next)
        mine = _cut(pl.need, self.own)
        pieces = [got_prev, x[:, :, mine[0] - h0 : mine[1] - h0], got_next]
        return np.concatenate([q for q in pieces if q is not None], axis=2)

    def add_halo(self, slab: np.ndarray, needs) -> DistArray:
        """The adjoint of :meth:`with_halo`: `slab` holds values for the rows ``needs[r]``
        (a gradient with respect to them); the halo rows are sent back to their owners,
        and each rank adds what it receives to its own rows. Returns the DistArray of
        the sums."""
        pl, a = self.plan(needs), needs[self.rank][0]
        back_prev, back_next = _buffer(slab, pl.to_prev), _buffer(slab, pl.to_next)
        exchange(  # the same two calls, with the roles of the ranges swapped
            self.comm,
            _rows(slab, pl.from_prev, a),
            _rows(slab, pl.from_next, a),
            back_prev,
            back_next,
        )
        h0 = self.own[0]
        out = np.zeros((*slab.shape[:2], _n(self.own), slab.shape[3]), slab.dtype)
        mine = _cut(pl.need, self.own)
        out[:, :, mine[0] - h0 : mine[1] - h0] += slab[:, :, mine[0] - a : mine[1] - a]
        for got, rg in ((back_prev, pl.to_prev), (back_next, pl.to_next)):
            if got is not None:
                out[:, :, rg[0] - h0 : rg[1] - h0] += got
        return DistArray(self.comm, out, self.rows)


class DistLocallyConnected2d:
    """This rank's share of a :class:`~dlkit.largescale.localconn.LocallyConnected2d`:
    the filters of its output rows [o0_r, o1_r) (``split_rows(Ho, p)``).

    ``forward(x)`` takes and returns a :class:`DistArray` (input rows, output rows);
    ``backward(dz)`` likewise, and fills ``dW``, ``db`` (this rank's rows of the
    gradients). Built from the whole layer, which every rank makes from the same seed."""

    def __init__(self, comm, layer: LocallyConnected2d):
        self.comm, self.layer = comm, layer
        p, r = comm.Get_size(), comm.Get_rank()
        self.needs = needed_rows(p, layer.H, layer.k, layer.s)
        self.out_rows = split_rows(layer.Ho, p)[r]
        o0, o1 = self.out_rows
        self.W = np.ascontiguousarray(layer.W.data[o0:o1])  # untied: only this rank's
        self.b = np.ascontiguousarray(layer.b.data[o0:o1])
        self.dW = np.zeros_like(self.W)
        self.db = np.zeros_like(self.b)
        self._x = None

    def forward(self, x: DistArray) -> DistArray:
        L = self.layer
        slab = x.with_halo(self.needs)  # the hidden communication
        self._x, self._in = slab, x
        z = block_forward(slab, self.W, self.b, L.k, L.s)  # the one-process code
        compute(self.comm, 2.0 * len(slab) * self.W.size, "lc forward")
        return DistArray(self.comm, z, L.Ho)

    def backward(self, dz: DistArray) -> DistArray:
        L = self.layer
        self.dW[...], self.db[...], dslab = block_backward(self._x, self.W, dz.local, L.k, L.s)
        compute(self.comm, 4.0 * len(dslab) * self.W.size, "lc backward")
        return self._in.add_halo(dslab, self.needs)  # the halo's gradient goes home
