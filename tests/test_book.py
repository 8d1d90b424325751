"""The book builds without warnings, and its pages render math and widgets offline.

The book is built once per test session (``jupyter-book build -W -n --keep-going``
into a temporary folder, so a `make book` in ``_build/`` is left alone). Every page in
``_toc.yml`` is then opened in headless Chromium, served from 127.0.0.1, with every
request that is not for this machine refused (see ``tests/browser.py``). A page passes
when MathJax typeset each of its equations and every widget view saved in its notebook
was replaced by rendered widgets: with the network refused, that can only happen from
the local copies that ``make assets`` put in ``_offline/``. Screenshots of each page
and of each widget are saved under ``_build/screenshots/`` with ``report.json`` (build
time, typeset and widget counts, and the remote requests each page attempted).

The explorers built by ``dlkit.viz.static`` are then moved in the browser (each
control to another position, by the events a reader's click or key press sends) and
must show the view saved for that position, with no kernel. Every page is also laid
out at 1400 px and 390 px: nothing may be wider than the text column, except, on the
phone, a table or equation that scrolls in its own box.

For quick runs against a book built before (``jupyter-book build . --path-output DIR``)
set ``DLKIT_PREBUILT_BOOK=DIR``: the build is then skipped.

All build and browser tests live in this one file so that ``pytest-xdist --dist
loadfile`` runs them in one worker, with one build.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
import yaml
from browser import BrowserError, Chromium, PageLog, find_chromium, serve

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "_build" / "screenshots"
sys.path.insert(0, str(ROOT / "tools"))
import offline_assets  # noqa: E402  (the book's Sphinx extension, in tools/)

WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"
# An element Sphinx writes for an equation: <span class="math ..."> or <div class="... math ...">.
MATH_ELEMENT = re.compile(r'<(?:span|div)\b[^>]*\bclass="(?:[^"]*\s)?math(?:\s[^"]*)?"')
PAGE_TIMEOUT_S = 90
# JS errors from these files mean math or widgets are broken. (Other scripts, e.g. the
# theme's Binder/Thebe glue, are not what this test is about.)
OUR_SCRIPTS = ("/_static/mathjax/", "/_static/requirejs/", "/_static/html-manager/")


def toc_docnames(toc_path: Path = ROOT / "_toc.yml") -> list[str]:
    """Every page in the table of contents, in order (root, parts, chapters, sections)."""
    toc = yaml.safe_load(toc_path.read_text(encoding="utf-8"))
    names = [toc["root"]]

    def walk(entries: list[dict]) -> None:
        for e in entries or []:
            if "file" in e:
                names.append(e["file"])
            for key in ("sections", "chapters"):
                walk(e.get(key))
            for part in e.get("parts", []) or []:
                walk(part.get("chapters"))

    walk(toc.get("chapters"))
    for part in toc.get("parts", []) or []:
        walk(part.get("chapters"))
    return [re.sub(r"\.(md|ipynb)$", "", n) for n in names]


PAGES = toc_docnames()


def source_of(docname: str) -> Path:
    for suffix in (".ipynb", ".md", ".rst"):
        path = ROOT / (docname + suffix)
        if path.exists():
            return path
    raise FileNotFoundError(f"{docname} is in _toc.yml but has no .ipynb, .md or .rst file")


def saved_widget_views(docname: str) -> list[str]:
    """Model ids of the widget views saved in a notebook's outputs (none for .md)."""
    path = source_of(docname)
    if path.suffix != ".ipynb":
        return []
    nb = json.loads(path.read_text(encoding="utf-8"))
    return [
        out["data"][WIDGET_VIEW]["model_id"]
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for out in cell.get("outputs", [])
        if WIDGET_VIEW in out.get("data", {})
    ]


# --------------------------------------------------------------------------- build


@dataclass
class Build:
    returncode: int
    log: str
    html: Path
    seconds: float

    def page(self, docname: str) -> Path:
        return self.html / f"{docname}.html"


