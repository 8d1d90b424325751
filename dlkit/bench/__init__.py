"""Side-by-side benchmarks: ``python -m dlkit.bench``.

Each benchmark group lives in its own module of this package and registers a
function that returns :class:`Row` s: the same workload timed in dlkit and, when
installed, in a peer (numpy, PyTorch CPU). One run prints what the figures depend on
(:func:`machine_info`: the CPU, its vector extensions, numpy's BLAS kernel, Numba's
target, PyTorch's CPU capability, thread counts) and then the rows as a table of times
and ratios; ``--json`` prints both as JSON; ``--only NAME`` runs one group.

A comparison runs in rounds that alternate the two sides, each side in a fresh process
(:func:`alternate`); a row's ratio is the median of the per-round ratios and the row
shows their spread, the smallest and the largest, so a difference can be told from
noise. ``--rounds`` sets the number of rounds (default :data:`DEFAULT_ROUNDS`).

Speed in this project is shown by this benchmark, never by timed tests.
"""

from __future__ import annotations

import importlib
import os
import statistics
import time
from dataclasses import asdict, dataclass
from typing import Callable, Mapping

_FUNCS: dict[str, Callable[[], list["Row"]]] = {}

#: Rounds of a comparison when neither ``--rounds`` nor ``DLKIT_BENCH_ROUNDS`` says.
DEFAULT_ROUNDS = 5


def rounds() -> int:
    """The number of alternating rounds a comparison runs: ``DLKIT_BENCH_ROUNDS`` (which
    ``python -m dlkit.bench --rounds R`` sets for its group processes), else
    :data:`DEFAULT_ROUNDS`."""
    text = os.environ.get("DLKIT_BENCH_ROUNDS", "").strip()
    if not text:
        return DEFAULT_ROUNDS
    try:
        r = int(text)
    except ValueError:
        r = 0
    if r < 1:
        raise ValueError(
            f"DLKIT_BENCH_ROUNDS={text!r} is not a number of rounds; set a whole number >= 1 "
            f"(or unset it for the default, {DEFAULT_ROUNDS})"
        )
    return r


@dataclass
class Row:
    """One measurement: dlkit's time beside a peer's, in seconds (ratio = dlkit / peer).

    `ratios`, when given, are the per-round ratios of :meth:`from_rounds`: the row's
    ratio is then their median and :attr:`spread` their (min, max).
    """

    group: str
    name: str
    dlkit_s: float
    peer: str | None = None
    peer_s: float | None = None
    note: str = ""
    ratios: list[float] | None = None

    @classmethod
    def from_rounds(
        cls,
        group: str,
        name: str,
        dlkit_s: list[float],
        peer: str | None = None,
        peer_s: list[float] | None = None,
        note: str = "",
    ) -> "Row":
        """A row from per-round seconds of both sides (round r: ``dlkit_s[r]``,
        ``peer_s[r]``): the times shown are the medians, the ratio the median of
        ``dlkit_s[r] / peer_s[r]``."""
        if not dlkit_s:
            raise ValueError(f"row {name!r}: dlkit_s is empty; pass one time per round")
        if peer_s is None:
            return cls(group, name, statistics.median(dlkit_s), note=note)
        if len(peer_s) != len(dlkit_s):
            raise ValueError(
                f"row {name!r}: {len(dlkit_s)} dlkit rounds but {len(peer_s)} peer rounds; "
                "pass one time per round for each side"
            )
        ratios = [d / p for d, p in zip(dlkit_s, peer_s)]
        return cls(
            group,
            name,
            statistics.median(dlkit_s),
            peer,
            statistics.median(peer_s),
            note,
            ratios,
        )

    @property
    def ratio(self) -> float | None:
        if self.ratios:
            return statistics.median(self.ratios)
        if self.peer_s is None or not self.peer_s:
            return None
        return self.dlkit_s / self.peer_s

    @property
    def spread(self) -> tuple[float, float] | None:
        """(smallest, largest) per-round ratio; None for a row without rounds."""
        if not self.ratios:
            return None
        return min(self.ratios), max(self.ratios)

    @property
    def rounds(self) -> int | None:
        return len(self.ratios) if self.ratios else None

    def as_dict(self) -> dict:
        d = asdict(self)
        d["ratio"] = self.ratio
        lo_hi = self.spread
        d["ratio_min"], d["ratio_max"] = lo_hi if lo_hi else (None, None)
        d["rounds"] = self.rounds
        return d

    @classmethod
    def from_dict(cls, d: Mapping) -> "Row":
        """The row :meth:`as_dict` wrote (its derived keys are recomputed, not read)."""
        derived = {"ratio", "ratio_min", "ratio_max", "rounds"}
        return cls(**{k: v for k, v in d.items() if k not in derived})


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


