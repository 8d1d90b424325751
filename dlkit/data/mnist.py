"""MNIST (LeCun et al. 1998): 70,000 handwritten digits of 28x28 pixels, downloaded once.

The book's chapters use scikit-learn's small digits, which ship offline; this loader
is for readers with internet who want the real thing::

    from dlkit.data import load_mnist
    X_train, y_train, X_test, y_test = load_mnist()      # (60000, 784), ..., (10000, 784)

What it does, step by step:

1. Look for the four IDX files in the cache folder ``$DLKIT_DATA/mnist`` (default
   ``~/.cache/dlkit/mnist``) and check each one's MD5 checksum.
2. Download any missing (or corrupt) file from the mirrors in :data:`MIRRORS`, tried in
   order. One file from one mirror gets at most ``deadline`` seconds in all (a server
   that trickles a byte at a time is given up on), and each read at most ``timeout``.
   A download goes to a temporary file in the cache folder and is renamed into place
   (``os.replace``) only after its checksum matched, so a corrupt, truncated or
   interrupted download never looks like a cached file; temporary files left by an
   interrupted earlier run are removed.
3. Parse the IDX files with :func:`read_idx` (no third-party parser).

When no mirror serves a file, it raises an :class:`MNISTError` that lists each mirror
and how it failed (not on that mirror, server error, redirect loop, too slow, wrong
checksum, unreachable) and says what to do.
"""

from __future__ import annotations

import contextlib
import errno
import functools
import glob
import gzip
import hashlib
import http.client
import io
import math
import os
import socket
import tempfile
import time
import urllib.error
import urllib.parse
import urllib.request
from numbers import Real
from pathlib import Path
from typing import Mapping, Sequence

import numpy as np

from dlkit.data.digits import Split

__all__ = ["load_mnist", "read_idx", "download", "data_home", "MNISTError", "MIRRORS", "FILES"]

#: Public mirrors of the original files, tried in order.
MIRRORS: tuple[str, ...] = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
    "http://yann.lecun.com/exdb/mnist/",
)

#: role -> (file name, MD5 of the gzipped file)
FILES: dict[str, tuple[str, str]] = {
    "train_images": ("train-images-idx3-ubyte.gz", "f68b3c2dcbeaaa9fbdd348bbdeb94873"),
    "train_labels": ("train-labels-idx1-ubyte.gz", "d53e105ee54ea40749a09fcbcd1e9432"),
    "test_images": ("t10k-images-idx3-ubyte.gz", "9fb629c4189551a2d022fa330f9573f3"),
    "test_labels": ("t10k-labels-idx1-ubyte.gz", "ec29112dd5afa0611ce80d1b7f02629c"),
}

# IDX type byte -> big-endian numpy dtype
_IDX_TYPES = {0x08: ">u1", 0x09: ">i1", 0x0B: ">i2", 0x0C: ">i4", 0x0D: ">f4", 0x0E: ">f8"}

# The longest timeout or deadline accepted (sockets overflow near 1e12 s).
_MAX_SECONDS = 1e6

# A temporary download untouched for this long is stale even if its process still runs.
_STALE_AFTER_S = 24 * 3600.0


class MNISTError(OSError):
    """MNIST could not be obtained (offline, bad checksum, or a malformed file)."""


def data_home(path: str | os.PathLike | None = None) -> Path:
    """The cache folder: `path`, else ``$DLKIT_DATA``, else ``~/.cache/dlkit``."""
    _check_path("data_home", path)
    if path is None:
        path = os.environ.get("DLKIT_DATA") or Path.home() / ".cache" / "dlkit"
    return Path(path).expanduser()


