"""The communicator methods asynchronous SGD needs, on the simulator: semantics, the
closed-form times of their cost model, the passive-target progress rules and the errors
for bad input. The same methods under real ``mpiexec`` are compared with these in
tests/test_cluster_mpi_async.py."""

import math

import numpy as np
import pytest

from dlkit.cluster import MPI, RankError, SimCluster, compute, costs, networks

NET = networks.Network(alpha=1e-5, beta=1e-9, gamma=1e-10)
A, B, G = NET.alpha, NET.beta, NET.gamma
RATE = SimCluster(1).device.flops  # flops per second of the default device


def busy(comm, seconds):
    """Charge `seconds` of computation (outside MPI)."""
    compute(comm, seconds * RATE)


def T(m):
    return A + m * B


def close(a, b):
    return math.isclose(a, b, rel_tol=1e-9, abs_tol=1e-15)


def timed(fn):
    """Run fn(comm) after a barrier; return this rank's elapsed virtual time."""

    def train(comm):
        comm.Barrier()
        t0 = comm.Wtime()
        fn(comm)
        return comm.Wtime() - t0

    return train


# ---------------------------------------------------------------- closed forms ----
def test_alltoall_time_is_p_minus_one_messages():
    p, N = 4, 1000

    def fn(comm):
        x = np.arange(p * N, dtype=np.float64) + comm.rank
        y = np.empty_like(x)
        comm.Alltoall(x, y)

    t = max(SimCluster(p, network=NET).run(timed(fn)).values)
    assert close(t, costs.alltoall_pairwise(p, N, 8, NET))
    assert close(t, (p - 1) * T(8 * N))


def test_gatherv_time_is_the_roots_port():
    p, counts = 4, [100, 200, 300, 400]

    def fn(comm):
        buf = np.zeros(sum(counts))
        comm.Gatherv(np.ones(counts[comm.rank]), [buf, counts] if comm.rank == 0 else None)

    t = SimCluster(p, network=NET).run(timed(fn)).values[0]
    assert close(t, costs.gatherv_linear(counts, 8, NET, root=0))
    assert close(t, T(1600) + T(2400) + T(3200))


def test_reduce_scatter_block_time_is_the_rings_first_half():
    p, N = 4, 500

    def fn(comm):
        out = np.empty(N)
        comm.Reduce_scatter_block(np.ones(p * N), out)

    t = max(SimCluster(p, network=NET).run(timed(fn)).values)
    assert close(t, costs.reduce_scatter_ring(p, N, 8, NET))


@pytest.mark.parametrize("p", [4, 5])
def test_scan_time_is_ceil_log2_p_rounds(p):
    N = 100

    def fn(comm):
        out = np.empty(N)
        comm.Scan(np.ones(N), out)

    t = max(SimCluster(p, network=NET).run(timed(fn)).values)
    assert close(t, costs.scan_recursive_doubling(p, N, 8, NET))
    assert close(t, math.ceil(math.log2(p)) * (T(800) + 800 * G))


def test_one_sided_operations_cost_their_transfers():
    m = 8000

    def train(comm):
        win = MPI.Win.Create(np.zeros(1000) if comm.rank == 0 else np.zeros(0), 8, comm=comm)
        out = {}
        if comm.rank == 1:
            buf = np.zeros(1000)
            t0 = comm.Wtime()
            win.Lock(0, MPI.LOCK_SHARED)
            win.Get(buf, 0)
            win.Unlock(0)
            out["get"] = comm.Wtime() - t0
            t0 = comm.Wtime()
            win.Lock_all()
            win.Put(buf, 0)
            win.Flush(0)
            out["put"] = comm.Wtime() - t0
            t0 = comm.Wtime()
            res = np.zeros(1)
            win.Fetch_and_op(np.ones(1), res, 0, 0, op=MPI.SUM)
            win.Flush_all()
            out["fetch_and_op"] = comm.Wtime() - t0
            win.Unlock_all()
        win.Free()
        return out

    got = SimCluster(2, network=NET).run(train).values[1]
    assert close(got["get"], 2 * A + costs.rma("get", m, NET))
    assert close(got["put"], costs.rma("put", m, NET))
    assert close(got["fetch_and_op"], costs.rma("fetch_and_op", 8, NET))
    assert close(got["fetch_and_op"], 2 * T(8) + 8 * G)


