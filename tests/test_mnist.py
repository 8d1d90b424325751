"""load_mnist against IDX files written here and served from a local HTTP server."""

import errno
import functools
import gzip
import hashlib
import http.server
import os
import socket
import ssl
import struct
import tempfile
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from dlkit.data import MNISTError, load_mnist
from dlkit.data.mnist import FILES, download, read_idx

# A self-signed certificate for 127.0.0.1 (valid 2000-2100) and its key, made for these
# tests only: the HTTPS tests trust it through SSL_CERT_FILE.
TEST_KEY = """-----BEGIN PRIVATE KEY-----
MIGHAgEAMBMGByqGSM49AgEGCCqGSM49AwEHBG0wawIBAQQgNHfGrtHpz3f8lL5t
45HoyrX6DvqN7yGpcKeT5CLeGuehRANCAATLz4t62mlm5weXfkxOi6VFGNRizXWE
z67XZU0c/AhV53kmGL1ELlRo9L+fw8h5ICAHxZvEf+oNqI4D1+gM4QE8
-----END PRIVATE KEY-----
"""
TEST_CERT = """-----BEGIN CERTIFICATE-----
MIIBgjCCASegAwIBAgIBATAKBggqhkjOPQQDAjAUMRIwEAYDVQQDDAkxMjcuMC4w
LjEwIBcNMDAwMTAxMDAwMDAwWhgPMjEwMDAxMDEwMDAwMDBaMBQxEjAQBgNVBAMM
CTEyNy4wLjAuMTBZMBMGByqGSM49AgEGCCqGSM49AwEHA0IABMvPi3raaWbnB5d+
TE6LpUUY1GLNdYTPrtdlTRz8CFXneSYYvUQuVGj0v5/DyHkgIAfFm8R/6g2ojgPX
6AzhATyjaDBmMA8GA1UdEQQIMAaHBH8AAAEwDwYDVR0TAQH/BAUwAwEB/zAOBgNV
HQ8BAf8EBAMCAoQwEwYDVR0lBAwwCgYIKwYBBQUHAwEwHQYDVR0OBBYEFAp8kEYM
ZA7ME2kG2yGAtVADVYB/MAoGCCqGSM49BAMCA0kAMEYCIQC8XLebKBKQxtvahxjm
LwHbhmsPjfReDOGVOPb25MwwcgIhAJS1HMx1AcXtQ7MfTnoz6jz7fF97hui7jjSY
luZSgyWx
-----END CERTIFICATE-----
"""

TRICKLE_S = 0.3  # the trickling server sends one byte this often


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


class Handler(http.server.SimpleHTTPRequestHandler):
    """Serves files, plus misbehaving servers under special folders."""

    def log_message(self, *args):
        pass

    def trickle(self, data: bytes):
        for i in range(len(data)):
            try:
                self.wfile.write(data[i : i + 1])
                self.wfile.flush()
            except OSError:  # the client gave up
                return
            time.sleep(TRICKLE_S)

    def do_GET(self):
        if self.path.startswith("/cut/"):  # promise 10,000 bytes, send 10, hang up
            self.send_response(200)
            self.send_header("Content-Length", "10000")
            self.end_headers()
            self.wfile.write(b"\x1f\x8b" + b"\0" * 8)
            self.wfile.flush()
            self.close_connection = True
        elif self.path.startswith("/trickle/"):  # fast headers, then a byte every 0.3 s
            self.send_response(200)
            self.send_header("Content-Length", "20")
            self.end_headers()
            self.wfile.flush()
            self.trickle(b"\x1f\x8b" + b"\0" * 18)
        elif self.path.startswith("/slowheaders/"):  # even the status line trickles
            self.trickle(b"HTTP/1.0 200 OK\r\nContent-Length: 3\r\n\r\nabc")
        elif self.path.startswith("/stall/"):  # headers, then silence
            self.send_response(200)
            self.send_header("Content-Length", "20")
            self.end_headers()
            self.wfile.flush()
            time.sleep(2)
        elif self.path.startswith("/err500/"):
            self.send_error(500, "Internal Server Error")
        elif self.path.startswith("/err403/"):
            self.send_error(403, "Forbidden")
        elif self.path.startswith("/loop/"):  # redirects to itself
            self.send_response(302)
            self.send_header("Location", self.path)
            self.end_headers()
        else:
            super().do_GET()


