"""Fixed point, rounding and low-precision training (dlkit.precision)."""

import numpy as np
import pytest

from dlkit import nn
from dlkit import precision as P


def test_format_range_and_spacing():
    q = P.FixedPoint(2, 14)
    assert q.wl == 16 and q.eps == 2.0**-14
    assert q.lo == -2.0 and q.hi == 2.0 - 2.0**-14
    q = P.FixedPoint(8, 8)
    assert (q.lo, q.hi, q.eps) == (-128.0, 128.0 - 1 / 256, 1 / 256)
    assert str(q) == "<8, 8>"


def test_round_nearest_is_exact_on_grid_and_within_half_eps():
    fl = 4
    eps = 2.0**-fl
    grid = np.arange(-64, 64) * eps
    assert np.array_equal(P.round_nearest(grid, fl), grid)  # representable: unchanged
    x = np.linspace(-3, 3, 10001)
    r = P.round_nearest(x, fl)
    assert np.all(np.abs(r - x) <= eps / 2)
    assert np.allclose(r / eps, np.round(r / eps))  # lands on the grid
    # ties go down, as in Gupta et al.'s definition; just above a tie goes up
    assert P.round_nearest(0.5 * eps, fl) == 0.0
    assert P.round_nearest(0.5 * eps + 1e-9, fl) == eps
    assert P.round_nearest(1.25 * eps, fl) == eps
    assert P.round_nearest(-1.25 * eps, fl) == -eps


def test_saturation_clips_to_the_range():
    q = P.FixedPoint(3, 2)  # [-4, 3.75], eps 0.25
    x = np.array([-100.0, -4.1, -4.0, 0.3, 3.75, 3.9, 1e9])
    assert q.quantize(x).tolist() == [-4.0, -4.0, -4.0, 0.25, 3.75, 3.75, 3.75]
    assert q.quantize(x, "stochastic", 0)[[0, -1]].tolist() == [-4.0, 3.75]
    assert q.representable(q.quantize(np.linspace(-9, 9, 101), "stochastic", 1)).all()
    assert not q.representable(np.array([0.1, 4.0])).any()


def test_stochastic_rounding_is_unbiased():
    fl = 6
    eps = 2.0**-fl
    g = np.random.default_rng(0)
    x = g.uniform(-1, 1, 2000)
    stats = P.rounding_error_stats(x, P.FixedPoint(2, fl), "stochastic", repeats=50, seed=1)
    assert abs(stats["bias"]) < 4 * stats["stderr"]
    assert stats["max_abs"] < eps
    # a value below eps/2, rounded many times: the mean recovers it, nearest gives 0
    small = np.full(200_000, 0.3 * eps)
    mean = P.round_stochastic(small, fl, rng=2).mean()
    se = eps * np.sqrt(0.3 * 0.7 / small.size)
    assert abs(mean - 0.3 * eps) < 4 * se
    assert P.round_nearest(small, fl).max() == 0.0
    # each result is one of the two neighbours, with the right probability
    r = P.round_stochastic(np.full(100_000, 2.75 * eps), fl, rng=3)
    assert set(np.unique(r / eps)) == {2.0, 3.0}
    assert abs((r == 3 * eps).mean() - 0.75) < 4 * np.sqrt(0.75 * 0.25 / r.size)


def test_stochastic_rounding_is_seeded():
    x = np.linspace(-1, 1, 257)
    a = P.round_stochastic(x, 3, rng=7)
    assert np.array_equal(a, P.round_stochastic(x, 3, rng=7))
    assert not np.array_equal(a, P.round_stochastic(x, 3, rng=8))


def test_nearest_rounding_bias_is_below_half_eps():
    eps = 2.0**-5
    for value in (0.1 * eps, 0.37 * eps, 0.49 * eps, 3.3 * eps):
        stats = P.rounding_error_stats(np.full(10, value), P.FixedPoint(2, 5), "nearest")
        assert abs(stats["bias"]) <= eps / 2
        assert stats["stderr"] < 1e-15  # deterministic
    x = np.random.default_rng(0).uniform(-1, 1, 5000)
    assert abs(P.rounding_error_stats(x, P.FixedPoint(2, 5), "nearest")["bias"]) < eps / 2


