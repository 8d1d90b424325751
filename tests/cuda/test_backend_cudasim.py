"""The layers on the ``cudasim`` backend: one training step equals the numpy reference's.

Run in a process whose numba is the CUDA simulator (``NUMBA_ENABLE_CUDASIM=1`` before
numba is imported; tests/conftest.py sets it). Sizes are small and ragged, batch 3,
so that every kernel's edge blocks are exercised and the simulator stays quick. With
``DLKIT_REAL_CUDA=1`` on a machine with an NVIDIA GPU the same tests run on the
``cuda`` backend.
"""

import os

import numpy as np
import pytest

from dlkit import backend, nn, optim
from dlkit.nn import device

DEVICE = "cuda" if os.environ.get("DLKIT_REAL_CUDA") == "1" else "cudasim"

pytestmark = pytest.mark.skipif(
    not backend.available(DEVICE), reason=f"the {DEVICE!r} backend cannot run here"
)

TOL = {np.float64: 1e-10, np.float32: 1e-4}


def _mlp(dtype):
    return nn.Sequential(
        nn.Linear(7, 5, seed=1, dtype=dtype),
        nn.ReLU(),
        nn.Linear(5, 4, seed=2, dtype=dtype),
    )


def _lenet(dtype):
    return nn.Sequential(
        nn.Conv2d(1, 2, 3, padding=1, seed=1, dtype=dtype, input_grad=False),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(2, 3, 2, stride=2, seed=2, dtype=dtype),
        nn.ReLU(),
        nn.Flatten(),
        nn.Linear(12, 4, seed=3, dtype=dtype),
    )


def _data(shape, dtype):
    g = np.random.default_rng(0)
    return g.standard_normal(shape).astype(dtype), np.array([0, 3, 1])


def _train(name, make, shape, dtype, opt_cls, steps):
    """Losses and host copies of the parameters after `steps` steps on backend `name`."""
    x, y = _data(shape, dtype)
    with backend.use_backend(name) as b:
        net = make(dtype)
        # Nudge the biases off zero so that their gradients and updates are tested.
        for p in net.parameters():
            if p.name == "b":
                p.data[...] = np.linspace(-0.1, 0.1, p.size).astype(dtype)
        opt = opt_cls(net.parameters(), lr=0.1)
        loss_fn = nn.CrossEntropyLoss()
        losses, held = [], []
        for _ in range(steps):
            loss = loss_fn.forward(net.forward(x), y)
            net.backward(loss_fn.backward())
            opt.step()
            losses.append(loss)
            held.append([p.data for p in net.parameters()])
        params = [b.asnumpy(p.data) for p in net.parameters()]
        grads = [b.asnumpy(p.grad) for p in net.parameters()]
    return losses, params, grads, held


def _rel(a, b):
    return np.max(np.abs(a - b)) / max(np.max(np.abs(b)), 1e-30)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize(
    "make, shape, opt_cls",
    [(_mlp, (3, 7), optim.SGD), (_lenet, (3, 1, 9, 8), optim.Momentum)],
    ids=["mlp-sgd", "lenet-momentum"],
)
def test_one_step_equals_the_numpy_reference(make, shape, opt_cls, dtype):
    ref = _train("numpy", make, shape, dtype, opt_cls, 1)
    sim = _train(DEVICE, make, shape, dtype, opt_cls, 1)
    tol = TOL[dtype]
    np.testing.assert_allclose(sim[0], ref[0], rtol=tol)  # the loss
    for got, want in zip(sim[1] + sim[2], ref[1] + ref[2]):  # parameters, gradients
        assert got.dtype == want.dtype
        assert _rel(got, want) < tol


def _nesterov(params, lr):
    return optim.SGD(params, lr, momentum=0.9, nesterov=True, weight_decay=1e-3)


def test_parameters_stay_on_the_device_between_steps():
    ref = _train("numpy", _mlp, (3, 7), np.float64, _nesterov, 2)
    sim = _train(DEVICE, _mlp, (3, 7), np.float64, _nesterov, 2)
    np.testing.assert_allclose(sim[0], ref[0], rtol=1e-10)
    for got, want in zip(sim[1] + sim[2], ref[1] + ref[2]):
        assert _rel(got, want) < 1e-10
    first, second = sim[3]  # Param.data after each step: device arrays, updated in place
    assert all(hasattr(p, "copy_to_host") for p in first)
    assert all(a is b for a, b in zip(first, second))


def test_activations_pass_between_layers_on_the_device():
    x, _ = _data((3, 1, 9, 8), np.float64)
    with backend.use_backend(DEVICE):
        net = _lenet(np.float64)
        out = net.forward(x)
        assert hasattr(out, "copy_to_host") and tuple(out.shape) == (3, 4)
        inner = net[:3].forward(x)  # Conv2d, ReLU, MaxPool2d
        assert hasattr(inner, "copy_to_host") and tuple(inner.shape) == (3, 2, 4, 4)
        device.to_host(net)
        assert all(isinstance(p.data, np.ndarray) for p in net.parameters())


def test_device_inputs_are_checked():
    from numba import cuda

    with backend.use_backend(DEVICE):
        layer = nn.Linear(4, 2, dtype=np.float32)
        with pytest.raises(TypeError, match=r"float32 weights but got a float64 device array"):
            layer.forward(cuda.to_device(np.zeros((3, 4))))
        with pytest.raises(ValueError, match=r"Linear\(4, 2\) got input of shape \(3, 5\)"):
            layer.forward(cuda.to_device(np.zeros((3, 5), np.float32)))
        with pytest.raises(NotImplementedError, match="on 'cuda' and 'cudasim' use SGD"):
            layer.forward(np.zeros((3, 4), np.float32))
            optim.Adam(layer.parameters()).step()
