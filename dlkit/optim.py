"""Optimizers: they update each Param's ``data`` in place from its ``grad``.

    opt = Adam(model.parameters(), lr=1e-3)
    ...forward, loss, backward...
    opt.step()

``step()`` applies one update; ``zero_grad()`` clears the gradients (dlkit's layers
overwrite their gradients on every backward, so this is only needed when gradients
are accumulated by hand).

The notation is the book's (chapters/notation.md): θ a parameter, ∇ its gradient on
the current mini-batch (∇_t at step t), η the learning rate (``lr``), t the step count
starting at 1, μ the momentum, v a velocity (the running sum or mean of gradients that
momentum, Nesterov and Adam step along), G AdaGrad's sum of ∇ ⊙ ∇, E the running mean
of ∇ ⊙ ∇ of RMSProp and Adam, β₁ and β₂ the decay rates of v and E, λ the weight decay
and ε the constant that keeps a denominator away from 0. Kingma and Ba write Adam's v
and E as m and v; RMSProp's β₂ is its argument ``rho`` (Tieleman and Hinton's ρ). Each
class's docstring gives its update rule; the code follows it line by line.

==============  ====================================================================
optimizer       update (λ = weight_decay adds λθ to ∇ first, i.e. L2 regularisation)
==============  ====================================================================
SGD             θ ← θ − η ∇
Momentum        v ← μ v − η ∇;  θ ← θ + v                        (Polyak 1964)
Nesterov        v ← μ v − η ∇𝓛(θ + μ v);  θ ← θ + v              (Nesterov 1983, as a
                momentum method by Sutskever et al. 2013). dlkit stores the look-ahead
                point θ + μ v instead (Bengio et al. 2013); with ∇ at the stored point:
                v ← μ v − η ∇;  θ ← θ + μ v − η ∇
AdaGrad         G ← G + ∇ ⊙ ∇;  θ ← θ − η ∇ / (√G + ε)           (Duchi et al. 2011)
RMSProp         E ← β₂ E + (1 − β₂) ∇ ⊙ ∇;  θ ← θ − η ∇ / (√E + ε)
                                                                 (Tieleman & Hinton 2012)
Adam            v ← β₁ v + (1 − β₁) ∇;  E ← β₂ E + (1 − β₂) ∇ ⊙ ∇;
                θ ← θ − η v̂ / (√Ê + ε), v̂ = v / (1 − β₁ᵗ), Ê = E / (1 − β₂ᵗ)
                                                                 (Kingma & Ba 2015)
AdamW           Adam with decoupled weight decay θ ← θ − ηλθ     (Loshchilov & Hutter)
==============  ====================================================================

The ε placements and defaults match PyTorch's, so results can be compared.
Every optimizer has ``state_dict()`` / ``load_state_dict()`` (arrays and numbers
only) for :mod:`dlkit.checkpoint`.
"""

from __future__ import annotations

from typing import Iterable, Mapping

import numpy as np

from dlkit.checkpoint import generator_state, read_generator_state
from dlkit.nn import device
from dlkit.nn.core import Layer, Param, parameters_of

__all__ = [
    "Optimizer",
    "SGD",
    "Momentum",
    "Nesterov",
    "AdaGrad",
    "RMSProp",
    "Adam",
    "AdamW",
    "get_optimizer",
    "OPTIMIZERS",
]


def _check_real(name: str, value) -> float:
    """`value` as a float if it is one real number (not a bool, str or complex)."""
    if isinstance(value, np.ndarray) and value.ndim == 0:
        value = value[()]
    if isinstance(value, (bool, np.bool_)) or not isinstance(
        value, (int, float, np.integer, np.floating)
    ):
        raise TypeError(
            f"{name} must be a real number, got {value!r} "
            f"({type(value).__name__}); pass a float, e.g. "
            f"{name}={_EXAMPLES.get(name, 0.5)}"
        )
    return float(value)


_EXAMPLES = {
    "lr": 0.01,
    "momentum": 0.9,
    "rho": 0.99,
    "beta1": 0.9,
    "beta2": 0.999,
    "eps": 1e-8,
    "weight_decay": 1e-4,
}


