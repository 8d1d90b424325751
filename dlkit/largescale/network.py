"""A Le-style network: locally connected filters, L2 pooling, local contrast normalisation,
trained without labels by reconstruction ICA (chapter 16).

Le et al. (2012) stacked three copies of one sublayer triple: **locally connected
filters** (each unit sees a small window of the layer below, and, unlike a convolution,
every unit has its own weights: they are *untied*), **L2 pooling** (a pooling unit
outputs the square root of the sum of squares of a few neighbouring filter units, which
makes it insensitive to small changes of what they see) and **local contrast
normalisation** (each output minus the weighted mean of its neighbourhood, divided by
the neighbourhood's standard deviation). Each layer is trained, without labels, by
**reconstruction ICA** (RICA, Le et al. 2011): for a batch X (N × d) and the filters
W (s × d), one per row,

    J(W) = (λ/N) Σ_n Σ_i √(ε + (H (W x_n)²)_i)  +  (1/2N) Σ_n ‖Wᵀ W x_n − x_n‖²,

where H (p × s, zeros and ones) says which filter units each pooling unit pools. The
first term asks the pooled responses to be sparse; the second asks the filters to keep
the information in x (so that they cannot all become the same filter). Locally connected
filters are a dense W times a fixed 0/1 mask M: the gradient is masked the same way.

:class:`FaceNetwork` is two layers: layer 1 locally connected (with pooling and LCN),
layer 2 fully connected on top of it, each trained by RICA with L-BFGS.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import minimize

from dlkit import rng as _rng
from dlkit.checks import as_real_array, check_int

__all__ = [
    "local_mask",
    "pooling_matrix",
    "neighbourhood_matrix",
    "rica_cost",
    "lcn",
    "lcn_backward",
    "RICALayer",
    "train_rica",
    "FaceNetwork",
    "gradient_check",
]


def local_mask(size: int, window: int, stride: int, maps: int) -> np.ndarray:
    """The connectivity of a locally connected layer on a `size` × `size` image: a 0/1
    matrix M (s × size²), s = G² · maps for the G × G grid of window positions
    (G = (size − window) // stride + 1). Row (r · G + c) · maps + f is map f at grid
    position (r, c): it sees the `window` × `window` pixels from (r · stride, c · stride)."""
    size = check_int(size, "size", "local_mask")
    window = check_int(window, "window", "local_mask")
    stride = check_int(stride, "stride", "local_mask")
    maps = check_int(maps, "maps", "local_mask")
    if window > size:
        raise ValueError(f"local_mask: window={window} is larger than the image (size={size})")
    G = (size - window) // stride + 1
    M = np.zeros((G * G * maps, size * size))
    for r in range(G):
        for c in range(G):
            win = np.zeros((size, size))
            win[r * stride : r * stride + window, c * stride : c * stride + window] = 1
            M[(r * G + c) * maps : (r * G + c + 1) * maps] = win.ravel()
    return M


def pooling_matrix(grid: int, maps: int, pool: int = 2) -> np.ndarray:
    """L2 pooling over `pool` × `pool` neighbouring grid positions of the same map (stride 1):
    H (p × s), p = (grid − pool + 1)² · maps, s = grid² · maps, ordered as in
    :func:`local_mask`. ``pool=1`` gives the identity: each unit is its own pool."""
    grid = check_int(grid, "grid", "pooling_matrix")
    maps = check_int(maps, "maps", "pooling_matrix")
    pool = check_int(pool, "pool", "pooling_matrix")
    if pool > grid:
        raise ValueError(f"pooling_matrix: pool={pool} is larger than the grid ({grid})")
    Gp = grid - pool + 1
    H = np.zeros((Gp * Gp * maps, grid * grid * maps))
    for r in range(Gp):
        for c in range(Gp):
            for f in range(maps):
                for dr in range(pool):
                    for dc in range(pool):
                        H[(r * Gp + c) * maps + f, ((r + dr) * grid + c + dc) * maps + f] = 1
    return H


def neighbourhood_matrix(grid: int, maps: int, radius: int = 1) -> np.ndarray:
    """The weights of local contrast normalisation: G (p × p), row u uniform over the
    units of every map whose grid position is within `radius` of u's (Chebyshev
    distance); rows sum to 1."""
    grid = check_int(grid, "grid", "neighbourhood_matrix")
    maps = check_int(maps, "maps", "neighbourhood_matrix")
    radius = check_int(radius, "radius", "neighbourhood_matrix", minimum=0)
    pos = np.array([(r, c) for r in range(grid) for c in range(grid) for _ in range(maps)])
    near = np.abs(pos[:, None, :] - pos[None, :, :]).max(axis=2) <= radius
    return near / near.sum(axis=1, keepdims=True)


def rica_cost(W, X, H, lam: float, eps: float = 1e-2, mask=None) -> tuple[float, np.ndarray]:
    """The RICA objective J(W) of the module docstring and its gradient ∂J/∂W (s × d).

    X (N × d) one input per row; H (p × s) the pooling; λ = `lam` the weight of the
    sparsity term; ε = `eps` keeps √ smooth at 0; `mask` (s × d, optional) the
    connectivity of a locally connected layer, applied to W and to the gradient."""
    N = len(X)
    if mask is not None:
        W = W * mask
    Z = X @ W.T  # (N, s): the filter responses W x_n
    P = np.sqrt(eps + (Z * Z) @ H.T)  # (N, p): the L2-pooled responses
    E = Z @ W - X  # (N, d): the reconstruction error Wᵀ W x_n − x_n
    J = lam / N * P.sum() + 0.5 / N * (E * E).sum()
    dZ = lam / N * Z * ((1 / P) @ H)  # ∂(sparsity)/∂Z
    grad = dZ.T @ X + (Z.T @ E + (E @ W.T).T @ X) / N  # W enters Wᵀ W x twice
    if mask is not None:
        grad = grad * mask
    return float(J), grad


def lcn(P, G, eps: float = 1e-2) -> tuple[np.ndarray, tuple]:
    """Local contrast normalisation of the rows of P (N × p): C = P − P Gᵀ (subtract the
    neighbourhood mean), then A = C / √(ε + C² Gᵀ) (divide by the neighbourhood's
    standard deviation). Returns A and what :func:`lcn_backward` needs."""
    C = P - P @ G.T
    s = 1 / np.sqrt(eps + (C * C) @ G.T)
    return C * s, (C, s, G)


def lcn_backward(dA, cache) -> np.ndarray:
    """The gradient with respect to P of a function of A = lcn(P), given dA = ∂/∂A."""
    C, s, G = cache
    dC = dA * s - C * ((dA * C * s**3) @ G)
    return dC - dC @ G


@dataclass
class RICALayer:
    """One layer: filters W (s × d) with connectivity `mask` (s × d), pooling H (p × s).

    ``encode(X)`` gives the pooled responses P = √(ε + H (W x)²), one row per input."""

    W: np.ndarray
    H: np.ndarray
    mask: np.ndarray | None = None
    lam: float = 0.1
    eps: float = 1e-2
    loss: list[float] = field(default_factory=list)

    def filters(self) -> np.ndarray:
        return self.W if self.mask is None else self.W * self.mask

    def encode(self, X) -> tuple[np.ndarray, tuple]:
        """P (N × p) and the cache (Z, P) for :meth:`backward`."""
        Z = X @ self.filters().T
        P = np.sqrt(self.eps + (Z * Z) @ self.H.T)
        return P, (Z, P)

    def backward(self, dP, cache) -> np.ndarray:
        """∂/∂X (N × d) of a function of P, given dP = ∂/∂P."""
        Z, P = cache
        dZ = Z * ((dP / P) @ self.H)
        return dZ @ self.filters()

    def cost(self, X) -> tuple[float, np.ndarray]:
        return rica_cost(self.W, X, self.H, self.lam, self.eps, self.mask)


def init_layer(d: int, H, *, mask=None, lam: float = 0.1, eps: float = 1e-2, seed=0) -> RICALayer:
    """A layer with random filters: N(0, 1) entries (masked), each row scaled to norm 1."""
    g = _rng(seed)
    s = H.shape[1]
    W = g.standard_normal((s, d))
    if mask is not None:
        W = W * mask
    W /= np.linalg.norm(W, axis=1, keepdims=True)
    return RICALayer(W, np.asarray(H, dtype=np.float64), mask, lam, eps)


def train_rica(layer: RICALayer, X, *, max_iter: int = 200, cost=None) -> RICALayer:
    """Minimise the layer's RICA objective on X (N × d) with L-BFGS from its current W,
    in place; ``layer.loss`` records J at every iteration. `cost` replaces
    :func:`rica_cost` (same arguments and results), e.g. by a variant under test."""
    X = as_real_array(X, "X", "train_rica").astype(np.float64)
    max_iter = check_int(max_iter, "max_iter", "train_rica", minimum=0)
    if X.ndim != 2 or X.shape[1] != layer.W.shape[1]:
        raise ValueError(f"train_rica: X must have shape (N, {layer.W.shape[1]}), got {X.shape}")
    shape = layer.W.shape
    last = {}

    def f(w):
        J, g = (cost or rica_cost)(w.reshape(shape), X, layer.H, layer.lam, layer.eps, layer.mask)
        last["J"] = J
        return J, g.ravel()

    def record(w):
        layer.loss.append(last["J"])  # J at the accepted point, the last one evaluated

    layer.loss = [f(layer.W.ravel())[0]]

    if max_iter > 0:
        res = minimize(
            f,
            layer.W.ravel(),
            jac=True,
            method="L-BFGS-B",
            callback=record,
            options={"maxiter": max_iter},
        )
        layer.W = res.x.reshape(shape)
    return layer


class FaceNetwork:
    """Two RICA layers on 25 × 25 images (inputs x with 625 pixels, rows of X).

    Layer 1: `maps1` maps of locally connected `window` × `window` filters at stride
    `stride` (a G × G grid of positions), L2 pooling over 2 × 2 positions, then local
    contrast normalisation: A¹ (N × p₁). Layer 2: `units2` fully connected filters on A¹,
    each its own pool: a² = √(ε + (W² a¹)²). The units of the network are the p₁
    normalised pooling units of layer 1 followed by the `units2` units of layer 2
    (:meth:`units`). A new network is random (the untrained baseline); :meth:`fit` trains
    it layer by layer on unlabeled images.
    """

    def __init__(
        self,
        size: int = 25,
        window: int = 13,
        stride: int = 4,
        maps1: int = 8,
        units2: int = 32,
        *,
        lam: float = 0.1,
        seed=0,
    ):
        mask = local_mask(size, window, stride, maps1)
        grid = (size - window) // stride + 1
        self.size, self.grid, self.maps1 = size, grid, maps1
        self.layer1 = init_layer(
            size * size, pooling_matrix(grid, maps1, 2), mask=mask, lam=lam, seed=seed
        )
        self.G = neighbourhood_matrix(grid - 1, maps1, 1)
        p1 = self.layer1.H.shape[0]
        self.layer2 = init_layer(p1, np.eye(units2), lam=lam, seed=_rng(seed).integers(2**31))

    @property
    def n_units(self) -> int:
        return self.layer1.H.shape[0] + self.layer2.H.shape[0]

    def layer1_output(self, X) -> np.ndarray:
        P1, _ = self.layer1.encode(X)
        return lcn(P1, self.G)[0]

    def fit(self, X, *, max_iter: int = 200) -> FaceNetwork:
        """Train layer 1 by RICA on X, then layer 2 by RICA on layer 1's output."""
        train_rica(self.layer1, X, max_iter=max_iter)
        train_rica(self.layer2, self.layer1_output(X), max_iter=max_iter)
        return self

    def forward(self, X) -> tuple[np.ndarray, tuple]:
        """Every unit's response to every row of X: (N × n_units), and the cache."""
        P1, c1 = self.layer1.encode(X)
        A1, cl = lcn(P1, self.G)
        A2, c2 = self.layer2.encode(A1)
        return np.hstack([A1, A2]), (c1, cl, c2, A1.shape[1])

    def units(self, X) -> np.ndarray:
        """The responses of all units, (N × n_units)."""
        return self.forward(np.asarray(X, dtype=np.float64))[0]

    def input_gradient(self, X, unit: int) -> np.ndarray:
        """∂ (response of `unit`) / ∂x for every row x of X: (N × 625)."""
        F, (c1, cl, c2, p1) = self.forward(X)
        dF = np.zeros_like(F)
        dF[:, unit] = 1.0
        dA1 = dF[:, :p1] + self.layer2.backward(dF[:, p1:], c2)
        return self.layer1.backward(lcn_backward(dA1, cl), c1)


def gradient_check(f, x, grad, *, n: int = 20, h: float = 1e-6, seed=0) -> float:
    """The largest relative error between `grad` (the analytic ∂f/∂x at x) and central
    differences (f(x + h e) − f(x − h e)) / 2h along `n` random coordinates e."""
    g = _rng(seed)
    x = np.array(x, dtype=np.float64)
    idx = g.choice(x.size, size=min(n, x.size), replace=False)
    worst = 0.0
    for i in idx:
        e = np.zeros(x.size)
        e[i] = h
        e = e.reshape(x.shape)
        num = (f(x + e) - f(x - e)) / (2 * h)
        ana = grad.reshape(-1)[i]
        worst = max(worst, abs(num - ana) / max(abs(num) + abs(ana), 1e-8))
    return worst
