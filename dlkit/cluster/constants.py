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
    "MAXLOC",
    "MINLOC",
    "REPLACE",
    "NO_OP",
    "MODE_NOCHECK",
    "MODE_NOSTORE",
    "MODE_NOPUT",
    "MODE_NOPRECEDE",
    "MODE_NOSUCCEED",
    "DOUBLE_INT",
    "FLOAT_INT",
    "LONG_INT",
    "TWOINT",
]

# mpi4py's values for the wildcards, so printed values agree.
ANY_SOURCE = -2
ANY_TAG = -1
PROC_NULL = -1
UNDEFINED = -32766
LOCK_EXCLUSIVE = 234
LOCK_SHARED = 235
# Window assertions (mpi4py's values): hints that the simulator accepts and ignores,
# except MODE_NOSUCCEED, which closes a fence epoch without opening a new one.
MODE_NOCHECK = 1024
MODE_NOSTORE = 2048
MODE_NOPUT = 4096
MODE_NOPRECEDE = 8192
MODE_NOSUCCEED = 16384


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


def pair_dtype(value: str) -> np.dtype:
    """The numpy layout of MPI's (value, index) pair types for ``MAXLOC``/``MINLOC``
    buffers: a ``value`` field and an int32 ``index`` field, C-aligned as in MPI
    (``DOUBLE_INT`` is 16 bytes: a double, an int, 4 bytes of padding)."""
    return np.dtype([("value", value), ("index", "i4")], align=True)


DOUBLE_INT = Datatype("DOUBLE_INT", None)
DOUBLE_INT.dtype = pair_dtype("f8")
FLOAT_INT = Datatype("FLOAT_INT", None)
FLOAT_INT.dtype = pair_dtype("f4")
LONG_INT = Datatype("LONG_INT", None)
LONG_INT.dtype = pair_dtype("i8")
TWOINT = Datatype("TWOINT", None)
TWOINT.dtype = pair_dtype("i4")


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
        self._py = py
        self._combine = _pick(ufunc, py)

    def __call__(self, a: Any, b: Any) -> Any:
        if self.ufunc is None or isinstance(self.ufunc, _LocUfunc):
            return self._py(a, b)
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


def _loc_py(better: Callable) -> Callable:
    """MAXLOC/MINLOC on (value, index) pairs: the better value; on a tie the lower index."""

    def combine(a, b):
        (va, ia), (vb, ib) = a, b
        if better(vb, va) or (vb == va and ib < ia):
            return (vb, ib)
        return (va, ia)

    return combine


class _LocUfunc:
    """MAXLOC/MINLOC on buffers of (value, index) records (:func:`pair_dtype`), with
    the calling convention of a ufunc: ``f(a, b, out=a)``."""

    def __init__(self, name: str, better: np.ufunc):
        self.__name__ = name
        self._better = better

    def __call__(self, a, b, out=None):
        a, b = np.asarray(a), np.asarray(b)
        if a.dtype.names is None or b.dtype.names is None:
            raise TypeError(
                f"MPI.{self.__name__.upper()} on buffers needs (value, index) pairs: "
                "an array of dtype dlkit.cluster.constants.pair_dtype('f8') "
                "([buf, MPI.DOUBLE_INT]); for Python objects use comm.allreduce((value, "
                "index), op=...)"
            )
        va, vb = a["value"], b["value"]
        take = self._better(vb, va) | ((vb == va) & (b["index"] < a["index"]))
        res = np.where(take, b, a)
        if out is None:
            return res
        out[...] = res
        return out


MAXLOC = Op("MAXLOC", _LocUfunc("maxloc", np.greater), _loc_py(operator.gt))  # type: ignore[arg-type]
MINLOC = Op("MINLOC", _LocUfunc("minloc", np.less), _loc_py(operator.lt))  # type: ignore[arg-type]
# One-sided only (Accumulate, Get_accumulate, Fetch_and_op): write the origin's value,
# or leave the target as it is (an atomic read).
REPLACE = Op("REPLACE", None, lambda a, b: b)  # type: ignore[arg-type]
NO_OP = Op("NO_OP", None, lambda a, b: a)  # type: ignore[arg-type]