def in_fresh_process(module: str, call: str, python: str | None = None):
    """Evaluate ``<module>.<call>`` in a new Python process and return its JSON result.

    Used to time each side of a comparison alone: two thread pools in one process
    (OpenBLAS's, Numba's, PyTorch's OpenMP pool) take cores from each other while their
    threads spin waiting for work, which would make the ratio meaningless. `python` is
    the interpreter (default: this one; :func:`torch_python` for the PyTorch side); dlkit
    is put on its ``PYTHONPATH``, so an interpreter with only torch and numpy will do.
    """
    import json
    import subprocess
    import sys

    code = f"import json, {module} as m; print(json.dumps(m.{call}))"
    env = dict(
        os.environ, PYTHONPATH=os.pathsep.join(filter(None, (_ROOT, os.environ.get("PYTHONPATH"))))
    )
    proc = subprocess.run(
        [python or sys.executable, "-c", code], capture_output=True, text=True, env=env
    )
    if proc.returncode != 0:
        raise RuntimeError(f"{module}.{call} failed in its process:\n{proc.stderr[-2000:]}")
    return json.loads(proc.stdout.strip().splitlines()[-1])


def alternate(
    module: str,
    dlkit_call: str,
    peer_call: str | None,
    n_rounds: int | None = None,
    peer_python: str | None = None,
) -> tuple[list, list]:
    """Evaluate ``<module>.<dlkit_call>`` and ``<module>.<peer_call>`` in fresh processes,
    one of each per round, for `n_rounds` rounds (default :func:`rounds`); return the two
    lists of results, one entry per round.

    The sides alternate, and so does which of them goes first (dlkit first in even rounds,
    the peer in odd ones), so a slow drift of the machine (another program starting, the
    CPU warming up) falls on both sides alike. With `peer_call` None only dlkit runs. The
    peer runs under `peer_python` (default: this interpreter; see :func:`in_fresh_process`).
    """
    n = rounds() if n_rounds is None else int(n_rounds)
    if n < 1:
        raise ValueError(f"n_rounds={n_rounds!r}: a comparison needs at least 1 round")
    ours, theirs = [], []
    for r in range(n):
        if peer_call is not None and r % 2:
            theirs.append(in_fresh_process(module, peer_call, peer_python))
        ours.append(in_fresh_process(module, dlkit_call))
        if peer_call is not None and not r % 2:
            theirs.append(in_fresh_process(module, peer_call, peer_python))
    return ours, theirs


#: The folder that holds the ``dlkit`` package (put on a peer interpreter's path).
_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

_TORCH_PYTHON: dict[str, str | None] = {}


def torch_python() -> str | None:
    """The interpreter that runs the PyTorch side of a comparison, or None without one.

    ``DLKIT_BENCH_TORCH_PYTHON`` names it when PyTorch lives in another environment (an
    interpreter with torch and numpy is enough: dlkit comes from this checkout); else
    it is this interpreter. None when that interpreter cannot import torch. The answer
    is cached per value of the variable.
    """
    import subprocess
    import sys

    python = os.environ.get("DLKIT_BENCH_TORCH_PYTHON", "").strip() or sys.executable
    if python not in _TORCH_PYTHON:
        try:
            ok = (
                subprocess.run(
                    [python, "-c", "import torch"], capture_output=True, timeout=300
                ).returncode
                == 0
            )
        except (OSError, subprocess.TimeoutExpired):
            ok = False
        _TORCH_PYTHON[python] = python if ok else None
    return _TORCH_PYTHON[python]


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
    cmd.append("--rows-only")
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise RuntimeError(f"benchmark group {name!r} failed:\n{proc.stderr[-2000:]}")
    return [Row.from_dict(r) for r in json.loads(proc.stdout)]


def format_spread(row: Row, sep: str = "-") -> str:
    """``"0.93-1.07"``: the row's smallest and largest per-round ratio ("" without rounds)."""
    lo_hi = row.spread
    return "" if lo_hi is None else f"{lo_hi[0]:.2f}{sep}{lo_hi[1]:.2f}"


