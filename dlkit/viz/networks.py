"""Figures and the explorer of chapter 3, *Feedforward networks*.

- :func:`draw_network`: a network diagram from its layer sizes (units a_i^(j), bias
  units, the weight matrices Θ^(j)), drawn with matplotlib alone.
- :func:`activation_gallery`: g(z) and g'(z) for sigmoid, tanh, ReLU, leaky ReLU and ELU,
  and a maxout unit as the maximum of linear pieces.
- :func:`decision_boundary`: the regions any model with ``.forward`` assigns to each
  class of a 2-D problem; :func:`train_boundary` trains a small network and keeps
  snapshots of its boundary during training, :func:`plot_snapshots` draws them.
- :func:`fit_1d` and :func:`plot_function_fits`: one-hidden-layer networks of growing
  width fitted to a 1-D function.
- :func:`boundary_explorer`: the ipywidgets explorer (activation, width, depth ->
  a freshly trained, seeded network and its decision boundary).

The training helpers live here because they exist to be drawn; they only call
:func:`dlkit.nn.mlp`, :func:`dlkit.train.fit` and :class:`dlkit.optim.SGD`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Circle, FancyBboxPatch

from dlkit import nn
from dlkit.optim import SGD
from dlkit.train import History, accuracy, fit

#: Class colours (light for regions, dark for points), colour-blind friendly.
REGION_COLORS = ["#a6cee3", "#fdbf6f", "#b2df8a", "#fb9a99", "#cab2d6"]
POINT_COLORS = ["#1f78b4", "#ff7f00", "#33a02c", "#e31a1c", "#6a3d9a"]

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")


# --------------------------------------------------------------------------- diagram

def draw_network(sizes: Sequence[int], ax=None, *, bias: bool = True, max_units: int = 6,
                 title: str | None = None):
    """Draw a fully connected network with layer sizes s_1, ..., s_L.

    Every unit of layer j is labelled a_i^(j); each layer but the last has a bias unit
    "+1" (a_0^(j)) drawn as a square; the edges into layer j+1 are labelled Θ^(j) with
    its shape s_{j+1} × (s_j + 1). Layers larger than `max_units` show their first
    units, a "⋮" and their last unit.

    Returns the matplotlib Figure.
    """
    sizes = [int(s) for s in sizes]
    if len(sizes) < 2 or min(sizes) < 1:
        raise ValueError(f"draw_network needs at least two positive layer sizes, got {sizes}")
    L = len(sizes)

    def shown(s: int) -> list[int | None]:
        # Unit indices drawn for a layer of s units; None marks the gap.
        if s <= max_units:
            return list(range(1, s + 1))
        return list(range(1, max_units - 1)) + [None, s]

    rows = max(len(shown(s)) + (1 if bias else 0) for s in sizes)
    r, dx = 0.36, 2.6  # unit radius, distance between layers (unit spacing is 1)
    if ax is None:
        fig, ax = plt.subplots(figsize=(0.62 * (dx * (L - 1) + 2.2), 0.62 * (rows + 3.2)))
    else:
        fig = ax.figure
    pos: dict[tuple[int, int], tuple[float, float]] = {}   # (j, i) -> centre; i = 0 is bias
    for j, s in enumerate(sizes, start=1):
        units = shown(s)
        has_bias = bias and j < L
        n = len(units) + has_bias
        top = (n - 1) / 2
        x = dx * (j - 1)
        k = 0
        if has_bias:
            pos[(j, 0)] = (x, top)
            k = 1
        for i in units:
            y = top - k
            k += 1
            if i is None:
                ax.text(x, y, "⋮", ha="center", va="center", fontsize=16, color="#555")
            else:
                pos[(j, i)] = (x, y)
    # edges first, so nodes cover them
    for j in range(1, L):
        src = [key for key in pos if key[0] == j]
        dst = [key for key in pos if key[0] == j + 1 and key[1] != 0]
        for a in src:
            for b in dst:
                (x0, y0), (x1, y1) = pos[a], pos[b]
                ax.plot([x0 + r, x1 - r], [y0, y1], color="#999" if a[1] else "#d08c60",
                        lw=0.7, zorder=1)
        xm = dx * (j - 0.5)
        ytop = max(pos[k][1] for k in src + dst) + 0.65
        ax.text(xm, ytop, rf"$\Theta^{{({j})}}$", ha="center", va="bottom", fontsize=13)
        shape = f"{sizes[j]}×{sizes[j - 1] + 1}" if bias else f"{sizes[j]}×{sizes[j - 1]}"
        ax.text(xm, ytop - 0.05, shape, ha="center", va="top", fontsize=8, color="#555")
    for (j, i), (x, y) in pos.items():
        if i == 0:
            ax.add_patch(FancyBboxPatch((x - r, y - r), 2 * r, 2 * r,
                                        boxstyle="round,pad=0.02", fc="#fde0c5", ec="#d08c60",
                                        zorder=2))
            ax.text(x, y, "+1", ha="center", va="center", fontsize=9, zorder=3)
        else:
            face = "#dbe9f6" if j == 1 else ("#e6f5d0" if j == L else "#ffffff")
            ax.add_patch(Circle((x, y), r, fc=face, ec="#333", zorder=2))
            small = len(f"{i}{j}") > 3
            ax.text(x, y, rf"$a_{{{i}}}^{{({j})}}$", ha="center", va="center",
                    fontsize=7.5 if small else 9.5, zorder=3)
    for j, s in enumerate(sizes, start=1):
        name = "input" if j == 1 else ("output" if j == L else "hidden")
        ax.text(dx * (j - 1), -(rows - 1) / 2 - 0.75, f"layer {j}\n{name}, $s_{{{j}}}={s}$",
                ha="center", va="top", fontsize=9)
    ax.set_xlim(-1.1, dx * (L - 1) + 1.1)
    ax.set_ylim(-(rows - 1) / 2 - 1.6, (rows - 1) / 2 + 1.2)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- activations

def activation_gallery(names: Sequence[str] = ACTIVATION_NAMES,
                       *, z: np.ndarray | None = None, maxout: bool = True):
    """g(z) (solid) and g'(z) (dashed) for each activation, plus a maxout panel.

    The values come from :data:`dlkit.nn.ACTIVATIONS` (the functions the layers use);
    the maxout panel evaluates a :class:`dlkit.nn.Maxout` unit with k = 3 pieces.
    Returns the Figure.
    """
    z = np.linspace(-4, 4, 401) if z is None else np.asarray(z, dtype=np.float64)
    n = len(names) + (1 if maxout else 0)
    cols = 3
    rows = -(-n // cols)
    fig, axes = plt.subplots(rows, cols, figsize=(3.4 * cols, 2.6 * rows), squeeze=False)
    for ax, name in zip(axes.flat, names):
        g, gp = nn.ACTIVATIONS[name]
        ax.plot(z, g(z), color="#1f78b4", lw=2, label="$g(z)$")
        ax.plot(z, gp(z), color="#e31a1c", lw=1.5, ls="--", label="$g'(z)$")
        ax.set_title(name)
        _axes_cross(ax)
    if maxout:
        ax = axes.flat[len(names)]
        unit = maxout_unit()
        pieces = z[:, None] * unit.W.data[0, :, 0] + unit.b.data[0]
        for k in range(pieces.shape[1]):
            ax.plot(z, pieces[:, k], color="#999", lw=1, ls=":")
        ax.plot(z, unit.forward(z[:, None])[:, 0], color="#6a3d9a", lw=2,
                label=r"$\max_k(w_k z + b_k)$")
        ax.set_ylim(-2, 4.5)
        ax.set_title("maxout, k = 3 pieces")
        _axes_cross(ax)
    for ax in axes.flat[n:]:
        ax.axis("off")
    axes.flat[0].legend(loc="upper left", fontsize=8)
    if maxout:
        axes.flat[len(names)].legend(loc="lower right", fontsize=8)
    fig.tight_layout()
    return fig


def maxout_unit() -> "nn.Maxout":
    """A one-input maxout unit with pieces -z - 1, 0.25 z and 1.2 z - 1.5 (a convex curve)."""
    unit = nn.Maxout(1, 1, k=3, seed=0)
    unit.W.data[...] = np.array([-1.0, 0.25, 1.2]).reshape(1, 3, 1)
    unit.b.data[...] = np.array([[-1.0, 0.0, -1.5]])
    return unit


def _axes_cross(ax) -> None:
    ax.axhline(0, color="#ccc", lw=0.8, zorder=0)
    ax.axvline(0, color="#ccc", lw=0.8, zorder=0)
    ax.grid(alpha=0.25)


# --------------------------------------------------------------------------- boundaries

def _grid(X: np.ndarray, resolution: int, margin: float = 0.25):
    lo, hi = X.min(axis=0) - margin, X.max(axis=0) + margin
    xs = np.linspace(lo[0], hi[0], resolution)
    ys = np.linspace(lo[1], hi[1], resolution)
    xx, yy = np.meshgrid(xs, ys)
    return xx, yy, np.column_stack([xx.ravel(), yy.ravel()])


def predict_classes(scores: np.ndarray) -> np.ndarray:
    """Class per row: argmax of (N, K) scores, or a (N, 1)/(N,) score thresholded at 0.5.

    The same rule as :func:`dlkit.train.accuracy`.
    """
    scores = np.asarray(scores)
    if scores.ndim == 2 and scores.shape[1] > 1:
        return scores.argmax(axis=1)
    return (scores.reshape(-1) >= 0.5).astype(np.int64)


def decision_boundary(model, X: np.ndarray, y: np.ndarray, ax=None, *, resolution: int = 200,
                      title: str | None = None, classes: np.ndarray | None = None):
    """Colour the plane by the class `model` predicts, and draw the data on top.

    Parameters
    ----------
    model : anything with ``forward(X)`` mapping (M, 2) points to scores (M, K) or (M, 1).
    X : (N, 2) points; y : (N,) integer labels.
    classes : optional precomputed class grid of shape (resolution, resolution), e.g. a
        snapshot from :func:`train_boundary` (then `model` may be None).

    Returns the Figure.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary draws 2-D data: X must be (N, 2), got {X.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(4, 4))
    else:
        fig = ax.figure
    xx, yy, grid = _grid(X, resolution)
    if classes is None:
        if hasattr(model, "eval"):
            model.eval()
        classes = predict_classes(model.forward(grid)).reshape(xx.shape)
    K = int(max(np.max(y), np.max(classes))) + 1
    ax.contourf(xx, yy, classes, levels=np.arange(K + 1) - 0.5,
                cmap=ListedColormap(REGION_COLORS[:K]), alpha=0.9)
    ax.scatter(X[:, 0], X[:, 1], c=[POINT_COLORS[k] for k in y], s=12, edgecolors="white",
               linewidths=0.4)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


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


