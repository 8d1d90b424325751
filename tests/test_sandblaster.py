"""Sandblaster L-BFGS (dlkit.parallel.sandblaster) on the simulator: it converges to
the optimum of a regularised logistic regression; with a slow worker, the dynamic
schedule beats the static split and backup tasks beat no backups (simulated times,
exact inequalities and the bounds of the cost model); the schedule never changes θ."""

import numpy as np
import pytest
from scipy.optimize import minimize
from scipy.special import expit

from dlkit.cluster import Faults, SimCluster
from dlkit.parallel.sandblaster import simulate, unit_bounds

RATE = SimCluster(1).device.flops
C = 2e-3  # seconds of compute per work unit
L2 = 1e-2
P_WORKERS, UNITS, ITERS, SLOW = 4, 32, 12, 4.0


@pytest.fixture(scope="module")
def problem():
    g = np.random.default_rng(1)
    X = g.normal(size=(1600, 20))
    y = (X @ g.normal(size=20) + g.normal(size=1600) > 0).astype(np.float64)
    return X, y


def gf(theta, batch):
    """The summed logistic loss of a batch and its gradient."""
    Xb, yb = batch
    z = Xb @ theta
    return float(np.sum(np.logaddexp(0.0, z) - yb * z)), Xb.T @ (expit(z) - yb)


@pytest.fixture(scope="module")
def runs(problem):
    slow_rank = 1 + 2 + (P_WORKERS - 1)  # coordinator, 2 shards, the last worker
    out = {}
    for schedule in ("static", "dynamic", "backup"):
        out[schedule] = simulate(
            P_WORKERS,
            gf,
            np.zeros(20),
            problem,
            n_servers=2,
            n_units=UNITS,
            schedule=schedule,
            iterations=ITERS,
            l2=L2,
            unit_flops=lambda n: C * RATE,
            faults=Faults(slow={slow_rank: SLOW}),
        )
    return out


def test_sandblaster_reaches_the_optimum(problem, runs):
    X, y = problem

    def f(th):
        return gf(th, (X, y))[0] / len(y) + 0.5 * L2 * th @ th

    best = minimize(
        f,
        np.zeros(20),
        method="L-BFGS-B",
        tol=1e-14,
        jac=lambda th: gf(th, (X, y))[1] / len(y) + L2 * th,
    ).fun
    losses = runs["dynamic"].losses
    assert losses[-1] - best < 1e-10
    assert all(b <= a + 1e-15 for a, b in zip(losses[3:], losses[4:]))  # monotone at the end


def test_the_schedule_changes_the_time_not_theta(runs):
    th = runs["static"].theta
    assert np.array_equal(runs["dynamic"].theta, th)
    assert np.array_equal(runs["backup"].theta, th)
    assert runs["static"].losses == runs["backup"].losses


def test_dynamic_beats_static_and_backups_beat_dynamic(runs):
    static, dynamic, backup = (runs[s].gradient_time for s in ("static", "dynamic", "backup"))
    assert backup < dynamic < static
    # static: the slow worker's 8 units at 4C each bound every phase from below
    assert static >= ITERS * (UNITS / P_WORKERS) * SLOW * C
    # no schedule beats the work divided by the capacity 3 + 1/4 workers
    assert backup >= ITERS * UNITS * C / (P_WORKERS - 1 + 1 / SLOW)
    assert dynamic < 0.5 * static
    assert runs["backup"].time < runs["dynamic"].time < runs["static"].time


def test_the_task_log_records_backups_and_winners(runs):
    log = runs["backup"].log
    assert any(e["backup"] for e in log)
    for it in range(ITERS):
        won = [e["unit"] for e in log if e["it"] == it and e["won"]]
        assert sorted(won) == list(range(UNITS))  # every unit won exactly once
    assert not any(e["backup"] for e in runs["dynamic"].log)
    per_worker = np.bincount([e["worker"] for e in runs["dynamic"].log], minlength=P_WORKERS)
    assert per_worker[-1] < per_worker[0]  # the fast workers took more units


def test_unit_bounds_and_errors(problem):
    assert unit_bounds(10, 4) == [(0, 3), (3, 6), (6, 8), (8, 10)]
    with pytest.raises(Exception, match="n_units"):
        simulate(4, gf, np.zeros(20), problem, n_units=2, iterations=1)
    with pytest.raises(Exception, match="schedule"):
        simulate(2, gf, np.zeros(20), problem, schedule="random", iterations=1)
