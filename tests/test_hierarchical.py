"""Synchronous SGD revisited (dlkit.parallel.hierarchical) on the simulator: the
hierarchical allreduce is correct and takes its closed-form time; it beats the flat
ring across nodes for latency-bound messages; gradient buckets overlapped with the
backward pass beat one allreduce after it, with the same averaged gradients."""

import math

import numpy as np
import pytest

from dlkit.cluster import SimCluster, networks
from dlkit.parallel.hierarchical import (
    backward_allreduce,
    flat_ring_time,
    hierarchical_allreduce,
    hierarchical_time,
    simulate,
)

NET = networks.two_level("nvlink", "1gbe", ranks_per_node=4)
BIG = [60_000, 40_000, 20_000, 2_000]  # parameters per layer
FLOPS = [4e8, 4e8, 2e8, 2e7]


def test_hierarchical_allreduce_sums():
    def train(comm):
        x = np.arange(10.0) * (comm.Get_rank() + 1)
        return hierarchical_allreduce(comm, x, 4)

    for v in SimCluster(8, network=NET).run(train).values:
        assert np.array_equal(v, np.arange(10.0) * 36)


@pytest.mark.parametrize("p", [4, 8, 16])
@pytest.mark.parametrize("layers", [BIG, [1000, 500, 100]])
def test_times_equal_their_closed_forms(p, layers):
    r = simulate(p, 4, layers, network=NET, backward_flops=FLOPS[: len(layers)])
    assert math.isclose(
        r["hierarchical"], hierarchical_time(p, 4, sum(layers), 8, NET), rel_tol=1e-9
    )
    assert math.isclose(r["flat"], flat_ring_time(p, sum(layers), 8, NET), rel_tol=1e-6)


@pytest.mark.parametrize("p", [8, 16])
def test_hierarchical_beats_flat_across_nodes(p):
    small = simulate(p, 4, [1000, 500, 100], network=NET, backward_flops=FLOPS[:3])
    assert small["hierarchical"] < 0.5 * small["flat"]  # latency-bound: n instead of p steps
    big = simulate(p, 4, BIG, network=NET, backward_flops=FLOPS)
    assert big["hierarchical"] < big["flat"]


def test_buckets_hide_the_allreduce_behind_the_backward_pass():
    r = simulate(16, 4, BIG, network=NET, backward_flops=FLOPS, bucket_bytes=1 << 18)
    compute_only = sum(FLOPS) / SimCluster(1).device.flops
    # the bottom layer's bucket can start only when the backward pass ends
    assert r["buckets"] < 0.75 * r["no_overlap"]
    assert r["buckets"] >= compute_only


def test_bucketed_gradients_equal_the_plain_ones():
    def train(comm):
        g = [np.full(5, comm.Get_rank() + 1.0), np.full(7, 2.0 * comm.Get_rank())]
        a = backward_allreduce(comm, g, [1e6, 1e6], bucket_bytes=40)
        b = backward_allreduce(comm, g, [1e6, 1e6])
        return a, b

    for a, b in SimCluster(8, network=NET).run(train).values:
        assert all(np.array_equal(x, y) for x, y in zip(a, b))
        assert np.all(a[0] == 4.5) and np.all(a[1] == 7.0)


def test_bad_input_is_named():
    with pytest.raises(Exception, match="does not divide"):
        SimCluster(6).run(hierarchical_allreduce, np.ones(3), 4)
    with pytest.raises(Exception, match="one of each per layer"):
        SimCluster(2).run(backward_allreduce, [np.ones(3)], [1.0, 2.0])
