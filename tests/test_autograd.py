"""The scalar autograd engine: hand-derived gradients, reuse, repeated backward, drawing."""

import math

import matplotlib
import pytest

from dlkit.autograd import Value, topological_order
from dlkit.viz.autograd import draw_graph

matplotlib.use("Agg")


def test_product_and_sum_by_hand():
    a, b, c = Value(2.0), Value(-3.0), Value(10.0)
    L = a * b + c  # L = ab + c
    L.backward()
    assert L.data == 4.0
    assert (a.grad, b.grad, c.grad) == (-3.0, 2.0, 1.0)


def test_value_used_twice_accumulates():
    x = Value(3.0)
    y = x * x + x  # dy/dx = 2x + 1 = 7
    y.backward()
    assert x.grad == 7.0
    a = Value(-2.0)
    b = a + a  # the same node twice in one operation
    b.backward()
    assert a.grad == 2.0


def test_backward_twice_gives_same_gradients():
    x, w = Value(0.5), Value(-1.5)
    out = (x * w).tanh() * x
    out.backward()
    first = (x.grad, w.grad)
    out.backward()
    assert (x.grad, w.grad) == first


def f(x, w, b):
    z = x * w + b
    return (
        z.sigmoid()
        + z.tanh() * 2
        - z.relu()
        + (z * z).exp() / 3
        + (x**2 + 1).log()
        - 1 / (w + 5)
        + 2
        - z
    )


def f_float(x, w, b):
    z = x * w + b
    s = 1 / (1 + math.exp(-z))
    return (
        s
        + math.tanh(z) * 2
        - max(z, 0)
        + math.exp(z * z) / 3
        + math.log(x**2 + 1)
        - 1 / (w + 5)
        + 2
        - z
    )


@pytest.mark.parametrize("point", [(0.3, -0.7, 0.2), (-1.1, 0.4, 0.9), (0.8, 0.6, -0.1)])
def test_every_operation_against_finite_differences(point):
    vals = [Value(v) for v in point]
    out = f(*vals)
    out.backward()
    assert out.data == pytest.approx(f_float(*point), rel=1e-12)
    h = 1e-6
    for i, v in enumerate(vals):
        up, dn = list(point), list(point)
        up[i] += h
        dn[i] -= h
        num = (f_float(*up) - f_float(*dn)) / (2 * h)
        assert abs(v.grad - num) / max(abs(v.grad) + abs(num), 1e-12) < 1e-7


def test_topological_order_puts_inputs_first():
    a, b = Value(1.0), Value(2.0)
    c = a * b
    d = c + a
    e = d * c
    order = topological_order(e)
    pos = {id(n): i for i, n in enumerate(order)}
    for n in order:
        for child in n._prev:
            assert pos[id(child)] < pos[id(n)]
    assert order[-1] is e and len(order) == 5


def test_deep_graph_does_not_recurse():
    x = Value(1.0)
    y = x
    for _ in range(5000):
        y = y * 1.0 + 0.0
    y.backward()
    assert x.grad == 1.0


def test_relu_and_errors():
    x = Value(-2.0)
    y = x.relu()
    y.backward()
    assert y.data == 0.0 and x.grad == 0.0
    with pytest.raises(ValueError, match="non-positive"):
        Value(0.0).log()
    with pytest.raises(TypeError, match="constant exponent"):
        Value(2.0) ** Value(3.0)


def test_draw_graph_draws_every_node():
    a, b = Value(2.0, label="a"), Value(-3.0, label="b")
    L = a * b + a
    L.label = "L"
    L.backward()
    ax = draw_graph(L)
    texts = [t.get_text() for t in ax.texts]
    assert sum("grad" in t for t in texts) == 4  # a, b, a*b, L
    assert "L = -4\ngrad 1" in texts and "a = 2\ngrad -2" in texts
    assert {"*", "+"} <= set(texts)


def test_layers_and_scalar_engine_agree():
    from dlkit.experiments.backprop import compare_engines

    assert compare_engines((3, 4, 2), batch=2) < 1e-12
    assert compare_engines((2, 5, 5, 3), batch=3, seed=1) < 1e-12


def test_neuron_graph_gradients_by_hand():
    from dlkit.experiments.backprop import neuron_graph

    g = neuron_graph()
    assert g["o"].data == pytest.approx(math.sqrt(0.5), abs=1e-9)
    assert g["z"].grad == pytest.approx(0.5, abs=1e-9)
    assert g["x1"].grad == pytest.approx(-1.5, abs=1e-9)
    assert g["w1"].grad == pytest.approx(1.0, abs=1e-9)


def test_chapter_5_exercise_checks(capsys):
    import numpy as np

    from dlkit.exercises import ch05

    assert ch05.check_chain_rule(-2, 4, 2)
    assert not ch05.check_chain_rule(-6, 4, 2)
    assert ch05.check_softplus_derivative(lambda z: 1 / (1 + np.exp(-z)))
    assert not ch05.check_softplus_derivative(np.tanh)
    assert not ch05.check_softplus_derivative(lambda z: 1 / 0)
    assert ch05.check_activation_bytes(2454528)
    assert not ch05.check_activation_bytes(2454528 // 4)
    assert capsys.readouterr().out.count("Correct:") == 3


def test_gradient_check_table_covers_layers_and_passes():
    from dlkit.experiments.backprop import gradient_check_table

    table, worst = gradient_check_table(seed=0)
    assert worst < 1e-7
    for name in (
        "Linear",
        "Sigmoid",
        "Tanh",
        "ReLU",
        "LeakyReLU",
        "ELU",
        "Softmax",
        "Maxout",
        "Conv2d",
        "MaxPool2d",
        "AvgPool2d",
        "Flatten",
        "Dropout",
        "MSELoss",
        "CrossEntropyLoss",
        "BCELoss",
    ):
        assert f"\n{name}(" in table, name


def test_exp_overflow_says_where_float64_ends():
    from dlkit.autograd import EXP_MAX, ExpOverflowError

    assert EXP_MAX == pytest.approx(709.782712893384, abs=1e-12)
    for catch in (OverflowError, ValueError, ExpOverflowError):
        with pytest.raises(
            catch,
            match=r"Value\(1000\)\.exp\(\) overflows float64: e\^x is "
            r"finite only for x <= 709\.78",
        ):
            Value(1000).exp()
    big = Value(EXP_MAX).exp()
    assert math.isfinite(big.data) and big.data == math.exp(EXP_MAX)
    assert Value(2.0).exp().data == math.exp(2.0)
