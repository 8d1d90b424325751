"""Where a simulated hybrid-parallel step spends its time (chapter 13, *Parallelism*).

- :func:`step_breakdown` splits one rank's step of
  :func:`dlkit.parallel.hybrid.simulate_step` into conv compute, fc compute and
  communication; :mod:`dlkit.viz.parallel` draws it.
- :func:`fc_batch_gap` compares the paper's fc-batch-128 rows with their
  fc-batch-128p twins, in the paper and in the cost model, and says how much slower
  the small products would have to run to explain the difference;
- :func:`fc_product_rates` times, on the machine that runs it, one worker's forward
  product of an fc layer under the two fc-batch schemes of Krizhevsky (2014): one
  product of 128p rows, or p products of 128 rows (the same flops).
"""

from __future__ import annotations

import time
from dataclasses import dataclass

import numpy as np


def step_breakdown(result, rank: int = 0) -> dict[str, float]:
    """Seconds of one simulated hybrid step on `rank`: conv compute, fc compute, and
    communication (everything else up to the makespan, waiting included)."""
    conv = sum(
        e.end - e.start for e in result.events(rank, "compute") if e.label.startswith("conv")
    )
    fc = sum(e.end - e.start for e in result.events(rank, "compute") if e.label.startswith("fc"))
    return {
        "conv compute": conv,
        "fc compute": fc,
        "communication": max(0.0, result.time - conv - fc),
    }


@dataclass(frozen=True)
class FcBatchGap:
    """fc batch 128 against fc batch 128p on p GPUs: how much slower, and why.

    ``paper`` and ``model`` are the relative slowdowns T(128p, 128) / T(128p, 128p) - 1
    of the paper's Table 1 and of the cost model; ``fc_s`` is one worker's fc
    compute per step in the model; ``rate_needed`` is the fraction of its full rate
    at which that fc compute would have to run under fc batch 128 for the model to
    reproduce the paper's slowdown.
    """

    p: int
    paper: float
    model: float
    fc_s: float
    rate_needed: float


def fc_batch_gap(rows=None) -> list[FcBatchGap]:
    """For every p with both rows in the paper's table, the gap between fc batch 128
    and fc batch 128p (:class:`FcBatchGap`).

    The model charges every product at one rate, so its fc-batch-128 row is slower
    only by the latency of p times as many messages. If the small products ran at a
    fraction q of the rate instead, the step would take ``fc_s (1/q - 1)`` longer;
    ``rate_needed`` is the q that makes the model's slowdown the paper's.
    `rows` is :func:`dlkit.parallel.hybrid.alexnet_table`'s result (computed if None).
    A `rate_needed` above 1 means the model's row is already slower than the paper's.
    """
    from dlkit.parallel import hybrid

    rows = hybrid.alexnet_table() if rows is None else rows
    pairs: dict[int, dict[bool, object]] = {}
    for r in rows:
        pairs.setdefault(r.gpus, {})[r.fc_batch == r.conv_batch] = r
    gaps = []
    for p, pair in sorted(pairs.items()):
        if len(pair) < 2 or p == 1:
            continue
        full, small = pair[True], pair[False]
        if small.fc_s <= 0:
            raise ValueError(
                f"the fc-batch-128 row for p = {p} has no fc compute time (fc_s = "
                f"{small.fc_s}); pass the rows of dlkit.parallel.hybrid.alexnet_table()"
            )
        paper = small.paper.hours / full.paper.hours - 1
        model = small.step_s / full.step_s - 1
        extra = full.step_s * (1 + paper) - small.step_s  # what the model misses
        gaps.append(FcBatchGap(p, paper, model, small.fc_s, 1 / (1 + extra / small.fc_s)))
    return gaps


@dataclass(frozen=True)
class ProductRates:
    """Measured rates of one worker's fc forward product, fc batch 128p against 128.

    ``shape_all`` and ``shape_one`` are the (rows, s_{j-1}, s_j/p) of the products;
    ``rate_all`` is the rate (flop/s) of the one product of 128p rows, ``rate_one``
    that of the p products of 128 rows, both on the same ``flops``.
    """

    p: int
    layer: str
    shape_all: tuple[int, int, int]
    shape_one: tuple[int, int, int]
    flops: float
    rate_all: float
    rate_one: float

    @property
    def ratio(self) -> float:
        """rate_one / rate_all: below 1 where the small products run slower."""
        return self.rate_one / self.rate_all


def fc_product_rates(
    p: int, layer: str = "fc7", *, batch: int = 128, repeats: int = 3, seed: int = 0
) -> ProductRates:
    """Time one worker's forward product of an AlexNet fc `layer` on p workers.

    The worker owns s_j/p of the layer's s_j neurons, so its product is
    (rows x s_{j-1}) @ (s_{j-1} x s_j/p) in float32. With fc batch 128p it is one
    product of ``rows = p·batch``; with fc batch 128 it is p products of ``rows =
    batch`` (one per round). Both do 2·p·batch·s_{j-1}·s_j/p flops. Each variant is
    timed `repeats` times, interleaved, and the fastest run is kept.

    The result is a wall-clock measurement of this machine's BLAS, not of the K20s
    of the paper: it says whether *this* machine runs the smaller products slower.
    """
    from dlkit.models import alexnet

    fcs = {f.name: f for f in alexnet(grouped=False).fc_layers()}
    if layer not in fcs:
        raise ValueError(f"layer must be one of {sorted(fcs)}, got {layer!r}")
    if isinstance(p, bool) or not isinstance(p, (int, np.integer)) or p < 1:
        raise ValueError(f"p must be a positive number of workers, got {p!r}")
    if isinstance(repeats, bool) or not isinstance(repeats, (int, np.integer)) or repeats < 1:
        raise ValueError(f"repeats must be an int >= 1, got {repeats!r}")
    f = fcs[layer]
    s_in, s_out = int(np.prod(f.in_shape)), f.out_shape[0]
    if s_out % p:
        raise ValueError(f"{layer} has {s_out} neurons: not divisible by p = {p} workers")
    g = np.random.default_rng(seed)
    W = g.standard_normal((s_in, s_out // p), dtype=np.float32)  # this worker's W_rᵀ
    A = g.standard_normal((p * batch, s_in), dtype=np.float32)  # all B = 128p examples
    out = np.empty((p * batch, s_out // p), np.float32)

    def all_at_once() -> float:
        t0 = time.perf_counter()
        np.matmul(A, W, out=out)
        return time.perf_counter() - t0

    def one_round_each() -> float:
        t0 = time.perf_counter()
        for r in range(p):
            rows = slice(r * batch, (r + 1) * batch)
            np.matmul(A[rows], W, out=out[rows])
        return time.perf_counter() - t0

    t_all, t_one = [], []
    for _ in range(repeats):
        t_all.append(all_at_once())
        t_one.append(one_round_each())
    flops = 2.0 * p * batch * s_in * (s_out // p)
    return ProductRates(
        p,
        layer,
        (p * batch, s_in, s_out // p),
        (batch, s_in, s_out // p),
        flops,
        flops / min(t_all),
        flops / min(t_one),
    )
