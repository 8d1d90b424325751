"""Sphinx extension for the book: offline math and widgets, and chapter execution times.

Loaded by ``_config.yml`` (``sphinx: local_extensions: offline_assets: ./tools``).

Offline assets
    When ``_offline/`` (written by ``tools/assets.py``, i.e. `make assets`) holds
    MathJax, require.js and the widget HTML manager, it is added to
    ``html_static_path`` (so its files are served from ``_static/``), ``mathjax_path``
    points at the local MathJax and myst-nb's ``nb_ipywidgets_js`` at the local
    require.js and ``embed-amd.js``. ``embed-amd.js`` bundles the
    ``@jupyter-widgets/base``, ``controls`` and ``output`` modules, so the widgets that
    ipywidgets saves render without a network; only third-party widget libraries would
    still be fetched from a CDN. Without ``_offline/`` the CDN defaults stay.

Per-chapter references
    Each chapter ends with its own ``{bibliography}`` (``:filter: docname in
    docnames``), so a work cited by two chapters is listed in both, which
    sphinxcontrib-bibtex reports as a duplicate citation (silenced in ``_config.yml``)
    and resolves by linking every ``{cite}`` to the last list. Citations here link to
    the list on their own page.

Execution times
    ``tools/execute.py`` records each notebook's run time in
    ``metadata.dlkit.execution``. The ``dlkit-exec-table`` directive renders a table of
    every notebook in the table of contents with that time (myst-nb's
    ``nb-exec-table`` is empty when the build does not execute notebooks), and each
    chapter page gets a line under its title saying how long it took to run.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Iterator

from docutils import nodes
from docutils.parsers.rst import Directive
from sphinx import addnodes
from sphinx.application import Sphinx
from sphinx.config import Config
from sphinx.util import logging

logger = logging.getLogger(__name__)

OFFLINE_DIR = "_offline"
# Paths relative to _offline/, which is served as _static/ in the built site.
MATHJAX_JS = "mathjax/tex-chtml-full.js"
REQUIRE_JS = "requirejs/require.js"
EMBED_JS = "html-manager/embed-amd.js"
WIDGETS_SETUP_JS = "html-manager/setup.js"  # tools/offline_widgets.js
REQUIRED = (MATHJAX_JS, REQUIRE_JS, WIDGETS_SETUP_JS, EMBED_JS)


# --------------------------------------------------------------------------- assets


def offline_dir(srcdir: str | Path) -> Path | None:
    """The ``_offline/`` folder of the book at ``srcdir`` if it is complete, else None."""
    root = Path(srcdir) / OFFLINE_DIR
    return root if all((root / f).is_file() for f in REQUIRED) else None


def use_offline_assets(app: Sphinx, config: Config) -> None:
    root = offline_dir(app.srcdir)
    if root is None:
        logger.info(
            "offline_assets: no %s/ (run `make assets`); MathJax and the widget "
            "manager load from CDNs",
            OFFLINE_DIR,
        )
        return
    config.html_static_path = [*config.html_static_path, str(root)]
    config.mathjax_path = MATHJAX_JS
    # myst-nb adds these, in order, to every page with saved widget state: require.js
    # first, then the book's set-up (module paths, MathJax 3 for widget labels), then
    # the embedder, which registers its modules with require.js and renders the widgets.
    config.nb_ipywidgets_js = {REQUIRE_JS: {}, WIDGETS_SETUP_JS: {}, EMBED_JS: {}}
    logger.info("offline_assets: serving MathJax and the widget manager from %s", root)


# ------------------------------------------------------------------ references


def prefer_local_citations() -> None:
    """Make sphinxcontrib-bibtex link a citation to the bibliography on its own page."""
    try:
        from sphinxcontrib.bibtex.domain import BibtexDomain
    except ImportError:
        return
    original = BibtexDomain.resolve_xref
    if getattr(original, "prefers_local", False):
        return

    def resolve_xref(self, env, fromdocname, builder, typ, target, node, contnode):
        # resolve_xref keeps the last citation it sees for a key: put this page's last.
        saved = self.data["citations"]
        self.data["citations"] = sorted(
            saved, key=lambda c: c.bibliography_key.docname == fromdocname
        )
        try:
            return original(self, env, fromdocname, builder, typ, target, node, contnode)
        finally:
            self.data["citations"] = saved

    resolve_xref.prefers_local = True
    BibtexDomain.resolve_xref = resolve_xref


# --------------------------------------------------------------------- exec times


def execution(path: Path) -> dict[str, Any] | None:
    """``metadata.dlkit.execution`` of a notebook, or None if it was never recorded."""
    try:
        meta = json.loads(path.read_text(encoding="utf-8")).get("metadata", {})
    except (OSError, ValueError):
        return None
    ex = meta.get("dlkit", {}).get("execution")
    return ex if isinstance(ex, dict) and "seconds" in ex else None


def toc_docnames(env: Any) -> Iterator[str]:
    """Docnames in table-of-contents order (depth first), from sphinx-external-toc."""
    site_map = getattr(env, "external_site_map", None)
    if site_map is None:
        site_map = getattr(env.config, "external_site_map", None)
    if site_map is None:
        yield from sorted(env.found_docs)
        return
    seen: set[str] = set()

    def walk(docname: str) -> Iterator[str]:
        if docname in seen or docname not in site_map:
            return
        seen.add(docname)
        yield docname
        for tree in site_map[docname].subtrees:
            for item in tree.items:
                if isinstance(item, str) and not type(item).__name__.startswith("Glob"):
                    yield from walk(str(item))

    yield from walk(site_map.root.docname)


def notebook_path(env: Any, docname: str) -> Path | None:
    path = Path(env.doc2path(docname))
    return path if path.suffix == ".ipynb" and path.is_file() else None


def doc_link(docname: str, refdoc: str) -> nodes.Node:
    """A link to ``docname`` titled with the page's own title (the `{doc}` role)."""
    return addnodes.pending_xref(
        "",
        nodes.inline("", docname),
        refdomain="std",
        reftype="doc",
        reftarget="/" + docname,
        refexplicit=False,
        refwarn=True,
        refdoc=refdoc,
    )


