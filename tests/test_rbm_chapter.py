"""Chapter 11's exercise checks (right answers pass, wrong ones never reveal the
expected value, nothing raises) and its figures."""

from __future__ import annotations

import numpy as np
import pytest

from dlkit.exercises import rbm as ex
from dlkit.unsupervised import RBM, dbn_parameter_count


def _formats(x: float) -> list[str]:
    out = {repr(x), str(x)}
    for d in range(2, 7):
        out.add(f"{x:.{d}f}")
        out.add(f"{x:.{d}g}")
    if float(x).is_integer():
        out |= {str(int(x)), f"{int(x):,}"}
    return [s for s in out if len(s.strip("-0.")) >= 2]


def _tiny() -> RBM:
    r = RBM(3, 2)
    r.W.data[...] = ex.TINY_W
    r.b.data[...] = ex.TINY_B
    r.c.data[...] = ex.TINY_C
    return r


def _answers():
    r = _tiny()
    return {
        "count": dbn_parameter_count(ex.DBN_SIZES),
        "F": float(r.free_energy(ex.TINY_V)[0]),
        "P": r.hidden_probs(ex.TINY_V)[0],
    }


def test_right_answers_pass(capsys):
    a = _answers()
    assert ex.check_dbn_parameter_count(a["count"])
    assert ex.check_free_energy(a["F"])
    assert ex.check_hidden_probs(a["P"])
    assert ex.check_hidden_probs(list(a["P"]))
    out = capsys.readouterr().out
    assert out.count("Correct:") == 4


@pytest.mark.parametrize(
    "wrong", [0, 1.0, -3, 1e9, "abc", None, [1, 2], np.nan, float("inf"), {"a": 1}]
)
def test_wrong_answers_never_leak_or_raise(capsys, wrong):
    a = _answers()
    ex.check_dbn_parameter_count(wrong)
    ex.check_free_energy(wrong)
    ex.check_hidden_probs(wrong)
    ex.check_hidden_probs([wrong, wrong])
    out = capsys.readouterr().out
    assert "Correct:" not in out and out.count("Not yet:") == 4
    secrets = (
        _formats(a["count"]) + _formats(a["F"]) + [s for p in a["P"] for s in _formats(float(p))]
    )
    for s in secrets:
        assert s not in out, s


def test_near_misses_get_hints_without_the_value(capsys):
    a = _answers()
    n = ex.DBN_SIZES
    weights = sum(x * y for x, y in zip(n, n[1:]))
    assert not ex.check_dbn_parameter_count(weights)
    out = capsys.readouterr().out
    assert "weights only" in out
    for s in _formats(a["count"]) + _formats(float(weights)):
        assert s not in out, s


def test_a_flipped_sign_or_order_reads_like_any_wrong_answer(capsys):
    """−𝓕 and the swapped probabilities get the generic hint: a hint that singled them
    out would give the expected value away (minus the answer, or its reverse)."""
    a = _answers()
    ex.check_free_energy(-a["F"])
    ex.check_hidden_probs(a["P"][::-1])
    near = capsys.readouterr().out
    ex.check_free_energy(123.0)
    ex.check_hidden_probs([0.3, 0.3])
    assert near == capsys.readouterr().out
    assert near.count("Not yet:") == 2


def test_figures_draw():
    from matplotlib.figure import Figure

    from dlkit.viz import rbm as vr

    r = RBM(64, 12, seed=0)
    V = (np.random.default_rng(0).random((5, 64)) < 0.5).astype(float)
    assert isinstance(vr.plot_filters(r.W.data, n=12, per_row=6), Figure)
    assert isinstance(vr.plot_images([V, r.reconstruct(V)], ["v", "r"]), Figure)
    assert isinstance(vr.plot_gibbs_chains(np.stack([V[:3], V[1:4]]), (0, 1)), Figure)
    assert isinstance(vr.explorer_figure(r, V), Figure)


def test_explorer_builds():
    pytest.importorskip("ipywidgets")
    from dlkit.viz import rbm as vr

    X = (np.random.default_rng(0).random((40, 64)) < 0.5).astype(float)
    box = vr.rbm_explorer(X, X[:10], epochs=1)
    assert len(box.children) == 2
    view = box.children[-1]
    assert view.outputs[0]["data"]["text/plain"].startswith("CD-1, η = 0.05, s_h = 50, 1 epochs")
    k, lr, hidden = box.children[0].children
    k.value, hidden.value = 10, 25  # every setting was trained ahead
    assert view.outputs[0]["data"]["text/plain"].startswith("CD-10, η = 0.05, s_h = 25, 1 epochs")
