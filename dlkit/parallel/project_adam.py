"""Project Adam (Chilimbi et al. 2014): what it changed in the parameter server,
measured on the simulator against plain Downpour, same model, same protocol.

A fully connected layer j with weights W⁽ʲ⁾ ∈ R^{s_j × s_{j−1}} has the gradient
(BP4) ∂𝓛/∂W⁽ʲ⁾ = δ⁽ʲ⁾ᵀ A⁽ʲ⁻¹⁾ over a mini-batch of B examples: a rank-B product of
the error terms δ⁽ʲ⁾ (B × s_j) and the activations A⁽ʲ⁻¹⁾ (B × s_{j−1}). Downpour ships
the s_j s_{j−1} numbers of the product; Project Adam ships the B (s_j + s_{j−1})
numbers of its factors and lets the parameter server multiply them (it has spare
cycles: its work is memory bound). For B small against the layer widths this is far
fewer bytes: a 784-1024-1024-10 network with B = 32 pushes about 12 times fewer numbers
(:func:`push_floats`). The biases need nothing more: the server forms
∂𝓛/∂b⁽ʲ⁾ = Σ_n δ⁽ʲ⁾_n (BP3) from δ.

Two more changes, both in how a message is built rather than in its size:

* **control apart from data** - each request is a small control message (what,
  who, which version: three int64, 24 bytes) followed by the data, so the server
  learns what is coming before the payload and can post the receive straight into
  its final place;
* **weight deltas instead of weights** - the server applies the update it computes,
  θ ← θ − η∇, as a delta to its copy (no worker ever writes whole weights), so pushes
  from different workers commute and none overwrites another's.

The experiment (:func:`simulate`): p workers train the same MLP (layer sizes
s_1, ..., s_L, θ in the layout of :func:`dlkit.unsupervised.steps.param_layout`) on a
two-sided protocol with one server rank. Every step a worker fetches θ (control, then
8P bytes back), computes the mini-batch's forward and backward pass, and pushes
either ∇θ (``scheme="downpour"``: 8P bytes) or the factors (``scheme="adam"``:
:func:`push_floats`). :func:`step_bytes` is the closed form of the bytes per step;
the simulated runs' message totals equal it exactly.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Sequence

import numpy as np
from scipy.special import expit

from dlkit.cluster import compute
from dlkit.parallel._mpi import mpi_for
from dlkit.unsupervised.steps import finetune_gradient, param_layout

__all__ = [
    "SCHEMES",
    "CONTROL_BYTES",
    "n_params",
    "push_floats",
    "step_bytes",
    "factors",
    "grad_from_factors",
    "project_adam",
    "simulate",
    "AdamRun",
]

SCHEMES = ("downpour", "adam")
_FETCH, _PUSH, _DONE = 0, 1, 2
CTRL, DATA = 21, 22
#: a control message: (kind, worker, version) as three int64
CONTROL_BYTES = 3 * 8


def _layout(sizes: Sequence[int]):
    """param_layout of an MLP with layer sizes s_1, ..., s_L (the last: K classes)."""
    return param_layout(list(sizes[:-1]), n_classes=sizes[-1])


def n_params(sizes: Sequence[int]) -> int:
    """P = Σ_j s_j (s_{j−1} + 1), the weights and biases of the MLP."""
    return sum(a * b + b for a, b in zip(sizes, sizes[1:]))


def push_floats(sizes: Sequence[int], B: int, scheme: str) -> int:
    """Numbers in one push: P for Downpour; Σ_j B (s_{j−1} + s_j) for Project Adam
    (A⁽ʲ⁻¹⁾ and δ⁽ʲ⁾ of each layer, the biases formed from δ)."""
    if scheme == "downpour":
        return n_params(sizes)
    if scheme == "adam":
        return sum(B * (a + b) for a, b in zip(sizes, sizes[1:]))
    raise ValueError(f"scheme={scheme!r}: choose one of {', '.join(SCHEMES)}")


def step_bytes(sizes: Sequence[int], B: int, scheme: str) -> int:
    """Bytes one worker step moves: the fetch (control + 8P back) and the push
    (control + 8 push_floats), float64."""
    return 2 * CONTROL_BYTES + 8 * n_params(sizes) + 8 * push_floats(sizes, B, scheme)


def factors(theta, X, y, sizes: Sequence[int]) -> list[tuple[np.ndarray, np.ndarray]]:
    """The worker's side of Project Adam: for each layer j = 2..L the pair
    (A⁽ʲ⁻¹⁾, δ⁽ʲ⁾) of the mini-batch (X, y), the same forward and backward pass as
    :func:`dlkit.unsupervised.steps.finetune_gradient` (sigmoid hidden layers,
    softmax output, mean cross-entropy)."""
    blocks = _views(theta, sizes)
    Ws, bs = blocks[0::2], blocks[1::2]
    N = X.shape[0]
    A = [X]
    for W, b in zip(Ws[:-1], bs[:-1]):
        A.append(expit(A[-1] @ W.T + b))  # A^(j) = σ(A^(j−1) W^(j)ᵀ + b^(j))
    Z = A[-1] @ Ws[-1].T + bs[-1]
    S = Z - Z.max(axis=1, keepdims=True)
    delta = np.exp(S - np.log(np.exp(S).sum(axis=1, keepdims=True)))
    delta[np.arange(N), y] -= 1
    delta /= N  # δ^(L) = (ŷ − onehot(y)) / N
    out = [None] * len(Ws)
    for i in range(len(Ws) - 1, -1, -1):
        out[i] = (A[i], delta)
        if i > 0:  # BP2
            delta = (delta @ Ws[i]) * A[i] * (1 - A[i])
    return out


def grad_from_factors(pairs, sizes: Sequence[int]) -> np.ndarray:
    """The server's side: ∇θ from the (A⁽ʲ⁻¹⁾, δ⁽ʲ⁾) pairs, ∂𝓛/∂W⁽ʲ⁾ = δ⁽ʲ⁾ᵀ A⁽ʲ⁻¹⁾
    (BP4) and ∂𝓛/∂b⁽ʲ⁾ = Σ_n δ⁽ʲ⁾_n (BP3)."""
    grad = np.empty(n_params(sizes))
    g = _views(grad, sizes)
    for i, (A, delta) in enumerate(pairs):
        np.matmul(delta.T, A, out=g[2 * i])
        np.sum(delta, axis=0, out=g[2 * i + 1])
    return grad


def _views(theta, sizes):
    out, at = [], 0
    for _, shape in _layout(sizes):
        n = int(np.prod(shape))
        out.append(theta[at : at + n].reshape(shape))
        at += n
    return out


def _pack(pairs) -> np.ndarray:
    return np.concatenate([np.concatenate([A.ravel(), d.ravel()]) for A, d in pairs])


def _unpack(buf, sizes, B):
    pairs, at = [], 0
    for a, b in zip(sizes, sizes[1:]):
        A = buf[at : at + B * a].reshape(B, a)
        at += B * a
        d = buf[at : at + B * b].reshape(B, b)
        at += B * b
        pairs.append((A, d))
    return pairs


def _flops(sizes, B) -> float:
    """Forward and backward pass of a batch: 6 flops per weight per example."""
    return 6.0 * B * sum(a * b for a, b in zip(sizes, sizes[1:]))


def project_adam(
    comm,
    theta0,
    shards,
    *,
    sizes: Sequence[int],
    scheme: str = "adam",
    lr: float = 0.1,
    steps: int = 10,
    batch_size: int = 32,
    seed: int = 0,
):
    """The measured protocol on ``comm``: rank 0 the server, ranks 1..p workers with
    ``shards[w] = (X, y)``. Returns the final θ on the server, and on a worker the
    list of its steps' (start, end) times."""
    MPI = mpi_for(comm)
    rank, p = comm.Get_rank(), comm.Get_size() - 1
    P = n_params(sizes)
    if scheme not in SCHEMES:
        raise ValueError(f"project_adam(scheme={scheme!r}): choose one of {', '.join(SCHEMES)}")
    ctrl = np.zeros(3, dtype=np.int64)
    if rank == 0:  # the server
        theta, version, done = np.array(theta0, dtype=np.float64), 0, 0
        n_push = push_floats(sizes, batch_size, scheme)
        buf = np.empty(n_push)
        st = MPI.Status()
        while done < p:
            comm.Recv(ctrl, source=MPI.ANY_SOURCE, tag=CTRL, status=st)
            src, kind = st.Get_source(), int(ctrl[0])
            if kind == _FETCH:
                comm.Send(theta, dest=src, tag=DATA)
            elif kind == _PUSH:
                comm.Recv(buf, source=src, tag=DATA)  # the control said what comes
                if scheme == "downpour":
                    grad = buf
                else:  # the server multiplies the factors itself
                    grad = grad_from_factors(_unpack(buf, sizes, batch_size), sizes)
                    compute(comm, _flops(sizes, batch_size) / 3, label="δᵀA")
                theta -= lr * grad  # a weight delta applied to the server's copy
                compute(comm, 2.0 * P, label="update")
                version += 1
            else:
                done += 1
        return theta
    w = rank - 1
    X, y = shards[w]
    g = np.random.default_rng(seed + w)
    theta, times = np.empty(P), []
    for t in range(steps):
        t0 = MPI.Wtime()
        ctrl[:] = (_FETCH, w, 0)
        comm.Send(ctrl, dest=0, tag=CTRL)
        comm.Recv(theta, source=0, tag=DATA)
        idx = g.choice(len(y), size=batch_size, replace=False)
        if scheme == "downpour":
            _, payload = finetune_gradient(
                theta, X[idx], y[idx], sizes=list(sizes[:-1]), n_classes=sizes[-1]
            )
            compute(comm, _flops(sizes, batch_size), label="fwd+bwd")
        else:
            payload = _pack(factors(theta, X[idx], y[idx], sizes))
            compute(comm, _flops(sizes, batch_size) * 2 / 3, label="fwd+δ")
        ctrl[:] = (_PUSH, w, t)
        comm.Send(ctrl, dest=0, tag=CTRL)
        comm.Send(payload, dest=0, tag=DATA)
        times.append((t0, MPI.Wtime()))
    ctrl[:] = (_DONE, w, 0)
    comm.Send(ctrl, dest=0, tag=CTRL)
    return times


