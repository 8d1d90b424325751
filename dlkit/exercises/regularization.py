"""Checks for the exercises of the chapter *Regularisation and normalisation*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint that never
gives the expected value away) and returns True or False; it never raises, whatever it
is given.
"""

from __future__ import annotations

import numpy as np

from dlkit.exercises import never_raises, number, raised, verdict

#: Exercise 1: a unit's activation a and dropout's keep probability q.
DROPOUT_A = 2.0
DROPOUT_Q = 0.6

#: Exercise 2: a batch of N = 4 examples of 2 features, and a fresh BatchNorm1d(2)
#: (running_mean 0, running_var 1, momentum 0.1).
BN_BATCH = np.array([[1.0, 0.0], [2.0, 0.0], [3.0, 4.0], [6.0, 4.0]])
BN_MOMENTUM = 0.1


def _dropout_variance(a: float, q: float) -> float:
    """Var[a·m/q] for m ~ Bernoulli(q): E[out²] − E[out]² = q (a/q)² − a² = a² (1 − q)/q."""
    return a * a * (1 - q) / q


@never_raises
def check_dropout_variance(answer) -> bool:
    """Exercise 1: the variance of inverted dropout's training-mode output for a unit of
    activation DROPOUT_A with keep probability DROPOUT_Q."""
    got = number(answer)
    a, q = DROPOUT_A, DROPOUT_Q
    want = _dropout_variance(a, q)
    if got is None:
        return verdict(False, "pass the variance, one number")
    if abs(got - want) <= 2e-3 * want:  # 2.667 is as right as the exact fraction
        return verdict(
            True,
            "the output is a/q with probability q and 0 otherwise; its mean is a, and "
            "E[out²] − a² = a²(1 − q)/q: dividing by q keeps the mean but adds noise",
        )
    if abs(got - a * a * q * (1 - q)) <= 1e-9 or abs(got - a * a * (1 - q)) <= 1e-9:
        return verdict(
            False, "that is the variance without the division by q; a kept unit outputs a/q"
        )
    if got < 0:
        return verdict(False, "a variance is never negative")
    return verdict(
        False,
        "write the output's two values and their probabilities, then Var = E[out²] − E[out]², "
        "where E[out] = a",
    )


def _running_stats(Z: np.ndarray, momentum: float) -> tuple[np.ndarray, np.ndarray]:
    """running_mean and running_var of a fresh layer after one training step on Z."""
    N = len(Z)
    mean, var = Z.mean(axis=0), Z.var(axis=0) * N / (N - 1)
    return momentum * mean, (1 - momentum) * 1.0 + momentum * var


@never_raises
def check_running_stats(running_mean, running_var) -> bool:
    """Exercise 2: a fresh BatchNorm1d(2)'s running_mean and running_var after one
    training step on BN_BATCH."""
    want_m, want_v = _running_stats(BN_BATCH, BN_MOMENTUM)
    try:
        m = np.asarray(running_mean, dtype=np.float64).reshape(-1)
        v = np.asarray(running_var, dtype=np.float64).reshape(-1)
    except (TypeError, ValueError):
        return verdict(False, "pass running_mean and running_var, two arrays of 2 numbers each")
    if m.shape != (2,) or v.shape != (2,) or not (np.isfinite(m).all() and np.isfinite(v).all()):
        return verdict(
            False, "pass running_mean and running_var, two arrays of 2 finite numbers each"
        )

    def close(a, b):
        return bool(np.allclose(a, b, rtol=1e-6, atol=1e-9))

    ok_m, ok_v = close(m, want_m), close(v, want_v)
    if ok_m and ok_v:
        return verdict(
            True,
            "running ← 0.9 · running + 0.1 · batch statistic, with the unbiased variance "
            "(divided by N − 1 = 3) for running_var",
        )
    batch_mean, biased = BN_BATCH.mean(axis=0), BN_BATCH.var(axis=0)
    if close(m, batch_mean) or close(v, biased * 4 / 3) or close(v, biased):
        return verdict(
            False,
            "those are the batch's own statistics; the running averages move only a "
            "fraction (momentum 0.1) of the way towards them from 0 and 1",
        )
    if not ok_m:
        return verdict(
            False, "running_mean is not right yet: it starts at 0 and moves 0.1 of the way"
        )
    if close(v, 0.9 + 0.1 * biased):
        return verdict(
            False,
            "running_mean is right; running_var uses the unbiased variance, Σ(z − z̄)² / (N − 1)",
        )
    return verdict(
        False,
        "running_mean is right; running_var starts at 1 and moves 0.1 of the way towards "
        "the batch's unbiased variance",
    )


#: Validation losses on which the early-stopping function is tried: epoch e has loss [e − 1].
_EARLY_CASES = (
    ([1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.69, 0.7, 0.8, 0.9, 1.0], 2),
    ([1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.69, 0.7, 0.8, 0.9, 1.0], 3),
    ([0.5, 0.5, 0.5, 0.5], 2),
    ([0.9, 0.8, 0.7, 0.6], 2),
    ([0.3, 0.4, 0.5, 0.6, 0.7], 1),
)


@never_raises
def check_early_stopping(fn) -> bool:
    """Exercise 3: `fn(val_losses, patience)` returns (the epoch to go back to, the epoch
    training stops after), epochs counted from 1, as
    :func:`dlkit.experiments.regularization.early_stopping_epochs` does."""
    from dlkit.experiments.regularization import early_stopping_epochs

    if not callable(fn):
        return verdict(False, "pass your function fn(val_losses, patience), not its result")
    g = np.random.default_rng(7)
    cases = list(_EARLY_CASES) + [
        (list(np.round(1 + np.cumsum(g.normal(-0.02, 0.05, 30)), 3)), int(p)) for p in (2, 4, 6)
    ]
    for losses, patience in cases:
        want = early_stopping_epochs(losses, patience)
        try:
            got = fn(list(losses), patience)
            got = tuple(int(v) for v in got)
        except Exception as exc:  # noqa: BLE001 - the reader's function may fail in any way
            return verdict(False, raised(exc))
        if got == want:
            continue
        if len(got) != 2:
            return verdict(False, "return a pair: (epoch to restore, epoch training stops after)")
        if got == (want[0] - 1, want[1] - 1):
            return verdict(False, "epochs count from 1: the first epoch is epoch 1")
        tie = 1 <= got[0] <= len(losses) and got[0] > want[0]
        if tie and losses[got[0] - 1] == losses[want[0] - 1]:
            return verdict(
                False,
                "an equal loss is no improvement: the epoch to restore is the first with the lowest loss",
            )
        if got[0] == int(np.argmin(losses)) + 1 and got[1] == want[1]:
            return verdict(
                False,
                "training stopped before that epoch: go back to the best of the epochs "
                "that were trained",
            )
        if got[0] != want[0]:
            return verdict(
                False, "the epoch to restore is the one with the lowest validation loss so far"
            )
        return verdict(
            False,
            "stop once `patience` epochs in a row brought no new lowest loss (or after the "
            "last epoch, if that never happens)",
        )
    return verdict(
        True, f"your function agrees with early_stopping_epochs on all {len(cases)} sequences"
    )
