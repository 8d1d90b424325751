"""The simulator's engine: one object holding the shared state of a simulated run.

:class:`Engine` is built in layers, each in its own module with one job:

* :mod:`.scheduler` - virtual clocks, the ready heap, hand-offs between ranks
  (yield, block, wake), crashes coming due and the run limits;
* :mod:`.requests` - :class:`Request` and :class:`Status`, and how a rank waits for
  and tests requests;
* :mod:`.matching` - posting sends and receives, matching them, the ports a transfer
  occupies, delivery with its buffer checks, probes;
* this module - the checks that every rank of a communicator enters the same
  collective, and the registries of communicator contexts, windows and replayed ring
  calls that :mod:`.comm`, :mod:`.window` and :mod:`.fastring` use.

CPU time is charged only by ``compute`` (flops / device rate) and by the reduction
arithmetic of collectives (``gamma`` seconds per byte); messages cost port time.

A run stops with :class:`DeadlockError` when no rank is ready and some are blocked,
with :class:`CollectiveMismatchError` when the ranks of a communicator enter different
collectives at the same point, and with :class:`SimTimeoutError` when a rank's clock
would pass ``max_virtual_time`` (the wall-clock limit is watched by ``SimCluster.run``).
"""

from __future__ import annotations

from typing import Callable

from .errors import CollectiveMismatchError, _Abort
from .matching import Matcher, Message
from .records import Event, Transfer, Unreceived
from .requests import Request, Status
from .scheduler import BLOCKED, DONE, READY, Scheduler

__all__ = [
    "Engine",
    "Event",
    "Transfer",
    "Unreceived",
    "Request",
    "Status",
    "Message",
    "Scheduler",
    "READY",
    "BLOCKED",
    "DONE",
]


class Engine(Matcher):
    """Shared state of one simulated run (one instance per ``SimCluster.run`` call).

    Parameters
    ----------
    n : the number of ranks p.
    network : the :class:`~dlkit.cluster.networks.Network` that prices messages.
    device : the :class:`~dlkit.cluster.devices.Device` that prices ``compute``.
    faults : the :class:`~dlkit.cluster.Faults` of the run.
    eager_limit : sends of more bytes complete only when matched.
    max_virtual_time : the largest virtual time a clock may reach (None: no limit).
    """

    def __init__(self, n, network, device, faults, eager_limit, max_virtual_time=None):
        super().__init__(n, network, faults, eager_limit, max_virtual_time)
        self.device = device
        self.coll: dict = {}  # (ctx, seq) -> [signature, {rank in comm: signature}]
        self.ring_calls: dict = {}  # ring allreduce calls replayed at once (fastring.py)
        self.contexts: dict = {}  # (parent ctx, split number, color) -> context
        self.windows: dict = {}  # (ctx, k) -> the shared state of a communicator's k-th window
        self.window_count: dict = {}  # (ctx, rank) -> windows that rank has created
        self.nbc: dict = {}  # (ctx, seq) -> a non-blocking collective some ranks have started
        self.self_comms: dict = {}  # rank -> its COMM_SELF
        self.progress_rule = "async"  # passive-target progress (SimCluster(progress=...))

    # ------------------------------------------------------------------ costs ----
    def charge_flops(self, me, flops, label="compute"):
        """Charge `flops` floating-point operations to rank me at the device's rate
        (times its slow factor) as a 'compute' event."""
        self.compute(me, flops / self.device.flops * self.slow[me], label, "compute")
        if self.windows:  # let earlier ranks read exposed memory before this rank writes it
            self.yield_(me)

    def idle(self, me, seconds, label="wait"):
        """Rank me stays out of MPI for `seconds` (not scaled by its slow factor: waiting
        is not computing), recorded as a 'compute' event labelled `label`."""
        self.compute(me, seconds, label, "compute")
        if self.windows:  # as charge_flops: earlier ranks act first
            self.yield_(me)

    def charge_reduce(self, me, nbytes, label="reduce"):
        """Charge the arithmetic of combining `nbytes` bytes in a reduction (gamma per
        byte of the network, times the slow factor) as a 'reduce' event."""
        self.compute(me, nbytes * self.network.gamma * self.slow[me], label, "reduce")

    # ------------------------------------------------------------- collectives ----
    def enter_collective(self, me, ctx, seq, local, size, sig, where):
        """Rank `local` of a communicator (context ctx) enters its collective call #seq.

        The first rank to arrive sets the call's signature; a rank whose signature
        differs stops the run with CollectiveMismatchError naming every rank's call.
        """
        key = (ctx, seq)
        entry = self.coll.get(key)
        if entry is None:
            entry = self.coll[key] = [sig, {}]
        calls = entry[1]
        calls[local] = sig
        if sig != entry[0]:
            missing = [r for r in range(size) if r not in calls]
            self.stop(
                CollectiveMismatchError(seq, calls, missing, self.clock[me], where._name()),
                current=me,
            )
            raise _Abort()
        if len(calls) == size:
            del self.coll[key]

    # -------------------------------------------------------------- registries ----
    def context(self, ident) -> int:
        """The context number of the communicator that `ident` (parent context, split
        number, color) names; every rank of it gets the same one. Contexts are even:
        each communicator's built-in collectives use the odd number above it."""
        if ident not in self.contexts:
            self.contexts[ident] = 2 * (len(self.contexts) + 1)
        return self.contexts[ident]

    def window_state(self, ctx, me, make: Callable):
        """The state shared by every rank's handle of the next window rank `me` creates
        on context ctx (the k-th call of each rank meets the k-th of the others);
        ``make()`` builds it for the first rank to arrive."""
        k = self.window_count.get((ctx, me), 0)
        self.window_count[(ctx, me)] = k + 1
        if (ctx, k) not in self.windows:
            self.windows[(ctx, k)] = make()
        return self.windows[(ctx, k)]
