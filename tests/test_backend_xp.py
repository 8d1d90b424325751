"""The ``cupy`` backend's code path (:class:`dlkit.nn.device.XpOps`), without CuPy.

CuPy needs a GPU, so these tests stand in a strict fake of it: numpy's functions around
a numpy subclass, ``DeviceArray``, that refuses (as CuPy does) any operation mixing it
with a host numpy array. A layer that created an array with numpy instead of the
backend's ``xp`` would fail here; one training step must equal the numpy reference's.
"""

import types

import numpy as np
import pytest

from dlkit import backend, nn, optim
from dlkit.nn import device


_INSIDE = [0]  # > 0 while numpy's own implementation of a function runs


def _plain(a) -> bool:
    return _INSIDE[0] == 0 and type(a) is np.ndarray and a.ndim > 0


class DeviceArray(np.ndarray):
    """An array of the fake GPU: it never mixes with host numpy arrays."""

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        if any(_plain(a) for a in inputs + (out or ())):
            raise TypeError(f"{ufunc.__name__}: a host numpy array met a device array")
        args = [a.view(np.ndarray) if isinstance(a, DeviceArray) else a for a in inputs]
        if out is not None:
            kwargs["out"] = tuple(o.view(np.ndarray) for o in out)
        result = getattr(ufunc, method)(*args, **kwargs)
        return out[0] if out is not None and len(out) == 1 else _device(result)

    def __array_function__(self, func, types, args, kwargs):
        flat = [a for x in args for a in (x if isinstance(x, (list, tuple)) else [x])]
        if any(_plain(a) for a in flat):
            raise TypeError(f"{func.__name__}: a host numpy array met a device array")
        _INSIDE[0] += 1
        try:
            return _device(super().__array_function__(func, types, args, kwargs))
        finally:
            _INSIDE[0] -= 1

    def __setitem__(self, key, value):
        if _plain(value):
            raise TypeError("setitem: a host numpy array met a device array")
        super().__setitem__(key, value)


def _device(r):
    if type(r) is np.ndarray:
        return r.view(DeviceArray)
    if isinstance(r, tuple):
        return tuple(_device(a) for a in r)
    return r


class FakeCupy(types.ModuleType):
    """numpy's functions, returning DeviceArrays; ``created`` counts the creations."""

    ndarray = DeviceArray
    lib = np.lib

    def __init__(self):
        super().__init__("fakecupy")
        self.created = 0

    def __getattr__(self, name):
        f = getattr(np, name)

        def g(*args, **kwargs):
            self.created += 1
            return _device(f(*args, **kwargs))

        return g


@pytest.fixture
def fake_cupy(monkeypatch):
    xp = FakeCupy()
    monkeypatch.setattr(backend, "_current", backend.Backend("cupy", xp))
    return xp


def _mlp():
    return nn.Sequential(nn.Linear(7, 5, seed=1), nn.ReLU(), nn.Linear(5, 4, seed=2))


def _lenet():
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, seed=1, input_grad=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2, 3, 2, stride=2, seed=2),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(12, 4, seed=3),
    )


def _step(make, x, y):
    net = make()
    for p in net.parameters():
        if p.name == "b":
            p.data[...] = np.linspace(-0.1, 0.1, p.size)
    opt = optim.SGD(net.parameters(), lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-3)
    loss_fn = nn.CrossEntropyLoss()
    losses = []
    for _ in range(2):
        losses.append(loss_fn.forward(net.forward(x), y))
        net.backward(loss_fn.backward())
        opt.step()
    return losses, net


@pytest.mark.parametrize("make, shape", [(_mlp, (3, 7)), (_lenet, (3, 1, 9, 8))])
def test_two_steps_on_the_xp_path_equal_numpy(make, shape, monkeypatch):
    g = np.random.default_rng(0)
    x, y = g.standard_normal(shape), np.array([0, 3, 1])
    with backend.use_backend("numpy"):
        ref_losses, ref = _step(make, x, y)
    xp = FakeCupy()
    monkeypatch.setattr(backend, "_current", backend.Backend("cupy", xp))
    assert isinstance(device.ops(), device.XpOps)
    losses, net = _step(make, x, y)
    np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    for p, q in zip(net.parameters(), ref.parameters()):
        assert type(p.data) is DeviceArray and type(p.grad) is DeviceArray  # on the device
        np.testing.assert_allclose(np.asarray(p.data), q.data, rtol=1e-12, atol=1e-15)
        np.testing.assert_allclose(np.asarray(p.grad), q.grad, rtol=1e-12, atol=1e-15)
    assert xp.created > 0
    out = net.forward(x)
    assert type(out) is DeviceArray


def test_the_strict_fake_catches_a_host_array(fake_cupy):
    a = fake_cupy.zeros(3)
    with pytest.raises(TypeError, match="host numpy array met a device array"):
        a + np.ones(3)


def test_soft_targets_are_refused_on_a_gpu_backend(fake_cupy):
    z = fake_cupy.zeros((2, 3))
    with pytest.raises(ValueError, match="integer labels \\(N,\\) or one-hot"):
        nn.CrossEntropyLoss().forward(z, np.full((2, 3), 1 / 3))
    onehot = np.eye(3)[[0, 2]]
    assert nn.CrossEntropyLoss().forward(z, onehot) == pytest.approx(np.log(3))


def test_cpu_backends_ask_for_no_device_ops():
    for name in ("numpy", "numba"):
        with backend.use_backend(name):
            assert device.ops() is None


def test_runs_on_device_keeps_the_shown_source():
    import inspect

    assert inspect.getsource(nn.Linear.backward).lstrip().startswith("def backward")
    assert nn.Linear.backward.__wrapped__.__qualname__ == "Linear.backward"
    with pytest.raises(AttributeError, match="no device operation 'tanh_forward'"):
        device.runs_on_device(nn.Tanh, forward="tanh_forward")


@pytest.mark.parametrize("layer", [nn.Sigmoid(), nn.Tanh(), nn.ELU(), nn.Softmax()])
def test_a_layer_without_a_device_version_says_so(layer, fake_cupy):
    name = type(layer).__name__
    with pytest.raises(NotImplementedError, match=f"{name} does not run on the 'cupy' backend"):
        layer.forward(fake_cupy.zeros((2, 3)))
    with pytest.raises(NotImplementedError, match="MSELoss does not run on the 'cupy' backend"):
        nn.MSELoss().forward(fake_cupy.zeros(2), fake_cupy.zeros(2))


def test_every_operation_is_implemented():
    for cls in (device.NumbaCudaOps, device.XpOps):
        missing = [op for op in device.OPERATIONS if not callable(getattr(cls, op, None))]
        assert not missing, (cls.__name__, missing)
