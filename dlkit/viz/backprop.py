"""Figures, tables and the explorer of chapter 5: backpropagation.

The experiments they draw are in :mod:`dlkit.experiments.backprop`; their old names
here (``neuron_graph``, ``memory_sweep``...) still work, listed in ``_MOVED``.

- :func:`plot_graph` draws an autograd graph (e.g. ``neuron_graph()["o"]``) as a Figure;
- :func:`flops_table` shows ``pass_flops``: the flops of the forward and the backward
  pass of every Linear layer;
- :func:`memory_table` / :func:`plot_memory` show a ``memory_sweep``: D + W + ∇D + ∇W
  and the measured peak against batch size and depth;
- :func:`plot_gradient_norms` shows ``layer_gradient_norms`` of a deep sigmoid
  network beside a ReLU one (vanishing gradients); :func:`gradient_norm_explorer` is
  the widget.
"""

from __future__ import annotations


import numpy as np
from matplotlib.figure import Figure

from dlkit.aliases import moved
from dlkit.autograd import Value
from dlkit.viz.autograd import graph_figure
from dlkit.viz.display import show, show_in

__all__ = [
    "plot_graph",
    "flops_table",
    "memory_table",
    "plot_memory",
    "plot_gradient_norms",
    "gradient_norm_explorer",
    "show",
    "show_in",
]

#: Names that moved to :mod:`dlkit.experiments.backprop`, served lazily by
#: :func:`__getattr__`.
_MOVED = {
    name: "dlkit.experiments.backprop"
    for name in (
        "neuron_graph",
        "layer_gradients",
        "compare_engines",
        "gradient_check_table",
        "memory_sweep",
        "layer_gradient_norms",
    )
}


def plot_graph(root: Value) -> Figure:
    """The computational graph of `root` as a Figure (:func:`dlkit.viz.autograd.draw_graph`)."""
    return graph_figure(root)


def flops_table(rows: list[tuple[str, int, int, int]], batch: int = 1) -> str:
    """``pass_flops`` rows as text: the forward and backward flops of every Linear
    layer, their totals and the ratio backward / forward."""
    head = ("layer", "forward Z = AWᵀ", "∂𝓛/∂W = δᵀA", "∂𝓛/∂A = δW", "backward")
    lines = [(name, f, dw, da, dw + da) for name, f, dw, da in rows]
    total = tuple(sum(c) for c in list(zip(*lines))[1:])
    table = [head] + [(r[0], *(f"{v:,}" for v in r[1:])) for r in lines]
    table.append(("total", *(f"{v:,}" for v in total)))
    widths = [max(len(r[c]) for r in table) for c in range(len(head))]
    out = [
        "  ".join(f"{v:<{w}}" if c == 0 else f"{v:>{w}}" for c, (v, w) in enumerate(zip(r, widths)))
        for r in table
    ]
    out.insert(1, "-" * len(out[0]))
    out.insert(-1, "-" * len(out[0]))
    per = "one example" if batch == 1 else f"a batch of {batch:,}"
    out.append(f"flops for {per}; backward / forward = {total[3] / total[0]:.2f}")
    return "\n".join(out)


def memory_table(sweep: dict) -> str:
    """The sweep as text, in MiB with two decimals: D, W, ∇D, ∇W, their sum and the
    measured peak."""

    def row(key, m):
        peak = "-" if m.peak is None else f"{m.peak / 2**20:.2f}"
        return (
            f"{key:>6} {m.D / 2**20:>10.2f} {m.W / 2**20:>10.2f} {m.dD / 2**20:>10.2f} "
            f"{m.dW / 2**20:>10.2f} {m.total / 2**20:>10.2f} {peak:>10}"
        )

    head = f"{'':>6} {'D':>10} {'W':>10} {'∇D':>10} {'∇W':>10} {'sum':>10} {'peak':>10}   (MiB)"
    out = ["batch size (784-1000-1000-10):", head]
    out += [row(b, m) for b, m in sweep["batch"].items()]
    out += ["hidden layers of 1000 (batch 128):", head]
    out += [row(d, m) for d, m in sweep["depth"].items()]
    return "\n".join(out)


