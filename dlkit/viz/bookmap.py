"""The map of the book on its landing page: its parts, its chapters and what each builds on.

The parts, their order and the chapters in each are read from the book's ``_toc.yml``;
a chapter's title is the first heading of its notebook (or Markdown file). What a
chapter builds on is declared once, in :data:`BUILDS_ON`, as the earlier chapters whose
ideas it uses directly. The map is drawn as SVG by hand (no plotting library), so the
same table of contents always gives the same picture, byte for byte, and every chapter's
box is a link to its page in the HTML book.

    from dlkit.viz import bookmap
    book = bookmap.read_toc("../_toc.yml")
    bookmap.show(book)
"""

from __future__ import annotations

import html
import json
import re
import textwrap
from dataclasses import dataclass
from pathlib import Path

#: What each chapter builds on: the earlier chapters whose ideas it uses directly (not
#: those it reaches only through them). One entry per numbered chapter of ``_toc.yml``.
BUILDS_ON: dict[str, tuple[str, ...]] = {
    "01_perceptrons": (),
    "02_sigmoid_xor": ("01_perceptrons",),
    "03_feedforward": ("02_sigmoid_xor",),
    "04_losses_optimizers": ("03_feedforward",),
    "05_backprop": ("03_feedforward", "04_losses_optimizers"),
    "06_digits": ("05_backprop",),
    "06b_regularization": ("06_digits",),
    "07_conv_algorithms": ("05_backprop",),
    "08_cnns": ("06_digits", "07_conv_algorithms"),
    "09_low_precision": ("08_cnns",),
    "10_autoencoders": ("06_digits",),
    "11_rbm_dbn": ("10_autoencoders",),
    "12_gpus": ("07_conv_algorithms", "09_low_precision"),
    "13_parallelism": ("05_backprop",),
    "14_sync_sgd": ("13_parallelism",),
    "15_async_sgd": ("11_rbm_dbn", "14_sync_sgd"),
    "16_largescale": ("10_autoencoders", "13_parallelism"),
}

#: The title of a chapter that the table of contents lists but whose file is not there
#: (a checkout without it); a chapter that exists is titled by its first heading.
TITLES: dict[str, str] = {"15_async_sgd": "Asynchronous SGD"}

# A numbered chapter: its file name starts with its number, e.g. 06b_regularization.
CHAPTER_NAME = re.compile(r"^(\d+)([a-z]?)_")


@dataclass(frozen=True)
class Chapter:
    """One chapter of the map.

    Attributes
    ----------
    name : str
        The file name without suffix, e.g. ``"04_losses_optimizers"``.
    number : str
        Its number as the book prints it, e.g. ``"4"`` or ``"6b"``.
    title : str
        The first heading of its file (or ``TITLES[name]`` when the file is missing).
    part : str
        The caption of the part of ``_toc.yml`` it belongs to.
    exists : bool
        Whether its file is there (a missing one is drawn dashed, without a link).
    """

    name: str
    number: str
    title: str
    part: str
    exists: bool


@dataclass(frozen=True)
class BookMap:
    """The parts in order, their chapters, and the "builds on" links between chapters.

    Attributes
    ----------
    parts : list of (str, list of Chapter)
        Each part's caption and its chapters, in the order of ``_toc.yml``.
    edges : list of (str, str)
        ``(earlier, later)`` chapter names: ``later`` builds on ``earlier``.
    """

    parts: list[tuple[str, list[Chapter]]]
    edges: list[tuple[str, str]]

    @property
    def chapters(self) -> list[Chapter]:
        """Every chapter, in the order of the table of contents."""
        return [ch for _, chapters in self.parts for ch in chapters]


def first_heading(path: Path) -> str | None:
    """The text of the first level-1 Markdown heading (``# ...``) of a notebook or a
    Markdown file, or None when it has none."""
    if path.suffix == ".ipynb":
        nb = json.loads(path.read_text(encoding="utf-8"))
        text = "\n".join(
            "".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"]
            if c["cell_type"] == "markdown"
        )
    else:
        text = path.read_text(encoding="utf-8")
    for line in text.splitlines():
        if line.startswith("# "):
            return line[2:].strip()
    return None


def _title(root: Path, file: str) -> tuple[str, bool]:
    name = Path(file).name
    for suffix in (".ipynb", ".md"):
        path = root / (re.sub(r"\.(ipynb|md)$", "", file) + suffix)
        if path.exists():
            heading = first_heading(path)
            if heading is None:
                raise ValueError(f"{path} has no '# ' heading to title the chapter with; add one")
            return heading, True
    if name not in TITLES:
        raise ValueError(
            f"{file} is in the table of contents but has no .ipynb or .md file, and "
            f"dlkit.viz.bookmap.TITLES has no title for it: add the file or the title"
        )
    return TITLES[name], False


