"""Numba CPU kernels (dlkit.kernels.cpu) against their numpy references."""

import numpy as np
import pytest

import dlkit.conv as dc
from dlkit.kernels import cpu


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "shape,stride",
    [
        ((2, 3, 9, 7, 4, 3, 3), 1),
        ((1, 2, 11, 8, 3, 5, 4), 1),
        ((2, 3, 9, 7, 4, 3, 2), 2),
        ((1, 1, 6, 6, 2, 6, 6), 1),
    ],
)
def test_direct_kernel_and_weight_grad(shape, stride, dtype):
    N, C, H, W, F, kh, kw = shape
    g = np.random.default_rng(0)
    x = g.standard_normal((N, C, H, W)).astype(dtype)
    w = g.standard_normal((F, C, kh, kw)).astype(dtype)
    b = g.standard_normal(F).astype(dtype)
    out = cpu.conv2d_direct(x, w, b, stride)
    ref = dc.conv2d_direct(x.astype(np.float64), w.astype(np.float64), b, stride)
    tol = 1e-12 if dtype == np.float64 else 1e-4
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)
    d = g.standard_normal(out.shape).astype(dtype)
    dw = cpu.conv2d_weight_grad(d, x, kh, kw, stride)
    _, dw_ref, _ = dc.conv2d_direct_backward(
        d.astype(np.float64), x.astype(np.float64), w.astype(np.float64), stride
    )
    np.testing.assert_allclose(dw, dw_ref, rtol=tol, atol=tol * 10)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "shape",
    [
        (2, 3, 9, 7, 4, 3, 4),
        (1, 2, 11, 8, 8, 5, 5),
        (2, 1, 10, 12, 4, 7, 6),
        (1, 5, 6, 6, 12, 6, 6),
        (3, 2, 5, 9, 6, 3, 2),
        (1, 1, 4, 4, 1, 1, 1),
        (64, 6, 12, 12, 16, 5, 5),
        (600, 1, 3, 4, 5, 2, 3),
        (200, 2, 9, 9, 4, 3, 3),
    ],
)
@pytest.mark.parametrize("padding", [0, 2])
def test_chwn_kernel(shape, dtype, padding):
    """Odd sizes; C·kh·kw not a multiple of five; F not a multiple of four; a batch
    larger than one task's 512 positions; several position blocks per row; padding."""
    N, C, H, W, F, kh, kw = shape
    g = np.random.default_rng(4)
    x = g.standard_normal((N, C, H, W)).astype(dtype)
    w = g.standard_normal((F, C, kh, kw)).astype(dtype)
    b = g.standard_normal(F).astype(dtype)
    out = cpu.conv2d_chwn(x, w, b, padding)
    ref = dc.conv2d_direct(x.astype(np.float64), w.astype(np.float64), b, 1, padding)
    tol = 1e-12 if dtype == np.float64 else 1e-4
    assert out.dtype == dtype
    np.testing.assert_allclose(out, ref, rtol=tol, atol=tol)


@pytest.mark.parametrize("stride", [1, 2])
def test_im2col_col2im_kernels(stride):
    g = np.random.default_rng(1)
    x = g.standard_normal((2, 3, 8, 7))
    cols = cpu.im2col(x, 3, 2, stride)
    np.testing.assert_array_equal(cols, dc.im2col(x, 3, 2, stride))
    c = g.standard_normal(cols.shape)
    np.testing.assert_allclose(
        cpu.col2im(c, 2, 3, 8, 7, 3, 2, stride), dc.col2im(c, x.shape, 3, 2, stride), atol=1e-12
    )


@pytest.mark.parametrize("M,K,N", [(1, 1, 1), (7, 13, 5), (65, 130, 257), (33, 3, 300)])
def test_gemm_blocked_odd_sizes(M, K, N):
    g = np.random.default_rng(M + K + N)
    A, B = g.standard_normal((M, K)), g.standard_normal((K, N))
    np.testing.assert_allclose(cpu.gemm_blocked(A, B), A @ B, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cpu.gemm_blocked(A, B, 8, 8, 16), A @ B, rtol=1e-12, atol=1e-12)


def test_gemm_blocked_float32():
    g = np.random.default_rng(2)
    A = g.standard_normal((40, 70)).astype(np.float32)
    B = g.standard_normal((70, 30)).astype(np.float32)
    C = cpu.gemm_blocked(A, B)
    assert C.dtype == np.float32
    np.testing.assert_allclose(C, A.astype(np.float64) @ B, rtol=1e-4, atol=1e-4)


@pytest.mark.parametrize("H,k,N", [(6, 3, 3), (12, 5, 64), (7, 7, 1)])
def test_layout_runs_count_what_the_kernels_compute(H, k, N):
    """The chapter's layout figure: the flat run's length and wrapped positions are
    those of conv2d_direct; the batch-innermost run is exactly the outputs."""
    from dlkit.viz.conv import layout_runs, plot_layouts

    runs = layout_runs(H, k, N)
    Ho = H - k + 1
    assert len(runs["flat"]) == (Ho - 1) * H + Ho
    assert int(np.sum(runs["flat"] < Ho)) == Ho * Ho  # every output once
    assert int(np.sum(runs["flat"] >= Ho)) == (Ho - 1) * (H - Ho)  # the wrapped ones
    assert len(runs["chwn_out"]) == Ho * N and len(runs["chwn_in"]) == H * N
    assert plot_layouts(H, k, min(N, 4)).axes


