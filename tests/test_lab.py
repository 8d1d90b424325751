"""``make lab`` tested live: JupyterLab started by the Makefile's own recipe, a chapter
opened in headless Chromium, all its cells run, one explorer's slider moved.

JupyterLab is started with ``make lab`` itself, adding only what a test needs through
``LAB_ARGS`` (a free port on 127.0.0.1, a token, no browser, and
``--LabApp.expose_app_in_browser`` so that the page's ``window.jupyterapp`` can run
JupyterLab's own commands, as the Run menu does). It runs in a folder laid out like the
checkout (the Makefile and ``.venv`` linked, the chapter copied), so that JupyterLab's
autosave and checkpoints never touch the committed notebooks. Chromium reaches nothing
but 127.0.0.1 (``tests/browser.py``).

The first test runs as whoever runs the tests (root in a container: ``make lab`` then
adds ``--allow-root``, and only then, as the second test checks). When that is root, the
third creates a normal user and starts ``make lab`` as that user, then runs
``import dlkit`` in a kernel it starts. Where the venv was made from a Python that other
users cannot run (one in root's home), that user gets a venv of the system's Python of
the same version over the checkout's packages, and runs the same recipe with it.

A screenshot of the chapter after its slider moved is saved under
``_build/screenshots/lab/`` for a person to look at.
"""

from __future__ import annotations

import contextlib
import functools
import json
import os
import pwd
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import websocket
from browser import Chromium, find_chromium

ROOT = Path(__file__).resolve().parent.parent
SCREENSHOTS = ROOT / "_build" / "screenshots" / "lab"
# A short chapter whose explorer has a slider (a few seconds to run all its cells).
CHAPTER = "01_perceptrons.ipynb"
NORMAL_USER = "dlkit-lab"
START_TIMEOUT_S = 120
RUN_TIMEOUT_S = 300
RESPONSE_TIMEOUT_S = 60


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@dataclass
class Lab:
    url: str  # http://127.0.0.1:PORT/
    token: str
    log: Path

    def log_tail(self, n: int = 40) -> str:
        lines = self.log.read_text(errors="replace").splitlines()
        return "\n".join(line for line in lines if "language" not in line)[-4000:] or "(empty)"

    def api(self, path: str, method: str = "GET", body: dict | None = None) -> dict | list:
        data = None if body is None else json.dumps(body).encode()
        req = urllib.request.Request(
            f"{self.url}api/{path}",
            data=data,
            method=method,
            headers={"Authorization": f"token {self.token}", "Content-Type": "application/json"},
        )
        with urllib.request.urlopen(req, timeout=30) as r:
            text = r.read().decode()
        return json.loads(text) if text else {}


def lab_folder(tmp: Path, owner: str | None = None, venv: Path = ROOT / ".venv") -> Path:
    """A folder where ``make lab`` runs as in the checkout: the Makefile and the venv
    linked, the chapter copied into ``chapters/`` (owned by ``owner`` if given)."""
    work = tmp / "checkout"
    (work / "chapters").mkdir(parents=True)
    shutil.copyfile(ROOT / "Makefile", work / "Makefile")  # readable by `owner` too
    (work / ".venv").symlink_to(venv)
    shutil.copyfile(ROOT / "chapters" / CHAPTER, work / "chapters" / CHAPTER)
    home = tmp / "home"
    # JupyterLab's own settings: no autosave, so nothing is written while a test runs,
    # and no question about news covering the page.
    for plugin, setting in (
        ("docmanager-extension/plugin", '{"autosave": false}'),
        ("apputils-extension/notification", '{"fetchNews": "false", "checkForUpdates": false}'),
    ):
        path = home / "lab-settings" / "@jupyterlab" / f"{plugin}.jupyterlab-settings"
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(setting)
    if owner is not None:
        for path in (tmp, work, work / "chapters", work / "chapters" / CHAPTER, *home.rglob("*")):
            shutil.chown(path, owner)
        shutil.chown(home, owner)
    return work


