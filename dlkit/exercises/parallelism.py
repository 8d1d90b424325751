"""Checks for the exercises of the chapter *Parallelism: data, model and hybrid*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint, never
the expected value) and returns True or False; it never raises, whatever it is given.

The chapter's notation: p workers, a message of m bytes costs T(m) = α + mβ, a
square fully connected layer has width s (s inputs, s outputs), B examples per
batch. The argument ``K`` of the functions below is p.
"""

from __future__ import annotations

import math

from dlkit.cluster import costs, networks
from dlkit.exercises import cannot_check, never_raises, number, verdict, whole
from dlkit.models import alexnet
from dlkit.parallel import hybrid


def pool5_allgather_time(K: int = 4, batch: int = 128) -> float:
    """Seconds of a ring allgather of each worker's pool5 activations (float32) over
    the book's intra-socket link, for p = `K` workers: (p - 1)(α + mβ), with m the
    bytes of one worker's block of `batch` images."""
    spec = alexnet(grouped=False)
    m = batch * math.prod(spec.fc_layers()[0].in_shape) * 4
    net = hybrid.NETWORK  # the intra-socket links of the book's server
    uniform = networks.Network(net.alpha, net.beta, net.gamma)
    return costs.allgather_ring(K, m // 4, 4, uniform)


def _workers(K) -> int | None:
    """p = `K` as an int when it is a whole number of at least 2 workers, else None."""
    p = whole(K)
    return p if p is not None and 2 <= p <= 4096 else None


@never_raises
def check_allgather_time(seconds, K: int = 4) -> bool:
    """Exercise 1: seconds for p = 4 workers to allgather their 128 images' pool5
    activations (256x6x6 float32 each) over the book's intra-socket PCIe link."""
    p = _workers(K)
    if p is None:
        return cannot_check(f"K is the number of workers, a whole number >= 2; got {K!r}")
    v = number(seconds)
    if v is None:
        return verdict(False, f"answer with a number of seconds, got {seconds!r}")
    want = pool5_allgather_time(p)
    if abs(v - want) <= 0.01 * want:
        return verdict(
            True,
            f"{want * 1e3:.3f} ms: {p - 1} ring steps of α + mβ with m = "
            f"{128 * 9216 * 4:,} bytes, one worker's block.",
        )
    return verdict(
        False,
        "that is not the time (to 1%). Count the steps of a ring allgather of p "
        "blocks, and price each as one message, α + mβ, with m the bytes of one "
        "worker's block; answer in seconds.",
    )


def break_even_width(K: int = 4, B: int = 128, network: str = "10gbe") -> float:
    """The width s of a square s x s fc layer at which its model-parallel forward
    compute, 2 B s² / (p R), equals its output allgather, (p - 1)(α + 4 B s β / p),
    for p = `K` workers and float32 outputs.

    R is the book's K20 rate (:data:`dlkit.parallel.hybrid.DEVICE`)."""
    net = networks.preset(network)
    R = hybrid.DEVICE.flops
    p = K
    a = 2 * B / (p * R)  # a s² = c s + d
    c = (p - 1) * 4 * B * net.beta / p
    d = (p - 1) * net.alpha
    return (c + math.sqrt(c * c + 4 * a * d)) / (2 * a)


@never_raises
def check_break_even_width(n, K: int = 4, network: str = "10gbe") -> bool:
    """Exercise 2: the width s of a square fc layer (s inputs, s outputs) at which,
    with p = 4 workers, batch 128, the book's K20 and 10 GbE, forward compute per
    worker equals the allgather of the layer's outputs. `n` is the reader's s."""
    p = _workers(K)
    if p is None:
        return cannot_check(f"K is the number of workers, a whole number >= 2; got {K!r}")
    try:
        networks.preset(network)
    except Exception as exc:  # noqa: BLE001 - any unknown link is a question without answer
        return cannot_check(f"network must name a link preset such as '10gbe': {exc}")
    v = number(n)
    if v is None or v <= 0:
        return verdict(False, f"answer with a positive width, got {n!r}")
    want = break_even_width(p, 128, network)
    if abs(v - want) <= 0.02 * want:
        return verdict(
            True,
            f"s ≈ {want:,.0f}: wider layers are compute-bound "
            "(compute grows as s², communication as s).",
        )
    return verdict(
        False,
        "that is not the break-even width (to 2%). Solve 2Bs²/(pR) = (p - 1)(α + 4Bsβ/p) "
        "for s: a quadratic in s with one positive root.",
    )
