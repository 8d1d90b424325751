"""The simulated cluster: point-to-point semantics, timing rules, scheduler, faults, RMA."""

import numpy as np
import pytest

from dlkit.cluster import (
    MPI,
    DeadlockError,
    Faults,
    RankCrashed,
    RankError,
    SimCluster,
    compute,
    devices,
    is_simulated,
    networks,
)

NET = networks.Network(alpha=1e-5, beta=1e-9, gamma=1e-10, name="test")


def close(a, b):
    return abs(a - b) <= 1e-12 * max(1.0, abs(b))


# ------------------------------------------------------------ point to point ----
def test_tags_select_messages_regardless_of_send_order():
    def train(comm):
        if comm.rank == 0:
            comm.send("a", dest=1, tag=1)
            comm.send("b", dest=1, tag=2)
            return None
        second = comm.recv(source=0, tag=2)
        first = comm.recv(source=0, tag=1)
        return first, second

    assert SimCluster(2).run(train).values[1] == ("a", "b")


def test_messages_between_a_pair_do_not_overtake():
    def train(comm):
        if comm.rank == 0:
            for i in range(6):
                comm.send(i, dest=1, tag=7)
            return None
        return [comm.recv(source=0, tag=MPI.ANY_TAG) for _ in range(6)]

    assert SimCluster(2).run(train).values[1] == list(range(6))


def test_any_source_takes_messages_in_virtual_time_order_with_status():
    def train(comm):
        if comm.rank == 0:
            out = []
            for _ in range(comm.size - 1):
                st = MPI.Status()
                v = comm.recv(source=MPI.ANY_SOURCE, tag=MPI.ANY_TAG, status=st)
                out.append((v, st.Get_source(), st.Get_tag()))
            return out
        compute(comm, (comm.size - comm.rank) * 1e9)  # rank 3 finishes first
        comm.send(comm.rank * 10, dest=0, tag=comm.rank + 100)

    got = SimCluster(4).run(train).values[0]
    assert got == [(30, 3, 103), (20, 2, 102), (10, 1, 101)]


def test_buffer_send_recv_and_list_spec_and_status_count():
    def train(comm):
        if comm.rank == 0:
            comm.Send([np.arange(5, dtype=np.float64), MPI.DOUBLE], dest=1, tag=4)
            return None
        buf = np.zeros(8)
        st = MPI.Status()
        comm.Recv(buf, source=0, tag=4, status=st)
        return buf, st.Get_count(MPI.DOUBLE), st.Get_source()

    buf, count, src = SimCluster(2).run(train).values[1]
    np.testing.assert_array_equal(buf, [0, 1, 2, 3, 4, 0, 0, 0])
    assert (count, src) == (5, 0)


def test_message_time_is_alpha_plus_n_beta():
    n = 1000

    def train(comm):
        if comm.rank == 0:
            comm.Send(np.zeros(n), dest=1)
        else:
            comm.Recv(np.zeros(n), source=0)
        return comm.Wtime()

    res = SimCluster(2, network=NET).run(train)
    assert res.values[0] == 0.0  # eager: the sender returns at once
    assert close(res.values[1], NET.alpha + 8 * n * NET.beta)
    (msg,) = res.messages
    assert (msg.src, msg.dst, msg.bytes) == (0, 1, 8 * n)


def test_large_send_waits_for_the_receive_and_small_send_does_not():
    n = 20000  # 160 kB > eager_limit

    def train(comm, size):
        if comm.rank == 0:
            comm.Send(np.zeros(size), dest=1)
        else:
            compute(comm, 96e9)  # 1 s on a cpu_core
            comm.Recv(np.zeros(size), source=0)
        return comm.Wtime()

    big = SimCluster(2, network=NET).run(train, n).values
    assert close(big[0], 1.0 + NET.alpha + 8 * n * NET.beta)
    assert big[0] == big[1]
    small = SimCluster(2, network=NET).run(train, 10).values
    assert small[0] == 0.0 and close(small[1], 1.0 + NET.alpha + 80 * NET.beta)


