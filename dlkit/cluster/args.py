"""Argument helpers shared by the simulated communicator's modules: buffer specs,
reduction ops, matching send/receive buffers, and how calls name their arguments."""

from __future__ import annotations

from typing import Any

import numpy as np

from . import collectives as C
from .constants import ANY_SOURCE, ANY_TAG


def _buffer(spec: Any, me: int, what: str) -> np.ndarray:
    """Accept ``arr`` or ``[arr, MPI.DOUBLE]`` / ``(arr, count, MPI.DOUBLE)``."""
    if isinstance(spec, (list, tuple)):
        if not spec:
            raise ValueError(f"rank {me}: empty buffer spec for {what}")
        if not isinstance(spec[0], np.ndarray):
            raise TypeError(
                f"rank {me}: {what} needs a numpy array buffer or [array, "
                f"MPI.DOUBLE], got a {type(spec).__name__} of "
                f"{type(spec[0]).__name__}; pass np.asarray(...) or use the "
                "lower-case method for Python objects"
            )
        spec = spec[0]
    if not isinstance(spec, np.ndarray):
        raise TypeError(
            f"rank {me}: {what} needs a numpy array buffer, got "
            f"{type(spec).__name__}; use the lower-case method for Python objects"
        )
    return spec


def _check_op(me: int, call: str, op: Any, buffers: bool) -> None:
    """A reduction op: MPI.SUM, MPI.MAX... (a numpy ufunc for buffers; any function of
    two values for objects)."""
    if buffers:
        try:
            C.ufunc_of(op)
        except TypeError as exc:
            raise TypeError(f"rank {me}: {call}: {exc}") from None
    elif not callable(op):
        raise TypeError(
            f"rank {me}: {call}: op={op!r} is not a reduction op; pass MPI.SUM, "
            "MPI.MAX, ... or a function of two values"
        )


def _op_name(op: Any) -> str:
    """A rank-independent name of a reduction op, for comparing collective calls."""
    if isinstance(op, np.ufunc):
        return f"np.{op.__name__}"
    name = getattr(op, "__qualname__", None)  # a Python function: the same on every rank
    return name if isinstance(name, str) else repr(op)


def _check_pair(me: int, call: str, x: np.ndarray, out: np.ndarray) -> None:
    """sendbuf and recvbuf of one rank share a datatype (as in mpi4py)."""
    if x.dtype != out.dtype:
        raise TypeError(
            f"rank {me}: {call}: sendbuf is {x.dtype} but recvbuf is {out.dtype}; "
            "MPI does not convert types: allocate recvbuf with "
            f"dtype={x.dtype}"
        )


def _assign(dst: np.ndarray, src: np.ndarray, me: int | None = None, call: str = "") -> None:
    """Copy src into the buffer dst element by element (shapes may differ, sizes not)."""
    if dst.size != src.size:
        where = f"rank {me}: {call}: " if call else ""
        raise ValueError(
            f"{where}receive buffer has {dst.size} elements but the result has "
            f"{src.size}; allocate it with the right size"
        )
    dst[...] = np.reshape(src, dst.shape)


def _src(source: int) -> str:
    return "ANY_SOURCE" if source == ANY_SOURCE else str(source)


def _tag(tag: int) -> str:
    return "ANY_TAG" if tag == ANY_TAG else str(tag)
