"""The MPI constants that belong to a communicator, simulated or real.

``MPI.SUM`` and ``MPI.IN_PLACE`` of mpi4py cannot be passed to the simulated
communicator and vice versa, so code that must run on both asks the communicator
which module it belongs to.
"""

from __future__ import annotations

from types import ModuleType


def mpi_for(comm) -> ModuleType:
    """``mpi4py.MPI`` for an mpi4py communicator, ``dlkit.cluster.MPI`` otherwise."""
    if type(comm).__module__.startswith("mpi4py"):
        from mpi4py import MPI

        return MPI
    from dlkit.cluster import MPI

    return MPI


def charge(comm, flops: float, label: str) -> None:
    """Charge `flops` of compute to this rank on a simulated cluster; no-op on real MPI."""
    if type(comm).__module__.startswith("mpi4py"):
        return
    from dlkit.cluster import compute

    compute(comm, flops, label=label)
