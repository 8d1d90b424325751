"""The simulated cluster refuses what MPI would not accept, and never hangs.

Buffer receives check the sender's dtype and size; rank, root and tag arguments are
checked; ranks that enter different collectives stop the run naming each rank's
call; wall-clock and virtual-time limits stop runs that would not end; messages left
unreceived are reported; a 1,000-rank ring allreduce is exact and on its closed form.
"""

import threading
import time
import warnings

import numpy as np
import pytest

from dlkit.cluster import (
    MPI,
    CollectiveMismatchError,
    Faults,
    RankError,
    SimCluster,
    SimTimeoutError,
    UnreceivedMessageWarning,
    compute,
    networks,
)
from dlkit.cluster.engine import Unreceived

NET = networks.Network(alpha=2e-6, beta=1e-9, gamma=3e-10, name="test")


def cause(info):
    """The exception a rank raised, from the RankError that run() re-raised."""
    assert isinstance(info.value, RankError)
    return info.value.__cause__


# ------------------------------------------------------------- buffer checks ----
def test_recv_into_a_buffer_of_another_dtype_names_both_ranks_and_the_fix():
    def train(comm):
        if comm.rank == 0:
            comm.Send(np.arange(3.0), dest=1, tag=4)
        else:
            comm.Recv(np.zeros(3, dtype=np.float32), source=0, tag=4)

    with pytest.raises(RankError) as info:
        SimCluster(2).run(train)
    exc = cause(info)
    assert isinstance(exc, TypeError)
    msg = str(exc)
    assert msg.startswith("rank 1: Recv(source=0, tag=4) into a float32 buffer")
    assert "rank 0's Send of 3 x float64 (24 bytes)" in msg
    assert "receive into an array of dtype float64" in msg and "astype(float32)" in msg
    assert info.value.rank == 1  # raised in the receiver, not in the sender


def test_irecv_posted_before_the_send_raises_at_wait_in_the_receiver():
    def train(comm):
        if comm.rank == 1:
            req = comm.Irecv(np.zeros(2, dtype=np.int64), source=0)
            req.Wait()
        else:
            compute(comm, 1e9)  # the receive is posted first: the send matches it
            comm.Send(np.ones(2), dest=1)
            return "sent"

    with pytest.raises(RankError, match="int64 buffer matched rank 0's Send") as info:
        SimCluster(2).run(train)
    assert info.value.rank == 1


def test_a_larger_receive_buffer_is_fine_and_a_smaller_one_is_truncation():
    def train(comm, n):
        if comm.rank == 0:
            comm.Send(np.arange(5.0), dest=1)
            return None
        buf = np.full(n, -1.0)
        st = MPI.Status()
        comm.Recv(buf, source=0, status=st)
        return buf, st.Get_count(MPI.DOUBLE)

    buf, count = SimCluster(2).run(train, 8).values[1]
    np.testing.assert_array_equal(buf, [0, 1, 2, 3, 4, -1, -1, -1])
    assert count == 5
    with pytest.raises(RankError, match="message truncated") as info:
        SimCluster(2).run(train, 3)
    exc = cause(info)
    assert isinstance(exc, ValueError)
    assert "rank 0 sent 5 x float64 (40 bytes)" in str(exc)
    assert "at least np.empty(5, dtype=float64)" in str(exc)


def test_object_receive_of_a_buffer_send_is_a_type_error():
    def train(comm):
        if comm.rank == 0:
            comm.Send(np.ones(2), dest=1)
        else:
            comm.recv(source=0)

    with pytest.raises(RankError, match="use Recv\\(buf\\) for buffers") as info:
        SimCluster(2).run(train)
    assert isinstance(cause(info), TypeError)


