"""Figures and explorers for chapters 1 and 2: single neurons, gates and XOR.

- :func:`truth_table_text` prints a truth table (inputs, weighted inputs, outputs);
- :func:`plot_decision_line` draws a unit's line w1 x1 + w2 x2 + b = 0 over the four
  inputs of a gate; :func:`plot_gate_units` does it for several units side by side;
- :func:`plot_perceptron_errors` draws errors per epoch of the perceptron rule;
- :func:`plot_margins` draws lines with their margins ω and the closest examples;
- :func:`plot_step_vs_sigmoid` compares the two activations g(z);
- :func:`plot_hidden_space` shows a two-layer network's hidden activations, where
  XOR has become linearly separable;
- :func:`decision_line_explorer` (chapter 1) and :func:`network_explorer` (chapter 2)
  are ipywidgets explorers.

Figures are ``matplotlib.figure.Figure`` objects built without pyplot, so drawing
does not depend on the notebook's matplotlib backend; :func:`show` displays one as a
PNG in a notebook (and inside a widget's ``Output``, so the saved widget state
carries the picture into the static book page).
"""

from __future__ import annotations

from typing import Mapping, Sequence

import numpy as np
from matplotlib.figure import Figure

from dlkit.viz.display import png, show, show_in  # noqa: F401 - re-exported

from dlkit.data import GATES
from dlkit.perceptron import (
    GATE_WEIGHTS,
    GateNetwork,
    Neuron,
    gate_unit,
    linearly_separable,
    margin,
    truth_table_inputs,
)

ON, OFF = "#d62728", "#1f77b4"  # colours of output 1 and output 0


# ------------------------------------------------------------------------- display


def truth_table_text(columns: Mapping[str, Sequence], digits: int = 4) -> str:
    """A plain-text table, one column per entry of `columns`.

    Integer-valued columns print as integers, others rounded to `digits` decimals,
    so the text is identical on every machine.
    """
    names = list(columns)
    cells = []
    for name in names:
        col = np.asarray(columns[name])
        if col.dtype.kind in "iub" or np.all(np.asarray(col, float) == np.round(col)):
            cells.append([f"{int(v)}" for v in col])
        else:
            cells.append([f"{float(v):.{digits}f}" for v in col])
    n = len(cells[0]) if cells else 0
    widths = [max(len(name), *(len(c) for c in col)) for name, col in zip(names, cells)]
    head = "  ".join(f"{name:>{w}}" for name, w in zip(names, widths))
    rows = ["  ".join(f"{col[i]:>{w}}" for col, w in zip(cells, widths)) for i in range(n)]
    return "\n".join([head, "-" * len(head), *rows])


def unit_table(unit: Neuron, target: str | None = None, digits: int = 4) -> str:
    """Truth table of a unit over all its 0/1 inputs: x's, z, a = g(z) (and the target gate)."""
    X = truth_table_inputs(unit.n_inputs)
    cols = {f"x{i + 1}": X[:, i].astype(int) for i in range(unit.n_inputs)}
    cols["z"] = unit.z(X)
    cols["a = g(z)"] = unit(X)
    if target is not None:
        cols[target.upper()] = np.asarray(GATES[target.upper()])
    return truth_table_text(cols, digits)


# ------------------------------------------------------------------------- figures


