"""Figures and the explorer of chapter 8, *Convolutional networks*.

- :func:`conv_layers`: the Conv2d layers of a Sequential, with their indices.
- :func:`plot_filters`: the filters of a conv layer as small images.
- :func:`plot_feature_maps`: the maps one conv layer (after its ReLU) computes for an
  image.
- :func:`plot_equivariance`: an image, the image shifted, their feature maps and the
  difference between the shifted map and the map of the shifted image.
- :func:`plot_history`: loss and accuracy per epoch of one or more training runs.
- :func:`feature_map_explorer`: the ipywidgets explorer (image, layer, filter → the
  filter and its feature map).

The maps come from :func:`dlkit.experiments.cnn.feature_maps` (its old name here
still works, listed in ``_MOVED``).
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from dlkit.aliases import moved
from dlkit.nn import Conv2d, Sequential
from dlkit.viz.display import show_in

#: Names that moved to :mod:`dlkit.experiments`, served lazily by :func:`__getattr__`.
_MOVED = {"feature_maps": "dlkit.experiments.cnn"}


def conv_layers(model: Sequential) -> list[tuple[int, Conv2d]]:
    """(index, layer) of every Conv2d of `model`, in order."""
    return [(i, layer) for i, layer in enumerate(model) if isinstance(layer, Conv2d)]


def plot_filters(
    layer: Conv2d, ax=None, *, ncols: int = 8, channel: int | None = None, title: str | None = None
):
    """Draw the filters W[f, c] of a conv layer (one input channel, or their mean).

    Each filter gets its own symmetric colour scale (red positive, blue negative), so
    an edge detector shows as a red and a blue side, a blob as one colour.
    """
    W = layer.W.data
    K = W[:, channel] if channel is not None else W.mean(axis=1)
    n = K.shape[0]
    nrows = int(np.ceil(n / ncols))
    if ax is None:
        fig, axes = plt.subplots(nrows, ncols, figsize=(1.1 * ncols, 1.1 * nrows + 0.4))
    else:
        fig, axes = ax.figure, ax
    axes = np.atleast_1d(axes).ravel()
    for f, a in enumerate(axes):
        a.set_xticks([])
        a.set_yticks([])
        if f < n:
            m = np.abs(K[f]).max() or 1.0
            a.imshow(K[f], cmap="RdBu_r", vmin=-m, vmax=m)
            a.set_title(str(f), fontsize=7, pad=2)
        else:
            a.axis("off")
    fig.suptitle(title or f"{layer!r}: filters", fontsize=10)
    return fig


def plot_feature_maps(
    x: np.ndarray, maps: np.ndarray, layer=None, *, ncols: int = 8, max_maps: int = 32
):
    """The image `x` (1, H, W) and the feature maps (F, H', W') one conv layer computes
    for it after its ReLU (:func:`dlkit.experiments.cnn.feature_maps`); `layer` names
    the layer in the title."""
    n = min(maps.shape[0], max_maps)
    nrows = int(np.ceil(n / ncols))
    fig, axes = plt.subplots(nrows, ncols + 1, figsize=(1.1 * (ncols + 1), 1.1 * nrows + 0.4))
    axes = np.atleast_2d(axes)
    for a in axes.ravel():
        a.set_xticks([])
        a.set_yticks([])
    axes[0, 0].imshow(x[0], cmap="gray_r")
    axes[0, 0].set_title("input", fontsize=7, pad=2)
    for r in range(1, nrows):
        axes[r, 0].axis("off")
    vmax = maps[:n].max() or 1.0
    for f in range(nrows * ncols):
        a = axes[f // ncols, 1 + f % ncols]
        if f < n:
            a.imshow(maps[f], cmap="magma", vmin=0, vmax=vmax)
            a.set_title(str(f), fontsize=7, pad=2)
        else:
            a.axis("off")
    name = f"{layer!r} " if layer is not None else ""
    fig.suptitle(f"feature maps of {name}after ReLU ({maps.shape[1]}x{maps.shape[2]})", fontsize=10)
    return fig


def plot_equivariance(
    image: np.ndarray,
    shifted: np.ndarray,
    fmap: np.ndarray,
    fmap_shifted: np.ndarray,
    shift: tuple[int, int],
):
    """Image, shifted image, feature map of each, and |shift(map) − map(shifted)|."""
    dy, dx = shift
    moved = np.roll(fmap, (dy, dx), axis=(0, 1))
    diff = np.abs(moved - fmap_shifted)
    fig, axes = plt.subplots(1, 5, figsize=(12, 2.8))
    panels = [
        (image, "image", "gray_r"),
        (shifted, f"shifted by {shift}", "gray_r"),
        (fmap, "feature map", "magma"),
        (fmap_shifted, "map of shifted image", "magma"),
        (diff, f"|shifted map − map of shifted|\nmax {diff.max():.1e}", "viridis"),
    ]
    for a, (img, title, cmap) in zip(axes, panels):
        a.imshow(img, cmap=cmap)
        a.set_title(title, fontsize=9)
        a.set_xticks([])
        a.set_yticks([])
    fig.tight_layout()
    return fig


def plot_history(histories: dict, ax=None):
    """Training loss and test accuracy per epoch, one line per named History."""
    if ax is None:
        fig, ax = plt.subplots(1, 2, figsize=(10, 3.4))
    else:
        fig = ax[0].figure
    for name, h in histories.items():
        epochs = np.arange(1, len(h.loss) + 1)
        ax[0].plot(epochs, h.loss, label=name)
        if h.val_accuracy:
            ax[1].plot(epochs, 100 * np.asarray(h.val_accuracy), label=f"{name} (test)")
        if h.accuracy:
            ax[1].plot(epochs, 100 * np.asarray(h.accuracy), ls=":", label=f"{name} (train)")
    ax[0].set_yscale("log")
    ax[0].set_xlabel("epoch")
    ax[0].set_ylabel("training loss")
    ax[1].set_xlabel("epoch")
    ax[1].set_ylabel("accuracy (%)")
    ax[1].set_ylim(90, 100.5)
    for a in ax:
        a.legend(fontsize=8)
        a.grid(alpha=0.3)
    fig.tight_layout()
    return fig


def _explorer_figure(model: Sequential, x: np.ndarray, conv_index: int, f: int):
    from dlkit.experiments.cnn import feature_maps

    convs = conv_layers(model)
    i, layer = convs[conv_index]
    outs = feature_maps(model, x)
    fmap = outs[i + 1][f]
    W = layer.W.data[f]
    k = np.argmax(np.abs(W).sum(axis=(1, 2)))  # the input channel it weighs most
    inp = x[0] if i == 0 else outs[i - 1][k]
    fig, axes = plt.subplots(1, 3, figsize=(8.4, 2.9))
    m = np.abs(W[k]).max() or 1.0
    panels = [
        (inp, "input" if i == 0 else f"input channel {k}", "gray_r", None),
        (
            W[k],
            f"filter {f}" + ("" if i == 0 else f", channel {k} of {W.shape[0]}"),
            "RdBu_r",
            (-m, m),
        ),
        (
            fmap,
            f"feature map {f} after ReLU\nmax {fmap.max():.2f}, "
            f"{100 * (fmap > 0).mean():.0f}% active",
            "magma",
            None,
        ),
    ]
    for a, (img, title, cmap, lim) in zip(axes, panels):
        a.imshow(img, cmap=cmap, **({} if lim is None else {"vmin": lim[0], "vmax": lim[1]}))
        a.set_title(title, fontsize=9)
        a.set_xticks([])
        a.set_yticks([])
    fig.suptitle(f"{layer!r}", fontsize=9)
    fig.tight_layout()
    return fig


def feature_map_explorer(
    model: Sequential,
    X: np.ndarray,
    y: Sequence[int] | None = None,
    *,
    index: int = 0,
    conv_index: int = 0,
    filter_index: int = 0,
    n_images: int = 3,
    n_filters: int = 8,
):
    """Widget: pick an image, a conv layer and a filter; see the filter and its map.

    `X` holds images (N, C, H, W). For the second conv layer, whose filters have one
    slice per input channel, the slice with the largest weights is shown, beside the
    input channel it reads. The sliders reach the first `n_images` images (and `index`)
    and the first `n_filters` filters (and `filter_index`); a layer with fewer filters
    shows its last one. Every view is drawn when the widget is created, so the saved
    page responds to the controls.

    Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as w

    from dlkit.viz import static

    convs = conv_layers(model)
    if not convs:
        raise ValueError("feature_map_explorer needs a Sequential with Conv2d layers")
    if not 0 <= index < len(X):
        raise ValueError(f"feature_map_explorer: index must be in [0, {len(X)}), got {index}")
    most = max(layer.out_channels for _, layer in convs)
    if not 0 <= filter_index < most:
        raise ValueError(
            f"feature_map_explorer: filter_index must be in [0, {most}), got {filter_index}"
        )
    img = w.IntSlider(
        value=index,
        min=0,
        max=max(min(n_images, len(X)) - 1, index),
        description="image",
        continuous_update=False,
    )
    lay = w.Dropdown(
        options=[(f"conv{j + 1}: {layer!r}", j) for j, (_, layer) in enumerate(convs)],
        value=conv_index,
        description="layer",
    )
    filt = w.IntSlider(
        value=filter_index,
        min=0,
        max=max(min(n_filters, most) - 1, filter_index),
        description="filter",
        continuous_update=False,
    )

    def draw(out, i, j, f):
        fig = _explorer_figure(model, X[i], j, min(f, convs[j][1].out_channels - 1))
        label = "" if y is None else f", label {int(y[i])}"
        fig.suptitle(f"image {i}{label}: {convs[j][1]!r}", fontsize=9)
        show_in(out, fig, alt=f"feature map: image {i}{label}")

    return static.explorer([img, lay, filt], draw, rows=[[img, lay], [filt]])


__getattr__ = moved(__name__, _MOVED)
