"""Optimizers, step by step against their published update rules on hand-computable cases."""

import math

import numpy as np
import pytest

from dlkit.nn import Param
from dlkit.optim import SGD, AdaGrad, Adam, AdamW, Momentum, Nesterov, RMSProp, get_optimizer


def run(opt_cls, grads, theta0=0.0, **kw):
    """Apply the given gradients one step at a time; return the parameter after each."""
    p = Param(np.array([theta0], dtype=np.float64))
    opt = opt_cls([p], **kw)
    out = []
    for g in grads:
        p.grad[...] = g
        opt.step()
        out.append(float(p.data[0]))
    return out


def test_sgd_rule():
    p = Param(np.array([1.0, 2.0]))
    p.grad[...] = [0.5, -1.0]
    SGD([p], lr=0.1).step()
    np.testing.assert_allclose(p.data, [0.95, 2.1], rtol=0, atol=1e-15)


def test_sgd_keeps_old_positional_api():
    p = Param(np.array([1.0]))
    p.grad[...] = 1.0
    opt = SGD([p], 0.5)
    opt.step()
    assert p.data[0] == 0.5 and opt.t == 1


def test_momentum_rule():
    # v <- 0.9 v - 0.1 * 1; theta <- theta + v: v = -0.1, -0.19, -0.271
    got = run(Momentum, [1, 1, 1], lr=0.1, momentum=0.9)
    assert got == pytest.approx([-0.1, -0.29, -0.561], abs=1e-14)


def test_nesterov_rule_by_hand():
    # v1 = -0.1, theta1 = 0.9*v1 - 0.1 = -0.19; v2 = -0.19, theta2 = -0.19 + 0.9*v2 - 0.1
    got = run(Nesterov, [1, 1], lr=0.1, momentum=0.9)
    assert got == pytest.approx([-0.19, -0.19 - 0.171 - 0.1], abs=1e-14)


def test_nesterov_equals_lookahead_form_on_quadratic():
    """dlkit's theta is Nesterov's phi + mu v, where v <- mu v - lr * grad(phi + mu v)."""
    a, lr, mu = 3.0, 0.05, 0.9
    p = Param(np.array([1.0]))
    opt = Nesterov([p], lr=lr, momentum=mu)
    phi, v = 1.0, 0.0
    for _ in range(20):
        p.grad[...] = a * p.data  # gradient at dlkit's (look-ahead) point
        opt.step()
        v = mu * v - lr * a * (phi + mu * v)
        phi = phi + v
        assert p.data[0] == pytest.approx(phi + mu * v, abs=1e-13)


def test_adagrad_rule():
    # G = 4, 8: theta = 1 - 0.1*2/2, then - 0.1*2/sqrt(8)
    got = run(AdaGrad, [2, 2], theta0=1.0, lr=0.1, eps=1e-300)
    assert got == pytest.approx([0.9, 0.9 - 0.2 / math.sqrt(8)], abs=1e-14)


def test_rmsprop_rule():
    # E = 0.1*4 = 0.4, then 0.9*0.4 + 0.1*1 = 0.46
    got = run(RMSProp, [2, 1], theta0=1.0, lr=0.1, rho=0.9, eps=1e-300)
    first = 1.0 - 0.1 * 2 / math.sqrt(0.4)
    assert got == pytest.approx([first, first - 0.1 * 1 / math.sqrt(0.46)], abs=1e-14)


def test_adam_rule():
    # step 1: m^ = g, v^ = g^2, so the step is lr * sign(g).
    # step 2 with g = 1 then 3: m = 0.09 + 0.3 = 0.39, v = 0.000999 + 0.009 = 0.009999
    got = run(Adam, [1, 3], theta0=0.0, lr=0.1, betas=(0.9, 0.999), eps=1e-300)
    m_hat, v_hat = 0.39 / (1 - 0.9**2), 0.009999 / (1 - 0.999**2)
    assert got == pytest.approx([-0.1, -0.1 - 0.1 * m_hat / math.sqrt(v_hat)], abs=1e-13)


def test_adam_eps_placement():
    # g = 0.0 after the first step leaves sqrt(v^) + eps in the denominator
    got = run(Adam, [1e-3], lr=1.0, eps=1e-3)
    assert got[0] == pytest.approx(-1e-3 / (1e-3 + 1e-3), abs=1e-14)


