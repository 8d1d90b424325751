"""Collectives written from point-to-point messages: results equal numpy's, and the
simulated time equals the closed form of dlkit.cluster.costs to 1e-9 relative, for
powers of two and not, sizes divisible by p and not, eager and rendezvous sends."""

import numpy as np
import pytest

from dlkit.cluster import MPI, SimCluster, collectives, costs, networks

NET = networks.Network(alpha=2e-6, beta=1e-9, gamma=3e-10, name="test")
PS = [1, 2, 3, 4, 7, 8, 16]


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


def _data(rank, N, dtype=np.float64):
    # integer-valued floats: every summation order gives the exact same result
    return np.random.default_rng(1000 + rank).integers(-50, 50, size=N).astype(dtype)


def _run_allreduce(algo, p, N, op=MPI.SUM, eager_limit=65536, network=NET, shape=None):
    def train(comm):
        x = _data(comm.rank, N)
        if shape is not None:
            x = x.reshape(shape)
        return collectives.allreduce(comm, x, op=op, algorithm=algo)

    return SimCluster(p, network=network, eager_limit=eager_limit).run(train)


@pytest.mark.parametrize("algo", list(collectives.ALLREDUCE))
@pytest.mark.parametrize("p", PS)
def test_allreduce_equals_numpy_and_closed_form(algo, p):
    for N in (1, 13, 100):  # 13 and 100 are not multiples of 3, 7, 8 or 16
        for eager_limit in (65536, 0):  # eager sends, then every send rendezvous
            res = _run_allreduce(algo, p, N, eager_limit=eager_limit)
            want = sum(_data(r, N) for r in range(p))
            for v in res.values:
                np.testing.assert_array_equal(v, want)
            predicted = costs.allreduce(algo, p, N, 8, NET)
            assert rel(res.time, predicted) < 1e-9, (algo, p, N, eager_limit, res.time, predicted)


@pytest.mark.parametrize("algo", list(collectives.ALLREDUCE))
def test_allreduce_max_min_prod_and_shapes(algo):
    p, N = 6, 12
    xs = [_data(r, N) for r in range(p)]
    for op, ref in ((MPI.MAX, np.max), (MPI.MIN, np.min)):
        res = _run_allreduce(algo, p, N, op=op, shape=(3, 4))
        for v in res.values:
            assert v.shape == (3, 4)
            np.testing.assert_array_equal(v, ref(xs, axis=0).reshape(3, 4))

    def prod(comm):
        x = np.array([1.0 + comm.rank, 2.0, -1.0])
        return collectives.allreduce(comm, x, op=MPI.PROD, algorithm=algo)

    for v in SimCluster(p).run(prod).values:
        np.testing.assert_array_equal(v, [720.0, 64.0, 1.0])


