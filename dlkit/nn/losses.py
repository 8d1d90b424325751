"""Losses: ``forward(prediction, target)`` returns the loss 𝓛 of the batch, ``backward()``
its gradient with respect to the prediction.

The notation is the book's: a batch of N examples, n = 1, ..., N, one per row; ŷ the
network's output and y the target; K the number of classes; ℓ the loss of one example
and 𝓛 = (1/N) Σ_n ℓ_n that of the batch. Every loss averages over its batch, so the
gradient of a batch is the mean of the examples' gradients (the mini-batch SGD of
chapter 4).

- :class:`MSELoss`: ℓ = ½ ‖ŷ − y‖², 𝓛 = (1/N) Σ_n ½ ‖ŷ_n − y_n‖², ∂𝓛/∂ŷ = (ŷ − y) / N.
  The ½ cancels the 2 of the derivative, as in Nielsen's book.
- :class:`CrossEntropyLoss`: on the logits z (N, K), ŷ = softmax(z), ℓ = −log ŷ_y,
  𝓛 = −(1/N) Σ_n log ŷ_{n, y_n}, ∂𝓛/∂z = (ŷ − onehot(y)) / N. This is maximum
  likelihood: 𝓛 estimates the cost J(θ) = −E log ŷ_y.
- :class:`BCELoss`: on probabilities ŷ ∈ (0, 1) (a sigmoid output) and binary targets,
  𝓛 = −(1/N) Σ_n [y_n log ŷ_n + (1 − y_n) log(1 − ŷ_n)].
"""

from __future__ import annotations

import numpy as np

from dlkit.nn import device
from dlkit.nn.core import BackwardBeforeForwardError, check_array, check_int, check_real


def _check_z(z, who: str, axis=-1) -> np.ndarray:
    if not isinstance(z, np.ndarray) or z.dtype.kind not in "fiu" or z.ndim == 0:
        z = check_array(z, who, check_finite=False)
        if z.ndim == 0:
            raise ValueError(f"{who} needs an array with at least one axis, got a scalar")
    check_classes(z, who, axis)
    return z


def check_classes(z: np.ndarray, who: str, axis=-1) -> None:
    """Refuse a softmax axis of length 0: there would be no class to normalise over."""
    if isinstance(axis, (int, np.integer)) and -z.ndim <= axis < z.ndim and z.shape[axis] == 0:
        raise ValueError(
            f"{who} got logits of shape {z.shape}, with no classes on axis {axis}; a "
            "softmax needs at least one logit per row: check how the logits were sliced"
        )


def softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = _check_z(z, "softmax", axis)
    e = np.exp(z - z.max(axis=axis, keepdims=True))
    return e / e.sum(axis=axis, keepdims=True)


def log_softmax(z: np.ndarray, axis: int = -1) -> np.ndarray:
    z = _check_z(z, "log_softmax", axis)
    s = z - z.max(axis=axis, keepdims=True)
    return s - np.log(np.exp(s).sum(axis=axis, keepdims=True))


def one_hot(y: np.ndarray, num_classes: int, dtype=np.float64) -> np.ndarray:
    num_classes = check_int(num_classes, "num_classes", "one_hot")
    y = np.asarray(y)
    if y.ndim != 1 or y.dtype.kind not in "iu":
        raise ValueError(f"one_hot needs a 1-D integer label array, got {y.dtype} shape {y.shape}")
    if y.size and (y.min() < 0 or y.max() >= num_classes):
        raise ValueError(f"labels must lie in [0, {num_classes}), got {y.min()}..{y.max()}")
    out = np.zeros((y.size, num_classes), dtype=dtype)
    out[np.arange(y.size), y] = 1
    return out


