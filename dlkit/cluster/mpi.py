"""The ``MPI`` namespace of the simulated cluster, mirroring mpi4py's names.

Code written against ``from mpi4py import MPI`` runs unchanged on the simulator with
``from dlkit.cluster import MPI``: the reduction operations (``SUM``, ``MAX``, ``MIN``,
``PROD``), the wildcards (``ANY_SOURCE``, ``ANY_TAG``), ``IN_PLACE``, lock types,
datatype names (``DOUBLE``, ``FLOAT``, ``INT``...; accepted in ``[buf, MPI.DOUBLE]``
buffer specs), ``MAXLOC``/``MINLOC`` with the pair types ``DOUBLE_INT``...,
``REPLACE``/``NO_OP`` for one-sided accumulates, the window assertions ``MODE_*``,
``Status``, ``Request`` (``Waitall``, ``Waitany``, ``Waitsome``, ``Testany``...),
``Win`` (``Create``, ``Allocate``), ``Group``, ``Message``, ``Wtime()``,
``COMM_WORLD``, ``COMM_SELF`` and ``COMM_NULL``. Inside a simulated rank,
``MPI.COMM_WORLD``, ``MPI.COMM_SELF`` and ``MPI.Wtime()`` refer to the calling rank's
communicators and virtual clock (each rank is a thread).

The constants live in :mod:`.constants` (which imports nothing from the rest of the
package), ``Status`` and ``Request`` in :mod:`.requests`; this module gathers them
under mpi4py's names and re-exports them, so ``from dlkit.cluster.mpi import SUM``
keeps working.
"""

from __future__ import annotations

from .comm import SimComm
from .comm_more import COMM_NULL, Group, Message
from .constants import (
    ANY_SOURCE,
    ANY_TAG,
    BAND,
    BOOL,
    BOR,
    BYTE,
    DOUBLE_INT,
    FLOAT_INT,
    LONG_INT,
    MAXLOC,
    MINLOC,
    MODE_NOCHECK,
    MODE_NOPRECEDE,
    MODE_NOPUT,
    MODE_NOSTORE,
    MODE_NOSUCCEED,
    NO_OP,
    REPLACE,
    TWOINT,
    CHAR,
    DOUBLE,
    FLOAT,
    IN_PLACE,
    INT,
    INT64_T,
    LAND,
    LOCK_EXCLUSIVE,
    LOCK_SHARED,
    LONG,
    LOR,
    MAX,
    MIN,
    PROC_NULL,
    PROD,
    SUM,
    UNDEFINED,
    Datatype,
    Op,
)
from . import constants as _constants
from .current import _local  # noqa: F401 - re-exported for dlkit.cluster.mpi._local
from .current import current_comm as _current_comm
from .requests import Request, Status
from .window import Win

__all__ = [
    "MPI",
    *_constants.__all__,
    "Status",
    "Request",
    "Win",
    "Group",
    "Message",
    "COMM_NULL",
]


class _Namespace:
    """``dlkit.cluster.MPI``: mpi4py's module-level names for the simulator."""

    ANY_SOURCE = ANY_SOURCE
    ANY_TAG = ANY_TAG
    PROC_NULL = PROC_NULL
    UNDEFINED = UNDEFINED
    LOCK_EXCLUSIVE = LOCK_EXCLUSIVE
    LOCK_SHARED = LOCK_SHARED
    IN_PLACE = IN_PLACE
    SUM, PROD, MAX, MIN = SUM, PROD, MAX, MIN
    LAND, LOR, BAND, BOR = LAND, LOR, BAND, BOR
    BYTE, CHAR, INT, LONG, INT64_T = BYTE, CHAR, INT, LONG, INT64_T
    FLOAT, DOUBLE, BOOL = FLOAT, DOUBLE, BOOL
    MAXLOC, MINLOC, REPLACE, NO_OP = MAXLOC, MINLOC, REPLACE, NO_OP
    DOUBLE_INT, FLOAT_INT, LONG_INT, TWOINT = DOUBLE_INT, FLOAT_INT, LONG_INT, TWOINT
    MODE_NOCHECK, MODE_NOSTORE, MODE_NOPUT = MODE_NOCHECK, MODE_NOSTORE, MODE_NOPUT
    MODE_NOPRECEDE, MODE_NOSUCCEED = MODE_NOPRECEDE, MODE_NOSUCCEED
    COMM_NULL = COMM_NULL
    Group = Group
    Message = Message
    Status = Status
    Op = Op
    Datatype = Datatype
    Win = Win
    Request = Request
    Comm = SimComm

    @property
    def COMM_WORLD(self):
        return _current_comm()

    @property
    def COMM_SELF(self):
        """The calling rank alone (the default communicator of ``Win.Create``)."""
        return _current_comm()._self_comm

    @staticmethod
    def Wtime() -> float:
        return _current_comm().Wtime()

    def __repr__(self) -> str:
        return "<dlkit.cluster.MPI: mpi4py's names for the simulated cluster>"


MPI = _Namespace()
