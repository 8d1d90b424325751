"""Checks for the exercises of the chapter *Handwritten digits*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given.
"""

from __future__ import annotations

import numpy as np

from dlkit.exercises import never_raises, number, verdict, whole


#: The small voting network of exercise 1: 3 classes, 4 pixels.
VOTING_W = np.array([[1, 0, -1, 2], [0, 1, 1, 0], [2, -1, 0, 0]])
VOTING_X = np.array([1, 0, 1, 1])
VOTING_LABEL = 1


@never_raises
def check_voting_update(guess, W_after) -> bool:
    """Exercise 1: the class the voting network guesses for VOTING_X with weights VOTING_W
    (ties go to the lowest class, as with argmax), and the weights after one training
    step with the correct class VOTING_LABEL."""
    scores = VOTING_W @ VOTING_X
    want_guess = int(np.argmax(scores))
    want_W = VOTING_W.copy()
    want_W[VOTING_LABEL] += VOTING_X
    want_W[want_guess] -= VOTING_X
    try:
        W_after = np.asarray(W_after, dtype=np.int64)
    except (TypeError, ValueError, OverflowError):
        W_after = None
    guess = whole(guess)
    if guess is None or W_after is None:
        return verdict(
            False,
            "fill in guess, the class i with the largest score z_i = Σ_k W_ik x_k, and "
            "W_after, the 3×4 integer weights after the step",
        )
    if guess != want_guess:
        return verdict(
            False,
            "the guess is the class i with the largest score z_i = Σ_k W_ik x_k (ties "
            "go to the lowest class, as with argmax)",
        )
    if W_after.shape != want_W.shape:
        return verdict(False, f"W has shape {want_W.shape}, you gave {W_after.shape}")
    if np.array_equal(W_after, want_W):
        return verdict(
            True,
            f"guess {want_guess}; row {VOTING_LABEL} gained the active "
            f"pixels and row {want_guess} lost them",
        )
    rows = [int(k) for k in np.flatnonzero((W_after != want_W).any(axis=1))]
    return verdict(
        False,
        f"row(s) {rows} differ: only the correct and the guessed class "
        "change, and only at active pixels",
    )


@never_raises
def check_recall(C, k, answer) -> bool:
    """Exercise 2: the recall of class `k` (the fraction of the test examples of class k
    that are predicted as k) from the confusion matrix `C` (row = true class, column =
    predicted class)."""
    got, k = number(answer), whole(k)
    try:
        C = np.asarray(C)
        numeric = C.ndim == 2 and C.dtype.kind in "iuf" and k is not None and 0 <= k < len(C)
        want = C[k, k] / C[k].sum() if numeric and C[k].sum() else None
    except (TypeError, ValueError, IndexError, OverflowError):
        want = None
    if got is None or want is None:
        return verdict(False, "pass the confusion matrix, a class index and a number")
    if abs(got - want) < 1e-9:
        return verdict(True, f"recall of {k} = {C[k, k]}/{C[k].sum()} = {want:.4f}")
    if C[:, k].sum() and abs(got - C[k, k] / C[:, k].sum()) < 1e-9:
        return verdict(False, "that is the precision (column); recall divides by the row")
    return verdict(
        False,
        f"{got:.4g} is not the recall of class {k}: of the true {k}s (row {k} of C), "
        f"the fraction predicted as {k}",
    )


@never_raises
def check_digits_model(model, bar: float = 0.975) -> bool:
    """Exercise 3: a dlkit model whose test accuracy on the standardized digits split
    (``dlkit.data.standardize(load_digits())``) is at least `bar`."""
    from dlkit.data import load_digits, standardize
    from dlkit.train import accuracy

    if not (callable(getattr(model, "forward", None)) and callable(getattr(model, "eval", None))):
        return verdict(
            False,
            f"pass a trained dlkit model, such as run.model of run = train_mlp(split, ...), "
            f"not {type(model).__name__}",
        )
    test = standardize(load_digits())
    try:
        model.eval()
        acc = accuracy(model.forward(test.X_test), test.y_test)
    except Exception as exc:  # noqa: BLE001 - the reader's model may fail in any way
        return verdict(False, f"the model could not score the test set: {exc}")
    if acc >= bar:
        return verdict(True, f"test accuracy {acc:.4f} >= {bar}")
    return verdict(
        False,
        f"test accuracy {acc:.4f} < {bar}: try a wider or deeper network, the other "
        "optimizer, or more epochs",
    )
