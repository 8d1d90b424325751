"""Conv2d, MaxPool2d, AvgPool2d, Flatten and Dropout: gradient checks and behaviour."""

import numpy as np
import pytest

from dlkit.nn import (
    AvgPool2d,
    Conv2d,
    Dropout,
    Flatten,
    Linear,
    MaxPool2d,
    ReLU,
    Sequential,
    check_layer,
)

# Convolution and pooling are linear in each input (piecewise, for max), so a larger
# finite-difference step removes round-off without adding truncation error.
H_STEP = 1e-4


def _x(shape, seed=0):
    return np.random.default_rng(seed).standard_normal(shape)


@pytest.mark.parametrize("algorithm", ["auto", "direct", "im2col", "fft", "numba"])
@pytest.mark.parametrize("stride,padding", [(1, 0), (2, 1), (1, 2)])
def test_conv2d_gradients(algorithm, stride, padding):
    layer = Conv2d(2, 3, (3, 2), stride, padding, algorithm=algorithm, seed=1)
    result = check_layer(layer, _x((2, 2, 6, 5)), h=H_STEP)
    assert result.max_error < 1e-7, result


def test_conv2d_winograd_gradients():
    layer = Conv2d(2, 3, 3, padding=1, algorithm="winograd", seed=2)
    result = check_layer(layer, _x((2, 2, 7, 5)), h=H_STEP)
    assert result.max_error < 1e-7, result


def test_conv2d_without_bias_and_input_grad():
    layer = Conv2d(2, 3, 3, bias=False, input_grad=False, seed=0)
    assert [p.name for p in layer.parameters()] == ["W"]
    out = layer.forward(_x((2, 2, 5, 5)))
    assert layer.backward(np.ones_like(out)) is None
    full = Conv2d(2, 3, 3, bias=False, seed=0)
    full.forward(_x((2, 2, 5, 5)))
    full.backward(np.ones_like(out))
    np.testing.assert_allclose(layer.W.grad, full.W.grad, rtol=1e-12)


def test_conv2d_algorithms_agree_as_layers():
    x = _x((3, 2, 9, 9), 4)
    outs = [
        Conv2d(2, 5, 3, padding=1, algorithm=a, seed=3).forward(x)
        for a in ("auto", "direct", "im2col", "winograd", "fft", "numba")
    ]
    for o in outs[1:]:
        np.testing.assert_allclose(o, outs[0], atol=1e-12)


def test_conv2d_shapes_and_weights():
    layer = Conv2d(1, 6, 5, seed=0)
    assert layer.W.shape == (6, 1, 5, 5) and layer.b.shape == (6,)
    assert layer.forward(np.zeros((4, 1, 28, 28))).shape == (4, 6, 24, 24)
    assert layer.output_shape((4, 1, 28, 28)) == (4, 6, 24, 24)
    assert Conv2d(3, 8, 3, stride=2, padding=1).output_shape((1, 3, 32, 32)) == (1, 8, 16, 16)
    np.testing.assert_array_equal(Conv2d(1, 6, 5, seed=7).W.data, Conv2d(1, 6, 5, seed=7).W.data)


def test_conv2d_float32():
    layer = Conv2d(2, 3, 3, seed=0, dtype=np.float32)
    out = layer.forward(_x((2, 2, 6, 6)))
    assert out.dtype == np.float32
    dx = layer.backward(np.ones_like(out))
    assert dx.dtype == np.float32 and layer.W.grad.dtype == np.float32


