"""The parameter server in one-sided windows (dlkit.parallel.param_server) on the
simulator: serial equality, staleness bounds, the closed-form time of a run, crashed and
slow replicas, the progress rule, and the errors for bad input."""

import math

import numpy as np
import pytest

from dlkit.cluster import Faults, SimCluster, networks
from dlkit.parallel.param_server import (
    HEADER,
    async_sgd,
    merge,
    serial_sgd,
    shard_bounds,
)

NET = networks.Network(alpha=1e-5, beta=1e-9, gamma=1e-10)
RATE = SimCluster(1).device.flops


def problem(N=1200, D=12, seed=0):
    """A logistic-regression problem with a known separating direction."""
    g = np.random.default_rng(seed)
    w = g.normal(size=D)
    X = g.normal(size=(N, D))
    y = (X @ w + 0.3 * g.normal(size=N) > 0).astype(np.float64)
    return X, y


def grad(theta, batch, seed):
    """∇ of the mean logistic loss of a batch (X, y) at θ."""
    Xb, yb = batch
    return Xb.T @ (1.0 / (1.0 + np.exp(-Xb @ theta)) - yb) / len(yb)


def accuracy(theta, X, y):
    return float(np.mean((X @ theta > 0) == (y > 0.5)))


def shards(X, y, p):
    return [(X[r::p], y[r::p]) for r in range(p)]


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
@pytest.mark.parametrize("n_servers", [1, 2, 3])
def test_one_worker_equals_serial_sgd_bit_for_bit(optimizer, n_servers):
    X, y = problem()
    theta0 = np.linspace(-0.1, 0.1, X.shape[1])
    res = SimCluster(n_servers + 1, network=NET).run(
        async_sgd,
        grad,
        theta0,
        [(X, y)],
        lr=0.2,
        steps=40,
        batch_size=8,
        n_servers=n_servers,
        optimizer=optimizer,
        seed=3,
    )
    ref = serial_sgd(
        grad, theta0, (X, y), lr=0.2, steps=40, batch_size=8, optimizer=optimizer, seed=3
    )
    m = merge(res.values)
    assert np.array_equal(m["theta"], ref)
    assert np.all(m["staleness"] == 0) and m["staleness"].size == 40
    assert m["version"] == 40
    for v in res.values:  # every rank read the same final θ
        assert np.array_equal(v.theta, ref)


@pytest.mark.parametrize("p", [2, 3, 5])
@pytest.mark.parametrize("k", [1, 2])
def test_staleness_of_equal_workers_lies_in_0_to_p_minus_1_times_n_push(p, k):
    X, y = problem()
    res = SimCluster(p + 2, network=NET).run(
        async_sgd,
        grad,
        np.zeros(X.shape[1]),
        shards(X, y, p),
        lr=0.1,
        steps=24,
        batch_size=8,
        n_servers=2,
        n_fetch=k,
        n_push=k,
    )
    m = merge(res.values)
    tau = m["staleness"]
    assert tau.size == p * 24 // k  # every push was applied once
    assert tau.min() >= 0 and tau.max() <= (p - 1) * k
    assert tau.max() == (p - 1) * k  # the bound is reached: workers run in lockstep
    assert m["version"] == p * 24
    assert m["hist"].sum() == tau.size


def test_simulated_step_time_equals_its_closed_form():
    """One server, one worker: a step is its fetch (two Gets on the same ports), the
    gradient's compute, and the push (the control Get_accumulate and the Accumulate
    leave on the same send port; the control reply comes back on the other)."""
    X, y = problem(D=500)
    P, B = X.shape[1], 4
    res = SimCluster(2, network=NET).run(
        async_sgd, grad, np.zeros(P), [(X, y)], lr=0.01, steps=5, batch_size=B
    )
    w = res.values[1]

    def T(m):
        return NET.alpha + m * NET.beta

    mc = 8 * (len(HEADER) + 2)  # the control words of one worker
    c = 6.0 * P * B / RATE
    step = T(8) + T(8 * P) + c + T(mc) + max(T(mc) + mc * NET.gamma, T(8 * P) + 8 * P * NET.gamma)
    for s in w.steps:
        assert math.isclose(s.t_end - s.t0, step, rel_tol=1e-9)
        assert math.isclose(s.t_fetched - s.t0, T(8) + T(8 * P), rel_tol=1e-9)


