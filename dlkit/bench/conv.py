"""Benchmarks of chapter 7: convolution algorithms, the teaching GEMM, a LeNet-style step.

Groups (``python -m dlkit.bench --only conv`` etc.):

- ``conv``: each algorithm's forward pass on the two convolutions of the LeNet-style
  28×28 network of chapter 7
  (batch 64, float32: 1→6 channels 5×5 on 28×28, and 6→16 channels 5×5 on 12×12)
  beside PyTorch's ``torch.nn.functional.conv2d`` with the same number of threads;
  Winograd, which needs 3×3 kernels, on a 3×3 version of the second layer.
- ``lenet``: one training step of that network (forward, cross-entropy, backward, SGD
  update) on a batch of 64, dlkit float32 beside the same network in PyTorch.

Each side runs in fresh Python processes, dlkit's and the peer's in alternating rounds
(:func:`dlkit.bench.alternate`), and each row's ratio is the median of the per-round
ratios, with their spread: two libraries' thread pools in one process take cores
from each other while their threads wait for work (and PyTorch and Numba would share
one OpenMP runtime, with whichever waiting policy was set first). Every library uses
``DLKIT_BENCH_THREADS`` threads (default: all cores) and its own defaults otherwise.
"""

from __future__ import annotations

import time
from typing import Callable

import numpy as np

from dlkit.bench import Row, alternate, in_fresh_process, register, torch_python

BATCH = 64
LENET_LAYERS = (
    ("conv1 1->6 5x5 28x28", 1, 28, 6),
    ("conv2 6->16 5x5 12x12", 6, 12, 16),
)


def bench_threads() -> int:
    """The thread count every library uses here (``DLKIT_BENCH_THREADS`` or all cores)."""
    import os

    return int(os.environ.get("DLKIT_BENCH_THREADS", os.cpu_count() or 1))


def _conv_case(C: int, H: int, F: int, k: int = 5, seed: int = 0):
    g = np.random.default_rng(seed)
    x = g.standard_normal((BATCH, C, H, H)).astype(np.float32)
    w = (g.standard_normal((F, C, k, k)) / np.sqrt(C * k * k)).astype(np.float32)
    b = np.zeros(F, np.float32)
    return x, w, b


CONV_CASES = [(name, C, H, F, 5, 0) for name, C, H, F in LENET_LAYERS] + [
    ("conv2 as 3x3 pad 1 6->16 12x12", 6, 12, 16, 3, 1)
]


def _best(fn: Callable[[], object], repeat: int = 7, min_time: float = 0.02) -> float:
    """Best of `repeat` measurements of seconds per call (each at least `min_time` long)."""
    fn()
    fn()
    t0 = time.perf_counter()
    fn()
    loops = max(1, int(min_time / max(time.perf_counter() - t0, 1e-7)))
    best = float("inf")
    for _ in range(repeat):
        t0 = time.perf_counter()
        for _ in range(loops):
            fn()
        best = min(best, (time.perf_counter() - t0) / loops)
    return best


def conv_worker(side: str) -> dict[str, float]:
    """Seconds per forward pass of every (layer, algorithm) of `side` in this process.

    side "dlkit" times each applicable algorithm of :func:`dlkit.conv.conv2d`, side
    "torch" ``torch.nn.functional.conv2d``; keys are "<layer> <algorithm>" or "<layer>".
    """
    n = bench_threads()
    times = {}
    if side == "torch":
        import torch

        torch.set_num_threads(n)
        for name, C, H, F, k, pad in CONV_CASES:
            tx, tw, tb = (torch.from_numpy(a) for a in _conv_case(C, H, F, k))
            with torch.no_grad():
                times[name] = _best(lambda: torch.nn.functional.conv2d(tx, tw, tb, padding=pad))
        return times
    import dlkit.conv as dc
    import dlkit.kernels.cpu  # noqa: F401 - its OpenMP wait policy, before Numba's threads start

    _threads(n).__enter__()
    for name, C, H, F, k, pad in CONV_CASES:
        x, w, b = _conv_case(C, H, F, k)
        for algorithm in ["direct", "im2col", "fft", "numba"] + (["winograd"] if k == 3 else []):
            times[f"{name} {algorithm}"] = _best(
                lambda: dc.conv2d(x, w, b, 1, pad, algorithm),
                repeat=3 if algorithm == "direct" else 7,
            )
    return times


@register("conv")
def bench_conv() -> list[Row]:
    """dlkit's algorithms and PyTorch, each side in fresh processes, in alternating rounds;
    each row's ratio is the median of the per-round ratios of best-of-7 times."""
    have_torch = torch_python() is not None
    ours, theirs = alternate(
        "dlkit.bench.conv",
        "conv_worker('dlkit')",
        "conv_worker('torch')" if have_torch else None,
        peer_python=torch_python(),
    )
    rows = []
    for key in ours[0]:
        layer = next(name for name, *_ in CONV_CASES if key.startswith(name + " "))
        t = [o[key] for o in ours]
        tp = [o[layer] for o in theirs] if have_torch else None
        rows.append(Row.from_rounds("conv", key, t, "torch conv2d" if have_torch else None, tp))
    return rows


def _in_fresh_process(call: str):
    """Run ``dlkit.bench.conv.<call>`` in a new Python process; return its (JSON) result."""
    return in_fresh_process("dlkit.bench.conv", call)