def apt_install(*packages: str) -> bool:
    """Install Debian packages when running as root with apt-get; False otherwise."""
    if not (os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get")):
        return False
    env = dict(os.environ, DEBIAN_FRONTEND="noninteractive")
    subprocess.run(
        f"apt-get update && apt-get install -y {' '.join(packages)}",
        shell=True,
        check=True,
        env=env,
        timeout=1800,
    )
    return True


def ensure_offline_assets() -> None:
    """`make assets` normally ran already; on a machine without npm, install it
    (as root, with apt-get) and fetch the assets, or fail saying what to do."""
    if offline_assets.offline_dir(ROOT) is not None:
        return
    if shutil.which("npm") is None and not apt_install("npm"):
        pytest.fail(
            "_offline/ is missing and npm is not installed, so the book can only "
            "load MathJax and the widget manager from CDNs: install Node.js and npm "
            "(Debian/Ubuntu: `sudo apt-get install npm`), then run `make assets`"
        )
    proc = subprocess.run(
        [sys.executable, str(ROOT / "tools" / "assets.py")],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=1200,
    )
    if offline_assets.offline_dir(ROOT) is None:
        pytest.fail(f"`make assets` did not produce _offline/:\n{proc.stdout}{proc.stderr}")


@pytest.fixture(scope="session")
def book(tmp_path_factory: pytest.TempPathFactory) -> Build:
    prebuilt = os.environ.get("DLKIT_PREBUILT_BOOK")
    if prebuilt:  # a book built before with --path-output DIR: DLKIT_PREBUILT_BOOK=DIR
        log = Path(prebuilt, "build.log")
        return Build(
            0, log.read_text() if log.exists() else "", Path(prebuilt, "_build", "html"), 0.0
        )
    ensure_offline_assets()
    out = tmp_path_factory.mktemp("book")
    jb = Path(sys.executable).with_name("jupyter-book")
    cmd = [
        str(jb) if jb.exists() else "jupyter-book",
        "build",
        "-W",
        "-n",
        "--keep-going",
        str(ROOT),
        "--path-output",
        str(out),
    ]
    t0 = time.perf_counter()
    proc = subprocess.run(cmd, cwd=ROOT, capture_output=True, text=True, timeout=1800)
    build = Build(
        proc.returncode,
        proc.stdout + proc.stderr,
        out / "_build" / "html",
        time.perf_counter() - t0,
    )
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "build.log").write_text(build.log, encoding="utf-8")
    if not (build.html / "index.html").exists():
        pytest.fail(f"the book did not build (exit {proc.returncode}):\n{build.log[-4000:]}")
    return build


@pytest.fixture(scope="session")
def report(book: Build):
    """Results for _build/screenshots/report.json, written when the session ends."""
    data = {"build_seconds": round(book.seconds, 1), "pages": {}}
    yield data
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    (SCREENSHOTS / "report.json").write_text(json.dumps(data, indent=1) + "\n")


def test_book_builds_without_warnings(book: Build) -> None:
    problems = [
        line for line in book.log.splitlines() if re.search(r"\b(WARNING|ERROR|CRITICAL)\b", line)
    ]
    assert book.returncode == 0 and not problems, (
        f"jupyter-book build -W -n --keep-going exited {book.returncode} with:\n"
        + "\n".join(problems or book.log.splitlines()[-40:])
    )


def test_every_toc_page_is_built(book: Build) -> None:
    missing = [d for d in PAGES if not book.page(d).exists()]
    assert not missing, f"pages listed in _toc.yml but not built: {missing}"


def test_pages_load_math_and_widgets_from_local_copies(book: Build) -> None:
    offline = offline_assets.offline_dir(ROOT)
    assert offline is not None, (
        "_offline/ is missing or incomplete, so the book loads MathJax and the widget "
        "manager from CDNs and cannot be read offline: run `make assets` (needs npm)"
    )
    for rel in offline_assets.REQUIRED:
        assert (book.html / "_static" / rel).is_file(), f"_static/{rel} was not copied"
    for docname in PAGES:
        html = book.page(docname).read_text(encoding="utf-8")
        if MATH_ELEMENT.search(html):
            assert f"_static/{offline_assets.MATHJAX_JS}" in html, docname
        if WIDGET_VIEW in html:
            for rel in (
                offline_assets.REQUIRE_JS,
                offline_assets.WIDGETS_SETUP_JS,
                offline_assets.EMBED_JS,
            ):
                assert f"_static/{rel}" in html, f"{docname} does not load _static/{rel}"
        # The CDN defaults of Sphinx and myst-nb must be gone.
        for cdn in (
            "cdn.jsdelivr.net/npm/mathjax",
            "cdnjs.cloudflare.com/ajax/libs/require",
            "@jupyter-widgets/html-manager@",
            "data-jupyter-widgets-cdn-only",
        ):
            assert cdn not in html, f"{docname} still refers to {cdn}"


