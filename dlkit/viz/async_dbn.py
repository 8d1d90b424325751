"""Figures and an explorer for the seed talk's asynchronous-DBN tables (chapter 15).

- :func:`plot_tables` draws both tables beside the seed's: time (as a fraction of
  the serial baseline's, since the seed trained on MNIST and we on the digits) and
  speed-up against the number of cores, for the two layouts;
- :func:`tables_explorer` is an ipywidgets explorer over a grid precomputed by
  :func:`dlkit.experiments.async_dbn.explorer_grid`: pick the cores, the layout
  (and so the nodes), the parameter server's window variant, n_fetch = n_push and the
  inter-node link; it shows the time, the staleness histogram and the speed-up. Moving
  a control only redraws; a control with one value in the grid is left out.
"""

from __future__ import annotations

import numpy as np
from matplotlib.figure import Figure

__all__ = ["plot_tables", "tables_explorer"]

_COLORS = {"2 nodes": "tab:blue", "2 TPN": "tab:orange"}


def plot_tables(tables, seed: dict) -> Figure:
    """Two panels: T(p)/T₁ and the speed-up S(p) against cores, ours (solid, filled
    markers; dotted, crosses for a second variant) and the seed's (dashed, open
    markers), for each layout.

    Parameters
    ----------
    tables : the :class:`~dlkit.experiments.async_dbn.Tables` of ``seed_tables()``, or
        a list of them (one per window variant).
    seed : the seed's tables, :data:`dlkit.experiments.async_dbn.SEED`.
    """
    many = isinstance(tables, (list, tuple))
    all_tables = list(tables) if many else [tables]
    fig = Figure(figsize=(9.5, 3.6))
    ax_t, ax_s = fig.subplots(1, 2)
    seed_T1 = None
    layouts = dict.fromkeys(r.layout for tab in all_tables for r in tab.rows)
    for i, tab in enumerate(all_tables):
        style = "o-" if i == 0 else "x:"
        name = f"simulated ({tab.window})" if many else "simulated"
        for layout in layouts:
            rows = tab.table(layout)
            p = [r.cores for r in rows]
            col = _COLORS.get(layout, None)
            ax_t.plot(
                p,
                [r.time / tab.serial.time for r in rows],
                style,
                color=col,
                label=f"{name}, {layout}",
            )
            ax_s.plot(p, [r.speedup for r in rows], style, color=col, label=f"{name}, {layout}")
    for layout in layouts:
        col = _COLORS.get(layout, None)
        if layout in seed:
            sp = sorted(seed[layout])
            times = [seed[layout][q][0] for q in sp]
            speed = [seed[layout][q][1] for q in sp]
            seed_T1 = times[0] * speed[0]  # the seed's serial time, T(4) S(4)
            ax_t.plot(
                sp,
                [t / seed_T1 for t in times],
                "s--",
                mfc="none",
                color=col,
                label=f"seed, {layout}",
            )
            ax_s.plot(sp, speed, "s--", mfc="none", color=col, label=f"seed, {layout}")
    ax_t.set_xlabel("cores (workers)")
    ax_t.set_ylabel("time / serial time")
    ax_t.set_yscale("log")
    ax_t.set_title("time to 90% test accuracy", fontsize=10)
    ax_s.plot([4, 32], [4, 32], ":", color="gray", lw=1, label="linear")
    ax_s.set_xlabel("cores (workers)")
    ax_s.set_ylabel("speed-up T1 / T(p)")
    ax_s.set_title("speed-up", fontsize=10)
    rows = [r for tab in all_tables for r in tab.rows]
    ax_s.set_ylim(0, max(16, max(r.speedup for r in rows) * 1.15))
    for ax in (ax_t, ax_s):
        ax.set_xticks(sorted({r.cores for r in rows}))
        ax.legend(fontsize=7, frameon=False)
    fig.tight_layout()
    return fig


def _explorer_figure(point: dict, serial: float, title: str) -> Figure:
    fig = Figure(figsize=(8.5, 3.0))
    ax_h, ax_b = fig.subplots(1, 2)
    hist = point["hist"]
    ax_h.bar(np.arange(hist.size), hist, width=1.0, color="tab:blue")
    ax_h.set_xlabel("staleness τ of an applied gradient")
    ax_h.set_ylabel("gradients")
    ax_h.set_title(
        f"mean τ = {point['staleness_mean']:.1f}, largest {point['staleness_max']}", fontsize=9
    )
    ax_b.barh([1, 0], [serial * 1e3, point["time"] * 1e3], color=["gray", "tab:orange"])
    ax_b.set_yticks([1, 0], ["1 core", "parallel"])
    ax_b.set_xlabel("simulated time to 90% (ms)")
    ax_b.set_title(f"speed-up {point['speedup']:.2f}", fontsize=9)
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def tables_explorer(grid: dict):
    """ipywidgets explorer over ``grid`` (from
    :func:`dlkit.experiments.async_dbn.explorer_grid`): cores, layout (nodes x TPN),
    the window variant, n_fetch = n_push and the inter-node link -> the simulated time,
    the staleness histogram and the speed-up. Every point was simulated when the grid
    was built; every view is drawn when the explorer is made
    (:func:`dlkit.viz.static.explorer`), so the saved page responds without a kernel."""
    import ipywidgets as w

    from dlkit.viz import static
    from dlkit.viz.display import show_in

    keys = list(grid["points"])
    all_cores = sorted({k[0] for k in keys})
    cores = w.SelectionSlider(options=all_cores, value=all_cores[-1], description="cores")
    layout = w.ToggleButtons(options=list(dict.fromkeys(k[1] for k in keys)), description="layout")
    window = w.ToggleButtons(options=list(dict.fromkeys(k[4] for k in keys)), description="window")
    interval = w.ToggleButtons(options=sorted({k[2] for k in keys}), description="n_fetch=n_push")
    link = w.Dropdown(options=list(dict.fromkeys(k[3] for k in keys)), description="inter link")

    def draw(out, n_cores, lay, win, k, inter):
        key = (n_cores, lay, k, inter, win)
        pt = grid["points"].get(key)
        if pt is None:
            out.outputs = (
                {
                    "output_type": "stream",
                    "name": "stdout",
                    "text": f"{key}: not in the grid (explorer_grid did not run it)\n",
                },
            )
            return
        text = (
            f"{pt['nodes']} nodes x {pt['tpn']} TPN: {pt['iterations']:.2f} "
            f"iterations, simulated {pt['time'] * 1e3:.1f} ms, speed-up "
            f"{pt['speedup']:.2f}" + ("" if pt["reached"] else " (90% not reached)")
        )
        title = (
            f"{key[0]} cores, {key[1]}, window={key[4]!r}, n_fetch = n_push = {key[2]}, "
            f"{key[3]} between nodes"
        )
        show_in(out, _explorer_figure(pt, grid["serial"], title), text)

    controls = (cores, layout, window, interval, link)
    shown = [c for c in controls if c is cores or len(c.options) > 1]
    return static.explorer(controls, draw, rows=shown)
