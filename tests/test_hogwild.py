"""HOGWILD! (dlkit.parallel.hogwild): threads sharing one θ, the serial replay, Ω/Δ/ρ.

No assertion here depends on timing: speed is shown by ``python -m dlkit.bench --only
hogwild``.
"""

from __future__ import annotations

import math
import threading

import numpy as np
import pytest
from numba import njit

from dlkit.parallel import hogwild as hw


def reference_sgd(problem, epochs, lr, seed):
    """Plain serial SGD on logistic regression, one example at a time, in Python.

    The exponential is ``math.exp``, the C library's, as in the compiled kernel: numpy's
    ``np.exp`` has a SIMD version on AVX-512 CPUs that can differ in the last bit."""
    tr = problem.train
    theta = np.zeros(problem.P)
    for order in hw.epoch_orders(tr.N, epochs, seed):
        for n in order:
            lo, hi = tr.indptr[n], tr.indptr[n + 1]
            z = 0.0
            for q in range(lo, hi):
                z += theta[tr.indices[q]] * tr.data[q]
            step = lr * (-tr.y[n] / (1.0 + math.exp(tr.y[n] * z)))
            for q in range(lo, hi):
                theta[tr.indices[q]] -= step * tr.data[q]
    return theta


@pytest.fixture(scope="module")
def small():
    return hw.sparse_problem(300, 40, 4, n_test=100, seed=3)


@pytest.fixture(scope="module")
def sparse():
    return hw.sparse_problem(20_000, 2_000, 10, n_test=5_000, seed=1)


@pytest.fixture(scope="module")
def dense():
    return hw.dense_problem(6_000, 40, n_test=2_000, seed=2)


@pytest.mark.parametrize("mode", hw.MODES)
def test_one_thread_is_plain_sgd(small, mode):
    ref = reference_sgd(small, 3, 0.3, seed=5)
    threaded = hw.hogwild(small, 1, mode, epochs=3, lr=0.3, seed=5)
    replayed = hw.hogwild(small, 1, mode, epochs=3, lr=0.3, seed=5, serial=True)
    assert np.array_equal(threaded.theta, ref)
    assert np.array_equal(replayed.theta, ref)
    assert threaded.lost == replayed.lost == 0


@pytest.mark.parametrize("p", [2, 3, 7])
def test_replay_with_lock_is_plain_sgd(small, p):
    """With the lock the threads' steps happen one at a time: serial SGD, bit for bit."""
    ref = reference_sgd(small, 2, 0.3, seed=0)
    res = hw.hogwild(small, p, "lock", epochs=2, lr=0.3, seed=0, serial=True)
    assert np.array_equal(res.theta, ref)


@pytest.mark.parametrize("mode", ["hogwild", "atomic"])
def test_replay_without_lock_reads_stale_values(small, mode):
    """Without the lock, p ≥ 2 threads read θ before the other updates of their round."""
    ref = reference_sgd(small, 2, 0.3, seed=0)
    res = hw.hogwild(small, 2, mode, epochs=2, lr=0.3, seed=0, serial=True)
    assert not np.array_equal(res.theta, ref)
    assert np.max(np.abs(res.theta - ref)) < 0.2 * np.max(np.abs(ref))


@pytest.mark.parametrize("mode", hw.MODES)
def test_replay_is_bit_identical_across_calls(sparse, mode):
    a = hw.hogwild(sparse, 4, mode, epochs=2, lr=0.5, seed=7, serial=True)
    b = hw.hogwild(sparse, 4, mode, epochs=2, lr=0.5, seed=7, serial=True)
    assert np.array_equal(a.theta, b.theta)
    assert np.array_equal(a.loss, b.loss) and np.array_equal(a.accuracy, b.accuracy)
    assert a.lost == b.lost