def test_bad_formats_are_explained():
    with pytest.raises(ValueError, match="IL >= 1"):
        P.FixedPoint(0, 8)
    with pytest.raises(ValueError, match="cannot be negative"):
        P.FixedPoint(2, -1)
    with pytest.raises(TypeError, match="FL must be an int"):
        P.FixedPoint(2, 3.5)
    with pytest.raises(ValueError, match="WL = IL"):
        P.FixedPoint(20, 40)
    with pytest.raises(ValueError, match="rounding must be"):
        P.quantize(1.0, 2, 4, "up")
    with pytest.raises(ValueError, match="stochastic rounding"):
        P.Float16().quantize(1.0, "stochastic")


def test_float16_storage_and_float32_accumulation():
    g = np.random.default_rng(0)
    A, B = g.standard_normal((8, 300)), g.standard_normal((300, 5))
    exact = A.astype(np.float16).astype(np.float64) @ B.astype(np.float16).astype(np.float64)
    err32 = np.abs(P.matmul_float16(A, B) - exact).max()
    err16 = np.abs(P.matmul_float16(A, B, accumulate=np.float16) - exact).max()
    assert err32 < 1e-4 < err16
    assert P.to_float16(np.array([70000.0]))[0] == np.inf
    # 1 + 1e-4 ... in float16: every addition is below half the spacing at 1 (2^-11)
    assert P.sum_in([1.0] + [1e-4] * 1000, np.float16) == 1.0
    assert abs(P.sum_in([1.0] + [1e-4] * 1000, np.float32) - 1.1) < 1e-4
    assert P.float16_update(1.0, 1e-4, 100, master=False) == 1.0
    assert abs(P.float16_update(1.0, 1e-4, 100, master=True) - 1.01) < 1e-3


def test_quantize_layer_and_optimizer_keep_values_on_the_grid():
    q = P.FixedPoint(4, 6)
    net = P.quantize_model(nn.mlp([5, 7, 3], "relu", seed=0), q, "stochastic", seed=0)
    assert sum(isinstance(layer, P.Quantize) for layer in net) == 4
    x = np.random.default_rng(1).uniform(-1, 1, (6, 5))
    out = net.forward(x)
    assert q.representable(out).all()
    loss = nn.CrossEntropyLoss()
    loss.forward(out, np.array([0, 1, 2, 0, 1, 2]))
    dx = net.backward(loss.backward())
    assert q.representable(dx).all()
    opt = P.QuantizedSGD(net.parameters(), lr=0.5, fmt=q, rounding="stochastic", seed=0)
    opt.step()
    assert all(q.representable(p.data).all() for p in net.parameters())
    assert 0 <= opt.lost_fraction <= 1 and opt.n_updates > 0


def test_saturated_activations_pass_no_gradient():
    layer = P.Quantize(P.FixedPoint(2, 4))
    y = layer.forward(np.array([[-5.0, 0.5, 1.9, 3.0]]))
    assert y.tolist() == [[-2.0, 0.5, 1.875, 1.9375]]
    assert layer.backward(np.ones((1, 4))).tolist() == [[0.0, 1.0, 1.0, 0.0]]


def test_round_to_nearest_cancels_small_updates_and_stochastic_does_not():
    q = P.FixedPoint(2, 8)
    for rounding, moved in (("nearest", False), ("stochastic", True)):
        p = nn.Param(np.zeros(4000))
        p.grad[...] = 1.0
        opt = P.QuantizedSGD([p], lr=0.3 * q.eps, fmt=q, rounding=rounding, seed=0)
        for _ in range(10):
            opt.step()
        if moved:  # on average 10 steps of 0.3 eps
            assert abs(p.data.mean() + 3 * q.eps) < 0.05 * q.eps
            assert abs(opt.kept_ratio - 1) < 0.05
        else:
            assert np.all(p.data == 0) and opt.lost_fraction == 1.0 and opt.kept_ratio == 0


