"""Record what PyTorch's batch normalisation computes, for tests/test_norm.py to compare.

    /path/to/python-with-torch tools/torch_reference.py          # rewrites the file
    /path/to/python-with-torch tools/torch_reference.py --check  # compares, writes nothing

PyTorch is not a dependency of dlkit (it is far too large for the book's environment),
so its results are recorded once, in ``tests/data/torch_batchnorm.npz``, and the test
reproduces every recorded array with dlkit's :class:`~dlkit.nn.BatchNorm1d` and
:class:`~dlkit.nn.BatchNorm2d` (to a relative 1e-10 in float64) on every run. To
regenerate the file, run this script with any Python that has ``torch`` and ``numpy``
installed (a CPU build is enough; the script does not import dlkit); it writes to
``tests/data`` beside it, wherever it is run from.
The inputs are drawn from fixed seeds, so a new recording differs from the old one
only where PyTorch's arithmetic changed.

For each case (a layer, its input shape, eps and momentum) the script sets the scale w
(``weight``) and shift b (``bias``) to seeded values, then runs ``STEPS`` training steps,
each on a new input Z with a fixed upstream gradient ∇_U 𝓛 (``dout``), and one step in
evaluation mode. Each quantity is stored once per case, stacked over these steps (axis
0: training steps 0, 1, 2, then evaluation):

    <case>/x, <case>/dout                     the inputs and the upstream gradients
    <case>/out, <case>/dx, <case>/dw, <case>/db  the outputs U and the gradients of
                                              𝓛 = Σ U ⊙ dout
    <case>/running_mean, <case>/running_var   the running statistics after each step

with ``<case>/w``, ``<case>/b``, ``<case>/eps``, ``<case>/momentum`` and
``torch_version``. Everything is float64.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np

PATH = Path(__file__).resolve().parent.parent / "tests" / "data" / "torch_batchnorm.npz"
STEPS = 3
QUANTITIES = ("x", "dout", "out", "dx", "dw", "db", "running_mean", "running_var")

#: name -> (layer kind, input shape, eps, momentum)
CASES = {
    "bn1d": ("1d", (6, 4), 1e-5, 0.1),
    "bn1d_custom": ("1d", (5, 3), 1e-3, 0.3),
    "bn2d": ("2d", (2, 3, 3, 3), 1e-5, 0.1),
}


def record(seed: int = 0) -> dict[str, np.ndarray]:
    """Run every case through PyTorch; the arrays by key (see the module docstring)."""
    import torch

    g = np.random.default_rng(seed)
    out: dict[str, np.ndarray] = {"torch_version": np.array(torch.__version__)}
    for name, (kind, shape, eps, momentum) in CASES.items():
        C = shape[1]
        make = torch.nn.BatchNorm1d if kind == "1d" else torch.nn.BatchNorm2d
        layer = make(C, eps=eps, momentum=momentum).double()
        w, b = 1 + 0.5 * g.standard_normal(C), 0.5 * g.standard_normal(C)
        with torch.no_grad():
            layer.weight.copy_(torch.from_numpy(w))
            layer.bias.copy_(torch.from_numpy(b))
        out.update({f"{name}/w": w, f"{name}/b": b})
        out.update({f"{name}/eps": np.array(eps), f"{name}/momentum": np.array(momentum)})
        steps: dict[str, list[np.ndarray]] = {k: [] for k in QUANTITIES}
        for t in range(STEPS + 1):
            layer.train(t < STEPS)  # the last step runs in evaluation mode
            x = 2 * g.standard_normal(shape) + g.standard_normal((1, C) + (1,) * (len(shape) - 2))
            dout = g.standard_normal(shape)
            xt = torch.from_numpy(x).requires_grad_(True)
            layer.zero_grad()
            y = layer(xt)
            y.backward(torch.from_numpy(dout))
            for k, v in (
                ("x", x),
                ("dout", dout),
                ("out", y.detach().numpy()),
                ("dx", xt.grad.numpy()),
                ("dw", layer.weight.grad.numpy()),
                ("db", layer.bias.grad.numpy()),
                ("running_mean", layer.running_mean.numpy()),
                ("running_var", layer.running_var.numpy()),
            ):
                steps[k].append(np.array(v, dtype=np.float64))
        out.update({f"{name}/{k}": np.stack(v) for k, v in steps.items()})
    return out


def main(argv: list[str]) -> int:
    arrays = record()
    if "--check" in argv:
        saved = np.load(PATH, allow_pickle=False)
        worst = max(
            float(np.max(np.abs(arrays[k] - saved[k]) / (np.abs(saved[k]) + 1e-300)))
            for k in arrays
            if arrays[k].dtype.kind == "f"
        )
        print(
            f"torch {arrays['torch_version']} against {PATH.name}: largest relative difference {worst:.1e}"
        )
        return 0 if worst < 1e-12 else 1
    PATH.parent.mkdir(parents=True, exist_ok=True)
    np.savez_compressed(PATH, **arrays)
    print(f"wrote {PATH} ({PATH.stat().st_size:,} bytes) with torch {arrays['torch_version']}")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
