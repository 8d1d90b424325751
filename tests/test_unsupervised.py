"""Patches and whitening, sparse coding (against scikit-learn), autoencoders (gradient
checks) and deep belief networks."""

from __future__ import annotations

import numpy as np
import pytest

from dlkit.unsupervised import autoencoder as ae_mod
from dlkit.unsupervised import dbn as dbn_mod
from dlkit.unsupervised import patches, sparse_coding as sc


# -- patches and ZCA ---------------------------------------------------------------------
def test_natural_images_are_grey_levels_in_0_1():
    imgs = patches.natural_images()
    assert list(imgs) == list(patches.IMAGE_NAMES)
    for im in imgs.values():
        assert im.ndim == 2 and 0 <= im.min() and im.max() <= 1 and min(im.shape) >= 400


def test_patches_are_seeded_and_mean_removal_centres_each():
    a = patches.sample_patches(50, 14, seed=3)
    assert a.shape == (50, 196) and np.array_equal(a, patches.sample_patches(50, 14, seed=3))
    assert not np.array_equal(a, patches.sample_patches(50, 14, seed=4))
    assert np.max(np.abs(patches.remove_mean(a).sum(axis=1))) < 1e-12


def test_zca_whitened_covariance_is_the_identity():
    P = patches.sample_patches(5000, 6, seed=0)  # 36 pixels: full-rank covariance
    W, z = patches.zca_whiten(P, eps=1e-12)
    C = np.cov(W, rowvar=False, bias=True)
    assert np.max(np.abs(C - np.eye(36))) < 1e-6
    # ZCA is the symmetric whitening: M = Mᵀ, so it stays close to the pixels
    assert np.max(np.abs(z.matrix - z.matrix.T)) < 1e-9
    assert np.allclose(z.transform(P[:5]), W[:5])


def test_zca_on_mean_removed_patches_needs_eps():
    P = patches.remove_mean(patches.sample_patches(500, 4, seed=0))
    with pytest.raises(ValueError, match="eps > 0"):
        patches.zca_whiten(P, eps=0)


def test_patch_errors():
    with pytest.raises(ValueError, match="at least 14"):
        patches.sample_patches(3, 14, images=[np.zeros((10, 10))])
    with pytest.raises(ValueError, match="unknown image"):
        patches.natural_images(["lena"])


# -- sparse coding -------------------------------------------------------------------------
def _problem(seed=0, d=36, atoms=50, n=200):
    g = np.random.default_rng(seed)
    D = g.standard_normal((d, atoms))
    D /= np.linalg.norm(D, axis=0)
    H = g.standard_normal((n, atoms)) * (g.random((n, atoms)) < 0.1)
    X = H @ D.T + 0.01 * g.standard_normal((n, d))
    return X, D


def test_fista_and_ista_reach_scikit_learns_lasso_codes():
    from sklearn.decomposition import SparseCoder

    X, D = _problem()
    lam = 0.1
    ref = SparseCoder(
        D.T, transform_algorithm="lasso_cd", transform_alpha=lam, transform_max_iter=5000
    ).transform(X)
    # SparseCoder's lasso_cd stops at scikit-learn's default tolerance (1e-4); a Lasso
    # with a tight one gives the exact minimiser (its loss is ours divided by d)
    from sklearn.linear_model import Lasso

    exact = np.array(
        [
            Lasso(alpha=lam / X.shape[1], fit_intercept=False, tol=1e-12, max_iter=100000)
            .fit(D, x)
            .coef_
            for x in X[:40]
        ]
    )
    for solver in (sc.fista, sc.ista):
        H = solver(X, D, lam, n_iter=20000, tol=1e-10)
        assert np.max(np.abs(H - ref)) < 5e-3, solver.__name__
        assert np.max(np.abs(H[:40] - exact)) < 1e-6, solver.__name__
        assert sc.objective(X, D, H, lam) <= sc.objective(X, D, ref, lam) + 1e-9


