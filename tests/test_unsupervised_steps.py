"""The DBN's training steps as pure functions of a flat θ (dlkit.unsupervised.steps):
the layout, CD-k against rbm_update, backprop against a numerical gradient and against
fine_tune_dbn, and clear errors."""

from __future__ import annotations

import numpy as np
import pytest

from dlkit.nn.gradcheck import numerical_gradient, rel_error
from dlkit.unsupervised.dbn import DBN, fine_tune_dbn, pretrain_dbn, unroll
from dlkit.unsupervised.rbm import RBM, rbm_update
from dlkit.unsupervised.steps import (
    dbn_flat_params,
    fine_tune_flat,
    finetune_gradient,
    param_layout,
    rbm_gradient_step,
    set_flat_params,
)


def _binary(n, d, seed=1):
    return (np.random.default_rng(seed).random((n, d)) < 0.5).astype(float)


def _data(n=40, d=12, K=3, seed=0):
    g = np.random.default_rng(seed)
    return g.random((n, d)), g.integers(0, K, n)


def test_layout_and_round_trip():
    assert param_layout((5, 3)) == [("W", (3, 5)), ("b", (5,)), ("c", (3,))]
    assert [s for _, s in param_layout([12, 7, 4], 3)] == [
        (7, 12),
        (7,),
        (4, 7),
        (4,),
        (3, 4),
        (3,),
    ]
    dbn = pretrain_dbn(_binary(30, 12), [7, 4], epochs=1, seed=0)
    theta = dbn_flat_params(dbn)
    assert theta.ndim == 1 and theta.dtype == np.float64
    assert theta.size == sum(12 * 7 + 12 + 7 for _ in [0]) + 7 * 4 + 7 + 4
    r = dbn.rbms[0]
    assert np.array_equal(theta[: 7 * 12].reshape(7, 12), r.W.data)
    assert np.array_equal(theta[7 * 12 : 7 * 12 + 12], r.b.data)  # then b (s_v), then c
    mlp = unroll(dbn, 3, seed=0)
    flat = dbn_flat_params(mlp)
    assert flat.size == sum(int(np.prod(s)) for _, s in param_layout([12, 7, 4], 3))
    W_before = mlp.parameters()[0].data
    set_flat_params(mlp, np.arange(flat.size, dtype=float))
    assert mlp.parameters()[0].data is W_before  # written in place
    assert np.array_equal(dbn_flat_params(mlp), np.arange(flat.size, dtype=float))


def test_float32_stays_float32():
    r = RBM(6, 4, seed=0, dtype=np.float32)
    theta = dbn_flat_params(r)
    assert theta.dtype == np.float32
    grad = rbm_gradient_step(theta, _binary(5, 6), sizes=(6, 4), seed=0)
    assert grad.dtype == np.float32 and grad.shape == theta.shape


@pytest.mark.parametrize("k", [1, 3])
def test_sgd_on_rbm_gradient_step_is_exactly_rbm_update(k):
    r = RBM(12, 7, seed=3)
    V = _binary(10, 12)
    theta = dbn_flat_params(r)
    before = theta.copy()
    for step in range(5):  # several steps, each seeded like its rbm_update
        grad = rbm_gradient_step(theta, V, sizes=(12, 7), k=k, seed=step)
        theta = theta - 0.1 * grad
        rbm_update(r, V, 0.1, k=k, seed=step)
        assert np.array_equal(theta, dbn_flat_params(r)), step
    assert not np.array_equal(before, theta)


def test_rbm_gradient_step_is_pure_and_seeded():
    theta = dbn_flat_params(RBM(12, 7, seed=0))
    copy = theta.copy()
    V = _binary(8, 12)
    a = rbm_gradient_step(theta, V, sizes=(12, 7), seed=4)
    b = rbm_gradient_step(theta, V, sizes=(12, 7), seed=4)
    c = rbm_gradient_step(theta, V, sizes=(12, 7), seed=5)
    assert np.array_equal(theta, copy) and np.array_equal(a, b) and not np.array_equal(a, c)


def test_finetune_gradient_matches_a_numerical_gradient():
    sizes, K = [12, 7, 5], 3
    X, y = _data(6, 12, K)
    theta = np.random.default_rng(2).normal(
        0,
        0.5,
        dbn_flat_params(unroll(pretrain_dbn(_binary(20, 12), sizes[1:], epochs=1, seed=0), K)).size,
    )
    loss, grad = finetune_gradient(theta, X, y, sizes=sizes, n_classes=K)
    num = numerical_gradient(
        lambda: finetune_gradient(theta, X, y, sizes=sizes, n_classes=K)[0], theta
    )
    err = np.abs(grad - num).max() / np.abs(num).max()  # relative to the largest entry
    assert err < 1e-7, err
    assert rel_error(grad, num) < 1e-4  # entry by entry, small entries included
    assert np.isfinite(loss) and loss > 0


