"""Figures of simulated cluster runs (:mod:`dlkit.cluster`).

- :func:`timeline` draws a run's trace as a Gantt chart: one row per rank, time on
  the x axis, compute and the kinds of communication in different colours;
- :func:`breakdown` draws each rank's virtual time split by kind, as stacked bars
  (idle = waiting for the slowest rank to finish);
- :func:`message_pattern` draws a collective's messages step by step: one panel per
  step, ranks on a circle, an arrow per message;
- :func:`plot_cost_sweep` draws allreduce time against the message size :math:`m` or
  the number of ranks :math:`p` (a :class:`~dlkit.experiments.collectives.CostSweep`):
  the closed forms as lines, the simulated runs as open circles on them;
- :func:`collective_explorer` is an ipywidgets explorer: pick an allreduce
  algorithm, the number of ranks, the vector size and the network, and see the
  timeline with the simulated time beside its closed form;
  :func:`pattern_explorer` shows an algorithm's message pattern for a chosen p.

The explorers run :func:`dlkit.experiments.collectives.allreduce_run` (its old name
here still works, listed in ``_MOVED``).
"""

from __future__ import annotations

from dlkit.aliases import moved
from typing import Sequence

import numpy as np
from matplotlib.collections import PolyCollection
from matplotlib.figure import Figure
from matplotlib.patches import Patch

__all__ = [
    "KIND_COLORS",
    "timeline",
    "breakdown",
    "message_pattern",
    "message_steps",
    "ALGORITHM_LABELS",
    "ALGORITHM_COLORS",
    "plot_cost_sweep",
    "collective_explorer",
    "pattern_explorer",
]

#: Names that moved to :mod:`dlkit.experiments`, served lazily by :func:`__getattr__`.
_MOVED = {"allreduce_run": "dlkit.experiments.collectives"}

#: colour of each event kind (compute in blue, communication in warm colours)
KIND_COLORS = {
    "compute": "#4C72B0",
    "reduce": "#64B5CD",
    "send": "#DD8452",
    "recv": "#C44E52",
    "wait": "#DA8BC3",
    "collective": "#8172B3",
    "barrier": "#937860",
    "win": "#CCB974",
    "idle": "#E5E5E5",
}
_ORDER = list(KIND_COLORS)

#: how the allreduce algorithms are named in figures
ALGORITHM_LABELS = {
    "ps": "parameter server",
    "tree": "binomial tree",
    "recursive_doubling": "recursive doubling",
    "ring": "ring",
    "rabenseifner": "Rabenseifner",
}

#: one colour per allreduce algorithm, the same in every figure
ALGORITHM_COLORS = {
    "ps": "#937860",
    "tree": "#8172B3",
    "recursive_doubling": "#DD8452",
    "ring": "#4C72B0",
    "rabenseifner": "#55A868",
}


def _axes(ax, figsize):
    if ax is not None:
        return ax.figure, ax
    fig = Figure(figsize=figsize)
    return fig, fig.subplots()


def _time_unit(t: float) -> tuple[float, str]:
    if t >= 1:
        return 1.0, "s"
    if t >= 1e-3:
        return 1e3, "ms"
    return 1e6, "µs"


def timeline(
    result,
    ax=None,
    ranks: Sequence[int] | None = None,
    title: str | None = None,
    messages: bool | None = None,
) -> Figure:
    """Gantt chart of a :class:`~dlkit.cluster.RunResult`: one row per rank.

    Each trace event is a bar from its start to its end, coloured by kind
    (``KIND_COLORS``); zero-length events are not drawn. With ``messages=True``
    (default: when there are at most 200) each message is a thin arrow from the
    sender's row at its start to the receiver's row at its end.
    """
    ranks = list(range(result.n)) if ranks is None else list(ranks)
    fig, ax = _axes(ax, (9, 0.35 * len(ranks) + 1.6))
    scale, unit = _time_unit(result.time or 1.0)
    row = {r: i for i, r in enumerate(ranks)}
    seen = set()
    by_kind: dict[str, list] = {}
    for e in result.trace:
        if e.rank in row and e.end > e.start:
            by_kind.setdefault(e.kind, []).append(e)
    for kind in sorted(by_kind, key=lambda k: _ORDER.index(k) if k in _ORDER else 99):
        # one collection of rectangles per kind: fast even for tens of thousands of events
        ev = by_kind[kind]
        x0 = np.array([e.start for e in ev]) * scale
        x1 = np.array([e.end for e in ev]) * scale
        y = np.array([row[e.rank] for e in ev], dtype=float)
        verts = np.stack(
            [
                np.stack([x0, y - 0.38], 1),
                np.stack([x0, y + 0.38], 1),
                np.stack([x1, y + 0.38], 1),
                np.stack([x1, y - 0.38], 1),
            ],
            axis=1,
        )
        lw = 0.3 if len(ev) <= 2000 else 0.0
        ax.add_collection(
            PolyCollection(
                verts,
                facecolors=KIND_COLORS.get(kind, "#999999"),
                edgecolors="white",
                linewidths=lw,
            )
        )
        seen.add(kind)
    if messages is None:
        messages = len(result.messages) <= 200
    if messages:
        for m in result.messages:
            if m.src in row and m.dst in row:
                ax.annotate(
                    "",
                    xy=(m.end * scale, row[m.dst]),
                    xytext=(m.start * scale, row[m.src]),
                    arrowprops=dict(arrowstyle="->", color="black", lw=0.5, alpha=0.5),
                )
    ax.set_yticks(range(len(ranks)))
    ax.set_yticklabels([f"rank {r}" for r in ranks])
    ax.set_ylim(len(ranks) - 0.5, -0.5)
    ax.set_xlim(0, max(result.time, 1e-30) * scale * 1.01)
    ax.set_xlabel(f"virtual time ({unit})")
    handles = [Patch(color=KIND_COLORS.get(k, "#999999"), label=k) for k in _ORDER if k in seen]
    if handles:
        ax.legend(
            handles=handles, loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False
        )
    ax.set_title(title or f"{result.n} ranks, makespan {result.time * scale:.4g} {unit}")
    fig.tight_layout()
    return fig


