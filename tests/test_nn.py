"""dlkit.nn: every layer's gradient against finite differences, losses, activations,
initialisers, Sequential checkpoints, input errors; dlkit.show_source; dlkit.backend."""

import numpy as np
import pytest

import dlkit
from dlkit import backend, nn
from dlkit.nn import gradcheck, init

TOL = 1e-7  # relative error bar for analytic vs numerical gradients in float64


def away_from_zero(shape, seed=0, low=0.1, high=2.0):
    """Random inputs with |x| in [low, high]: no kinks of ReLU-like functions nearby."""
    g = np.random.default_rng(seed)
    return g.uniform(low, high, size=shape) * g.choice([-1.0, 1.0], size=shape)


# ---------------------------------------------------------------- gradient checks


LAYERS = {
    "Linear": lambda: nn.Linear(4, 3, seed=0),
    "Linear-nobias": lambda: nn.Linear(4, 3, bias=False, seed=1),
    "Sigmoid": nn.Sigmoid,
    "Tanh": nn.Tanh,
    "ReLU": nn.ReLU,
    "LeakyReLU": nn.LeakyReLU,
    "LeakyReLU(0.3)": lambda: nn.LeakyReLU(0.3),
    "ELU": nn.ELU,
    "ELU(0.5)": lambda: nn.ELU(0.5),
    "Identity": nn.Identity,
    "Softmax": nn.Softmax,
    "Maxout": lambda: nn.Maxout(4, 3, k=3, seed=0),
}


@pytest.mark.parametrize("name", list(LAYERS))
def test_layer_gradients_match_finite_differences(name):
    layer = LAYERS[name]()
    x = away_from_zero((5, 4), seed=1)
    res = nn.check_layer(layer, x, seed=2)
    expected = {"x"} | {p.name for p in layer.parameters()}
    assert set(res.errors) == expected
    assert res.max_error < TOL, res
    assert "dx:" in repr(res)


def test_gradcheck_catches_a_wrong_backward():
    class Broken(nn.Tanh):
        def backward(self, dout):
            return dout * (1 - self._a)  # forgot the square

    assert nn.check_layer(Broken(), away_from_zero((3, 2))).max_error > 1e-2


def test_maxout_gradient_flows_to_the_winning_piece_only():
    layer = nn.Maxout(2, 1, k=2, seed=0)
    x = away_from_zero((6, 2), seed=3)
    layer.forward(x)
    layer.backward(np.ones((6, 1)))
    winners = np.bincount(layer._arg[:, 0], minlength=2)
    np.testing.assert_allclose(layer.b.grad[0], winners)


def test_sequential_network_gradient():
    # Every parameter of a whole network (through a loss), by finite differences.
    net = nn.mlp([3, 5, 4, 2], "tanh", seed=0)
    X = away_from_zero((6, 3), seed=4)
    R = np.random.default_rng(5).standard_normal((6, 2))
    loss = nn.MSELoss()

    def L() -> float:
        return loss.forward(net.forward(X), R)

    L()
    dX = net.backward(loss.backward())
    # h = 1e-5 balances truncation (h^2) and rounding (eps / h) errors for a deep composition
    assert nn.rel_error(dX, nn.numerical_gradient(L, X, h=1e-5)) < TOL
    for name, p in net.named_parameters():
        assert nn.rel_error(p.grad, nn.numerical_gradient(L, p.data, h=1e-5)) < TOL, name


def test_backward_sets_gradients_instead_of_accumulating():
    lin = nn.Linear(3, 2, seed=0)
    x = away_from_zero((4, 3))
    lin.forward(x)
    lin.backward(np.ones((4, 2)))
    first = lin.W.grad.copy()
    lin.forward(x)
    lin.backward(np.ones((4, 2)))
    np.testing.assert_array_equal(lin.W.grad, first)


def test_linear_forward_is_xwt_plus_b():
    lin = nn.Linear(3, 2, seed=0)
    lin.b.data[...] = [0.5, -1.0]
    x = away_from_zero((4, 3))
    np.testing.assert_allclose(lin(x), x @ lin.W.data.T + lin.b.data, rtol=1e-15)
    assert lin.W.shape == (2, 3) and lin.n_params == 8