def plot_memory(sweep: dict) -> Figure:
    """Stacked D, W, ∇D, ∇W against batch size (left) and depth (right), with the
    measured peak as a black bar across each stack."""
    fig = Figure(figsize=(10, 3.6))
    axes = fig.subplots(1, 2)
    for ax, key, xlabel in (
        (axes[0], "batch", "batch size"),
        (axes[1], "depth", "hidden layers of 1000 units"),
    ):
        keys = list(sweep[key])
        ms = list(sweep[key].values())
        bottom = np.zeros(len(keys))
        for part, color in (
            ("W", "#1f77b4"),
            ("dW", "#aec7e8"),
            ("D", "#ff7f0e"),
            ("dD", "#ffbb78"),
        ):
            v = np.array([getattr(m, part) for m in ms]) / 2**20
            ax.bar(
                range(len(keys)),
                v,
                bottom=bottom,
                color=color,
                label={"dW": "∇W", "dD": "∇D"}.get(part, part),
            )
            bottom += v
        peaks = [m.peak for m in ms]
        if all(p is not None for p in peaks):
            ax.hlines(
                np.array(peaks) / 2**20,
                np.arange(len(keys)) - 0.45,
                np.arange(len(keys)) + 0.45,
                color="black",
                lw=2,
                label="measured peak",
            )
        ax.set_xticks(range(len(keys)), [str(k) for k in keys])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("MiB (float32)")
    axes[0].legend(fontsize=8)
    axes[0].set_title("784-1000-1000-10: activations grow with the batch", fontsize=9)
    axes[1].set_title("batch 128: everything grows with depth", fontsize=9)
    fig.tight_layout()
    return fig


def plot_gradient_norms(curves: dict[str, np.ndarray], ax=None) -> Figure:
    """Per-layer gradient norms (log scale), one line per network."""
    fig = None
    if ax is None:
        fig = Figure(figsize=(5.4, 3.6))
        ax = fig.subplots()
    for label, v in curves.items():
        ax.semilogy(np.arange(1, len(v) + 1), v, "o-", label=label)
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel(r"$\Vert \partial \mathcal{L} / \partial W^{(j)} \Vert$")
    ax.legend(fontsize=8)
    if fig is not None:
        fig.tight_layout()
    return fig if fig is not None else ax.figure


def gradient_norm_explorer(activation: str = "sigmoid", depth: int = 8, init: str = "xavier"):
    """Widget: activation, depth and initialisation -> per-layer gradient norms.

    Each change builds a fresh seeded network and runs one backward pass on 256
    digits; ReLU with He initialisation is drawn beside it for reference. Returns an
    ``ipywidgets.VBox``; the first view is drawn at creation.
    """
    import ipywidgets as w

    from dlkit.experiments.backprop import layer_gradient_norms

    act = w.Dropdown(
        options=["sigmoid", "tanh", "relu", "leaky_relu", "elu"],
        value=activation,
        description="activation",
    )
    from dlkit.viz import static

    dep = w.SelectionSlider(
        options=[int(d) for d in static.grid([2, 4, 8, 16], depth)],
        value=depth,
        description="depth",
        continuous_update=False,
    )
    ini = w.Dropdown(options=["xavier", "he", "lecun", "normal"], value=init, description="init")
    refs: dict[int, np.ndarray] = {}

    def draw(out, activation, depth, init):
        v = layer_gradient_norms(activation, depth, init=init)
        if depth not in refs:
            refs[depth] = layer_gradient_norms("relu", depth, init="he")
        ref = refs[depth]
        fig = plot_gradient_norms({f"{activation}, {init}": v, "relu, he": ref})
        fig.axes[0].set_title(
            f"first/last layer ratio: {v[0] / v[-1]:.2e} (relu: {ref[0] / ref[-1]:.2e})", fontsize=9
        )
        show_in(out, fig)

    return static.explorer([act, dep, ini], draw)


__getattr__ = moved(__name__, _MOVED)
