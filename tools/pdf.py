"""Print the built book to one PDF: ``make pdf`` -> ``_build/pdf/book.pdf``.

The pages of ``_toc.yml`` are put, in order, into one HTML page built for printing
(``_build/html/_print/book.html``): a title page, a table of contents that links to
each chapter, then each page's article (the theme's navigation left out), with ids
and links rewritten so that links between chapters land inside the PDF. Debian's
headless Chromium opens it from a server on 127.0.0.1 with every other request
refused (``tests/browser.py``), waits until MathJax has typeset every equation and the
saved widget views have rendered (the static view of each explorer), and prints it
through the DevTools protocol (``Page.printToPDF``, with a document outline of the
headings as PDF bookmarks and page numbers in the footer).

    python tools/pdf.py            # print _build/html into _build/pdf/book.pdf
    python tools/pdf.py --stale    # exit 0 if the HTML book needs building first
"""

from __future__ import annotations

import argparse
import base64
import html
import re
import sys
import tempfile
import time
from pathlib import Path

import yaml

ROOT = Path(__file__).resolve().parent.parent
HTML = ROOT / "_build" / "html"
PDF = ROOT / "_build" / "pdf" / "book.pdf"
PRINT_DIR = "_print"  # one folder below the site's root, like chapters/ and api/
sys.path.insert(0, str(ROOT / "tests"))
from browser import Chromium, find_chromium, serve  # noqa: E402  (tests/browser.py)

WIDGET_STATE = re.compile(
    r'<script type="application/vnd\.jupyter\.widget-state\+json">.*?</script>', re.S
)
ARTICLE = re.compile(r'<article class="bd-article"[^>]*>(.*)</article>', re.S)
HEAD = re.compile(r"<head>(.*?)</head>", re.S)
TITLE = re.compile(r"<h1[^>]*>(.*?)</h1>", re.S)
# Scripts the printed page needs: MathJax (its configuration and the library),
# require.js and the widget manager. The theme's scripts (navigation, search) are not.
KEEP_SCRIPT = ("MathJax", "mathjax/", "requirejs/", "html-manager/")

PRINT_CSS = """
@page { size: A4; margin: 16mm 15mm 18mm 15mm; }
html, body { background: white !important; }
body { font-size: 10.5pt; margin: 0; }
.dlkit-print-page { break-before: page; }
.dlkit-print-title { text-align: center; padding-top: 30vh; }
.dlkit-print-title h1 { font-size: 30pt; }
.dlkit-print-toc ol { list-style: none; padding-left: 0; }
.dlkit-print-toc li { margin: 0.15em 0; }
.dlkit-print-toc .part { font-weight: bold; margin-top: 0.8em; }
.dlkit-print-toc ol ol { padding-left: 1.5em; font-weight: normal; }
.headerlink, .copybtn, .toggle-button, button.toggle-button, .dlkit-exec-time { display: none !important; }
pre { white-space: pre-wrap; word-break: break-word; }
div.highlight, .cell_output, figure, img, table, .jupyter-widgets, mjx-container[display="true"] {
  break-inside: avoid;
}
img { max-width: 100% !important; height: auto; }
details.sd-dropdown > summary { list-style: none; }
a { color: inherit; text-decoration: none; }
"""

# Waits until MathJax has typeset the page and every saved widget view has rendered.
READY_JS = """
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const deadline = Date.now() + %(timeout_ms)d;
  const math = [...document.querySelectorAll('.math')];
  while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)
         && Date.now() < deadline) await sleep(100);
  if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
    await Promise.race([MathJax.startup.promise, sleep(Math.max(0, deadline - Date.now()))]);
  }
  const views = [...document.querySelectorAll(
      'script[type="application/vnd.jupyter.widget-view+json"]')];
  const rendered = s => { const d = s.previousElementSibling;
    return !!(d && d.classList.contains('widget-subarea') && d.querySelector('.jupyter-widgets')); };
  while (views.some(s => !rendered(s)) && Date.now() < deadline) await sleep(200);
  document.querySelectorAll('details').forEach(d => d.open = true);
  await document.fonts.ready;
  await sleep(500);
  return {math: math.length,
          typeset: math.filter(m => m.querySelector('mjx-container')).length,
          views: views.length, rendered: views.filter(rendered).length};
})()
"""


