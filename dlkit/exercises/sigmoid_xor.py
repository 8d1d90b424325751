"""Checks for the exercises of the chapter *Sigmoid neurons and XOR*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given.
"""

from __future__ import annotations

import numpy as np

from dlkit.data import GATES, gate_table
from dlkit.exercises import never_raises, number, verdict
from dlkit.perceptron import GateNetwork, truth_table_inputs, xnor_network


@never_raises
def check_xor_network(net, tol: float = 0.01) -> bool:
    """Exercise 1: a hand-built :class:`~dlkit.perceptron.GateNetwork` of sigmoid units
    whose output is within `tol` of XOR on all four inputs."""
    if not isinstance(net, GateNetwork):
        return verdict(False, f"pass a dlkit.perceptron.GateNetwork, got {type(net).__name__}")
    X = truth_table_inputs(2)
    try:
        h = np.asarray(net(X), dtype=np.float64)
    except (TypeError, ValueError) as exc:
        return verdict(False, f"the network could not run on the four inputs: {exc}")
    y = np.asarray(GATES["XOR"])
    err = np.abs(h - y)
    if np.all(err < tol):
        return verdict(True, f"outputs {np.round(h, 4).tolist()}; largest error {err.max():.1e}")
    bad = [tuple(int(v) for v in X[i]) for i in np.flatnonzero(~(err < tol))]
    return verdict(
        False,
        f"outputs {np.round(h, 4).tolist()} miss XOR {y.tolist()} by >= {tol} at inputs {bad}",
    )


def smallest_scale(tol: float = 0.01, step: float = 0.05) -> float:
    """The smallest c in step, 2 step, ..., 1 at which xnor_network(scale=c) is within tol."""
    X = truth_table_inputs(2)
    y = np.asarray(GATES["XNOR"])
    for k in range(1, int(round(1 / step)) + 1):
        c = round(k * step, 10)
        if np.max(np.abs(xnor_network(scale=c)(X) - y)) < tol:
            return c
    return 1.0


@never_raises
def check_smallest_scale(c) -> bool:
    """Exercise 2: the smallest c in 0.05, 0.10, ..., 1.00 for which every output of
    ``xnor_network(scale=c)`` is within 0.01 of XNOR."""
    got = number(c)
    if got is None:
        return verdict(False, f"answer with a number, got {c!r}")
    c = got
    best = smallest_scale()
    if abs(c - best) < 1e-9:
        return verdict(
            True,
            f"c = {best:g}: every weight and bias multiplied by {best:g} "
            "still keeps each output within 0.01",
        )
    if c <= 0:
        return verdict(
            False,
            f"c = {c:g} is not a scale to try: c <= 0 removes or flips every weight; "
            "the candidates are 0.05, 0.10, ..., 1.00",
        )
    if abs(c * 20 - round(c * 20)) > 1e-9 or c > 1:
        return verdict(
            False, f"c = {c:g} is not one of the candidates 0.05, 0.10, ..., 1.00; pick one"
        )
    X = truth_table_inputs(2)
    y = np.asarray(GATES["XNOR"])
    with np.errstate(all="ignore"):
        err = float(np.max(np.abs(xnor_network(scale=c)(X) - y)))
    if c < best:
        return verdict(
            False,
            f"at c = {c:g} some output misses its target by more than 0.01 (the worst by "
            f"{err:.3f}): the sigmoids are still too soft",
        )
    return verdict(False, f"c = {c:g} works (worst error {err:.1e}) but a smaller c does too")


@never_raises
def check_trained_xnor(model) -> bool:
    """Exercise 3: a dlkit.nn network (2 inputs, 1 sigmoid output) trained on XNOR that
    classifies all four rows correctly (output >= 0.5 means 1)."""
    X, y = gate_table("XNOR")
    try:
        model.eval()
        out = np.asarray(model.forward(X), dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - any failure is reported, not raised
        return verdict(False, f"the model could not run on the XNOR inputs: {exc}")
    if out.shape not in ((4, 1), (4,)):
        return verdict(False, f"expected outputs of shape (4, 1), got {out.shape}")
    pred = (out.reshape(-1) >= 0.5).astype(int)
    acc = float(np.mean(pred == y))
    if acc == 1.0:
        return verdict(True, f"outputs {np.round(out.reshape(-1), 3).tolist()}: 4 of 4 correct")
    return verdict(
        False,
        f"outputs {np.round(out.reshape(-1), 3).tolist()}: "
        f"{int(acc * 4)} of 4 correct; try another seed or more epochs",
    )