def check_rate(
    name: str, value: float, low: float = 0.0, high: float = 1.0, open_low: bool = False
) -> float:
    """A hyper-parameter as a float, checked to be a finite real in [low, high).

    ``open_low=True`` excludes `low` too. Raises ``TypeError`` for a bool, str or
    complex and ``ValueError`` for NaN, inf or a value out of range, naming `name`.
    """
    value = _check_real(name, value)
    ok = np.isfinite(value) and (value > low if open_low else value >= low) and value < high
    if not ok:
        lo = "(" if open_low else "["
        raise ValueError(f"{name} must lie in {lo}{low}, {high}), got {name}={value}")
    return value


_check_rate = check_rate


def _check_params(params):
    iterable = isinstance(params, Layer) or hasattr(params, "__iter__")
    if not iterable or isinstance(params, (str, bytes, np.ndarray)):
        raise TypeError(
            f"optimizer needs the model's parameters, got {type(params).__name__}; "
            "pass model.parameters() or the model itself"
        )
    return params


def _check_lr(lr) -> float:
    lr = _check_real("lr", lr)
    if not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"learning rate must be a positive number, got lr={lr}; pass e.g. lr=0.01")
    return lr


def _check_betas(betas) -> tuple[float, float]:
    if isinstance(betas, (str, bytes)) or not hasattr(betas, "__len__") or len(betas) != 2:
        raise TypeError(f"betas must be a pair (beta1, beta2) such as (0.9, 0.999), got {betas!r}")
    return check_rate("beta1", betas[0]), check_rate("beta2", betas[1])


#: ranges of the hyper-parameters a state_dict may restore (low, high, open_low)
_RANGES = {
    "momentum": (0.0, 1.0, False),
    "rho": (0.0, 1.0, False),
    "beta1": (0.0, 1.0, False),
    "beta2": (0.0, 1.0, False),
    "eps": (0.0, 1.0, True),
    "weight_decay": (0.0, np.inf, False),
}

#: boolean options that change the update rule: a state must be loaded with the same ones
_OPTIONS = ("nesterov", "decoupled")