def breakdown(result, ax=None, title: str | None = None) -> Figure:
    """Stacked bars: each rank's virtual time by event kind, plus idle time.

    The bars come from :meth:`dlkit.cluster.sim.RunResult.breakdown`; each sums to the makespan.
    """
    parts = result.breakdown()
    fig, ax = _axes(ax, (max(4.0, 0.45 * result.n + 2.5), 3.4))
    scale, unit = _time_unit(result.time or 1.0)
    kinds = [k for k in _ORDER if any(k in p for p in parts)]
    bottom = np.zeros(result.n)
    for k in kinds:
        vals = np.array([p.get(k, 0.0) for p in parts]) * scale
        ax.bar(range(result.n), vals, bottom=bottom, color=KIND_COLORS[k], label=k)
        bottom += vals
    ax.set_xticks(range(result.n))
    ax.set_xlabel("rank")
    ax.set_ylabel(f"virtual time ({unit})")
    ax.legend(loc="upper left", bbox_to_anchor=(1.0, 1.0), fontsize=8, frameon=False)
    ax.set_title(title or "where each rank's time goes")
    fig.tight_layout()
    return fig


def message_steps(result, label: str | None = None) -> list[list]:
    """Group a run's messages into steps: messages whose transfers overlap in time
    belong to the same step. Returns a list of steps, each a list of Transfers."""
    msgs = sorted(
        (m for m in result.messages if label is None or m.label == label),
        key=lambda m: (m.start, m.src, m.dst),
    )
    steps: list[list] = []
    end = -np.inf
    for m in msgs:
        if not steps or m.start >= end - 1e-15 * max(1.0, abs(end)):
            steps.append([m])
            end = m.end
        else:
            steps[-1].append(m)
            end = max(end, m.end)
    return steps


