"""The communicator of the simulated rank running in this thread.

``SimCluster.run`` sets it whenever a rank's greenlet resumes, so that
``MPI.COMM_WORLD`` and ``MPI.Wtime()`` mean the calling rank's communicator and
virtual clock, as they do in an mpi4py program.
"""

from __future__ import annotations

import threading

__all__ = ["current_comm", "set_current_comm"]

_local = threading.local()  # .comm: the SimComm of the rank running in this thread


def set_current_comm(comm) -> None:
    """Make `comm` (or None) the communicator of the rank running in this thread."""
    _local.comm = comm


def current_comm():
    """The running rank's communicator; a RuntimeError outside a simulated rank."""
    comm = getattr(_local, "comm", None)
    if comm is None:
        raise RuntimeError(
            "MPI.COMM_WORLD / MPI.Wtime() of the simulator only work inside a rank "
            "started by SimCluster(n).run(train); use the comm passed to train"
        )
    return comm
