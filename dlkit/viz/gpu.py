"""Figures and the explorer of the chapter *GPUs and kernels*: draws, never measures."""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.colors import ListedColormap
from matplotlib.figure import Figure

from dlkit.hardware import roofline
from dlkit.viz.display import show_in

__all__ = [
    "plot_roofline",
    "plot_ownership",
    "plot_fc_intensity",
    "plot_gpu_runs",
    "cuda_explorer",
]


def plot_roofline(ceilings, points=(), extra=(), ax=None) -> Figure:
    """Rooflines min(P, I·B) of `ceilings` (``roofline.Ceiling``), with measured kernels
    `points` (``KernelPoint``: at their I and GFLOP/s) and `extra` ``(label, I)`` marks
    (vertical lines: intensities without a measurement), log-log."""
    if ax is None:
        fig = Figure(figsize=(7.5, 4.6))
        ax = fig.add_subplot()
    fig = ax.figure
    I = np.logspace(-2, 3, 300)  # noqa: E741 - the book writes I
    for c in ceilings:
        (line,) = ax.plot(I, roofline.bound(I, c.peak_gflops, c.bandwidth_gbs), label=c.name)
        ax.axvline(c.ridge, color=line.get_color(), lw=0.6, ls=":")
    markers = "osD^v<>ph*"
    for n, p in enumerate(points):
        ax.plot(p.intensity, p.gflops, markers[n % len(markers)], ms=6, label=p.name)
    for label, x in extra:
        ax.axvline(x, color="0.5", lw=0.8, ls="--")
        ax.text(
            x,
            0.02,
            " " + label,
            rotation=90,
            fontsize=7,
            va="bottom",
            transform=ax.get_xaxis_transform(),
        )
    ax.set_xscale("log")
    ax.set_yscale("log")
    ax.set_xlabel("arithmetic intensity I (flops per byte)")
    ax.set_ylabel("GFLOP/s")
    ax.legend(fontsize=7, frameon=False, loc="upper left", ncol=2)
    return fig


def plot_ownership(own, ax=None, title: str | None = None) -> Figure:
    """An output map coloured by the block that owns each element, each cell labelled
    with its owner's threadIdx (x, y); thick lines between warps."""
    if ax is None:
        rows, cols = own.warp.shape
        fig = Figure(figsize=(min(12, 0.42 * cols + 1), min(7, 0.42 * rows + 1)))
        ax = fig.add_subplot()
    fig = ax.figure
    ids = own.block_id
    cmap = ListedColormap(
        ["#cfe2f3", "#f9cb9c", "#d9ead3", "#ead1dc", "#fff2cc", "#d0e0e3", "#f4cccc", "#d9d2e9"]
    )
    ax.imshow(ids % cmap.N, cmap=cmap, vmin=0, vmax=cmap.N - 1, interpolation="nearest")
    rows, cols = ids.shape
    if rows * cols <= 400:
        for r in range(rows):
            for c in range(cols):
                ax.text(
                    c,
                    r,
                    f"{own.thread_x[r, c]},{own.thread_y[r, c]}",
                    ha="center",
                    va="center",
                    fontsize=6,
                )
    # warp boundaries: where the (block, warp) pair changes between neighbours
    key = ids * 64 + own.warp
    for r in range(rows):
        for c in range(cols):
            if c + 1 < cols and key[r, c] != key[r, c + 1]:
                ax.plot([c + 0.5, c + 0.5], [r - 0.5, r + 0.5], color="k", lw=1.5)
            if r + 1 < rows and key[r, c] != key[r + 1, c]:
                ax.plot([c - 0.5, c + 0.5], [r + 0.5, r + 0.5], color="k", lw=1.5)
    ax.set_xticks([])
    ax.set_yticks([])
    ax.set_xlabel("col (x)")
    ax.set_ylabel("row (y)")
    bx, by = own.block
    ax.set_title(
        title
        or f"blocks of {bx}×{by} threads, grid {own.grid[0]}×{own.grid[1]}: colour = block, "
        "label = threadIdx.x,y, black lines = warps",
        fontsize=8,
    )
    return fig


def plot_fc_intensity(
    batches: Sequence[int], intensity: Sequence[float], ridges=(), ax=None
) -> Figure:
    """Arithmetic intensity of a fully connected layer against the batch size B, with
    the ridge points ``(label, P/B)`` of some machines."""
    if ax is None:
        fig = Figure(figsize=(6, 3.4))
        ax = fig.add_subplot()
    fig = ax.figure
    ax.plot(batches, intensity, "o-", ms=3, label="FC layer")
    for (label, r), ls in zip(ridges, ("--", ":", "-.", (0, (5, 1)))):
        ax.axhline(r, ls=ls, lw=1.0, color="0.35", label=f"ridge of the {label} ({r:.1f})")
    ax.set_xscale("log", base=2)
    ax.set_yscale("log")
    ax.set_xlabel("batch size B")
    ax.set_ylabel("I (flops per byte)")
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_gpu_runs(runs: list[dict]) -> Figure:
    """Time of each benchmark row of each recorded GPU run, dlkit's beside its peer's
    (cuBLAS, cuDNN, PyTorch) where the run timed one, in milliseconds, log scale."""
    fig = Figure(figsize=(8, 3.8))
    ax = fig.add_subplot()
    labels, ours, peers = [], [], []
    for run in runs:
        for row in run["rows"]:
            if row.get("dlkit_s") is None:
                continue
            labels.append(row["name"])
            ours.append(row["dlkit_s"] * 1e3)
            peers.append(row["peer_s"] * 1e3 if row.get("peer_s") else np.nan)
    y = np.arange(len(labels))
    ax.barh(y - 0.2, ours, 0.4, label="dlkit")
    ax.barh(y + 0.2, peers, 0.4, label="peer (cuBLAS, cuDNN, PyTorch)")
    ax.set_yticks(y, labels, fontsize=7)
    ax.invert_yaxis()
    ax.set_xscale("log")
    ax.set_xlabel("time (ms)")
    ax.legend(fontsize=8, frameon=False)
    ax.set_title(", ".join(f"{r['device']} ({r['date']})" for r in runs), fontsize=8)
    return fig


def cuda_explorer(table: dict, block=(8, 4), tile: int = 8):
    """Widget: block shape and tile size → ownership map and global loads of a GEMM.

    `table` is :func:`dlkit.experiments.gpu.explorer_table`: every map and count is
    computed ahead, one per position of the two controls.
    """
    import ipywidgets as w

    blocks = list(table["maps"])
    tiles = list(table["loads"])
    bsel = w.SelectionSlider(
        options=[(f"{bx}×{by}", (bx, by)) for bx, by in blocks],
        value=tuple(block),
        description="block x×y",
        continuous_update=False,
    )
    tsel = w.SelectionSlider(
        options=tiles, value=tile, description="tile T", continuous_update=False
    )
    from dlkit.viz import static

    def draw(out, block, tile):
        own = table["maps"][block]
        n = table["gemm"]
        loads = table["loads"][tile]
        text = (
            f"{own.warp.size} outputs, {own.grid[0] * own.grid[1]} blocks, "
            f"{own.idle_threads} idle threads | GEMM {n}³: naive {table['naive']:,} loads, "
            f"tiled T = {tile}: {loads:,} ({table['naive'] // loads}× fewer)"
        )
        show_in(out, plot_ownership(own), text=text)

    return static.explorer([bsel, tsel], draw)
