"""python -m dlkit.bench [--json] [--only GROUP] [--rounds R]"""

import argparse
import json
import os
import sys

from dlkit.bench import (
    DEFAULT_ROUNDS,
    format_header,
    format_table,
    load_groups,
    machine_info,
    run,
)


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dlkit.bench", description=__doc__)
    p.add_argument("--json", action="store_true", help="print the machine and the rows as JSON")
    p.add_argument("--only", metavar="GROUP", help="run one group: " + ", ".join(load_groups()))
    p.add_argument(
        "--rounds",
        type=int,
        metavar="R",
        help="alternating rounds per comparison; a row's ratio is the median of the R "
        f"per-round ratios (default {DEFAULT_ROUNDS}, or DLKIT_BENCH_ROUNDS)",
    )
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run the groups in this process instead of one fresh process each",
    )
    p.add_argument("--rows-only", action="store_true", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if a.rounds is not None:
        if a.rounds < 1:
            p.error(f"--rounds {a.rounds}: give at least 1 round")
        os.environ["DLKIT_BENCH_ROUNDS"] = str(a.rounds)  # read by every group process
    if a.rows_only:  # one group's process, run by the parent below
        rows = run(a.only, isolate=not a.in_process)
        print(json.dumps([r.as_dict() for r in rows], indent=1))
        return 0
    info = machine_info()
    if not a.json:  # the header first: the table takes minutes
        print(format_header(info) + "\n", flush=True)
    rows = run(a.only, isolate=not a.in_process)
    if a.json:
        print(json.dumps({"machine": info, "rows": [r.as_dict() for r in rows]}, indent=1))
    else:
        print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
