r"""Closed-form costs of the collectives in :mod:`dlkit.cluster.collectives`.

Each function returns the simulated time, in seconds, of one call that starts with
every rank at the same virtual time, on an all-to-all network with uniform
:math:`(\alpha, \beta)` and reduction cost :math:`\gamma` per byte (Thakur,
Rabenseifner & Gropp 2005; Patarasuk & Yuan 2009). They are exact for the
simulator's charging (the port model of :mod:`dlkit.cluster.networks`) for every
:math:`p`, powers of two or not, and every vector length, divisible by :math:`p` or
not: the tests check agreement to 1e-9 relative.

Notation (the book's): :math:`p` ranks; a message of :math:`m` bytes, the vector of
``N`` elements of ``itemsize`` bytes each (``N`` and ``itemsize`` are the functions'
arguments), :math:`m = N \cdot \mathrm{itemsize}`; :math:`T(m) = \alpha + m\beta`, the
time of one message of :math:`m` bytes; :math:`\lceil \log_2 p \rceil` is the depth of
a binomial tree; :math:`p' = 2^{\lfloor \log_2 p \rfloor}` is the largest power of two
not above :math:`p`.

==================  =====================================================================
algorithm           time
==================  =====================================================================
bcast (binomial)    :math:`\lceil\log_2 p\rceil\,T(m)`
reduce (binomial)   :math:`\lceil\log_2 p\rceil\,(T(m) + m\gamma)`
ps                  :math:`2(p-1)\,T(m) + (p-1)\,m\gamma`
tree                :math:`\lceil\log_2 p\rceil\,(2T(m) + m\gamma)`
recursive doubling  :math:`\log_2 p'\,(T(m) + m\gamma)`; if :math:`p' < p`:
                    :math:`(\log_2 p' + 2)\,T(m) + (\log_2 p' + 1)\,m\gamma`
ring                :math:`2(p-1)\,T(c) + (p-1)\,c\gamma`, with the chunk
                    :math:`c = \lceil N/p \rceil\,\mathrm{itemsize}` bytes (:math:`m/p` when
                    :math:`p` divides ``N``)
rabenseifner        :math:`2\log_2 p'\,\alpha + 2\frac{p'-1}{p'}\bar m\beta +
                    \frac{p'-1}{p'}\bar m\gamma`, with the padded message
                    :math:`\bar m = \lceil N/p' \rceil p'\,\mathrm{itemsize}` bytes; if
                    :math:`p' < p`, plus :math:`2T(\bar m) + \bar m\gamma` for the fold-in
                    and fold-out steps
allgather (ring)    :math:`(p-1)\,T(m)`, :math:`m` = bytes per rank
gather / scatter    :math:`(p-1)\,T(m)`, :math:`m` = bytes per rank
barrier             :math:`\lceil\log_2 p\rceil\,\alpha`
alltoall            :math:`(p-1)\,T(m)`, :math:`m` = bytes of one block (pairwise exchange)
gatherv / scatterv  :math:`\sum_{i \ne \mathrm{root}} T(m_i)`, :math:`m_i` = rank i's bytes
reduce-scatter      :math:`(p-1)\,(T(c) + c\gamma)`, :math:`c` = bytes of one block (ring)
scan                :math:`\lceil\log_2 p\rceil\,(T(m) + m\gamma)` (recursive doubling)
one-sided Put/Get   :math:`T(m)`; Accumulate :math:`T(m) + m\gamma`; Fetch_and_op and
                    Get_accumulate :math:`2T(m) + m\gamma`; Compare_and_swap
                    :math:`T(2m) + T(m) + m\gamma`; ``Lock`` and ``Unlock`` add
                    :math:`\alpha` each
==================  =====================================================================

The non-blocking collectives (``Iallreduce``, ``Ibcast``, ``Ibarrier``) complete these
same times after the last rank has called them.

For :math:`p` a power of two and a chunk that divides evenly, the ring is
:math:`2(p-1)\alpha + 2\frac{p-1}{p}m\beta + \frac{p-1}{p}m\gamma` and Rabenseifner's
algorithm the same with :math:`2\log_2 p\,\alpha` for the latency: never slower, and
faster from :math:`p = 4` on, in this contention-free model.

Why exact with uneven chunks: in the ring, the step that adds chunk c at one rank
waits for the step that sent chunk c at its left neighbour, so following one chunk
of the largest size :math:`\lceil N/p\rceil` around the ring gives a chain of
:math:`2(p-1)` transfers and :math:`p-1` additions of that size, and no chain is
longer (every step's transfer is at most that size).
"""