class Optimizer:
    """Base class: holds the Params, a per-Param state dict and the step count ``t``.

    Subclasses implement ``update(p, state)`` for one Param; ``step()`` increments
    ``t`` and calls it for every Param.
    """

    #: names of the hyper-parameters saved by state_dict (besides lr)
    hyper: tuple[str, ...] = ()

    def __init__(self, params: Layer | Iterable[Param], lr: float, *, weight_decay: float = 0.0):
        self.params = parameters_of(_check_params(params))
        if not self.params:
            raise ValueError("optimizer got no parameters: pass model.parameters()")
        self.lr = _check_lr(lr)
        self.weight_decay = check_rate("weight_decay", weight_decay, 0.0, np.inf)
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
        """The gradient ∇, plus λθ when weight decay (L2 regularisation) is on."""
        if self.weight_decay:
            return p.grad + self.weight_decay * p.data
        return p.grad

    def _buffer(self, state: dict, key: str, p: Param) -> np.ndarray:
        """A zero-initialised state array shaped like `p` (v, G, E...)."""
        buf = state.get(key)
        if buf is None:
            if hasattr(p.data, "copy_to_host"):  # a Numba device array
                raise NotImplementedError(
                    f"{type(self).__name__} runs on the CPU and cupy backends; on 'cuda' "
                    "and 'cudasim' use SGD or Momentum (or Nesterov)"
                )
            buf = state[key] = np.zeros_like(p.data)
        return buf

    # -- checkpoints --------------------------------------------------------------------
    def state_dict(self) -> dict[str, np.ndarray]:
        """Flat dict of arrays: everything a resumed run needs to continue bit-identically.

        ``kind`` (the class name), ``n_params``, ``t``, ``lr``, ``weight_decay``, the
        hyper-parameters, ``option.<name>`` (nesterov, decoupled), ``count.<name>``
        (other numbers the optimizer keeps, such as statistics), ``rng.<name>`` (the
        state of every numpy Generator it holds, as JSON text) and ``state.<i>.<key>``
        (the buffers of parameter i).
        """
        out = {
            "kind": np.array(type(self).__name__),
            "n_params": np.array(len(self.params)),
            "t": np.array(self.t, dtype=np.int64),
            "lr": np.array(self.lr),
            "weight_decay": np.array(self.weight_decay),
        }
        for name in self.hyper:
            out[name] = np.asarray(getattr(self, name), dtype=np.float64)
        for name, v in vars(self).items():
            if name in _OPTIONS:
                out[f"option.{name}"] = np.array(bool(v))
            elif isinstance(v, np.random.Generator):
                out[f"rng.{name}"] = generator_state(v)
            elif name not in out and _is_count(v):
                out[f"count.{name}"] = np.array(v)
        for i, s in enumerate(self.state):
            for k, v in s.items():
                out[f"state.{i}.{k}"] = v.copy()
        return out

    def load_state_dict(self, state: Mapping[str, np.ndarray]) -> None:
        """Restore what :meth:`state_dict` saved.

        Everything is checked before anything changes: the optimizer kind, the number of
        parameters, every hyper-parameter, generator state, and each buffer's shape and
        dtype against its parameter. A state without ``kind`` (saved by an older dlkit)
        is accepted only if its keys are this kind's.
        """
        new = self._checked_state(state)
        self.t, self.lr = new["t"], new["lr"]
        for name, value in new["values"].items():
            setattr(self, name, value)
        for name, s in new["rng"].items():
            getattr(self, name).bit_generator.state = s
        self.state = new["buffers"]

    def _checked_state(self, state) -> dict:
        """Validate a state_dict for this optimizer; return its parsed, copied contents."""
        me = type(self).__name__
        if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
            raise TypeError(
                f"{me}.load_state_dict expects the dict of arrays returned by "
                f"state_dict(), got {type(state).__name__}"
            )
        if "t" not in state:
            raise KeyError("optimizer state has no step count 't': was it saved by state_dict()?")
        plain = {k for k in state if "." not in k} - {"kind", "n_params"}
        if "kind" in state:
            kind = str(np.asarray(state["kind"]))
            if kind != me:
                raise ValueError(
                    f"{me}.load_state_dict got the state of optimizer {kind}; "
                    f"load it into {kind}(...), or start this {me} afresh"
                )
        elif plain not in ({"t", "lr", "weight_decay", *self.hyper}, {"t", "lr", *self.hyper}):
            raise ValueError(
                f"{me}.load_state_dict: this state has no 'kind' and its keys {sorted(plain)} "
                f"are not those of {me} ({sorted({'t', 'lr', 'weight_decay', *self.hyper})}): "
                "it was saved by another optimizer"
            )
        n = len(self.params)
        saved_n = int(_state_scalar(state, "n_params", me)) if "n_params" in state else n
        if saved_n != n:
            raise ValueError(
                f"{me}.load_state_dict: the state was saved for {saved_n} "
                f"parameters, this optimizer has {n}: build it on the same model"
            )
        unknown = plain - {"t", "lr", "weight_decay", *self.hyper}
        if unknown:
            raise ValueError(f"{me}.load_state_dict: unknown keys {sorted(unknown)}")
        t = _state_scalar(state, "t", me)
        if t.dtype.kind not in "iu" or int(t) < 0:
            raise ValueError(f"{me}.load_state_dict: 't' must be a step count >= 0, got {t!r}")
        new = {
            "t": int(t),
            "lr": _check_lr(_state_scalar(state, "lr", me)),
            "values": {},
            "rng": {},
            "buffers": [{} for _ in self.params],
        }
        for name in ("weight_decay", *self.hyper):
            if name in state:
                new["values"][name] = _checked_hyper(name, state[name])
        for key, v in state.items():
            if "." in key:
                self._check_state_entry(key, v, new)
        return new

    def _check_state_entry(self, key: str, v, new: dict) -> None:
        """Check one dotted state_dict entry (option., count., rng., state.) into `new`."""
        me = type(self).__name__
        group, _, rest = key.partition(".")
        mine = vars(self)
        if group == "option" and rest in _OPTIONS and rest in mine:
            if bool(np.asarray(v)) != bool(mine[rest]):
                raise ValueError(
                    f"{me}.load_state_dict: the state was saved with "
                    f"{rest}={bool(np.asarray(v))}, this optimizer has "
                    f"{rest}={mine[rest]}: build it with the same option"
                )
        elif group == "count" and _is_count(mine.get(rest)):
            value = _state_scalar({key: v}, key, me)
            if value.dtype.kind not in "iuf":
                raise ValueError(f"{me}.load_state_dict: {key} must be a number, got {v!r}")
            new["values"][rest] = type(mine[rest])(value)
        elif group == "rng" and isinstance(mine.get(rest), np.random.Generator):
            new["rng"][rest] = read_generator_state(v, mine[rest], f"{me} state {key}")
        elif group == "state" and rest.count(".") == 1 and rest.split(".")[0].isdigit():
            i, k = rest.split(".")
            i = int(i)
            if (
                i >= len(self.params)
                or not isinstance(v, np.ndarray)
                or v.shape != self.params[i].shape
            ):
                raise ValueError(
                    f"optimizer state {key} (shape {getattr(v, 'shape', None)}) does not fit "
                    "this model's parameters: was it saved from the same network?"
                )
            p = self.params[i].data
            if v.dtype != p.dtype:
                raise ValueError(
                    f"optimizer state {key} has dtype {v.dtype}, its parameter "
                    f"{p.dtype}: was it saved from a network of another dtype?"
                )
            new["buffers"][i][k] = np.array(v, dtype=p.dtype)
        else:
            raise ValueError(
                f"{me}.load_state_dict: unexpected key {key!r} (not saved by {me}.state_dict)"
            )

    def __repr__(self) -> str:
        extra = "".join(f", {n}={getattr(self, n)}" for n in self.hyper)
        wd = f", weight_decay={self.weight_decay}" if self.weight_decay else ""
        return f"{type(self).__name__}(lr={self.lr}{extra}{wd})"