@contextlib.contextmanager
def make_lab(work: Path, user: str | None = None) -> Iterator[Lab]:
    """Run ``make lab`` in ``work`` (as ``user`` if given) until the server answers."""
    port, token = free_port(), secrets.token_hex(16)
    home = work.parent / "home"
    extra = (
        f"--port={port} --ServerApp.port_retries=0 --no-browser "
        f"--IdentityProvider.token={token} --LabApp.expose_app_in_browser=True"
    )
    # -o: the venv and the compiled kernels count as up to date (make test built them).
    cmd = [
        "make",
        "--no-print-directory",
        "-o",
        ".venv/.installed",
        "-o",
        ".venv/.kernels-compiled",
    ]
    cmd += ["lab", f"LAB_ARGS={extra}"]
    if user is not None:  # runuser sets HOME to the user's own: set it back
        cmd = ["runuser", "-u", user, "--", "env", f"HOME={home}", *cmd]
    env = dict(
        os.environ,
        HOME=str(home),
        JUPYTERLAB_SETTINGS_DIR=str(home / "lab-settings"),
        JUPYTERLAB_WORKSPACES_DIR=str(home / "lab-workspaces"),
    )
    env.pop("JUPYTER_RUNTIME_DIR", None)
    env = outside_make(env)
    log = work.parent / "lab.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            cmd, cwd=work, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    lab = Lab(f"http://127.0.0.1:{port}/", token, log)
    try:
        deadline = time.monotonic() + START_TIMEOUT_S
        while True:
            if proc.poll() is not None:
                pytest.fail(f"`make lab` exited with {proc.returncode}:\n{lab.log_tail()}")
            with contextlib.suppress(OSError, urllib.error.URLError):
                lab.api("status")
                break
            if time.monotonic() > deadline:
                pytest.fail(f"JupyterLab did not answer in {START_TIMEOUT_S} s:\n{lab.log_tail()}")
            time.sleep(0.5)
        yield lab
    finally:
        with contextlib.suppress(Exception):  # kernels run in process groups of their own
            for kernel in lab.api("kernels"):
                lab.api(f"kernels/{kernel['id']}", method="DELETE")
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=30)


def chromium_or_fail() -> str:
    """Chromium on PATH; installed with apt-get when missing and running as root (waiting
    for the package lock, which the book's browser test may hold for the same install)."""
    path = find_chromium()
    if path is None and os.name == "posix" and os.geteuid() == 0 and shutil.which("apt-get"):
        apt = "apt-get -o DPkg::Lock::Timeout=900"
        subprocess.run(
            f"{apt} update && {apt} install -y chromium",
            shell=True,
            env=dict(os.environ, DEBIAN_FRONTEND="noninteractive"),
            timeout=1800,
        )
        path = find_chromium()
    if path is None:
        pytest.fail(
            "the JupyterLab test needs Chromium: install it (Debian/Ubuntu: "
            "`sudo apt-get install chromium`) so that `chromium` is on PATH"
        )
    return path


# The notebook panel of CHAPTER (JupyterLab opens it from the /lab/tree/ URL).
PANEL = (
    "[...jupyterapp.shell.widgets('main')]"
    ".find(w => w.context && w.context.path === %s)" % json.dumps(CHAPTER)
)

# Wait for JupyterLab, the notebook and an idle kernel; start "Run All Cells".
OPEN_AND_RUN_ALL_JS = """
(async () => {
  const sleep = ms => new Promise(r => setTimeout(r, ms));
  const deadline = Date.now() + %(timeout_ms)d;
  while (!window.jupyterapp && Date.now() < deadline) await sleep(100);
  if (!window.jupyterapp) return {error: 'JupyterLab did not start (no window.jupyterapp)'};
  await jupyterapp.restored;
  let panel = null;
  while (!(panel = %(panel)s) && Date.now() < deadline) await sleep(100);
  if (!panel) return {error: 'the notebook did not open'};
  await panel.context.ready;
  await panel.sessionContext.ready;
  while (panel.sessionContext.kernelDisplayStatus !== 'idle' && Date.now() < deadline)
    await sleep(100);
  const status = panel.sessionContext.kernelDisplayStatus;
  if (status !== 'idle') return {error: 'the kernel is not idle but ' + status};
  jupyterapp.shell.activateById(panel.id);
  window.__runAll = 'running';
  jupyterapp.commands.execute('notebook:run-all-cells').then(
    ok => { window.__runAll = ok === false ? 'failed' : 'done'; },
    e => { window.__runAll = 'error: ' + e; });
  return {kernel: panel.sessionContext.session.kernel.name,
          cells: panel.content.model.cells.length};
})()
"""

PROGRESS_JS = """
(() => {
  const panel = %(panel)s;
  const code = [...panel.content.model.cells].filter(c => c.type === 'code');
  const errors = [];
  code.forEach((c, i) => c.toJSON().outputs.forEach(o => {
    if (o.output_type === 'error') errors.push(`code cell ${i}: ${o.ename}: ${o.evalue}`);
  }));
  return {runAll: window.__runAll, status: panel.sessionContext.kernelDisplayStatus,
          code: code.length, ran: code.filter(c => c.executionCount !== null).length, errors};
})()
"""

