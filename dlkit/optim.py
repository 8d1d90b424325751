"""Optimizers: they update each Param's ``data`` in place from its ``grad``.

    opt = Adam(model.parameters(), lr=1e-3)
    ...forward, loss, backward...
    opt.step()

``step()`` applies one update; ``zero_grad()`` clears the gradients (dlkit's layers
overwrite their gradients on every backward, so this is only needed when gradients
are accumulated by hand).

Notation of chapter 4: θ a parameter, g = ∇θ L its gradient on the current mini-batch,
α the learning rate (``lr``), t the step count starting at 1. Each class's docstring
gives its update rule; the code follows it line by line.

==============  ====================================================================
optimizer       update (λ = weight_decay adds λθ to g first, i.e. L2 regularisation)
==============  ====================================================================
SGD             θ ← θ − α g
Momentum        v ← μ v − α g;  θ ← θ + v                        (Polyak 1964)
Nesterov        v ← μ v − α ∇L(θ + μ v);  θ ← θ + v              (Nesterov 1983)
AdaGrad         G ← G + g²;  θ ← θ − α g / (√G + ε)              (Duchi et al. 2011)
RMSProp         E ← ρ E + (1 − ρ) g²;  θ ← θ − α g / (√E + ε)    (Tieleman & Hinton 2012)
Adam            m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;
                θ ← θ − α m̂ / (√v̂ + ε), m̂ = m / (1 − β₁ᵗ), v̂ = v / (1 − β₂ᵗ)
                                                                 (Kingma & Ba 2015)
AdamW           Adam with decoupled weight decay θ ← θ − αλθ     (Loshchilov & Hutter)
==============  ====================================================================

The ε placements and defaults match PyTorch's, so results can be compared.
Every optimizer has ``state_dict()`` / ``load_state_dict()`` (arrays and numbers
only) for :mod:`dlkit.checkpoint`.
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from dlkit.nn.core import Layer, Param, parameters_of

__all__ = ["Optimizer", "SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam", "AdamW",
           "get_optimizer", "OPTIMIZERS"]


def _check_rate(name: str, value: float, low: float = 0.0, high: float = 1.0,
                open_low: bool = False) -> float:
    value = float(value)
    ok = np.isfinite(value) and (value > low if open_low else value >= low) and value < high
    if not ok:
        lo = "(" if open_low else "["
        raise ValueError(f"{name} must lie in {lo}{low}, {high}), got {name}={value}")
    return value


class Optimizer:
    """Base class: holds the Params, a per-Param state dict and the step count ``t``.

    Subclasses implement ``update(p, state)`` for one Param; ``step()`` increments
    ``t`` and calls it for every Param.
    """

    #: names of the hyper-parameters saved by state_dict (besides lr)
    hyper: tuple[str, ...] = ()

    def __init__(self, params: Layer | Iterable[Param], lr: float, *,
                 weight_decay: float = 0.0):
        self.params = parameters_of(params)
        if not self.params:
            raise ValueError("optimizer got no parameters: pass model.parameters()")
        if not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning rate must be a positive number, got lr={lr}")
        if not np.isfinite(weight_decay) or weight_decay < 0:
            raise ValueError(f"weight_decay must be >= 0, got weight_decay={weight_decay}")
        self.lr = float(lr)
        self.weight_decay = float(weight_decay)
        self.state: list[dict[str, np.ndarray]] = [{} for _ in self.params]
        self.t = 0  # steps taken

    def zero_grad(self) -> None:
        for p in self.params:
            p.grad[...] = 0

    def step(self) -> None:
        self.t += 1
        for p, s in zip(self.params, self.state):
            self.update(p, s)

    def update(self, p: Param, state: dict) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement update(p, state)")

    def _grad(self, p: Param) -> np.ndarray:
        """g, plus λθ when weight decay (L2 regularisation) is on."""
        if self.weight_decay:
            return p.grad + self.weight_decay * p.data
        return p.grad

    def _buffer(self, state: dict, key: str, p: Param) -> np.ndarray:
        """A zero-initialised state array shaped like `p` (v, G, m...)."""
        buf = state.get(key)
        if buf is None:
            buf = state[key] = np.zeros_like(p.data)
        return buf

    # -- checkpoints --------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat dict of arrays: hyper-parameters, ``t`` and ``state.<i>.<key>``."""
        out = {"t": np.array(self.t, dtype=np.int64), "lr": np.array(self.lr),
               "weight_decay": np.array(self.weight_decay)}
        for name in self.hyper:
            out[name] = np.asarray(getattr(self, name), dtype=np.float64)
        for i, s in enumerate(self.state):
            for k, v in s.items():
                out[f"state.{i}.{k}"] = v.copy()
        return out

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` saved; shapes must match the Params."""
        if "t" not in state:
            raise KeyError("optimizer state has no step count 't': was it saved by state_dict()?")
        self.t = int(state["t"])
        self.lr = float(state["lr"])
        self.weight_decay = float(state.get("weight_decay", 0.0))
        for name in self.hyper:
            if name in state:
                v = np.asarray(state[name])
                setattr(self, name, tuple(float(x) for x in v) if v.ndim else float(v))
        self.state = [{} for _ in self.params]
        for key, v in state.items():
            if not key.startswith("state."):
                continue
            _, i, k = key.split(".", 2)
            i = int(i)
            if i >= len(self.params) or v.shape != self.params[i].shape:
                raise ValueError(
                    f"optimizer state {key} (shape {v.shape}) does not fit this model's "
                    "parameters: was it saved from the same network?"
                )
            self.state[i][k] = np.array(v, dtype=self.params[i].data.dtype)

    def __repr__(self) -> str:
        extra = "".join(f", {n}={getattr(self, n)}" for n in self.hyper)
        wd = f", weight_decay={self.weight_decay}" if self.weight_decay else ""
        return f"{type(self).__name__}(lr={self.lr}{extra}{wd})"


class SGD(Optimizer):
    """Gradient descent, optionally with momentum.

    ``momentum=0``: θ ← θ − α g.
    ``momentum=μ > 0`` (Polyak's heavy ball): v ← μ v − α g, θ ← θ + v.
    ``nesterov=True``: v ← μ v − α g, θ ← θ + μ v − α g, which is Nesterov's
    v ← μ v − α ∇L(θ + μ v) written for the look-ahead point (Sutskever et al. 2013).
    """

    hyper = ("momentum",)

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.0, *,
                 nesterov: bool = False, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay=weight_decay)
        self.momentum = _check_rate("momentum", momentum)
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0, e.g. momentum=0.9")
        self.nesterov = bool(nesterov)

    def update(self, p: Param, state: dict) -> None:
        g = self._grad(p)
        if self.momentum == 0:
            p.data -= self.lr * g
            return
        v = self._buffer(state, "v", p)
        v *= self.momentum          # v ← μ v − α g
        v -= self.lr * g
        if self.nesterov:           # θ ← θ + μ v − α g
            p.data += self.momentum * v - self.lr * g
        else:                       # θ ← θ + v
            p.data += v

    def __repr__(self) -> str:
        r = super().__repr__()
        return r[:-1] + ", nesterov=True)" if self.nesterov else r


class Momentum(SGD):
    """SGD with Polyak's momentum μ (default 0.9): v ← μ v − α g, θ ← θ + v."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.9, *,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, momentum, weight_decay=weight_decay)


class Nesterov(SGD):
    """SGD with Nesterov's accelerated gradient (momentum μ, default 0.9)."""

    def __init__(self, params, lr: float = 0.01, momentum: float = 0.9, *,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, momentum, nesterov=True, weight_decay=weight_decay)


class AdaGrad(Optimizer):
    """G ← G + g², θ ← θ − α g / (√G + ε): each coordinate's step shrinks with its history."""

    hyper = ("eps",)

    def __init__(self, params, lr: float = 0.01, *, eps: float = 1e-10,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay=weight_decay)
        self.eps = _check_rate("eps", eps, 0.0, 1.0, open_low=True)

    def update(self, p: Param, state: dict) -> None:
        g = self._grad(p)
        G = self._buffer(state, "G", p)
        G += g * g
        p.data -= self.lr * g / (np.sqrt(G) + self.eps)


class RMSProp(Optimizer):
    """E ← ρ E + (1 − ρ) g², θ ← θ − α g / (√E + ε): AdaGrad with a leaky average."""

    hyper = ("rho", "eps")

    def __init__(self, params, lr: float = 0.01, rho: float = 0.99, *, eps: float = 1e-8,
                 weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay=weight_decay)
        self.rho = _check_rate("rho", rho)
        self.eps = _check_rate("eps", eps, 0.0, 1.0, open_low=True)

    def update(self, p: Param, state: dict) -> None:
        g = self._grad(p)
        E = self._buffer(state, "E", p)
        E *= self.rho
        E += (1 - self.rho) * (g * g)
        p.data -= self.lr * g / (np.sqrt(E) + self.eps)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): momentum on g and RMSProp on g², both bias-corrected.

    m ← β₁ m + (1 − β₁) g;  v ← β₂ v + (1 − β₂) g²;
    m̂ = m / (1 − β₁ᵗ);  v̂ = v / (1 − β₂ᵗ);  θ ← θ − α m̂ / (√v̂ + ε).

    ``weight_decay`` adds λθ to g (L2 regularisation, as in the paper and in
    ``torch.optim.Adam``); ``decoupled=True`` instead shrinks θ ← θ − αλθ apart from the
    adaptive step (AdamW, Loshchilov & Hutter, arXiv:1711.05101).
    """

    hyper = ("beta1", "beta2", "eps")

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), *,
                 eps: float = 1e-8, weight_decay: float = 0.0, decoupled: bool = False):
        super().__init__(params, lr, weight_decay=weight_decay)
        self.beta1 = _check_rate("beta1", betas[0])
        self.beta2 = _check_rate("beta2", betas[1])
        self.eps = _check_rate("eps", eps, 0.0, 1.0, open_low=True)
        self.decoupled = bool(decoupled)

    @property
    def betas(self) -> tuple[float, float]:
        return (self.beta1, self.beta2)

    def update(self, p: Param, state: dict) -> None:
        if self.decoupled:
            g = p.grad
            if self.weight_decay:
                p.data *= 1 - self.lr * self.weight_decay
        else:
            g = self._grad(p)
        m = self._buffer(state, "m", p)
        v = self._buffer(state, "v", p)
        b1, b2, t = self.beta1, self.beta2, self.t
        m *= b1
        m += (1 - b1) * g
        v *= b2
        v += (1 - b2) * (g * g)
        # α m̂ / (√v̂ + ε) with m̂ = m/(1 − β₁ᵗ), v̂ = v/(1 − β₂ᵗ)
        step = self.lr / (1 - b1**t)
        denom = np.sqrt(v)
        denom /= np.sqrt(1 - b2**t)
        denom += self.eps
        p.data -= step * m / denom


class AdamW(Adam):
    """Adam with decoupled weight decay (default λ = 0.01), as in ``torch.optim.AdamW``."""

    def __init__(self, params, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999), *,
                 eps: float = 1e-8, weight_decay: float = 0.01):
        super().__init__(params, lr, betas, eps=eps, weight_decay=weight_decay, decoupled=True)


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD, "momentum": Momentum, "nesterov": Nesterov, "adagrad": AdaGrad,
    "rmsprop": RMSProp, "adam": Adam, "adamw": AdamW,
}


def get_optimizer(name: str, params, **kwargs) -> Optimizer:
    """An optimizer by name: ``get_optimizer('adam', model.parameters(), lr=1e-3)``."""
    try:
        cls = OPTIMIZERS[name.lower()]
    except (KeyError, AttributeError):
        raise ValueError(
            f"unknown optimizer {name!r}: choose one of {', '.join(OPTIMIZERS)}"
        ) from None
    return cls(params, **kwargs)
