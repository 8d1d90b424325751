"""Forward propagation in the Θ notation (dlkit.nn.forward), the chapter 3 figures'
training runs (dlkit.experiments) and figures (dlkit.viz.networks), the chapter's claims,
and its exercise checks. Θ^(j) is indexed by the layer j it computes: Thetas[0] is Θ^(2)."""

import numpy as np
import pytest

from dlkit import data, nn
from dlkit.exercises import ch03
from dlkit.nn import forward as F


def _model_with_biases(sizes, activation, seed=0):
    model = nn.mlp(sizes, activation, seed=seed)
    g = np.random.default_rng(seed + 100)
    for layer in model:
        if isinstance(layer, nn.Linear):
            layer.b.data[...] = g.standard_normal(layer.b.data.shape)
    return model


def test_add_bias_one_example_and_batch():
    assert F.add_bias(np.array([2.0, 3.0])).tolist() == [1.0, 2.0, 3.0]
    A = np.arange(6.0).reshape(3, 2)
    Ab = F.add_bias(A)
    assert Ab.shape == (3, 3)
    assert np.array_equal(Ab[:, 0], np.ones(3)) and np.array_equal(Ab[:, 1:], A)


@pytest.mark.parametrize("activation", ["sigmoid", "tanh", "relu", "leaky_relu", "elu"])
def test_forward_theta_equals_sequential(activation):
    model = _model_with_biases([3, 7, 5, 4], activation)
    X = np.random.default_rng(1).standard_normal((50, 3))
    Thetas = F.thetas_from_model(model)
    assert [T.shape for T in Thetas] == [(7, 4), (5, 8), (4, 6)]
    fp = F.forward_theta(Thetas, X, activation)
    assert np.max(np.abs(fp.output - model.forward(X))) < 1e-13
    # every hidden layer matches the Sequential's intermediate values
    h = X
    j = 1
    for layer in model:
        h = layer.forward(h)
        if isinstance(layer, nn.Linear):
            j += 1
            assert np.max(np.abs(fp.z[j] - h)) < 1e-13
        else:
            assert np.max(np.abs(fp.a[j] - h)) < 1e-13
    assert sorted(fp.a) == [1, 2, 3, 4] and sorted(fp.z) == [2, 3, 4]
    assert fp.L == 4 and fp.a[1] is not None


def test_one_example_equals_batch_row():
    model = _model_with_biases([2, 6, 3], "tanh", seed=4)
    Thetas = F.thetas_from_model(model)
    X = np.random.default_rng(2).standard_normal((20, 2))
    batch = F.forward_theta(Thetas, X, "tanh")
    for n in range(len(X)):
        one = F.forward_theta(Thetas, X[n], "tanh")
        assert one.output.shape == (3,)
        for j in (2, 3):
            assert np.max(np.abs(one.z[j] - batch.z[j][n])) < 1e-13
            assert np.max(np.abs(one.a[j] - batch.a[j][n])) < 1e-13


def test_theta_linear_round_trip_and_model_from_thetas():
    lin = nn.Linear(4, 3, seed=5)
    lin.b.data[...] = [1.0, -2.0, 0.5]
    T = F.theta_from_linear(lin)
    assert T.shape == (3, 5)
    assert np.array_equal(T[:, 0], lin.b.data) and np.array_equal(T[:, 1:], lin.W.data)
    back = F.linear_from_theta(T)
    assert np.array_equal(back.W.data, lin.W.data) and np.array_equal(back.b.data, lin.b.data)
    nobias = nn.Linear(4, 2, bias=False, seed=1)
    assert np.array_equal(F.theta_from_linear(nobias)[:, 0], np.zeros(2))
    g = np.random.default_rng(0)
    Thetas = [g.standard_normal((5, 3)), g.standard_normal((2, 6))]
    X = g.standard_normal((9, 2))
    model = F.model_from_thetas(Thetas, "sigmoid")
    assert np.max(np.abs(model.forward(X) - F.forward_theta(Thetas, X).output)) < 1e-13


def test_output_activation_sigmoid_is_classic_h_theta():
    g = np.random.default_rng(7)
    Thetas = [g.standard_normal((3, 3)), g.standard_normal((1, 4))]
    x = g.standard_normal(2)
    fp = F.forward_theta(Thetas, x, "sigmoid", "sigmoid")
    a2 = 1 / (1 + np.exp(-(Thetas[0] @ np.r_[1.0, x])))
    a3 = 1 / (1 + np.exp(-(Thetas[1] @ np.r_[1.0, a2])))
    assert np.max(np.abs(fp.output - a3)) < 1e-15


def test_forward_theta_errors_name_the_problem():
    g = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"Θ\^\(3\) needs 5 \+ 1 = 6 columns"):
        F.forward_theta([g.standard_normal((5, 3)), g.standard_normal((2, 5))], np.zeros(2))
    with pytest.raises(ValueError, match="x needs 2 features"):
        F.forward_theta([g.standard_normal((5, 3))], np.zeros((4, 3)))
    with pytest.raises(ValueError, match="at least an input and an output"):
        F.count_parameters([10])


@pytest.mark.parametrize(
    "sizes", [[784, 100, 10], [2, 1], [3, 5, 5, 4], [784, 30, 10], [2, 32, 32, 3], [1, 32, 1]]
)
def test_count_parameters_closed_form_equals_model(sizes):
    closed = sum((a + 1) * b for a, b in zip(sizes[:-1], sizes[1:]))
    assert F.count_parameters(sizes) == closed == nn.mlp(sizes).n_params


def test_count_parameters_mnist_net():
    assert F.count_parameters([784, 100, 10]) == 79_510


# ---------------------------------------------------------------- the chapter's claims


