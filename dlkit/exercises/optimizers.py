"""Checks for the exercises of the chapter *Losses and gradient descent*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given.
"""

from __future__ import annotations

import math

import numpy as np

from dlkit.exercises import never_raises, number, verdict


@never_raises
def check_cross_entropy(p_correct, loss) -> bool:
    """Exercise 1: the cross-entropy loss of one example whose correct class gets
    probability `p_correct` (a number in (0, 1]); `loss` is your value."""
    p, got = number(p_correct), number(loss)
    if p is None or not 0 < p <= 1:
        return verdict(False, f"p_correct must be a probability in (0, 1], got {p_correct!r}")
    if got is None:
        return verdict(False, f"the loss should be a finite number, got {loss!r}")
    want = -math.log(p)
    if abs(got - want) <= 1e-6 * max(1.0, want):
        return verdict(
            True, f"−log {p:g} = {want:.6f}: only the correct class's probability enters the loss"
        )
    if abs(got - math.log(p)) <= 1e-6 * max(1.0, want):
        return verdict(False, "check the sign: the loss is the *negative* log-likelihood")
    return verdict(False, f"{got:.6f} is not −log p for p = {p:g}")


@never_raises
def check_max_learning_rate(a, lr) -> bool:
    """Exercise 2: the largest learning rate for which gradient descent on
    f(θ) = a θ²/2 converges (from any start), for curvature `a` > 0."""
    a_, got = number(a), number(lr)
    if a_ is None or a_ <= 0:
        return verdict(False, f"the curvature a must be positive, got {a!r}")
    if got is None:
        return verdict(False, f"the learning rate should be a number, got {lr!r}")
    want = 2 / a_
    if abs(got - want) <= 1e-6 * want:
        return verdict(
            True,
            f"α < 2/a = {want:g}: each step multiplies θ by (1 − αa), which must lie in (−1, 1)",
        )
    if abs(got - 1 / a_) <= 1e-6 * want:
        return verdict(
            False,
            f"α = 1/a = {1 / a_:g} is the *best* rate (one step to the "
            "minimum); the largest converging one is larger",
        )
    return verdict(
        False,
        f"{got:g} is not the boundary; write θ after one step as a "
        "multiple of θ and ask when that multiple has |·| < 1",
    )


@never_raises
def check_adam_first_step(theta0, grad, lr, theta1) -> bool:
    """Exercise 3: θ after Adam's first step from `theta0` with gradient `grad`
    (ε = 1e-8, default betas), learning rate `lr`."""
    vals = [number(v) for v in (theta0, grad, lr, theta1)]
    if any(v is None for v in vals):
        return verdict(False, "pass four finite numbers: theta0, grad, lr, theta1")
    t0, g, a, t1 = vals
    want = t0 - a * g / (abs(g) + 1e-8)
    if abs(t1 - want) <= 1e-6 * max(1.0, abs(want)):
        return verdict(
            True,
            f"θ₁ = {want:.6g}: after bias correction m̂ = g and √v̂ = |g|, "
            "so the first step is α·sign(g), whatever the size of g",
        )
    if abs(t1 - (t0 - a * 0.1 * g / (math.sqrt(0.001) * abs(g) + 1e-8))) < 1e-6:
        return verdict(False, "you forgot the bias correction m̂ = m/(1−β₁ᵗ), v̂ = v/(1−β₂ᵗ)")
    return verdict(False, f"θ₁ = {t1:g} is not Adam's first step; compute m, v, then m̂, v̂")


@never_raises
def check_ravine_settings(lr, momentum, steps: int = 60, target: float = 1e-3) -> bool:
    """Exercise 4: a learning rate and momentum with which dlkit's Momentum optimizer
    brings the ravine's loss below `target` within `steps` steps."""
    from dlkit.nn import Param
    from dlkit.optim import SGD

    a, m = number(lr), number(momentum)
    if a is None or a <= 0 or m is None or not 0 <= m < 1:
        return verdict(False, "lr must be positive and momentum in [0, 1)")
    # the ravine of the chapter: f = 0.05 x² + 2 y², from (−9, 1.5)
    theta = Param(np.array([-9.0, 1.5]), "theta")
    opt = SGD([theta], lr=a, momentum=m)

    def f(t):
        return 0.05 * t[0] ** 2 + 2 * t[1] ** 2

    start = f(theta.data)
    with np.errstate(all="ignore"):
        for _ in range(steps):
            theta.grad[...] = [0.1 * theta.data[0], 4 * theta.data[1]]
            opt.step()
        final = float(f(theta.data))
    if np.isfinite(final) and final < target:
        return verdict(True, f"loss {final:.2e} after {steps} steps")
    if not np.isfinite(final) or final > start:
        return verdict(False, f"it diverged (α = {a:g} is too large for the steep direction)")
    return verdict(
        False,
        f"loss {final:.2e} after {steps} steps, above {target:g}: the "
        "shallow direction needs more speed (more momentum?)",
    )