def test_bcast_into_a_buffer_of_another_dtype_is_a_collective_mismatch():
    def train(comm):
        b = np.array([1.5]) if comm.rank == 0 else np.zeros(1, dtype=np.int64)
        comm.Bcast(b, root=0)
        return b[0]

    with pytest.raises(CollectiveMismatchError) as info:
        SimCluster(2).run(train)
    err = info.value
    assert err.call == 1 and err.calls == {
        0: "Bcast(root=0, 1 x float64)",
        1: "Bcast(root=0, 1 x int64)",
    }
    assert (
        "rank 0 called Bcast(root=0, 1 x float64); rank 1 called Bcast(root=0, 1 x "
        "int64)" in str(err)
    )
    assert "same root, op and buffer dtype and size" in str(err)


def test_sendbuf_and_recvbuf_of_one_rank_must_share_a_dtype():
    def train(comm):
        comm.Allreduce(np.ones(3), np.zeros(3, dtype=np.float32))

    with pytest.raises(RankError, match="sendbuf is float64 but recvbuf is float32") as info:
        SimCluster(2).run(train)
    assert isinstance(cause(info), TypeError)


# ------------------------------------------------------- rank and tag checks ----
def _bcast(root):
    return lambda comm: comm.Bcast(np.zeros(2), root=root)


@pytest.mark.parametrize(
    "program, exc_type, phrase",
    [
        (_bcast(7), ValueError, "Bcast: root=7 is not a rank of this communicator (0..3)"),
        (_bcast(-1), ValueError, "root=-1 is not a rank"),
        (_bcast(True), TypeError, "root=True is a bool, not a rank"),
        (_bcast(1.0), TypeError, "root=1.0 (float) is not an int rank"),
        (lambda comm: comm.bcast(1, root=4), ValueError, "bcast: root=4 is not a rank"),
        (lambda comm: comm.gather(1, root="0"), TypeError, "root='0' (str) is not an int rank"),
        (lambda comm: comm.Reduce(np.ones(1), np.ones(1), root=9), ValueError, "root=9"),
        (lambda comm: comm.send(1, dest=True), TypeError, "dest=True is a bool"),
        (
            lambda comm: comm.send(1, dest=4),
            ValueError,
            "dest=4 is not a rank of this communicator (0..3)",
        ),
        (
            lambda comm: comm.Send(np.ones(1), dest=-3),
            ValueError,
            "or MPI.PROC_NULL to send nothing",
        ),
        (lambda comm: comm.recv(source=4), ValueError, "MPI.ANY_SOURCE or MPI.PROC_NULL"),
        (lambda comm: comm.Recv(np.ones(1), source=2.0), TypeError, "source=2.0 (float)"),
        (
            lambda comm: comm.send(1, dest=1, tag=-1),
            ValueError,
            "tag=-1 is negative; pass an int >= 0 (MPI.ANY_TAG is for receives only)",
        ),
        (lambda comm: comm.send(1, dest=1, tag="a"), TypeError, "tag='a' is not an int"),
        (lambda comm: comm.recv(source=1, tag=-5), ValueError, "or MPI.ANY_TAG"),
        (
            lambda comm: comm.Allreduce(np.ones(2), np.ones(2), op="sum"),
            TypeError,
            "Allreduce: unsupported reduction op 'sum'",
        ),
        (lambda comm: comm.allreduce(1, op=5), TypeError, "allreduce: op=5 is not a reduction op"),
        (
            lambda comm: comm.Split(color="a"),
            TypeError,
            "Split(color='a'): the color must be an int",
        ),
        (lambda comm: comm.Split(color=-3), ValueError, "or MPI.UNDEFINED to get no communicator"),
        (lambda comm: compute(comm, "1e9"), TypeError, "flops must be a number, got str"),
        (lambda comm: compute(comm, float("nan")), ValueError, "flops must be >= 0 and finite"),
        (lambda comm: comm.send(lambda: 1, dest=1), TypeError, "the object cannot be pickled"),
        (
            lambda comm: comm.Send([1.0, 2.0], dest=1),
            TypeError,
            "needs a numpy array buffer or [array, MPI.DOUBLE], got a list of float",
        ),
    ],
)
def test_bad_ranks_roots_and_tags_are_clear_errors(program, exc_type, phrase):
    with pytest.raises(RankError) as info:
        SimCluster(4).run(program)
    exc = cause(info)
    assert isinstance(exc, exc_type), exc
    assert phrase in str(exc)