def serve(root, tls=None):
    httpd = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(Handler, directory=str(root))
    )
    if tls is not None:
        httpd.socket = tls.wrap_socket(httpd.socket, server_side=True)
    thread = threading.Thread(
        target=httpd.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    return httpd


@pytest.fixture
def server(tmp_path):
    """Serve tmp_path/www on 127.0.0.1; yields the base URL."""
    root = tmp_path / "www"
    root.mkdir()
    httpd = serve(root)
    yield f"http://127.0.0.1:{httpd.server_address[1]}", root
    httpd.shutdown()
    httpd.server_close()


@pytest.fixture
def tls_server(tmp_path, monkeypatch):
    """Serve tmp_path/www over HTTPS on 127.0.0.1 with a certificate the client trusts."""
    root = tmp_path / "www"
    root.mkdir()
    (tmp_path / "key.pem").write_text(TEST_KEY)
    (tmp_path / "cert.pem").write_text(TEST_CERT)
    monkeypatch.setenv("SSL_CERT_FILE", str(tmp_path / "cert.pem"))
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "cert.pem", tmp_path / "key.pem")
    httpd = serve(root, tls=ctx)
    yield f"https://127.0.0.1:{httpd.server_address[1]}", root
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
    np.testing.assert_array_equal(read_idx(memoryview(idx_bytes(a))), a)
    with pytest.raises(MNISTError, match="truncated"):
        read_idx(idx_bytes(a)[:-3])
    with pytest.raises(MNISTError, match="not an IDX"):
        read_idx(b"PK\x03\x04garbage")
    with pytest.raises(MNISTError, match="gzip"):
        read_idx(gzip.compress(idx_bytes(a))[:20])
    with pytest.raises(TypeError, match=r"read_idx\(source=...\) must be a path"):
        read_idx(42)


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
    split = load_mnist(
        path=cache, mirrors=[url + "/corrupt/", url + "/truncated/", url + "/good/"], checksums=md5
    )
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
        load_mnist(path=tmp_path, mirrors=[closed_port_url(), closed_port_url()], timeout=2)
    msg = str(err.value)
    assert "offline" in msg and "load_digits" in msg and str(tmp_path / "mnist") in msg
    assert msg.count("connection refused") == 2
    assert "DLKIT_DATA" in msg and "mirrors=" in msg and FILES["test_labels"][0] in msg
    assert os.listdir(tmp_path / "mnist") == []


def test_dns_failure_counts_as_offline(tmp_path, monkeypatch):
    for var in ("http_proxy", "HTTP_PROXY", "all_proxy", "ALL_PROXY"):
        monkeypatch.delenv(var, raising=False)

    def no_dns(host, *args, **kwargs):
        raise socket.gaierror(socket.EAI_NONAME, "Name or service not known")

    monkeypatch.setattr(socket, "getaddrinfo", no_dns)
    with pytest.raises(MNISTError) as err:
        load_mnist(path=tmp_path, mirrors="http://mnist.invalid/")
    msg = str(err.value)
    assert "http://mnist.invalid/train-images-idx3-ubyte.gz: host name not found" in msg
    assert "You seem to be offline" in msg


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


# ---------------------------------------------------------------- deadline and timeouts


def test_trickling_server_is_given_up_at_the_deadline(server, tmp_path):
    url, root = server
    _, md5 = write_mnist(root / "good")
    name = FILES["train_labels"][0]
    start = time.monotonic()
    got = download(
        name, md5[name], tmp_path / "c", [url + "/trickle/", url + "/good/"], timeout=5, deadline=1
    )
    took = time.monotonic() - start
    assert 0.9 < took < 2.0  # the deadline bounds the whole download, not each read
    assert hashlib.md5(got.read_bytes()).hexdigest() == md5[name]
    assert os.listdir(tmp_path / "c") == [name]


def test_deadline_error_names_mirror_and_remedy(server, tmp_path):
    url, root = server
    _, md5 = write_mnist(root / "good")
    name = FILES["train_labels"][0]
    start = time.monotonic()
    with pytest.raises(MNISTError) as err:
        download(name, md5[name], tmp_path / "c", url + "/trickle/", timeout=5, deadline=1)
    assert time.monotonic() - start < 2.0
    msg = str(err.value)
    assert f"{url}/trickle/{name}: not finished within deadline=1 s" in msg
    assert "pass a larger deadline=" in msg and "offline" not in msg
    assert os.listdir(tmp_path / "c") == []


def test_deadline_covers_a_trickled_status_line(server, tmp_path):
    url, _ = server
    start = time.monotonic()
    with pytest.raises(MNISTError, match="not finished within deadline=0.8 s"):
        download("x.gz", "0" * 32, tmp_path, [url + "/slowheaders/"], timeout=5, deadline=0.8)
    assert time.monotonic() - start < 1.8


