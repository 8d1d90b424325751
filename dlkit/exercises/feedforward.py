"""Checks for the exercises of the chapter *Feedforward networks*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given.

- :func:`check_param_count`: the number of parameters of a fully connected network.
- :func:`check_xnor_thetas`: hand-made Θ^(1), Θ^(2) of a 2-2-1 sigmoid network computing
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
    """Is `answer` the number of weights and biases of the network with layer `sizes`?"""
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
        hint = " You counted the weights but not the biases: Θ^(j) has s_j + 1 columns."
    elif got == weights_only + sum(sizes):
        hint = " The input layer has no bias of its own: biases belong to layers 2..L."
    return verdict(
        False,
        f"{got:,} is not the count.{hint} Each Θ^(j) has s_(j+1) × (s_j + 1) entries; add them up.",
    )


@never_raises
def check_xnor_thetas(Thetas) -> bool:
    """Does the 2-2-1 network with sigmoid units and these Θ's compute XNOR?

    `Thetas` = [Θ^(1) of shape (2, 3), Θ^(2) of shape (1, 3)], first columns the biases.
    The output a^(3) = g(z^(3)) must be above 0.99 where XNOR is 1 and below 0.01
    where it is 0.
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
            f"wrong shapes: got {shapes}, need {want_shapes} (Θ^(j) is "
            "s_(j+1) × (s_j + 1), bias column first).",
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
        f"use weights of size 10-20).\n{rows}",
    )


@never_raises
def check_forward(fn: Callable) -> bool:
    """Does ``fn(Thetas, X)`` compute h_Θ(X) for a batch, sigmoid at every layer?

    `fn` gets a list of Θ^(j) (first columns the biases) and X of shape (N, s_1), and
    must return a^(L) of shape (N, s_L) with a^(j+1) = sigmoid([1 | a^(j)] Θ^(j)ᵀ)
    for every layer, the output layer included. It is tried on random networks.
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
        err = float(np.max(np.abs(got - want)))
        if not err < 1e-10:
            return verdict(
                False,
                f"wrong values for a {name} network: max |yours - "
                f"forward_theta| = {err:.3g}. Check the bias column (a column "
                "of ones first) and the transpose of Θ.",
            )
    return verdict(
        True,
        "your forward propagation matches forward_theta on three networks "
        "(max difference below 1e-10).",
    )
