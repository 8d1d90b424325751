"""Benchmark group "cluster": what the simulated cluster costs in wall-clock time.

The simulator runs every rank as a greenlet and hands control from one to the next in
virtual-time order, so its cost is a few greenlet switches per communication call.
Three figures, with the goals they are held to:

* wall time per point-to-point operation (a ``Send`` or a ``Recv`` of a ping-pong
  between 2 ranks): goal at most 100 us;
* wall time to simulate a 64-rank ring allreduce of 1 MB (131,072 float64, 8,064
  messages), message by message (:func:`dlkit.cluster.collectives.allreduce_ring`):
  goal at most 2 s;
* wall time of a 1,000-rank ``comm.Allreduce`` of 1,000 floats with the ring
  (1,998,000 messages), which the simulator replays for all ranks at once
  (:mod:`dlkit.cluster.fastring`): goal well under 10 s.

There is no peer to compare with (peer columns are empty); the notes give the goals
and the simulated (virtual) times, which are exact and machine-independent.
"""

from __future__ import annotations

import numpy as np

from dlkit.bench import Row, register, timeit

PINGPONG_ROUNDS = 1000
RING_RANKS = 64
RING_ELEMENTS = 131072  # 1 MB of float64
WIDE_RANKS = WIDE_ELEMENTS = 1000


def _pingpong(comm, rounds):
    buf = np.zeros(1)
    other = 1 - comm.Get_rank()
    for _ in range(rounds):
        if comm.Get_rank() == 0:
            comm.Send(buf, dest=other)
            comm.Recv(buf, source=other)
        else:
            comm.Recv(buf, source=other)
            comm.Send(buf, dest=other)


def _ring_allreduce(comm):
    from dlkit.cluster import collectives

    x = np.ones(RING_ELEMENTS)
    return collectives.allreduce_ring(comm, x)[0]


def _wide_allreduce(comm):
    from dlkit.cluster import MPI

    x = np.full(WIDE_ELEMENTS, 1.0)
    comm.Allreduce(MPI.IN_PLACE, x)
    return x[0]


@register("cluster")
def bench() -> list[Row]:
    from dlkit.cluster import SimCluster, costs, networks

    ops = 4 * PINGPONG_ROUNDS  # each round: 2 Sends and 2 Recvs
    t = timeit(
        lambda: SimCluster(2).run(_pingpong, PINGPONG_ROUNDS), repeat=5, min_time=0.05, warmup=1
    )
    rows = [
        Row(
            "cluster",
            "sim Send/Recv ping-pong, per op",
            t / ops,
            None,
            None,
            f"{t / ops * 1e6:.1f} us per op ({PINGPONG_ROUNDS} round trips); goal <= 100 us",
        )
    ]
    net = networks.preset("10gbe")
    cluster = SimCluster(RING_RANKS, network=net)
    result = cluster.run(_ring_allreduce)
    assert result.values[0] == RING_RANKS
    t = timeit(lambda: cluster.run(_ring_allreduce), repeat=3, min_time=0.0, warmup=0)
    virtual = costs.allreduce_ring(RING_RANKS, RING_ELEMENTS, 8, net)
    rows.append(
        Row(
            "cluster",
            f"sim {RING_RANKS}-rank ring allreduce, 1 MB",
            t,
            None,
            None,
            f"{len(result.messages)} messages; simulated {result.time * 1e3:.3f} ms "
            f"on 10GbE (closed form {virtual * 1e3:.3f} ms); goal <= 2 s",
        )
    )
    wide = SimCluster(WIDE_RANKS, network=net, allreduce="ring")
    result = wide.run(_wide_allreduce)
    assert result.values[0] == WIDE_RANKS
    t = timeit(lambda: wide.run(_wide_allreduce), repeat=3, min_time=0.0, warmup=0)
    virtual = costs.allreduce_ring(WIDE_RANKS, WIDE_ELEMENTS, 8, net)
    rows.append(
        Row(
            "cluster",
            f"sim {WIDE_RANKS}-rank ring allreduce, {WIDE_ELEMENTS} floats",
            t,
            None,
            None,
            f"{len(result.messages)} messages, replayed at once; simulated "
            f"{result.time * 1e3:.3f} ms (closed form {virtual * 1e3:.3f} ms); goal < 10 s",
        )
    )
    return rows
