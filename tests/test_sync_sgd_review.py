"""Chapter 14: the exercise checks never show the answer; Rabenseifner's allreduce is
never slower than the ring for p a power of two (closed form and simulated); the cost
sweeps against m and against p agree with the simulator."""

import numpy as np
import pytest

from dlkit.cluster import SimCluster, collectives, costs, networks
from dlkit.exercises import sync_sgd as ex
from dlkit.experiments.collectives import CostSweep, allreduce_costs, allreduce_scaling
from dlkit.parallel.allreduce import crossover, simulate_allreduce

NETS = [networks.preset(n) for n in ("fdr_ib", "10gbe", "1gbe", "nvlink")]


def rel(a, b):
    return abs(a - b) / max(abs(b), 1e-300)


# ------------------------------------------------------------------ exercise checks --
def _forms(x: float) -> list[str]:
    """`x` as a reader might see it printed: integer, rounded to 2-6 digits, scaled."""
    out = set()
    for v in (x, x * 1e3, x * 1e6):
        out |= {f"{v:.{d}f}" for d in range(2, 7)} | {f"{v:.{d}g}" for d in range(3, 7)}
        if v >= 10:
            out |= {f"{round(v):d}", f"{round(v):,}"}
    return [s for s in out if len(s.strip("0.,")) >= 3]  # too short to be a leak


def _ring_answer():
    lk, c = networks.preset("10gbe"), 8 * 10**6 // 16
    return 2 * 15 * (lk.alpha + c * lk.beta) + 15 * c * lk.gamma


def _crossover_answer():
    return 8 * crossover(8, "fdr_ib")


def _verdict(capsys, fn, *args):
    ok = fn(*args)
    out = capsys.readouterr().out
    lines = out.strip().splitlines()
    assert len(lines) == 1, out
    return ok, lines[0]


def test_ring_time_check_accepts_the_answer_and_never_shows_it(capsys):
    want = _ring_answer()
    ok, line = _verdict(capsys, ex.check_ring_time, want)
    assert ok and line.startswith("Correct: ")
    lk, c = networks.preset("10gbe"), 500_000
    wrong = [
        0.0,
        want / 2,
        want * 1.01,
        want * 1e3,  # milliseconds
        want - 15 * c * lk.gamma,  # no reductions
        2 * 15 * (lk.alpha + 8e6 * lk.beta) + 15 * 8e6 * lk.gamma,  # whole vector per step
        -1.0,
        "fast",
        None,
        float("nan"),
    ]
    for w in wrong:
        ok, line = _verdict(capsys, ex.check_ring_time, w)
        assert not ok and line.startswith("Not yet: "), (w, line)
        for s in _forms(want):
            assert s not in line, (w, s, line)


def test_shard_weights_check_never_shows_the_weights(capsys):
    ok, line = _verdict(capsys, ex.check_shard_weights, [22 / 64, 21 / 64, 21 / 64])
    assert ok and line.startswith("Correct: ")
    leaks = [f"{22 / 64:.{d}f}" for d in range(2, 7)] + [f"{21 / 64:.{d}f}" for d in range(2, 7)]
    leaks += ["22/64", "21/64", "0.34375", "0.328125"]
    for w in ([1 / 3] * 3, [22, 21, 21], [0.5, 0.25, 0.25], [0.5, 0.5, 0.5], [1, 2], "x", None):
        ok, line = _verdict(capsys, ex.check_shard_weights, w)
        assert not ok and line.startswith("Not yet: "), (w, line)
        for s in leaks:
            assert s not in line, (w, s, line)


