"""One simulated allreduce beside its closed form (chapter 14, *Synchronous SGD*).

:func:`allreduce_run` runs an allreduce on a :class:`dlkit.cluster.SimCluster` and
returns the run with the time of :mod:`dlkit.cluster.costs`; :mod:`dlkit.viz.cluster`
draws its timeline and message pattern.
"""

from __future__ import annotations

import numpy as np


def allreduce_run(
    algorithm: str = "ring",
    p: int = 8,
    N: int = 100_000,
    network: str = "10gbe",
    eager_limit: int = 65536,
):
    """Simulate one allreduce of an N-element float64 vector on p ranks.

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