def test_weight_decay_l2_and_decoupled():
    # SGD: g_eff = 0 + 0.1 * theta
    assert run(SGD, [0.0], theta0=2.0, lr=0.5, weight_decay=0.1)[0] == pytest.approx(1.9)
    # Adam with L2: the decay enters the adaptive step, so step 1 is lr * sign
    assert run(Adam, [0.0], theta0=2.0, lr=0.5, weight_decay=0.1)[0] == pytest.approx(1.5)
    # AdamW: theta <- theta (1 - lr*wd), and a zero gradient makes no adaptive step
    assert run(AdamW, [0.0], theta0=2.0, lr=0.5, weight_decay=0.1)[0] == pytest.approx(1.9)


def test_float32_params_stay_float32():
    for name in ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"):
        p = Param(np.ones(3, np.float32))
        p.grad[...] = 0.5
        opt = get_optimizer(name, [p], lr=0.01)
        opt.step()
        opt.step()
        assert p.data.dtype == np.float32 and np.all(p.data < 1), name


def test_state_dict_round_trip_continues_identically():
    g = np.random.default_rng(0)
    grads = g.standard_normal((6, 4))
    for name in ("momentum", "nesterov", "adagrad", "rmsprop", "adam", "adamw"):
        a, b = Param(np.zeros(4)), Param(np.zeros(4))
        oa = get_optimizer(name, [a], lr=0.01)
        ob = get_optimizer(name, [b], lr=0.5)  # different lr: must be restored too
        for gr in grads[:3]:
            a.grad[...] = gr
            oa.step()
        b.data[...] = a.data
        ob.load_state_dict(oa.state_dict())
        assert ob.lr == 0.01 and ob.t == 3
        for gr in grads[3:]:
            a.grad[...] = gr
            b.grad[...] = gr
            oa.step()
            ob.step()
        np.testing.assert_array_equal(a.data, b.data)


def test_clear_errors():
    p = Param(np.zeros(2))
    with pytest.raises(ValueError, match="learning rate"):
        SGD([p], lr=-1)
    with pytest.raises(ValueError, match="momentum"):
        SGD([p], lr=0.1, momentum=1.5)
    with pytest.raises(ValueError, match="nesterov"):
        SGD([p], lr=0.1, nesterov=True)
    with pytest.raises(ValueError, match="beta1"):
        Adam([p], betas=(1.0, 0.999))
    with pytest.raises(ValueError, match="choose one of"):
        get_optimizer("adamax", [p])
    with pytest.raises(ValueError, match="no parameters"):
        Adam([])
    with pytest.raises(ValueError, match="does not fit"):
        o = Momentum([p], lr=0.1)
        p.grad[...] = 1
        o.step()
        Momentum([Param(np.zeros(3))], lr=0.1).load_state_dict(o.state_dict())


def test_surfaces_race_shows_what_chapter_4_claims():
    from dlkit.viz import optimizers as vo

    final = {s: {r.name: r.loss[-1] for r in vo.race(s, steps=100)} for s in vo.SURFACES}
    assert final["saddle"]["sgd"] > -0.01  # stuck at the saddle
    assert max(final["saddle"][n] for n in ("adagrad", "rmsprop", "adam")) < -0.24
    assert final["local minimum"]["momentum"] < -1.36  # over the hump
    assert final["local minimum"]["sgd"] > -1.0  # stays in the local basin
    assert max(final["ravine"].values()) < 1e-3


def test_optimize_uses_exact_gradients_and_stops_on_divergence():
    from dlkit.viz import optimizers as vo

    run = vo.optimize("ravine", "sgd", lr=0.1, steps=3)
    x, y = vo.RAVINE.start
    for _ in range(3):
        x, y = x - 0.1 * 0.1 * x, y - 0.1 * 4 * y
    np.testing.assert_allclose(run.final, [x, y], rtol=1e-14)
    blow = vo.optimize("ravine", "sgd", lr=5.0, steps=500)
    assert len(blow.path) < 501 and np.all(np.isfinite(blow.path))