def test_status_page_lists_every_chapter_with_its_execution_time(book: Build) -> None:
    notebooks = [d for d in PAGES if source_of(d).suffix == ".ipynb"]
    unrecorded = [d for d in notebooks if offline_assets.execution(source_of(d)) is None]
    assert not unrecorded, (
        "no execution time recorded in these notebooks: run "
        f"`python tools/execute.py` on them: {unrecorded}"
    )
    tables = [d for d in PAGES if 'class="dlkit-exec-table' in book.page(d).read_text()]
    if not notebooks:
        return
    assert tables, "no page shows the {dlkit-exec-table} of chapter execution times"
    table = book.page(tables[0]).read_text(encoding="utf-8")
    rows = re.findall(
        r'<tr class="row-[a-z]+"><td><p><a class="reference internal" '
        r'href="([^"]+)\.html"><span class="doc">.*?</span></a></p></td>\s*'
        r"<td><p>([\d.]+) s</p></td>",
        table,
        flags=re.S,
    )
    listed = {Path(href).name: float(s) for href, s in rows}
    for docname in notebooks:
        seconds = float(offline_assets.execution(source_of(docname))["seconds"])
        assert listed.get(Path(docname).name) == pytest.approx(seconds, abs=0.05), docname
        page = book.page(docname).read_text(encoding="utf-8")
        assert f"ran in {seconds:.1f} s" in page, f"{docname} does not show its run time"


def test_assets_script_is_idempotent() -> None:
    """`make assets` run again on an up-to-date tree reinstalls and copies nothing."""
    ensure_offline_assets()
    run = [sys.executable, str(ROOT / "tools" / "assets.py")]
    first = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert first.returncode == 0, first.stdout + first.stderr
    second = subprocess.run(run, cwd=ROOT, capture_output=True, text=True, timeout=600)
    assert second.returncode == 0, second.stdout + second.stderr
    assert "is up to date" in second.stdout and "npm" not in second.stdout, second.stdout
    assert offline_assets.offline_dir(ROOT) is not None


# ------------------------------------------------------------------------- browser


def chromium_executable() -> str:
    """Chromium on PATH; installed with apt-get when missing and running as root."""
    path = find_chromium()
    if path:
        return path
    if apt_install("chromium"):
        path = find_chromium()
        if path:
            return path
    pytest.fail(
        "the browser tests need Chromium: install it (Debian/Ubuntu: "
        "`sudo apt-get install chromium`) so that `chromium` is on PATH"
    )


@pytest.fixture(scope="module")
def browser(book: Build, tmp_path_factory: pytest.TempPathFactory):
    profile = tmp_path_factory.mktemp("chromium") / "profile"
    with (
        serve(book.html) as base_url,
        Chromium(chromium_executable(), profile, width=LAYOUT_WIDTHS[0]) as b,
    ):
        b.base_url = base_url
        yield b


def test_browser_cannot_reach_the_network(browser: Chromium) -> None:
    """The premise of the rendering tests: only loopback answers."""
    url = "https://cdn.jsdelivr.net/npm/mathjax@3.2.2/es5/tex-chtml.js"
    log = browser.load(browser.base_url + f"{PAGES[0]}.html")
    outcome = browser.evaluate(
        f"fetch('{url}').then(r => 'fetched ' + r.status, e => 'refused')", timeout=30
    )
    browser.settle(0.3)
    assert outcome == "refused"
    errors = [r.error for r in log.remote_requests if r.url == url]
    assert errors == ["net::ERR_PROXY_CONNECTION_FAILED"], errors


