"""Figures and the explorer of chapter 4: losses, learning rates and optimizers.

The trajectories are made by dlkit's real optimizers (:mod:`dlkit.optim`) acting on
a 2-element :class:`dlkit.nn.Param` whose gradient is the surface's exact gradient, so
what the figures show is what training does.

- :data:`SURFACES`: a ravine, a saddle point and a surface with a local minimum;
- :func:`optimize` runs one optimizer on one surface; :func:`race` runs several;
- :func:`plot_race` draws trajectories side by side, :func:`plot_learning_rates` the
  three regimes of α on a parabola, :func:`plot_loss_curves` loss per step;
- :func:`gradient_noise` measures how the mini-batch gradient scatters around the
  full-batch gradient as the batch size b grows;
- :func:`optimizer_explorer`: optimizer, learning rate, momentum -> trajectory and loss.

Figures are ``matplotlib.figure.Figure`` objects (no pyplot state); :func:`show`
displays one as a PNG, also inside a widget's ``Output``.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable, Sequence

import numpy as np
from matplotlib.figure import Figure

from dlkit.viz.display import png, show, show_in  # noqa: F401 - re-exported

from dlkit import optim
from dlkit.nn import Param

COLORS = {"sgd": "#1f77b4", "momentum": "#ff7f0e", "nesterov": "#2ca02c", "adagrad": "#d62728",
          "rmsprop": "#9467bd", "adam": "#8c564b", "adamw": "#e377c2"}


# ------------------------------------------------------------------------ surfaces


@dataclass(frozen=True)
class Surface:
    """A 2-D loss surface f(θ) with its gradient, a start point and a plotting window."""

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


# A ravine: f = 0.05 x² + 2 y², curvatures 0.1 and 4 (condition number 40).
RAVINE = Surface(
    "ravine", lambda x, y: 0.05 * x**2 + 2 * y**2,
    lambda t: np.array([0.1 * t[0], 4 * t[1]]),
    start=(-9.0, 1.5), xlim=(-10, 2), ylim=(-2.5, 2.5), minimum=(0.0, 0.0),
    note="curvatures 0.1 and 4: steep walls, a shallow floor",
    lrs={"sgd": 0.45, "momentum": 0.1, "nesterov": 0.1, "adagrad": 1.5, "rmsprop": 0.1,
         "adam": 0.5})

# A saddle point at the origin between two minima at (0, ±1):
# f = x²/2 + y⁴/4 − y²/2; it starts almost on the ridge y = 0.
SADDLE = Surface(
    "saddle", lambda x, y: 0.5 * x**2 + 0.25 * y**4 - 0.5 * y**2,
    lambda t: np.array([t[0], t[1] ** 3 - t[1]]),
    start=(2.0, 1e-6), xlim=(-2.5, 2.5), ylim=(-1.6, 1.6), minimum=(0.0, 1.0),
    note="a saddle at (0, 0), minima at (0, ±1)",
    lrs={"sgd": 0.05, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.5, "rmsprop": 0.05,
         "adam": 0.1})

# A local minimum near x = 1.35 beside the global one near x = −1.47:
# f = (x⁴ − 4x² + x)/4 + y²/2.
LOCAL = Surface(
    "local minimum", lambda x, y: (x**4 - 4 * x**2 + x) / 4 + 0.5 * y**2,
    lambda t: np.array([(4 * t[0] ** 3 - 8 * t[0] + 1) / 4, t[1]]),
    start=(2.3, 1.2), xlim=(-2.5, 2.8), ylim=(-1.6, 1.6), minimum=(-1.473, 0.0),
    note="global minimum at x ≈ −1.47, a local one at x ≈ 1.35",
    lrs={"sgd": 0.05, "momentum": 0.05, "nesterov": 0.05, "adagrad": 0.5, "rmsprop": 0.05,
         "adam": 0.1})

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


def _surface(surface: Surface | str) -> Surface:
    if isinstance(surface, Surface):
        return surface
    if surface not in SURFACES:
        raise ValueError(f"unknown surface {surface!r}: choose one of {', '.join(SURFACES)}")
    return SURFACES[surface]


def optimize(surface: Surface | str, name: str = "sgd", lr: float | None = None,
             steps: int = 100, **kwargs) -> Run:
    """Run dlkit's optimizer `name` for `steps` steps on `surface` from its start point.

    `lr` defaults to the surface's suggestion; other keyword arguments (momentum,
    betas...) go to the optimizer. A run that overflows stops where it left the plane.
    """
    s = _surface(surface)
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


def race(surface: Surface | str, names: Sequence[str] = OPTIMIZER_NAMES,
         steps: int = 100) -> list[Run]:
    """Every optimizer in `names` on `surface` with the surface's suggested learning rate."""
    return [optimize(surface, n, steps=steps) for n in names]


