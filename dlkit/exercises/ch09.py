"""Checks for the exercises of chapter 9, *Low precision*.

Each check prints a verdict and returns True or False; a wrong answer never raises.

- :func:`check_range`: the smallest and largest numbers of ⟨IL, FL⟩ and its ε.
- :func:`check_round_up_probability`: the probability that stochastic rounding
  rounds x up.
- :func:`check_smallest_gradient`: the smallest gradient that still moves a weight
  under round-to-nearest, for a given FL and learning rate.
- :func:`check_stochastic_rounding`: your own stochastic rounding function, tested
  for landing on the grid, for never moving farther than ε, and for being unbiased.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dlkit.precision import FixedPoint


def _close(a, b, rtol=1e-9) -> bool:
    return bool(np.isclose(float(a), float(b), rtol=rtol, atol=0))


def check_range(il: int, fl: int, lo, hi, eps) -> bool:
    """Are `lo`, `hi` and `eps` the range ends and spacing of ⟨il, fl⟩?"""
    try:
        q = FixedPoint(il, fl)
        lo, hi, eps = float(lo), float(hi), float(eps)
    except (TypeError, ValueError) as exc:
        print(f"Cannot check: {exc}")
        return False
    wrong = []
    if not _close(eps, q.eps):
        wrong.append(f"ε should be 2^-FL, not {eps:g}")
    if not _close(lo, q.lo):
        hint = " (IL counts the sign bit)" if _close(lo, -(2.0 ** il)) else ""
        wrong.append(f"the smallest number is not {lo:g}{hint}")
    if not _close(hi, q.hi):
        hint = (" (the largest is one ε below 2^(IL-1))"
                if _close(hi, 2.0 ** (il - 1)) else "")
        wrong.append(f"the largest number is not {hi:g}{hint}")
    if wrong:
        print("Not yet: " + "; ".join(wrong) + ".")
        return False
    print(f"Correct: <{il}, {fl}> holds the multiples of ε = {q.eps:g} from {q.lo:g} to "
          f"{q.hi:g} ({2 ** q.wl:,} numbers in {q.wl} bits).")
    return True


def check_round_up_probability(x: float, fl: int, answer) -> bool:
    """Is `answer` the probability that stochastic rounding to FL bits rounds x up?"""
    try:
        eps = 2.0 ** -int(fl)
        x, p = float(x), float(answer)
    except (TypeError, ValueError) as exc:
        print(f"Cannot check: {exc}")
        return False
    floor = np.floor(x / eps) * eps
    want = (x - floor) / eps
    if _close(p, want, 1e-6) or abs(p - want) < 1e-12:
        print(f"Correct: x − ⌊x⌋ = {x - floor:g} is {want:.4f} of ε = {eps:g}, so x rounds up "
              f"to {floor + eps:g} with probability {want:.4f}.")
        return True
    hint = (" That is the probability of rounding down." if _close(p, 1 - want, 1e-6)
            else " Find ⌊x⌋, the multiple of ε just below x, and divide x − ⌊x⌋ by ε.")
    print(f"Not yet: {p:g} is not it.{hint}")
    return False


def check_smallest_gradient(fl: int, lr: float, answer) -> bool:
    """Is `answer` the gradient size |g| above which round-to-nearest moves a weight?

    A weight on the grid changes under θ ← Round(θ − α g) only when |α g| > ε/2.
    """
    try:
        eps = 2.0 ** -int(fl)
        lr, g = float(lr), float(answer)
    except (TypeError, ValueError) as exc:
        print(f"Cannot check: {exc}")
        return False
    want = eps / (2 * lr)
    if _close(g, want, 1e-6):
        print(f"Correct: |g| must exceed ε / (2α) = {eps:g} / {2 * lr:g} = {want:.6g}; "
              "every smaller gradient is rounded away.")
        return True
    hint = ""
    if _close(g, eps / lr, 1e-6):
        hint = " Round-to-nearest already moves θ at half a step: ε/2, not ε."
    elif _close(g, eps / 2, 1e-6):
        hint = " The update is α·g, so divide by the learning rate."
    print(f"Not yet: {g:g} is not the threshold.{hint}")
    return False


def check_stochastic_rounding(fn: Callable, *, seed: int = 0) -> bool:
    """Test `fn(x, fl, rng)`, your stochastic rounding: on the grid, within ε, unbiased.

    `x` is a float64 array, `fl` an int, `rng` a numpy Generator; `fn` must return an
    array of x's shape.
    """
    g = np.random.default_rng(seed)
    fl = 5
    eps = 2.0 ** -fl
    x = g.uniform(-2, 2, 20_000)
    try:
        r = np.asarray(fn(x.copy(), fl, g), dtype=np.float64)
    except Exception as exc:  # noqa: BLE001 - the reader's code may raise anything
        print(f"Your function raised {type(exc).__name__}: {exc}")
        return False
    if r.shape != x.shape:
        print(f"Not yet: got shape {r.shape} for input of shape {x.shape}.")
        return False
    if not np.all(r / eps == np.round(r / eps)):
        print("Not yet: some results are not multiples of ε = 2^-FL.")
        return False
    if np.any(np.abs(r - x) >= eps):
        print("Not yet: some values moved by ε or more; round to one of the two neighbours.")
        return False
    small = np.full(50_000, 0.3 * eps)
    mean = float(np.mean(fn(small.copy(), fl, g)))
    se = eps * np.sqrt(0.21 / small.size)
    if abs(mean - 0.3 * eps) > 5 * se:
        print(f"Not yet: x = 0.3ε rounds to {mean / eps:.3f}ε on average, not 0.3ε: "
              "round up with probability (x − ⌊x⌋)/ε.")
        return False
    print(f"Correct: results lie on the grid, within ε, and 0.3ε averages to "
          f"{mean / eps:.3f}ε (unbiased).")
    return True