def test_one_sided_operations_overlap_with_computation():
    """A Get does not block: computing while it is in flight hides its time."""

    def train(comm):
        win = MPI.Win.Allocate(8 * 125_000 if comm.rank == 0 else 0, 8, comm=comm)
        t = None
        if comm.rank == 1:
            buf = np.zeros(125_000)
            t0 = comm.Wtime()
            win.Lock_all()
            win.Get(buf, 0)
            busy(comm, 0.01)  # longer than the 1 MB transfer (1 ms)
            win.Flush(0)
            t = comm.Wtime() - t0
            win.Unlock_all()
        win.Free()
        return t

    t = SimCluster(2, network=NET).run(train).values[1]
    assert close(t, 0.01)  # the Get completed during the computation: Flush is free


def test_iallreduce_completes_at_the_blocking_cost_and_overlaps():
    p, N = 4, 10_000
    cost = costs.allreduce("ring", p, N, 8, NET)

    def fn(work):
        def run(comm):
            out = np.empty(N)
            req = comm.Iallreduce(np.full(N, comm.rank + 1.0), out)
            busy(comm, work)
            req.Wait()
            assert np.all(out == p * (p + 1) / 2)

        return run

    t = max(SimCluster(p, network=NET).run(timed(fn(0.0))).values)
    assert close(t, cost)
    t = max(SimCluster(p, network=NET).run(timed(fn(10 * cost))).values)
    assert close(t, 10 * cost)  # the allreduce hid behind the computation


def test_ibarrier_waits_for_the_last_rank():
    p = 4

    def train(comm):
        if comm.rank == 3:
            busy(comm, 0.5)
        req = comm.Ibarrier()
        req.Wait()
        return comm.Wtime()

    times = SimCluster(p, network=NET).run(train).values
    assert all(close(t, 0.5 + costs.barrier_dissemination(p, NET)) for t in times)


def test_ibcast_on_a_two_level_network_uses_the_slowest_link():
    inter = networks.Network(alpha=1e-4, beta=1e-8)
    net = networks.TwoLevel(alpha=1e-6, beta=1e-10, inter=inter, ranks_per_node=2)

    def train(comm):
        buf = np.arange(100.0) if comm.rank == 0 else np.zeros(100)
        comm.Ibcast(buf, root=0).Wait()
        return comm.Wtime(), buf.sum()

    vals = SimCluster(4, network=net).run(train).values
    assert all(s == 4950.0 for _, s in vals)
    assert all(close(t, 2 * (1e-4 + 800 * 1e-8)) for t, _ in vals)


def test_ssend_completes_only_when_matched():
    def train(comm):
        if comm.rank == 0:
            comm.Send(np.ones(10), dest=1, tag=1)
            t_send = comm.Wtime()
            comm.Ssend(np.ones(10), dest=1, tag=2)
            return t_send, comm.Wtime()
        busy(comm, 1.0)
        buf = np.zeros(10)
        comm.Recv(buf, source=0, tag=1)
        comm.Recv(buf, source=0, tag=2)
        return None

    t_send, t_ssend = SimCluster(2, network=NET).run(train).values[0]
    assert t_send == 0.0  # eager: buffered
    assert close(t_ssend, 1.0 + T(80) + T(80))  # after the receiver matched it


# ------------------------------------------------------------ request families ----
def test_waitany_returns_the_first_to_complete_and_skips_completed():
    def train(comm):
        if comm.rank == 0:
            big, small = np.zeros(125_000), np.zeros(1)
            reqs = [comm.Irecv(big, source=1), comm.Irecv(small, source=2)]
            first = MPI.Request.Testany(reqs)
            i = MPI.Request.Waitany(reqs)
            t_i = comm.Wtime()
            j = MPI.Request.Waitany(reqs)
            k = MPI.Request.Waitany(reqs)
            return first, i, t_i, j, k, MPI.Request.Waitsome(reqs)
        if comm.rank == 1:
            busy(comm, 5e-4)
            comm.Send(np.ones(125_000), dest=0)  # 1 MB: 1 ms on the wire
        else:
            busy(comm, 1e-4)
            comm.Send(np.ones(1), dest=0)
        return None

    first, i, t_i, j, k, some = SimCluster(3, network=NET).run(train).values[0]
    assert first == (MPI.UNDEFINED, False)
    assert (i, j, k, some) == (1, 0, MPI.UNDEFINED, None)
    assert 1e-4 + T(8) <= t_i <= 1e-4 + T(8) + 1e-6


