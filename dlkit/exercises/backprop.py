"""Checks for the exercises of the chapter *Backpropagation*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given, and never prints the
expected answer.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dlkit.exercises import never_raises, number, raised, verdict, whole


@never_raises
def check_chain_rule(dL_da, dL_db, dL_dc) -> bool:
    """Exercise 1: for 𝓛 = (a·b + c)·a at a = 2, b = −3, c = 10, the three derivatives
    ∂𝓛/∂a, ∂𝓛/∂b, ∂𝓛/∂c."""
    from dlkit.autograd import Value

    a, b, c = Value(2.0), Value(-3.0), Value(10.0)
    L = (a * b + c) * a
    L.backward()
    want = (a.grad, b.grad, c.grad)
    got = tuple(number(v) for v in (dL_da, dL_db, dL_dc))
    if None in got:
        return verdict(False, "pass three numbers: ∂𝓛/∂a, ∂𝓛/∂b, ∂𝓛/∂c")
    if all(abs(g - w) < 1e-9 for g, w in zip(got, want)):
        return verdict(
            True,
            "all three derivatives are right; a is used twice, so its two paths add: "
            "b·a through the product and (a·b + c) directly",
        )
    if abs(got[0] - b.data * a.data) < 1e-9 or abs(got[0] - (a.data * b.data + c.data)) < 1e-9:
        return verdict(False, "∂𝓛/∂a misses one of the two paths through which a reaches 𝓛")
    wrong = [n for n, g, w in zip(("a", "b", "c"), got, want) if not abs(g - w) < 1e-9]
    return verdict(
        False,
        f"∂𝓛/∂{', ∂𝓛/∂'.join(wrong)} not right yet: draw the graph, then multiply the "
        "local derivatives along each path from the variable to 𝓛 and add the paths",
    )


@never_raises
def check_softplus_derivative(fn: Callable) -> bool:
    """Exercise 2: `fn(z)` returns the derivative of softplus(z) = log(1 + e^z) for a
    numpy array z, *accurately*: relative error below 1e-6 against finite differences
    of a stable softplus, at every z from −30 to 30 (z = ±30 included, where formulas
    that subtract nearly equal numbers stay finite but lose their digits)."""
    z = np.linspace(-30, 30, 121)
    try:
        got = np.asarray(fn(z.copy()), dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - the reader's code may fail in any way
        return verdict(False, raised(exc))
    if got.shape != z.shape:
        return verdict(False, f"expected an array of shape {z.shape}, got {got.shape}")
    if not np.all(np.isfinite(got)):
        return verdict(False, "some values are not finite: avoid exp of large numbers")
    eps = 1e-5
    num = (np.logaddexp(0, z + eps) - np.logaddexp(0, z - eps)) / (2 * eps)
    rel = np.abs(got - num) / np.maximum(np.abs(got) + np.abs(num), 1e-300)
    worst = int(np.argmax(rel))
    if rel[worst] < 1e-6:
        return verdict(
            True,
            "accurate everywhere (relative error below 1e-6 from z = -30 to 30); "
            "softplus' is the sigmoid",
        )
    if np.max(rel[20:-20]) < 1e-6:  # right for |z| <= 20: inaccurate at the ends only
        return verdict(
            False,
            f"right in the middle but not accurate at z = {z[worst]:g}: there the "
            "derivative is tiny or close to 1, and a formula that subtracts two nearly "
            "equal numbers (1 - something close to 1) loses its digits; find a form "
            "without that subtraction",
        )
    return verdict(
        False,
        f"not the derivative of softplus yet (first off at z = {z[np.argmax(rel > 1e-6)]:g}): "
        "differentiate log(1 + e^z) with the chain rule",
    )


@never_raises
def check_activation_bytes(answer) -> bool:
    """Exercise 3: bytes of D (the batch X and the output of every layer) for an MLP
    784-1000-1000-10 with ReLU, float32, batch 128, counted as dlkit.train.training_memory
    counts them (Linear, ReLU, Linear, ReLU, Linear)."""
    got = whole(answer)
    if got is None:
        return verdict(False, f"pass an integer number of bytes, got {answer!r}")
    widths = [784, 1000, 1000, 1000, 1000, 10]  # X, then the output of each of the 5 layers
    want = 128 * 4 * sum(widths)
    if got == want:
        return verdict(
            True, "128 examples × 4 bytes × (784 + 4 × 1000 + 10) numbers: X and every output"
        )
    if got == want // 4:
        return verdict(False, "that counts numbers; the question asks for bytes")
    if got == 128 * 4 * (784 + 1000 + 1000 + 10):
        return verdict(
            False,
            "training_memory counts the output of every layer, the ReLUs' too: a "
            "ReLU's output is a new array beside its input",
        )
    return verdict(
        False,
        f"{got:,} bytes is not it; add up N × (bytes per float32) × the width of every "
        "array D holds: X, then the output of each of the five layers",
    )
