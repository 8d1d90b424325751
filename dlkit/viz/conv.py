"""Figures and the explorer of chapter 7, *Convolution algorithms*.

- :func:`sliding_window_figure`: a 3×3 kernel over a 7×7 input at one position, with
  the products being summed and the 5×5 output filled in up to that position.
- :func:`sliding_window_explorer`: the ipywidgets explorer stepping through the 25
  positions (a slider and a play button).
- :func:`plot_operation_counts`: flops of direct convolution and of the FFT model
  against kernel size, with the crossover.
- :func:`plot_timings`: measured seconds per algorithm against kernel size.
- :func:`plot_layouts`: which positions the two compiled direct kernels compute, in
  the image-by-image flat run and in the batch-innermost layout.

The example input and the kernels' runs come from :mod:`dlkit.experiments.conv`
(``example_input``, ``layout_runs``); their old names here still work, listed in
``_MOVED``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import matplotlib.pyplot as plt
import numpy as np
from matplotlib.patches import Patch, Rectangle

from dlkit.aliases import moved
from dlkit.conv import conv2d_direct
from dlkit.viz.display import show_in, show_png  # noqa: F401 - show_png re-exported

#: Names that moved to :mod:`dlkit.experiments`, served lazily by :func:`__getattr__`.
_MOVED = {name: "dlkit.experiments.conv" for name in ("example_input", "layout_runs")}

COLORS = {
    "direct": "#6a3d9a",
    "im2col": "#1f78b4",
    "winograd": "#33a02c",
    "fft": "#e31a1c",
    "numba": "#ff7f00",
}


def _grid(ax, a: np.ndarray, title: str, cmap: str, vmin=None, vmax=None, mask=None) -> None:
    shown = np.ma.masked_array(a, mask) if mask is not None else a
    ax.imshow(shown, cmap=cmap, vmin=vmin, vmax=vmax)
    for (i, j), v in np.ndenumerate(a):
        if mask is None or not mask[i, j]:
            ax.text(j, i, f"{v:g}", ha="center", va="center", fontsize=9)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_title(title, fontsize=10)


def sliding_window_figure(
    step: int, image: np.ndarray | None = None, kernel: np.ndarray | None = None
):
    """The kernel at output position `step` (row-major over the output), as a figure.

    Left: the input with the window outlined; middle: the kernel; right: the output,
    filled in for positions 0..step, the current one outlined. Without `image` and
    `kernel`, :func:`dlkit.experiments.conv.example_input` gives them.
    """
    if image is None or kernel is None:
        from dlkit.experiments.conv import example_input

        image, kernel = example_input()
    k = kernel.shape[0]
    out = conv2d_direct(image[None, None], kernel[None, None])[0, 0]
    Ho, Wo = out.shape
    step = int(np.clip(step, 0, Ho * Wo - 1))
    u1, u2 = divmod(step, Wo)  # the output position
    fig, axes = plt.subplots(
        1, 3, figsize=(9.5, 3.4), gridspec_kw={"width_ratios": [image.shape[1], k + 1, Wo]}
    )
    hi, wi = image.shape
    _grid(axes[0], image, f"input a ({hi}×{wi})", "Blues", 0, 14)
    axes[0].add_patch(Rectangle((u2 - 0.5, u1 - 0.5), k, k, fill=False, lw=3, ec="#e31a1c"))
    _grid(axes[1], kernel, f"kernel W ({k}×{k})", "RdBu", -2, 2)
    filled = np.arange(Ho * Wo).reshape(Ho, Wo) > step
    _grid(
        axes[2], out, f"output z ({Ho}×{Wo})", "Oranges", out.min() - 5, out.max() + 5, mask=filled
    )
    axes[2].add_patch(Rectangle((u2 - 0.5, u1 - 0.5), 1, 1, fill=False, lw=3, ec="#e31a1c"))
    window = image[u1 : u1 + k, u2 : u2 + k]
    terms = " + ".join(f"{a:g}·{b:g}" for a, b in zip(kernel.ravel()[:3], window.ravel()[:3]))
    fig.suptitle(
        f"z[{u1}, {u2}] = Σ W[o₁, o₂]·a[{u1} + o₁, {u2} + o₂] = {terms} + … = {out[u1, u2]:g}",
        fontsize=10,
    )
    fig.tight_layout()
    return fig


def sliding_window_explorer(seed: int = 0, step: int = 0):
    """Widget: step a 3×3 kernel through the 25 positions of a 7×7 input.

    The first view is drawn when the widget is created, so a saved notebook shows it.
    Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as w

    from dlkit.experiments.conv import example_input

    image, kernel = example_input(seed)
    from dlkit.viz import static

    pos = w.IntSlider(value=step, min=0, max=24, description="position", continuous_update=False)

    def draw(out, step):
        fig = sliding_window_figure(step, image, kernel)
        show_in(out, fig, alt=f"position {step}")

    return static.explorer([pos], draw)