def test_a_crashed_replica_does_not_stop_training():
    X, y = problem()
    p = 4
    faults = Faults(crash={2: 2e-4})  # worker 1 (rank 2) dies early
    res = SimCluster(p + 1, network=NET, faults=faults).run(
        async_sgd,
        grad,
        np.zeros(X.shape[1]),
        shards(X, y, p),
        lr=0.1,
        steps=150,
        batch_size=8,
        patience=0.01,
    )
    m = merge(res.values)
    assert res.crashed and 2 in res.crashed
    assert m["presumed_crashed"] == [1]
    assert m["steps"] == {1: 150, 3: 150, 4: 150}  # the others did all their steps
    assert accuracy(m["theta"], X, y) > 0.9


def test_a_slow_replica_is_staler_and_does_not_stop_training():
    X, y = problem()
    p = 3
    res = SimCluster(p + 1, network=NET, faults=Faults(slow={3: 4.0})).run(
        async_sgd,
        grad,
        np.zeros(X.shape[1]),
        shards(X, y, p),
        lr=0.1,
        steps=60,
        batch_size=8,
        step_flops=1e-3 * RATE,  # 1 ms per gradient, 4 ms on rank 3
    )
    by_rank = {v.rank: v for v in res.values}
    slow, fast = by_rank[3].staleness, by_rank[1].staleness
    assert slow.size == fast.size == 60
    # while the slow worker computes one gradient (4 ms plus its transfers), each of the
    # 2 others pushes 3 or 4 (1 ms plus theirs)
    assert 2 * 3 <= slow[:10].min() and slow[:10].max() <= 2 * 4
    assert fast[:10].max() <= 2  # the others stay within the equal-speed bound
    assert accuracy(merge(res.values)["theta"], X, y) > 0.9


def test_a_delayed_link_does_not_stop_training():
    """Faults(delay=...) on one worker's link: its messages arrive late (time in
    flight, the server's ports are not held), and training still completes."""
    X, y = problem()
    p = 3
    res = SimCluster(p + 1, network=NET, faults=Faults(delay={(0, 2): 1e-3})).run(
        async_sgd, grad, np.zeros(X.shape[1]), shards(X, y, p), lr=0.1, steps=40, batch_size=8
    )
    m = merge(res.values)
    assert m["steps"] == {1: 40, 2: 40, 3: 40} and m["version"] == 120
    assert accuracy(m["theta"], X, y) > 0.9


def test_until_stops_every_worker():
    X, y = problem()
    p = 3
    res = SimCluster(p + 1, network=NET).run(
        async_sgd,
        grad,
        np.zeros(X.shape[1]),
        shards(X, y, p),
        lr=0.1,
        batch_size=8,
        until=lambda th: accuracy(th, X, y) > 0.9,
        until_flops=1e6,
    )
    m = merge(res.values)
    assert m["checks"][-1][2] and not any(c[2] for c in m["checks"][:-1])
    assert all(v.stopped_by == "until" for v in res.values if v.role == "worker")
    assert accuracy(m["theta"], X, y) > 0.9


def test_a_busy_server_does_not_delay_fetches_under_target_progress():
    """Win.Allocate + Lock_all(MODE_NOCHECK): even when progress needs the target to
    enter MPI, the workers' Gets do not wait for the server's long evaluations."""
    X, y = problem()
    p = 2
    kw = dict(
        lr=0.1,
        steps=30,
        batch_size=8,
        until=lambda th: False,
        check_every=1,
        until_flops=0.05 * RATE,
    )  # every evaluation: 50 ms outside MPI
    args = (async_sgd, grad, np.zeros(X.shape[1]), shards(X, y, p))
    a = SimCluster(p + 1, network=NET, progress="async").run(*args, **kw)
    t = SimCluster(p + 1, network=NET, progress="target").run(*args, **kw)
    for ra, rt in zip(a.values, t.values):
        assert np.array_equal(ra.fetch_waits, rt.fetch_waits)
    assert max(merge(t.values)["fetch_waits"]) < 1e-3


@pytest.mark.parametrize("optimizer", ["sgd", "adagrad"])
@pytest.mark.parametrize("n_servers", [1, 2])
def test_seed_window_gives_serial_sgd_bit_for_bit(optimizer, n_servers):
    """window="seed" (Win.Create, Lock/Get/Put/Unlock) does the same arithmetic."""
    X, y = problem()
    theta0 = np.linspace(-0.1, 0.1, X.shape[1])
    kw = dict(lr=0.2, steps=30, batch_size=8, n_servers=n_servers, optimizer=optimizer)
    res = SimCluster(n_servers + 1, network=NET, progress="target").run(
        async_sgd, grad, theta0, [(X, y)], window="seed", **kw
    )
    ref = serial_sgd(grad, theta0, (X, y), lr=0.2, steps=30, batch_size=8, optimizer=optimizer)
    assert all(np.array_equal(v.theta, ref) for v in res.values)


