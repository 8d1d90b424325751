r"""Simulated allreduces beside their closed forms (chapter 14, *Synchronous SGD*).

- :func:`allreduce_run` runs one allreduce on a :class:`dlkit.cluster.SimCluster` and
  returns the run with the time of :mod:`dlkit.cluster.costs`;
- :func:`allreduce_costs` sweeps the message size :math:`m` at a fixed number of ranks
  :math:`p`, and :func:`allreduce_scaling` sweeps :math:`p` at a fixed :math:`m`: the
  closed-form time of each algorithm at every point, and the simulated time at the
  points named in ``simulate_at``, so that a chapter can assert that the two agree
  before it draws the curves.

:mod:`dlkit.viz.cluster` draws the runs (:func:`~dlkit.viz.cluster.timeline`,
:func:`~dlkit.viz.cluster.message_pattern`) and the sweeps
(:func:`~dlkit.viz.cluster.plot_cost_sweep`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

__all__ = ["allreduce_run", "CostSweep", "allreduce_costs", "allreduce_scaling"]

#: The three algorithms of the cost-against-p comparison: latency-optimal recursive
#: doubling, and the two bandwidth-optimal ones.
SCALING_ALGORITHMS = ("recursive_doubling", "ring", "rabenseifner")


def allreduce_run(
    algorithm: str = "ring",
    p: int = 8,
    N: int = 100_000,
    network: str = "10gbe",
    eager_limit: int = 65536,
):
    """Simulate one allreduce of an ``N``-element float64 vector (m = 8N bytes) on p ranks.

    Returns ``(result, predicted)``: the :class:`RunResult` and the closed-form time of
    :mod:`dlkit.cluster.costs`.
    """
    from dlkit.cluster import SimCluster, collectives, costs, networks

    net = networks.preset(network)

    def train(comm):
        x = np.full(N, float(comm.Get_rank()))
        return collectives.allreduce(comm, x, algorithm=algorithm)[0]

    res = SimCluster(p, network=net, eager_limit=eager_limit).run(train)
    return res, costs.allreduce(algorithm, p, N, 8, net)


@dataclass(frozen=True)
class CostSweep:
    """Allreduce times over a range of message sizes (fixed p) or of rank counts (fixed m).

    Attributes
    ----------
    axis : "m" (``x`` holds message sizes in bytes, ``p`` is fixed) or "p" (``x`` holds
        rank counts, ``m`` is fixed).
    x : shape (K,) ints, the swept values.
    p, m : the fixed number of ranks (axis "m") or message size in bytes (axis "p");
        the other is None.
    network : the :class:`~dlkit.cluster.networks.Network`.
    closed_form : algorithm -> shape (K,) array of seconds, one per value of ``x``.
    simulated : algorithm -> {x: seconds} at the values that were simulated.
    """

    axis: str
    x: np.ndarray
    p: int | None
    m: int | None
    network: object
    closed_form: dict[str, np.ndarray]
    simulated: dict[str, dict[int, float]] = field(default_factory=dict)

    @property
    def algorithms(self) -> tuple[str, ...]:
        return tuple(self.closed_form)

    def at(self, algorithm: str, x: int) -> float:
        """The closed-form seconds of `algorithm` at the swept value `x`."""
        where = np.flatnonzero(self.x == x)
        if where.size == 0:
            raise ValueError(f"{x} is not a swept value of {self.axis}; the sweep has {self.x}")
        return float(self.closed_form[algorithm][where[0]])

    def max_rel_error(self) -> float:
        """The largest |simulated - closed form| / closed form over the simulated points."""
        errs = [
            abs(t - self.at(a, x)) / max(self.at(a, x), 1e-300)
            for a, pts in self.simulated.items()
            for x, t in pts.items()
        ]
        return max(errs, default=0.0)


def _network(network):
    from dlkit.cluster import networks

    return networks.preset(network) if isinstance(network, str) else network


def _elements(nbytes, name: str) -> int:
    """The float64 count of a message of `nbytes` bytes (a positive multiple of 8)."""
    if isinstance(nbytes, bool) or int(nbytes) != nbytes or nbytes < 8 or int(nbytes) % 8:
        raise ValueError(
            f"{name} must hold positive multiples of 8 bytes (float64 messages); got {nbytes!r}"
        )
    return int(nbytes) // 8


def _check_subset(simulate_at, x, name: str) -> None:
    missing = sorted(set(simulate_at) - set(int(v) for v in x))
    if missing:
        raise ValueError(f"simulate_at={missing} are not among the swept {name}; add them there")


def allreduce_costs(
    p: int,
    sizes: Sequence[int],
    network="10gbe",
    algorithms: Sequence[str] | None = None,
    simulate_at: Sequence[int] = (),
) -> CostSweep:
    """Allreduce time against the message size m at a fixed number of ranks `p`.

    Parameters
    ----------
    p : the number of ranks.
    sizes : message sizes m in bytes, multiples of 8 (float64 vectors of m/8 elements).
    network : a uniform :class:`~dlkit.cluster.networks.Network` or a preset name.
    algorithms : keys of :data:`dlkit.cluster.costs.ALLREDUCE` (default: all five).
    simulate_at : sizes, among `sizes`, at which every algorithm is also run on the
        simulated cluster (:func:`dlkit.parallel.allreduce.simulate_allreduce`).

    Returns
    -------
    A :class:`CostSweep` with ``axis == "m"``.
    """
    from dlkit.cluster import costs
    from dlkit.parallel.allreduce import ALGORITHMS, simulate_allreduce

    net = _network(network)
    algorithms = tuple(ALGORITHMS if algorithms is None else algorithms)
    x = np.array([_elements(m, "sizes") * 8 for m in sizes], dtype=np.int64)
    _check_subset(simulate_at, x, "sizes")
    closed = {
        a: np.array([costs.allreduce(a, p, int(m) // 8, 8, net) for m in x]) for a in algorithms
    }
    sim = {
        a: {int(m): simulate_allreduce(p, int(m) // 8, a, net).time for m in simulate_at}
        for a in algorithms
    }
    return CostSweep("m", x, p, None, net, closed, sim if simulate_at else {})


def allreduce_scaling(
    ps: Sequence[int],
    nbytes: int,
    network="10gbe",
    algorithms: Sequence[str] = SCALING_ALGORITHMS,
    simulate_at: Sequence[int] = (),
) -> CostSweep:
    """Allreduce time against the number of ranks p for a fixed message of `nbytes`.

    Parameters
    ----------
    ps : rank counts, each at least 2.
    nbytes : the message size m in bytes, a multiple of 8 (a float64 vector).
    network : a uniform :class:`~dlkit.cluster.networks.Network` or a preset name.
    algorithms : keys of :data:`dlkit.cluster.costs.ALLREDUCE` (default: recursive
        doubling, ring and Rabenseifner).
    simulate_at : rank counts, among `ps`, at which every algorithm is also run on the
        simulated cluster.

    Returns
    -------
    A :class:`CostSweep` with ``axis == "p"``.
    """
    from dlkit.cluster import costs
    from dlkit.parallel.allreduce import simulate_allreduce

    net = _network(network)
    N = _elements(nbytes, "nbytes")
    x = np.array([int(q) for q in ps], dtype=np.int64)
    if x.size == 0 or x.min() < 2:
        raise ValueError(f"ps must be rank counts of at least 2; got {list(ps)}")
    _check_subset(simulate_at, x, "ps")
    closed = {a: np.array([costs.allreduce(a, int(q), N, 8, net) for q in x]) for a in algorithms}
    sim = {
        a: {int(q): simulate_allreduce(int(q), N, a, net).time for q in simulate_at}
        for a in algorithms
    }
    return CostSweep("p", x, None, 8 * N, net, closed, sim if simulate_at else {})
