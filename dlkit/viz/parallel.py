"""Figures and explorers of chapters 13-14: parallel training on a simulated cluster.

- :func:`plot_timeline` draws a simulated run's trace, one row per rank (compute,
  collectives, sends, receives, reductions);
- :func:`plot_breakdown` draws a hybrid AlexNet step split into conv compute, fc
  compute and communication (:func:`dlkit.experiments.parallel.step_breakdown`; its
  old name here still works, listed in ``_MOVED``);
- :func:`plot_speedups` puts the simulated AlexNet speedups beside Krizhevsky's;
- :func:`hybrid_explorer`: GPUs, fc batch, link -> step-time breakdown and timeline;
- :func:`plot_allreduce_costs`: closed-form allreduce time against message size;
- :func:`allreduce_explorer`: ranks, message size, link, algorithm -> timeline;
- :func:`plot_step_times`: per-step times of data-parallel runs (stragglers).

Figures are ``matplotlib.figure.Figure`` objects (no pyplot state).
"""

from __future__ import annotations

import warnings
from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from dlkit.aliases import moved
from dlkit.viz.display import png, show, show_in  # noqa: F401 - re-exported

from dlkit.cluster import costs, networks
from dlkit.parallel import hybrid
from dlkit.parallel.allreduce import ALGORITHMS, simulate_allreduce
from dlkit.viz import cluster as cluster_viz

#: Names that moved to :mod:`dlkit.experiments`, served lazily by :func:`__getattr__`.
_MOVED = {"step_breakdown": "dlkit.experiments.parallel"}

#: Links offered by the explorers: the book's 8-GPU server model and the presets.
LINKS = {"K20 server (book)": hybrid.NETWORK, **{n: networks.preset(n) for n in networks.PRESETS}}


def plot_timeline(
    result, ax=None, *, title: str = "", span: float | None = None, messages: bool = False
) -> Figure:
    """A run's trace, one lane per rank (:func:`dlkit.viz.cluster.timeline`).

    `span` (seconds) fixes the time axis, so that several runs drawn side by side
    share a scale; ``messages=True`` draws every message as an arrow from its sender
    at its start to its receiver at its end.
    """
    with warnings.catch_warnings():
        # timeline() calls tight_layout(), which warns for axes placed by hand
        warnings.filterwarnings("ignore", message=".*tight_layout.*", category=UserWarning)
        fig = cluster_viz.timeline(result, ax=ax, title=title or None, messages=messages)
    if span is not None:
        ax = ax if ax is not None else fig.axes[0]
        right = ax.get_xlim()[1]  # the makespan in the axis' time unit, + 1%
        ax.set_xlim(0, right * span / max(result.time, 1e-30))
    return fig


# ----------------------------------------------------------------- hybrid AlexNet


def plot_breakdown(breakdowns: dict[str, dict[str, float]], ax=None) -> Figure:
    """Stacked bars of step time (ms), one bar per configuration."""
    if ax is None:
        fig = Figure(figsize=(6, 3.2))
        ax = fig.add_subplot()
    fig = ax.figure
    names = list(breakdowns)
    bottom = np.zeros(len(names))
    colors = {"conv compute": "#4c72b0", "fc compute": "#55a868", "communication": "#dd8452"}
    for part, c in colors.items():
        vals = np.array([breakdowns[n][part] * 1e3 for n in names])
        ax.bar(names, vals, bottom=bottom, color=c, label=part)
        bottom += vals
    ax.set_ylabel("step time (ms)")
    ax.legend(fontsize=8, frameon=True, framealpha=0.9, loc="lower right")
    return fig


def plot_speedups(rows: Sequence[hybrid.HybridRow], ax=None) -> Figure:
    """Simulated speedups beside Krizhevsky's (2014) Table 1, with linear speedup p."""
    if ax is None:
        fig = Figure(figsize=(7, 3.4))
        ax = fig.add_subplot()
    fig = ax.figure
    x = np.arange(len(rows))
    ax.bar(x - 0.2, [r.paper.speedup for r in rows], 0.4, label="paper (K20s)", color="#999999")
    ax.bar(x + 0.2, [r.speedup for r in rows], 0.4, label="simulated", color="#4c72b0")
    ax.plot(x, [r.gpus for r in rows], "k_", markersize=18, label="linear (p)")
    ax.set_xticks(x)
    ax.set_xticklabels([f"{r.gpus} GPU\n({r.conv_batch},{r.fc_batch})" for r in rows], fontsize=8)
    ax.set_ylabel("speedup over 1 GPU")
    ax.legend(fontsize=8, frameon=False)
    return fig


