"""Figures, tables and the explorer of chapter 5: backpropagation.

- :func:`neuron_graph` builds a tanh neuron o = tanh(x₁w₁ + x₂w₂ + b) with
  :mod:`dlkit.autograd` values; :func:`plot_graph` draws a graph as a Figure;
- :func:`layer_gradients` runs forward/backward through an MLP layer by layer and
  tabulates the shape and size of every derivative (parameters and data);
- :func:`gradient_check_table` checks every layer type and loss against finite
  differences;
- :func:`memory_sweep` / :func:`plot_memory` measure D + W + ∇D + ∇W against batch
  size and depth;
- :func:`layer_gradient_norms` / :func:`plot_gradient_norms` show vanishing gradients
  in a deep sigmoid network beside a ReLU one; :func:`gradient_norm_explorer` is the
  widget.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np
from matplotlib.figure import Figure

from dlkit import nn
from dlkit.autograd import Value, draw_graph
from dlkit.train import gradient_norms, training_memory
from dlkit.viz.optimizers import show, show_in

__all__ = ["neuron_graph", "plot_graph", "layer_gradients", "compare_engines",
           "gradient_check_table",
           "memory_sweep", "plot_memory", "layer_gradient_norms", "plot_gradient_norms",
           "gradient_norm_explorer", "show", "show_in"]


def neuron_graph(x=(2.0, 0.0), w=(-3.0, 1.0), b: float = 6.881373587) -> dict[str, Value]:
    """o = tanh(x₁w₁ + x₂w₂ + b) as autograd Values, labelled; backward() already run."""
    x1, x2 = Value(x[0], label="x1"), Value(x[1], label="x2")
    w1, w2 = Value(w[0], label="w1"), Value(w[1], label="w2")
    bb = Value(b, label="b")
    x1w1 = x1 * w1
    x1w1.label = "x1w1"
    x2w2 = x2 * w2
    x2w2.label = "x2w2"
    s = x1w1 + x2w2
    s.label = "s"
    z = s + bb
    z.label = "z"
    o = z.tanh()
    o.label = "o"
    o.backward()
    return {v.label: v for v in (x1, x2, w1, w2, bb, x1w1, x2w2, s, z, o)}


def plot_graph(root: Value) -> Figure:
    """The computational graph of `root` (see :func:`dlkit.autograd.draw_graph`)."""
    from dlkit.autograd import topological_order

    order = topological_order(root)
    depth: dict[int, int] = {}
    for node in order:
        depth[id(node)] = 1 + max((depth[id(c)] for c in node._prev), default=-1)
    cols = max(depth.values()) + 1
    rows = max(list(depth.values()).count(d) for d in range(cols))
    fig = Figure(figsize=(max(4.0, 1.9 * cols), max(2.0, 0.9 * rows + 0.6)))
    ax = fig.subplots()
    draw_graph(root, ax)
    fig.tight_layout()
    return fig


def layer_gradients(sizes: Sequence[int] = (4, 5, 3), activation: str = "relu",
                    batch: int = 2, seed: int = 0) -> str:
    """Forward and backward through ``mlp(sizes)`` one layer at a time; a table of shapes.

    For every layer: its input a (the data it sees), output, and the derivatives the
    backward pass produces: with respect to the parameters (∂L/∂W, ∂L/∂b) and with
    respect to the data (∂L/∂a, passed on to the layer below).
    """
    from dlkit import rng

    g = rng(seed)
    net = nn.mlp(sizes, activation, seed=seed)
    X = g.standard_normal((batch, sizes[0]))
    y = g.integers(0, sizes[-1], batch)
    loss = nn.CrossEntropyLoss()
    acts = [X]
    for layer in net:
        acts.append(layer.forward(acts[-1]))
    loss.forward(acts[-1], y)
    d = loss.backward()
    rows = []
    for i in reversed(range(len(net))):
        layer = net[i]
        dx = layer.backward(d)
        grads = ", ".join(f"∂L/∂{p.name} {p.grad.shape}" for p in layer.parameters()) or "-"
        rows.append((i, repr(layer), str(acts[i].shape), str(d.shape), grads, str(dx.shape)))
        d = dx
    head = ("layer", "type", "input a", "∂L/∂output", "parameter gradients", "∂L/∂a (data)")
    table = [head] + rows[::-1]
    widths = [max(len(str(r[c])) for r in table) for c in range(len(head))]
    lines = ["  ".join(f"{str(v):<{w}}" for v, w in zip(r, widths)).rstrip() for r in table]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def compare_engines(sizes: Sequence[int] = (3, 4, 2), batch: int = 2, seed: int = 0) -> float:
    """Backpropagate the same tanh MLP and MSE loss two ways; return the largest
    relative difference between the gradients.

    Once with dlkit's layers (``Linear.backward`` etc., whole matrices at a time) and
    once with the scalar engine, each weight a :class:`dlkit.autograd.Value` and the
    loss built from + and * of scalars. The two must agree to rounding.
    """
    from dlkit import rng

    g = rng(seed)
    net = nn.mlp(sizes, "tanh", seed=seed)
    X = g.standard_normal((batch, sizes[0]))
    Y = g.standard_normal((batch, sizes[-1]))
    loss = nn.MSELoss()
    loss.forward(net.forward(X), Y)
    net.backward(loss.backward())
    linears = [layer for layer in net if isinstance(layer, nn.Linear)]
    Ws = [[[Value(w) for w in row] for row in lin.W.data] for lin in linears]
    bs = [[Value(b) for b in lin.b.data] for lin in linears]
    total = Value(0.0)
    for n in range(batch):
        a = [Value(v) for v in X[n]]
        for i, (W, b) in enumerate(zip(Ws, bs)):
            z = [sum((w * x for w, x in zip(row, a)), bj) for row, bj in zip(W, b)]
            a = [zj.tanh() for zj in z] if i < len(Ws) - 1 else z
        total = total + sum(((aj - t) ** 2 for aj, t in zip(a, Y[n])), Value(0.0)) * 0.5
    total = total * (1.0 / batch)
    total.backward()
    worst = 0.0
    for lin, W, b in zip(linears, Ws, bs):
        for layer_grad, values in ((lin.W.grad, W), (lin.b.grad[None], [b])):
            scalar = np.array([[v.grad for v in row] for row in values])
            worst = max(worst, nn.rel_error(layer_grad, scalar))
    return worst


class _SameMaskDropout(nn.Dropout):
    """Dropout that draws the same mask on every forward, as within one training step,
    so that finite differences see one fixed function."""

    def forward(self, x):
        from dlkit import rng

        self._rng = rng(0)
        return super().forward(x)


def _gradcheck_cases():
    """(layer, input shape, finite-difference step h) for every layer type of dlkit.nn."""
    return [
        (nn.Linear(5, 4, seed=1), (3, 5), 1e-6),
        (nn.Sigmoid(), (3, 5), 1e-6),
        (nn.Tanh(), (3, 5), 1e-6),
        (nn.ReLU(), (3, 5), 1e-6),
        (nn.LeakyReLU(), (3, 5), 1e-6),
        (nn.ELU(), (3, 5), 1e-6),
        (nn.Identity(), (3, 5), 1e-6),
        (nn.Softmax(), (3, 5), 1e-6),
        (nn.Maxout(5, 3, k=2, seed=2), (3, 5), 1e-6),
        (nn.Conv2d(2, 3, 3, padding=1, seed=3), (2, 2, 5, 4), 1e-4),
        (nn.MaxPool2d(2), (2, 2, 4, 4), 1e-5),
        (nn.AvgPool2d(2), (2, 2, 4, 4), 1e-5),
        (nn.Flatten(), (2, 2, 3, 3), 1e-6),
        (_SameMaskDropout(0.5), (3, 5), 1e-6),
    ]


def gradient_check_table(seed: int = 0) -> tuple[str, float]:
    """Check every dlkit layer type and loss against centred finite differences (float64).

    Returns (the table as text, the largest relative error). Errors print in
    scientific notation rounded to one digit of exponent class (e.g. ``<1e-08``), so the
    text is identical on every machine.
    """
    from dlkit import rng

    g = rng(seed)
    lines = [f"{'layer / loss':<34} {'worst relative error':>22}", "-" * 57]
    worst = 0.0

    def bucket(e: float) -> str:
        return "0" if e == 0 else f"< 1e{int(np.floor(np.log10(e))) + 1:03d}"

    for layer, shape, h in _gradcheck_cases():
        x = g.standard_normal(shape)
        res = nn.check_layer(layer, x, seed=seed, h=h)
        worst = max(worst, res.max_error)
        parts = ", ".join(f"d{k}" for k in res.errors)
        lines.append(f"{repr(layer):<34} {bucket(res.max_error):>22}   ({parts})")
    z = g.standard_normal((4, 3))
    for loss, target in ((nn.MSELoss(), g.standard_normal((4, 3))),
                         (nn.CrossEntropyLoss(), np.array([0, 2, 1, 2])),
                         (nn.BCELoss(), (g.random((4, 3)) > 0.5).astype(float))):
        pred = 1 / (1 + np.exp(-z)) if isinstance(loss, nn.BCELoss) else z
        err = nn.check_loss(loss, pred, target)
        worst = max(worst, err)
        lines.append(f"{repr(loss):<34} {bucket(err):>22}   (dprediction)")
    return "\n".join(lines), worst


def memory_sweep(batch_sizes: Sequence[int] = (1, 16, 64, 256, 1024),
                 depths: Sequence[int] = (1, 2, 4, 8), width: int = 1000,
                 batch_for_depth: int = 128, dtype=np.float32) -> dict:
    """Measured D, W, ∇D, ∇W (bytes) of MLPs 784-width×depth-10 on random data.

    Returns ``{"batch": {b: Memory}, "depth": {d: Memory}}``: the first for
    784-width-width-10 at each batch size, the second for each depth at
    `batch_for_depth`.
    """
    from dlkit import rng

    g = rng(0)
    loss = nn.CrossEntropyLoss()

    def measure(depth: int, b: int):
        net = nn.mlp([784] + [width] * depth + [10], "relu", seed=0, dtype=dtype)
        X = g.standard_normal((b, 784)).astype(dtype)
        return training_memory(net, X, g.integers(0, 10, b), loss)

    return {"batch": {b: measure(2, b) for b in batch_sizes},
            "depth": {d: measure(d, batch_for_depth) for d in depths}}


def memory_table(sweep: dict) -> str:
    """The sweep as text, in MiB with two decimals."""
    def row(key, m):
        return (f"{key:>6} {m.D / 2**20:>10.2f} {m.W / 2**20:>10.2f} {m.dD / 2**20:>10.2f} "
                f"{m.dW / 2**20:>10.2f} {m.total / 2**20:>10.2f}")

    head = f"{'':>6} {'D':>10} {'W':>10} {'∇D':>10} {'∇W':>10} {'total':>10}   (MiB)"
    out = ["batch size (784-1000-1000-10):", head]
    out += [row(b, m) for b, m in sweep["batch"].items()]
    out += ["hidden layers of 1000 (batch 128):", head]
    out += [row(d, m) for d, m in sweep["depth"].items()]
    return "\n".join(out)


def plot_memory(sweep: dict) -> Figure:
    """Stacked D, W, ∇D, ∇W against batch size (left) and depth (right)."""
    fig = Figure(figsize=(10, 3.6))
    axes = fig.subplots(1, 2)
    for ax, key, xlabel in ((axes[0], "batch", "batch size"),
                            (axes[1], "depth", "hidden layers of 1000 units")):
        keys = list(sweep[key])
        ms = list(sweep[key].values())
        bottom = np.zeros(len(keys))
        for part, color in (("W", "#1f77b4"), ("dW", "#aec7e8"), ("D", "#ff7f0e"),
                            ("dD", "#ffbb78")):
            v = np.array([getattr(m, part) for m in ms]) / 2**20
            ax.bar(range(len(keys)), v, bottom=bottom, color=color,
                   label={"dW": "∇W", "dD": "∇D"}.get(part, part))
            bottom += v
        ax.set_xticks(range(len(keys)), [str(k) for k in keys])
        ax.set_xlabel(xlabel)
        ax.set_ylabel("MiB (float32)")
    axes[0].legend(fontsize=8)
    axes[0].set_title("784-1000-1000-10: activations grow with the batch", fontsize=9)
    axes[1].set_title("batch 128: everything grows with depth", fontsize=9)
    fig.tight_layout()
    return fig


def layer_gradient_norms(activation: str, depth: int = 8, width: int = 32, *,
                         init: str | None = None, batch: int = 256, seed: int = 0) -> np.ndarray:
    """‖∂L/∂W‖ of each Linear layer (input side first) of a fresh deep MLP on digits.

    One forward/backward pass of cross-entropy on `batch` digits through
    ``mlp([64] + [width]*depth + [10], activation)``.
    """
    from dlkit.data import load_digits

    X, y, _, _ = load_digits(seed=seed)
    net = nn.mlp([64] + [width] * depth + [10], activation, seed=seed, init=init)
    loss = nn.CrossEntropyLoss()
    loss.forward(net.forward(X[:batch]), y[:batch])
    net.backward(loss.backward())
    norms = gradient_norms(net)
    return np.array([v for k, v in norms.items() if k.endswith(".W")])


def plot_gradient_norms(curves: dict[str, np.ndarray], ax=None) -> Figure:
    """Per-layer gradient norms (log scale), one line per network."""
    fig = None
    if ax is None:
        fig = Figure(figsize=(5.4, 3.6))
        ax = fig.subplots()
    for label, v in curves.items():
        ax.semilogy(np.arange(1, len(v) + 1), v, "o-", label=label)
    ax.set_xlabel("layer (1 = next to the input)")
    ax.set_ylabel("‖∂L/∂W‖")
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

    act = w.Dropdown(options=["sigmoid", "tanh", "relu", "leaky_relu", "elu"], value=activation,
                     description="activation")
    dep = w.IntSlider(value=depth, min=2, max=16, description="depth", continuous_update=False)
    ini = w.Dropdown(options=["xavier", "he", "lecun", "normal"], value=init, description="init")
    out = w.Output()

    def draw(*_):
        v = layer_gradient_norms(act.value, dep.value, init=ini.value)
        ref = layer_gradient_norms("relu", dep.value, init="he")
        fig = plot_gradient_norms({f"{act.value}, {ini.value}": v, "relu, he": ref})
        fig.axes[0].set_title(f"first/last layer ratio: {v[0] / v[-1]:.2e} "
                              f"(relu: {ref[0] / ref[-1]:.2e})", fontsize=9)
        show_in(out, fig)

    for c in (act, dep, ini):
        c.observe(draw, names="value")
    draw()
    return w.VBox([w.HBox([act, dep, ini]), out])