def plot_decision_line(
    ax,
    unit: Neuron,
    target: str | None = None,
    *,
    title: str | None = None,
    lim: tuple[float, float] = (-0.5, 1.5),
) -> None:
    """Draw unit's decision line w1 x1 + w2 x2 + b = 0 and the 4 gate inputs on `ax`.

    The side where z > 0 is shaded red. Points are coloured by the target gate's
    output (if given, else by the unit's output); a point the unit gets wrong is
    drawn with a black cross.
    """
    if unit.n_inputs != 2:
        raise ValueError(f"plot_decision_line draws 2-input units, got {unit.n_inputs} inputs")
    X = truth_table_inputs(2)
    g = np.linspace(lim[0], lim[1], 121)
    G1, G2 = np.meshgrid(g, g)
    Z = unit.w[0] * G1 + unit.w[1] * G2 + unit.b
    ax.contourf(
        G1, G2, (Z > 0).astype(float), levels=[-0.5, 0.5, 1.5], colors=[OFF, ON], alpha=0.12
    )
    if np.any(Z > 0) and np.any(Z <= 0):
        ax.contour(G1, G2, Z, levels=[0.0], colors="k", linewidths=1.5)
    h = (unit.z(X) > 0).astype(int)
    y = np.asarray(GATES[target.upper()]) if target else h
    for (x1, x2), yi, hi in zip(X, y, h):
        ax.scatter([x1], [x2], s=140, c=ON if yi else OFF, edgecolors="k", zorder=3)
        if yi != hi:
            ax.scatter([x1], [x2], s=260, marker="x", c="k", zorder=4)
    ax.set_xlim(*lim)
    ax.set_ylim(*lim)
    ax.set_aspect("equal")
    ax.set_xlabel("$x_1$")
    ax.set_ylabel("$x_2$")
    ax.set_title(title if title is not None else unit.formula().replace("g", "z = ", 1), fontsize=9)


def plot_gate_units(units: Sequence[Neuron], targets: Sequence[str] | None = None) -> Figure:
    """One panel per 2-input unit: its decision line and the gate's four points."""
    n = len(units)
    fig = Figure(figsize=(3.0 * n, 3.2))
    axes = fig.subplots(1, n, squeeze=False)[0]
    for i, (ax, u) in enumerate(zip(axes, units)):
        t = targets[i] if targets else None
        plot_decision_line(ax, u, t, title=f"{u.name or t or ''}\n{u.formula()}")
    fig.tight_layout()
    return fig


def plot_perceptron_errors(results: Mapping[str, object]) -> Figure:
    """Misclassified examples after each epoch of the perceptron rule, one line per gate."""
    fig = Figure(figsize=(6.0, 3.2))
    ax = fig.subplots()
    for name, r in results.items():
        epochs = np.arange(1, len(r.errors) + 1)
        ax.plot(epochs, r.errors, marker="o", ms=3, label=f"{name} ({r.epochs} epochs)")
    ax.set_xlabel("epoch")
    ax.set_ylabel("misclassified (of 4)")
    ax.set_yticks(range(5))
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    ax.set_title("Perceptron rule: errors after each epoch", fontsize=10)
    fig.tight_layout()
    return fig


