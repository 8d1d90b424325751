"""Truth tables of logic gates, as (X, y) arrays."""

from __future__ import annotations

import numpy as np

#: gate name -> the output for inputs (0,0), (0,1), (1,0), (1,1); NOT takes one input.
GATES: dict[str, tuple[int, ...]] = {
    "AND": (0, 0, 0, 1),
    "OR": (0, 1, 1, 1),
    "NAND": (1, 1, 1, 0),
    "NOR": (1, 0, 0, 0),
    "XOR": (0, 1, 1, 0),
    "XNOR": (1, 0, 0, 1),
    "NOT": (1, 0),
}


def gate_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Inputs X (4, 2) or, for NOT, (2, 1) as float64, and targets y (int64)."""
    key = name.strip().upper()
    if key not in GATES:
        raise ValueError(f"unknown gate {name!r}: choose one of {', '.join(GATES)}")
    if key == "NOT":
        X = np.array([[0.0], [1.0]])
    else:
        X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array(GATES[key], dtype=np.int64)


def logic_gate(name: str, x1, x2=None) -> np.ndarray:
    """Evaluate a gate elementwise on 0/1 inputs (the reference the chapters check against)."""
    key = name.strip().upper()
    a = np.asarray(x1).astype(bool)
    if key == "NOT":
        if x2 is not None:
            raise ValueError("NOT takes one input")
        return (~a).astype(np.int64)
    if x2 is None:
        raise ValueError(f"{key} takes two inputs")
    b = np.asarray(x2).astype(bool)
    ops = {"AND": a & b, "OR": a | b, "NAND": ~(a & b), "NOR": ~(a | b), "XOR": a ^ b,
           "XNOR": ~(a ^ b)}
    if key not in ops:
        raise ValueError(f"unknown gate {name!r}: choose one of {', '.join(GATES)}")
    return ops[key].astype(np.int64)


def xor() -> tuple[np.ndarray, np.ndarray]:
    return gate_table("XOR")


def xnor() -> tuple[np.ndarray, np.ndarray]:
    return gate_table("XNOR")