# Waits until MathJax has typeset the page (if it has math) and every saved widget view
# has been rendered, or the time is up; then describes what is on the page.
RENDER_REPORT_JS = """
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const deadline = Date.now() + %(timeout_ms)d;
  const math = [...document.querySelectorAll('.math')];
  if (math.length) {
    while (!(window.MathJax && MathJax.startup && MathJax.startup.promise)
           && Date.now() < deadline) await sleep(100);
    if (window.MathJax && MathJax.startup && MathJax.startup.promise) {
      await Promise.race([MathJax.startup.promise, sleep(Math.max(0, deadline - Date.now()))]);
    }
  }
  const scripts = [...document.querySelectorAll('script[type="%(view)s"]')];
  const area = s => {
    const d = s.previousElementSibling;
    return d && d.classList.contains('widget-subarea') ? d : null;
  };
  const rendered = s => { const d = area(s); return !!(d && d.querySelector('.jupyter-widgets')); };
  while (scripts.some(s => !rendered(s)) && Date.now() < deadline) await sleep(200);
  await sleep(300);  // let late layout (figures inside Output widgets) settle
  return {
    math: math.length,
    typeset: math.filter(m => m.querySelector('mjx-container')).length,
    mathjax_errors: document.querySelectorAll('mjx-merror').length,
    mjx_containers: document.querySelectorAll('mjx-container').length,
    views: scripts.map(s => {
      const d = area(s);
      const box = d ? d.getBoundingClientRect() : {width: 0, height: 0};
      const content = d ? (d.innerText.trim().length
                           + d.querySelectorAll('img, svg, canvas, input, select, button').length)
                        : 0;
      return {model_id: JSON.parse(s.textContent).model_id, rendered: rendered(s),
              x: box.left + window.scrollX, y: box.top + window.scrollY,
              width: box.width, height: box.height, content: content,
              widgets: d ? d.querySelectorAll('.jupyter-widgets').length : 0};
    }),
  };
})()
"""


def render(browser: Chromium, url: str) -> tuple[dict, PageLog]:
    """Open ``url``, wait for math and widgets, and return what is on the page."""
    log = browser.load(url)
    try:
        page = browser.evaluate(
            RENDER_REPORT_JS % {"timeout_ms": PAGE_TIMEOUT_S * 1000, "view": WIDGET_VIEW},
            timeout=PAGE_TIMEOUT_S + 30,
        )
    except BrowserError as e:
        pytest.fail(f"{url}: {e}")
    browser.settle(0.3)
    return page, log


def check_rendered(
    where: str, page: dict, log: PageLog, math_in_source: int, views_in_notebook: int
) -> None:
    remote = sorted({r.url for r in log.remote_requests})
    failed_local = [
        f"{r.url} ({r.error or r.status})"
        for r in log.failed_local_requests
        if not r.url.endswith("/favicon.ico")
    ]
    our_errors = [e for e in log.exceptions if any(s in e for s in OUR_SCRIPTS)]

    assert page["math"] == math_in_source
    assert page["typeset"] == page["math"], (
        f"{where}: MathJax typeset {page['typeset']} of {page['math']} equations; "
        f"refused remote requests: {remote}; failed local requests: {failed_local}"
    )
    assert page["mathjax_errors"] == 0, f"{where}: {page['mathjax_errors']} TeX errors"

    views = page["views"]
    assert len(views) == views_in_notebook
    bad = [
        v
        for v in views
        if not (
            v["rendered"]
            and v["widgets"]
            and v["height"] > 0
            and v["width"] > 0
            and v["content"] > 0
        )
    ]
    assert not bad, (
        f"{where}: {len(bad)} of {len(views)} saved widgets did not render "
        f"(or rendered blank): {bad}; refused remote requests: {remote}; "
        f"console: {log.console_errors}; exceptions: {log.exceptions}"
    )

    assert not failed_local, f"{where}: local files missing: {failed_local}"
    assert not our_errors, f"{where}: errors in the math/widget scripts: {our_errors}"


@pytest.mark.parametrize("docname", PAGES)
def test_page_renders_math_and_widgets_offline(
    book: Build, browser: Chromium, report: dict, docname: str
) -> None:
    html = book.page(docname).read_text(encoding="utf-8")
    views_in_notebook = saved_widget_views(docname)
    assert html.count(f'type="{WIDGET_VIEW}"') == len(views_in_notebook), (
        f"{docname}: the notebook saved {len(views_in_notebook)} widget views but the page "
        f"has {html.count(f'type={WIDGET_VIEW!r}')}"
    )

    page, log = render(browser, browser.base_url + f"{docname}.html")
    shot = SCREENSHOTS / f"{docname.replace('/', '-')}.png"
    browser.screenshot(shot)
    for i, v in enumerate(page["views"], 1):  # each widget on its own, to look at closely
        if v["width"] > 0 and v["height"] > 0:
            browser.screenshot(
                shot.with_name(f"{shot.stem}-widget{i}.png"),
                clip={k: v[k] for k in ("x", "y", "width", "height")},
            )
    report["pages"][docname] = {
        "screenshot": str(shot.relative_to(ROOT)),
        "math": page["math"],
        "typeset": page["typeset"],
        "widget_views": len(page["views"]),
        "widget_views_rendered": sum(v["rendered"] for v in page["views"]),
        "remote_requests_refused": sorted({r.url for r in log.remote_requests}),
        "failed_local_requests": [r.url for r in log.failed_local_requests],
        "js_exceptions": log.exceptions,
    }
    check_rendered(
        f"{docname} (screenshot {shot})",
        page,
        log,
        len(MATH_ELEMENT.findall(html)),
        len(views_in_notebook),
    )