class SGD(Optimizer):
    """Gradient descent, optionally with momentum.

    ``momentum=0``: θ ← θ − η ∇.
    ``momentum=μ > 0`` (Polyak's heavy ball): v ← μ v − η ∇, θ ← θ + v.
    ``nesterov=True``: Nesterov's accelerated gradient. Sutskever et al. (2013) write it
    as the momentum method v ← μ v − η ∇𝓛(θ + μ v), θ ← θ + v, whose gradient is taken
    at the look-ahead point θ + μ v. dlkit implements the look-ahead form of Bengio,
    Boulanger-Lewandowski and Pascanu (2013): the stored parameters are that look-ahead
    point, ∇ is the gradient at them, and v ← μ v − η ∇, θ ← θ + μ v − η ∇ (as
    ``torch.optim.SGD(nesterov=True)``).
    """

    hyper = ("momentum",)

    def __init__(
        self,
        params,
        lr: float = 0.01,
        momentum: float = 0.0,
        *,
        nesterov: bool = False,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr, weight_decay=weight_decay)
        self.momentum = _check_rate("momentum", momentum)
        if nesterov and self.momentum == 0:
            raise ValueError("nesterov=True needs a momentum > 0, e.g. momentum=0.9")
        self.nesterov = bool(nesterov)

    def update(self, p: Param, state: dict) -> None:
        grad = self._grad(p)  # ∇ (plus λθ with weight decay)
        if self.momentum == 0:
            p.data -= self.lr * grad  # θ ← θ − η ∇
            return
        v = self._buffer(state, "v", p)
        v *= self.momentum  # v ← μ v − η ∇
        v -= self.lr * grad
        if self.nesterov:  # θ ← θ + μ v − η ∇ (θ is the look-ahead point)
            p.data += self.momentum * v - self.lr * grad
        else:  # θ ← θ + v
            p.data += v

    def __repr__(self) -> str:
        r = super().__repr__()
        return r[:-1] + ", nesterov=True)" if self.nesterov else r


class Momentum(SGD):
    """SGD with Polyak's momentum μ (default 0.9): v ← μ v − η ∇, θ ← θ + v."""

    def __init__(
        self, params, lr: float = 0.01, momentum: float = 0.9, *, weight_decay: float = 0.0
    ):
        super().__init__(params, lr, momentum, weight_decay=weight_decay)


