"""The chapter *Regularisation and normalisation*: shifted images, the experiments on a tiny
budget, early stopping's restore, dropout's mean, the figures, and the exercise checks
(right answers pass; wrong ones fail without printing the answer)."""

from __future__ import annotations

import functools
import itertools
import re

import numpy as np
import pytest

from dlkit import nn
from dlkit.data import load_digits, random_shifts, shift_images, translate
from dlkit.exercises import regularization as ex
from dlkit.experiments import regularization as xr

# ------------------------------------------------------------------ shifted images


def _images(shape=(5, 6, 7), seed=0):
    return np.random.default_rng(seed).random(shape)


def test_translate_by_zero_is_the_identity_and_keeps_shape_and_dtype():
    for X in (_images(), _images((3, 2, 5, 5)), _images((4, 9)).astype(np.float32)):
        shape = (3, 3) if X.ndim == 2 else None
        out = translate(X, 0, 0, shape=shape)
        assert out.shape == X.shape and out.dtype == X.dtype
        np.testing.assert_array_equal(out, X)
        assert out is not X


def test_a_known_shift_moves_a_known_pixel():
    X = np.zeros((1, 8, 8))
    X[0, 2, 5] = 1.0
    out = translate(X, 1, -2)  # down 1, left 2
    assert out[0, 3, 3] == 1.0 and out.sum() == 1.0
    flat = translate(X.reshape(1, 64), -2, 1, shape=(8, 8)).reshape(8, 8)
    assert flat[0, 6] == 1.0 and flat.sum() == 1.0
    assert translate(X, 0, 3)[0].sum() == 0.0  # moved off the right edge: lost


def test_border_is_zero_filled_and_mass_is_kept_away_from_the_border():
    X = np.zeros((6, 8, 8))
    X[:, 2:6, 2:6] = _images((6, 4, 4))  # nothing within 2 pixels of the border
    for dy, dx in itertools.product(range(-2, 3), repeat=2):
        out = translate(X, dy, dx)
        np.testing.assert_allclose(out.sum(axis=(1, 2)), X.sum(axis=(1, 2)), rtol=1e-14)
        np.testing.assert_array_equal(out[:, 2 + dy : 6 + dy, 2 + dx : 6 + dx], X[:, 2:6, 2:6])
    full = np.ones((1, 4, 4))
    out = translate(full, 1, 1)
    assert out[0, 0].sum() == 0 and out[0, :, 0].sum() == 0 and out.sum() == 9


def test_shift_images_moves_each_image_by_its_own_seeded_shift():
    X = _images((50, 8, 8), 1)
    out = shift_images(X, 1, seed=3)
    dy, dx = random_shifts(50, 1, seed=3)
    assert set(dy.tolist()) == set(dx.tolist()) == {-1, 0, 1}
    for i in range(50):
        np.testing.assert_array_equal(out[i], translate(X[i : i + 1], int(dy[i]), int(dx[i]))[0])
    np.testing.assert_array_equal(out, shift_images(X, 1, seed=3))  # seeded
    assert not np.array_equal(out, shift_images(X, 1, seed=4))
    np.testing.assert_array_equal(shift_images(X, 0, seed=3), X)


def test_shift_images_on_flat_digits():
    X = load_digits().X_train[:20]
    out = shift_images(X, 1, seed=0, shape=(8, 8))
    assert out.shape == (20, 64) and out.dtype == X.dtype
    assert out.min() >= 0 and out.max() <= 1
    assert (out.sum(axis=1) <= X.sum(axis=1) + 1e-12).all()  # only the border can lose ink