def test_book_renders_from_file_urls(book: Build, browser: Chromium) -> None:
    """Opening _build/html/index.html from disk (no server) works as well: checked on
    the page with the most widgets and equations."""

    def weight(docname: str) -> tuple[int, int]:
        html = book.page(docname).read_text(encoding="utf-8")
        return len(saved_widget_views(docname)), len(MATH_ELEMENT.findall(html))

    docname = max(PAGES, key=weight)
    views, math = weight(docname)
    page, log = render(browser, book.page(docname).as_uri())
    check_rendered(f"{docname} from file://", page, log, math, views)


# ----------------------------------------------------------- explorers without a kernel

EXPLORER_CLASS = "dlkit-explorer"  # dlkit.viz.static marks an explorer's box with it
CONTROL_CLASS = "dlkit-control"


def widget_state(docname: str) -> dict[str, dict]:
    """The saved widget models of a notebook: model id -> {model_name, state}."""
    path = source_of(docname)
    if path.suffix != ".ipynb":
        return {}
    nb = json.loads(path.read_text(encoding="utf-8"))
    widgets = nb.get("metadata", {}).get("widgets", {})
    return widgets.get("application/vnd.jupyter.widget-state+json", {}).get("state", {})


def _ref(value: str) -> str:
    return value.removeprefix("IPY_MODEL_")


@dataclass
class Explorer:
    """A static explorer as saved in a notebook: its box, the controls of its stack
    layers (model id, model name, trait, number of positions) and its outermost stack."""

    root: str
    controls: list[tuple[str, str, str, int]]
    view: str
    state: dict

    def shown(self, positions: list[int]) -> str:
        """Model id of the ``Output`` shown when control ℓ is at ``positions[ℓ]``."""
        node = self.view
        for p in positions:
            node = _ref(self.state[node]["state"]["children"][p])
        return node

    def expected(self, positions: list[int]) -> dict:
        """The PNGs and text of the view at ``positions``, as saved."""
        outputs = self.state[self.shown(positions)]["state"]["outputs"]
        return {
            "pngs": [o["data"]["image/png"] for o in outputs if "image/png" in o.get("data", {})],
            "text": " ".join(
                " ".join(o["text"].split()) for o in outputs if o.get("output_type") == "stream"
            ),
        }


def saved_explorers(docname: str) -> list[Explorer]:
    """The explorers built by ``dlkit.viz.static`` in a notebook, in page order."""
    state = widget_state(docname)
    links = {
        _ref(m["state"]["target"][0]): (_ref(m["state"]["source"][0]), m["state"]["source"][1])
        for m in state.values()
        if m["model_name"] == "DirectionalLinkModel"
    }
    found = []
    for root in saved_widget_views(docname):
        model = state.get(root, {})
        if EXPLORER_CLASS not in model.get("state", {}).get("_dom_classes", []):
            continue
        view = _ref(model["state"]["children"][-1])
        controls, node = [], view
        while state[node]["model_name"] == "StackModel":
            control, trait = links[node]
            size = len(state[node]["state"]["children"])
            controls.append((control, state[control]["model_name"], trait, size))
            node = _ref(state[node]["state"]["children"][state[node]["state"]["selected_index"]])
        found.append(Explorer(root, controls, view, state))
    return found


EXPLORER_PAGES = [d for d in PAGES if saved_explorers(d)]

