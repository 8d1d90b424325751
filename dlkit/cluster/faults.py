"""Injected faults for the simulated cluster (simulation only: real MPI has none).

* ``slow={rank: factor}`` - the rank computes ``factor`` times slower (its
  ``compute`` calls and the reduction arithmetic inside collectives take longer).
* ``crash={rank: time}`` - the rank stops at virtual time ``time``: its thread is
  unwound there, and any rank that then sends to it, receives from it, or is blocked
  waiting on it gets :class:`~dlkit.cluster.RankCrashed` naming it, instead of hanging.
  Messages it sent before the crash are still delivered.
* ``delay={(a, b): seconds}`` - every message between ranks a and b (both
  directions) arrives ``seconds`` later, e.g. a congested or long link. The delay is
  time in flight: the two ranks' ports are not held for it, so their messages to and
  from other ranks are not slowed down (a rank that is slow to compute is
  ``slow=...``).
* ``drop={(a, b), ...}`` - every message between ranks a and b (both directions)
  is lost: the send completes, the receive never does. MPI has no timeouts, so the
  receiver waits forever; the simulator reports that as a :class:`DeadlockError`
  that lists the lost messages.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True)
class Faults:
    """Faults to inject: slow and crashed ranks, delayed and dropped links (module docs)."""

    slow: dict[int, float] = field(default_factory=dict)
    crash: dict[int, float] = field(default_factory=dict)
    delay: dict[tuple[int, int], float] = field(default_factory=dict)
    drop: frozenset | set = field(default_factory=frozenset)

    def validate(self, n: int) -> None:
        for name, table in (("slow", self.slow), ("crash", self.crash)):
            for r in table:
                if not 0 <= r < n:
                    raise ValueError(
                        f"Faults({name}=...) names rank {r}, but the cluster has ranks 0..{n - 1}"
                    )
        for r, f in self.slow.items():
            if not f > 0:
                raise ValueError(f"Faults(slow={{{r}: {f}}}): the factor must be > 0")
        for r, t in self.crash.items():
            if not t >= 0:
                raise ValueError(f"Faults(crash={{{r}: {t}}}): the time must be >= 0 s")
        for (a, b), d in self.delay.items():
            if not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"Faults(delay=...) names link ({a}, {b}) outside 0..{n - 1}")
            if not d >= 0:
                raise ValueError(f"Faults(delay={{({a}, {b}): {d}}}): must be >= 0 s")
        for a, b in self.drop:
            if not (0 <= a < n and 0 <= b < n):
                raise ValueError(f"Faults(drop=...) names link ({a}, {b}) outside 0..{n - 1}")

    def slow_factor(self, rank: int) -> float:
        return self.slow.get(rank, 1.0)

    def dropped(self, a: int, b: int) -> bool:
        return (a, b) in self.drop or (b, a) in self.drop

    def link_delay(self, a: int, b: int) -> float:
        return self.delay.get((a, b), self.delay.get((b, a), 0.0))