def test_window_target_ranks_are_checked():
    def lock_bool(comm):
        win = MPI.Win.Create(np.zeros(2), comm=comm)
        win.Lock(True)

    with pytest.raises(RankError, match="Win.Lock: rank=True is a bool, not a rank") as info:
        SimCluster(2).run(lock_bool)
    assert isinstance(cause(info), TypeError)

    def put_far(comm):
        win = MPI.Win.Create(np.zeros(2), comm=comm)
        win.Lock(0)
        win.Put(np.ones(1), 5)

    with pytest.raises(
        RankError, match="Win.Put: target_rank=5 is not a rank of this communicator \\(0..1\\)"
    ):
        SimCluster(2).run(put_far)


def test_a_sub_communicator_checks_its_own_ranks():
    def train(comm):
        row = comm.Split(color=comm.rank // 2, key=comm.rank)
        row.send(1, dest=2)

    with pytest.raises(RankError, match="dest=2 is not a rank of this communicator \\(0..1\\)"):
        SimCluster(4).run(train)


def test_proc_null_sends_and_receives_do_nothing():
    def train(comm):  # a non-periodic shift: the ends talk to MPI.PROC_NULL
        left = comm.rank - 1 if comm.rank > 0 else MPI.PROC_NULL
        right = comm.rank + 1 if comm.rank < comm.size - 1 else MPI.PROC_NULL
        got = np.full(2, -1.0)
        st = MPI.Status()
        comm.Sendrecv(np.full(2, float(comm.rank)), dest=right, recvbuf=got, source=left, status=st)
        obj = comm.sendrecv(comm.rank, dest=left, source=right)
        return got[0], st.Get_source(), obj

    vals = SimCluster(3, network=NET).run(train).values
    assert vals == [(-1.0, MPI.PROC_NULL, 1), (0.0, 0, 2), (1.0, 1, None)]


# ------------------------------------------------------- collective matching ----
def test_bcast_against_gather_names_each_rank_and_its_call():
    def train(comm):
        comm.Barrier()
        if comm.rank == 1:
            compute(comm, 96e9)  # rank 1 arrives last
            return comm.gather(5, root=0)
        return comm.bcast(5, root=0)

    with pytest.raises(CollectiveMismatchError) as info:
        SimCluster(3).run(train)
    msg = str(info.value)
    assert msg.startswith(
        "collective mismatch on COMM_WORLD at collective call #2 (virtual time 1.0000"
    )
    assert "s): ranks 0, 2 called bcast(root=0); rank 1 called gather(root=0)." in msg
    assert info.value.missing == []


def test_different_roots_ops_and_sizes_are_mismatches_and_early_ranks_are_named():
    def roots(comm):
        comm.Bcast(np.zeros(4), root=comm.rank % 2)

    with pytest.raises(
        CollectiveMismatchError,
        match="rank 0 called Bcast\\(root=0, 4 x "
        "float64\\); rank 1 called Bcast\\(root=1, 4 x float64\\); ranks 2, 3 "
        "had not reached it yet",
    ):
        SimCluster(4).run(roots)

    def ops(comm):
        return comm.allreduce(comm.rank, op=MPI.MAX if comm.rank == 2 else MPI.SUM)

    with pytest.raises(CollectiveMismatchError) as info:
        SimCluster(3).run(ops)
    assert info.value.calls == {
        0: "allreduce(op=MPI.SUM)",
        1: "allreduce(op=MPI.SUM)",
        2: "allreduce(op=MPI.MAX)",
    }

    def sizes(comm):
        x = np.ones(3 + (comm.rank == 1))
        comm.Allreduce(MPI.IN_PLACE, x)

    with pytest.raises(
        CollectiveMismatchError, match="rank 1 called Allreduce\\(op=MPI.SUM, 4 x float64\\)"
    ):
        SimCluster(2).run(sizes)


def test_matching_collectives_pass_on_every_communicator():
    def train(comm):
        row = comm.Split(color=comm.rank % 2, key=comm.rank)
        a = row.reduce(comm.rank, op=lambda x, y: x + y, root=0)  # a new lambda per rank
        b = comm.allreduce(1)
        if row.rank == 0:  # only the rows' roots, on their own communicator
            row.Barrier()
        else:
            row.Barrier()
        x = np.full(2, float(comm.rank))
        row.Allreduce(MPI.IN_PLACE, x)
        return a, b, x[0]

    vals = SimCluster(4).run(train).values
    assert vals == [(2, 4, 2.0), (4, 4, 4.0), (None, 4, 2.0), (None, 4, 4.0)]


def test_collective_mismatch_runs_are_deterministic():
    def train(comm):
        compute(comm, (comm.size - comm.rank) * 1e9)
        if comm.rank == 3:
            comm.scatter([0] * comm.size, root=0)
        else:
            comm.Barrier()

    msgs = set()
    for _ in range(3):
        with pytest.raises(CollectiveMismatchError) as info:
            SimCluster(5).run(train)
        msgs.add(str(info.value))
    assert len(msgs) == 1
    assert "rank 3 called scatter(root=0)" in msgs.pop()


# ------------------------------------------------------------------ limits ----
def test_a_rank_looping_without_mpi_hits_the_wall_clock_timeout_and_later_runs_work():
    def train(comm):
        if comm.rank == 1:
            comm.send("hi", dest=0)
            while True:
                pass
        return comm.recv(source=1, tag=9)

    t0 = time.monotonic()
    with pytest.raises(SimTimeoutError) as info:
        SimCluster(3).run(train, timeout=0.5)
    assert time.monotonic() - t0 < 5.0
    err = info.value
    assert err.limit == "wall-clock" and err.seconds == 0.5
    assert err.ranks[0] == "blocked in recv(source=1, tag=9) since virtual t=0 s"
    assert err.ranks[1].startswith(
        "running Python code outside MPI since virtual t=0 s (last MPI call: send(dest=0, tag=0))"
    )
    assert err.ranks[2] == "ready at virtual t=0 s, not started yet"
    assert "wall-clock timeout of 0.5 s" in str(err) and "timeout=None" in str(err)
    time.sleep(0.2)
    assert not any(t.name == "simcluster" for t in threading.enumerate())  # asked to stop
    assert SimCluster(3).run(lambda comm: comm.allreduce(comm.rank)).values == [3, 3, 3]


def test_a_sleeping_rank_does_not_hang_the_run():
    def train(comm):
        if comm.rank == 0:
            time.sleep(1.5)
        comm.Barrier()
        return comm.rank

    t0 = time.monotonic()
    with pytest.raises(SimTimeoutError) as info:
        SimCluster(2).run(train, timeout=0.3)
    assert time.monotonic() - t0 < 1.2  # the sleeper is left behind, the run returns
    assert info.value.ranks[0].startswith("running Python code outside MPI")
    assert info.value.ranks[1] == "ready at virtual t=0 s, not started yet"
    assert SimCluster(2).run(train, timeout=None).values == [0, 1]


def test_max_virtual_time_stops_a_run_that_never_ends_in_virtual_time():
    def train(comm):
        while True:
            compute(comm, 96e9)  # 1 s per step
            comm.allreduce(1)

    with pytest.raises(SimTimeoutError) as info:
        SimCluster(2).run(train, max_virtual_time=3.5)
    err = info.value
    assert err.limit == "virtual time" and err.seconds == 3.5
    assert "passed max_virtual_time=3.5 s" in str(err)
    assert "its clock would pass the limit, going from t=3" in err.ranks[0]
    assert 3.0 < err.time <= 3.5


def test_a_run_within_its_limits_is_unchanged():
    def train(comm):
        compute(comm, 96e9)
        return comm.allreduce(comm.rank)

    plain = SimCluster(3, network=NET).run(train)
    bounded = SimCluster(3, network=NET).run(train, timeout=30, max_virtual_time=2.0)
    assert plain.trace == bounded.trace and plain.messages == bounded.messages
    assert bounded.values == [3, 3, 3] and bounded.time == plain.time


@pytest.mark.parametrize(
    "kwargs, exc_type, phrase",
    [
        (dict(timeout=True), TypeError, "timeout=True"),
        (dict(timeout=0), ValueError, "must be > 0 seconds"),
        (dict(timeout="60"), TypeError, "pass a number of seconds"),
        (dict(max_virtual_time=-1.0), ValueError, "max_virtual_time=-1.0"),
    ],
)
def test_run_limits_are_checked(kwargs, exc_type, phrase):
    with pytest.raises(exc_type, match=phrase):
        SimCluster(2).run(lambda comm: None, **kwargs)
    with pytest.raises(TypeError, match="train must be a function of comm"):
        SimCluster(2).run("train")


@pytest.mark.parametrize(
    "kwargs, exc_type, phrase",
    [
        (dict(n=True), TypeError, "n is the number of ranks, an int >= 1"),
        (dict(n=2.0), TypeError, "n is the number of ranks"),
        (dict(n=0), ValueError, "n >= 1 ranks, got 0"),
        (dict(n=2, seed=1.5), TypeError, "the seed must be an int"),
        (dict(n=2, seed=False), TypeError, "the seed must be an int"),
        (dict(n=2, eager_limit=-1), ValueError, "whole number of bytes >= 0"),
        (dict(n=2, eager_limit=10.5), ValueError, "whole number of bytes"),
        (dict(n=2, eager_limit="64k"), TypeError, "number of bytes"),
        (dict(n=2, faults={1: 2.0}), TypeError, "pass a dlkit.cluster.Faults"),
        (dict(n=2, allreduce=None), TypeError, "name the algorithm"),
        (dict(n=2, allreduce="butterfly"), ValueError, "choose one of"),
    ],
)
def test_simcluster_arguments_are_checked(kwargs, exc_type, phrase):
    n = kwargs.pop("n")
    with pytest.raises(exc_type, match=phrase):
        SimCluster(n, **kwargs)


def test_valid_numeric_arguments_still_work():
    c = SimCluster(np.int64(3), seed=np.int32(5), eager_limit=1024.0)
    assert c.n == 3 and c.eager_limit == 1024
    assert c.run(lambda comm: comm.seed).values == [5, 6, 7]


# ------------------------------------------------------- unreceived messages ----
def test_unreceived_messages_are_warned_about_and_recorded():
    def train(comm):
        if comm.rank == 0:
            comm.Send(np.ones(3), dest=1, tag=3)
            comm.send("extra", dest=2, tag=7)
            comm.send("read", dest=2, tag=8)
        elif comm.rank == 2:
            return comm.recv(source=0, tag=8)

    with pytest.warns(UnreceivedMessageWarning) as record:
        res = SimCluster(3).run(train)
    assert res.values == [None, None, "read"]
    assert res.unreceived[0] == Unreceived(0, 1, 3, 24)
    assert [(m.src, m.dst, m.tag) for m in res.unreceived] == [(0, 1, 3), (0, 2, 7)]
    (w,) = record
    assert "2 message(s) were sent but never received" in str(w.message)
    assert "0->1 (tag 3, 24 bytes)" in str(w.message)
    assert "Post a matching receive" in str(w.message)
    assert "2 unreceived" in repr(res)


def test_correct_programs_and_crashed_receivers_give_no_warning():
    def ok(comm):
        return comm.allreduce(comm.rank)

    def to_crashed(comm):
        if comm.rank == 0:
            compute(comm, 96e9)
            comm.send("early", dest=1)  # rank 1 is still alive at t = 1 s
        else:
            compute(comm, 96e9 * 5)  # crashes at 2 s, before receiving

    with warnings.catch_warnings():
        warnings.simplefilter("error", UnreceivedMessageWarning)
        assert SimCluster(4).run(ok).unreceived == []
        res = SimCluster(2, faults=Faults(crash={1: 2.0})).run(to_crashed)
    assert res.crashed == {1: 2.0} and res.unreceived == []
