"""Figures of the chapter *Regularisation and normalisation*.

The runs are made by :mod:`dlkit.experiments.regularization`; this module only draws
them: :func:`plot_overfitting` (training against validation curves of one technique,
with the epoch early stopping goes back to), :func:`plot_curves` (one curve of several
techniques), :func:`plot_summary` (test accuracy of every technique, with the spread
over seeds), :func:`plot_shifts` (an image and its shifted copies), and the widget
:func:`curve_explorer`.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from dlkit.data.augment import translate
from dlkit.viz.display import show, show_in

__all__ = [
    "mean_curve",
    "plot_overfitting",
    "plot_curves",
    "plot_summary",
    "plot_shifts",
    "curve_explorer",
    "show",
]

_LABELS = {
    "train_loss": "training loss",
    "val_loss": "validation loss",
    "train_acc": "training accuracy",
    "val_acc": "validation accuracy",
}


def mean_curve(runs: Sequence, key: str) -> np.ndarray:
    """The per-epoch mean over `runs` of ``run.curves[key]``, over the epochs all ran."""
    n = min(len(r.curves[key]) for r in runs)
    return np.mean([r.curves[key][:n] for r in runs], axis=0)


def _epochs(curve: np.ndarray) -> np.ndarray:
    return np.arange(1, len(curve) + 1)


def plot_overfitting(runs: Sequence, *, title: str = "", mark_epoch: float | None = None) -> Figure:
    """Loss (left, log scale) and accuracy (right) on the training and validation sets
    per epoch, averaged over `runs`; a dotted line at `mark_epoch` if given."""
    fig = Figure(figsize=(9.6, 3.4))
    ax1, ax2 = fig.subplots(1, 2)
    for ax, kind in ((ax1, "loss"), (ax2, "acc")):
        for part, color in (("train", "#1f77b4"), ("val", "#d62728")):
            c = mean_curve(runs, f"{part}_{kind}")
            ax.plot(_epochs(c), c, color=color, label=_LABELS[f"{part}_{kind}"])
        if mark_epoch is not None:
            ax.axvline(mark_epoch, color="grey", ls=":", lw=1)
        ax.set_xlabel("epoch")
        ax.legend()
    ax1.set_yscale("log")
    ax1.set_ylabel(r"cross-entropy $\mathcal{L}$")
    ax2.set_ylabel("accuracy")
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    return fig


def plot_curves(
    results: Mapping[str, Sequence], names: Sequence[str], key: str = "val_loss", *, ax=None
) -> Figure:
    """``curves[key]`` per epoch (mean over seeds) for the techniques `names` of `results`."""
    fig = None
    if ax is None:
        fig = Figure(figsize=(6.4, 3.6))
        ax = fig.subplots()
    for name in names:
        c = mean_curve(results[name], key)
        ax.plot(_epochs(c), c, label=name)
    if key.endswith("loss"):
        ax.set_yscale("log")
    ax.set_xlabel("epoch")
    ax.set_ylabel(_LABELS.get(key, key))
    ax.legend()
    if fig is not None:
        fig.tight_layout()
    return fig if fig is not None else ax.figure


def plot_summary(summaries: Mapping, baseline: str) -> Figure:
    """Test accuracy of every technique: a dot at the mean over seeds, a line from the
    lowest to the highest, and a dotted line at the mean of `baseline`."""
    items = list(summaries.values())
    fig = Figure(figsize=(6.4, 0.45 * len(items) + 1.0))
    ax = fig.subplots()
    y = np.arange(len(items))[::-1]
    for yi, s in zip(y, items):
        ax.plot([100 * s.low, 100 * s.high], [yi, yi], color="#1f77b4", lw=2)
        ax.plot([100 * s.mean], [yi], "o", color="#1f77b4")
    ax.axvline(100 * summaries[baseline].mean, color="grey", ls=":", lw=1)
    ax.set_yticks(y)
    ax.set_yticklabels([s.name for s in items])
    ax.set_ylim(-0.5, len(items) - 0.5)
    ax.set_xlabel("test accuracy (%): mean (dot), lowest to highest over seeds (line)")
    ax.grid(axis="x", alpha=0.3)
    fig.tight_layout()
    return fig


def plot_shifts(image: np.ndarray, max_shift: int = 1, shape: tuple[int, int] = (8, 8)) -> Figure:
    """One image (flat, pixels in [0, 1]) moved by every (dy, dx) up to `max_shift`."""
    k = 2 * max_shift + 1
    fig = Figure(figsize=(1.1 * k, 1.2 * k))
    axes = fig.subplots(k, k)
    flat = np.asarray(image, dtype=np.float64).reshape(1, -1)
    for i, dy in enumerate(range(-max_shift, max_shift + 1)):
        for j, dx in enumerate(range(-max_shift, max_shift + 1)):
            ax = axes[i, j]
            ax.imshow(
                translate(flat, dy, dx, shape=shape).reshape(shape), cmap="gray_r", vmin=0, vmax=1
            )
            ax.set_xticks([])
            ax.set_yticks([])
            ax.set_title(f"({dy:+d}, {dx:+d})", fontsize=8)
    fig.suptitle("shifted by (rows, columns)", fontsize=9)
    fig.tight_layout()
    return fig


def curve_explorer(results: Mapping[str, Sequence], baseline: str):
    """Widget: pick a technique and a measure; its training and validation curves are
    drawn (solid) over the baseline's (dashed). Returns an ``ipywidgets.VBox``."""
    import ipywidgets as w

    names = list(results)
    pick = w.Dropdown(options=names, value=names[min(1, len(names) - 1)], description="technique")
    kind = w.ToggleButtons(options=[("loss", "loss"), ("accuracy", "acc")], value="loss")
    from dlkit.viz import static

    def draw(out, technique, measure):
        fig = Figure(figsize=(6.4, 3.6))
        ax = fig.subplots()
        for part, color in (("train", "#1f77b4"), ("val", "#d62728")):
            key = f"{part}_{measure}"
            base = mean_curve(results[baseline], key)
            ax.plot(
                _epochs(base), base, color=color, ls="--", lw=1, label=f"{baseline}: {_LABELS[key]}"
            )
            c = mean_curve(results[technique], key)
            ax.plot(_epochs(c), c, color=color, label=f"{technique}: {_LABELS[key]}")
        if measure == "loss":
            ax.set_yscale("log")
        ax.set_ylabel(r"cross-entropy $\mathcal{L}$" if measure == "loss" else "accuracy")
        ax.set_xlabel("epoch")
        ax.legend(fontsize=8)
        fig.tight_layout()
        what = "loss" if measure == "loss" else "accuracy"
        show_in(out, fig, alt=f"{technique} against {baseline}: {what} per epoch")

    return static.explorer([pick, kind], draw)