def test_ports_serialise_messages_into_one_receiver():
    def train(comm):
        if comm.rank == 0:
            return [comm.recv(source=s) for s in (1, 2, 3)] and comm.Wtime()
        comm.send(b"x" * 100, dest=0)

    res = SimCluster(4, network=NET).run(train)
    ends = sorted(m.end for m in res.messages)
    per = ends[0]
    assert all(close(e, (i + 1) * per) for i, e in enumerate(ends))
    assert close(res.values[0], 3 * per)


def test_nonblocking_requests_waitall_and_test():
    def train(comm):
        other = 1 - comm.rank
        out = np.zeros(4)
        reqs = [
            comm.Isend(np.full(4, comm.rank + 1.0), dest=other, tag=0),
            comm.Irecv(out, source=other, tag=0),
        ]
        flag_before = reqs[1].Test()
        MPI.Request.Waitall(reqs)
        r = comm.irecv(source=other, tag=5)
        comm.isend({"from": comm.rank}, dest=other, tag=5).wait()
        flags = []
        while True:
            flag, msg = r.test()
            flags.append(flag)
            if flag:
                break
        return out[0], flag_before, msg, flags[-1]

    vals = SimCluster(2, network=NET).run(train).values
    assert vals[0] == (2.0, False, {"from": 1}, True)
    assert vals[1] == (1.0, False, {"from": 0}, True)


def test_sendrecv_exchanges_without_deadlock_even_above_eager_limit():
    def train(comm):
        other = 1 - comm.rank
        out = np.zeros(50000)
        comm.Sendrecv(np.full(50000, float(comm.rank)), dest=other, recvbuf=out, source=other)
        return out[0]

    assert SimCluster(2).run(train).values == [1.0, 0.0]


def test_truncation_and_bad_rank_are_clear_errors():
    def trunc(comm):
        if comm.rank == 0:
            comm.Send(np.zeros(10), dest=1)
        else:
            comm.Recv(np.zeros(5), source=0)

    with pytest.raises(RankError, match="truncated") as info:
        SimCluster(2).run(trunc)
    assert isinstance(info.value.__cause__, ValueError)

    def bad(comm):
        comm.send(1, dest=5)

    with pytest.raises(RankError, match="dest=5 is not a rank"):
        SimCluster(2).run(bad)


# ---------------------------------------------------------------- scheduler ----
def test_deadlock_recv_recv_names_ranks_and_calls():
    def train(comm):
        comm.recv(source=1 - comm.rank, tag=3)

    with pytest.raises(DeadlockError) as info:
        SimCluster(2).run(train)
    assert info.value.blocked == {0: "recv(source=1, tag=3)", 1: "recv(source=0, tag=3)"}
    assert "rank 0: blocked in recv(source=1, tag=3)" in str(info.value)


def test_deadlock_two_large_sends_names_the_eager_limit():
    def train(comm, n):
        other = 1 - comm.rank
        comm.Send(np.zeros(n), dest=other)
        comm.Recv(np.zeros(n), source=other)
        return "ok"

    with pytest.raises(DeadlockError) as info:
        SimCluster(2, eager_limit=65536).run(train, 10000)  # 80 kB each
    assert sorted(info.value.blocked) == [0, 1]
    for r in (0, 1):
        assert f"Send(dest={1 - r}" in info.value.blocked[r]
        assert "eager_limit 65536" in info.value.blocked[r]
    # below the eager limit the same program completes, as with MPI's eager protocol
    assert SimCluster(2).run(train, 100).values == ["ok", "ok"]


def test_deadlock_among_three_ranks_leaves_finished_ranks_out():
    def train(comm):
        if comm.rank == 0:
            return "done"
        comm.recv(source=0)

    with pytest.raises(DeadlockError) as info:
        SimCluster(3).run(train)
    assert sorted(info.value.blocked) == [1, 2]


def test_exception_in_a_rank_names_the_rank():
    def train(comm):
        if comm.rank == 2:
            raise KeyError("missing")
        comm.recv(source=2)

    with pytest.raises(RankError, match="rank 2 raised KeyError") as info:
        SimCluster(4).run(train)
    assert info.value.rank == 2 and isinstance(info.value.__cause__, KeyError)