# ---------------------------------------------------------------- losses


def test_loss_gradients():
    g = np.random.default_rng(0)
    pred = g.standard_normal((5, 3))
    assert gradcheck.check_loss(nn.MSELoss(), pred, g.standard_normal((5, 3))) < TOL
    labels = np.array([0, 2, 1, 1, 0])
    assert gradcheck.check_loss(nn.CrossEntropyLoss(), pred, labels) < TOL
    assert gradcheck.check_loss(nn.CrossEntropyLoss(), pred, nn.one_hot(labels, 3)) < TOL
    prob = g.uniform(0.1, 0.9, (5, 1))
    assert gradcheck.check_loss(nn.BCELoss(), prob, np.array([0, 1, 1, 0, 1])) < TOL


def test_loss_values_are_the_formulas():
    pred = np.array([[1.0, 2.0], [0.0, -1.0]])
    target = np.array([[0.0, 2.0], [1.0, 1.0]])
    # (1/N) sum 1/2 ||y^ - y||^2 = (1/2) * 1/2 * (1 + 0 + 1 + 4)
    assert nn.MSELoss()(pred, target) == pytest.approx(1.5, rel=1e-15)
    assert nn.MSELoss()(np.array([[1.0], [3.0]]), np.array([0.0, 1.0])) == pytest.approx(1.25)
    z = np.array([[2.0, 1.0, 0.1], [0.0, 0.0, 0.0]])
    y = np.array([0, 2])
    want = -(np.log(np.exp(2) / np.exp([2, 1, 0.1]).sum()) + np.log(1 / 3)) / 2
    assert nn.CrossEntropyLoss()(z, y) == pytest.approx(want, rel=1e-12)
    p, t = np.array([[0.9], [0.2]]), np.array([1, 0])
    assert nn.BCELoss()(p, t) == pytest.approx(-(np.log(0.9) + np.log(0.8)) / 2, rel=1e-12)
    ce = nn.CrossEntropyLoss()
    ce.forward(z, y)
    np.testing.assert_allclose(ce.backward(), (nn.softmax(z) - nn.one_hot(y, 3)) / 2)


def test_softmax_is_stable_and_normalised():
    z = np.array([[1000.0, 1001.0, 999.0], [-1000.0, -1000.0, -1000.0]])
    with np.errstate(all="raise"):
        p = nn.softmax(z)
        lp = nn.log_softmax(z)
    np.testing.assert_allclose(p.sum(axis=1), 1.0, rtol=1e-15)
    np.testing.assert_allclose(p[1], 1 / 3)
    np.testing.assert_allclose(np.exp(lp), p, rtol=1e-12)
    layer = nn.Softmax()
    np.testing.assert_allclose(layer(z), p)


def test_get_loss_by_name():
    assert isinstance(nn.get_loss("MSE"), nn.MSELoss)
    assert isinstance(nn.get_loss("ce"), nn.CrossEntropyLoss)
    with pytest.raises(ValueError, match="unknown loss 'hinge'"):
        nn.get_loss("hinge")


# ---------------------------------------------------------------- activation functions


@pytest.mark.parametrize("name", sorted(nn.ACTIVATIONS))
def test_activation_derivative_matches_finite_differences(name):
    g, gprime = nn.ACTIVATIONS[name]
    z = away_from_zero(200, seed=5, high=4.0)
    h = 1e-6
    numeric = (g(z + h) - g(z - h)) / (2 * h)
    assert nn.rel_error(gprime(z), numeric) < TOL


def test_activation_values():
    z = np.array([-2.0, 0.0, 3.0])
    np.testing.assert_allclose(nn.sigmoid(z), 1 / (1 + np.exp(-z)), rtol=1e-15)
    np.testing.assert_allclose(nn.tanh(z), np.tanh(z))
    assert nn.relu(z).tolist() == [0.0, 0.0, 3.0]
    np.testing.assert_allclose(nn.leaky_relu(z), [-0.2, 0.0, 3.0])
    np.testing.assert_allclose(nn.elu(z), [np.expm1(-2.0), 0.0, 3.0])
    assert nn.identity(z).tolist() == z.tolist()
    assert nn.sigmoid_prime(0.0) == 0.25 and nn.tanh_prime(0.0) == 1.0
    # the sigmoid neither overflows nor loses its tails
    with np.errstate(over="raise", invalid="raise"):
        s = nn.sigmoid(np.array([-800.0, 800.0]))
    assert s[0] == 0.0 and s[1] == 1.0
    assert nn.sigmoid(np.array([-30.0]))[0] == pytest.approx(np.exp(-30.0), rel=1e-12)
    assert nn.sigmoid(np.float32(1.0)).dtype == np.float32


