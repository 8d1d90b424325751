"""Run dlkit.cluster.collectives on a real MPI communicator and compare with numpy.

    mpiexec -n 4 python -m mpi4py tests/mpi_scripts/cluster_collectives.py

Every rank builds every rank's data from its seed, so each can check its own result.
Rank 0 prints one line per algorithm and a final "OK"; any mismatch raises, and
``python -m mpi4py`` then aborts the whole job with a non-zero exit status.
"""

import numpy as np

from dlkit.cluster import collectives, compute, is_simulated


def data(rank, N, dtype=np.float64):
    return np.random.default_rng(1000 + rank).integers(-50, 50, size=N).astype(dtype)


def rma_table(comm, MPI):
    """One-sided writes into rank 0's window: every rank Puts 10*rank into slot 1+rank
    (exclusive lock) and Accumulates its rank into slot 0 (shared lock); returns the
    window's contents read back with Get. Written once against mpi4py's API; the
    tests run it on the simulator too (``from dlkit.cluster import MPI``)."""
    p, rank = comm.Get_size(), comm.Get_rank()
    mem = np.zeros(p + 1) if rank == 0 else np.zeros(0)
    win = MPI.Win.Create(mem, disp_unit=8, comm=comm)
    win.Lock(0, MPI.LOCK_EXCLUSIVE)
    win.Put(np.array([10.0 * rank]), 0, target=1 + rank)
    win.Unlock(0)
    win.Lock(0, MPI.LOCK_SHARED)
    win.Accumulate(np.array([float(rank)]), 0, target=0, op=MPI.SUM)
    win.Unlock(0)
    comm.Barrier()
    seen = np.zeros(p + 1)
    win.Lock(0, MPI.LOCK_SHARED)
    win.Get(seen, 0)
    win.Unlock(0)
    win.Free()
    return seen


def main():
    from mpi4py import MPI  # here, so that the tests can import rma_table without MPI

    comm = MPI.COMM_WORLD
    p, rank = comm.Get_size(), comm.Get_rank()
    assert not is_simulated(comm)
    compute(comm, 1e12)  # a no-op on real MPI
    lines = []
    for algo in collectives.ALLREDUCE:
        for N in (1, 13, 1000):
            for dtype in (np.float64, np.int64):
                want = sum(data(r, N, dtype) for r in range(p))
                got = collectives.allreduce(comm, data(rank, N, dtype), algorithm=algo)
                assert got.dtype == dtype and np.array_equal(got, want), (algo, N, dtype)
            xs = np.stack([data(r, 13) for r in range(p)])
            got = collectives.allreduce(comm, data(rank, 13), op=MPI.MAX, algorithm=algo)
            assert np.array_equal(got, xs.max(axis=0)), (algo, "MAX")
        lines.append(f"allreduce {algo}: equal to numpy")
    N, root = 11, p - 1
    allx = np.stack([data(r, N) for r in range(p)])
    buf = data(root, N) if rank == root else np.zeros(N)
    assert np.array_equal(collectives.bcast_binomial(comm, buf, root=root), allx[root])
    red = collectives.reduce_binomial(comm, data(rank, N), root=root)
    assert (red is None) == (rank != root)
    if rank == root:
        assert np.array_equal(red, allx.sum(axis=0))
    assert np.array_equal(collectives.allgather_ring(comm, data(rank, N)), allx)
    gat = collectives.gather_linear(comm, data(rank, N), root=root)
    if rank == root:
        assert np.array_equal(gat, allx)
    out = collectives.scatter_linear(comm, allx if rank == root else None, np.zeros(N), root)
    assert np.array_equal(out, allx[rank])
    collectives.barrier_dissemination(comm)
    lines.append("bcast, reduce, allgather, gather, scatter, barrier: equal to numpy")
    seen = rma_table(comm, MPI)
    assert np.array_equal(seen, [p * (p - 1) / 2] + [10.0 * r for r in range(p)]), seen
    lines.append("RMA Put/Accumulate/Get: equal to the expected table")
    ok = comm.allreduce(1, op=MPI.SUM)
    if rank == 0:
        print("\n".join(lines))
        print(f"OK {ok} ranks")


if __name__ == "__main__":
    main()
