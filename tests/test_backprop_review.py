"""Chapter 5 (backpropagation): BP1-BP4, the flop count of the backward pass, the
measured peak memory of a step, the bound of BP2, the finite-difference step's name,
and exercise checks that never print their answer."""

import re

import numpy as np
import pytest

from dlkit import nn
from dlkit.experiments import backprop as xb
from dlkit.train import Memory, training_memory


# -- BP1-BP4 --------------------------------------------------------------------------


@pytest.mark.parametrize("activation", ["sigmoid", "tanh"])
@pytest.mark.parametrize("seed", [0, 1, 2])
def test_bp1_to_bp4_equal_dlkit_layers_and_finite_differences(activation, seed):
    vs_layers, vs_differences = xb.check_backprop_equations(activation, seed=seed)
    assert vs_layers < 1e-12
    assert vs_differences < 1e-7


def test_bp1_to_bp4_by_hand_on_one_layer():
    """L = 2: δ^(2) = (A^(2) − Y)/N ⊙ g'(Z^(2)) (BP1), then BP3 and BP4 directly."""
    g = np.random.default_rng(0)
    W, b = {2: g.standard_normal((3, 4))}, {2: g.standard_normal(3)}
    X, Y = g.standard_normal((5, 4)), g.random((5, 3))
    dW, db = xb.backprop_equations(W, b, X, Y, nn.sigmoid, nn.sigmoid_prime)
    Z = X @ W[2].T + b[2]
    delta = (nn.sigmoid(Z) - Y) / 5 * nn.sigmoid_prime(Z)
    np.testing.assert_allclose(dW[2], delta.T @ X, rtol=1e-14)
    np.testing.assert_allclose(db[2], delta.sum(axis=0), rtol=1e-14)


def test_check_backprop_equations_names_a_bad_activation():
    with pytest.raises(ValueError, match="activation must be one of"):
        xb.check_backprop_equations("relu6")


def test_layer_table_speaks_the_notation():
    table = xb.layer_gradients(sizes=(4, 5, 3), activation="relu", batch=2)
    for text in ("δ^(2) (2, 5)", "δ^(3) (2, 3)", "∂𝓛/∂W^(2) (5, 4)", "∂𝓛/∂b^(3) (3,)"):
        assert text in table, text
    assert "Z^(2) from A^(1) (2, 4)" in table and "∂𝓛/∂A^(1) (2, 4)" in table


# -- the flops of the backward pass -----------------------------------------------------


def test_backward_costs_twice_the_forward_flops_as_the_parallel_cost_models_charge():
    from dlkit.parallel.data_parallel import step_flops

    net = nn.mlp([784, 1000, 1000, 10], "relu", dtype=np.float32)
    rows = xb.pass_flops(net, batch=3)
    forward = sum(r[1] for r in rows)
    backward = sum(r[2] + r[3] for r in rows)
    assert forward == 2 * 3 * (784 * 1000 + 1000 * 1000 + 1000 * 10)
    assert backward == 2 * forward
    weights = [p for p in net.parameters() if p.name == "W"]
    assert forward + backward == step_flops(weights, 3)
    net[0].input_grad = False
    rows = xb.pass_flops(net, batch=3)
    assert rows[0][3] == 0 and sum(r[2] + r[3] for r in rows) == backward - 2 * 3 * 784 * 1000


def test_flops_table_prints_totals_and_ratio():
    from dlkit.viz import backprop as vb

    text = vb.flops_table(xb.pass_flops(nn.mlp([784, 1000, 1000, 10]), batch=1))
    assert "3,588,000" in text and "7,176,000" in text
    assert text.endswith("backward / forward = 2.00")


def test_pass_flops_needs_a_linear_layer():
    with pytest.raises(ValueError, match="no Linear layer"):
        xb.pass_flops(nn.Sequential(nn.ReLU()))


# -- memory: the sum, the closed form of D and the measured peak ---------------------------


@pytest.mark.parametrize("N", [16, 64, 256])
def test_peak_is_below_the_sum_and_above_what_lives_throughout(N):
    net = nn.mlp([784, 1000, 1000, 10], "relu", seed=0, dtype=np.float32)
    X = np.random.default_rng(0).standard_normal((N, 784)).astype(np.float32)
    m = training_memory(net, X, np.zeros(N, np.int64), nn.CrossEntropyLoss())
    # D follows its closed form: X, then Z and A of both hidden layers, then the output
    assert m.D == 4 * N * (784 + 2 * 1000 + 2 * 1000 + 10)
    assert m.dD == m.D and m.W == m.dW
    largest = 4 * N * 1000  # the largest single activation
    assert m.W + m.dW + largest < m.W + m.dW + m.D < m.peak < m.total
    # the peak is W + ∇W + D + the ReLU masks (1 byte per entry) + two live gradients
    parts = m.W + m.dW + m.D + 2 * N * 1000 + 2 * largest
    assert abs(m.peak - parts) < 0.01 * m.peak


