"""The experiments of chapter 5, *Backpropagation*.

- :func:`neuron_graph`: a tanh neuron o = tanh(x₁w₁ + x₂w₂ + b) built from
  :mod:`dlkit.autograd` values, with ``backward()`` already run (micrograd's example);
- :func:`backprop_equations`: the four equations BP1-BP4 in plain numpy, and
  :func:`check_backprop_equations`, which compares them with dlkit's layers and with
  finite differences;
- :func:`layer_gradients`: forward/backward through an MLP layer by layer, and a
  table of the shape of every derivative (parameters and data);
- :func:`compare_engines`: the same gradients from dlkit's layers and from the
  scalar engine;
- :func:`gradient_check_table`: every layer type and loss against finite
  differences;
- :func:`pass_flops` and :func:`time_passes`: the flops and the time of the forward
  and the backward pass;
- :func:`memory_sweep`: D + W + ∇D + ∇W and the measured peak of MLPs against batch
  size and depth;
- :func:`layer_gradient_norms` and :func:`delta_norms`: per-layer gradient norms of a
  deep network (vanishing gradients).

:mod:`dlkit.viz.backprop` draws the results.
"""

from __future__ import annotations

import time
from typing import Callable, Sequence

import numpy as np

from dlkit import flops, nn
from dlkit.autograd import Value
from dlkit.train import gradient_norms, training_memory

__all__ = [
    "neuron_graph",
    "backprop_equations",
    "check_backprop_equations",
    "layer_gradients",
    "compare_engines",
    "gradient_check_table",
    "pass_flops",
    "time_passes",
    "memory_sweep",
    "layer_gradient_norms",
    "delta_norms",
]


def neuron_graph(x=(2.0, 0.0), w=(-3.0, 1.0), b: float = 6.8813735870) -> dict[str, Value]:
    """o = tanh(x₁w₁ + x₂w₂ + b) as autograd Values, labelled; backward() already run.

    The neuron, and its bias b = 6.8813735870 (which makes z = 0.8814 and
    o = tanh z = 1/√2, so that ∂o/∂z = 1 − o² = 1/2), are the example of Andrej
    Karpathy's micrograd (2020, https://github.com/karpathy/micrograd).
    """
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


def backprop_equations(
    W: dict[int, np.ndarray],
    b: dict[int, np.ndarray],
    X: np.ndarray,
    Y: np.ndarray,
    g: Callable,
    g_prime: Callable,
) -> tuple[dict[int, np.ndarray], dict[int, np.ndarray]]:
    """∂𝓛/∂W^(j) and ∂𝓛/∂b^(j) of an MLP by the four equations BP1-BP4, in plain numpy.

    `W[j]` and `b[j]` are W^(j) (s_j × s_{j-1}) and b^(j) (s_j,) for j = 2, ..., L;
    every layer, the output layer too, applies the activation g elementwise (g_prime is
    g'); the loss is the mean squared error 𝓛 = (1/N) Σ_n ½ ‖a^(L)_n − y_n‖² over the
    N rows of X (N × s_1) and Y (N × s_L). Returns the dicts dW and db,
    j -> ∂𝓛/∂W^(j) and j -> ∂𝓛/∂b^(j).
    """
    L, N = max(W), len(X)
    A, Z = {1: X}, {}
    for j in range(2, L + 1):  # forward, keeping every Z^(j) and A^(j)
        Z[j] = A[j - 1] @ W[j].T + b[j]
        A[j] = g(Z[j])
    δ = {L: (A[L] - Y) / N * g_prime(Z[L])}  # BP1, with ∇_{A^(L)} 𝓛 = (A^(L) − Y) / N
    for j in range(L - 1, 1, -1):  # BP2, from layer L − 1 down to layer 2
        δ[j] = (δ[j + 1] @ W[j + 1]) * g_prime(Z[j])
    db = {j: δ[j].sum(axis=0) for j in δ}  # BP3: Σ_n δ^(j)_n
    dW = {j: δ[j].T @ A[j - 1] for j in δ}  # BP4: δ^(j)ᵀ A^(j−1)
    return dW, db