@dataclass
class AdamRun:
    """A simulated run: the final θ, the bytes all messages carried, bytes and mean
    time per worker step, the makespan T and the simulator's RunResult."""

    theta: np.ndarray
    bytes: int
    bytes_per_step: float
    time_per_step: float
    time: float
    result: Any


def simulate(
    p: int,
    X,
    y,
    *,
    sizes: Sequence[int],
    scheme: str = "adam",
    steps: int = 10,
    batch_size: int = 32,
    lr: float = 0.1,
    network: Any = None,
    compute: Any = None,
    seed: int = 0,
    theta0=None,
) -> AdamRun:
    """Run :func:`project_adam` with p workers (data split in p shards) on a SimCluster
    of p + 1 ranks."""
    from dlkit.cluster import SimCluster

    if theta0 is None:
        theta0 = 0.05 * np.random.default_rng(seed).standard_normal(n_params(sizes))
    shards = [(X[r::p], y[r::p]) for r in range(p)]
    res = SimCluster(p + 1, network=network, compute=compute).run(
        project_adam,
        theta0,
        shards,
        sizes=sizes,
        scheme=scheme,
        lr=lr,
        steps=steps,
        batch_size=batch_size,
        seed=seed,
    )
    total = sum(t.bytes for t in res.messages)
    spans = [b - a for v in res.values[1:] for a, b in v]
    return AdamRun(
        theta=res.values[0],
        bytes=total,
        bytes_per_step=(total - p * CONTROL_BYTES) / (p * steps),
        time_per_step=float(np.mean(spans)),
        time=res.time,
        result=res,
    )
