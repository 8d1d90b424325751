"""Figures and the explorer of chapter 4: losses, learning rates and optimizers.

The runs they draw are made in :mod:`dlkit.experiments.optimizers` (the surfaces,
:func:`~dlkit.experiments.optimizers.optimize`, ``race``, ``gradient_noise``); their
old names here still work, listed in ``_MOVED``.

- :func:`plot_race` draws trajectories side by side, :func:`race_table` their final
  losses, :func:`plot_learning_rates` the regimes of the learning rate η on a parabola,
  :func:`plot_loss_curves` loss per step, :func:`plot_run` one run;
- :func:`plot_gradient_noise`: how the mini-batch gradient ∇̂_B scatters around the
  full-batch gradient ∇ as the mini-batch size B grows;
- :func:`optimizer_explorer`: optimizer, learning rate, momentum -> trajectory and loss.

Figures are ``matplotlib.figure.Figure`` objects (no pyplot state); :func:`show`
displays one as a PNG, also inside a widget's ``Output``.
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from dlkit.aliases import moved
from dlkit.viz.display import png, show, show_in  # noqa: F401 - re-exported

#: Names that moved to :mod:`dlkit.experiments.optimizers`, served lazily by
#: :func:`__getattr__`.
_MOVED = {
    name: "dlkit.experiments.optimizers"
    for name in (
        "Surface",
        "RAVINE",
        "SADDLE",
        "LOCAL",
        "SURFACES",
        "OPTIMIZER_NAMES",
        "Run",
        "optimize",
        "race",
        "gradient_noise",
    )
}

COLORS = {
    "sgd": "#1f77b4",
    "momentum": "#ff7f0e",
    "nesterov": "#2ca02c",
    "adagrad": "#d62728",
    "rmsprop": "#9467bd",
    "adam": "#8c564b",
    "adamw": "#e377c2",
}


def race_table(runs_by_surface: dict[str, list]) -> str:
    """Final loss of each optimizer on each surface, as fixed-width text."""
    names = [r.name for r in next(iter(runs_by_surface.values()))]
    head = f"{'optimizer':<10}" + "".join(f"{s:>16}" for s in runs_by_surface)
    lines = [head, "-" * len(head)]
    for i, n in enumerate(names):
        cells = "".join(f"{runs[i].loss[-1]:>16.4f}" for runs in runs_by_surface.values())
        lines.append(f"{n:<10}{cells}")
    return "\n".join(lines)


def _contours(ax, s, levels: int = 25) -> None:
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


def plot_race(runs: Mapping[str, Sequence], surfaces: Mapping) -> Figure:
    """Trajectories of every optimizer on each surface, one panel per surface.

    `runs` maps a surface's name to its race (:func:`dlkit.experiments.optimizers.race`),
    `surfaces` a name to its Surface (``dlkit.experiments.optimizers.SURFACES``).
    """
    fig = Figure(figsize=(5.2 * len(runs), 4.2))
    axes = fig.subplots(1, len(runs), squeeze=False)[0]
    for ax, (sname, race) in zip(axes, runs.items()):
        s = surfaces[sname]
        _contours(ax, s)
        for r in race:
            ax.plot(
                r.path[:, 0],
                r.path[:, 1],
                ".-",
                color=COLORS.get(r.name),
                lw=1.2,
                ms=2.5,
                label=f"{r.name} (η={r.lr:g})",
            )
        ax.set_title(f"{s.name}: {s.note}", fontsize=9)
        ax.set_xlabel("θ₁")
        ax.set_ylabel("θ₂")
    axes[0].legend(fontsize=7, loc="lower left")
    steps = len(next(iter(runs.values()))[0].path) - 1
    fig.suptitle(f"{steps} steps of each optimizer from the black dot (star: best minimum)")
    fig.tight_layout()
    return fig


def plot_learning_rates(paths: Mapping[float, np.ndarray], a: float = 1.0) -> Figure:
    """Gradient descent on f(θ) = a θ²/2, one panel per learning rate η.

    `paths` maps each learning rate η to its iterates θ_0, θ_1, ...
    (:func:`dlkit.experiments.optimizers.learning_rate_path`). Each step multiplies θ by
    (1 − ηa), and the title names the regime: θ creeps towards 0 for ηa < 1/2, gets
    (nearly) there in one step for 1/2 ≤ ηa ≤ 1, overshoots but converges for
    1 < ηa < 2, and diverges for ηa > 2.
    """
    fig = Figure(figsize=(3.7 * len(paths), 3.4))
    axes = fig.subplots(1, len(paths), squeeze=False)[0]
    theta0 = max(abs(float(p[0])) for p in paths.values())
    t = np.linspace(-theta0 * 1.6, theta0 * 1.6, 200)
    for ax, (lr, path) in zip(axes, paths.items()):
        path = np.clip(path, t[0], t[-1])
        ax.plot(t, a * t**2 / 2, color="grey")
        ax.plot(path, a * path**2 / 2, "o-", color="C3", ms=4, lw=1)
        ax.set_title(
            f"η = {lr:g}: {_regime(lr * a)}\nθ ← (1 − ηa) θ = {1 - lr * a:+.1f} θ", fontsize=9
        )
        ax.set_xlabel("θ")
    axes[0].set_ylabel("f(θ) = aθ²/2")
    fig.tight_layout()
    return fig


def _regime(eta_a: float) -> str:
    """What gradient descent on a parabola does when η times the curvature is `eta_a`."""
    if eta_a < 0.5:
        return "creeps towards 0"
    if eta_a < 1:
        return "nearly there in one step"
    if eta_a == 1:
        return "there in one step"
    if eta_a < 2:
        return "overshoots, converges"
    return "oscillates forever" if eta_a == 2 else "diverges"


def plot_loss_curves(runs: Sequence, ax=None, *, title: str = "") -> Figure:
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


def plot_gradient_noise(noise: dict[int, float]) -> Figure:
    """E‖∇̂_B − ∇‖² against the mini-batch size B on log-log axes, beside the 1/B line
    through the first point (`noise` as returned by ``gradient_noise``)."""
    B = np.array(list(noise))
    v = np.array(list(noise.values()))
    fig = Figure(figsize=(4.6, 3.4))
    ax = fig.subplots()
    ax.loglog(B, v, "o-", label="measured")
    ax.loglog(B, v[0] * B[0] / B, "--", color="grey", label=r"$\propto 1/B$")
    ax.set_xlabel("mini-batch size $B$")
    ax.set_ylabel(r"$\mathbb{E}\,\|\hat\nabla_B - \nabla\|^2$")
    ax.legend()
    fig.tight_layout()
    return fig


# ---------------------------------------------------------------------- explorer


def plot_run(s, run) -> Figure:
    """Trajectory on the contours (left) and loss per step (right) of one run.

    `s` is a :class:`~dlkit.experiments.optimizers.Surface`, `run` a ``Run`` on it.
    """
    fig = Figure(figsize=(9.6, 3.8))
    ax1, ax2 = fig.subplots(1, 2, gridspec_kw={"width_ratios": [1.4, 1]})
    _contours(ax1, s)
    ax1.plot(run.path[:, 0], run.path[:, 1], ".-", color=COLORS.get(run.name), lw=1.2, ms=3)
    ax1.set_title(f"{s.name}: {run.name}, η = {run.lr:g}", fontsize=9)
    plot_loss_curves(
        [run], ax2, title=f"final loss {run.loss[-1]:.4f} after {len(run.path) - 1} steps"
    )
    fig.tight_layout()
    return fig


def optimizer_explorer(
    surface: str = "ravine",
    name: str = "momentum",
    lr: float = 0.1,
    momentum: float = 0.9,
    steps: int = 100,
):
    """Widget: surface, optimizer, learning rate η, momentum -> trajectory and loss curve.

    Momentum applies to SGD/Momentum/Nesterov (μ) and to Adam (as β₁). Every view is
    drawn when the widget is created (η in {0.5} and `lr`, μ in {0} and
    `momentum`), so the saved page responds to the controls; settings that give the same
    run (AdaGrad and RMSProp ignore μ) share one drawing.
    Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as w

    from dlkit.experiments.optimizers import OPTIMIZER_NAMES, SURFACES, optimize
    from dlkit.viz import static

    surf = w.Dropdown(options=list(SURFACES), value=surface, description="surface")
    opt = w.Dropdown(options=list(OPTIMIZER_NAMES), value=name, description="optimizer")
    rate = w.SelectionSlider(
        options=static.grid([0.5], lr),
        value=float(lr),
        description="η",
        continuous_update=False,
    )
    mom = w.SelectionSlider(
        options=static.grid([0.0], momentum),
        value=float(momentum),
        description="μ / β₁",
        continuous_update=False,
    )
    drawn: dict[tuple, tuple] = {}

    def draw(out, surface_name, opt_name, eta, mu):
        kw = {}
        if opt_name == "sgd" and mu > 0:
            kw["momentum"] = mu
        elif opt_name in ("momentum", "nesterov"):
            kw["momentum"] = max(mu, 0.01)
        elif opt_name in ("adam", "adamw"):
            kw["betas"] = (mu, 0.999)
        key = (surface_name, opt_name, eta, tuple(sorted(kw.items())))
        if key not in drawn:
            s = SURFACES[surface_name]
            show_in(out, plot_run(s, optimize(s, opt_name, eta, steps=steps, **kw)))
            drawn[key] = out.outputs
        out.outputs = drawn[key]

    return static.explorer([surf, opt, rate, mom], draw, rows=[[surf, opt], [rate, mom]])


__getattr__ = moved(__name__, _MOVED)
