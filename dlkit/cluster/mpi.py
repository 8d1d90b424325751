"""The ``MPI`` namespace of the simulated cluster, mirroring mpi4py's names.

Code written against ``from mpi4py import MPI`` runs unchanged on the simulator with
``from dlkit.cluster import MPI``: the reduction operations (``SUM``, ``MAX``, ``MIN``,
``PROD``), the wildcards (``ANY_SOURCE``, ``ANY_TAG``), ``IN_PLACE``, lock types,
datatype names (``DOUBLE``, ``FLOAT``, ``INT``...; accepted in ``[buf, MPI.DOUBLE]``
buffer specs), ``Status``, ``Request.Waitall``, ``Win.Create``, ``Wtime()`` and
``COMM_WORLD``. Inside a simulated rank, ``MPI.COMM_WORLD`` and ``MPI.Wtime()`` refer
to the calling rank's communicator and virtual clock (each rank is a thread).
"""

from __future__ import annotations

import operator
import threading
from typing import Any, Callable

import numpy as np

# mpi4py's values for the wildcards, so printed values agree.
ANY_SOURCE = -2
ANY_TAG = -1
PROC_NULL = -1
UNDEFINED = -32766
LOCK_EXCLUSIVE = 234
LOCK_SHARED = 235

_local = threading.local()  # .comm: the SimComm of the rank running in this thread


class _InPlace:
    def __repr__(self) -> str:
        return "MPI.IN_PLACE"


IN_PLACE = _InPlace()


class Datatype:
    """A named MPI datatype; only its name and size matter in the simulator."""

    def __init__(self, name: str, dtype: str | None):
        self.name = name
        self.dtype = np.dtype(dtype) if dtype else None

    def Get_size(self) -> int:
        return 1 if self.dtype is None else self.dtype.itemsize

    def __repr__(self) -> str:
        return f"MPI.{self.name}"


BYTE = Datatype("BYTE", "u1")
CHAR = Datatype("CHAR", "S1")
INT = Datatype("INT", "i4")
LONG = Datatype("LONG", "i8")
INT64_T = Datatype("INT64_T", "i8")
FLOAT = Datatype("FLOAT", "f4")
DOUBLE = Datatype("DOUBLE", "f8")
BOOL = Datatype("BOOL", "?")


def _pick(np_fn: Callable, py_fn: Callable) -> Callable:
    def combine(a, b):
        if isinstance(a, np.ndarray) or isinstance(b, np.ndarray):
            return np_fn(a, b)
        return py_fn(a, b)

    return combine


class Op:
    """A reduction operation: ``Op(a, b)`` combines two values (arrays elementwise).

    ``ufunc`` is the numpy ufunc used on buffers (``op.ufunc(a, b, out=a)``); calling
    the op on Python objects uses the Python operator, as mpi4py does.
    """

    def __init__(self, name: str, ufunc: np.ufunc, py: Callable):
        self.name = name
        self.ufunc = ufunc
        self._combine = _pick(ufunc, py)

    def __call__(self, a: Any, b: Any) -> Any:
        return self._combine(a, b)

    def __repr__(self) -> str:
        return f"MPI.{self.name}"


SUM = Op("SUM", np.add, operator.add)
PROD = Op("PROD", np.multiply, operator.mul)
MAX = Op("MAX", np.maximum, max)
MIN = Op("MIN", np.minimum, min)
LAND = Op("LAND", np.logical_and, lambda a, b: a and b)
LOR = Op("LOR", np.logical_or, lambda a, b: a or b)
BAND = Op("BAND", np.bitwise_and, operator.and_)
BOR = Op("BOR", np.bitwise_or, operator.or_)


class Status:
    """What a receive matched: ``Get_source()``, ``Get_tag()``, ``Get_count()``."""

    def __init__(self):
        self.source = ANY_SOURCE
        self.tag = ANY_TAG
        self.count = 0  # bytes
        self.error = 0

    def Get_source(self) -> int:
        return self.source

    def Get_tag(self) -> int:
        return self.tag

    def Get_count(self, datatype: Datatype = BYTE) -> int:
        return self.count // datatype.Get_size()

    def Get_elements(self, datatype: Datatype = BYTE) -> int:
        return self.Get_count(datatype)

    def _fill(self, source: int, tag: int, count: int) -> None:
        self.source, self.tag, self.count = source, tag, count


def _current_comm():
    comm = getattr(_local, "comm", None)
    if comm is None:
        raise RuntimeError(
            "MPI.COMM_WORLD / MPI.Wtime() of the simulator only work inside a rank "
            "started by SimCluster(n).run(train); use the comm passed to train"
        )
    return comm


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
    Status = Status
    Op = Op
    Datatype = Datatype

    @property
    def COMM_WORLD(self):
        return _current_comm()

    @staticmethod
    def Wtime() -> float:
        return _current_comm().Wtime()

    @property
    def Win(self):
        from .window import Win

        return Win

    @property
    def Request(self):
        from .comm import Request

        return Request

    @property
    def Comm(self):
        from .comm import SimComm

        return SimComm

    def __repr__(self) -> str:
        return "<dlkit.cluster.MPI: mpi4py's names for the simulated cluster>"


MPI = _Namespace()
