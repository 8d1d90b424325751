"""A locally connected layer on (N, C, H, W) images, computed as small dense GEMMs
(chapter 16).

A locally connected layer is a convolution whose weights are *untied*: the unit of map
f at output position (i, j) has its own filter W[i, j, f] (C × k × k), which it applies
to the k × k window of the input that starts at (i · stride, j · stride):

    z[n, f, i, j] = Σ_{c, u, v} W[i, j, f, c, u, v] · x[n, c, i·stride + u, j·stride + v]
                    + b[i, j, f].

The F units at one position share their window, so they form a **block of neurons
sharing connectivity**: their outputs for a batch are one small dense product, the
(N × C·k·k) window matrix of that position times the (C·k·k × F) filters of that
position. The layer is Ho · Wo such GEMMs, batched by ``numpy.matmul`` (each its own
BLAS call); this is the trick Coates et al. (2013) used on their GPUs ("leverage
optimised BLAS for small dense multiplies"). Written as one matrix, the layer would be
a sparse (F·Ho·Wo × C·H·W) matrix with C·k·k non-zeros per row, which a general
sparse product handles less well (``python -m dlkit.bench --only localconn``).

- :func:`output_size`, :func:`windows`, :func:`add_windows`: the geometry, and the
  window matrices of every position with their adjoint (scatter-add);
- :class:`LocallyConnected2d`: the layer (forward, backward, the dlkit layer
  convention);
- :func:`dense_matrix`: the same layer as one (masked) dense matrix, the form of
  :mod:`dlkit.largescale.network`.
"""

from __future__ import annotations

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from dlkit import rng as _rng
from dlkit.checks import check_int
from dlkit.nn.core import Layer, Param, check_array

__all__ = [
    "output_size",
    "windows",
    "add_windows",
    "block_forward",
    "block_backward",
    "LocallyConnected2d",
    "dense_matrix",
]


def output_size(size: int, window: int, stride: int) -> int:
    """The number of window positions along an axis of `size` pixels:
    (size − window) // stride + 1 (no padding)."""
    size = check_int(size, "size", "output_size")
    window = check_int(window, "window", "output_size")
    stride = check_int(stride, "stride", "output_size")
    if window > size:
        raise ValueError(
            f"output_size: window={window} is larger than the input ({size} pixels); "
            "use a smaller window or a larger input"
        )
    return (size - window) // stride + 1


def windows(x: np.ndarray, window: int, stride: int) -> np.ndarray:
    """The window matrix of every output position: (Ho·Wo, N, C·k·k), contiguous.

    Block p = i·Wo + j holds, one row per example, the C × k × k pixels that the
    units at position (i, j) see."""
    N, C, H, W = x.shape
    Ho, Wo = (H - window) // stride + 1, (W - window) // stride + 1
    v = sliding_window_view(x, (window, window), axis=(2, 3))[:, :, ::stride, ::stride]
    v = v[:, :, :Ho, :Wo]  # (N, C, Ho, Wo, k, k)
    return np.ascontiguousarray(v.transpose(2, 3, 0, 1, 4, 5)).reshape(Ho * Wo, N, -1)


def add_windows(dX: np.ndarray, shape: tuple, window: int, stride: int) -> np.ndarray:
    """The adjoint of :func:`windows`: add each block's rows back onto the pixels they
    came from. `dX` (Ho·Wo, N, C·k·k), `shape` the input's (N, C, H, W)."""
    N, C, H, W = shape
    Ho, Wo = (H - window) // stride + 1, (W - window) // stride + 1
    d = dX.reshape(Ho, Wo, N, C, window, window)
    dx = np.zeros(shape, dtype=dX.dtype)
    for u in range(window):  # one strided slice per offset (u, v) inside the window
        for v in range(window):
            rows = slice(u, u + stride * (Ho - 1) + 1, stride)
            cols = slice(v, v + stride * (Wo - 1) + 1, stride)
            dx[:, :, rows, cols] += d[:, :, :, :, u, v].transpose(2, 3, 0, 1)
    return dx


