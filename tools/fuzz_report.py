"""Run the fuzz catalogue of dlkit's public API and print what each bad input did.

    .venv/bin/python tools/fuzz_report.py                  # counts and percentages
    .venv/bin/python tools/fuzz_report.py --by module      # counts per module
    .venv/bin/python tools/fuzz_report.py --list unclear   # the cases, by module
    .venv/bin/python tools/fuzz_report.py --list silent,crash --only nn.Linear

Every case runs in a child process (a crash or a hang is caught and counted); the
classes are defined in ``tests/fuzz_api.py``: clear, unclear, silent, crash, hang.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections import Counter, defaultdict
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

import fuzz_api  # noqa: E402


def table(counts: Counter, total: int) -> str:
    lines = [f"{'outcome':<10} {'cases':>7} {'share':>7}"]
    for k in fuzz_api.KINDS:
        share = 100.0 * counts[k] / total if total else 0.0
        lines.append(f"{k:<10} {counts[k]:>7} {share:>6.1f}%")
    lines.append(f"{'total':<10} {total:>7} {100.0 if total else 0.0:>6.1f}%")
    return "\n".join(lines)


def by_group(cases, outcomes, key) -> str:
    groups: dict[str, Counter] = defaultdict(Counter)
    for c, o in zip(cases, outcomes):
        groups[key(c)][o.kind] += 1
    w = max([len(g) for g in groups] + [6])
    head = f"{'':<{w}} " + " ".join(f"{k:>8}" for k in fuzz_api.KINDS) + f" {'total':>7}"
    lines = [head]
    for g in sorted(groups):
        row = groups[g]
        lines.append(
            f"{g:<{w}} "
            + " ".join(f"{row[k]:>8}" for k in fuzz_api.KINDS)
            + f" {sum(row.values()):>7}"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--list", default="", help="comma-separated outcomes whose cases to list")
    ap.add_argument("--by", choices=("module", "family"), help="counts per module or family")
    ap.add_argument("--only", default="", help="run only cases whose name contains this")
    ap.add_argument("--module", default="", help="run only the cases of this module")
    ap.add_argument("--issue", action="store_true", help="run only the issue's named cases")
    ap.add_argument("--jobs", type=int, default=min(2, os.cpu_count() or 1))
    ap.add_argument("--timeout", type=float, default=20.0, help="seconds per case")
    ap.add_argument("--json", help="write every case's outcome to this file")
    args = ap.parse_args(argv)

    import dlkit

    cases = [
        c
        for c in fuzz_api.catalogue()
        if args.only in c.name
        and (not args.module or c.module == args.module)
        and (c.issue or not args.issue)
    ]
    print(f"dlkit {dlkit.__version__} from {Path(dlkit.__file__).parent}")
    print(f"{len(cases)} cases, {args.jobs} processes, {args.timeout:g} s per case")
    t0 = time.monotonic()
    last = [0.0]

    def progress(done: int, total: int) -> None:
        now = time.monotonic()
        if now - last[0] > 10 and sys.stderr.isatty():
            print(f"  {done}/{total} ({now - t0:.0f} s)", file=sys.stderr)
            last[0] = now

    with fuzz_api.Runner(jobs=args.jobs, timeout=args.timeout) as runner:
        outcomes = runner.run(cases, progress)
    counts = Counter(o.kind for o in outcomes)
    print(f"ran in {time.monotonic() - t0:.0f} s\n")
    print(table(counts, len(cases)))
    issue = [(c, o) for c, o in zip(cases, outcomes) if c.issue]
    if issue:
        print(
            "\nthe issue's named cases: "
            + ", ".join(f"{k} {v}" for k, v in Counter(o.kind for _, o in issue).items())
        )
    if args.by:
        key = (lambda c: c.module) if args.by == "module" else (lambda c: c.family)
        print()
        print(by_group(cases, outcomes, key))
    wanted = [k.strip() for k in args.list.split(",") if k.strip()]
    for kind in wanted:
        rows = [(c, o) for c, o in zip(cases, outcomes) if o.kind == kind]
        print(f"\n== {kind}: {len(rows)} cases")
        mod = None
        for c, o in sorted(rows, key=lambda r: (r[0].module, r[0].name)):
            if c.module != mod:
                mod = c.module
                print(f"-- {mod}")
            print(f"  {c.name}\n      {o.detail}")
    if args.json:
        Path(args.json).write_text(
            json.dumps(
                [
                    {
                        "name": c.name,
                        "module": c.module,
                        "family": c.family,
                        "issue": c.issue,
                        "kind": o.kind,
                        "detail": o.detail,
                    }
                    for c, o in zip(cases, outcomes)
                ],
                indent=1,
            )
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