def test_chapter_4_exercise_checks(capsys):
    from dlkit.exercises import ch04

    assert ch04.check_cross_entropy(0.25, math.log(4))
    assert not ch04.check_cross_entropy(0.25, -math.log(4))
    assert ch04.check_max_learning_rate(4, 0.5)
    assert not ch04.check_max_learning_rate(4, 0.25)
    assert not ch04.check_max_learning_rate("x", 0.5)
    assert ch04.check_adam_first_step(1.0, 30.0, 0.1, 0.9)
    assert not ch04.check_adam_first_step(1.0, 30.0, 0.1, 1.1)
    assert ch04.check_ravine_settings(0.2, 0.8)
    assert not ch04.check_ravine_settings(0.45, 0.0)
    assert not ch04.check_ravine_settings(5.0, 0.5)
    out = capsys.readouterr().out
    assert out.count("Correct:") == 4 and "diverged" in out


# -- hyper-parameters and states are checked -----------------------------------------------


@pytest.mark.parametrize(
    "bad, exc, phrase",
    [
        (True, TypeError, "lr must be a real number, got True"),
        ("0.1", TypeError, "lr must be a real number, got '0.1'"),
        (1j, TypeError, "complex"),
        (float("nan"), ValueError, "learning rate must be a positive number, got lr=nan"),
        (np.inf, ValueError, "lr=inf"),
        (0.0, ValueError, "lr=0.0"),
    ],
)
def test_lr_must_be_a_positive_finite_real(bad, exc, phrase):
    with pytest.raises(exc, match=phrase):
        SGD([Param(np.zeros(2))], lr=bad)


@pytest.mark.parametrize(
    "cls, kw, exc, phrase",
    [
        (SGD, {"momentum": True}, TypeError, "momentum must be a real number"),
        (SGD, {"momentum": "0.9"}, TypeError, "momentum must be a real number"),
        (SGD, {"momentum": float("nan")}, ValueError, r"momentum must lie in \[0.0, 1.0\)"),
        (SGD, {"weight_decay": -0.1}, ValueError, "weight_decay must lie in"),
        (SGD, {"weight_decay": np.inf}, ValueError, "weight_decay=inf"),
        (Adam, {"weight_decay": False}, TypeError, "weight_decay must be a real number"),
        (RMSProp, {"rho": 1.0}, ValueError, "rho must lie in"),
        (RMSProp, {"rho": True}, TypeError, "rho must be a real number"),
        (AdaGrad, {"eps": 0.0}, ValueError, r"eps must lie in \(0.0, 1.0\)"),
        (AdaGrad, {"eps": 1e-8j}, TypeError, "eps must be a real number"),
        (Adam, {"betas": 0.9}, TypeError, "betas must be a pair"),
        (Adam, {"betas": (0.9, np.nan)}, ValueError, "beta2 must lie in"),
        (AdamW, {"betas": (True, 0.999)}, TypeError, "beta1 must be a real number"),
        (Nesterov, {"momentum": 1.0}, ValueError, "momentum must lie in"),
    ],
)
def test_hyper_parameters_are_checked_by_name(cls, kw, exc, phrase):
    with pytest.raises(exc, match=phrase):
        cls([Param(np.zeros(2))], lr=0.1, **kw)


def test_numpy_scalars_are_accepted_as_hyper_parameters():
    opt = Adam([Param(np.zeros(2))], lr=np.float32(0.5), betas=(np.float64(0.8), 0.9))
    assert (opt.lr, opt.beta1, opt.beta2) == (0.5, 0.8, 0.9) and type(opt.lr) is float


def _stepped(cls, n=2, **kw):
    params = [Param(np.ones(3)), Param(np.ones((2, 2)))][:n]
    opt = cls(params, lr=0.1, **kw)
    for p in params:
        p.grad[...] = 0.5
    opt.step()
    return opt


def _snapshot(opt):
    return (
        opt.t,
        opt.lr,
        {k: v.copy() for s in opt.state for k, v in s.items()},
        [p.data.copy() for p in opt.params],
    )


def _unchanged(opt, snap):
    t, lr, state, data = snap
    now = {k: v for s in opt.state for k, v in s.items()}
    return (
        opt.t == t
        and opt.lr == lr
        and state.keys() == now.keys()
        and all(np.array_equal(state[k], now[k]) for k in state)
        and all(np.array_equal(a, p.data) for a, p in zip(data, opt.params))
    )