def test_memory_keeps_its_old_fields_and_peak_is_optional():
    old = Memory(1, 2, 3, 4)
    assert (old.D, old.W, old.dD, old.dW, old.total, old.peak) == (1, 2, 3, 4, 10, None)
    assert "peak" not in repr(old) and "total=" in repr(old)
    net = nn.mlp([8, 4, 2], "relu", seed=0)
    X, y = np.ones((3, 8)), np.zeros(3, np.int64)
    m = training_memory(net, X, y, nn.CrossEntropyLoss(), peak=False)
    assert m.peak is None and m.total == m.D + m.W + m.dD + m.dW
    assert "peak=" in repr(training_memory(net, X, y, nn.CrossEntropyLoss()))


def test_training_memory_leaves_tracemalloc_as_it_found_it():
    import tracemalloc

    net = nn.mlp([8, 4, 2], "relu", seed=0)
    X, y = np.ones((3, 8)), np.zeros(3, np.int64)
    assert not tracemalloc.is_tracing()
    training_memory(net, X, y, nn.CrossEntropyLoss())
    assert not tracemalloc.is_tracing()
    tracemalloc.start()
    try:
        m = training_memory(net, X, y, nn.CrossEntropyLoss())
        assert tracemalloc.is_tracing() and m.peak > m.W + m.dW
    finally:
        tracemalloc.stop()
    with pytest.raises(ValueError):
        training_memory(net, np.ones((3, 5)), y, nn.CrossEntropyLoss())
    assert not tracemalloc.is_tracing()


def test_training_memory_of_a_first_layer_without_input_gradient():
    net = nn.Sequential(nn.Linear(8, 4, input_grad=False), nn.ReLU(), nn.Linear(4, 2))
    m = training_memory(net, np.ones((3, 8)), np.zeros(3, np.int64), nn.CrossEntropyLoss())
    assert m.dD == 8 * 3 * (2 + 4 + 4)  # no ∂𝓛/∂X


# -- vanishing gradients: the bound of BP2 -----------------------------------------------


def test_sigmoid_layers_shrink_delta_by_at_most_the_operator_norm_over_four():
    delta, W_norm = xb.delta_norms("sigmoid", depth=8, init="xavier")
    assert len(delta) == len(W_norm) == 9
    shrink = delta[:-1] / delta[1:]
    assert np.all(shrink <= W_norm[1:] / 4)
    assert np.all(shrink < 0.5)  # every layer at least halves it here


def test_tanh_with_xavier_keeps_the_gradient():
    v = xb.layer_gradient_norms("tanh", depth=8, init="xavier")
    assert 0.1 < v[-1] / v[0] < 10


# -- the finite-difference step is eps (h still works) -------------------------------------


def test_eps_is_the_step_and_h_its_old_name():
    x = np.array([1.0, -2.0])

    def f():
        return float(np.sum(x**3))

    for kw in ({}, {"eps": 1e-5}, {"h": 1e-5}):
        np.testing.assert_allclose(nn.numerical_gradient(f, x, **kw), [3.0, 12.0], rtol=1e-8)
    np.testing.assert_allclose(nn.numerical_gradient(f, x, 1e-5), [3.0, 12.0], rtol=1e-8)
    layer = nn.Linear(4, 3, seed=0)
    X = np.random.default_rng(0).standard_normal((2, 4))
    assert nn.check_layer(layer, X, eps=1e-5).max_error < 1e-7
    assert nn.check_layer(layer, X, h=1e-5).max_error < 1e-7
    assert nn.check_loss(nn.MSELoss(), X, np.zeros((2, 4)), eps=1e-5) < 1e-7
    with pytest.raises(TypeError, match="pass the step once, as eps"):
        nn.check_layer(layer, X, eps=1e-5, h=1e-4)
    with pytest.raises(ValueError, match=r"eps must lie in \(0, inf\)"):
        nn.numerical_gradient(f, x, eps=0.0)
    with pytest.raises(ValueError, match=r"h must lie in \(0, inf\)"):
        nn.check_layer(layer, X, h=-1.0)


