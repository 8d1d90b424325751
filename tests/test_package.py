"""The top-level package: every module of dlkit is reachable lazily from ``import dlkit``."""

import importlib.util
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

import dlkit

ROOT = Path(dlkit.__file__).parent


def _folder_modules(root: Path) -> set[str]:
    """The public modules and subpackages in a package folder, read from the files."""
    files = {p.stem for p in root.glob("*.py")}
    packages = {d.name for d in root.iterdir() if (d / "__init__.py").is_file()}
    return {n for n in files | packages if not n.startswith("_")}


def test_submodules_are_the_modules_in_the_folder():
    assert dlkit._SUBMODULES == _folder_modules(ROOT)
    for name in ("train", "models", "checkpoint", "nn", "kernels", "backend", "conv"):
        assert name in dlkit._SUBMODULES
    for name in sorted(dlkit._SUBMODULES):
        assert importlib.util.find_spec(f"dlkit.{name}") is not None, name
    assert set(dir(dlkit)) >= dlkit._SUBMODULES | {"show_source", "rng", "__version__"}


def test_import_dlkit_is_lazy_and_attributes_load_modules():
    code = (
        "import sys, dlkit\n"
        "loaded = sorted(m for m in sys.modules if m.startswith('dlkit.'))\n"
        "heavy = [m for m in ('numba', 'matplotlib', 'scipy') if m in sys.modules]\n"
        "print(loaded, heavy)\n"
        "mods = (dlkit.train, dlkit.models, dlkit.checkpoint, dlkit.kernels, dlkit.backend)\n"
        "print(all(m is sys.modules[m.__name__] for m in mods))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    assert out == ["[] []", "True"]


def test_a_name_that_is_no_module_is_an_attribute_error():
    with pytest.raises(AttributeError, match="module 'dlkit' has no attribute 'unsupervised_x'"):
        dlkit.unsupervised_x  # noqa: B018


def test_a_new_module_is_listed_without_editing_the_list(tmp_path):
    """The list comes from the folder: a module added to the package is reachable, a
    private one is not."""
    pkg = tmp_path / "dlkit"
    pkg.mkdir()
    shutil.copy(ROOT / "__init__.py", pkg / "__init__.py")
    (pkg / "newmod.py").write_text("X = 1\n")
    (pkg / "_private.py").write_text("")
    (pkg / "sub").mkdir()
    (pkg / "sub" / "__init__.py").write_text("Y = 2\n")
    (pkg / "notapackage").mkdir()  # a folder without __init__.py
    code = "import dlkit; print(sorted(dlkit._SUBMODULES), dlkit.newmod.X, dlkit.sub.Y)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=tmp_path
    ).stdout.strip()
    assert out == "['newmod', 'sub'] 1 2"
