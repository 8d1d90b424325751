"""dlkit.data: gate truth tables, seeded 2-D problems and the sklearn digits."""

import numpy as np
import pytest

from dlkit import data
from dlkit.data import GATES, gate_table, logic_gate

# ---------------------------------------------------------------- gates


@pytest.mark.parametrize("gate", ["AND", "OR", "NAND", "NOR", "XOR", "XNOR"])
def test_gate_tables_match_boolean_logic(gate):
    X, y = gate_table(gate)
    assert X.shape == (4, 2) and X.dtype == np.float64 and y.dtype == np.int64
    assert X.tolist() == [[0, 0], [0, 1], [1, 0], [1, 1]]
    a, b = X[:, 0].astype(bool), X[:, 1].astype(bool)
    ops = {
        "AND": a & b,
        "OR": a | b,
        "NAND": ~(a & b),
        "NOR": ~(a | b),
        "XOR": a ^ b,
        "XNOR": ~(a ^ b),
    }
    np.testing.assert_array_equal(y, ops[gate].astype(int))
    np.testing.assert_array_equal(logic_gate(gate, X[:, 0], X[:, 1]), y)


def test_not_gate_and_case_insensitive_names():
    X, y = gate_table("not")
    assert X.shape == (2, 1) and y.tolist() == [1, 0]
    assert logic_gate("NOT", [0, 1]).tolist() == [1, 0]
    assert gate_table(" xor ")[1].tolist() == [0, 1, 1, 0]
    np.testing.assert_array_equal(data.xor()[1], GATES["XOR"])
    np.testing.assert_array_equal(data.xnor()[1], GATES["XNOR"])


def test_complementary_gates():
    for a, b in [("AND", "NAND"), ("OR", "NOR"), ("XOR", "XNOR")]:
        assert (gate_table(a)[1] + gate_table(b)[1]).tolist() == [1, 1, 1, 1]


def test_gate_errors_are_clear():
    with pytest.raises(ValueError, match="unknown gate 'IMPLIES'"):
        gate_table("IMPLIES")
    with pytest.raises(ValueError, match="NOT takes one input"):
        logic_gate("NOT", [0], [1])
    with pytest.raises(ValueError, match="two inputs"):
        logic_gate("AND", [0, 1])
    with pytest.raises(ValueError, match="unknown gate"):
        logic_gate("MAYBE", [0], [1])


# ---------------------------------------------------------------- synthetic 2-D


@pytest.mark.parametrize("make", [data.moons, data.circles])
def test_two_class_shapes_balance_and_seeds(make):
    X, y = make(101, seed=0)
    assert X.shape == (101, 2) and X.dtype == np.float64
    assert y.dtype == np.int64 and set(y.tolist()) == {0, 1}
    assert np.bincount(y).tolist() == [50, 51]
    X2, y2 = make(101, seed=0)
    np.testing.assert_array_equal(X, X2)
    np.testing.assert_array_equal(y, y2)
    X3, _ = make(101, seed=1)
    assert not np.array_equal(X, X3)


def test_moons_without_noise_lie_on_their_half_circles():
    X, y = data.moons(200, noise=0.0, seed=0)
    upper, lower = X[y == 0], X[y == 1]
    np.testing.assert_allclose(np.hypot(upper[:, 0], upper[:, 1]), 1.0, atol=1e-12)
    assert upper[:, 1].min() >= -1e-12
    np.testing.assert_allclose(np.hypot(lower[:, 0] - 1, lower[:, 1] - 0.5), 1.0, atol=1e-12)
    assert lower[:, 1].max() <= 0.5 + 1e-12


def test_circles_radii_and_noise():
    X, y = data.circles(200, noise=0.0, factor=0.3, seed=0)
    r = np.hypot(X[:, 0], X[:, 1])
    np.testing.assert_allclose(r[y == 0], 1.0, atol=1e-12)
    np.testing.assert_allclose(r[y == 1], 0.3, atol=1e-12)
    Xn, _ = data.circles(2000, noise=0.05, seed=0)
    Xc, _ = data.circles(2000, noise=0.0, seed=0)
    # the noise is Gaussian with the requested standard deviation
    assert np.std(Xn - Xc) == pytest.approx(0.05, rel=0.05)