def test_warm_compiles_every_kernel():
    """``python -m dlkit.kernels`` (run by make) covers every kernel of dlkit.kernels.cpu,
    for both dtypes: a kernel missing there would be compiled by the first chapter that
    calls it."""
    from numba.core.dispatcher import Dispatcher

    from dlkit.kernels import warm

    kernels = {n for n, f in vars(cpu).items() if isinstance(f, Dispatcher)}
    assert len(kernels) >= 8
    for dt in warm.DTYPES:
        assert set(warm.calls(dt)) == kernels
    seconds = warm.warm(("float32",), processes=1)  # in a fresh process, as make does
    assert set(seconds) == {"float32"} and set(seconds["float32"]) == kernels
    warm.compile_dtype("float64")  # here: loads from the cache
    for name in kernels:
        dtypes = {str(sig[0].dtype) for sig in getattr(cpu, name).signatures}
        assert "float64" in dtypes, name


# ---------------------------------------------------------------- the kernel registry


def test_for_backend_gives_the_cpu_module_on_numba():
    from dlkit import backend, kernels

    assert kernels.for_backend("numba") is cpu
    assert kernels.for_backend(backend.Backend("numba", np)) is cpu
    with backend.use_backend("numba"):
        assert kernels.for_backend() is cpu and kernels.has_kernels()
    assert kernels.registered()["numba"] == "dlkit.kernels.cpu"


def test_a_backend_without_kernels_raises_a_clear_error():
    from dlkit import backend, kernels

    with backend.use_backend("numpy"):
        assert not kernels.has_kernels()
        with pytest.raises(
            kernels.NoKernelsError,
            match=r"backend 'numpy' has no compiled kernels \(registered: .*"
            r"numba \(dlkit.kernels.cpu\)\)",
        ):
            kernels.for_backend()
    with pytest.raises(LookupError, match="'cupy' has no compiled kernels"):
        kernels.for_backend("cupy")
    assert kernels.registered()["cuda"] == kernels.registered()["cudasim"] == "dlkit.kernels.cuda"
    with pytest.raises(TypeError, match="backend must be a Backend"):
        kernels.for_backend(3)


def test_register_plugs_in_a_module_imported_on_first_use(monkeypatch):
    """A kernel module for another backend (dlkit.kernels.cuda, later) is named, not
    imported, by register; for_backend imports it."""
    import sys
    import types

    from dlkit import kernels

    monkeypatch.setattr(kernels, "_REGISTRY", dict(kernels._REGISTRY))
    kernels.register("cudasim", "dlkit_test_kernels_not_yet_imported")
    assert (
        kernels.has_kernels("cudasim") and "dlkit_test_kernels_not_yet_imported" not in sys.modules
    )
    fake = types.ModuleType("dlkit_test_kernels_not_yet_imported")
    monkeypatch.setitem(sys.modules, fake.__name__, fake)
    assert kernels.for_backend(" CUDASIM ") is fake
    with pytest.raises(ValueError, match="unknown backend 'tpu'"):
        kernels.register("tpu", "x")
    with pytest.raises(TypeError, match="dotted module name"):
        kernels.register("cuda", None)


def test_importing_the_registry_does_not_import_numba():
    import subprocess
    import sys

    code = (
        "import sys, dlkit.kernels, dlkit.conv, dlkit.nn; "
        "print('numba' in sys.modules, 'dlkit.kernels.cpu' in sys.modules)"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout.split()
    assert out == ["False", "False"]


def test_conv_functions_run_the_registered_kernels(monkeypatch):
    """conv2d_numba and its gradients call for_backend's module, never cpu directly."""
    import types

    from dlkit import backend, kernels

    seen = []
    fake = types.ModuleType("counted")
    for name in ("conv2d_chwn", "conv2d_direct", "conv2d_weight_grad", "im2col", "col2im"):

        def f(*args, _name=name):
            seen.append(_name)
            return getattr(cpu, _name)(*args)

        setattr(fake, name, f)
    monkeypatch.setitem(__import__("sys").modules, "counted", fake)
    monkeypatch.setitem(kernels._REGISTRY, "numba", "counted")
    g = np.random.default_rng(5)
    x, w = g.standard_normal((2, 3, 7, 7)), g.standard_normal((4, 3, 3, 3))
    with backend.use_backend("numba"):
        dc.conv2d(x, w, None, 1, 1, "numba")
        dc.conv2d(x, w, None, 2, 0, "numba")
        d = g.standard_normal((2, 4, 7, 7))
        dc.conv2d_numba_backward(d, x, w, 1, 1)
        dc.conv2d_fast_backward(
            g.standard_normal((2, 4, 5, 5)), x, g.standard_normal((4, 3, 3, 3)), 1, 0
        )
        dc.conv2d_fast_backward(
            g.standard_normal((2, 4, 5, 5)), np.ones((2, 8, 7, 7)), np.ones((4, 8, 3, 3)), 1, 0
        )
    assert set(seen) == {"conv2d_chwn", "conv2d_direct", "conv2d_weight_grad", "im2col", "col2im"}