class LocallyConnected2d(Layer):
    """A locally connected layer: F maps of untied k × k filters on C-channel images.

    Parameters
    ----------
    in_channels, size : C and the input's height H (an int) or (H, W).
    maps : F, the units per output position (a block sharing one window).
    window, stride : k and the step between neighbouring windows (no padding).
    seed, dtype : N(0, 1/(C·k·k)) weights from ``dlkit.rng(seed)``, zero biases.

    Shapes: forward ``(N, C, H, W) -> (N, F, Ho, Wo)``; ``W`` is
    ``(Ho, Wo, F, C, k, k)`` (the filters of every position) and ``b`` ``(Ho, Wo, F)``.
    """

    def __init__(
        self,
        in_channels: int,
        size,
        maps: int,
        window: int,
        stride: int = 1,
        *,
        seed=0,
        dtype=np.float64,
    ):
        H, W = (size, size) if np.isscalar(size) else size
        self.C = check_int(in_channels, "in_channels", "LocallyConnected2d")
        self.F = check_int(maps, "maps", "LocallyConnected2d")
        self.k = check_int(window, "window", "LocallyConnected2d")
        self.s = check_int(stride, "stride", "LocallyConnected2d")
        self.H, self.Wd = int(H), int(W)
        self.Ho, self.Wo = output_size(H, self.k, self.s), output_size(W, self.k, self.s)
        self.dtype = np.dtype(dtype)
        K = self.C * self.k * self.k
        w = _rng(seed).standard_normal((self.Ho, self.Wo, self.F, self.C, self.k, self.k))
        self.W = Param((w / np.sqrt(K)).astype(self.dtype), "W")
        self.b = Param(np.zeros((self.Ho, self.Wo, self.F), dtype=self.dtype), "b")
        self._x = None

    def _check_input(self, x) -> np.ndarray:
        x = check_array(x, repr(self), ndim=4, dtype=self.dtype)
        if x.shape[1:] != (self.C, self.H, self.Wd):
            raise ValueError(
                f"{self!r} got input of shape {x.shape}; it needs (N, {self.C}, {self.H}, "
                f"{self.Wd})"
            )
        return x

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = self._check_input(x)
        self._x = x
        return block_forward(x, self.W.data, self.b.data, self.k, self.s)

    def _output_shape(self):
        return None if self._x is None else (len(self._x), self.F, self.Ho, self.Wo)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._check_dout(dout)
        dW, db, dx = block_backward(self._x, self.W.data, dout, self.k, self.s)
        self.W.grad[...] = dW
        self.b.grad[...] = db
        return dx

    @property
    def flops(self) -> int:
        """Multiply-adds × 2 of one example's forward pass: 2 · Ho · Wo · F · C · k²."""
        return 2 * self.W.size

    def __repr__(self) -> str:
        return (
            f"LocallyConnected2d({self.C}, ({self.H}, {self.Wd}), maps={self.F}, "
            f"window={self.k}, stride={self.s})"
        )


def block_forward(x, W, b, window: int, stride: int) -> np.ndarray:
    """z (N, F, Ho, Wo) from x (N, C, H, W), filters W (Ho, Wo, F, C, k, k) and biases
    b (Ho, Wo, F): one dense GEMM per output position."""
    Ho, Wo, F = W.shape[:3]
    X = windows(x, window, stride)  # (Ho·Wo, N, C·k·k): the window of each block
    Wb = W.reshape(Ho * Wo, F, -1)  # (Ho·Wo, F, C·k·k): the filters of each block
    Z = X @ Wb.transpose(0, 2, 1)  # (Ho·Wo, N, F): Ho·Wo small GEMMs
    return Z.reshape(Ho, Wo, len(x), F).transpose(2, 3, 0, 1) + b.transpose(2, 0, 1)


def block_backward(x, W, dz, window: int, stride: int):
    """(∂/∂W, ∂/∂b, ∂/∂x) of a function of z = block_forward(x, W, b), given dz = ∂/∂z
    (N, F, Ho, Wo): per block, ∂/∂W = δᵀ X and ∂/∂X = δ W, then the windows are added
    back onto the input."""
    Ho, Wo, F = W.shape[:3]
    X = windows(x, window, stride)
    Wb = W.reshape(Ho * Wo, F, -1)
    delta = np.ascontiguousarray(dz.transpose(2, 3, 0, 1)).reshape(Ho * Wo, len(x), F)
    dW = (delta.transpose(0, 2, 1) @ X).reshape(W.shape)  # δᵀ X per block
    db = dz.sum(axis=0).transpose(1, 2, 0)
    dx = add_windows(delta @ Wb, x.shape, window, stride)  # δ W per block, added back
    return dW, db, dx


def dense_matrix(layer: LocallyConnected2d) -> np.ndarray:
    """The layer as one matrix M (F·Ho·Wo × C·H·W), z = M x for one flattened example
    (z in (F, Ho, Wo) order): zero outside each unit's window. It is what
    :mod:`dlkit.largescale.network` stores as ``W * mask``; ``M != 0`` is its mask."""
    L = layer
    M = np.zeros((L.F, L.Ho, L.Wo, L.C, L.H, L.Wd), dtype=L.dtype)
    for i in range(L.Ho):
        for j in range(L.Wo):
            r, c = i * L.s, j * L.s
            M[:, i, j, :, r : r + L.k, c : c + L.k] = L.W.data[i, j]
    return M.reshape(L.F * L.Ho * L.Wo, -1)