def test_get_activation_names_and_aliases():
    assert isinstance(nn.get_activation("sigmoid"), nn.Sigmoid)
    assert isinstance(nn.get_activation(" Logistic "), nn.Sigmoid)
    assert isinstance(nn.get_activation("leaky-relu"), nn.LeakyReLU)
    assert isinstance(nn.get_activation("linear"), nn.Identity)
    with pytest.raises(ValueError, match="unknown activation 'swish'.*sigmoid"):
        nn.get_activation("swish")
    with pytest.raises(ValueError, match="Maxout"):
        nn.get_activation("maxout")
    with pytest.raises(TypeError, match="string"):
        nn.get_activation(3)


# ---------------------------------------------------------------- initialisers


@pytest.mark.parametrize(
    "name, var",
    [
        ("xavier", 2.0 / (400 + 300)),
        ("he", 2.0 / 400),
        ("lecun", 1.0 / 400),
        ("normal", 1e-4),
    ],
)
def test_init_variance(name, var):
    W = init.get(name)((300, 400), np.random.default_rng(0))
    assert W.shape == (300, 400) and W.dtype == np.float64
    assert abs(W.mean()) < 0.02 * np.sqrt(var) * 10
    assert W.var() == pytest.approx(var, rel=0.02)


def test_init_details():
    g = np.random.default_rng(0)
    a = np.sqrt(6.0 / (50 + 20))
    W = init.xavier((20, 50), g)
    assert -a <= W.min() and W.max() <= a and W.max() > 0.95 * a
    assert init.fans((6, 3, 5, 5)) == (75, 150)
    assert not init.zeros((2, 3)).any()
    assert init.he((4, 4), np.random.default_rng(1), np.float32).dtype == np.float32
    np.testing.assert_array_equal(
        init.he((3, 3), np.random.default_rng(7)), init.he((3, 3), np.random.default_rng(7))
    )
    assert init.get("glorot") is init.xavier and init.get(init.he) is init.he
    with pytest.raises(ValueError, match="unknown initialiser 'uniformish'"):
        init.get("uniformish")
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        init.fans((5,))
    lin = nn.Linear(400, 300, init="he", seed=0)
    assert lin.W.data.std() == pytest.approx(np.sqrt(2 / 400), rel=0.02)
    assert not lin.b.data.any()


# ---------------------------------------------------------------- Sequential


def test_state_dict_round_trip():
    a = nn.mlp([4, 6, 3], "relu", seed=0)
    b = nn.mlp([4, 6, 3], "relu", seed=10)
    x = away_from_zero((5, 4))
    assert not np.allclose(a(x), b(x))
    state = a.state_dict()
    assert sorted(state) == ["0.W", "0.b", "2.W", "2.b"]
    b.load_state_dict(state)
    np.testing.assert_array_equal(a(x), b(x))
    # the state is a copy, and loading writes into the existing arrays
    state["0.W"][...] = 0
    assert a[0].W.data.any()
    w_before = b[0].W.data
    b.load_state_dict(a.state_dict())
    assert b[0].W.data is w_before


def test_state_dict_mismatch_errors():
    a = nn.mlp([4, 6, 3], seed=0)
    with pytest.raises(KeyError, match="missing"):
        a.load_state_dict({"0.W": np.zeros((6, 4))})
    bad = a.state_dict()
    bad["0.W"] = np.zeros((5, 4))
    with pytest.raises(ValueError, match=r"0.W: saved shape \(5, 4\)"):
        a.load_state_dict(bad)


