"""Networks of growing width fitted to a 1-D function (chapter 3, *Feedforward networks*).

:func:`fit_1d` fits ``mlp([1, w, 1])`` to y = f(x) for several widths w by one recipe
and returns a :class:`FunctionFits`; :func:`dlkit.viz.networks.plot_function_fits`
draws it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

from dlkit import nn
from dlkit.optim import SGD
from dlkit.train import fit


@dataclass
class FunctionFits:
    """Networks of several widths fitted to the same 1-D function."""

    x: np.ndarray  # (n, 1) training inputs
    y: np.ndarray  # (n, 1) targets f(x)
    widths: list[int]
    predictions: dict[int, np.ndarray]  # width -> (n, 1) network output
    mse: dict[int, float]  # width -> mean of (ŷ - y)^2 over the n points
    models: dict[int, nn.Sequential]


def fit_1d(
    widths: Sequence[int] = (1, 2, 4, 8, 32),
    f: Callable = np.sin,
    *,
    interval: tuple[float, float] = (-np.pi, np.pi),
    n: int = 64,
    activation: str = "tanh",
    lr: float = 0.2,
    epochs: int = 600,
    decay_epochs: int = 150,
    batch_size: int = 16,
    seed: int = 0,
) -> FunctionFits:
    """Fit ``mlp([1, w, 1], activation)`` to y = f(x) for each width w, by the same recipe.

    Mini-batch SGD on the loss MSELoss (½ squared error): `epochs` epochs at `lr`, then
    `decay_epochs` more at lr / 10 so the final weights are not left jittering at the
    end of a noisy step. x is `n` evenly spaced points of `interval`.

    Returns a :class:`FunctionFits` whose ``mse[w]`` is the mean squared error
    (1/n) Σ (ŷ_i - y_i)² of the width-w network on the training points.
    """
    x = np.linspace(interval[0], interval[1], n)[:, None]
    y = np.asarray(f(x), dtype=np.float64).reshape(n, 1)
    preds, mse, models = {}, {}, {}
    for w in widths:
        model = nn.mlp([1, int(w), 1], activation, seed=seed)
        opt = SGD(model.parameters(), lr=lr)
        fit(model, nn.MSELoss(), opt, x, y, epochs=epochs, batch_size=batch_size, seed=seed)
        if decay_epochs:
            opt.lr = lr / 10
            fit(
                model,
                nn.MSELoss(),
                opt,
                x,
                y,
                epochs=decay_epochs,
                batch_size=batch_size,
                seed=seed + 1,
            )
        model.eval()
        preds[int(w)] = model.forward(x)
        mse[int(w)] = float(np.mean((preds[int(w)] - y) ** 2))
        models[int(w)] = model
    return FunctionFits(x, y, [int(w) for w in widths], preds, mse, models)