def hybrid_explorer(
    gpus: int = 4, fc_batch: str = "all", link: str = "K20 server (book)", batch: int = 128
):
    """Widget: GPUs p, batch per GPU, fc batch, link -> one simulated AlexNet step
    (breakdown and timeline), with the 90-epoch time and the speedup over one GPU at
    the same batch per GPU.

    The device is :data:`dlkit.parallel.hybrid.DEVICE` throughout; the links are the
    K20 server's, Gigabit Ethernet and NVLink (and `link`), the batch per GPU is
    `batch`. Every view is drawn at creation, so the saved page responds to the
    controls. Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as w

    from dlkit.experiments.parallel import step_breakdown

    from dlkit.viz import static

    if link not in LINKS:
        raise ValueError(f"hybrid_explorer: link must be one of {list(LINKS)}, got {link!r}")
    k = w.Dropdown(options=[1, 2, 4, 8], value=gpus, description="GPUs p")
    fb = w.ToggleButtons(
        options=[("128·p at once", "all"), ("128, p rounds", "one")],
        value=fc_batch,
        description="fc batch",
    )
    links = [n for n in ("K20 server (book)", "1gbe", "nvlink") if n in LINKS]
    ln = w.Dropdown(options=links + [link] * (link not in links), value=link, description="link")
    bs = w.Dropdown(options=[batch], value=batch, description="batch / GPU")
    base, drawn = {}, {}

    def draw(out, p, fc, link_name, b):
        key = (p, b) if p == 1 else (p, fc, link_name, b)  # one GPU: no fc batch, no link
        if key not in drawn:
            _draw_step(out, p, fc, link_name, b)
            drawn[key] = out.outputs
        out.outputs = drawn[key]

    def _draw_step(out, p, fc, link_name, b):
        if b not in base:
            base[b] = hybrid.simulate_step(1, batch=b).time
        res = hybrid.simulate_step(p, fc, batch=b, network=LINKS[link_name])
        bd = step_breakdown(res)
        hours = hybrid.EPOCHS * hybrid.IMAGES / (b * p) * res.time / 3600
        fig = Figure(figsize=(10, 3.4))
        a1 = fig.add_axes([0.06, 0.15, 0.18, 0.7])
        a2 = fig.add_axes([0.33, 0.15, 0.52, 0.7])
        plot_breakdown({f"p={p}": bd}, ax=a1)
        plot_timeline(
            res,
            ax=a2,
            title=(
                f"step {res.time * 1e3:.1f} ms, 90 epochs "
                f"{hours:.1f} h, speedup {p * base[b] / res.time:.2f}x"
            ),
        )
        show_in(out, fig)

    return static.explorer([k, fb, ln, bs], draw, rows=[[k, bs, ln], fb])


# ----------------------------------------------------------------------- allreduce


def plot_allreduce_costs(
    p: int,
    network,
    sizes: np.ndarray | None = None,
    algorithms: Sequence[str] = ALGORITHMS,
    ax=None,
) -> Figure:
    """Closed-form allreduce time of p ranks against the message size m (bytes), log-log."""
    if ax is None:
        fig = Figure(figsize=(6, 3.6))
        ax = fig.add_subplot()
    fig = ax.figure
    net = networks.preset(network) if isinstance(network, str) else network
    sizes = np.logspace(0, 8, 49) if sizes is None else np.asarray(sizes)
    for a in algorithms:
        ts = [costs.allreduce(a, p, max(1, int(round(m / 8))), 8, net) for m in sizes]
        ax.loglog(sizes, ts, label=a.replace("_", " "))
    ax.set_xlabel("message size m (bytes)")
    ax.set_ylabel("allreduce time (s)")
    ax.set_title(f"p = {p}, {net.name}")
    ax.legend(fontsize=8, frameon=False)
    return fig


def allreduce_explorer(
    p: int = 8, size_kb: float = 64.0, link: str = "10gbe", algorithm: str = "ring"
):
    """Widget: ranks p, message size m, link, algorithm -> simulated timeline and times.

    The ranks are 4 (and `p`), the sizes 1 KB and 1 MB (and `size_kb`), the links
    `link` and NVLink. Every view is drawn at creation, so the saved page responds to the
    controls. Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as w

    from dlkit.viz import static

    if link not in networks.PRESETS:
        raise ValueError(
            f"allreduce_explorer: link must be one of {list(networks.PRESETS)}, got {link!r}"
        )
    pp = w.SelectionSlider(
        options=sorted({4, int(p)}),
        value=int(p),
        description="ranks p",
        continuous_update=False,
    )
    sz = w.SelectionSlider(
        options=static.grid([1.0, 1024.0], size_kb),
        value=float(size_kb),
        description="m (KB)",
        continuous_update=False,
    )
    ln = w.Dropdown(options=sorted({link, "nvlink"}), value=link, description="link")
    al = w.Dropdown(options=list(ALGORITHMS), value=algorithm, description="algorithm")

    def draw(out, ranks, kb, link_name, name):
        N = max(1, int(round(kb * 1000 / 8)))
        net = networks.preset(link_name)
        res = simulate_allreduce(ranks, N, name, net)
        cf = costs.allreduce(name, ranks, N, 8, net)
        fig = plot_timeline(
            res,
            messages=True,
            title=(f"{name}: simulated {res.time * 1e3:.4g} ms, closed form {cf * 1e3:.4g} ms"),
        )
        show_in(out, fig)

    return static.explorer([pp, sz, ln, al], draw, rows=[[pp, sz], [ln, al]])


def plot_step_times(runs: dict[str, Sequence[float]], ax=None) -> Figure:
    """Per-step time (µs) of data-parallel runs, one line per run."""
    if ax is None:
        fig = Figure(figsize=(6, 3))
        ax = fig.add_subplot()
    fig = ax.figure
    for name, ts in runs.items():
        ax.plot(np.arange(1, len(ts) + 1), np.asarray(ts) * 1e6, marker=".", label=name)
    ax.set_xlabel("step")
    ax.set_ylabel("step time (µs)")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=8, frameon=False)
    return fig


__getattr__ = moved(__name__, _MOVED)
