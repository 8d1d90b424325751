"""Losses: ``forward(pred, target)`` returns a scalar, ``backward()`` dL/d(pred).

All losses average over the N examples of a batch, so the gradient of a batch is the
mean of the examples' gradients (the mini-batch SGD of chapter 4).

- :class:`MSELoss`:  L = (1/N) Σ_n ½ ||ŷ_n − y_n||²,  dL/dŷ = (ŷ − y) / N.
  The ½ cancels the 2 of the derivative, as in Nielsen's book.
- :class:`CrossEntropyLoss`: on logits z, p = softmax(z), L = −(1/N) Σ_n log p_{n, y_n},
  dL/dz = (p − onehot(y)) / N. This is maximum likelihood: J(W) = −E log p_model(y|x).
- :class:`BCELoss`: on probabilities p ∈ (0, 1) (a sigmoid output), binary targets,
  L = −(1/N) Σ [y log p + (1 − y) log(1 − p)].
"""

from __future__ import annotations

import numpy as np

from dlkit.nn.core import check_array


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    s = z - z.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def one_hot(y: np.ndarray, num_classes: int, dtype=np.float64) -> np.ndarray:
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"one_hot needs a 1-D integer label array, got {y.dtype} shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {y.min()}..{y.max()}")
    out = np.zeros((y.size, num_classes), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out


class Loss:
    def __call__(self, pred, target) -> float:
        return self.forward(pred, target)

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    def forward(self, pred, target) -> float:
        pred = check_array(pred, "MSELoss prediction")
        target = check_array(target, "MSELoss target", dtype=pred.dtype)
        if target.shape != pred.shape:
            if target.ndim == 1 and pred.ndim == 2 and pred.shape == (target.size, 1):
                target = target[:, None]
            else:
                raise ValueError(
                    f"MSELoss: prediction shape {pred.shape} != target shape {target.shape}; "
                    "reshape the target to match (e.g. y[:, None] for one output)"
                )
        self._diff = pred - target
        n = pred.shape[0] if pred.ndim else 1
        return float(0.5 * np.sum(self._diff**2) / n)

    def backward(self) -> np.ndarray:
        n = self._diff.shape[0] if self._diff.ndim else 1
        return self._diff / n


class CrossEntropyLoss(Loss):
    """Softmax + negative log-likelihood on logits (N, K); targets are labels (N,) or one-hot."""

    def forward(self, logits, target) -> float:
        logits = check_array(logits, "CrossEntropyLoss logits", ndim=2)
        n, k = logits.shape
        target = np.asarray(target)
        if target.ndim == 1:
            if target.dtype.kind not in "iu":
                raise ValueError(
                    f"CrossEntropyLoss: 1-D targets must be integer labels, got {target.dtype}"
                )
            if target.shape[0] != n:
                raise ValueError(f"CrossEntropyLoss: {n} logits rows but {target.shape[0]} labels")
            if n and (target.min() < 0 or target.max() >= k):
                raise ValueError(
                    f"CrossEntropyLoss: labels must lie in [0, {k}) for {k} logits, got "
                    f"{target.min()}..{target.max()}"
                )
            y = one_hot(target, k, logits.dtype)
        elif target.shape == logits.shape:
            y = target.astype(logits.dtype, copy=False)
        else:
            raise ValueError(
                f"CrossEntropyLoss: target shape {target.shape} fits neither labels ({n},) "
                f"nor one-hot {logits.shape}"
            )
        logp = log_softmax(logits)
        self._p = np.exp(logp)
        self._y = y
        return float(-np.sum(y * logp) / n)

    def backward(self) -> np.ndarray:
        return (self._p - self._y) / self._p.shape[0]


class BCELoss(Loss):
    """Binary cross-entropy on probabilities; probabilities are clipped to [eps, 1-eps]."""

    def __init__(self, eps: float = 1e-12):
        self.eps = eps

    def forward(self, prob, target) -> float:
        prob = check_array(prob, "BCELoss probabilities")
        target = check_array(target, "BCELoss target", dtype=prob.dtype)
        if target.shape != prob.shape:
            if target.ndim == 1 and prob.shape == (target.size, 1):
                target = target[:, None]
            else:
                raise ValueError(f"BCELoss: prediction shape {prob.shape} != target {target.shape}")
        if prob.min() < 0 or prob.max() > 1:
            raise ValueError("BCELoss needs probabilities in [0, 1]: put a Sigmoid before it")
        p = np.clip(prob, self.eps, 1 - self.eps)
        self._p, self._y = p, target
        n = prob.shape[0]
        return float(-np.sum(target * np.log(p) + (1 - target) * np.log(1 - p)) / n)

    def backward(self) -> np.ndarray:
        p, y = self._p, self._y
        return (p - y) / (p * (1 - p)) / p.shape[0]


def get_loss(name: str) -> Loss:
    table = {"mse": MSELoss, "cross_entropy": CrossEntropyLoss, "ce": CrossEntropyLoss,
             "bce": BCELoss}
    try:
        return table[name.lower()]()
    except KeyError:
        raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(table)}") from None