# Moves control `level` of the explorer rendered for view `root` to `position` the way a
# reader does: picks the option of a <select>, clicks a toggle button, or presses keys on
# a slider's handle (Home, then ArrowRight), with the events the widget views listen to.
MOVE_JS = """
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const script = [...document.querySelectorAll('script[type="%(view)s"]')]
    .find(s => JSON.parse(s.textContent).model_id === %(root)s);
  const box = script.previousElementSibling.querySelector('.%(explorer)s');
  const control = box.querySelector('.%(control)s-%(level)d');
  const kind = %(kind)s, position = %(position)d, lowest = %(lowest)d;
  if (kind === 'DropdownModel') {
    const select = control.querySelector('select');
    select.selectedIndex = position;
    select.dispatchEvent(new Event('change', {bubbles: true}));
  } else if (kind === 'ToggleButtonsModel') {
    control.querySelectorAll('button')[position].click();
  } else {
    const handle = control.querySelector('.noUi-handle');
    const key = k => handle.dispatchEvent(new KeyboardEvent('keydown', {key: k, bubbles: true}));
    key('Home');
    for (let i = lowest; i < position; i++) key('ArrowRight');
  }
  await sleep(150);
  const view = box.lastElementChild;
  const deadline = Date.now() + 10000;
  while (!view.querySelector('img') && Date.now() < deadline) await sleep(100);
  return {
    pngs: [...view.querySelectorAll('img')].map(i => i.src.replace(/^data:image\\/png;base64,/, '')),
    text: view.innerText.split(/\\s+/).filter(Boolean).join(' '),
  };
})()
"""


def move(browser: Chromium, explorer: Explorer, level: int, position: int) -> dict:
    control, kind, trait, size = explorer.controls[level]
    lowest = 0
    if trait == "value":  # an integer slider: the stack's first entries pad up to its min
        lowest = int(explorer.state[control]["state"]["min"])
    return browser.evaluate(
        MOVE_JS
        % {
            "view": WIDGET_VIEW,
            "root": json.dumps(explorer.root),
            "explorer": EXPLORER_CLASS,
            "control": CONTROL_CLASS,
            "level": level,
            "kind": json.dumps(kind),
            "position": position,
            "lowest": lowest,
        },
        timeout=60,
    )


def test_every_explorer_page_has_a_static_explorer() -> None:
    """At least the chapters converted so far respond without a kernel (see the next test)."""
    assert EXPLORER_PAGES, "no chapter saved an explorer built by dlkit.viz.static"


@pytest.mark.parametrize("docname", EXPLORER_PAGES)
def test_explorers_respond_on_the_static_page(
    book: Build, browser: Chromium, report: dict, docname: str
) -> None:
    """Each control of each explorer is moved in the browser, with no kernel and the
    network refused; the view shown must change to the one saved for that position."""
    render(browser, browser.base_url + f"{docname}.html")
    moved = 0
    for e, explorer in enumerate(saved_explorers(docname), 1):
        state = explorer.state
        shot = SCREENSHOTS / f"{docname.replace('/', '-')}-explorer{e}-moved.png"
        positions = [state[n]["state"]["selected_index"] for n in _stack_chain(explorer, state)]
        for level, (control, kind, trait, size) in enumerate(explorer.controls):
            lowest = int(state[control]["state"].get("min", 0)) if trait == "value" else 0
            before = explorer.expected(positions)
            # the first other position whose saved view differs from the one shown
            choices = [
                p
                for p in [*range(positions[level] + 1, size), *range(lowest, positions[level])]
                if explorer.expected(positions[:level] + [p] + positions[level + 1 :]) != before
            ]
            if not choices:
                continue
            positions[level] = choices[0]
            shown = move(browser, explorer, level, positions[level])
            want = explorer.expected(positions)
            assert shown["pngs"] != before["pngs"] or want["pngs"] == before["pngs"], (
                f"{docname}: explorer {e}: moving control {level} ({kind}) to position "
                f"{positions[level]} did not change the view"
            )
            assert shown["pngs"] == want["pngs"] and want["text"] in shown["text"], (
                f"{docname}: explorer {e}: after moving control {level} ({kind}) to "
                f"{positions[level]} the page shows {len(shown['pngs'])} image(s) that are not "
                f"the saved view of positions {positions}; text shown: {shown['text'][:300]!r}"
            )
            moved += 1
        view = browser.evaluate(
            "(() => { const s = [...document.querySelectorAll('script[type=\"%s\"]')]"
            ".find(s => JSON.parse(s.textContent).model_id === %s);"
            " const r = s.previousElementSibling.getBoundingClientRect();"
            " return {x: r.left + scrollX, y: r.top + scrollY, width: r.width, height: r.height};"
            " })()" % (WIDGET_VIEW, json.dumps(explorer.root))
        )
        if view["width"] > 0 and view["height"] > 0:
            browser.screenshot(shot, clip=view)
    report["pages"].setdefault(docname, {})["explorer_moves"] = moved
    assert moved > 0, f"{docname}: no control of its explorers changes the view"


