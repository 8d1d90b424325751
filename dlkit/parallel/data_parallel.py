"""Synchronous data-parallel SGD.

Chapter 14's algorithm, for p workers (ranks r = 0, ..., p-1) and a global
mini-batch of B examples:

1. *sample*: every rank draws the same global batch ℬ_t of B example indices (same
   seed) and takes its shard ℬ_t^r, B/p consecutive examples of it;
2. *loss*: rank r computes the gradient of its shard's mean loss,
   ∇_r = (p/B) Σ_{n∈ℬ_t^r} ∇ℓ_n(θ);
3. *synchronise*: one allreduce sums the ∇_r; dividing by p gives
   ∇ = (1/p) Σ_r ∇_r = (1/B) Σ_{n∈ℬ_t} ∇ℓ_n(θ), the gradient of the global batch;
4. *update*: every rank applies θ ← θ − η∇.

All ranks start from the same θ (rank 0's, broadcast) and apply the same update, so
their weights stay identical, and equal to those of single-process SGD on the same
global batches (:func:`sgd_reference`) up to the rounding of the sum's order.
"""

from __future__ import annotations

from typing import Callable, Iterator, Sequence

import numpy as np

from dlkit import rng as _rng
from dlkit.determinism import tree_sum
from dlkit.nn.core import Layer, Param
from dlkit.optim import SGD
from dlkit.parallel._mpi import charge, mpi_for

__all__ = [
    "global_batches",
    "shard",
    "broadcast_parameters",
    "allreduce_gradients",
    "data_parallel_sgd",
    "sgd_reference",
    "step_flops",
]


def global_batches(n: int, batch_size: int, steps: int, *, seed=0) -> Iterator[np.ndarray]:
    """Yield `steps` index arrays of B = `batch_size` examples out of N = `n`.

    Epochs are seeded random permutations; a batch never straddles two epochs. Every
    rank calls this with the same seed, so every rank knows the whole global batch.
    """
    if not 1 <= batch_size <= n:
        raise ValueError(
            f"batch_size must lie in [1, {n}] (the number of examples), got {batch_size}"
        )
    g = _rng(seed)
    order, pos = g.permutation(n), 0
    for _ in range(steps):
        if pos + batch_size > n:
            order, pos = g.permutation(n), 0
        yield order[pos : pos + batch_size]
        pos += batch_size


def shard(idx: np.ndarray, rank: int, size: int) -> np.ndarray:
    """Rank r = `rank`'s shard ℬ_t^r: its consecutive B/p of the global batch `idx`
    (p = `size`)."""
    if len(idx) % size:
        raise ValueError(
            f"a global batch of {len(idx)} examples does not split evenly over {size} ranks; "
            f"use a batch size that is a multiple of {size}"
        )
    m = len(idx) // size
    return idx[rank * m : (rank + 1) * m]


def broadcast_parameters(comm, params: Sequence[Param], root: int = 0) -> None:
    """Copy rank `root`'s weights to every rank (Bcast), so all ranks start equal."""
    for p in params:
        comm.Bcast(p.data, root=root)


def allreduce_gradients(
    comm, params: Sequence[Param], extra: float | None = None, *, deterministic: bool = False
) -> float | None:
    """Average every parameter's gradient over the p ranks: ∇ ← (1/p) Σ_r ∇_r.

    All gradients travel in one flat buffer, so the whole synchronisation is a single
    Allreduce (one latency α instead of one per parameter). A scalar `extra` (the
    shard's loss) rides along in the last slot; its average is returned.

    The Allreduce adds the ranks' buffers in an order that its algorithm picks (a ring
    adds each chunk starting from another rank; MPI libraries choose the algorithm by
    message size), so the rounding can change with the algorithm or the library.
    ``deterministic=True`` gathers every rank's buffer instead (Allgather, in rank
    order) and adds them in a fixed pairwise tree (:func:`dlkit.determinism.tree_sum`):
    the same bits with any allreduce algorithm, network or MPI library, for a price of
    p buffers received per rank instead of about two.
    """
    MPI = mpi_for(comm)
    p = comm.Get_size()
    parts = [q.grad.ravel() for q in params]
    if extra is not None:
        parts.append(np.array([extra], dtype=parts[0].dtype))
    flat = np.concatenate(parts)
    if deterministic:
        rows = np.empty((p, flat.size), dtype=flat.dtype)
        comm.Allgather(flat, rows)  # row r: rank r's gradients
        flat = tree_sum(rows)  # ((∇_0 + ∇_1) + (∇_2 + ∇_3)) + ...
    else:
        comm.Allreduce(MPI.IN_PLACE, flat, op=MPI.SUM)
    flat /= p
    offset = 0
    for q in params:
        q.grad[...] = flat[offset : offset + q.size].reshape(q.shape)
        offset += q.size
    return float(flat[-1]) if extra is not None else None


def step_flops(params: Sequence[Param], n_examples: int) -> float:
    """Flops of one forward and backward pass of a fully connected net: 6 per weight
    per example (2 forward: multiply and add; 4 backward: dW and dX)."""
    return 6.0 * n_examples * sum(q.size for q in params)


def data_parallel_sgd(
    comm,
    model: Layer,
    loss_fn,
    X: np.ndarray,
    y: np.ndarray,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed=0,
    callback: Callable[[int, float], None] | None = None,
    deterministic: bool = False,
) -> list[float]:
    """Train `model` (this rank's replica) by synchronous data-parallel SGD.

    Parameters
    ----------
    comm : communicator (simulated or ``mpi4py.MPI.COMM_WORLD``) of p ranks.
    model : this rank's copy of the network; rank 0's weights are broadcast first.
    X, y : the whole training set (N, features) and labels (N,); every rank takes
        its shard of each global batch.
    steps, batch_size, lr : number of updates, global batch size B (a multiple of
        p: each rank takes B/p examples), learning rate η.
    seed : seeds the global batch order (the same on every rank).
    callback : called as ``callback(step, loss)`` on every rank after each update.
    deterministic : sum the gradients in a fixed order (see :func:`allreduce_gradients`).

    Returns
    -------
    The global batch's mean loss at every step (identical on all ranks).
    On a simulated cluster each step charges :func:`step_flops` of compute.
    """
    rank, p = comm.Get_rank(), comm.Get_size()
    params = model.parameters()
    broadcast_parameters(comm, params)
    opt = SGD(params, lr=lr)
    losses = []
    for t, idx in enumerate(global_batches(len(X), batch_size, steps, seed=seed)):
        mine = shard(idx, rank, p)  # 1. sample
        loss = loss_fn.forward(model.forward(X[mine]), y[mine])  # 2. loss
        model.backward(loss_fn.backward())
        charge(comm, step_flops(params, len(mine)), "fwd+bwd")
        loss = allreduce_gradients(
            comm, params, loss, deterministic=deterministic
        )  # 3. synchronise
        opt.step()  # 4. update
        losses.append(loss)
        if callback is not None:
            callback(t, loss)
    return losses


def sgd_reference(
    model: Layer,
    loss_fn,
    X: np.ndarray,
    y: np.ndarray,
    *,
    steps: int,
    batch_size: int,
    lr: float,
    seed=0,
) -> list[float]:
    """Single-process SGD on the same global batches as :func:`data_parallel_sgd`."""
    opt = SGD(model.parameters(), lr=lr)
    losses = []
    for idx in global_batches(len(X), batch_size, steps, seed=seed):
        losses.append(loss_fn.forward(model.forward(X[idx]), y[idx]))
        model.backward(loss_fn.backward())
        opt.step()
    return losses