def test_conv2d_clear_errors():
    with pytest.raises(
        ValueError,
        match=r"Conv2d\(1, 6, 5\) got input of shape \(64, 28, 28\); "
        r"it needs \(N, 1, H, W\): add a channel axis with x\[:, None\]",
    ):
        Conv2d(1, 6, 5).forward(np.zeros((64, 28, 28)))
    with pytest.raises(ValueError, match="channels-last"):
        Conv2d(3, 6, 5).forward(np.zeros((2, 28, 28, 3)))
    with pytest.raises(ValueError, match="smaller than the 5x5 kernel"):
        Conv2d(1, 6, 5).forward(np.zeros((2, 1, 4, 4)))
    with pytest.raises(ValueError, match="needs a 3x3 kernel"):
        Conv2d(1, 6, 5, algorithm="winograd")
    with pytest.raises(ValueError, match="needs stride 1"):
        Conv2d(1, 6, 3, stride=2, algorithm="winograd")
    with pytest.raises(ValueError, match="unknown convolution algorithm"):
        Conv2d(1, 6, 3, algorithm="magic")
    with pytest.raises(RuntimeError, match="before forward"):
        Conv2d(1, 6, 3).backward(np.zeros((1, 6, 2, 2)))


@pytest.mark.parametrize(
    "layer",
    [
        MaxPool2d(2),
        MaxPool2d(3, 2),
        MaxPool2d((2, 3), 1),
        AvgPool2d(2),
        AvgPool2d(3, 2),
        AvgPool2d((2, 3), 1),
    ],
)
def test_pool_gradients(layer):
    result = check_layer(layer, _x((2, 3, 7, 6), 5), h=1e-5)
    assert result.max_error < 1e-7, result


def test_maxpool_values_and_routing():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    pool = MaxPool2d(2)
    np.testing.assert_array_equal(pool.forward(x)[0, 0], [[5, 7], [13, 15]])
    dx = pool.backward(np.ones((1, 1, 2, 2)))
    assert dx.sum() == 4 and dx[0, 0, 1, 1] == 1 and dx[0, 0, 0, 0] == 0
    # odd sizes: the last row and column are dropped, as in PyTorch
    assert MaxPool2d(2).forward(_x((1, 2, 5, 7))).shape == (1, 2, 2, 3)


def test_avgpool_values():
    x = np.arange(16.0).reshape(1, 1, 4, 4)
    np.testing.assert_array_equal(AvgPool2d(2).forward(x)[0, 0], [[2.5, 4.5], [10.5, 12.5]])
    pool = AvgPool2d(2)
    pool.forward(x)
    np.testing.assert_allclose(pool.backward(np.ones((1, 1, 2, 2))), 0.25)


def test_flatten_gradient_and_shape():
    f = Flatten()
    assert f.forward(np.zeros((2, 3, 4, 5))).shape == (2, 60)
    assert check_layer(Flatten(), _x((2, 3, 2, 2))).max_error < 1e-7


def test_dropout_seeded_scaled_and_eval_identity():
    x = np.ones((200, 50))
    a, b = Dropout(0.3, seed=4), Dropout(0.3, seed=4)
    ya, yb = a.forward(x), b.forward(x)
    np.testing.assert_array_equal(ya, yb)  # same seed, same mask
    assert set(np.unique(ya)) == {0.0, 1 / 0.7}
    assert abs((ya == 0).mean() - 0.3) < 0.02  # 10,000 draws
    np.testing.assert_array_equal(a.backward(np.ones_like(x)), ya)  # gradient uses the mask
    a.eval()
    np.testing.assert_array_equal(a.forward(x), x)
    np.testing.assert_array_equal(a.backward(x), x)
    assert not np.array_equal(Dropout(0.3, seed=5).forward(x), yb)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        Dropout(1.0)


def test_dropout_gradient_check():
    layer = Dropout(0.5, seed=0)
    x = _x((4, 6))
    y = layer.forward(x)
    mask = y / np.where(x == 0, 1, x)

    class Fixed(Dropout):  # the same mask on every forward, as within one step
        def forward(self, z):
            self._mask = mask
            return z * mask

    assert check_layer(Fixed(0.5), x).max_error < 1e-7