def test_waitsome_and_testany_lowercase_objects():
    def train(comm):
        if comm.rank == 0:
            reqs = [comm.irecv(source=1, tag=5), comm.irecv(source=2, tag=5)]
            idx, objs = MPI.Request.waitsome(reqs)
            rest = MPI.Request.waitany(reqs)
            return sorted(idx), objs, rest, MPI.Request.testany(reqs)
        comm.send(comm.rank * 10, dest=0, tag=5)
        return None

    idx, objs, rest, last = SimCluster(3, network=NET).run(train).values[0]
    # both messages start at t = 0, but rank 0's receive port takes them one by one
    assert idx == [0] and objs == [10]
    assert rest == (1, 20)
    assert last == (MPI.UNDEFINED, True, None)


# ------------------------------------------------------------------- semantics ----
def test_mprobe_takes_the_message_from_other_receives():
    def train(comm):
        if comm.rank == 0:
            st = MPI.Status()
            msg = comm.Mprobe(source=1, tag=0, status=st)
            other = np.zeros(2)
            comm.Recv(other, source=MPI.ANY_SOURCE, tag=0)  # cannot take rank 1's
            mine = np.zeros(2)
            msg.Recv(mine)
            none = comm.Improbe(source=1, tag=0)
            return st.Get_source(), other[0], mine[0], none
        if comm.rank == 1:
            comm.Send(np.full(2, 1.0), dest=0, tag=0)
        else:
            busy(comm, 1e-3)
            comm.Send(np.full(2, 2.0), dest=0, tag=0)
        return None

    assert SimCluster(3, network=NET).run(train).values[0] == (1, 2.0, 1.0, None)


def test_proc_null_one_sided_operations_do_nothing():
    def train(comm):
        win = MPI.Win.Create(np.zeros(2), 8, comm=comm)
        buf = np.full(2, 7.0)
        win.Lock(MPI.PROC_NULL)
        win.Get(buf, MPI.PROC_NULL)
        win.Put(buf, MPI.PROC_NULL)
        win.Flush(MPI.PROC_NULL)
        win.Unlock(MPI.PROC_NULL)
        win.Free()
        return buf.tolist()

    assert SimCluster(2, network=NET).run(train).values == [[7.0, 7.0]] * 2


def test_groups_comm_self_and_comm_null():
    def train(comm):
        sub = comm.Split(comm.rank % 2, comm.rank)
        none = comm.Split(MPI.UNDEFINED if comm.rank else 0, 0)
        g = sub.Get_group()
        return (
            g.Get_size(),
            g.Get_rank(),
            g.Translate_ranks([0, 1], comm.Get_group()),
            MPI.COMM_SELF.Get_size(),
            MPI.COMM_SELF.allreduce(comm.rank),
            (none == MPI.COMM_NULL) == (comm.rank != 0),
        )

    vals = SimCluster(4, network=NET).run(train).values
    assert vals[1] == (2, 0, [1, 3], 1, 1, True)
    assert vals[2] == (2, 1, [0, 2], 1, 2, True)


def test_maxloc_minloc_ties_go_to_the_lowest_index():
    from dlkit.cluster.constants import pair_dtype

    def train(comm):
        v = [2.0, 5.0, 5.0, 1.0][comm.rank]
        rec = np.zeros(1, dtype=pair_dtype("f8"))
        rec["value"], rec["index"] = v, comm.rank
        out = np.zeros_like(rec)
        comm.Allreduce([rec, MPI.DOUBLE_INT], [out, MPI.DOUBLE_INT], op=MPI.MINLOC)
        return comm.allreduce((v, comm.rank), op=MPI.MAXLOC), (
            float(out["value"][0]),
            int(out["index"][0]),
        )

    assert SimCluster(4, network=NET).run(train).values[0] == ((5.0, 1), (1.0, 3))