def race_table(runs_by_surface: dict[str, list[Run]]) -> str:
    """Final loss of each optimizer on each surface, as fixed-width text."""
    names = [r.name for r in next(iter(runs_by_surface.values()))]
    head = f"{'optimizer':<10}" + "".join(f"{s:>16}" for s in runs_by_surface)
    lines = [head, "-" * len(head)]
    for i, n in enumerate(names):
        cells = "".join(f"{runs[i].loss[-1]:>16.4f}" for runs in runs_by_surface.values())
        lines.append(f"{n:<10}{cells}")
    return "\n".join(lines)


def _contours(ax, s: Surface, levels: int = 25) -> None:
    x = np.linspace(*s.xlim, 200)
    y = np.linspace(*s.ylim, 160)
    X, Y = np.meshgrid(x, y)
    Z = s.f(X, Y)
    ax.contourf(X, Y, Z, levels=levels, cmap="Greys", alpha=0.35)
    ax.contour(X, Y, Z, levels=levels, colors="grey", linewidths=0.4)
    ax.plot(*s.minimum, marker="*", color="gold", markersize=14, markeredgecolor="k")
    ax.plot(*s.start, marker="o", color="k", markersize=5)
    ax.set_xlim(*s.xlim)
    ax.set_ylim(*s.ylim)


def plot_race(surfaces: Sequence[str] = tuple(SURFACES), names: Sequence[str] = OPTIMIZER_NAMES,
              steps: int = 100) -> Figure:
    """Trajectories of every optimizer on each surface, one panel per surface."""
    fig = Figure(figsize=(5.2 * len(surfaces), 4.2))
    axes = fig.subplots(1, len(surfaces), squeeze=False)[0]
    for ax, sname in zip(axes, surfaces):
        s = _surface(sname)
        _contours(ax, s)
        for r in race(s, names, steps):
            ax.plot(r.path[:, 0], r.path[:, 1], ".-", color=COLORS.get(r.name), lw=1.2, ms=2.5,
                    label=f"{r.name} (α={r.lr:g})")
        ax.set_title(f"{s.name}: {s.note}", fontsize=9)
        ax.set_xlabel("θ₁")
        ax.set_ylabel("θ₂")
    axes[0].legend(fontsize=7, loc="lower left")
    fig.suptitle(f"{steps} steps of each optimizer from the black dot (star: best minimum)")
    fig.tight_layout()
    return fig


def plot_learning_rates(a: float = 1.0, lrs: Sequence[float] = (0.1, 0.9, 2.1),
                        steps: int = 12, theta0: float = 2.0) -> Figure:
    """Gradient descent on f(θ) = a θ²/2 with a small, a good and a too-large α.

    Each step multiplies θ by (1 − αa): it shrinks slowly for small α, quickly for
    α ≈ 1/a, and grows (diverges, oscillating) for α > 2/a.
    """
    fig = Figure(figsize=(4.2 * len(lrs), 3.4))
    axes = fig.subplots(1, len(lrs), squeeze=False)[0]
    t = np.linspace(-abs(theta0) * 1.6, abs(theta0) * 1.6, 200)
    for ax, lr in zip(axes, lrs):
        theta = Param(np.array([theta0]), "theta")
        opt = optim.SGD([theta], lr=lr)
        path = [theta0]
        for _ in range(steps):
            theta.grad[...] = a * theta.data
            opt.step()
            path.append(float(theta.data[0]))
        path = np.clip(np.array(path), t[0], t[-1])
        ax.plot(t, a * t**2 / 2, color="grey")
        ax.plot(path, a * path**2 / 2, "o-", color="C3", ms=4, lw=1)
        regime = "too small" if lr * a < 0.5 else ("good" if lr * a < 2 else "too large")
        ax.set_title(f"α = {lr:g} ({regime}): θ ← (1 − αa) θ = {1 - lr * a:+.1f} θ", fontsize=9)
        ax.set_xlabel("θ")
    axes[0].set_ylabel("f(θ) = aθ²/2")
    fig.tight_layout()
    return fig


def plot_loss_curves(runs: Sequence[Run], ax=None, *, title: str = "") -> Figure:
    """Loss per step of each run (log scale, shifted so the minimum value is 0 if needed)."""
    fig = None
    if ax is None:
        fig = Figure(figsize=(5, 3.4))
        ax = fig.subplots()
    floor = min(float(np.nanmin(r.loss)) for r in runs)
    shift = -floor + 1e-8 if floor <= 0 else 0.0
    for r in runs:
        ax.semilogy(r.loss + shift, color=COLORS.get(r.name), label=r.name)
    ax.set_xlabel("step")
    ax.set_ylabel("loss" + (f" + {shift:.3g}" if shift else ""))
    if title:
        ax.set_title(title, fontsize=9)
    ax.legend(fontsize=7)
    if fig is not None:
        fig.tight_layout()
    return fig if fig is not None else ax.figure


