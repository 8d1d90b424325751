"""Margins of separating lines, the chapter 1-2 notation, and exercise checks that keep
their answers to themselves (chapters 1 and 2)."""

from __future__ import annotations

import re

import numpy as np
import pytest

from dlkit import perceptron as P
from dlkit.data import GATES, gate_table

X4 = P.truth_table_inputs(2)
OMEGA_AND = 1 / (2 * np.sqrt(2))  # the widest margin on AND (and on OR, NAND, NOR)


# ------------------------------------------------------------------------- margins


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND", "NOR"])
def test_hand_set_gates_have_the_widest_margin(gate):
    w, b = P.GATE_WEIGHTS[gate]
    X, y = gate_table(gate)
    assert P.margin(w, b, X, y) == pytest.approx(OMEGA_AND, rel=1e-12)
    w_mm, b_mm = P.max_margin(X, y)
    assert P.margin(w_mm, b_mm, X, y) == pytest.approx(OMEGA_AND, abs=1e-9)
    # the max-margin line is the hand-set line: (w, b) = (20, 20, b) / 10
    np.testing.assert_allclose(np.append(w_mm, b_mm), np.append(w, b) / 10, atol=1e-7)
    # scaled so that the closest examples have z = ±1, so ω = 1/‖w‖
    assert P.margin(w_mm, b_mm, X, y) == pytest.approx(1 / np.linalg.norm(w_mm), rel=1e-9)


def test_and_max_margin_line_is_x1_plus_x2_is_1_5():
    w, b = P.max_margin(*gate_table("AND"))
    assert w[0] == pytest.approx(w[1], abs=1e-9)
    assert -b / w[0] == pytest.approx(1.5, abs=1e-9)
    assert 1 / np.linalg.norm(w) == pytest.approx(0.354, abs=5e-4)


def test_learned_and_or_lines_have_zero_margin():
    r_and = P.train_perceptron(*gate_table("AND"))
    r_or = P.train_perceptron(*gate_table("OR"))
    assert P.margin(r_and.w, r_and.b, *gate_table("AND")) == 0.0
    assert P.margin(r_or.w, r_or.b, *gate_table("OR")) == 0.0
    # ... because (1, 0) lies on AND's learned line and (0, 0) on OR's
    assert r_and.unit.z(np.array([[1.0, 0.0]]))[0] == 0.0
    assert r_or.unit.z(np.array([[0.0, 0.0]]))[0] == 0.0
    # never −0.0 (it would print as "-0.000")
    assert str(P.margin(r_and.w, r_and.b, *gate_table("AND"))) == "0.0"


def test_margin_sign_scale_and_distance():
    X, y = gate_table("AND")
    # invariant under w, b -> c w, c b for c > 0
    for c in (0.01, 1.0, 37.0):
        assert P.margin([2 * c, 2 * c], -3 * c, X, y) == pytest.approx(OMEGA_AND, rel=1e-12)
    # flipping the line's orientation makes every example wrong: ω < 0
    assert P.margin([-2, -2], 3, X, y) == pytest.approx(-3 * OMEGA_AND, rel=1e-12)
    # the distance of a single point: |z| / ‖w‖, positive on its own side
    assert P.margin([3.0, 4.0], -5.0, np.array([[3.0, 4.0]]), np.array([1])) == pytest.approx(4.0)
    assert P.margin([3.0, 4.0], -5.0, np.array([[3.0, 4.0]]), np.array([0])) == pytest.approx(-4.0)


def test_convergence_bound_holds_for_the_hand_set_lines():
    for gate in ("AND", "OR", "NAND", "NOR"):
        X, y = gate_table(gate)
        X1 = np.column_stack([np.ones(4), X])
        w, b = P.GATE_WEIGHTS[gate]
        omega = P.margin(np.array([b, *w]), 0.0, X1, y)
        R = np.max(np.linalg.norm(X1, axis=1))
        r = P.train_perceptron(X, y)
        assert len(r.updates) <= (R / omega) ** 2
    X1 = np.column_stack([np.ones(4), X4])
    assert P.margin(np.array([-30.0, 20, 20]), 0.0, X1, gate_table("AND")[1]) == pytest.approx(
        1 / np.sqrt(17)
    )


