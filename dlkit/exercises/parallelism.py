"""Checks for the exercises of the chapter *Parallelism: data, model and hybrid*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given.
"""

from __future__ import annotations

import math

from dlkit.cluster import costs, networks
from dlkit.exercises import never_raises, number, verdict
from dlkit.models import alexnet
from dlkit.parallel import hybrid


def pool5_allgather_time(K: int = 4, batch: int = 128) -> float:
    """Ring allgather of each worker's pool5 activations (float32) on the book's
    intra-socket link: (K - 1)(α + nβ)."""
    spec = alexnet(grouped=False)
    n = batch * math.prod(spec.fc_layers()[0].in_shape) * 4
    net = hybrid.NETWORK  # the intra-socket links of the book's server
    uniform = networks.Network(net.alpha, net.beta, net.gamma)
    return costs.allgather_ring(K, n // 4, 4, uniform)


@never_raises
def check_allgather_time(seconds, K: int = 4) -> bool:
    """Exercise 1: seconds for K = 4 workers to allgather their 128 images' pool5
    activations (256x6x6 float32 each) over the book's intra-socket PCIe link."""
    v = number(seconds)
    if v is None:
        return verdict(False, f"answer with a number of seconds, got {seconds!r}")
    want = pool5_allgather_time(K)
    if abs(v - want) <= 0.01 * want:
        return verdict(
            True,
            f"{want * 1e3:.3f} ms: {K - 1} ring steps of α + nβ with n = {128 * 9216 * 4:,} bytes",
        )
    if K > 1 and abs(v - want / (K - 1)) <= 0.01 * want / (K - 1):
        return verdict(
            False, f"{v:.6g} s is one step of the ring; a ring allgather takes K - 1 of them"
        )
    return verdict(
        False,
        f"{v:.6g} s is not it; a ring allgather takes K - 1 steps, each "
        "α + nβ with n the bytes of one worker's block",
    )


def break_even_width(K: int = 4, B: int = 128, network: str = "10gbe") -> float:
    """The width n of a square n x n fc layer at which its model-parallel forward
    compute, 2 B n² / (K R), equals its output allgather, (K - 1)(α + 4 B n β / K).

    R is the book's K20 rate (:data:`dlkit.parallel.hybrid.DEVICE`)."""
    net = networks.preset(network)
    R = hybrid.DEVICE.flops
    a = 2 * B / (K * R)  # a n² = c n + d
    c = (K - 1) * 4 * B * net.beta / K
    d = (K - 1) * net.alpha
    return (c + math.sqrt(c * c + 4 * a * d)) / (2 * a)


@never_raises
def check_break_even_width(n, K: int = 4, network: str = "10gbe") -> bool:
    """Exercise 2: the width n of a square fc layer (n inputs, n outputs) at which,
    with K = 4 workers, batch 128, the book's K20 and 10 GbE, forward compute per
    worker equals the allgather of the layer's outputs."""
    v = number(n)
    if v is None or v <= 0:
        return verdict(False, f"answer with a positive width, got {n!r}")
    want = break_even_width(K, 128, network)
    if abs(v - want) <= 0.02 * want:
        return verdict(
            True,
            f"n ≈ {want:,.0f}: wider layers are compute-bound "
            "(compute grows as n², communication as n)",
        )
    return verdict(
        False,
        f"{v:,.0f} is not within 2% of the break-even width; solve "
        "2Bn²/(KR) = (K-1)(α + 4Bnβ/K) for n",
    )
