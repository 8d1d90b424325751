"""python -m dlkit.bench [--json] [--only GROUP]"""

import argparse
import json
import sys

from dlkit.bench import format_table, load_groups, run


def main(argv=None) -> int:
    p = argparse.ArgumentParser(prog="python -m dlkit.bench", description=__doc__)
    p.add_argument("--json", action="store_true", help="print the rows as JSON")
    p.add_argument("--only", metavar="GROUP", help="run one group: " + ", ".join(load_groups()))
    p.add_argument(
        "--in-process",
        action="store_true",
        help="run the groups in this process instead of one fresh process each",
    )
    a = p.parse_args(argv)
    rows = run(a.only, isolate=not a.in_process)
    if a.json:
        print(json.dumps([r.as_dict() for r in rows], indent=1))
    else:
        print(format_table(rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