def format_table(rows: list[Row]) -> str:
    def ms(s):
        return "" if s is None else f"{s * 1e3:10.3f}"

    head = (
        f"{'group':<10} {'benchmark':<44} {'dlkit ms':>10} {'peer':<14} {'peer ms':>10} "
        f"{'ratio':>7} {'spread':>11} {'rounds':>6}"
    )
    lines = [head, "-" * len(head)]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:7.2f}"
        lines.append(
            f"{r.group:<10} {r.name:<44} {ms(r.dlkit_s)} {r.peer or '':<14} "
            f"{ms(r.peer_s)} {ratio:>7} {format_spread(r):>11} {r.rounds or '':>6}"
            + (f"  {r.note}" if r.note else "")
        )
    return "\n".join(lines)


# --- What the figures depend on ------------------------------------------------------

#: The vector extensions the header reports, as /proc/cpuinfo spells them.
VECTOR_FLAGS = (
    "sse4_2",
    "avx",
    "avx2",
    "fma",
    "avx_vnni",
    "avx512f",
    "avx512dq",
    "avx512bw",
    "avx512vl",
    "avx512_vnni",
    "avx512_bf16",
    "amx_tile",
)

#: Environment variables that change what the benchmark measures (shown when set).
ENV_VARS = (
    "OPENBLAS_CORETYPE",
    "OPENBLAS_L2_SIZE",
    "OPENBLAS_NUM_THREADS",
    "OMP_NUM_THREADS",
    "MKL_NUM_THREADS",
    "NUMBA_NUM_THREADS",
    "NUMBA_CPU_NAME",
    "NUMBA_CPU_FEATURES",
    "DLKIT_BENCH_THREADS",
    "DLKIT_BENCH_ROUNDS",
    "DLKIT_BENCH_TORCH_PYTHON",
)

#: Variables that pin numpy's OpenBLAS to a kernel or cache size other than its own
#: choice for this CPU, with what each does.
PINNING_VARS = {
    "OPENBLAS_CORETYPE": "pins numpy's BLAS to the kernel of another CPU",
    "OPENBLAS_L2_SIZE": "overrides the L2 cache size numpy's BLAS blocks for",
}


def parse_cpuinfo(text: str) -> tuple[str | None, list[str]]:
    """The CPU's model name and its flags from the text of /proc/cpuinfo (first CPU)."""
    model, flags = None, []
    for line in text.splitlines():
        key, _, value = line.partition(":")
        key = key.strip()
        if key == "model name" and model is None:
            model = value.strip()
        elif key in ("flags", "Features") and not flags:
            flags = value.split()
    return model, flags


def _read_cpuinfo() -> str:
    try:
        with open("/proc/cpuinfo", encoding="utf-8", errors="replace") as f:
            return f.read()
    except OSError:
        return ""


def _blas_info() -> list[dict]:
    """numpy's BLAS libraries as threadpoolctl reports them (its kernel: `architecture`)."""
    try:
        import numpy  # noqa: F401  (loads the BLAS library threadpoolctl inspects)
        from threadpoolctl import threadpool_info
    except ImportError:
        return []
    keep = ("internal_api", "version", "architecture", "num_threads", "threading_layer")
    return [{k: i.get(k) for k in keep} for i in threadpool_info() if i.get("user_api") == "blas"]


def _numba_info() -> dict | None:
    """Numba's target CPU and its vector features (LLVM's names), or None without Numba."""
    try:
        import numba
        from llvmlite import binding as ll
    except ImportError:
        return None
    name = numba.config.CPU_NAME or ll.get_host_cpu_name()
    if numba.config.CPU_FEATURES is not None:
        features = numba.config.CPU_FEATURES
    else:
        try:
            features = ll.get_host_cpu_features().flatten()
        except RuntimeError:
            features = ""
    return {
        "version": numba.__version__,
        "cpu_name": name,
        "cpu_features": features,
        "threads": numba.config.NUMBA_NUM_THREADS,
    }


def _torch_info() -> dict | None:
    """PyTorch's CPU capability (the widest vector code it dispatches to) and threads."""
    python = torch_python()
    if python is None:
        return None
    try:
        info = in_fresh_process("dlkit.bench", "_torch_info_here()", python)
    except RuntimeError:
        return None
    return {**info, "python": python}


def _torch_info_here() -> dict:
    """:func:`_torch_info` of this interpreter (which must have torch)."""
    import torch

    cap = getattr(getattr(torch.backends, "cpu", None), "get_cpu_capability", None)
    return {
        "version": torch.__version__,
        "cpu_capability": cap() if cap else None,
        "threads": torch.get_num_threads(),
    }