def test_sequential_structure_and_summary():
    net = nn.mlp([2, 8, 8, 1], "tanh", seed=0)
    assert len(net) == 5 and isinstance(net[1], nn.Tanh)
    assert isinstance(net[:2], nn.Sequential) and len(net[:2]) == 2
    assert net.n_params == 2 * 8 + 8 + 8 * 8 + 8 + 8 + 1
    assert net.summary().splitlines()[-1].split()[-1] == f"{net.n_params:,}"
    net.eval()
    assert not any(layer.training for layer in net)
    with pytest.raises(TypeError, match="Sequential item 1 is int"):
        nn.Sequential(nn.ReLU(), 3)
    with pytest.raises(ValueError, match="at least an input and an output"):
        nn.mlp([3])


# ---------------------------------------------------------------- clear input errors


def test_wrong_shape_errors_say_what_to_do():
    lin = nn.Linear(4, 3)
    with pytest.raises(
        ValueError,
        match=r"Linear\(4, 3\) got input of shape \(2, 2, 2\); "
        r"flatten it to \(2, 4\) first",
    ):
        lin(np.zeros((2, 2, 2)))
    with pytest.raises(ValueError, match=r"it needs shape \(N, 4\)"):
        lin(np.zeros((2, 5)))
    with pytest.raises(ValueError, match=r"Maxout\(4, 3, k=2\).*\(N, 4\)"):
        nn.Maxout(4, 3)(np.zeros((2, 3)))
    with pytest.raises(ValueError, match="reshape the target"):
        nn.MSELoss()(np.zeros((3, 2)), np.zeros((3, 3)))
    with pytest.raises(ValueError, match="labels must lie in"):
        nn.CrossEntropyLoss()(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="put a Sigmoid before it"):
        nn.BCELoss()(np.array([[1.5]]), np.array([1]))


def test_wrong_dtype_errors():
    with pytest.raises(TypeError, match="dtype complex128; pass real numbers"):
        nn.Linear(2, 2)(np.zeros((1, 2), dtype=complex))
    with pytest.raises(TypeError, match="dtype <U1"):
        nn.ReLU()(np.array([["a", "b"]]))
    # integers and booleans (truth tables) are accepted and converted
    out = nn.Linear(2, 1)(np.array([[0, 1], [1, 1]]))
    assert out.dtype == np.float64
    assert nn.Linear(2, 1, dtype=np.float32)(np.ones((1, 2))).dtype == np.float32


def test_nan_input_error_names_the_position():
    x = np.zeros((3, 4))
    x[1, 2] = np.nan
    with pytest.raises(ValueError, match=r"non-finite input \(first at index \(1, 2\)"):
        nn.Linear(4, 2)(x)
    with pytest.raises(ValueError, match="non-finite"):
        nn.Sigmoid()(np.array([[np.inf]]))


def test_bad_constructor_arguments():
    with pytest.raises(ValueError, match="in_features must be a positive int"):
        nn.Linear(0, 3)
    with pytest.raises(ValueError, match="slope"):
        nn.LeakyReLU(1.5)
    with pytest.raises(ValueError, match="k >= 1"):
        nn.Maxout(2, 2, k=0)
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Linear(2, 2).backward(np.zeros((1, 2)))


# ---------------------------------------------------------------- show_source


def test_show_source_is_the_real_source():
    import inspect

    src = dlkit.show_source(nn.rel_error)
    lines, _ = inspect.getsourcelines(nn.rel_error)
    assert src.code == "".join(lines)
    assert repr(src).startswith("# dlkit/nn/gradcheck.py\ndef rel_error(")
    assert dlkit.show_source(dlkit.conv.choose_algorithm).location == "dlkit/conv/__init__.py"
    html = src._repr_html_()
    assert 'class="dlkit-source"' in html and "rel_error" in html
    cls = dlkit.show_source(nn.Linear)
    assert cls.code.startswith("class Linear(Layer):") and cls.name == "Linear"
    method = dlkit.show_source(nn.Linear.backward)
    assert method.code.startswith("def backward(self, dout")  # dedented


def test_show_source_explains_what_it_cannot_show():
    with pytest.raises(TypeError, match="cannot find the source"):
        dlkit.show_source(len)
    with pytest.raises(TypeError, match="cannot find the source"):
        dlkit.show_source(3)