_ACTIVATIONS = {"sigmoid": (nn.sigmoid, nn.sigmoid_prime), "tanh": (nn.tanh, nn.tanh_prime)}


def check_backprop_equations(
    activation: str = "sigmoid",
    sizes: Sequence[int] = (3, 4, 4, 2),
    batch: int = 4,
    *,
    seed: int = 0,
    eps: float = 3e-5,
) -> tuple[float, float]:
    """Check :func:`backprop_equations` on a small float64 MLP with MSE loss.

    The network has the layers ``Linear, g, Linear, g, ..., Linear, g`` of `sizes`
    (g = `activation`, 'sigmoid' or 'tanh', after every Linear, the last too) and random
    weights and biases. Returns the largest relative difference of BP1-BP4's
    ∂𝓛/∂W^(j), ∂𝓛/∂b^(j) from those of dlkit's layer-wise backward, and from centred
    finite differences of step ε = `eps` (3e-5 balances their truncation error, of
    order ε², against the rounding of 𝓛, of order 1/ε, for this small loss).
    """
    from dlkit import rng

    if activation not in _ACTIVATIONS:
        raise ValueError(
            f"check_backprop_equations: activation must be one of {sorted(_ACTIVATIONS)}, "
            f"got {activation!r}"
        )
    g, g_prime = _ACTIVATIONS[activation]
    r = rng(seed)
    linears = [nn.Linear(m, n, seed=seed + i) for i, (m, n) in enumerate(zip(sizes, sizes[1:]))]
    for lin in linears:
        lin.b.data[...] = r.standard_normal(lin.b.data.shape)
    net = nn.Sequential(*[x for lin in linears for x in (lin, nn.get_activation(activation))])
    X, Y = r.standard_normal((batch, sizes[0])), r.random((batch, sizes[-1]))
    W = {j: lin.W.data for j, lin in enumerate(linears, start=2)}  # the layers' own arrays
    b = {j: lin.b.data for j, lin in enumerate(linears, start=2)}
    dW, db = backprop_equations(W, b, X, Y, g, g_prime)
    loss = nn.MSELoss()
    loss.forward(net.forward(X), Y)
    net.backward(loss.backward())
    vs_layers = max(
        max(nn.rel_error(dW[j], lin.W.grad), nn.rel_error(db[j], lin.b.grad))
        for j, lin in enumerate(linears, start=2)
    )

    def f() -> float:
        return loss.forward(net.forward(X), Y)

    vs_differences = max(
        max(
            nn.rel_error(dW[j], nn.numerical_gradient(f, W[j], eps)),
            nn.rel_error(db[j], nn.numerical_gradient(f, b[j], eps)),
        )
        for j in W
    )
    return vs_layers, vs_differences


def _sup(j: int) -> str:
    """The layer index as the notation writes it: ``^(j)``."""
    return f"^({j})"


