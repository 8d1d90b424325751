"""Mini-batches and the training loop.

:func:`batches` yields mini-batches in a seeded random order; :func:`fit` runs
epochs of forward, loss, backward and optimizer step, and returns the history of
the loss (and accuracy for classifiers).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Iterator

import numpy as np

from dlkit import rng as _rng
from dlkit.nn.core import Layer
from dlkit.nn.losses import Loss


def batches(X: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool = True,
            seed=0) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield (X_batch, y_batch) covering the data once; the last batch may be smaller."""
    n = len(X)
    if len(y) != n:
        raise ValueError(f"X has {n} examples but y has {len(y)}")
    if not isinstance(batch_size, (int, np.integer)) or batch_size < 1:
        raise ValueError(f"batch_size must be a positive int, got {batch_size!r}")
    order = _rng(seed).permutation(n) if shuffle else np.arange(n)
    for i in range(0, n, batch_size):
        idx = order[i:i + batch_size]
        yield X[idx], y[idx]


def accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    """Fraction of examples whose predicted class matches y.

    `scores` are logits/probabilities (N, K), or one column (N, 1)/(N,) thresholded
    at 0.5 for binary problems.
    """
    scores = np.asarray(scores)
    y = np.asarray(y)
    if scores.ndim == 2 and scores.shape[1] > 1:
        pred = scores.argmax(axis=1)
    else:
        pred = (scores.reshape(-1) >= 0.5).astype(y.dtype)
    return float(np.mean(pred == y.reshape(-1)))


@dataclass
class History:
    """Per-epoch training record."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)


def fit(model: Layer, loss_fn: Loss, optimizer, X: np.ndarray, y: np.ndarray, *,
        epochs: int = 1, batch_size: int | None = None, seed=0, classify: bool | None = None,
        val: tuple[np.ndarray, np.ndarray] | None = None,
        callback: Callable[[int, History], None] | None = None) -> History:
    """Train `model` by mini-batch gradient descent and return its History.

    Parameters
    ----------
    batch_size : None means full-batch gradient descent.
    seed : seeds the shuffling; epoch e uses seed (seed, e) so runs are reproducible.
    classify : record accuracy (default: True unless the loss is MSE).
    callback : called as ``callback(epoch, history)`` after every epoch.
    """
    from dlkit.nn.losses import MSELoss

    if classify is None:
        classify = not isinstance(loss_fn, MSELoss)
    hist = History()
    bs = len(X) if batch_size is None else batch_size
    for epoch in range(epochs):
        model.train()
        total, count = 0.0, 0
        for xb, yb in batches(X, y, bs, seed=seed * 100003 + epoch):
            out = model.forward(xb)
            total += loss_fn.forward(out, yb) * len(xb)
            count += len(xb)
            model.backward(loss_fn.backward())
            optimizer.step()
        hist.loss.append(total / count)
        if classify:
            model.eval()
            hist.accuracy.append(accuracy(model.forward(X), y))
            if val is not None:
                hist.val_accuracy.append(accuracy(model.forward(val[0]), val[1]))
        if callback is not None:
            callback(epoch, hist)
    return hist