def message_pattern(
    result, max_steps: int = 12, label: str | None = None, title: str | None = None
) -> Figure:
    """A collective's messages step by step: ranks on a circle, one panel per step.

    Arrow width grows with the message size, so the ring's equal chunks and the
    recursive halving's shrinking halves are visible at a glance.
    """
    steps = message_steps(result, label)[:max_steps]
    n = result.n
    cols = min(4, max(1, len(steps)))
    rows = max(1, -(-len(steps) // cols))
    fig = Figure(figsize=(2.4 * cols, 2.5 * rows + 0.4))
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    angle = np.pi / 2 - 2 * np.pi * np.arange(n) / n
    xy = np.stack([np.cos(angle), np.sin(angle)], axis=1)
    biggest = max((m.bytes for s in steps for m in s), default=1) or 1
    for i, ax in enumerate(axes):
        ax.set_axis_off()
        ax.set_aspect("equal")
        if i >= len(steps):
            continue
        ax.scatter(xy[:, 0], xy[:, 1], s=120, color="#4C72B0", zorder=3)
        for r in range(n):
            ax.text(
                xy[r, 0],
                xy[r, 1],
                str(r),
                color="white",
                ha="center",
                va="center",
                fontsize=7,
                zorder=4,
            )
        for m in steps[i]:
            ax.annotate(
                "",
                xy=xy[m.dst],
                xytext=xy[m.src],
                arrowprops=dict(
                    arrowstyle="-|>",
                    color="#C44E52",
                    shrinkA=7,
                    shrinkB=7,
                    lw=0.6 + 2.0 * m.bytes / biggest,
                    connectionstyle="arc3,rad=0.12",
                ),
            )
        nbytes = sum(m.bytes for m in steps[i])
        ax.set_title(f"step {i + 1}: {len(steps[i])} msgs, {nbytes} B", fontsize=8)
        ax.set_xlim(-1.3, 1.3)
        ax.set_ylim(-1.3, 1.3)
    fig.suptitle(title or f"message pattern, {n} ranks", fontsize=10)
    fig.tight_layout()
    return fig


def plot_cost_sweep(sweep, ax=None, title: str | None = None) -> Figure:
    """Allreduce time against m (bytes) or p, log-log, one line per algorithm.

    `sweep` is a :class:`~dlkit.experiments.collectives.CostSweep`
    (:func:`~dlkit.experiments.collectives.allreduce_costs` or
    :func:`~dlkit.experiments.collectives.allreduce_scaling`). Lines are the closed
    forms at every swept value; open circles are the simulated runs, which lie on them.
    """
    fig, ax = _axes(ax, (6, 3.6))
    x = np.asarray(sweep.x)
    for a, ts in sweep.closed_form.items():
        color = ALGORITHM_COLORS.get(a)
        style = "." if sweep.axis == "p" else ""  # p is discrete: mark every value
        ax.plot(x, ts, style + "-", color=color, ms=3, label=ALGORITHM_LABELS.get(a, a))
        pts = sweep.simulated.get(a, {})
        if pts:
            ax.plot(
                list(pts),
                list(pts.values()),
                "o",
                mfc="none",
                color=color,
                ms=6,
                label="_nolegend_",
            )
    ax.set_yscale("log")
    if sweep.axis == "p":
        ax.set_xscale("log", base=2)
        ticks = [int(v) for v in x if int(v) & (int(v) - 1) == 0] if len(x) > 12 else list(x)
        ax.set_xticks(ticks)
        ax.set_xticklabels([str(int(v)) for v in ticks])
        ax.set_xlabel("ranks p")
        default = f"m = {int(sweep.m):,} bytes, {sweep.network.name}"
    else:
        ax.set_xscale("log")
        ax.set_xlabel("message size m (bytes)")
        default = f"p = {sweep.p}, {sweep.network.name}"
    ax.set_ylabel("allreduce time (s)")
    if any(sweep.simulated.values()):
        ax.plot([], [], "o", mfc="none", color="gray", label="simulated")
    ax.set_title(title or default, fontsize=10)
    ax.legend(fontsize=8, frameon=False)
    fig.tight_layout()
    return fig


def collective_explorer(
    algorithm: str = "ring", p: int = 8, N: int = 100_000, network: str = "10gbe"
):
    """ipywidgets explorer: an allreduce's timeline for a chosen algorithm, p, N, network.

    The ranks are 4 and 8 (and `p`), the sizes 1,000 and 100,000 elements (and `N`), the
    networks `network` and Gigabit Ethernet. Every view is drawn when the widget is
    created, so the saved page responds to the controls.
    """
    import ipywidgets as w

    from dlkit.cluster import collectives, networks
    from dlkit.experiments.collectives import allreduce_run
    from dlkit.viz.display import show_in

    from dlkit.viz import static

    if network not in networks.PRESETS:
        raise ValueError(
            f"collective_explorer: network must be one of {list(networks.PRESETS)}, got {network!r}"
        )
    algo = w.Dropdown(options=list(collectives.ALLREDUCE), value=algorithm, description="algorithm")
    ranks = w.SelectionSlider(options=sorted({4, 8, int(p)}), value=int(p), description="ranks p")
    size = w.Dropdown(
        options=sorted({1_000, 100_000, max(1, int(N))}),
        value=max(1, int(N)),
        description="elements N",
    )
    net = w.Dropdown(options=sorted({network, "1gbe"}), value=network, description="network")

    def draw(out, name, n_ranks, n, net_name):
        res, predicted = allreduce_run(name, n_ranks, n, net_name)
        scale, unit = _time_unit(res.time)
        fig = timeline(
            res,
            messages=False,
            title=f"{name}: simulated {res.time * scale:.4g} {unit}, "
            f"closed form {predicted * scale:.4g} {unit}",
        )
        show_in(out, fig)

    return static.explorer([algo, ranks, size, net], draw, rows=[[algo, net], [ranks, size]])


def pattern_explorer(algorithm: str = "rabenseifner", p: int = 8, N: int = 1024):
    """ipywidgets explorer: the step-by-step message pattern of an allreduce algorithm.

    Try p = 6 with "recursive_doubling" or "rabenseifner" to see the fold-in and
    fold-out steps that handle a number of ranks that is not a power of two. The ranks
    are 4, 6 and 8 (and `p`); every view is drawn when the widget is created, so the
    saved page responds to the controls.
    """
    import ipywidgets as w

    from dlkit.viz import static

    from dlkit.cluster import collectives
    from dlkit.experiments.collectives import allreduce_run
    from dlkit.viz.display import show_in

    algo = w.Dropdown(options=list(collectives.ALLREDUCE), value=algorithm, description="algorithm")
    ranks = w.SelectionSlider(
        options=sorted({4, 6, 8, int(p)}), value=int(p), description="ranks p"
    )

    def draw(out, name, n_ranks):
        res, _ = allreduce_run(name, n_ranks, N)
        show_in(out, message_pattern(res, max_steps=16, title=f"{name}, p = {n_ranks}, N = {N}"))

    return static.explorer([algo, ranks], draw, rows=[[algo, ranks]])


__getattr__ = moved(__name__, _MOVED)
