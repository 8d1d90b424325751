"""Benchmark group "mlp": one training step of an MLP 784-100-10 (ReLU), and a digits epoch.

A step is forward, cross-entropy loss, backward and an SGD update, in float32 on a
batch of 64, timed for dlkit, for a plain numpy step written out by hand (the floor
that dlkit's layer structure adds its overhead to), and for PyTorch CPU with the same
thread count when it is installed. Each side is timed alone in a fresh process
(:func:`mlp_worker`), the sides alternating for :func:`dlkit.bench.rounds` rounds, and
each row's ratio is the median of the per-round ratios: timed in one process, one library's idle threads spin on the cores the
other needs and the ratio says more about thread pools than about the step. The
epoch row trains an MLP 64-100-10 for one epoch
on the sklearn digits (1,348 images, batches of 64) with :func:`dlkit.train.fit`.
"""

from __future__ import annotations


import numpy as np

from dlkit.bench import (
    Row,
    in_fresh_process,
    register,
    rounds,
    timeit,
    torch_or_none,
    torch_python,
)

SIZES = (784, 100, 10)
BATCH = 64
LR = 0.01


def _data(n_in: int, n_out: int, batch: int, seed: int = 0):
    g = np.random.default_rng(seed)
    X = g.standard_normal((batch, n_in)).astype(np.float32)
    y = g.integers(0, n_out, batch).astype(np.int64)
    return X, y


def dlkit_step(sizes=SIZES, batch: int = BATCH):
    """A closure running one dlkit training step (and the network it trains)."""
    from dlkit import nn
    from dlkit.optim import SGD

    X, y = _data(sizes[0], sizes[-1], batch)
    net = nn.mlp(sizes, "relu", seed=0, dtype=np.float32)
    net[0].input_grad = False  # the input is data: no dL/dX, as in PyTorch
    loss_fn = nn.CrossEntropyLoss()
    opt = SGD(net.parameters(), lr=LR)

    def step():
        loss_fn.forward(net.forward(X), y)
        net.backward(loss_fn.backward())
        opt.step()

    return step, net


def numpy_step(sizes=SIZES, batch: int = BATCH):
    """The same step in plain numpy, every formula inline (float32, in place).

    Returns the step closure and its parameters (W1, b1, W2, b2), updated in place.
    """
    from dlkit import nn

    X, y = _data(sizes[0], sizes[-1], batch)
    net = nn.mlp(sizes, "relu", seed=0, dtype=np.float32)
    W1, b1 = net[0].W.data.copy(), net[0].b.data.copy()
    W2, b2 = net[2].W.data.copy(), net[2].b.data.copy()
    rows = np.arange(batch)

    def step():
        z1 = X @ W1.T + b1
        a1 = np.maximum(z1, 0)
        z2 = a1 @ W2.T + b2
        z2 -= z2.max(axis=1, keepdims=True)
        p = np.exp(z2)
        p /= p.sum(axis=1, keepdims=True)
        float(-np.log(p[rows, y]).mean())
        p[rows, y] -= 1
        p /= batch
        dW2, db2 = p.T @ a1, p.sum(axis=0)
        da1 = p @ W2
        da1 *= z1 > 0
        dW1, db1 = da1.T @ X, da1.sum(axis=0)  # no dL/dX: the input is data
        for theta, grad in ((W1, dW1), (b1, db1), (W2, dW2), (b2, db2)):
            theta -= LR * grad

    return step, (W1, b1, W2, b2)


def torch_step(torch, sizes=SIZES, batch: int = BATCH):
    X, y = _data(sizes[0], sizes[-1], batch)
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(torch.nn.Linear(a, b))
        if i < len(sizes) - 2:
            layers.append(torch.nn.ReLU())
    net = torch.nn.Sequential(*layers)
    opt = torch.optim.SGD(net.parameters(), lr=LR)
    loss_fn = torch.nn.CrossEntropyLoss()
    tX, ty = torch.from_numpy(X), torch.from_numpy(y)

    def step():
        opt.zero_grad()
        loss = loss_fn(net(tX), ty)
        loss.backward()
        opt.step()
        loss.item()

    return step