def test_silent_server_times_out_per_read(server, tmp_path):
    url, _ = server
    start = time.monotonic()
    with pytest.raises(MNISTError) as err:
        download("x.gz", "0" * 32, tmp_path, [url + "/stall/"], timeout=0.4, deadline=10)
    assert time.monotonic() - start < 1.5
    assert "no answer for timeout=0.4 s" in str(err.value)
    assert "larger timeout=" in str(err.value)


def test_https_download_and_deadline(tls_server, tmp_path):
    url, root = tls_server
    arrays, md5 = write_mnist(root / "good")
    split = load_mnist(path=tmp_path / "c", mirrors=url + "/good/", checksums=md5)
    np.testing.assert_array_equal(split.y_train, arrays["train_labels"])
    name = FILES["test_labels"][0]
    start = time.monotonic()
    with pytest.raises(MNISTError, match="not finished within deadline=1 s"):
        download(name, md5[name], tmp_path / "d", url + "/trickle/", timeout=5, deadline=1)
    assert time.monotonic() - start < 2.0


# ---------------------------------------------------------------- telling failures apart


def test_every_mirror_and_its_failure_are_listed(server, tmp_path):
    url, root = server
    refused = closed_port_url()
    mirrors = [refused, url + "/missing/", url + "/err500/", url + "/loop/", url + "/err403/"]
    with pytest.raises(MNISTError) as err:
        load_mnist(path=tmp_path, mirrors=mirrors)
    msg = str(err.value)
    name = FILES["train_images"][0]
    assert f"{refused}{name}: connection refused" in msg
    assert f"{url}/missing/{name}: HTTP 404" in msg and "not on this mirror" in msg
    assert f"{url}/err500/{name}: HTTP 500" in msg and "try again later" in msg
    assert f"{url}/loop/{name}: redirects in a loop" in msg and "captive portal" in msg
    assert f"{url}/err403/{name}: HTTP 403" in msg
    assert "You seem to be offline" not in msg  # one mirror was unreachable, not all
    assert str(tmp_path / "mnist") in msg and "DLKIT_DATA" in msg and "mirrors=" in msg
    assert msg.index("connection refused") < msg.index("HTTP 404") < msg.index("HTTP 500")


def test_local_folder_mirror(server, tmp_path):
    _, root = server
    arrays, md5 = write_mnist(root / "good")
    split = load_mnist(
        path=tmp_path / "c", mirrors=[root / "nowhere", root / "good"], checksums=md5
    )
    np.testing.assert_array_equal(split.y_test, arrays["test_labels"])
    with pytest.raises(MNISTError, match="no such file in this folder"):
        load_mnist(path=tmp_path / "d", mirrors=root / "nowhere")


# ---------------------------------------------------------------- the cache folder


def test_uncreatable_cache_folder_names_it_and_the_fix(server, tmp_path, monkeypatch):
    url, root = server
    _, md5 = write_mnist(root / "good")
    (tmp_path / "afile").write_text("not a folder")
    bad = tmp_path / "afile" / "cache"
    with pytest.raises(MNISTError) as err:
        load_mnist(path=bad, mirrors=url + "/good/", checksums=md5)
    msg = str(err.value)
    assert f"cannot create the cache folder {bad / 'mnist'} (Not a directory" in msg
    assert "DLKIT_DATA" in msg and "path=" in msg
    monkeypatch.setenv("DLKIT_DATA", str(bad))
    with pytest.raises(MNISTError, match="Choose a writable folder"):
        load_mnist(mirrors=url + "/good/", checksums=md5)


def read_only(monkeypatch):
    """Make creating files fail as on a read-only file system (root ignores chmod)."""

    def refuse(*args, dir=None, **kwargs):
        raise OSError(errno.EROFS, "Read-only file system", dir)

    monkeypatch.setattr(tempfile, "mkstemp", refuse)


def test_read_only_cache_folder(server, tmp_path, monkeypatch):
    url, root = server
    _, md5 = write_mnist(root / "good")
    cache = tmp_path / "c"
    (cache / "mnist").mkdir(parents=True)
    read_only(monkeypatch)
    with pytest.raises(MNISTError) as err:
        load_mnist(path=cache, mirrors=url + "/good/", checksums=md5)
    msg = str(err.value)
    assert (
        f"cannot create a temporary file in the cache folder {cache / 'mnist'} "
        "(Read-only file system)"
    ) in msg
    assert "DLKIT_DATA=" in msg and "load_mnist(path=" in msg


