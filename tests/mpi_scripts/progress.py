"""Passive-target progress under real MPI: how long a worker's Get waits on the window
of a server that is busy outside MPI.

    mpiexec -n 2 python -m mpi4py tests/mpi_scripts/progress.py [busy_seconds]

Rank 0 (the server) exposes a window and then stays out of MPI for ``busy_seconds``
(default 2; sleeping stands for computing: either way its MPI library is not called);
rank 1 (the worker) starts a one-sided read 0.2 s into that time and measures how long
it takes to complete. Variants:

* ``create_lock`` - ``Win.Create`` + ``Lock``/``Get``/``Unlock``;
* ``create_lock_all_nocheck_flush`` - ``Win.Create`` +
  ``Lock_all(MPI.MODE_NOCHECK)``/``Get``/``Flush``;
* ``allocate_lock`` - ``Win.Allocate`` + ``Lock``/``Get``/``Unlock``;
* ``allocate_lock_all_flush`` - ``Win.Allocate`` + ``Lock_all()``/``Get``/``Flush``;
* ``allocate_lock_all_nocheck_flush`` - ``Win.Allocate`` +
  ``Lock_all(MPI.MODE_NOCHECK)``/``Get``/``Flush``;
* ``polling`` - ``Win.Create`` + ``Lock``, the server calling ``comm.Iprobe`` every
  10 ms while it works.

Rank 0 prints ``STALL <variant> <seconds>`` for each (timings: machine dependent) and
``OK``; a wrong value read raises, and ``python -m mpi4py`` aborts the job.
"""

import sys
import time

import numpy as np

VARIANTS = (
    "create_lock",
    "create_lock_all_nocheck_flush",
    "allocate_lock",
    "allocate_lock_all_flush",
    "allocate_lock_all_nocheck_flush",
    "polling",
)


def window(MPI, comm, kind, n):
    if kind == "allocate":
        win = MPI.Win.Allocate(8 * n if comm.Get_rank() == 0 else 0, disp_unit=8, comm=comm)
        mem = np.frombuffer(win.tomemory(), dtype=np.float64)
    else:
        mem = np.zeros(n if comm.Get_rank() == 0 else 0)
        win = MPI.Win.Create(mem, disp_unit=8, comm=comm)
    if comm.Get_rank() == 0:
        mem[:] = np.arange(n, dtype=np.float64)
    return win


def one(MPI, comm, variant, busy, n=1000):
    """The worker's stall in seconds for one variant (on rank 1; None on rank 0)."""
    kind = "allocate" if variant.startswith("allocate") else "create"
    win = window(MPI, comm, kind, n)
    comm.Barrier()
    stall = None
    if comm.Get_rank() == 0:
        t0 = MPI.Wtime()
        if variant == "polling":
            while MPI.Wtime() - t0 < busy:
                time.sleep(0.01)
                comm.Iprobe()  # enter MPI: its progress engine serves the worker
        else:
            time.sleep(busy)
    else:
        time.sleep(0.2)
        got = np.zeros(n)
        t = MPI.Wtime()
        if "lock_all" in variant:
            win.Lock_all(MPI.MODE_NOCHECK if "nocheck" in variant else 0)
            win.Get(got, 0)
            win.Flush(0)
            stall = MPI.Wtime() - t
            win.Unlock_all()
        else:
            win.Lock(0, MPI.LOCK_SHARED)
            win.Get(got, 0)
            win.Unlock(0)
            stall = MPI.Wtime() - t
        assert np.array_equal(got, np.arange(n, dtype=np.float64)), variant
    comm.Barrier()
    win.Free()
    return stall


def main():
    from mpi4py import MPI

    comm = MPI.COMM_WORLD
    assert comm.Get_size() == 2, "run with mpiexec -n 2"
    busy = float(sys.argv[1]) if len(sys.argv) > 1 else 2.0
    for variant in VARIANTS:
        stall = comm.bcast(one(MPI, comm, variant, busy), root=1)
        if comm.Get_rank() == 0:
            print(f"STALL {variant} {stall:.3f}", flush=True)
    if comm.Get_rank() == 0:
        print("OK")


if __name__ == "__main__":
    main()
