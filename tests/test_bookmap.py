"""The map of the book (``dlkit.viz.bookmap``) and the landing page that shows it; every
chapter's opening links the notation page."""

from __future__ import annotations

import json
import re
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
import yaml

from dlkit.viz import bookmap

ROOT = Path(__file__).resolve().parent.parent
TOC = ROOT / "_toc.yml"
SVG_NS = "{http://www.w3.org/2000/svg}"


def toc_parts() -> list[tuple[str, list[str]]]:
    """(caption, numbered chapter names) of each part of the real _toc.yml that has any."""
    spec = yaml.safe_load(TOC.read_text(encoding="utf-8"))
    parts = []
    for part in spec["parts"]:
        names = [Path(e["file"]).name for e in part.get("chapters") or [] if "file" in e]
        names = [n for n in names if re.match(r"\d", n)]
        if names:
            parts.append((part["caption"], names))
    return parts


def toc_with_async_sgd(tmp_path: Path, with_file: bool) -> Path:
    """A copy of the book's toc with chapter 15 after 14 (and its file, if asked for)
    in a folder of its own, the other chapters linked from the real checkout."""
    (tmp_path / "chapters").mkdir(parents=True)
    for path in (ROOT / "chapters").iterdir():
        if path.suffix in (".ipynb", ".md") and path.stem != "15_async_sgd":
            (tmp_path / "chapters" / path.name).symlink_to(path)
    text = TOC.read_text(encoding="utf-8")
    if "chapters/15_async_sgd" not in text:
        text, n = re.subn(
            r"^(\s*)- file: chapters/14_sync_sgd\n",
            r"\g<0>\g<1>- file: chapters/15_async_sgd\n",
            text,
            flags=re.M,
        )
        assert n == 1, "_toc.yml has no chapters/14_sync_sgd line to put chapter 15 after"
    (tmp_path / "_toc.yml").write_text(text, encoding="utf-8")
    if with_file:
        nb = {
            "cells": [
                {
                    "cell_type": "markdown",
                    "metadata": {},
                    "source": "# Asynchronous SGD, as titled by its heading\n",
                }
            ],
            "metadata": {},
            "nbformat": 4,
            "nbformat_minor": 5,
        }
        (tmp_path / "chapters" / "15_async_sgd.ipynb").write_text(json.dumps(nb))
    return tmp_path / "_toc.yml"


def parse(svg: str) -> ET.Element:
    return ET.fromstring(svg)


def box_texts(root: ET.Element) -> dict[str, str]:
    """{href: the text inside that link} for each link of the SVG."""
    return {
        a.get("href"): " ".join(t.text or "" for t in a.iter(SVG_NS + "text"))
        for a in root.iter(SVG_NS + "a")
    }


def test_map_has_the_parts_and_chapters_of_the_toc_titled_by_their_first_heading() -> None:
    book = bookmap.read_toc(TOC)
    assert [(c, [ch.name for ch in chs]) for c, chs in book.parts] == toc_parts()
    for ch in book.chapters:
        path = ROOT / "chapters" / f"{ch.name}.ipynb"
        nb = json.loads(path.read_text(encoding="utf-8"))
        first = next(c for c in nb["cells"] if c["cell_type"] == "markdown")
        heading = "".join(first["source"]).splitlines()[0]
        assert heading == f"# {ch.title}", ch.name
        assert ch.exists
    assert [ch.number for ch in book.chapters][:7] == ["1", "2", "3", "4", "5", "6", "6b"]


def test_every_link_goes_from_an_earlier_chapter_to_a_later_one() -> None:
    book = bookmap.read_toc(TOC)
    order = [ch.name for ch in book.chapters]
    assert book.edges, "the map has no 'builds on' links"
    for earlier, later in book.edges:
        assert order.index(earlier) < order.index(later)
    # Every chapter but the first builds on something, and the links are the table's.
    assert {b for _, b in book.edges} == set(order[1:])
    assert set(book.edges) == {(a, b) for b in order for a in bookmap.BUILDS_ON[b] if a in order}


