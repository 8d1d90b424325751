"""Argument checks that every floor of dlkit shares (it imports only numpy).

Each raises a ``TypeError`` for a wrong type and a ``ValueError`` for a wrong value,
with a message that names the function (`who`), the argument, what was expected, what
came, and what to pass instead.
"""

from __future__ import annotations

import numpy as np

__all__ = ["check_int", "as_real_array"]


def check_int(v, name: str, who: str, minimum: int = 1, *, say_minimum: bool = False) -> int:
    """`v` as an int >= `minimum`; a bool, a float (even 2.0) or a str is a TypeError.

    ``say_minimum`` puts the bound in the type error too ("must be an int >= 1").
    """
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        whole = isinstance(v, (float, np.floating)) and float(v).is_integer()
        kind = f"an int >= {minimum}" if say_minimum else "an int"
        raise TypeError(
            f"{who}: {name} must be {kind}, got {v!r} ({type(v).__name__}); "
            + (f"pass {name}={int(v)}" if whole else "pass a whole number")
        )
    if v < minimum:
        if minimum == 1:
            what = "a positive int"
        else:
            what = f"an int >= {minimum}" if say_minimum else f">= {minimum}"
        raise ValueError(f"{who}: {name} must be {what}, got {v!r}")
    return int(v)


def as_real_array(
    a,
    name: str,
    who: str,
    *,
    what: str = "a numpy array",
    fix: str | None = None,
) -> np.ndarray:
    """`a` as a numpy array of real numbers (float, int or bool); None, strings, objects
    and complex numbers are a TypeError. `what` says what was expected, `fix` what to
    pass when the dtype is wrong (default: a float64 conversion of `name`)."""
    if a is None or isinstance(a, (str, bytes)):
        raise TypeError(f"{who}: {name} must be {what}, got {a!r}")
    try:
        a = np.asarray(a)
    except (TypeError, ValueError) as exc:
        raise TypeError(
            f"{who}: {name} must be {what} of real numbers, got {type(a).__name__}"
            if what == "a numpy array"
            else f"{who}: {name} must be {what}, got {type(a).__name__}"
        ) from exc
    if a.dtype.kind not in "fiub":
        fix = fix or f"pass real numbers (e.g. np.asarray({name}, dtype=np.float64))"
        raise TypeError(f"{who}: {name} has dtype {a.dtype}; {fix}")
    return a
