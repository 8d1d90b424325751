"""Every kernel of dlkit.kernels.cuda against numpy, in the simulator (or on a GPU).

The cases, their sizes and their error bounds are those of dlkit.kernels.cuda_check,
which a GPU machine runs at larger sizes: each error must lie within the bound of
floating-point analysis (γ_k · Σ|terms| for a sum of k terms; exact for copies and
maxima), entry by entry.
"""

import functools
import json
import os

import numpy as np
import pytest

from dlkit.kernels import cuda_check

k = pytest.importorskip("dlkit.kernels.cuda")
from numba import cuda  # noqa: E402  (after the skip: numba.cuda may be missing)

SIM = k.SIMULATOR


@functools.lru_cache(maxsize=None)
def _run(name, dtype):
    return cuda_check.run_case(name, dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64], ids=["float32", "float64"])
@pytest.mark.parametrize("name", list(cuda_check.CASES))
def test_kernel_matches_numpy_within_its_bound(name, dtype):
    r = _run(name, dtype)
    assert r.ok and r.ratio <= 1, r


def test_the_error_bounds_are_not_vacuous():
    """The float32 GEMM comes within a factor 20 of its bound, and float64 sits far
    below float32: the bounds measure the rounding, they do not hide mistakes."""
    r32 = _run("gemm_tiled", np.float32)
    r64 = _run("gemm_tiled", np.float64)
    assert r32.ratio > 0.05
    assert 0 < r64.max_err < r32.max_err * 1e-6


def _dev(a):
    return cuda.to_device(np.ascontiguousarray(a))


def test_device_arrays_in_give_device_arrays_out():
    rng = np.random.default_rng(1)
    A = rng.standard_normal((5, 3)).astype(np.float32)
    B = rng.standard_normal((3, 4)).astype(np.float32)
    C = k.gemm_tiled(_dev(A), _dev(B), tile=4)
    assert hasattr(C, "copy_to_host") and not isinstance(C, np.ndarray)
    np.testing.assert_allclose(C.copy_to_host(), k.gemm_tiled(A, B, tile=4), rtol=0, atol=0)
    mixed = k.gemm_naive(A, _dev(B))  # one device input is enough to stay on the device
    assert not isinstance(mixed, np.ndarray)
    np.testing.assert_allclose(mixed.copy_to_host(), A @ B, rtol=1e-6, atol=1e-6)
    z = rng.standard_normal((4, 3)).astype(np.float64)
    a = k.relu_forward(_dev(z))
    assert not isinstance(a, np.ndarray)
    np.testing.assert_array_equal(a.copy_to_host(), np.maximum(z, 0))
    s = k.sum_reduce(_dev(z))
    assert s.shape == (1,) and float(s.copy_to_host()[0]) == pytest.approx(z.sum(), abs=1e-12)
    assert isinstance(k.sum_reduce(z), float)
    out, arg = k.maxpool2d_forward(_dev(rng.standard_normal((1, 2, 5, 5))), 2, 2, 2, 2)
    assert not isinstance(out, np.ndarray) and not isinstance(arg, np.ndarray)
    loss, dz = k.softmax_xent(_dev(z), _dev(np.array([0, 2, 1, 1], dtype=np.int64)))
    assert isinstance(loss, float) and not isinstance(dz, np.ndarray)
    assert np.abs(dz.copy_to_host().sum(axis=1)).max() < 1e-15  # each row of ŷ − onehot sums to 0