def _llvm_vector_features(features: str) -> list[str]:
    """The enabled vector features among LLVM's ``+avx2,-avx512f,...`` feature string."""
    wanted = {
        "avx",
        "avx2",
        "fma",
        "avx512f",
        "avx512bw",
        "avx512vl",
        "avx512dq",
        "avx512vnni",
        "avx512bf16",
        "prefer-256-bit",
    }
    on = []
    for f in features.split(","):
        f = f.strip()
        if f.startswith("+") and f[1:] in wanted:
            on.append(f[1:])
    return on


def machine_info(
    env: Mapping[str, str] | None = None,
    cpuinfo: str | None = None,
    blas: list[dict] | None = None,
    numba: dict | None | bool = True,
    torch: dict | None | bool = True,
    cpu_count: int | None = None,
) -> dict:
    """What the benchmark's figures depend on, as a JSON-ready dict.

    Every argument defaults to this machine (``True`` for `numba` and `torch`: ask the
    installed library); a test passes its own, e.g. ``cpuinfo`` text with the flags of
    an AVX-512 CPU or an `env` that sets ``OPENBLAS_CORETYPE``. The keys: ``cpu``
    (model, vector extensions, cores), ``blas`` (numpy's libraries, each with the kernel
    its `architecture` names), ``numba`` (target CPU and features), ``torch`` (CPU
    capability), ``threads``, ``env`` (the variables of :data:`ENV_VARS` that are set)
    and ``warnings`` (one line per variable of :data:`PINNING_VARS` that is set).
    """
    env = os.environ if env is None else env
    model, flags = parse_cpuinfo(_read_cpuinfo() if cpuinfo is None else cpuinfo)
    if model is None:
        import platform

        model = platform.processor() or platform.machine() or "unknown"
    vector = [f for f in VECTOR_FLAGS if f in flags]
    blas = _blas_info() if blas is None else blas
    numba = _numba_info() if numba is True else (numba or None)
    torch = _torch_info() if torch is True else (torch or None)
    cores = os.cpu_count() if cpu_count is None else cpu_count
    threads = int(env.get("DLKIT_BENCH_THREADS", cores or 1))
    warnings = [
        f"WARNING: {var}={env[var]} is set: it {what}; the BLAS figures are not what a "
        f"reader's machine gets. Measure with it unset in that command alone: "
        f"env -u {var} python -m dlkit.bench"
        for var, what in PINNING_VARS.items()
        if env.get(var)
    ]
    return {
        "cpu": {
            "model": model,
            "cores": cores,
            "vector_extensions": vector,
            "avx512": any(f.startswith("avx512") for f in flags),
        },
        "blas": blas,
        "numba": None
        if numba is None
        else {**numba, "vector_features": _llvm_vector_features(numba.get("cpu_features", ""))},
        "torch": torch,
        "threads": threads,
        "env": {v: env[v] for v in ENV_VARS if v in env},
        "warnings": warnings,
    }


def format_header(info: dict) -> str:
    """The lines :func:`machine_info` reports, as printed above the table."""
    cpu = info["cpu"]
    vec = ", ".join(cpu["vector_extensions"]) or "none found"
    lines = [
        f"CPU      {cpu['model']}, {cpu['cores']} cores; vector extensions: {vec}; "
        f"AVX-512: {'yes' if cpu['avx512'] else 'no'}"
    ]
    if info["blas"]:
        for b in info["blas"]:
            lines.append(
                f"BLAS     {b.get('internal_api')} {b.get('version')}, kernel "
                f"{b.get('architecture')}, {b.get('num_threads')} threads"
                + (f" ({b['threading_layer']})" if b.get("threading_layer") else "")
            )
    else:
        lines.append("BLAS     unknown (install threadpoolctl to see numpy's BLAS kernel)")
    nb = info["numba"]
    if nb is None:
        lines.append("Numba    not installed")
    else:
        feats = ", ".join(nb["vector_features"]) or "none"
        lines.append(
            f"Numba    {nb['version']}, target CPU {nb['cpu_name']} ({feats}), "
            f"{nb['threads']} threads"
        )
    t = info["torch"]
    lines.append(
        "PyTorch  not installed"
        if t is None
        else f"PyTorch  {t['version']}, CPU capability {t['cpu_capability']}, "
        f"{t['threads']} threads"
    )
    lines.append(f"threads  {info['threads']} per library (DLKIT_BENCH_THREADS or all cores)")
    if info["env"]:
        lines.append("env      " + " ".join(f"{k}={v}" for k, v in info["env"].items()))
    lines += info["warnings"]
    return "\n".join(lines)
