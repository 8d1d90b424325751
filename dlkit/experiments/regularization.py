"""Overfitting, and what is done against it, on a small training set of the digits.

The chapter *Regularisation and normalisation* trains a deliberately too-large MLP on
only a few hundred of scikit-learn's digits, so that it learns its training set by heart,
and measures what each technique changes:

- :func:`digits_split`: the digits split into a small training set, a validation set
  (for choosing when to stop and which settings to keep) and a test set (looked at
  once, to report), standardised with the training set's statistics;
- :class:`Technique`: one way to train (the plain MLP, weight decay λ, dropout with keep
  probability q, shifted copies of the images, batch normalisation, early stopping);
  :func:`build_model` and :func:`train` make and train its network;
- :class:`EarlyStopping`: the rule "stop when the validation loss has not improved for
  `patience` epochs, and go back to the best epoch";
- :func:`compare` trains several techniques from several seeds, and :func:`summarize`
  and :func:`summary_table` reduce the runs to the test accuracy of each (mean, lowest
  and highest); :func:`sweep` and :func:`choose` pick a setting (λ, q) on the
  validation set; :data:`FAST` trains with a ten times larger learning rate, without
  and with batch normalisation;
- :func:`shifted_test_accuracy` scores a network on shifted test images;
- :func:`dropout_average` shows numerically that inverted dropout's training output has
  the evaluation output as its mean.

Everything is seeded: the split, the initial weights, the order of the mini-batches,
the dropout masks and the shifts, so every number is the same on every machine.
:mod:`dlkit.viz.regularization` draws the results.
"""

from __future__ import annotations

import contextlib
from dataclasses import dataclass, field, replace
from typing import Sequence

import numpy as np

from dlkit import nn, optim
from dlkit import rng as _rng
from dlkit.data import Split, load_digits, standardize
from dlkit.data.augment import shift_images
from dlkit.train import History, evaluate, fit

__all__ = [
    "RegSplit",
    "digits_split",
    "Technique",
    "BASELINE",
    "EPOCHS",
    "BATCH",
    "techniques",
    "TECHNIQUES",
    "FAST",
    "build_model",
    "EarlyStopping",
    "early_stopping_epochs",
    "Run",
    "train",
    "compare",
    "sweep",
    "choose",
    "shifted_test_accuracy",
    "Summary",
    "summarize",
    "summary_table",
    "weight_norm",
    "dropout_average",
]


# --------------------------------------------------------------------------- the data


@dataclass(frozen=True)
class RegSplit:
    """Training, validation and test sets of the digits, flat rows (N, 64).

    ``X_*`` are standardised with the training set's per-pixel mean and standard
    deviation (:func:`dlkit.data.standardize`); ``images_train`` and ``images_test`` are
    the training and test images before that, pixels in [0, 1], for
    :func:`dlkit.data.shift_images`.
    """

    X_train: np.ndarray
    y_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    images_train: np.ndarray
    images_test: np.ndarray

    def standardize(self, images: np.ndarray) -> np.ndarray:
        """`images` (pixels in [0, 1], flat rows) standardised as the training set was."""
        return standardize(Split(self.images_train, self.y_train, images, self.y_train)).X_test

    def __repr__(self) -> str:
        return (
            f"RegSplit(train={len(self.y_train)}, validation={len(self.y_val)}, "
            f"test={len(self.y_test)}, {self.X_train.shape[1]} pixels)"
        )


