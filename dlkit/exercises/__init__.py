"""Checks for the chapters' exercises: one module per chapter.

Each check takes the reader's answer, prints a verdict that says what is right or
what is wrong, and returns True or False. A wrong answer never raises.
"""

from __future__ import annotations


def verdict(ok: bool, message: str) -> bool:
    """Print "Correct: ..." or "Not yet: ..." followed by `message`; return `ok`."""
    print(("Correct: " if ok else "Not yet: ") + message)
    return ok


def number(x) -> float | None:
    """`x` as a finite float, or None when the reader's answer is not a number."""
    import math

    try:
        v = float(x)
    except (TypeError, ValueError):
        return None
    return v if math.isfinite(v) else None