@pytest.mark.parametrize(
    "call, exc, phrase",
    [
        (lambda: shift_images(np.ones((2, 8, 8)), 8), ValueError, "max_shift < 8"),
        (lambda: shift_images(np.ones((2, 64)), 1), ValueError, "shape=\\(H, W\\)"),
        (lambda: shift_images(np.ones((2, 63)), 1, shape=(8, 8)), ValueError, "needs flat rows"),
        (lambda: shift_images(np.ones((2, 64)), 1, shape=8), TypeError, "pair"),
        (lambda: shift_images([[1.0]], 1), TypeError, "numpy array"),
        (lambda: shift_images(np.ones((2, 8, 8)), -1), ValueError, "max_shift"),
        (lambda: shift_images(np.ones((2, 8, 8)), 1.5), TypeError, "max_shift"),
        (lambda: shift_images(np.ones((2, 8, 8)), 1, seed=None), ValueError, "seed"),
        (lambda: translate(np.ones((2, 8, 8)), 8, 0), ValueError, "dy=8"),
        (lambda: translate(np.ones((2, 8, 8)), 0, 1.0), TypeError, "dx must be an int"),
    ],
)
def test_bad_arguments_are_refused(call, exc, phrase):
    with pytest.raises(exc, match=phrase):
        call()


# ------------------------------------------------------------------ the experiments


@functools.cache
def _data():
    return xr.digits_split(n_train=60, n_val=60, seed=0)


def test_digits_split_sizes_and_standardisation():
    d = xr.digits_split()
    assert (len(d.y_train), len(d.y_val), len(d.y_test)) == (300, 400, 1097)
    assert d.X_train.shape == (300, 64) and d.images_test.shape == (1097, 64)
    np.testing.assert_allclose(d.X_train.mean(axis=0), 0, atol=1e-12)
    np.testing.assert_allclose(d.standardize(d.images_test), d.X_test, rtol=1e-15)
    assert d.images_train.min() >= 0 and d.images_train.max() <= 1
    with pytest.raises(ValueError, match="n_train"):
        xr.digits_split(n_train=5)
    with pytest.raises(ValueError, match="fewer than 10"):
        xr.digits_split(n_train=1000, n_val=790)


def test_build_model_follows_the_technique():
    base = xr.BASELINE
    plain = xr.build_model(base)
    assert [type(la).__name__ for la in plain] == ["Linear", "ReLU", "Linear", "ReLU", "Linear"]
    assert plain.n_params == 64 * 128 + 128 + 128 * 128 + 128 + 128 * 10 + 10
    both = xr.build_model(base.but("x", batchnorm=True, keep=0.8))
    kinds = [type(la).__name__ for la in both]
    assert kinds == ["Linear", "BatchNorm1d", "ReLU", "Dropout"] * 2 + ["Linear"]
    assert both[3].p == 0.2  # PyTorch's drop probability 1 − q
    assert [t.name for t in xr.TECHNIQUES][0] == "plain MLP"
    assert {t.name for t in xr.techniques(1e-3, 0.5)} == {t.name for t in xr.TECHNIQUES}


def test_training_on_a_tiny_budget():
    run = xr.train(_data(), xr.BASELINE, epochs=4, batch_size=30, seed=0)
    assert run.epochs == 4 and all(len(v) == 4 for v in run.curves.values())
    assert run.curves["train_loss"][-1] < run.curves["train_loss"][0]
    assert 0.5 < run.test_accuracy <= 1 and run.test_accuracy == run.test_accuracy_last
    assert 1 <= run.best_epoch <= 4
    again = xr.train(_data(), xr.BASELINE, epochs=4, batch_size=30, seed=0)
    assert again.curves == run.curves  # seeded: bit for bit


@pytest.mark.parametrize(
    "t",
    [
        xr.BASELINE.but("wd", weight_decay=1e-2),
        xr.BASELINE.but("drop", keep=0.5),
        xr.BASELINE.but("shift", max_shift=1),
        xr.BASELINE.but("bn", batchnorm=True),
    ],
    ids=lambda t: t.name,
)
def test_every_technique_trains_and_changes_the_run(t):
    base = xr.train(_data(), xr.BASELINE, epochs=3, batch_size=30, seed=1)
    run = xr.train(_data(), t, epochs=3, batch_size=30, seed=1)
    assert run.curves["train_loss"][-1] < run.curves["train_loss"][0]
    assert run.curves["train_loss"] != base.curves["train_loss"]


