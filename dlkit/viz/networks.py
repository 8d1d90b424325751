"""Figures and the explorer of chapter 3, *Feedforward networks*.

- :func:`draw_network`: a network diagram from its layer sizes (units a_i^(j), bias
  units, the matrix Θ^(j) = [b^(j) | W^(j)] into each layer j), drawn with matplotlib
  alone.
- :func:`activation_gallery`: g(z) and g'(z) for sigmoid, tanh, ReLU, leaky ReLU and ELU,
  and a maxout unit as the maximum of linear pieces.
- :func:`decision_boundary`: the regions any model with ``.forward`` assigns to each
  class of a 2-D problem; :func:`plot_snapshots` draws the snapshots of a run of
  :func:`dlkit.experiments.boundaries.train_boundary`.
- :func:`plot_function_fits`: the fits of :func:`dlkit.experiments.approximation.fit_1d`.
- :func:`boundary_explorer`: the ipywidgets explorer (activation, width, depth ->
  a freshly trained, seeded network and its decision boundary).

The training runs are in :mod:`dlkit.experiments`; their old names here
(``train_boundary``, ``fit_1d``...) still work, listed in ``_MOVED``.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.patches import Circle, FancyBboxPatch

from dlkit.aliases import moved
from dlkit import nn
from dlkit.train import predict
from dlkit.viz.display import show_in

#: Names that moved to :mod:`dlkit.experiments`: name -> the module that holds it now,
#: served lazily by :func:`__getattr__`.
_MOVED = {
    "Snapshot": "dlkit.experiments.boundaries",
    "BoundaryRun": "dlkit.experiments.boundaries",
    "train_boundary": "dlkit.experiments.boundaries",
    "FunctionFits": "dlkit.experiments.approximation",
    "fit_1d": "dlkit.experiments.approximation",
}

#: The class of each row of scores: :func:`dlkit.train.predict`, under its old name here.
predict_classes = predict

#: Class colours (light for regions, dark for points), colour-blind friendly.
REGION_COLORS = ["#a6cee3", "#fdbf6f", "#b2df8a", "#fb9a99", "#cab2d6"]
POINT_COLORS = ["#1f78b4", "#ff7f00", "#33a02c", "#e31a1c", "#6a3d9a"]

ACTIVATION_NAMES = ("sigmoid", "tanh", "relu", "leaky_relu", "elu")


# --------------------------------------------------------------------------- diagram


def draw_network(
    sizes: Sequence[int],
    ax=None,
    *,
    bias: bool = True,
    max_units: int = 6,
    title: str | None = None,
):
    """Draw a fully connected network with layer sizes s_1, ..., s_L.

    Every unit of layer j is labelled a_i^(j); each layer but the last has a bias unit
    "+1" (a_0^(j)) drawn as a square; the edges into layer j are labelled with the
    matrix of the layer they compute, Θ^(j) = [b^(j) | W^(j)] of shape s_j × (s_{j-1} + 1)
    (with ``bias=False``: W^(j), s_j × s_{j-1}). Layers larger than `max_units` show
    their first units, a "⋮" and their last unit.

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
    pos: dict[tuple[int, int], tuple[float, float]] = {}  # (j, i) -> centre; i = 0 is bias
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
    # edges first, so nodes cover them: from layer j - 1 into layer j, j = 2..L
    for j in range(2, L + 1):
        src = [key for key in pos if key[0] == j - 1]
        dst = [key for key in pos if key[0] == j and key[1] != 0]
        for a in src:
            for b in dst:
                (x0, y0), (x1, y1) = pos[a], pos[b]
                ax.plot(
                    [x0 + r, x1 - r],
                    [y0, y1],
                    color="#999" if a[1] else "#d08c60",
                    lw=0.7,
                    zorder=1,
                )
        xm = dx * (j - 1.5)
        ytop = max(pos[k][1] for k in src + dst) + 0.65
        matrix = r"\Theta" if bias else "W"  # Θ^(j) = [b^(j) | W^(j)], or W^(j) alone
        ax.text(xm, ytop, rf"${matrix}^{{({j})}}$", ha="center", va="bottom", fontsize=13)
        s_prev, s_j = sizes[j - 2], sizes[j - 1]
        shape = f"{s_j}×{s_prev + 1}" if bias else f"{s_j}×{s_prev}"
        ax.text(xm, ytop - 0.05, shape, ha="center", va="top", fontsize=8, color="#555")
    for (j, i), (x, y) in pos.items():
        if i == 0:
            ax.add_patch(
                FancyBboxPatch(
                    (x - r, y - r),
                    2 * r,
                    2 * r,
                    boxstyle="round,pad=0.02",
                    fc="#fde0c5",
                    ec="#d08c60",
                    zorder=2,
                )
            )
            ax.text(x, y, "+1", ha="center", va="center", fontsize=9, zorder=3)
        else:
            face = "#dbe9f6" if j == 1 else ("#e6f5d0" if j == L else "#ffffff")
            ax.add_patch(Circle((x, y), r, fc=face, ec="#333", zorder=2))
            small = len(f"{i}{j}") > 3
            ax.text(
                x,
                y,
                rf"$a_{{{i}}}^{{({j})}}$",
                ha="center",
                va="center",
                fontsize=7.5 if small else 9.5,
                zorder=3,
            )
    for j, s in enumerate(sizes, start=1):
        name = "input" if j == 1 else ("output" if j == L else "hidden")
        ax.text(
            dx * (j - 1),
            -(rows - 1) / 2 - 0.75,
            f"layer {j}\n{name}, $s_{{{j}}}={s}$",
            ha="center",
            va="top",
            fontsize=9,
        )
    ax.set_xlim(-1.1, dx * (L - 1) + 1.1)
    ax.set_ylim(-(rows - 1) / 2 - 1.6, (rows - 1) / 2 + 1.2)
    ax.set_aspect("equal")
    ax.axis("off")
    if title:
        ax.set_title(title)
    return fig