def _busy_program(comm):
    rng = np.random.default_rng(comm.seed)
    total = 0.0
    for step in range(3):
        compute(comm, float(rng.integers(1, 10)) * 1e8)
        if comm.rank:
            comm.send(float(rng.random()), dest=0, tag=step)
        else:
            for _ in range(comm.size - 1):
                total += comm.recv(source=MPI.ANY_SOURCE, tag=step)
        x = np.full(7, float(comm.rank))
        comm.Allreduce(MPI.IN_PLACE, x)
        total += comm.bcast(total if comm.rank == 0 else None)
    return total


def test_runs_are_deterministic():
    a = SimCluster(5, seed=3).run(_busy_program)
    b = SimCluster(5, seed=3).run(_busy_program)
    assert a.trace == b.trace and a.messages == b.messages
    assert a.values == b.values and a.time == b.time
    c = SimCluster(5, seed=4).run(_busy_program)
    assert c.trace != a.trace


def test_comm_world_wtime_and_rank_properties():
    def train(comm):
        compute(comm, 48e9)
        assert MPI.COMM_WORLD is comm
        return comm.Get_rank(), comm.rank, comm.size, MPI.Wtime(), is_simulated(comm)

    vals = SimCluster(3).run(train).values
    assert vals == [(r, r, 3, 0.5, True) for r in range(3)]


def test_compute_charges_flops_over_device_rate_and_is_a_noop_elsewhere():
    dev = devices.preset("k40")

    def train(comm):
        compute(comm, 4.29e12, label="forward")
        return comm.Wtime()

    res = SimCluster(2, compute=dev).run(train)
    assert res.values == [1.0, 1.0]
    assert [e.kind for e in res.trace] == ["compute", "compute"]
    assert res.trace[0].label == "forward"

    class Real:  # stands in for an mpi4py communicator
        pass

    assert compute(Real(), 1e9) is None and not is_simulated(Real())


def test_barrier_synchronises_and_costs_log_p_alpha():
    def train(comm):
        compute(comm, comm.rank * 96e9)
        comm.Barrier()
        return comm.Wtime()

    vals = SimCluster(4, network=NET).run(train).values
    assert min(vals) >= 3.0
    assert close(max(vals), 3.0 + 2 * NET.alpha)


# ---------------------------------------------------------------- topologies ----
def test_ring_topology_charges_hops_and_two_level_uses_intra_and_inter_links():
    def train(comm, dest):
        if comm.rank == 0:
            comm.send(None, dest=dest)
        elif comm.rank == dest:
            comm.recv(source=0)
        return comm.Wtime()

    ring = networks.ring(NET)
    nbytes = SimCluster(8, network=ring).run(train, 1).messages[0].bytes
    for dest, hops in [(1, 1), (3, 3), (4, 4), (6, 2)]:
        t = SimCluster(8, network=ring).run(train, dest).values[dest]
        assert close(t, hops * NET.alpha + nbytes * NET.beta)
    two = networks.two_level("nvlink", "fdr_ib", ranks_per_node=4)
    intra = SimCluster(8, network=two).run(train, 3).values[3]
    inter = SimCluster(8, network=two).run(train, 4).values[4]
    assert close(intra, two.alpha + nbytes * two.beta)
    assert close(inter, two.inter.alpha + nbytes * two.inter.beta)


def test_presets_have_documented_rates():
    assert close(networks.preset("10gbe").bandwidth, 1.25e9)
    assert close(networks.preset("1gbe").beta, 8e-9)
    assert close(networks.preset("fdr_ib").bandwidth, 6.8e9)
    assert devices.preset("k20").flops == 3.52e12
    assert devices.preset("h100").flops == 67e12
    with pytest.raises(ValueError, match="choose one of"):
        networks.preset("carrier-pigeon")


# -------------------------------------------------------------------- faults ----
def test_slow_rank_and_delayed_link():
    def train(comm):
        compute(comm, 96e9)
        if comm.rank == 0:
            comm.send(None, dest=1)
        elif comm.rank == 1:
            comm.recv(source=0)
        return comm.Wtime()

    f = Faults(slow={2: 3.0}, delay={(1, 0): 0.25})
    res = SimCluster(3, network=NET, faults=f).run(train)
    assert res.values[2] == 3.0
    assert close(res.values[1], 1.0 + NET.alpha + res.messages[0].bytes * NET.beta + 0.25)