def _digits_epoch():
    from dlkit import nn
    from dlkit.data import load_digits
    from dlkit.optim import SGD
    from dlkit.train import fit

    X, y, _, _ = load_digits(dtype=np.float32)
    net = nn.mlp([64, 100, 10], "relu", seed=0, dtype=np.float32)
    opt = SGD(net.parameters(), lr=0.05)
    loss_fn = nn.CrossEntropyLoss()

    def epoch():
        fit(net, loss_fn, opt, X, y, epochs=1, batch_size=BATCH, seed=0, classify=False)

    return epoch, (X, y)


def _torch_digits_epoch(torch, X, y):
    from dlkit.train import batches

    net = torch.nn.Sequential(torch.nn.Linear(64, 100), torch.nn.ReLU(), torch.nn.Linear(100, 10))
    opt = torch.optim.SGD(net.parameters(), lr=0.05)
    loss_fn = torch.nn.CrossEntropyLoss()

    def epoch():
        for xb, yb in batches(X, y, BATCH, seed=0):
            opt.zero_grad()
            loss = loss_fn(net(torch.from_numpy(xb)), torch.from_numpy(yb))
            loss.backward()
            opt.step()
            loss.item()

    return epoch


def mlp_worker(side: str, digits: str | None = None) -> dict[str, float]:
    """Seconds per step and per digits epoch of `side` ("dlkit", "numpy" or "torch"),
    measured in this process alone. The torch side reads the digits from the ``.npz``
    file `digits` (arrays X, y) when given: its interpreter may lack scikit-learn."""
    import os

    threads = int(os.environ.get("DLKIT_BENCH_THREADS", os.cpu_count() or 1))
    if side == "torch":
        torch = torch_or_none()
        torch.set_num_threads(threads)
        if digits is None:
            X, y = _digits_epoch()[1]
        else:
            with np.load(digits) as f:
                X, y = f["X"], f["y"]
        return {
            "step": timeit(torch_step(torch)),
            "epoch": timeit(_torch_digits_epoch(torch, X, y), repeat=5, min_time=0.2, warmup=1),
            "threads": torch.get_num_threads(),
        }
    if side == "numpy":
        return {"step": timeit(numpy_step()[0])}
    return {
        "step": timeit(dlkit_step()[0]),
        "epoch": timeit(_digits_epoch()[0], repeat=5, min_time=0.2, warmup=1),
    }


@register("mlp")
def bench_mlp() -> list[Row]:
    shape = "-".join(map(str, SIZES))
    import os
    import tempfile

    python = torch_python()
    sides = ["dlkit", "numpy"] + (["torch"] if python is not None else [])
    runs: dict[str, list[dict]] = {side: [] for side in sides}
    with tempfile.TemporaryDirectory() as tmp:
        digits = os.path.join(tmp, "digits.npz")
        if python is not None:  # for an interpreter without scikit-learn
            X, y = _digits_epoch()[1]
            np.savez(digits, X=X, y=y)
        for r in range(rounds()):  # the sides in turn, the first one changing every round
            for side in sides[r % len(sides) :] + sides[: r % len(sides)]:
                if side == "torch":
                    call = f"mlp_worker('torch', {digits!r})"
                    runs[side].append(in_fresh_process("dlkit.bench.mlp", call, python))
                else:
                    call = f"mlp_worker({side!r})"
                    runs[side].append(in_fresh_process("dlkit.bench.mlp", call))

    def per_round(side: str, key: str) -> list[float]:
        return [r[key] for r in runs[side]]

    name = f"train step {shape} relu f32 b{BATCH}"
    rows = [
        Row.from_rounds(
            "mlp",
            name,
            per_round("dlkit", "step"),
            "numpy",
            per_round("numpy", "step"),
            "hand-written numpy step",
        )
    ]
    if "torch" in runs:
        rows.append(
            Row.from_rounds(
                "mlp",
                name,
                per_round("dlkit", "step"),
                "pytorch-cpu",
                per_round("torch", "step"),
                f"{runs['torch'][0]['threads']} threads, separate processes",
            )
        )
    epoch_name = "digits epoch 64-100-10 b64 (1348 images)"
    if "torch" in runs:
        rows.append(
            Row.from_rounds(
                "mlp",
                epoch_name,
                per_round("dlkit", "epoch"),
                "pytorch-cpu",
                per_round("torch", "epoch"),
            )
        )
    else:
        rows.append(
            Row.from_rounds(
                "mlp",
                epoch_name,
                per_round("dlkit", "epoch"),
                note="install torch==2.13.0 for the PyTorch column",
            )
        )
    return rows