def test_spirals_network_learns_its_features():
    from dlkit.experiments.boundaries import train_boundary

    X, y = data.spirals(300, classes=3, noise=0.2, seed=0)
    run = train_boundary(
        X, y, (32, 32), "relu", lr=0.2, epochs=1000, snapshots=(0, 100, 1000), resolution=20
    )
    assert run.accuracy >= 0.97
    assert [s.epoch for s in run.snapshots] == [0, 100, 1000]
    assert run.snapshots[0].accuracy < 0.5  # the untrained network is near chance (1/3)
    assert run.snapshots[-1].accuracy == run.accuracy
    assert run.history.loss[-1] < run.history.loss[0] / 5


def test_moons_accuracy_bar():
    from dlkit.experiments.boundaries import train_boundary

    X, y = data.moons(200, noise=0.1, seed=0)
    run = train_boundary(X, y, (16, 16), "relu", lr=0.2, epochs=600, resolution=10)
    assert run.accuracy >= 0.97


def test_function_fit_error_falls_with_width():
    from dlkit.experiments.approximation import fit_1d

    fits = fit_1d((1, 2, 4, 8, 32))
    errs = [fits.mse[w] for w in fits.widths]
    assert all(a > b for a, b in zip(errs, errs[1:])), errs
    assert errs[0] > 0.025 and errs[-1] < 0.003
    # the stated mse is the book's mean squared error, with the ½, of the stored predictions
    half_mse = np.mean(0.5 * (fits.predictions[32] - np.sin(fits.x)) ** 2)
    assert np.isclose(fits.mse[32], half_mse)


# ---------------------------------------------------------------- exercise checks


def test_check_param_count(capsys):
    assert ch03.check_param_count([784, 30, 10], 23_860)
    assert not ch03.check_param_count([784, 30, 10], 784 * 30 + 30 * 10)
    assert "biases" in capsys.readouterr().out
    assert not ch03.check_param_count([784, 30, 10], "many")


def test_check_xnor_thetas(capsys):
    good = [np.array([[-30.0, 20, 20], [10, -20, -20]]), np.array([[-10.0, 20, 20]])]
    assert ch03.check_xnor_thetas(good)
    assert "Correct" in capsys.readouterr().out
    assert not ch03.check_xnor_thetas([good[0], np.array([[10.0, -20, -20]])])
    assert not ch03.check_xnor_thetas([np.zeros((3, 2)), np.zeros((1, 3))])
    assert "shapes" in capsys.readouterr().out


def test_check_forward(capsys):
    def mine(Thetas, X):
        a = X
        for T in Thetas:
            a = 1 / (1 + np.exp(-(np.hstack([np.ones((len(a), 1)), a]) @ T.T)))
        return a

    def no_bias(Thetas, X):
        a = X
        for T in Thetas:
            a = 1 / (1 + np.exp(-(a @ T[:, 1:].T)))
        return a

    def broken(Thetas, X):
        raise RuntimeError("oops")

    assert ch03.check_forward(mine)
    assert not ch03.check_forward(no_bias)
    assert not ch03.check_forward(broken)
    assert "RuntimeError" in capsys.readouterr().out


def test_boundary_explorer_draws_at_creation_and_retrains():
    from dlkit.viz import networks as V

    box = V.boundary_explorer("moons", "relu", width=4, depth=1, epochs=50)
    (ds, act), (wid, dep) = box.children[0].children, box.children[1].children
    out = box.children[2]
    first = out.outputs[0]["data"]["image/png"]
    assert len(out.outputs) == 1 and len(first) > 1000
    wid.value = 16  # a control change trains and redraws
    assert len(out.outputs) == 1 and out.outputs[0]["data"]["image/png"] != first
    assert [c.value for c in (ds, act, dep)] == ["moons", "relu", 1]


def test_boundary_explorer_rejects_bad_settings():
    from dlkit.viz import networks as V

    with pytest.raises(ValueError, match="width must be one of"):
        V.boundary_explorer(width=3)
    with pytest.raises(ValueError, match="unknown dataset"):
        V.boundary_explorer(dataset="swirls")
    with pytest.raises(ValueError, match="unknown activation"):
        V.boundary_explorer(activation="swish")


def test_network_diagram_has_every_unit_bias_and_theta():
    import matplotlib.pyplot as plt
    from matplotlib.patches import Circle, FancyBboxPatch

    from dlkit.viz import networks as V

    fig = V.draw_network([3, 4, 2])
    ax = fig.axes[0]
    assert sum(isinstance(p, Circle) for p in ax.patches) == 3 + 4 + 2
    assert sum(isinstance(p, FancyBboxPatch) for p in ax.patches) == 2  # layers 1 and 2
    texts = [t.get_text() for t in ax.texts]
    assert r"$\Theta^{(2)}$" in texts and r"$\Theta^{(3)}$" in texts  # by the layer computed
    assert r"$\Theta^{(1)}$" not in texts
    assert "4×4" in texts and "2×5" in texts  # s_j × (s_{j-1} + 1)
    assert r"$a_{4}^{(2)}$" in texts
    # edges: (3 + 1) * 4 into layer 2, (4 + 1) * 2 into layer 3
    assert len(ax.lines) == 4 * 4 + 5 * 2
    plt.close(fig)
    big = V.draw_network([784, 100, 10])
    assert r"$a_{784}^{(1)}$" in [t.get_text() for t in big.axes[0].texts]
    plt.close(big)


def test_maxout_illustration_is_max_of_its_pieces():
    from dlkit.viz import networks as V

    unit = V.maxout_unit()
    z = np.linspace(-4, 4, 81)
    pieces = np.stack([-z - 1.0, 0.25 * z, 1.2 * z - 1.5], axis=1)
    assert np.max(np.abs(unit.forward(z[:, None])[:, 0] - pieces.max(axis=1))) < 1e-12
