"""The communicator methods that asynchronous SGD needs, run on a real MPI communicator.

    mpiexec -n 3 python -m mpi4py tests/mpi_scripts/async_api.py

:func:`suite` is written once against mpi4py's API and returns, per rank, a dict of
results that do not depend on timing (which rank wins an atomic race is left out; the
counts and final values are kept). ``tests/test_cluster_mpi_async.py`` runs it here
under ``mpiexec`` and on the simulator (``from dlkit.cluster import MPI``) and
compares the two dicts entry by entry. Rank 0 prints ``RESULT <json>`` with every
rank's dict and ``OK <p> ranks``.
"""

import json

import numpy as np


def pairs(values, index, MPI):
    """(value, index) records for MAXLOC/MINLOC buffers: MPI's DOUBLE_INT layout."""
    dt = np.dtype([("value", "f8"), ("index", "i4")], align=True)
    out = np.zeros(len(values), dtype=dt)
    out["value"], out["index"] = values, index
    return out


def canonical(x):
    """A JSON-able form of a result (arrays become lists)."""
    if isinstance(x, np.ndarray):
        if x.dtype.names:
            return [[canonical(v) for v in rec] for rec in x.tolist()]
        return x.tolist()
    if isinstance(x, (np.integer,)):
        return int(x)
    if isinstance(x, (np.floating,)):
        return float(x)
    if isinstance(x, (list, tuple)):
        return [canonical(v) for v in x]
    return x