def _check_pair(pred, target, who: str, what: str = "prediction"):
    """(pred, target) as float arrays of one shape; a 1-D target for a one-column
    prediction becomes a column. Refuses empty batches and mismatched shapes."""
    pred = check_array(pred, f"{who} {what}")
    target = check_array(target, f"{who} target", dtype=pred.dtype)
    if target.shape != pred.shape:
        if target.ndim == 1 and pred.ndim == 2 and pred.shape == (target.size, 1):
            target = target[:, None]
        else:
            raise ValueError(
                f"{who}: {what} shape {pred.shape} != target shape {target.shape}; "
                "reshape the target to match (e.g. y[:, None] for one output)"
            )
    if pred.size == 0:
        raise ValueError(
            f"{who} got an empty batch ({what} shape {pred.shape}); pass at least one example"
        )
    return pred, target


def _one_hot_targets(logits: np.ndarray, target) -> np.ndarray:
    """The (N, K) one-hot (or soft) targets of CrossEntropyLoss, from labels (N,) in
    [0, K) or from an (N, K) array."""
    n, k = logits.shape
    if n == 0:
        raise ValueError(
            f"CrossEntropyLoss got an empty batch (logits shape {logits.shape}); "
            "pass at least one example"
        )
    target = np.asarray(target)
    if target.ndim == 1:
        if target.dtype.kind not in "iu":
            raise ValueError(
                f"CrossEntropyLoss: 1-D targets must be integer labels, got {target.dtype}"
            )
        if target.shape[0] != n:
            raise ValueError(f"CrossEntropyLoss: {n} logits rows but {target.shape[0]} labels")
        if target.min() < 0 or target.max() >= k:
            raise ValueError(
                f"CrossEntropyLoss: labels must lie in [0, {k}) for {k} logits, got "
                f"{target.min()}..{target.max()}"
            )
        return one_hot(target, k, logits.dtype)
    if target.shape == logits.shape:
        return _check_distributions(
            check_array(target, "CrossEntropyLoss target", dtype=logits.dtype)
        )
    raise ValueError(
        f"CrossEntropyLoss: target shape {target.shape} fits neither labels ({n},) "
        f"nor one-hot {logits.shape}"
    )


def _check_distributions(y: np.ndarray, tol: float = 1e-6) -> np.ndarray:
    """`y` (N, K) unchanged if every row is a probability distribution (entries >= 0
    summing to 1 within `tol`): a one-hot row or a soft target."""
    sums = y.sum(axis=1)
    bad = np.flatnonzero((np.abs(sums - 1) > tol) | (y < 0).any(axis=1))
    if bad.size:
        i = int(bad[0])
        row = f" {np.round(y[i], 6).tolist()}" if y.shape[1] <= 10 else ""
        what = "has a negative entry" if (y[i] < 0).any() else f"sums to {float(sums[i]):.6g}"
        raise ValueError(
            f"CrossEntropyLoss: target row {i}{row} {what}, but each row of an (N, K) "
            "target must be one-hot or a probability distribution (entries >= 0 summing to "
            "1); pass integer labels (N,) or nn.one_hot(labels, K)"
        )
    return y


class Loss:
    """Base class: ``forward(pred, target)`` returns the batch loss 𝓛, ``backward()``
    ∂𝓛/∂(pred), an array shaped like `pred`."""

    _diff = _y_hat = _y = None  # what forward caches for backward

    def __call__(self, pred, target) -> float:
        return self.forward(pred, target)

    def _check_forward(self, cached) -> None:
        """The first line of ``backward``: forward must have cached `cached`."""
        if cached is None:
            raise BackwardBeforeForwardError(
                f"{self!r}.backward called before forward: call loss.forward(prediction, "
                "target) first; backward() returns the gradient of that loss"
            )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class MSELoss(Loss):
    """Mean squared error: ŷ the prediction and y the target, N examples, one per row.

    𝓛 = (1/N) Σ_n ½ ‖ŷ_n − y_n‖²,  ∂𝓛/∂ŷ = (ŷ − y) / N.
    """

    def forward(self, y_hat, y) -> float:
        y_hat, y = _check_pair(y_hat, y, "MSELoss")
        self._diff = y_hat - y  # ŷ − y
        N = y_hat.shape[0] if y_hat.ndim else 1
        return float(0.5 * np.sum(self._diff**2) / N)  # (1/N) Σ_n ½ ‖ŷ_n − y_n‖²

    def backward(self) -> np.ndarray:
        self._check_forward(self._diff)
        N = self._diff.shape[0] if self._diff.ndim else 1
        return self._diff / N  # ∂𝓛/∂ŷ = (ŷ − y) / N