def read_toc(toc: str | Path, builds_on: dict[str, tuple[str, ...]] | None = None) -> BookMap:
    """The map of the book whose table of contents is ``toc`` (a ``_toc.yml`` path).

    Parameters
    ----------
    toc : str or Path
        The book's ``_toc.yml`` (jb-book format: ``parts``, each with a ``caption`` and
        ``chapters``). Chapter files are looked up relative to its folder.
    builds_on : dict, optional
        What each chapter builds on (default :data:`BUILDS_ON`).

    Returns
    -------
    BookMap
        The parts that have numbered chapters (the appendix and the API reference have
        none and are left out), and the links between chapters that are both in it.

    Raises
    ------
    ValueError
        When a numbered chapter is missing from ``builds_on``, or builds on a chapter that
        comes after it in the table of contents.
    """
    try:
        import yaml
    except ImportError as e:
        raise ImportError("read_toc needs PyYAML to read _toc.yml: pip install pyyaml") from e
    builds_on = BUILDS_ON if builds_on is None else builds_on
    toc = Path(toc)
    if not toc.is_file():
        raise ValueError(f"toc={str(toc)!r} is not a file; pass the path of the book's _toc.yml")
    spec = yaml.safe_load(toc.read_text(encoding="utf-8"))
    parts = []
    for part in spec.get("parts") or []:
        chapters = []
        for entry in part.get("chapters") or []:
            name = Path(entry.get("file", "")).name
            match = CHAPTER_NAME.match(name)
            if not match:
                continue
            title, exists = _title(toc.parent, entry["file"])
            number = str(int(match.group(1))) + match.group(2)
            chapters.append(Chapter(name, number, title, part.get("caption", ""), exists))
        if chapters:
            parts.append((part.get("caption", ""), chapters))
    order = {ch.name: i for i, ch in enumerate(ch for _, chs in parts for ch in chs)}
    edges = []
    for name, i in order.items():
        if name not in builds_on:
            raise ValueError(
                f"chapter {name} is in {toc} but not in dlkit.viz.bookmap.BUILDS_ON: add it, "
                f"with the earlier chapters it builds on"
            )
        for earlier in builds_on[name]:
            if earlier not in order:
                continue
            if order[earlier] >= i:
                raise ValueError(
                    f"BUILDS_ON says {name} builds on {earlier}, which comes after it in "
                    f"{toc}: a chapter can only build on earlier ones"
                )
            edges.append((earlier, name))
    return BookMap(parts, edges)


# -------------------------------------------------------------------------- drawing

BOX_W, GAP_X, GAP_Y, LINE_H, PAD, HEAD_H, MARGIN, CHANNEL = 150, 40, 16, 15, 9, 44, 6, 7
FILL = {True: "#eef4fb", False: "#ffffff"}
STROKE, EDGE, TEXT = "#3f6fa8", "#8aa2bf", "#1b2733"


def _lines(text: str, width: int = 21) -> list[str]:
    return textwrap.wrap(text, width) or [""]


def layout(book: BookMap) -> tuple[dict[str, tuple[int, int, int, int]], int, int]:
    """Where each chapter's box goes: ``{name: (x, y, width, height)}``, and the width
    and height of the whole picture. One column per part, chapters top to bottom, and
    below them a channel for the links that pass over a part."""
    boxes, bottom = {}, 0
    for col, (_, chapters) in enumerate(book.parts):
        x, y = MARGIN + col * (BOX_W + GAP_X), MARGIN + HEAD_H
        for ch in chapters:
            h = 2 * PAD + LINE_H * (len(_lines(ch.title)) + 2)
            boxes[ch.name] = (x, y, BOX_W, h)
            y += h + GAP_Y
        bottom = max(bottom, y - GAP_Y)
    width = 2 * MARGIN + len(book.parts) * BOX_W + (len(book.parts) - 1) * GAP_X
    return boxes, width, bottom + CHANNEL * (len(_long_edges(book, boxes)) + 1) + MARGIN


def _long_edges(book: BookMap, boxes: dict) -> list[tuple[str, str]]:
    """The links from a part to one that is not the next: they go round, underneath."""
    return [(a, b) for a, b in book.edges if boxes[b][0] - boxes[a][0] > BOX_W + GAP_X]


