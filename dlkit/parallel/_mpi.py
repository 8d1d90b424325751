"""The MPI constants that belong to a communicator, simulated or real.

``MPI.SUM`` and ``MPI.IN_PLACE`` of mpi4py cannot be passed to the simulated
communicator and vice versa, so code that must run on both asks the communicator
which module it belongs to.
"""

from __future__ import annotations

from dlkit.cluster import MPI as SIM_MPI
from dlkit.cluster import compute, is_simulated


def mpi_for(comm):
    """``dlkit.cluster.MPI`` for a simulated communicator, ``mpi4py.MPI`` otherwise."""
    if is_simulated(comm):
        return SIM_MPI
    from mpi4py import MPI

    return MPI


def charge(comm, flops: float, label: str) -> None:
    """Charge `flops` of compute to this rank on a simulated cluster; no-op on real MPI."""
    compute(comm, flops, label=label)
