"""Autoencoders from dlkit.nn layers: plain, tied, sparse and denoising (chapter 10).

An autoencoder with s_h hidden units encodes x (d,) as a = g(W x + c) and decodes it as
x̂ = g_out(W' a + b), with W' = Wᵀ when the weights are *tied*. Its loss on a batch of N
rows is the book's mean squared error plus, optionally, the penalties of Ng's
sparse-autoencoder notes:

    𝓛 = (1/N) Σ_n ½‖x̂_n − x_n‖²  +  (λ/2) (‖W‖² + ‖W'‖²)  +  λ_ρ Σ_k KL(ρ ‖ ρ̂_k),

where ρ̂_k = (1/N) Σ_n a_nk is hidden unit k's mean activation, ρ the target activation
and KL(ρ‖ρ̂) = ρ log(ρ/ρ̂) + (1 − ρ) log((1 − ρ)/(1 − ρ̂)). The sparsity term adds
λ_ρ (−ρ/ρ̂_k + (1 − ρ)/(1 − ρ̂_k)) / N to ∂𝓛/∂a_nk. A *denoising* autoencoder (Vincent et
al. 2008) is trained to reconstruct x from a corrupted copy (:func:`corrupt`).
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from dlkit import rng as _rng
from dlkit.checks import as_real_array, check_int
from dlkit.nn import Linear, get_activation

__all__ = [
    "Autoencoder",
    "corrupt",
    "train_autoencoder",
    "train_autoencoder_lbfgs",
    "AutoencoderHistory",
    "kl_sparsity",
]


def kl_sparsity(rho: float, rho_hat: np.ndarray) -> float:
    """Σ_k KL(ρ ‖ ρ̂_k) between Bernoulli distributions of means ρ and ρ̂_k."""
    rho_hat = np.clip(rho_hat, 1e-12, 1 - 1e-12)
    return float(
        np.sum(rho * np.log(rho / rho_hat) + (1 - rho) * np.log((1 - rho) / (1 - rho_hat)))
    )


def _rate(v, name: str, low_open=False) -> float:
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not np.isfinite(v) or v < 0:
        raise ValueError(f"Autoencoder: {name} must be a finite number ≥ 0, got {v!r}")
    return float(v)


class Autoencoder:
    """x → a = g(W x + c) → x̂ = g_out(W' a + b), built from :class:`dlkit.nn.Linear`.

    Parameters
    ----------
    n_in, n_hidden : int
        d and s_h.
    activation, output : str
        g and g_out (names of :mod:`dlkit.nn` activations): "sigmoid" for both when the
        data are in [0, 1]; ``output="identity"`` for whitened patches.
    tied : bool
        W' = Wᵀ (one weight matrix; its gradient is the sum of both uses).
    weight_decay, sparsity_weight, rho : float
        λ, λ_ρ and ρ of the loss above (0, 0 and 0.05 by default: a plain autoencoder).
    """

    def __init__(
        self,
        n_in: int,
        n_hidden: int,
        *,
        activation: str = "sigmoid",
        output: str = "sigmoid",
        tied: bool = False,
        weight_decay: float = 0.0,
        sparsity_weight: float = 0.0,
        rho: float = 0.05,
        seed=0,
        dtype=np.float64,
    ):
        g = _rng(seed)
        self.n_in = check_int(n_in, "n_in", "Autoencoder")
        self.n_hidden = check_int(n_hidden, "n_hidden", "Autoencoder")
        # the input is data, not a layer's output: no gradient with respect to it
        self.encoder = Linear(self.n_in, self.n_hidden, seed=g, dtype=dtype, input_grad=False)
        self.g = get_activation(activation)
        self.tied = bool(tied)
        self.decoder = Linear(self.n_hidden, self.n_in, seed=g, dtype=dtype)
        if self.tied:  # the decoder keeps only its bias; its weights are Wᵀ
            self.decoder.W.data = self.encoder.W.data.T
        self.g_out = get_activation(output)
        self.weight_decay = _rate(weight_decay, "weight_decay")
        self.sparsity_weight = _rate(sparsity_weight, "sparsity_weight")
        rho = _rate(rho, "rho")
        if not 0 < rho < 1:
            raise ValueError(
                f"Autoencoder: rho (the target activation) must be in (0, 1), got {rho}"
            )
        self.rho = rho

    def parameters(self):
        ps = self.encoder.parameters() + [self.decoder.b]
        return ps if self.tied else ps + [self.decoder.W]

    def named_parameters(self):
        names = [("W", self.encoder.W), ("c", self.encoder.b), ("b", self.decoder.b)]
        return names if self.tied else names + [("W_dec", self.decoder.W)]

    def _check(self, X, name="X") -> np.ndarray:
        X = as_real_array(X, name, "Autoencoder")
        if X.ndim != 2 or X.shape[1] != self.n_in:
            raise ValueError(f"Autoencoder: {name} must have shape (N, {self.n_in}), got {X.shape}")
        return X.astype(self.encoder.W.data.dtype, copy=False)

    def encode(self, X) -> np.ndarray:
        """The hidden activations a = g(W x + c): (N, s_h), the learned features."""
        return self.g.forward(self.encoder.forward(self._check(X)))

    def reconstruct(self, X) -> np.ndarray:
        """x̂ for each row of X: (N, d)."""
        if self.tied:
            self.decoder.W.data = self.encoder.W.data.T
        return self.g_out.forward(self.decoder.forward(self.encode(X)))

    def loss(self, X, target=None) -> float:
        """𝓛 of the reconstruction of `target` (default X) from X, and every parameter's
        gradient in ``.grad`` (forward and backward in one call, as a training step needs)."""
        X = self._check(X)
        T = X if target is None else self._check(target, "target")
        if T.shape != X.shape:
            raise ValueError("Autoencoder.loss: target must have the shape of X")
        N = X.shape[0]
        A = self.encode(X)
        Xh = self.reconstruct_from(A)
        R = Xh - T
        W, Wd = self.encoder.W.data, self.decoder.W.data
        lam, beta, rho = self.weight_decay, self.sparsity_weight, self.rho
        value = 0.5 * np.sum(R * R) / N + 0.5 * lam * np.sum(W * W)
        if not self.tied:
            value += 0.5 * lam * np.sum(Wd * Wd)
        dA = self.decoder.backward(self.g_out.backward(R / N))  # ∂(MSE)/∂a
        dW_dec = self.decoder.W.grad.copy()
        if beta:
            rho_hat = A.mean(axis=0)
            value += beta * kl_sparsity(rho, rho_hat)
            rho_hat = np.clip(rho_hat, 1e-12, 1 - 1e-12)
            dA = dA + beta * (-rho / rho_hat + (1 - rho) / (1 - rho_hat)) / N
        self.encoder.backward(self.g.backward(dA))
        self.encoder.W.grad += lam * W
        if self.tied:
            self.encoder.W.grad += dW_dec.T  # the decoder's use of W, as Wᵀ
        else:
            self.decoder.W.grad += lam * Wd
        return float(value)

    def reconstruct_from(self, A: np.ndarray) -> np.ndarray:
        if self.tied:
            self.decoder.W.data = self.encoder.W.data.T
        return self.g_out.forward(self.decoder.forward(A))

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.parameters())

    def __repr__(self) -> str:
        kind = "tied" if self.tied else "untied"
        extra = f", λ={self.weight_decay:g}" if self.weight_decay else ""
        if self.sparsity_weight:
            extra += f", λ_ρ={self.sparsity_weight:g}, ρ={self.rho:g}"
        return f"Autoencoder({self.n_in}→{self.n_hidden}→{self.n_in}, {kind}{extra})"


def corrupt(X, fraction: float = 0.3, *, seed=0) -> np.ndarray:
    """Masking noise: each entry of X set to 0 with probability `fraction`."""
    X = as_real_array(X, "X", "corrupt")
    if (
        isinstance(fraction, bool)
        or not isinstance(fraction, (int, float))
        or not 0 <= fraction < 1
    ):
        raise ValueError(f"corrupt: fraction must be in [0, 1), got {fraction!r}; e.g. 0.3")
    keep = _rng(seed).random(X.shape) >= fraction
    return X * keep


@dataclass
class AutoencoderHistory:
    loss: list[float] = field(default_factory=list)


def train_autoencoder(
    ae: Autoencoder,
    X,
    *,
    epochs: int = 10,
    lr: float = 0.1,
    batch_size: int = 64,
    optimizer=None,
    noise: float = 0.0,
    seed=0,
    progress: bool = False,
) -> AutoencoderHistory:
    """Mini-batch training of `ae` on the rows of X (SGD with ``lr`` unless an
    ``optimizer`` over ``ae.parameters()`` is given). With ``noise`` > 0 each batch is
    corrupted by masking noise and the clean batch is the target (denoising)."""
    from dlkit.optim import SGD
    from dlkit.train import _Progress, batches

    epochs = check_int(epochs, "epochs", "train_autoencoder")
    batch_size = check_int(batch_size, "batch_size", "train_autoencoder")
    X = ae._check(X)
    g = _rng(seed)
    opt = optimizer if optimizer is not None else SGD(ae.parameters(), lr=lr)
    hist = AutoencoderHistory()
    N = X.shape[0]
    with _Progress(progress, epochs * -(-N // batch_size)) as bar:
        for epoch in range(epochs):
            total = 0.0
            for T, _ in batches(X, X, batch_size, seed=g):  # the target T is the batch itself
                inp = corrupt(T, noise, seed=g) if noise else T
                total += ae.loss(inp, T) * T.shape[0]
                opt.step()
                if ae.tied:
                    ae.decoder.W.data = ae.encoder.W.data.T
                bar.update(epoch, total / N)
            hist.loss.append(total / N)
    return hist


def train_autoencoder_lbfgs(ae: Autoencoder, X, *, max_iter: int = 400) -> AutoencoderHistory:
    """Full-batch training of `ae` on the rows of X by L-BFGS (scipy's ``L-BFGS-B``), as
    in Ng's sparse-autoencoder notes: every step sees 𝓛 and its gradient on all N rows,
    so ρ̂ is the exact mean activation. Stops after `max_iter` iterations or when scipy's
    tolerances are met; ``loss`` holds 𝓛 after each iteration."""
    from scipy.optimize import minimize

    max_iter = check_int(max_iter, "max_iter", "train_autoencoder_lbfgs")
    X = ae._check(X)
    params = ae.parameters()
    sizes = [p.size for p in params]
    cuts = np.cumsum(sizes)[:-1]

    def load(theta):  # θ, one vector, into the parameters
        for p, part in zip(params, np.split(theta, cuts)):
            p.data[...] = part.reshape(p.shape)

    def f(theta):
        load(theta)
        value = ae.loss(X)
        return value, np.concatenate([p.grad.ravel() for p in params]).astype(np.float64)

    hist = AutoencoderHistory()
    theta0 = np.concatenate([p.data.ravel() for p in params]).astype(np.float64)
    r = minimize(
        f,
        theta0,
        jac=True,
        method="L-BFGS-B",
        options={"maxiter": max_iter},
        callback=lambda intermediate_result: hist.loss.append(float(intermediate_result.fun)),
    )
    load(r.x)
    if ae.tied:
        ae.decoder.W.data = ae.encoder.W.data.T
    return hist