def _best_margin_by_angles(X, y, steps=200_000):
    """The largest margin over unit directions u on a fine grid of angles (2-D only)."""
    phi = np.linspace(0, 2 * np.pi, steps, endpoint=False)
    U = np.column_stack([np.cos(phi), np.sin(phi)])
    proj = X @ U.T  # (N, steps)
    gap = proj[y == 1].min(axis=0) - proj[y == 0].max(axis=0)
    return gap.max() / 2


def test_max_margin_beats_every_direction_on_random_data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(30, 2))
    y = (X @ [1.0, -2.0] + 0.4 > 0).astype(int)
    w, b = P.max_margin(X, y)
    omega = P.margin(w, b, X, y)
    best = _best_margin_by_angles(X, y)
    assert omega > 0
    assert omega >= best - 1e-6  # no direction of the grid does better
    assert omega <= best + 1e-4  # and the grid comes close to it


def test_max_margin_in_three_dimensions():
    X = P.truth_table_inputs(3)
    y = (X.sum(axis=1) >= 2).astype(int)  # majority
    w, b = P.max_margin(X, y)
    np.testing.assert_allclose(w / w[0], [1, 1, 1], atol=1e-7)
    assert -b / w[0] == pytest.approx(1.5, abs=1e-7)
    assert P.margin(w, b, X, y) == pytest.approx(0.5 / np.sqrt(3), abs=1e-9)


def test_margin_and_max_margin_errors():
    X, y = gate_table("XOR")
    with pytest.raises(ValueError, match="no line separates"):
        P.max_margin(X, y)
    with pytest.raises(ValueError, match="both classes"):
        P.max_margin(X4, np.ones(4))
    with pytest.raises(ValueError, match="w = 0 is not a line"):
        P.margin([0.0, 0.0], 1.0, X4, GATES["AND"])
    with pytest.raises(ValueError, match=r"one weight per input, shape \(2,\)"):
        P.margin([1.0, 1.0, 1.0], 0.0, X4, GATES["AND"])
    with pytest.raises(ValueError, match="0 or 1"):
        P.margin([1.0, 1.0], 0.0, X4, [0, 1, 2, 1])
    with pytest.raises(TypeError):
        P.margin("w", 0.0, X4, GATES["AND"])


def test_plot_margins_draws_one_panel_per_line():
    from matplotlib.figure import Figure

    from dlkit.viz import neurons

    X, y = gate_table("AND")
    lines = {"hand-set": P.GATE_WEIGHTS["AND"], "learned": ([2.0, 1.0], -2.0)}
    fig = neurons.plot_margins(X, y, lines, title="AND")
    assert isinstance(fig, Figure) and len(fig.axes) == 2
    titles = [ax.get_title() for ax in fig.axes]
    assert titles == ["hand-set\n$\\omega$ = 0.354", "learned\n$\\omega$ = 0.000"]
    with pytest.raises(ValueError, match="2-input"):
        neurons.plot_margins(P.truth_table_inputs(3), np.zeros(8), lines)


# ------------------------------------------------------------------------- notation


def test_labels_use_the_book_notation():
    from dlkit.viz import neurons

    head = neurons.unit_table(P.gate_unit("AND", "step")).splitlines()[0]
    assert "a = g(z)" in head and "h" not in head
    for f in (P.Neuron.z, P.GateNetwork.forward, P.train_perceptron, P.fit_gate_network):
        doc = f.__doc__
        assert "h =" not in doc and "(a, h)" not in doc, f.__name__
    assert "ŷ" in P.GateNetwork.forward.__doc__
    assert "x_n" in P.train_perceptron.__doc__ and "η" in P.train_perceptron.__doc__
    assert "W^{(2)}" in P.fit_gate_network.__doc__ and "W^{(3)}" in P.fit_gate_network.__doc__
    assert "𝓛" in P.fit_gate_network.__doc__


