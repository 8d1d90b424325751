"""Optimizers on loss surfaces, and the noise of mini-batch gradients (chapter 4).

The trajectories are made by dlkit's real optimizers (:mod:`dlkit.optim`) acting on
a 2-element :class:`dlkit.nn.Param` whose gradient is the surface's exact gradient, so
what the figures show is what training does.

- :data:`SURFACES`: a ravine, a saddle point and a surface with a local minimum;
- :func:`optimize` runs one optimizer on one surface; :func:`race` runs several;
- :func:`learning_rate_path`: gradient descent on the parabola f(θ) = aθ²/2;
- :func:`gradient_noise` measures how the mini-batch gradient ∇̂_B scatters around the
  full-batch gradient ∇ as the mini-batch size B grows.

The notation is the book's: θ the parameters, η the learning rate (``lr``), ∇ a
gradient, B the mini-batch size, N the number of examples.

:mod:`dlkit.viz.optimizers` draws the results.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np

from dlkit import optim
from dlkit.nn import Param

# ------------------------------------------------------------------------ surfaces


@dataclass(frozen=True)
class Surface:
    """A 2-D loss surface with its gradient, a start point and a plotting window.

    ``f(θ₁, θ₂)`` takes the two coordinates (arrays too, for contour plots), ``grad(θ)``
    the 2-vector θ and returns ∇f(θ); calling the surface on θ gives f(θ).
    """

    name: str
    f: Callable[[np.ndarray, np.ndarray], np.ndarray]
    grad: Callable[[np.ndarray], np.ndarray]
    start: tuple[float, float]
    xlim: tuple[float, float]
    ylim: tuple[float, float]
    minimum: tuple[float, float]
    note: str = ""
    #: suggested learning rate per optimizer on this surface
    lrs: dict = field(default_factory=dict)

    def __call__(self, theta: np.ndarray) -> float:
        return float(self.f(theta[0], theta[1]))


# A ravine: f = 0.05 θ₁² + 2 θ₂², curvatures 0.1 and 4 (condition number 40).
RAVINE = Surface(
    "ravine",
    lambda t1, t2: 0.05 * t1**2 + 2 * t2**2,
    lambda t: np.array([0.1 * t[0], 4 * t[1]]),
    start=(-9.0, 1.5),
    xlim=(-10, 2),
    ylim=(-2.5, 2.5),
    minimum=(0.0, 0.0),
    note="curvatures 0.1 and 4: steep walls, a shallow floor",
    lrs={
        "sgd": 0.45,
        "momentum": 0.1,
        "nesterov": 0.1,
        "adagrad": 1.5,
        "rmsprop": 0.1,
        "adam": 0.5,
    },
)

# A saddle point at the origin between two minima at (0, ±1):
# f = θ₁²/2 + θ₂⁴/4 − θ₂²/2; it starts almost on the ridge θ₂ = 0.
SADDLE = Surface(
    "saddle",
    lambda t1, t2: 0.5 * t1**2 + 0.25 * t2**4 - 0.5 * t2**2,
    lambda t: np.array([t[0], t[1] ** 3 - t[1]]),
    start=(2.0, 1e-6),
    xlim=(-2.5, 2.5),
    ylim=(-1.6, 1.6),
    minimum=(0.0, 1.0),
    note="a saddle at (0, 0), minima at (0, ±1)",
    lrs={
        "sgd": 0.05,
        "momentum": 0.05,
        "nesterov": 0.05,
        "adagrad": 0.5,
        "rmsprop": 0.05,
        "adam": 0.1,
    },
)

# A local minimum near θ₁ = 1.35 beside the global one near θ₁ = −1.47:
# f = (θ₁⁴ − 4θ₁² + θ₁)/4 + θ₂²/2.
LOCAL = Surface(
    "local minimum",
    lambda t1, t2: (t1**4 - 4 * t1**2 + t1) / 4 + 0.5 * t2**2,
    lambda t: np.array([(4 * t[0] ** 3 - 8 * t[0] + 1) / 4, t[1]]),
    start=(2.3, 1.2),
    xlim=(-2.5, 2.8),
    ylim=(-1.6, 1.6),
    minimum=(-1.473, 0.0),
    note="global minimum at θ₁ ≈ −1.47, a local one at θ₁ ≈ 1.35",
    lrs={
        "sgd": 0.05,
        "momentum": 0.05,
        "nesterov": 0.05,
        "adagrad": 0.5,
        "rmsprop": 0.05,
        "adam": 0.1,
    },
)

SURFACES: dict[str, Surface] = {"ravine": RAVINE, "saddle": SADDLE, "local minimum": LOCAL}
OPTIMIZER_NAMES = ("sgd", "momentum", "nesterov", "adagrad", "rmsprop", "adam")


@dataclass
class Run:
    """One optimizer's trajectory: positions (steps+1, 2) and losses (steps+1,)."""

    name: str
    lr: float
    path: np.ndarray
    loss: np.ndarray

    @property
    def final(self) -> np.ndarray:
        return self.path[-1]


