"""The PDF of the book (``make pdf``, ``tools/pdf.py``).

The fast tests check how the printable page is put together. The PDF itself is
checked by ``make pdf-test``, which prints the book first (a few minutes: the HTML
build and Chromium's print of some 400 pages), then reads it with poppler's
``pdfinfo``, ``pdftotext`` and ``pdfimages``: its page count, each chapter's title,
typeset formulas (no TeX source left), the figures and the static views of the
widgets. Under ``make test`` those checks are skipped when no PDF was printed.
"""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tools"))
import pdf  # noqa: E402  (tools/pdf.py)

PAGES_MIN, PAGES_MAX = 250, 900  # 417 pages when this test was written


def test_toc_pages_are_in_book_order() -> None:
    pages = [d for _, d in pdf.toc_pages()]
    assert pages[0] == "chapters/intro"
    assert pages.index("chapters/01_perceptrons") < pages.index("chapters/05_backprop")
    assert pages[-1].startswith("api/") and "api/index" in pages
    parts = {d: p for p, d in pdf.toc_pages()}
    assert (
        parts["chapters/01_perceptrons"] == "Neurons" and parts["api/dlkit.nn"] == "API reference"
    )


def test_links_between_pages_point_inside_the_combined_page() -> None:
    known = {"chapters/05_backprop", "api/dlkit.nn", "chapters/notation"}
    body = (
        '<h2 id="x">T</h2><a href="#x">a</a> <a href="05_backprop.html#chain">b</a> '
        '<a href="../api/dlkit.nn.html#dlkit.nn.linear.Linear">c</a> '
        '<a href="notation.html">d</a> <a href="https://example.org/">e</a> '
        '<img src="../_images/f.png">'
    )
    out = pdf.rewrite(body, "chapters/04_losses_optimizers", known)
    assert 'id="chapters-04_losses_optimizers--x"' in out
    assert 'href="#chapters-04_losses_optimizers--x"' in out
    assert 'href="#chapters-05_backprop--chain"' in out
    assert 'href="#api-dlkit.nn--dlkit.nn.linear.Linear"' in out
    assert 'href="#page-chapters-notation"' in out
    assert 'href="https://example.org/"' in out and 'src="../_images/f.png"' in out


# ----------------------------------------------------------------------- the PDF


def poppler(tool: str) -> str:
    path = shutil.which(tool)
    if path is None and pdf_installable():
        subprocess.run(
            "apt-get update && apt-get install -y poppler-utils",
            shell=True,
            check=True,
            timeout=1800,
            env={"DEBIAN_FRONTEND": "noninteractive", "PATH": "/usr/sbin:/usr/bin:/sbin:/bin"},
        )
        path = shutil.which(tool)
    if path is None:
        pytest.fail(
            f"{tool} is missing: install poppler-utils (`sudo apt-get install poppler-utils`)"
        )
    return path


def pdf_installable() -> bool:
    import os

    return os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get") is not None


@pytest.fixture(scope="module")
def book_pdf() -> Path:
    if not pdf.PDF.exists():
        pytest.skip("no _build/pdf/book.pdf: `make pdf-test` prints the book and checks it")
    return pdf.PDF


def normal(text: str) -> str:
    return " ".join(unicodedata.normalize("NFKC", text).split())


def test_pdf_page_count(book_pdf: Path) -> None:
    info = subprocess.run([poppler("pdfinfo"), str(book_pdf)], capture_output=True, text=True)
    pages = int(re.search(r"^Pages:\s+(\d+)", info.stdout, re.M).group(1))
    assert PAGES_MIN <= pages <= PAGES_MAX, f"{pages} pages"


def test_pdf_has_every_chapter_typeset_math_and_figures(book_pdf: Path) -> None:
    raw = subprocess.run(
        [poppler("pdftotext"), str(book_pdf), "-"], capture_output=True, text=True, check=True
    ).stdout
    text = normal(raw)
    sheets = raw.split("\f")
    first = next(i for i, s in enumerate(sheets) if s.lstrip().startswith("Contents"))
    end = first + 1  # the contents go on while a page holds titles only, no sentences
    while end < len(sheets) and ". " not in sheets[end] and sheets[end].strip():
        end += 1
    contents = normal(" ".join(sheets[first:end]))
    missing, not_listed = [], []
    for _, docname in pdf.toc_pages():
        page = (pdf.HTML / f"{docname}.html").read_text(encoding="utf-8")
        h1 = re.sub(r'<a class="headerlink".*?</a>', "", pdf.TITLE.search(page).group(1))
        title = normal(re.sub(r"<[^>]+>", "", h1).replace("&amp;", "&"))
        missing += [title] if title not in text else []
        not_listed += [title] if title not in contents else []
    assert not missing, f"chapter titles not in the PDF's text: {missing}"
    assert not not_listed, f"not in the table of contents: {not_listed}"
    # Typeset math: the chapters' TeX source is gone, MathJax's glyphs are there.
    assert not re.search(r"\\(frac|mathcal|nabla|sum)\b", text), "TeX source left in the PDF"
    assert "∇ θ L" in text  # chapter 5's first formula, \nabla_\theta \mathcal{L}
    assert "dlkit/nn/linear.py" in text  # the code chapters show with show_source
    images = subprocess.run(
        [poppler("pdfimages"), "-list", str(book_pdf)], capture_output=True, text=True
    ).stdout.splitlines()[2:]
    figures = sum(
        (pdf.HTML / f"{d}.html").read_text(encoding="utf-8").count("<img")
        for _, d in pdf.toc_pages()
        if d.startswith("chapters/")
    )
    assert len(images) >= figures // 2, f"{len(images)} images in the PDF, {figures} in the HTML"
