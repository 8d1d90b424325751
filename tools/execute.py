"""Re-execute chapters in place, storing outputs and widget state: `make execute`.

    python tools/execute.py chapters                 # every chapter
    python tools/execute.py chapters/01_perceptrons.ipynb

Each notebook runs in a fresh kernel from its own folder (as nbval and JupyterLab
run it). Its execution time is recorded in the notebook's metadata
(``metadata.dlkit.execution``) for the book's status page. A notebook is written
only after it ran without error, through a temporary file and a rename, so a
failing or interrupted run never leaves a half-written chapter.
"""

from __future__ import annotations

import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import nbformat
from nbclient import NotebookClient

BUDGET_S = 60.0


def execute(path: Path, timeout: int = 600) -> float:
    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(
        nb,
        timeout=timeout,
        kernel_name="python3",
        store_widget_state=True,
        resources={"metadata": {"path": str(path.parent)}},
    )
    t0 = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - t0
    # A display formatter that raises (a broken _repr_html_) leaves an error output
    # without failing its cell: refuse to store such a notebook too.
    for i, cell in enumerate(nb.cells):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                raise RuntimeError(
                    f"{path}: cell {i} has an error output ({out.get('ename')}: "
                    f"{out.get('evalue')}); the notebook was not written"
                )
    nb.metadata.setdefault("dlkit", {})["execution"] = {
        "seconds": round(seconds, 1),
        "machine": f"{platform.machine()}, {os.cpu_count()} cores",
        "python": platform.python_version(),
    }
    fd, tmp = tempfile.mkstemp(dir=path.parent, suffix=".ipynb.tmp")
    with os.fdopen(fd, "w", encoding="utf-8") as f:
        nbformat.write(nb, f)
    # mkstemp creates the file for its owner only; a chapter is readable by everyone
    # (as the umask allows), like a file written in place.
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)
    os.replace(tmp, path)
    return seconds


def main(argv: list[str]) -> int:
    if not argv:
        print(__doc__)
        return 2
    paths: list[Path] = []
    for a in argv:
        p = Path(a)
        if p.is_dir():
            paths += sorted(q for q in p.glob("*.ipynb") if ".ipynb_checkpoints" not in q.parts)
        elif p.suffix == ".ipynb" and p.exists():
            paths.append(p)
        else:
            print(f"error: {a} is neither a folder nor an existing .ipynb file", file=sys.stderr)
            return 2
    slow = []
    for p in paths:
        s = execute(p)
        flag = "" if s <= BUDGET_S else f"  OVER the {BUDGET_S:.0f} s budget"
        print(f"{p}: {s:6.1f} s{flag}", flush=True)
        if s > BUDGET_S:
            slow.append(p)
    return 1 if slow else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