def read_idx(source: str | os.PathLike | bytes) -> np.ndarray:
    """Parse an IDX file (gzipped or not; a path or its bytes) into a numpy array.

    The format: two zero bytes, a type byte (0x08 = unsigned byte ...), the number of
    dimensions d, then d big-endian uint32 sizes, then the data in C order.
    """
    source = _check_idx_source(source)
    raw = source if isinstance(source, bytes) else Path(source).read_bytes()
    name = "IDX data" if isinstance(source, bytes) else str(source)
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise MNISTError(
                f"{name} is not a valid gzip file ({exc}); delete it and download again"
            ) from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise MNISTError(f"{name} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MNISTError(f"{name} is truncated inside its header")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    size = int(np.prod(shape)) * dtype.itemsize
    if len(raw) != header + size:
        raise MNISTError(
            f"{name} should hold {size} data bytes for shape {shape} but holds "
            f"{len(raw) - header}: the file is truncated or corrupt"
        )
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(
    filename: str,
    md5: str,
    folder: str | os.PathLike,
    mirrors: str | os.PathLike | Sequence[str | os.PathLike] = MIRRORS,
    *,
    timeout: float = 30.0,
    deadline: float = 120.0,
) -> Path:
    """Fetch `filename` into `folder` from the first mirror that serves the right bytes.

    Parameters
    ----------
    filename : the file's name on the mirrors and in `folder`.
    md5 : its published MD5 checksum (32 hex digits).
    folder : where it goes (created if missing).
    mirrors : base URLs (``http://``, ``https://``, ``file://``) or local folders
        (``pathlib.Path``), tried in order; one URL or folder may be given alone.
    timeout : seconds one connection attempt or one read may wait for the server.
    deadline : seconds the whole download of the file from one mirror may take; past
        it, the next mirror is tried.

    Each attempt streams into a temporary file next to the target; only a file whose
    MD5 equals `md5` is renamed into place. Raises :class:`MNISTError` listing every
    mirror's failure and what to do.
    """
    mirrors, md5 = _check_download_args(filename, md5, mirrors, timeout, deadline)
    folder = _cache_folder(folder)
    _remove_stale_parts(folder, filename)
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        try:
            _fetch(url, folder / filename, md5, timeout, deadline)
            return folder / filename
        except _MirrorFailed as failed:
            failures.append((url, failed.kind, failed.text))
    raise MNISTError(_no_mirror_message(filename, folder, failures, timeout, deadline))


def load_mnist(
    *,
    flat: bool = True,
    dtype=np.float32,
    scale: bool = True,
    path: str | os.PathLike | None = None,
    mirrors: str | os.PathLike | Sequence[str | os.PathLike] = MIRRORS,
    checksums: Mapping[str, str] | None = None,
    timeout: float = 30.0,
    deadline: float = 120.0,
) -> Split:
    """MNIST's standard split: 60,000 training and 10,000 test images.

    Parameters
    ----------
    flat : True gives X of shape (N, 784); False gives images (N, 1, 28, 28).
    dtype, scale : pixel dtype; ``scale`` divides by 255 so pixels lie in [0, 1] (it
        needs a floating dtype; ``scale=False, dtype=np.uint8`` gives the raw bytes).
    path : cache folder (default ``$DLKIT_DATA`` or ``~/.cache/dlkit``); files go in
        its ``mnist`` subfolder. It must be writable only if a file is missing.
    mirrors : base URLs (or local folders as ``pathlib.Path``) tried in order; a single
        one may be passed alone, e.g. ``mirrors="https://example.org/mnist/"``.
    checksums : file name -> MD5, to override :data:`FILES` (for other copies).
    timeout : seconds one connection attempt or one read may wait for a server.
    deadline : seconds one file may take to download from one mirror (default 120);
        past it the next mirror is tried.

    Returns
    -------
    Split(X_train, y_train, X_test, y_test) with int64 labels.
    """
    _check_load_args(flat, dtype, scale, path, mirrors, checksums, timeout, deadline)
    folder = data_home(path) / "mnist"
    arrays = {}
    for role, (filename, md5) in FILES.items():
        md5 = (checksums or {}).get(filename, md5).lower()
        target = folder / filename
        if folder.is_dir():
            _remove_stale_parts(folder, filename)
        if target.exists() and _md5(target) != md5:
            with _writing_to(folder, f"remove the corrupt cached file {filename} from"):
                target.unlink()  # a corrupt cached file is replaced, never used
        if not target.exists():
            download(filename, md5, folder, mirrors, timeout=timeout, deadline=deadline)
        arrays[role] = read_idx(target)
    out = []
    for part in ("train", "test"):
        X, y = arrays[f"{part}_images"], arrays[f"{part}_labels"]
        if X.ndim != 3 or y.ndim != 1 or len(X) != len(y):
            raise MNISTError(f"MNIST {part} files disagree: images {X.shape}, labels {y.shape}")
        X = X.astype(dtype)
        if scale:
            X /= 255.0
        X = X.reshape(len(X), -1) if flat else X[:, None]
        out += [X, y.astype(np.int64)]
    return Split(*out)


# ---------------------------------------------------------------- one download, atomically


class _MirrorFailed(Exception):
    """One mirror did not deliver the file; `kind` sorts the failure, `text` explains it."""

    def __init__(self, kind: str, text: str):
        super().__init__(text)
        self.kind, self.text = kind, text


def _fetch(url: str, target: Path, md5: str, timeout: float, deadline: float) -> None:
    """Download `url` to `target` atomically, or raise :class:`_MirrorFailed`.

    The bytes go to a temporary file beside `target`, which is flushed to disk and
    renamed onto `target` only once its MD5 is `md5`; on any failure or interruption
    the temporary file is deleted.
    """
    folder = target.parent
    with _writing_to(folder, "create a temporary file in"):
        fd, tmp = tempfile.mkstemp(
            dir=folder, prefix=f".{target.name}.{os.getpid()}.", suffix=".part"
        )
    try:
        with _writing_to(folder, f"write {target.name} into"), os.fdopen(fd, "wb") as out:
            _copy_url(url, out, timeout, deadline, folder)
            out.flush()
            os.fsync(out.fileno())
        got = _md5(Path(tmp))
        if got != md5:
            raise _MirrorFailed("checksum", f"checksum mismatch (MD5 {got}, expected {md5})")
        with _writing_to(folder, f"rename the download onto {target.name} in"):
            os.replace(tmp, target)
    finally:
        with contextlib.suppress(OSError):
            os.unlink(tmp)


def _copy_url(url: str, out, timeout: float, deadline: float, folder: Path) -> None:
    """Stream the body of `url` into the open file `out`, within `deadline` seconds."""
    stop = time.monotonic() + deadline
    opener = urllib.request.build_opener(
        _DeadlineHTTPHandler(stop, timeout), _DeadlineHTTPSHandler(stop, timeout)
    )
    size, expected = 0, None
    try:
        with opener.open(url, timeout=min(timeout, deadline)) as r:
            expected = r.headers.get("Content-Length")
            while block := r.read(1 << 16):
                _write(out, block, folder)
                size += len(block)
    except MNISTError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:
        raise _MirrorFailed(*_why(exc, timeout, deadline, time.monotonic() >= stop)) from None
    if expected is not None and expected.isdigit() and size != int(expected):
        raise _MirrorFailed(
            "broke off",
            f"transfer broke off after {size} of {expected} bytes; partial file discarded",
        )


def _write(out, block: bytes, folder: Path) -> None:
    with _writing_to(folder, "write the download into"):
        out.write(block)


@contextlib.contextmanager
def _writing_to(folder: Path, what: str):
    """Turn a local file-system error into an MNISTError: "cannot {what} the cache folder ..."."""
    try:
        yield
    except MNISTError:
        raise
    except OSError as exc:
        reason = exc.strerror or str(exc)
        if isinstance(exc.filename, (str, os.PathLike)) and Path(exc.filename) != folder:
            reason += f": {exc.filename}"
        raise MNISTError(
            f"cannot {what} the cache folder {folder} ({reason}). Choose a writable "
            "folder: set the environment variable DLKIT_DATA=/another/folder, or pass "
            "load_mnist(path='/another/folder'), or copy the four MNIST files into this "
            "one by hand."
        ) from exc


def _cache_folder(folder: str | os.PathLike) -> Path:
    folder = Path(folder)
    with _writing_to(folder, "create"):
        folder.mkdir(parents=True, exist_ok=True)
    return folder


def _remove_stale_parts(folder: Path, filename: str) -> None:
    """Delete temporary files that interrupted earlier downloads of `filename` left."""
    prefix = f".{filename}."
    for part in folder.glob(glob.escape(prefix) + "*.part"):
        owner = part.name[len(prefix) :].split(".")[0]
        with contextlib.suppress(OSError):
            if time.time() - part.stat().st_mtime > _STALE_AFTER_S or not _running(owner):
                part.unlink()


def _running(pid: str) -> bool:
    """Whether process `pid` (a decimal string) runs on this machine; unknown counts as yes."""
    if not pid.isdigit():
        return False  # not written by this loader's naming: no live owner to wait for
    if os.name != "posix":
        return True  # os.kill(pid, 0) would terminate the process on Windows
    try:
        os.kill(int(pid), 0)
    except (ProcessLookupError, OverflowError):
        return False
    except PermissionError:
        return True  # it runs, under another user
    return True


# ---------------------------------------------------------------- a deadline over all reads


class _DeadlineExceeded(TimeoutError):
    """The download of one file from one mirror took longer than its deadline."""


class _DeadlineSocket:
    """A connected socket whose reads all end by `stop` (a ``time.monotonic()`` value).

    Every read waits at most `timeout` seconds and never past `stop`, so a server that
    trickles one byte at a time cannot stretch a download (headers included) beyond its
    deadline. Everything else is delegated to the wrapped socket.
    """

    def __init__(self, sock, stop: float, timeout: float):
        self._sock, self._stop, self._timeout = sock, stop, timeout
        self._files, self._closing = 0, False

    def __getattr__(self, name):
        return getattr(self._sock, name)

    def recv_into(self, buffer) -> int:
        left = self._stop - time.monotonic()
        if left <= 0:
            raise _DeadlineExceeded
        self._sock.settimeout(min(self._timeout, left))
        try:
            return self._sock.recv_into(buffer)
        except TimeoutError:
            if time.monotonic() >= self._stop:
                raise _DeadlineExceeded from None
            raise

    def makefile(self, mode="r", *args, **kwargs):
        if mode != "rb":
            return self._sock.makefile(mode, *args, **kwargs)
        self._files += 1
        return io.BufferedReader(_SocketReader(self))

    def close(self) -> None:
        # http.client closes the socket while the response still reads from it: the
        # real close waits until the response's file is closed too (as socket.makefile's).
        self._closing = True
        if self._files == 0:
            self._sock.close()

    def _file_closed(self) -> None:
        self._files -= 1
        if self._closing and self._files == 0:
            self._sock.close()


class _SocketReader(io.RawIOBase):
    def __init__(self, sock: _DeadlineSocket):
        self._owner = sock

    def readable(self) -> bool:
        return True

    def readinto(self, buffer) -> int:
        return self._owner.recv_into(buffer)

    def fileno(self) -> int:
        return self._owner.fileno()

    def close(self) -> None:
        if not self.closed:
            super().close()
            self._owner._file_closed()


class _DeadlineConnection:
    """Mixin for http.client connections: wrap the connected socket in a _DeadlineSocket."""

    def __init__(self, *args, stop: float, read_timeout: float, **kwargs):
        self._stop, self._read_timeout = stop, read_timeout
        super().__init__(*args, **kwargs)

    def connect(self) -> None:
        left = self._stop - time.monotonic()
        if left <= 0:
            raise _DeadlineExceeded
        self.timeout = min(self.timeout, left)  # connecting counts against the deadline too
        super().connect()
        self.sock = _DeadlineSocket(self.sock, self._stop, self._read_timeout)


class _HTTPConnection(_DeadlineConnection, http.client.HTTPConnection):
    pass


class _HTTPSConnection(_DeadlineConnection, http.client.HTTPSConnection):
    pass


class _DeadlineHTTPHandler(urllib.request.HTTPHandler):
    def __init__(self, stop: float, timeout: float):
        super().__init__()
        self._connection = functools.partial(_HTTPConnection, stop=stop, read_timeout=timeout)

    def http_open(self, req):
        return self.do_open(self._connection, req)


class _DeadlineHTTPSHandler(urllib.request.HTTPSHandler):
    def __init__(self, stop: float, timeout: float):
        super().__init__()
        self._connection = functools.partial(_HTTPSConnection, stop=stop, read_timeout=timeout)

    def https_open(self, req):
        return self.do_open(self._connection, req)


# ---------------------------------------------------------------- what went wrong, what to do

_UNREACHABLE = {errno.ENETUNREACH, errno.EHOSTUNREACH, errno.ENETDOWN, errno.EHOSTDOWN}


def _why(exc: BaseException, timeout: float, deadline: float, late: bool) -> tuple[str, str]:
    """(kind, explanation) of one failed download; `late`: the deadline had passed."""
    if isinstance(exc, urllib.error.HTTPError):
        code, reason = exc.code, exc.reason
        if 300 <= code < 400:
            if "infinite loop" in str(exc.msg):
                return "redirect", f"redirects in a loop or more than 10 times (HTTP {code})"
            return "redirect", f"HTTP {code} redirect that cannot be followed: {exc.msg}"
        if code in (404, 410):
            return "not found", f"HTTP {code} {reason}: the file is not on this mirror"
        if code >= 500:
            return "server error", f"HTTP {code} {reason}: a server error on the mirror's side"
        return "refused", f"HTTP {code} {reason}: the mirror refuses to serve the file"
    if isinstance(exc, urllib.error.URLError):
        exc = exc.reason if isinstance(exc.reason, BaseException) else exc
    if isinstance(exc, _DeadlineExceeded) or (isinstance(exc, TimeoutError) and late):
        return "deadline", f"not finished within deadline={deadline:g} s"
    if isinstance(exc, TimeoutError):
        return "stalled", f"no answer for timeout={timeout:g} s"
    if isinstance(exc, socket.gaierror):
        return "offline", f"host name not found ({exc.strerror})"
    if isinstance(exc, ConnectionRefusedError):
        return "offline", "connection refused (no server listens there)"
    if isinstance(exc, OSError) and exc.errno in _UNREACHABLE:
        return "offline", f"network unreachable ({exc.strerror})"
    if isinstance(exc, FileNotFoundError):
        return "not found", "no such file in this folder"
    if isinstance(exc, (http.client.HTTPException, ConnectionResetError)):
        return "broke off", (f"transfer broke off ({type(exc).__name__}); partial file discarded")
    return "other", f"{type(exc).__name__}: {exc}"


def _no_mirror_message(
    filename: str, folder: Path, failures, timeout: float, deadline: float
) -> str:
    kinds = {kind for _, kind, _ in failures}
    advice = {
        "server error": "A server error (HTTP 5xx) is the mirror's problem: try again later.",
        "not found": "A mirror without the file (HTTP 404) can be left out of mirrors=[...].",
        "redirect": "A redirect loop often comes from a captive portal or a proxy: open the "
        "URL in a browser (log in to the network), or leave that mirror out.",
        "deadline": f"On a slow connection pass a larger deadline= (now {deadline:g} s per "
        "file and mirror).",
        "stalled": f"A mirror that does not answer may be overloaded: try again later or "
        f"pass a larger timeout= (now {timeout:g} s).",
        "mismatch": "A mirror served other bytes than the published file (a partial "
        "download, a proxy's error page, or a changed mirror). Nothing was kept "
        f"in {folder}.",
    }
    kinds |= {"mismatch"} if kinds & {"checksum", "broke off"} else set()
    lines = [f"could not download {filename}:"]
    lines += [f"  {url}: {text}" for url, _, text in failures]
    if kinds == {"offline"}:
        lines.append(
            "You seem to be offline (no mirror could be reached): connect to the "
            "internet and call load_mnist() again."
        )
    lines += [text for kind, text in advice.items() if kind in kinds]
    names = ", ".join(name for name, _ in FILES.values())
    lines.append(
        f"To do without the mirrors, download the MNIST files ({names}) by hand into "
        f"{folder}, or set DLKIT_DATA to a folder whose mnist/ subfolder holds them, or "
        "pass mirrors=[...] with another source. dlkit.data.load_digits() ships with "
        "scikit-learn and needs no download."
    )
    return "\n".join(lines)


# ---------------------------------------------------------------- argument checks


def _check_load_args(flat, dtype, scale, path, mirrors, checksums, timeout, deadline) -> None:
    for name, value in (("flat", flat), ("scale", scale)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"load_mnist({name}=...) must be True or False, got {value!r}")
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(
            f"load_mnist(dtype=...) must be a numpy dtype such as np.float32, got {dtype!r}"
        ) from exc
    if scale and dt.kind != "f":
        raise ValueError(
            f"load_mnist(scale=True) divides pixels by 255 and needs a floating "
            f"dtype, got dtype={dt}; pass dtype=np.float32, or scale=False for "
            "raw pixel values"
        )
    if dt.kind not in "uif" or not np.can_cast(np.uint8, dt):
        raise ValueError(
            f"load_mnist(dtype={dt}) cannot hold pixel values 0..255; use "
            "np.uint8, a wider integer type, or a float type"
        )
    _check_path("load_mnist", path)
    _mirror_urls("load_mnist", mirrors)
    _check_seconds("load_mnist", "timeout", timeout)
    _check_seconds("load_mnist", "deadline", deadline)
    if checksums is None:
        return
    if not isinstance(checksums, Mapping):
        raise TypeError(
            f"load_mnist(checksums=...) must be a dict of file name -> MD5, got "
            f"{type(checksums).__name__}"
        )
    names = [name for name, _ in FILES.values()]
    for name, md5 in checksums.items():
        if name not in names:
            raise ValueError(
                f"load_mnist(checksums=...) names an unknown file {name!r}; the "
                f"MNIST files are {', '.join(names)}"
            )
        _check_md5("load_mnist", f"checksums[{name!r}]", md5)


def _check_download_args(filename, md5, mirrors, timeout, deadline) -> tuple[tuple, str]:
    if not isinstance(filename, str) or not filename:
        raise TypeError(f"download(filename=...) must be a non-empty str, got {filename!r}")
    if "/" in filename or "\\" in filename or filename in (".", ".."):
        raise ValueError(
            f"download(filename={filename!r}) must be a plain file name, without "
            "folders; pass the folder as folder="
        )
    _check_md5("download", "md5", md5)
    _check_seconds("download", "timeout", timeout)
    _check_seconds("download", "deadline", deadline)
    return _mirror_urls("download", mirrors), md5.lower()


def _check_path(fn: str, path) -> None:
    if path is not None and not isinstance(path, (str, os.PathLike)):
        raise TypeError(
            f"{fn}(path=...) must be a folder as str or pathlib.Path (or None for "
            f"$DLKIT_DATA), got {type(path).__name__}"
        )
    if isinstance(path, str) and not path.strip():
        raise ValueError(f"{fn}(path='') is empty; pass a folder, or None for $DLKIT_DATA")


def _check_seconds(fn: str, name: str, value) -> None:
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, Real):
        raise TypeError(
            f"{fn}({name}=...) must be a number of seconds, got {value!r}; e.g. {name}=30"
        )
    if not math.isfinite(value) or value <= 0:
        raise ValueError(
            f"{fn}({name}={value!r}) must be a positive, finite number of seconds; e.g. {name}=30"
        )
    if value > _MAX_SECONDS:
        raise ValueError(
            f"{fn}({name}={value!r}) is more than {_MAX_SECONDS:g} s (11 days), "
            "longer than sockets can wait; pass a smaller number"
        )