# ------------------------------------------------------------------ mini-batch noise


def gradient_noise(model, loss_fn, X: np.ndarray, y: np.ndarray,
                   batch_sizes: Sequence[int] = (1, 4, 16, 64, 256), *, draws: int = 50,
                   seed: int = 0) -> dict[int, float]:
    """Mean squared distance between a mini-batch gradient and the full-batch gradient.

    For each b, `draws` batches of b examples (without replacement) are drawn with a
    seeded generator; for each, forward/backward gives the mini-batch gradient ĝ_b (the
    average of b per-example gradients, since losses average over the batch). Returns
    b -> E||ĝ_b − g||², which falls roughly as 1/b (exactly (1/b)(N−b)/(N−1) times the
    per-example variance for sampling without replacement).
    """
    from dlkit import rng as _rng

    def grad(xb, yb) -> np.ndarray:
        loss_fn.forward(model.forward(xb), yb)
        model.backward(loss_fn.backward())
        return np.concatenate([p.grad.ravel() for p in model.parameters()])

    full = grad(X, y)
    g = _rng(seed)
    out = {}
    for b in batch_sizes:
        d = [np.sum((grad(X[i], y[i]) - full) ** 2)
             for i in (g.choice(len(X), size=b, replace=False) for _ in range(draws))]
        out[int(b)] = float(np.mean(d))
    return out


def plot_gradient_noise(noise: dict[int, float]) -> Figure:
    """E||ĝ_b − g||² against b on log-log axes, beside the 1/b line through b = 1."""
    b = np.array(list(noise))
    v = np.array(list(noise.values()))
    fig = Figure(figsize=(4.6, 3.4))
    ax = fig.subplots()
    ax.loglog(b, v, "o-", label="measured")
    ax.loglog(b, v[0] * b[0] / b, "--", color="grey", label="∝ 1/b")
    ax.set_xlabel("batch size b")
    ax.set_ylabel("E‖ĝ_b − g‖²")
    ax.legend()
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------- explorer


def plot_run(s: Surface, run: Run) -> Figure:
    """Trajectory on the contours (left) and loss per step (right) of one run."""
    fig = Figure(figsize=(9.6, 3.8))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    _contours(ax1, s)
    ax1.plot(run.path[:, 0], run.path[:, 1], ".-", color=COLORS.get(run.name), lw=1.2, ms=3)
    ax1.set_title(f"{s.name}: {run.name}, α = {run.lr:g}", fontsize=9)
    plot_loss_curves([run], ax2, title=f"final loss {run.loss[-1]:.4f} after "
                                       f"{len(run.path) - 1} steps")
    fig.tight_layout()
    return fig


def optimizer_explorer(surface: str = "ravine", name: str = "momentum", lr: float = 0.1,
                       momentum: float = 0.9, steps: int = 100):
    """Widget: surface, optimizer, learning rate, momentum -> trajectory and loss curve.

    Momentum applies to SGD/Momentum/Nesterov (μ) and to Adam (as β₁). The first
    view is drawn when the widget is created, so a saved notebook shows it.
    Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as w

    surf = w.Dropdown(options=list(SURFACES), value=surface, description="surface")
    opt = w.Dropdown(options=list(OPTIMIZER_NAMES), value=name, description="optimizer")
    rate = w.FloatLogSlider(value=lr, base=10, min=-3, max=0.5, step=0.05, description="α",
                            continuous_update=False, readout_format=".3g")
    mom = w.FloatSlider(value=momentum, min=0.0, max=0.99, step=0.01, description="μ / β₁",
                        continuous_update=False)
    out = w.Output()

    def draw(*_):
        kw = {}
        if opt.value == "sgd" and mom.value > 0:
            kw["momentum"] = mom.value
        elif opt.value in ("momentum", "nesterov"):
            kw["momentum"] = max(mom.value, 0.01)
        elif opt.value in ("adam", "adamw"):
            kw["betas"] = (mom.value, 0.999)
        s = SURFACES[surf.value]
        run = optimize(s, opt.value, rate.value, steps=steps, **kw)
        show_in(out, plot_run(s, run))

    for c in (surf, opt, rate, mom):
        c.observe(draw, names="value")
    draw()
    return w.VBox([w.HBox([surf, opt]), w.HBox([rate, mom]), out])