def test_lenet_trains_through_conv_layers():
    net = Sequential(
        Conv2d(1, 4, 3, seed=0), ReLU(), MaxPool2d(2), Flatten(), Linear(36, 3, seed=1)
    )
    x = _x((6, 1, 8, 8), 2)
    out = net.forward(x)
    assert out.shape == (6, 3)
    assert net.backward(np.ones_like(out)).shape == x.shape
    assert "Conv2d(1, 4, 3)" in net.summary()


@pytest.mark.parametrize("k,s", [(2, 2), (3, 2), ((2, 3), 1)])
def test_maxpool_numpy_path_equals_compiled(k, s):
    from dlkit import backend

    x, d = _x((2, 3, 7, 6), 6), None
    with backend.use_backend("numba"):
        compiled = MaxPool2d(k, s)
        out = compiled.forward(x)
        d = _x(out.shape, 7)
        dx = compiled.backward(d)
    with backend.use_backend("numpy"):  # no compiled kernels
        plain = MaxPool2d(k, s)
        np.testing.assert_array_equal(plain.forward(x), out)
        np.testing.assert_allclose(plain.backward(d), dx, rtol=1e-14, atol=1e-14)
        assert check_layer(MaxPool2d(k, s), x, h=1e-5).max_error < 1e-7
    assert compiled._compiled and not plain._compiled


def test_layers_take_their_kernels_from_the_registry(monkeypatch):
    """Conv2d('auto') and MaxPool2d call the module that dlkit.kernels.for_backend
    returns, whatever it is: a module registered for a backend is the one that runs."""
    import types

    from dlkit import backend, kernels
    from dlkit.kernels import cpu

    calls = []

    def counted(name):
        def f(*args):
            calls.append(name)
            return getattr(cpu, name)(*args)

        return f

    fake = types.ModuleType("fake_kernels")
    for name in (
        "conv2d_chwn",
        "conv2d_direct",
        "conv2d_weight_grad",
        "im2col",
        "col2im",
        "maxpool2d_forward",
        "maxpool2d_backward",
    ):
        setattr(fake, name, counted(name))
    monkeypatch.setitem(__import__("sys").modules, "fake_kernels", fake)
    monkeypatch.setitem(kernels._REGISTRY, "numba", "fake_kernels")
    x = _x((2, 3, 9, 9), 3)
    net = Sequential(Conv2d(3, 4, 3, seed=0), MaxPool2d(3))
    with backend.use_backend("numba"):
        assert kernels.for_backend() is fake
        out = net.forward(x)
        net.backward(np.ones_like(out))
    assert {"conv2d_chwn", "maxpool2d_forward", "maxpool2d_backward", "conv2d_weight_grad"} <= set(
        calls
    )


def test_explicit_numba_algorithm_needs_a_backend_with_kernels():
    from dlkit import backend, kernels

    layer = Conv2d(1, 4, 3, algorithm="numba")
    with backend.use_backend("numpy"):
        with pytest.raises(
            kernels.NoKernelsError, match="backend 'numpy' has no compiled kernels.*set_backend"
        ):
            layer.forward(_x((2, 1, 6, 6)))


def test_auto_follows_the_backend():
    """Conv2d('auto') and MaxPool2d run numba kernels on the numba backend and the numpy
    reference (im2col) on the numpy backend, with the same results."""
    from dlkit import backend, nn

    g = np.random.default_rng(3)
    x = g.standard_normal((2, 3, 9, 9))
    dout = g.standard_normal((2, 4, 2, 2))
    net = nn.Sequential(nn.Conv2d(3, 4, 3, seed=0), nn.MaxPool2d(3))
    results = {}
    for name in ("numpy", "numba"):
        with backend.use_backend(name):
            out = net.forward(x)
            dx = net.backward(dout)
            results[name] = (out, dx, net[0].W.grad.copy(), net[0]._path, net[1]._compiled)
    assert results["numpy"][3:] == ("im2col", False)
    assert results["numba"][3:] == ("numba", True)
    for a, b in zip(results["numpy"][:3], results["numba"][:3]):
        np.testing.assert_allclose(a, b, rtol=1e-10, atol=1e-12)
