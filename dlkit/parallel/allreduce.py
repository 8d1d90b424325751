"""Allreduce algorithms compared: simulated runs, closed forms and crossovers.

Chapter 14 asks which allreduce to use for a gradient of n bytes on p ranks. The
algorithms themselves live in :mod:`dlkit.cluster.collectives` (written from
point-to-point messages) and their closed-form costs in :mod:`dlkit.cluster.costs`;
this module runs them on a simulated cluster and compares:

* :func:`simulate_allreduce` - one allreduce of N numbers on p simulated ranks;
* :func:`compare` - simulated time beside the closed form, per algorithm;
* :func:`crossover` - the message size at which one algorithm overtakes another
  (latency-bound algorithms win small messages, bandwidth-optimal ones large).
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
    """Allreduce N float64 numbers on `p` simulated ranks with `algorithm`.

    Rank r contributes the vector r + 1, so every rank must end with p(p+1)/2.
    Extra keyword arguments go to :class:`~dlkit.cluster.SimCluster` (e.g.
    ``faults=``). Returns the RunResult.
    """
    res = SimCluster(p, network=network, **kwargs).run(_allreduce_body, N, algorithm)
    want = p * (p + 1) / 2
    if any(v != want for v in res.values):
        raise AssertionError(f"{algorithm} allreduce gave {res.values}, expected {want}")
    return res


@dataclass(frozen=True)
class Comparison:
    """One algorithm at one (p, N): simulated and closed-form seconds."""

    algorithm: str
    p: int
    N: int
    simulated: float
    closed_form: float

    @property
    def rel_error(self) -> float:
        return abs(self.simulated - self.closed_form) / max(self.closed_form, 1e-300)


def compare(
    p: int, N: int, network="10gbe", algorithms: tuple[str, ...] = ALGORITHMS
) -> list[Comparison]:
    """Simulate every algorithm once and put its closed-form time beside it."""
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

    Found by bisection on the closed forms (both are piecewise linear in N).
    None if `fast_large` never catches up below `N_max`.
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
