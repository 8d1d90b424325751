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


def timeit(
    fn: Callable[[], object], *, repeat: int = 7, min_time: float = 0.05, warmup: int = 2
) -> float:
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


def in_fresh_process(module: str, call: str):
    """Evaluate ``<module>.<call>`` in a new Python process and return its JSON result.

    Used to time each side of a comparison alone: two thread pools in one process
    (OpenBLAS's, Numba's, PyTorch's OpenMP pool) take cores from each other while their
    threads spin waiting for work, which would make the ratio meaningless.
    """
    import json
    import subprocess
    import sys

    code = f"import json, {module} as m; print(json.dumps(m.{call}))"
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"{module}.{call} failed in its process:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


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


def run(only: str | None = None, *, isolate: bool = True) -> list[Row]:
    """Run every registered group (or just `only`) and return their rows.

    With `isolate` (the default) each group runs in a fresh Python process, so one
    group's imports and thread pools (Numba's, OpenMP settings, PyTorch's) cannot slow
    down or speed up another's measurements.
    """
    names = load_groups()
    if only is not None:
        if only not in _FUNCS:
            raise SystemExit(f"unknown benchmark group {only!r}; groups: {', '.join(names)}")
        names = [only]
    rows: list[Row] = []
    for name in names:
        rows += _run_isolated(name) if isolate else _FUNCS[name]()
    return rows


def _run_isolated(name: str) -> list[Row]:
    import json
    import subprocess
    import sys

    cmd = [sys.executable, "-m", "dlkit.bench", "--only", name, "--json", "--in-process"]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark group {name!r} failed:\n{proc.stderr[-2000:]}")
    rows = json.loads(proc.stdout)
    for r in rows:
        r.pop("ratio", None)
    return [Row(**r) for r in rows]


def format_table(rows: list[Row]) -> str:
    def ms(s):
        return "" if s is None else f"{s * 1e3:10.3f}"

    head = f"{'group':<10} {'benchmark':<44} {'dlkit ms':>10} {'peer':<14} {'peer ms':>10} {'ratio':>7}"
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:7.2f}"
        lines.append(
            f"{r.group:<10} {r.name:<44} {ms(r.dlkit_s)} {r.peer or '':<14} "
            f"{ms(r.peer_s)} {ratio}" + (f"  {r.note}" if r.note else "")
        )
    return "\n".join(lines)