def test_seed_window_gets_wait_for_the_servers_next_mpi_call():
    """window="seed" under progress="target": the shared Lock and the Gets of a fetch
    each wait until the server next enters MPI, i.e. the end of its current poll
    (a fetch waits about 1 to 2 polls); under progress="async" only the transfers."""
    X, y = problem()
    poll = 1e-3  # far above the transfers (a few alpha = 1e-5 s)
    args = (async_sgd, grad, np.zeros(X.shape[1]), [(X, y)])
    kw = dict(lr=0.1, steps=20, batch_size=8, poll=poll, window="seed")
    t = merge(SimCluster(2, network=NET, progress="target").run(*args, **kw).values)
    a = merge(SimCluster(2, network=NET, progress="async").run(*args, **kw).values)
    assert a["fetch_waits"].max() < 1e-4
    assert t["fetch_waits"].min() > 0.9 * poll
    assert t["fetch_waits"].max() < 2 * poll + 1e-4
    assert np.array_equal(t["theta"], a["theta"])  # the stall changes the time only


def test_seed_window_stalls_behind_a_busy_server():
    """The same 50 ms evaluations as above: with window="seed" a fetch that meets one
    waits for its end (under progress="target"), with the default it does not."""
    X, y = problem()
    p = 2
    kw = dict(
        lr=0.1,
        steps=30,
        batch_size=8,
        until=lambda th: False,
        check_every=1,
        until_flops=0.05 * RATE,
        window="seed",
    )
    args = (async_sgd, grad, np.zeros(X.shape[1]), shards(X, y, p))
    t = merge(SimCluster(p + 1, network=NET, progress="target").run(*args, **kw).values)
    a = merge(SimCluster(p + 1, network=NET, progress="async").run(*args, **kw).values)
    assert t["fetch_waits"].max() > 0.02
    assert a["fetch_waits"].max() < 1e-3


def test_seed_window_serialises_the_pushes():
    """Exclusive locks: a push's epoch (Lock ... Put ... Unlock) on the server never
    overlaps another epoch there, and a fetch's shared epochs overlap only each other."""
    X, y = problem(D=200)
    p = 4
    args = (async_sgd, grad, np.zeros(X.shape[1]), shards(X, y, p))
    res = SimCluster(p + 1, network=NET, progress="target").run(
        *args, lr=0.05, steps=10, batch_size=8, window="seed"
    )
    epochs = []  # (start, end, exclusive) of every worker epoch on server 0
    for r in range(1, p + 1):
        ev = [e for e in res.trace if e.rank == r and e.kind == "win" and e.peer == 0]
        start, excl = None, False
        for e in ev:
            if e.label == "Lock":
                start, excl = e.end, False  # the lock is held from here
            elif e.label == "Put":
                excl = True
            elif e.label == "Unlock" and start is not None:
                epochs.append((start, e.end - NET.alpha, excl))  # released before its reply
                start = None
    pushes = [x for x in epochs if x[2]]
    assert len(pushes) >= p * 10  # every push (and the finished flags) took the lock
    for a0, a1, ax in epochs:
        for b0, b1, bx in pushes:
            if (a0, a1) != (b0, b1) and (ax or bx):
                assert a1 <= b0 + 1e-12 or b1 <= a0 + 1e-12


def test_shard_bounds_cover_theta():
    assert shard_bounds(10, 3) == [(0, 4), (4, 7), (7, 10)]
    assert shard_bounds(2, 2) == [(0, 1), (1, 2)]


@pytest.mark.parametrize(
    "kw, match",
    [
        (dict(n_servers=3), "leaves no worker"),
        (dict(optimizer="adam"), "choose one of"),
        (dict(window="create"), "window='create'"),
        (dict(lr=0.0), "learning rate"),
        (dict(n_push=0), "n_push"),
        (dict(steps=None), "steps="),
        (dict(batch_size=10**6), "batch_size"),
        (dict(theta0=np.zeros((3, 4))), "1-D float64"),
        (dict(data_shards=[]), "one shard per worker"),
        (dict(batch_size=0), "batch_size"),
        (dict(poll=0), "poll"),
        (dict(until=3), "until"),
        (dict(patience=-1.0), "patience"),
        (dict(grad_fn=lambda th, b, s: th[:2]), "float64 vector of P = 12"),
    ],
)
def test_bad_input_is_named(kw, match):
    X, y = problem()
    args = dict(
        grad_fn=grad, theta0=np.zeros(X.shape[1]), data_shards=[(X, y)] * 2, lr=0.1, steps=2
    )
    args.update(kw)
    with pytest.raises(Exception, match=match):
        SimCluster(3).run(async_sgd, **args)
