"""Sparse coding (Olshausen & Field 1996): x ≈ D h with few non-zeros in h.

A dictionary D (d × n_atoms) holds one basis patch per column, each of unit norm. For a
patch x the code h minimises

    ½ ‖x − D h‖² + λ ‖h‖₁,

found by ISTA (iterative shrinkage-thresholding) or its accelerated form FISTA (Beck &
Teboulle 2009); learning alternates codes for a batch of patches with a dictionary
update (:func:`update_atoms`). Rows are examples, as everywhere in dlkit: X (N, d), H (N, n_atoms), and X ≈ H Dᵀ.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlkit import rng as _rng
from dlkit.checks import as_real_array, check_int

__all__ = [
    "soft_threshold",
    "ista",
    "fista",
    "coordinate_descent",
    "sparse_codes",
    "objective",
    "SparseCodingResult",
    "prox_step",
    "update_atoms",
    "learn_dictionary",
]


def soft_threshold(x: np.ndarray, t: float) -> np.ndarray:
    """The proximal map of t‖·‖₁: sign(x) · max(|x| − t, 0), entry by entry."""
    return np.sign(x) * np.maximum(np.abs(x) - t, 0.0)


def _check(X, D, lam, who, n_iter=None):
    X = as_real_array(X, "X", who).astype(np.float64, copy=False)
    D = as_real_array(D, "D", who).astype(np.float64, copy=False)
    if X.ndim == 1:
        X = X[None, :]
    if D.ndim != 2 or X.ndim != 2 or X.shape[1] != D.shape[0]:
        raise ValueError(
            f"{who}: X must be (N, d) and D (d, n_atoms) with the same d; got X {X.shape} "
            f"and D {D.shape} (a dictionary stores one atom per column; transpose a "
            "scikit-learn components_ array)"
        )
    if isinstance(lam, bool) or not isinstance(lam, (int, float, np.floating)) or not lam >= 0:
        raise ValueError(f"{who}: lam (λ) must be a number ≥ 0, got {lam!r}; e.g. lam=0.1")
    if n_iter is None:
        return X, D, float(lam)
    return X, D, float(lam), check_int(n_iter, "n_iter", who)


def objective(X, D, H, lam: float) -> float:
    """The mean over the rows of ½‖x − D h‖² + λ‖h‖₁."""
    X, D, lam = _check(X, D, lam, "objective")
    H = np.atleast_2d(np.asarray(H, dtype=np.float64))
    R = X - H @ D.T
    return float((0.5 * np.sum(R * R) + lam * np.sum(np.abs(H))) / X.shape[0])


def _start(X, D, H0, who):
    """What every proximal-gradient solver needs: L = ‖DᵀD‖₂ (the Lipschitz constant of
    the gradient of ½‖x − Dh‖²), the Gram matrix G = DᵀD, the rows Dᵀx, and the first
    codes (0, or a warm start H0)."""
    G = D.T @ D
    L = float(np.linalg.eigvalsh(G)[-1])
    if not L > 0:
        raise ValueError(f"{who}: D is all zeros; its atoms need a norm > 0")
    shape = (X.shape[0], D.shape[1])
    if H0 is None:
        H = np.zeros(shape)
    else:
        H = np.array(H0, dtype=np.float64)
        if H.shape != shape:
            raise ValueError(
                f"{who}: H0 must have shape {shape}, one code per row of X; got {H.shape}"
            )
    return L, G, X @ D, H


def prox_step(H, G, XD, L: float, lam: float) -> np.ndarray:
    """One proximal-gradient step from the codes H (N, n_atoms), all rows at once:
    a gradient step of size 1/L on ½‖x − Dh‖² (its gradient is G h − Dᵀx), then the
    proximal map of (λ/L)‖·‖₁."""
    return soft_threshold(H + (XD - H @ G) / L, lam / L)


def _settled(H_new, H, tol: float) -> bool:
    # the largest change of an entry, relative to the largest entry
    return np.max(np.abs(H_new - H)) <= tol * max(np.max(np.abs(H_new)), 1e-12)


def ista(X, D, lam: float, *, n_iter: int = 500, tol: float = 1e-6, H0=None) -> np.ndarray:
    """Codes H (N, n_atoms) by ISTA: h ← S_{λ/L}(h + Dᵀ(x − D h)/L), all rows at once.

    Stops when the largest change of an entry falls below ``tol`` (relative to the
    largest entry) or after ``n_iter`` steps; ``H0`` warm-starts from given codes.
    """
    X, D, lam, n_iter = _check(X, D, lam, "ista", n_iter)
    L, G, XD, H = _start(X, D, H0, "ista")
    for _ in range(n_iter):
        H_new = prox_step(H, G, XD, L, lam)
        done = _settled(H_new, H, tol)
        H = H_new
        if done:
            break
    return H


def fista(X, D, lam: float, *, n_iter: int = 500, tol: float = 1e-6, H0=None) -> np.ndarray:
    """Codes H by FISTA (Beck & Teboulle 2009): ISTA's step taken from an extrapolated
    point Y = H + ((t_k − 1)/t_{k+1})(H − H_prev), which lowers the error after k steps
    from O(1/k) to O(1/k²). Same stopping rule and warm start as :func:`ista`."""
    X, D, lam, n_iter = _check(X, D, lam, "fista", n_iter)
    L, G, XD, H = _start(X, D, H0, "fista")
    Y, t = H.copy(), 1.0
    for _ in range(n_iter):
        H_new = prox_step(Y, G, XD, L, lam)
        t_new = 0.5 * (1.0 + np.sqrt(1.0 + 4.0 * t * t))
        Y = H_new + ((t - 1.0) / t_new) * (H_new - H)
        done = _settled(H_new, H, tol)
        H, t = H_new, t_new
        if done:
            break
    return H


def _cd_numpy(G, XD, lam, tol, max_sweeps):
    """The reference of the compiled kernel: the same sweeps, all rows at once."""
    H = np.zeros_like(XD)
    R = XD.copy()  # r = Dᵀx − G h for every row
    active = np.ones(XD.shape[0], bool)
    for _ in range(max_sweeps):
        change = np.zeros(XD.shape[0])
        biggest = np.zeros(XD.shape[0])
        for j in range(G.shape[0]):
            z = R[:, j] + G[j, j] * H[:, j]
            new = np.where(active, soft_threshold(z, lam) / G[j, j], H[:, j])
            d = new - H[:, j]
            R -= np.outer(d, G[:, j])
            H[:, j] = new
            change = np.maximum(change, np.abs(d))
            biggest = np.maximum(biggest, np.abs(new))
        active &= change > tol * biggest
        if not active.any():
            break
    return H


def coordinate_descent(
    X, D, lam: float, *, tol: float = 1e-6, max_sweeps: int = 1000
) -> np.ndarray:
    """Codes H by cyclic coordinate descent on each row (the method of scikit-learn's
    ``lasso_cd``), from the Gram matrix DᵀD: a compiled kernel
    (:func:`dlkit.kernels.cpu.lasso_cd_gram`, rows in parallel) where the backend has
    kernels, else the same sweeps in numpy. Stops a row when no entry moved by more
    than ``tol`` times its largest entry."""
    X, D, lam = _check(X, D, lam, "coordinate_descent")
    max_sweeps = check_int(max_sweeps, "max_sweeps", "coordinate_descent")
    G = np.ascontiguousarray(D.T @ D)
    XD = np.ascontiguousarray(X @ D)
    if not (G.diagonal() > 0).all():
        raise ValueError("coordinate_descent: D has a zero column; every atom needs a norm > 0")
    from dlkit import kernels

    if kernels.has_kernels():
        return kernels.for_backend().lasso_cd_gram(G, XD, float(lam), float(tol), max_sweeps)
    return _cd_numpy(G, XD, lam, float(tol), max_sweeps)


_METHODS = {"fista": fista, "ista": ista, "cd": coordinate_descent}


def sparse_codes(X, D, lam: float, *, method: str = "fista", **kw) -> np.ndarray:
    """Codes by ``method``: "fista" (default), "ista" or "cd" (coordinate descent)."""
    if method not in _METHODS:
        raise ValueError(f"sparse_codes: method must be one of {sorted(_METHODS)}, got {method!r}")
    return _METHODS[method](X, D, lam, **kw)


@dataclass
class SparseCodingResult:
    """A learned dictionary, with the objective after each pass over the data."""

    D: np.ndarray  # (d, n_atoms), unit-norm columns
    objective: list[float] = field(default_factory=list)


def _normalise_columns(D: np.ndarray, g: np.random.Generator) -> np.ndarray:
    norms = np.linalg.norm(D, axis=0)
    dead = norms < 1e-10
    if dead.any():  # an unused atom gets a fresh random direction
        D[:, dead] = g.standard_normal((D.shape[0], int(dead.sum())))
        norms = np.linalg.norm(D, axis=0)
    return D / norms


def update_atoms(D: np.ndarray, A: np.ndarray, B: np.ndarray) -> np.ndarray:
    """One pass of block-coordinate descent over the atoms (Mairal et al. 2009), in place.

    With A = Σ h hᵀ and B = Σ x hᵀ summed over the patches seen so far, atom j moves to
    its best position given the others, d_j ← d_j + (b_j − D a_j)/A_jj, and is scaled back
    to unit length. An atom that no code has used yet (A_jj = 0) stays where it is.
    """
    for j in range(D.shape[1]):
        if A[j, j] > 1e-12:
            D[:, j] += (B[:, j] - D @ A[:, j]) / A[j, j]
            D[:, j] /= max(np.linalg.norm(D[:, j]), 1e-12)
    return D


def learn_dictionary(
    X,
    n_atoms: int,
    lam: float,
    *,
    n_epochs: int = 10,
    batch_size: int = 256,
    code_iter: int = 100,
    method: str = "fista",
    seed=0,
    progress: bool = False,
) -> SparseCodingResult:
    """Learn a dictionary of `n_atoms` unit-norm atoms for the rows of X.

    D starts from random rows of X. Each mini-batch of B = `batch_size` rows gets its
    codes with the current D, then :func:`update_atoms` moves every atom on the sums
    A = Σ h hᵀ and B = Σ x hᵀ of all the batches seen so far (the online algorithm of
    Mairal, Bach, Ponce & Sapiro 2009).

    Codes come from ``method``: "fista" (`code_iter` steps, warm-started from the code
    the same row got on the previous pass, so later passes need few steps), or "cd"
    (:func:`coordinate_descent` to a relative tolerance of 1e-4, the faster one on
    sparse codes). ``objective[e]`` is the mean over the rows of ½‖x − Dh‖² + λ‖h‖₁ on
    pass e, each batch scored with its codes before its dictionary update.
    """
    from dlkit.train import _Progress, batches

    X, _, lam = _check(X, np.zeros((np.shape(X)[-1], 1)), lam, "learn_dictionary")
    n_atoms = check_int(n_atoms, "n_atoms", "learn_dictionary")
    n_epochs = check_int(n_epochs, "n_epochs", "learn_dictionary")
    batch_size = check_int(batch_size, "batch_size", "learn_dictionary")
    code_iter = check_int(code_iter, "code_iter", "learn_dictionary")
    if method not in ("fista", "cd"):
        raise ValueError(f"learn_dictionary: method must be 'fista' or 'cd', got {method!r}")
    N = X.shape[0]
    g = _rng(seed)
    D = _normalise_columns(X[g.choice(N, n_atoms, replace=N < n_atoms)].T.copy(), g)
    A, B = np.zeros((n_atoms, n_atoms)), np.zeros((X.shape[1], n_atoms))
    H_all = np.zeros((N, n_atoms))  # each row's latest code: the next pass's warm start
    res = SparseCodingResult(D)
    steps = n_epochs * -(-N // batch_size)
    with _Progress(progress, steps) as bar:
        for epoch in range(n_epochs):
            total = 0.0
            for Xb, rows in batches(X, np.arange(N), batch_size, seed=g):
                if method == "cd":
                    H = coordinate_descent(Xb, D, lam, tol=1e-4)
                else:
                    H = fista(Xb, D, lam, n_iter=code_iter, H0=H_all[rows])
                H_all[rows] = H
                total += objective(Xb, D, H, lam) * len(rows)
                A += H.T @ H
                B += Xb.T @ H
                D = _normalise_columns(update_atoms(D, A, B), g)
                bar.update(epoch, total / N)
            res.objective.append(total / N)
    res.D = D
    return res
