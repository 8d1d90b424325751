"""Headless Chromium with no network, driven over the Chrome DevTools protocol.

Used by ``tests/test_book.py`` to check that the built book renders its math and
widgets offline:

    with serve(html_dir) as base_url, Chromium(find_chromium(), profile) as browser:
        page = browser.load(base_url + "chapters/01_perceptrons.html")
        report = browser.evaluate(JS_THAT_WAITS_AND_REPORTS)
        browser.screenshot(path)

Only loopback can be reached: Chromium sends every request through a proxy at a
closed port on 127.0.0.1 (so it fails at once, without DNS), and loopback addresses
bypass proxies by Chromium's built-in rule. Every request and its outcome is recorded,
so a test can show which requests tried to leave the machine.
"""

from __future__ import annotations

import base64
import contextlib
import functools
import http.server
import itertools
import json
import os
import shutil
import socket
import subprocess
import threading
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Iterator
from urllib.parse import urlsplit

import websocket

LOOPBACK_HOSTS = {"127.0.0.1", "localhost", "[::1]", "::1"}
CHROMIUM_NAMES = ("chromium", "chromium-browser", "google-chrome", "google-chrome-stable")


class BrowserError(RuntimeError):
    """Chromium could not be started or did not answer in time."""


def find_chromium() -> str | None:
    """Path of a Chromium/Chrome executable on PATH, or None."""
    for name in CHROMIUM_NAMES:
        path = shutil.which(name)
        if path:
            return path
    return None