# -- the docstrings that the chapter shows speak the notation ------------------------------


def test_shown_docstrings_use_the_notation():
    from dlkit import autograd, train

    for fn in (nn.Linear.backward, nn.check_layer, train.training_memory):
        assert "∂L/" not in fn.__doc__, fn
    assert "δ^(j)" in nn.Linear.backward.__doc__ and "A^(j-1)" in nn.Linear.backward.__doc__
    assert "ε" in nn.check_layer.__doc__ and "𝓛" in nn.check_layer.__doc__
    assert "𝓛" in autograd.Value.__mul__.__doc__ and "𝓛" in autograd.Value.backward.__doc__
    assert "𝓛" in autograd.topological_order.__doc__
    assert "micrograd" in autograd.__doc__ and "micrograd" in xb.neuron_graph.__doc__


def test_neuron_of_micrograd():
    g = xb.neuron_graph()
    assert g["b"].data == 6.8813735870
    assert g["o"].data == pytest.approx(2**-0.5, abs=1e-9)
    assert g["z"].grad == pytest.approx(0.5, abs=1e-9)


# -- exercise checks never print the expected value ----------------------------------------


def _numbers(out: str) -> set[float]:
    """Every number written in `out` (with a sign, a decimal point or an exponent)."""
    found = re.findall(r"[-−]?\d[\d,]*(?:\.\d+)?(?:e[-+]?\d+)?", out)
    return {float(s.replace("−", "-").replace(",", "")) for s in found}


def _forms(value: float) -> list[str]:
    """Common ways of writing `value`: the integer, with thousands commas, and rounded
    floats with 2 to 6 digits."""
    forms = []
    if float(value).is_integer():
        forms += [str(int(value)), f"{int(value):,}"]
    for d in range(2, 7):
        forms += [f"{value:.{d}f}", f"{value:.{d}g}", f"{value:.{d - 1}e}"]
    return [f for f in forms if f not in ("0.00", "-0.00")]


def _verdict(capsys, check, *args) -> str:
    ok = check(*args)
    out = capsys.readouterr().out
    assert ok is False and out.startswith("Not yet: ") and out.count("\n") == 1, out
    return out


def test_chain_rule_check_never_prints_the_derivatives(capsys):
    from dlkit.exercises import backprop as ex

    for wrong in [
        (0, 0, 0),
        (-6, 4, 2),
        (4, 4, 2),
        (-2, 4, 3),
        (-2, 0, 2),
        (1, 2, 3),
        (None, 1, 1),
    ]:
        out = _verdict(capsys, ex.check_chain_rule, *wrong)
        shown = _numbers(out)
        for value in (-2.0, 4.0, 2.0):
            assert value not in shown, (wrong, out)


def test_activation_bytes_check_never_prints_the_bytes(capsys):
    from dlkit.exercises import backprop as ex

    want = 128 * 4 * 4794
    for wrong in [want // 4, 1, 128 * 4 * 2794, want + 1, want - 512, 0, -5, "abc", 2.5]:
        out = _verdict(capsys, ex.check_activation_bytes, wrong)
        for form in _forms(want) + _forms(want / 2**20) + ["4794", "4,794"]:
            assert form not in out, (wrong, form, out)
        assert want not in _numbers(out) and 4794 not in _numbers(out)


def test_softplus_check_tests_accuracy_and_never_prints_the_sigmoid(capsys):
    from dlkit.exercises import backprop as ex

    s30 = 1 / (1 + np.exp(30.0))  # σ(−30), the smallest expected value
    for wrong in [
        lambda z: 0.5 * (1 + np.tanh(z / 2)),  # finite, inaccurate at z = −30
        lambda z: 1 - 1 / (1 + np.exp(z)),  # finite, inaccurate at z = −30
        np.tanh,
        lambda z: np.exp(z),
        lambda z: z,
    ]:
        out = _verdict(capsys, ex.check_softplus_derivative, wrong)
        for form in _forms(s30):
            assert form not in out, (form, out)
        assert "0.5" not in out
    out = _verdict(capsys, ex.check_softplus_derivative, lambda z: 0.5 * (1 + np.tanh(z / 2)))
    assert "accurate" in out and "z = -30" in out  # the hint says what is tested, and where
    assert ex.check_softplus_derivative(nn.sigmoid)
    assert "Correct: accurate" in capsys.readouterr().out