def toc_pages(toc_path: Path = ROOT / "_toc.yml") -> list[tuple[str | None, str]]:
    """(part caption, docname) of every page in the table of contents, in order."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    pages: list[tuple[str | None, str]] = [(None, toc["root"])]

    def walk(entries: list[dict] | None, part: str | None) -> None:
        for e in entries or []:
            if "file" in e:
                pages.append((part, re.sub(r"\.(md|ipynb|rst)$", "", e["file"])))
            for key in ("sections", "chapters"):
                walk(e.get(key), part)

    walk(toc.get("chapters"), None)
    for part in toc.get("parts", []) or []:
        walk(part.get("chapters"), part.get("caption"))
    return pages


def slug(docname: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]", "-", docname)


def rewrite(body: str, docname: str, known: set[str]) -> str:
    """Prefix the page's ids with its name and point its links inside the combined page."""
    here = slug(docname)
    folder = docname.rsplit("/", 1)[0] if "/" in docname else ""
    body = re.sub(r'\bid="([^"]+)"', lambda m: f'id="{here}--{m.group(1)}"', body)

    def href(m: re.Match) -> str:
        url = html.unescape(m.group(1))
        if re.match(r"^[a-z]+:|^//", url):
            return m.group(0)  # an external link
        path, _, frag = url.partition("#")
        if not path:
            return f'href="#{here}--{frag}"' if frag else m.group(0)
        if not path.endswith(".html"):
            return m.group(0)  # a download, an image
        parts = (folder.split("/") if folder else []) + path[: -len(".html")].split("/")
        resolved: list[str] = []
        for p in parts:
            if p == "..":
                if resolved:
                    resolved.pop()
            elif p not in ("", "."):
                resolved.append(p)
        target = "/".join(resolved)
        if target not in known:
            return m.group(0)
        return f'href="#{slug(target)}--{frag}"' if frag else f'href="#page-{slug(target)}"'

    return re.sub(r'\bhref="([^"]*)"', href, body)


def head_of(page: str) -> str:
    """The stylesheets and the math and widget scripts of a page's <head>."""
    head = HEAD.search(page).group(1)
    keep = []
    for tag in re.findall(r"<link\b[^>]*>|<style\b.*?</style>|<script\b.*?</script>", head, re.S):
        if tag.startswith("<link") and 'rel="stylesheet"' not in tag:
            continue
        if tag.startswith("<script") and (
            "widget-state" in tag or not any(k in tag for k in KEEP_SCRIPT)
        ):
            continue
        keep.append(tag)
    return "\n".join(keep)


def combine(html_dir: Path = HTML) -> Path:
    """Write the book as one printable page; returns its path."""
    pages = [
        (part, d, (html_dir / f"{d}.html").read_text(encoding="utf-8")) for part, d in toc_pages()
    ]
    known = {d for _, d, _ in pages}
    # The page with the most scripts (math and widgets) gives the <head>.
    richest = max(pages, key=lambda p: ("html-manager/" in p[2], "mathjax/" in p[2]))[2]
    book = yaml.safe_load((ROOT / "_config.yml").read_text(encoding="utf-8"))
    title = html.escape(book.get("title", "The book"))
    author = html.escape(book.get("author", ""))

    toc, body, states = [], [], []
    current_part: str | None = None
    for part, docname, page in pages:
        match = ARTICLE.search(page)
        if match is None:
            raise SystemExit(
                f"{docname}.html has no <article class='bd-article'>: not a built page?"
            )
        name = TITLE.search(match.group(1))
        text = re.sub(r'<a class="headerlink".*?</a>', "", name.group(1)) if name else docname
        heading = re.sub(r"<[^>]+>", "", text).strip()
        if part != current_part and part:
            toc.append(f'</ol></li><li class="part">{html.escape(part)}<ol>')
        current_part = part
        toc.append(f'<li><a href="#page-{slug(docname)}">{heading}</a></li>')
        states += WIDGET_STATE.findall(page)
        body.append(
            f'<section class="dlkit-print-page" id="page-{slug(docname)}">'
            f"{rewrite(match.group(1), docname, known)}</section>"
        )
    contents = (
        '<section class="dlkit-print-page dlkit-print-toc"><h1>Contents</h1>'
        f"<ol><li><ol>{''.join(toc)}</ol></li></ol></section>"
    )
    doc = (
        '<!DOCTYPE html>\n<html lang="en"><head><meta charset="utf-8">'
        f"<title>{title}</title>\n{head_of(richest)}\n<style>{PRINT_CSS}</style></head>\n"
        '<body><main class="bd-main"><div class="bd-content"><div class="bd-article-container">'
        f'<section class="dlkit-print-title"><h1>{title}</h1><p>{author}</p></section>'
        f"{contents}\n"
        + "\n".join(body)
        + "</div></div></main>\n"
        + "\n".join(states)
        + "</body></html>\n"
    )
    out = html_dir / PRINT_DIR / "book.html"
    out.parent.mkdir(exist_ok=True)
    out.write_text(doc, encoding="utf-8")
    return out


