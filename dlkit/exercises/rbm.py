"""Checks for the exercises of the chapter *RBMs and deep belief networks*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint that never
gives the expected value away) and returns True or False; it never raises, whatever it
is given.
"""

from __future__ import annotations

import math

import numpy as np

from dlkit.exercises import never_raises, number, verdict

#: Exercise 1: the layer sizes n_0 (the 28 × 28 pixels), n_1, n_2, n_3 of Hinton,
#: Osindero & Teh's DBN for MNIST (without its label units).
DBN_SIZES = (784, 500, 500, 2000)

#: Exercises 2 and 3: a tiny RBM with s_v = 3 visible and s_h = 2 hidden units,
#: W of shape (s_h, s_v), and a visible vector v.
TINY_W = np.array([[1.0, -1.0, 0.5], [-0.5, 2.0, 1.0]])
TINY_B = np.array([0.2, -0.3, 0.1])  # visible biases b
TINY_C = np.array([-1.0, 0.5])  # hidden biases c
TINY_V = np.array([1.0, 0.0, 1.0])


def _parameter_count(sizes) -> int:
    return sum(a * b for a, b in zip(sizes, sizes[1:])) + sum(sizes)


@never_raises
def check_dbn_parameter_count(answer) -> bool:
    """Exercise 1: the number of parameters Σ_l n_l n_{l+1} + Σ_l n_l of the DBN with
    layer sizes DBN_SIZES."""
    got = number(answer)
    want = _parameter_count(DBN_SIZES)
    if got is None:
        return verdict(False, "pass the number of parameters, one whole number")
    if got == want:
        return verdict(
            True,
            "the three weight matrices hold almost all of it; the biases, one per unit, "
            "are a fraction of a percent",
        )
    weights = sum(a * b for a, b in zip(DBN_SIZES, DBN_SIZES[1:]))
    if got == weights:
        return verdict(False, "those are the weights only; add one bias per unit")
    if got == weights + sum(DBN_SIZES[1:]) or got == weights + sum(DBN_SIZES[:-1]):
        return verdict(False, "every layer has biases, the data layer and the top layer too")
    return verdict(
        False,
        "add n_l · n_{l+1} for each pair of neighbouring layers, then one bias per unit "
        "of every layer",
    )


def _free_energy(v: np.ndarray) -> float:
    return float(-(TINY_B @ v) - np.logaddexp(0.0, TINY_W @ v + TINY_C).sum())


@never_raises
def check_free_energy(answer) -> bool:
    """Exercise 2: the free energy 𝓕(v) of the tiny RBM at v = TINY_V."""
    got = number(answer)
    want = _free_energy(TINY_V)
    if got is None:
        return verdict(False, "pass 𝓕(v), one number")
    if math.isclose(got, want, rel_tol=1e-3, abs_tol=1e-3):
        return verdict(
            True,
            "summing e^{−E(v, h)} over the four h gives e^{−𝓕(v)}: each hidden unit "
            "contributes a factor 1 + e^{c_k + W_k·v}",
        )
    if math.isclose(got, float(-(TINY_B @ TINY_V)), rel_tol=1e-3, abs_tol=1e-3):
        return verdict(False, "that is only −bᵀv; each hidden unit adds −log(1 + e^{c_k + W_k·v})")
    return verdict(
        False,
        "compute u_k = c_k + Σ_i W_ki v_i for both hidden units, then "
        "𝓕(v) = −bᵀv − Σ_k log(1 + e^{u_k}): both terms carry a minus sign",
    )


@never_raises
def check_hidden_probs(answer) -> bool:
    """Exercise 3: the vector (P(h_1 = 1 | v), P(h_2 = 1 | v)) of the tiny RBM at TINY_V."""
    try:
        got = np.asarray(answer, dtype=float).ravel()
    except (TypeError, ValueError):
        return verdict(False, "pass the two probabilities as a list or array")
    if got.shape != (2,) or not np.isfinite(got).all():
        return verdict(False, "pass two finite numbers, one per hidden unit")
    want = 1 / (1 + np.exp(-(TINY_W @ TINY_V + TINY_C)))
    if np.allclose(got, want, rtol=1e-3, atol=1e-4):
        return verdict(
            True,
            "given v the hidden units are independent, each a sigmoid of its own input c_k + W_k·v",
        )
    if (got < 0).any() or (got > 1).any():
        return verdict(False, "probabilities lie between 0 and 1: apply the sigmoid σ")
    wrong_c = 1 / (1 + np.exp(-(TINY_W @ TINY_V)))
    if np.allclose(got, wrong_c, rtol=1e-3, atol=1e-4):
        return verdict(False, "add the hidden biases c_k before the sigmoid")
    return verdict(
        False,
        "P(h_k = 1 | v) = σ(c_k + Σ_i W_ki v_i); row k of W holds the weights into hidden "
        "unit k, and the answer lists unit 1 first",
    )
