"""Networks of growing width fitted to a 1-D function (chapter 3, *Feedforward networks*).

:func:`fit_1d` fits ``mlp([1, s_2, 1])`` (one hidden layer of s_2 units) to y = f(x)
for several widths s_2 by one recipe and returns a :class:`FunctionFits`;
:func:`dlkit.viz.networks.plot_function_fits` draws it.
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
    """Networks of several widths s_2 fitted to the same 1-D function.

    ``mse[s_2]`` is the book's mean squared error of the width-s_2 network on the N
    training points, 𝓛 = (1/N) Σ_n ½ (ŷ_n - y_n)² (the value of :class:`dlkit.nn.MSELoss`,
    with the ½).
    """

    x: np.ndarray  # (N, 1) training inputs
    y: np.ndarray  # (N, 1) targets f(x)
    widths: list[int]  # the hidden widths s_2
    predictions: dict[int, np.ndarray]  # s_2 -> (N, 1) network output ŷ
    mse: dict[int, float]  # s_2 -> 𝓛 = (1/N) Σ_n ½ (ŷ_n - y_n)², MSELoss
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
    """Fit ``mlp([1, s_2, 1], activation)`` to y = f(x) for each width s_2 in `widths`,
    by the same recipe.

    Mini-batch SGD (batch size B = `batch_size`) on :class:`dlkit.nn.MSELoss`: `epochs`
    epochs at η = `lr`, then `decay_epochs` more at η / 10 so the final weights are not
    left jittering at the end of a noisy step. x is `n` (= N) evenly spaced points of
    `interval`.

    Returns a :class:`FunctionFits` whose ``mse[s_2]`` is the mean squared error
    𝓛 = (1/N) Σ_n ½ (ŷ_n - y_n)² of the width-s_2 network on the training points, the
    value MSELoss reports.
    """
    x = np.linspace(interval[0], interval[1], n)[:, None]
    y = np.asarray(f(x), dtype=np.float64).reshape(n, 1)
    preds, mse, models = {}, {}, {}
    loss = nn.MSELoss()  # 𝓛 = (1/N) Σ_n ½ (ŷ_n - y_n)²
    for w in widths:  # w is the hidden width s_2
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
        mse[int(w)] = loss.forward(preds[int(w)], y)
        models[int(w)] = model
    return FunctionFits(x, y, [int(w) for w in widths], preds, mse, models)
