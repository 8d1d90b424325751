"""Checks for the exercises of the chapter *Perceptrons*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given.
"""

from __future__ import annotations

import functools
import itertools

import numpy as np

from dlkit.data import GATES
from dlkit.exercises import never_raises, verdict, whole
from dlkit.perceptron import Neuron, linearly_separable, truth_table_inputs


@never_raises
def check_gate_weights(gate: str, w, b) -> bool:
    """Exercise 1: weights w (a sequence) and bias b of a perceptron computing `gate`.

    >>> check_gate_weights("NAND", [-20, -20], 30)
    """
    key = str(gate).strip().upper()
    if key not in GATES:
        return verdict(False, f"unknown gate {gate!r}; choose one of {', '.join(GATES)}")
    try:
        unit = Neuron(w, b, "step")
        X = truth_table_inputs(unit.n_inputs)
        h = unit(X)
    except (TypeError, ValueError) as exc:
        return verdict(False, f"could not build a unit from w={w!r}, b={b!r}: {exc}")
    target = np.asarray(GATES[key])
    if len(target) != len(h):
        n = 1 if key == "NOT" else 2
        return verdict(False, f"{key} has {n} input(s), so w needs {n} weight(s)")
    wrong = [tuple(int(v) for v in X[i]) for i in np.flatnonzero(h != target)]
    if wrong:
        return verdict(False, f"{unit.formula()} gives the wrong output for inputs {wrong}")
    margin = float(np.min(np.abs(unit.z(X))))
    note = "" if margin > 0 else " (a point lies on the line: z = 0 counts as 0)"
    return verdict(True, f"{unit.formula()} computes {key}; smallest |z| is {margin:g}{note}")


def _majority(X: np.ndarray) -> np.ndarray:
    return (X.sum(axis=1) >= 2).astype(np.int64)


@never_raises
def check_festival_majority(w, b) -> bool:
    """Exercise 2: weights (weather, partner, transit) and bias such that you go to the
    festival exactly when at least two of the three conditions hold."""
    try:
        unit = Neuron(w, b, "step")
    except (TypeError, ValueError) as exc:
        return verdict(False, f"could not build a unit from w={w!r}, b={b!r}: {exc}")
    if unit.n_inputs != 3:
        return verdict(False, f"the decision has 3 inputs; w has {unit.n_inputs} weights")
    X = truth_table_inputs(3)
    h, want = unit(X), _majority(X)
    wrong = [tuple(int(v) for v in X[i]) for i in np.flatnonzero(h != want)]
    if wrong:
        return verdict(
            False, f"{unit.formula()} decides wrongly for (weather, partner, transit) = {wrong}"
        )
    return verdict(True, f"{unit.formula()} says 'go' exactly when two or three conditions hold")


def separable_functions() -> list[tuple[int, int, int, int]]:
    """All truth tables (outputs for (0,0), (0,1), (1,0), (1,1)) that one perceptron computes."""
    X = truth_table_inputs(2)
    tables = itertools.product((0, 1), repeat=4)
    return [t for t in tables if linearly_separable(X, np.array(t))]


@functools.cache
def _separable_count() -> int:
    return len(separable_functions())


@never_raises
def check_separable_count(n) -> bool:
    """Exercise 3: how many of the 16 Boolean functions of two inputs can a single
    perceptron compute?"""
    got = whole(n)
    if got is None:
        return verdict(False, f"answer with a whole number, got {n!r}")
    count = _separable_count()
    if got == count:
        return verdict(
            True,
            f"{count} of the 16 are linearly separable; the other {16 - count} are XOR and XNOR",
        )
    if not 0 <= got <= 16:
        return verdict(False, f"{got} cannot be right: there are only 16 functions to count")
    return verdict(
        False,
        f"{got} is not the count. Run perceptron.linearly_separable on every output "
        "column t in itertools.product([0, 1], repeat=4) and count the True results; the "
        "constant functions and x1, x2, NOT x1, NOT x2 are functions too",
    )
