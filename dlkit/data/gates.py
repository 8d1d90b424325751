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


def _gate_key(fn: str, name) -> str:
    """The GATES key for `name` (any case, spaces ignored), or a clear error."""
    if not isinstance(name, str):
        raise TypeError(
            f"{fn}(name=...) must be a gate name such as 'XOR', got "
            f"{type(name).__name__}; choose one of {', '.join(GATES)}"
        )
    key = name.strip().upper()
    if key not in GATES:
        raise ValueError(f"unknown gate {name!r}: choose one of {', '.join(GATES)}")
    return key


def _bits(name: str, x) -> np.ndarray:
    """`x` as a bool array, refusing anything but 0/1 (or False/True) values."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(
            f"logic_gate({name}=...) must hold numbers 0/1, got an array of dtype {a.dtype}"
        )
    if not np.isin(a, (0, 1)).all():
        bad = a[~np.isin(a, (0, 1))].ravel()[0].item()
        raise ValueError(
            f"logic_gate({name}=...) must hold only 0 and 1, got {bad!r}; "
            "threshold real values first, e.g. x > 0.5"
        )
    return a.astype(bool)


def gate_table(name: str) -> tuple[np.ndarray, np.ndarray]:
    """Inputs X (4, 2) or, for NOT, (2, 1) as float64, and targets y (int64)."""
    key = _gate_key("gate_table", name)
    if key == "NOT":
        X = np.array([[0.0], [1.0]])
    else:
        X = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    return X, np.array(GATES[key], dtype=np.int64)


def logic_gate(name: str, x1, x2=None) -> np.ndarray:
    """Evaluate a gate elementwise on 0/1 inputs (the reference the chapters check against)."""
    key, a, b = _check_gate_args(name, x1, x2)
    if key == "NOT":
        return (~a).astype(np.int64)
    ops = {
        "AND": a & b,
        "OR": a | b,
        "NAND": ~(a & b),
        "NOR": ~(a | b),
        "XOR": a ^ b,
        "XNOR": ~(a ^ b),
    }
    return ops[key].astype(np.int64)


def _check_gate_args(name, x1, x2) -> tuple[str, np.ndarray, np.ndarray | None]:
    key = _gate_key("logic_gate", name)
    a = _bits("x1", x1)
    if key == "NOT":
        if x2 is not None:
            raise ValueError("NOT takes one input")
        return key, a, None
    if x2 is None:
        raise ValueError(f"{key} takes two inputs")
    b = _bits("x2", x2)
    try:
        np.broadcast_shapes(a.shape, b.shape)
    except ValueError:
        raise ValueError(
            f"logic_gate({key!r}) got inputs of shapes {a.shape} and {b.shape}, "
            "which do not broadcast; pass arrays of the same shape"
        ) from None
    return key, a, b


def xor() -> tuple[np.ndarray, np.ndarray]:
    return gate_table("XOR")


def xnor() -> tuple[np.ndarray, np.ndarray]:
    return gate_table("XNOR")