def test_crossover_check_never_shows_the_size(capsys):
    want = _crossover_answer()
    ok, line = _verdict(capsys, ex.check_crossover, want)
    assert ok and line.startswith("Correct: ")
    for w in (10, want // 8, want * 0.5, want * 1.5, 10**6, 0, -5, "big"):
        ok, line = _verdict(capsys, ex.check_crossover, w)
        assert not ok and line.startswith("Not yet: "), (w, line)
        for s in _forms(want) + _forms(want / 8):
            assert s not in line, (w, s, line)
    # the direction hints are right
    _, below = _verdict(capsys, ex.check_crossover, want * 0.5)
    _, above = _verdict(capsys, ex.check_crossover, want * 1.5)
    assert "larger" in below and "smallest" in above


# ------------------------------------------------------ Rabenseifner against the ring --
@pytest.mark.parametrize("net", NETS, ids=lambda n: n.name)
def test_rabenseifner_is_never_slower_than_the_ring_for_powers_of_two(net):
    for p in (2, 4, 8, 16, 32, 64, 128, 1024):
        for N in (1, 7, 100, 1000, 12_345, 10**6, 10**8):
            ring = costs.allreduce_ring(p, N, 8, net)
            rab = costs.allreduce_rabenseifner(p, N, 8, net)
            if p == 2:
                assert rel(rab, ring) < 1e-12
            else:  # the latency terms: 2 log2 p alpha against 2 (p - 1) alpha
                assert rel(ring - rab, 2 * (p - 1 - np.log2(p)) * net.alpha) < 1e-6
        assert crossover(p, net, fast_small="ring", fast_large="rabenseifner") == 1


def test_the_ring_beats_folded_rabenseifner_for_large_messages_off_powers_of_two():
    net = networks.preset("10gbe")
    for p in (3, 6, 12, 24, 48, 100):
        N = 2 * 10**6
        assert costs.allreduce_ring(p, N, 8, net) < 0.6 * costs.allreduce_rabenseifner(p, N, 8, net)


@pytest.mark.parametrize("p", [4, 8, 16])
def test_simulated_rabenseifner_sums_like_numpy_and_beats_the_simulated_ring(p):
    net = networks.preset("10gbe")
    for N in (1, 37, 1000):

        def train(comm, algo):
            x = np.random.default_rng(comm.rank).integers(-9, 9, size=N).astype(float)
            return collectives.allreduce(comm, x, algorithm=algo)

        want = sum(np.random.default_rng(r).integers(-9, 9, size=N).astype(float) for r in range(p))
        rab = SimCluster(p, network=net).run(train, "rabenseifner")
        ring = SimCluster(p, network=net).run(train, "ring")
        for v in rab.values:
            np.testing.assert_array_equal(v, want)
        assert rel(rab.time, costs.allreduce_rabenseifner(p, N, 8, net)) < 1e-9
        assert rab.time < ring.time


def test_on_a_ring_topology_rabenseifner_ties_with_the_ring():
    # hop latencies 2 (p/2 + p/4 + ... + 1) alpha = 2 (p - 1) alpha, the ring's
    net = networks.ring(networks.preset("10gbe"))
    for p in (4, 8, 16):
        ring = simulate_allreduce(p, 512, "ring", net).time
        rab = simulate_allreduce(p, 512, "rabenseifner", net).time
        assert rel(rab, ring) < 1e-9


@pytest.mark.parametrize("net", NETS[:3], ids=lambda n: n.name)
def test_crossovers_ring_grows_with_p_rabenseifner_falls_towards_alpha_over_beta_gamma(net):
    qs = (4, 8, 16, 32, 64)  # crossovers of many elements per rank: padding is negligible
    ring = [crossover(q, net) for q in qs]
    rab = [crossover(q, net, fast_large="rabenseifner") for q in qs]
    assert ring == sorted(ring) and len(set(ring)) == len(ring)
    assert rab == sorted(rab, reverse=True) and len(set(rab)) == len(rab)
    assert all(8 * k >= net.alpha / (net.beta + net.gamma) for k in rab)
    for q, k in zip(qs, rab):  # the closed-form crossover of the chapter, to one element
        lg = np.log2(q)
        m_star = (
            lg
            * net.alpha
            / (lg * (net.beta + net.gamma) - (q - 1) / q * (2 * net.beta + net.gamma))
        )
        assert abs(8 * k - m_star) <= 8 * q + 8


# ------------------------------------------------------------------------- sweeps --
def test_allreduce_costs_sweep_matches_closed_forms_and_the_simulator():
    sizes = [8, 64, 4096, 65536]
    sw = allreduce_costs(8, sizes, "10gbe", simulate_at=(64, 65536))
    assert isinstance(sw, CostSweep) and sw.axis == "m" and sw.p == 8 and sw.m is None
    assert list(sw.x) == sizes and len(sw.algorithms) == 5
    net = networks.preset("10gbe")
    for a in sw.algorithms:
        np.testing.assert_allclose(
            sw.closed_form[a], [costs.allreduce(a, 8, m // 8, 8, net) for m in sizes], rtol=1e-15
        )
        assert set(sw.simulated[a]) == {64, 65536}
    assert sw.max_rel_error() < 1e-9


def test_allreduce_scaling_sweep_matches_closed_forms_and_the_simulator():
    sw = allreduce_scaling(range(2, 17), 8192, "fdr_ib", simulate_at=(3, 8, 16))
    assert sw.axis == "p" and sw.m == 8192 and sw.p is None
    assert sw.algorithms == ("recursive_doubling", "ring", "rabenseifner")
    assert sw.max_rel_error() < 1e-9
    for q in (4, 8, 16):
        assert sw.at("rabenseifner", q) < sw.at("ring", q)
    with pytest.raises(ValueError, match="not a swept value"):
        sw.at("ring", 99)


def test_sweeps_refuse_bad_arguments_with_a_clear_message():
    with pytest.raises(ValueError, match="multiples of 8"):
        allreduce_costs(4, [12], "10gbe")
    with pytest.raises(ValueError, match="multiple"):
        allreduce_scaling([2, 4], 100, "10gbe")
    with pytest.raises(ValueError, match="not among the swept"):
        allreduce_costs(4, [8, 16], "10gbe", simulate_at=(24,))
    with pytest.raises(ValueError, match="at least 2"):
        allreduce_scaling([1, 2], 8, "10gbe")
