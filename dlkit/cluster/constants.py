"""mpi4py's constants for the simulated cluster: wildcards, lock types, datatypes, ops.

These are plain values with no behaviour that depends on the simulator, so every
other module of :mod:`dlkit.cluster` imports them from here, and this module imports
nothing from the rest of the package. :data:`dlkit.cluster.MPI` collects them under
mpi4py's names (``MPI.ANY_SOURCE``, ``MPI.SUM``, ``MPI.DOUBLE``...).
"""

from __future__ import annotations

import operator
from typing import Any, Callable

import numpy as np

__all__ = [
    "ANY_SOURCE",
    "ANY_TAG",
    "PROC_NULL",
    "UNDEFINED",
    "LOCK_EXCLUSIVE",
    "LOCK_SHARED",
    "IN_PLACE",
    "Datatype",
    "BYTE",
    "CHAR",
    "INT",
    "LONG",
    "INT64_T",
    "FLOAT",
    "DOUBLE",
    "BOOL",
    "Op",
    "SUM",
    "PROD",
    "MAX",
    "MIN",
    "LAND",
    "LOR",
    "BAND",
    "BOR",
]

# mpi4py's values for the wildcards, so printed values agree.
ANY_SOURCE = -2
ANY_TAG = -1
PROC_NULL = -1
UNDEFINED = -32766
LOCK_EXCLUSIVE = 234
LOCK_SHARED = 235


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