def _row(*cells: nodes.Node | str) -> nodes.row:
    row = nodes.row()
    for c in cells:
        entry = nodes.entry()
        entry += c if isinstance(c, nodes.Node) else nodes.paragraph(text=c)
        row += entry
    return row


class ExecTableDirective(Directive):
    """``dlkit-exec-table``: each notebook in the toc with its recorded execution time."""

    has_content = False

    def run(self) -> list[nodes.Node]:
        env = self.state.document.settings.env
        head = ("Chapter", "Execution time", "Machine", "Python")
        rows = []
        total = 0.0
        for docname in toc_docnames(env):
            path = notebook_path(env, docname)
            if path is None:
                continue
            env.note_dependency(str(path))
            ex = execution(path)
            if ex is None:
                cells = ("not recorded", "", "")
            else:
                total += float(ex["seconds"])
                cells = (
                    f"{float(ex['seconds']):.1f} s",
                    str(ex.get("machine", "")),
                    str(ex.get("python", "")),
                )
            link = nodes.paragraph()
            link += doc_link(docname, env.docname)
            rows.append(_row(link, *cells))
        if not rows:
            return [nodes.paragraph(text="No chapter notebooks are listed yet.")]
        rows.append(
            _row(
                nodes.paragraph("", "", nodes.strong(text="All chapters")),
                nodes.paragraph("", "", nodes.strong(text=f"{total:.1f} s")),
                "",
                "",
            )
        )

        table = nodes.table(classes=["dlkit-exec-table"])
        group = nodes.tgroup(cols=len(head))
        table += group
        for width in (50, 16, 22, 12):
            group += nodes.colspec(colwidth=width)
        thead = nodes.thead()
        thead += _row(*head)
        group += thead
        body = nodes.tbody()
        body.extend(rows)
        group += body
        return [table]


def add_execution_note(app: Sphinx, doctree: nodes.document) -> None:
    """Put "This page's code ran in N s ..." under the title of each executed notebook."""
    path = notebook_path(app.env, app.env.docname)
    ex = execution(path) if path is not None else None
    section = doctree.next_node(nodes.section)
    if ex is None or section is None:
        return
    text = f"This page's code ran in {float(ex['seconds']):.1f} s"
    if ex.get("machine"):
        text += f" on {ex['machine']}"
    if ex.get("python"):
        text += f", with Python {ex['python']}"
    para = nodes.paragraph(classes=["dlkit-exec-time"])
    para += nodes.emphasis(text=text + " (recorded by tools/execute.py).")
    index = 1 if section.children and isinstance(section[0], nodes.title) else 0
    section.insert(index, para)


def setup(app: Sphinx) -> dict[str, Any]:
    # Before myst-nb reads its configuration (on builder-inited).
    app.connect("config-inited", use_offline_assets, priority=400)
    app.add_directive("dlkit-exec-table", ExecTableDirective)
    prefer_local_citations()
    app.connect("doctree-read", add_execution_note)
    return {"version": "1.0", "parallel_read_safe": True, "parallel_write_safe": True}
