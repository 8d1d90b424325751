"""Checks for the exercises of chapter 14 (synchronous SGD and allreduce).

Each check prints a verdict ("Correct: ..." or what is wrong) and returns True or
False; a wrong answer never raises.
"""

from __future__ import annotations

from dlkit.exercises import number, verdict


import numpy as np

from dlkit.cluster import costs, networks
from dlkit.parallel.allreduce import crossover


_verdict = verdict


_number = number


def check_ring_time(seconds, p: int = 16, N: int = 1_000_000, network: str = "10gbe") -> bool:
    """Exercise 1: ring allreduce of N = 10⁶ float64 on p = 16 ranks over 10 GbE."""
    v = _number(seconds)
    if v is None:
        return _verdict(False, f"answer with a number of seconds, got {seconds!r}")
    net = networks.preset(network)
    want = costs.allreduce_ring(p, N, 8, net)
    if abs(v - want) <= 1e-3 * want:
        return _verdict(True, f"{want * 1e3:.4f} ms = 2(p-1)(α + mβ) + (p-1)mγ with "
                              f"m = {N * 8 // p:,} bytes")
    no_gamma = want - (p - 1) * (-(-N // p) * 8) * net.gamma
    hint = " (add the (p-1)mγ of the reductions)" if abs(v - no_gamma) <= 1e-3 * want else ""
    return _verdict(False, f"{v:.6g} s is not {want:.6g} s{hint}")


def check_shard_weights(weights, sizes=(22, 21, 21)) -> bool:
    """Exercise 2: the factors w_r by which rank r must multiply its shard-mean gradient
    before an allreduce-sum, for shards of sizes (22, 21, 21), so that the sum is the
    gradient of the global batch's mean loss."""
    try:
        w = np.asarray(weights, dtype=float).reshape(-1)
    except (TypeError, ValueError):
        return _verdict(False, "answer with a list of three numbers")
    sizes = np.asarray(sizes, dtype=float)
    if w.shape != sizes.shape:
        return _verdict(False, f"give one weight per rank ({len(sizes)}), got {w.size}")
    want = sizes / sizes.sum()
    if np.allclose(w, want, rtol=1e-6, atol=0):
        return _verdict(True, "w_r = b_r / b: each shard counts in proportion to its size")
    if np.allclose(w, 1 / len(sizes)):
        return _verdict(False, "1/p is right only when every shard has b/p examples")
    return _verdict(False, f"{np.round(w, 6).tolist()} does not turn the shard means into "
                           "the global mean")


def check_crossover(nbytes, p: int = 8, network: str = "fdr_ib") -> bool:
    """Exercise 3: the message size (bytes) from which the ring allreduce is no slower
    than recursive doubling, for p = 8 on FDR InfiniBand."""
    v = _number(nbytes)
    if v is None or v <= 0:
        return _verdict(False, f"answer with a positive number of bytes, got {nbytes!r}")
    want = crossover(p, network) * 8
    if abs(v - want) <= 0.05 * want:
        return _verdict(True, f"about {want:,} bytes ({want // 8:,} float64): below it "
                              "latency (log p messages) wins, above it bandwidth")
    return _verdict(False, f"{v:,.0f} bytes is not within 5% of the crossover")
