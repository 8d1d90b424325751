"""Figures and the explorer of the chapter *Asynchronous SGD*.

- :func:`plot_hogwild`: training loss per epoch of HOGWILD!, the lock and atomic adds
  (the serialised replay), on the sparse and the dense problem;
- :func:`plot_progress`: timelines of a Get on a busy server's window under the two
  progress rules of the simulator;
- :func:`plot_staleness`: histograms of the staleness τ of applied gradients, a slow
  replica's apart;
- :func:`plot_loss_curves`: the server's test loss against virtual time;
- :func:`plot_units`: Sandblaster's work units per worker (static, dynamic, backup);
- :func:`plot_bytes`: Project Adam against Downpour, bytes and time per step;
- :func:`plot_sync`: the flat and hierarchical allreduce, with and without buckets;
- :func:`downpour_explorer`: replicas, n_fetch, n_push and a slow replica's factor ->
  staleness histogram and loss curve, from a grid computed beforehand
  (:func:`dlkit.experiments.async_sgd.downpour_grid`).

The runs are made by :mod:`dlkit.experiments.async_sgd`; this module only draws them.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from dlkit.viz import parallel as vp
from dlkit.viz.display import show, show_in  # noqa: F401 - re-exported

__all__ = [
    "plot_hogwild",
    "plot_progress",
    "plot_staleness",
    "plot_loss_curves",
    "plot_units",
    "plot_bytes",
    "plot_sync",
    "downpour_explorer",
]

MODE_COLORS = {"hogwild": "#C44E52", "lock": "#4C72B0", "atomic": "#55A868"}


def plot_hogwild(runs_by_problem: dict, threads: Sequence[int] | None = None) -> Figure:
    """One panel per problem: the training loss after each epoch, one line per
    (mode, p) of ``runs_by_problem[name] = {(mode, p): HogwildResult}``."""
    fig = Figure(figsize=(10, 3.6))
    axes = fig.subplots(1, len(runs_by_problem), squeeze=False)[0]
    for ax, (name, runs) in zip(axes, runs_by_problem.items()):
        ps = sorted({p for _, p in runs}) if threads is None else list(threads)
        for (mode, p), r in sorted(runs.items()):
            if p not in ps or (mode != "hogwild" and p != ps[-1]):
                continue  # the lock and atomics: one line each (they equal serial SGD)
            epochs = np.arange(1, len(r.loss) + 1)
            style = "-" if mode == "hogwild" else "--"
            alpha = 0.35 + 0.65 * (ps.index(p) + 1) / len(ps) if mode == "hogwild" else 1.0
            ax.plot(
                epochs,
                r.loss,
                style,
                marker=".",
                color=MODE_COLORS[mode],
                alpha=alpha,
                label=f"{mode}, p = {p}",
            )
        ax.set_xlabel("epoch")
        ax.set_ylabel("training loss")
        ax.set_title(name)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def plot_progress(runs: dict, variants: Sequence[str]) -> Figure:
    """A grid of timelines: rows the progress rules ("async", "target"), columns the
    window variants; ``runs[(rule, variant)]`` a RunResult of
    :func:`dlkit.experiments.async_sgd.progress_probe`."""
    rules = ("async", "target")
    fig = Figure(figsize=(5.2 * len(variants), 2.2 * len(rules) + 0.4))
    axes = fig.subplots(len(rules), len(variants), squeeze=False)
    span = max(r.time for r in runs.values())
    for i, rule in enumerate(rules):
        for j, v in enumerate(variants):
            res = runs[(rule, v)]
            ax = axes[i][j]
            wait = res.values[1]
            vp.plot_timeline(
                res,
                ax=ax,
                span=span,
                title=f"progress={rule!r}, {v}:\nthe Get waits {wait * 1e3:.3g} ms",
            )
            ax.title.set_fontsize(9)
            if (i, j) != (0, len(variants) - 1) and ax.get_legend() is not None:
                ax.get_legend().remove()
    fig.tight_layout()
    return fig


def plot_staleness(runs: dict, ax=None, slow: dict | None = None) -> Figure:
    """Histograms of τ, one per ``runs[name]`` (a DownpourSummary), side by side; for
    the names in ``slow`` (name -> replica index) that replica's τ is stacked on top of
    the others', hatched."""
    if ax is None:
        fig = Figure(figsize=(6.5, 3.4))
        ax = fig.add_subplot()
    fig = ax.figure
    slow = slow or {}
    width = 0.8 / max(len(runs), 1)
    for i, (name, r) in enumerate(runs.items()):
        n = int(np.max(r.staleness)) + 1 if np.size(r.staleness) else 1
        x = np.arange(n) + (i - (len(runs) - 1) / 2) * width
        if name in slow:
            w = slow[name]
            own = np.bincount(np.asarray(r.by_replica[w], dtype=int), minlength=n)
            rest = np.bincount(np.asarray(r.staleness, dtype=int), minlength=n) - own
            ax.bar(x, rest, width=width, color=f"C{i}", label=f"{name}: other replicas")
            ax.bar(
                x,
                own,
                width=width,
                bottom=rest,
                color=f"C{i}",
                alpha=0.45,
                hatch="//",
                edgecolor="black",
                linewidth=0.3,
                label=f"{name}: slow replica",
            )
        else:
            h = np.bincount(np.asarray(r.staleness, dtype=int), minlength=n)
            ax.bar(x, h, width=width, color=f"C{i}", label=name)
    ax.set_xlabel("staleness τ (gradients applied between fetch and push)")
    ax.set_ylabel("applied gradients")
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_loss_curves(runs: dict, ax=None, target: float | None = None) -> Figure:
    """The test loss server 0 measured against virtual time, one line per run."""
    if ax is None:
        fig = Figure(figsize=(6, 3.4))
        ax = fig.add_subplot()
    fig = ax.figure
    for i, (name, r) in enumerate(runs.items()):
        c = np.asarray(r.curve)
        if c.size:
            ax.plot(c[:, 1] * 1e3, c[:, 2], marker=".", color=f"C{i}", label=name)
    if target is not None:
        ax.axhline(target, color="grey", lw=0.8, ls=":", label=f"target {target}")
    ax.set_xlabel("virtual time (ms)")
    ax.set_ylabel("test loss on the server")
    ax.set_ylim(bottom=0)
    ax.legend(fontsize=7, frameon=False)
    return fig


