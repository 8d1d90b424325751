"""Chapters 1 and 2: perceptrons, the perceptron rule, hand-wired gates and XOR."""

import numpy as np
import pytest

from dlkit import perceptron as P
from dlkit.data import GATES, gate_table, logic_gate
from dlkit.train import accuracy

X4 = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])


def test_step_is_one_only_for_positive_z():
    assert P.step([-2.0, -1e-12, 0.0, 1e-12, 3.0]).tolist() == [0, 0, 0, 1, 1]
    assert P.step(np.zeros((2, 3))).shape == (2, 3)


def test_truth_table_inputs_binary_order():
    np.testing.assert_array_equal(P.truth_table_inputs(2), X4)
    T3 = P.truth_table_inputs(3)
    assert T3.shape == (8, 3)
    assert (T3 @ [4, 2, 1]).tolist() == list(range(8))
    with pytest.raises(ValueError, match="n_inputs"):
        P.truth_table_inputs(0)


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND", "NOR"])
def test_hand_weights_compute_the_gate(gate):
    want = logic_gate(gate, X4[:, 0], X4[:, 1])
    np.testing.assert_array_equal(P.gate_unit(gate, "step")(X4), want)
    # With the sigmoid, weights of +-20 put every output within 5e-5 of 0 or 1.
    h = P.gate_unit(gate, "sigmoid")(X4)
    assert np.max(np.abs(h - want)) < 5e-5
    # every |z| is at least 10: the line passes well clear of the four points
    assert np.min(np.abs(P.gate_unit(gate).z(X4))) == 10.0


def test_hand_weights_are_the_chapter_formulas():
    assert P.gate_unit("AND").formula() == "g(-30 + 20 x1 + 20 x2)"
    assert P.gate_unit("OR").formula() == "g(-10 + 20 x1 + 20 x2)"
    assert P.gate_unit("NOT").formula() == "g(10 - 20 x1)"
    assert P.gate_unit("NAND").formula() == "g(30 - 20 x1 - 20 x2)"


def test_not_gate_one_input():
    u = P.gate_unit("NOT", "step")
    assert u(np.array([0.0, 1.0])).tolist() == [1, 0]
    assert np.max(np.abs(P.gate_unit("NOT")(np.array([[0.0], [1.0]])) - [1, 0])) < 5e-5


def test_small_weights_give_soft_outputs():
    # AND as g(-3 + 2 x1 + 2 x2): the same line, but g(1) = 0.731, not ~1.
    u = P.gate_unit("AND", scale=0.1)
    np.testing.assert_allclose(u.w, [2.0, 2.0])
    assert u.b == pytest.approx(-3.0)
    h = u(X4)
    assert h[3] == pytest.approx(1 / (1 + np.exp(-1.0)), rel=1e-12)
    assert round(float(h[3]), 2) == 0.73
    assert h[0] == pytest.approx(1 / (1 + np.exp(3.0)), rel=1e-12)
    # the step version of the scaled unit still computes AND: scaling does not move the line
    np.testing.assert_array_equal(u.with_activation("step")(X4), GATES["AND"])


def test_festival_decision_weather_dominates():
    # Nielsen's weights: weather 6, partner 2, transit 2, threshold 5.
    u = P.Neuron([6, 2, 2], -5, "step")
    X = P.truth_table_inputs(3)
    np.testing.assert_array_equal(u(X), X[:, 0].astype(int))
    # threshold 3: good weather, or partner and transit together
    u3 = P.Neuron([6, 2, 2], -3, "step")
    want = ((X[:, 0] == 1) | ((X[:, 1] == 1) & (X[:, 2] == 1))).astype(int)
    np.testing.assert_array_equal(u3(X), want)


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND", "NOR"])
def test_perceptron_rule_converges_on_separable_gates(gate):
    X, y = gate_table(gate)
    r = P.train_perceptron(X, y, max_epochs=100)
    assert r.converged
    assert r.errors[-1] == 0 and all(e > 0 for e in r.errors[:-1])
    assert r.epochs == len(r.errors) <= 10
    np.testing.assert_array_equal(r.unit(X), y)
    # replaying the recorded updates from zero gives the final weights
    w, b = np.zeros(2), 0.0
    for u in r.updates:
        w = w + (u.y - u.y_hat) * np.array(u.x)
        b = b + (u.y - u.y_hat)
        assert np.allclose(w, u.w) and b == pytest.approx(u.b)
    np.testing.assert_allclose(w, r.w)
    assert sum(r.mistakes) == len(r.updates)