def digits_split(n_train: int = 300, n_val: int = 400, *, seed: int = 0) -> RegSplit:
    """The 1,797 digits shuffled with `seed`: `n_train` for training, `n_val` for
    validation, the rest for testing."""
    total = 1797
    for name, v in (("n_train", n_train), ("n_val", n_val)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 10:
            raise ValueError(f"digits_split: {name} must be an int >= 10, got {v!r}")
    if n_train + n_val > total - 10:
        raise ValueError(
            f"digits_split: n_train + n_val = {n_train + n_val} leaves fewer than 10 of the "
            f"{total} digits for the test set"
        )
    images, y, rest, y_rest = load_digits(test_size=(total - n_train) / total, seed=seed)
    X_val, y_val, X_test, y_test = rest[:n_val], y_rest[:n_val], rest[n_val:], y_rest[n_val:]
    raw = RegSplit(images, y, X_val, y_val, X_test, y_test, images, X_test)
    return RegSplit(
        raw.standardize(images),
        y,
        raw.standardize(X_val),
        y_val,
        raw.standardize(X_test),
        y_test,
        images,
        X_test,
    )


# ----------------------------------------------------------------------- techniques


@dataclass(frozen=True)
class Technique:
    """One way to train the MLP ``64 -> hidden... -> 10`` with ReLU.

    Attributes
    ----------
    name : the label in tables and figures
    hidden : the widths of the hidden layers
    optimizer, lr : a name of :data:`dlkit.optim.OPTIMIZERS` and its learning rate η
        (SGD with momentum μ = 0.9 by default)
    weight_decay : λ, passed to the optimizer (which adds λθ to every gradient)
    keep : q, dropout's keep probability after every hidden layer (1: no dropout)
    batchnorm : a BatchNorm1d after every hidden Linear layer, before its ReLU
    max_shift : train on images moved by up to this many pixels, new shifts every epoch
    patience : early stopping: stop after this many epochs without a lower validation
        loss and go back to the best epoch (None: train every epoch)
    """

    name: str
    hidden: tuple[int, ...] = (128, 128)
    optimizer: str = "momentum"
    lr: float = 0.05
    weight_decay: float = 0.0
    keep: float = 1.0
    batchnorm: bool = False
    max_shift: int = 0
    patience: int | None = None

    def but(self, name: str, **changes) -> "Technique":
        """A copy named `name` with some settings changed."""
        return replace(self, name=name, **changes)


#: The plain MLP 64-128-128-10, trained by SGD with momentum (η = 0.05, μ = 0.9).
BASELINE = Technique("plain MLP")
#: Epochs and mini-batch size B of every run of the chapter.
EPOCHS, BATCH = 60, 50


def techniques(
    weight_decay: float = 3e-3, keep: float = 0.8, *, patience: int = 10, max_shift: int = 1
) -> tuple[Technique, ...]:
    """The techniques the chapter compares, each one change from :data:`BASELINE`."""
    return (
        BASELINE,
        BASELINE.but("early stopping", patience=patience),
        BASELINE.but("weight decay", weight_decay=weight_decay),
        BASELINE.but("dropout", keep=keep),
        BASELINE.but("shifted images", max_shift=max_shift),
        BASELINE.but("batch norm", batchnorm=True),
    )


TECHNIQUES: tuple[Technique, ...] = techniques()

#: A ten times larger learning rate, without and with batch normalisation.
FAST: tuple[Technique, ...] = (
    BASELINE.but("plain MLP, η = 0.5", lr=0.5),
    BASELINE.but("batch norm, η = 0.5", lr=0.5, batchnorm=True),
)


def build_model(t: Technique, n_in: int = 64, n_out: int = 10, *, seed: int = 0) -> nn.Sequential:
    """Linear [BatchNorm1d] ReLU [Dropout] for every hidden layer, then a Linear layer.

    Layer i of the network is seeded with ``seed + i``; Dropout(p) takes PyTorch's drop
    probability p = 1 − q.
    """
    layers: list[nn.Layer] = []
    sizes = (n_in, *t.hidden)
    for a, b in zip(sizes[:-1], sizes[1:]):
        layers.append(nn.Linear(a, b, init="he", seed=seed + len(layers)))
        if t.batchnorm:
            layers.append(nn.BatchNorm1d(b))
        layers.append(nn.ReLU())
        if t.keep < 1:
            layers.append(nn.Dropout(round(1 - t.keep, 12), seed=seed + len(layers)))
    layers.append(nn.Linear(sizes[-1], n_out, init="he", seed=seed + len(layers)))
    return nn.Sequential(*layers)


# --------------------------------------------------------------------- early stopping


class EarlyStopping:
    """Watch the validation loss epoch by epoch (Prechelt 1998).

    ``update(val_loss)`` returns True when the epoch is the best so far (the caller
    then keeps a copy of the weights); ``stop`` becomes True once `patience` epochs in
    a row have not improved on the best. Epochs count from 1.
    """

    def __init__(self, patience: int):
        self.patience = _check_patience(patience)
        self.best = np.inf
        self.best_epoch = 0
        self.epoch = 0
        self.waited = 0

    def update(self, val_loss: float) -> bool:
        self.epoch += 1
        if val_loss < self.best:
            self.best, self.best_epoch, self.waited = float(val_loss), self.epoch, 0
            return True
        self.waited += 1
        return False

    @property
    def stop(self) -> bool:
        return self.waited >= self.patience


def _check_patience(patience) -> int:
    if isinstance(patience, bool) or not isinstance(patience, (int, np.integer)) or patience < 1:
        raise ValueError(f"EarlyStopping: patience must be an int >= 1, got {patience!r}")
    return int(patience)


def early_stopping_epochs(val_losses: Sequence[float], patience: int) -> tuple[int, int]:
    """(the epoch restored, the epoch training stops at) for these validation losses.

    Training stops after the epoch at which `patience` epochs in a row have brought no
    lower validation loss, or after the last epoch; epochs count from 1.
    """
    watch = EarlyStopping(patience)
    for v in val_losses:
        watch.update(v)
        if watch.stop:
            break
    return watch.best_epoch, watch.epoch


# ------------------------------------------------------------------------- training


@dataclass
class Run:
    """One trained network and its per-epoch record.

    ``curves`` has the lists ``train_loss``, ``train_acc``, ``val_loss``, ``val_acc``
    (evaluation mode, after every epoch; the training set without shifts);
    ``best_epoch`` is the epoch of the lowest validation loss, ``epochs`` the epochs
    trained; ``test_accuracy`` is that of ``model`` as returned (with early stopping:
    the weights of the best epoch), ``test_accuracy_last`` that of the last epoch.
    """

    technique: Technique
    seed: int
    model: nn.Sequential
    curves: dict[str, list[float]] = field(default_factory=dict)
    best_epoch: int = 0
    epochs: int = 0
    test_accuracy: float = float("nan")
    test_accuracy_last: float = float("nan")


def train(
    data: RegSplit, t: Technique, *, epochs: int = EPOCHS, batch_size: int = BATCH, seed: int = 0
) -> Run:
    """Train `t`'s network on ``data``'s training set for `epochs` epochs (fewer with
    early stopping), with cross-entropy and mini-batches of `batch_size`.

    Each epoch is one call of :func:`dlkit.train.fit` (continuing the same run, so it
    shuffles as an uninterrupted run would); with ``t.max_shift`` the epoch trains on
    freshly shifted images, seeded by the epoch.
    """
    with _one_blas_thread():
        return _train(data, t, epochs=epochs, batch_size=batch_size, seed=seed)


def _one_blas_thread():
    """A context in which numpy's BLAS runs on one thread. The matrices of these small
    networks (at most B × 128 times 128 × 128) are too small for threads to pay; with
    one, a run takes the same time however busy the machine is with other work."""
    try:
        from threadpoolctl import threadpool_limits
    except ImportError:  # threadpoolctl comes with scikit-learn; without it, no limit
        return contextlib.nullcontext()
    return threadpool_limits(1, user_api="blas")


def _train(data: RegSplit, t: Technique, *, epochs: int, batch_size: int, seed: int) -> Run:
    model = build_model(t, data.X_train.shape[1], int(data.y_train.max()) + 1, seed=seed)
    opt = optim.get_optimizer(t.optimizer, model.parameters(), lr=t.lr, weight_decay=t.weight_decay)
    loss = nn.CrossEntropyLoss()
    run = Run(t, seed, model, {k: [] for k in ("train_loss", "train_acc", "val_loss", "val_acc")})
    watch = EarlyStopping(t.patience) if t.patience else None
    shifts = _rng(seed).spawn(1)[0]  # a stream of its own, apart from the batches' order
    best_state, hist = None, History()
    for epoch in range(epochs):
        X = data.X_train
        if t.max_shift:  # new shifted copies of the training images every epoch
            moved = shift_images(data.images_train, t.max_shift, seed=shifts, shape=(8, 8))
            X = data.standardize(moved)
        fit(
            model, loss, opt, X, data.y_train, epochs=epoch + 1, start_epoch=epoch,
            history=hist, batch_size=batch_size, seed=seed, classify=False,
        )  # fmt: skip
        _record(run, model, loss, data)
        if watch is not None:
            if watch.update(run.curves["val_loss"][-1]):
                best_state = model.state_dict()  # the best epoch so far: keep its weights
            if watch.stop:
                break
    run.epochs = len(run.curves["val_loss"])
    run.best_epoch = int(np.argmin(run.curves["val_loss"])) + 1
    run.test_accuracy_last = evaluate(model, loss, data.X_test, data.y_test)[1]
    if best_state is not None:
        model.load_state_dict(best_state)  # back to the best epoch
    run.test_accuracy = evaluate(model, loss, data.X_test, data.y_test)[1]
    return run


def _record(run: Run, model: nn.Sequential, loss, data: RegSplit) -> None:
    """Append the loss and accuracy on the training and validation sets (evaluation mode)."""
    for part, X, y in (("train", data.X_train, data.y_train), ("val", data.X_val, data.y_val)):
        part_loss, part_acc = evaluate(model, loss, X, y)
        run.curves[f"{part}_loss"].append(part_loss)
        run.curves[f"{part}_acc"].append(part_acc)


def compare(
    data: RegSplit,
    techniques: Sequence[Technique] = TECHNIQUES,
    seeds: Sequence[int] = (0, 1, 2),
    *,
    epochs: int = EPOCHS,
    batch_size: int = BATCH,
) -> dict[str, list[Run]]:
    """Train every technique from every seed: ``{technique name: [Run per seed]}``."""
    return {
        t.name: [train(data, t, epochs=epochs, batch_size=batch_size, seed=s) for s in seeds]
        for t in techniques
    }


def sweep(
    data: RegSplit,
    setting: str,
    values: Sequence[float],
    base: Technique = BASELINE,
    *,
    seed: int = 0,
    epochs: int = EPOCHS,
    batch_size: int = BATCH,
) -> dict[float, Run]:
    """`base` trained once (from `seed`) with each value of one setting, such as
    ``"weight_decay"`` or ``"keep"``: ``{value: Run}``."""
    if setting not in Technique.__dataclass_fields__ or setting == "name":
        raise ValueError(f"sweep: {setting!r} is not a setting of Technique")
    return {
        v: train(
            data,
            base.but(f"{setting}={v}", **{setting: v}),
            epochs=epochs,
            batch_size=batch_size,
            seed=seed,
        )  # fmt: skip
        for v in values
    }


def choose(runs: dict[float, Run]) -> float:
    """The value whose run has the highest validation accuracy at its last epoch (ties:
    the lower validation loss). The test set plays no part in the choice."""
    return max(runs, key=lambda v: (runs[v].curves["val_acc"][-1], -runs[v].curves["val_loss"][-1]))


def shifted_test_accuracy(run: Run, data: RegSplit, max_shift: int = 1, *, seed: int = 0) -> float:
    """The accuracy of ``run.model`` on the test images, each moved by a random shift of
    up to `max_shift` pixels (:func:`dlkit.data.shift_images`)."""
    shifted = shift_images(data.images_test, max_shift, seed=seed, shape=(8, 8))
    return evaluate(run.model, nn.CrossEntropyLoss(), data.standardize(shifted), data.y_test)[1]


# ------------------------------------------------------------------------- summaries


@dataclass(frozen=True)
class Summary:
    """The test accuracy of one technique over its seeds, and its best and last epochs."""

    name: str
    mean: float
    low: float
    high: float
    best_epoch: float
    epochs: float

    def text(self) -> str:
        """``"95.3% (94.9–95.8)"``: mean, lowest and highest, as percentages."""
        return f"{100 * self.mean:.1f}% ({100 * self.low:.1f}–{100 * self.high:.1f})"


def summarize(results: dict[str, list[Run]]) -> dict[str, Summary]:
    out = {}
    for name, runs in results.items():
        acc = np.array([r.test_accuracy for r in runs])
        out[name] = Summary(
            name,
            float(acc.mean()),
            float(acc.min()),
            float(acc.max()),
            float(np.mean([r.best_epoch for r in runs])),
            float(np.mean([r.epochs for r in runs])),
        )
    return out


def summary_table(summaries: dict[str, Summary], baseline: str = BASELINE.name) -> str:
    """Test accuracy of each technique: mean (lowest–highest) over the seeds, and the
    difference of the means from `baseline`, in percentage points."""
    base = summaries[baseline].mean
    lines = [f"{'technique':<22}{'test accuracy (min–max)':>26}{'vs plain':>10}", "-" * 58]
    for s in summaries.values():
        diff = "" if s.name == baseline else f"{100 * (s.mean - base):+.1f}"
        lines.append(f"{s.name:<22}{s.text():>26}{diff:>10}")
    return "\n".join(lines)


def weight_norm(model: nn.Layer) -> float:
    """‖W‖: the Euclidean norm of all the weight matrices of `model` together (the
    biases, and batch normalisation's w and b, left out)."""
    return float(
        np.sqrt(sum(np.sum(p.data**2) for k, p in model.named_parameters() if k.endswith("W")))
    )


# ------------------------------------------------------------------------- dropout


def dropout_average(
    a: Sequence[float] = (0.5, 1.0, 2.0, 3.0), q: float = 0.5, *, n_masks: int = 10_000, seed=0
) -> dict[str, np.ndarray | float]:
    """Inverted dropout on the activations `a`, with keep probability `q`, over
    `n_masks` independent masks.

    Returns the evaluation-mode output (``eval``: `a` itself), the mean training-mode
    output over the masks (``train_mean``: close to ``eval``, since every kept unit is
    divided by q), the values one unit takes (``values``: 0 and a/q), and the fraction
    of units kept (``kept``: close to q).
    """
    a = np.asarray(a, dtype=np.float64).reshape(1, -1)
    layer = nn.Dropout(round(1 - q, 12), seed=seed)
    out = layer.forward(np.repeat(a, n_masks, axis=0))  # one mask per row
    return {
        "eval": layer.eval().forward(a)[0],
        "train_mean": out.mean(axis=0),
        "values": np.unique(out[:, 0]),
        "kept": float((out != 0).mean()),
    }