class CrossEntropyLoss(Loss):
    """Softmax and negative log-likelihood on the logits z (N, K): N examples, K classes.

    ŷ = softmax(z), 𝓛 = −(1/N) Σ_n log ŷ_{n, y_n},  ∂𝓛/∂z = (ŷ − onehot(y)) / N.
    The targets y are labels (N,) or one-hot (or soft) rows (N, K).
    """

    def forward(self, z, y) -> float:
        z = check_array(z, "CrossEntropyLoss logits", ndim=2)
        self._y = _one_hot_targets(z, y)  # onehot(y), (N, K)
        log_y_hat = log_softmax(z)
        self._y_hat = np.exp(log_y_hat)  # ŷ = softmax(z)
        return float(-np.sum(self._y * log_y_hat) / z.shape[0])  # −(1/N) Σ_n log ŷ_{n, y_n}

    def backward(self) -> np.ndarray:
        self._check_forward(self._y_hat)
        return (self._y_hat - self._y) / self._y_hat.shape[0]  # (ŷ − onehot(y)) / N


class BCELoss(Loss):
    """Binary cross-entropy on probabilities ŷ (clipped to [eps, 1 − eps]) and targets y.

    𝓛 = −(1/N) Σ_n [y_n log ŷ_n + (1 − y_n) log(1 − ŷ_n)].
    """

    def __init__(self, eps: float = 1e-12):
        self.eps = check_real(
            eps, "eps", "BCELoss", low=0.0, high=0.5, low_open=True, high_open=True
        )

    def forward(self, prob, target) -> float:
        prob, target = _check_pair(prob, target, "BCELoss", "probabilities")
        if prob.min() < 0 or prob.max() > 1:
            raise ValueError("BCELoss needs probabilities in [0, 1]: put a Sigmoid before it")
        if target.min() < 0 or target.max() > 1:
            raise ValueError(
                f"BCELoss needs targets in [0, 1], got {target.min()}.."
                f"{target.max()}; pass 0/1 labels (or probabilities)"
            )
        y_hat = np.clip(prob, self.eps, 1 - self.eps)
        self._y_hat, self._y = y_hat, target
        N = prob.shape[0]
        return float(-np.sum(target * np.log(y_hat) + (1 - target) * np.log(1 - y_hat)) / N)

    def backward(self) -> np.ndarray:
        self._check_forward(self._y_hat)
        y_hat, y = self._y_hat, self._y
        return (y_hat - y) / (y_hat * (1 - y_hat)) / y_hat.shape[0]  # ∂𝓛/∂ŷ


def get_loss(name: str) -> Loss:
    table = {
        "mse": MSELoss,
        "cross_entropy": CrossEntropyLoss,
        "ce": CrossEntropyLoss,
        "bce": BCELoss,
    }
    if not isinstance(name, str):
        raise TypeError(
            f"get_loss needs a loss name (str), got {type(name).__name__}; "
            f"choose one of {', '.join(table)}"
        )
    try:
        return table[name.lower()]()
    except KeyError:
        raise ValueError(f"unknown loss {name!r}: choose one of {', '.join(table)}") from None


# On a GPU backend (cuda, cudasim, cupy) the loss is computed on the device: dlkit.nn.device.
device.runs_on_device(CrossEntropyLoss, forward="xent_forward", backward="xent_backward")
device.runs_on_device(MSELoss, forward="unsupported")
device.runs_on_device(BCELoss, forward="unsupported")