def test_crash_gives_rank_crashed_to_survivors_not_a_hang():
    def train(comm):
        if comm.rank == 1:
            compute(comm, 96e9 * 10)  # would run to t = 10 s; crashes at 2 s
            comm.send("late", dest=0)
            return "never"
        try:
            comm.recv(source=1)
        except RankCrashed as exc:
            try:
                comm.send("hello", dest=1)
            except RankCrashed as again:
                return exc.rank, exc.time, again.rank
        return "no crash seen"

    res = SimCluster(2, faults=Faults(crash={1: 2.0})).run(train)
    assert res.values == [(1, 2.0, 1), None]
    assert res.crashed == {1: 2.0}
    assert res.rank_times[1] == 2.0


def test_crash_inside_a_collective_propagates_out_of_run():
    def train(comm):
        compute(comm, 96e9)
        x = np.ones(10)
        comm.Allreduce(MPI.IN_PLACE, x)
        return x

    with pytest.raises(RankCrashed, match="rank 2 crashed at virtual time 0.5"):
        SimCluster(4, faults=Faults(crash={2: 0.5})).run(train)


# ---------------------------------------------------------------------- RMA ----
def test_window_lock_put_get_accumulate():
    def train(comm):
        mem = np.zeros(3) if comm.rank == 0 else None
        win = MPI.Win.Create(mem, disp_unit=8, comm=comm)
        buf = np.zeros(1)
        for _ in range(5):  # a counter incremented under an exclusive lock
            win.Lock(0, MPI.LOCK_EXCLUSIVE)
            win.Get(buf, 0, target=0)
            buf += 1
            win.Put(buf, 0, target=0)
            win.Unlock(0)
        win.Lock(0, MPI.LOCK_SHARED)
        win.Accumulate(np.array([float(comm.rank)]), 0, target=2, op=MPI.SUM)
        win.Unlock(0)
        win.Fence()
        win.Lock(0, MPI.LOCK_SHARED)
        seen = np.zeros(3)
        win.Get(seen, 0)
        win.Unlock(0)
        win.Free()
        return seen

    res = SimCluster(4, network=NET).run(train)
    for seen in res.values:
        np.testing.assert_array_equal(seen, [20.0, 0.0, 6.0])
    assert any(e.kind == "win" and e.label == "Put" for e in res.trace)


def test_put_outside_an_epoch_is_an_error():
    def train(comm):
        win = MPI.Win.Create(np.zeros(2), comm=comm)
        win.Put(np.ones(1), 0)

    with pytest.raises(RankError, match="Lock"):
        SimCluster(2).run(train)


# --------------------------------------------------------- built-in collectives ----
def test_object_and_buffer_collectives_match_numpy():
    def train(comm):
        r, p = comm.rank, comm.size
        out = {}
        out["bcast"] = comm.bcast({"w": 1} if r == 1 else None, root=1)
        out["reduce"] = comm.reduce(r + 1, op=MPI.PROD, root=2)
        out["allreduce"] = comm.allreduce(r, op=MPI.MAX)
        out["gather"] = comm.gather(r * r, root=0)
        out["allgather"] = comm.allgather(str(r))
        out["scatter"] = comm.scatter([i * 3 for i in range(p)] if r == 0 else None, root=0)
        out["alltoall"] = comm.alltoall([(r, d) for d in range(p)])
        b = np.arange(4.0) if r == 2 else np.zeros(4)
        comm.Bcast(b, root=2)
        out["Bcast"] = b
        red = np.zeros(3)
        comm.Reduce(np.full(3, r + 1.0), red, op=MPI.SUM, root=1)
        out["Reduce"] = red
        ag = np.zeros((p, 2))
        comm.Allgather(np.full(2, float(r)), ag)
        out["Allgather"] = ag
        g = np.zeros((p, 2))
        comm.Gather(np.full(2, float(r)), g, root=0)
        out["Gather"] = g
        sc = np.zeros(2)
        comm.Scatter(np.arange(2.0 * p).reshape(p, 2) if r == 0 else None, sc, root=0)
        out["Scatter"] = sc
        return out

    p = 5
    vals = SimCluster(p).run(train).values
    for r, out in enumerate(vals):
        assert out["bcast"] == {"w": 1}
        assert out["reduce"] == (120 if r == 2 else None)
        assert out["allreduce"] == p - 1
        assert out["gather"] == ([i * i for i in range(p)] if r == 0 else None)
        assert out["allgather"] == [str(i) for i in range(p)]
        assert out["scatter"] == 3 * r
        assert out["alltoall"] == [(s, r) for s in range(p)]
        np.testing.assert_array_equal(out["Bcast"], np.arange(4.0))
        np.testing.assert_array_equal(out["Reduce"], np.full(3, 15.0) if r == 1 else 0)
        np.testing.assert_array_equal(
            out["Allgather"], np.repeat(np.arange(p.__float__()), 2).reshape(p, 2)
        )
        if r == 0:
            np.testing.assert_array_equal(
                out["Gather"], np.repeat(np.arange(float(p)), 2).reshape(p, 2)
            )
        np.testing.assert_array_equal(out["Scatter"], [2.0 * r, 2.0 * r + 1])


