"""Bernoulli–Bernoulli restricted Boltzmann machines: sampling, CD-k, PCD and log Z.

Notation (Bengio 2009, "Learning deep architectures for AI", whose Algorithm 1 is the
``RBMupdate`` of chapter 11): visible units v ∈ {0, 1}^{s_v}, hidden units
h ∈ {0, 1}^{s_h}, weights ``W`` of shape (s_h, s_v) (row k holds the weights into hidden
unit k, as a :class:`dlkit.nn.Linear` stores them), visible biases ``b`` (s_v,), hidden
biases ``c`` (s_h,):

    E(v, h) = −bᵀv − cᵀh − hᵀWv,            P(v, h) = e^{−E(v, h)} / Z
    P(h_k = 1 | v) = σ(c_k + Σ_i W_ki v_i),  P(v_i = 1 | h) = σ(b_i + Σ_k W_ki h_k)
    𝓕(v) = −bᵀv − Σ_k softplus(c_k + W_k· v),  P(v) = e^{−𝓕(v)} / Z

Training follows the loss convention of the rest of dlkit: the gradient that
:func:`cd_gradient` leaves in each ``Param.grad`` is that of the negative
log-likelihood, so any :mod:`dlkit.optim` optimizer (θ ← θ − η∇) trains the machine,
and a parameter server can apply it like any other gradient.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np
from scipy.special import expit as _expit

from dlkit import rng as _rng
from dlkit.checks import as_real_array, check_int
from dlkit.nn.core import Layer, Param, check_dout, check_float_dtype
from dlkit.optim import SGD, _check_lr
from dlkit.train import _Progress, batches

__all__ = [
    "RBM",
    "CDResult",
    "cd_gradient",
    "rbm_update",
    "RBMupdate",
    "train_rbm",
    "RBMHistory",
    "exact_log_partition",
    "ais_log_partition",
    "AISResult",
    "log_likelihood",
    "check_units",
    "cd_arrays",
]

#: The largest hidden layer :func:`exact_log_partition` enumerates (2^20 states).
MAX_EXACT_HIDDEN = 20


def _sigmoid(x: np.ndarray) -> np.ndarray:
    # σ(x) = 1 / (1 + e^{−x}), scipy's ufunc: no overflow for large |x|, one pass
    return _expit(x)


def _softplus(x: np.ndarray) -> np.ndarray:
    # log(1 + e^x), stable for large |x|
    return np.logaddexp(0.0, x)


def _bernoulli(p: np.ndarray, g: np.random.Generator) -> np.ndarray:
    return (g.random(p.shape) < p).astype(p.dtype)


def check_units(A, n_units: int, name: str, who: str, dtype, layer: str = "visible"):
    """`A` as a (N, n_units) array of `dtype` with every value in [0, 1]: the states
    (binary) or probabilities of one layer of a Bernoulli RBM. A single vector is one row.
    `layer` ("visible" or "hidden") names the layer in the errors."""
    A = as_real_array(A, name, who)
    if A.ndim == 1:
        A = A[None, :]
    if A.ndim != 2 or A.shape[1] != n_units:
        hint = (
            f"flatten images to rows of {n_units} pixels first"
            if A.ndim > 2 and math.prod(A.shape[1:]) == n_units
            else f"it has {n_units} {layer} units"
        )
        raise ValueError(f"{who}: {name} must have shape (N, {n_units}), got {A.shape}; {hint}")
    if A.shape[0] == 0:
        raise ValueError(f"{who}: {name} has no rows; pass at least one example")
    A = A.astype(dtype, copy=False)
    if not np.isfinite(A).all() or A.min() < 0 or A.max() > 1:
        raise ValueError(
            f"{who}: a Bernoulli RBM's {layer} states {name} must lie in [0, 1] (binary or "
            f"probabilities), got values in [{np.nanmin(A):g}, {np.nanmax(A):g}]; scale "
            "the data first, e.g. X / X.max(), or binarise it: (X > X.max() / 2) * 1.0"
        )
    return A


class RBM(Layer):
    """A Bernoulli–Bernoulli RBM with ``s_v`` visible and ``s_h`` hidden units.

    Parameters
    ----------
    n_visible, n_hidden : int
        s_v and s_h.
    seed : int or numpy Generator
        Source of the initial weights, W ~ N(0, 0.01²) (Hinton's practical guide);
        both biases start at 0.
    dtype : numpy dtype
        float64 (default) or float32.

    As a :class:`dlkit.nn.Layer`, ``forward(V)`` returns P(h = 1 | V), shape (N, s_h):
    the features an RBM gives a classifier, and the first layer of an unrolled DBN.
    """

    def __init__(self, n_visible: int, n_hidden: int, *, seed=0, dtype=np.float64):
        self.n_visible = check_int(n_visible, "n_visible", "RBM")
        self.n_hidden = check_int(n_hidden, "n_hidden", "RBM")
        self.dtype = check_float_dtype(dtype, "RBM")
        g = _rng(seed)
        w = g.normal(0.0, 0.01, size=(self.n_hidden, self.n_visible)).astype(self.dtype)
        self.W = Param(w, "W")
        self.b = Param(np.zeros(self.n_visible, self.dtype), "b")  # visible biases
        self.c = Param(np.zeros(self.n_hidden, self.dtype), "c")  # hidden biases
        self._cache = None

    # -- checks ---------------------------------------------------------------------
    def check_visible(self, V, name: str = "V", *, binary_ok_only: bool = False) -> np.ndarray:
        """`V` as a (N, s_v) array of this RBM's dtype with every value in [0, 1]."""
        return check_units(V, self.n_visible, name, repr(self), self.dtype, "visible")

    def _check_hidden(self, H, name: str = "H") -> np.ndarray:
        """`H` as a (N, s_h) array of this RBM's dtype with every value in [0, 1]."""
        return check_units(H, self.n_hidden, name, repr(self), self.dtype, "hidden")

    # -- the model --------------------------------------------------------------------
    def energy(self, V, H) -> np.ndarray:
        """E(v, h) = −bᵀv − cᵀh − hᵀWv for each row pair: shape (N,)."""
        V, H = self.check_visible(V), self._check_hidden(H)
        if V.shape[0] != H.shape[0]:
            raise ValueError(f"{self!r}: V has {V.shape[0]} rows but H has {H.shape[0]}")
        W, b, c = self.W.data, self.b.data, self.c.data
        return -(V @ b) - (H @ c) - np.einsum("nk,ki,ni->n", H, W, V)

    def free_energy(self, V) -> np.ndarray:
        """𝓕(v) = −bᵀv − Σ_k softplus(c_k + W_k·v), so that P(v) = e^{−𝓕(v)}/Z: (N,)."""
        V = self.check_visible(V)
        return -(V @ self.b.data) - _softplus(V @ self.W.data.T + self.c.data).sum(axis=1)

    def free_energy_grad(self, V) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """The mean over the rows of V of ∂𝓕/∂W = −Q vᵀ, ∂𝓕/∂b = −v, ∂𝓕/∂c = −Q, with
        Q = P(h = 1 | v): the data term of the log-likelihood gradient,
        ∂(−log P(v))/∂θ = ∂𝓕(v)/∂θ − E_model[∂𝓕/∂θ]."""
        V = self.check_visible(V)
        Q = _sigmoid(V @ self.W.data.T + self.c.data)
        n = V.shape[0]
        return -(Q.T @ V) / n, -V.mean(axis=0), -Q.mean(axis=0)

    def hidden_probs(self, V) -> np.ndarray:
        """P(h_k = 1 | v) = σ(c_k + Σ_i W_ki v_i) for each row of V: (N, s_h)."""
        return _sigmoid(self.check_visible(V) @ self.W.data.T + self.c.data)

    def visible_probs(self, H) -> np.ndarray:
        """P(v_i = 1 | h) = σ(b_i + Σ_k W_ki h_k) for each row of H: (N, s_v)."""
        return _sigmoid(self._check_hidden(H) @ self.W.data + self.b.data)

    def sample_hidden(self, V, seed=0) -> np.ndarray:
        """h ~ P(h | v), one binary sample per row."""
        return _bernoulli(self.hidden_probs(V), _rng(seed))

    def sample_visible(self, H, seed=0) -> np.ndarray:
        """v ~ P(v | h), one binary sample per row."""
        return _bernoulli(self.visible_probs(H), _rng(seed))

    def gibbs(self, V, k: int = 1, seed=0) -> np.ndarray:
        """k steps of block Gibbs sampling v → h → v from V; returns the binary v_k."""
        k = check_int(k, "k", "RBM.gibbs")
        g = _rng(seed)
        V = self.check_visible(V)
        for _ in range(k):
            V = _bernoulli(self.visible_probs(_bernoulli(self.hidden_probs(V), g)), g)
        return V

    def reconstruct(self, V) -> np.ndarray:
        """The mean-field reconstruction P(v = 1 | h = P(h = 1 | v)): (N, s_v)."""
        return self.visible_probs(self.hidden_probs(V))

    def reconstruction_error(self, V) -> float:
        """(1/N) Σ_n ‖v_n − v̂_n‖², v̂ the mean-field reconstruction: what CD is
        usually monitored by, and not the quantity it optimises."""
        V = self.check_visible(V)
        return float(np.sum((V - self.reconstruct(V)) ** 2) / V.shape[0])

    def pseudo_log_likelihood(self, V) -> float:
        """(1/N) Σ_n Σ_i log P(v_i | v_{−i}) = Σ_i log σ(𝓕(v with v_i flipped) − 𝓕(v)),
        computed exactly (one flip per visible unit), for binary V."""
        V = self.check_visible(V)
        if not np.isin(V, (0, 1)).all():
            raise ValueError(f"{self!r}: the pseudo-likelihood needs binary V (0s and 1s)")
        F = self.free_energy(V)
        total = 0.0
        for i in range(self.n_visible):
            flipped = V.copy()
            flipped[:, i] = 1 - flipped[:, i]
            total += float(np.sum(-_softplus(-(self.free_energy(flipped) - F))))
        return total / V.shape[0]

    # -- as a layer ---------------------------------------------------------------------
    def forward(self, V) -> np.ndarray:
        V = self.check_visible(V)
        H = _sigmoid(V @ self.W.data.T + self.c.data)
        self._cache = (V, H)
        return H

    def _output_shape(self):
        return None if self._cache is None else self._cache[1].shape

    def backward(self, dout) -> np.ndarray:
        if self._cache is None:
            raise RuntimeError(f"{self!r}.backward called before forward")
        V, H = self._cache
        dout = check_dout(dout, repr(self), H.shape)
        delta = dout * H * (1 - H)  # σ' = σ(1 − σ)
        self.W.grad[...] = delta.T @ V
        self.c.grad[...] = delta.sum(axis=0)
        self.b.grad[...] = 0
        return delta @ self.W.data

    def __repr__(self) -> str:
        return f"RBM({self.n_visible}, {self.n_hidden})"


@dataclass
class CDResult:
    """What one CD-k (or PCD) step computed, for monitoring and for PCD's chain."""

    v_model: np.ndarray  # the negative phase's visible state v_k (PCD's next start)
    h_model: np.ndarray  # Q(h = 1 | v_k)


def cd_gradient(rbm: RBM, V0, k: int = 1, *, seed=0, chain=None) -> CDResult:
    """Set ``rbm``'s gradients to the CD-k estimate of ∇(−log P(v)), averaged over V0.

    The positive phase samples h_0 ~ Q(h | v_0); the negative phase runs k steps of
    block Gibbs sampling from v_0 (CD-k) or, given ``chain``, from the persistent
    chain's last visible state (PCD, Tieleman 2008), ending at v_k with Q(h | v_k).
    As in Bengio's RBMupdate, the weight statistics are h_0 v_0ᵀ − Q(h | v_k) v_kᵀ, so

        ∂(−log P)/∂W ≈ −(1/N)(H_0ᵀ V_0 − Q_kᵀ V_k),
        ∂(−log P)/∂b ≈ −(1/N) Σ_n (v_0 − v_k),  ∂(−log P)/∂c ≈ −(1/N) Σ_n (h_0 − Q_k),

    the data term E_data[v hᵀ] minus the model term E_model[v hᵀ], with a minus sign
    because dlkit's optimizers descend. Returns the negative phase's states.
    """
    k = check_int(k, "k", "cd_gradient")
    V0 = rbm.check_visible(V0, "V0")
    chain = None if chain is None else rbm.check_visible(chain, "chain")
    return _cd(rbm, V0, k, _rng(seed), chain)


def _cd(rbm: RBM, V0: np.ndarray, k: int, g: np.random.Generator, chain) -> CDResult:
    """cd_gradient on checked arrays (the inner loop of train_rbm)."""
    grads = (rbm.W.grad, rbm.b.grad, rbm.c.grad)
    return cd_arrays(rbm.W.data, rbm.b.data, rbm.c.data, V0, k, g, chain, grads)


def cd_arrays(W, b, c, V0, k: int, g: np.random.Generator, chain, grads) -> CDResult:
    """The arithmetic of CD-k on plain arrays: W (s_h, s_v), b (s_v,), c (s_h,), checked
    data V0 (N, s_v); writes ∂(−log P)/∂W, ∂/∂b, ∂/∂c into the three arrays of `grads`.
    :func:`cd_gradient` passes an RBM's arrays, and
    :func:`dlkit.unsupervised.steps.rbm_gradient_step` views of one flat vector θ."""
    H0 = _bernoulli(_sigmoid(V0 @ W.T + c), g)  # positive phase: h_0 ~ Q(h | v_0)
    Hk = H0 if chain is None else _bernoulli(_sigmoid(chain @ W.T + c), g)
    for _ in range(k):  # k Gibbs steps: v ~ P(v | h), then Q(h | v)
        Vk = _bernoulli(_sigmoid(Hk @ W + b), g)
        Qk = _sigmoid(Vk @ W.T + c)
        Hk = _bernoulli(Qk, g)
    n0, nk = V0.shape[0], Vk.shape[0]
    gW, gb, gc = grads
    np.subtract(Qk.T @ Vk / nk, H0.T @ V0 / n0, out=gW)  # E_model[h vᵀ] − E_data[h vᵀ]
    np.subtract(Vk.sum(axis=0) / nk, V0.sum(axis=0) / n0, out=gb)
    np.subtract(Qk.sum(axis=0) / nk, H0.sum(axis=0) / n0, out=gc)
    return CDResult(Vk, Qk)


def rbm_update(rbm: RBM, V0, lr: float, k: int = 1, *, seed=0, chain=None) -> CDResult:
    """Bengio's RBMupdate(v_0, η, W, b, c): one CD-k step θ ← θ − η∇ in place."""
    lr = _check_lr(lr)  # the optimizers' check: a positive finite number
    out = cd_gradient(rbm, V0, k, seed=seed, chain=chain)
    for p in rbm.parameters():
        p.data -= lr * p.grad
    return out


#: The name of the algorithm in Bengio (2009) and in the seed talk.
RBMupdate = rbm_update


@dataclass
class RBMHistory:
    """Per-epoch monitoring of :func:`train_rbm`."""

    reconstruction_error: list[float] = field(default_factory=list)
    chain: np.ndarray | None = None  # PCD's persistent visible states at the end


def train_rbm(
    rbm: RBM,
    X,
    *,
    epochs: int = 10,
    lr: float = 0.05,
    batch_size: int = 10,
    k: int = 1,
    persistent: bool = False,
    optimizer=None,
    seed=0,
    monitor: bool = True,
    progress: bool = False,
) -> RBMHistory:
    """Train `rbm` on the rows of `X` by CD-k (or PCD with ``persistent=True``).

    Each epoch visits the rows in a seeded random order in mini-batches of
    ``batch_size`` (B); each batch is one :func:`cd_gradient` and one optimizer step
    (plain SGD with ``lr`` unless an ``optimizer`` over ``rbm.parameters()`` is given).
    PCD keeps one persistent chain per example of a batch, started from the first batch.
    With ``monitor`` the history records the reconstruction error of X after each epoch.
    """
    epochs = check_int(epochs, "epochs", "train_rbm")
    batch_size = check_int(batch_size, "batch_size", "train_rbm")
    k = check_int(k, "k", "train_rbm")
    X = rbm.check_visible(X, "X")
    g = _rng(seed)  # one stream for the shuffles and the Gibbs samples
    opt = optimizer if optimizer is not None else SGD(rbm.parameters(), lr=lr)
    hist = RBMHistory()
    chain = None
    name = f"{'PCD' if persistent else f'CD-{k}'} {rbm!r}"
    show = _Progress(progress, epochs, name, "error", unit="epoch", leave=False)
    with show as bar:
        for epoch in range(epochs):
            for V0, _ in batches(X, X, batch_size, seed=g):  # a fresh permutation per epoch
                if persistent and (chain is None or chain.shape[0] != V0.shape[0]):
                    chain = V0 if chain is None else chain[: V0.shape[0]]
                out = _cd(rbm, V0, k, g, chain if persistent else None)
                if persistent:
                    chain = out.v_model
                opt.step()
            if monitor:
                hist.reconstruction_error.append(rbm.reconstruction_error(X))
            bar.update(epoch, hist.reconstruction_error[-1] if monitor else None)
    hist.chain = chain
    return hist


# -- the partition function -------------------------------------------------------------
def exact_log_partition(rbm: RBM) -> float:
    """log Z by enumerating the 2^{s_h} hidden states (s_h ≤ 20):
    Z = Σ_h e^{cᵀh} Π_i (1 + e^{b_i + (Wᵀh)_i})."""
    if rbm.n_hidden > MAX_EXACT_HIDDEN:
        raise ValueError(
            f"exact_log_partition: {rbm!r} has {rbm.n_hidden} hidden units; enumerating "
            f"2^{rbm.n_hidden} states is too many (at most {MAX_EXACT_HIDDEN}); use "
            "ais_log_partition for an estimate"
        )
    W = rbm.W.data.astype(np.float64)
    b, c = rbm.b.data.astype(np.float64), rbm.c.data.astype(np.float64)
    s = rbm.n_hidden
    codes = np.arange(2**s, dtype=np.int64)
    total = None
    for start in range(0, 2**s, 4096):  # chunks keep the memory small
        H = ((codes[start : start + 4096, None] >> np.arange(s)) & 1).astype(np.float64)
        terms = H @ c + _softplus(H @ W + b).sum(axis=1)
        m = terms.max()
        part = m + math.log(np.exp(terms - m).sum())
        total = part if total is None else np.logaddexp(total, part)
    return float(total)


@dataclass
class AISResult:
    """An annealed importance sampling estimate of log Z."""

    log_z: float  # log of the mean importance weight, plus log Z of the base model
    log_z_low: float  # log(Ẑ − 3 σ̂) and log(Ẑ + 3 σ̂): a ±3-standard-error band
    log_z_high: float
    log_weights: np.ndarray  # one per chain
    n_betas: int


def _default_betas() -> np.ndarray:
    # Salakhutdinov & Murray's schedule: dense where the distributions change fastest
    return np.concatenate(
        [
            np.linspace(0, 0.5, 500, endpoint=False),
            np.linspace(0.5, 0.9, 4000, endpoint=False),
            np.linspace(0.9, 1.0, 10000),
        ]
    )


def ais_log_partition(
    rbm: RBM, *, n_chains: int = 100, betas=None, base_visible_bias=None, seed=0
) -> AISResult:
    """Estimate log Z by annealed importance sampling (Neal 2001; Salakhutdinov & Murray 2008).

    The base model A has no hidden units and visible biases b_A (``base_visible_bias``,
    default 0; the log-odds of the training data's pixel means are a better start), so
    Z_A = Π_i (1 + e^{b_A,i}) exactly. The intermediate distributions, for β from 0 to 1,

        p*_β(v) = e^{(1−β) b_Aᵀv + β bᵀv} Π_k (1 + e^{β (c_k + W_k·v)}),

    move from A (times the 2^{s_h} states of the hidden units, which at β = 0 do not
    interact) to the RBM; each chain adds log p*_{β_t}(v_t) − log p*_{β_{t−1}}(v_t) to its
    log weight and takes one Gibbs step that leaves p*_{β_t} invariant. Then
    Z / Z_A ≈ the mean of the weights.
    """
    n_chains = check_int(n_chains, "n_chains", "ais_log_partition")
    betas = _default_betas() if betas is None else np.asarray(betas, dtype=np.float64)
    if (
        betas.ndim != 1
        or betas.size < 2
        or betas[0] != 0
        or betas[-1] != 1
        or np.any(np.diff(betas) < 0)
    ):
        raise ValueError(
            "ais_log_partition: betas must rise from 0 to 1 (first 0, last 1, non-decreasing), "
            "e.g. np.linspace(0, 1, 10001)"
        )
    W = rbm.W.data.astype(np.float64)
    b, c = rbm.b.data.astype(np.float64), rbm.c.data.astype(np.float64)
    bA = np.zeros_like(b) if base_visible_bias is None else np.asarray(base_visible_bias, float)
    if bA.shape != b.shape or not np.isfinite(bA).all():
        raise ValueError(
            f"ais_log_partition: base_visible_bias must be {b.shape[0]} finite numbers"
        )
    g = _rng(seed)

    # log p*_β(v) − log p*_β'(v) = (β − β')(b − b_A)ᵀv + Σ_k [softplus(β u_k) − softplus(β' u_k)]
    # with u = Wv + c: one product V Wᵀ per step serves the weight and the Gibbs step
    V = _bernoulli(np.broadcast_to(_sigmoid(bA), (n_chains, b.size)).copy(), g)
    log_w = np.zeros(n_chains)
    db = b - bA
    for prev, beta in zip(betas[:-1], betas[1:]):
        U = V @ W.T + c
        log_w += (beta - prev) * (V @ db) + (_softplus(beta * U) - _softplus(prev * U)).sum(1)
        H = _bernoulli(_sigmoid(beta * U), g)
        V = _bernoulli(_sigmoid(bA + beta * (H @ W + db)), g)
    log_za = float(_softplus(bA).sum()) + rbm.n_hidden * math.log(2.0)  # Z of p*_0
    m = log_w.max()
    w = np.exp(log_w - m)
    mean, se = w.mean(), w.std(ddof=1) / math.sqrt(n_chains) if n_chains > 1 else 0.0
    low = m + math.log(mean - 3 * se) if mean - 3 * se > 0 else -math.inf
    return AISResult(
        log_z=log_za + m + math.log(mean),
        log_z_low=log_za + low,
        log_z_high=log_za + m + math.log(mean + 3 * se),
        log_weights=log_w,
        n_betas=int(betas.size),
    )


def log_likelihood(rbm: RBM, V, log_z: float) -> float:
    """The mean log P(v) = −𝓕(v) − log Z over the rows of V, given log Z."""
    return float(np.mean(-rbm.free_energy(V)) - log_z)