def test_fence_opens_and_closes_active_target_epochs():
    def train(comm):
        mem = np.zeros(comm.size)
        win = MPI.Win.Create(mem, 8, comm=comm)
        win.Fence()
        for t in range(comm.size):
            win.Put(np.array([float(comm.rank)]), t, target=comm.rank)
        win.Fence(MPI.MODE_NOSUCCEED)
        try:
            win.Put(np.zeros(1), 0)
        except RuntimeError as exc:
            closed = "outside an epoch" in str(exc)
        win.Free()
        return mem.tolist(), closed

    for mem, closed in SimCluster(3, network=NET).run(train).values:
        assert mem == [0.0, 1.0, 2.0] and closed


def test_win_create_defaults_to_comm_self():
    def train(comm):
        win = MPI.Win.Create(np.zeros(2), 8)  # mpi4py's default: comm=MPI.COMM_SELF
        size = win.Get_group().Get_size()
        win.Lock(0)
        win.Put(np.full(2, comm.rank + 1.0), 0)
        win.Unlock(0)
        with pytest.raises(ValueError, match="not a rank of this communicator"):
            win.Lock(1)
        win.Free()
        return size

    assert SimCluster(2, network=NET).run(train).values == [1, 1]


def test_allocate_memory_is_a_numpy_view():
    def train(comm):
        win = MPI.Win.Allocate(8 * 3, 8, comm=comm)
        view = np.frombuffer(win.tomemory(), dtype=np.float64)
        view[:] = comm.rank
        comm.Barrier()
        got = np.zeros(3)
        win.Lock_all()
        win.Get(got, (comm.rank + 1) % comm.size)
        win.Accumulate(np.ones(3), (comm.rank + 1) % comm.size, op=MPI.SUM)
        win.Unlock_all()
        comm.Barrier()
        win.Free()
        return got.tolist(), view.tolist()

    vals = SimCluster(2, network=NET).run(train).values
    assert vals[0] == ([1.0] * 3, [1.0] * 3)
    assert vals[1] == ([0.0] * 3, [2.0] * 3)


def test_compare_and_swap_lets_one_rank_win():
    def train(comm):
        win = MPI.Win.Allocate(8, 8, comm=comm)
        np.frombuffer(win.tomemory(), dtype=np.int64)[:] = -1
        comm.Barrier()
        old = np.zeros(1, dtype=np.int64)
        win.Lock(0)
        win.Compare_and_swap(np.array([comm.rank]), np.array([-1]), old, 0, 0)
        win.Unlock(0)
        comm.Barrier()
        win.Free()
        return int(old[0])

    olds = SimCluster(4, network=NET).run(train).values
    assert sorted(olds).count(-1) == 1 and len(set(olds) - {-1}) == 1


# ------------------------------------------------------------ progress rules ----
def progress_run(progress, variant, work=2.0):
    """A server (rank 0) computes `work` s; the worker starts a Get at 0.1 s; returns
    how long the worker waited."""

    def train(comm):
        if variant.startswith("allocate"):
            win = MPI.Win.Allocate(8000 if comm.rank == 0 else 0, 8, comm=comm)
        else:
            win = MPI.Win.Create(np.zeros(1000) if comm.rank == 0 else np.zeros(0), 8, comm=comm)
        stall = None
        if comm.rank == 0:
            if variant == "polling":
                for _ in range(20):
                    busy(comm, work / 20)
                    comm.Iprobe()
            else:
                busy(comm, work)
        else:
            busy(comm, 0.1)
            buf = np.zeros(1000)
            t0 = comm.Wtime()
            if "lock_all" in variant:
                win.Lock_all(MPI.MODE_NOCHECK if "nocheck" in variant else 0)
                win.Get(buf, 0)
                win.Flush(0)
                stall = comm.Wtime() - t0
                win.Unlock_all()
            else:
                win.Lock(0, MPI.LOCK_SHARED)
                win.Get(buf, 0)
                win.Unlock(0)
                stall = comm.Wtime() - t0
        comm.Barrier()
        win.Free()
        return stall

    return SimCluster(2, network=NET, progress=progress).run(train).values[1]


