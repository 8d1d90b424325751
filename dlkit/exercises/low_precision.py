"""Checks for the exercises of the chapter *Low precision*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint, never
the expected value) and returns True or False; it never raises, whatever it is given.

- :func:`check_range`: the smallest and largest numbers of ⟨IL, FL⟩ and its ε.
- :func:`check_round_up_probability`: the probability that stochastic rounding
  rounds x up.
- :func:`check_smallest_gradient`: the smallest gradient |∇| that still moves a weight
  under round-to-nearest, for a given FL and learning rate η.
- :func:`check_stochastic_rounding`: your own stochastic rounding function, tested
  for landing on the grid, for never moving farther than ε, and for being unbiased.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dlkit.exercises import cannot_check, never_raises, number, raised, verdict, whole
from dlkit.precision import FixedPoint


def _close(a, b, rtol=1e-9) -> bool:
    return bool(np.isclose(float(a), float(b), rtol=rtol, atol=0))


def _grid(fl) -> float | None:
    """ε = 2^-FL for a whole FL whose ε is a positive float64, else None."""
    fl = whole(fl)
    return 2.0**-fl if fl is not None and -1000 < fl < 1000 else None


@never_raises
def check_range(il: int, fl: int, lo, hi, eps) -> bool:
    """Are `lo`, `hi` and `eps` the range ends and spacing of ⟨il, fl⟩?"""
    try:
        q = FixedPoint(il, fl)
    except (TypeError, ValueError) as exc:
        return cannot_check(str(exc))
    lo, hi, eps = number(lo), number(hi), number(eps)
    if None in (lo, hi, eps):
        return verdict(False, "pass three numbers: the smallest, the largest and ε")
    wrong = []
    if not _close(eps, q.eps):
        wrong.append("ε is not right: it is the spacing of the grid, and only FL sets it")
    if not _close(lo, q.lo):
        hint = "IL counts the sign bit" if _close(lo, -(2.0**il)) else "IL alone sets it"
        wrong.append(f"the smallest number is not right ({hint})")
    if not _close(hi, q.hi):
        hint = (
            "2^(IL-1) itself does not fit, just as a signed IL-bit integer stops short of it"
            if _close(hi, 2.0 ** (il - 1))
            else "it is the largest multiple of ε that the word can hold"
        )
        wrong.append(f"the largest number is not right ({hint})")
    if wrong:
        return verdict(False, "; ".join(wrong) + ".")
    return verdict(
        True,
        f"<{il}, {fl}> holds the multiples of ε = {q.eps:g} from {q.lo:g} to "
        f"{q.hi:g} ({2**q.wl:,} numbers in {q.wl} bits).",
    )


@never_raises
def check_round_up_probability(x: float, fl: int, answer) -> bool:
    """Is `answer` the probability that stochastic rounding to FL bits rounds x up?"""
    eps, x_ = _grid(fl), number(x)
    if eps is None or x_ is None:
        return cannot_check(
            f"x must be a finite number and fl a whole number, got x={x!r}, fl={fl!r}"
        )
    x, up = x_, number(answer)
    if up is None or not 0 <= up <= 1:
        return verdict(False, f"a probability is a number in [0, 1], got {answer!r}")
    floor = np.floor(x / eps) * eps
    want = (x - floor) / eps
    if _close(up, want, 1e-6) or abs(up - want) < 1e-12:
        return verdict(
            True,
            f"x − ⌊x⌋ = {x - floor:g} is {want:.4f} of ε = {eps:g}, so x "
            f"rounds up to {floor + eps:g} with probability {want:.4f}.",
        )
    hint = (
        "Check the direction: the closer x lies to the multiple of ε above it, the "
        "likelier it rounds up."
        if _close(up, 1 - want, 1e-6)
        else "Find ⌊x⌋, the multiple of ε just below x, and measure x − ⌊x⌋ in units of ε."
    )
    return verdict(False, f"that is not the probability of rounding up. {hint}")


@never_raises
def check_smallest_gradient(fl: int, lr: float, answer) -> bool:
    """Is `answer` the gradient size |∇| above which round-to-nearest moves a weight?

    A weight on the grid changes under θ ← Round(θ − η∇) only when |η∇| > ε/2.
    """
    eps, lr_ = _grid(fl), number(lr)
    if eps is None or lr_ is None or lr_ <= 0:
        return cannot_check(
            f"fl must be a whole number and lr a positive number, got fl={fl!r}, lr={lr!r}"
        )
    lr, grad = lr_, number(answer)
    if grad is None:
        return verdict(False, f"the threshold is a number, got {answer!r}")
    want = eps / (2 * lr)
    if _close(grad, want, 1e-6):
        return verdict(
            True,
            f"|∇| must exceed ε / (2η) = {eps:g} / {2 * lr:g} = {want:.6g}; "
            "every smaller gradient is rounded away.",
        )
    if _close(grad, eps / 2, 1e-6) or _close(grad, eps, 1e-6):
        hint = "The weight moves by the update η∇, not by ∇: bring in the learning rate."
    else:
        hint = (
            "Round-to-nearest sends θ − η∇ to the nearest multiple of ε: how far must the "
            "update carry θ before a multiple of ε other than θ is the nearest one?"
        )
    return verdict(False, f"that is not the threshold. {hint}")


def _rounded(fn: Callable, x: np.ndarray, fl: int, g: np.random.Generator):
    """`fn(x, fl, g)` as a float64 array, or the hint when it raised."""
    try:
        return np.asarray(fn(x.copy(), fl, g), dtype=np.float64), None
    except Exception as exc:  # noqa: BLE001 - the reader's code may raise anything
        return None, raised(exc)


@never_raises
def check_stochastic_rounding(fn: Callable, *, seed: int = 0) -> bool:
    """Test `fn(x, fl, rng)`, your stochastic rounding: on the grid, within ε, unbiased.

    `x` is a float64 array, `fl` an int, `rng` a numpy Generator; `fn` must return an
    array of x's shape.
    """
    g = np.random.default_rng(seed)
    fl = 5
    eps = 2.0**-fl
    x = g.uniform(-2, 2, 20_000)
    r, failure = _rounded(fn, x, fl, g)
    if failure:
        return verdict(False, failure)
    if r.shape != x.shape:
        return verdict(False, f"got shape {r.shape} for input of shape {x.shape}.")
    if not np.all(r / eps == np.round(r / eps)):
        return verdict(False, "some results are not multiples of ε = 2^-FL.")
    if np.any(np.abs(r - x) >= eps):
        return verdict(False, "some values moved by ε or more; round to one of the two neighbours.")
    small = np.full(50_000, 0.3 * eps)
    r, failure = _rounded(fn, small, fl, g)
    if failure:
        return verdict(False, failure)
    if r.shape != small.shape:
        return verdict(False, f"got shape {r.shape} for input of shape {small.shape}.")
    mean = float(np.mean(r))
    se = eps * np.sqrt(0.21 / small.size)
    if not abs(mean - 0.3 * eps) <= 5 * se:
        return verdict(
            False,
            f"x = 0.3ε rounds to {mean / eps:.3f}ε on average, not 0.3ε: "
            "round up with probability (x − ⌊x⌋)/ε.",
        )
    return verdict(
        True,
        f"results lie on the grid, within ε, and 0.3ε averages to {mean / eps:.3f}ε (unbiased).",
    )
