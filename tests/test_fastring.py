"""The ring allreduce replayed for all ranks at once (dlkit.cluster.fastring) against the
same program run message by message: values, clocks, trace and transfers must agree
exactly, whatever the sizes, network, eager limit, op, dtype, slow ranks and arrival
times; and a call with unmatched traffic runs message by message."""

from __future__ import annotations

import time

import numpy as np
import pytest

from dlkit.cluster import MPI, Faults, SimCluster, costs, fastring, networks
from dlkit.cluster.hooks import compute


def _both(monkeypatch, p, train, **kw):
    fast = SimCluster(p, **kw).run(train)
    with monkeypatch.context() as m:
        m.setattr(fastring, "eligible", lambda eng, comm: False)
        slow = SimCluster(p, **kw).run(train)
    return fast, slow


def _same(fast, slow):
    assert fast.time == slow.time and fast.rank_times == slow.rank_times
    for r in range(fast.n):  # each rank's events, in order (ranks may interleave otherwise)
        assert fast.events(rank=r) == slow.events(rank=r)
    assert len(fast.trace) == len(slow.trace)
    assert sorted(fast.messages) == sorted(slow.messages)
    for a, b in zip(fast.values, slow.values):
        if isinstance(a, np.ndarray):
            assert a.dtype == b.dtype and np.array_equal(a, b)
        else:
            assert a == b


def _program(N, dtype, op, late=False, before=0, after=0):
    def train(comm):
        r = comm.Get_rank()
        x = np.random.default_rng(r).normal(size=N).astype(dtype)
        if late:
            compute(comm, 1e9 * (r % 3))  # ranks enter at different times
        for _ in range(before):
            comm.Barrier()
        comm.Allreduce(MPI.IN_PLACE, x, op=op)
        for _ in range(after):
            x = x + 1
            comm.Allreduce(MPI.IN_PLACE, x, op=op)
        return x

    return train


@pytest.mark.parametrize("p, N", [(2, 1), (3, 7), (4, 1000), (5, 3), (8, 100), (13, 64)])
@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_replay_equals_message_by_message(monkeypatch, p, N, dtype):
    fast, slow = _both(
        monkeypatch,
        p,
        _program(N, dtype, MPI.SUM, after=1),
        network=networks.preset("10gbe"),
        allreduce="ring",
    )
    _same(fast, slow)


@pytest.mark.parametrize(
    "case",
    [
        "eager 0",
        "slow ranks",
        "late ranks",
        "max",
        "prod",
        "fdr_ib ring topology",
        "two levels",
        "after barriers",
    ],
)
def test_replay_equals_message_by_message_in_every_setting(monkeypatch, case):
    p, N, op, kw, late, before = 6, 50, MPI.SUM, {}, False, 0
    if case == "eager 0":
        kw["eager_limit"] = 0  # every send waits for its transfer
    elif case == "slow ranks":
        kw["faults"] = Faults(slow={1: 3.0, 4: 0.5})
    elif case == "late ranks":
        late = True
    elif case in ("max", "prod"):
        op = MPI.MAX if case == "max" else MPI.PROD
    elif case == "fdr_ib ring topology":
        kw["network"] = networks.ring("fdr_ib")
    elif case == "two levels":
        kw["network"] = networks.two_level("nvlink", "fdr_ib", 2)
    elif case == "after barriers":
        before = 2
    fast, slow = _both(
        monkeypatch, p, _program(N, np.float64, op, late, before, 1), allreduce="ring", **kw
    )
    _same(fast, slow)


def test_a_rank_with_unmatched_traffic_runs_the_call_message_by_message(monkeypatch):
    calls = []
    real = fastring._replay
    monkeypatch.setattr(fastring, "_replay", lambda *a: calls.append(1) or real(*a))

    def train(comm):
        r, p = comm.Get_rank(), comm.Get_size()
        x = np.full(10, float(r))
        req = comm.Isend(np.ones(3), dest=(r + 1) % p, tag=7)  # unmatched on entry
        comm.Allreduce(MPI.IN_PLACE, x)
        comm.Recv(np.empty(3), source=(r - 1) % p, tag=7)
        req.Wait()
        return x

    res = SimCluster(4, allreduce="ring").run(train)
    assert calls == []  # not replayed
    assert all(np.array_equal(v, np.full(10, 6.0)) for v in res.values)
    monkeypatch.setattr(fastring, "eligible", lambda eng, comm: False)
    _same(res, SimCluster(4, allreduce="ring").run(train))


def test_a_late_rank_with_traffic_sends_the_waiting_ranks_back(monkeypatch):
    """Ranks 0-2 enter and wait; rank 3 arrives with an unmatched send: all four run
    the call message by message, from the clocks at which they entered."""

    def train(comm):
        r = comm.Get_rank()
        x = np.arange(5.0) * r
        if r == 3:
            compute(comm, 5e9)
            req = comm.Isend(np.ones(2), dest=0, tag=1)
        comm.Allreduce(MPI.IN_PLACE, x)
        if r == 0:
            comm.Recv(np.empty(2), source=3, tag=1)
        if r == 3:
            req.Wait()
        return x

    fast, slow = _both(monkeypatch, 4, train, allreduce="ring")
    _same(fast, slow)


def test_replay_falls_back_under_faults_and_limits():
    eng_like = type("E", (), {})()
    eng_like.n, eng_like.crashed, eng_like.t_limit = 4, {}, float("inf")
    comm = type("C", (), {"_group": None})()
    for faults, limit, want in [
        (Faults(), float("inf"), True),
        (Faults(slow={0: 2.0}), float("inf"), True),
        (Faults(crash={1: 1.0}), float("inf"), False),
        (Faults(drop={(0, 1)}), float("inf"), False),
        (Faults(delay={(0, 1): 1e-3}), float("inf"), False),
        (Faults(), 1.0, False),
    ]:
        eng_like.faults, eng_like.t_limit = faults, limit
        assert fastring.eligible(eng_like, comm) is want
    comm._group = (0, 1)
    eng_like.faults, eng_like.t_limit = Faults(), float("inf")
    assert not fastring.eligible(eng_like, comm)


def test_a_rank_that_never_enters_is_a_deadlock_naming_the_call():
    from dlkit.cluster import DeadlockError

    def train(comm):
        if comm.Get_rank() != 2:
            comm.Allreduce(MPI.IN_PLACE, np.ones(4))

    with pytest.raises(DeadlockError, match=r"Allreduce\[ring\] \(waiting for rank\(s\) 2"):
        SimCluster(3, allreduce="ring").run(train)


def test_1000_ranks_ring_allreduce_is_exact_fast_and_on_its_closed_form():
    p, N = 1000, 1000
    net = networks.preset("10gbe")

    def train(comm):
        x = np.random.default_rng(comm.rank).integers(-1000, 1000, size=N).astype(np.float64)
        comm.Allreduce(MPI.IN_PLACE, x)
        return x

    t0 = time.perf_counter()
    res = SimCluster(p, network=net, allreduce="ring").run(train)
    wall = time.perf_counter() - t0
    want = sum(np.random.default_rng(r).integers(-1000, 1000, size=N) for r in range(p))
    for v in res.values:  # integers summed in float64: exact in every order
        np.testing.assert_array_equal(v, want.astype(np.float64))
    closed = costs.allreduce("ring", p, N, 8, net)
    assert abs(res.time - closed) <= 1e-9 * closed
    assert len(res.messages) == 2 * p * (p - 1) and len(res.trace) == p
    assert wall < 60  # a generous guard; the benchmark reports the time
