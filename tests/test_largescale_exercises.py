"""The checks of dlkit.exercises.largescale: right answers pass, wrong ones never leak."""

import numpy as np
import pytest

from dlkit.exercises import largescale as ex


def _auc():
    pos, neg = ex.AUC_F[ex.AUC_Y == 1], ex.AUC_F[ex.AUC_Y == 0]
    return float((pos[:, None] > neg[None, :]).mean())


RIGHT = {
    "check_guessing": lambda: 1 - ex.LE_FACES / ex.LE_IMAGES,
    "check_auc": _auc,
    "check_core_hours": lambda: ex.MACHINES * ex.CORES_PER_MACHINE * ex.DAYS * 24,
}
WRONG = [0, 0.5, 1, -3, 7.25, 1e9, "x", None, [1, 2], float("nan")]


def _forms(v):
    """The expected value in the formats a leak could take."""
    out = {repr(v), str(v), f"{v:,}", f"{v:.0f}", f"{v:,.0f}"}
    for d in range(2, 7):
        out |= {f"{v:.{d}f}", f"{v:.{d}g}", f"{100 * v:.{max(d - 2, 0)}f}%"}
    return {s for s in out if len(s.strip("0.,%")) >= 2}


@pytest.mark.parametrize("name", sorted(RIGHT))
def test_right_answer_passes(name, capsys):
    assert getattr(ex, name)(RIGHT[name]()) is True
    assert capsys.readouterr().out.startswith("Correct: ")


@pytest.mark.parametrize("name", sorted(RIGHT))
@pytest.mark.parametrize("wrong", WRONG)
def test_wrong_answer_never_leaks(name, wrong, capsys):
    assert getattr(ex, name)(wrong) is False
    out = capsys.readouterr().out
    assert out.startswith("Not yet: ") and out.count("\n") == 1
    want = RIGHT[name]()
    for form in _forms(want):
        assert form not in out, (name, wrong, form, out)


def test_near_misses_get_hints(capsys):
    g = 1 - ex.LE_FACES / ex.LE_IMAGES
    assert not ex.check_guessing(100 * g)
    assert "percentage" in capsys.readouterr().out
    assert not ex.check_core_hours(ex.MACHINES * ex.CORES_PER_MACHINE * ex.DAYS)
    assert "24 hours" in capsys.readouterr().out
    assert not ex.check_auc(1 - _auc())
    assert "wrongly" in capsys.readouterr().out
    assert np.isclose(_auc(), 8 / 9)
