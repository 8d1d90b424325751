"""MNIST (LeCun et al. 1998): 70,000 handwritten digits of 28x28 pixels, downloaded once.

The book's chapters use scikit-learn's small digits, which ship offline; this loader
is for readers with internet who want the real thing::

    from dlkit.data import load_mnist
    X_train, y_train, X_test, y_test = load_mnist()      # (60000, 784), ..., (10000, 784)

What it does, step by step:

1. Look for the four IDX files in the cache folder ``$DLKIT_DATA/mnist`` (default
   ``~/.cache/dlkit/mnist``) and check each one's MD5 checksum.
2. Download any missing (or corrupt) file from the mirrors in :data:`MIRRORS`, tried in
   order. A download goes to a temporary file in the cache folder and is renamed
   into place only after its checksum matched, so a corrupt or truncated download is
   never left in the cache.
3. Parse the IDX files with :func:`read_idx` (no third-party parser).

Offline, or when every mirror serves a file with the wrong checksum, it raises an
:class:`MNISTError` that says what went wrong with each mirror and what to do.
"""

from __future__ import annotations

import gzip
import hashlib
import http.client
import os
import tempfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Sequence

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


class MNISTError(OSError):
    """MNIST could not be obtained (offline, bad checksum, or a malformed file)."""


def data_home(path: str | os.PathLike | None = None) -> Path:
    """The cache folder: `path`, else ``$DLKIT_DATA``, else ``~/.cache/dlkit``."""
    if path is None:
        path = os.environ.get("DLKIT_DATA") or Path.home() / ".cache" / "dlkit"
    return Path(path).expanduser()


def read_idx(source: str | os.PathLike | bytes) -> np.ndarray:
    """Parse an IDX file (gzipped or not; a path or its bytes) into a numpy array.

    The format: two zero bytes, a type byte (0x08 = unsigned byte ...), the number of
    dimensions d, then d big-endian uint32 sizes, then the data in C order.
    """
    raw = source if isinstance(source, (bytes, bytearray)) else Path(source).read_bytes()
    name = "IDX data" if isinstance(source, (bytes, bytearray)) else str(source)
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError) as exc:
            raise MNISTError(f"{name} is not a valid gzip file ({exc}); delete it and "
                             "download again") from exc
    if len(raw) < 4 or raw[0] != 0 or raw[1] != 0 or raw[2] not in _IDX_TYPES:
        raise MNISTError(f"{name} is not an IDX file (bad magic number {raw[:4].hex()})")
    dtype, ndim = np.dtype(_IDX_TYPES[raw[2]]), raw[3]
    header = 4 + 4 * ndim
    if len(raw) < header:
        raise MNISTError(f"{name} is truncated inside its header")
    shape = tuple(int(s) for s in np.frombuffer(raw, ">u4", count=ndim, offset=4))
    size = int(np.prod(shape)) * dtype.itemsize
    if len(raw) != header + size:
        raise MNISTError(f"{name} should hold {size} data bytes for shape {shape} but holds "
                         f"{len(raw) - header}: the file is truncated or corrupt")
    data = np.frombuffer(raw, dtype, offset=header).reshape(shape)
    return data.astype(dtype.newbyteorder("="))


def _md5(path: Path) -> str:
    h = hashlib.md5()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()


def download(filename: str, md5: str, folder: Path, mirrors: Sequence[str] = MIRRORS, *,
             timeout: float = 30.0) -> Path:
    """Fetch `filename` into `folder` from the first mirror that serves the right bytes.

    Each attempt streams into a temporary file next to the target; only a file whose
    MD5 equals `md5` is renamed into place. Raises :class:`MNISTError` listing every
    mirror's failure.
    """
    folder.mkdir(parents=True, exist_ok=True)
    target = folder / filename
    failures = []
    for mirror in mirrors:
        url = mirror.rstrip("/") + "/" + filename
        fd, tmp = tempfile.mkstemp(dir=folder, prefix=f".{filename}.", suffix=".part")
        try:
            with os.fdopen(fd, "wb") as out, urllib.request.urlopen(url, timeout=timeout) as r:
                expected = r.headers.get("Content-Length")
                size = 0
                for block in iter(lambda: r.read(1 << 20), b""):
                    out.write(block)
                    size += len(block)
            if expected is not None and expected.isdigit() and size != int(expected):
                failures.append(f"{url}: transfer broke off after {size} of {expected} bytes; "
                                "partial file discarded")
                continue
            got = _md5(Path(tmp))
            if got != md5:
                failures.append(f"{url}: checksum mismatch (MD5 {got}, expected {md5})")
                continue
            os.replace(tmp, target)
            return target
        except http.client.HTTPException as exc:  # e.g. IncompleteRead: a cut connection
            failures.append(f"{url}: transfer broke off ({type(exc).__name__}); partial file "
                            "discarded")
        except (urllib.error.URLError, OSError, ValueError) as exc:
            reason = getattr(exc, "reason", exc)
            failures.append(f"{url}: {reason}")
        finally:
            if os.path.exists(tmp):
                os.unlink(tmp)
    offline = all("checksum" not in f and "broke off" not in f for f in failures)
    hint = (
        "You seem to be offline: connect to the internet and call load_mnist() again, or "
        f"copy the file by hand into {folder}, or use dlkit.data.load_digits(), which "
        "ships with scikit-learn and needs no download."
        if offline else
        "Every mirror that answered served different bytes than the published file "
        "(a partial download, a proxy error page, or a changed mirror). Nothing was "
        f"kept in {folder}. Try again later, or pass mirrors=[...] with another source."
    )
    raise MNISTError(f"could not download {filename}:\n  " + "\n  ".join(failures)
                     + "\n" + hint)


def load_mnist(*, flat: bool = True, dtype=np.float32, scale: bool = True,
               path: str | os.PathLike | None = None, mirrors: Sequence[str] = MIRRORS,
               checksums: dict[str, str] | None = None, timeout: float = 30.0) -> Split:
    """MNIST's standard split: 60,000 training and 10,000 test images.

    Parameters
    ----------
    flat : True gives X of shape (N, 784); False gives images (N, 1, 28, 28).
    dtype, scale : pixel dtype; ``scale`` divides by 255 so pixels lie in [0, 1].
    path : cache folder (default ``$DLKIT_DATA`` or ``~/.cache/dlkit``); files go in
        its ``mnist`` subfolder.
    mirrors : base URLs tried in order.
    checksums : file name -> MD5, to override :data:`FILES` (for other copies).

    Returns
    -------
    Split(X_train, y_train, X_test, y_test) with int64 labels.
    """
    folder = data_home(path) / "mnist"
    arrays = {}
    for role, (filename, md5) in FILES.items():
        md5 = (checksums or {}).get(filename, md5)
        target = folder / filename
        if target.exists() and _md5(target) != md5:
            target.unlink()  # a corrupt cached file is replaced, never used
        if not target.exists():
            download(filename, md5, folder, mirrors, timeout=timeout)
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
