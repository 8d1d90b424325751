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


def test_ista_and_fista_share_the_proximal_step():
    g = np.random.default_rng(4)
    D = g.standard_normal((12, 20))
    D /= np.linalg.norm(D, axis=0)
    X = g.standard_normal((7, 12))
    G = D.T @ D
    L = float(np.linalg.eigvalsh(G)[-1])
    one = sc.prox_step(np.zeros((7, 20)), G, X @ D, L, 0.2)
    assert np.allclose(sc.ista(X, D, 0.2, n_iter=1, tol=0), one)
    assert np.allclose(sc.fista(X, D, 0.2, n_iter=1, tol=0), one)
    # a warm start at the solution stays there
    H = sc.coordinate_descent(X, D, 0.2, tol=1e-12)
    assert np.abs(sc.fista(X, D, 0.2, n_iter=3, tol=0, H0=H) - H).max() < 1e-8
    with pytest.raises(ValueError, match="H0"):
        sc.fista(X, D, 0.2, H0=np.zeros((7, 3)))


def test_update_atoms_keeps_unit_norms_and_lowers_the_fit():
    g = np.random.default_rng(5)
    D = g.standard_normal((10, 6))
    D /= np.linalg.norm(D, axis=0)
    X, H = g.standard_normal((50, 10)), g.standard_normal((50, 6))
    before = np.sum((X - H @ D.T) ** 2)
    D = sc.update_atoms(D.copy(), H.T @ H, X.T @ H)
    assert np.allclose(np.linalg.norm(D, axis=0), 1)
    assert np.sum((X - H @ D.T) ** 2) < before


@pytest.mark.parametrize("method", ["fista", "cd"])
def test_dictionary_learning_by_either_coder(method):
    X = xs.natural_patches(1500, size=6, eps=0.03, unit_variance=True, seed=0).white
    assert abs(X.std() - 1) < 1e-12
    res = sc.learn_dictionary(X, 20, 1.0, n_epochs=3, batch_size=100, method=method, seed=0)
    assert np.allclose(np.linalg.norm(res.D, axis=0), 1)
    assert res.objective[-1] < res.objective[0]
    with pytest.raises(ValueError, match="method"):
        sc.learn_dictionary(X, 20, 1.0, method="omp")


def test_localisation_and_best_match():
    size = 8
    blob = np.zeros((size, size))
    blob[2:4, 3:5] = 1.0
    noise = np.random.default_rng(6).standard_normal((200, size * size))
    assert xs.localisation(blob.reshape(1, -1), size, 3)[0] == pytest.approx(1.0)
    assert np.median(xs.localisation(noise, size, 4)) < 0.45  # (4/8)² = 0.25 expected
    D = noise[:10].T
    assert np.allclose(xs.best_match(-2 * noise[:10], D), 1.0)
    assert xs.best_match(noise[10:], D).max() < 0.7
    with pytest.raises(ValueError, match="localisation"):
        xs.localisation(noise, 7)


def test_lbfgs_training_lowers_the_loss_and_keeps_tied_weights():
    from dlkit.unsupervised.autoencoder import train_autoencoder_lbfgs

    X = np.random.default_rng(7).standard_normal((60, 9))
    for tied in (False, True):
        ae = Autoencoder(9, 4, output="identity", tied=tied, sparsity_weight=0.1, seed=0)
        start = ae.loss(X)
        hist = train_autoencoder_lbfgs(ae, X, max_iter=30)
        assert hist.loss[-1] < 0.8 * start
        assert ae.loss(X) == pytest.approx(hist.loss[-1])
        if tied:
            assert np.array_equal(ae.decoder.W.data, ae.encoder.W.data.T)


def test_step_size_hint_does_not_confirm_L(capsys):
    L = float(np.linalg.eigvalsh(ex.STEP_D.T @ ex.STEP_D)[-1])
    for wrong in (L, 2 * L, 0.5 / L, 1 / L + 0.1):
        assert ex.check_step_size(wrong) is False
        text = capsys.readouterr().out
        assert text.startswith("Not yet") and "inverse" not in text
        for f in _forms(1 / L) + _forms(L):
            assert f not in text