def test_early_stopping_restores_exactly_the_best_epochs_weights():
    t = xr.BASELINE.but("es", patience=2, lr=0.2)
    run = xr.train(_data(), t, epochs=40, batch_size=30, seed=2)
    assert run.epochs < 40, "patience should have run out"
    best = run.best_epoch
    assert run.epochs == best + 2
    assert run.curves["val_loss"][best - 1] == min(run.curves["val_loss"])
    # the same run trained for exactly `best` epochs ends with the restored weights
    upto = xr.train(_data(), t.but("upto", patience=None), epochs=best, batch_size=30, seed=2)
    assert upto.curves["val_loss"] == run.curves["val_loss"][:best]
    for (k, a), (_, b) in zip(run.model.state_dict().items(), upto.model.state_dict().items()):
        assert np.array_equal(a, b), k
    assert run.test_accuracy == upto.test_accuracy_last


def test_early_stopping_rule():
    losses = [1.0, 0.8, 0.7, 0.75, 0.72, 0.71, 0.69, 0.7, 0.8]
    assert xr.early_stopping_epochs(losses, 3) == (3, 6)
    assert xr.early_stopping_epochs(losses, 4) == (7, 9)  # runs out of epochs
    assert xr.early_stopping_epochs([0.5, 0.5, 0.5], 2) == (1, 3)  # a tie is no improvement
    watch = xr.EarlyStopping(1)
    assert watch.update(1.0) and not watch.stop and not watch.update(1.0) and watch.stop
    for bad in (0, -1, 1.5, True, None):
        with pytest.raises(ValueError, match="patience"):
            xr.EarlyStopping(bad)


def test_dropout_mean_training_output_is_the_evaluation_output():
    for q in (0.5, 0.8):
        d = xr.dropout_average((0.5, 1.0, 2.0, 3.0), q, n_masks=20_000, seed=0)
        a = np.array([0.5, 1.0, 2.0, 3.0])
        np.testing.assert_array_equal(d["eval"], a)
        sd = a * np.sqrt((1 - q) / q / 20_000)  # the standard error of the mean
        assert (np.abs(d["train_mean"] - a) < 4 * sd).all()
        np.testing.assert_allclose(d["values"], [0.0, 0.5 / q], rtol=1e-15)
        assert abs(d["kept"] - q) < 0.01


def test_sweep_choose_and_summaries():
    runs = xr.sweep(_data(), "weight_decay", (0.0, 1e-2), epochs=2, batch_size=30)
    assert set(runs) == {0.0, 1e-2} and runs[1e-2].technique.weight_decay == 1e-2
    best = xr.choose(runs)
    accs = {v: r.curves["val_acc"][-1] for v, r in runs.items()}
    assert accs[best] == max(accs.values())
    with pytest.raises(ValueError, match="not a setting"):
        xr.sweep(_data(), "colour", (1,))
    results = {"plain MLP": list(runs.values()), "other": [runs[0.0]]}
    s = xr.summarize(results)
    acc = [r.test_accuracy for r in runs.values()]
    assert s["plain MLP"].mean == pytest.approx(np.mean(acc))
    assert s["plain MLP"].low == min(acc) and s["plain MLP"].high == max(acc)
    table = xr.summary_table(s)
    assert "plain MLP" in table and s["other"].text() in table
    assert s["plain MLP"].text().count("%") == 1
    shifted = xr.shifted_test_accuracy(runs[0.0], _data())
    assert 0 < shifted < 1


# --------------------------------------------------------------------------- figures


def test_figures_draw_the_runs():
    from dlkit.viz import regularization as vr

    runs = [xr.train(_data(), xr.BASELINE, epochs=3, batch_size=30, seed=s) for s in (0, 1)]
    np.testing.assert_allclose(
        vr.mean_curve(runs, "val_loss"), np.mean([r.curves["val_loss"] for r in runs], axis=0)
    )
    fig = vr.plot_overfitting(runs, mark_epoch=2)
    assert [len(ax.lines) for ax in fig.axes] == [3, 3]  # two curves and the marker each
    results = {"plain MLP": runs, "again": runs[:1]}
    assert len(vr.plot_curves(results, ["plain MLP", "again"]).axes[0].lines) == 2
    fig = vr.plot_summary(xr.summarize(results), "plain MLP")
    assert len(fig.axes[0].lines) == 2 * 2 + 1  # a range and a mean each, the baseline
    assert len(vr.plot_shifts(_data().images_train[0]).axes) == 9
    box = vr.curve_explorer(results, "plain MLP")
    out = box.children[1]
    assert out.outputs and "image/png" in out.outputs[-1]["data"]