# The first slider in the notebook, the text of its readout, and a fingerprint of what
# its cell shows apart from the controls (figures, text, Output widgets).
SLIDER_JS = """
(async () => {
  const panel = %(panel)s;
  const handle = panel.node.querySelector('.widget-slider .noUi-handle');
  if (!handle) return {error: 'no slider in the notebook'};
  const cell = handle.closest('.jp-Cell');
  const slider = handle.closest('.widget-slider');
  const view = cell.querySelector('.jp-OutputArea').cloneNode(true);
  view.querySelectorAll('.widget-slider, .widget-readout, .widget-label, .widget-dropdown')
      .forEach(e => e.remove());
  const shows = view.innerHTML.replace(/ style="[^"]*"/g, '');
  if (%(scroll)s) {
    const widget = panel.content.widgets.find(w => w.node === cell);
    await panel.content.scrollToCell(widget, 'center');
  }
  const at = handle.getBoundingClientRect();
  const track = slider.querySelector('.noUi-target').getBoundingClientRect();
  return {
    x: at.left + at.width / 2, y: at.top + at.height / 2, left: track.left, track: track.width,
    label: (slider.querySelector('.widget-label') || {}).textContent || '',
    readout: (slider.querySelector('.widget-readout') || {}).textContent || '',
    shows: shows.length + ':' + [...shows].reduce((h, c) => (h * 31 + c.charCodeAt(0)) | 0, 0),
    images: view.querySelectorAll('img, svg').length,
    status: panel.sessionContext.kernelDisplayStatus,
  };
})()
"""


def js(template: str, **values: object) -> str:
    return template % {"panel": PANEL, **values}


def wait_for(browser: Chromium, what: str, expression: str, done, timeout: float) -> dict:
    deadline = time.monotonic() + timeout
    while True:
        state = browser.evaluate(expression, timeout=60)
        if done(state):
            return state
        if time.monotonic() > deadline:
            pytest.fail(f"{what} did not happen in {timeout:.0f} s; last state: {state}")
        time.sleep(1.0)


def click(browser: Chromium, x: float, y: float) -> None:
    """Move the mouse to (x, y) and click there, as a person clicks a slider's track."""
    mouse = functools.partial(browser.call, "Input.dispatchMouseEvent", button="left")
    mouse(type="mouseMoved", x=x, y=y, buttons=0)
    mouse(type="mousePressed", x=x, y=y, clickCount=1, buttons=1)
    time.sleep(0.1)
    mouse(type="mouseReleased", x=x, y=y, clickCount=1, buttons=0)


def test_make_lab_opens_a_chapter_runs_it_and_its_explorer_responds(tmp_path: Path) -> None:
    t0 = time.monotonic()
    work = lab_folder(tmp_path)
    with (
        make_lab(work) as lab,
        Chromium(chromium_or_fail(), tmp_path / "chromium", width=1400, height=1000) as browser,
    ):
        started = time.monotonic() - t0
        log = browser.load(f"{lab.url}lab/tree/{CHAPTER}?token={lab.token}")
        opened = browser.evaluate(
            js(OPEN_AND_RUN_ALL_JS, timeout_ms=START_TIMEOUT_S * 1000), timeout=START_TIMEOUT_S + 30
        )
        assert "error" not in opened, f"{opened['error']}; server log:\n{lab.log_tail()}"
        assert opened["kernel"] == "python3"

        t1 = time.monotonic()
        state = wait_for(
            browser,
            "Run All Cells",
            js(PROGRESS_JS),
            lambda s: s["runAll"] != "running" and s["status"] == "idle" or s["errors"],
            RUN_TIMEOUT_S,
        )
        ran_all = time.monotonic() - t1
        assert not state["errors"], f"cells raised in JupyterLab: {state['errors']}"
        assert state["runAll"] == "done", state
        assert state["ran"] == state["code"] > 0, state
        remote = [r.url for r in log.remote_requests]
        assert not remote, f"JupyterLab tried to reach the network: {remote[:5]}"

        scrolled = browser.evaluate(js(SLIDER_JS, scroll="true"))
        assert "error" not in scrolled, scrolled["error"]
        browser.settle(1.0)
        before = browser.evaluate(js(SLIDER_JS, scroll="false"))
        # Click the track a quarter of the way from the end the handle is not near.
        where = (before["x"] - before["left"]) / before["track"]
        click(
            browser, before["left"] + before["track"] * (0.75 if where < 0.5 else 0.25), before["y"]
        )
        after = wait_for(
            browser,
            f"the explorer's output changing after its slider {before['label']!r} moved",
            js(SLIDER_JS, scroll="false"),
            lambda s: s["readout"] != before["readout"]
            and s["shows"] != before["shows"]
            and s["status"] == "idle",
            RESPONSE_TIMEOUT_S,
        )
        assert after["images"] >= 1, "the explorer shows no figure"
        SCREENSHOTS.mkdir(parents=True, exist_ok=True)
        shot = SCREENSHOTS / (Path(CHAPTER).stem + ".png")
        browser.screenshot(shot)
        assert shot.stat().st_size > 10_000
    print(
        f"\nJupyterLab started in {started:.1f} s, ran {state['code']} code cells in "
        f"{ran_all:.1f} s; slider {before['label']!r} {before['readout']} -> "
        f"{after['readout']}; screenshot {shot.relative_to(ROOT)}; "
        f"{time.monotonic() - t0:.1f} s in all"
    )