def lenet5(dtype=np.float32, seed: int = 0):
    """The LeNet-style 28×28 network the benchmark trains (ReLU, max pooling; not
    LeNet-5 itself): :func:`dlkit.models.lenet28_net`. The name is kept for old code."""
    from dlkit import models

    return models.lenet28_net(seed=seed, dtype=dtype)


def torch_lenet5(torch):
    """PyTorch's LeNet-5 with the layers of :func:`lenet5`, seeded by ``torch.manual_seed(0)``."""
    nn = torch.nn
    torch.manual_seed(0)
    return nn.Sequential(
        nn.Conv2d(1, 6, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Conv2d(6, 16, 5),
        nn.ReLU(),
        nn.MaxPool2d(2),
        nn.Flatten(),
        nn.Linear(256, 120),
        nn.ReLU(),
        nn.Linear(120, 84),
        nn.ReLU(),
        nn.Linear(84, 10),
    )


def _lenet_step(side: str):
    """One training step of the LeNet-style network (batch 64, float32) in dlkit or in PyTorch, as a closure."""
    g = np.random.default_rng(0)
    X = g.standard_normal((BATCH, 1, 28, 28)).astype(np.float32)
    y = g.integers(0, 10, BATCH)
    n = bench_threads()
    if side == "torch":
        import torch

        torch.set_num_threads(n)
        tnet = torch_lenet5(torch)
        topt = torch.optim.SGD(tnet.parameters(), lr=0.01)
        tX, ty = torch.from_numpy(X), torch.from_numpy(y)

        def step():
            topt.zero_grad()
            torch.nn.functional.cross_entropy(tnet(tX), ty).backward()
            topt.step()

        return step
    from dlkit.nn import CrossEntropyLoss
    from dlkit.optim import SGD

    import dlkit.kernels.cpu  # noqa: F401 - its OpenMP wait policy, before Numba's threads start

    _threads(n).__enter__()  # n threads for the rest of this process
    net, loss = lenet5(), CrossEntropyLoss()
    opt = SGD(net.parameters(), lr=0.01)

    def step():
        out = net.forward(X)
        loss.forward(out, y)
        net.backward(loss.backward())
        opt.step()

    return step


def lenet_worker(side: str, steps: int = 150) -> float:
    """Median seconds of a LeNet-style step of `side` ("dlkit" or "torch") in this process."""
    step = _lenet_step(side)
    for _ in range(10):
        step()
    ts = []
    for _ in range(steps):
        t0 = time.perf_counter()
        step()
        ts.append(time.perf_counter() - t0)
    ts.sort()
    return ts[len(ts) // 2]


@register("lenet")
def bench_lenet() -> list[Row]:
    """Each side in its own fresh process, in alternating rounds.

    Separate processes because PyTorch and Numba share one OpenMP runtime when both are
    loaded: whichever thread-waiting policy the first one set would apply to both.
    """

    have_torch = torch_python() is not None
    ours, theirs = alternate(
        "dlkit.bench.conv",
        "lenet_worker('dlkit')",
        "lenet_worker('torch')" if have_torch else None,
        peer_python=torch_python(),
    )
    return [
        Row.from_rounds(
            "lenet",
            "LeNet-style 28x28 training step, batch 64, float32",
            ours,
            "torch" if have_torch else None,
            theirs if have_torch else None,
            "separate processes",
        )
    ]


def kernel_size_sweep(
    N: int = 8,
    C: int = 3,
    F: int = 8,
    H: int = 32,
    kernel_sizes=(3, 5, 7, 9, 11),
    algorithms=("direct", "im2col", "fft", "numba"),
    *,
    threads: int = 1,
    repeat: int = 5,
    seed: int = 0,
) -> dict[str, list[float]]:
    """Best-of-`repeat` seconds of each algorithm's forward pass against kernel size.

    x (N, C, H, H), k×k kernels to F channels, stride 1, no padding, float32, on
    `threads` threads (one by default: a timing on a shared machine is then least
    disturbed by other work). Returns {algorithm: [seconds per kernel size]}.
    """
    import dlkit.conv as dc

    g = np.random.default_rng(seed)
    x = g.standard_normal((N, C, H, H)).astype(np.float32)
    times: dict[str, list[float]] = {a: [] for a in algorithms}
    with _threads(threads):
        for k in kernel_sizes:
            w = g.standard_normal((F, C, k, k)).astype(np.float32)
            for a in algorithms:
                dc.conv2d(x, w, None, 1, 0, a)  # warm-up (and JIT)
                best = float("inf")
                for _ in range(repeat):
                    t0 = time.perf_counter()
                    dc.conv2d(x, w, None, 1, 0, a)
                    best = min(best, time.perf_counter() - t0)
                times[a].append(best)
    return times


class _threads:
    """Context: Numba's and the BLAS's thread pools limited to n threads, then restored."""

    def __init__(self, n: int):
        self.n = n

    def __enter__(self):
        try:
            import numba

            self._numba = numba.get_num_threads()
            numba.set_num_threads(min(self.n, numba.config.NUMBA_NUM_THREADS))
        except ImportError:
            self._numba = None
        try:
            from threadpoolctl import threadpool_limits

            self._blas = threadpool_limits(self.n)
        except ImportError:
            self._blas = None
        return self

    def __exit__(self, *exc):
        if self._numba is not None:
            import numba

            numba.set_num_threads(self._numba)
        if self._blas is not None:
            self._blas.restore_original_limits()
        return False
