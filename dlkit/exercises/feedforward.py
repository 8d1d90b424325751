"""Checks for the exercises of the chapter *Feedforward networks*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint, never the
expected value) and returns True or False; it never raises, whatever it is given.
Θ^(j) = [b^(j) | W^(j)] ∈ R^{s_j × (s_{j-1} + 1)} is indexed by the layer j it computes.

- :func:`check_param_count`: the number P of parameters of a fully connected network.
- :func:`check_xnor_thetas`: hand-made Θ^(2), Θ^(3) of a 2-2-1 sigmoid network computing
  XNOR.
- :func:`check_forward`: your own batch forward propagation, compared with
  :func:`dlkit.nn.forward.forward_theta`.
"""

from __future__ import annotations

from typing import Callable, Sequence

import numpy as np

from dlkit import rng as _rng
from dlkit.data import gate_table
from dlkit.exercises import cannot_check, never_raises, raised, verdict, whole
from dlkit.nn.forward import count_parameters, forward_theta


@never_raises
def check_param_count(sizes: Sequence[int], answer) -> bool:
    """Is `answer` the number P of weights and biases of the network with layer `sizes`?

    The verdict never shows P: a wrong answer gets a hint about what it may have left out.
    """
    try:
        want = count_parameters(sizes)
    except (TypeError, ValueError) as exc:
        return cannot_check(str(exc))
    got = whole(answer)
    if got is None:
        return verdict(False, f"the answer should be a whole number, got {answer!r}")
    if got == want:
        return verdict(True, f"a {'-'.join(map(str, sizes))} network has {want:,} parameters.")
    weights_only = sum(a * b for a, b in zip(sizes[:-1], sizes[1:]))
    hint = ""
    if got == weights_only:
        hint = " You counted the weights but not the biases: Θ^(j) has s_(j-1) + 1 columns."
    elif got == weights_only + sum(sizes):
        hint = " The input layer has no bias of its own: biases belong to layers 2..L."
    return verdict(
        False,
        f"{got:,} is not the count.{hint} Each layer j = 2..L has Θ^(j) = [b^(j) | W^(j)] "
        "with s_j × (s_(j-1) + 1) entries; add them up.",
    )


@never_raises
def check_xnor_thetas(Thetas) -> bool:
    """Does the 2-2-1 network with sigmoid units and these Θ's compute XNOR?

    `Thetas` = [Θ^(2) of shape (2, 3), Θ^(3) of shape (1, 3)], first columns the biases.
    The output a^(3) = σ(z^(3)) must be above 0.99 where XNOR is 1 and below 0.01
    where it is 0. The verdict shows the network's own outputs, never a solution.
    """
    try:
        Thetas = [np.asarray(T, dtype=np.float64) for T in Thetas]
    except (TypeError, ValueError) as exc:
        return verdict(False, f"cannot read the matrices: {exc}")
    want_shapes = [(2, 3), (1, 3)]
    shapes = [T.shape for T in Thetas]
    if shapes != want_shapes:
        return verdict(
            False,
            f"wrong shapes: got {shapes}, need [Θ^(2), Θ^(3)] of shapes {want_shapes} "
            "(Θ^(j) is s_j × (s_(j-1) + 1), bias column first).",
        )
    X, y = gate_table("XNOR")
    with np.errstate(all="ignore"):
        a3 = forward_theta(Thetas, X, "sigmoid", "sigmoid").output[:, 0]
    ok = np.where(y == 1, a3 > 0.99, a3 < 0.01)
    rows = "\n".join(
        f"  x = ({int(x1)}, {int(x2)}): a^(3) = {v:.4f}, XNOR = {t}{'' if good else '   <- wrong'}"
        for (x1, x2), v, t, good in zip(X, a3, y, ok)
    )
    if ok.all():
        return verdict(True, f"the network computes XNOR.\n{rows}")
    return verdict(
        False,
        f"{int((~ok).sum())} of 4 inputs are wrong (or not saturated enough: "
        f"use weights of size 10 to 20).\n{rows}",
    )


@never_raises
def check_forward(fn: Callable) -> bool:
    """Does ``fn(Thetas, X)`` compute the output A^(L) of a batch, sigmoid at every layer?

    `fn` gets the list [Θ^(2), ..., Θ^(L)] (first columns the biases) and X of shape
    (N, s_1), and must return A^(L) of shape (N, s_L) with A^(j) = σ([1 | A^(j-1)] Θ^(j)ᵀ)
    for every layer j = 2..L, the output layer included. It is tried on random networks;
    a wrong answer is told which network and how many examples are off, not the values.
    """
    g = _rng(3)
    for sizes in ([3, 5, 4, 2], [2, 1], [4, 6, 6, 6, 3]):
        Thetas = [g.standard_normal((b, a + 1)) for a, b in zip(sizes[:-1], sizes[1:])]
        X = g.standard_normal((7, sizes[0]))
        want = forward_theta(Thetas, X, "sigmoid", "sigmoid").output
        name = "-".join(map(str, sizes))
        try:
            got = np.asarray(fn([T.copy() for T in Thetas], X.copy()), dtype=np.float64)
        except Exception as exc:  # noqa: BLE001 - the reader's code may fail in any way
            return verdict(False, f"{raised(exc)} (network {name}, X of shape {X.shape})")
        if got.shape != want.shape:
            hint = " (return a^(L) for all N examples, one row each)"
            return verdict(
                False, f"wrong shape for a {name} network: got {got.shape}, want {want.shape}{hint}"
            )
        with np.errstate(invalid="ignore"):
            off = ~(np.abs(got - want) < 1e-10).all(axis=1)  # examples (rows) that are wrong
        if off.any():
            return verdict(
                False,
                f"wrong values for a {name} network, in {int(off.sum())} of {len(off)} "
                "examples. Check the bias column (a column of ones first), the transpose "
                "of Θ^(j) and the sigmoid at every layer.",
            )
    return verdict(
        True,
        "your forward propagation matches forward_theta on three networks "
        "(max difference below 1e-10).",
    )
