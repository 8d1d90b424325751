"""Checks for the exercises of the chapter *Backpropagation*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dlkit.exercises import never_raises, number, raised, verdict, whole


@never_raises
def check_chain_rule(dL_da, dL_db, dL_dc) -> bool:
    """Exercise 1: for L = (a·b + c)·a at a = 2, b = −3, c = 10, the three derivatives."""
    from dlkit.autograd import Value

    a, b, c = Value(2.0), Value(-3.0), Value(10.0)
    L = (a * b + c) * a
    L.backward()
    want = (a.grad, b.grad, c.grad)
    got = tuple(number(v) for v in (dL_da, dL_db, dL_dc))
    if None in got:
        return verdict(False, "pass three numbers: dL/da, dL/db, dL/dc")
    if all(abs(g - w) < 1e-9 for g, w in zip(got, want)):
        return verdict(
            True,
            f"(∂L/∂a, ∂L/∂b, ∂L/∂c) = {want}; a is used twice, so its "
            "two paths add: b·a + (a·b + c)",
        )
    if abs(got[0] - b.data * a.data) < 1e-9 or abs(got[0] - (a.data * b.data + c.data)) < 1e-9:
        return verdict(False, "∂L/∂a misses one of the two paths through which a reaches L")
    wrong = [n for n, g, w in zip(("a", "b", "c"), got, want) if not abs(g - w) < 1e-9]
    return verdict(False, f"∂L/∂{', ∂L/∂'.join(wrong)} not right yet")


@never_raises
def check_softplus_derivative(fn: Callable) -> bool:
    """Exercise 2: `fn(z)` returns the derivative of softplus(z) = log(1 + e^z), for a
    numpy array z (and must stay finite for large |z|)."""
    z = np.linspace(-30, 30, 121)
    try:
        got = np.asarray(fn(z.copy()), dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - the reader's code may fail in any way
        return verdict(False, raised(exc))
    if got.shape != z.shape:
        return verdict(False, f"expected an array of shape {z.shape}, got {got.shape}")
    if not np.all(np.isfinite(got)):
        return verdict(False, "some values are not finite: avoid exp of large numbers")
    h = 1e-5
    num = (np.logaddexp(0, z + h) - np.logaddexp(0, z - h)) / (2 * h)
    err = float(np.max(np.abs(got - num) / np.maximum(np.abs(got) + np.abs(num), 1e-12)))
    if err < 1e-6:
        return verdict(
            True, f"matches finite differences (relative error {err:.0e}); softplus' = sigmoid"
        )
    return verdict(False, f"relative error {err:.1e} against finite differences")


@never_raises
def check_activation_bytes(answer) -> bool:
    """Exercise 3: bytes of D (the input of every layer plus the output) for an MLP
    784-1000-1000-10 with ReLU, float32, batch 128, counted as dlkit.train.training_memory
    counts them (Linear, ReLU, Linear, ReLU, Linear)."""
    got = whole(answer)
    if got is None:
        return verdict(False, f"pass an integer number of bytes, got {answer!r}")
    widths = [784, 1000, 1000, 1000, 1000, 10]  # inputs of the 5 layers, then the output
    want = 128 * 4 * sum(widths)
    if got == want:
        return verdict(True, f"{want:,} bytes = 128 × 4 × {sum(widths):,} ({want / 2**20:.2f} MiB)")
    if got == want // 4:
        return verdict(False, "that is the number of floats; each float32 takes 4 bytes")
    if got == 128 * 4 * (784 + 1000 + 1000 + 10):
        return verdict(False, "each ReLU keeps its own input too: count every layer's input")
    return verdict(False, f"{got:,} bytes is not it; count N × bytes × Σ widths")
