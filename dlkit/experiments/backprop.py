"""The experiments of chapter 5, *Backpropagation*.

- :func:`neuron_graph`: a tanh neuron o = tanh(x₁w₁ + x₂w₂ + b) built from
  :mod:`dlkit.autograd` values, with ``backward()`` already run;
- :func:`layer_gradients`: forward/backward through an MLP layer by layer, and a
  table of the shape of every derivative (parameters and data);
- :func:`compare_engines`: the same gradients from dlkit's layers and from the
  scalar engine;
- :func:`gradient_check_table`: every layer type and loss against finite
  differences;
- :func:`memory_sweep`: D + W + ∇D + ∇W of MLPs against batch size and depth;
- :func:`layer_gradient_norms`: per-layer gradient norms of a deep network
  (vanishing gradients).

:mod:`dlkit.viz.backprop` draws the results.
"""

from __future__ import annotations

from typing import Sequence

import numpy as np

from dlkit import nn
from dlkit.autograd import Value
from dlkit.train import gradient_norms, training_memory

__all__ = [
    "neuron_graph",
    "layer_gradients",
    "compare_engines",
    "gradient_check_table",
    "memory_sweep",
    "layer_gradient_norms",
]


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


def layer_gradients(
    sizes: Sequence[int] = (4, 5, 3), activation: str = "relu", batch: int = 2, seed: int = 0
) -> str:
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
    for loss, target in (
        (nn.MSELoss(), g.standard_normal((4, 3))),
        (nn.CrossEntropyLoss(), np.array([0, 2, 1, 2])),
        (nn.BCELoss(), (g.random((4, 3)) > 0.5).astype(float)),
    ):
        pred = 1 / (1 + np.exp(-z)) if isinstance(loss, nn.BCELoss) else z
        err = nn.check_loss(loss, pred, target)
        worst = max(worst, err)
        lines.append(f"{repr(loss):<34} {bucket(err):>22}   (dprediction)")
    return "\n".join(lines), worst


def memory_sweep(
    batch_sizes: Sequence[int] = (1, 16, 64, 256, 1024),
    depths: Sequence[int] = (1, 2, 4, 8),
    width: int = 1000,
    batch_for_depth: int = 128,
    dtype=np.float32,
) -> dict:
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

    return {
        "batch": {b: measure(2, b) for b in batch_sizes},
        "depth": {d: measure(d, batch_for_depth) for d in depths},
    }


def layer_gradient_norms(
    activation: str,
    depth: int = 8,
    width: int = 32,
    *,
    init: str | None = None,
    batch: int = 256,
    seed: int = 0,
) -> np.ndarray:
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
