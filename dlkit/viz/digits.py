"""Chapter 6, handwritten digits: figures of the voting network and the MLP.

The models are in dlkit proper: :class:`dlkit.nn.voting.VotingNetwork`,
:func:`dlkit.train.train_mlp` and :func:`dlkit.data.standardize`; they are re-exported
here for the chapter's convenience.

- Figures: :func:`plot_weight_maps` (sign by colour, magnitude by intensity),
  :func:`plot_confusion`, :func:`plot_misclassified`, :func:`plot_history`, and the
  widget :func:`prediction_explorer`.
"""

from __future__ import annotations


import numpy as np
from matplotlib.figure import Figure

from dlkit import nn
from dlkit.data.preprocess import standardize
from dlkit.nn.voting import VotingNetwork, train_voting
from dlkit.train import History, MLPRun, confusion_matrix, train_mlp
from dlkit.viz.display import show, show_in

__all__ = [
    "VotingNetwork",
    "train_voting",
    "train_mlp",
    "MLPRun",
    "standardize",
    "plot_examples",
    "plot_weight_maps",
    "plot_confusion",
    "confusion_text",
    "plot_misclassified",
    "plot_history",
    "prediction_explorer",
    "show",
    "show_in",
]


# -------------------------------------------------------------------------- figures


def plot_examples(X: np.ndarray, y: np.ndarray, per_class: int = 6) -> Figure:
    """The first `per_class` images of each class, one row per class."""
    classes = np.unique(y)
    s = _side(X.shape[1])
    fig = Figure(figsize=(0.8 * per_class, 0.8 * len(classes)))
    axes = fig.subplots(len(classes), per_class)
    for r, k in enumerate(classes):
        idx = np.flatnonzero(y == k)[:per_class]
        for c in range(per_class):
            ax = axes[r, c]
            ax.axis("off")
            if c < len(idx):
                ax.imshow(X[idx[c]].reshape(s, s), cmap="gray_r")
    return fig


def _side(n: int) -> int:
    s = int(round(np.sqrt(n)))
    if s * s != n:
        raise ValueError(f"{n} inputs are not a square image")
    return s


def plot_weight_maps(W: np.ndarray, *, title: str = "") -> Figure:
    """Each class's weights as an image: red positive, blue negative, intensity = size.

    The colour scale is symmetric around 0 and shared by all maps.
    """
    W = np.asarray(W, dtype=np.float64)
    s = _side(W.shape[1])
    lim = float(np.abs(W).max()) or 1.0
    fig = Figure(figsize=(1.35 * len(W), 1.8))
    axes = fig.subplots(1, len(W))
    for k, ax in enumerate(axes):
        im = ax.imshow(W[k].reshape(s, s), cmap="RdBu_r", vmin=-lim, vmax=lim)
        ax.set_title(str(k))
        ax.axis("off")
    fig.colorbar(im, ax=list(axes), fraction=0.02, pad=0.01)
    if title:
        fig.suptitle(title, fontsize=9)
    return fig


def confusion_text(C: np.ndarray) -> str:
    """A confusion matrix as text: C[k, k'] (row k = true class, column k' = predicted
    class) counts the examples of class k predicted as k'."""
    K = len(C)
    w = max(3, len(str(C.max())) + 1)
    lines = ["true\\pred" + "".join(f"{j:>{w}}" for j in range(K))]
    lines += [f"{i:>9}" + "".join(f"{v:>{w}}" for v in row) for i, row in enumerate(C)]
    return "\n".join(lines)


def plot_confusion(C: np.ndarray, *, title: str = "") -> Figure:
    """The confusion matrix as a heat map with counts (log colour scale off the diagonal)."""
    K = len(C)
    fig = Figure(figsize=(4.6, 4.2))
    ax = fig.subplots()
    ax.imshow(np.log1p(C), cmap="Blues")
    for i in range(K):
        for j in range(K):
            if C[i, j]:
                ax.text(
                    j,
                    i,
                    str(C[i, j]),
                    ha="center",
                    va="center",
                    fontsize=7,
                    color="white" if i == j else "black",
                )
    ax.set_xticks(range(K))
    ax.set_yticks(range(K))
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title or f"accuracy {np.trace(C) / C.sum():.4f}", fontsize=9)
    fig.tight_layout()
    return fig


