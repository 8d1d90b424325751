"""Chapter 3 in the book's notation: Θ^(j), W^(j), b^(j) indexed by the layer j they
compute, the mean squared error with its ½, and exercise checks that never print the
expected value."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest

from dlkit import nn
from dlkit import rng as dlkit_rng
from dlkit.exercises import feedforward as ex
from dlkit.nn import forward as F

CHAPTER = pathlib.Path(__file__).resolve().parents[1] / "chapters" / "03_feedforward.ipynb"


def _forms(value: float) -> set[str]:
    """Common ways of printing `value`: the integer with and without separators, and the
    float rounded to 2-6 digits (fixed and scientific)."""
    out: set[str] = set()
    if float(value).is_integer():
        v = int(value)
        out |= {str(v), f"{v:,}", f"{v:_}", f"{v:,}".replace(",", " "), f"{v}.0"}
    for d in range(2, 7):
        out |= {f"{value:.{d}f}", f"{value:.{d}g}", f"{value:.{d - 1}e}"}
    return {s for s in out if len(s.strip("-0.")) >= 2}  # skip forms too short to mean anything


def _assert_hidden(text: str, value: float) -> None:
    for form in _forms(value):
        assert form not in text, f"the verdict reveals {value} as {form!r}:\n{text}"


# ------------------------------------------------------------------- the Θ^(j) indexing


def test_thetas_start_at_layer_2():
    g = np.random.default_rng(0)
    Thetas = [g.standard_normal((4, 4)), g.standard_normal((2, 5))]  # Θ^(2), Θ^(3)
    x = g.standard_normal(3)
    fp = F.forward_theta(Thetas, x, "tanh")
    z2 = Thetas[0] @ np.r_[1.0, x]  # z^(2) = Θ^(2) [1; a^(1)]
    z3 = Thetas[1] @ np.r_[1.0, np.tanh(z2)]  # z^(3) = Θ^(3) [1; a^(2)]
    assert np.max(np.abs(fp.z[2] - z2)) < 1e-15 and np.max(np.abs(fp.z[3] - z3)) < 1e-15
    assert sorted(fp.z) == [2, 3] and sorted(fp.a) == [1, 2, 3] and fp.L == 3
    assert repr(fp) == "ForwardPass(L=3: a[1] (3,) | z[2], a[2] (4,) | z[3], a[3] (2,))"


def test_theta_is_b_then_w_of_the_layer_it_computes():
    model = nn.mlp([3, 4, 2], "sigmoid", seed=0)
    model[0].b.data[:] = [0.5, -0.5, 1.0, 0.0]
    T2, T3 = F.thetas_from_model(model)  # Θ^(2) (4 × 4), Θ^(3) (2 × 5)
    assert T2.shape == (4, 4) and T3.shape == (2, 5)
    W2, b2 = model[0].W.data, model[0].b.data  # W^(2) is s_2 × s_1
    assert W2.shape == (4, 3)
    assert np.array_equal(T2, np.column_stack([b2, W2]))
    X = np.random.default_rng(1).standard_normal((6, 3))
    Z2 = X @ W2.T + b2  # Z^(2) = A^(1) W^(2)ᵀ + b^(2)
    assert np.max(np.abs(F.forward_theta([T2, T3], X, "sigmoid").z[2] - Z2)) < 1e-14


def test_errors_name_the_matrices_by_layer():
    g = np.random.default_rng(0)
    with pytest.raises(ValueError, match=r"Θ\^\(2\) has 2 \+ 1 columns, so x needs 2"):
        F.forward_theta([g.standard_normal((5, 3))], np.zeros((4, 3)))
    with pytest.raises(ValueError, match=r"Θ\^\(3\) has 2 rows, so layer 3 has 2 units"):
        F.forward_theta(
            [g.standard_normal((5, 3)), g.standard_normal((2, 6)), g.standard_normal((1, 2))],
            np.zeros(2),
        )
    with pytest.raises(ValueError, match=r"at least one matrix, Θ\^\(2\)"):
        F.forward_theta([], np.zeros(2))


def test_count_parameters_sums_over_layers_2_to_L():
    sizes = [784, 30, 10]
    by_layer = [sizes[j - 1] * (sizes[j - 2] + 1) for j in range(2, len(sizes) + 1)]
    assert by_layer == [30 * 785, 10 * 31]
    assert F.count_parameters(sizes) == sum(by_layer) == nn.mlp(sizes).n_params


def test_diagram_labels_the_matrix_into_each_layer():
    import matplotlib.pyplot as plt

    from dlkit.viz import networks as V

    fig = V.draw_network([3, 4, 2], bias=False)
    texts = [t.get_text() for t in fig.axes[0].texts]
    assert r"$W^{(2)}$" in texts and r"$W^{(3)}$" in texts
    assert "4×3" in texts and "2×4" in texts  # W^(j) is s_j × s_{j-1}
    plt.close(fig)


def test_fit_1d_reports_the_books_mean_squared_error():
    from dlkit.experiments.approximation import fit_1d

    fits = fit_1d((1, 4), epochs=20, decay_epochs=5)
    for s_2 in fits.widths:
        pred, y = fits.predictions[s_2], fits.y
        assert fits.mse[s_2] == pytest.approx(nn.MSELoss().forward(pred, y), rel=1e-15)
        assert fits.mse[s_2] == pytest.approx(0.5 * np.mean((pred - y) ** 2), rel=1e-12)


def test_activation_docstrings_use_g_and_kappa():
    for name, (g, g_prime) in nn.ACTIVATIONS.items():
        assert g.__doc__ and "g(z)" in g.__doc__, name
        assert g_prime.__doc__ and "g'(z)" in g_prime.__doc__, name
    for fn in (nn.activations.leaky_relu, nn.activations.elu):
        assert "κ" in fn.__doc__
    assert "δ^(j)" in nn.ReLU.__doc__ and "Z^(j)" in nn.ReLU.__doc__


# ------------------------------------------------------------------- exercise checks


@pytest.mark.parametrize(
    "sizes, wrong",
    [
        ([784, 30, 10], [0, 23_820, 23_820 + 824, 23_861, 23_859, -1, 10**9, 2.5, "many"]),
        ([784, 100, 10], [79_000, 78_500, 79_500]),
        ([2, 32, 32, 3], [1_200, 1_250, 1]),
    ],
)
def test_check_param_count_never_prints_the_count(capsys, sizes, wrong):
    want = F.count_parameters(sizes)
    assert ex.check_param_count(sizes, want)
    capsys.readouterr()
    for answer in wrong:
        assert not ex.check_param_count(sizes, answer)
        out = capsys.readouterr().out
        assert out.startswith("Not yet: ") and out.count("\n") == 1
        _assert_hidden(out, want)


_XNOR = [np.array([[-30.0, 20, 20], [10, -20, -20]]), np.array([[-10.0, 20, 20]])]


def test_check_xnor_thetas_never_prints_a_solution(capsys):
    assert ex.check_xnor_thetas(_XNOR)  # [Θ^(2), Θ^(3)]
    capsys.readouterr()
    wrong = [
        [np.zeros((2, 3)), np.zeros((1, 3))],
        [_XNOR[0], -_XNOR[1]],
        [_XNOR[0].T, _XNOR[1]],  # a 3 × 2 Θ^(2)
        [np.zeros((2, 2)), np.zeros((1, 2))],  # bias column forgotten
        ["a", "b"],
    ]
    for answer in wrong:
        assert not ex.check_xnor_thetas(answer)
        out = capsys.readouterr().out
        assert out.startswith("Not yet: ")
        for piece in ("-30", "-10", "-20", str(_XNOR[0]), str(_XNOR[1])):
            assert piece not in out, out
    assert not ex.check_xnor_thetas([np.zeros((3, 2)), np.zeros((1, 3))])
    assert "Θ^(2), Θ^(3)" in capsys.readouterr().out


def _expected_forward_values() -> list[np.ndarray]:
    """The outputs check_forward compares with, rebuilt the way it builds them."""
    g = dlkit_rng(3)
    values = []
    for sizes in ([3, 5, 4, 2], [2, 1], [4, 6, 6, 6, 3]):
        Thetas = [g.standard_normal((b, a + 1)) for a, b in zip(sizes[:-1], sizes[1:])]
        X = g.standard_normal((7, sizes[0]))
        values.append(F.forward_theta(Thetas, X, "sigmoid", "sigmoid").output)
    return values


def test_check_forward_never_prints_the_outputs(capsys):
    def right(Thetas, X):
        A = X
        for Theta in Thetas:  # Θ^(j), j = 2..L
            A = 1 / (1 + np.exp(-(np.hstack([np.ones((len(A), 1)), A]) @ Theta.T)))
        return A

    def zeros(Thetas, X):
        return np.zeros((len(X), Thetas[-1].shape[0]))

    def no_bias(Thetas, X):
        A = X
        for Theta in Thetas:
            A = 1 / (1 + np.exp(-(A @ Theta[:, 1:].T)))
        return A

    def identity_output(Thetas, X):
        A = right(Thetas[:-1], X)
        return np.hstack([np.ones((len(A), 1)), A]) @ Thetas[-1].T

    def nan(Thetas, X):
        return np.full((len(X), Thetas[-1].shape[0]), np.nan)

    assert ex.check_forward(right)
    capsys.readouterr()
    want = _expected_forward_values()
    for fn in (zeros, no_bias, identity_output, nan):
        assert not ex.check_forward(fn)
        out = capsys.readouterr().out
        assert out.startswith("Not yet: ") and "examples" in out
        for values in want:
            for v in values.ravel():
                for d in range(2, 7):
                    assert f"{v:.{d}f}" not in out and f"{v:.{d}g}" not in out, out


# ------------------------------------------------------------------- the chapter's text


def _chapter_markdown() -> str:
    nb = json.loads(CHAPTER.read_text(encoding="utf-8"))
    return "\n".join("".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "markdown")


def test_chapter_uses_the_books_indexing_and_credits():
    text = _chapter_markdown()
    assert r"\Theta^{(1)}" not in text and "s_{j+1}" not in text
    assert "next chapter" not in text  # backpropagation is chapter 5, losses chapter 4
    for key in (
        "cybenko1989approximation",
        "hornik1989multilayer",
        "hochreiter1991untersuchungen",
        "bengio1994learning",
        "glorot2010understanding",
    ):
        assert key in text, key
    assert r"\alpha" not in text and "G(x)" not in text  # κ and \hat f(x)
