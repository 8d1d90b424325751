"""Checks for the exercises of the chapter *Synchronous SGD and allreduce*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given, and a "Not yet" never
shows the expected value.
"""

from __future__ import annotations

import numpy as np

from dlkit.cluster import costs, networks
from dlkit.exercises import never_raises, number, verdict
from dlkit.parallel.allreduce import crossover


def _close(v: float, want: float, rtol: float) -> bool:
    return abs(v - want) <= rtol * abs(want)


@never_raises
def check_ring_time(seconds, p: int = 16, N: int = 1_000_000, network: str = "10gbe") -> bool:
    """Exercise 1: the ring allreduce of the gradient of P = 10⁶ float64 parameters
    (m = 8P bytes; ``N`` is P) on p = 16 ranks over 10 GbE, in seconds."""
    v = number(seconds)
    if v is None:
        return verdict(False, "answer with a number of seconds")
    net = networks.preset(network)
    want = costs.allreduce_ring(p, N, 8, net)
    c = -(-N // p) * 8  # the chunk, m/p bytes
    if _close(v, want, 1e-3):
        return verdict(
            True,
            f"{want * 1e3:.4f} ms = 2(p-1)(α + (m/p)β) + (p-1)(m/p)γ with chunks of "
            f"m/p = {c:,} bytes",
        )
    if _close(v, want * 1e3, 1e-3) or _close(v, want * 1e6, 1e-3):
        return verdict(False, "the number is right but not its unit: answer in seconds")
    if _close(v, want - (p - 1) * c * net.gamma, 1e-3):
        return verdict(
            False, "the reductions are missing: each of the p-1 reduce-scatter steps adds a chunk"
        )
    whole = 2 * (p - 1) * (net.alpha + 8 * N * net.beta) + (p - 1) * 8 * N * net.gamma
    if _close(v, whole, 1e-3):
        return verdict(
            False, "each step of the ring moves one chunk of m/p bytes, not the whole message"
        )
    return verdict(
        False,
        "count the 2(p-1) steps of the ring, each one message of a chunk of m/p bytes "
        "(α + (m/p)β), and the (m/p)γ of adding a chunk in each of the p-1 "
        "reduce-scatter steps",
    )


@never_raises
def check_shard_weights(weights, sizes=(22, 21, 21)) -> bool:
    """Exercise 2: the factors w_r by which rank r must multiply its shard-mean gradient
    before an allreduce-sum, for shards of B_r = 22, 21, 21 examples (B = 64), so that
    the sum is the gradient of the global batch's mean loss."""
    try:
        w = np.asarray(weights, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return verdict(False, "answer with a list of three numbers, one per rank")
    sizes = np.asarray(sizes, dtype=float)
    if w.shape != sizes.shape:
        return verdict(False, f"give one weight per rank: {len(sizes)} numbers")
    if not np.all(np.isfinite(w)):
        return verdict(False, "every weight must be a finite number")
    want = sizes / sizes.sum()
    if np.allclose(w, want, rtol=1e-6, atol=0):
        return verdict(True, "w_r = B_r / B: each shard counts in proportion to its size")
    if np.allclose(w, 1 / len(sizes)):
        return verdict(False, "1/p is right only when every shard has B/p examples")
    if np.allclose(w, sizes):
        return verdict(
            False,
            "that sums the shards' losses, not their means: the global mean divides by B",
        )
    if not np.isclose(w.sum(), 1.0):
        return verdict(
            False,
            "the weights of a mean must add up to 1; write the global mean over the B "
            "examples as a sum over the shards of their means",
        )
    return verdict(
        False,
        "these add up to 1 but do not weight the shards right: how many of the B "
        "examples does shard r hold?",
    )


@never_raises
def check_crossover(nbytes, p: int = 8, network: str = "fdr_ib") -> bool:
    """Exercise 3: the message size m (bytes) from which the ring allreduce is no slower
    than recursive doubling, for p = 8 on FDR InfiniBand (within 5%)."""
    v = number(nbytes)
    if v is None or v <= 0:
        return verdict(False, "answer with a positive number of bytes")
    net = networks.preset(network)
    want = crossover(p, net) * 8
    if _close(v, want, 0.05):
        return verdict(
            True,
            f"about {want:,} bytes ({want // 8:,} float64): below it latency "
            "(log2 p messages) wins, above it bandwidth",
        )
    if _close(v * 8, want, 0.05):
        return verdict(False, "that looks like a count of float64 elements: answer in bytes")
    N = max(1, int(v) // 8)
    ring = costs.allreduce_ring(p, N, 8, net)
    rd = costs.allreduce_recursive_doubling(p, N, 8, net)
    if ring > rd:
        return verdict(
            False,
            "at that size recursive doubling is still the faster: the crossover is larger",
        )
    return verdict(
        False,
        "the ring already wins at that size, but it wins at smaller sizes too: look for "
        "the smallest size from which it is no slower",
    )
