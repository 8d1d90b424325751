"""The chapter *Autoencoders and sparse coding*: its checks never reveal the answer,
and its experiments give the numbers the chapter relies on."""

from __future__ import annotations

import numpy as np
import pytest

from dlkit.exercises import autoencoders as ex
from dlkit.experiments import sparse as xs
from dlkit.unsupervised import Autoencoder, sparse_coding as sc


def _forms(x: float) -> list[str]:
    out = [repr(x)]
    for k in range(2, 7):
        out.append(f"{x:.{k}f}")
        out.append(f"{x:.{k}g}")
    return [s for s in out if s not in ("0.00", "0.000", "-0.00", "1.00", "1.0")]


def _want():
    L = float(np.linalg.eigvalsh(ex.STEP_D.T @ ex.STEP_D)[-1])
    r, q = ex.KL_RHO, ex.KL_RHO_HAT
    kl = r * np.log(r / q) + (1 - r) * np.log((1 - r) / (1 - q))
    soft = np.sign(ex.SOFT_Z) * np.maximum(np.abs(ex.SOFT_Z) - ex.SOFT_T, 0)
    return soft, 1 / L, kl


@pytest.mark.parametrize("wrong", [0.0, 1.0, -3.0, "x", None, [1, 2]])
def test_wrong_answers_do_not_leak(wrong, capsys):
    soft, step, kl = _want()
    for check, secret in ((ex.check_step_size, step), (ex.check_kl, kl)):
        assert check(wrong) is False
        text = capsys.readouterr().out
        assert text.startswith("Not yet")
        for f in _forms(secret):
            assert f not in text
    assert ex.check_soft_threshold(np.zeros(4) if wrong is not None else wrong) is False
    text = capsys.readouterr().out
    assert text.startswith("Not yet")
    assert "1.0, 0.0, -1.5" not in text and "-1.5" not in text


def test_right_answers(capsys):
    soft, step, kl = _want()
    assert ex.check_soft_threshold(soft)
    assert ex.check_step_size(step)
    assert ex.check_kl(kl)
    assert capsys.readouterr().out.count("Correct") == 3


def test_codes_match_sklearn_and_fista_beats_ista():
    g = np.random.default_rng(0)
    D = g.standard_normal((16, 24))
    D /= np.linalg.norm(D, axis=0)
    X = g.standard_normal((30, 16))
    H = sc.coordinate_descent(X, D, 0.3, tol=1e-10)
    Hs = xs.sklearn_codes(X, D, 0.3)  # scikit-learn's Lasso stops at its tol=1e-4
    assert np.abs(H - Hs).max() < 1e-2
    assert abs(sc.objective(X, D, H, 0.3) - sc.objective(X, D, Hs, 0.3)) < 1e-5
    c = xs.convergence(X, D, 0.3, steps=(20,))
    assert c["fista"][0] <= c["ista"][0]


def test_gradient_check_with_sparsity():
    g = np.random.default_rng(1)
    ae = Autoencoder(9, 5, output="identity", weight_decay=1e-3, sparsity_weight=0.5, seed=0)
    assert xs.gradient_check(ae, g.standard_normal((12, 9))) < 1e-6


def test_whitening_error_small():
    X = np.random.default_rng(2).standard_normal((2000, 9))
    X -= X.mean(axis=1, keepdims=True)
    assert xs.whitening_error(X, 1e-8) < 1e-6
    assert xs.largest_terms(np.array([0.1, -0.9, 0.5]), 2) == [(-0.9, 1), (0.5, 2)]