class Nesterov(SGD):
    """SGD with Nesterov's accelerated gradient (momentum μ, default 0.9).

    The look-ahead form of :class:`SGD` with ``nesterov=True``: v ← μ v − η ∇,
    θ ← θ + μ v − η ∇, with ∇ taken at the stored parameters.
    """

    def __init__(
        self, params, lr: float = 0.01, momentum: float = 0.9, *, weight_decay: float = 0.0
    ):
        super().__init__(params, lr, momentum, nesterov=True, weight_decay=weight_decay)


class AdaGrad(Optimizer):
    """G ← G + ∇ ⊙ ∇, θ ← θ − η ∇ / (√G + ε): each coordinate's step shrinks with its history."""

    hyper = ("eps",)

    def __init__(self, params, lr: float = 0.01, *, eps: float = 1e-10, weight_decay: float = 0.0):
        super().__init__(params, lr, weight_decay=weight_decay)
        self.eps = _check_rate("eps", eps, 0.0, 1.0, open_low=True)

    def update(self, p: Param, state: dict) -> None:
        grad = self._grad(p)
        G = self._buffer(state, "G", p)
        G += grad * grad  # G ← G + ∇ ⊙ ∇
        p.data -= self.lr * grad / (np.sqrt(G) + self.eps)  # θ ← θ − η ∇ / (√G + ε)


class RMSProp(Optimizer):
    """E ← β₂ E + (1 − β₂) ∇ ⊙ ∇, θ ← θ − η ∇ / (√E + ε): AdaGrad with a leaky average.

    The decay rate β₂ of E is the argument ``rho`` (Tieleman and Hinton's ρ).
    """

    hyper = ("rho", "eps")

    def __init__(
        self,
        params,
        lr: float = 0.01,
        rho: float = 0.99,
        *,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
    ):
        super().__init__(params, lr, weight_decay=weight_decay)
        self.rho = _check_rate("rho", rho)
        self.eps = _check_rate("eps", eps, 0.0, 1.0, open_low=True)

    def update(self, p: Param, state: dict) -> None:
        grad = self._grad(p)
        E = self._buffer(state, "E", p)
        E *= self.rho  # E ← β₂ E + (1 − β₂) ∇ ⊙ ∇, with β₂ = rho
        E += (1 - self.rho) * (grad * grad)
        p.data -= self.lr * grad / (np.sqrt(E) + self.eps)  # θ ← θ − η ∇ / (√E + ε)


class Adam(Optimizer):
    """Adam (Kingma & Ba 2015): momentum on ∇ and RMSProp on ∇ ⊙ ∇, both bias-corrected.

    v ← β₁ v + (1 − β₁) ∇;  E ← β₂ E + (1 − β₂) ∇ ⊙ ∇;
    v̂ = v / (1 − β₁ᵗ);  Ê = E / (1 − β₂ᵗ);  θ ← θ − η v̂ / (√Ê + ε).

    v is the running mean of the gradients (the first moment, Kingma and Ba's m) and E
    that of their squares (the second moment, their v); they are kept per parameter as
    ``state[i]["v"]`` and ``state[i]["E"]``. :meth:`load_state_dict` also accepts a state
    saved under the paper's names (``m`` the first moment, ``v`` the second).

    ``weight_decay`` adds λθ to ∇ (L2 regularisation, as in the paper and in
    ``torch.optim.Adam``); ``decoupled=True`` instead shrinks θ ← θ − ηλθ apart from the
    adaptive step (AdamW, Loshchilov & Hutter, arXiv:1711.05101).
    """

    hyper = ("beta1", "beta2", "eps")

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        *,
        eps: float = 1e-8,
        weight_decay: float = 0.0,
        decoupled: bool = False,
    ):
        super().__init__(params, lr, weight_decay=weight_decay)
        self.beta1, self.beta2 = _check_betas(betas)
        self.eps = _check_rate("eps", eps, 0.0, 1.0, open_low=True)
        self.decoupled = bool(decoupled)

    @property
    def betas(self) -> tuple[float, float]:
        return (self.beta1, self.beta2)

    def update(self, p: Param, state: dict) -> None:
        if self.decoupled:  # AdamW: θ ← θ − ηλθ, apart from the adaptive step
            grad = p.grad
            if self.weight_decay:
                p.data *= 1 - self.lr * self.weight_decay
        else:
            grad = self._grad(p)  # ∇ (plus λθ with weight decay)
        v = self._buffer(state, "v", p)
        E = self._buffer(state, "E", p)
        b1, b2, t = self.beta1, self.beta2, self.t
        v *= b1  # v ← β₁ v + (1 − β₁) ∇
        v += (1 - b1) * grad
        E *= b2  # E ← β₂ E + (1 − β₂) ∇ ⊙ ∇
        E += (1 - b2) * (grad * grad)
        # η v̂ / (√Ê + ε) with v̂ = v/(1 − β₁ᵗ), Ê = E/(1 − β₂ᵗ)
        step = self.lr / (1 - b1**t)
        denom = np.sqrt(E)
        denom /= np.sqrt(1 - b2**t)
        denom += self.eps
        p.data -= step * v / denom

    def _checked_state(self, state) -> dict:
        """As for every optimizer, after renaming the buffers of a state saved under
        Kingma and Ba's names (``m`` the first moment, ``v`` the second) to ``v``, ``E``."""
        new = super()._checked_state(_with_book_names(state))
        for i, buffers in enumerate(new["buffers"]):
            extra = sorted(set(buffers) - {"v", "E"})
            if extra:
                raise ValueError(
                    f"{type(self).__name__}.load_state_dict: parameter {i} has buffers "
                    f"{extra} besides v and E; a state holds either the paper's names "
                    "(m, v) or the book's (v, E), not both: save it again with state_dict()"
                )
        return new


