"""Mini-batches, the training loop, and the numbers that judge a classifier.

:func:`batches` yields mini-batches in a seeded random order; :func:`fit` runs
epochs of forward, loss, backward and optimizer step (chapter 4's mini-batch SGD:
each step follows the gradient ∇_θ𝓛 of the mean loss 𝓛 over the B examples of one
batch, θ ← θ − η ∇_θ𝓛) and returns
a :class:`History` of the loss and accuracy. Around that loop, small helpers show a
tqdm progress bar (:class:`_Progress`), stop with a :class:`DivergenceError` that
names the step and the layer when the loss becomes NaN or infinite
(:class:`_Divergence`), and save a checkpoint after every epoch and resume from it
(:func:`_save_checkpoint`, :func:`_start`).
:func:`predict`, :func:`accuracy` and :func:`confusion_matrix` score predictions;
:func:`gradient_norms` and :func:`training_memory` measure a backward pass.
"""

from __future__ import annotations

import os
import tracemalloc
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Callable, ClassVar, Iterator, Sequence

import numpy as np

from dlkit import checkpoint as _ckpt
from dlkit import rng as _rng
from dlkit.nn.core import Layer
from dlkit.nn.losses import Loss, MSELoss

if TYPE_CHECKING:
    from dlkit.nn.core import Sequential

__all__ = [
    "batches",
    "accuracy",
    "predict",
    "confusion_matrix",
    "History",
    "fit",
    "evaluate",
    "DivergenceError",
    "epoch_seed",
    "gradient_norms",
    "Memory",
    "training_memory",
    "MLPRun",
    "train_mlp",
]


