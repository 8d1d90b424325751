"""The API reference (``api/``): a page for every part of dlkit, and links that land.

``dlkit.show_source`` links the file name above the code to the object's entry in the
reference (``Source.reference``). The fast tests check the page list and the URL
scheme; ``test_source_links_land_on_entries`` builds the reference alone (the API
pages with ``jupyter-book build -W -n``, about a minute) and checks that every link a
chapter shows, and those of a sample of the objects chapters show, points at an
anchor that exists.
"""

from __future__ import annotations

import importlib
import json
import pkgutil
import re
import subprocess
import sys
from pathlib import Path

import pytest

import dlkit

ROOT = Path(__file__).resolve().parent.parent
API = ROOT / "api"
REF = re.compile(r'class="dlkit-source-ref" href="\.\./api/([^"#]+)\.html#([^"]+)"')


def top_level() -> list[str]:
    """dlkit and each of its public top-level modules and subpackages."""
    found = pkgutil.iter_modules(dlkit.__path__, "dlkit.")
    return ["dlkit"] + sorted(m.name for m in found if not m.name.split(".")[-1].startswith("_"))


def shown_objects():
    """A sample of the objects that chapters pass to ``show_source``."""
    from dlkit import autograd, nn, optim, perceptron, precision, train
    from dlkit.conv import direct, fft
    from dlkit.kernels import cpu
    from dlkit.unsupervised import rbm, sparse_coding

    return [
        nn.Linear.backward,
        nn.Conv2d.forward,
        nn.MSELoss,
        nn.check_layer,
        optim.SGD.update,
        optim.Optimizer._grad,  # private: links to its class
        autograd.Value.__mul__,  # a dunder: links to its class
        fft._fft_correlate,  # a private function: links to its module
        direct.conv2d_direct_loops,
        cpu.conv2d_direct,  # a Numba CPU kernel
        perceptron.margin,
        precision.round_stochastic,
        train.batches,
        rbm.cd_gradient,
        sparse_coding.ista,
        dlkit.show_source,
    ]


def test_every_part_of_dlkit_has_a_page_in_the_toc() -> None:
    toc = (ROOT / "_toc.yml").read_text(encoding="utf-8")
    missing = [n for n in top_level() if not (API / f"{n}.rst").is_file()]
    assert not missing, (
        f"no API page for {missing}: add api/<name>.rst containing "
        "'.. dlkit-api:: <name>' under a title, and list it in _toc.yml's API reference"
    )
    unlisted = [n for n in top_level() if f"file: api/{n}\n" not in toc]
    assert not unlisted, f"api pages missing from _toc.yml's API reference: {unlisted}"
    for name in top_level():
        assert f".. dlkit-api:: {name}\n" in (API / f"{name}.rst").read_text(), name


def test_reference_urls_follow_the_page_and_anchor_scheme() -> None:
    from dlkit import autograd, nn, optim
    from dlkit.conv import fft

    cases = {
        nn.Linear.backward: "../api/dlkit.nn.html#dlkit.nn.linear.Linear.backward",
        optim.Optimizer._grad: "../api/dlkit.optim.html#dlkit.optim.Optimizer",
        autograd.Value.__mul__: "../api/dlkit.autograd.html#dlkit.autograd.Value",
        fft._fft_correlate: "../api/dlkit.conv.html#module-dlkit.conv.fft",
        dlkit.show_source: "../api/dlkit.html#dlkit.show_source",
        dlkit.nn: "../api/dlkit.nn.html#module-dlkit.nn",
    }
    for obj, url in cases.items():
        assert dlkit.show_source(obj).reference == url
    html = dlkit.show_source(nn.Linear.backward)._repr_html_()
    assert REF.search(html).groups() == ("dlkit.nn", "dlkit.nn.linear.Linear.backward")
    assert "dlkit/nn/linear.py</a>" in html


def links_in_chapters() -> set[tuple[str, str]]:
    """(page, anchor) of every ``show_source`` link saved in a chapter's outputs."""
    links = set()
    for path in sorted((ROOT / "chapters").glob("*.ipynb")):
        for cell in json.loads(path.read_text(encoding="utf-8"))["cells"]:
            for out in cell.get("outputs", []):
                html = out.get("data", {}).get("text/html", "")
                links |= set(REF.findall("".join(html) if isinstance(html, list) else html))
    return links


@pytest.fixture(scope="module")
def api_html(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The API pages alone, built with -W -n (the whole book is built by test_book.py)."""
    tmp = tmp_path_factory.mktemp("api")
    pages = "".join(f"  - file: api/{n}\n" for n in top_level())
    toc = tmp / "_toc.yml"
    toc.write_text(f"format: jb-book\nroot: api/index\nchapters:\n{pages}", encoding="utf-8")
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [str(jb), "build", "-W", "-n", "--keep-going", str(ROOT), "--toc", str(toc)]
    proc = subprocess.run(
        [*cmd, "--path-output", str(tmp)], cwd=ROOT, capture_output=True, text=True, timeout=1200
    )
    log = proc.stdout + proc.stderr
    problems = [ln for ln in log.splitlines() if re.search(r"\b(WARNING|ERROR)\b", ln)]
    assert proc.returncode == 0 and not problems, "\n".join(problems or log.splitlines()[-30:])
    return tmp / "_build" / "html"


def test_source_links_land_on_entries(api_html: Path) -> None:
    links = links_in_chapters()
    links |= {REF.search(dlkit.show_source(o)._repr_html_()).groups() for o in shown_objects()}
    ids: dict[str, set[str]] = {}
    broken = []
    for page, anchor in sorted(links):
        if page not in ids:
            path = api_html / "api" / f"{page}.html"
            text = path.read_text(encoding="utf-8") if path.exists() else ""
            ids[page] = set(re.findall(r'\bid="([^"]+)"', text))
        if anchor not in ids[page]:
            broken.append(f"../api/{page}.html#{anchor}")
    assert not broken, f"show_source links with no entry in the API reference: {broken}"


def test_every_public_module_is_documented(api_html: Path) -> None:
    pages = {p.stem: p.read_text(encoding="utf-8") for p in (api_html / "api").glob("*.html")}
    for module in [m.name for m in pkgutil.walk_packages(dlkit.__path__, "dlkit.")]:
        if any(p.startswith("_") for p in module.split(".")):
            continue
        importlib.import_module(module)
        page = ".".join(module.split(".")[:2])
        assert f'id="module-{module}"' in pages.get(page, ""), f"{module} is not on {page}"