def _check_md5(fn: str, name: str, md5) -> None:
    if not isinstance(md5, str):
        raise TypeError(
            f"{fn}({name}=...) must be an MD5 checksum as a str of 32 hex digits, "
            f"got {type(md5).__name__}"
        )
    if len(md5) != 32 or any(c not in "0123456789abcdefABCDEF" for c in md5):
        raise ValueError(f"{fn}({name}={md5!r}) is not an MD5 checksum (32 hex digits)")


def _mirror_urls(fn: str, mirrors) -> tuple[str, ...]:
    """Base URLs of `mirrors`: one URL or folder, or a sequence of them."""
    if isinstance(mirrors, (str, os.PathLike)):
        mirrors = [mirrors]
    elif isinstance(mirrors, (bytes, bytearray)) or not isinstance(mirrors, Sequence):
        raise TypeError(
            f"{fn}(mirrors=...) must be a URL (str), a folder (pathlib.Path) or a "
            f"list of them, got {type(mirrors).__name__}"
        )
    if len(mirrors) == 0:
        raise ValueError(
            f"{fn}(mirrors=[]) is empty; pass at least one base URL, e.g. "
            "mirrors=dlkit.data.mnist.MIRRORS"
        )
    return tuple(_mirror_url(fn, m) for m in mirrors)


def _mirror_url(fn: str, mirror) -> str:
    if isinstance(mirror, os.PathLike):
        return Path(os.fsdecode(mirror)).expanduser().resolve().as_uri() + "/"
    if not isinstance(mirror, str):
        raise TypeError(
            f"{fn}(mirrors=...) holds {mirror!r} ({type(mirror).__name__}); each "
            "mirror must be a URL (str) or a folder (pathlib.Path)"
        )
    if urllib.parse.urlsplit(mirror.strip()).scheme.lower() not in ("http", "https", "file"):
        raise ValueError(
            f"{fn}(mirrors=...) holds {mirror!r}, which is not an http://, "
            "https:// or file:// URL; add the scheme (https://...), or pass a "
            "local folder as pathlib.Path"
        )
    return mirror.strip()


def _check_idx_source(source) -> bytes | str | os.PathLike:
    if isinstance(source, (bytes, bytearray, memoryview)):
        return bytes(source)
    if not isinstance(source, (str, os.PathLike)):
        raise TypeError(
            f"read_idx(source=...) must be a path (str or pathlib.Path) or the "
            f"file's bytes, got {type(source).__name__}"
        )
    return source
