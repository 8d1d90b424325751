"""Experiments of the chapter *Autoencoders and sparse coding*.

The algorithms live in :mod:`dlkit.unsupervised` (patches, whitening, ISTA/FISTA,
dictionary learning, autoencoders); this module runs them the way the chapter needs:
the whitened natural-image patches, ISTA against FISTA, the comparison with
scikit-learn, a finite-difference check of the autoencoder's gradients, and a linear
classifier on raw pixels against one on learned features.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlkit.unsupervised import patches as _patches
from dlkit.unsupervised import sparse_coding as _sc

__all__ = [
    "Patches",
    "natural_patches",
    "whitening_error",
    "largest_terms",
    "convergence",
    "sklearn_codes",
    "sklearn_dictionary",
    "gradient_check",
    "linear_probe",
    "localisation",
    "best_match",
]


@dataclass
class Patches:
    """Natural-image patches: ``raw`` (mean removed) and ``white`` (ZCA-whitened), both
    (N, size²), and the fitted :class:`~dlkit.unsupervised.patches.ZCA`."""

    raw: np.ndarray
    white: np.ndarray
    zca: _patches.ZCA
    size: int


def natural_patches(
    n: int = 10_000, size: int = 8, *, eps: float = 1e-2, unit_variance: bool = False, seed=0
) -> Patches:
    """`n` patches of `size` × `size` pixels from the book's natural images, each minus
    its own mean, then ZCA-whitened with regulariser ε = `eps`. With `unit_variance`
    the whitened patches are divided by their standard deviation over all pixels, so
    that a pixel has variance 1 on average and λ does not depend on the images' contrast."""
    raw = _patches.remove_mean(_patches.sample_patches(n, size, seed=seed))
    white, zca = _patches.zca_whiten(raw, eps=eps)
    if unit_variance:
        white /= white.std()
    return Patches(raw, white, zca, size)


def whitening_error(X: np.ndarray, eps: float) -> float:
    """max |C − (I − 11ᵀ/d)| for the covariance C of X whitened with ε = `eps`.

    Patches minus their own mean all lie in the subspace orthogonal to the constant
    patch 1/√d, so the best whitening gives the projection I − 11ᵀ/d onto it, not I."""
    W, _ = _patches.zca_whiten(X, eps=eps)
    d = W.shape[1]
    C = np.cov(W, rowvar=False, bias=True)
    return float(np.abs(C - (np.eye(d) - np.ones((d, d)) / d)).max())


def largest_terms(h: np.ndarray, k: int = 3) -> list[tuple[float, int]]:
    """The `k` largest coefficients of a code h in absolute value, as (h_j, j)."""
    h = np.asarray(h, dtype=np.float64).ravel()
    order = np.argsort(-np.abs(h), kind="stable")[:k]
    return [(float(h[j]), int(j)) for j in order]


def convergence(X, D, lam: float, steps=(1, 2, 5, 10, 20, 50, 100, 200)) -> dict[str, list[float]]:
    """The objective ½‖x − Dh‖² + λ‖h‖₁ (mean over the rows of X) after k steps of ISTA
    and of FISTA from h = 0, for each k in `steps`."""
    out: dict[str, list[float]] = {"ista": [], "fista": []}
    for k in steps:
        for name, solver in (("ista", _sc.ista), ("fista", _sc.fista)):
            H = solver(X, D, lam, n_iter=int(k), tol=0.0)
            out[name].append(_sc.objective(X, D, H, lam))
    return out


def sklearn_codes(X, D, lam: float) -> np.ndarray:
    """The codes of scikit-learn's ``SparseCoder`` for the same D and λ.

    scikit-learn stores atoms as rows (``dictionary`` = Dᵀ) and its "lasso_cd" coder
    minimises ½‖x − Dh‖² + α‖h‖₁ with α = ``transform_alpha`` = λ."""
    from sklearn.decomposition import SparseCoder

    coder = SparseCoder(
        dictionary=np.asarray(D).T,
        transform_algorithm="lasso_cd",
        transform_alpha=lam,
        transform_max_iter=5000,
        positive_code=False,
    )
    return coder.transform(np.asarray(X))


