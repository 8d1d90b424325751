"""dlkit.cluster: an MPI-shaped communicator, simulated in one process or real.

The distributed chapters write a training step once, as a function of an mpi4py-style
communicator, and run it in two places:

* **Simulated** - ``SimCluster(p, network=..., compute=..., faults=...).run(train)``
  runs ``train(comm)`` on p ranks in one process. Time is virtual: a message of m bytes
  costs ``alpha + m*beta`` on the chosen network (:mod:`~dlkit.cluster.networks`), work is
  charged with ``compute(comm, flops)`` at the device's rate
  (:mod:`~dlkit.cluster.devices`), so every result and timeline is repeatable. A
  deadlock raises :class:`DeadlockError` naming the blocked ranks and calls; faults
  (:class:`Faults`) slow ranks down, crash them or delay links.
* **Real** - the same file on a real MPI installation::

      mpiexec -n 4 python -m mpi4py script.py

  with ``train(MPI.COMM_WORLD)`` at the bottom of the script (``from mpi4py import
  MPI``). ``compute`` does nothing there. Run it under ``python -m mpi4py``: then an
  uncaught exception in one rank calls ``MPI_Abort`` and stops the whole job, instead
  of leaving the other ranks waiting forever in a receive (real MPI has no fault
  tolerance, so crash experiments are simulation-only). With this repository's
  virtual environment: ``.venv/bin/mpiexec -n 4 .venv/bin/python -m mpi4py
  script.py`` (MPICH and mpi4py from PyPI; ``-n`` may exceed the number of cores).

A script that runs in both places::

    import numpy as np
    from dlkit.cluster import SimCluster, collectives, compute

    def train(comm):
        g = np.full(1000, comm.Get_rank(), dtype=np.float64)   # a "gradient"
        compute(comm, 2e9)                                      # charge 2 GFLOP
        total = collectives.allreduce_ring(comm, g)             # or comm.Allreduce
        return total[0]

    if __name__ == "__main__":
        try:
            from mpi4py import MPI as REAL
            if REAL.COMM_WORLD.Get_size() > 1:
                print(train(REAL.COMM_WORLD)); raise SystemExit
        except ImportError:
            pass
        print(SimCluster(4).run(train).values)

What the simulated communicator offers (mpi4py's names and semantics): ranks and
sizes, ``Barrier``, ``Wtime`` (virtual seconds; ``MPI.Wtime()`` works in both
places), point-to-point ``send/recv/isend/irecv/sendrecv`` (pickled objects) and
``Send/Recv/Isend/Irecv/Sendrecv/Ssend/Issend`` (numpy buffers), ``Probe/Iprobe``,
``Mprobe/Improbe`` with ``Message.Recv``, ``Request.wait/test/Waitall/Waitany/
Waitsome/Testany/Testsome``, ``ANY_SOURCE``/``ANY_TAG``/``PROC_NULL`` with ``Status``,
the collectives ``bcast/Bcast, reduce/Reduce, allreduce/Allreduce, gather/Gather,
Gatherv, allgather/Allgather, Allgatherv, scatter/Scatter, Scatterv, alltoall/Alltoall,
Alltoallv, Reduce_scatter, Reduce_scatter_block, scan/Scan, exscan/Exscan`` (``MAXLOC``/
``MINLOC`` on (value, index) pairs), the non-blocking ``Iallreduce, Ibcast, Ibarrier``,
sub-communicators (``Split``, ``Dup``, ``Get_group``, ``MPI.COMM_SELF``,
``MPI.COMM_NULL``) and one-sided windows (``MPI.Win.Create``, ``MPI.Win.Allocate``,
``Lock/Unlock``, ``Lock_all/Unlock_all``, ``Flush``..., ``Fence``, ``Put/Get/
Accumulate/Get_accumulate/Fetch_and_op/Compare_and_swap``, ``Free``; progress at a
busy target: ``SimCluster(progress="async" | "target")``, :mod:`dlkit.cluster.window`).
Timing rules: :mod:`dlkit.cluster.matching` and :mod:`dlkit.cluster.networks`;
closed forms of the collectives and one-sided operations: :mod:`dlkit.cluster.costs`. The engine behind the
simulator is built in layers: :mod:`~dlkit.cluster.scheduler`,
:mod:`~dlkit.cluster.requests`, :mod:`~dlkit.cluster.matching`,
:mod:`~dlkit.cluster.engine`; the constants live in :mod:`~dlkit.cluster.constants`.

Portability notes: mpi4py communicators have no ``Wtime`` method (use ``MPI.Wtime()``)
and no ``seed`` attribute (the simulator's ``comm.seed`` is ``SimCluster(seed=...)`` +
rank; on real MPI use ``dlkit.rng(seed + comm.Get_rank())``); a rank that exposes no
memory in a window should pass ``np.zeros(0)`` (real MPI does not accept None).

Public names: :class:`SimCluster`, :class:`RunResult`, ``MPI`` (mpi4py's constants and
classes), :class:`DeadlockError`, :class:`RankCrashed`, :class:`RankError`,
:class:`CollectiveMismatchError`, :class:`SimTimeoutError`,
:class:`UnreceivedMessageWarning`,
:func:`compute`, :func:`is_simulated`, :func:`wait`, :class:`Faults`, the modules ``networks``,
``devices``, ``collectives`` and ``costs``.
"""

from . import collectives, costs, devices, networks
from .comm import Request, SimComm
from .engine import Event, Transfer
from .errors import (
    CollectiveMismatchError,
    DeadlockError,
    RankCrashed,
    RankError,
    SimTimeoutError,
    UnreceivedMessageWarning,
)
from .faults import Faults
from .hooks import compute, is_simulated, wait
from .mpi import MPI
from .sim import RunResult, SimCluster
from .window import Win

__all__ = [
    "SimCluster",
    "RunResult",
    "SimComm",
    "Request",
    "Win",
    "MPI",
    "DeadlockError",
    "RankCrashed",
    "RankError",
    "compute",
    "is_simulated",
    "wait",
    "networks",
    "devices",
    "Faults",
    "collectives",
    "costs",
    "Event",
    "Transfer",
    "CollectiveMismatchError",
    "SimTimeoutError",
    "UnreceivedMessageWarning",
]
