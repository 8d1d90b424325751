"""Project Adam (dlkit.parallel.project_adam) against Downpour on the simulator: the
same model and updates, fewer bytes (exact counts from the closed form) and less time
per step on a slow network."""

import numpy as np
import pytest

from dlkit.data.digits import load_digits
from dlkit.parallel.project_adam import (
    CONTROL_BYTES,
    factors,
    grad_from_factors,
    n_params,
    push_floats,
    simulate,
    step_bytes,
)
from dlkit.unsupervised.steps import finetune_gradient

SIZES, B, STEPS = (64, 128, 128, 10), 16, 12


@pytest.fixture(scope="module")
def digits():
    d = load_digits()
    return d.X_train, d.y_train


def test_the_server_rebuilds_the_workers_gradient_from_the_factors(digits):
    X, y = digits
    theta = 0.05 * np.random.default_rng(0).standard_normal(n_params(SIZES))
    _, grad = finetune_gradient(theta, X[:B], y[:B], sizes=list(SIZES[:-1]), n_classes=10)
    assert np.array_equal(grad_from_factors(factors(theta, X[:B], y[:B], SIZES), SIZES), grad)


def test_push_sizes():
    assert n_params(SIZES) == 64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10
    assert push_floats(SIZES, B, "adam") == B * (64 + 128 + 128 + 128 + 128 + 10)
    assert push_floats(SIZES, B, "downpour") == n_params(SIZES)
    big = (784, 1024, 1024, 10)
    assert push_floats(big, 32, "downpour") > 11 * push_floats(big, 32, "adam")
    with pytest.raises(ValueError, match="choose one of"):
        push_floats(SIZES, B, "sparse")


@pytest.mark.parametrize("p", [1, 3])
def test_adam_sends_fewer_bytes_than_downpour_exactly(digits, p):
    X, y = digits
    runs = {
        s: simulate(p, X, y, sizes=SIZES, scheme=s, steps=STEPS, batch_size=B, network="1gbe")
        for s in ("downpour", "adam")
    }
    for s, run in runs.items():
        # every step's fetch and push, plus one closing control message per worker
        assert run.bytes == p * STEPS * step_bytes(SIZES, B, s) + p * CONTROL_BYTES
        assert run.bytes_per_step == step_bytes(SIZES, B, s)
    saved = 8 * (n_params(SIZES) - push_floats(SIZES, B, "adam"))
    assert runs["downpour"].bytes_per_step - runs["adam"].bytes_per_step == saved
    assert runs["adam"].time_per_step < runs["downpour"].time_per_step
    if p == 1:  # one worker: the same updates in the same order, so the same θ
        assert np.array_equal(runs["adam"].theta, runs["downpour"].theta)
