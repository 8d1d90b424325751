"""Exceptions raised by the simulated cluster.

``DeadlockError`` and ``RankCrashed`` are part of the public API (import them from
``dlkit.cluster``); ``_Abort`` and ``_Crash`` are internal signals used to unwind a
rank's thread and derive from ``BaseException`` so that a rank's ``except Exception``
cannot swallow them.
"""

from __future__ import annotations


class DeadlockError(RuntimeError):
    """No rank can make progress: every live rank is blocked in a communication call.

    ``blocked`` maps each blocked rank to a description of the call it waits in, e.g.
    ``{0: "recv(source=1, tag=0)", 1: "recv(source=0, tag=0)"}``.
    """

    def __init__(self, blocked: dict[int, str], time: float, extra: str = ""):
        self.blocked = dict(blocked)
        self.time = time
        lines = [f"  rank {r}: blocked in {call}" for r, call in sorted(self.blocked.items())]
        msg = (f"deadlock at virtual time {time:.6g} s: ranks {sorted(self.blocked)} are all "
               "blocked and none can make progress\n" + "\n".join(lines))
        if extra:
            msg += "\n" + extra
        msg += ("\nHint: a receive needs a matching send; a Send larger than eager_limit "
                "waits for its receive to be posted, so exchange with Isend/Irecv or Sendrecv.")
        super().__init__(msg)


class RankCrashed(RuntimeError):
    """A peer this rank talks to has crashed (an injected fault, :class:`Faults`).

    Attributes: ``rank`` (the crashed rank), ``time`` (virtual time of the crash),
    ``observer`` (the rank that noticed) and ``call`` (what it was doing).
    """

    def __init__(self, rank: int, time: float, observer: int | None = None, call: str = ""):
        self.rank = rank
        self.time = time
        self.observer = observer
        self.call = call
        msg = f"rank {rank} crashed at virtual time {time:.6g} s"
        if observer is not None:
            msg += f"; rank {observer} noticed in {call}" if call else f"; seen by rank {observer}"
        super().__init__(msg)


class RankError(RuntimeError):
    """An exception raised inside one rank's ``train`` function, re-raised by ``run()``.

    The original exception is chained as ``__cause__`` and kept as ``.exc``.
    """

    def __init__(self, rank: int, exc: BaseException, time: float):
        self.rank = rank
        self.exc = exc
        self.time = time
        super().__init__(f"rank {rank} raised {type(exc).__name__} at virtual time "
                         f"{time:.6g} s: {exc}")


class _Abort(BaseException):
    """Internal: unwind a rank's thread because the run is being stopped."""


class _Crash(BaseException):
    """Internal: unwind a rank's thread because its injected crash time has come."""