FOOTER = (
    '<div style="font-size:8px;width:100%;text-align:center;color:#666">'
    '<span class="pageNumber"></span></div>'
)


def print_pdf(html_dir: Path = HTML, out: Path = PDF, timeout_s: float = 600) -> dict:
    """Print the combined page to ``out``; returns what was typeset and rendered."""
    page = combine(html_dir)
    chromium = find_chromium()
    if chromium is None:
        raise SystemExit(
            "make pdf needs Chromium: install it (Debian/Ubuntu: "
            "`sudo apt-get install chromium`) so that `chromium` is on PATH"
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    with (
        tempfile.TemporaryDirectory() as tmp_dir,
        serve(html_dir) as base,
        Chromium(chromium, Path(tmp_dir) / "profile", timeout=120) as browser,
    ):
        browser.load(base + str(page.relative_to(html_dir)))
        ready = browser.evaluate(
            READY_JS % {"timeout_ms": timeout_s * 1000}, timeout=timeout_s + 60
        )
        if ready["typeset"] < ready["math"] or ready["rendered"] < ready["views"]:
            raise SystemExit(f"the page did not finish rendering in {timeout_s:.0f} s: {ready}")
        result = browser.call(
            "Page.printToPDF",
            timeout=timeout_s,
            printBackground=True,
            preferCSSPageSize=True,
            displayHeaderFooter=True,
            headerTemplate="<div></div>",
            footerTemplate=FOOTER,
            generateDocumentOutline=True,
            transferMode="ReturnAsStream",
        )
        tmp = out.with_suffix(".pdf.tmp")
        with open(tmp, "wb") as f:
            while True:
                chunk = browser.call("IO.read", handle=result["stream"], size=1 << 22)
                data = chunk.get("data", "")
                f.write(base64.b64decode(data) if chunk.get("base64Encoded") else data.encode())
                if chunk.get("eof"):
                    break
        browser.call("IO.close", handle=result["stream"])
        tmp.replace(out)
    return {**ready, "seconds": round(time.perf_counter() - t0, 1), "bytes": out.stat().st_size}


def stale(html_dir: Path = HTML) -> bool:
    """True if a page of the book is missing from ``html_dir`` or older than what it is
    built from: its source, the book's configuration, or dlkit (the API reference)."""
    built = [html_dir / f"{docname}.html" for _, docname in toc_pages()]
    if not all(b.exists() for b in built):
        return True
    sources = [
        ROOT / f"{d}{suffix}" for _, d in toc_pages() for suffix in (".ipynb", ".md", ".rst")
    ]
    sources += [ROOT / "_config.yml", ROOT / "_toc.yml", *(ROOT / "dlkit").rglob("*.py")]
    newest = max(s.stat().st_mtime for s in sources if s.exists())
    return min(b.stat().st_mtime for b in built) < newest


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--stale", action="store_true", help="exit 0 if the HTML needs a build")
    parser.add_argument("--html", type=Path, default=HTML, help="the built HTML book")
    parser.add_argument("--out", type=Path, default=PDF, help="the PDF to write")
    args = parser.parse_args(argv)
    if args.stale:
        return 0 if stale(args.html) else 1
    info = print_pdf(args.html, args.out)
    print(
        f"{args.out}: {info['bytes'] / 1e6:.1f} MB in {info['seconds']} s; "
        f"{info['typeset']} of {info['math']} equations typeset, "
        f"{info['rendered']} of {info['views']} widget views rendered"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