def test_gate_network_forward_returns_hidden_and_output():
    a, y_hat = P.xnor_network().forward(X4)
    assert a.shape == (4, 2) and y_hat.shape == (4,)
    assert np.max(np.abs(y_hat - GATES["XNOR"])) < 1e-4


# -------------------------------------------------------- checks that keep the answer


def _number_forms(v: float) -> list[str]:
    """The common ways a number is printed: 14, 14.0, 0.5, 0.50, 5.0e-01, 1/2..."""
    forms = {f"{v:g}", repr(v), str(v)}
    for d in range(1, 7):
        forms.add(f"{v:.{d}f}")
        forms.add(f"{v:.{d}e}")
        forms.add(f"{v:.{d}g}")
    if float(v).is_integer():
        forms.add(str(int(v)))
    return sorted(forms)


def _leaks(text: str, v: float) -> list[str]:
    """The printed forms of v that stand alone in text (not digits of a longer number)."""
    found = []
    for form in _number_forms(v):
        if re.search(rf"(?<![\d.]){re.escape(form)}(?![\d])", text):
            found.append(form)
    return found


def test_separable_count_never_prints_the_count(capsys):
    from dlkit.exercises import perceptrons as ex

    answer = len(ex.separable_functions())
    assert answer == 14
    wrong = [0, 1, 2, 6, 8, 10, 12, 13, 15, 16, 17, 20, -1, 13.0, 15.0, 13.5, "many", None]
    for n in wrong:
        assert ex.check_separable_count(n) is False
        out = capsys.readouterr().out
        assert out.startswith("Not yet:"), out
        assert not _leaks(out, answer), (n, out)
        assert "16 - " not in out and "too many" not in out and "too few" not in out


def test_smallest_scale_never_prints_the_scale(capsys):
    from dlkit.exercises import sigmoid_xor as ex

    answer = ex.smallest_scale()
    assert answer == 0.5
    wrong = [0.05, 0.1, 0.2, 0.3, 0.4, 0.45, 0.55, 0.6, 0.75, 0.9, 1.0, 0.0, -0.3, -1, 0.52, 2.0]
    wrong += ["half", None, float("nan")]
    for c in wrong:
        assert ex.check_smallest_scale(c) is False
        out = capsys.readouterr().out
        assert out.startswith("Not yet:"), out
        assert not _leaks(out, answer), (c, out)
        assert "1/2" not in out and "half" not in out.replace("'half'", "")


def test_other_checks_never_print_an_answer(capsys):
    from dlkit.exercises import perceptrons as ex1
    from dlkit.exercises import sigmoid_xor as ex2

    # NOR with small weights (the exercise's answer is b = 0.5 for w = (-1, -1))
    for b in (0.0, -1.0, 1.5, 2.0):
        ex1.check_gate_weights("NOR", [-1, -1], b)
        out = capsys.readouterr().out
        assert out.startswith("Not yet:") and not _leaks(out.split(":", 1)[1], 0.5), out
    # majority: a wrong unit is told where it is wrong, not which weights work
    ex1.check_festival_majority([6, 2, 2], -5)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "1.5" not in out and "[1, 1, 1]" not in out
    # XOR by hand: the wrong network is not told the gates of the right one
    net = P.GateNetwork([P.gate_unit("OR"), P.gate_unit("AND")], P.gate_unit("AND"))
    ex2.check_xor_network(net)
    out = capsys.readouterr().out
    assert out.startswith("Not yet:") and "NAND" not in out


def test_every_verdict_is_one_line(capsys):
    from dlkit.exercises import perceptrons as ex1
    from dlkit.exercises import sigmoid_xor as ex2

    calls = [
        (lambda: ex1.check_separable_count(14), True),
        (lambda: ex1.check_separable_count(9), False),
        (lambda: ex2.check_smallest_scale(0.5), True),
        (lambda: ex2.check_smallest_scale(0.35), False),
        (lambda: ex1.check_gate_weights("NOT", [-1], 0.5), True),
    ]
    for call, want in calls:
        assert call() is want
        out = capsys.readouterr().out
        assert out.count("\n") == 1 and out.startswith("Correct:" if want else "Not yet:")