def _check_count(who: str, name: str, value, low: int = 1) -> int:
    """An int >= `low`; a TypeError (bool, float...) or ValueError naming `name` if not."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, (int, np.integer)):
        raise TypeError(
            f"{who}: {name} must be an int >= {low}, got {value!r} ({type(value).__name__})"
        )
    if value < low:
        raise ValueError(f"{who}: {name} must be an int >= {low}, got {name}={value}")
    return int(value)


def _check_data(who: str, X, y, batch_size=None) -> int:
    """Check that X and y are non-empty arrays with one row per example; return N."""
    for name, a in (("X", X), ("y", y)):
        if not hasattr(a, "shape") or not hasattr(a, "__getitem__") or np.ndim(a) == 0:
            raise TypeError(
                f"{who}: {name} must be a numpy array with one row per example, "
                f"got {type(a).__name__}; use np.asarray({name})"
            )
    n = len(X)
    if len(y) != n:
        raise ValueError(
            f"{who}: X has {n} examples but y has {len(y)}; pass one target per example"
        )
    if n == 0:
        raise ValueError(f"{who}: got no examples (X has shape {X.shape}); pass at least one")
    if batch_size is not None:
        _check_count(who, "batch_size", batch_size)
    return n


_NO_LABELS = object()


def _check_scores(who: str, scores, y=_NO_LABELS) -> tuple[np.ndarray, np.ndarray | None]:
    """Scores (N, K) or (N,)/(N, 1), and labels y (N,) in [0, K) (or one-hot (N, K)).

    Returns the scores and y as a flat array of N labels.
    """
    scores = np.asarray(scores)
    if scores.dtype.kind not in "biuf":
        raise TypeError(f"{who}: scores must be real numbers, got dtype {scores.dtype}")
    if scores.dtype.kind == "f" and not np.isfinite(scores).all():
        raise ValueError(
            f"{who}: the scores hold NaN or inf; a network whose outputs are "
            "non-finite has diverged: lower the learning rate"
        )
    if scores.ndim not in (1, 2):
        raise ValueError(
            f"{who}: scores must be (N, K) class scores or (N,)/(N, 1) binary "
            f"scores, got shape {scores.shape}"
        )
    if len(scores) == 0:
        raise ValueError(
            f"{who}: got no examples (scores of shape {scores.shape}); pass at least one"
        )
    if y is _NO_LABELS:
        return scores, None
    y_in, y = y, np.asarray(y)
    if y.dtype.kind not in "biuf":
        raise TypeError(
            f"{who}: y must hold numbers (class labels), got "
            f"{type(y_in).__name__} of dtype {y.dtype}"
        )
    n, k = len(scores), scores.shape[1] if scores.ndim == 2 else 1
    if y.ndim == 2 and k > 1 and y.shape == scores.shape:
        y = y.argmax(axis=1)  # one-hot targets
    elif k > 1 and y.ndim != 1:
        raise ValueError(
            f"{who}: y must be labels (N,) or one-hot (N, {k}) for scores of shape "
            f"{scores.shape}, got shape {y.shape}; use y.reshape(-1)"
        )
    y = y.reshape(-1)
    if y.size != n:
        raise ValueError(
            f"{who}: scores of shape {scores.shape} are for {n} examples but y "
            f"holds {y.size} labels; pass one label per example"
        )
    if k > 1:
        if y.dtype.kind == "f" and np.any(y != np.floor(y)):
            raise ValueError(f"{who}: y must hold integer class labels, got {y.dtype} values")
        if y.min() < 0 or y.max() >= k:
            raise ValueError(
                f"{who}: labels must lie in [0, {k}) for {k} columns of scores, "
                f"got labels in [{y.min()}, {y.max()}]"
            )
    return scores, y


def batches(
    X: np.ndarray, y: np.ndarray, batch_size: int, *, shuffle: bool = True, seed=0
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """Yield mini-batches (X_batch, y_batch) of B = `batch_size` examples that cover
    the N examples of (X, y) once; the last batch is smaller when B does not divide N.

    The order is a permutation drawn from ``dlkit.rng(seed)``: the same seed gives the
    same batches on every machine (``shuffle=False`` keeps the order of X).
    """
    n = _check_data("batches", X, y, batch_size)
    order = _rng(seed).permutation(n) if shuffle else np.arange(n)
    for i in range(0, n, batch_size):
        idx = order[i : i + batch_size]
        yield X[idx], y[idx]


def predict(scores: np.ndarray) -> np.ndarray:
    """Predicted classes: argmax of (N, K) scores, or a 0.5 threshold on one column."""
    scores, _ = _check_scores("predict", scores)
    if scores.ndim == 2 and scores.shape[1] > 1:
        return scores.argmax(axis=1)
    return (scores.reshape(-1) >= 0.5).astype(np.int64)


def accuracy(scores: np.ndarray, y: np.ndarray) -> float:
    """Fraction of examples whose predicted class matches y.

    `scores` are logits/probabilities (N, K), or one column (N, 1)/(N,) thresholded
    at 0.5 for binary problems.
    """
    scores, y = _check_scores("accuracy", scores, y)
    return float(np.mean(predict(scores) == y))


def confusion_matrix(
    y_true: np.ndarray, y_pred: np.ndarray, num_classes: int | None = None
) -> np.ndarray:
    """C[i, j] = number of examples of true class i predicted as class j.

    `y_pred` may be labels (N,) or scores (N, K) (their argmax is taken). The diagonal
    holds the correct predictions, so ``C.trace() / C.sum()`` is the accuracy.
    """
    y_true, y_pred, num_classes = _check_confusion(y_true, y_pred, num_classes)
    C = np.zeros((num_classes, num_classes), dtype=np.int64)
    np.add.at(C, (y_true, y_pred), 1)
    return C


def _check_confusion(y_true, y_pred, num_classes) -> tuple[np.ndarray, np.ndarray, int]:
    """Flat integer labels y_true, y_pred (argmax of scores) and the number of classes."""
    y_true = np.asarray(y_true).reshape(-1)
    y_pred = np.asarray(y_pred)
    if y_pred.ndim == 2:
        if num_classes is None and y_pred.shape[1] > 1:
            num_classes = y_pred.shape[1]
        y_pred = predict(y_pred)
    y_pred = y_pred.reshape(-1)
    if y_true.shape != y_pred.shape:
        raise ValueError(f"confusion_matrix: {y_true.size} labels but {y_pred.size} predictions")
    if y_true.size == 0:
        raise ValueError("confusion_matrix: got no examples (empty labels); pass at least one")
    for name, a in (("y_true", y_true), ("y_pred", y_pred)):
        if a.dtype.kind not in "iu":
            raise ValueError(f"confusion_matrix: {name} must hold integer classes, got {a.dtype}")
        if a.min() < 0:
            raise ValueError(f"confusion_matrix: {name} has a negative class {a.min()}")
    if num_classes is not None:
        num_classes = _check_count("confusion_matrix", "num_classes", num_classes)
    else:
        num_classes = int(max(y_true.max(), y_pred.max())) + 1
    if max(y_true.max(), y_pred.max()) >= num_classes:
        raise ValueError(f"confusion_matrix: a class >= num_classes={num_classes}")
    return y_true, y_pred, num_classes


@dataclass
class History:
    """Per-epoch training record (plus the loss of every step in ``step_loss``)."""

    loss: list[float] = field(default_factory=list)
    accuracy: list[float] = field(default_factory=list)
    val_accuracy: list[float] = field(default_factory=list)
    val_loss: list[float] = field(default_factory=list)
    step_loss: list[float] = field(default_factory=list)
    #: The per-step :class:`dlkit.determinism.Trace` of ``fit(..., fingerprint=True)``
    #: (None otherwise): an attribute set by fit, not a per-epoch record, so it is not
    #: in :meth:`as_arrays`, checkpoints or comparisons.
    trace: ClassVar[object | None] = None

    @property
    def epochs(self) -> int:
        return len(self.loss)

    def _records(self) -> dict[str, list[float]]:
        return {k: v for k, v in vars(self).items() if k != "trace"}

    def as_arrays(self) -> dict[str, np.ndarray]:
        """Each record as a float64 array (for checkpoints and plots)."""
        return {k: np.asarray(v, dtype=np.float64) for k, v in self._records().items()}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray]) -> "History":
        """The History whose records are `arrays` (what :meth:`as_arrays` and
        :func:`dlkit.checkpoint.load` return); unknown keys are ignored."""
        names = set(cls()._records())
        return cls(**{k: [float(x) for x in v] for k, v in arrays.items() if k in names})

    def __repr__(self) -> str:
        last = ", ".join(
            f"{k}={v[-1]:.4f}" for k, v in self._records().items() if v and k != "step_loss"
        )
        return f"History({self.epochs} epochs{', ' if last else ''}{last})"


class DivergenceError(FloatingPointError):
    """Training diverged: the loss (or an activation) became NaN or infinite."""


def epoch_seed(seed: int, epoch: int) -> int:
    """The shuffling seed of `epoch`: epoch e of a run always sees the same batches."""
    _check_count("epoch_seed", "seed", seed, low=0)
    _check_count("epoch_seed", "epoch", epoch, low=0)
    return int(seed) * 100003 + int(epoch)


def gradient_norms(model: Layer) -> dict[str, float]:
    """‖∂𝓛/∂θ‖₂ of every parameter θ after the last backward, keyed ``"<layer>.<name>"``."""
    if not isinstance(model, Layer):
        raise TypeError(
            f"gradient_norms needs a dlkit Layer (the model after backward), got "
            f"{type(model).__name__}"
        )
    out = {}
    for name, p in model.named_parameters():
        with np.errstate(all="ignore"):
            out[name] = float(np.sqrt(np.sum(np.square(p.grad, dtype=np.float64))))
    return out


@dataclass
class Memory:
    """The bytes of one training step (one forward and one backward pass).

    The four categories count arrays, each array once, by its ``nbytes``:

    - D: the activations, the batch A^(1) = X and every layer's output (a Linear's
      Z^(j), its activation's A^(j), ..., the network's output): each layer's input and
      the network's output;
    - W: the parameters W^(j), b^(j);
    - ∇D: the gradients with respect to those activations, as the backward pass
      produces them: ∂𝓛/∂(the network's output), then δ^(j) and ∂𝓛/∂A^(j) below;
    - ∇W: the parameters' gradients ∂𝓛/∂W^(j), ∂𝓛/∂b^(j), the same size as W.

    ``total`` = D + W + ∇D + ∇W is every byte the step allocates, as if nothing were
    ever freed. ``peak`` (None when not measured) is measured: the most bytes live at
    one moment of the step. It is below the total, because each ∂𝓛/∂A^(j) is freed
    once the layer below has used it, and above W + ∇W + D in dlkit, whose layers keep
    what they saved for backward until the next forward pass.
    """

    D: int
    W: int
    dD: int
    dW: int
    peak: int | None = None

    @property
    def total(self) -> int:
        """D + W + ∇D + ∇W: the bytes of every array of the step, each counted once."""
        return self.D + self.W + self.dD + self.dW

    def __repr__(self) -> str:
        def mb(b: int) -> str:
            return f"{b / 2**20:.2f} MiB"

        peak = "" if self.peak is None else f", peak={mb(self.peak)}"
        return (
            f"Memory(D={mb(self.D)}, W={mb(self.W)}, ∇D={mb(self.dD)}, ∇W={mb(self.dW)}, "
            f"total={mb(self.total)}{peak})"
        )


def training_memory(
    model: Layer, X: np.ndarray, y: np.ndarray, loss_fn: Loss, *, peak: bool = True
) -> Memory:
    """Run one forward and backward pass of a Sequential `model` on the batch (X, y):
    count its bytes D, W, ∇D, ∇W (see :class:`Memory`) and measure its peak.

    D adds the ``nbytes`` of the batch A^(1) = X and of every layer's output as the
    forward pass produces it (a Linear's Z^(j), its activation's A^(j), ..., the
    network's output); ∇D those of every gradient the backward pass produces: from the
    loss ∂𝓛/∂(the output), then, layer by layer down, ∂𝓛/∂A^(j-1) from each Linear and
    δ^(j) = ∂𝓛/∂Z^(j) from each activation; W and ∇W those of the parameters W^(j),
    b^(j) and of their gradients. Each array is counted once, with its real dtype and
    shape. The peak is traced by :mod:`tracemalloc`, to which numpy reports every array
    it allocates: the most bytes the pass had allocated and not yet freed at one
    moment, plus W, ∇W and X, which live throughout (``peak=False`` skips it).
    """
    layers, X = getattr(model, "layers", [model]), np.asarray(X)
    params = model.parameters()
    W, dW = sum(p.data.nbytes for p in params), sum(p.grad.nbytes for p in params)
    D = dD = 0
    with _Traced(peak) as traced:
        A = X
        for layer in layers:  # forward: D counts A^(1) = X, then every layer's output
            D += A.nbytes
            A = layer.forward(A)
        D += A.nbytes
        loss_fn.forward(A, y)
        δ = loss_fn.backward()  # ∂𝓛/∂(the network's output)
        for layer in reversed(layers):  # backward: ∂𝓛/∂(each layer's input), down
            dD += δ.nbytes
            δ = layer.backward(δ)
        dD += 0 if δ is None else δ.nbytes  # None: a first layer with input_grad=False
    measured = None if traced.peak is None else W + dW + X.nbytes + traced.peak
    return Memory(D, W, dD, dW, measured)


class _Traced:
    """``with _Traced() as t:`` measures ``t.peak``, the most bytes allocated inside the
    block and not yet freed at one moment, by :mod:`tracemalloc` (numpy reports its
    arrays to it; memory allocated before the block, and its release, are not seen).
    ``_Traced(False)`` measures nothing and leaves ``t.peak`` None."""

    def __init__(self, measure: bool = True):
        self.measure, self.peak, self._started, self._base = measure, None, False, 0

    def __enter__(self) -> "_Traced":
        if self.measure:
            self._started = not tracemalloc.is_tracing()
            if self._started:
                tracemalloc.start()
            tracemalloc.reset_peak()
            self._base = tracemalloc.get_traced_memory()[0]
        return self

    def __exit__(self, *exc) -> bool:
        if self.measure:
            self.peak = max(tracemalloc.get_traced_memory()[1] - self._base, 0)
            if self._started:
                tracemalloc.stop()
        return False


def _diagnose(model: Layer, optimizer, what: str, step: int, epoch: int) -> DivergenceError:
    """Build the error for a blow-up: which layer's gradient (of the last step) is largest."""
    named = model.named_parameters() if hasattr(model, "named_parameters") else []
    worst, worst_norm = None, -1.0
    for name, p in named:
        with np.errstate(all="ignore"):
            norm = float(np.sqrt(np.sum(p.grad.astype(np.float64) ** 2)))
        if not np.isfinite(norm):
            norm = np.inf
        if norm > worst_norm:
            worst, worst_norm = name, norm
    layer_txt = ""
    if worst is not None:
        idx = worst.split(".")[0]
        layer = model.layers[int(idx)] if hasattr(model, "layers") and idx.isdigit() else model
        layer_txt = (
            f" The largest gradient of the previous step was in layer {idx} "
            f"({layer!r}), parameter {worst.split('.')[-1]}: norm {worst_norm:.3g}."
        )
    lr = getattr(optimizer, "lr", None)
    lr_txt = f"lr={lr:g}; try lr={lr / 10:g}" if lr else "a lower learning rate"
    return DivergenceError(
        f"training diverged at step {step} (epoch {epoch}): {what}.{layer_txt} "
        f"Lower the learning rate ({lr_txt}), scale the inputs to about [-1, 1], "
        "or check the initialisation."
    )


def evaluate(model: Layer, loss_fn: Loss, X: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(loss, accuracy) of `model` on (X, y) in eval mode."""
    _check_data("evaluate", np.asarray(X), np.asarray(y))
    model.eval()
    out = model.forward(X)
    return float(loss_fn.forward(out, y)), accuracy(out, y)


def _check_fit(
    model,
    loss_fn,
    optimizer,
    X,
    y,
    *,
    epochs,
    batch_size,
    seed,
    val,
    callback,
    checkpoint,
    start_epoch,
    history,
    **_other,
) -> None:
    """Refuse arguments with which fit would train nothing, or the wrong thing.

    Called as ``_check_fit(**locals())`` on fit's first line: it takes every argument
    of fit by name, and checks those that need it."""
    if not isinstance(model, Layer):
        raise TypeError(
            f"fit: model must be a dlkit Layer such as nn.mlp([64, 10]), got {type(model).__name__}"
        )
    if not (hasattr(loss_fn, "forward") and hasattr(loss_fn, "backward")):
        raise TypeError(
            f"fit: loss_fn must be a dlkit loss such as nn.CrossEntropyLoss(), got "
            f"{type(loss_fn).__name__}"
        )
    if not callable(getattr(optimizer, "step", None)):
        raise TypeError(
            f"fit: optimizer must have step(), e.g. SGD(model.parameters(), "
            f"lr=0.1), got {type(optimizer).__name__}"
        )
    _check_owner(model, optimizer)
    _check_data("fit", X, y, batch_size)
    _check_count("fit", "epochs", epochs)
    _check_count("fit", "start_epoch", start_epoch, low=0)
    if isinstance(seed, (bool, np.bool_)) or not isinstance(seed, (int, np.integer)):
        raise TypeError(
            f"fit: seed must be an int (epoch e shuffles with epoch_seed(seed, e)),"
            f" got {type(seed).__name__}"
        )
    if val is not None:
        if not isinstance(val, (tuple, list)) or len(val) != 2:
            raise TypeError(f"fit: val must be a pair (X_val, y_val), got {type(val).__name__}")
        _check_data("fit(val=...)", val[0], val[1])
    if callback is not None and not callable(callback):
        raise TypeError(
            f"fit: callback must be callable as callback(epoch, history), got "
            f"{type(callback).__name__}"
        )
    if history is not None and not isinstance(history, History):
        raise TypeError(f"fit: history must be a History, got {type(history).__name__}")
    if checkpoint is not None:
        _checkpoint_path(checkpoint)


def _check_owner(model: Layer, optimizer) -> None:
    """The optimizer must update exactly the model's parameters (the same arrays)."""
    params = getattr(optimizer, "params", None)
    if params is None:
        return
    named = model.named_parameters()
    mine = {id(p) for _, p in named}
    theirs = {id(p) for p in params}
    if mine != theirs:
        missing = [k for k, p in named if id(p) not in theirs]
        foreign = len(theirs - mine)
        raise ValueError(
            f"fit: the optimizer does not update this model's parameters ({foreign} of its "
            f"arrays are not the model's; the model's {missing[:4]}"
            f"{'...' if len(missing) > 4 else ''} are not in it): build it from this model, "
            f"e.g. {type(optimizer).__name__}(model.parameters(), lr=...)"
        )


def _checkpoint_path(checkpoint):
    return _ckpt.resolve(checkpoint)


def _resume(checkpoint, model: Layer, optimizer, seed: int) -> tuple[int, History]:
    """Load `checkpoint` into model and optimizer; return its epoch and History."""
    saved = _ckpt.read_meta(checkpoint)["seed"]
    if saved is not None and saved != int(seed):
        raise ValueError(
            f"fit: checkpoint {checkpoint} was saved by a run with seed={saved}, "
            f"but fit got seed={seed}: pass seed={saved} to continue that run"
        )
    meta = _ckpt.load(checkpoint, model, optimizer)
    arrays = meta["history"]
    return meta["epoch"], History() if arrays is None else History.from_arrays(arrays)


def _start(
    checkpoint,
    resume: bool,
    model: Layer,
    optimizer,
    seed: int,
    start_epoch: int,
    history: History | None,
) -> tuple[int, History]:
    """The first epoch and the History to extend: the checkpoint's when resuming from an
    existing one, else `start_epoch` and `history` (a new History if None)."""
    if checkpoint is not None and resume and _checkpoint_path(checkpoint).exists():
        return _resume(checkpoint, model, optimizer, seed)
    return start_epoch, History() if history is None else history


def _save_checkpoint(
    checkpoint, model: Layer, optimizer, epoch: int, hist: History, seed: int
) -> None:
    """After `epoch` epochs, write the checkpoint file (if fit was given one)."""
    if checkpoint is not None:
        _ckpt.save(checkpoint, model, optimizer, epoch=epoch, history=hist, seed=int(seed))


def _score_epoch(hist: History, model: Layer, loss_fn: Loss, X, y, val, classify: bool) -> None:
    """Append the end-of-epoch scores to `hist`: the training accuracy (if `classify`),
    and the validation loss (and accuracy) if `val` is given; the model is left in
    eval mode when anything was scored."""
    if classify:
        model.eval()
        hist.accuracy.append(accuracy(model.forward(X), y))
        if val is not None:
            v_loss, v_acc = evaluate(model, loss_fn, val[0], val[1])
            hist.val_loss.append(v_loss)
            hist.val_accuracy.append(v_acc)
    elif val is not None:
        model.eval()
        hist.val_loss.append(float(loss_fn.forward(model.forward(val[0]), val[1])))


class _Progress:
    """A tqdm progress bar over `total` steps (a widget in notebooks), or nothing.

    ``description`` names the bar ("fit", "CD-1 RBM(64, 32)"...), ``metric`` the number
    shown beside it. ``update(epoch, value)`` advances it by ``steps`` (default one) and
    shows the epoch and ``metric=value``; leaving the ``with`` block closes it, also when
    training raised. ``unit`` names what a step is, ``leave`` keeps the bar afterwards.
    """

    def __init__(
        self,
        show: bool,
        total: int,
        description: str = "fit",
        metric: str = "loss",
        *,
        unit: str = "step",
        leave: bool = True,
    ):
        self.bar, self.metric = None, metric
        if show:
            from tqdm.auto import tqdm

            self.bar = tqdm(total=total, desc=description, unit=unit, leave=leave)

    def update(self, epoch: int, value: float | None = None, steps: int = 1) -> None:
        if self.bar is not None:
            self.bar.update(steps)
            shown = {} if value is None else {self.metric: f"{value:.4f}"}
            self.bar.set_postfix(epoch=epoch + 1, **shown, refresh=False)

    def __enter__(self) -> "_Progress":
        return self

    def __exit__(self, *exc) -> None:
        if self.bar is not None:
            self.bar.close()


class _Divergence:
    """Turns a NaN or infinite loss, or activation, into a :class:`DivergenceError`.

    ``with watch(step, epoch, xb):`` around a step's forward pass turns the ValueError
    that :func:`dlkit.nn.check_array` raises for a non-finite activation into a
    DivergenceError when the batch `xb` itself is finite (a diverging update made it);
    ``watch.finite(loss)`` returns `loss` if it is finite and raises otherwise. The
    error names the step, the layer with the largest gradient and what to try.
    """

    def __init__(self, model: Layer, optimizer):
        self.model, self.optimizer = model, optimizer
        self.step, self.epoch, self.xb = 0, 0, None

    def __call__(self, step: int, epoch: int, xb) -> "_Divergence":
        self.step, self.epoch, self.xb = step, epoch, xb
        return self

    def finite(self, loss: float) -> float:
        if not np.isfinite(loss):
            raise _diagnose(
                self.model, self.optimizer, f"the loss is {loss}", self.step, self.epoch
            )
        return loss

    def __enter__(self) -> "_Divergence":
        return self

    def __exit__(self, kind, exc, tb) -> bool:
        if isinstance(exc, ValueError) and "non-finite" in str(exc) and np.isfinite(self.xb).all():
            raise _diagnose(
                self.model,
                self.optimizer,
                f"an activation became non-finite ({exc})",
                self.step,
                self.epoch,
            ) from exc
        return False


def _trace(fingerprint, hist: History, model: Layer, step: int):
    """The Trace that fit records into (``hist.trace``), with the parameters before
    `step` recorded; None when `fingerprint` is False."""
    if fingerprint is False or fingerprint is None:
        return None
    from dlkit.determinism import Trace

    if fingerprint is True:
        trace = hist.trace if isinstance(hist.trace, Trace) else Trace()
    elif isinstance(fingerprint, Trace):
        trace = fingerprint
    else:
        raise TypeError(
            f"fit: fingerprint must be True, False or a dlkit.determinism.Trace, got "
            f"{type(fingerprint).__name__}"
        )
    hist.trace = trace
    if not trace.steps or trace.steps[-1] != step:
        trace.record(step, model)
    return trace


def fit(
    model: Layer,
    loss_fn: Loss,
    optimizer,
    X: np.ndarray,
    y: np.ndarray,
    *,
    epochs: int = 1,
    batch_size: int | None = None,
    seed=0,
    classify: bool | None = None,
    val: tuple[np.ndarray, np.ndarray] | None = None,
    callback: Callable[[int, History], None] | None = None,
    progress: bool = False,
    checkpoint: str | os.PathLike | None = None,
    resume: bool = False,
    start_epoch: int = 0,
    history: History | None = None,
    fingerprint=False,
) -> History:
    """Train `model` by mini-batch gradient descent and return its History.

    Every step is chapter 4's SGD step on a mini-batch of B examples: forward, the
    batch's mean loss 𝓛, backward (chapter 5: every parameter's gradient ∇_θ𝓛 in its
    ``grad``), and the optimizer's update of θ from it (θ ← θ − η ∇_θ𝓛 for SGD with
    learning rate η = ``lr``; Adam and the others as in chapter 4).

    Parameters
    ----------
    X, y : the N training inputs (N, ...) and targets (N, ...).
    epochs : the epoch count to reach (a resumed run continues up to it).
    batch_size : B, the mini-batch size; None means full-batch gradient descent (B = N).
    seed : seeds the shuffling; epoch e uses seed ``epoch_seed(seed, e)`` so that runs
        (and runs resumed from a checkpoint) are reproducible.
    classify : record accuracy (default: True unless the loss is MSE).
    val : optional (X_val, y_val) scored after every epoch.
    callback : called as ``callback(epoch, history)`` after every epoch.
    progress : show a tqdm progress bar (a widget in notebooks) with the running loss.
    checkpoint : path of an ``.npz`` file written (atomically) after every epoch with
        the parameters, the optimizer state, the epoch and the history.
    resume : if `checkpoint` exists, load it and continue from its epoch.
    start_epoch, history : continue a run by hand from epoch `start_epoch`.
    fingerprint : True records a :class:`dlkit.determinism.Trace` of the parameters
        (a hash per tensor and its norm) before the first step and after every step, in
        ``history.trace``; pass a Trace (e.g. ``Trace(keep_params=True)``) to choose
        what it keeps. :func:`dlkit.determinism.first_divergence` compares two of them.
        Recording changes nothing in the training.

    Raises
    ------
    DivergenceError
        when the loss becomes NaN/infinite; the message gives the step, the layer
        with the largest gradient and what to try.
    """
    _check_fit(**locals())
    classify = not isinstance(loss_fn, MSELoss) if classify is None else classify
    start_epoch, hist = _start(checkpoint, resume, model, optimizer, seed, start_epoch, history)
    bs = len(X) if batch_size is None else batch_size
    steps_per_epoch = -(-len(X) // bs)
    step = start_epoch * steps_per_epoch  # steps taken so far
    watch = _Divergence(model, optimizer)  # NaN or inf -> DivergenceError
    trace = _trace(fingerprint, hist, model, step)  # None, or records every step
    with _Progress(progress, steps_per_epoch * max(epochs - start_epoch, 0)) as bar:
        for epoch in range(start_epoch, epochs):
            model.train()
            total = 0.0
            for xb, yb in batches(X, y, bs, seed=epoch_seed(seed, epoch)):
                step += 1
                with watch(step, epoch, xb):
                    loss = watch.finite(loss_fn.forward(model.forward(xb), yb))
                total += loss * len(xb)
                hist.step_loss.append(loss)
                model.backward(loss_fn.backward())  # ∇_θ𝓛 in every p.grad
                optimizer.step()  # θ ← θ − η ∇_θ𝓛 (or Adam's rule...)
                bar.update(epoch, loss)
                if trace is not None:
                    trace.record(step, model)
            hist.loss.append(total / len(X))  # the epoch's mean training loss
            _score_epoch(hist, model, loss_fn, X, y, val, classify)
            _save_checkpoint(checkpoint, model, optimizer, epoch + 1, hist, seed)
            if callback is not None:
                callback(epoch, hist)
    return hist


# ------------------------------------------------------------ a complete recipe


@dataclass
class MLPRun:
    """A trained MLP, its history, and its test scores/accuracy."""

    model: "Sequential"
    history: History
    scores: np.ndarray
    test_accuracy: float
    optimizer: object


def _check_split(who: str, split) -> None:
    """`split` has X_train, y_train, X_test, y_test: flat inputs (N, features) and one
    integer label per example, as :func:`dlkit.data.load_digits` returns them."""
    parts = ("X_train", "y_train", "X_test", "y_test")
    if not all(hasattr(split, name) for name in parts):
        raise TypeError(
            f"{who}: split must be a Split with {', '.join(parts)} (e.g. "
            f"dlkit.data.load_digits()), got {split!r}"
        )
    for X, y, what in (
        (split.X_train, split.y_train, "train"),
        (split.X_test, split.y_test, "test"),
    ):
        _check_data(f"{who} ({what} split)", X, y)
        if np.ndim(X) != 2:
            raise ValueError(
                f"{who}: the {what} inputs have shape {np.shape(X)}; an MLP needs "
                "flat rows (N, features): use load_digits(flat=True) or "
                "X.reshape(len(X), -1)"
            )
        if np.asarray(y).dtype.kind not in "iu":
            raise TypeError(
                f"{who}: the {what} labels have dtype {np.asarray(y).dtype}; pass "
                "integer class labels (N,)"
            )


def train_mlp(
    split,
    hidden: Sequence[int] = (100,),
    *,
    optimizer: str = "adam",
    lr: float = 1e-3,
    epochs: int = 20,
    batch_size: int = 32,
    seed: int = 0,
    activation: str = "relu",
    dtype=None,
    scale_inputs: bool = True,
    progress: bool = False,
    **opt_kwargs,
) -> MLPRun:
    """Train ``mlp([n_in, *hidden, 10])`` on `split` (digits or MNIST) with cross-entropy.

    `optimizer` is a name from :data:`dlkit.optim.OPTIMIZERS`; extra keyword arguments
    (momentum, weight_decay...) go to it. ``scale_inputs`` applies :func:`dlkit.data.standardize`
    first. `dtype` defaults to the split's own (float64 for the digits, float32 for
    MNIST). The test split is scored after every epoch (``history.val_accuracy``).
    """
    _check_split("train_mlp", split)
    if dtype is None:
        dtype = split.X_train.dtype if split.X_train.dtype.kind == "f" else np.float64
    if scale_inputs:
        from dlkit.data.preprocess import standardize

        split = standardize(split)
    X, y, Xt, yt = split
    X, Xt = np.asarray(X, dtype), np.asarray(Xt, dtype)
    K = int(max(y.max(), yt.max())) + 1
    from dlkit import nn, optim

    model = nn.mlp([X.shape[1], *hidden, K], activation, seed=seed, dtype=dtype)
    opt = optim.get_optimizer(optimizer, model.parameters(), lr=lr, **opt_kwargs)
    hist = fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        val=(Xt, yt),
        progress=progress,
    )
    model.eval()
    scores = model.forward(Xt)
    return MLPRun(model, hist, scores, accuracy(scores, yt), opt)
