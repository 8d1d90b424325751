"""Allreduce algorithms compared: simulated runs, closed forms and crossovers.

Chapter 14 asks which allreduce to use for a gradient of m bytes on p ranks. The
algorithms themselves live in :mod:`dlkit.cluster.collectives` (written from
point-to-point messages) and their closed-form costs in :mod:`dlkit.cluster.costs`;
this module runs them on a simulated cluster and compares:

* :func:`simulate_allreduce` - one allreduce of ``N`` float64 numbers (m = 8N bytes)
  on p simulated ranks;
* :func:`compare` - simulated time beside the closed form, per algorithm;
* :func:`crossover` - the message size at which one algorithm overtakes another
  (latency-bound algorithms win small messages, bandwidth-optimal ones large).

Functions count the message in elements, ``N`` (the argument name), and the text in
bytes, m = N itemsize.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlkit.cluster import SimCluster, collectives, costs

__all__ = ["ALGORITHMS", "simulate_allreduce", "Comparison", "compare", "crossover"]

#: The allreduce algorithms of dlkit.cluster.collectives, cheapest-latency first.
ALGORITHMS = ("recursive_doubling", "tree", "rabenseifner", "ring", "ps")


def _allreduce_body(comm, N: int, algorithm: str):
    x = np.full(N, comm.Get_rank() + 1.0)
    out = collectives.allreduce(comm, x, algorithm=algorithm)
    return float(out[0])


def simulate_allreduce(p: int, N: int, algorithm: str = "ring", network="10gbe", **kwargs):
    """Allreduce ``N`` float64 numbers (m = 8N bytes) on `p` simulated ranks.

    Rank r contributes the vector r + 1, so every rank must end with p(p+1)/2.
    `algorithm` is a key of :data:`dlkit.cluster.collectives.ALLREDUCE`; `network` a
    :class:`~dlkit.cluster.networks.Network` or a preset name. Extra keyword arguments
    go to :class:`~dlkit.cluster.SimCluster` (e.g. ``faults=``). Returns the
    RunResult; its ``time`` is the simulated seconds.
    """
    res = SimCluster(p, network=network, **kwargs).run(_allreduce_body, N, algorithm)
    want = p * (p + 1) / 2
    if any(v != want for v in res.values):
        raise AssertionError(f"{algorithm} allreduce gave {res.values}, expected {want}")
    return res


@dataclass(frozen=True)
class Comparison:
    """One algorithm at one (p, N): simulated and closed-form seconds.

    ``N`` is the vector's length in float64 elements; ``nbytes`` the message size m.
    """

    algorithm: str
    p: int
    N: int
    simulated: float
    closed_form: float

    @property
    def nbytes(self) -> int:
        """The message size m = 8N bytes."""
        return 8 * self.N

    @property
    def rel_error(self) -> float:
        """|simulated - closed form| / closed form."""
        return abs(self.simulated - self.closed_form) / max(self.closed_form, 1e-300)


def compare(
    p: int, N: int, network="10gbe", algorithms: tuple[str, ...] = ALGORITHMS
) -> list[Comparison]:
    """Simulate every algorithm once on `p` ranks, ``N`` float64 (m = 8N bytes), and put
    its closed-form time (:func:`dlkit.cluster.costs.allreduce`) beside it."""
    from dlkit.cluster import networks

    net = networks.preset(network) if isinstance(network, str) else network
    return [
        Comparison(a, p, N, simulate_allreduce(p, N, a, net).time, costs.allreduce(a, p, N, 8, net))
        for a in algorithms
    ]


def crossover(
    p: int,
    network,
    fast_small: str = "recursive_doubling",
    fast_large: str = "ring",
    itemsize: int = 8,
    N_max: int = 1 << 34,
) -> int | None:
    """Smallest N (elements) from which `fast_large` is no slower than `fast_small`.

    The crossover message size is m = N itemsize bytes. Found by bisection on the
    closed forms (both are piecewise linear in N). 1 if `fast_large` is no slower even
    for one element (Rabenseifner's algorithm against the ring, p a power of two);
    None if it never catches up below `N_max`.
    """
    from dlkit.cluster import networks

    net = networks.preset(network) if isinstance(network, str) else network

    def large_wins(N: int) -> bool:
        return costs.allreduce(fast_large, p, N, itemsize, net) <= costs.allreduce(
            fast_small, p, N, itemsize, net
        )

    if large_wins(1):
        return 1
    if not large_wins(N_max):
        return None
    lo, hi = 1, N_max  # large_wins(lo) False, large_wins(hi) True
    while hi - lo > 1:
        mid = (lo + hi) // 2
        lo, hi = (lo, mid) if large_wins(mid) else (mid, hi)
    return hi