def test_spirals_classes_and_radius():
    X, y = data.spirals(301, classes=3, noise=0.0, seed=0)
    assert X.shape == (301, 2)
    assert np.bincount(y).tolist() == [101, 100, 100]
    assert np.hypot(X[:, 0], X[:, 1]).max() == pytest.approx(1.0)
    X5, y5 = data.spirals(50, classes=5, seed=2)
    assert sorted(set(y5.tolist())) == [0, 1, 2, 3, 4]


def test_synthetic_errors():
    with pytest.raises(ValueError, match="n must be an int >= 2"):
        data.moons(1)
    with pytest.raises(ValueError, match="noise must be >= 0"):
        data.circles(10, noise=-1)
    with pytest.raises(ValueError, match="factor"):
        data.circles(10, factor=1.5)
    with pytest.raises(ValueError, match="at least 2 classes"):
        data.spirals(10, classes=1)
    with pytest.raises(ValueError, match="seed"):
        data.moons(10, seed=None)


# ---------------------------------------------------------------- digits


def test_digits_split_sizes_and_ranges():
    s = data.load_digits()
    assert s.X_train.shape == (1348, 64) and s.X_test.shape == (449, 64)
    assert s.y_train.dtype == np.int64
    assert 0.0 <= s.X_train.min() and s.X_train.max() <= 1.0
    assert sorted(set(s.y_train.tolist())) == list(range(10))
    Xtr, ytr, Xte, yte = s
    assert len(ytr) + len(yte) == 1797
    # every class is in the test set too, roughly in proportion
    assert np.bincount(yte, minlength=10).min() >= 30


def test_digits_images_seed_and_scale():
    a = data.load_digits(flat=False, seed=0)
    assert a.X_train.shape == (1348, 1, 8, 8)
    b = data.load_digits(seed=0)
    np.testing.assert_array_equal(a.X_train.reshape(-1, 64), b.X_train)
    c = data.load_digits(seed=1)
    assert not np.array_equal(b.y_train, c.y_train)
    raw = data.load_digits(scale=False, dtype=np.float32)
    assert raw.X_train.dtype == np.float32 and raw.X_train.max() == 16.0
    np.testing.assert_allclose(raw.X_train / 16.0, b.X_train, rtol=1e-6)
    half = data.load_digits(test_size=0.5)
    assert len(half.y_test) == 898 or len(half.y_test) == 899
    assert "train=(1348, 64)" in repr(b)


def test_digits_split_is_a_partition_of_sklearn_digits():
    from sklearn.datasets import load_digits as sk

    d = sk()
    s = data.load_digits()
    ours = np.column_stack([np.vstack([s.X_train, s.X_test]) * 16, np.r_[s.y_train, s.y_test]])
    theirs = np.column_stack([d.data, d.target])
    # same multiset of (image, label) rows: nothing lost, nothing repeated
    key = lambda a: a[np.lexsort(a.T[::-1])]  # noqa: E731
    np.testing.assert_array_equal(key(ours), key(theirs.astype(np.float64)))


def test_digits_bad_test_size():
    with pytest.raises(ValueError, match="test_size"):
        data.load_digits(test_size=1.0)


# ---------------------------------------------------------------- bad arguments