def test_lost_updates_of_the_replay(sparse, dense):
    # Dense: both threads of a round write every coordinate, so the first thread's
    # whole update is overwritten in every round of 2: N/2 rounds × P coordinates.
    epochs = 2
    res = hw.hogwild(dense, 2, "hogwild", epochs=epochs, lr=0.1, seed=0, serial=True)
    assert res.lost == epochs * (dense.train.N // 2) * dense.P
    for mode in ("lock", "atomic"):
        assert hw.hogwild(dense, 2, mode, epochs=1, lr=0.1, serial=True).lost == 0
    # Sparse: a collision needs two examples of a round to share a coordinate; few do.
    # With p = 2 the rounds are the pairs of consecutive examples of each epoch's order.
    res = hw.hogwild(sparse, 2, "hogwild", epochs=3, lr=0.5, seed=4, serial=True)
    tr, expected = sparse.train, 0
    for order in hw.epoch_orders(tr.N, 3, seed=4):
        ex = hw.shuffled(tr, order)
        rows = [set(ex.indices[ex.indptr[n] : ex.indptr[n + 1]]) for n in range(tr.N)]
        expected += sum(len(rows[k] & rows[k + 1]) for k in range(0, tr.N - 1, 2))
    assert res.lost == expected
    assert 0 < res.lost < 0.01 * len(tr.data)


def _bayes_accuracy(problem):
    te = problem.test
    z = te.dense(problem.P) @ problem.theta_star
    return float(np.mean(np.sign(z) == te.y))


ACCURACY_BAR = 0.01  # every mode within 1 point of the test accuracy of serial SGD
LOSS_BAR = 0.01  # and within 1% of its training loss, except for one run:
# the replay of HOGWILD! on the dense problem, which loses every other update (the
# second thread of each round overwrites all of the first's), within 6%.
LOSS_BAR_DENSE_REPLAY = 0.06


@pytest.mark.parametrize("name", ["sparse", "dense"])
def test_every_mode_reaches_the_same_accuracy(name, request):
    problem = request.getfixturevalue(name)
    lr = 0.5 if name == "sparse" else 0.05
    base = hw.hogwild(problem, 1, "hogwild", epochs=4, lr=lr, seed=0)
    # The problem is learnable: serial SGD gets within 6 points of the labels' own θ*.
    assert base.accuracy[-1] > _bayes_accuracy(problem) - 0.06
    assert np.all(np.diff(base.loss[:2]) < 0)
    for mode in hw.MODES:
        for serial in (False, True):
            res = hw.hogwild(problem, 2, mode, epochs=4, lr=lr, seed=0, serial=serial)
            assert abs(res.accuracy[-1] - base.accuracy[-1]) < ACCURACY_BAR, (mode, serial)
            worst = name == "dense" and mode == "hogwild" and serial
            bar = LOSS_BAR_DENSE_REPLAY if worst else LOSS_BAR
            assert abs(res.loss[-1] - base.loss[-1]) < bar * base.loss[-1], (mode, serial)
            assert res.updates_per_s > 0 and res.n_threads == 2 and res.mode == mode


def test_result_fields(small):
    res = hw.hogwild(small, 2, "atomic", epochs=3, lr=0.3)
    assert res.theta.shape == (small.P,)
    assert res.loss.shape == res.accuracy.shape == (3,)
    assert np.all((0 <= res.accuracy) & (res.accuracy <= 1))
    assert res.seconds > 0 and not res.serial


def test_loss_and_accuracy_match_numpy(small):
    g = np.random.default_rng(0)
    theta = g.standard_normal(small.P)
    te = small.test
    z = te.dense(small.P) @ theta
    loss = np.mean(np.logaddexp(0.0, -te.y * z))
    acc = np.mean(te.y * z > 0)
    got = hw.loss_and_accuracy(te.indptr, te.indices, te.data, te.y, theta)
    assert abs(got[0] - loss) < 1e-12 and got[1] == acc


def test_shuffled_reorders_rows(small):
    order = np.random.default_rng(1).permutation(small.train.N)
    ex = hw.shuffled(small.train, order)
    assert np.array_equal(ex.dense(small.P), small.train.dense(small.P)[order])
    assert np.array_equal(ex.y, small.train.y[order])


def test_generators_are_seeded_and_shaped():
    a = hw.sparse_problem(500, 100, 5, n_test=50, seed=4)
    b = hw.sparse_problem(500, 100, 5, n_test=50, seed=4)
    assert np.array_equal(a.train.indices, b.train.indices)
    assert np.array_equal(a.train.y, b.train.y)
    assert np.all(np.diff(a.train.indptr) == 5) and a.test.N == 50
    for n in range(a.train.N):  # distinct coordinates within each example
        row = a.train.indices[a.train.indptr[n] : a.train.indptr[n + 1]]
        assert len(np.unique(row)) == 5
    d = hw.dense_problem(200, 8, n_test=20)
    assert np.array_equal(d.train.indices, np.tile(np.arange(8), 200))
    assert set(np.unique(d.train.y)) == {-1.0, 1.0}


def _hand_problem(edges, P):
    indptr = np.concatenate([[0], np.cumsum([len(e) for e in edges])]).astype(np.int64)
    indices = np.array([v for e in edges for v in e], np.int64)
    ex = hw.Examples(indptr, indices, np.ones(len(indices)), np.ones(len(edges)))
    return hw.Problem(ex, ex, P)


def test_hypergraph_of_a_hand_built_problem():
    # Edges e0..e4 over vertices 0..4 (e3 lists vertex 4 twice: still one vertex).
    edges = [[0, 1], [1, 2], [3], [0, 1, 4, 4], [2, 3]]
    h = hw.hypergraph(_hand_problem(edges, 5))
    # Ω: e3 = {0, 1, 4} has 3 vertices. Δ: vertex 1 is in e0, e1, e3: 3 of 5 edges.
    # ρ: e1 = {1, 2} meets e0, e1, e3 (through 1) and e4 (through 2): 4 of 5 edges.
    assert (h.Omega, h.Delta, h.rho) == (3, 3 / 5, 4 / 5)
    assert (h.n_edges, h.n_vertices) == (5, 5)


def test_hypergraph_of_the_generated_problems():
    d = hw.hypergraph(hw.dense_problem(300, 6, n_test=10))
    assert (d.Omega, d.Delta, d.rho) == (6, 1.0, 1.0)
    problem = hw.sparse_problem(600, 300, 4, n_test=10, seed=0)
    s = hw.hypergraph(problem)
    X = (problem.train.dense(problem.P) != 0).astype(float)
    meets = (X @ X.T) > 0  # edges e, ê that share a vertex
    assert s.Omega == 4
    assert s.Delta == X.sum(axis=0).max() / 600
    assert s.rho == meets.sum(axis=1).max() / 600


@njit(nogil=True)
def _count_atomic(a, n):
    for _ in range(n):
        hw.atomic_add(a, 0, 1.0)


@njit(nogil=True)
def _count_locked(a, lock, n):
    for _ in range(n):
        while hw.compare_and_swap(lock, 0, 0, 1) != 0:
            pass
        a[0] += 1.0
        hw.store_release(lock, 0, 0)


@pytest.mark.parametrize("kind", ["atomic", "lock"])
def test_atomic_add_and_spin_lock_lose_no_update(kind):
    a, lock, n = np.zeros(1), np.zeros(1, np.int64), 200_000
    if kind == "atomic":
        fn, args = _count_atomic, (a, n)
    else:
        fn, args = _count_locked, (a, lock, n)
    fn(*args[:-1], 1)  # compile
    a[0] = 0.0
    threads = [threading.Thread(target=fn, args=args) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert a[0] == 2 * n and lock[0] == 0


def test_intrinsics_return_old_values():
    @njit
    def run(a, b):
        old = hw.atomic_add(a, 1, 2.5)
        first = hw.compare_and_swap(b, 0, 0, 9)  # swaps: b[0] was 0
        second = hw.compare_and_swap(b, 0, 0, 5)  # does not: b[0] is 9
        return old, first, second

    a, b = np.array([0.0, 1.0]), np.zeros(1, np.int64)
    assert run(a, b) == (1.0, 0, 9)
    assert a[1] == 3.5 and b[0] == 9


@pytest.mark.parametrize(
    "kwargs, match",
    [
        (dict(mode="fast"), "mode must be one of"),
        (dict(n_threads=0), "n_threads must be an integer >= 1"),
        (dict(n_threads=1.5), "n_threads must be an integer"),
        (dict(epochs=0), "epochs must be an integer >= 1"),
        (dict(lr=-0.1), "lr"),
        (dict(lr=float("nan")), "lr"),
        (dict(seed=None), "seed must be an integer"),
        (dict(serial="yes"), "serial must be True or False"),
    ],
)
def test_bad_arguments(small, kwargs, match):
    with pytest.raises(ValueError, match=match):
        hw.hogwild(small, **kwargs)


def test_bad_problems():
    with pytest.raises(TypeError, match="problem must be a Problem"):
        hw.hogwild(np.zeros((3, 3)))
    with pytest.raises(TypeError, match="problem must be a Problem"):
        hw.hypergraph("x")
    ok = hw.Examples(
        np.array([0, 1, 2], np.int64), np.array([0, 1], np.int64), np.ones(2), np.ones(2)
    )
    with pytest.raises(ValueError, match="every index must be in 0..P-1"):
        hw.Problem(ok, ok, 1)
    bad_y = hw.Examples(ok.indptr, ok.indices, ok.data, np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="labels y must be"):
        hw.Problem(bad_y, ok, 2)
    bad_ptr = hw.Examples(np.array([0, 2], np.int64), ok.indices, ok.data, ok.y)
    with pytest.raises(ValueError, match="indptr must have N"):
        hw.Problem(bad_ptr, ok, 2)
    f32 = hw.Examples(ok.indptr, ok.indices, ok.data.astype(np.float32), ok.y)
    with pytest.raises(ValueError, match="data must be a 1-D float64"):
        hw.Problem(f32, ok, 2)
    with pytest.raises(ValueError, match="nnz"):
        hw.sparse_problem(10, 5, 6)
    with pytest.raises(ValueError, match="N must be an integer"):
        hw.dense_problem(0, 5)


# ------------------------------------------------------------------ the bench group


def test_bench_rows_are_well_formed(monkeypatch):
    import dlkit.bench.hogwild as bh
    from dlkit.bench import Row, load_groups

    assert "hogwild" in load_groups()
    keys = [f"{k}/{m}/{p}" for k in ("sparse", "dense") for m in hw.MODES for p in bh.THREADS]

    def fake_run(python, code):
        if "dlkit_rates" in code:
            return {k: 1e6 * (1 + i) for i, k in enumerate(keys)}
        return 2e4  # torch_rate

    monkeypatch.setattr(bh, "_run", fake_run)
    monkeypatch.setattr(bh, "write_sparse_problem", lambda path: None)
    monkeypatch.setenv("DLKIT_BENCH_ROUNDS", "2")
    for torch_python in (None, "python-with-torch"):
        monkeypatch.setattr(bh, "_torch_python", lambda: torch_python)
        rows = bh.bench()
        assert len(rows) == len(keys) and all(isinstance(r, Row) for r in rows)
        assert rows[0].dlkit_s == 1.0 and "1.00 M updates/s" in rows[0].note
        peers = [r for r in rows if r.peer is not None]
        if torch_python is None:
            assert not peers and "torch not installed" in rows[0].note
        else:
            assert [r.name for r in peers] == [
                "sparse hogwild, 1 thread, per 1M updates",
                "sparse hogwild, 2 threads, per 1M updates",
            ]
            assert peers[0].peer_s == 50.0 and peers[0].rounds == 2
            assert abs(peers[1].ratio - 0.5 / 50.0) < 1e-12


def test_bench_writes_the_problem_torch_runs(tmp_path):
    import dlkit.bench.hogwild as bh

    path = tmp_path / "sparse.npz"
    bh.write_sparse_problem(str(path))
    f = np.load(path)
    tr = hw.sparse_problem().train
    order = hw.epoch_orders(tr.N, 1, 0)[0][: bh.TORCH_N]
    assert np.array_equal(f["y"], tr.y[order]) and int(f["P"]) == 10_000
    assert len(f["indptr"]) == bh.TORCH_N + 1 and f["indptr"][-1] == len(f["data"])