def train_boundary(X: np.ndarray, y: np.ndarray, hidden: Sequence[int] = (32, 32),
                   activation: str = "relu", *, lr: float = 0.2, epochs: int = 1000,
                   batch_size: int | None = None, snapshots: Sequence[int] = (),
                   resolution: int = 120, seed: int = 0) -> BoundaryRun:
    """Train ``mlp([2, *hidden, K], activation)`` with softmax cross-entropy and SGD.

    Parameters
    ----------
    X, y : (N, 2) points and (N,) labels in {0, ..., K-1}.
    hidden : sizes of the hidden layers, e.g. (32, 32) = two layers of 32 units.
    lr, epochs, batch_size : plain SGD; batch_size None means full-batch gradient descent.
    snapshots : epochs after which to record loss, accuracy and the predicted class on a
        `resolution` × `resolution` grid; 0 records the untrained network.
    seed : seeds the weights (layer i gets seed + i) and the batch order.

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
    _, _, grid = _grid(X, resolution)
    shots: list[Snapshot] = []

    def record(epoch: int, loss: float, acc: float) -> None:
        model.eval()
        cls = predict_classes(model.forward(grid)).reshape(resolution, resolution)
        shots.append(Snapshot(epoch, loss, acc, cls))

    if 0 in want:
        model.eval()
        scores = model.forward(X)
        record(0, loss_fn.forward(scores, y), accuracy(scores, y))

    def callback(e: int, hist: History) -> None:
        if e + 1 in want:
            record(e + 1, hist.loss[-1], hist.accuracy[-1])

    hist = fit(model, loss_fn, SGD(model.parameters(), lr=lr), X, y, epochs=epochs,
               batch_size=batch_size, seed=seed, classify=True, callback=callback)
    return BoundaryRun(model, hist, shots, resolution)


def plot_snapshots(run: BoundaryRun, X: np.ndarray, y: np.ndarray):
    """One panel per snapshot of `run`: the boundary, its epoch, loss and accuracy."""
    n = len(run.snapshots)
    if n == 0:
        raise ValueError("this run has no snapshots: pass snapshots=(...) to train_boundary")
    fig, axes = plt.subplots(1, n, figsize=(2.9 * n, 3.5), squeeze=False)
    for ax, s in zip(axes[0], run.snapshots):
        decision_boundary(None, X, y, ax, resolution=run.resolution, classes=s.classes,
                          title=f"epoch {s.epoch}\nloss {s.loss:.3f}, acc {s.accuracy:.3f}")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- 1-D fits

@dataclass
class FunctionFits:
    """Networks of several widths fitted to the same 1-D function."""

    x: np.ndarray                    # (n, 1) training inputs
    y: np.ndarray                    # (n, 1) targets f(x)
    widths: list[int]
    predictions: dict[int, np.ndarray]  # width -> (n, 1) network output
    mse: dict[int, float]               # width -> mean of (ŷ - y)^2 over the n points
    models: dict[int, nn.Sequential]


def fit_1d(widths: Sequence[int] = (1, 2, 4, 8, 32), f: Callable = np.sin, *,
           interval: tuple[float, float] = (-np.pi, np.pi), n: int = 64,
           activation: str = "tanh", lr: float = 0.2, epochs: int = 600,
           decay_epochs: int = 150, batch_size: int = 16, seed: int = 0) -> FunctionFits:
    """Fit ``mlp([1, w, 1], activation)`` to y = f(x) for each width w, by the same recipe.

    Mini-batch SGD on the loss MSELoss (½ squared error): `epochs` epochs at `lr`, then
    `decay_epochs` more at lr / 10 so the final weights are not left jittering at the
    end of a noisy step. x is `n` evenly spaced points of `interval`.

    Returns a :class:`FunctionFits` whose ``mse[w]`` is the mean squared error
    (1/n) Σ (ŷ_i - y_i)² of the width-w network on the training points.
    """
    x = np.linspace(interval[0], interval[1], n)[:, None]
    y = np.asarray(f(x), dtype=np.float64).reshape(n, 1)
    preds, mse, models = {}, {}, {}
    for w in widths:
        model = nn.mlp([1, int(w), 1], activation, seed=seed)
        opt = SGD(model.parameters(), lr=lr)
        fit(model, nn.MSELoss(), opt, x, y, epochs=epochs, batch_size=batch_size, seed=seed)
        if decay_epochs:
            opt.lr = lr / 10
            fit(model, nn.MSELoss(), opt, x, y, epochs=decay_epochs, batch_size=batch_size,
                seed=seed + 1)
        model.eval()
        preds[int(w)] = model.forward(x)
        mse[int(w)] = float(np.mean((preds[int(w)] - y) ** 2))
        models[int(w)] = model
    return FunctionFits(x, y, [int(w) for w in widths], preds, mse, models)


def plot_function_fits(fits: FunctionFits, name: str = r"$\sin x$"):
    """Left: the target and each width's fit. Right: the error against width (log-log)."""
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6),
                                  gridspec_kw={"width_ratios": [1.7, 1]})
    ax.plot(fits.x[:, 0], fits.y[:, 0], color="black", lw=3, alpha=0.3, label=name)
    cmap = plt.get_cmap("viridis")
    for i, w in enumerate(fits.widths):
        ax.plot(fits.x[:, 0], fits.predictions[w][:, 0], color=cmap(i / max(1, len(fits.widths) - 1)),
                lw=1.5, label=f"{w} hidden unit{'s' if w > 1 else ''}")
    ax.legend(fontsize=8, loc="upper left")
    ax.set_xlabel("$x$")
    ax.grid(alpha=0.25)
    ax2.loglog(fits.widths, [fits.mse[w] for w in fits.widths], "o-", color="#6a3d9a")
    ax2.set_xlabel("hidden units")
    ax2.set_ylabel("mean squared error")
    ax2.set_xticks(fits.widths)
    ax2.set_xticklabels([str(w) for w in fits.widths])
    ax2.grid(alpha=0.25, which="both")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- explorer

