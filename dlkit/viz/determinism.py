"""Figures and an explorer for chapter 16's determinism section: how far apart runs end
up, by source of difference, and step by step.

- :func:`plot_sources`: one bar per source of run-to-run difference, its relative
  difference on a log scale (bit-equal results marked as such);
- :func:`plot_divergence`: the distance between two runs at every step, for several
  pairs of runs (another seed, another initialisation, a bug, one flipped bit...);
- :func:`plot_thread_sums`: the usual parallel sum and the fixed-block sum against the
  thread count: their values and their times;
- :func:`divergence_explorer`: a widget: a pair of runs and a step, the distance curve
  up to that step and where the runs first parted.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from dlkit.viz.display import show, show_in

__all__ = ["plot_sources", "plot_divergence", "plot_thread_sums", "divergence_explorer", "show"]

#: Where a difference of exactly 0 (bit-equal) is drawn on a log scale.
FLOOR = 1e-18


def plot_sources(rows: Sequence[tuple[str, float]], ax=None):
    """Horizontal bars: the relative difference max |a − b| / max |b| that each source of
    `rows` (label, difference) makes; a difference of 0 is marked "bit-equal"."""
    if ax is None:
        ax = Figure(figsize=(7.5, 0.42 * len(rows) + 1.2)).subplots()
    labels = [r[0] for r in rows]
    values = np.array([max(float(r[1]), FLOOR) for r in rows])
    y = np.arange(len(rows))[::-1]
    colors = ["#bbbbbb" if r[1] == 0 else "#3b75af" for r in rows]
    ax.barh(y, values, color=colors, left=FLOOR)
    for yi, r, v in zip(y, rows, values):
        ax.text(v * 1.6, yi, "bit-equal" if r[1] == 0 else f"{r[1]:.1e}", va="center", fontsize=8)
    ax.set_xscale("log")
    ax.set_xlim(FLOOR, 10.0)
    ax.set_yticks(y, labels, fontsize=8)
    ax.set_xlabel("relative difference  max|a − b| / max|b|")
    ax.set_title("Where two runs differ, by source (this machine)")
    ax.figure.tight_layout()
    return ax.figure


def plot_divergence(curves: Mapping[str, np.ndarray], ax=None):
    """The relative distance between two runs' parameters at every step, one line per
    pair of runs in `curves` (label -> distances, 0 where they are bit-equal)."""
    if ax is None:
        ax = Figure(figsize=(7.0, 3.6)).subplots()
    for label, d in curves.items():
        d = np.asarray(d, dtype=np.float64)
        ax.semilogy(np.arange(d.size), np.maximum(d, FLOOR), label=label, lw=1.4)
    ax.axhline(FLOOR, color="#999999", lw=0.8, ls=":")
    ax.text(0, FLOOR * 3, "bit-equal", fontsize=8, color="#666666")
    ax.set_xlabel("step")
    ax.set_ylabel("max |θ_a − θ_b| / max |θ_b|")
    ax.set_title("Two runs, step by step")
    ax.legend(fontsize=8, loc="lower right")
    ax.figure.tight_layout()
    return ax.figure


def plot_thread_sums(sums, exact: float):
    """Two panels for a :class:`dlkit.experiments.determinism.ThreadSums`: each sum's
    relative error against `exact`, and the time of each, against the thread count."""
    fig = Figure(figsize=(9.0, 3.3))
    a, b = fig.subplots(1, 2)
    t = np.array(sums.threads)
    for vals, label, mark in (
        (sums.parallel, "one chunk per thread", "o-"),
        (sums.blocked, "fixed blocks", "s--"),
    ):
        a.plot(t, np.abs(np.array(vals) - exact) / abs(exact), mark, label=label)
    a.set_xscale("log", base=2)
    a.set_xlabel("threads T")
    a.set_ylabel("|sum − exact| / |exact|")
    a.set_title("The value")
    a.legend(fontsize=8)
    for secs, label, mark in (
        (sums.seconds_parallel, "one chunk per thread", "o-"),
        (sums.seconds_blocked, "fixed blocks", "s--"),
    ):
        b.plot(t, np.array(secs) * 1e3, mark, label=label)
    b.set_xscale("log", base=2)
    b.set_xlabel("threads T")
    b.set_ylabel("ms (this machine)")
    b.set_title("The time")
    b.legend(fontsize=8)
    fig.tight_layout()
    return fig


def _first_nonzero(d: np.ndarray) -> int | None:
    hits = np.flatnonzero(np.asarray(d) != 0)
    return int(hits[0]) if hits.size else None


def divergence_explorer(
    curves: Mapping[str, np.ndarray], pair: str | None = None, *, steps: int = 8
):
    """Widget: a pair of runs (from `curves`, label -> per-step distance) and a step
    → the distance curve up to that step, with the first step where the runs part.

    The curves are computed beforehand (this module only draws). The step slider has
    `steps` positions spread over the longest curve (its last step among them); every
    view is drawn when the widget is created (:func:`dlkit.viz.static.explorer`), so the
    saved page responds without a kernel. Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as w

    from dlkit.viz import static

    names = list(curves)
    if not names:
        raise ValueError("divergence_explorer: curves is empty; pass {label: distances}")
    if pair is not None and pair not in curves:
        raise ValueError(f"divergence_explorer: pair={pair!r} is not one of {names}")
    if not isinstance(steps, int) or steps < 1:
        raise ValueError(f"divergence_explorer: steps must be an int >= 1, got {steps!r}")
    choice = w.Dropdown(options=names, value=pair or names[0], description="runs")
    longest = max(len(np.asarray(c)) for c in curves.values())
    marks = sorted({int(round(v)) for v in np.linspace(0, longest - 1, steps)})
    step = w.SelectionSlider(
        options=marks, value=marks[-1], description="step", continuous_update=False
    )

    def draw(out, name, s):
        d = np.asarray(curves[name], dtype=np.float64)
        s = min(s, d.size - 1)
        fig = Figure(figsize=(6.5, 3.2))
        ax = fig.subplots()
        ax.semilogy(np.arange(s + 1), np.maximum(d[: s + 1], FLOOR), lw=1.4)
        first = _first_nonzero(d)
        if first is not None and first <= s:
            ax.axvline(first, color="#c44e52", ls="--", lw=1)
            ax.text(first, 1e-2, f" first divergence: step {first}", color="#c44e52", fontsize=8)
        ax.set_ylim(FLOOR / 2, 10)
        ax.set_xlim(0, max(longest - 1, 1))
        ax.set_xlabel("step")
        ax.set_ylabel("max |θ_a − θ_b| / max |θ_b|")
        ax.set_title(name, fontsize=10)
        fig.tight_layout()
        text = "bit-equal so far" if first is None or first > s else f"parted at step {first}"
        show_in(out, fig, f"{name}: {text}; at step {s}: {d[s]:.1e}")

    return static.explorer([choice, step], draw)