def test_perceptron_rule_and_or_exact_runs():
    # Examples in truth-table order, w0 = 0, b0 = 0, lr = 1 (the chapter's run).
    r_and = P.train_perceptron(*gate_table("AND"))
    r_or = P.train_perceptron(*gate_table("OR"))
    assert (r_and.epochs, r_or.epochs) == (5, 3)
    assert r_and.w.tolist() == [2.0, 1.0] and r_and.b == -2.0
    assert r_or.w.tolist() == [1.0, 1.0] and r_or.b == 0.0


def test_learning_rate_only_scales_weights_from_zero():
    X, y = gate_table("AND")
    r1 = P.train_perceptron(X, y, lr=1.0)
    r2 = P.train_perceptron(X, y, lr=0.25)
    assert r1.epochs == r2.epochs
    np.testing.assert_allclose(r2.w, 0.25 * r1.w)


@pytest.mark.parametrize("gate", ["XOR", "XNOR"])
def test_perceptron_rule_never_converges_on_xor(gate):
    X, y = gate_table(gate)
    r = P.train_perceptron(X, y, max_epochs=200)
    assert not r.converged
    assert r.epochs == 200
    assert min(r.errors) >= 1  # no line gets all four right
    assert min(r.mistakes) >= 1  # every epoch makes updates
    assert r.cycle is not None
    start, period = r.cycle
    # the end-of-epoch weights really repeat: replay to the two epochs and compare
    ends = {}
    for u in r.updates:
        ends[u.epoch] = (u.w, u.b)
    assert ends[start] == ends[start + period]
    assert "cycle forever" in r.summary() and "not converged" in r.summary()


def test_xor_shuffled_does_not_converge_either():
    X, y = gate_table("XOR")
    r = P.train_perceptron(X, y, max_epochs=100, shuffle=True, seed=3)
    assert not r.converged and min(r.errors) >= 1


def test_linear_separability_by_linear_program():
    for gate in ["AND", "OR", "NAND", "NOR"]:
        assert P.linearly_separable(*gate_table(gate))
    for gate in ["XOR", "XNOR"]:
        assert not P.linearly_separable(*gate_table(gate))
    # 14 of the 16 two-input Boolean functions are separable
    from dlkit.exercises.ch01 import separable_functions

    tables = separable_functions()
    assert len(tables) == 14
    assert GATES["XOR"] not in tables and GATES["XNOR"] not in tables


def test_xnor_network_table():
    net = P.xnor_network()
    a, h = net.forward(X4)
    np.testing.assert_array_equal(np.round(a[:, 0]), logic_gate("AND", X4[:, 0], X4[:, 1]))
    np.testing.assert_array_equal(np.round(a[:, 1]), logic_gate("NOR", X4[:, 0], X4[:, 1]))
    assert np.max(np.abs(h - GATES["XNOR"])) < 1e-4
    a_s, h_s = P.xnor_network("step").forward(X4)
    np.testing.assert_array_equal(h_s, GATES["XNOR"])
    np.testing.assert_array_equal(P.xor_network("step")(X4), GATES["XOR"])
    assert np.max(np.abs(P.xor_network()(X4) - GATES["XOR"])) < 1e-4
    # the hidden layer makes XNOR linearly separable
    assert P.linearly_separable(a_s, np.array(GATES["XNOR"]))


def test_xnor_network_softens_when_scaled_down():
    y = np.array(GATES["XNOR"])
    errs = [np.max(np.abs(P.xnor_network(scale=c)(X4) - y)) for c in (0.1, 0.3, 0.5, 1.0)]
    assert errs == sorted(errs, reverse=True)
    assert errs[0] > 0.5 and errs[-1] < 1e-4  # at c = 0.1 one row is even misclassified


