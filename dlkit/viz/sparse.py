"""Figures of the chapter *Autoencoders and sparse coding*.

:func:`plot_tiles` (patches, atoms of D or rows of W as small images),
:func:`plot_convergence` (ISTA against FISTA), :func:`plot_denoising` (clean, corrupted
and reconstructed digits) and the widget :func:`lambda_explorer`.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from dlkit.viz.display import show, show_in

__all__ = ["plot_tiles", "plot_convergence", "plot_denoising", "lambda_explorer", "show"]


def _tile(ax, v, size):
    v = np.asarray(v, dtype=np.float64).reshape(size, size)
    m = max(np.abs(v).max(), 1e-12)
    ax.imshow(v, cmap="gray", vmin=-m, vmax=m, interpolation="nearest")
    ax.set_xticks([])
    ax.set_yticks([])


def plot_tiles(V, size: int, *, cols: int = 16, title: str = "", scale: float = 0.45) -> Figure:
    """Each row of V (n, size²) as a size × size image, grey 0 in the middle of the range."""
    V = np.asarray(V)
    rows = int(np.ceil(len(V) / cols))
    fig = Figure(figsize=(cols * scale, rows * scale + (0.3 if title else 0)))
    axs = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axs:
        ax.axis("off")
    for v, ax in zip(V, axs):
        ax.axis("on")
        _tile(ax, v, size)
    if title:
        fig.suptitle(title, fontsize=9)
    fig.subplots_adjust(wspace=0.08, hspace=0.08)
    return fig


def plot_convergence(steps, curves: dict[str, list[float]], best: float) -> Figure:
    """Objective minus its minimum after k steps, for each solver in `curves` (log-log)."""
    fig = Figure(figsize=(5.6, 3.4))
    ax = fig.subplots()
    for name, c in curves.items():
        gap = np.maximum(np.asarray(c) - best, 1e-16)
        ax.loglog(steps, gap, "o-", label=name.upper())
    ax.set_xlabel("iterations k")
    ax.set_ylabel(r"objective $-$ its minimum")
    ax.legend()
    fig.tight_layout()
    return fig


def plot_denoising(clean, noisy, recon, size: int = 8, n: int = 10) -> Figure:
    """Three rows of digits: clean x, corrupted x̃, and the reconstruction x̂ of x̃."""
    fig = Figure(figsize=(n * 0.7, 2.4))
    axs = fig.subplots(3, n)
    for r, (rows, label) in enumerate(((clean, "x"), (noisy, "x̃"), (recon, "x̂"))):
        for c in range(n):
            axs[r, c].imshow(np.reshape(rows[c], (size, size)), cmap="gray_r", vmin=0, vmax=1)
            axs[r, c].set_xticks([])
            axs[r, c].set_yticks([])
        axs[r, 0].set_ylabel(label, rotation=0, labelpad=10)
    fig.subplots_adjust(wspace=0.05, hspace=0.05)
    return fig


def _explorer_figure(x, D, h, size, lam):
    fig = Figure(figsize=(6.4, 2.3))
    axs = fig.subplots(1, 5)
    xh = D @ h
    _tile(axs[0], x, size)
    axs[0].set_title("patch x", fontsize=8)
    _tile(axs[1], xh, size)
    axs[1].set_title("D h", fontsize=8)
    order = np.argsort(-np.abs(h), kind="stable")[:3]
    for ax, j in zip(axs[2:], order):
        _tile(ax, D[:, j], size)
        ax.set_title(f"{h[j]:+.2f} × atom {j}", fontsize=8)
    fig.suptitle(f"λ = {lam:g}: {int(np.count_nonzero(h))} non-zeros", fontsize=9)
    fig.tight_layout()
    return fig


def lambda_explorer(x, D, codes: dict[float, np.ndarray], size: int):
    """Widget: a slider over the precomputed λ values of `codes` (λ → code h of the
    patch x); shows x, its reconstruction D h, its three largest terms and the number of
    non-zeros. Returns an ``ipywidgets.VBox``."""
    import ipywidgets as w

    from dlkit.viz import static

    lams = sorted(codes)
    pick = w.SelectionSlider(options=lams, value=lams[len(lams) // 2], description="λ")

    def draw(out, lam):
        h = codes[lam]
        fig = _explorer_figure(x, D, h, size, lam)
        show_in(out, fig, alt=f"λ = {lam:g}: {int(np.count_nonzero(h))} non-zeros")

    return static.explorer([pick], draw, rows=[pick])