# ------------------------------------------------------------------------- exercises


def _spellings(x: float) -> list[str]:
    """How an expected value might be printed: rounded to 2-6 digits, as a percentage."""
    out = {repr(x), str(x)}
    for d in range(2, 7):
        out |= {f"{x:.{d}f}", f"{x:.{d}g}"}
    return sorted(s for s in out if len(s.strip("0.-")) >= 2)


def _out(capsys, fn, *args) -> tuple[bool, str]:
    capsys.readouterr()
    ok = fn(*args)
    return ok, capsys.readouterr().out


def test_dropout_variance_check(capsys):
    want = ex.DROPOUT_A**2 * (1 - ex.DROPOUT_Q) / ex.DROPOUT_Q
    ok, out = _out(capsys, ex.check_dropout_variance, want)
    assert ok and out.startswith("Correct: ")
    for wrong in (0.0, 1.6, 0.96, 2.0, 4.0, -1.0, 10.0, "x", None):
        ok, out = _out(capsys, ex.check_dropout_variance, wrong)
        assert not ok and out.startswith("Not yet: ") and out.count("\n") == 1
        assert not any(s in out for s in _spellings(want)), out


def test_running_stats_check(capsys):
    bn = nn.BatchNorm1d(2)
    bn.forward(ex.BN_BATCH)
    ok, out = _out(capsys, ex.check_running_stats, bn.running_mean, bn.running_var)
    assert ok and out.startswith("Correct: ")
    mean, var = ex.BN_BATCH.mean(axis=0), ex.BN_BATCH.var(axis=0)
    wrongs = [
        (mean, var * 4 / 3),  # the batch's own statistics
        (bn.running_mean, 0.9 + 0.1 * var),  # the biased variance
        (bn.running_mean, 0.1 * var * 4 / 3),  # running_var started at 0
        (0.9 * mean, bn.running_var),  # momentum the wrong way round
        ([0.0, 0.0], [1.0, 1.0]),
        ([1, 2, 3], [1, 2, 3]),
        ("a", None),
    ]
    hidden = [s for v in (*bn.running_mean, *bn.running_var) for s in _spellings(float(v))]
    for m, v in wrongs:
        ok, out = _out(capsys, ex.check_running_stats, m, v)
        assert not ok and out.startswith("Not yet: ") and out.count("\n") == 1, out
        assert not any(s in out for s in hidden), out


def _stop_right(losses, patience):
    best, best_e, waited = float("inf"), 0, 0
    for e, v in enumerate(losses, 1):
        if v < best:
            best, best_e, waited = v, e, 0
        else:
            waited += 1
            if waited == patience:
                return best_e, e
    return best_e, len(losses)


def test_early_stopping_check(capsys):
    ok, out = _out(capsys, ex.check_early_stopping, _stop_right)
    assert ok and out.startswith("Correct: ")

    def zero_based(v, p):
        b, s = _stop_right(v, p)
        return b - 1, s - 1

    def ties_improve(v, p):
        return _stop_right([x - 1e-9 * i for i, x in enumerate(v)], p)

    def never_stops(v, p):
        return _stop_right(v, len(v) + 1)

    for wrong in (zero_based, ties_improve, never_stops, lambda v, p: (1, 1), lambda v, p: None, 3):
        ok, out = _out(capsys, ex.check_early_stopping, wrong)
        assert not ok and out.startswith("Not yet: ") and out.count("\n") == 1, out
        assert not re.search(r"\(\d+, \d+\)", out), out  # no pair of epochs
