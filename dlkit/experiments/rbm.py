"""The experiments of chapter 11 (RBMs and deep belief networks), computed, not drawn.

Every function is seeded and returns plain numbers and arrays; :mod:`dlkit.viz` draws
them. The data are scikit-learn's 8 × 8 digits: pixels / 16 in [0, 1], and binarised
(> 1/2) where a likelihood of binary vectors is reported.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlkit.unsupervised import (
    RBM,
    ais_log_partition,
    exact_log_partition,
    log_likelihood,
    pretrain_dbn,
    train_rbm,
)

__all__ = [
    "digits_split",
    "base_rate_bias",
    "LikelihoodRow",
    "compare_training",
    "ais_against_exact",
    "PretrainingRow",
    "pretraining_table",
    "rbm_logistic",
]


def digits_split(n_train: int = 1500, *, binary: bool = False, seed=0):
    """The digits shuffled by `seed` and split into (X_train, y_train, X_test, y_test)."""
    from sklearn.datasets import load_digits

    d = load_digits()
    X = d.data / 16.0
    if binary:
        X = (X > 0.5).astype(np.float64)
    order = np.random.default_rng(seed).permutation(len(X))
    tr, te = order[:n_train], order[n_train:]
    return X[tr], d.target[tr], X[te], d.target[te]


def base_rate_bias(X) -> np.ndarray:
    """The log-odds of each pixel's mean (clipped to [0.01, 0.99]): AIS's base model."""
    m = np.clip(np.mean(X, axis=0), 0.01, 0.99)
    return np.log(m / (1 - m))


@dataclass
class LikelihoodRow:
    """One training method's RBM, with what can be measured about it."""

    method: str
    rbm: RBM
    reconstruction_error: float  # on the test set
    log_z: float  # AIS
    log_z_band: tuple[float, float]
    test_log_likelihood: float  # mean log P(v) per test digit, in nats
    train_log_likelihood: float


def compare_training(
    methods=(("CD-1", 1, False), ("CD-10", 10, False), ("PCD", 1, True)),
    *,
    n_hidden: int = 100,
    epochs: int = 20,
    lr: float = 0.05,
    batch_size: int = 10,
    n_betas: int = 5001,
    n_chains: int = 100,
    seed=0,
) -> list[LikelihoodRow]:
    """Train one RBM per (name, k, persistent) on the binarised digits, the same seed
    for each, and measure reconstruction error and the AIS test log-likelihood."""
    Xtr, _, Xte, _ = digits_split(binary=True, seed=seed)
    bA = base_rate_bias(Xtr)
    rows = []
    for name, k, persistent in methods:
        r = RBM(64, n_hidden, seed=seed)
        train_rbm(
            r,
            Xtr,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            k=k,
            persistent=persistent,
            seed=seed,
            monitor=False,
        )
        a = ais_log_partition(
            r,
            n_chains=n_chains,
            betas=np.linspace(0, 1, n_betas),
            base_visible_bias=bA,
            seed=seed,
        )
        rows.append(
            LikelihoodRow(
                name,
                r,
                r.reconstruction_error(Xte),
                a.log_z,
                (a.log_z_low, a.log_z_high),
                log_likelihood(r, Xte, a.log_z),
                log_likelihood(r, Xtr, a.log_z),
            )
        )
    return rows


def ais_against_exact(n_hidden: int = 15, *, epochs: int = 10, n_betas: int = 5001, seed=0):
    """An RBM small enough to enumerate (2^n_hidden hidden states): its exact log Z
    beside the AIS estimate. Returns (exact, AISResult)."""
    Xtr, _, _, _ = digits_split(binary=True, seed=seed)
    r = RBM(64, n_hidden, seed=seed)
    train_rbm(r, Xtr, epochs=epochs, lr=0.05, seed=seed, monitor=False)
    est = ais_log_partition(
        r,
        n_chains=100,
        betas=np.linspace(0, 1, n_betas),
        base_visible_bias=base_rate_bias(Xtr),
        seed=seed,
    )
    return exact_log_partition(r), est


@dataclass
class PretrainingRow:
    """Test accuracies at one label count, one per seed, for both starts."""

    labels: int
    pretrained: list[float] = field(default_factory=list)  # test accuracy per seed
    random: list[float] = field(default_factory=list)
    pretrained_fit: list[float] = field(default_factory=list)  # on the labelled digits
    random_fit: list[float] = field(default_factory=list)

    def summary(self, column: str = "pretrained") -> tuple[float, float, float]:
        """(mean, min, max) over the seeds of one column: ``"pretrained"``, ``"random"``
        (test accuracy), ``"pretrained_fit"`` or ``"random_fit"`` (training accuracy)."""
        columns = ("pretrained", "random", "pretrained_fit", "random_fit")
        if column not in columns:
            raise ValueError(f"summary: column must be one of {columns}, got {column!r}")
        a = getattr(self, column)
        return float(np.mean(a)), float(min(a)), float(max(a))