@pytest.mark.parametrize(
    "call, exc, phrase",
    [
        (lambda: gate_table(None), TypeError, r"gate_table\(name=...\) must be a gate name"),
        (lambda: gate_table(5), TypeError, "choose one of AND"),
        (lambda: logic_gate(None, [0], [1]), TypeError, r"logic_gate\(name=...\)"),
        (lambda: logic_gate("XOR", [0, 1], [0, 1, 1]), ValueError, r"shapes \(2,\) and \(3,\)"),
        (lambda: logic_gate("AND", "ab", "cd"), TypeError, "must hold numbers 0/1"),
        (lambda: logic_gate("AND", [None], [1]), TypeError, "dtype object"),
        (lambda: logic_gate("AND", [0.5, 2], [1, 1]), ValueError, "only 0 and 1, got 0.5"),
        (lambda: logic_gate("NOT", [2]), ValueError, "only 0 and 1"),
        (lambda: data.moons(2.5), TypeError, "moons: n must be an int >= 2"),
        (lambda: data.moons(True), TypeError, "n must be an int"),
        (lambda: data.circles(noise=float("nan")), ValueError, "circles: noise must be finite"),
        (lambda: data.moons(noise=float("inf")), ValueError, "noise must be finite"),
        (lambda: data.spirals(noise="0.1"), TypeError, "noise must be a real number"),
        (lambda: data.moons(noise=True), TypeError, "noise must be a real number"),
        (lambda: data.circles(factor="0.5"), TypeError, "factor must be a real number"),
        (lambda: data.circles(factor=float("nan")), ValueError, "factor must be finite"),
        (lambda: data.spirals(classes=2.5), TypeError, "classes must be an int"),
        (lambda: data.spirals(classes=None), TypeError, "classes must be an int"),
        (lambda: data.spirals(2, classes=5), ValueError, "cannot fill classes=5 arms"),
        (lambda: data.spirals(turns=float("nan")), ValueError, "turns must be finite"),
        (lambda: data.spirals(turns="1"), TypeError, "turns must be a real number"),
        (lambda: data.load_digits("0.25"), TypeError, "test_size must be a fraction"),
        (lambda: data.load_digits(None), TypeError, "test_size must be a fraction"),
        (lambda: data.load_digits(True), TypeError, "test_size must be a fraction"),
        (lambda: data.load_digits(1e-5), ValueError, "leaves an empty train or test set"),
        (lambda: data.load_digits(flat="no"), TypeError, r"flat=...\) must be True or False"),
        (lambda: data.standardize(None), TypeError, r"split=...\) must be a Split"),
        (lambda: data.standardize((1, 2)), TypeError, "must be a Split"),
        (lambda: data.standardize((np.ones((3, 2)), 0, [1, 2], 0)), TypeError, "X_test must be"),
        (
            lambda: data.standardize((np.ones((3, 2)), 0, np.ones((2, 3)), 0)),
            ValueError,
            r"X_train \(3, 2\) and X_test \(2, 3\)",
        ),
    ],
)
def test_bad_arguments_are_refused_clearly(call, exc, phrase):
    with pytest.raises(exc, match=phrase):
        call()


@pytest.mark.parametrize(
    "floor, exc, phrase",
    [
        (-1.0, ValueError, "finite and >= 0"),
        (float("nan"), ValueError, "finite and >= 0"),
        ("x", TypeError, "real number >= 0"),
        (None, TypeError, "real number >= 0"),
        (True, TypeError, "real number >= 0"),
        (0, ValueError, "would divide by zero"),
    ],
)
def test_standardize_refuses_bad_floor(floor, exc, phrase):
    split = data.Split(
        np.array([[0.0, 1.0], [0.0, 3.0]]), np.array([0, 1]), np.array([[1.0, 2.0]]), np.array([1])
    )
    with pytest.raises(exc, match=phrase):
        data.standardize(split, floor)


def test_valid_unusual_inputs_still_work():
    assert logic_gate("AND", np.array([True, False]), [1.0, 1.0]).tolist() == [1, 0]
    X, y = data.spirals(5, classes=5, noise=0, turns=0)
    assert sorted(y.tolist()) == [0, 1, 2, 3, 4]
    X, _ = data.moons(np.int64(10), noise=0)
    assert X.shape == (10, 2)
    split = data.Split(
        np.array([[0.0, 1.0], [2.0, 3.0]]), np.array([0, 1]), np.array([[1.0, 2.0]]), np.array([1])
    )
    out = data.standardize(split, 0)
    np.testing.assert_allclose(out.X_train, [[-1.0, -1.0], [1.0, 1.0]])
    np.testing.assert_allclose(out.X_test, [[0.0, 0.0]])
    assert data.load_digits(0.001).y_test.shape == (2,)
