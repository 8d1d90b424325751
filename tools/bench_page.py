"""Write the book's benchmark appendix from one run of ``python -m dlkit.bench``.

    python tools/bench_page.py                  # runs the benchmark, writes chapters/benchmarks.md
    python tools/bench_page.py --rounds 7       # more alternating rounds per comparison
    python tools/bench_page.py --from-json F    # the page from a saved ``--json`` run

The page records the machine (the bench header: CPU, vector extensions, BLAS kernel,
Numba target, PyTorch capability, threads), the library versions and the date with the
table, so a reader can tell what was measured where; re-run it on your machine to compare.
Run it with ``OPENBLAS_CORETYPE`` and ``OPENBLAS_L2_SIZE`` unset (``env -u ...``), as a
reader's machine has them.
"""

from __future__ import annotations

import datetime as _dt
import json
import os
import platform
import subprocess
import sys
import tempfile
from pathlib import Path

PAGE = Path(__file__).resolve().parent.parent / "chapters" / "benchmarks.md"


def cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def versions() -> str:
    out = []
    for name in ("numpy", "numba", "scipy", "torch"):
        try:
            mod = __import__(name)
            out.append(f"{name} {mod.__version__}")
        except ImportError:
            out.append(f"{name} not installed")
    return ", ".join(out)


def fmt_ms(s) -> str:
    if s is None:
        return ""
    return f"{s * 1e3:.3f}"


def render(data: dict, date: str, versions_line: str) -> str:
    """The page's markdown from the ``{"machine": ..., "rows": [...]}`` of ``--json``."""
    from dlkit.bench import DEFAULT_ROUNDS, Row, format_header, format_spread

    rows = [Row.from_dict(r) for r in data["rows"]]
    machine = data["machine"]
    rounds = sorted({r.rounds for r in rows if r.rounds})
    rounds_text = ", ".join(map(str, rounds)) if rounds else str(DEFAULT_ROUNDS)
    lines = [
        "# Benchmarks",
        "",
        "Speed in this book is shown by one program, `python -m dlkit.bench`, which times",
        "the same workload in dlkit and beside it in a peer: numpy, or PyTorch CPU with the",
        "same number of threads (when `torch` is installed: `pip install -e '.[bench]'`).",
        "Each group runs in a fresh process, and each side of a comparison is timed alone, so",
        "one library's thread pool does not slow the other's. The ratio is dlkit's time over",
        "the peer's: below 1 means dlkit is faster. `--json` prints the same rows as JSON and",
        "`--only GROUP` runs one group.",
        "",
        "A comparison runs in rounds. Each round times dlkit and the peer, each in a fresh",
        "process, one after the other, and which of them goes first alternates from round to",
        "round, so a slow change in the machine's load falls on both sides alike. A row's",
        "ratio is the median of its per-round ratios, and the spread is the smallest and the",
        "largest of them: two rows whose spreads overlap are not told apart by this run. The",
        f"default is {DEFAULT_ROUNDS} rounds (`--rounds R`, or `DLKIT_BENCH_ROUNDS`); this table",
        f"used {rounds_text}. Rows without a spread come from groups that report a single",
        "figure.",
        "",
        "The figures depend on the machine, and the program says how, above its table: the",
        "CPU and its vector extensions (AVX2, AVX-512), the kernel numpy's BLAS chose for it,",
        "the CPU Numba compiles for, the widest vector code PyTorch dispatches to, and the",
        "thread counts. `OPENBLAS_CORETYPE` and `OPENBLAS_L2_SIZE` pin OpenBLAS to another",
        "CPU's kernel or cache size, and the program warns when they are set; measure with",
        "both unset, as a reader's machine has them.",
        "",
        f"Measured {date} on {cpu_name()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {versions_line}. Regenerate this page with "
        "`python tools/bench_page.py`.",
        "",
        "```text",
        format_header(machine),
        "```",
        "",
        "| group | benchmark | dlkit (ms) | peer | peer (ms) | ratio | spread | rounds | note |",
        "|---|---|---:|---|---:|---:|---:|---:|---|",
    ]
    for r in rows:
        ratio = "" if r.ratio is None else f"{r.ratio:.2f}"
        lines.append(
            f"| {r.group} | {r.name} | {fmt_ms(r.dlkit_s)} | {r.peer or ''} "
            f"| {fmt_ms(r.peer_s)} | {ratio} | {format_spread(r, '–')} | {r.rounds or ''} "
            f"| {r.note} |"
        )
    lines += [
        "",
        "What the groups measure:",
        "",
        "- **mlp**: one training step (forward, cross-entropy, backward, SGD update) of an MLP",
        "  784-100-10 with ReLU, float32, batch 64 ({doc}`06_digits`), beside a hand-written",
        "  numpy step and PyTorch; and one epoch of the digits with `dlkit.train.fit`.",
        "- **conv**: each convolution algorithm of {doc}`07_conv_algorithms` on the LeNet-style network's two",
        "  layers (batch 64), beside `torch.nn.functional.conv2d`.",
        '- **gemm**: the steps of "What it takes to reach BLAS" in {doc}`07_conv_algorithms`,',
        "  from the naive loops to the register-blocked micro-kernel on all cores, each a",
        "  1024 x 1024 float32 product beside numpy's BLAS on all cores; the note gives each",
        "  step's GFLOP/s and its percentage of BLAS. Steps 1 to 5 run on one thread, so the",
        "  last step shows what the threads add. The naive loops are timed on 64 rows of A and",
        "  scaled (every row costs the same).",
        "- **lenet**: a training step of the LeNet-style 28 x 28 network, batch 64, beside the same network in PyTorch.",
        "- **cluster**: what the simulated cluster of {doc}`14_sync_sgd` costs in wall time per",
        "  simulated message, and to simulate a 64-rank ring allreduce of 1 MB.",
        "",
    ]
    return "\n".join(lines)


def main(argv=None) -> int:
    import argparse

    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--rounds", type=int, help="alternating rounds per comparison")
    p.add_argument("--from-json", metavar="FILE", help="write the page from this --json output")
    a = p.parse_args(argv)
    if a.from_json:
        data = json.loads(Path(a.from_json).read_text())
    else:
        cmd = [sys.executable, "-m", "dlkit.bench", "--json"]
        if a.rounds is not None:
            cmd += ["--rounds", str(a.rounds)]
        proc = subprocess.run(cmd, capture_output=True, text=True)
        if proc.returncode != 0:
            print(proc.stderr, file=sys.stderr)
            return proc.returncode
        data = json.loads(proc.stdout)
    page = render(data, _dt.date.today().isoformat(), versions())
    fd, tmp = tempfile.mkstemp(dir=PAGE.parent, suffix=".md.tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write(page)
    os.replace(tmp, PAGE)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