def test_updates_work_in_place_on_numpy_and_on_device_arrays():
    theta = np.arange(5, dtype=np.float64)
    grad = np.ones(5)
    assert k.sgd_update(theta, grad, 0.5) is theta
    np.testing.assert_array_equal(theta, np.arange(5) - 0.5)  # θ ← θ − η ∇
    v = np.full(5, 2.0)
    t2, v2 = k.momentum_update(theta, v, grad, 0.5, 0.25)
    assert t2 is theta and v2 is v
    np.testing.assert_array_equal(v, np.full(5, 0.25 * 2 - 0.5))  # v ← μ v − η ∇
    np.testing.assert_array_equal(theta, np.arange(5) - 0.5 + v)  # θ ← θ + v
    dtheta = _dev(np.zeros(3, np.float32))
    assert k.sgd_update(dtheta, _dev(np.ones(3, np.float32)), 2.0) is dtheta
    np.testing.assert_array_equal(dtheta.copy_to_host(), np.full(3, -2.0, np.float32))


@pytest.mark.filterwarnings("ignore::RuntimeWarning")  # the race may multiply garbage
@pytest.mark.parametrize("seed", [0, 1])
def test_a_missing_syncthreads_gives_a_wrong_result_not_an_error(seed):
    """Without its barriers the tiled GEMM reads shared entries that other threads have
    not written yet: in the simulator (and on a GPU) nothing raises, the numbers are
    wrong, while the same matrices through gemm_tiled come out right."""
    r = cuda_check.race(seed=seed)
    assert r["unsafe_is_wrong"]
    assert r["safe_max_err"] < 1e-5


@pytest.mark.skipif(not SIM, reason="a GPU does not check bounds; only the simulator raises")
def test_an_out_of_bounds_access_raises_index_error_naming_thread_and_block():
    n = k.THREADS + k.THREADS // 2  # 2 blocks: the last half of block 1 falls past the end
    x = np.ones(n, np.float32)
    with pytest.raises(IndexError, match=r"tid=\[\d+, 0, 0\] ctaid=\[1, 0, 0\]"):
        k.axpy_unguarded(2.0, x, x)
    y = np.ones(2 * k.THREADS, np.float32)  # a whole number of blocks: no thread outside
    np.testing.assert_array_equal(
        k.axpy_unguarded(2.0, y, y), np.full(2 * k.THREADS, 3.0, np.float32)
    )


@pytest.mark.skipif(not SIM, reason="a property of the simulator")
def test_the_simulator_aliases_two_shared_arrays_on_one_line():
    """Why cuda.py declares one shared array per line: the simulator keys them by line."""
    from numba import float64

    @cuda.jit
    def two_on_one_line(out):
        a, b = cuda.shared.array(2, float64), cuda.shared.array(2, float64)
        a[0] = 1.0
        b[0] = 2.0
        out[0] = a[0]

    out = np.zeros(1)
    two_on_one_line[1, 1](out)
    assert out[0] == 2.0  # a is b


def test_the_tiled_kernel_is_built_once_per_tile():
    assert k.make_gemm_tiled(8) is k.make_gemm_tiled(8)
    assert k.make_gemm_tiled(8) is not k.make_gemm_tiled(16)
    assert k.make_gemm_tiled() is k.make_gemm_tiled(k.TILE)


def test_the_registry_gives_this_module_to_both_cuda_backends():
    from dlkit import kernels

    assert kernels.for_backend("cudasim") is k
    assert kernels.registered()["cuda"] == "dlkit.kernels.cuda"


