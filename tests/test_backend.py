"""Layers go through the backend's array module ``Backend.xp``.

CuPy needs a GPU, so these tests stand in a fake array module: numpy's functions
around a numpy subclass, ``FakeArray``. An array of the fake module passes through
``check_array`` and the layers as it is; anything else is converted by its ``asarray``.
"""

import types

import numpy as np
import pytest

from dlkit import backend, nn
from dlkit.nn.core import array_module, check_array


class FakeArray(np.ndarray):
    """The array type of the fake backend."""


def _fake_module(calls: list[str]) -> types.SimpleNamespace:
    def counted(name, f):
        def g(*args, **kwargs):
            calls.append(name)
            return f(*args, **kwargs)

        return g

    return types.SimpleNamespace(
        __name__="fakenp",
        ndarray=FakeArray,
        asarray=counted("asarray", lambda a, dtype=None: np.asarray(a, dtype).view(FakeArray)),
        zeros=counted("zeros", lambda shape, dtype=float: np.zeros(shape, dtype).view(FakeArray)),
        isfinite=counted("isfinite", np.isfinite),
        argwhere=np.argwhere,
        lib=np.lib,
    )


@pytest.fixture
def fake_backend(monkeypatch):
    """A backend whose array module is the fake one; the calls it receives are logged."""
    calls: list[str] = []
    monkeypatch.setattr(backend, "_current", backend.Backend("fake", _fake_module(calls)))
    return calls


class _DeviceArray:
    """Looks like a CuPy array to check_array (it has ``__cuda_array_interface__``)."""

    __cuda_array_interface__ = {"shape": (2,), "typestr": "<f8", "version": 3}


def test_array_module_is_the_backends():
    with backend.use_backend("numpy") as b:
        assert array_module() is np is b.xp


def test_gpu_arrays_are_refused_on_numpy():
    with backend.use_backend("numpy"):
        with pytest.raises(
            TypeError,
            match=r"Conv2d\(1, 1, 1\) got a GPU array; this layer "
            r"runs on numpy: use \.get\(\) first",
        ):
            check_array(_DeviceArray(), "Conv2d(1, 1, 1)")
        with pytest.raises(TypeError, match="got list; pass a numpy array"):
            check_array([[1.0], [1.0, 2.0]], "Linear(2, 1)")  # ragged


def test_check_array_goes_through_xp(fake_backend):
    a = np.arange(6.0).reshape(2, 3).view(FakeArray)
    assert check_array(a, "layer") is a  # the backend's array, as it is
    assert fake_backend == ["isfinite"]
    b = check_array([[1, 2], [3, 4]], "layer")  # anything else: xp.asarray
    assert type(b) is FakeArray and b.dtype == np.float64
    assert fake_backend[1] == "asarray"
    with pytest.raises(ValueError, match=r"non-finite input \(first at index \(0, 1\)"):
        check_array(np.array([[0.0, np.inf]]).view(FakeArray), "layer")
    with pytest.raises(TypeError, match="got list; pass a fakenp array"):
        check_array([[1.0], [1.0, 2.0]], "layer")


def test_check_array_on_numpy_is_unchanged():
    """The numpy backend returns a float array unchanged and converts others as before."""
    with backend.use_backend("numpy"):
        x = np.ones((2, 3))
        assert check_array(x, "layer") is x
        assert check_array(np.ones(3, np.float32), "layer", dtype=np.float64).dtype == np.float64
        assert check_array([True, False], "layer").dtype == np.float64


def test_layers_allocate_with_xp(fake_backend):
    """Pooling, Dropout and Flatten take their arrays from the backend's module."""
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 4)).view(FakeArray)
    for layer in (nn.MaxPool2d(2), nn.AvgPool2d(2), nn.AvgPool2d(3, 1)):
        out = layer.forward(x)
        dx = layer.backward(np.ones(out.shape))
        assert type(dx) is FakeArray and dx.shape == x.shape
    flat = nn.Flatten()
    assert type(flat.forward(x)) is FakeArray
    drop = nn.Dropout(0.5, seed=0)
    assert type(drop.forward(x)) is FakeArray
    assert fake_backend.count("zeros") == 3 and "asarray" in fake_backend
    pool = nn.MaxPool2d(2)
    pool.forward(x)
    assert not pool._compiled  # no kernels registered for "fake"


def test_fake_backend_gives_the_numpy_numbers(monkeypatch):
    """The same layers on the fake module and on numpy: identical results."""
    x = np.random.default_rng(1).standard_normal((2, 1, 6, 6))
    net = nn.Sequential(
        nn.Conv2d(1, 2, 3, seed=0), nn.MaxPool2d(2), nn.Flatten(), nn.Dropout(0.25, seed=2)
    )
    with backend.use_backend("numpy"):
        ref = net.forward(x)
        dref = net.backward(np.ones_like(ref))
    net[3]._rng = np.random.default_rng(2)
    calls: list[str] = []
    monkeypatch.setattr(backend, "_current", backend.Backend("fake", _fake_module(calls)))
    out = net.forward(x)
    dx = net.backward(np.ones_like(out))
    np.testing.assert_array_equal(np.asarray(out), ref)
    np.testing.assert_array_equal(np.asarray(dx), dref)
    assert "asarray" in calls


def test_cpu_kernels_property_is_kept():
    assert backend.Backend("numba", np).cpu_kernels
    assert not backend.Backend("numpy", np).cpu_kernels
