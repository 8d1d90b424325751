"""Checks for the exercises of the chapter *Autoencoders and sparse coding*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint that never
gives the expected value away) and returns True or False; it never raises, whatever it
is given.
"""

from __future__ import annotations

import numpy as np

from dlkit.exercises import never_raises, number, verdict

#: Exercise 1: the input z of the soft-thresholding S_t and the threshold t.
SOFT_Z = np.array([1.5, -0.2, -2.0, 0.4])
SOFT_T = 0.5

#: Exercise 2: a dictionary D (d = 2, 2 atoms, unit-norm columns) for ISTA's step 1/L.
STEP_D = np.array([[1.0, 0.6], [0.0, 0.8]])

#: Exercise 3: the target activation ρ and one hidden unit's mean activation ρ̂.
KL_RHO = 0.05
KL_RHO_HAT = 0.2


def _soft(z, t):
    return np.sign(z) * np.maximum(np.abs(z) - t, 0.0)


@never_raises
def check_soft_threshold(answer) -> bool:
    """Exercise 1: S_t(z) = sign(z) max(|z| − t, 0), entry by entry, for SOFT_Z, SOFT_T."""
    want = _soft(SOFT_Z, SOFT_T)
    try:
        got = np.asarray(answer, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return verdict(False, f"pass {SOFT_Z.size} numbers, one per entry of SOFT_Z")
    if got.shape != want.shape or not np.isfinite(got).all():
        return verdict(False, f"pass {SOFT_Z.size} finite numbers, one per entry of SOFT_Z")
    if np.allclose(got, want, atol=1e-9):
        return verdict(
            True,
            "entries within t of 0 become exactly 0 and the others move t towards 0: "
            "that is why ℓ1 codes have exact zeros",
        )
    if np.allclose(got, np.where(np.abs(SOFT_Z) > SOFT_T, SOFT_Z, 0.0)):
        return verdict(False, "that is hard thresholding; the kept entries also shrink by t")
    if np.allclose(got, np.maximum(SOFT_Z - SOFT_T, 0.0)):
        return verdict(False, "negative entries shrink towards 0 too, keeping their sign")
    return verdict(False, "for each entry: is |z| ≤ t? then 0; else move it t closer to 0")


@never_raises
def check_step_size(answer) -> bool:
    """Exercise 2: ISTA's step 1/L for STEP_D, L the largest eigenvalue of DᵀD."""
    got = number(answer)
    if got is None:
        return verdict(False, "pass the step 1/L, one number")
    L = float(np.linalg.eigvalsh(STEP_D.T @ STEP_D)[-1])
    if abs(got - 1 / L) <= 1e-3 / L:
        return verdict(
            True,
            "L = ‖DᵀD‖₂ bounds the curvature of ½‖x − Dh‖², so a step 1/L never "
            "overshoots; correlated atoms make L larger and the step shorter",
        )
    if got <= 0:
        return verdict(False, "a step size is positive")
    if got > 1:  # unit-norm atoms give L ≥ 1, so the step is at most 1
        return verdict(
            False, "too large: the atoms have unit norm, so L ≥ 1; how does the step depend on L?"
        )
    return verdict(False, "form G = DᵀD (2 × 2), take its largest eigenvalue L, and invert it")


@never_raises
def check_kl(answer) -> bool:
    """Exercise 3: KL(ρ ‖ ρ̂) for ρ = KL_RHO and ρ̂ = KL_RHO_HAT (natural logarithms)."""
    got = number(answer)
    if got is None:
        return verdict(False, "pass KL(ρ ‖ ρ̂), one number")
    r, q = KL_RHO, KL_RHO_HAT
    want = r * np.log(r / q) + (1 - r) * np.log((1 - r) / (1 - q))
    if abs(got - want) <= 1e-3 * want:
        return verdict(
            True,
            "a unit active four times as often as ρ pays this much; the penalty is 0 "
            "only when ρ̂ = ρ",
        )
    swapped = q * np.log(q / r) + (1 - q) * np.log((1 - q) / (1 - r))
    if abs(got - swapped) <= 1e-3 * swapped:
        return verdict(
            False, "KL is not symmetric: ρ is the first argument, the weights of the logs"
        )
    if got < 0:
        return verdict(False, "a KL divergence is never negative")
    return verdict(
        False, "KL(ρ‖ρ̂) = ρ log(ρ/ρ̂) + (1 − ρ) log((1 − ρ)/(1 − ρ̂)), with natural logarithms"
    )
