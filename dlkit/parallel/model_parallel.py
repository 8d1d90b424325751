"""Model parallelism: one Linear layer's neurons split across ranks.

With p ranks, rank r owns m = s_out/p of the layer's output neurons: rows
W_r = W[r m:(r+1) m] of the weight matrix and the matching biases b_r. Every rank
holds the whole mini-batch X (N, s_in). Forward:

    Z_r = X W_r^T + b_r             (N, m), on rank r
    Z   = [Z_0 Z_1 ... Z_{p-1}]     (N, s_out), by an allgather

so every rank has the layer's full output, as the next layer needs. Backward, from
the full dL/dZ (every rank computes the same one downstream):

    dW_r = dZ_r^T X,  db_r = Σ_n dZ_r,   dX = Σ_r dZ_r W_r    (an allreduce)

Communication is O(N (s_in + s_out)) numbers per layer against O(N s_in s_out)
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
    in_features, out_features : s_in and s_out of the whole layer.
    seed, init, dtype : as for :class:`dlkit.nn.Linear`; every rank builds the same
        full weight matrix from the seed and keeps its rows, so the split layer
        equals ``Linear(in_features, out_features, seed=seed)``.

    Shapes: forward ``(N, s_in) -> (N, s_out)`` on every rank; ``W`` is
    ``(s_out/p, s_in)`` and ``b`` ``(s_out/p,)``.
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
        z_r = x @ self.W.data.T + self.b.data  # Z_r = X W_r^T + b_r
        charge(self.comm, 2.0 * n * self.W.size, "fc forward")
        parts = np.empty((p, n, self.m), dtype=self.dtype)
        self.comm.Allgather(np.ascontiguousarray(z_r), parts)  # every rank gets all Z_r
        return parts.transpose(1, 0, 2).reshape(n, self.out_features)

    def _output_shape(self):
        return None if self._x is None else (self._x.shape[0], self.out_features)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._check_dout(dout)
        MPI = mpi_for(self.comm)
        dz_r = np.ascontiguousarray(dout[:, self.rows])
        np.matmul(dz_r.T, self._x, out=self.W.grad)  # dW_r = dZ_r^T X
        np.sum(dz_r, axis=0, out=self.b.grad)  # db_r = Σ_n dZ_r
        dx = dz_r @ self.W.data  # this rank's part of dX
        charge(self.comm, 4.0 * len(dz_r) * self.W.size, "fc backward")
        self.comm.Allreduce(MPI.IN_PLACE, dx, op=MPI.SUM)  # dX = Σ_r dZ_r W_r
        return dx

    def __repr__(self) -> str:
        return (
            f"ModelParallelLinear({self.in_features}, {self.out_features}, "
            f"rows {self.rows.start}:{self.rows.stop})"
        )


def layer_costs(
    m: int, n: int, batch: int, K: int, device, network, itemsize: int = 4
) -> tuple[float, float]:
    """Forward seconds of ``ModelParallelLinear(m, n)`` on K workers: (compute, allgather).

    compute = 2·B·m·n / (K·R): each worker's share of the multiply-adds at rate R;
    allgather = (K - 1)(α + (B·n/K)·s·β): the ring allgather of the outputs.
    Compute grows as m·n, communication as n: wide layers are compute-bound.
    """
    from dlkit.cluster import costs

    compute = 2.0 * batch * m * n / K / device.flops
    comm = costs.allgather_ring(K, batch * n // K, itemsize, network) if K > 1 else 0.0
    return compute, comm
