"""Exceptions and warnings raised by the simulated cluster.

``DeadlockError``, ``RankCrashed``, ``RankError``, ``CollectiveMismatchError``,
``SimTimeoutError`` and ``UnreceivedMessageWarning`` are part of the public API (import
them from ``dlkit.cluster``); ``_Abort`` and ``_Crash`` are internal signals used to
unwind a rank's thread and derive from ``BaseException`` so that a rank's ``except
Exception`` cannot swallow them.
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
        msg = (
            f"deadlock at virtual time {time:.6g} s: ranks {sorted(self.blocked)} are all "
            "blocked and none can make progress\n" + "\n".join(lines)
        )
        if extra:
            msg += "\n" + extra
        msg += (
            "\nHint: a receive needs a matching send; a Send larger than eager_limit "
            "waits for its receive to be posted, so exchange with Isend/Irecv or Sendrecv."
        )
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
        super().__init__(
            f"rank {rank} raised {type(exc).__name__} at virtual time {time:.6g} s: {exc}"
        )


class CollectiveMismatchError(RuntimeError):
    """Ranks of one communicator entered different collectives at the same point.

    MPI requires every rank of a communicator to call the same collectives, in the
    same order, with the same root, operation and buffer type signature. The
    simulator numbers each rank's collective calls per communicator and compares
    them as the ranks arrive.

    Attributes: ``call`` (the 1-based number of the collective call on that
    communicator), ``calls`` ({rank: description of its call}, ranks of the
    communicator that have reached it) and ``missing`` (ranks that have not yet).
    """

    def __init__(
        self,
        call: int,
        calls: dict[int, str],
        missing: list[int],
        time: float,
        comm: str = "the communicator",
    ):
        self.call = call
        self.calls = dict(calls)
        self.missing = list(missing)
        self.time = time
        groups: dict[str, list[int]] = {}
        for r, desc in sorted(self.calls.items()):
            groups.setdefault(desc, []).append(r)
        parts = [f"{_ranks(rs)} called {desc}" for desc, rs in groups.items()]
        msg = (
            f"collective mismatch on {comm} at collective call #{call} (virtual time "
            f"{time:.6g} s): " + "; ".join(parts)
        )
        if self.missing:
            msg += f"; {_ranks(self.missing)} had not reached it yet"
        msg += (
            ".\nEvery rank of a communicator must call the same collectives in the same "
            "order, with the same root, op and buffer dtype and size; check the "
            "branches that depend on comm.rank."
        )
        super().__init__(msg)


class SimTimeoutError(RuntimeError):
    """A simulated run went past its wall-clock ``timeout`` or its ``max_virtual_time``.

    Raised by :meth:`dlkit.cluster.SimCluster.run` instead of hanging, e.g. when a rank loops or
    sleeps without calling MPI. Attributes: ``limit`` ("wall-clock" or "virtual
    time"), ``seconds`` (the limit), ``ranks`` ({rank: what it was doing}) and
    ``time`` (the largest virtual clock when the run was stopped).
    """

    def __init__(self, limit: str, seconds: float, ranks: dict[int, str], time: float):
        self.limit = limit
        self.seconds = seconds
        self.ranks = dict(ranks)
        self.time = time
        lines = [f"  rank {r}: {what}" for r, what in sorted(self.ranks.items())]
        if limit == "wall-clock":
            head = (
                f"the simulated run passed its wall-clock timeout of {seconds:.6g} s "
                f"(virtual time {time:.6g} s)"
            )
            hint = (
                "Hint: a rank that loops or sleeps without calling MPI never hands "
                "control back; if the program is just slow, pass a larger timeout= "
                "(or timeout=None) to SimCluster.run."
            )
        else:
            head = f"the simulated run passed max_virtual_time={seconds:.6g} s"
            hint = (
                "Hint: pass a larger max_virtual_time= (or None) to SimCluster.run if "
                "the program really needs that long."
            )
        super().__init__(head + "\n" + "\n".join(lines) + "\n" + hint)


class UnreceivedMessageWarning(UserWarning):
    """Messages were sent but never received when every rank had finished.

    An MPI program that leaves messages unmatched is erroneous (``MPI_Finalize``
    may hang or lose them); the simulator warns and lists them in
    ``RunResult.unreceived``.
    """


def _ranks(rs: list[int]) -> str:
    rs = sorted(rs)
    if len(rs) > 12:
        return f"ranks {', '.join(map(str, rs[:12]))}, ... ({len(rs)} ranks)"
    return ("rank " if len(rs) == 1 else "ranks ") + ", ".join(map(str, rs))


class _Abort(BaseException):
    """Internal: unwind a rank's thread because the run is being stopped."""


class _Crash(BaseException):
    """Internal: unwind a rank's thread because its injected crash time has come."""
