"""Figures of simulated runs: what is drawn matches the trace it is drawn from."""

import numpy as np

from dlkit.cluster import Faults, SimCluster, collectives, compute
from dlkit.experiments.collectives import allreduce_run
from dlkit.viz import cluster as vc


def _run():
    def train(comm):
        compute(comm, 2e8)
        return collectives.allreduce_ring(comm, np.ones(3000))[0]

    return SimCluster(4, faults=Faults(slow={1: 1.5})).run(train)


def test_timeline_draws_one_bar_per_nonempty_event_and_a_legend():
    res = _run()
    fig = vc.timeline(res, messages=False)
    ax = fig.axes[0]
    drawn = sum(len(c.get_paths()) for c in ax.collections)
    assert drawn == sum(1 for e in res.trace if e.end > e.start)
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels[0] == "compute" and "recv" in labels
    assert [t.get_text() for t in ax.get_yticklabels()] == [f"rank {r}" for r in range(4)]


def test_breakdown_bars_stack_to_the_makespan():
    res = _run()
    ax = vc.breakdown(res).axes[0]
    tops = {}
    for patch in ax.patches:
        x = round(patch.get_x() + patch.get_width() / 2)
        tops[x] = max(tops.get(x, 0.0), patch.get_y() + patch.get_height())
    scale = 1e3  # the makespan is a few ms, drawn in ms
    assert sorted(tops) == [0, 1, 2, 3]
    assert all(abs(t - res.time * scale) < 1e-9 for t in tops.values())


def test_message_steps_of_ring_and_rabenseifner():
    ring, _ = allreduce_run("ring", p=5, N=1000)
    steps = vc.message_steps(ring)
    assert [len(s) for s in steps] == [5] * 8  # 2(p-1) steps of p messages
    rab, predicted = allreduce_run("rabenseifner", p=8, N=1000)
    assert abs(rab.time - predicted) <= 1e-9 * predicted
    sizes = [s[0].bytes for s in vc.message_steps(rab)]
    assert sizes == [4000, 2000, 1000, 1000, 2000, 4000]  # halving, then doubling
    fig = vc.message_pattern(rab)
    assert sum(ax.get_title().startswith("step") for ax in fig.axes) == 6


def test_explorers_draw_their_figure_at_creation():
    boxes = (
        vc.collective_explorer("tree", p=4, N=100),
        vc.pattern_explorer("recursive_doubling", p=6),
    )
    for box in boxes:
        out = box.children[-1]
        assert len(out.outputs) == 1 and "image/png" in out.outputs[0]["data"]
    pattern = boxes[1]
    first = pattern.children[-1].outputs[0]["data"]["image/png"]
    pattern.children[0].children[1].value = 8  # a drawn-ahead view: no fold-in step
    assert pattern.children[-1].outputs[0]["data"]["image/png"] != first


def test_cost_sweep_plot_draws_one_line_per_algorithm_and_the_simulated_points():
    from dlkit.experiments.collectives import allreduce_costs, allreduce_scaling

    sw = allreduce_costs(4, [8, 64, 512, 4096], "10gbe", simulate_at=(64,))
    ax = vc.plot_cost_sweep(sw).axes[0]
    labels = [t.get_text() for t in ax.get_legend().get_texts()]
    assert labels == [vc.ALGORITHM_LABELS[a] for a in sw.algorithms] + ["simulated"]
    assert ax.get_xlabel() == "message size m (bytes)" and ax.get_xscale() == "log"
    points = [ln for ln in ax.get_lines() if ln.get_linestyle() == "None" and len(ln.get_xdata())]
    assert len(points) == len(sw.algorithms)
    for ln, a in zip(points, sw.algorithms):
        assert list(ln.get_xdata()) == [64] and ln.get_ydata()[0] == sw.simulated[a][64]

    sp = allreduce_scaling(range(2, 33), 4096, "10gbe")
    ax = vc.plot_cost_sweep(sp).axes[0]
    assert ax.get_xlabel() == "ranks p" and [int(t) for t in ax.get_xticks()] == [2, 4, 8, 16, 32]
    assert "4,096 bytes" in ax.get_title()
