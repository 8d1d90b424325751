"""Synchronous SGD, revisited: a hierarchical allreduce and gradient buckets that
overlap the allreduce with the backward pass.

Two refinements of chapter 14's one flat allreduce per step, for a cluster of nodes
of ``ranks_per_node`` ranks with fast links inside a node and slower ones between
nodes (:func:`dlkit.cluster.networks.two_level`):

* :func:`hierarchical_allreduce` - reduce inside each node to its leader (a binomial
  tree on the fast links), allreduce among the n = p / ranks_per_node leaders (a ring
  on the slow links, with n instead of p ranks), broadcast inside each node. Its time
  is :func:`hierarchical_time`:

      T = ⌈log₂ q⌉ (T_in(m) + mγ) + 2(n−1) T_out(m/n) + (n−1)(m/n)γ + ⌈log₂ q⌉ T_in(m)

  for q = ranks_per_node and T_in(m) = α_in + mβ_in, T_out(m) = α_out + mβ_out. A flat
  ring over all p ranks moves only 2m(p−1)/p bytes per rank, but every one of its
  2(p−1) steps waits for the slowest link it uses, an inter-node one.
* :func:`backward_allreduce` - the backward pass produces ∇ layer by layer from the
  top; as soon as the gradients of the last layers fill a *bucket* of
  ``bucket_bytes``, a non-blocking ``Iallreduce`` of the bucket starts and the
  backward pass goes on, so communication hides behind computation. PyTorch's
  DistributedDataParallel (25 MB buckets by default) and Horovod (tensor fusion) do
  this. ``bucket_bytes=None`` is the plain scheme: the whole backward pass, then one
  allreduce.

:func:`simulate` measures both against the flat versions on a two-level network.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from dlkit.cluster import compute
from dlkit.parallel._mpi import mpi_for

__all__ = [
    "node_comms",
    "hierarchical_allreduce",
    "hierarchical_time",
    "flat_ring_time",
    "backward_allreduce",
    "simulate",
]


def node_comms(comm, ranks_per_node: int):
    """This rank's node communicator and (on a node's leader, local rank 0) the
    leaders' communicator (None elsewhere): two collective ``Split`` calls, made once
    and passed to :func:`hierarchical_allreduce` as ``comms``."""
    MPI = mpi_for(comm)
    rank, p = comm.Get_rank(), comm.Get_size()
    if isinstance(ranks_per_node, bool) or not isinstance(ranks_per_node, (int, np.integer)):
        raise TypeError(f"ranks_per_node={ranks_per_node!r}: an int >= 1")
    if ranks_per_node < 1 or p % ranks_per_node:
        raise ValueError(
            f"ranks_per_node={ranks_per_node} does not divide the {p} ranks into whole "
            "nodes; use a divisor of the communicator's size"
        )
    node, local = divmod(rank, ranks_per_node)
    node_comm = comm.Split(node, local)
    leaders = comm.Split(0 if local == 0 else MPI.UNDEFINED, node)
    if leaders is not None and leaders == getattr(MPI, "COMM_NULL", None):
        leaders = None
    return node_comm, leaders


def hierarchical_allreduce(comm, x: np.ndarray, ranks_per_node: int, comms=None) -> np.ndarray:
    """Σ_r x_r on every rank, in three stages: Reduce inside each node to its leader,
    Allreduce among the leaders, Bcast inside each node. ``x`` is a float64 vector
    (not changed); returns the sum. The nodes are ``ranks_per_node`` consecutive
    ranks, as :func:`dlkit.cluster.networks.two_level` places them; ``comms`` is
    :func:`node_comms`'s result (made here if None)."""
    MPI = mpi_for(comm)
    node_comm, leaders = comms if comms is not None else node_comms(comm, ranks_per_node)
    total = np.empty_like(x)
    node_comm.Reduce(x, total, op=MPI.SUM, root=0)  # 1. inside the node
    if leaders is not None:
        leaders.Allreduce(MPI.IN_PLACE, total, op=MPI.SUM)  # 2. between nodes
    node_comm.Bcast(total, root=0)  # 3. inside the node
    return total


def _link(net) -> tuple[float, float]:
    return net.alpha, net.beta