def test_rng_seeds():
    assert dlkit.rng(3).integers(1000) == np.random.default_rng(3).integers(1000)
    g = np.random.default_rng(0)
    assert dlkit.rng(g) is g
    with pytest.raises(ValueError, match="seed=0"):
        dlkit.rng(None)
    with pytest.raises(TypeError, match="float"):
        dlkit.rng(1.5)
    with pytest.raises(ValueError, match="seed must be an int >= 0"):
        dlkit.rng(-1)


# ---------------------------------------------------------------- backend


@pytest.fixture
def fresh_backend(monkeypatch):
    """Forget the chosen backend so DLKIT_BACKEND is read again; restore afterwards."""
    monkeypatch.setattr(backend, "_current", None)
    monkeypatch.delenv("DLKIT_BACKEND", raising=False)
    return backend


def test_default_backend_is_numba_when_installed(fresh_backend):
    b = fresh_backend.get_backend()
    assert b.name == "numba" and b.xp is np and b.cpu_kernels and not b.on_gpu
    assert fresh_backend.available_backends()[:2] == ["numpy", "numba"]


def test_numpy_backend_is_the_reference(fresh_backend, monkeypatch):
    monkeypatch.setenv("DLKIT_BACKEND", "numpy")
    b = fresh_backend.get_backend()
    assert b.name == "numpy" and not b.uses_numba and not b.cpu_kernels


def test_backend_from_environment(fresh_backend, monkeypatch):
    monkeypatch.setenv("DLKIT_BACKEND", " Numba ")
    b = fresh_backend.get_backend()
    assert b.name == "numba" and b.uses_numba and b.xp is np
    assert fresh_backend.get_backend() is b  # read once, then kept


def test_unknown_backend_names_the_choices(fresh_backend, monkeypatch):
    monkeypatch.setenv("DLKIT_BACKEND", "tpu")
    with pytest.raises(ValueError, match="unknown backend 'tpu'.*numpy, numba, cuda"):
        fresh_backend.get_backend()
    with pytest.raises(ValueError, match="unknown backend"):
        fresh_backend.available("opencl")


def test_cuda_simulator_switch_messages(fresh_backend, monkeypatch):
    monkeypatch.setattr(fresh_backend, "_numba_simulator", lambda: None)  # as before numba's import
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "1")
    assert fresh_backend.set_backend("cudasim").name == "cudasim"
    with pytest.raises(backend.BackendUnavailable, match="NUMBA_ENABLE_CUDASIM=1 is set"):
        fresh_backend.set_backend("cuda")
    monkeypatch.setenv("NUMBA_ENABLE_CUDASIM", "0")
    with pytest.raises(backend.BackendUnavailable, match="the CUDA simulator is off"):
        fresh_backend.set_backend("cudasim")


def test_cupy_is_used_only_when_it_can_run(fresh_backend):
    why = fresh_backend._why_unavailable("cupy")
    if why is None:
        assert fresh_backend.set_backend("cupy").on_gpu
    else:
        assert "cupy" in why
        with pytest.raises(backend.BackendUnavailable, match="backend 'cupy' is not available"):
            fresh_backend.set_backend("cupy")
        assert "cupy" not in fresh_backend.available_backends()


def test_use_backend_restores_and_asnumpy(fresh_backend):
    before = fresh_backend.get_backend()
    with fresh_backend.use_backend("numba") as b:
        assert fresh_backend.get_backend() is b and b.name == "numba"
        np.testing.assert_array_equal(b.asnumpy([1, 2]), np.array([1, 2]))
    assert fresh_backend.get_backend() is before
    with pytest.raises(ValueError):
        with fresh_backend.use_backend("nope"):
            pass
    assert fresh_backend.get_backend() is before


def test_linear_without_input_gradient():
    x = np.random.default_rng(0).standard_normal((3, 4))
    full, first = nn.Linear(4, 2, seed=1), nn.Linear(4, 2, seed=1, input_grad=False)
    dout = np.ones((3, 2))
    full.forward(x)
    first.forward(x)
    assert full.backward(dout).shape == (3, 4) and first.backward(dout) is None
    np.testing.assert_array_equal(full.W.grad, first.W.grad)
    assert repr(first) == "Linear(4, 2, input_grad=False)"