def sklearn_dictionary(
    X, n_atoms: int, lam: float, *, n_epochs: int = 3, batch_size: int = 512, seed: int = 0
):
    """scikit-learn's ``MiniBatchDictionaryLearning`` on the rows of X (the same online
    algorithm of Mairal et al. 2009): returns its D (d, n_atoms) with unit-norm columns."""
    from sklearn.decomposition import MiniBatchDictionaryLearning

    m = MiniBatchDictionaryLearning(
        n_components=n_atoms,
        alpha=lam,
        batch_size=batch_size,
        max_iter=n_epochs,
        random_state=seed,
        fit_algorithm="cd",
        transform_algorithm="lasso_cd",
        transform_alpha=lam,
    ).fit(np.asarray(X))
    return m.components_.T.copy()


def gradient_check(ae, X, *, h: float = 1e-6, n_per_param: int = 20, seed: int = 0) -> float:
    """The largest relative error between the gradient ``ae.loss`` leaves in ``.grad``
    and central differences (𝓛(θ + h) − 𝓛(θ − h))/(2h), over `n_per_param` random
    entries of every parameter (the sparsity and weight-decay terms included)."""
    g = np.random.default_rng(seed)
    ae.loss(X)
    grads = {name: p.grad.copy() for name, p in ae.named_parameters()}
    worst = 0.0
    for name, p in ae.named_parameters():
        flat = p.data.reshape(-1)
        for i in g.choice(flat.size, min(n_per_param, flat.size), replace=False):
            old = flat[i]
            flat[i] = old + h
            up = ae.loss(X)
            flat[i] = old - h
            down = ae.loss(X)
            flat[i] = old
            num = (up - down) / (2 * h)
            ana = grads[name].reshape(-1)[i]
            worst = max(worst, abs(num - ana) / max(abs(num) + abs(ana), 1e-8))
    ae.loss(X)
    return worst


def linear_probe(F_train, y_train, F_test, y_test, *, C: float = 1.0) -> float:
    """Test accuracy of a multinomial logistic regression (scikit-learn, L2 strength 1/C)
    trained on the features F_train: the features' worth to a linear classifier."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import StandardScaler

    s = StandardScaler().fit(F_train)
    clf = LogisticRegression(C=C, max_iter=2000).fit(s.transform(F_train), y_train)
    return float(clf.score(s.transform(F_test), y_test))


def localisation(V, size: int, window: int = 5) -> np.ndarray:
    """For each row of V (n, size²), seen as a size × size image, the fraction of its
    energy Σ v² that falls inside the `window` × `window` square holding the most:
    about (window/size)² for a filter of noise, near 1 for a small blob or a short edge."""
    V = np.asarray(V, dtype=np.float64)
    if V.ndim != 2 or V.shape[1] != size * size or not 1 <= window <= size:
        raise ValueError(
            f"localisation: V must be (n, {size * size}) for size={size} and "
            f"1 ≤ window ≤ size; got V {V.shape} and window={window}"
        )
    E = V.reshape(-1, size, size) ** 2
    S = np.pad(E.cumsum(axis=1).cumsum(axis=2), ((0, 0), (1, 0), (1, 0)))  # summed areas
    k = window
    box = S[:, k:, k:] - S[:, :-k, k:] - S[:, k:, :-k] + S[:, :-k, :-k]
    return box.reshape(len(E), -1).max(axis=1) / np.maximum(E.reshape(len(E), -1).sum(1), 1e-300)


def best_match(V, D) -> np.ndarray:
    """For each row v of V (n, d), max_j |cos(v, d_j)| over the atoms d_j (the columns
    of D, d × n_atoms): how closely the most similar atom, up to sign, resembles v."""
    V = np.asarray(V, dtype=np.float64)
    D = np.asarray(D, dtype=np.float64)
    if V.ndim != 2 or D.ndim != 2 or V.shape[1] != D.shape[0]:
        raise ValueError(
            f"best_match: V must be (n, d) and D (d, n_atoms); got V {V.shape} and D {D.shape}"
        )
    Vn = V / np.maximum(np.linalg.norm(V, axis=1, keepdims=True), 1e-300)
    Dn = D / np.maximum(np.linalg.norm(D, axis=0, keepdims=True), 1e-300)
    return np.abs(Vn @ Dn).max(axis=1)