def test_sixteen_bit_training_reproduces_gupta_et_al():
    # WL = 16, FL = 8: stochastic rounding stays close to float32, nearest falls behind
    base = P.train_digits(None, epochs=20)
    sr = P.train_digits(P.FixedPoint(8, 8), "stochastic", epochs=20)
    rn = P.train_digits(P.FixedPoint(8, 8), "nearest", epochs=20)
    assert base.test_error < 0.06
    assert sr.test_error < base.test_error + 0.02
    assert rn.test_error > sr.test_error + 0.03
    assert rn.kept_ratio < 0.8 < 0.95 < sr.kept_ratio


def test_chapter9_exercise_checks(capsys):
    from dlkit.exercises import ch09

    assert ch09.check_range(4, 12, -8, 8 - 2**-12, 2**-12)
    assert not ch09.check_range(4, 12, -8, 8, 2**-12)
    assert ch09.check_round_up_probability(0.3, 3, 0.4)
    assert not ch09.check_round_up_probability(0.3, 3, 0.6)
    assert ch09.check_smallest_gradient(10, 0.05, 2**-11 / 0.05)
    assert not ch09.check_smallest_gradient(10, 0.05, 2**-10 / 0.05)

    def sr(x, fl, rng):
        eps = 2.0**-fl
        floor = np.floor(x / eps)
        return (floor + (rng.random(x.shape) < x / eps - floor)) * eps

    assert ch09.check_stochastic_rounding(sr)
    assert not ch09.check_stochastic_rounding(lambda x, fl, rng: np.round(x * 2**fl) / 2**fl)
    assert not ch09.check_stochastic_rounding(lambda x, fl, rng: 1 / 0)
    out = capsys.readouterr().out
    assert "Correct" in out and "Not yet" in out and "ZeroDivisionError" in out


def test_quantized_cnn_forward_backward_stays_on_the_grid():
    from dlkit import models

    q = P.FixedPoint(6, 10)
    net = P.quantize_model(models.digits_cnn(4, 8, seed=0), q, "stochastic", seed=0)
    x = np.random.default_rng(0).uniform(0, 1, (3, 1, 8, 8))
    out = net.forward(x)
    loss = nn.CrossEntropyLoss()
    loss.forward(out, np.array([1, 2, 3]))
    net.backward(loss.backward())
    opt = P.QuantizedSGD(net.parameters(), lr=0.1, fmt=q, rounding="stochastic", seed=1)
    opt.step()
    assert q.representable(out).all()
    assert all(q.representable(p.data).all() for p in net.parameters())
    assert len(net.parameters()) == 6


def test_rounding_explorer_draws_into_its_widget_state():
    from dlkit.viz import precision as vprec

    box = vprec.rounding_explorer(fl=8, rounding="nearest", mean=1e-3)
    out = box.children[-1]
    assert "image/png" in out.outputs[0]["data"]
    assert out.outputs[0]["data"]["text/plain"].startswith("bias -")  # nearest: biased down
    mode = box.children[1]
    mode.value = "stochastic"
    bias = float(out.outputs[0]["data"]["text/plain"].split()[1])
    assert abs(bias) < 0.05 * 2.0**-8