def create_normal_user() -> str:
    """The unprivileged user ``NORMAL_USER``, created (as a system user) if missing."""
    with contextlib.suppress(KeyError):
        pwd.getpwnam(NORMAL_USER)
        return NORMAL_USER
    subprocess.run(
        ["useradd", "--system", "--no-create-home", "--shell", "/usr/sbin/nologin", NORMAL_USER],
        check=True,
        capture_output=True,
        timeout=60,
    )
    return NORMAL_USER


def execute_in_kernel(lab: Lab, kernel_id: str, code: str, timeout: float = 120) -> str:
    """Run ``code`` in a kernel over JupyterLab's websocket; returns its stdout."""
    ws = websocket.create_connection(
        f"ws://127.0.0.1:{lab.url.rsplit(':', 1)[1].strip('/')}/api/kernels/{kernel_id}/channels"
        f"?token={lab.token}",
        timeout=timeout,
        suppress_origin=True,
    )
    try:
        msg_id = uuid.uuid4().hex
        ws.send(
            json.dumps(
                {
                    "header": {
                        "msg_id": msg_id,
                        "username": "test",
                        "session": uuid.uuid4().hex,
                        "msg_type": "execute_request",
                        "version": "5.3",
                    },
                    "parent_header": {},
                    "metadata": {},
                    "channel": "shell",
                    "buffers": [],
                    "content": {
                        "code": code,
                        "silent": False,
                        "store_history": False,
                        "user_expressions": {},
                        "allow_stdin": False,
                        "stop_on_error": True,
                    },
                }
            )
        )
        out, deadline = [], time.monotonic() + timeout
        while time.monotonic() < deadline:
            msg = json.loads(ws.recv())
            if msg.get("parent_header", {}).get("msg_id") != msg_id:
                continue
            kind, content = msg["header"]["msg_type"], msg["content"]
            if kind == "stream":
                out.append(content["text"])
            elif kind == "error":
                raise AssertionError(f"{content['ename']}: {content['evalue']}")
            elif kind == "status" and content["execution_state"] == "idle":
                return "".join(out)
        raise AssertionError(f"the kernel did not finish {code!r} in {timeout:.0f} s")
    finally:
        ws.close()


def outside_make(env: dict | None = None) -> dict:
    """The environment without the variables a calling ``make`` (``make test``) exports,
    so that the ``make`` a test runs behaves as one a reader types."""
    env = dict(os.environ if env is None else env)
    for name in ("MAKEFLAGS", "MFLAGS", "MAKELEVEL", "MAKEOVERRIDES"):
        env.pop(name, None)
    return env


def dry_run(work: Path, user: str | None = None) -> list[str]:
    """The command ``make lab`` runs in ``work`` (``make -n``), as ``user`` if given."""
    cmd = [
        "make",
        "-n",
        "--no-print-directory",
        "-o",
        ".venv/.installed",
        "-o",
        ".venv/.kernels-compiled",
        "lab",
    ]
    if user is not None:
        cmd = ["runuser", "-u", user, "--", *cmd]
    dry = subprocess.run(
        cmd, cwd=work, capture_output=True, text=True, timeout=60, env=outside_make()
    )
    assert dry.returncode == 0, dry.stdout + dry.stderr
    return dry.stdout.split()