from __future__ import annotations

import math
from typing import Callable


def _ceil_log2(p: int) -> int:
    """The depth of a binomial tree on p ranks, ceil(log2 p)."""
    return 0 if p <= 1 else math.ceil(math.log2(p) - 1e-12)


def _floor_log2(p: int) -> int:
    """log2 of p', the largest power of two not above p."""
    return p.bit_length() - 1


def _T(alpha: float, beta: float, m: float) -> float:
    """T(m) = alpha + m beta, one message of m bytes."""
    return alpha + m * beta


def _net(network) -> tuple[float, float, float]:
    if not getattr(network, "uniform", False):
        raise ValueError(
            f"closed forms assume a uniform all-to-all network; {network.name!r} "
            f"is {network.topology}"
        )
    return network.alpha, network.beta, network.gamma


def bcast_binomial(p: int, N: int, itemsize: int, network) -> float:
    """Binomial-tree broadcast of m = N itemsize bytes: ceil(log2 p) T(m)."""
    a, b, _ = _net(network)
    return _ceil_log2(p) * _T(a, b, N * itemsize)


def reduce_binomial(p: int, N: int, itemsize: int, network) -> float:
    """Binomial-tree reduce of m bytes: ceil(log2 p) (T(m) + m gamma)."""
    a, b, g = _net(network)
    m = N * itemsize
    return _ceil_log2(p) * (_T(a, b, m) + m * g)


def allreduce_ps(p: int, N: int, itemsize: int, network) -> float:
    """Parameter server, m bytes: 2(p-1) T(m) + (p-1) m gamma (the root's ports)."""
    a, b, g = _net(network)
    m = N * itemsize
    return 2 * (p - 1) * _T(a, b, m) + (p - 1) * m * g


def allreduce_tree(p: int, N: int, itemsize: int, network) -> float:
    """Reduce then broadcast down binomial trees: ceil(log2 p) (2 T(m) + m gamma)."""
    a, b, g = _net(network)
    m = N * itemsize
    return _ceil_log2(p) * (2 * _T(a, b, m) + m * g)


def allreduce_recursive_doubling(p: int, N: int, itemsize: int, network) -> float:
    """Recursive doubling, m bytes: log2 p (T(m) + m gamma) for p a power of two."""
    a, b, g = _net(network)
    m = N * itemsize
    lg = _floor_log2(p)
    if p == 1 << lg:
        return lg * (_T(a, b, m) + m * g)
    return (lg + 2) * _T(a, b, m) + (lg + 1) * m * g  # fold in, log2 p' steps, fold out