def layer_gradients(
    sizes: Sequence[int] = (4, 5, 3), activation: str = "relu", batch: int = 2, seed: int = 0
) -> str:
    """Forward and backward through ``mlp(sizes)`` one layer at a time; a table of shapes.

    For every layer of the Sequential: what it computes in the book's notation, the
    shape of its input (the data it sees), and the derivatives its backward produces:
    with respect to the parameters (∂𝓛/∂W^(j), ∂𝓛/∂b^(j)) and with respect to its
    input (the data, passed on to the layer below). Layer 1 is the input, so the k-th
    Linear (k = 1, 2, ...) computes Z^(k+1).
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
    # names[i]: the symbol of layer i's output, Z^(j) for the j-th layer's Linear, A^(j)
    # for its activation; the input of layer i is named by names[i - 1] (A^(1) = X).
    names, j = [], 1
    for layer in net:
        j += isinstance(layer, nn.Linear)
        names.append(("Z" if isinstance(layer, nn.Linear) else "A") + _sup(j))
    ins = ["A" + _sup(1)] + names[:-1]
    d = loss.backward()
    rows = []
    for i in reversed(range(len(net))):
        layer = net[i]
        dx = layer.backward(d)
        j = names[i][1:]
        grads = ", ".join(f"∂𝓛/∂{p.name}{j} {p.grad.shape}" for p in layer.parameters()) or "-"
        out = f"δ{j}" if names[i][0] == "Z" else f"∂𝓛/∂{names[i]}"
        back = f"δ{ins[i][1:]}" if ins[i][0] == "Z" else f"∂𝓛/∂{ins[i]}"
        rows.append(
            (
                i,
                repr(layer),
                f"{names[i]} from {ins[i]} {acts[i].shape}",
                f"{out} {d.shape}",
                grads,
                f"{back} {dx.shape}",
            )
        )
        d = dx
    head = ("layer", "type", "computes", "∂𝓛/∂output", "parameter gradients", "returns")
    table = [head] + rows[::-1]
    widths = [max(len(str(r[c])) for r in table) for c in range(len(head))]
    lines = ["  ".join(f"{str(v):<{w}}" for v, w in zip(r, widths)).rstrip() for r in table]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def compare_engines(sizes: Sequence[int] = (3, 4, 2), batch: int = 2, seed: int = 0) -> float:
    """Backpropagate the same tanh MLP and MSE loss 𝓛 two ways; return the largest
    relative difference between the gradients ∂𝓛/∂W^(j), ∂𝓛/∂b^(j).

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
    """(layer, input shape, finite-difference step ε) for every layer type of dlkit.nn."""
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
        (nn.BatchNorm1d(5), (4, 5), 3e-5),
        (nn.BatchNorm2d(2), (3, 2, 3, 3), 3e-5),
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

    for layer, shape, eps in _gradcheck_cases():
        x = g.standard_normal(shape)
        res = nn.check_layer(layer, x, seed=seed, eps=eps)
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


def pass_flops(model: nn.Sequential, batch: int = 1) -> list[tuple[str, int, int, int]]:
    """The flops of the forward and of the backward pass of every Linear of `model`.

    One row per Linear layer j: ``(name, forward, dW, dA)`` for a batch of N = `batch`
    examples. The forward pass is one matrix product, Z^(j) = A^(j-1) W^(j)ᵀ, of
    N·s_{j-1}·s_j multiply-adds (:func:`dlkit.flops.count`), 2 flops each; the
    backward pass is two products of the same size, ∂𝓛/∂W^(j) = δ^(j)ᵀ A^(j-1) (BP4)
    and ∂𝓛/∂A^(j-1) = δ^(j) W^(j) (BP2), the second skipped by a layer built with
    ``input_grad=False``. The O(N·s_j) additions of biases, activations, BP3 and the
    loss are left out, as :mod:`dlkit.flops` leaves them out.
    """
    layers = list(model) if isinstance(model, nn.Sequential) else [model]
    first = next((x for x in layers if isinstance(x, nn.Linear)), None)
    if first is None:
        raise ValueError(f"pass_flops: the model has no Linear layer to count, got {model!r}")
    rows = []
    for layer, c in zip(layers, flops.count(model, (first.in_features,))):
        if isinstance(layer, nn.Linear):
            f = 2 * batch * c.macs  # one product: 2 flops per multiply-add
            rows.append((repr(layer), f, f, f if layer.input_grad else 0))
    return rows