def test_quantize_layer_and_quantized_sgd_check_their_arguments():
    fmt = P.FixedPoint(4, 8)
    with pytest.raises(
        TypeError,
        match="Quantize: fmt must be a number format such as "
        r"FixedPoint\(2, 14\)",
    ):
        P.Quantize(16)
    with pytest.raises(TypeError, match="QuantizedSGD: grad_fmt must be a number format"):
        P.QuantizedSGD([nn.Param(np.zeros(2))], fmt=fmt, grad_fmt="fp16")
    with pytest.raises(ValueError, match="Quantize: Float16 rounds to nearest"):
        P.Quantize(P.Float16(), "stochastic")
    with pytest.raises(ValueError, match="rounding must be 'nearest' or 'stochastic'"):
        P.QuantizedSGD([nn.Param(np.zeros(2))], fmt=fmt, rounding="up")
    for bad, exc, phrase in (
        (True, TypeError, "momentum must be a real number"),
        ("0.9", TypeError, "momentum must be a real number"),
        (1.0, ValueError, r"momentum must lie in \[0.0, 1.0\)"),
        (np.nan, ValueError, "momentum=nan"),
    ):
        with pytest.raises(exc, match=phrase):
            P.QuantizedSGD([nn.Param(np.zeros(2))], fmt=fmt, momentum=bad)
    with pytest.raises(TypeError, match="lr must be a real number, got True"):
        P.QuantizedSGD([nn.Param(np.zeros(2))], lr=True, fmt=fmt)


def test_quantize_backward_checks_dout_against_forward():
    q = P.Quantize(P.FixedPoint(4, 8))
    with pytest.raises(ValueError, match="backward called before forward"):
        q.backward(np.zeros((2, 3)))
    out = q.forward(np.full((2, 3), 0.3))
    with pytest.raises(
        ValueError,
        match=r"dout of shape \(2, 1\), but forward returned shape "
        r"\(2, 3\)",
    ):
        q.backward(np.ones((2, 1)))  # would broadcast silently before
    with pytest.raises(TypeError, match="dtype"):
        q.forward(np.array([1 + 2j]))
    assert q.backward(np.ones_like(out)).shape == (2, 3)


def test_public_functions_refuse_what_they_cannot_convert():
    fmt = P.FixedPoint(4, 8)
    x = np.linspace(-1, 1, 12).reshape(3, 4)
    for bad in (None, "abc", np.array([object()]), x + 1j):
        with pytest.raises(TypeError, match="quantize needs real numbers"):
            P.quantize(bad, 4, 8)
        with pytest.raises(TypeError, match="to_float16 needs real numbers"):
            P.to_float16(bad)
    with pytest.raises(ValueError, match="quantize got a non-finite input"):
        P.quantize(np.array([0.5, np.nan]), 4, 8)
    assert P.quantize(np.array([np.inf, -np.inf]), 4, 8).tolist() == [fmt.hi, fmt.lo]
    with pytest.raises(TypeError, match="round_stochastic needs real numbers"):
        P.round_stochastic("x", 8)
    with pytest.raises(ValueError, match=r"\(n, k\) @ \(k, m\), got shapes \(3, 4\) and \(5, 2\)"):
        P.matmul_float16(x, np.ones((5, 2)))
    with pytest.raises(TypeError, match="accumulate: dtype must be a float dtype"):
        P.matmul_float16(x, x.T, accumulate="foo")
    with pytest.raises(TypeError, match="sum_in: dtype must be a float dtype"):
        P.sum_in([0.1, 0.2], np.int64)
    with pytest.raises(TypeError, match="sum_in needs real numbers"):
        P.sum_in(None, np.float32)
    for steps, exc in ((-1, ValueError), (2.5, TypeError), (True, TypeError)):
        with pytest.raises(exc, match="float16_update: steps must be an int >= 0"):
            P.float16_update(1.0, 1e-4, steps, master=True)
    with pytest.raises(TypeError, match="float16_update: w must be a real number"):
        P.float16_update("x", 1e-4, 3, master=True)
    with pytest.raises(TypeError, match="quantize_model: fmt must be a number format"):
        P.quantize_model(nn.mlp([2, 2]), None)
    with pytest.raises(TypeError, match="rounding_error_stats: fmt must be a number format"):
        P.rounding_error_stats(x, None, "nearest")
    with pytest.raises(ValueError, match="repeats must be an int >= 1"):
        P.rounding_error_stats(x, fmt, "nearest", repeats=0)
    # valid inputs keep their results
    assert P.sum_in([0.1, 0.2], np.float16) == float(np.float16(np.float16(0.1) + np.float16(0.2)))
    assert P.to_float16(np.array([1, 2], np.int64)).dtype == np.float16
