"""Simulation-only cost hooks that are harmless on a real mpi4py communicator.

A training script charges its arithmetic with ``compute(comm, flops)``: on a simulated
rank this advances the rank's virtual clock by ``flops / device.flops`` seconds
(times its slow factor) and records a 'compute' event; on a real ``MPI.COMM_WORLD`` it
does nothing, because real time passes by itself. So one script runs in both places.

``wait(comm, seconds)`` keeps the calling rank out of MPI for a while: on a simulated rank
its clock advances by ``seconds``; on a real communicator it sleeps. A server that polls
between looks at its window, or a rank that stands for a busy one, uses it.
"""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np


def is_simulated(comm: Any) -> bool:
    """True if `comm` is a simulated communicator (from ``SimCluster.run``)."""
    return getattr(comm, "_dlkit_sim", False) is True


def compute(comm: Any, flops: float, label: str = "compute") -> None:
    """Charge ``flops`` floating-point operations to the calling rank.

    Simulated: the rank's clock advances by ``flops / device.flops * slow_factor``
    seconds and a 'compute' event labelled ``label`` is recorded. Real MPI: no-op.
    """
    if not is_simulated(comm):
        return
    if type(flops) is not float or not 0 <= flops < math.inf:
        _check_flops(flops)
    comm._engine.charge_flops(comm._rank, flops, label)


def _check_flops(flops: Any) -> None:
    """flops is a finite real number >= 0 (not a bool or a string)."""
    if isinstance(flops, (bool, np.bool_)) or not isinstance(
        flops, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"compute(comm, flops={flops!r}): flops must be a number, got {type(flops).__name__}"
        )
    if not 0 <= flops < math.inf:
        raise ValueError(f"compute(comm, flops={flops}): flops must be >= 0 and finite")


def charge_reduce(comm: Any, nbytes: int, label: str = "reduce") -> None:
    """Charge the arithmetic of combining ``nbytes`` bytes in a reduction collective:
    ``gamma * nbytes`` seconds (times the slow factor) when simulated; no-op on real MPI."""
    if not is_simulated(comm):
        return
    comm._engine.charge_reduce(comm._rank, nbytes, label)


def wait(comm: Any, seconds: float, label: str = "wait") -> None:
    """Stay out of MPI for ``seconds``: sleep on a real communicator; on a simulated one,
    advance the rank's virtual clock by ``seconds`` (not scaled by a slow factor),
    recorded as a 'compute' event labelled ``label``. The rank counts as busy outside
    MPI meanwhile (what ``SimCluster(progress="target")`` looks at)."""
    if isinstance(seconds, (bool, np.bool_)) or not isinstance(
        seconds, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"wait(comm, seconds={seconds!r}): seconds must be a number, got "
            f"{type(seconds).__name__}"
        )
    if not 0 <= seconds < math.inf:
        raise ValueError(f"wait(comm, seconds={seconds}): seconds must be >= 0 and finite")
    if seconds == 0:
        return
    if is_simulated(comm):
        comm._engine.idle(comm._rank, float(seconds), label)
    else:
        time.sleep(seconds)