def _stack_chain(explorer: Explorer, state: dict) -> list[str]:
    """The stacks from the outermost to the innermost along the saved selection."""
    chain, node = [], explorer.view
    while state[node]["model_name"] == "StackModel":
        chain.append(node)
        node = _ref(state[node]["state"]["children"][state[node]["state"]["selected_index"]])
    return chain


# ------------------------------------------------------------------------- layout

LAYOUT_WIDTHS = (1400, 390)
# Everything in the text column that is wider than the column (by more than a pixel):
# tables, figures and images, display equations and widgets. One that scrolls inside
# a box of its own that fits the column (the theme's table container, an equation's
# overflow box) is reported with scrolls = true.
LAYOUT_JS = """
(() => {
  const column = document.querySelector('article.bd-article') || document.querySelector('main');
  const c = column.getBoundingClientRect();
  const style = getComputedStyle(column);
  const inner = c.width - parseFloat(style.paddingLeft) - parseFloat(style.paddingRight);
  const left = c.left + parseFloat(style.paddingLeft);
  const items = [
    ...[...column.querySelectorAll('table')].map(e => ['table', e]),
    ...[...column.querySelectorAll('figure, img')].filter(e => !e.closest('.widget-subarea'))
       .map(e => ['figure', e]),
    ...[...column.querySelectorAll('mjx-container[display="true"] > mjx-math')]
       .map(e => ['equation', e]),
    ...[...column.querySelectorAll('.widget-subarea > .jupyter-widgets')].map(e => ['widget', e]),
  ];
  const scrolls = e => {
    for (let a = e.parentElement; a && a !== column; a = a.parentElement) {
      const o = getComputedStyle(a).overflowX;
      if ((o === 'auto' || o === 'scroll') && a.getBoundingClientRect().width <= inner + 1) {
        return true;
      }
    }
    return false;
  };
  const wide = [];
  for (const [kind, e] of items) {
    const r = e.getBoundingClientRect();
    const width = Math.max(r.width, e.scrollWidth);
    if (r.width === 0 && r.height === 0) continue;
    if (width > inner + 1 || r.left < left - 1 || r.left + width > left + inner + 1) {
      const text = (e.innerText || e.getAttribute('alt') || e.tagName).trim().slice(0, 60);
      wide.push({kind, width: Math.round(width), column: Math.round(inner),
                 scrolls: scrolls(e), text});
    }
  }
  return {column: Math.round(inner), wide};
})()
"""


def layout_at(browser: Chromium, width: int) -> dict:
    browser.call(
        "Emulation.setDeviceMetricsOverride",
        width=width,
        height=browser.height,
        deviceScaleFactor=1,
        mobile=width < 600,
    )
    browser.settle(0.8)
    try:
        return browser.evaluate(LAYOUT_JS)
    finally:
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=browser.width,
            height=browser.height,
            deviceScaleFactor=1,
            mobile=False,
        )


@pytest.mark.parametrize("docname", PAGES)
def test_layout_fits_the_text_column(
    book: Build, browser: Chromium, report: dict, docname: str
) -> None:
    """At 1400 px nothing is wider than the text column; at 390 px (a phone) only
    tables and display equations may be, and then they scroll inside their own box."""
    render(browser, browser.base_url + f"{docname}.html")
    problems = []
    for width in LAYOUT_WIDTHS:
        found = layout_at(browser, width)
        if width < 600:  # on a phone a wide table (or equation) may scroll in its own box
            found["wide"] = [
                w
                for w in found["wide"]
                if not (w["kind"] in ("table", "equation") and w["scrolls"])
            ]
        report["pages"].setdefault(docname, {})[f"too_wide_at_{width}px"] = found["wide"]
        problems += [f"at {width} px (column {found['column']} px): {w}" for w in found["wide"]]
    if problems:
        browser.call(
            "Emulation.setDeviceMetricsOverride",
            width=LAYOUT_WIDTHS[0],
            height=browser.height,
            deviceScaleFactor=1,
            mobile=False,
        )
        browser.screenshot(SCREENSHOTS / f"{docname.replace('/', '-')}-layout-1400.png")
    assert not problems, f"{docname}: wider than the text column:\n" + "\n".join(problems)
