"""Checks for the exercises of the chapter *Losses and gradient descent*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint, never the
expected value) and returns True or False; it never raises, whatever it is given. The
notation is the book's: ŷ_y the probability of the correct class, η the learning rate,
a the curvature of the parabola f(θ) = aθ²/2, ∇ a gradient, v and E Adam's running means
of ∇ and of ∇ ⊙ ∇, and v̂, Ê their bias-corrected values.
"""

from __future__ import annotations

import math

import numpy as np

from dlkit.exercises import cannot_check, never_raises, number, verdict


def _close(got: float, want: float) -> bool:
    return abs(got - want) <= 1e-6 * max(1.0, abs(want))


@never_raises
def check_cross_entropy(p_correct, loss) -> bool:
    """Exercise 1: the cross-entropy loss ℓ = −log ŷ_y of one example whose correct class
    gets the probability ŷ_y = `p_correct` (a number in (0, 1]); `loss` is your value."""
    p, got = number(p_correct), number(loss)
    if p is None or not 0 < p <= 1:
        return cannot_check(f"p_correct must be a probability in (0, 1], got {p_correct!r}")
    if got is None:
        return verdict(False, f"the loss should be a finite number, got {loss!r}")
    want = -math.log(p)
    if _close(got, want):
        return verdict(
            True, f"−log {p:g} = {want:.6f}: only the correct class's probability enters the loss"
        )
    if want and _close(got, -want):
        return verdict(False, "check the sign: the loss is the *negative* log-likelihood")
    if want and _close(got, -math.log10(p)):
        return verdict(False, "that is the base-10 logarithm; the loss uses the natural log")
    if got < 0:
        return verdict(False, "a cross-entropy loss is never negative: ŷ_y ≤ 1, so log ŷ_y ≤ 0")
    return verdict(
        False,
        f"{got:g} is not the loss: take the natural log of the correct class's "
        "probability ŷ_y, and mind the sign",
    )


@never_raises
def check_max_learning_rate(a, lr) -> bool:
    """Exercise 2: the largest learning rate η for which gradient descent on
    f(θ) = a θ²/2 converges (from any start), for curvature `a` > 0."""
    a_, got = number(a), number(lr)
    if a_ is None or a_ <= 0:
        return cannot_check(f"the curvature a must be a positive number, got {a!r}")
    if got is None:
        return verdict(False, f"the learning rate should be a number, got {lr!r}")
    want = 2 / a_
    how = "write θ after one step as a multiple of θ and ask when that multiple has |·| < 1"
    if abs(got - want) <= 1e-6 * want:
        return verdict(
            True,
            f"η < 2/a = {want:g}: each step multiplies θ by (1 − ηa), which must lie in (−1, 1)",
        )
    if abs(got - 1 / a_) <= 1e-6 * want:
        return verdict(
            False,
            "1/a is the *best* rate (one step to the minimum); the largest "
            "converging one is larger: " + how,
        )
    if got > want:
        return verdict(False, f"at η = {got:g} gradient descent diverges: too large; {how}")
    return verdict(False, f"η = {got:g} still converges, and so do larger rates: {how}")


@never_raises
def check_adam_first_step(theta0, grad, lr, theta1) -> bool:
    """Exercise 3: θ₁ after Adam's first step from θ₀ = `theta0` with the gradient
    ∇₁ = `grad` and learning rate η = `lr` (default β₁, β₂ and ε = 1e-8)."""
    vals = [number(v) for v in (theta0, grad, lr, theta1)]
    if any(v is None for v in vals):
        return verdict(False, "pass four finite numbers: theta0, grad, lr, theta1")
    t0, g, a, t1 = vals
    if a <= 0:
        return cannot_check(f"the learning rate must be positive, got lr={lr!r}")
    want = t0 - a * g / (abs(g) + 1e-8)
    if _close(t1, want):
        return verdict(
            True,
            f"θ₁ = {want:.6g}: after bias correction v̂ = ∇₁ and √Ê = |∇₁|, "
            "so the first step is η·sign(∇₁), whatever the size of ∇₁",
        )
    if g and _close(t1, t0):
        return verdict(False, "θ₁ = θ₀, but Adam moves on its first step: compute v₁ and E₁")
    if g and _close(t1, t0 - a * g):
        return verdict(False, "that is plain SGD's step θ₀ − η∇₁; Adam divides by √Ê + ε")
    if abs(t1 - (t0 - a * 0.1 * g / (math.sqrt(0.001) * abs(g) + 1e-8))) < 1e-6:
        return verdict(False, "you forgot the bias correction v̂ = v/(1 − β₁ᵗ), Ê = E/(1 − β₂ᵗ)")
    return verdict(False, f"θ₁ = {t1:g} is not Adam's first step; compute v₁, E₁, then v̂₁, Ê₁")


@never_raises
def check_ravine_settings(lr, momentum, steps: int = 60, target: float = 1e-3) -> bool:
    """Exercise 4: a learning rate η and momentum μ with which dlkit's Momentum optimizer
    brings the ravine's loss below `target` within `steps` steps."""
    from dlkit.nn import Param
    from dlkit.optim import SGD

    a, m = number(lr), number(momentum)
    if a is None or a <= 0 or m is None or not 0 <= m < 1:
        return verdict(False, "lr must be positive and momentum in [0, 1)")
    # the ravine of the chapter: f = 0.05 θ₁² + 2 θ₂², from (−9, 1.5)
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
        return verdict(False, f"it diverged (η = {a:g} is too large for the steep direction)")
    return verdict(
        False,
        f"loss {final:.2e} after {steps} steps, above {target:g}: the "
        "shallow direction needs more speed (more momentum?)",
    )