def test_floating_point_sums_agree_with_numpy_to_rounding():
    p, N = 7, 50

    def train(comm, algo):
        x = np.random.default_rng(comm.rank).standard_normal(N)
        return collectives.allreduce(comm, x, algorithm=algo)

    want = np.sum([np.random.default_rng(r).standard_normal(N) for r in range(p)], axis=0)
    for algo in collectives.ALLREDUCE:
        for v in SimCluster(p).run(train, algo).values:
            np.testing.assert_allclose(v, want, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("p", PS)
def test_bcast_reduce_allgather_gather_scatter_barrier(p):
    N = 11
    root = p // 2

    def train(comm):
        r = comm.rank
        out = {}
        t = comm.Wtime()
        buf = _data(root, N) if r == root else np.zeros(N)
        out["bcast"] = collectives.bcast_binomial(comm, buf, root=root).copy()
        collectives.barrier_dissemination(comm)
        out["reduce"] = collectives.reduce_binomial(comm, _data(r, N), root=root)
        collectives.barrier_dissemination(comm)
        out["allgather"] = collectives.allgather_ring(comm, _data(r, N))
        collectives.barrier_dissemination(comm)
        out["gather"] = collectives.gather_linear(comm, _data(r, N), root=root)
        collectives.barrier_dissemination(comm)
        rows = np.stack([_data(i, N) for i in range(p)]) if r == root else None
        out["scatter"] = collectives.scatter_linear(comm, rows, np.zeros(N), root=root)
        out["t"] = t
        return out

    res = SimCluster(p, network=NET).run(train)
    allx = np.stack([_data(r, N) for r in range(p)])
    for r, out in enumerate(res.values):
        np.testing.assert_array_equal(out["bcast"], _data(root, N))
        if r == root:
            np.testing.assert_array_equal(out["reduce"], allx.sum(axis=0))
            np.testing.assert_array_equal(out["gather"], allx)
        else:
            assert out["reduce"] is None and out["gather"] is None
        np.testing.assert_array_equal(out["allgather"], allx)
        np.testing.assert_array_equal(out["scatter"], allx[r])


@pytest.mark.parametrize("p", PS)
def test_single_collective_times_equal_closed_forms(p):
    N = 10
    cases = {
        "bcast": (
            lambda c: collectives.bcast_binomial(c, np.zeros(N), root=p - 1),
            costs.bcast_binomial(p, N, 8, NET),
        ),
        "reduce": (
            lambda c: collectives.reduce_binomial(c, np.ones(N), root=p - 1),
            costs.reduce_binomial(p, N, 8, NET),
        ),
        "allgather": (
            lambda c: collectives.allgather_ring(c, np.ones(N)),
            costs.allgather_ring(p, N, 8, NET),
        ),
        "gather": (
            lambda c: collectives.gather_linear(c, np.ones(N)),
            costs.gather_linear(p, N, 8, NET),
        ),
        "scatter": (
            lambda c: collectives.scatter_linear(
                c, np.ones((p, N)) if c.rank == 0 else None, np.zeros(N)
            ),
            costs.scatter_linear(p, N, 8, NET),
        ),
        "barrier": (collectives.barrier_dissemination, costs.barrier_dissemination(p, NET)),
    }
    for name, (fn, predicted) in cases.items():
        res = SimCluster(p, network=NET).run(fn)
        assert rel(res.time, predicted) < 1e-9 or res.time == predicted == 0, (name, p)


def test_builtin_allreduce_uses_the_chosen_algorithm_and_its_cost():
    p, N = 6, 1000
    for algo in collectives.ALLREDUCE:

        def train(comm):
            x = _data(comm.rank, N)
            comm.Allreduce(MPI.IN_PLACE, x, op=MPI.SUM)
            return x

        res = SimCluster(p, network=NET, allreduce=algo).run(train)
        np.testing.assert_array_equal(res.values[3], sum(_data(r, N) for r in range(p)))
        assert rel(res.time, costs.allreduce(algo, p, N, 8, NET)) < 1e-9


def test_ring_allreduce_on_a_ring_topology_costs_the_same_and_the_tree_pays_hops():
    p, N = 8, 64
    ring_net = networks.ring(NET)
    t_ring = _run_allreduce("ring", p, N, network=ring_net).time
    assert rel(t_ring, costs.allreduce_ring(p, N, 8, NET)) < 1e-9
    t_tree = _run_allreduce("tree", p, N, network=ring_net).time
    assert t_tree > costs.allreduce_tree(p, N, 8, NET) * (1 + 1e-6)
    with pytest.raises(ValueError, match="uniform"):
        costs.allreduce_ring(p, N, 8, ring_net)


def test_closed_forms_reduce_to_the_textbook_formulas():
    # divisible sizes, power of two: Patarasuk & Yuan's ring and Thakur's Rabenseifner
    p, N, s = 8, 800, 8
    a, b, g, n = NET.alpha, NET.beta, NET.gamma, 800 * 8
    ring = 2 * (p - 1) * a + 2 * (p - 1) / p * n * b + (p - 1) / p * n * g
    rab = 2 * np.log2(p) * a + 2 * (p - 1) / p * n * b + (p - 1) / p * n * g
    assert rel(costs.allreduce_ring(p, N, s, NET), ring) < 1e-12
    assert rel(costs.allreduce_rabenseifner(p, N, s, NET), rab) < 1e-12
    assert (
        rel(costs.allreduce_recursive_doubling(p, N, s, NET), np.log2(p) * (a + n * b + n * g))
        < 1e-12
    )
    with pytest.raises(ValueError, match="unknown allreduce"):
        costs.allreduce("butterfly", p, N, s, NET)
