r"""Closed-form costs of the collectives in :mod:`dlkit.cluster.collectives`.

Each function returns the simulated time, in seconds, of one call that starts with
every rank at the same virtual time, on an all-to-all network with uniform
:math:`(\alpha, \beta)` and reduction cost :math:`\gamma` per byte (Thakur,
Rabenseifner & Gropp 2005; Patarasuk & Yuan 2009). They are exact for the
simulator's charging (the port model of :mod:`dlkit.cluster.networks`) for every
:math:`p`, powers of two or not, and every :math:`N`, divisible by :math:`p` or not:
the tests check agreement to 1e-9 relative.

Notation: :math:`p` ranks; a vector of :math:`N` elements of :math:`s` bytes
(``itemsize``), :math:`n = Ns` bytes; :math:`T(m) = \alpha + m\beta`;
:math:`L = \lceil \log_2 p \rceil`; :math:`K = \lfloor \log_2 p \rfloor`,
:math:`p' = 2^K`.

==================  =====================================================================
algorithm           time
==================  =====================================================================
bcast (binomial)    :math:`L\,T(n)`
reduce (binomial)   :math:`L\,(T(n) + n\gamma)`
ps                  :math:`2(p-1)\,T(n) + (p-1)\,n\gamma`
tree                :math:`L\,(2T(n) + n\gamma)`
recursive doubling  :math:`K\,(T(n) + n\gamma)`; if :math:`p' < p`:
                    :math:`(K+2)\,T(n) + (K+1)\,n\gamma`
ring                :math:`2(p-1)\,T(m) + (p-1)\,m\gamma`, :math:`m = \lceil N/p \rceil s`
rabenseifner        :math:`2K\alpha + 2\frac{p'-1}{p'}M\beta + \frac{p'-1}{p'}M\gamma`,
                    :math:`M = \lceil N/p' \rceil p' s` (padded); if :math:`p' < p`, plus
                    :math:`2T(M) + M\gamma` for the fold-in and fold-out steps
allgather (ring)    :math:`(p-1)\,T(n)`, n = bytes per rank
gather / scatter    :math:`(p-1)\,T(n)`, n = bytes per rank
barrier             :math:`L\,\alpha`
==================  =====================================================================

Why exact with uneven chunks: in the ring, the step that adds chunk c at one rank
waits for the step that sent chunk c at its left neighbour, so following one chunk
of the largest size :math:`\lceil N/p\rceil` around the ring gives a chain of
:math:`2(p-1)` transfers and :math:`p-1` additions of that size, and no chain is
longer (every step's transfer is at most that size).
"""

from __future__ import annotations

import math
from typing import Callable


def _L(p: int) -> int:
    return 0 if p <= 1 else math.ceil(math.log2(p) - 1e-12)


def _K(p: int) -> int:
    return p.bit_length() - 1


def _T(alpha: float, beta: float, m: float) -> float:
    return alpha + m * beta


def _net(network) -> tuple[float, float, float]:
    if not getattr(network, "uniform", False):
        raise ValueError(
            f"closed forms assume a uniform all-to-all network; {network.name!r} "
            f"is {network.topology}"
        )
    return network.alpha, network.beta, network.gamma


def bcast_binomial(p: int, N: int, itemsize: int, network) -> float:
    a, b, _ = _net(network)
    return _L(p) * _T(a, b, N * itemsize)


def reduce_binomial(p: int, N: int, itemsize: int, network) -> float:
    a, b, g = _net(network)
    n = N * itemsize
    return _L(p) * (_T(a, b, n) + n * g)


def allreduce_ps(p: int, N: int, itemsize: int, network) -> float:
    a, b, g = _net(network)
    n = N * itemsize
    return 2 * (p - 1) * _T(a, b, n) + (p - 1) * n * g


def allreduce_tree(p: int, N: int, itemsize: int, network) -> float:
    a, b, g = _net(network)
    n = N * itemsize
    return _L(p) * (2 * _T(a, b, n) + n * g)


def allreduce_recursive_doubling(p: int, N: int, itemsize: int, network) -> float:
    a, b, g = _net(network)
    n = N * itemsize
    K = _K(p)
    if p == 1 << K:
        return K * (_T(a, b, n) + n * g)
    return (K + 2) * _T(a, b, n) + (K + 1) * n * g


def allreduce_ring(p: int, N: int, itemsize: int, network) -> float:
    a, b, g = _net(network)
    if p == 1:
        return 0.0
    m = -(-N // p) * itemsize
    return 2 * (p - 1) * _T(a, b, m) + (p - 1) * m * g


def allreduce_rabenseifner(p: int, N: int, itemsize: int, network) -> float:
    a, b, g = _net(network)
    if p == 1:
        return 0.0
    K = _K(p)
    pp = 1 << K
    M = -(-N // pp) * pp * itemsize
    frac = (pp - 1) / pp
    t = 2 * K * a + 2 * frac * M * b + frac * M * g
    if pp < p:
        t += 2 * _T(a, b, M) + M * g
    return t


def allgather_ring(p: int, N: int, itemsize: int, network) -> float:
    a, b, _ = _net(network)
    return (p - 1) * _T(a, b, N * itemsize)


def gather_linear(p: int, N: int, itemsize: int, network) -> float:
    a, b, _ = _net(network)
    return (p - 1) * _T(a, b, N * itemsize)


scatter_linear = gather_linear


def barrier_dissemination(p: int, network) -> float:
    a, _, _ = _net(network)
    return _L(p) * a


ALLREDUCE: dict[str, Callable[[int, int, int, object], float]] = {
    "ps": allreduce_ps,
    "tree": allreduce_tree,
    "recursive_doubling": allreduce_recursive_doubling,
    "ring": allreduce_ring,
    "rabenseifner": allreduce_rabenseifner,
}


def allreduce(algorithm: str, p: int, N: int, itemsize: int, network) -> float:
    """Closed-form time of ``collectives.allreduce(..., algorithm=...)``."""
    try:
        return ALLREDUCE[algorithm](p, N, itemsize, network)
    except KeyError:
        raise ValueError(
            f"unknown allreduce algorithm {algorithm!r}; choose one of {', '.join(ALLREDUCE)}"
        ) from None