def hierarchical_time(p: int, ranks_per_node: int, N: int, itemsize: int, network) -> float:
    """Closed-form time of :func:`hierarchical_allreduce` of N items on a
    :class:`~dlkit.cluster.networks.TwoLevel` network (module docstring; γ is the
    node's reduction cost, used at every stage)."""
    q, n = ranks_per_node, p // ranks_per_node
    a_in, b_in = _link(network)
    a_out, b_out = _link(network.inter)
    g, m = network.gamma, N * itemsize
    lg = math.ceil(math.log2(q)) if q > 1 else 0
    c = -(-N // n) * itemsize  # the ring's chunk
    ring = 2 * (n - 1) * (a_out + c * b_out) + (n - 1) * c * g if n > 1 else 0.0
    return lg * (a_in + m * b_in + m * g) + ring + lg * (a_in + m * b_in)


def flat_ring_time(p: int, N: int, itemsize: int, network) -> float:
    """The ring allreduce over all p ranks when each of its 2(p − 1) steps waits for
    its slowest link (an inter-node one as soon as there are two nodes)."""
    slow = network.inter if p > network.ranks_per_node else network
    c = -(-N // p) * itemsize
    return 2 * (p - 1) * (slow.alpha + c * slow.beta) + (p - 1) * c * network.gamma


def backward_allreduce(
    comm,
    grads: Sequence[np.ndarray],
    flops: Sequence[float],
    *,
    bucket_bytes: int | None = None,
) -> list[np.ndarray]:
    """The backward pass of one synchronous step, layer by layer from the top, with the
    gradient allreduce in buckets.

    Parameters
    ----------
    grads : ∇_r of each layer (bottom to top), this rank's; not changed.
    flops : the backward flops of each layer (charged on the simulator as the layer's
        gradient is produced, from the top layer down).
    bucket_bytes : start an ``Iallreduce`` whenever the finished layers' gradients
        reach this many bytes (and one for the rest at the end); None: one blocking
        Allreduce after the whole backward pass.

    Returns
    -------
    The averaged gradients ∇ = (1/p) Σ_r ∇_r, one array per layer.
    """
    MPI = mpi_for(comm)
    p = comm.Get_size()
    if len(grads) != len(flops):
        raise ValueError(
            f"backward_allreduce: {len(grads)} gradients but {len(flops)} flop counts; "
            "pass one of each per layer"
        )
    if bucket_bytes is not None and not (isinstance(bucket_bytes, int) and bucket_bytes > 0):
        raise ValueError(f"backward_allreduce(bucket_bytes={bucket_bytes!r}): bytes > 0, or None")
    out: list[np.ndarray | None] = [None] * len(grads)
    if bucket_bytes is None:
        for f in reversed(flops):
            compute(comm, f, label="backward")
        flat = np.concatenate([g.ravel() for g in grads])
        comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
        buckets = [(list(range(len(grads))), flat, None)]
    else:
        buckets, layers, size = [], [], 0
        for i in range(len(grads) - 1, -1, -1):  # from the top layer down
            compute(comm, flops[i], label="backward")
            layers.append(i)
            size += grads[i].nbytes
            if size >= bucket_bytes or i == 0:
                flat = np.concatenate([grads[j].ravel() for j in layers])
                buckets.append((layers, flat, comm.Iallreduce(MPI.IN_PLACE, flat, op=MPI.SUM)))
                layers, size = [], 0
        MPI.Request.Waitall([req for _, _, req in buckets])
    for layers, flat, _ in buckets:
        at = 0
        for j in layers:
            n = grads[j].size
            out[j] = (flat[at : at + n] / p).reshape(grads[j].shape)
            at += n
    return out


def simulate(
    p: int,
    ranks_per_node: int,
    layer_params: Sequence[int],
    *,
    network: Any,
    backward_flops: Sequence[float] | None = None,
    bucket_bytes: int = 1 << 20,
) -> dict:
    """Time one gradient synchronisation four ways on a SimCluster of p ranks:
    ``flat`` (comm.Allreduce, a ring over all ranks) and ``hierarchical`` allreduce of
    the P = Σ layer_params gradients; the backward pass then one allreduce
    (``no_overlap``) and with buckets (``buckets``). Returns the simulated seconds of
    each and the closed forms ``hierarchical_model`` and ``flat_model``."""
    from dlkit.cluster import SimCluster

    P = int(sum(layer_params))
    flops = list(backward_flops) if backward_flops is not None else [4.0 * n for n in layer_params]

    def timed(fn):
        def run(comm):
            comms = node_comms(comm, ranks_per_node)
            comm.Barrier()
            t0 = mpi_for(comm).Wtime()
            fn(comm, comms)
            return mpi_for(comm).Wtime() - t0

        return run

    def grads(comm):
        return [np.full(n, comm.Get_rank() + 1.0) for n in layer_params]

    def flat(comm, comms):
        x = np.ones(P)
        comm.Allreduce(mpi_for(comm).IN_PLACE, x, op=mpi_for(comm).SUM)

    def hier(comm, comms):
        hierarchical_allreduce(comm, np.ones(P), ranks_per_node, comms)

    def plain(comm, comms):
        backward_allreduce(comm, grads(comm), flops)

    def bucketed(comm, comms):
        backward_allreduce(comm, grads(comm), flops, bucket_bytes=bucket_bytes)

    cluster = SimCluster(p, network=network)
    out = {
        name: max(cluster.run(timed(fn)).values)
        for name, fn in (
            ("flat", flat),
            ("hierarchical", hier),
            ("no_overlap", plain),
            ("buckets", bucketed),
        )
    }
    out["hierarchical_model"] = hierarchical_time(p, ranks_per_node, P, 8, network)
    out["flat_model"] = flat_ring_time(p, P, 8, network)
    return out