@pytest.mark.parametrize(
    "call, error, match",
    [
        (lambda: k.gemm_tiled(np.ones((2, 3)), np.ones((4, 2))), ValueError, "columns of A"),
        (lambda: k.gemm_naive(np.ones(3), np.ones((3, 2))), ValueError, "A must have 2 dim"),
        (
            lambda: k.gemm_tiled(np.ones((2, 3)), np.ones((3, 2)), tile=0),
            ValueError,
            "tile must be",
        ),
        (lambda: k.gemm_tiled(np.ones((2, 3)), np.ones((3, 2)), tile=33), ValueError, "1,024"),
        (lambda: k.gemm_tiled(np.ones((2, 3)), np.ones((3, 2)), tile=2.0), TypeError, "tile"),
        (
            lambda: k.gemm_tiled(np.ones((2, 3), np.float32), np.ones((3, 2))),
            TypeError,
            "A float32, B float64",
        ),
        (lambda: k.axpy(1.0, np.ones(3, int), np.ones(3, int)), TypeError, "x must be float32"),
        (lambda: k.axpy(1.0, [1.0, 2.0], np.ones(2)), TypeError, "x must be a numpy array"),
        (lambda: k.axpy(1.0, np.ones(3), np.ones(4)), ValueError, r"x \(3,\), y \(4,\)"),
        (
            lambda: k.conv2d_direct(np.ones((1, 2, 5, 5)), np.ones((3, 1, 2, 2)), np.ones(3), 1),
            ValueError,
            "w has 1 input channels but xp has 2",
        ),
        (
            lambda: k.conv2d_direct(np.ones((1, 1, 5, 5)), np.ones((3, 1, 2, 2)), np.ones(2), 1),
            ValueError,
            "b has 2 entries",
        ),
        (
            lambda: k.conv2d_direct(np.ones((1, 1, 5, 5)), np.ones((3, 1, 2, 2)), np.ones(3), 0),
            ValueError,
            "stride must be >= 1",
        ),
        (lambda: k.im2col(np.ones((1, 1, 2, 2)), 3, 3, 1), ValueError, "does not fit"),
        (
            lambda: k.maxpool2d_backward(
                np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), np.int64), 4, 4, 2, 2, 2, 2
            ),
            TypeError,
            "arg must be the int32",
        ),
        (
            lambda: k.maxpool2d_backward(
                np.ones((1, 1, 2, 2)), np.zeros((1, 1, 2, 2), np.int32), 5, 7, 2, 2, 2, 2
            ),
            ValueError,
            "does not give dout",
        ),
        (lambda: k.softmax_xent(np.ones((2, 3)), np.array([0, 3])), ValueError, r"\[0, 3\)"),
        (
            lambda: k.softmax_xent(np.ones((2, 3)), np.array([0.0, 1.0])),
            TypeError,
            "integer labels",
        ),
        (
            lambda: k.softmax_xent(np.ones((2, 3)), np.array([0, 1, 2])),
            ValueError,
            r"must be \(2,\)",
        ),
        (lambda: k.sum_reduce(np.ones(0)), ValueError, "empty"),
        (
            lambda: k.sgd_update(np.ones((3, 2)).T, np.ones((2, 3)), 0.1),
            ValueError,
            "updated in place",
        ),
    ],
)
def test_bad_arguments_get_errors_that_name_them(call, error, match):
    with pytest.raises(error, match=match):
        call()


def test_cuda_check_main_prints_the_table_and_writes_json_atomically(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(
        cuda_check, "CASES", {n: cuda_check.CASES[n] for n in ("axpy", "maxpool2d_forward")}
    )
    race = {"shape": "2x2x2", "safe_max_err": 0.0, "unsafe_max_err": 1.0, "unsafe_is_wrong": True}
    monkeypatch.setattr(cuda_check, "race", lambda big=False: race)  # tested above
    path = tmp_path / "gpu.json"
    path.write_text("old")
    assert cuda_check.main(["--small", "--json", str(path)]) == 0
    out = capsys.readouterr().out
    assert "maxpool2d_forward" in out and "FAIL" not in out and "gemm_tiled_unsafe" in out
    data = json.loads(path.read_text())
    assert {"device", "date", "checks", "race", "numba_cuda"} <= set(data)
    assert [c["kernel"] for c in data["checks"]] == ["axpy"] * 2 + ["maxpool2d_forward"] * 2
    assert os.listdir(tmp_path) == ["gpu.json"]  # no temporary file left behind


def test_write_json_leaves_the_old_file_when_writing_fails(tmp_path):
    path = tmp_path / "gpu.json"
    path.write_text("old")
    with pytest.raises(TypeError):
        cuda_check.write_json(str(path), {"not json": object()})
    assert path.read_text() == "old" and os.listdir(tmp_path) == ["gpu.json"]