def pretraining_table(
    label_counts=(100, 300, 1000, None),
    *,
    sizes=(100, 100),
    seeds=(0, 1, 2),
    pretrain_epochs: int = 10,
    fine_tune_epochs: int = 10,
    lr: float = 0.1,
    batch_size: int = 10,
    seed=0,
) -> list[PretrainingRow]:
    """When pretraining helps: for each of `seeds`, one DBN 64-…-10 pretrained (CD-1,
    ``pretrain_epochs`` per layer) on every training digit without labels, then fine-tuned
    on the first n labelled ones, against the same network from a random (Xavier) start
    trained identically; test accuracy, and accuracy on the n labelled digits themselves
    (the ``_fit`` columns), for each label count (None: all) and seed.

    The seed draws the DBN's initial weights and Gibbs samples, the output layer, the
    random start and the fine-tuning batches; ``seed`` fixes the train/test split. Both
    starts are fine-tuned by :func:`dlkit.unsupervised.steps.fine_tune_flat` (the batches
    and momentum-SGD updates of :func:`dlkit.unsupervised.fine_tune_dbn`, on the flat
    parameter vector)."""
    from dlkit import nn
    from dlkit.unsupervised import unroll
    from dlkit.unsupervised.steps import (
        dbn_flat_params,
        fine_tune_flat,
        param_layout,
        set_flat_params,
    )

    Xtr, ytr, Xte, yte = digits_split(seed=seed)
    net = [Xtr.shape[1], *sizes]
    rows = [PretrainingRow(len(Xtr) if n is None else n) for n in label_counts]

    def accuracy(theta, X, y) -> float:
        model = nn.Sequential(*_mlp(net, 10, seed=0))
        set_flat_params(model, theta)
        return float(np.mean(model.forward(X).argmax(1) == y))

    param_layout(net, 10)  # checks the sizes
    for s in seeds:
        dbn = pretrain_dbn(Xtr, list(sizes), epochs=pretrain_epochs, lr=0.05, seed=s)
        starts = {
            "pretrained": dbn_flat_params(unroll(dbn, 10, seed=s)),
            "random": dbn_flat_params(nn.Sequential(*_mlp(net, 10, seed=100 * s))),
        }
        for row in rows:
            X, y = Xtr[: row.labels], ytr[: row.labels]
            for start, theta in starts.items():
                theta = fine_tune_flat(
                    theta,
                    X,
                    y,
                    sizes=net,
                    n_classes=10,
                    epochs=fine_tune_epochs,
                    lr=lr,
                    batch_size=batch_size,
                    momentum=0.9,
                    seed=s,
                )
                getattr(row, start).append(accuracy(theta, Xte, yte))
                getattr(row, start + "_fit").append(accuracy(theta, X, y))
    return rows


def _mlp(net, n_classes: int, *, seed: int) -> list:
    """Linear + Sigmoid per hidden layer of widths net[1:], then a Linear output; layer i
    draws its Xavier weights with seed ``seed + i``."""
    from dlkit import nn

    layers = []
    for i, (a, b) in enumerate(zip(net, net[1:])):
        layers += [nn.Linear(a, b, seed=seed + i), nn.Sigmoid()]
    return layers + [nn.Linear(net[-1], n_classes, seed=seed + len(net) - 1)]


def rbm_logistic(
    *,
    n_hidden: int = 100,
    epochs: int = 10,
    lr: float = 0.06,
    C: float = 6000.0,
    nudge: bool = True,
    max_iter: int = 1000,
    seed=0,
) -> dict[str, float]:
    """RBM features + logistic regression, dlkit's RBM beside scikit-learn's
    ``BernoulliRBM`` in scikit-learn's documented pipeline (the digits nudged by one
    pixel in four directions, min–max scaled, an 80/20 split, ``C=6000``), and logistic
    regression on the raw pixels. Test accuracies, keyed by model.

    ``nudge=False`` keeps only the 1,797 original digits (a fifth of the work); ``C`` and
    ``max_iter`` are those of every ``LogisticRegression`` on RBM features."""
    from scipy.ndimage import shift
    from sklearn.datasets import load_digits
    from sklearn.linear_model import LogisticRegression
    from threadpoolctl import threadpool_limits

    d = load_digits()
    X, y = d.data, d.target
    images = X.reshape(-1, 8, 8)
    directions = ((0, 1), (0, -1), (1, 0), (-1, 0)) if nudge else ()
    nudged = [X] + [
        np.array([shift(im, v, mode="constant").ravel() for im in images]) for v in directions
    ]
    X = np.concatenate(nudged)
    y = np.concatenate([y] * len(nudged))
    X = (X - X.min(0)) / (X.max(0) + 1e-4)

    def logistic():
        return LogisticRegression(C=C, max_iter=max_iter)

    with threadpool_limits(1):  # one BLAS thread: faster here than several, and the same
        return _rbm_logistic(X, y, logistic, n_hidden, epochs, lr, seed)


def _rbm_logistic(X, y, logistic, n_hidden, epochs, lr, seed) -> dict[str, float]:
    from sklearn.linear_model import LogisticRegression
    from sklearn.model_selection import train_test_split
    from sklearn.neural_network import BernoulliRBM

    Xtr, Xte, ytr, yte = train_test_split(X, y, test_size=0.2, random_state=0)
    out = {}
    ours = RBM(64, n_hidden, seed=seed)
    train_rbm(ours, Xtr, epochs=epochs, lr=lr, batch_size=10, seed=seed, monitor=False)
    clf = logistic().fit(ours.hidden_probs(Xtr), ytr)
    out["dlkit RBM + logistic"] = float(clf.score(ours.hidden_probs(Xte), yte))
    sk = BernoulliRBM(n_components=n_hidden, learning_rate=lr, n_iter=epochs, random_state=0)
    sk.fit(Xtr)
    clf = logistic().fit(sk.transform(Xtr), ytr)
    out["scikit-learn BernoulliRBM + logistic"] = float(clf.score(sk.transform(Xte), yte))
    out["logistic on raw pixels"] = float(
        LogisticRegression(C=100.0, max_iter=1000).fit(Xtr, ytr).score(Xte, yte)
    )
    return out
