"""Benchmark group "async_sim": what the one-sided parameter server costs to simulate.

Two figures, with the goals they are held to:

* wall time per one-sided operation (``Get``, ``Put``, ``Accumulate``, ``Flush``) on a
  ``Win.Allocate`` window in a ``Lock_all`` epoch, two ranks each issuing operations on
  the other's window: goal at most 100 us;
* wall time to simulate the 32-core rows of the seed talk's two tables
  (:func:`dlkit.experiments.async_dbn.seed_tables`: a DBN trained by asynchronous SGD
  on 32 workers and a server, until 90% test accuracy, on both layouts), and of the
  whole 2 x 8 table with its serial baseline: goal well under 25 s for the whole table.

There is no peer to compare with (peer columns are empty); the notes give the goals
and the simulated (virtual) figures, which are exact and machine-independent.
"""

from __future__ import annotations

import time

import numpy as np

from dlkit.bench import Row, register, timeit

ROUNDS = 500  # per rank; each round issues one op of each kind and one Flush
WORDS = 64  # float64 words per operation


def _rma_loop(comm, rounds):
    from dlkit.cluster import MPI

    win = MPI.Win.Allocate(8 * WORDS, disp_unit=8, comm=comm)
    other = 1 - comm.Get_rank()
    buf = np.ones(WORDS)
    win.Lock_all(MPI.MODE_NOCHECK)
    for _ in range(rounds):
        win.Get(buf, other, 0)
        win.Put(buf, other, 0)
        win.Accumulate(buf, other, 0, op=MPI.SUM)
        win.Flush(other)
    win.Unlock_all()
    win.Free()


@register("async_sim")
def bench() -> list[Row]:
    from dlkit.cluster import SimCluster
    from dlkit.experiments import async_dbn

    ops = 2 * 4 * ROUNDS  # two ranks, four operations a round
    t = timeit(lambda: SimCluster(2).run(_rma_loop, ROUNDS), repeat=5, min_time=0.05, warmup=1)
    rows = [
        Row(
            "async_sim",
            "sim one-sided Get/Put/Accumulate/Flush, per op",
            t / ops,
            None,
            None,
            f"{t / ops * 1e6:.1f} us per op ({ops} ops, {WORDS} float64 each); goal <= 100 us",
        )
    ]
    setup = async_dbn.setup()  # the data, the pretrained DBN, the test set (not timed)
    t0 = time.perf_counter()
    runs = [async_dbn.run_config(32, layout, setup=setup) for layout in ("2 nodes", "2 TPN")]
    t32 = time.perf_counter() - t0
    rows.append(
        Row(
            "async_sim",
            "sim 32-core rows of the seed's tables",
            t32,
            None,
            None,
            "; ".join(
                f"{r.layout}: {r.iterations:.2f} iterations, simulated {r.time * 1e3:.1f} ms"
                for r in runs
            ),
        )
    )
    t0 = time.perf_counter()
    tables = async_dbn.seed_tables(setup=setup)
    t_all = time.perf_counter() - t0
    peak = max(tables.rows, key=lambda r: r.speedup)
    rows.append(
        Row(
            "async_sim",
            "sim the whole 2 x 8 table + serial baseline",
            t_all,
            None,
            None,
            f"{len(tables.rows)} runs; peak speed-up {peak.speedup:.2f} at {peak.cores} cores "
            f"({peak.layout}); goal well under 25 s",
        )
    )
    return rows