def get_surface(surface: Surface | str) -> Surface:
    """`surface` itself, or the entry of :data:`SURFACES` with that name."""
    if isinstance(surface, Surface):
        return surface
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}: choose one of {', '.join(SURFACES)}")
    return SURFACES[surface]


def optimize(
    surface: Surface | str, name: str = "sgd", lr: float | None = None, steps: int = 100, **kwargs
) -> Run:
    """Run dlkit's optimizer `name` for `steps` steps on `surface` from its start point.

    `lr` defaults to the surface's suggestion; other keyword arguments (momentum,
    betas...) go to the optimizer. A run that overflows stops where it left the plane.
    """
    s = get_surface(surface)
    lr = s.lrs.get(name, 0.1) if lr is None else lr
    theta = Param(np.array(s.start, dtype=np.float64), "theta")
    opt = optim.get_optimizer(name, [theta], lr=lr, **kwargs)
    path = [theta.data.copy()]
    with np.errstate(over="ignore", invalid="ignore"):
        for _ in range(steps):
            theta.grad[...] = s.grad(theta.data)
            opt.step()
            if not np.all(np.isfinite(theta.data)) or np.abs(theta.data).max() > 1e6:
                break
            path.append(theta.data.copy())
    path = np.array(path)
    with np.errstate(over="ignore", invalid="ignore"):
        loss = s.f(path[:, 0], path[:, 1])
    return Run(name, lr, path, loss)


def race(
    surface: Surface | str, names: Sequence[str] = OPTIMIZER_NAMES, steps: int = 100
) -> list[Run]:
    """Every optimizer in `names` on `surface` with the surface's suggested learning rate."""
    return [optimize(surface, n, steps=steps) for n in names]


def learning_rate_path(
    a: float = 1.0, lr: float = 0.1, steps: int = 12, theta0: float = 2.0
) -> np.ndarray:
    """θ before and after each of `steps` steps of SGD on f(θ) = a θ²/2: shape (steps+1,).

    The gradient is aθ, so each step multiplies θ by (1 − ηa), with η = `lr`: θ creeps
    towards 0 for small η, gets there in one step for η = 1/a, overshoots but converges
    (its sign alternating) for 1/a < η < 2/a, and grows, oscillating, for η > 2/a.
    """
    theta = Param(np.array([theta0]), "theta")
    opt = optim.SGD([theta], lr=lr)
    path = [theta0]
    for _ in range(steps):
        theta.grad[...] = a * theta.data  # ∇f(θ) = aθ
        opt.step()  # θ ← θ − η aθ = (1 − ηa) θ
        path.append(float(theta.data[0]))
    return np.array(path)


# ------------------------------------------------------------------ mini-batch noise


def gradient_noise(
    model,
    loss_fn,
    X: np.ndarray,
    y: np.ndarray,
    batch_sizes: Sequence[int] = (1, 4, 16, 64, 256),
    *,
    draws: int = 50,
    seed: int = 0,
) -> dict[int, float]:
    """Mean squared distance between a mini-batch gradient and the full-batch gradient.

    ∇ is the gradient of the loss 𝓛 over all N examples of `X`. For each mini-batch
    size B in `batch_sizes`, `draws` batches of B examples (without replacement) are
    drawn with a seeded generator; for each, forward and backward give the mini-batch
    gradient ∇̂_B, the mean of B per-example gradients (dlkit's losses average over
    their batch). Returns {B: E‖∇̂_B − ∇‖²}, which falls roughly as 1/B (exactly
    (1/B)(N − B)/(N − 1) times the per-example variance, for sampling without
    replacement).
    """
    from dlkit import rng as _rng

    def grad(xb, yb) -> np.ndarray:
        loss_fn.forward(model.forward(xb), yb)
        model.backward(loss_fn.backward())
        return np.concatenate([p.grad.ravel() for p in model.parameters()])

    full = grad(X, y)  # ∇, over all N examples
    gen = _rng(seed)
    out = {}
    for B in batch_sizes:
        d = [
            np.sum((grad(X[i], y[i]) - full) ** 2)  # ‖∇̂_B − ∇‖²
            for i in (gen.choice(len(X), size=B, replace=False) for _ in range(draws))
        ]
        out[int(B)] = float(np.mean(d))
    return out
