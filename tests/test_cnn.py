"""Chapter 8's claims: the CNN's ideas, the digits CNN, specs against real layers."""

import numpy as np
import pytest

from dlkit import data, flops, models, nn
from dlkit.exercises import ch08
from dlkit.optim import Adam
from dlkit.train import fit


def test_spec_helpers_agree_with_flops_and_real_layers():
    # dlkit.models' closed forms (with groups) reduce to dlkit.flops' for groups=1
    for c_in, c_out, k, s, p, hw in [
        (1, 6, 5, 1, 0, 32),
        (3, 96, 11, 4, 0, 227),
        (64, 128, 3, 2, 1, 56),
    ]:
        spec = models.conv("c", (c_in, hw, hw), c_out, k, s, p)
        out_hw = flops.conv2d_output_hw(hw, hw, k, s, p)
        assert spec.out_shape == (c_out,) + out_hw
        assert spec.params == flops.conv2d_params(c_in, c_out, k)
        assert spec.macs == flops.conv2d_macs(c_in, c_out, k, out_hw)
        layer = nn.Conv2d(c_in, c_out, k, s, p)
        assert layer.n_params == spec.params
        assert layer.output_shape((1, c_in, hw, hw))[1:] == spec.out_shape
    fc = models.fc("f", 400, 120)
    assert fc.params == flops.linear_params(400, 120) and fc.macs == flops.linear_macs(400, 120)


def test_lenet5_network_matches_its_specification():
    net = models.lenet5_net(seed=0)
    spec = models.lenet5()
    rows = flops.count(net, (1, 32, 32))
    assert [r.params for r in rows if r.params] == [lay.params for lay in spec.weight_layers()]
    assert sum(r.macs for r in rows) == spec.macs
    assert net.n_params == spec.params == 61_706
    assert net.forward(np.zeros((2, 1, 32, 32))).shape == (2, 10)


def test_sparse_connectivity_and_translation_equivariance():
    g = np.random.default_rng(0)
    conv = nn.Conv2d(1, 3, 3, padding=1, seed=0)
    conv.forward(g.standard_normal((1, 1, 8, 8)))
    dout = np.zeros((1, 3, 8, 8))
    dout[0, 1, 4, 3] = 1.0
    assert np.count_nonzero(conv.backward(dout)) == 9
    canvas = np.zeros((1, 1, 16, 16))
    canvas[0, 0, 2:10, 2:10] = g.uniform(size=(8, 8))
    shifted = np.roll(canvas, (3, 2), axis=(2, 3))
    a, b = conv.forward(canvas), conv.forward(shifted)
    assert np.abs(np.roll(a, (3, 2), axis=(2, 3)) - b).max() < 1e-12


@pytest.fixture
def one_thread():
    """Tiny arrays: one thread avoids oversubscribing a busy CPU (restored afterwards)."""
    import numba
    from threadpoolctl import threadpool_limits

    before = numba.get_num_threads()
    numba.set_num_threads(1)
    with threadpool_limits(1):
        yield
    numba.set_num_threads(before)


def test_digits_cnn_learns(one_thread):
    X, y, Xt, yt = data.load_digits(flat=False, seed=0)
    net = models.digits_cnn(seed=0)
    hist = fit(
        net,
        nn.CrossEntropyLoss(),
        Adam(net.parameters(), lr=3e-3),
        X,
        y,
        epochs=5,
        batch_size=64,
        seed=0,
        val=(Xt, yt),
    )
    # five of the chapter's twelve epochs already reach 95%
    assert hist.val_accuracy[-1] >= 0.95
    assert hist.loss[-1] < hist.loss[0] / 5


def test_chapter8_exercise_checks(capsys):
    assert ch08.check_output_size(227, 11, 4, 0, 55)
    assert not ch08.check_output_size(227, 11, 4, 0, 54)
    assert not ch08.check_output_size(32, 5, 1, 2, 28)  # padding forgotten
    assert ch08.check_conv_params(96, 256, 5, 307_456, groups=2)
    assert not ch08.check_conv_params(96, 256, 5, 614_656, groups=2)
    assert ch08.check_receptive_field([(3, 1), (2, 2), (3, 1)], 8)
    assert not ch08.check_receptive_field([(3, 1), (2, 2), (3, 1)], 6)
    assert not ch08.check_output_size(8, 3, 1, 1, "eight")
    out = capsys.readouterr().out
    assert out.count("Correct") == 3 and "groups" in out and "strides" in out


@pytest.mark.parametrize(
    "stack, r",
    [
        ([(3, 1), (3, 1)], 5),
        ([(3, 1), (2, 2), (3, 1), (2, 2)], 10),
        ([(11, 4), (3, 2), (5, 1)], 51),
    ],
)
def test_receptive_field(stack, r):
    assert ch08.receptive_field(stack) == r


def test_feature_map_explorer_follows_its_controls():
    from dlkit.experiments.cnn import feature_maps
    from dlkit.viz import cnn as vcnn

    X, y, _, _ = data.load_digits(flat=False, seed=0)
    net = models.digits_cnn(4, 6, seed=0)
    box = vcnn.feature_map_explorer(net, X[:5], y[:5])
    out = box.children[-1]
    first = out.outputs[0]["data"]["image/png"]
    layer = box.children[0].children[1]
    layer.value = 1  # second conv layer: 6 filters
    filt = box.children[1].children[0]
    assert filt.max == 5 and out.outputs[0]["data"]["image/png"] != first
    maps = feature_maps(net, X[0])
    assert [m.shape for m in maps][:3] == [(4, 8, 8), (4, 8, 8), (4, 4, 4)]
