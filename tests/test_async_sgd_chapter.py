"""The runs, figures and exercise checks of the chapter *Asynchronous SGD*
(dlkit.experiments.async_sgd, dlkit.viz.async_sgd, dlkit.exercises.async_sgd), and the
chapter's parameter-server program under real ``mpiexec``."""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlkit.cluster import SimCluster
from dlkit.exercises import async_sgd as exercises
from dlkit.experiments import async_sgd as ex
from dlkit.parallel.hogwild import hypergraph

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def prob():
    return ex.digits_problem()


def test_progress_probe_waits_only_under_the_target_rule():
    runs = ex.progress_runs(busy=0.2)
    for v in ex.PROGRESS_VARIANTS:
        assert runs[("async", v)].values[1] < 1e-4
    target = {v: runs[("target", v)].values[1] for v in ex.PROGRESS_VARIANTS}
    # the Get starts at 0.02 s and waits for the end of the server's 0.2 s
    for v in ("create_lock", "allocate_lock", "allocate_lock_all"):
        assert 0.18 <= target[v] < 0.1801
    assert target["allocate_lock_all_nocheck"] < 1e-4
    assert 0.0 < target["polling"] <= 0.02 + 1e-4  # the server enters MPI every 0.02 s
    with pytest.raises(Exception, match="choose one of"):
        SimCluster(2).run(ex.progress_probe, "create")


def test_downpour_run_bounds_staleness_and_survives_faults(prob):
    r = ex.downpour_run(prob, 4, n_push=2)
    assert r.reached is not None and r.curve[-1, 2] < ex.TARGET <= r.curve[0, 2]
    assert r.staleness.max() <= (4 - 1) * 2
    assert np.array_equal(np.concatenate(r.by_replica), r.staleness)  # in rank order
    crash = ex.downpour_run(prob, 4, crash_at=1e-3)
    assert crash.presumed_crashed == [0] and crash.reached is not None
    slow = ex.downpour_run(prob, 4, slow=4.0)
    steps = list(slow.steps.values())
    assert steps[-1] < 0.6 * min(steps[:-1])
    assert slow.by_replica[-1].mean() > max(t.mean() for t in slow.by_replica[:-1])


def test_ps_train_on_the_simulator(prob):
    out = SimCluster(3, network=ex.NETWORK, compute=ex.DEVICE).run(ex.ps_train).values[0]
    assert out["version"] == 200 and out["staleness"]["max"] <= 1
    assert out["loss"] < 0.5 * out["loss0"] and out["accuracy"] > 0.8


def test_ps_train_under_mpiexec():
    mpiexec = Path(sys.executable).parent / "mpiexec"
    if not mpiexec.exists():
        pytest.fail(f"mpiexec not found next to {sys.executable}: pip install mpich")
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    cmd = [
        str(mpiexec),
        "-n",
        "3",
        sys.executable,
        "-m",
        "mpi4py",
        "-m",
        "dlkit.experiments.async_sgd",
    ]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env, cwd=ROOT)
    assert proc.returncode == 0, f"mpiexec failed:\n{proc.stdout}\n{proc.stderr}"
    line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
    out = json.loads(line[len("RESULT ") :])
    assert out["version"] == 200  # every gradient of both replicas was applied
    assert out["loss"] < 0.5 * out["loss0"] and out["accuracy"] > 0.8


def test_sandblaster_and_adam_runs():
    runs = ex.sandblaster_runs(iterations=3)
    t = {s: r.gradient_time for s, r in runs.items()}
    assert t["backup"] < t["dynamic"] < t["static"]
    assert np.array_equal(runs["backup"].theta, runs["static"].theta)
    adam = ex.adam_runs(steps=3)
    assert adam["adam"].bytes_per_step < adam["downpour"].bytes_per_step


def test_figures_draw_what_they_are_given(prob):
    from dlkit.viz import async_sgd as va

    a = ex.downpour_run(prob, 2, target=None, steps=20, check_every=10)
    b = ex.downpour_run(prob, 2, slow=4.0, target=None, steps=20, check_every=10)
    fig = va.plot_staleness({"a": a, "b": b}, slow={"b": 1})
    heights = sum(p.get_height() for p in fig.axes[0].patches)
    assert heights == a.staleness.size + b.staleness.size  # every applied gradient, once
    fig = va.plot_loss_curves({"a": a}, target=0.5)
    assert len(fig.axes[0].lines) == 2 and len(fig.axes[0].lines[0].get_xdata()) == len(a.curve)
    runs = ex.sandblaster_runs(iterations=2)
    fig = va.plot_units(runs, 4)
    assert len(fig.axes) == 3
    assert sum(len(ax.patches) for ax in fig.axes) == sum(len(r.log) for r in runs.values())


def test_explorer_over_a_grid(prob):
    from dlkit.viz import async_sgd as va

    grid = ex.downpour_grid(
        prob,
        {"p": (2,), "n_fetch": (1,), "n_push": (1, 2), "slow": (1.0,)},
        steps=15,
        target=None,
    )
    box = va.downpour_explorer(grid, p=2)
    out = box.children[-1]
    assert out.outputs and "image/png" in out.outputs[-1]["data"]
    first = out.outputs[-1]["data"]["image/png"]
    box.children[1].children[0].value = 2  # n_push = 2: the other run, drawn ahead
    assert out.outputs[-1]["data"]["image/png"] != first


RIGHT = [
    (exercises.check_hypergraph, (3, 0.5, 0.75)),
    (exercises.check_staleness_bound, (15,)),
    (exercises.check_push_floats, (156_480,)),
    (exercises.check_balanced_time, (32 * 2e-3 / 3.25,)),
]
WRONG = [
    (exercises.check_hypergraph, (3, 2, 3)),
    (exercises.check_hypergraph, (4, 0.5, 0.75)),
    (exercises.check_staleness_bound, (5,)),
    (exercises.check_staleness_bound, (18,)),
    (exercises.check_push_floats, (1_863_690,)),
    (exercises.check_balanced_time, (0.064,)),
    (exercises.check_balanced_time, ("soon",)),
]


@pytest.mark.parametrize("fn, args", RIGHT)
def test_right_answers_pass(fn, args, capsys):
    assert fn(*args) is True
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize("fn, args", WRONG)
def test_wrong_answers_fail(fn, args, capsys):
    assert fn(*args) is False
    assert capsys.readouterr().out.startswith("Not yet: ")


def test_the_exercise_problem_is_the_one_described():
    h = hypergraph(exercises.edges_problem())
    assert (h.Omega, h.Delta, h.rho) == (3, 0.5, 0.75)