def time_passes(
    sizes: Sequence[int] = (784, 1000, 1000, 10),
    batch: int = 256,
    *,
    repeats: int = 5,
    seed: int = 0,
    dtype=np.float32,
) -> tuple[float, float]:
    """Median wall-clock seconds of the forward pass (with the loss) and of the backward
    pass of ``mlp(sizes)`` with cross-entropy on a random batch, after one warm-up."""
    from dlkit import rng

    g = rng(seed)
    net = nn.mlp(sizes, "relu", seed=seed, dtype=dtype)
    X = g.standard_normal((batch, sizes[0])).astype(dtype)
    y = g.integers(0, sizes[-1], batch)
    loss = nn.CrossEntropyLoss()
    forward, backward = [], []
    for _ in range(repeats + 1):
        t0 = time.perf_counter()
        loss.forward(net.forward(X), y)
        t1 = time.perf_counter()
        net.backward(loss.backward())
        t2 = time.perf_counter()
        forward.append(t1 - t0)
        backward.append(t2 - t1)
    return float(np.median(forward[1:])), float(np.median(backward[1:]))


def memory_sweep(
    batch_sizes: Sequence[int] = (1, 16, 64, 256, 1024),
    depths: Sequence[int] = (1, 2, 4, 8),
    width: int = 1000,
    batch_for_depth: int = 128,
    dtype=np.float32,
) -> dict:
    """D, W, ∇D, ∇W and the measured peak (bytes) of one training step of ReLU MLPs
    784-width×depth-10 on random data (:func:`dlkit.train.training_memory`).

    Returns ``{"batch": {N: Memory}, "depth": {d: Memory}}``: the first for
    784-width-width-10 at each batch size N, the second for each depth d at
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


def _deep_step(activation: str, depth: int, width: int, init, batch: int, seed: int):
    """A fresh ``mlp([64] + [width]*depth + [10], activation)`` after one forward and
    backward pass of cross-entropy on `batch` digits; returns the network and the
    δ^(j) = ∂𝓛/∂Z^(j) that each of its Linear layers received, j = 2, ..., L."""
    from dlkit.data import load_digits

    X, y, _, _ = load_digits(seed=seed)
    net = nn.mlp([64] + [width] * depth + [10], activation, seed=seed, init=init)
    loss = nn.CrossEntropyLoss()
    loss.forward(net.forward(X[:batch]), y[:batch])
    d, deltas = loss.backward(), []
    for layer in reversed(list(net)):
        if isinstance(layer, nn.Linear):
            deltas.append(d)
        d = layer.backward(d)
    return net, deltas[::-1]


def layer_gradient_norms(
    activation: str,
    depth: int = 8,
    width: int = 32,
    *,
    init: str | None = None,
    batch: int = 256,
    seed: int = 0,
) -> np.ndarray:
    """‖∂𝓛/∂W^(j)‖ of each Linear layer (input side first) of a fresh deep MLP on digits.

    One forward/backward pass of cross-entropy on `batch` digits through
    ``mlp([64] + [width]*depth + [10], activation)``.
    """
    net, _ = _deep_step(activation, depth, width, init, batch, seed)
    norms = gradient_norms(net)
    return np.array([v for k, v in norms.items() if k.endswith(".W")])


def delta_norms(
    activation: str,
    depth: int = 8,
    width: int = 32,
    *,
    init: str | None = None,
    batch: int = 256,
    seed: int = 0,
) -> tuple[np.ndarray, np.ndarray]:
    """The norms ‖δ^(j)‖ (Frobenius, over the batch) and ‖W^(j)‖₂ (the operator norm,
    the largest singular value) for j = 2, ..., L, of the network and the backward pass
    of :func:`layer_gradient_norms`.

    By BP2, ‖δ^(j)‖ ≤ ‖δ^(j+1)‖ · ‖W^(j+1)‖₂ · max g': each layer down multiplies the
    norm of δ by at most ‖W^(j+1)‖₂ max g' (for the sigmoid, max g' = 1/4).
    """
    net, deltas = _deep_step(activation, depth, width, init, batch, seed)
    linears = [layer for layer in net if isinstance(layer, nn.Linear)]
    return (
        np.array([np.linalg.norm(d) for d in deltas]),
        np.array([np.linalg.norm(lin.W.data, 2) for lin in linears]),
    )