# ------------------------------------------------- the shown code follows chapter 5's notation


def test_linear_backward_is_chapter_5s_three_formulas():
    g = np.random.default_rng(0)
    layer = nn.Linear(4, 3, seed=0)
    A = g.standard_normal((5, 4))
    Z = layer.forward(A)
    np.testing.assert_array_equal(Z, A @ layer.W.data.T + layer.b.data)
    δ = g.standard_normal((5, 3))
    dA = layer.backward(δ)
    np.testing.assert_allclose(layer.W.grad, δ.T @ A, rtol=1e-14)  # ∂L/∂W = δᵀ A
    np.testing.assert_allclose(layer.b.grad, δ.sum(axis=0), rtol=1e-14)  # ∂L/∂b = Σ_n δ_n
    np.testing.assert_allclose(dA, δ @ layer.W.data, rtol=1e-14)  # ∂L/∂A = δ W


def _body(fn) -> list[str]:
    """The code lines of `fn` after its docstring."""
    import ast
    import inspect
    import textwrap

    src = textwrap.dedent(inspect.getsource(fn))
    body = ast.parse(src).body[0].body
    start = body[1].lineno if isinstance(body[0], ast.Expr) else body[0].lineno
    return [line.strip() for line in src.splitlines()[start - 1 : body[-1].end_lineno]]


def test_shown_layer_methods_put_the_idea_first_and_checks_in_a_helper():
    fwd, bwd = _body(nn.Linear.forward), _body(nn.Linear.backward)
    assert fwd[0] == "A = self._check_input(x)"
    assert bwd[0] == "δ = self._check_dout(dout)"
    assert not any("raise" in line for line in fwd + bwd)
    assert any("δ.T, self._A" in line for line in bwd)
    for text in (nn.Linear.__doc__, nn.Linear.backward.__doc__):
        assert "δ^(j)" in text and "∂𝓛/∂" in text
    relu = _body(nn.ReLU.backward)
    assert relu[0].startswith("dA = self._check_dout(dout)")
    assert "δ^(j) = ∂𝓛/∂Z^(j) = ∂𝓛/∂A^(j) ⊙ g'(Z^(j))" in nn.ReLU.__doc__


def test_linear_input_checks_live_in_check_input():
    layer = nn.Linear(12, 3, seed=0)
    with pytest.raises(ValueError, match=r"flatten it to \(2, 12\) first"):
        layer._check_input(np.zeros((2, 3, 4)))
    with pytest.raises(ValueError, match=r"needs shape \(N, 12\)"):
        layer.forward(np.zeros((2, 5)))
    with pytest.raises(nn.BackwardBeforeForwardError):
        nn.Linear(2, 2).backward(np.zeros((1, 2)))


def test_losses_follow_chapter_4s_notation():
    import inspect

    assert list(inspect.signature(nn.MSELoss.forward).parameters) == ["self", "y_hat", "y"]
    assert list(inspect.signature(nn.CrossEntropyLoss.forward).parameters) == ["self", "z", "y"]
    assert "∂𝓛/∂ŷ = (ŷ − y) / N" in nn.MSELoss.__doc__
    assert "∂𝓛/∂z = (ŷ − onehot(y)) / N" in nn.CrossEntropyLoss.__doc__
    z = np.array([[2.0, 1.0, 0.1], [0.5, 2.5, 0.3]])
    ce = nn.CrossEntropyLoss()
    ce(z, np.array([0, 2]))
    np.testing.assert_allclose(
        ce.backward(), (nn.softmax(z) - nn.one_hot(np.array([0, 2]), 3)) / 2, rtol=1e-14
    )


def test_every_layer_has_state_dict_and_load_state_dict():
    a, b = nn.Linear(3, 2, seed=0), nn.Linear(3, 2, seed=1)
    b.load_state_dict(a.state_dict())
    assert np.array_equal(a.W.data, b.W.data) and np.array_equal(a.b.data, b.b.data)
    with pytest.raises(KeyError, match="missing"):
        b.load_state_dict({"W": a.W.data})