def test_gate_network_validates_sizes():
    with pytest.raises(ValueError, match="must match"):
        P.GateNetwork([P.gate_unit("AND")], P.gate_unit("OR"))


def test_fit_gate_network_solves_xor():
    model, hist = P.fit_gate_network(
        "XOR", hidden=2, activation="tanh", lr=0.5, epochs=1000, seed=1
    )
    X, y = gate_table("XOR")
    assert hist.accuracy[-1] == 1.0
    assert accuracy(model.forward(X), y) == 1.0
    assert hist.loss[-1] < hist.loss[0] / 10
    # hidden activations: the four points became linearly separable
    A = model[:2].forward(X)
    assert A.shape == (4, 2)
    assert not P.linearly_separable(X, y) and P.linearly_separable(A, y)


def test_fit_gate_network_is_reproducible():
    m1, h1 = P.fit_gate_network("XNOR", epochs=50, seed=2)
    m2, h2 = P.fit_gate_network("XNOR", epochs=50, seed=2)
    assert h1.loss == h2.loss
    for k, v in m1.state_dict().items():
        np.testing.assert_array_equal(v, m2.state_dict()[k])


def test_clear_errors():
    with pytest.raises(ValueError, match="unknown activation 'relu'"):
        P.Neuron([1, 1], 0, "relu")
    with pytest.raises(ValueError, match=r"shape \(N, 2\)"):
        P.gate_unit("AND")(np.zeros((4, 3)))
    with pytest.raises(ValueError, match="XOR and XNOR need two layers"):
        P.gate_unit("XOR")
    with pytest.raises(ValueError, match="0 or 1"):
        P.train_perceptron(X4, np.array([0, 1, 2, 1]))
    with pytest.raises(ValueError, match="shape"):
        P.train_perceptron(X4, np.array([0, 1, 1]))
    with pytest.raises(ValueError, match="learning rate"):
        P.train_perceptron(X4, np.array([0, 1, 1, 1]), lr=0.0)
    with pytest.raises(ValueError, match="non-finite"):
        P.gate_unit("OR")(np.array([[np.nan, 0.0]]))


def test_exercise_checks(capsys):
    from dlkit.exercises import ch01, ch02

    assert ch01.check_gate_weights("NAND", [-20, -20], 30) is True
    assert ch01.check_gate_weights("NAND", [20, 20], -30) is False
    assert ch01.check_gate_weights("NOT", [-20], 10) is True
    assert ch01.check_gate_weights("NOT", [1, 1], 0) is False
    assert ch01.check_gate_weights("nonsense", [1, 1], 0) is False
    assert ch01.check_festival_majority([2, 2, 2], -3) is True
    assert ch01.check_festival_majority([6, 2, 2], -5) is False
    assert ch01.check_festival_majority([1, 1], 0) is False
    assert ch01.check_separable_count(14) is True
    assert ch01.check_separable_count(16) is False
    assert ch01.check_separable_count("many") is False
    assert ch02.check_xor_network(P.xor_network()) is True
    assert ch02.check_xor_network(P.xnor_network()) is False
    assert ch02.check_xor_network("net") is False
    assert ch02.smallest_scale() == 0.5
    assert ch02.check_smallest_scale(0.5) is True
    assert ch02.check_smallest_scale(0.3) is False
    assert ch02.check_smallest_scale(0.9) is False
    assert ch02.check_trained_xnor(None) is False
    stuck, _ = P.fit_gate_network("XNOR", epochs=300, seed=0)  # a seed that gets stuck
    assert ch02.check_trained_xnor(stuck) is False
    solved, _ = P.fit_gate_network("XNOR", epochs=300, seed=2)
    assert ch02.check_trained_xnor(solved) is True
    out = capsys.readouterr().out
    assert out.count("Correct:") == 7 and out.count("Not yet:") == 13