def _edge_path(a: tuple[int, int, int, int], b: tuple[int, int, int, int]) -> str:
    (ax, ay, aw, ah), (bx, by, _, bh) = a, b
    if ax == bx:  # same part: down the left side, bulging out when chapters lie between
        x0, y0, x1, y1 = ax + 14, ay + ah, bx + 14, by
        if y1 - y0 <= GAP_Y:
            return f"M{x0},{y0} L{x1},{y1}"
        return f"M{ax},{ay + ah - 8} C{ax - 22},{ay + ah} {bx - 22},{by} {bx},{by + 8}"
    x0, y0, x1, y1 = ax + aw, ay + ah // 2, bx, by + bh // 2
    dx = max(GAP_X, (x1 - x0) // 3)
    return f"M{x0},{y0} C{x0 + dx},{y0} {x1 - dx},{y1} {x1},{y1}"


def _channel_path(
    a: tuple[int, int, int, int], b: tuple[int, int, int, int], y: int, k: int
) -> str:
    """A link that passes over whole parts: out into the gap after its part, down to the
    channel at height ``y``, along it, and up the gap before the part it reaches."""
    (ax, ay, aw, ah), (bx, by, _, bh) = a, b
    gx0, gx1 = ax + aw + 10 + 5 * k, bx - 10 - 5 * k
    return f"M{ax + aw},{ay + ah // 2} H{gx0} V{y} H{gx1} V{by + bh // 2 + 4 + 3 * k} H{bx}"


def svg(book: BookMap, href: str = "{name}.html") -> str:
    """The map as an SVG document: a column per part, a box per chapter (a link to
    ``href.format(name=...)``), an arrow from each chapter to each that builds on it.

    The SVG scales to the width of the page (``viewBox``, ``width="100%"``) and is the
    same string for the same map on every machine.
    """
    boxes, width, height = layout(book)
    names = {ch.name: ch for ch in book.chapters}
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="dlkit-bookmap" viewBox="0 0 {width} '
        f'{height}" width="100%" style="max-width: {width}px; height: auto" role="img" '
        f'aria-label="Map of the book: its parts, chapters and what each builds on" '
        f'font-family="sans-serif" font-size="12">',
        "<style>.dlkit-bookmap a { text-decoration: none; } "
        ".dlkit-bookmap a:hover rect { fill: #d6e6f7; }</style>",
        "<defs>",
        '<marker id="dlkit-bookmap-arrow" viewBox="0 0 10 10" refX="9" refY="5" '
        f'markerWidth="7" markerHeight="7" orient="auto"><path d="M0,0 L10,5 L0,10 z" '
        f'fill="{EDGE}"/></marker>',
        "</defs>",
    ]
    for col, (caption, _) in enumerate(book.parts):
        x = MARGIN + col * (BOX_W + GAP_X) + BOX_W // 2
        for i, line in enumerate(_lines(caption, 20)):
            out.append(
                f'<text x="{x}" y="{MARGIN + 14 + i * LINE_H}" text-anchor="middle" '
                f'font-weight="bold" fill="{TEXT}">{html.escape(line)}</text>'
            )
    out.append(f'<g fill="none" stroke="{EDGE}" stroke-width="1.5">')
    long = _long_edges(book, boxes)
    floor = max(y + h for _, y, _, h in boxes.values())
    for earlier, later in book.edges:
        a, b = boxes[earlier], boxes[later]
        if (earlier, later) in long:
            k = long.index((earlier, later))
            d = _channel_path(a, b, floor + CHANNEL * (k + 1), k)
        else:
            d = _edge_path(a, b)
        out.append(
            f'<path d="{d}" '
            f'marker-end="url(#dlkit-bookmap-arrow)"><title>{html.escape(names[later].title)} '
            f"builds on {html.escape(names[earlier].title)}</title></path>"
        )
    out.append("</g>")
    before = {
        ch.name: [names[a].number for a, b in book.edges if b == ch.name] for ch in names.values()
    }
    for ch in book.chapters:
        x, y, w, h = boxes[ch.name]
        dash = "" if ch.exists else ' stroke-dasharray="4 3"'
        body = [
            f'<rect x="{x}" y="{y}" width="{w}" height="{h}" rx="6" fill="{FILL[ch.exists]}" '
            f'stroke="{STROKE}"{dash}/>',
            f'<text x="{x + PAD}" y="{y + PAD + 11}" font-weight="bold" fill="{STROKE}">'
            f"Chapter {ch.number}</text>",
        ]
        for i, line in enumerate(_lines(ch.title)):
            body.append(
                f'<text x="{x + PAD}" y="{y + PAD + 11 + (i + 1) * LINE_H}" fill="{TEXT}">'
                f"{html.escape(line)}</text>"
            )
        note = "builds on " + ", ".join(before[ch.name]) if before[ch.name] else "start here"
        body.append(
            f'<text x="{x + PAD}" y="{y + h - PAD - 2}" font-size="10" fill="#5a6b7d">{note}</text>'
        )
        if ch.exists:
            link = html.escape(href.format(name=ch.name), quote=True)
            out.append(f'<a href="{link}"><title>{html.escape(ch.title)}</title>')
            out.extend(body)
            out.append("</a>")
        else:
            out.extend(body)
    out.append("</svg>")
    return "\n".join(out)


def describe(book: BookMap) -> str:
    """The map in words: one line per part with its chapters' numbers."""
    lines = [
        f"{len(book.chapters)} chapters in {len(book.parts)} parts, "
        f"{len(book.edges)} 'builds on' links:"
    ]
    for caption, chapters in book.parts:
        lines.append(f"  {caption}: " + ", ".join(ch.number for ch in chapters))
    return "\n".join(lines)


def show(book: BookMap, href: str = "{name}.html") -> None:
    """Display the map in the notebook as inline SVG (so its boxes are links in the
    HTML book), with :func:`describe` as its plain-text form."""
    from IPython.display import display

    display({"text/html": svg(book, href), "text/plain": describe(book)}, raw=True)
