"""Figures of the chapter *RBMs and deep belief networks*.

The machines are trained by :mod:`dlkit.unsupervised` and the experiments of
:mod:`dlkit.experiments.rbm`; this module only draws them: :func:`plot_images` (rows of
8 × 8 images: filters W_k·, digits, reconstructions or samples), :func:`plot_filters`,
:func:`plot_gibbs_chains`, :func:`plot_likelihood` (reconstruction error beside the AIS
test log-likelihood) and the widget :func:`rbm_explorer`.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from dlkit.viz.display import show, show_in

__all__ = [
    "plot_images",
    "plot_filters",
    "plot_gibbs_chains",
    "plot_likelihood",
    "explorer_figure",
    "rbm_explorer",
    "show",
]


def plot_images(
    rows: Sequence[np.ndarray], labels: Sequence[str] = (), *, title: str = "", cmap="gray_r"
) -> Figure:
    """One figure row per array of `rows`, each (n, 64): n images of 8 × 8 pixels."""
    rows = [np.asarray(r) for r in rows]
    n = max(len(r) for r in rows)
    fig = Figure(figsize=(0.75 * n + 1.2, 0.8 * len(rows) + 0.4))
    axes = np.atleast_2d(fig.subplots(len(rows), n, squeeze=False))
    for i, r in enumerate(rows):
        for j in range(n):
            ax = axes[i, j]
            ax.set_xticks([])
            ax.set_yticks([])
            if j < len(r):
                lim = np.abs(r[j]).max() or 1.0
                kw = dict(vmin=-lim, vmax=lim) if cmap == "RdBu_r" else dict(vmin=0, vmax=1)
                ax.imshow(r[j].reshape(8, 8), cmap=cmap, **kw)
            else:
                ax.axis("off")
        if i < len(labels):
            axes[i, 0].set_ylabel(labels[i], rotation=0, ha="right", va="center", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_filters(W: np.ndarray, *, n: int = 40, per_row: int = 10, title: str = "") -> Figure:
    """The first `n` rows of W (s_h, 64) as 8 × 8 images, red positive, blue negative."""
    W = np.asarray(W)[:n]
    rows = [W[i : i + per_row] for i in range(0, len(W), per_row)]
    return plot_images(rows, title=title, cmap="RdBu_r")


def plot_gibbs_chains(states: np.ndarray, steps: Sequence[int], *, title: str = "") -> Figure:
    """`states` of shape (len(steps), n_chains, 64): chain j's v after steps[t] Gibbs steps
    in column t, row j."""
    states = np.asarray(states)
    fig = plot_images([states[:, j] for j in range(states.shape[1])], title=title, cmap="gray_r")
    for t, s in enumerate(steps):
        fig.axes[t].set_title(f"{s}", fontsize=8)
    return fig


def plot_likelihood(rows) -> Figure:
    """Reconstruction error (left) and AIS test log-likelihood (right) per training method,
    for rows of :func:`dlkit.experiments.rbm.compare_training`."""
    fig = Figure(figsize=(7.2, 2.8))
    a1, a2 = fig.subplots(1, 2)
    names = [r.method for r in rows]
    x = np.arange(len(rows))
    a1.bar(x, [r.reconstruction_error for r in rows], color="#1f77b4")
    a1.set_ylabel("test reconstruction error")
    ll = np.array([r.test_log_likelihood for r in rows])
    # a ±3σ band on log Z is a band on log P(v) = −𝓕(v) − log Z, mirrored
    lo = np.array([r.test_log_likelihood - (r.log_z_band[1] - r.log_z) for r in rows])
    hi = np.array([r.test_log_likelihood + (r.log_z - r.log_z_band[0]) for r in rows])
    a2.errorbar(x, ll, yerr=[ll - lo, hi - ll], fmt="o", color="#d62728", capsize=4)
    a2.set_ylabel("AIS test log P(v), nats")
    for ax in (a1, a2):
        ax.set_xticks(x, names)
    fig.tight_layout()
    return fig


def explorer_figure(rbm, V: np.ndarray, *, n_filters: int = 20, title: str = "") -> Figure:
    """Filters W_k· of `rbm` (two rows of ten), then the digits V and their mean-field
    reconstructions: what the explorer shows for one setting."""
    W = rbm.W.data[:n_filters]
    fig = Figure(figsize=(8.4, 4.2))
    grid = fig.subplots(4, 10)
    for ax in grid.ravel():
        ax.set_xticks([])
        ax.set_yticks([])
    for i in range(20):
        ax = grid[i // 10, i % 10]
        if i < len(W):
            lim = np.abs(W[i]).max() or 1.0
            ax.imshow(W[i].reshape(8, 8), cmap="RdBu_r", vmin=-lim, vmax=lim)
        else:
            ax.axis("off")
    R = rbm.reconstruct(V[:10])
    for j in range(min(10, len(V))):
        grid[2, j].imshow(V[j].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
        grid[3, j].imshow(R[j].reshape(8, 8), cmap="gray_r", vmin=0, vmax=1)
    grid[0, 0].set_ylabel("filters", fontsize=8)
    grid[2, 0].set_ylabel("v", fontsize=8)
    grid[3, 0].set_ylabel("reconstr.", fontsize=8)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def rbm_explorer(X: np.ndarray, V_show: np.ndarray, *, epochs: int = 3, seed=0):
    """Widget: choose CD's k, the learning rate η and the hidden units s_h; an RBM is
    trained on the rows of `X` for `epochs` epochs (CD-k, B = 10, seeded; k in {1, 10}, η in
    {0.01, 0.05, 0.2}, s_h in {25, 50}) and its first
    filters and the reconstructions of `V_show` are drawn, with the reconstruction error
    of X. Every view is drawn when the widget is created, so the saved page responds to the
    controls. Returns an ``ipywidgets.VBox``."""
    import ipywidgets as w

    from dlkit.unsupervised import RBM, train_rbm
    from dlkit.viz import static

    k = w.Dropdown(options=[1, 10], value=1, description="CD-k: k")
    lr = w.Dropdown(options=[0.01, 0.05, 0.2], value=0.05, description="η")
    hidden = w.Dropdown(options=[25, 50], value=50, description="s_h")

    def draw(out, k_steps, eta, s_h):
        r = RBM(X.shape[1], s_h, seed=seed)
        hist = train_rbm(r, X, epochs=epochs, lr=eta, k=k_steps, seed=seed)
        text = (
            f"CD-{k_steps}, η = {eta}, s_h = {s_h}, {epochs} epochs: "
            f"reconstruction error {hist.reconstruction_error[-1]:.1f}"
        )
        fig = explorer_figure(r, V_show, title=text)
        show_in(out, fig, alt=text)

    return static.explorer([k, lr, hidden], draw, rows=[[k, lr, hidden]])