def test_finetune_gradient_is_the_loss_and_gradient_of_the_unrolled_mlp():
    from dlkit import nn

    X, y = _data(9, 12, 3)
    dbn = pretrain_dbn(_binary(30, 12), [7, 5], epochs=2, seed=0)
    mlp = unroll(dbn, 3, seed=1)
    loss_fn = nn.CrossEntropyLoss()
    want = loss_fn.forward(mlp.forward(X), y)
    mlp.backward(loss_fn.backward())
    loss, grad = finetune_gradient(dbn_flat_params(mlp), X, y, sizes=[12, 7, 5], n_classes=3)
    assert abs(loss - want) < 1e-12
    ref = np.concatenate([p.grad.ravel() for p in mlp.parameters()])
    assert np.abs(grad - ref).max() < 1e-12


def test_first_step_and_whole_run_equal_fine_tune_dbn():
    X, y = _data(10, 12, 3)
    dbn = pretrain_dbn(_binary(30, 12), [7, 5], epochs=2, seed=0)
    theta0 = dbn_flat_params(unroll(dbn, 3, seed=0))
    # one batch of all 10 rows, one epoch: fine_tune_dbn's first step
    model, _ = fine_tune_dbn(dbn, X, y, n_classes=3, epochs=1, lr=0.1, batch_size=10, seed=0)
    _, grad = finetune_gradient(theta0, X, y, sizes=[12, 7, 5], n_classes=3)
    first = theta0 - 0.1 * grad  # momentum SGD's first step: v = −η∇, θ + v
    assert np.abs(dbn_flat_params(model) - first).max() < 1e-12
    # and a run of several epochs with shuffled mini-batches
    X, y = _data(50, 12, 3, seed=1)
    model, _ = fine_tune_dbn(dbn, X, y, n_classes=3, epochs=3, lr=0.1, batch_size=8, seed=2)
    theta0 = dbn_flat_params(unroll(dbn, 3, seed=2))  # fine_tune_dbn's output layer, seed 2
    theta = fine_tune_flat(
        theta0, X, y, sizes=[12, 7, 5], n_classes=3, epochs=3, lr=0.1, batch_size=8, seed=2
    )
    assert np.abs(dbn_flat_params(model) - theta).max() < 1e-10
    assert not np.array_equal(theta, theta0)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: rbm_gradient_step(np.zeros(3), _binary(2, 5), sizes=(5, 3)), "flat vector of 23"),
        (lambda: rbm_gradient_step(np.zeros(23), np.full((2, 5), 2.0), sizes=(5, 3)), r"\[0, 1\]"),
        (lambda: rbm_gradient_step(np.zeros(23), _binary(2, 5), sizes=(5, 3), k=0), "k must be"),
        (lambda: rbm_gradient_step(np.zeros(23), _binary(2, 5), sizes=(5, 3, 2)), "one RBM"),
        (lambda: rbm_gradient_step(np.zeros(23, int), _binary(2, 5), sizes=(5, 3)), "floating"),
        (
            lambda: finetune_gradient(np.zeros(3), *_data(4, 5), sizes=[5, 3], n_classes=3),
            "flat vector",
        ),
        (
            lambda: finetune_gradient(
                np.zeros(30), _data(4, 5)[0], [0, 1, 2, 3], sizes=[5, 3], n_classes=3
            ),
            r"labels must lie in \[0, 3\)",
        ),
        (
            lambda: finetune_gradient(
                np.zeros(30), np.zeros((4, 6)), [0, 1, 2, 0], sizes=[5, 3], n_classes=3
            ),
            r"shape \(N, 5\)",
        ),
        (lambda: set_flat_params(RBM(5, 3), np.zeros(4)), "P = 23"),
        (lambda: dbn_flat_params("model"), "must be a DBN"),
        (lambda: param_layout([5], 3), "at least 2"),
        (lambda: param_layout([5, 3], 1), "n_classes"),
    ],
)
def test_bad_input_is_a_clear_error(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


def test_an_empty_dbn_is_refused_clearly():
    with pytest.raises((ValueError, TypeError)):
        set_flat_params(DBN([]), np.zeros(1))
