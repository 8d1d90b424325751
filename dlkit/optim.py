"""Optimizers: they update each Param's ``data`` in place from its ``grad``.

    opt = SGD(model.parameters(), lr=0.1)
    ...forward, loss, backward...
    opt.step()

``step()`` applies one update; ``zero_grad()`` clears the gradients (dlkit's layers
overwrite their gradients on every backward, so this is only needed when gradients
are accumulated by hand).
"""

from __future__ import annotations

from typing import Iterable

import numpy as np

from dlkit.nn.core import Layer, Param, parameters_of


class Optimizer:
    """Base class: holds the Params and a per-Param state dict."""

    def __init__(self, params: Layer | Iterable[Param], lr: float):
        self.params = parameters_of(params)
        if not self.params:
            raise ValueError("optimizer got no parameters: pass model.parameters()")
        if not np.isfinite(lr) or lr <= 0:
            raise ValueError(f"learning rate must be a positive number, got lr={lr}")
        self.lr = float(lr)
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
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}(lr={self.lr})"


class SGD(Optimizer):
    """Plain gradient descent: θ ← θ − α ∇θ L (α is ``lr``)."""

    def update(self, p: Param, state: dict) -> None:
        p.data -= self.lr * p.grad