def test_builtin_collectives_record_one_event_per_rank():
    def train(comm):
        x = np.ones(100)
        comm.Allreduce(MPI.IN_PLACE, x)
        return x[0]

    res = SimCluster(4, allreduce="rabenseifner").run(train)
    assert res.values == [4.0] * 4
    assert [(e.kind, e.label) for e in res.trace] == [("collective", "Allreduce[rabenseifner]")] * 4
    assert res.messages and all(m.label == "Allreduce[rabenseifner]" for m in res.messages)
    parts = res.breakdown()
    assert all(abs(sum(b.values()) - res.time) < 1e-15 for b in parts)
    assert repr(res).startswith("RunResult(n=4, time=") and "4 events" in repr(res)


def test_a_send_before_the_crash_time_succeeds_and_one_after_fails():
    def train(comm):
        if comm.rank == 1:
            compute(comm, 96e9 * 10)  # crashes at 2 s, in the middle of this
            return "never"
        compute(comm, 96e9)  # t = 1 s: rank 1 is still alive
        comm.send("early", dest=1)
        compute(comm, 96e9 * 2)  # t = 3 s: rank 1 has crashed
        try:
            comm.send("late", dest=1)
        except RankCrashed as exc:
            return exc.rank, exc.time, exc.observer

    res = SimCluster(2, faults=Faults(crash={1: 2.0})).run(train)
    assert res.values == [(1, 2.0, 0), None]