def closed_port() -> int:
    """A loopback TCP port with nothing listening on it (bound once, then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def is_loopback(url: str) -> bool:
    return (urlsplit(url).hostname or "") in LOOPBACK_HOSTS


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (stdlib name)
        pass


@contextlib.contextmanager
def serve(directory: Path) -> Iterator[str]:
    """Serve ``directory`` over HTTP on 127.0.0.1; yields the base URL (ending in /)."""
    handler = functools.partial(_QuietHandler, directory=str(directory))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=10)


@dataclass
class Request:
    url: str
    status: int | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None or (self.status is not None and self.status >= 400)


@dataclass
class PageLog:
    """What happened while a page loaded: requests, console errors, JS exceptions."""

    url: str
    requests: dict[str, Request] = field(default_factory=dict)
    console_errors: list[str] = field(default_factory=list)
    console: list[str] = field(default_factory=list)
    exceptions: list[str] = field(default_factory=list)

    @property
    def remote_requests(self) -> list[Request]:
        """Requests to anywhere but this machine (all refused by the proxy)."""
        return [
            r
            for r in self.requests.values()
            if urlsplit(r.url).scheme in ("http", "https", "ws", "wss") and not is_loopback(r.url)
        ]

    @property
    def failed_local_requests(self) -> list[Request]:
        """Failed requests for files of the book itself (over loopback or file://)."""
        return [
            r
            for r in self.requests.values()
            if (is_loopback(r.url) or r.url.startswith("file:")) and r.failed
        ]


class Chromium:
    """A headless Chromium process and a DevTools connection to its one tab."""

    def __init__(
        self,
        executable: str,
        profile_dir: Path,
        width: int = 1280,
        height: int = 900,
        timeout: float = 60.0,
    ) -> None:
        self.executable = executable
        self.profile_dir = Path(profile_dir)
        self.width, self.height = width, height
        self.timeout = timeout
        self.proxy_port = closed_port()
        self.proc: subprocess.Popen | None = None
        self.ws: websocket.WebSocket | None = None
        self._ids = itertools.count(1)
        self._events: list[dict] = []
        self.log: PageLog | None = None

    # -- process ---------------------------------------------------------------

    def args(self) -> list[str]:
        return [
            self.executable,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--no-first-run",
            "--no-default-browser-check",
            "--disable-default-apps",
            "--disable-extensions",
            "--mute-audio",
            "--hide-scrollbars",
            "--disable-dev-shm-usage",
            f"--user-data-dir={self.profile_dir}",
            # Everything goes to a proxy that is not there; loopback bypasses proxies.
            f"--proxy-server=http://127.0.0.1:{self.proxy_port}",
            f"--window-size={self.width},{self.height}",
            "--remote-debugging-address=127.0.0.1",
            "--remote-debugging-port=0",
            "about:blank",
        ]

    def __enter__(self) -> Chromium:
        self.profile_dir.mkdir(parents=True, exist_ok=True)
        self.stderr_path = self.profile_dir.parent / (self.profile_dir.name + ".stderr.log")
        self._stderr = open(self.stderr_path, "wb")  # noqa: SIM115 (closed in __exit__)
        self.proc = subprocess.Popen(self.args(), stdout=subprocess.DEVNULL, stderr=self._stderr)
        try:
            port = self._devtools_port()
            self.ws = websocket.create_connection(
                self._page_ws_url(port), timeout=self.timeout, suppress_origin=True
            )
            for domain in ("Page", "Network", "Runtime"):
                self.call(f"{domain}.enable")
            self.call(
                "Emulation.setDeviceMetricsOverride",
                width=self.width,
                height=self.height,
                deviceScaleFactor=1,
                mobile=False,
            )
            # Screenshots should not catch the theme in the middle of a transition.
            self.call(
                "Emulation.setEmulatedMedia",
                features=[{"name": "prefers-reduced-motion", "value": "reduce"}],
            )
        except BaseException:
            self.__exit__(None, None, None)
            raise
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.ws is not None:
            with contextlib.suppress(Exception):
                self.ws.close()
        if self.proc is not None and self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(timeout=10)
        self._stderr.close()

    def _devtools_port(self) -> int:
        """Chromium writes the port it chose into DevToolsActivePort in the profile."""
        marker = self.profile_dir / "DevToolsActivePort"
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise BrowserError(
                    f"{self.executable} exited with {self.proc.returncode}; see {self.stderr_path}"
                )
            with contextlib.suppress(OSError, ValueError, IndexError):
                return int(marker.read_text().splitlines()[0])
            time.sleep(0.1)
        raise BrowserError(
            f"{self.executable} did not open its DevTools port in "
            f"{self.timeout:.0f} s; see {self.stderr_path}"
        )

    def _page_ws_url(self, port: int) -> str:
        deadline = time.monotonic() + self.timeout
        while time.monotonic() < deadline:
            with contextlib.suppress(OSError, ValueError):
                with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
                    for target in json.load(r):
                        if target.get("type") == "page":
                            return target["webSocketDebuggerUrl"]
            time.sleep(0.1)
        raise BrowserError("Chromium has no page target to drive")

    # -- protocol --------------------------------------------------------------

    def _receive(self, deadline: float) -> dict:
        self.ws.settimeout(max(0.05, deadline - time.monotonic()))
        try:
            msg = json.loads(self.ws.recv())
        except websocket.WebSocketTimeoutException as e:
            raise BrowserError("Chromium did not answer in time") from e
        if "method" in msg:
            self._record(msg)
            self._events.append(msg)
        return msg

    def call(self, method: str, timeout: float | None = None, **params: Any) -> dict:
        """Send one DevTools command and return its result (events are recorded)."""
        ident = next(self._ids)
        self.ws.send(json.dumps({"id": ident, "method": method, "params": params}))
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            msg = self._receive(deadline)
            if msg.get("id") == ident:
                if "error" in msg:
                    raise BrowserError(f"{method} failed: {msg['error']}")
                return msg.get("result", {})

    def wait_event(self, method: str, timeout: float | None = None) -> dict:
        deadline = time.monotonic() + (timeout or self.timeout)
        while True:
            for i, ev in enumerate(self._events):
                if ev["method"] == method:
                    return self._events.pop(i)
            self._receive(deadline)

    def _record(self, msg: dict) -> None:
        log, p = self.log, msg.get("params", {})
        if log is None:
            return
        method = msg["method"]
        if method == "Network.requestWillBeSent":
            log.requests[p["requestId"]] = Request(p["request"]["url"])
        elif method == "Network.responseReceived":
            req = log.requests.setdefault(p["requestId"], Request(p["response"]["url"]))
            req.status = p["response"]["status"]
        elif method == "Network.loadingFailed":
            req = log.requests.setdefault(p["requestId"], Request("?"))
            req.error = p.get("errorText", "failed")
        elif method == "Runtime.consoleAPICalled":
            text = " ".join(
                str(a.get("value", a.get("description", ""))) for a in p.get("args", [])
            )
            log.console.append(f"{p['type']}: {text}")
            if p["type"] in ("error", "assert"):
                log.console_errors.append(text)
        elif method == "Runtime.exceptionThrown":
            d = p["exceptionDetails"]
            log.exceptions.append(d.get("exception", {}).get("description", d.get("text", "")))

    # -- pages -----------------------------------------------------------------

    def load(self, url: str) -> PageLog:
        """Navigate to ``url`` and wait for its load event; returns the page's log."""
        self.log = PageLog(url)
        self._events.clear()
        result = self.call("Page.navigate", url=url)
        if result.get("errorText"):
            raise BrowserError(f"cannot open {url}: {result['errorText']}")
        self.wait_event("Page.loadEventFired")
        return self.log

    def evaluate(self, expression: str, timeout: float | None = None) -> Any:
        """Evaluate JS in the page (awaiting a returned promise); returns its JSON value."""
        res = self.call(
            "Runtime.evaluate",
            timeout=timeout,
            expression=expression,
            awaitPromise=True,
            returnByValue=True,
        )
        if "exceptionDetails" in res:
            d = res["exceptionDetails"]
            raise BrowserError(
                "JS error: " + d.get("exception", {}).get("description", d.get("text", ""))
            )
        return res["result"].get("value")

    def settle(self, seconds: float) -> None:
        """Keep reading events for a while (late requests, console messages)."""
        deadline = time.monotonic() + seconds
        with contextlib.suppress(BrowserError):
            while time.monotonic() < deadline:
                self._receive(deadline)

    def screenshot(self, path: Path, clip: dict | None = None, max_height: int = 16000) -> None:
        """Save a PNG of the whole page (up to ``max_height`` CSS pixels tall), or of
        ``clip`` = {x, y, width, height} in page coordinates.

        The whole page is captured by making the viewport as tall as the page: capturing
        "beyond the viewport" instead leaves the theme's fixed sidebars and scroll
        position as they were and shifts the picture.
        """
        self.evaluate("window.scrollTo(0, 0)")
        size = self.call("Page.getLayoutMetrics")["cssContentSize"]
        height = min(int(size["height"]) + 1, max_height)
        self.call(
            "Emulation.setDeviceMetricsOverride",
            width=self.width,
            height=height,
            deviceScaleFactor=1,
            mobile=False,
        )
        try:
            self.settle(0.3)
            args = {"format": "png"}
            if clip is not None:
                args["clip"] = {**clip, "height": min(clip["height"], max_height), "scale": 1}
            shot = self.call("Page.captureScreenshot", timeout=120, **args)
        finally:
            self.call(
                "Emulation.setDeviceMetricsOverride",
                width=self.width,
                height=self.height,
                deviceScaleFactor=1,
                mobile=False,
            )
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".png.tmp")
        tmp.write_bytes(base64.b64decode(shot["data"]))
        os.replace(tmp, path)