def _dataset(name: str):
    from dlkit import data

    makers = {"moons": lambda: data.moons(200, noise=0.1, seed=0),
              "circles": lambda: data.circles(200, noise=0.08, seed=0),
              "spirals": lambda: data.spirals(300, classes=3, noise=0.2, seed=0)}
    if name not in makers:
        raise ValueError(f"unknown dataset {name!r}: choose one of {', '.join(makers)}")
    return makers[name]()


def boundary_explorer(dataset: str = "spirals", activation: str = "relu", width: int = 16,
                      depth: int = 2, *, epochs: int = 600, lr: float = 0.2, seed: int = 0):
    """Widget: pick the data, activation, width and depth; see the trained boundary.

    Every change trains a fresh seeded ``mlp([2, width, ..., width, K], activation)``
    (`depth` hidden layers) with full-batch SGD for `epochs` epochs, then draws its
    decision boundary with the final loss and accuracy. The first view is drawn when
    the widget is created, so a saved notebook shows it.

    Returns an ``ipywidgets.VBox``.
    """
    import base64
    import io

    import ipywidgets as w

    widths = [1, 2, 4, 8, 16, 32]
    if width not in widths:
        raise ValueError(f"boundary_explorer: width must be one of {widths}, got {width!r}")
    if depth not in (1, 2, 3):
        raise ValueError(f"boundary_explorer: depth must be 1, 2 or 3, got {depth!r}")
    _dataset(dataset)  # fails early, naming the choices, for an unknown data set
    nn.get_activation(activation)  # the same for an unknown activation
    ds = w.Dropdown(options=["moons", "circles", "spirals"], value=dataset,
                    description="data")
    act = w.Dropdown(options=list(ACTIVATION_NAMES), value=activation, description="activation")
    wid = w.SelectionSlider(options=widths, value=width, description="width",
                            continuous_update=False)
    dep = w.IntSlider(value=depth, min=1, max=3, description="depth", continuous_update=False)
    out = w.Output()

    def draw(*_):
        X, y = _dataset(ds.value)
        run = train_boundary(X, y, [wid.value] * dep.value, act.value, lr=lr, epochs=epochs,
                             seed=seed, resolution=100)
        sizes = [2] + [wid.value] * dep.value + [int(y.max()) + 1]
        fig, ax = plt.subplots(figsize=(4.6, 4.6))
        decision_boundary(run.model, X, y, ax, resolution=100,
                          title=f"{'-'.join(map(str, sizes))} {act.value}, {epochs} epochs\n"
                                f"loss {run.history.loss[-1]:.3f}, "
                                f"training accuracy {run.accuracy:.3f}")
        buf = io.BytesIO()
        fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
        plt.close(fig)
        # The PNG is set as the Output widget's content (its synced `outputs`), not sent
        # with display(): the picture lives in the widget state, so a saved notebook shows
        # it, and nothing leaks into the cell's own output, whatever runs the kernel.
        out.outputs = ({"output_type": "display_data", "metadata": {},
                        "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                                 "text/plain": "decision boundary"}},)

    for c in (ds, act, wid, dep):
        c.observe(draw, names="value")
    draw()
    return w.VBox([w.HBox([ds, act]), w.HBox([wid, dep]), out])