def plot_margins(
    X: np.ndarray,
    y: np.ndarray,
    lines: Mapping[str, tuple[Sequence[float], float]],
    *,
    title: str = "",
    lim: tuple[float, float] = (-0.5, 1.5),
) -> Figure:
    """One panel per line w · x + b = 0 of `lines` (name -> (w, b)), with its margin.

    Each panel draws the line (solid), the band of half-width ω around it (dotted,
    when ω > 0), the examples coloured by y, and a ring around the examples closest
    to the line, the ones that set ω = :func:`dlkit.perceptron.margin`. Each panel's
    title gives ω to three decimals; `title` goes above them all.
    """
    X = np.asarray(X, dtype=np.float64)
    y = np.asarray(y)
    if X.ndim != 2 or X.shape[1] != 2:
        raise ValueError(f"plot_margins draws 2-input examples, got X of shape {X.shape}")
    n = len(lines)
    fig = Figure(figsize=(3.0 * n, 3.2))
    axes = fig.subplots(1, n, squeeze=False)[0]
    t = np.linspace(lim[0], lim[1], 2)
    for ax, (name, (w, b)) in zip(axes, lines.items()):
        w = np.asarray(w, dtype=np.float64)
        omega = margin(w, b, X, y)
        dist = (2.0 * y - 1.0) * (X @ w + b) / np.linalg.norm(w)  # y'_n z_n / ‖w‖
        _line(ax, w, b, t, style="k-")
        if omega > 0:
            shift = omega * np.linalg.norm(w)  # the band's edges are z = ±ω ‖w‖
            _line(ax, w, b - shift, t, style="k:")
            _line(ax, w, b + shift, t, style="k:")
        for p, yi, d in zip(X, y, dist):
            ax.scatter([p[0]], [p[1]], s=140, c=ON if yi else OFF, edgecolors="k", zorder=3)
            if abs(d - omega) < 1e-9:
                ax.scatter([p[0]], [p[1]], s=420, facecolors="none", edgecolors="k", zorder=4)
        ax.set_xlim(*lim)
        ax.set_ylim(*lim)
        ax.set_aspect("equal")
        ax.set_xlabel("$x_1$")
        ax.set_ylabel("$x_2$")
        ax.set_title(f"{name}\n$\\omega$ = {omega:.3f}", fontsize=9)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def plot_step_vs_sigmoid(marks: Sequence[float] = (1.0, 10.0)) -> Figure:
    """g(z) for the step and the sigmoid, with g(±m) marked for each m in `marks`."""
    from dlkit.perceptron import sigmoid, step

    z = np.linspace(-12, 12, 481)
    fig = Figure(figsize=(6.0, 3.0))
    ax = fig.subplots()
    ax.plot(z, step(z), label="step", lw=2)
    ax.plot(z, sigmoid(z), label="sigmoid $1/(1+e^{-z})$", lw=2)
    for m in marks:
        for s in (-m, m):
            v = float(sigmoid(s))
            ax.plot([s], [v], "ko", ms=4)
            ax.annotate(
                f"g({s:g}) = {v:.3g}",
                (s, v),
                textcoords="offset points",
                xytext=(6, -12 if s > 0 else 6),
                fontsize=8,
            )
    ax.set_xlabel("z")
    ax.set_ylabel("g(z)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    fig.tight_layout()
    return fig


def plot_hidden_space(
    X: np.ndarray,
    A: np.ndarray,
    y: np.ndarray,
    out_w=None,
    out_b=None,
    *,
    title: str = "",
    input_units: Sequence[Neuron] | None = None,
) -> Figure:
    """Inputs x (left) and hidden activations a = (a1, a2) (right), coloured by target y.

    If the output unit's weights (out_w, out_b) are given, its line w · a + b = 0 is
    drawn in the hidden space. ``input_units`` draws the hidden units' own lines in
    the input space. Each panel's title says whether a line separates the classes
    there (decided by :func:`dlkit.perceptron.linearly_separable`).
    """
    A = np.asarray(A, dtype=np.float64)
    if A.shape[1] != 2:
        raise ValueError(f"plot_hidden_space draws 2 hidden units, got A of shape {A.shape}")
    fig = Figure(figsize=(7.2, 3.4))
    ax0, ax1 = fig.subplots(1, 2)
    for ax, P, lab in ((ax0, X, ("$x_1$", "$x_2$")), (ax1, A, ("$a_1$", "$a_2$"))):
        for p, yi in zip(P, y):
            ax.scatter([p[0]], [p[1]], s=140, c=ON if yi else OFF, edgecolors="k", zorder=3)
        ax.set_xlabel(lab[0])
        ax.set_ylabel(lab[1])
        ax.set_aspect("equal")
        ax.grid(alpha=0.3)
    for P, ax in ((X, ax0), (A, ax1)):
        # Inputs that land on (nearly) the same point share one label.
        labels: dict[tuple, list[str]] = {}
        for p, x in zip(P, X):
            labels.setdefault(tuple(np.round(p, 1)), []).append(f"({int(x[0])},{int(x[1])})")
        for (p0, p1), texts in labels.items():
            ax.annotate(
                " ".join(texts), (p0, p1), textcoords="offset points", xytext=(8, 6), fontsize=8
            )
    lo, hi = min(-0.2, A.min() - 0.3), max(1.2, A.max() + 0.3)
    ax0.set_xlim(-0.5, 1.5)
    ax0.set_ylim(-0.5, 1.5)
    ax1.set_xlim(lo, hi)
    ax1.set_ylim(lo, hi)
    t = np.linspace(-0.5, 1.5, 2)
    for u in input_units or ():
        _line(ax0, u.w, u.b, t, label=u.name)
    if out_w is not None:
        t1 = np.linspace(lo, hi, 2)
        _line(ax1, np.ravel(out_w), float(np.ravel(out_b)[0]), t1, label="output unit")
    for ax, P, where in ((ax0, X, "input"), (ax1, A, "hidden")):
        sep = linearly_separable(P, y)
        ax.set_title(
            f"{where} space: {'a line separates' if sep else 'no line separates'}", fontsize=9
        )
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


def _line(ax, w, b, t, label: str = "", style: str = "k--") -> None:
    """Draw w1 x1 + w2 x2 + b = 0 over the x1 values t (a vertical line if w2 = 0)."""
    w1, w2 = float(w[0]), float(w[1])
    if abs(w2) > 1e-12:
        ax.plot(t, -(w1 * t + b) / w2, style, lw=1.2)
    elif abs(w1) > 1e-12:
        ax.axvline(-b / w1, color=style[0], ls=style[1:], lw=1.2)


def plot_training(history, title: str = "") -> Figure:
    """Loss and accuracy per epoch from a ``dlkit.train.History``."""
    fig = Figure(figsize=(6.4, 2.8))
    ax0, ax1 = fig.subplots(1, 2)
    ax0.plot(history.loss)
    ax0.set_yscale("log")
    ax0.set_xlabel("epoch")
    ax0.set_ylabel("loss")
    ax1.plot(history.accuracy)
    ax1.set_ylim(0, 1.05)
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("accuracy")
    for ax in (ax0, ax1):
        ax.grid(alpha=0.3)
    if title:
        fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    return fig


# ------------------------------------------------------------------------- explorers


def _fill(out, text: str, fig: Figure) -> None:
    """Replace the contents of an ``ipywidgets.Output`` with `text` and `fig`."""
    show_in(out, fig, text)


def decision_line_explorer(
    w1: float = 20.0,
    w2: float = 20.0,
    b: float = -30.0,
    target: str = "AND",
    activation: str = "step",
    presets: bool = False,
):
    """One unit's decision line and truth table against a target gate; every view is drawn
    ahead, so the explorer responds on the static page as well as in JupyterLab.

    Parameters
    ----------
    w1, w2, b : initial weights and bias. Without `presets` three sliders move them over
        the grids w1, w2 in {-20, 20} and b in {-30, -10, 10, 30} (the initial values join
        their grids): enough to reach the lines of AND, OR, NAND, NOR and the one-sided
        gates, and to see that none reaches XOR.
    target : the gate to compare against (a dropdown changes it).
    activation : 'step' (a perceptron) or 'sigmoid'. With the sigmoid the table shows
        a = σ(z), a row matches when a rounds to the target, and toggle buttons switch g
        between the sigmoid and the step.
    presets : if True, the weights of a gate one unit can compute are its hand-set
        weights (:data:`dlkit.perceptron.GATE_WEIGHTS`) times a common scale c (a slider,
        c in {0.05, 0.1, 0.25, 0.5, 1}); XOR and XNOR, which have none, use c times
        (w1, w2, b). Shrinking c keeps the line and softens the sigmoid.

    Returns an ``ipywidgets.VBox`` (display it as a cell's last expression).
    """
    import ipywidgets as W

    from dlkit.viz import static

    two_input = [g for g in GATES if g != "NOT"]
    if target.upper() not in two_input:
        raise ValueError(f"target must be one of {', '.join(two_input)}, got {target!r}")
    if activation not in ("step", "sigmoid"):
        raise ValueError(f"activation must be 'step' or 'sigmoid', got {activation!r}")
    dd = W.Dropdown(options=two_input, value=target.upper(), description="target")
    gb = W.ToggleButtons(
        options=["step"] if activation == "step" else ["sigmoid", "step"],
        value=activation,
        description="g",
    )
    if presets:
        sc = W.SelectionSlider(
            options=static.grid([0.05, 0.1, 0.25, 0.5], 1.0),
            value=1.0,
            description="c",
            continuous_update=False,
        )
        knobs = [sc]
    else:
        opts = dict(continuous_update=False)
        s1 = W.SelectionSlider(
            options=static.grid([-20, 20], w1), value=w1, description="w1", **opts
        )
        s2 = W.SelectionSlider(
            options=static.grid([-20, 20], w2), value=w2, description="w2", **opts
        )
        sb = W.SelectionSlider(
            options=static.grid([-30, -10, 10, 30], b), value=b, description="b", **opts
        )
        knobs = [s1, s2, sb]

    def weights(gate: str, knob_values) -> tuple[float, float, float]:
        if not presets:
            return tuple(float(v) for v in knob_values)
        (c,) = knob_values
        (v1, v2), v0 = GATE_WEIGHTS.get(gate, ((w1, w2), b))
        return c * v1, c * v2, c * v0

    def draw(out, *values) -> None:
        knob_values, (gate, *g) = values[: len(knobs)], values[len(knobs) :]
        g = g[0] if g else activation
        v1, v2, v0 = weights(gate, knob_values)
        unit = Neuron([v1, v2], v0, g)
        X = truth_table_inputs(2)
        y = np.asarray(GATES[gate])
        a = unit(X)
        right = int(np.sum(np.round(a) == y))
        head = f"w1 = {v1:g}, w2 = {v2:g}, b = {v0:g}\n" if presets else ""
        text = f"{head}{unit_table(unit, gate)}\n{right} of 4 rows match {gate}"
        if g == "sigmoid":
            err = float(np.max(np.abs(a - y)))
            text += (
                f"; largest |a - {gate}| = {err:.4f}"
                if err >= 1e-3
                else f"; every h is within {err:.1e} of {gate}"
            )
        fig = Figure(figsize=(3.6, 3.6))
        plot_decision_line(fig.subplots(), unit, gate)
        fig.tight_layout()
        _fill(out, text, fig)

    controls = [*knobs, dd] + ([gb] if len(gb.options) > 1 else [])
    right_col = [dd, gb] if len(gb.options) > 1 else [dd]
    return static.explorer(controls, draw, rows=[[W.VBox(knobs), W.VBox(right_col)]])


def _matching_gate(y_hat: np.ndarray) -> str:
    bits = tuple(int(v) for v in np.round(y_hat))
    names = [g for g, t in GATES.items() if g != "NOT" and t == bits]
    return names[0] if names else "no named gate"


def network_explorer(a1: str = "AND", a2: str = "NOR", out: str = "OR", scale: float = 1.0):
    """Pick the gates of two hidden sigmoid units (AND, OR, NAND, NOR) and of the output
    unit (AND or OR, and `out`), and a scale c for all weights (c in {0.1, 1} and
    `scale`; c = 1 is the ±20 weights, small c softens every sigmoid).

    Shows the table of a1, a2 and ŷ for the four inputs, which gate ŷ computes, the
    hidden units' lines in the input space and the output unit's line in the hidden
    space. Every view is drawn ahead, so the explorer responds on the static page.
    Returns an ``ipywidgets.VBox``.
    """
    import ipywidgets as W

    names = [g for g in GATE_WEIGHTS if g != "NOT"]
    d1 = W.Dropdown(options=names, value=a1.upper(), description="a1 =")
    d2 = W.Dropdown(options=names, value=a2.upper(), description="a2 =")
    outs = [g for g in ("AND", "OR") if g in names] + [out.upper()] * (
        out.upper() not in "AND OR".split()
    )
    d3 = W.Dropdown(options=outs, value=out.upper(), description="ŷ = a1 ? a2")
    from dlkit.viz import static

    sc = W.SelectionSlider(
        options=static.grid([0.1, 1.0], scale),
        value=float(scale),
        description="c",
        continuous_update=False,
    )

    def redraw(panel, g1: str, g2: str, g3: str, c: float) -> None:
        net = GateNetwork(
            [gate_unit(g1, scale=c), gate_unit(g2, scale=c)],
            gate_unit(g3, scale=c),
        )
        X = truth_table_inputs(2)
        A, y_hat = net.forward(X)
        computed = _matching_gate(y_hat)
        y = np.round(y_hat).astype(int)
        fig = plot_hidden_space(
            X,
            A,
            y,
            net.output.w,
            np.array([net.output.b]),
            input_units=net.hidden,
            title=f"ŷ computes {computed} (colours: rounded ŷ)",
        )
        table = truth_table_text(
            {
                "x1": X[:, 0].astype(int),
                "x2": X[:, 1].astype(int),
                "a1": A[:, 0],
                "a2": A[:, 1],
                "ŷ": y_hat,
            },
            3,
        )
        _fill(panel, f"{table}\nrounded, ŷ computes {computed}", fig)

    return static.explorer([d1, d2, d3, sc], redraw, rows=[[W.VBox([d1, d2, d3]), sc]])
