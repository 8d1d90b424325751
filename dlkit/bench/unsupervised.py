"""Benchmark group "unsupervised": RBM training and sparse codes beside scikit-learn.

* One CD-1 epoch of an RBM with 64 visible and 100 hidden units on the 1,797 digits
  (pixels / 16), batch 10 (:func:`dlkit.unsupervised.train_rbm`), against
  ``sklearn.neural_network.BernoulliRBM.partial_fit`` over the same 180 batches: goal
  ratio at most 1.0.
* Sparse codes of 10,000 whitened 14 × 14 natural-image patches with a 100-atom
  dictionary at λ = 1 (:func:`dlkit.unsupervised.sparse_coding.coordinate_descent`,
  tol 1e-4) against ``SparseCoder(transform_algorithm="lasso_cd")`` at the same λ and
  its default tolerance: goal ratio at most 1.0. The note gives both objectives.

Each side is timed in its own fresh process, so neither's thread pool (Numba's, or
the BLAS threads scikit-learn uses) slows the other.
"""

from __future__ import annotations

import numpy as np

from dlkit.bench import Row, in_fresh_process, register, timeit

LAMBDA = 1.0


def _digits():
    from sklearn.datasets import load_digits

    return load_digits().data / 16.0


def _patches_and_dictionary():
    from dlkit.unsupervised import patches

    P = patches.remove_mean(patches.sample_patches(12000, 14, seed=0))
    W, _ = patches.zca_whiten(P, eps=1e-3 * float(np.var(P)))
    W /= W.std()
    g = np.random.default_rng(1)
    D = W[10000 + g.choice(2000, 100, replace=False)].T
    return W[:10000], D / np.linalg.norm(D, axis=0)


def worker(side: str) -> dict:
    """Seconds (and, for the codes, the objective) of one side, in this process."""
    if side in ("dlkit-rbm", "sklearn-rbm"):
        X = _digits()
        if side == "dlkit-rbm":
            from dlkit.unsupervised import RBM, train_rbm

            def epoch():
                train_rbm(
                    RBM(64, 100, seed=0), X, epochs=1, lr=0.05, batch_size=10, seed=0, monitor=False
                )
        else:
            from sklearn.neural_network import BernoulliRBM

            def epoch():
                m = BernoulliRBM(
                    n_components=100, learning_rate=0.05, batch_size=10, random_state=0
                )
                for s in range(0, len(X), 10):
                    m.partial_fit(X[s : s + 10])

        return {"s": timeit(epoch, repeat=5, min_time=0.0, warmup=1)}
    from dlkit.unsupervised import sparse_coding as sc

    X, D = _patches_and_dictionary()
    if side == "dlkit-codes":

        def codes():
            return sc.coordinate_descent(X, D, LAMBDA, tol=1e-4)
    else:
        from sklearn.decomposition import SparseCoder

        coder = SparseCoder(D.T, transform_algorithm="lasso_cd", transform_alpha=LAMBDA)

        def codes():
            return coder.transform(X)

    t = timeit(codes, repeat=3, min_time=0.0, warmup=1)
    return {"s": t, "objective": sc.objective(X, D, codes(), LAMBDA)}


@register("unsupervised")
def bench() -> list[Row]:
    r = {
        s: in_fresh_process("dlkit.bench.unsupervised", f"worker({s!r})")
        for s in ("dlkit-rbm", "sklearn-rbm", "dlkit-codes", "sklearn-codes")
    }
    return [
        Row(
            "unsupervised",
            "RBM 64-100 CD-1 epoch, digits, batch 10",
            r["dlkit-rbm"]["s"],
            "sklearn",
            r["sklearn-rbm"]["s"],
            "BernoulliRBM.partial_fit over the same batches; goal ratio <= 1.0",
        ),
        Row(
            "unsupervised",
            "sparse codes, 10k 14x14 patches, 100 atoms",
            r["dlkit-codes"]["s"],
            "sklearn",
            r["sklearn-codes"]["s"],
            f"SparseCoder lasso_cd, lambda {LAMBDA:g}; objective "
            f"{r['dlkit-codes']['objective']:.6f} vs {r['sklearn-codes']['objective']:.6f}; "
            "goal ratio <= 1.0",
        ),
    ]
