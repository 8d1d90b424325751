"""Figures of chapter 16's section on scale: the COTS HPC and DistBelief cost models.

:func:`plot_cots` (update time against model size for 1 to 64 GPUs, the paper's two
sizes marked), :func:`plot_distbelief` (hours per pass against machines) and the widget
:func:`cots_explorer` (a number of GPUs and of maps → the curve, the point and its
update time beside the one-GPU network's).
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

from dlkit.viz.display import show, show_in

__all__ = ["plot_cots", "plot_distbelief", "cots_explorer", "show"]


def plot_cots(table: dict, paper: dict, *, mark=None, ax=None) -> Figure:
    """Update time (ms) against parameters for each number of GPUs of `table`
    (:func:`dlkit.largescale.scale.cots_table`); the paper's sizes (`paper`: {GPUs:
    parameters}) as vertical lines; `mark` = (GPUs, index) circles one point."""
    fig = ax.figure if ax is not None else Figure(figsize=(6.4, 3.4))
    ax = ax or fig.add_subplot()
    gpus = [k for k in table if isinstance(k, int)]
    for p in gpus:
        P, T = table[p]
        ax.plot(P, T * 1e3, "o-", ms=3, label=f"{p} GPU" + ("s" if p > 1 else ""))
    for p, size in paper.items():
        ax.axvline(size, color="grey", ls="--", lw=1)
        ax.text(
            size, ax.get_ylim()[1] * 0.96, f" paper: {size / 1e9:.3g}B on {p}", fontsize=7, va="top"
        )
    if mark is not None:
        P, T = table[mark[0]]
        ax.plot(P[mark[1]], T[mark[1]] * 1e3, "ko", ms=9, mfc="none")
    ax.set_xscale("log")
    ax.set_xlabel("parameters")
    ax.set_ylabel("update time (ms)")
    ax.set_title("COTS HPC model: one update, batch 100", fontsize=9)
    ax.legend(fontsize=7, loc="upper left")
    fig.tight_layout()
    return fig


def plot_distbelief(rows, *, ax=None) -> Figure:
    """Hours for one pass over the frames against machines, one bar per
    :class:`~dlkit.largescale.scale.DistBeliefRow`, split into compute and communication."""
    fig = ax.figure if ax is not None else Figure(figsize=(6.4, 3.0))
    ax = ax or fig.add_subplot()
    x = np.arange(len(rows))
    share = np.array([r.compute_s / r.step_s for r in rows])
    hours = np.array([r.pass_h for r in rows])
    ax.bar(x, hours * share, color="tab:blue", label="compute")
    ax.bar(x, hours * (1 - share), bottom=hours * share, color="tab:orange", label="communication")
    ax.set_xticks(x, [f"{r.per_replica}×{r.replicas}" for r in rows], fontsize=7)
    ax.set_yscale("log")
    ax.set_xlabel("machines per replica × replicas")
    ax.set_ylabel("hours per pass")
    ax.set_title("DistBelief model: one pass over 10 million frames", fontsize=9)
    ax.legend(fontsize=7)
    fig.tight_layout()
    return fig


def cots_explorer(table: dict, paper: dict):
    """Widget: GPUs and maps F → :func:`plot_cots` with the point circled, and its size and
    update time beside those of the one-GPU network with the same F. Every view is drawn
    when the widget is created, so the saved page responds to the controls. Returns a
    VBox."""
    import ipywidgets as w

    from dlkit.viz import static

    gpus = [k for k in table if isinstance(k, int)]
    n = len(table[gpus[0]][0])
    pick = w.Dropdown(options=gpus, value=gpus[-1], description="GPUs")
    idx = w.IntSlider(value=n - 2, min=0, max=n - 1, description="maps index")

    def draw(out, g, i):
        P, T = table[g]
        P1, T1 = table[gpus[0]]
        text = (
            f"{g} GPUs: {P[i] / 1e9:.3g}B parameters, {T[i] * 1e3:.1f} ms per update; "
            f"{gpus[0]} GPU: {P1[i] / 1e9:.3g}B, {T1[i] * 1e3:.1f} ms"
        )
        show_in(out, plot_cots(table, paper, mark=(g, i)), text, alt=text)

    return static.explorer([pick, idx], draw, rows=[[pick, idx]])
