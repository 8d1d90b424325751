"""Figures and the explorer of chapter 9, *Low precision*.

- :func:`rounding_staircase`: Round(x) against x for round-to-nearest and the
  expectation E[Round(x)] of stochastic rounding (the diagonal), with a few random
  draws.
- :func:`rounding_histogram`: a sample of small values (weight updates, say) and
  their rounded versions, with the bias of the mean.
- :func:`rounding_explorer`: the ipywidgets explorer (FL, rounding mode, size of the
  values → histogram and bias).
- :func:`plot_format_table`: test error per format and rounding, from
  :func:`dlkit.precision.compare_formats`.

The values and their rounding come from :mod:`dlkit.experiments.precision`
(``sample_values``, ``round_sample``); the old name ``sample_values`` here still
works, listed in ``_MOVED``.
"""

from __future__ import annotations

from typing import Sequence

import matplotlib.pyplot as plt
import numpy as np

from dlkit.aliases import moved
from dlkit import precision as P
from dlkit.viz.display import show_in, show_png  # noqa: F401 - show_png re-exported

#: Names that moved to :mod:`dlkit.experiments`, served lazily by :func:`__getattr__`.
_MOVED = {"sample_values": "dlkit.experiments.precision"}

COLORS = {"nearest": "#e31a1c", "stochastic": "#1f78b4", "-": "#555555"}


def rounding_staircase(fl: int = 2, ax=None, *, seed: int = 0):
    """Round(x) for x in [0, 1]: nearest (a staircase) and stochastic (random, unbiased)."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(5, 4))
    else:
        fig = ax.figure
    x = np.linspace(0, 1, 401)
    ax.plot(x, P.round_nearest(x, fl), color=COLORS["nearest"], lw=2, label="nearest")
    ax.plot(
        x,
        P.round_stochastic(x, fl, rng=seed),
        ".",
        ms=2.5,
        color=COLORS["stochastic"],
        alpha=0.6,
        label="stochastic (one draw)",
    )
    mean = np.mean([P.round_stochastic(x, fl, rng=seed + 1 + i) for i in range(200)], axis=0)
    ax.plot(x, mean, color="k", lw=1, label="stochastic: mean of 200 draws")
    ax.set_xlabel("x")
    ax.set_ylabel("Round(x)")
    ax.set_title(f"FL = {fl}: multiples of ε = 2^-{fl} = {2.0**-fl:g}")
    ax.legend(loc="upper left", fontsize=8)
    return fig


def rounding_histogram(x: np.ndarray, r: np.ndarray, fl: int, rounding: str, ax=None):
    """Histogram of x and of its rounding r = Round(x) to FL fractional bits
    (:func:`dlkit.experiments.precision.round_sample`); the bias
    mean(Round(x)) − mean(x) is printed in units of ε in the title. Returns the figure.
    """
    if ax is None:
        fig, ax = plt.subplots(figsize=(5.5, 3.6))
    else:
        fig = ax.figure
    eps = 2.0**-fl
    bias = float(r.mean() - x.mean())
    lo, hi = min(x.min(), r.min()), max(x.max(), r.max())
    bins = np.linspace(lo - eps / 2, hi + eps / 2, 60)
    ax.hist(
        x,
        bins=bins,
        weights=np.full(len(x), 1 / len(x)),
        color="#bbbbbb",
        label="x (fraction per bin)",
    )
    values, counts = np.unique(r, return_counts=True)
    ax2 = ax.twinx()
    ax2.bar(
        values,
        counts / len(x),
        width=min(eps, (hi - lo + eps) / 40) * 0.6,
        color=COLORS[rounding],
        alpha=0.75,
    )
    ax2.set_ylabel(
        f"fraction at each multiple of ε ({rounding})", color=COLORS[rounding], fontsize=8
    )
    ax2.set_ylim(0, 1.05)
    ax.axvline(x.mean(), color="k", lw=1.5, label=f"mean x = {x.mean():.3g}")
    ax.axvline(
        r.mean(), color=COLORS[rounding], lw=1.5, ls="--", label=f"mean Round(x) = {r.mean():.3g}"
    )
    ax.set_title(
        f"FL = {fl} (ε = {eps:.3g}), {rounding}: bias {bias:+.3g} = {bias / eps:+.3f} ε",
        fontsize=10,
    )
    ax.set_xlabel("value")
    ax.set_ylabel("fraction of x per bin", fontsize=8)
    ax.legend(fontsize=7, loc="upper right")
    return fig


def rounding_explorer(
    fl: int = 8, rounding: str = "nearest", mean: float = 0.001, *, seed: int = 0
):
    """Widget: FL, rounding mode and the size of the values → histogram and bias.

    The values are :func:`sample_values` (mean `mean`, spread mean/2), like the weight
    updates η∇ of a training step. With round-to-nearest and mean < ε/2 most of
    them round to 0 and the bias is about −mean; stochastic rounding keeps the mean.
    The first view is drawn when the widget is created, so a saved notebook shows it.

    Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as w

    from dlkit.experiments.precision import round_sample, sample_values

    from dlkit.viz import static

    fl_w = w.SelectionSlider(
        options=[int(v) for v in static.grid(range(2, 15, 3), fl)],
        value=fl,
        description="FL",
        continuous_update=False,
    )
    mode = w.ToggleButtons(options=list(P.ROUNDINGS), value=rounding, description="rounding")
    size = w.SelectionSlider(
        options=[(f"{m:.1e}", m) for m in static.grid([1e-4, 1e-3, 1e-2, 1e-1], mean)],
        value=float(mean),
        description="mean value",
        continuous_update=False,
    )

    def draw(out, fl, rounding, mean):
        x = sample_values(mean, seed=seed)
        r, bias = round_sample(x, fl, rounding, seed)
        fig = rounding_histogram(x, r, fl, rounding)
        show_in(out, fig, alt=f"bias {bias:+.3g}")

    return static.explorer([fl_w, mode, size], draw, rows=[[fl_w, size], mode])


def plot_format_table(rows: Sequence[P.RunResult], ax=None):
    """Bars of test error (%) per fixed-point format, nearest beside stochastic."""
    if ax is None:
        fig, ax = plt.subplots(figsize=(6.5, 3.6))
    else:
        fig = ax.figure
    base = [r for r in rows if r.rounding == "-"]
    fmts = list(dict.fromkeys(r.fmt for r in rows if r.rounding != "-"))
    xs = np.arange(len(fmts))
    for k, rounding in enumerate(P.ROUNDINGS):
        errs = [
            100 * next(r.test_error for r in rows if r.fmt == f and r.rounding == rounding)
            for f in fmts
        ]
        ax.bar(xs + (k - 0.5) * 0.38, errs, width=0.36, color=COLORS[rounding], label=rounding)
    if base:
        ax.axhline(
            100 * base[0].test_error,
            color="k",
            ls="--",
            lw=1,
            label=f"float32 ({100 * base[0].test_error:.1f}%)",
        )
    ax.set_xticks(xs, [f"{f}\nFL={f.strip('<>').split(',')[1].strip()}" for f in fmts])
    ax.set_ylabel("test error (%)")
    ax.set_title("16-bit fixed point on the digits: weights, activations, gradients")
    ax.legend(fontsize=8)
    return fig


__getattr__ = moved(__name__, _MOVED)
