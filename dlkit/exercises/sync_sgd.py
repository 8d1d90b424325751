"""Checks for the exercises of the chapter *Synchronous SGD and allreduce*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given.
"""

from __future__ import annotations

import numpy as np

from dlkit.cluster import costs, networks
from dlkit.exercises import never_raises, number, verdict
from dlkit.parallel.allreduce import crossover


@never_raises
def check_ring_time(seconds, p: int = 16, N: int = 1_000_000, network: str = "10gbe") -> bool:
    """Exercise 1: ring allreduce of N = 10⁶ float64 on p = 16 ranks over 10 GbE."""
    v = number(seconds)
    if v is None:
        return verdict(False, f"answer with a number of seconds, got {seconds!r}")
    net = networks.preset(network)
    want = costs.allreduce_ring(p, N, 8, net)
    if abs(v - want) <= 1e-3 * want:
        return verdict(
            True, f"{want * 1e3:.4f} ms = 2(p-1)(α + mβ) + (p-1)mγ with m = {N * 8 // p:,} bytes"
        )
    no_gamma = want - (p - 1) * (-(-N // p) * 8) * net.gamma
    if abs(v - no_gamma) <= 1e-3 * want:
        return verdict(
            False,
            f"{v:.6g} s leaves out the reductions: add the (p-1)mγ of the reduce-scatter steps",
        )
    return verdict(
        False,
        f"{v:.6g} s is not it; count the 2(p-1) steps of the ring, each "
        "moving a chunk of N/p numbers, and the reductions of its "
        "reduce-scatter half",
    )


@never_raises
def check_shard_weights(weights, sizes=(22, 21, 21)) -> bool:
    """Exercise 2: the factors w_r by which rank r must multiply its shard-mean gradient
    before an allreduce-sum, for shards of sizes (22, 21, 21), so that the sum is the
    gradient of the global batch's mean loss."""
    try:
        w = np.asarray(weights, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return verdict(False, "answer with a list of three numbers")
    sizes = np.asarray(sizes, dtype=float)
    if w.shape != sizes.shape:
        return verdict(False, f"give one weight per rank ({len(sizes)}), got {w.size}")
    want = sizes / sizes.sum()
    if np.allclose(w, want, rtol=1e-6, atol=0):
        return verdict(True, "w_r = b_r / b: each shard counts in proportion to its size")
    if np.allclose(w, 1 / len(sizes)):
        return verdict(False, "1/p is right only when every shard has b/p examples")
    return verdict(
        False, f"{np.round(w, 6).tolist()} does not turn the shard means into the global mean"
    )


@never_raises
def check_crossover(nbytes, p: int = 8, network: str = "fdr_ib") -> bool:
    """Exercise 3: the message size (bytes) from which the ring allreduce is no slower
    than recursive doubling, for p = 8 on FDR InfiniBand."""
    v = number(nbytes)
    if v is None or v <= 0:
        return verdict(False, f"answer with a positive number of bytes, got {nbytes!r}")
    want = crossover(p, network) * 8
    if abs(v - want) <= 0.05 * want:
        return verdict(
            True,
            f"about {want:,} bytes ({want // 8:,} float64): below it "
            "latency (log p messages) wins, above it bandwidth",
        )
    return verdict(False, f"{v:,.0f} bytes is not within 5% of the crossover")