def test_read_only_cache_that_holds_the_files_still_loads(server, tmp_path, monkeypatch):
    url, root = server
    arrays, md5 = write_mnist(root / "good")
    load_mnist(path=tmp_path, mirrors=url + "/good/", checksums=md5)
    read_only(monkeypatch)
    split = load_mnist(path=tmp_path, mirrors=closed_port_url(), checksums=md5)
    np.testing.assert_array_equal(split.y_train, arrays["train_labels"])


def test_corrupt_cached_file_in_read_only_folder(server, tmp_path, monkeypatch):
    url, root = server
    _, md5 = write_mnist(root / "good")
    load_mnist(path=tmp_path, mirrors=url + "/good/", checksums=md5)
    name = FILES["test_images"][0]
    (tmp_path / "mnist" / name).write_bytes(b"garbage")

    def refuse(self, *args, **kwargs):
        raise PermissionError(errno.EACCES, "Permission denied", str(self))

    monkeypatch.setattr(Path, "unlink", refuse)
    with pytest.raises(
        MNISTError, match=f"cannot remove the corrupt cached file {name} from the cache"
    ):
        load_mnist(path=tmp_path, mirrors=url + "/good/", checksums=md5)


# ---------------------------------------------------------------- atomic writes


def test_interrupted_download_leaves_no_file(server, tmp_path, monkeypatch):
    url, root = server
    _, md5 = write_mnist(root / "good")
    name = FILES["train_images"][0]

    def interrupt(fd):
        raise KeyboardInterrupt

    monkeypatch.setattr(os, "fsync", interrupt)  # all bytes written, not yet renamed
    with pytest.raises(KeyboardInterrupt):
        download(name, md5[name], tmp_path / "c", url + "/good/")
    assert os.listdir(tmp_path / "c") == []


def test_stale_temporary_files_are_removed(server, tmp_path):
    url, root = server
    _, md5 = write_mnist(root / "good")
    folder = tmp_path / "mnist"
    folder.mkdir()
    name = FILES["train_images"][0]
    dead = folder / f".{name}.999999999.k3j2h1.part"  # its process is gone
    old_format = folder / f".{name}.a8b7c6d5.part"  # written without a process id
    live = folder / f".{name}.{os.getpid()}.x1y2z3.part"  # a download still running
    old = folder / f".{FILES['test_labels'][0]}.{os.getpid()}.q1.part"  # untouched 2 days
    other = folder / "notes.part"
    for f in (dead, old_format, live, old, other):
        f.write_bytes(b"half a file")
    two_days_ago = time.time() - 2 * 24 * 3600
    os.utime(old, (two_days_ago, two_days_ago))
    load_mnist(path=tmp_path, mirrors=url + "/good/", checksums=md5)
    left = set(os.listdir(folder)) - set(md5)
    assert left == {live.name, other.name}


# ---------------------------------------------------------------- arguments


def test_one_mirror_as_a_string(server, tmp_path):
    url, root = server
    arrays, md5 = write_mnist(root / "good")
    split = load_mnist(path=tmp_path, mirrors=url + "/good/", checksums=md5)
    np.testing.assert_array_equal(split.y_train, arrays["train_labels"])
    name = FILES["test_labels"][0]
    got = download(name, md5[name].upper(), str(tmp_path / "d"), url + "/good")
    assert got == tmp_path / "d" / name and got.is_file()


