"""Downpour SGD (Dean et al. 2012): model replicas on data shards, a sharded server.

Dean et al. train one model with many *replicas*. The training data are cut into p
shards, one per replica; each replica runs SGD on its own shard and talks only to the
*parameter server*, itself cut into S shards held by different machines, each holding
its piece of θ. A replica

* fetches θ every ``n_fetch`` steps (between fetches it trains on its own copy),
* pushes the gradients it accumulated every ``n_push`` steps,

and never waits for another replica, so a slow or dead replica slows no one down. The
price is *staleness*: a gradient computed on θ fetched at version v_f is applied at a
later version v_a; τ = v_a − v_f counts the updates it missed. The paper applies
AdaGrad on the server, per coordinate (G ← G + ∇², θ ← θ − η∇/(√G + ε)), which made
Downpour robust to those stale gradients and is the default here.

This module runs Downpour on :mod:`dlkit.parallel.param_server` (the server in MPI
one-sided windows): :func:`downpour` is the program each rank runs; :func:`simulate`
runs it on a :class:`~dlkit.cluster.SimCluster` of S + p ranks and summarises the run
(final θ, the histogram of τ, simulated time, bytes moved).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable, Sequence

import numpy as np

from dlkit.parallel.param_server import AsyncResult, async_sgd, merge

__all__ = ["downpour", "split", "simulate", "DownpourRun", "staleness_summary"]


def downpour(
    comm,
    grad_fn: Callable[[np.ndarray, Any, int], np.ndarray],
    theta0: np.ndarray,
    data_shards: Sequence[Any],
    *,
    lr: float,
    n_servers: int = 1,
    n_fetch: int = 1,
    n_push: int = 1,
    adagrad: bool = True,
    **kwargs,
) -> AsyncResult:
    """Downpour SGD: :func:`~dlkit.parallel.param_server.async_sgd` with the paper's
    defaults (AdaGrad on the server; ``adagrad=False`` for plain SGD). ``comm`` has
    S = ``n_servers`` server ranks and p = size − S replicas, one per data shard; the
    other keywords (``steps``, ``until``, ``batch_size``, ``step_flops``, ...) are
    async_sgd's."""
    return async_sgd(
        comm,
        grad_fn,
        theta0,
        data_shards,
        lr=lr,
        n_servers=n_servers,
        n_fetch=n_fetch,
        n_push=n_push,
        optimizer="adagrad" if adagrad else "sgd",
        **kwargs,
    )


def split(data: Any, p: int) -> list:
    """Cut ``data`` (an array, or a tuple of arrays with the same rows) into p equal,
    contiguous shards (the first N mod p one row longer)."""
    n = len(data[0]) if isinstance(data, tuple) else len(data)
    if not 1 <= p <= n:
        raise ValueError(f"split(p={p}): p must lie in [1, {n}] (the number of examples)")
    edges = np.linspace(0, n, p + 1).round().astype(int)
    cut = [slice(a, b) for a, b in zip(edges[:-1], edges[1:])]
    if isinstance(data, tuple):
        return [tuple(a[s] for a in data) for s in cut]
    return [data[s] for s in cut]


@dataclass
class DownpourRun:
    """A simulated Downpour run: the final θ, every applied gradient's staleness τ and
    its histogram (``hist[τ]``), the simulated time T (s), the bytes the network
    carried, the workers presumed crashed, and the simulator's RunResult."""

    theta: np.ndarray
    staleness: np.ndarray
    hist: np.ndarray
    time: float
    bytes: int
    presumed_crashed: list
    steps: dict
    result: Any


def simulate(
    p: int,
    grad_fn,
    theta0: np.ndarray,
    data: Any,
    *,
    n_servers: int = 1,
    network: Any = None,
    compute: Any = None,
    faults: Any = None,
    progress: str = "async",
    timeout: float | None = 60.0,
    **kwargs,
) -> DownpourRun:
    """Run :func:`downpour` with p replicas on ``split(data, p)`` and S = ``n_servers``
    servers, on a SimCluster of S + p ranks (ranks 0..S−1 are the servers, so a fault
    on replica w is ``Faults(...={S + w: ...})``)."""
    from dlkit.cluster import SimCluster

    cluster = SimCluster(
        n_servers + p, network=network, compute=compute, faults=faults, progress=progress
    )
    res = cluster.run(
        downpour,
        grad_fn,
        theta0,
        split(data, p),
        n_servers=n_servers,
        timeout=timeout,
        **kwargs,
    )
    m = merge(res.values)
    return DownpourRun(
        theta=m["theta"],
        staleness=m["staleness"],
        hist=m["hist"],
        time=res.time,
        bytes=sum(t.bytes for t in res.messages),
        presumed_crashed=m["presumed_crashed"],
        steps=m["steps"],
        result=res,
    )


def staleness_summary(staleness: np.ndarray) -> dict:
    """Mean, median, 90th percentile and maximum of the staleness τ (ints but the mean)."""
    s = np.asarray(staleness)
    if s.size == 0:
        raise ValueError("staleness_summary: no applied gradients (an empty array)")
    return {
        "mean": float(s.mean()),
        "median": int(np.median(s)),
        "p90": int(np.percentile(s, 90, method="higher")),
        "max": int(s.max()),
    }
