"""Write the book's benchmark appendix from one run of ``python -m dlkit.bench``.

    python tools/bench_page.py            # runs the benchmark, writes chapters/benchmarks.md

The page records the machine, the library versions and the date with the table, so
a reader can tell what was measured where; re-run it on your machine to compare.
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


def main() -> int:
    proc = subprocess.run(
        [sys.executable, "-m", "dlkit.bench", "--json"], capture_output=True, text=True
    )
    if proc.returncode != 0:
        print(proc.stderr, file=sys.stderr)
        return proc.returncode
    rows = json.loads(proc.stdout)
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
        f"Measured {_dt.date.today().isoformat()} on {cpu_name()}, {os.cpu_count()} cores, "
        f"Python {platform.python_version()}, {versions()}. Regenerate this page with "
        "`python tools/bench_page.py`.",
        "",
        "| group | benchmark | dlkit (ms) | peer | peer (ms) | ratio | note |",
        "|---|---|---:|---|---:|---:|---|",
    ]
    for r in rows:
        ratio = "" if r["ratio"] is None else f"{r['ratio']:.2f}"
        lines.append(
            f"| {r['group']} | {r['name']} | {fmt_ms(r['dlkit_s'])} | {r['peer'] or ''} "
            f"| {fmt_ms(r['peer_s'])} | {ratio} | {r['note']} |"
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
        "- **gemm**: the blocked matrix product written in Numba for teaching, beside numpy's",
        "  BLAS, at 1024 x 1024.",
        "- **lenet**: a training step of the LeNet-style 28 x 28 network, batch 64, beside the same network in PyTorch.",
        "- **cluster**: what the simulated cluster of {doc}`14_sync_sgd` costs in wall time per",
        "  simulated message, and to simulate a 64-rank ring allreduce of 1 MB.",
        "",
    ]
    fd, tmp = tempfile.mkstemp(dir=PAGE.parent, suffix=".md.tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        f.write("\n".join(lines))
    os.replace(tmp, PAGE)
    print(f"wrote {PAGE}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