def plot_operation_counts(
    ks: Sequence[int],
    direct: Sequence[float],
    fft: Sequence[float],
    crossover: int | None = None,
    ax=None,
):
    """Flops F (millions) of direct convolution and of the FFT model against k.

    `direct` and `fft` are flop counts (:func:`dlkit.conv.direct_flops`,
    :func:`dlkit.conv.fft_flops`), one per kernel size in `ks`.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
    else:
        fig = ax.figure
    ax.plot(ks, np.asarray(direct) / 1e6, "o-", color=COLORS["direct"], label="direct / im2col")
    ax.plot(ks, np.asarray(fft) / 1e6, "s-", color=COLORS["fft"], label="FFT (model)")
    if crossover is not None:
        ax.axvline(crossover, color="k", ls=":", lw=1, label=f"crossover k = {crossover}")
    ax.set_xlabel("kernel size k (k×k)")
    ax.set_ylabel("million flops (F, 2 per MAC)")
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


def plot_layouts(H: int = 5, k: int = 3, N: int = 3):
    """The two compiled kernels' innermost runs, cell by cell.

    Top: ``conv2d_direct``'s flat run over one image, with the wrapped positions
    (computed, then dropped) hatched. Below: ``conv2d_chwn``'s run over one output row
    of all N images (every position an output, coloured by image), and the input row
    it reads, with the window of each kernel column o₂: the same run shifted by
    whole images. The runs are :func:`dlkit.experiments.conv.layout_runs`.
    """
    from dlkit.experiments.conv import layout_runs

    runs = layout_runs(H, k, N)
    Ho = H - k + 1
    flat, out, inp = runs["flat"], runs["chwn_out"], runs["chwn_in"]
    colours = plt.get_cmap("Set2")(np.arange(N) % 8)
    width = max(len(flat), len(inp))
    fig, ax = plt.subplots(figsize=(min(11, 0.42 * width + 2.2), 3.6))

    def strip(y0, values, kept, colour_of, label):
        for p, (v, keep) in enumerate(zip(values, kept)):
            ax.add_patch(
                Rectangle(
                    (p, y0),
                    1,
                    0.8,
                    facecolor=colour_of(v) if keep else "white",
                    edgecolor="0.3",
                    hatch=None if keep else "///",
                    lw=0.8,
                )
            )
        ax.text(-0.4, y0 + 0.4, label, ha="right", va="center", fontsize=9)

    strip(4.2, flat, flat < Ho, lambda v: "#fdbf6f", "conv2d_direct\none image")
    for p, y in enumerate(flat):
        ax.text(p + 0.5, 4.6, f"{y}", ha="center", va="center", fontsize=7)
    strip(2.4, out, np.ones(len(out), bool), lambda n: colours[n], "conv2d_chwn\noutput row")
    strip(0.6, inp, np.ones(len(inp), bool), lambda n: colours[n], "input row,\nall images")
    for y0, run in ((2.4, out), (0.6, inp)):  # the column y of each position
        for p in range(len(run)):
            ax.text(p + 0.5, y0 + 0.4, f"{p // N}", ha="center", va="center", fontsize=7)
    ax.legend(
        [Patch(facecolor=colours[n], edgecolor="0.3") for n in range(N)]
        + [Patch(facecolor="white", edgecolor="0.3", hatch="///")],
        [f"image {n}" for n in range(N)] + ["wrapped, dropped"],
        loc="upper right",
        bbox_to_anchor=(1.0, 0.72),
        fontsize=7,
        frameon=False,
    )
    for o2 in range(k):  # each kernel column's window
        y = 0.45 - 0.18 * o2
        ax.plot([o2 * N + 0.05, o2 * N + len(out) - 0.05], [y, y], color="0.2", lw=1.5)
        ax.text(o2 * N + len(out) + 0.2, y, f"$o_2 = {o2}$", fontsize=8, va="center")
    wasted = int(np.sum(flat >= Ho))
    ax.set_title(
        f"{H}×{H} input, {k}×{k} kernel, {N} images (numbers: output or input "
        f"column)\nflat run: {len(flat)} positions for {Ho * Ho} outputs, {wasted} "
        f"wrapped; batch innermost: {len(out)} positions, all outputs",
        fontsize=9,
    )
    ax.set_xlim(-0.2, width + 2.5)
    ax.set_ylim(-0.2, 5.2)
    ax.axis("off")
    return fig


__getattr__ = moved(__name__, _MOVED)
