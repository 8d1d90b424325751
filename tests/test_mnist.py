"""load_mnist against IDX files written here and served from a local HTTP server."""

import functools
import gzip
import hashlib
import http.server
import os
import socket
import struct
import threading

import numpy as np
import pytest

from dlkit.data import MNISTError, load_mnist
from dlkit.data.mnist import FILES, read_idx


def idx_bytes(a: np.ndarray) -> bytes:
    code = {np.dtype("uint8"): 0x08, np.dtype(">i4"): 0x0C, np.dtype(">f4"): 0x0D}[a.dtype]
    head = struct.pack(">BBBB", 0, 0, code, a.ndim) + struct.pack(f">{a.ndim}I", *a.shape)
    return head + a.tobytes()


def write_mnist(folder, n_train=12, n_test=5, seed=0):
    g = np.random.default_rng(seed)
    arrays = {
        "train_images": g.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "train_labels": g.integers(0, 10, n_train, dtype=np.uint8),
        "test_images": g.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "test_labels": g.integers(0, 10, n_test, dtype=np.uint8),
    }
    folder.mkdir(parents=True, exist_ok=True)
    md5 = {}
    for role, a in arrays.items():
        name = FILES[role][0]
        blob = gzip.compress(idx_bytes(a), mtime=0)
        (folder / name).write_bytes(blob)
        md5[name] = hashlib.md5(blob).hexdigest()
    return arrays, md5


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; yields the base URL."""
    root = tmp_path / "www"
    root.mkdir()

    class Handler(http.server.SimpleHTTPRequestHandler):
        def log_message(self, *args):
            pass

        def do_GET(self):
            if self.path.startswith("/cut/"):  # promise 10,000 bytes, send 10, hang up
                self.send_response(200)
                self.send_header("Content-Length", "10000")
                self.end_headers()
                self.wfile.write(b"\x1f\x8b" + b"\0" * 8)
                self.wfile.flush()
                self.close_connection = True
                return
            super().do_GET()

    handler = functools.partial(Handler, directory=str(root))
    httpd = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


def closed_port_url():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return f"http://127.0.0.1:{port}/"


def test_read_idx_types_and_errors(tmp_path):
    a = np.arange(24, dtype=">i4").reshape(2, 3, 4)
    np.testing.assert_array_equal(read_idx(idx_bytes(a)), a)
    f = np.linspace(0, 1, 6, dtype=">f4").reshape(3, 2)
    np.testing.assert_array_equal(read_idx(gzip.compress(idx_bytes(f))), f)
    assert read_idx(idx_bytes(a)).dtype.isnative
    with pytest.raises(MNISTError, match="truncated"):
        read_idx(idx_bytes(a)[:-3])
    with pytest.raises(MNISTError, match="not an IDX"):
        read_idx(b"PK\x03\x04garbage")
    with pytest.raises(MNISTError, match="gzip"):
        read_idx(gzip.compress(idx_bytes(a))[:20])


def test_download_from_second_mirror_and_cache(server, tmp_path, monkeypatch):
    url, root = server
    arrays, md5 = write_mnist(root / "good")
    cache = tmp_path / "cache"
    monkeypatch.setenv("DLKIT_DATA", str(cache))
    mirrors = [closed_port_url(), url + "/missing/", url + "/good/"]
    split = load_mnist(mirrors=mirrors, checksums=md5)
    assert split.X_train.shape == (12, 784) and split.X_test.shape == (5, 784)
    assert split.X_train.dtype == np.float32 and split.y_train.dtype == np.int64
    np.testing.assert_allclose(split.X_train[3], arrays["train_images"][3].reshape(-1) / 255)
    np.testing.assert_array_equal(split.y_test, arrays["test_labels"])
    assert sorted(os.listdir(cache / "mnist")) == sorted(md5)
    # second call: served from the cache, no network needed
    again = load_mnist(mirrors=[closed_port_url()], checksums=md5, flat=False)
    assert again.X_train.shape == (12, 1, 28, 28)
    np.testing.assert_array_equal(again.X_train.reshape(12, -1), split.X_train)


def test_corrupt_mirror_is_skipped_and_never_cached(server, tmp_path):
    url, root = server
    _, md5 = write_mnist(root / "good")
    write_mnist(root / "corrupt", seed=1)  # same names, different bytes
    name = FILES["train_images"][0]
    blob = (root / "good" / name).read_bytes()
    (root / "truncated").mkdir()
    (root / "truncated" / name).write_bytes(blob[: len(blob) // 2])
    cache = tmp_path / "c"
    split = load_mnist(path=cache, mirrors=[url + "/corrupt/", url + "/truncated/",
                                            url + "/good/"], checksums=md5)
    assert split.X_train.shape == (12, 784)
    for f in os.listdir(cache / "mnist"):
        blob = (cache / "mnist" / f).read_bytes()
        assert hashlib.md5(blob).hexdigest() == md5[f]


def test_checksum_mismatch_everywhere_raises_and_leaves_nothing(server, tmp_path):
    url, root = server
    _, md5 = write_mnist(root / "good")
    write_mnist(root / "corrupt", seed=1)
    cache = tmp_path / "c"
    with pytest.raises(MNISTError, match="checksum mismatch") as err:
        load_mnist(path=cache, mirrors=[url + "/corrupt/"], checksums=md5)
    assert "Nothing was kept" in str(err.value)
    assert os.listdir(cache / "mnist") == []


def test_corrupt_cached_file_is_replaced(server, tmp_path):
    url, root = server
    _, md5 = write_mnist(root / "good")
    cache = tmp_path / "c"
    load_mnist(path=cache, mirrors=[url + "/good/"], checksums=md5)
    name = FILES["test_labels"][0]
    (cache / "mnist" / name).write_bytes(b"\x1f\x8bbroken")
    split = load_mnist(path=cache, mirrors=[url + "/good/"], checksums=md5)
    assert split.y_test.shape == (5,)
    assert hashlib.md5((cache / "mnist" / name).read_bytes()).hexdigest() == md5[name]


def test_offline_error_says_what_to_do(tmp_path):
    with pytest.raises(MNISTError) as err:
        load_mnist(path=tmp_path, mirrors=[closed_port_url()], timeout=2)
    msg = str(err.value)
    assert "offline" in msg and "load_digits" in msg and str(tmp_path / "mnist") in msg
    assert os.listdir(tmp_path / "mnist") == []


def test_connection_cut_mid_download_is_discarded(server, tmp_path):
    url, root = server
    _, md5 = write_mnist(root / "good")
    cache = tmp_path / "c"
    with pytest.raises(MNISTError, match="broke off") as err:
        load_mnist(path=cache, mirrors=[url + "/cut/"], checksums=md5)
    assert "offline" not in str(err.value)
    assert os.listdir(cache / "mnist") == []
    split = load_mnist(path=cache, mirrors=[url + "/cut/", url + "/good/"], checksums=md5)
    assert split.X_test.shape == (5, 784)