def allreduce_ring(p: int, N: int, itemsize: int, network) -> float:
    """Ring: 2(p-1) T(c) + (p-1) c gamma for chunks of c = ceil(N/p) itemsize bytes."""
    a, b, g = _net(network)
    if p == 1:
        return 0.0
    c = -(-N // p) * itemsize  # the largest chunk, m/p when p divides N
    return 2 * (p - 1) * _T(a, b, c) + (p - 1) * c * g


def allreduce_rabenseifner(p: int, N: int, itemsize: int, network) -> float:
    """Rabenseifner: 2 log2 p' alpha + 2 (p'-1)/p' m_bar beta + (p'-1)/p' m_bar gamma.

    m_bar is the message zero-padded to ceil(N/p') p' elements; for p' < p the fold-in
    and fold-out steps add 2 T(m_bar) + m_bar gamma.
    """
    a, b, g = _net(network)
    if p == 1:
        return 0.0
    lg = _floor_log2(p)
    pp = 1 << lg
    m_bar = -(-N // pp) * pp * itemsize
    frac = (pp - 1) / pp
    t = 2 * lg * a + 2 * frac * m_bar * b + frac * m_bar * g
    if pp < p:
        t += 2 * _T(a, b, m_bar) + m_bar * g
    return t


def allgather_ring(p: int, N: int, itemsize: int, network) -> float:
    """Ring allgather of m = N itemsize bytes per rank: (p-1) T(m)."""
    a, b, _ = _net(network)
    return (p - 1) * _T(a, b, N * itemsize)


def gather_linear(p: int, N: int, itemsize: int, network) -> float:
    """Linear gather (or scatter) of m bytes per rank: (p-1) T(m), the root's port."""
    a, b, _ = _net(network)
    return (p - 1) * _T(a, b, N * itemsize)


scatter_linear = gather_linear


def barrier_dissemination(p: int, network) -> float:
    """Dissemination barrier: ceil(log2 p) alpha (empty messages)."""
    a, _, _ = _net(network)
    return _ceil_log2(p) * a


def alltoall_pairwise(p: int, N: int, itemsize: int, network) -> float:
    """Pairwise-exchange alltoall of blocks of m = N itemsize bytes: (p-1) T(m)."""
    a, b, _ = _net(network)
    return (p - 1) * _T(a, b, N * itemsize)


def gatherv_linear(counts, itemsize: int, network, root: int = 0) -> float:
    """Linear gatherv (or scatterv) of counts[i] elements from rank i: the sum of
    T(m_i) over the ranks other than the root (its port carries them one by one)."""
    a, b, _ = _net(network)
    return sum(_T(a, b, c * itemsize) for i, c in enumerate(counts) if i != root)


scatterv_linear = gatherv_linear


def reduce_scatter_ring(p: int, N: int, itemsize: int, network) -> float:
    """Ring reduce-scatter of blocks of N elements (c = N itemsize bytes):
    (p-1)(T(c) + c gamma)."""
    a, b, g = _net(network)
    c = N * itemsize
    return (p - 1) * (_T(a, b, c) + c * g)


def scan_recursive_doubling(p: int, N: int, itemsize: int, network) -> float:
    """Recursive-doubling scan of m = N itemsize bytes: ceil(log2 p) (T(m) + m gamma),
    the last rank receiving and combining in every round."""
    a, b, g = _net(network)
    m = N * itemsize
    return _ceil_log2(p) * (_T(a, b, m) + m * g)


def rma(op: str, nbytes: int, network) -> float:
    """Completion time of one one-sided operation of m bytes issued on idle ports:
    "put"/"get" T(m), "accumulate" T(m) + m gamma, "fetch_and_op" and
    "get_accumulate" 2T(m) + m gamma (a request and a reply), "compare_and_swap"
    T(2m) + T(m) + m gamma (origin and compare values out, the old value back)."""
    a, b, g = _net(network)
    m = nbytes
    table = {
        "put": _T(a, b, m),
        "get": _T(a, b, m),
        "accumulate": _T(a, b, m) + m * g,
        "fetch_and_op": 2 * _T(a, b, m) + m * g,
        "get_accumulate": 2 * _T(a, b, m) + m * g,
        "compare_and_swap": _T(a, b, 2 * m) + _T(a, b, m) + m * g,
    }
    try:
        return table[op]
    except KeyError:
        raise ValueError(f"unknown one-sided operation {op!r}; choose one of {', '.join(table)}")


ALLREDUCE: dict[str, Callable[[int, int, int, object], float]] = {
    "ps": allreduce_ps,
    "tree": allreduce_tree,
    "recursive_doubling": allreduce_recursive_doubling,
    "ring": allreduce_ring,
    "rabenseifner": allreduce_rabenseifner,
}


def allreduce(algorithm: str, p: int, N: int, itemsize: int, network) -> float:
    """Closed-form time of ``collectives.allreduce(..., algorithm=...)``.

    Parameters
    ----------
    algorithm : a key of ``ALLREDUCE`` ("ps", "tree", "recursive_doubling", "ring",
        "rabenseifner").
    p : the number of ranks.
    N, itemsize : the vector's length and the bytes of one element; the message is
        m = N itemsize bytes.
    network : a uniform (all-to-all) :class:`~dlkit.cluster.networks.Network`.

    Returns
    -------
    The time in seconds.
    """
    try:
        return ALLREDUCE[algorithm](p, N, itemsize, network)
    except KeyError:
        raise ValueError(
            f"unknown allreduce algorithm {algorithm!r}; choose one of {', '.join(ALLREDUCE)}"
        ) from None