def test_make_lab_allows_root_only_for_root(tmp_path: Path) -> None:
    """JupyterLab stops for root unless told --allow-root: ``make lab`` says it for root
    (as in most containers), and only for root."""
    own = [".venv/bin/jupyter", "lab", "--ip=127.0.0.1", "chapters"]
    if os.geteuid() == 0:
        own.insert(2, "--allow-root")
    assert dry_run(ROOT) == own
    if os.geteuid() != 0:
        return
    user = create_normal_user()
    with tempfile.TemporaryDirectory(prefix="dlkit-lab-") as tmp:
        shutil.chown(tmp, user)
        work = lab_folder(Path(tmp), owner=user)
        assert dry_run(work, user) == [".venv/bin/jupyter", "lab", "--ip=127.0.0.1", "chapters"]


def venv_python_for(user: str) -> tuple[bool, str]:
    """Whether ``user`` can run the venv's Python, and the file it really is."""
    python = (ROOT / ".venv" / "bin" / "python").resolve()
    ok = subprocess.run(
        ["runuser", "-u", user, "--", str(python), "-c", "pass"], capture_output=True, timeout=60
    )
    return ok.returncode == 0, str(python)


def system_python_like_the_venvs() -> str | None:
    """``/usr/bin/python3`` when it is the venv's Python version (so it can load the
    venv's compiled packages), else None."""
    system = shutil.which("python3", path="/usr/bin")
    if system is None:
        return None
    ask = "import sys; print(sys.version_info[:2])"
    versions = {
        subprocess.run([py, "-c", ask], capture_output=True, text=True, timeout=60).stdout
        for py in (system, str(ROOT / ".venv" / "bin" / "python"))
    }
    return system if len(versions) == 1 else None


def venv_over_the_venv(dest: Path, python: str) -> Path:
    """A venv of ``python`` that uses the packages of the checkout's venv and its
    ``share/jupyter`` (JupyterLab's assets, the kernel spec): for a user who can read the
    checkout's venv but not the Python it was made from (one in root's home)."""
    subprocess.run([python, "-m", "venv", "--without-pip", str(dest)], check=True, timeout=120)
    venv = ROOT / ".venv"
    packages = sorted(venv.glob("lib/python3.*/site-packages"))[0]
    ours = sorted(dest.glob("lib/python3.*/site-packages"))[0]
    (ours / "checkout-venv.pth").write_text(f"import site; site.addsitedir({str(packages)!r})\n")
    shebang = f"#!{venv}/bin/python\n".encode()
    for script in (venv / "bin").iterdir():  # its scripts, started by our Python
        if script.is_file() and not script.is_symlink() and script.name != "python":
            text = script.read_bytes()
            if text.startswith(shebang):
                (dest / "bin" / script.name).write_bytes(
                    f"#!{dest}/bin/python\n".encode() + text[len(shebang) :]
                )
                (dest / "bin" / script.name).chmod(0o755)
    (dest / "share").symlink_to(venv / "share")
    return dest


@pytest.mark.skipif(
    os.name != "posix" or os.geteuid() != 0,
    reason="not root: the test above already ran `make lab` as a normal user",
)
def test_make_lab_runs_dlkit_for_a_normal_user() -> None:
    user = create_normal_user()
    readable = subprocess.run(
        ["runuser", "-u", user, "--", "test", "-r", str(ROOT / "dlkit" / "__init__.py")],
        capture_output=True,
        timeout=60,
    )
    if readable.returncode != 0:
        pytest.skip(
            f"this checkout ({ROOT}) is inside a folder that {user} cannot enter, so no "
            "normal user can import its dlkit here; clone it where other users can read it"
        )
    runs, python = venv_python_for(user)
    # pytest's own temporary folders are private to root: use one the user owns.
    with tempfile.TemporaryDirectory(prefix="dlkit-lab-") as tmp:
        Path(tmp).chmod(0o755)
        venv = ROOT / ".venv"
        if not runs:
            system = system_python_like_the_venvs()
            if system is None:
                pytest.skip(
                    f"the venv's Python ({python}) cannot be run by {user} (a folder above "
                    f"it is private) and /usr/bin/python3 is another version"
                )
            venv = venv_over_the_venv(Path(tmp) / "venv", system)
        shutil.chown(tmp, user)
        work = lab_folder(Path(tmp), owner=user, venv=venv)
        with make_lab(work, user=user) as lab:
            kernel = lab.api("kernels", method="POST", body={"name": "python3"})
            out = execute_in_kernel(
                lab, kernel["id"], "import os, dlkit; print(os.geteuid(), dlkit.__name__)"
            )
            assert out.split() == [str(pwd.getpwnam(user).pw_uid), "dlkit"], out
            listing = lab.api("contents")
            assert CHAPTER in [c["name"] for c in listing["content"]], listing