def test_fista_converges_faster_than_ista():
    X, D = _problem(1)
    best = sc.objective(X, D, sc.fista(X, D, 0.1, n_iter=5000, tol=0), 0.1)
    gap = {
        f.__name__: sc.objective(X, D, f(X, D, 0.1, n_iter=50, tol=0), 0.1) - best
        for f in (sc.ista, sc.fista)
    }
    assert gap["fista"] < gap["ista"] / 5


def test_soft_threshold():
    assert sc.soft_threshold(np.array([-2.0, -0.5, 0.0, 0.3, 3.0]), 1.0).tolist() == [
        -1.0,
        0.0,
        0.0,
        0.0,
        2.0,
    ]


def test_dictionary_learning_lowers_the_objective_and_keeps_unit_atoms():
    X, _ = _problem(2, n=600)
    res = sc.learn_dictionary(X, 50, 0.1, n_epochs=4, batch_size=100, seed=0)
    assert np.allclose(np.linalg.norm(res.D, axis=0), 1)
    assert res.objective[-1] < res.objective[0]


def test_dictionary_learning_is_comparable_to_scikit_learn():
    from sklearn.decomposition import MiniBatchDictionaryLearning

    X, _ = _problem(3, n=600)
    lam = 0.1
    ours = sc.learn_dictionary(X, 50, lam, n_epochs=5, batch_size=100, seed=0)
    sk = MiniBatchDictionaryLearning(
        n_components=50, alpha=lam, batch_size=100, max_iter=5, random_state=0
    ).fit(X)
    D_sk = sk.components_.T / np.linalg.norm(sk.components_.T, axis=0)
    obj_sk = sc.objective(X, D_sk, sc.fista(X, D_sk, lam, n_iter=500), lam)
    obj = sc.objective(X, ours.D, sc.fista(X, ours.D, lam, n_iter=500), lam)
    assert obj < 1.2 * obj_sk


def test_sparse_coding_errors():
    X, D = _problem()
    with pytest.raises(ValueError, match="transpose"):
        sc.fista(X, D.T, 0.1)
    with pytest.raises(ValueError, match="lam"):
        sc.fista(X, D, -1)
    with pytest.raises(ValueError, match="method"):
        sc.sparse_codes(X, D, 0.1, method="omp")


# -- autoencoders --------------------------------------------------------------------------
def _numeric_grad(ae, X, T, p, eps=1e-6):
    num = np.zeros_like(p.data)
    for idx in np.ndindex(p.data.shape):
        old = p.data[idx]
        p.data[idx] = old + eps
        fp = ae.loss(X, T)
        p.data[idx] = old - eps
        fm = ae.loss(X, T)
        p.data[idx] = old
        num[idx] = (fp - fm) / (2 * eps)
    return num


@pytest.mark.parametrize(
    "kw",
    [
        {},
        {"tied": True},
        {"weight_decay": 0.01},
        {"sparsity_weight": 3.0, "rho": 0.1, "weight_decay": 0.001},
        {"sparsity_weight": 3.0, "rho": 0.1, "tied": True, "output": "identity"},
    ],
)
def test_autoencoder_gradients_match_finite_differences(kw):
    g = np.random.default_rng(0)
    X = g.random((6, 5))
    T = X if "output" not in kw else g.standard_normal((6, 5))
    ae = ae_mod.Autoencoder(5, 3, seed=1, **kw)
    ae.loss(X, T)
    analytic = {id(p): p.grad.copy() for p in ae.parameters()}
    for name, p in ae.named_parameters():
        num = _numeric_grad(ae, X, T, p)
        err = np.max(np.abs(num - analytic[id(p)])) / max(np.max(np.abs(num)), 1e-12)
        assert err < 1e-6, (kw, name, err)