class AdamW(Adam):
    """Adam with decoupled weight decay (default λ = 0.01), as in ``torch.optim.AdamW``."""

    def __init__(
        self,
        params,
        lr: float = 1e-3,
        betas: tuple[float, float] = (0.9, 0.999),
        *,
        eps: float = 1e-8,
        weight_decay: float = 0.01,
    ):
        super().__init__(params, lr, betas, eps=eps, weight_decay=weight_decay, decoupled=True)


#: Adam's buffers under Kingma and Ba's names -> the book's (and dlkit's) names
_PAPER_NAMES = {"m": "v", "v": "E"}


def _with_book_names(state):
    """`state` with ``state.<i>.m`` renamed ``state.<i>.v`` and ``state.<i>.v`` renamed
    ``state.<i>.E`` if it was saved under the paper's names (it has an ``m`` buffer and
    no ``E``); any other state is returned unchanged, for the usual checks."""
    if not isinstance(state, Mapping) or not all(isinstance(k, str) for k in state):
        return state
    names = {k.rpartition(".")[2] for k in state if k.startswith("state.")}
    if "m" not in names or "E" in names:
        return state
    out = {}
    for key, value in state.items():
        head, _, name = key.rpartition(".")
        if key.startswith("state.") and key.count(".") == 2:
            key = f"{head}.{_PAPER_NAMES.get(name, name)}"
        out[key] = value
    return out


def _is_count(v) -> bool:
    """A number an optimizer keeps besides its hyper-parameters (int or float, not bool)."""
    return isinstance(v, (int, float)) and not isinstance(v, bool)


def _state_scalar(state, key: str, who: str) -> np.ndarray:
    v = np.asarray(state[key])
    if v.ndim != 0 or v.dtype.kind not in "iuf":
        raise ValueError(f"{who}.load_state_dict: {key!r} must be one real number, got {v!r}")
    return v


def _checked_hyper(name: str, value) -> float | tuple[float, ...]:
    v = np.asarray(value)
    if v.dtype.kind not in "iuf":
        raise ValueError(f"optimizer state: {name} must hold real numbers, got {v!r}")
    low, high, open_low = _RANGES.get(name, (-np.inf, np.inf, False))
    vals = [check_rate(name, float(x), low, high, open_low) for x in v.reshape(-1)]
    return tuple(vals) if v.ndim else vals[0]


OPTIMIZERS: dict[str, type[Optimizer]] = {
    "sgd": SGD,
    "momentum": Momentum,
    "nesterov": Nesterov,
    "adagrad": AdaGrad,
    "rmsprop": RMSProp,
    "adam": Adam,
    "adamw": AdamW,
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


# On a GPU backend (cuda, cudasim, cupy) SGD, Momentum and Nesterov update on the device
# (dlkit.nn.device).
device.runs_on_device(SGD, update="sgd_update")
