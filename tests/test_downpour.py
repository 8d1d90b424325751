"""Downpour SGD (dlkit.parallel.downpour) on the simulator: a DBN layer's CD-1
gradient and logistic regression reach stated objectives with several replicas and
server shards; n_fetch/n_push cut the traffic; a crashed replica does not stop it."""

import numpy as np
import pytest
from scipy.special import expit

from dlkit.cluster import Faults, networks
from dlkit.data.digits import load_digits
from dlkit.parallel.downpour import simulate, split, staleness_summary
from dlkit.unsupervised.steps import rbm_gradient_step

NET = networks.Network(alpha=1e-5, beta=1e-9, gamma=1e-10)
SV, SH = 64, 32  # the RBM's visible and hidden units


@pytest.fixture(scope="module")
def digits():
    return load_digits().X_train  # (1348, 64) in [0, 1]


def theta0():
    g = np.random.default_rng(0)
    return np.concatenate([0.01 * g.normal(size=SH * SV), np.zeros(SV), np.zeros(SH)])


def recon(theta, V):
    """(1/N) Σ_n ‖v_n − v̂_n‖² of the RBM θ = [W, b, c] (mean-field reconstruction)."""
    W = theta[: SH * SV].reshape(SH, SV)
    b, c = theta[SH * SV : SH * SV + SV], theta[SH * SV + SV :]
    return float(np.sum((V - expit(expit(V @ W.T + c) @ W + b)) ** 2) / len(V))


def cd1(theta, V_batch, seed):
    return rbm_gradient_step(theta, V_batch, sizes=(SV, SH), k=1, seed=seed)


@pytest.mark.parametrize("adagrad, lr", [(True, 0.05), (False, 0.1)])
def test_downpour_trains_a_dbn_layer(digits, adagrad, lr):
    start = recon(theta0(), digits)
    run = simulate(
        4,
        cd1,
        theta0(),
        digits,
        n_servers=2,
        lr=lr,
        steps=100,
        batch_size=20,
        adagrad=adagrad,
        network=NET,
    )
    assert recon(run.theta, digits) < 0.4 * start  # 11.5 -> below 4.6
    assert run.hist.sum() == 400 and run.staleness.max() <= 3
    assert sorted(run.steps.values()) == [100] * 4


def logistic():
    g = np.random.default_rng(1)
    X = g.normal(size=(1600, 10))
    y = (X @ g.normal(size=10) > 0).astype(np.float64)
    return X, y


def grad(theta, batch, seed):
    Xb, yb = batch
    return Xb.T @ (expit(Xb @ theta) - yb) / len(yb)


def test_downpour_logistic_regression_with_eight_replicas():
    X, y = logistic()
    run = simulate(
        8, grad, np.zeros(10), (X, y), n_servers=3, lr=0.5, steps=40, batch_size=10, network=NET
    )
    assert np.mean((X @ run.theta > 0) == (y > 0.5)) > 0.95
    s = staleness_summary(run.staleness)
    assert 0 <= s["median"] <= s["max"] <= 7


def test_n_fetch_and_n_push_cut_the_traffic_per_gradient():
    X, y = logistic()
    kw = dict(n_servers=1, lr=0.2, steps=48, batch_size=10, network=NET, adagrad=False)
    every = simulate(2, grad, np.zeros(10), (X, y), n_fetch=1, n_push=1, **kw)
    fourth = simulate(2, grad, np.zeros(10), (X, y), n_fetch=4, n_push=4, **kw)
    assert fourth.hist.sum() == every.hist.sum() / 4  # one push per 4 gradients
    assert fourth.bytes < 0.35 * every.bytes


def test_a_crashed_replica_does_not_stop_downpour():
    X, y = logistic()
    run = simulate(
        4,
        grad,
        np.zeros(10),
        (X, y),
        lr=0.5,
        steps=60,
        batch_size=10,
        network=NET,
        faults=Faults(crash={3: 3e-4}),
        patience=0.01,
    )
    assert run.presumed_crashed == [2]  # replica 2 is rank 1 + 2
    assert sorted(run.steps.values()) == [60, 60, 60]
    assert np.mean((X @ run.theta > 0) == (y > 0.5)) > 0.9


def test_split_and_summary():
    parts = split((np.arange(10), np.arange(10) * 2), 3)
    assert [len(a) for a, _ in parts] == [3, 4, 3]
    assert np.array_equal(np.concatenate([b for _, b in parts]), np.arange(10) * 2)
    assert staleness_summary(np.array([0, 1, 1, 3])) == {
        "mean": 1.25,
        "median": 1,
        "p90": 3,
        "max": 3,
    }
    with pytest.raises(ValueError, match="p must lie"):
        split(np.arange(3), 4)
    with pytest.raises(ValueError, match="no applied gradients"):
        staleness_summary(np.zeros(0))
