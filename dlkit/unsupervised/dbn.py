"""Deep belief networks: greedy layer-wise pretraining of stacked RBMs, then fine-tuning.

The algorithms are those of Bengio (2009) and of chapter 11 (``PreTrainDBN`` and
``FineTuneDBN``), after Hinton, Osindero & Teh (2006) and Bengio, Lamblin, Popovici &
Larochelle (2007):

1. Pretraining: train RBM 1 on the data; pass the data through it (the means
   Q(h | v), or samples from them) and train RBM 2 on that; and so on up the stack.
2. Fine-tuning: unroll the stack into an MLP (Linear + Sigmoid per RBM, with the RBMs'
   W and hidden biases c), add a Linear output layer for the classes, and train the
   whole network by backpropagation on the labels.

A DBN with layer sizes n_0 (the data), n_1, ..., n_L has Σ_l n_l n_{l+1} weights and
Σ_l n_l biases as a generative model (one bias per unit: the top RBM's two layers and
the directed layers below it), which is :func:`dbn_parameter_count`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from dlkit import rng as _rng
from dlkit.checks import check_int
from dlkit.unsupervised.rbm import RBM, RBMHistory, _bernoulli, train_rbm

__all__ = [
    "DBN",
    "pretrain_dbn",
    "PreTrainDBN",
    "unroll",
    "fine_tune_dbn",
    "FineTuneDBN",
    "dbn_parameter_count",
]


def dbn_parameter_count(sizes: Sequence[int]) -> int:
    """Σ_l n_l n_{l+1} + Σ_l n_l for layer sizes n_0 (visible), n_1, ..., n_L."""
    sizes = [check_int(s, f"sizes[{i}]", "dbn_parameter_count") for i, s in enumerate(sizes)]
    if len(sizes) < 2:
        raise ValueError("dbn_parameter_count: give at least two layer sizes, e.g. [64, 100]")
    return sum(a * b for a, b in zip(sizes, sizes[1:])) + sum(sizes)


@dataclass
class DBN:
    """A stack of RBMs: ``rbms[l]`` has n_l visible and n_{l+1} hidden units."""

    rbms: list[RBM]
    history: list[RBMHistory] = field(default_factory=list)

    @property
    def sizes(self) -> list[int]:
        return [self.rbms[0].n_visible] + [r.n_hidden for r in self.rbms]

    def transform(self, V, *, layers: int | None = None) -> np.ndarray:
        """The mean-field representation Q(h^l | ...) after `layers` RBMs (default all)."""
        A = V
        for r in self.rbms[: len(self.rbms) if layers is None else layers]:
            A = r.hidden_probs(A)
        return A

    def sample(self, n: int, *, gibbs_steps: int = 1000, seed=0, start=None) -> np.ndarray:
        """Draw `n` visible vectors: `gibbs_steps` of Gibbs sampling in the top RBM (from
        random states, or from the top-level representation of `start`), then one
        top-down pass, P(h^{l−1} = 1 | h^l) through each lower RBM, returning the last
        layer's probabilities (the usual way to show DBN samples)."""
        n = check_int(n, "n", "DBN.sample")
        gibbs_steps = check_int(gibbs_steps, "gibbs_steps", "DBN.sample")
        g = _rng(seed)
        top = self.rbms[-1]
        if start is None:
            V = (g.random((n, top.n_visible)) < 0.5).astype(top.dtype)
        else:
            V = _bernoulli(self.transform(start, layers=len(self.rbms) - 1), g)
        V = top.gibbs(V, gibbs_steps, seed=g)
        P = V
        for r in reversed(self.rbms[:-1]):
            P = r.visible_probs(P)
        return P

    @property
    def n_params(self) -> int:
        return dbn_parameter_count(self.sizes)


def pretrain_dbn(
    X,
    sizes: Sequence[int],
    *,
    epochs: int = 10,
    lr: float = 0.05,
    batch_size: int = 10,
    k: int = 1,
    persistent: bool = False,
    sample: bool = False,
    seed=0,
    dtype=np.float64,
    progress: bool = False,
) -> DBN:
    """Greedy layer-wise pretraining (PreTrainDBN): `sizes` are the hidden layers' widths.

    RBM l is trained by :func:`train_rbm` (CD-k, or PCD) on the representation of the
    data after RBMs 1..l−1: their means Q(h | v), or, with ``sample=True``, binary
    samples from them, as in the algorithm's "sample g^i from Q(g^i | g^{i−1})".
    """
    g = _rng(seed)
    sizes = [check_int(s, f"sizes[{i}]", "pretrain_dbn") for i, s in enumerate(sizes)]
    if not sizes:
        raise ValueError("pretrain_dbn: sizes must list at least one hidden layer, e.g. [100]")
    first = RBM(np.shape(X)[-1], sizes[0], seed=g, dtype=dtype)
    A = first.check_visible(X, "X")
    dbn = DBN([])
    for i, s in enumerate(sizes):
        r = first if i == 0 else RBM(A.shape[1], s, seed=g, dtype=dtype)
        hist = train_rbm(
            r,
            A,
            epochs=epochs,
            lr=lr,
            batch_size=batch_size,
            k=k,
            persistent=persistent,
            seed=g,
            progress=progress,
        )
        dbn.rbms.append(r)
        dbn.history.append(hist)
        A = r.hidden_probs(A)
        if sample:
            A = _bernoulli(A, g)
    return dbn


#: The name of the algorithm in Bengio (2009) and in the seed talk.
PreTrainDBN = pretrain_dbn


def unroll(dbn: DBN, n_classes: int | None = None, *, seed=0):
    """The DBN as a :class:`dlkit.nn.Sequential`: Linear(W, c) + Sigmoid per RBM, then (if
    `n_classes`) a Linear output layer of `n_classes` logits with Xavier weights. The
    pretrained arrays are copied, so fine-tuning leaves the DBN itself unchanged."""
    from dlkit import nn

    layers = []
    for r in dbn.rbms:
        lin = nn.Linear(r.n_visible, r.n_hidden, seed=seed, dtype=r.dtype)
        lin.W.data[...] = r.W.data
        lin.b.data[...] = r.c.data
        layers += [lin, nn.Sigmoid()]
    if n_classes is not None:
        n_classes = check_int(n_classes, "n_classes", "unroll", minimum=2, say_minimum=True)
        layers.append(
            nn.Linear(dbn.rbms[-1].n_hidden, n_classes, seed=seed, dtype=dbn.rbms[-1].dtype)
        )
    return nn.Sequential(*layers)


def fine_tune_dbn(
    dbn: DBN,
    X,
    y,
    *,
    n_classes: int | None = None,
    epochs: int = 30,
    lr: float = 0.1,
    batch_size: int = 32,
    momentum: float = 0.9,
    seed=0,
    progress: bool = False,
):
    """FineTuneDBN: unroll, add a softmax output, and train everything by backpropagation
    (cross-entropy, SGD with momentum, :func:`dlkit.train.fit`). Returns (model, history)."""
    from dlkit import nn, train
    from dlkit.optim import SGD

    y = np.asarray(y)
    n_classes = int(y.max()) + 1 if n_classes is None else n_classes
    model = unroll(dbn, n_classes, seed=seed)
    opt = SGD(model.parameters(), lr=lr, momentum=momentum)
    history = train.fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        np.asarray(X, dtype=dbn.rbms[0].dtype),
        y,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        progress=progress,
    )
    return model, history


#: The name of the algorithm in Bengio (2009) and in the seed talk.
FineTuneDBN = fine_tune_dbn