def plot_units(runs: dict, p: int) -> Figure:
    """Sandblaster's work units: one panel per schedule (``runs[schedule]`` a
    SandblasterRun), a row per worker, a bar per unit from its start to its end;
    backups hatched, copies that lost drawn pale. The last worker is the slow one."""
    fig = Figure(figsize=(10, 1.0 + 1.1 * len(runs) * (0.5 + 0.25 * p)))
    axes = fig.subplots(len(runs), 1, squeeze=False)[:, 0]
    span = max(r.time for r in runs.values())
    for ax, (name, r) in zip(axes, runs.items()):
        for e in r.log:
            if e["end"] is None:
                continue
            ax.barh(
                e["worker"],
                (e["end"] - e["start"]) * 1e3,
                left=e["start"] * 1e3,
                height=0.7,
                color=f"C{e['it'] % 10}",
                alpha=1.0 if e["won"] else 0.3,
                hatch="//" if e["backup"] else None,
                edgecolor="white",
                linewidth=0.3,
            )
        for a, b in r.phases:
            ax.axvline(b * 1e3, color="black", lw=0.5, ls=":")
        ax.set_yticks(range(p))
        ax.set_yticklabels([f"worker {w}" + (" (slow)" if w == p - 1 else "") for w in range(p)])
        ax.set_ylim(p - 0.5, -0.5)
        ax.set_xlim(0, span * 1e3 * 1.01)
        ax.set_title(
            f"{name}: {r.time * 1e3:.1f} ms, of which gradient phases "
            f"{r.gradient_time * 1e3:.1f} ms",
            fontsize=9,
        )
    axes[-1].set_xlabel(
        "virtual time (ms); a colour per iteration, dotted: end of a gradient phase"
    )
    axes[0].legend(
        handles=[
            Patch(facecolor="grey", label="unit"),
            Patch(facecolor="grey", hatch="//", label="backup copy"),
            Patch(facecolor="grey", alpha=0.3, label="copy that lost"),
        ],
        fontsize=7,
        frameon=False,
        loc="upper left",
        bbox_to_anchor=(1.0, 1.0),
    )
    fig.tight_layout()
    return fig