def test_split_makes_independent_sub_communicators():
    def train(comm):
        row = comm.Split(color=comm.rank // 3, key=-comm.rank)  # reversed order in a row
        col = comm.Split(color=comm.rank % 3, key=comm.rank)
        none = comm.Split(color=MPI.UNDEFINED if comm.rank else 0)
        x = np.array([float(comm.rank)])
        row.Allreduce(MPI.IN_PLACE, x)
        st = MPI.Status()
        if col.rank == 0:
            got = [col.recv(source=MPI.ANY_SOURCE, status=st) for _ in range(col.size - 1)]
            src = st.Get_source()
        else:
            col.send(comm.rank, dest=0)
            got, src = None, None
        dup = comm.Dup()
        return (
            row.rank,
            row.size,
            x[0],
            col.rank,
            col.size,
            got,
            src,
            none is None,
            dup.rank,
            dup.allreduce(1),
        )

    vals = SimCluster(6).run(train).values
    assert [v[:3] for v in vals] == [
        (2, 3, 3.0),
        (1, 3, 3.0),
        (0, 3, 3.0),
        (2, 3, 12.0),
        (1, 3, 12.0),
        (0, 3, 12.0),
    ]
    assert [v[3:5] for v in vals] == [(0, 2), (0, 2), (0, 2), (1, 2), (1, 2), (1, 2)]
    assert vals[0][5] == [3] and vals[0][6] == 1  # status source is a rank of col
    assert [v[7] for v in vals] == [False] + [True] * 5
    assert [v[8:] for v in vals] == [(r, 6) for r in range(6)]


def test_dropped_link_loses_messages_and_the_wait_is_reported():
    def train(comm):
        if comm.rank == 0:
            comm.send("to 1", dest=1, tag=4)
            comm.send("to 2", dest=2, tag=4)
            return "sent"
        return comm.recv(source=0, tag=4)

    with pytest.raises(DeadlockError) as info:
        SimCluster(3, faults=Faults(drop={(1, 0)})).run(train)
    assert info.value.blocked == {1: "recv(source=0, tag=4)"}
    assert "lost on dropped links: 0->1 (tag 4" in str(info.value)


def test_docstring_examples_run():
    import doctest

    from dlkit.cluster import networks as net_mod
    from dlkit.cluster import sim

    for mod in (net_mod, sim):
        failed, tried = doctest.testmod(mod)
        assert tried > 0 and failed == 0, mod.__name__


def test_probe_gives_size_and_source_before_receiving():
    def train(comm):
        if comm.rank == 0:
            got = []
            for _ in range(2):
                st = MPI.Status()
                comm.Probe(source=MPI.ANY_SOURCE, tag=9, status=st)
                buf = np.empty(st.Get_count(MPI.DOUBLE))
                comm.Recv(buf, source=st.Get_source(), tag=9)
                got.append((st.Get_source(), buf.size, comm.Wtime()))
            return got, comm.Iprobe(source=1)
        compute(comm, comm.rank * 96e9)  # rank 1 sends at t = 1 s, rank 2 at 2 s
        comm.Send(np.ones(10 * comm.rank), dest=0, tag=9)

    (got, pending), _, _ = SimCluster(3, network=NET).run(train).values
    assert [(s, n) for s, n, _ in got] == [(1, 10), (2, 20)]
    assert close(got[0][2], 1.0 + NET.alpha + 80 * NET.beta)
    assert close(got[1][2], 2.0 + NET.alpha + 160 * NET.beta)
    assert pending is False

    def lonely(comm):
        comm.Probe(source=1 - comm.rank)

    with pytest.raises(DeadlockError, match="Probe"):
        SimCluster(2).run(lonely)


def test_two_ranks_polling_for_messages_nobody_sends_is_a_deadlock():
    def train(comm):
        req = comm.irecv(source=1 - comm.rank, tag=1)
        while not req.test()[0]:
            pass

    with pytest.raises(DeadlockError) as info:
        SimCluster(2).run(train)
    assert sorted(info.value.blocked) == [0, 1]
    assert "polling test() on recv(source=1, tag=1)" == info.value.blocked[0]


def test_a_delayed_link_delays_its_messages_not_the_ranks_ports():
    """Faults(delay=...) is time in flight: rank 0's receive port is free again when
    the delayed message's bytes are in, so a message from rank 1 is not held up."""

    def train(comm):
        buf = np.zeros(1000)
        if comm.rank == 0:
            r2 = comm.Irecv(np.zeros(1000), source=2)
            r1 = comm.Irecv(np.zeros(1000), source=1)
            r1.wait()
            t1 = comm.Wtime()
            r2.wait()
            return t1, comm.Wtime()
        if comm.rank == 1:
            compute(comm, 96e3)  # 1 us: rank 2's message takes rank 0's port first
        comm.Send(buf, dest=0)

    T = NET.alpha + 8000 * NET.beta
    res = SimCluster(3, network=NET, faults=Faults(delay={(0, 2): 1.0})).run(train)
    t1, t2 = res.values[0]
    assert close(t1, 2 * T)  # behind the delayed message's T on the port, not T + 1 s
    assert close(t2, T + 1.0)  # the delayed message itself arrives 1 s late


def test_wait_charges_simulated_time_and_sleeps_on_a_real_communicator():
    import time

    from dlkit.cluster import wait

    def train(comm):
        wait(comm, 0.25)
        return comm.Wtime()

    res = SimCluster(2, faults=Faults(slow={1: 4.0})).run(train)
    assert res.values == [0.25, 0.25]  # waiting is not computing: no slow factor
    assert [e.label for e in res.events(rank=0)] == ["wait"]
    t0 = time.perf_counter()
    wait(object(), 0.05)  # not simulated: it sleeps
    assert time.perf_counter() - t0 >= 0.05
    with pytest.raises(ValueError, match="seconds must be >= 0"):
        wait(object(), -1.0)
    with pytest.raises(TypeError, match="seconds must be a number"):
        wait(object(), "1")