@pytest.mark.parametrize(
    "kwargs, exc, phrase",
    [
        ({"mirrors": []}, ValueError, r"mirrors=\[\]\) is empty"),
        ({"mirrors": b"http://x/"}, TypeError, "must be a URL"),
        ({"mirrors": 7}, TypeError, "must be a URL"),
        ({"mirrors": ["http://x/", 7]}, TypeError, r"holds 7 \(int\)"),
        ({"mirrors": "example.org/mnist/"}, ValueError, "add the scheme"),
        ({"mirrors": ["ftp://example.org/"]}, ValueError, "not an http://"),
        ({"timeout": 0}, ValueError, "positive, finite"),
        ({"timeout": -1.0}, ValueError, "positive, finite"),
        ({"timeout": float("nan")}, ValueError, "positive, finite"),
        ({"timeout": True}, TypeError, r"timeout=...\) must be a number of seconds"),
        ({"timeout": "30"}, TypeError, "must be a number of seconds"),
        ({"deadline": float("inf")}, ValueError, r"deadline=inf\) must be a positive"),
        ({"deadline": None}, TypeError, r"deadline=...\) must be a number"),
        ({"deadline": 1e12}, ValueError, "more than 1e\\+06 s"),
        ({"deadline": False}, TypeError, r"deadline=...\) must be a number"),
        ({"flat": "yes"}, TypeError, r"flat=...\) must be True or False"),
        ({"scale": 1}, TypeError, r"scale=...\) must be True or False"),
        ({"dtype": "no-such-type"}, TypeError, "must be a numpy dtype"),
        ({"dtype": np.int32}, ValueError, "needs a floating dtype"),
        ({"dtype": np.int8, "scale": False}, ValueError, "cannot hold pixel values 0..255"),
        ({"dtype": np.complex64, "scale": False}, ValueError, "cannot hold pixel values"),
        ({"path": 3}, TypeError, r"path=...\) must be a folder"),
        ({"path": ""}, ValueError, "is empty"),
        ({"checksums": ["abc"]}, TypeError, "must be a dict"),
        ({"checksums": {"train.gz": "0" * 32}}, ValueError, "unknown file 'train.gz'"),
        ({"checksums": {FILES["train_images"][0]: "xyz"}}, ValueError, "not an MD5"),
        ({"checksums": {FILES["train_images"][0]: 5}}, TypeError, "must be an MD5"),
    ],
)
def test_load_mnist_refuses_bad_arguments(tmp_path, kwargs, exc, phrase):
    with pytest.raises(exc, match=phrase):
        load_mnist(**{"path": tmp_path, **kwargs})
    assert os.listdir(tmp_path) == []  # refused before anything was touched


@pytest.mark.parametrize(
    "args, exc, phrase",
    [
        (("", "0" * 32), TypeError, "non-empty str"),
        ((None, "0" * 32), TypeError, "non-empty str"),
        (("sub/x.gz", "0" * 32), ValueError, "plain file name"),
        (("x.gz", "0" * 31), ValueError, "not an MD5"),
        (("x.gz", None), TypeError, "must be an MD5"),
    ],
)
def test_download_refuses_bad_arguments(tmp_path, args, exc, phrase):
    with pytest.raises(exc, match=phrase):
        download(*args, tmp_path / "d", "http://127.0.0.1:9/")
    assert not (tmp_path / "d").exists()


def test_bad_mirror_is_refused_even_when_everything_is_cached(server, tmp_path):
    url, root = server
    _, md5 = write_mnist(root / "good")
    load_mnist(path=tmp_path, mirrors=url + "/good/", checksums=md5)
    with pytest.raises(ValueError, match="add the scheme"):
        load_mnist(path=tmp_path, mirrors="example.org", checksums=md5)


ODD_VALUES = [
    None,
    True,
    0,
    -1,
    0.5,
    float("nan"),
    float("inf"),
    1e12,
    "30",
    b"x",
    [],
    (),
    [None],
    {"a": 1},
    np.float64(2.0),
    np.int64(3),
    np.bool_(True),
    object(),
]


@settings(
    max_examples=80, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    flat=st.sampled_from([True, False] + ODD_VALUES),
    scale=st.sampled_from([True, False] + ODD_VALUES),
    dtype=st.sampled_from([np.float32, np.uint8, np.int16, "float64", np.bool_, str] + ODD_VALUES),
    timeout=st.sampled_from([0.5, 2] + ODD_VALUES),
    deadline=st.sampled_from([1, 3.0] + ODD_VALUES),
    mirrors=st.sampled_from(
        ["refused", ["refused"], "no-scheme", [Path("/nonexistent")]] + ODD_VALUES
    ),
    checksums=st.sampled_from(
        [None, {}, {"x": "y"}, {FILES["train_images"][0]: "0" * 32}] + ODD_VALUES
    ),
)
def test_any_arguments_either_work_or_raise_a_clear_error(
    tmp_path, flat, scale, dtype, timeout, deadline, mirrors, checksums
):
    refused = closed_port_url()  # valid arguments fail fast here: nothing listens
    named = {"refused": refused, "no-scheme": "127.0.0.1/mnist"}
    if isinstance(mirrors, str):
        mirrors = named.get(mirrors, mirrors)
    elif mirrors == ["refused"]:
        mirrors = [refused]
    with pytest.raises((ValueError, TypeError, MNISTError)) as err:
        load_mnist(
            path=tmp_path / "c",
            flat=flat,
            scale=scale,
            dtype=dtype,
            timeout=timeout,
            deadline=deadline,
            mirrors=mirrors,
            checksums=checksums,
        )
    msg = str(err.value)
    assert len(msg) > 20 and ("load_mnist(" in msg or "could not download" in msg), msg