def plot_bytes(runs: dict) -> Figure:
    """Bytes and time per worker step of ``runs[scheme]`` (AdamRun), side by side."""
    fig = Figure(figsize=(8, 2.8))
    ax1, ax2 = fig.subplots(1, 2)
    names = list(runs)
    ax1.bar(names, [runs[n].bytes_per_step / 1e3 for n in names], color=["C0", "C2"])
    ax1.set_ylabel("kB per worker step")
    ax2.bar(names, [runs[n].time_per_step * 1e3 for n in names], color=["C0", "C2"])
    ax2.set_ylabel("ms per worker step")
    fig.tight_layout()
    return fig


def plot_sync(rows: dict) -> Figure:
    """Grouped bars of :func:`dlkit.experiments.async_sgd.hierarchical_rows`: the flat
    and hierarchical allreduce, and one step's backward pass without and with buckets,
    for each p."""
    fig = Figure(figsize=(9, 3.2))
    ax1, ax2 = fig.subplots(1, 2)
    ps = list(rows)
    x = np.arange(len(ps))
    for ax, pair, title in (
        (ax1, (("flat", "flat ring"), ("hierarchical", "hierarchical")), "allreduce of ∇"),
        (
            ax2,
            (("no_overlap", "backward, then allreduce"), ("buckets", "buckets overlapped")),
            "backward pass + allreduce",
        ),
    ):
        for k, (key, label) in enumerate(pair):
            ax.bar(
                x + (k - 0.5) * 0.38,
                [rows[p][key] * 1e3 for p in ps],
                width=0.38,
                label=label,
                color=f"C{k}",
            )
        ax.set_xticks(x)
        ax.set_xticklabels([f"p = {p}" for p in ps])
        ax.set_ylabel("ms")
        ax.set_title(title, fontsize=9)
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def downpour_explorer(
    grid: dict, target: float | None = None, p=None, n_fetch=1, n_push=1, slow=1.0
):
    """Widget over a precomputed grid ``{(p, n_fetch, n_push, slow): DownpourSummary}``:
    pick the replicas, n_fetch, n_push and the last replica's slow factor, and see the
    staleness histogram and the server's test loss against time. Every setting of the
    grid is drawn when the widget is created, so the saved page responds to the
    controls."""
    import ipywidgets as w

    from dlkit.viz import static

    keys = list(grid)
    values = [sorted({k[i] for k in keys}) for i in range(4)]
    p = values[0][-1] if p is None else p
    pp = w.SelectionSlider(
        options=values[0], value=p, description="replicas p", continuous_update=False
    )
    nf = w.Dropdown(options=values[1], value=n_fetch, description="n_fetch")
    npu = w.Dropdown(options=values[2], value=n_push, description="n_push")
    sl = w.Dropdown(
        options=[(f"{v:g}x", v) for v in values[3]], value=slow, description="slow replica"
    )

    def draw(out, n_rep, fetch, push, slow_factor):
        key = (n_rep, fetch, push, slow_factor)
        if key not in grid:
            text = f"(p, n_fetch, n_push, slow) = {key} was not run"
            out.outputs = ({"output_type": "stream", "name": "stdout", "text": text + "\n"},)
            return
        r = grid[key]
        fig = Figure(figsize=(10, 3.3))
        a1, a2 = fig.subplots(1, 2)
        slow_w = {"run": n_rep - 1} if slow_factor != 1.0 else None
        plot_staleness({"run": r}, ax=a1, slow=slow_w)
        plot_loss_curves({"run": r}, ax=a2, target=target)
        when = f"target reached at {r.reached * 1e3:.2f} ms" if r.reached else "target not reached"
        tau = np.asarray(r.staleness)
        a1.set_title(f"τ: mean {tau.mean():.2f}, max {tau.max()}", fontsize=9)
        a2.set_title(f"{when}; {r.bytes / 1e6:.1f} MB moved", fontsize=9)
        fig.tight_layout()
        show_in(out, fig, alt=f"staleness and loss, {when}")

    return static.explorer([pp, nf, npu, sl], draw, rows=[[pp, nf], [npu, sl]])
