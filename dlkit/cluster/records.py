"""What a simulated run records: trace events, transfers and unreceived messages.

:class:`Event` is one interval of a rank's virtual time (``RunResult.trace``),
:class:`Transfer` one message on the wire (``RunResult.messages``) and
:class:`Unreceived` a message nobody received (``RunResult.unreceived``). They are
plain named tuples, so a trace prints, compares and pickles like data.
"""

from __future__ import annotations

from typing import NamedTuple

__all__ = ["Event", "Transfer", "Unreceived"]


class Event(NamedTuple):
    """One interval of a rank's virtual time, as recorded in ``RunResult.trace``.

    kind is one of 'compute', 'reduce' (arithmetic inside collectives), 'send',
    'recv', 'wait', 'collective', 'barrier', 'win'.
    """

    rank: int
    start: float
    end: float
    kind: str
    peer: int | None = None
    bytes: int = 0
    label: str = ""


class Transfer(NamedTuple):
    """One message on the wire: ``src`` -> ``dst`` during ``[start, end]``."""

    src: int
    dst: int
    start: float
    end: float
    bytes: int
    tag: int
    label: str = ""


class Unreceived(NamedTuple):
    """A message sent but never received by the end of a run (``RunResult.unreceived``)."""

    src: int
    dst: int
    tag: int
    bytes: int
