"""Fetch the book's browser assets from npm and copy them into ``_offline/``: `make assets`.

    python tools/assets.py

The built book renders math with MathJax 3 and interactive widgets with require.js and
``@jupyter-widgets/html-manager``. By default Sphinx and myst-nb load these from CDNs,
so a page read without a network shows raw TeX and empty widget placeholders. This
script installs the versions pinned in ``package.json``/``package-lock.json`` into
``node_modules/`` and copies just the files the pages load into ``_offline/`` (both
git-ignored). ``tools/offline_assets.py``, a Sphinx extension, then serves
``_offline/`` with the book and points the pages at it.

- ``npm ci`` runs only when ``package-lock.json`` changed since the last install
  (a stamp in ``node_modules/`` holds its hash); ``_offline/`` is rebuilt only when
  the stamp or the file list changed. A second run does nothing and says so.
- Without ``npm`` (or when the registry cannot be reached) it prints a note and leaves
  things as they are: the book then builds with the CDN defaults.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
NODE_MODULES = ROOT / "node_modules"
OFFLINE = ROOT / "_offline"
NPM_STAMP = NODE_MODULES / ".dli-assets-stamp"
OFFLINE_STAMP = OFFLINE / ".stamp.json"  # dotfiles are not copied into the site

# What the pages load, as (source under node_modules, destination under _offline).
# A folder is copied whole. MathJax's combined component loads its fonts and, on
# demand (menu, accessibility, rare TeX packages), further components by path relative
# to itself, so those folders travel with it.
MATHJAX_ES5 = "mathjax/es5"
FILES: list[tuple[str, str]] = [
    (f"{MATHJAX_ES5}/tex-chtml-full.js", "mathjax/tex-chtml-full.js"),
    (f"{MATHJAX_ES5}/output/chtml", "mathjax/output/chtml"),
    (f"{MATHJAX_ES5}/input/tex/extensions", "mathjax/input/tex/extensions"),
    (f"{MATHJAX_ES5}/ui", "mathjax/ui"),
    (f"{MATHJAX_ES5}/a11y", "mathjax/a11y"),
    (f"{MATHJAX_ES5}/sre", "mathjax/sre"),
    ("mathjax/LICENSE", "mathjax/LICENSE"),
    ("requirejs/require.js", "requirejs/require.js"),
    # embed-amd.js defines @jupyter-widgets/html-manager, base and controls as AMD
    # modules and renders the output widget itself; the hashed files beside it are
    # the Font Awesome fonts its CSS refers to.
    ("@jupyter-widgets/html-manager/dist/embed-amd.js", "html-manager/embed-amd.js"),
]
HTML_MANAGER_DIST = "@jupyter-widgets/html-manager/dist"
# The book's own script loaded before embed-amd.js (see the file for what it does).
LOCAL_FILES: list[tuple[Path, str]] = [
    (ROOT / "tools" / "offline_widgets.js", "html-manager/setup.js"),
]
FONT_SUFFIXES = (".woff2", ".woff", ".ttf", ".eot", ".svg")


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def lock_hash() -> str:
    """Hash of what npm installs: the lock file (or package.json while there is none)."""
    lock = ROOT / "package-lock.json"
    return sha256(lock if lock.exists() else ROOT / "package.json")


def npm_install(npm: str) -> bool:
    """Install node_modules when the lock changed; return False when npm failed."""
    want = lock_hash()
    if NPM_STAMP.exists() and NPM_STAMP.read_text().strip() == want and NODE_MODULES.is_dir():
        return True
    lock = ROOT / "package-lock.json"
    cmd = [npm, "ci" if lock.exists() else "install", "--ignore-scripts", "--no-audit", "--no-fund"]
    print(f"assets: {' '.join(cmd[1:])} (pinned in package.json)", flush=True)
    proc = subprocess.run(cmd, cwd=ROOT)
    if proc.returncode != 0:
        print(
            f"assets: npm failed (exit {proc.returncode}); the book will load MathJax and "
            "the widget manager from CDNs",
            file=sys.stderr,
        )
        return False
    NPM_STAMP.write_text(lock_hash() + "\n")  # `npm install` may have written the lock
    return True


def sources() -> list[tuple[Path, str]]:
    """Every (source file, destination relative to _offline) to copy."""
    out: list[tuple[Path, str]] = []
    for src, dst in FILES:
        p = NODE_MODULES / src
        if p.is_dir():
            out += [
                (f, f"{dst}/{f.relative_to(p).as_posix()}")
                for f in sorted(p.rglob("*"))
                if f.is_file()
            ]
        elif p.is_file():
            out.append((p, dst))
        else:
            raise FileNotFoundError(
                f"{p} is missing: delete node_modules/ and run `make assets` again"
            )
    dist = NODE_MODULES / HTML_MANAGER_DIST
    out += [
        (f, f"html-manager/{f.name}")
        for f in sorted(dist.iterdir())
        if f.suffix in FONT_SUFFIXES or f.name.endswith(".LICENSE.txt")
    ]
    return out + LOCAL_FILES


def manifest() -> dict:
    return {
        "lock": lock_hash(),
        "files": sorted(dst for _, dst in sources()),
        "local": {dst: sha256(src) for src, dst in LOCAL_FILES},
    }


def up_to_date(want: dict) -> bool:
    if not OFFLINE_STAMP.exists():
        return False
    try:
        have = json.loads(OFFLINE_STAMP.read_text())
    except ValueError:
        return False
    return have == want and all((OFFLINE / f).is_file() for f in want["files"])


def copy_offline() -> None:
    """Rebuild _offline/ beside itself, then swap it in, so it is never half-written."""
    want = manifest()
    if up_to_date(want):
        print(f"assets: {OFFLINE.relative_to(ROOT)}/ is up to date ({len(want['files'])} files)")
        return
    tmp = OFFLINE.with_name(OFFLINE.name + ".tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    size = 0
    for src, dst in sources():
        target = tmp / dst
        target.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(src, target)
        size += target.stat().st_size
    (tmp / OFFLINE_STAMP.name).write_text(json.dumps(want, indent=1) + "\n")
    old = OFFLINE.with_name(OFFLINE.name + ".old")
    shutil.rmtree(old, ignore_errors=True)
    if OFFLINE.exists():
        os.replace(OFFLINE, old)
    os.replace(tmp, OFFLINE)
    shutil.rmtree(old, ignore_errors=True)
    print(
        f"assets: wrote {len(want['files'])} files ({size / 2**20:.1f} MiB) to "
        f"{OFFLINE.relative_to(ROOT)}/"
    )


def main() -> int:
    npm = shutil.which("npm")
    if npm is None:
        print(
            "assets: npm not found; the book will load MathJax and the widget manager "
            "from CDNs (install Node.js and npm, then `make assets`, to read it offline)"
        )
        return 0
    if not npm_install(npm):
        return 0
    copy_offline()
    return 0


if __name__ == "__main__":
    sys.exit(main())
