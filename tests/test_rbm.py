"""Restricted Boltzmann machines: the model's formulas against brute-force enumeration,
CD-k against the exact gradient, AIS against the exact log Z."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from dlkit.unsupervised import (
    RBM,
    ais_log_partition,
    cd_gradient,
    exact_log_partition,
    log_likelihood,
    rbm_update,
    train_rbm,
)


def all_states(n: int) -> np.ndarray:
    return np.array(list(itertools.product([0.0, 1.0], repeat=n)))


def tiny(s_v=5, s_h=4, seed=3, scale=1.0) -> RBM:
    r = RBM(s_v, s_h, seed=seed)
    g = np.random.default_rng(seed)
    r.W.data[...] = g.normal(0, scale, r.W.shape)
    r.b.data[...] = g.normal(0, scale, s_v)
    r.c.data[...] = g.normal(0, scale, s_h)
    return r


def brute_force(r: RBM):
    """P(v, h) over every joint state, by the definition e^{−E}/Z."""
    V, H = all_states(r.n_visible), all_states(r.n_hidden)
    VV = np.repeat(V, len(H), axis=0)
    HH = np.tile(H, (len(V), 1))
    E = r.energy(VV, HH)
    logZ = np.logaddexp.reduce(-E)
    return V, H, np.exp(-E - logZ).reshape(len(V), len(H)), logZ


def test_exact_log_partition_equals_the_sum_over_every_joint_state():
    r = tiny()
    _, _, _, logZ = brute_force(r)
    assert abs(exact_log_partition(r) - logZ) < 1e-12


def test_free_energy_gives_the_marginal_of_v():
    r = tiny()
    V, _, P, logZ = brute_force(r)
    assert np.max(np.abs(np.exp(-r.free_energy(V) - logZ) - P.sum(axis=1))) < 1e-12
    assert abs(np.exp(-r.free_energy(V) - exact_log_partition(r)).sum() - 1) < 1e-12


def test_conditionals_factorise_and_match_the_joint():
    r = tiny()
    V, H, P, _ = brute_force(r)
    p_h_given_v = P / P.sum(axis=1, keepdims=True)  # (2^s_v, 2^s_h)
    marg = p_h_given_v @ H  # P(h_k = 1 | v) by summing the joint
    assert np.max(np.abs(marg - r.hidden_probs(V))) < 1e-12
    p_v_given_h = P / P.sum(axis=0, keepdims=True)
    assert np.max(np.abs(p_v_given_h.T @ V - r.visible_probs(H))) < 1e-12


def test_energy_formula():
    r = tiny()
    v, h = np.array([[1.0, 0, 1, 1, 0]]), np.array([[0.0, 1, 1, 0]])
    W, b, c = r.W.data, r.b.data, r.c.data
    assert abs(r.energy(v, h)[0] - (-(b @ v[0]) - c @ h[0] - h[0] @ W @ v[0])) < 1e-12


def test_free_energy_gradient_matches_finite_differences():
    r = tiny(6, 5)
    V = (np.random.default_rng(0).random((7, 6)) < 0.5).astype(float)
    dW, db, dc = r.free_energy_grad(V)
    eps = 1e-6
    for p, analytic in ((r.W, dW), (r.b, db), (r.c, dc)):
        num = np.zeros_like(p.data)
        for idx in np.ndindex(p.data.shape):
            old = p.data[idx]
            p.data[idx] = old + eps
            fp = r.free_energy(V).mean()
            p.data[idx] = old - eps
            fm = r.free_energy(V).mean()
            p.data[idx] = old
            num[idx] = (fp - fm) / (2 * eps)
        rel = np.max(np.abs(num - analytic)) / max(np.max(np.abs(analytic)), 1e-12)
        assert rel < 1e-7, p.name


def exact_nll_gradient(r: RBM, V0: np.ndarray):
    """∂(−mean log P(v_0))/∂θ = E_data[∂F/∂θ] − E_model[∂F/∂θ], by enumeration."""
    V = all_states(r.n_visible)
    pv = np.exp(-r.free_energy(V) - exact_log_partition(r))
    dW0, db0, dc0 = r.free_energy_grad(V0)
    Q = r.hidden_probs(V)
    dWm = -(Q * pv[:, None]).T @ V
    dbm = -(pv @ V)
    dcm = -(pv @ Q)
    return dW0 - dWm, db0 - dbm, dc0 - dcm


def test_cd_with_long_chains_estimates_the_exact_gradient():
    r = tiny(4, 3, seed=1, scale=0.5)
    V0 = np.tile(all_states(4)[[3, 9, 14]], (4000, 1))  # 12,000 rows, 3 distinct
    cd_gradient(r, V0, k=30, seed=0)
    exact = exact_nll_gradient(r, V0)
    for p, e in zip((r.W, r.b, r.c), exact):
        assert np.max(np.abs(p.grad - e)) < 0.03, p.name


def test_rbm_update_is_the_sgd_step_of_the_cd_gradient_and_is_seeded():
    r1, r2 = tiny(), tiny()
    V0 = (np.random.default_rng(1).random((10, 5)) < 0.5).astype(float)
    before = r1.W.data.copy()
    rbm_update(r1, V0, lr=0.1, k=2, seed=5)
    cd_gradient(r2, V0, k=2, seed=5)
    assert np.array_equal(r1.W.data, before - 0.1 * r2.W.grad)
    r3 = tiny()
    rbm_update(r3, V0, lr=0.1, k=2, seed=5)
    assert np.array_equal(r1.W.data, r3.W.data)


def test_training_raises_the_exact_log_likelihood():
    from sklearn.datasets import load_digits

    X = (load_digits().data[:400] / 16 > 0.5).astype(float)
    for persistent in (False, True):
        r = RBM(64, 10, seed=0)
        before = log_likelihood(r, X, exact_log_partition(r))
        hist = train_rbm(r, X, epochs=5, lr=0.05, batch_size=10, persistent=persistent, seed=0)
        after = log_likelihood(r, X, exact_log_partition(r))
        assert after > before + 10, (persistent, before, after)
        assert hist.reconstruction_error[-1] < hist.reconstruction_error[0]
        assert (hist.chain is not None) == persistent


def test_ais_estimate_is_close_to_the_exact_log_partition():
    from sklearn.datasets import load_digits

    X = (load_digits().data[:500] / 16 > 0.5).astype(float)
    r = RBM(64, 12, seed=0)
    train_rbm(r, X, epochs=5, lr=0.05, seed=0)
    exact = exact_log_partition(r)
    m = X.mean(axis=0).clip(0.01, 0.99)
    est = ais_log_partition(
        r, n_chains=64, betas=np.linspace(0, 1, 3001), base_visible_bias=np.log(m / (1 - m))
    )
    assert abs(est.log_z - exact) < 0.1
    assert est.log_z_low <= est.log_z <= est.log_z_high


def test_float32_and_layer_view():
    r = RBM(6, 3, seed=0, dtype=np.float32)
    V = np.ones((2, 6), np.float32)
    assert r.forward(V).dtype == np.float32
    from dlkit.nn import check_layer

    r64 = tiny(6, 3)
    res = check_layer(r64, np.random.default_rng(0).random((4, 6)), seed=0)
    assert res.max_error < 1e-7, res


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda r: r.hidden_probs(np.full((2, 5), 2.0)), r"\[0, 1\]"),
        (lambda r: r.hidden_probs(np.zeros((2, 4))), r"shape \(N, 5\)"),
        (lambda r: r.gibbs(np.zeros((1, 5)), k=0), "k must be a positive int"),
        (lambda r: cd_gradient(r, np.zeros((1, 5)), k=0), "k must be a positive int"),
        (
            lambda r: rbm_update(r, np.zeros((1, 5)), lr=-1),
            "learning rate must be a positive number",
        ),
        (lambda r: ais_log_partition(r, betas=[0.5, 1.0]), "betas must rise from 0 to 1"),
        (lambda r: r.hidden_probs(np.zeros((0, 5))), "no rows"),
        (lambda r: r.pseudo_log_likelihood(np.full((1, 5), 0.5)), "binary"),
    ],
)
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call(tiny())


def test_exact_log_partition_refuses_large_hidden_layers():
    with pytest.raises(ValueError, match="ais_log_partition"):
        exact_log_partition(RBM(4, 21))


def test_train_rbm_is_a_loop_of_cd_steps_over_shuffled_batches():
    """One generator draws each epoch's permutation and then the batches' Gibbs samples."""
    from dlkit.unsupervised.rbm import _cd

    X = (np.random.default_rng(0).random((23, 5)) < 0.5).astype(float)
    r1, r2 = tiny(), tiny()
    train_rbm(r1, X, epochs=2, lr=0.1, batch_size=10, seed=3, monitor=False)
    g = np.random.default_rng(3)
    for _ in range(2):
        order = g.permutation(23)
        for start in range(0, 23, 10):
            _cd(r2, X[order[start : start + 10]], 1, g, None)
            for p in r2.parameters():
                p.data -= 0.1 * p.grad
    for p1, p2 in zip(r1.parameters(), r2.parameters()):
        assert np.array_equal(p1.data, p2.data), p1.name