def test_chapter_exercise_solutions_are_correct(capsys):
    # the answers given in the solution dropdowns of chapters 1 and 2
    from dlkit.exercises import ch01, ch02

    assert ch01.check_gate_weights("NOT", w=[-1], b=0.5)
    assert ch01.check_gate_weights("NOR", w=[-1, -1], b=0.5)
    assert ch01.check_festival_majority(w=[1, 1, 1], b=-1.5)
    assert ch02.check_xor_network(
        P.GateNetwork([P.gate_unit("OR"), P.gate_unit("NAND")], P.gate_unit("AND"))
    )
    for hidden, seed in [(2, 2), (3, 1)]:
        model, _ = P.fit_gate_network("XNOR", hidden=hidden, epochs=300, seed=seed)
        assert ch02.check_trained_xnor(model)
    assert "Not yet" not in capsys.readouterr().out


def test_viz_tables_and_figures():
    from matplotlib.figure import Figure

    from dlkit.viz import neurons

    text = neurons.unit_table(P.gate_unit("AND", "step"), "AND")
    assert text.splitlines()[0].split() == ["x1", "x2", "z", "a", "=", "g(z)", "AND"]
    assert text.splitlines()[-1].split() == ["1", "1", "10", "1", "1"]
    soft = neurons.unit_table(P.gate_unit("AND", scale=0.1))
    assert soft.splitlines()[-1].split()[-1] == "0.7311"
    figs = [
        neurons.plot_gate_units([P.gate_unit("AND", "step")], ["AND"]),
        neurons.plot_perceptron_errors(
            {"XOR": P.train_perceptron(*gate_table("XOR"), max_epochs=5)}
        ),
        neurons.plot_step_vs_sigmoid(),
        neurons.plot_hidden_space(X4, X4, np.array(GATES["AND"]), [1.0, 1.0], [-1.5]),
    ]
    assert all(isinstance(f, Figure) for f in figs)
    assert neurons.png(figs[0])[:8] == b"\x89PNG\r\n\x1a\n"


def test_explorers_build_and_react():
    pytest.importorskip("ipywidgets")
    from dlkit.viz import neurons

    def text(box):
        return box.children[1].outputs[0]["text"]

    box = neurons.decision_line_explorer(20, 20, -10, "OR")
    assert "4 of 4 rows match OR" in text(box)
    sliders = box.children[0].children[0].children
    sliders[2].value = -30.0  # the line moves: AND's line misses OR at (0,1) and (1,0)
    assert "2 of 4 rows match OR" in text(box)
    assert box.children[1].outputs[1]["data"]["image/png"]  # the figure is in the state
    assert len(sliders[0].options) * len(sliders[1].options) * len(sliders[2].options) == 2 * 2 * 4
    soft = neurons.decision_line_explorer(2, 2, -3, "AND", activation="sigmoid", presets=True)
    assert "w1 = 20, w2 = 20, b = -30" in text(soft)  # AND's hand weights at c = 1
    (scale,) = soft.children[0].children[0].children
    scale.value = 0.1  # AND's weights / 10: the same line, soft outputs
    assert "w1 = 2, w2 = 2, b = -3" in text(soft) and "largest |a - AND| = 0.2689" in text(soft)
    target, g = soft.children[0].children[1].children
    target.value = "NAND"  # NAND's hand weights, still at c = 0.1
    assert "w1 = -2, w2 = -2, b = 3" in text(soft)
    scale.value = 1.0
    assert "4 of 4 rows match NAND; every h is within 4.5e-05 of NAND" in text(soft)
    g.value = "step"
    assert "4 of 4 rows match NAND" in text(soft) and "within" not in text(soft)
    target.value = "XOR"  # no hand weights: c times the initial (2, 2, -3)
    assert "w1 = 2, w2 = 2, b = -3" in text(soft) and "1 of 4 rows match XOR" in text(soft)
    net = neurons.network_explorer("OR", "NAND", "AND")
    assert "ŷ computes XOR" in text(net)
    net.children[0].children[0].children[2].value = "OR"  # OR of OR and NAND is always 1
    assert "ŷ computes no named gate" in text(net)
    with pytest.raises(ValueError, match="target"):
        neurons.decision_line_explorer(target="NOT")
