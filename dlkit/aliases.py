"""Old import paths kept working: a name that moved is still found where it was.

A module whose names moved lists them in ``_MOVED`` (name -> new module) and sets
``__getattr__ = moved(__name__, _MOVED)``: the first use of an old name imports its
new home (PEP 562), so the old module never imports the new one at load time and no
import circle arises between a floor and the one above it.
"""

from __future__ import annotations

import importlib
from typing import Callable


def moved(module: str, names: dict[str, str]) -> Callable[[str], object]:
    """A module ``__getattr__`` that finds each of `names` in its new module."""

    def __getattr__(name: str):
        if name in names:
            return getattr(importlib.import_module(names[name]), name)
        raise AttributeError(f"module {module!r} has no attribute {name!r}")

    return __getattr__