# --------------------------------------------------------------------------- activations


def activation_gallery(
    names: Sequence[str] = ACTIVATION_NAMES, *, z: np.ndarray | None = None, maxout: bool = True
):
    """g(z) (solid) and g'(z) (dashed) for each activation, plus a maxout panel.

    The values come from :data:`dlkit.nn.ACTIVATIONS` (the functions the layers use);
    the maxout panel evaluates a :class:`dlkit.nn.Maxout` unit with three pieces.
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
        ax.plot(
            z, unit.forward(z[:, None])[:, 0], color="#6a3d9a", lw=2, label=r"$\max_u(w_u z + b_u)$"
        )
        ax.set_ylim(-2, 4.5)
        ax.set_title("maxout, 3 pieces")
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


def decision_boundary(
    model,
    X: np.ndarray,
    y: np.ndarray,
    ax=None,
    *,
    resolution: int = 200,
    title: str | None = None,
    classes: np.ndarray | None = None,
):
    """Colour the plane by the class `model` predicts, and draw the data on top.

    Parameters
    ----------
    model : anything with ``forward(X)`` mapping (M, 2) points to scores (M, K) or (M, 1).
    X : (N, 2) points; y : (N,) integer labels.
    classes : optional precomputed class grid of shape (resolution, resolution), e.g. a
        snapshot from :func:`dlkit.experiments.boundaries.train_boundary` (then `model`
        may be None).

    Returns the Figure.
    """
    X = np.asarray(X)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"decision_boundary draws 2-D data: X must be (N, 2), got {X.shape}")
    if ax is None:
        fig, ax = plt.subplots(figsize=(4, 4))
    else:
        fig = ax.figure
    from dlkit.experiments.boundaries import plane_classes, plane_grid

    xx, yy, grid = plane_grid(X, resolution)
    if classes is None:
        classes = plane_classes(model, grid, xx.shape)
    K = int(max(np.max(y), np.max(classes))) + 1
    ax.contourf(
        xx,
        yy,
        classes,
        levels=np.arange(K + 1) - 0.5,
        cmap=ListedColormap(REGION_COLORS[:K]),
        alpha=0.9,
    )
    ax.scatter(
        X[:, 0], X[:, 1], c=[POINT_COLORS[k] for k in y], s=12, edgecolors="white", linewidths=0.4
    )
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_aspect("equal")
    if title:
        ax.set_title(title, fontsize=10)
    return fig


def plot_snapshots(run, X: np.ndarray, y: np.ndarray):
    """One panel per snapshot of `run` (a :class:`~dlkit.experiments.boundaries.BoundaryRun`):
    the boundary, its epoch, loss and accuracy."""
    n = len(run.snapshots)
    if n == 0:
        raise ValueError("this run has no snapshots: pass snapshots=(...) to train_boundary")
    fig, axes = plt.subplots(1, n, figsize=(2.9 * n, 3.5), squeeze=False)
    for ax, s in zip(axes[0], run.snapshots):
        decision_boundary(
            None,
            X,
            y,
            ax,
            resolution=run.resolution,
            classes=s.classes,
            title=f"epoch {s.epoch}\nloss {s.loss:.3f}, acc {s.accuracy:.3f}",
        )
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- 1-D fits


def plot_function_fits(fits, name: str = r"$\sin x$"):
    """Left: the target and each width's fit. Right: the mean squared error
    𝓛 = (1/N) Σ_n ½ (ŷ_n - y_n)² against the width s_2 (log-log).

    `fits` is a :class:`~dlkit.experiments.approximation.FunctionFits`.
    """
    fig, (ax, ax2) = plt.subplots(1, 2, figsize=(10, 3.6), gridspec_kw={"width_ratios": [1.7, 1]})
    ax.plot(fits.x[:, 0], fits.y[:, 0], color="black", lw=3, alpha=0.3, label=name)
    cmap = plt.get_cmap("viridis")
    for i, w in enumerate(fits.widths):
        ax.plot(
            fits.x[:, 0],
            fits.predictions[w][:, 0],
            color=cmap(i / max(1, len(fits.widths) - 1)),
            lw=1.5,
            label=f"{w} hidden unit{'s' if w > 1 else ''}",
        )
    ax.legend(fontsize=8, loc="upper left")
    ax.set_xlabel("$x$")
    ax.grid(alpha=0.25)
    ax2.loglog(fits.widths, [fits.mse[w] for w in fits.widths], "o-", color="#6a3d9a")
    ax2.set_xlabel("hidden units $s_2$")
    ax2.set_ylabel(r"mean squared error $\mathcal{L}$")
    ax2.set_xticks(fits.widths)
    ax2.set_xticklabels([str(w) for w in fits.widths])
    ax2.grid(alpha=0.25, which="both")
    fig.tight_layout()
    return fig


# --------------------------------------------------------------------------- explorer


def boundary_explorer(
    dataset: str = "spirals",
    activation: str = "relu",
    width: int = 16,
    depth: int = 2,
    *,
    epochs: int = 600,
    lr: float = 0.2,
    seed: int = 0,
):
    """Widget: pick the data, activation, width and depth; see the trained boundary.

    Each view trains a fresh seeded ``mlp([2, width, ..., width, K], activation)``
    (`depth` hidden layers) with full-batch SGD for `epochs` epochs, then draws its
    decision boundary with the final loss and accuracy. Every view is drawn when the
    widget is created, so the saved page responds to the controls: the data sets, the
    activations sigmoid, tanh and ReLU (and `activation`), the widths 2 and 16 (and
    `width`), depths 1 to 3.

    Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as w

    from dlkit.experiments.boundaries import DATASETS, boundary_dataset, train_boundary

    widths = [1, 2, 4, 8, 16, 32]
    if width not in widths:
        raise ValueError(f"boundary_explorer: width must be one of {widths}, got {width!r}")
    if depth not in (1, 2, 3):
        raise ValueError(f"boundary_explorer: depth must be 1, 2 or 3, got {depth!r}")
    boundary_dataset(dataset)  # fails early, naming the choices, for an unknown data set
    nn.get_activation(activation)  # the same for an unknown activation
    from dlkit.viz import static

    ds = w.Dropdown(options=list(DATASETS), value=dataset, description="data")
    acts = [a for a in ("sigmoid", "tanh", "relu") if a in ACTIVATION_NAMES]
    act = w.Dropdown(
        options=acts + [activation] * (activation not in acts),
        value=activation,
        description="activation",
    )
    wid = w.SelectionSlider(
        options=sorted({2, 16, width}), value=width, description="width", continuous_update=False
    )
    dep = w.IntSlider(value=depth, min=1, max=3, description="depth", continuous_update=False)

    def draw(out, data_name, act_name, n, d):
        X, y = boundary_dataset(data_name)
        run = train_boundary(
            X, y, [n] * d, act_name, lr=lr, epochs=epochs, seed=seed, resolution=100
        )
        sizes = [2] + [n] * d + [int(y.max()) + 1]
        fig, ax = plt.subplots(figsize=(4.6, 4.6))
        decision_boundary(
            run.model,
            X,
            y,
            ax,
            resolution=100,
            title=f"{'-'.join(map(str, sizes))} {act_name}, {epochs} epochs\n"
            f"loss {run.history.loss[-1]:.3f}, "
            f"training accuracy {run.accuracy:.3f}",
        )
        show_in(out, fig, alt="decision boundary")

    return static.explorer([ds, act, wid, dep], draw, rows=[[ds, act], [wid, dep]])


__getattr__ = moved(__name__, _MOVED)
