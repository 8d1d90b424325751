"""Chapter 11's experiments on tiny budgets: the shapes of their results and the facts
the chapter will state (AIS near the exact log Z; accuracies are accuracies)."""

from __future__ import annotations

import numpy as np
import pytest

from dlkit.experiments import rbm as xr


def test_digits_split_is_seeded_and_binary_on_request():
    a = xr.digits_split(100, binary=True, seed=1)
    b = xr.digits_split(100, binary=True, seed=1)
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    assert a[0].shape == (100, 64) and set(np.unique(a[0])) <= {0.0, 1.0}
    assert len(a[2]) == 1797 - 100


def test_compare_training_reports_finite_likelihoods():
    rows = xr.compare_training(
        (("CD-1", 1, False), ("PCD", 1, True)), n_hidden=20, epochs=1, n_betas=201, n_chains=10
    )
    assert [r.method for r in rows] == ["CD-1", "PCD"]
    for r in rows:
        assert np.isfinite(r.test_log_likelihood) and r.test_log_likelihood < 0
        assert r.log_z_band[0] <= r.log_z <= r.log_z_band[1]
        assert r.reconstruction_error > 0


def test_ais_against_exact_agrees_on_a_small_rbm():
    exact, est = xr.ais_against_exact(8, epochs=2, n_betas=1001)
    assert abs(est.log_z - exact) < 0.2


def test_pretraining_table_shape():
    rows = xr.pretraining_table(
        (50, 80), sizes=(16,), seeds=(0, 1), pretrain_epochs=1, fine_tune_epochs=2
    )
    assert [r.labels for r in rows] == [50, 80]
    for r in rows:
        for column in ("pretrained", "random", "pretrained_fit", "random_fit"):
            values = getattr(r, column)
            assert len(values) == 2 and all(0 <= a <= 1 for a in values)
            mean, low, high = r.summary(column)
            assert low <= mean <= high and (low, high) == (min(values), max(values))
    with pytest.raises(ValueError, match="column must be one of"):
        rows[0].summary("pretrain")


def test_pretraining_table_is_seeded_per_seed():
    """Seed 0's column does not depend on which other seeds are run beside it."""
    kw = dict(sizes=(16,), pretrain_epochs=1, fine_tune_epochs=1)
    alone = xr.pretraining_table((40,), seeds=(0,), **kw)[0]
    both = xr.pretraining_table((40,), seeds=(0, 1), **kw)[0]
    assert both.pretrained[0] == alone.pretrained[0] and both.random[0] == alone.random[0]


def test_rbm_logistic_on_the_original_digits():
    acc = xr.rbm_logistic(n_hidden=20, epochs=1, nudge=False, max_iter=100)
    assert set(acc) == {
        "dlkit RBM + logistic",
        "scikit-learn BernoulliRBM + logistic",
        "logistic on raw pixels",
    }
    assert acc["logistic on raw pixels"] > 0.9 and all(0 <= a <= 1 for a in acc.values())
