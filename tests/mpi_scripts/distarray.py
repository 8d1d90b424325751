"""A locally connected layer on a distributed array, under real MPI, against one process.

    mpiexec -n 3 python -m mpi4py tests/mpi_scripts/distarray.py

Every rank builds the whole layer, input and output gradient from their seeds, keeps
its rows (:class:`dlkit.largescale.distarray.DistArray`), runs forward and backward with
the halo exchange, and compares what it computed with the one-process layer. Rank 0
prints one line per check and a final "OK"; a mismatch raises, and ``python -m mpi4py``
then aborts the whole job with a non-zero exit status.
"""

import numpy as np

from dlkit.largescale.distarray import DistArray, DistLocallyConnected2d
from dlkit.largescale.localconn import LocallyConnected2d

#: (channels, (H, W), maps, window, stride) of the layers checked.
CASES = ((2, (13, 6), 3, 4, 1), (3, (17, 9), 2, 5, 2))


def problem(case):
    """The layer, its input x and output gradient dz, from fixed seeds."""
    C, size, F, k, s = case
    layer = LocallyConnected2d(C, size, F, k, s, seed=7)
    x = np.random.default_rng(1).standard_normal((4, C, *size))
    dz = np.random.default_rng(2).standard_normal((4, F, layer.Ho, layer.Wo))
    return layer, x, dz


def distributed(comm, case):
    """Forward and backward of the distributed layer on this rank: (z, dx, dW, db) with
    z and dx gathered whole, dW and db this rank's output rows."""
    layer, x, dz = problem(case)
    d = DistLocallyConnected2d(comm, layer)
    z = d.forward(DistArray.scatter(comm, x))
    dx = d.backward(DistArray.scatter(comm, dz))
    return z.gather(), dx.gather(), d.dW, d.db, d.out_rows


def check(comm, case) -> str:
    """Compare this rank's results with the one-process layer; raise on a mismatch."""
    z, dx, dW, db, (o0, o1) = distributed(comm, case)
    layer, x, dz = problem(case)
    z1 = layer.forward(x)
    dx1 = layer.backward(dz)
    assert np.array_equal(z, z1), ("forward", case)
    assert np.array_equal(dW, layer.W.grad[o0:o1]), ("dW", case)
    assert np.array_equal(db, layer.b.grad[o0:o1]), ("db", case)
    assert np.abs(dx - dx1).max() <= 1e-12 * np.abs(dx1).max(), ("dx", case)
    return f"case {case}: forward, dW, db bit-equal; dx equal below 1e-12"


def main():
    from mpi4py import MPI  # here, so that the tests can import this file without MPI

    comm = MPI.COMM_WORLD
    lines = [check(comm, case) for case in CASES]
    if comm.Get_rank() == 0:
        print("\n".join(lines))
        print(f"OK {comm.Get_size()} ranks")


if __name__ == "__main__":
    main()