def test_svg_links_each_chapter_and_draws_each_link(tmp_path: Path) -> None:
    book = bookmap.read_toc(TOC)
    svg = bookmap.svg(book)
    assert svg == bookmap.svg(bookmap.read_toc(TOC)), "the same toc must give the same SVG"
    root = parse(svg)
    links = box_texts(root)
    assert sorted(links) == sorted(f"{ch.name}.html" for ch in book.chapters)
    for ch in book.chapters:
        text = links[f"{ch.name}.html"]
        assert f"Chapter {ch.number}" in text
        assert " ".join(text.split()).find(" ".join(ch.title.split()[:2])) >= 0, (ch, text)
    paths = [p for p in root.iter(SVG_NS + "path") if p.get("marker-end")]
    assert len(paths) == len(book.edges)
    # The picture scales to the text column instead of overflowing it.
    width = int(root.get("viewBox").split()[2])
    assert root.get("width") == "100%" and f"max-width: {width}px" in root.get("style")
    # Every box lies inside the picture, and no two boxes overlap.
    boxes, w, h = bookmap.layout(book)
    for x, y, bw, bh in boxes.values():
        assert 0 <= x and x + bw <= w and 0 <= y and y + bh <= h
    rects = list(boxes.values())
    for i, (x, y, bw, bh) in enumerate(rects):
        for x2, y2, bw2, bh2 in rects[i + 1 :]:
            assert x + bw <= x2 or x2 + bw2 <= x or y + bh <= y2 or y2 + bh2 <= y


def test_chapter_15_is_on_the_map_once_the_toc_lists_it_with_or_without_its_file(
    tmp_path: Path,
) -> None:
    toc = toc_with_async_sgd(tmp_path / "without", with_file=False)
    book = bookmap.read_toc(toc)
    hardware = dict(book.parts)["Hardware and scale"]
    names = [ch.name for ch in hardware]
    assert names[names.index("14_sync_sgd") + 1] == "15_async_sgd"
    ch15 = hardware[names.index("15_async_sgd")]
    assert (ch15.number, ch15.title, ch15.exists) == ("15", "Asynchronous SGD", False)
    assert ("14_sync_sgd", "15_async_sgd") in book.edges
    root = parse(bookmap.svg(book))
    assert "15_async_sgd.html" not in box_texts(root), "a missing chapter must not be a link"
    assert "Asynchronous SGD" in " ".join(t.text or "" for t in root.iter(SVG_NS + "text"))

    toc = toc_with_async_sgd(tmp_path / "with", with_file=True)
    book = bookmap.read_toc(toc)
    ch15 = next(ch for ch in book.chapters if ch.name == "15_async_sgd")
    assert (ch15.title, ch15.exists) == ("Asynchronous SGD, as titled by its heading", True)
    assert "15_async_sgd.html" in box_texts(parse(bookmap.svg(book)))


def test_bad_tables_are_refused_with_what_to_do(tmp_path: Path) -> None:
    without = {k: v for k, v in bookmap.BUILDS_ON.items() if k != "05_backprop"}
    with pytest.raises(ValueError, match=r"05_backprop .*BUILDS_ON: add it"):
        bookmap.read_toc(TOC, builds_on=without)
    backwards = dict(bookmap.BUILDS_ON, **{"02_sigmoid_xor": ("03_feedforward",)})
    with pytest.raises(ValueError, match="comes after it"):
        bookmap.read_toc(TOC, builds_on=backwards)
    with pytest.raises(ValueError, match=r"toc='nowhere/_toc.yml' is not a file"):
        bookmap.read_toc("nowhere/_toc.yml")
    toc = tmp_path / "_toc.yml"
    toc.write_text(
        "format: jb-book\nroot: intro\nparts:\n  - caption: X\n"
        "    chapters:\n      - file: chapters/99_nothing\n"
    )
    with pytest.raises(ValueError, match="99_nothing is in the table of contents but has no"):
        bookmap.read_toc(toc)


def test_landing_page_shows_the_map_of_the_current_toc() -> None:
    """The committed output of chapters/intro.ipynb is the map of today's _toc.yml."""
    nb = json.loads((ROOT / "chapters" / "intro.ipynb").read_text(encoding="utf-8"))
    shown = [
        "".join(out["data"]["text/html"])
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
        if "text/html" in out.get("data", {})
    ]
    expected = bookmap.svg(bookmap.read_toc(TOC))
    assert expected in shown, (
        "the map on the landing page is not that of _toc.yml: run "
        "`python tools/execute.py chapters/intro.ipynb`"
    )


def test_every_chapter_links_the_notation_page_in_its_opening() -> None:
    missing = []
    for ch in bookmap.read_toc(TOC).chapters:
        if not ch.exists:
            continue
        nb = json.loads((ROOT / "chapters" / f"{ch.name}.ipynb").read_text(encoding="utf-8"))
        first = "".join(nb["cells"][0]["source"])
        if "](notation.md)" not in first:
            missing.append(ch.name)
    assert not missing, f"these chapters' first cell does not link notation.md: {missing}"
