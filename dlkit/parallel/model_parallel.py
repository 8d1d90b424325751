"""Model parallelism: one Linear layer's neurons split across ranks.

The book's notation (chapter 13): layer j has s_{j-1} inputs and s_j outputs, its
weights W are s_j x s_{j-1}; p workers (ranks r = 0, ..., p-1); a batch of N examples.
Rank r owns s_j/p of the layer's output neurons: the rows W_r of the weight matrix
and the matching biases b_r. Every rank holds the layer's whole input batch A (N,
s_{j-1}) (A = X for the first layer). Forward:

    Z_r = A W_rᵀ + b_r            (N, s_j/p), on rank r
    Z   = [Z_0 Z_1 ... Z_{p-1}]    (N, s_j), by an allgather

so every rank has the layer's full output, as the next layer needs. Backward, from
the layer's full error δ = ∂𝓛/∂Z (every rank computes the same one downstream),
rank r takes its columns δ_r:

    ∂𝓛/∂W_r = δ_rᵀ A,   ∂𝓛/∂b_r = Σ_n δ_r,   ∂𝓛/∂A = Σ_r δ_r W_r   (an allreduce)

Communication is O(N (s_{j-1} + s_j)) numbers per layer against O(N s_{j-1} s_j)
multiply-adds: for wide layers compute dominates, which is why model parallelism
suits the large fully connected layers.
"""

from __future__ import annotations

import numpy as np

from dlkit.nn.core import Layer, Param, check_array
from dlkit.nn.linear import Linear
from dlkit.parallel._mpi import charge, mpi_for

__all__ = ["ModelParallelLinear", "layer_costs"]


class ModelParallelLinear(Layer):
    """This rank's share of ``Linear(in_features, out_features)``.

    Parameters
    ----------
    comm : communicator of p ranks; ``out_features`` must be a multiple of p.
    in_features, out_features : the widths s_{j-1} (inputs) and s_j (outputs) of
        the whole layer.
    seed, init, dtype : as for :class:`dlkit.nn.Linear`; every rank builds the same
        full weight matrix from the seed and keeps its rows, so the split layer
        equals ``Linear(in_features, out_features, seed=seed)``.

    Shapes: forward ``(N, s_{j-1}) -> (N, s_j)`` on every rank; ``W`` (this rank's
    rows W_r) is ``(s_j/p, s_{j-1})`` and ``b`` ``(s_j/p,)``; ``m`` is s_j/p and
    ``rows`` the slice of the neurons this rank owns.
    """

    def __init__(
        self, comm, in_features: int, out_features: int, *, seed=0, init="xavier", dtype=np.float64
    ):
        p, r = comm.Get_size(), comm.Get_rank()
        if out_features % p:
            raise ValueError(
                f"ModelParallelLinear: {out_features} output neurons do not split evenly over "
                f"{p} ranks; use a multiple of {p}"
            )
        self.comm = comm
        self.in_features, self.out_features = int(in_features), int(out_features)
        self.m = out_features // p
        self.rows = slice(r * self.m, (r + 1) * self.m)
        full = Linear(in_features, out_features, seed=seed, init=init, dtype=dtype)
        self.W = Param(full.W.data[self.rows].copy(), "W")
        self.b = Param(full.b.data[self.rows].copy(), "b")
        self.dtype = full.dtype
        self._x = None

    @classmethod
    def from_linear(cls, comm, layer: Linear) -> "ModelParallelLinear":
        """Split an existing Linear layer's neurons across the ranks of `comm`."""
        obj = cls(comm, layer.in_features, layer.out_features, dtype=layer.dtype)
        obj.W.data[...] = layer.W.data[obj.rows]
        obj.b.data[...] = layer.b.data[obj.rows]
        return obj

    def parameters(self) -> list[Param]:
        return [self.W, self.b]

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_array(x, repr(self), ndim=2, dtype=self.dtype)
        if x.shape[1] != self.in_features:
            raise ValueError(
                f"{self!r} got input of shape {x.shape}; it needs (N, {self.in_features})"
            )
        self._x = x
        n, p = x.shape[0], self.comm.Get_size()
        z_r = x @ self.W.data.T + self.b.data  # Z_r = A W_rᵀ + b_r
        charge(self.comm, 2.0 * n * self.W.size, "fc forward")
        parts = np.empty((p, n, self.m), dtype=self.dtype)
        self.comm.Allgather(np.ascontiguousarray(z_r), parts)  # every rank gets every Z_r
        return parts.transpose(1, 0, 2).reshape(n, self.out_features)

    def _output_shape(self):
        return None if self._x is None else (self._x.shape[0], self.out_features)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._check_dout(dout)
        MPI = mpi_for(self.comm)
        dz_r = np.ascontiguousarray(dout[:, self.rows])  # δ_r: this rank's columns of δ
        np.matmul(dz_r.T, self._x, out=self.W.grad)  # ∂𝓛/∂W_r = δ_rᵀ A
        np.sum(dz_r, axis=0, out=self.b.grad)  # ∂𝓛/∂b_r = Σ_n δ_r
        dx = dz_r @ self.W.data  # this rank's term δ_r W_r of ∂𝓛/∂A
        charge(self.comm, 4.0 * len(dz_r) * self.W.size, "fc backward")
        self.comm.Allreduce(MPI.IN_PLACE, dx, op=MPI.SUM)  # ∂𝓛/∂A = Σ_r δ_r W_r
        return dx

    def __repr__(self) -> str:
        return (
            f"ModelParallelLinear({self.in_features}, {self.out_features}, "
            f"rows {self.rows.start}:{self.rows.stop})"
        )


def layer_costs(
    m: int, n: int, batch: int, K: int, device, network, itemsize: int = 4
) -> tuple[float, float]:
    """Forward seconds of ``ModelParallelLinear(m, n)`` on p workers: (compute, allgather).

    In the book's notation the layer has s_{j-1} = `m` inputs and s_j = `n` outputs,
    B = `batch` examples, p = `K` workers, a `device` of rate R flop/s, a `network`
    of latency α and inverse bandwidth β, and numbers of `itemsize` bytes:

    compute = 2·B·s_{j-1}·s_j / (p·R): each worker's share of the multiply-adds;
    allgather = (p - 1)(α + (B·s_j/p)·itemsize·β): the ring allgather of the outputs.

    Compute grows as s_{j-1}·s_j, communication as s_j: wide layers are compute-bound.
    """
    from dlkit.cluster import costs

    compute = 2.0 * batch * m * n / K / device.flops
    comm = costs.allgather_ring(K, batch * n // K, itemsize, network) if K > 1 else 0.0
    return compute, comm