def test_async_progress_never_waits_for_a_busy_target():
    assert close(progress_run("async", "create_lock"), 2 * A + T(8000))
    assert close(progress_run("async", "allocate_lock_all"), T(8000))


def test_target_progress_waits_for_the_target_to_enter_mpi():
    # the Lock request waits for the server's next MPI call, at 2 s: 1.9 s after the Get
    assert close(progress_run("target", "create_lock"), 1.9 + 2 * A + T(8000))
    assert close(progress_run("target", "allocate_lock"), 1.9 + 2 * A + T(8000))
    assert close(progress_run("target", "allocate_lock_all"), 1.9 + T(8000))
    assert close(progress_run("target", "create_lock_all_nocheck"), 1.9 + T(8000))
    # memory allocated by MPI with no lock message to wait for: no stall
    assert close(progress_run("target", "allocate_lock_all_nocheck"), T(8000))
    # a server that polls MPI every 0.1 s serves the request within one poll
    assert progress_run("target", "polling") <= 0.1 + 2 * A + T(8000) + 1e-6


def test_progress_option_is_checked():
    with pytest.raises(ValueError, match="progress='later'"):
        SimCluster(2, progress="later")
    assert SimCluster(2).progress == "async"


# ---------------------------------------------------------------------- errors ----
def win_error(body, match, p=2):
    def train(comm):
        win = MPI.Win.Create(np.zeros(2), 8, comm=comm)
        body(comm, win)

    with pytest.raises(RankError, match=match):
        SimCluster(p, network=NET).run(train)


def test_clear_errors_for_bad_one_sided_calls():
    win_error(lambda c, w: w.Lock(0, 5), "lock type must be MPI.LOCK_EXCLUSIVE or MPI.LOCK_SHARED")
    win_error(lambda c, w: w.Put(np.ones(1), 0), "outside an epoch on rank 0.*Lock\\(0\\)")
    win_error(lambda c, w: (w.Lock(0), w.Put(np.ones(3), 0)), "outside rank 0's 16-byte window")
    win_error(lambda c, w: (w.Lock(0), w.Get(np.ones(1), 0, target=-1)), "displacement -1")
    win_error(lambda c, w: w.Flush(0), "Flush outside a passive-target epoch")
    win_error(lambda c, w: w.Unlock_all(), "Unlock_all\\(\\) without a matching Lock_all")
    win_error(lambda c, w: (w.Lock(0), w.Lock(0)), "already holds a lock")
    win_error(
        lambda c, w: (w.Lock(0), w.Accumulate(np.ones(1), 0, op=MPI.NO_OP)),
        "NO_OP is for Get_accumulate",
    )
    win_error(
        lambda c, w: (w.Lock(0), w.Compare_and_swap(np.ones(1), np.ones(1), np.ones(1), 0)),
        "only on integer",
    )
    win_error(
        lambda c, w: (w.Fence(), w.Put(np.ones(1), 0), w.Lock(0)),
        "inside a fence epoch with operations issued",
    )
    win_error(lambda c, w: w.Lock(2), "rank=2 is not a rank of this communicator")


def test_clear_errors_for_bad_collective_calls():
    def bad(body, match):
        with pytest.raises(RankError, match=match):
            SimCluster(2, network=NET).run(body)

    bad(lambda c: MPI.Win.Allocate(-1, comm=c), "size must be >= 0")
    bad(lambda c: c.Alltoall(np.ones(3), np.ones(3)), "does not split into 2 equal blocks")
    bad(
        lambda c: c.Alltoallv([np.ones(3), [1, 1, 1]], [np.ones(3), [1, 2]]),
        "counts must list 2 block sizes",
    )
    bad(lambda c: c.Reduce_scatter(np.ones(4), np.ones(2), [1, 1]), "summing to sendbuf's 4")
    bad(lambda c: c.Allreduce(np.ones(2), np.ones(2), op=MPI.REPLACE), "one-sided operation")
    bad(
        lambda c: c.Allreduce(np.ones(2), np.ones(2), op=MPI.MAXLOC),
        "MAXLOC on buffers needs \\(value, index\\) pairs",
    )
