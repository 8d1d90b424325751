"""Figures and the explorer of chapter 7, *Convolution algorithms*.

- :func:`sliding_window_figure`: a 3×3 kernel over a 7×7 input at one position, with
  the products being summed and the 5×5 output filled in up to that position.
- :func:`sliding_window_explorer`: the ipywidgets explorer stepping through the 25
  positions (a slider and a play button).
- :func:`plot_operation_counts`: multiply-adds of direct convolution and of the FFT
  model against kernel size, with the crossover.
- :func:`plot_timings`: measured seconds per algorithm against kernel size.
- :func:`plot_layouts`: which positions the two compiled direct kernels compute, in
  the image-by-image flat run and in the batch-innermost layout.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch, Rectangle

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


def layout_runs(H: int = 5, k: int = 3, N: int = 3) -> dict[str, np.ndarray]:
    """The runs the two compiled kernels sweep, for an H×H input and a k×k kernel.

    ``"flat"``: the output column y of each position of ``conv2d_direct``'s flat run over
    one image (p = x·H + y; y ≥ H_out is a wrapped position, computed and dropped).
    ``"chwn_out"``: the image n of each position of one output row in ``conv2d_chwn``
    (p = y·N + n). ``"chwn_in"``: the image n of each value of one input row of all N
    images, the run that the kernel offsets k_y = 0, 1, ... read shifted by k_y·N.
    """
    Ho = H - k + 1
    flat = np.arange((Ho - 1) * H + Ho) % H
    return {"flat": flat, "chwn_out": np.tile(np.arange(N), Ho),
            "chwn_in": np.tile(np.arange(N), H)}


def plot_layouts(H: int = 5, k: int = 3, N: int = 3):
    """The two compiled kernels' innermost runs, cell by cell.

    Top: ``conv2d_direct``'s flat run over one image, with the wrapped positions
    (computed, then dropped) hatched. Below: ``conv2d_chwn``'s run over one output row
    of all N images (every position an output, coloured by image), and the input row
    it reads, with the window of each kernel column k_y: the same run shifted by
    whole images.
    """
    runs = layout_runs(H, k, N)
    Ho = H - k + 1
    flat, out, inp = runs["flat"], runs["chwn_out"], runs["chwn_in"]
    colours = plt.get_cmap("Set2")(np.arange(N) % 8)
    width = max(len(flat), len(inp))
    fig, ax = plt.subplots(figsize=(min(11, 0.42 * width + 2.2), 3.6))

    def strip(y0, values, kept, colour_of, label):
        for p, (v, keep) in enumerate(zip(values, kept)):
            ax.add_patch(Rectangle((p, y0), 1, 0.8, facecolor=colour_of(v) if keep else "white",
                                   edgecolor="0.3", hatch=None if keep else "///", lw=0.8))
        ax.text(-0.4, y0 + 0.4, label, ha="right", va="center", fontsize=9)

    strip(4.2, flat, flat < Ho, lambda v: "#fdbf6f", "conv2d_direct\none image")
    for p, y in enumerate(flat):
        ax.text(p + 0.5, 4.6, f"{y}", ha="center", va="center", fontsize=7)
    strip(2.4, out, np.ones(len(out), bool), lambda n: colours[n], "conv2d_chwn\noutput row")
    strip(0.6, inp, np.ones(len(inp), bool), lambda n: colours[n], "input row,\nall images")
    for y0, run in ((2.4, out), (0.6, inp)):            # the column y of each position
        for p in range(len(run)):
            ax.text(p + 0.5, y0 + 0.4, f"{p // N}", ha="center", va="center", fontsize=7)
    ax.legend([Patch(facecolor=colours[n], edgecolor="0.3") for n in range(N)]
              + [Patch(facecolor="white", edgecolor="0.3", hatch="///")],
              [f"image {n}" for n in range(N)] + ["wrapped, dropped"],
              loc="upper right", bbox_to_anchor=(1.0, 0.72), fontsize=7, frameon=False)
    for ky in range(k):                                  # each kernel column's window
        y = 0.45 - 0.18 * ky
        ax.plot([ky * N + 0.05, ky * N + len(out) - 0.05], [y, y], color="0.2", lw=1.5)
        ax.text(ky * N + len(out) + 0.2, y, f"$k_y = {ky}$", fontsize=8, va="center")
    wasted = int(np.sum(flat >= Ho))
    ax.set_title(f"{H}×{H} input, {k}×{k} kernel, {N} images (numbers: output or input "
                 f"column y)\nflat run: {len(flat)} positions for {Ho * Ho} outputs, {wasted} "
                 f"wrapped; batch innermost: {len(out)} positions, all outputs", fontsize=9)
    ax.set_xlim(-0.2, width + 2.5)
    ax.set_ylim(-0.2, 5.2)
    ax.axis("off")
    return fig