def suite(comm, MPI):
    """Every new method once; returns {name: result} for this rank (needs p >= 3)."""
    p, rank = comm.Get_size(), comm.Get_rank()
    out = {}

    # ---- MPI.PROC_NULL: no-ops, status source PROC_NULL
    left = rank - 1 if rank > 0 else MPI.PROC_NULL
    right = rank + 1 if rank < p - 1 else MPI.PROC_NULL
    got = np.full(2, -7.0)
    st = MPI.Status()
    comm.Sendrecv(np.full(2, float(rank)), dest=right, recvbuf=got, source=left, status=st)
    st2 = MPI.Status()
    comm.Probe(source=MPI.PROC_NULL, status=st2)
    buf = np.full(3, 5.0)
    comm.Recv(buf, source=MPI.PROC_NULL)
    out["proc_null"] = [got, st.Get_source(), st2.Get_source(), buf, comm.Iprobe(MPI.PROC_NULL)]

    # ---- COMM_SELF, COMM_NULL, groups
    me = MPI.COMM_SELF
    out["comm_self"] = [me.Get_size(), me.Get_rank(), me.allreduce(rank + 1)]
    sub = comm.Split(0 if rank % 2 == 0 else MPI.UNDEFINED, rank)
    out["comm_null"] = [rank % 2 == 1 and sub == MPI.COMM_NULL, rank % 2 == 0 and bool(sub)]
    world_g = comm.Get_group()
    evens = world_g.Incl(list(range(0, p, 2)))
    out["group"] = [
        world_g.Get_size(),
        world_g.Get_rank(),
        evens.Get_size(),
        evens.Get_rank(),
        world_g.Translate_ranks(list(range(p)), evens),
    ]
    if sub is not None and sub != MPI.COMM_NULL:
        sub.Free()

    # ---- Ssend, Mprobe
    if rank == 0:
        comm.Ssend(np.arange(4.0), dest=1, tag=3)
    elif rank == 1:
        got = np.zeros(4)
        comm.Recv(got, source=0, tag=3)
        out["ssend"] = got
    if rank == 2:
        comm.ssend({"k": 2}, dest=1, tag=4)
    elif rank == 1:
        out["ssend_obj"] = comm.recv(source=2, tag=4)
    if rank == 1:
        comm.Send(np.arange(5, dtype=np.int64) * 3, dest=0, tag=7)
    if rank == 2:
        comm.send({"w": [1, 2]}, dest=0, tag=8)
    if rank == 0:
        st = MPI.Status()
        msg = comm.Mprobe(source=1, tag=7, status=st)
        n = st.Get_count(MPI.LONG)
        got = np.zeros(n, dtype=np.int64)
        msg.Recv(got)
        obj = comm.mprobe(source=2, tag=8).recv()
        out["mprobe"] = [n, got, obj["w"]]

    # ---- MAXLOC / MINLOC, objects and buffers
    v = [3.0, 1.0, 3.0, 2.0][rank % 4]
    out["maxloc_obj"] = list(comm.allreduce((v, rank), op=MPI.MAXLOC))
    out["minloc_obj"] = list(comm.allreduce((v, rank), op=MPI.MINLOC))
    sendp = pairs([v, -v], rank, MPI)
    recvp = np.zeros_like(sendp)
    comm.Allreduce([sendp, MPI.DOUBLE_INT], [recvp, MPI.DOUBLE_INT], op=MPI.MAXLOC)
    out["maxloc_buf"] = recvp

    # ---- all-to-all, vector and prefix collectives (integer-valued data)
    x = np.arange(p * 2, dtype=np.float64) + 100 * rank
    y = np.zeros(p * 2)
    comm.Alltoall(x, y)
    out["alltoall"] = y
    scounts = [(rank + d) % 3 for d in range(p)]  # rank sends (rank + d) % 3 to d
    rcounts = [(s + rank) % 3 for s in range(p)]
    sb = np.arange(sum(scounts), dtype=np.float64) + 10 * rank
    rb = np.full(sum(rcounts), -1.0)
    comm.Alltoallv([sb, scounts], [rb, rcounts])
    out["alltoallv"] = rb
    z = np.arange(p * 3, dtype=np.float64) * (rank + 1)
    rs = np.zeros(3)
    comm.Reduce_scatter_block(z, rs, op=MPI.SUM)
    out["reduce_scatter_block"] = rs
    counts = [1 + (i % 2) for i in range(p)]
    w = np.arange(sum(counts), dtype=np.float64) + rank
    rv = np.zeros(counts[rank])
    comm.Reduce_scatter(w, rv, counts, op=MPI.SUM)
    out["reduce_scatter"] = rv
    sc = np.zeros(2)
    comm.Scan(np.array([rank + 1.0, 2.0]), sc, op=MPI.SUM)
    out["scan"] = sc
    ex = np.full(2, -1.0)
    comm.Exscan(np.array([rank + 1.0, 1.0]), ex, op=MPI.SUM)
    if rank > 0:  # rank 0's receive buffer is undefined in MPI
        out["exscan"] = ex
    gcounts = [r + 1 for r in range(p)]
    gb = np.zeros(sum(gcounts))
    comm.Gatherv(np.full(rank + 1, float(rank)), [gb, gcounts] if rank == 0 else None, root=0)
    if rank == 0:
        out["gatherv"] = gb
    displs = [sum(gcounts[r + 1 :]) for r in range(p)]  # blocks in reverse rank order
    gd = np.zeros(sum(gcounts))
    comm.Allgatherv(np.full(rank + 1, rank + 0.5), [gd, (gcounts, displs)])
    out["allgatherv_displs"] = gd
    sv = np.zeros(rank + 1)
    src = np.arange(sum(gcounts), dtype=np.float64)
    comm.Scatterv([src, gcounts] if rank == p - 1 else None, sv, root=p - 1)
    out["scatterv"] = sv
    ag = np.zeros(sum(gcounts))
    comm.Allgatherv(np.full(rank + 1, rank * 2.0), [ag, gcounts])
    out["allgatherv"] = ag

    # ---- non-blocking collectives
    a = np.full(5, rank + 1.0)
    ra = np.zeros(5)
    req = comm.Iallreduce(a, ra, op=MPI.SUM)
    bb = np.arange(3.0) if rank == 1 else np.zeros(3)
    req2 = comm.Ibcast(bb, root=1)
    req3 = comm.Ibarrier()
    MPI.Request.Waitall([req, req2, req3])
    out["iallreduce"] = ra
    out["ibcast"] = bb

    # ---- Waitany / Waitsome / Testany (rank 0 against ranks 1 and 2, ordered by "go")
    if rank == 0:
        r1, r2 = np.zeros(1), np.zeros(1)
        reqs = [comm.Irecv(r1, source=1, tag=11), comm.Irecv(r2, source=2, tag=12)]
        first = MPI.Request.Testany(reqs)  # nobody may send yet
        comm.send("go", dest=2, tag=10)
        i = MPI.Request.Waitany(reqs)
        comm.send("go", dest=1, tag=10)
        some = MPI.Request.Waitsome(reqs)
        again = MPI.Request.Waitany(reqs)
        last = MPI.Request.Testany(reqs)
        none = MPI.Request.Testsome(reqs)
        out["waitany"] = [
            [first[0] == MPI.UNDEFINED, first[1]],
            i,
            some,
            again == MPI.UNDEFINED,
            [last[0] == MPI.UNDEFINED, last[1]],
            none,
            [r1[0], r2[0]],
        ]
    elif rank in (1, 2):
        comm.recv(source=0, tag=10)
        comm.Send(np.array([10.0 * rank]), dest=0, tag=10 + rank)

    # ---- Win.Create without comm= is on COMM_SELF; Fence epochs
    own = MPI.Win.Create(np.zeros(2), disp_unit=8)
    out["win_default_comm"] = own.Get_group().Get_size()
    own.Free()
    mem = np.zeros(2 * p)  # slots 0..p-1 are Put into, p..2p-1 accumulated into
    win = MPI.Win.Create(mem, disp_unit=8, comm=comm)
    win.Fence()
    win.Put(np.array([float(rank + 1)]), (rank + 1) % p, target=rank)
    win.Accumulate(np.array([1.0 + rank]), 0, target=p + (rank + 1) % p, op=MPI.SUM)
    win.Accumulate(np.array([1.0]), 0, target=p, op=MPI.SUM)
    win.Fence()
    got = np.zeros(2 * p)
    win.Get(got, (rank + 2) % p)
    win.Fence(MPI.MODE_NOSUCCEED)
    out["fence"] = [mem.copy(), got]
    win.Free()

    # ---- Win.Allocate, Lock_all, Flush, atomics
    win = MPI.Win.Allocate(8 * 4, disp_unit=8, comm=comm)
    view = np.frombuffer(win.tomemory(), dtype=np.float64)
    view[:] = [0.0, 0.0, 0.0, 100.0 * rank]
    view.view(np.int64)[1] = -1  # slot 1 is an int64: MPI's compare-and-swap needs integers
    comm.Barrier()
    win.Lock_all()
    fetched = np.zeros(1)
    win.Fetch_and_op(np.array([1.0]), fetched, 0, 0, op=MPI.SUM)  # a shared counter
    win.Flush(0)
    old = np.zeros(1, dtype=np.int64)
    win.Compare_and_swap(np.array([rank]), np.array([-1]), old, 0, 1)
    win.Flush(0)
    prev = np.zeros(1)
    win.Get_accumulate(np.array([rank + 1.0]), prev, 0, target=2, op=MPI.SUM)
    win.Flush_all()
    far = np.zeros(1)
    win.Get(far, (rank + 1) % p, target=3)
    win.Flush_local((rank + 1) % p)
    win.Flush_local_all()
    win.Put(np.array([float(rank)]), (rank + 1) % p, target=3)
    win.Flush((rank + 1) % p)
    win.Unlock_all()
    comm.Barrier()
    win.Lock(0, MPI.LOCK_SHARED)
    final = np.zeros(3)
    win.Get_accumulate(np.zeros(3), final, 0, target=0, op=MPI.NO_OP)  # an atomic read
    slot = np.zeros(1, dtype=np.int64)
    win.Get_accumulate(np.zeros(1, dtype=np.int64), slot, 0, target=1, op=MPI.NO_OP)
    win.Unlock(0)
    seen = sorted(comm.allgather(float(fetched[0])))
    winners = comm.allreduce(int(old[0] == -1), op=MPI.SUM)
    comm.Barrier()
    out["allocate_atomics"] = [seen, winners, final[0], final[2], int(slot[0]) in range(p), far]
    out["allocate_put"] = view[3]
    win.Free()
    return {k: canonical(v) for k, v in out.items()}


def main():
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    results = suite(comm, MPI)
    every = comm.gather(results, root=0)
    if comm.Get_rank() == 0:
        print("RESULT " + json.dumps(every, sort_keys=True))
        print(f"OK {comm.Get_size()} ranks")


if __name__ == "__main__":
    main()
