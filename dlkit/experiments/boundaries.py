"""Decision boundaries of small networks on 2-D data (chapter 3, *Feedforward networks*).

- :func:`plane_grid`: the resolution × resolution points around a data set at which
  a boundary is evaluated; :func:`plane_classes`: the class a model predicts there;
- :func:`train_boundary`: trains ``mlp([2, *hidden, K])`` and keeps snapshots of its
  boundary during training (a :class:`BoundaryRun`);
- :func:`boundary_dataset`: the data sets of the chapter's explorer (:data:`DATASETS`).

:mod:`dlkit.viz.networks` draws the results (``decision_boundary``,
``plot_snapshots``, ``boundary_explorer``).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from dlkit import nn
from dlkit.optim import SGD
from dlkit.train import History, accuracy, fit, predict

#: The 2-D data sets offered by the explorer, in the order of its dropdown.
DATASETS = ("moons", "circles", "spirals")


def plane_grid(X: np.ndarray, resolution: int, margin: float = 0.25):
    """A resolution × resolution grid over the box around the points X, widened by `margin`.

    Returns ``(xx, yy, grid)``: the two coordinate arrays of shape
    (resolution, resolution) and the grid as (resolution², 2) points, row by row.
    """
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xs = np.linspace(lo[0], hi[0], resolution)
    ys = np.linspace(lo[1], hi[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def plane_classes(model, grid: np.ndarray, shape: tuple[int, int]) -> np.ndarray:
    """The class `model` predicts (:func:`dlkit.train.predict`) at every point of `grid`,
    in evaluation mode, reshaped to `shape`."""
    if hasattr(model, "eval"):
        model.eval()
    return predict(model.forward(grid)).reshape(shape)


@dataclass
class Snapshot:
    """The model's view of the plane after `epoch` epochs (0 = before training)."""

    epoch: int
    loss: float
    accuracy: float
    classes: np.ndarray  # (resolution, resolution) predicted class on the grid


@dataclass
class BoundaryRun:
    """A trained classifier of a 2-D problem and snapshots of its boundary."""

    model: nn.Sequential
    history: History
    snapshots: list[Snapshot] = field(default_factory=list)
    resolution: int = 120

    @property
    def accuracy(self) -> float:
        """Training accuracy after the last epoch."""
        return self.history.accuracy[-1]


def train_boundary(
    X: np.ndarray,
    y: np.ndarray,
    hidden: Sequence[int] = (32, 32),
    activation: str = "relu",
    *,
    lr: float = 0.2,
    epochs: int = 1000,
    batch_size: int | None = None,
    snapshots: Sequence[int] = (),
    resolution: int = 120,
    seed: int = 0,
) -> BoundaryRun:
    """Train ``mlp([2, *hidden, K], activation)`` with softmax cross-entropy and SGD.

    The network has L = len(hidden) + 2 layers of widths s_1 = 2, s_2, ..., s_{L-1} =
    `hidden`, s_L = K (the number of classes).

    Parameters
    ----------
    X, y : (N, 2) points and (N,) labels in {0, ..., K-1}.
    hidden : the hidden widths s_2, ..., s_{L-1}, e.g. (32, 32) = two layers of 32 units.
    activation : g of the hidden layers; the output layer gives the scores z^(L).
    lr, epochs, batch_size : plain SGD with learning rate η = `lr` and batch size
        B = `batch_size`; None means full-batch gradient descent (B = N).
    snapshots : epochs after which to record the loss 𝓛, the accuracy and the predicted
        class on a `resolution` × `resolution` grid; 0 records the untrained network.
    seed : seeds the weights (the Linear layer computing layer j gets seed + j - 2) and
        the batch order.

    Returns a :class:`BoundaryRun`.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    K = int(y.max()) + 1
    model = nn.mlp([2, *hidden, K], activation, seed=seed)
    loss_fn = nn.CrossEntropyLoss()
    want = set(int(e) for e in snapshots)
    bad = [e for e in want if not 0 <= e <= epochs]
    if bad:
        raise ValueError(f"snapshot epochs must lie in [0, {epochs}], got {sorted(bad)}")
    _, _, grid = plane_grid(X, resolution)
    shots: list[Snapshot] = []

    def record(epoch: int, loss: float, acc: float) -> None:
        cls = plane_classes(model, grid, (resolution, resolution))
        shots.append(Snapshot(epoch, loss, acc, cls))

    if 0 in want:
        model.eval()
        scores = model.forward(X)
        record(0, loss_fn.forward(scores, y), accuracy(scores, y))

    def callback(e: int, hist: History) -> None:
        if e + 1 in want:
            record(e + 1, hist.loss[-1], hist.accuracy[-1])

    hist = fit(
        model,
        loss_fn,
        SGD(model.parameters(), lr=lr),
        X,
        y,
        epochs=epochs,
        batch_size=batch_size,
        seed=seed,
        classify=True,
        callback=callback,
    )
    return BoundaryRun(model, hist, shots, resolution)


def boundary_dataset(name: str) -> tuple[np.ndarray, np.ndarray]:
    """The explorer's data set `name` (one of :data:`DATASETS`), seeded: (X, y)."""
    from dlkit import data

    makers = {
        "moons": lambda: data.moons(200, noise=0.1, seed=0),
        "circles": lambda: data.circles(200, noise=0.08, seed=0),
        "spirals": lambda: data.spirals(300, classes=3, noise=0.2, seed=0),
    }
    if name not in makers:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(makers)}")
    return makers[name]()