def plot_misclassified(
    X: np.ndarray, y: np.ndarray, scores: np.ndarray, max_images: int = 16
) -> Figure:
    """The misclassified test images, titled 'true → predicted (ŷ of the prediction)'."""
    pred = scores.argmax(axis=1)
    p = nn.softmax(np.asarray(scores, np.float64))
    wrong = np.flatnonzero(pred != y)[:max_images]
    n = max(len(wrong), 1)
    cols = min(8, n)
    rows = -(-n // cols)
    fig = Figure(figsize=(1.3 * cols, 1.55 * rows))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    s = _side(X.shape[1])
    for ax in axes:
        ax.axis("off")
    for ax, i in zip(axes, wrong):
        ax.imshow(X[i].reshape(s, s), cmap="gray_r")
        ax.set_title(f"{y[i]}→{pred[i]} ({p[i, pred[i]]:.2f})", fontsize=8)
    return fig


def plot_history(runs: dict[str, History]) -> Figure:
    """Training loss (left) and test accuracy (right) per epoch for each named run."""
    fig = Figure(figsize=(9.6, 3.4))
    ax1, ax2 = fig.subplots(1, 2)
    for name, h in runs.items():
        e = np.arange(1, h.epochs + 1)
        ax1.semilogy(e, h.loss, label=name)
        ax2.plot(e, h.val_accuracy, label=name)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("training loss")
    ax2.set_xlabel("epoch")
    ax2.set_ylabel("test accuracy")
    ax2.axhline(0.97, color="grey", ls=":", lw=1)
    ax1.legend()
    ax2.legend()
    fig.tight_layout()
    return fig


def prediction_explorer(
    model,
    X: np.ndarray,
    y: np.ndarray,
    start: int = 0,
    *,
    images: np.ndarray | None = None,
    count: int = 15,
):
    """Widget: browse test digits with the network's class probabilities ŷ_k beside each
    image.

    Two lists of `count` digits: the test examples from number `start` on ("all"), and
    the first misclassified ones ("misclassified"); a slider steps through the list.
    Every view is drawn when the widget is created, so the saved page responds to the
    controls. `X` is what the model sees; `images` (default `X`) what is drawn, e.g. the
    pixels before standardization. Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as w

    from dlkit.viz import static

    if not 0 <= start < len(X):
        raise ValueError(f"prediction_explorer: start must be in [0, {len(X)}), got {start}")
    if count < 1:
        raise ValueError(f"prediction_explorer: count must be at least 1, got {count}")
    images = X if images is None else images
    model.eval()
    probs = nn.softmax(np.asarray(model.forward(X), np.float64))
    pred = probs.argmax(axis=1)
    wrong = np.flatnonzero(pred != y)
    lists = {
        "all": np.arange(start, min(start + count, len(X))),
        "misclassified": wrong[:count] if len(wrong) else np.array([start]),
    }
    n = max(len(v) for v in lists.values())
    which = w.ToggleButtons(options=list(lists), value="all", description="show")
    idx = w.IntSlider(value=0, min=0, max=n - 1, description="example", continuous_update=False)
    s = _side(images.shape[1])

    def draw(out, mode, k):
        i = int(lists[mode][min(k, len(lists[mode]) - 1)])
        fig = Figure(figsize=(7.2, 2.6))
        ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1, 2]})
        ax1.imshow(images[i].reshape(s, s), cmap="gray_r")
        ax1.axis("off")
        ax1.set_title(f"test #{i}: true {y[i]}, predicted {pred[i]}", fontsize=9)
        colors = [
            "#2ca02c" if c == y[i] else ("#d62728" if c == pred[i] else "#999")
            for c in range(probs.shape[1])
        ]
        ax2.bar(range(probs.shape[1]), probs[i], color=colors)
        ax2.set_xticks(range(probs.shape[1]))
        ax2.set_ylim(0, 1)
        ax2.set_ylabel(r"$\hat y_k$, probability of class $k$")
        fig.tight_layout()
        show_in(out, fig, alt=f"test #{i}: true {y[i]}, predicted {pred[i]}")

    return static.explorer([which, idx], draw, rows=[[idx, which]])


def misclassified_count(y: np.ndarray, scores: np.ndarray) -> int:
    return int(np.sum(np.asarray(scores).argmax(axis=1) != y))


def confusion(y: np.ndarray, scores: np.ndarray) -> np.ndarray:
    """Shortcut: :func:`dlkit.train.confusion_matrix` of labels and scores."""
    return confusion_matrix(y, scores)
