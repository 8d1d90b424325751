"""Checks for the chapters' exercises: one module per topic.

Each check takes the reader's answer, prints one verdict and returns True or False:

- ``Correct: ...`` when the answer is right, with a line on why;
- ``Not yet: ...`` when it is not, with a hint (never the expected value);
- ``Cannot check: ...`` when the question itself cannot be posed (the exercise's own
  parameters were changed into something that has no answer).

A check never raises, whatever the reader passes: numbers that are not numbers, arrays
of the wrong shape, a function that raises. The modules are named by topic:

============  ==================  ====================================
old name      module              chapter
============  ==================  ====================================
``ch01``      ``perceptrons``     Perceptrons
``ch02``      ``sigmoid_xor``     Sigmoid neurons and XOR
``ch03``      ``feedforward``     Feedforward networks
``ch04``      ``optimizers``      Losses and gradient descent
``ch05``      ``backprop``        Backpropagation
``ch06``      ``digits``          Handwritten digits
(none)        ``regularization``  Regularisation and normalisation
``ch07``      ``convolution``     Convolution algorithms
``ch08``      ``cnns``            Convolutional networks
``ch09``      ``low_precision``   Low precision
(none)        ``autoencoders``    Autoencoders and sparse coding
(none)        ``rbm``             RBMs and deep belief networks
(none)        ``gpus``            GPUs and kernels
``ch13``      ``parallelism``     Parallelism: data, model and hybrid
``ch14``      ``sync_sgd``        Synchronous SGD and allreduce
(none)        ``async_sgd``       Asynchronous SGD
(none)        ``largescale``      Large-scale learning and determinism
============  ==================  ====================================

``dlkit.exercises.ch08`` is the module ``dlkit.exercises.cnns`` itself, so
``from dlkit.exercises import ch08`` and ``from dlkit.exercises.ch08 import
check_output_size`` give the same objects as the topic module.
"""

from __future__ import annotations

import functools
import importlib
import math
from typing import Callable

#: Chapter-numbered module names and the topic module each one is.
CHAPTERS = {
    "ch01": "perceptrons",
    "ch02": "sigmoid_xor",
    "ch03": "feedforward",
    "ch04": "optimizers",
    "ch05": "backprop",
    "ch06": "digits",
    "ch07": "convolution",
    "ch08": "cnns",
    "ch09": "low_precision",
    "ch13": "parallelism",
    "ch14": "sync_sgd",
}

#: The topic modules, in the order of the book (the chapters written after the topic
#: names, 6b on, have no chapter-numbered name).
TOPICS = (
    "perceptrons",
    "sigmoid_xor",
    "feedforward",
    "optimizers",
    "backprop",
    "digits",
    "regularization",
    "convolution",
    "cnns",
    "low_precision",
    "autoencoders",
    "rbm",
    "gpus",
    "parallelism",
    "sync_sgd",
    "async_sgd",
    "largescale",
)


def verdict(ok: bool, message: str) -> bool:
    """Print "Correct: ..." or "Not yet: ..." followed by `message`; return `ok`."""
    print(("Correct: " if ok else "Not yet: ") + message)
    return ok


def cannot_check(reason: str) -> bool:
    """Print "Cannot check: `reason`" for a question that has no answer; return False."""
    print("Cannot check: " + reason)
    return False


def number(x) -> float | None:
    """`x` as a finite float, or None when the reader's answer is not a number."""
    try:
        v = float(x)
    except Exception:  # noqa: BLE001 - whatever float() refuses is not a number
        return None
    return v if math.isfinite(v) else None


def whole(x) -> int | None:
    """`x` as an int when it is a finite whole number (13 or 13.0), else None."""
    v = number(x)
    return int(v) if v is not None and v.is_integer() else None


def raised(exc: BaseException) -> str:
    """The hint for a reader's function that raised `exc`."""
    return f"your function raised {type(exc).__name__}: {exc}"


def never_raises(check: Callable[..., bool]) -> Callable[..., bool]:
    """Wrap `check` so that an answer it cannot handle gets a verdict, not a traceback."""

    @functools.wraps(check)
    def safe(*args, **kwargs) -> bool:
        try:
            return bool(check(*args, **kwargs))
        except Exception as exc:  # noqa: BLE001 - a check reports, it never raises
            return verdict(
                False,
                f"this answer cannot be checked ({type(exc).__name__}: "
                f"{exc}); pass what the exercise asks for",
            )

    return safe


def __getattr__(name: str):
    if name in CHAPTERS or name in TOPICS:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(CHAPTERS) | set(TOPICS))
