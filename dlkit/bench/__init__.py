"""Side-by-side benchmarks: ``python -m dlkit.bench``.

Each benchmark group lives in its own module of this package and registers a
function that returns :class:`Row` s: the same workload timed in dlkit and, when
installed, in a peer (numpy, PyTorch CPU). One run prints them all as a table of
times and ratios; ``--json`` prints the rows as JSON; ``--only NAME`` runs one group.

Speed in this project is shown by this benchmark, never by timed tests.
"""

from __future__ import annotations

import importlib
import os
import time
from dataclasses import asdict, dataclass
from typing import Callable

_FUNCS: dict[str, Callable[[], list["Row"]]] = {}


@dataclass
class Row:
    """One measurement: dlkit's time beside a peer's, in seconds (ratio = dlkit / peer)."""

    group: str
    name: str
    dlkit_s: float
    peer: str | None = None
    peer_s: float | None = None
    note: str = ""

    @property
    def ratio(self) -> float | None:
        if self.peer_s is None or not self.peer_s:
            return None
        return self.dlkit_s / self.peer_s

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ratio"] = self.ratio
        return d


def register(group: str) -> Callable:
    """Decorator: register a function returning a list of Rows as benchmark `group`."""

    def deco(fn: Callable[[], list[Row]]) -> Callable[[], list[Row]]:
        _FUNCS[group] = fn
        return fn

    return deco


def timeit(fn: Callable[[], object], *, repeat: int = 7, min_time: float = 0.05,
           warmup: int = 2) -> float:
    """Median seconds per call of `fn`, after `warmup` calls (for JIT and caches)."""
    for _ in range(warmup):
        fn()
    # Choose a loop count so one measurement lasts at least min_time.
    t0 = time.perf_counter()
    fn()
    one = max(time.perf_counter() - t0, 1e-7)
    loops = max(1, int(min_time / one))
    times = []
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        times.append((time.perf_counter() - t0) / loops)
    times.sort()
    return times[len(times) // 2]


def torch_or_none():
    """PyTorch (CPU, same thread count as numpy's BLAS) if installed, else None."""
    try:
        import torch
    except ImportError:
        return None
    threads = int(os.environ.get("DLKIT_BENCH_THREADS", os.cpu_count() or 1))
    torch.set_num_threads(threads)
    return torch


def load_groups() -> list[str]:
    """Import every module of this package (each registers its groups); return the names."""
    import pkgutil

    for info in sorted(pkgutil.iter_modules(__path__), key=lambda m: m.name):
        if not info.name.startswith("_"):
            importlib.import_module(f"{__name__}.{info.name}")
    return list(_FUNCS)


def run(only: str | None = None) -> list[Row]:
    """Run every registered group (or just `only`) and return their rows."""
    load_groups()
    names = list(_FUNCS)
    if only is not None:
        if only not in _FUNCS:
            raise SystemExit(f"unknown benchmark group {only!r}; groups: {', '.join(names)}")
        names = [only]
    rows: list[Row] = []
    for name in names:
        rows += _FUNCS[name]()
    return rows


def format_table(rows: list[Row]) -> str:
    def ms(s):
        return "" if s is None else f"{s * 1e3:10.3f}"

    head = f"{'group':<10} {'benchmark':<44} {'dlkit ms':>10} {'peer':<14} {'peer ms':>10} {'ratio':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:7.2f}"
        lines.append(f"{r.group:<10} {r.name:<44} {ms(r.dlkit_s)} {r.peer or '':<14} "
                     f"{ms(r.peer_s)} {ratio}" + (f"  {r.note}" if r.note else ""))
    return "\n".join(lines)