def test_state_of_another_kind_is_refused_and_changes_nothing():
    adam = _stepped(Adam)
    snap = _snapshot(adam)
    with pytest.raises(
        ValueError, match="Adam.load_state_dict got the state of optimizer Momentum"
    ):
        adam.load_state_dict(_stepped(Momentum).state_dict())
    with pytest.raises(ValueError, match="got the state of optimizer AdamW"):
        adam.load_state_dict(_stepped(AdamW).state_dict())
    assert _unchanged(adam, snap)
    assert adam.state_dict()["kind"] == "Adam"


def test_old_state_without_kind_is_accepted_only_with_this_kinds_keys():
    old = {
        k: v
        for k, v in _stepped(Momentum).state_dict().items()
        if k in ("t", "lr", "weight_decay", "momentum") or k.startswith("state.")
    }
    mom = _stepped(Momentum)
    mom.load_state_dict(old)  # same keys: accepted
    np.testing.assert_array_equal(mom.state[0]["v"], old["state.0.v"])
    adam = _stepped(Adam)
    snap = _snapshot(adam)
    with pytest.raises(ValueError, match="has no 'kind' and its keys .* are not those of Adam"):
        adam.load_state_dict(old)
    assert _unchanged(adam, snap)


def test_state_shapes_dtypes_counts_and_values_are_checked_first():
    src = _stepped(Adam).state_dict()
    cases = [
        ({"n_params": np.array(5)}, ValueError, "saved for 5 parameters, this optimizer has 2"),
        ({"state.1.m": np.zeros(3)}, ValueError, r"state.1.m \(shape \(3,\)\) does not fit"),
        (
            {"state.0.v": np.zeros(3, np.float32)},
            ValueError,
            "dtype float32, its parameter float64",
        ),
        ({"state.7.m": np.zeros(3)}, ValueError, "does not fit"),
        ({"lr": np.array(-1.0)}, ValueError, "learning rate must be a positive number"),
        ({"beta1": np.array(1.5)}, ValueError, "beta1 must lie in"),
        ({"t": np.array(2.5)}, ValueError, "'t' must be a step count"),
        ({"bogus": np.array(1.0)}, ValueError, r"unknown keys \['bogus'\]"),
        ({"option.decoupled": np.array(True)}, ValueError, "saved with decoupled=True"),
    ]
    for change, exc, phrase in cases:
        adam = _stepped(Adam)
        snap = _snapshot(adam)
        with pytest.raises(exc, match=phrase):
            adam.load_state_dict({**src, **change})
        assert _unchanged(adam, snap), change
    with pytest.raises(TypeError, match="expects the dict of arrays"):
        _stepped(Adam).load_state_dict([("t", 1)])
    with pytest.raises(KeyError, match="no step count"):
        _stepped(Adam).load_state_dict({"lr": np.array(0.1)})


def test_nesterov_option_must_match():
    with pytest.raises(
        ValueError, match="saved with nesterov=True, this optimizer has nesterov=False"
    ):
        _stepped(SGD, momentum=0.9).load_state_dict(
            _stepped(SGD, momentum=0.9, nesterov=True).state_dict()
        )


def test_state_dict_round_trips_generators_and_counters():
    from dlkit import precision as P

    fmt = P.FixedPoint(4, 6)
    a = _stepped(P.QuantizedSGD, fmt=fmt, rounding="stochastic", seed=1)
    b = _stepped(P.QuantizedSGD, fmt=fmt, rounding="stochastic", seed=2)
    state = a.state_dict()
    assert {"rng._rng", "count.n_updates", "count.n_lost", "count.applied"} <= set(state)
    b.load_state_dict(state)
    assert b.n_updates == a.n_updates and type(b.n_updates) is int
    np.testing.assert_array_equal(b._rng.random(5), a._rng.random(5))
    bad = dict(state, **{"rng._rng": np.array('{"bit_generator": "MT19937"}')})
    with pytest.raises(ValueError, match="expected the JSON state of a PCG64"):
        b.load_state_dict(bad)