def test_sparse_autoencoder_lowers_the_mean_activation():
    from sklearn.datasets import load_digits

    X = load_digits().data[:500] / 16
    plain = ae_mod.Autoencoder(64, 30, seed=0)
    sparse = ae_mod.Autoencoder(64, 30, seed=0, sparsity_weight=3.0, rho=0.05)
    for a in (plain, sparse):
        ae_mod.train_autoencoder(a, X, epochs=30, lr=0.5, batch_size=50, seed=0)
    assert sparse.encode(X).mean() < 0.5 * plain.encode(X).mean()


def test_denoising_training_reduces_the_clean_reconstruction_error():
    from sklearn.datasets import load_digits

    X = load_digits().data[:500] / 16
    a = ae_mod.Autoencoder(64, 30, seed=0)
    h = ae_mod.train_autoencoder(a, X, epochs=20, lr=0.5, batch_size=50, noise=0.3, seed=0)
    assert h.loss[-1] < h.loss[0]
    c = ae_mod.corrupt(X, 0.3, seed=0)
    assert 0.25 < np.mean((c == 0) & (X != 0)) / np.mean(X != 0) < 0.35


def test_autoencoder_errors():
    with pytest.raises(ValueError, match="rho"):
        ae_mod.Autoencoder(4, 2, rho=1.5)
    with pytest.raises(ValueError, match=r"shape \(N, 4\)"):
        ae_mod.Autoencoder(4, 2).encode(np.zeros((3, 5)))
    with pytest.raises(ValueError, match="fraction"):
        ae_mod.corrupt(np.zeros(3), 1.0)


# -- deep belief networks ------------------------------------------------------------------
def test_dbn_parameter_count_is_the_closed_form():
    assert dbn_mod.dbn_parameter_count([784, 500, 500, 2000]) == (
        784 * 500 + 500 * 500 + 500 * 2000 + 784 + 500 + 500 + 2000
    )


def test_pretraining_then_fine_tuning_classifies_the_digits():
    from sklearn.datasets import load_digits

    d = load_digits()
    X, y = d.data / 16, d.target
    dbn = dbn_mod.pretrain_dbn(X[:1000], [64, 32], epochs=3, seed=0)
    assert dbn.sizes == [64, 64, 32] and len(dbn.history) == 2
    model = dbn_mod.unroll(dbn, 10)
    # the unrolled network's hidden layer is the DBN's mean-field representation
    assert np.allclose(model[:4].forward(X[:5]), dbn.transform(X[:5]))
    model, _ = dbn_mod.fine_tune_dbn(dbn, X[:1000], y[:1000], epochs=30, seed=0)
    acc = (model.forward(X[1000:]).argmax(1) == y[1000:]).mean()
    assert acc > 0.85
    s = dbn.sample(4, gibbs_steps=10, seed=0)
    assert s.shape == (4, 64) and 0 <= s.min() and s.max() <= 1


def test_dbn_errors():
    with pytest.raises(ValueError, match="at least one hidden layer"):
        dbn_mod.pretrain_dbn(np.zeros((3, 4)), [])
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        dbn_mod.pretrain_dbn(np.full((3, 4), 3.0), [2])


def test_coordinate_descent_kernel_equals_its_numpy_reference_and_the_exact_lasso():
    from sklearn.linear_model import Lasso

    from dlkit.kernels import cpu

    X, D = _problem(4, n=60)
    lam = 0.1
    G, XD = np.ascontiguousarray(D.T @ D), np.ascontiguousarray(X @ D)
    compiled = cpu.lasso_cd_gram(G, XD, lam, 1e-12, 5000)
    reference = sc._cd_numpy(G, XD, lam, 1e-12, 5000)
    assert np.max(np.abs(compiled - reference)) < 1e-9
    exact = np.array(
        [
            Lasso(alpha=lam / X.shape[1], fit_intercept=False, tol=1e-12, max_iter=100000)
            .fit(D, x)
            .coef_
            for x in X
        ]
    )
    assert np.max(np.abs(sc.coordinate_descent(X, D, lam, tol=1e-12) - exact)) < 1e-7
    assert np.max(np.abs(sc.sparse_codes(X, D, lam, method="cd", tol=1e-12) - exact)) < 1e-7
