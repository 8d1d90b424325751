"""Figures of the chapter *Large-scale learning and determinism*.

:func:`plot_histograms` (the best unit's responses to faces and to non-faces),
:func:`plot_images` (top stimuli, optimal stimuli, filters as 25 × 25 images),
:func:`plot_invariance` (response against shift, scale and rotation) and the widgets
:func:`unit_explorer` (a unit and a threshold → histograms and accuracy) and
:func:`invariance_explorer` (a perturbation → the invariance curve and the image).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from dlkit.viz.display import show, show_in

__all__ = [
    "plot_histograms",
    "plot_images",
    "plot_invariance",
    "unit_explorer",
    "invariance_explorer",
    "show",
]


def _hist(ax, f, y, theta, title):
    bins = np.linspace(f.min(), f.max(), 21)
    ax.hist(f[y == 0], bins=bins, alpha=0.6, color="tab:blue", label="non-faces")
    ax.hist(f[y == 1], bins=bins, alpha=0.6, color="tab:red", label="faces")
    if theta is not None:
        ax.axvline(theta, color="k", lw=1, ls="--", label="threshold θ")
    ax.set_xlabel("response of the unit")
    ax.set_ylabel("images")
    ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)


def plot_histograms(panels) -> Figure:
    """One histogram per panel, faces in red and non-faces in blue: `panels` is a list of
    (title, responses f (N,), labels y (N,), threshold θ or None)."""
    fig = Figure(figsize=(3.4 * len(panels), 2.8))
    axs = np.atleast_1d(fig.subplots(1, len(panels)))
    for ax, (title, f, y, theta) in zip(axs, panels):
        _hist(ax, np.asarray(f, float), np.asarray(y), theta, title)
    fig.tight_layout()
    return fig


def plot_images(V, *, titles=None, cols: int = 10, title: str = "", size: int = 25) -> Figure:
    """Each row of V (n × size²) as a grey image, its own contrast stretched to the range."""
    V = np.asarray(V, dtype=np.float64)
    rows = int(np.ceil(len(V) / cols))
    w = 1.4 if cols <= 5 else 0.8  # room for the titles of a short row
    fig = Figure(figsize=(cols * w, rows * (w + 0.15 if titles else w) + (0.3 if title else 0)))
    axs = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axs:
        ax.axis("off")
    for i, (v, ax) in enumerate(zip(V, axs)):
        ax.imshow(v.reshape(size, size), cmap="gray", interpolation="nearest")
        if titles is not None:
            ax.set_title(titles[i], fontsize=7)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(wspace=0.06, hspace=0.3 if titles else 0.06)
    return fig


def plot_invariance(curves: dict, labels: dict | None = None) -> Figure:
    """One panel per perturbation: `curves` maps a kind ("shift", "scale", "rotation") to
    {line name: (values, mean responses)}."""
    units = {"shift": "shift (pixels)", "scale": "scale factor", "rotation": "rotation (degrees)"}
    fig = Figure(figsize=(3.3 * len(curves), 2.8))
    axs = np.atleast_1d(fig.subplots(1, len(curves)))
    for ax, (kind, lines) in zip(axs, curves.items()):
        for name, (v, r) in lines.items():
            ax.plot(v, r, "o-", ms=3, label=name)
        ax.set_xlabel(units.get(kind, kind))
        ax.set_ylabel("mean response")
        ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def unit_explorer(F_val, y_val, names, thresholds: int = 9):
    """Widget: a unit (from the named columns of F_val) and a threshold θ → the histograms
    of its validation responses and the accuracy of "face if response > θ".
    `names` (one per column) label the units; θ takes `thresholds` evenly spaced places
    across each unit's range. Every view is drawn when the widget is created, so the
    saved page responds to the controls. Returns an ``ipywidgets.VBox``."""
    import ipywidgets as w

    from dlkit.viz import static

    if thresholds < 2:
        raise ValueError(f"unit_explorer: thresholds must be at least 2, got {thresholds}")
    F_val, y_val = np.asarray(F_val, float), np.asarray(y_val)
    pick = w.Dropdown(options=[(n, i) for i, n in enumerate(names)], value=0, description="unit")
    fracs = [round(float(v), 6) for v in np.linspace(0.0, 1.0, thresholds)]
    frac = w.SelectionSlider(
        options=[(f"{v:.2f}", v) for v in fracs],
        value=min(fracs, key=lambda v: abs(v - 0.5)),
        description="θ (of range)",
    )

    def draw(out, unit, fraction):
        f = F_val[:, unit]
        theta = f.min() + fraction * (f.max() - f.min())
        acc = float(((f > theta) == (y_val == 1)).mean())
        text = f"{names[unit]}: θ = {theta:.3f}, validation accuracy {acc:.0%}"
        show_in(out, plot_histograms([(text, f, y_val, theta)]), alt=text)

    return static.explorer([pick, frac], draw, rows=[[pick, frac]])


def invariance_explorer(curves: dict, images: dict):
    """Widget: a perturbation and its size → the invariance curve with the setting
    marked, beside the perturbed image. `curves` as for :func:`plot_invariance`;
    `images` maps a kind to the list of perturbed images (one per value, 625 pixels).
    The slider steps through every other setting, through the middle one; every view is
    drawn when the widget is created, so the saved page responds to the controls (a kind
    with fewer settings than the slider's range shows its last one).
    Returns an ``ipywidgets.VBox``."""
    import ipywidgets as w

    from dlkit.viz import static

    kinds = list(curves)
    # every other setting, through the middle one (no perturbation)
    counts = {k: len(next(iter(curves[k].values()))[0]) for k in kinds}
    shown = {k: list(range((n // 2) % 2, n, 2)) for k, n in counts.items()}
    kind = w.Dropdown(options=kinds, value=kinds[0], description="perturbation")
    step = w.IntSlider(
        value=shown[kinds[0]].index(counts[kinds[0]] // 2),
        min=0,
        max=max(len(v) for v in shown.values()) - 1,
        description="setting",
    )

    def draw(out, kind_name, setting):
        lines = curves[kind_name]
        values = next(iter(lines.values()))[0]
        i = shown[kind_name][min(setting, len(shown[kind_name]) - 1)]
        fig = Figure(figsize=(6.4, 2.6))
        ax, im = fig.subplots(1, 2, gridspec_kw={"width_ratios": [2.4, 1]})
        for name, (v, r) in lines.items():
            ax.plot(v, r, "o-", ms=3, label=name)
        ax.axvline(values[i], color="k", lw=1, ls="--")
        ax.set_xlabel(kind_name)
        ax.set_ylabel("mean response")
        ax.legend(fontsize=7)
        im.imshow(np.asarray(images[kind_name][i]).reshape(25, 25), cmap="gray")
        im.set_title(f"{kind_name} = {values[i]:g}", fontsize=8)
        im.axis("off")
        fig.tight_layout()
        show_in(out, fig, alt=f"{kind_name} = {values[i]:g}")

    return static.explorer([kind, step], draw, rows=[[kind, step]])
