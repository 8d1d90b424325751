"""Figures and the explorer of chapter 7, *Convolution algorithms*.

- :func:`sliding_window_figure`: a 3×3 kernel over a 7×7 input at one position, with
  the products being summed and the 5×5 output filled in up to that position.
- :func:`sliding_window_explorer`: the ipywidgets explorer stepping through the 25
  positions (a slider and a play button).
- :func:`plot_operation_counts`: multiply-adds of direct convolution and of the FFT
  model against kernel size, with the crossover.
- :func:`plot_timings`: measured seconds per algorithm against kernel size.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Rectangle

from dlkit.conv import conv2d_direct

COLORS = {"direct": "#6a3d9a", "im2col": "#1f78b4", "winograd": "#33a02c", "fft": "#e31a1c",
          "numba": "#ff7f00"}


def show_png(out, fig, text: str = "figure") -> None:
    """Put `fig` into the ipywidgets Output `out` as a PNG (kept in saved widget state)."""
    import base64
    import io

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=80, bbox_inches="tight")
    plt.close(fig)
    out.outputs = ({"output_type": "display_data", "metadata": {},
                    "data": {"image/png": base64.b64encode(buf.getvalue()).decode("ascii"),
                             "text/plain": text}},)


def example_input(seed: int = 0, size: int = 7, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A small integer image (size × size, values 0..9) and kernel (k × k, values −1..1)."""
    g = np.random.default_rng(seed)
    return g.integers(0, 10, (size, size)).astype(float), g.integers(-1, 2, (k, k)).astype(float)


def _grid(ax, a: np.ndarray, title: str, cmap: str, vmin=None, vmax=None, mask=None) -> None:
    shown = np.ma.masked_array(a, mask) if mask is not None else a
    ax.imshow(shown, cmap=cmap, vmin=vmin, vmax=vmax)
    for (i, j), v in np.ndenumerate(a):
        if mask is None or not mask[i, j]:
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


def sliding_window_figure(step: int, image: np.ndarray | None = None,
                          kernel: np.ndarray | None = None):
    """The kernel at output position `step` (row-major over the output), as a figure.

    Left: the input with the window outlined; middle: the kernel; right: the output,
    filled in for positions 0..step, the current one outlined.
    """
    if image is None or kernel is None:
        image, kernel = example_input()
    k = kernel.shape[0]
    out = conv2d_direct(image[None, None], kernel[None, None])[0, 0]
    Ho, Wo = out.shape
    step = int(np.clip(step, 0, Ho * Wo - 1))
    x, y = divmod(step, Wo)
    fig, axes = plt.subplots(1, 3, figsize=(9.5, 3.4),
                             gridspec_kw={"width_ratios": [image.shape[1], k + 1, Wo]})
    _grid(axes[0], image, "input in (7×7)", "Blues", 0, 14)
    axes[0].add_patch(Rectangle((y - 0.5, x - 0.5), k, k, fill=False, lw=3, ec="#e31a1c"))
    _grid(axes[1], kernel, "kernel w (3×3)", "RdBu", -2, 2)
    filled = np.arange(Ho * Wo).reshape(Ho, Wo) > step
    _grid(axes[2], out, "output out (5×5)", "Oranges", out.min() - 5, out.max() + 5,
          mask=filled)
    axes[2].add_patch(Rectangle((y - 0.5, x - 0.5), 1, 1, fill=False, lw=3, ec="#e31a1c"))
    window = image[x : x + k, y : y + k]
    terms = " + ".join(f"{a:g}·{b:g}" for a, b in zip(kernel.ravel()[:3], window.ravel()[:3]))
    fig.suptitle(f"out({x},{y}) = Σ w(kx,ky)·in({x}+kx, {y}+ky) = {terms} + … = "
                 f"{out[x, y]:g}", fontsize=10)
    fig.tight_layout()
    return fig


def sliding_window_explorer(seed: int = 0, step: int = 0):
    """Widget: step a 3×3 kernel through the 25 positions of a 7×7 input.

    The first view is drawn when the widget is created, so a saved notebook shows it.
    Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as w

    image, kernel = example_input(seed)
    pos = w.IntSlider(value=step, min=0, max=24, description="position",
                      continuous_update=False)
    play = w.Play(value=step, min=0, max=24, interval=700, description="play")
    w.jslink((play, "value"), (pos, "value"))
    out = w.Output()

    def draw(*_):
        fig = sliding_window_figure(pos.value, image, kernel)
        show_png(out, fig, f"position {pos.value}")

    pos.observe(draw, names="value")
    draw()
    return w.VBox([w.HBox([play, pos]), out])


def plot_operation_counts(ks: Sequence[int], direct: Sequence[float], fft: Sequence[float],
                          crossover: int | None = None, ax=None):
    """Multiply-adds (millions) of direct convolution and the FFT model against k."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
    else:
        fig = ax.figure
    ax.plot(ks, np.asarray(direct) / 1e6, "o-", color=COLORS["direct"], label="direct / im2col")
    ax.plot(ks, np.asarray(fft) / 1e6, "s-", color=COLORS["fft"], label="FFT (model)")
    if crossover is not None:
        ax.axvline(crossover, color="k", ls=":", lw=1, label=f"crossover k = {crossover}")
    ax.set_xlabel("kernel size k (k×k)")
    ax.set_ylabel("million multiply-adds")
    ax.set_xticks(list(ks))
    ax.legend(fontsize=8)
    ax.set_title("operation counts", fontsize=10)
    return fig


def plot_timings(ks: Sequence[int], times: Mapping[str, Sequence[float]], ax=None):
    """Measured milliseconds of each algorithm against kernel size (log scale)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
    else:
        fig = ax.figure
    for name, t in times.items():
        ax.plot(ks, 1e3 * np.asarray(t), "o-", color=COLORS.get(name), label=name)
    ax.set_yscale("log")
    ax.set_xlabel("kernel size k (k×k)")
    ax.set_ylabel("milliseconds (this machine)")
    ax.set_xticks(list(ks))
    ax.legend(fontsize=8)
    ax.set_title("measured forward time", fontsize=10)
    return fig
