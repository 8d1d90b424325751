"""BatchNorm1d and BatchNorm2d: gradients, PyTorch's numbers, running statistics, state.

The PyTorch comparison runs on every test run against ``tests/data/torch_batchnorm.npz``
(recorded by ``tools/torch_reference.py``, whose docstring says how to regenerate it),
and also live, on fresh inputs, wherever torch can be imported.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

import numpy as np
import pytest

from dlkit import checkpoint, nn
from dlkit.optim import Adam, SGD
from dlkit.train import fit

ROOT = Path(__file__).resolve().parent.parent
RECORDED = ROOT / "tests" / "data" / "torch_batchnorm.npz"

#: Training mode is smooth but not linear: a step of 3e-5 balances truncation and
#: round-off. Evaluation mode is an affine map, so a large step has no truncation error.
#: (check_layer's error is elementwise, so the smallest entries of ∇_Z 𝓛 set it; the
#: exact-Jacobian test below checks the same gradient to 1e-12.)
H_TRAIN, H_EVAL = 3e-5, 1e-2


def _x(shape, seed=0, loc=0.0, scale=1.0):
    return loc + scale * np.random.default_rng(seed).standard_normal(shape)


def _layer(kind: str, C: int, seed: int = 0, **kw):
    layer = (nn.BatchNorm1d if kind == "1d" else nn.BatchNorm2d)(C, **kw)
    g = np.random.default_rng(100 + seed)
    if layer.affine:
        layer.w.data[...] = 1 + 0.5 * g.standard_normal(C)
        layer.b.data[...] = 0.5 * g.standard_normal(C)
    return layer


SHAPES = {"1d": (6, 4), "2d": (3, 2, 2, 2)}
#: Inputs are drawn from seed 50 + s, never from check_layer's own seed s: its random
#: upstream gradient would then be an affine function of the input, for which batch
#: normalisation's input gradient is almost exactly zero.


# ----------------------------------------------------------------------- gradients


@pytest.mark.parametrize("kind", ["1d", "2d"])
@pytest.mark.parametrize("seed", range(5))
def test_gradient_check_in_training_mode(kind, seed):
    shape = SHAPES[kind]
    layer = _layer(kind, shape[1], seed)
    result = nn.check_layer(layer, _x(shape, 50 + seed, 1.0, 2.0), seed=seed, h=H_TRAIN)
    assert set(result.errors) == {"x", "w", "b"}
    assert result.max_error < 1e-7, result


@pytest.mark.parametrize("kind", ["1d", "2d"])
@pytest.mark.parametrize("seed", range(5))
def test_gradient_check_in_evaluation_mode(kind, seed):
    shape = SHAPES[kind]
    layer = _layer(kind, shape[1], seed)
    g = np.random.default_rng(seed)
    layer.running_mean[...] = g.standard_normal(shape[1])
    layer.running_var[...] = 0.5 + g.random(shape[1])
    layer.eval()
    result = nn.check_layer(layer, _x(shape, 50 + seed), seed=seed, h=H_EVAL)
    assert result.max_error < 1e-7, result


@pytest.mark.parametrize("kind", ["1d", "2d"])
def test_gradient_check_without_affine_parameters(kind):
    shape = SHAPES[kind]
    layer = _layer(kind, shape[1], affine=False)
    assert layer.parameters() == [] and layer.named_parameters() == []
    result = nn.check_layer(layer, _x(shape, 53), seed=3, h=H_TRAIN)
    assert list(result.errors) == ["x"] and result.max_error < 1e-7, result


@pytest.mark.parametrize("kind, shape", [("1d", (7, 3)), ("2d", (3, 2, 4, 5))])
def test_input_gradient_equals_the_exact_jacobian(kind, shape):
    """∇_Z 𝓛 = Jᵀ ∇_U 𝓛 with the Jacobian of one unit written out as a matrix:
    ∂U_a/∂Z_c = w/√(var + ε) · (δ_ac − 1/N − Ẑ_a Ẑ_c / N)."""
    C = shape[1]
    layer = _layer(kind, C, 1)
    x, dU = _x(shape, 1, 0.5, 3.0), _x(shape, 2)
    layer.forward(x)
    dx = layer.backward(dU)
    move = (lambda a: a) if kind == "1d" else (lambda a: np.moveaxis(a, 1, -1).reshape(-1, C))
    z, d, got = move(x), move(dU), move(dx)
    for c in range(C):
        N = len(z)
        s = 1 / np.sqrt(z[:, c].var() + layer.eps)
        zhat = (z[:, c] - z[:, c].mean()) * s
        J = layer.w.data[c] * s * (np.eye(N) - 1 / N - np.outer(zhat, zhat) / N)
        np.testing.assert_allclose(got[:, c], J.T @ d[:, c], rtol=1e-12, atol=1e-13)


# ------------------------------------------------------------------------ PyTorch


def _run_case(rec, case: str) -> dict[str, list[np.ndarray]]:
    """dlkit's arrays for one recorded case: the same steps as tools/torch_reference.py."""
    x = rec[f"{case}/x"]
    kind = "1d" if x.ndim == 3 else "2d"
    C = x.shape[2]
    layer = (nn.BatchNorm1d if kind == "1d" else nn.BatchNorm2d)(
        C, eps=float(rec[f"{case}/eps"]), momentum=float(rec[f"{case}/momentum"])
    )
    layer.w.data[...] = rec[f"{case}/w"]
    layer.b.data[...] = rec[f"{case}/b"]
    got: dict[str, list[np.ndarray]] = {}
    steps = len(x)
    for t in range(steps):
        layer.train(t < steps - 1)  # the last step is in evaluation mode
        out = layer.forward(x[t])
        dx = layer.backward(rec[f"{case}/dout"][t])
        for k, v in (
            ("out", out),
            ("dx", dx),
            ("dw", layer.w.grad),
            ("db", layer.b.grad),
            ("running_mean", layer.running_mean),
            ("running_var", layer.running_var),
        ):
            got.setdefault(k, []).append(v.copy())
    return got


def _compare(rec, cases) -> int:
    compared = 0
    for case in cases:
        got = _run_case(rec, case)
        for k, values in got.items():
            want = rec[f"{case}/{k}"]
            for t, v in enumerate(values):
                np.testing.assert_allclose(
                    v, want[t], rtol=1e-10, atol=1e-14, err_msg=f"{case} {k} step {t}"
                )
                compared += 1
    return compared


def _cases(rec) -> list[str]:
    return sorted({k.split("/")[0] for k in rec if "/" in k})


def test_recorded_pytorch_numbers_are_reproduced():
    with np.load(RECORDED, allow_pickle=False) as f:
        rec = {k: f[k] for k in f.files}
    cases = _cases(rec)
    assert {"bn1d", "bn1d_custom", "bn2d"} <= set(cases)
    assert str(rec["torch_version"]).startswith("2.")
    assert float(rec["bn1d/eps"]) == 1e-5 and float(rec["bn1d/momentum"]) == 0.1
    # 3 training steps and 1 evaluation step, 6 arrays each, for every case
    assert _compare(rec, cases) == len(cases) * 4 * 6
    assert RECORDED.stat().st_size < 32_000


def test_live_pytorch_comparison_on_fresh_inputs():
    pytest.importorskip("torch")
    spec = importlib.util.spec_from_file_location(
        "torch_reference", ROOT / "tools" / "torch_reference.py"
    )
    tool = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(tool)
    rec = tool.record(seed=12345)
    assert _compare(rec, _cases(rec)) > 0


# --------------------------------------------------------------- the statistics


def test_training_output_is_standardised_then_scaled_and_shifted():
    layer = _layer("1d", 3)
    Z = _x((50, 3), 4, 2.0, 5.0)
    U = layer.forward(Z)
    np.testing.assert_allclose(U.mean(axis=0), layer.b.data, atol=1e-12)
    var = Z.var(axis=0)
    np.testing.assert_allclose(U.var(axis=0), layer.w.data**2 * var / (var + 1e-5), rtol=1e-12)


def test_running_statistics_use_momentum_and_the_unbiased_variance():
    layer = nn.BatchNorm2d(2, momentum=0.25)
    np.testing.assert_array_equal(layer.running_mean, [0, 0])
    np.testing.assert_array_equal(layer.running_var, [1, 1])
    x = _x((3, 2, 2, 5), 5, 1.0, 2.0)
    layer.forward(x)
    per_channel = np.moveaxis(x, 1, 0).reshape(2, -1)  # 30 values per channel
    np.testing.assert_allclose(layer.running_mean, 0.25 * per_channel.mean(axis=1), rtol=1e-13)
    np.testing.assert_allclose(
        layer.running_var, 0.75 + 0.25 * per_channel.var(axis=1, ddof=1), rtol=1e-13
    )
    before = layer.running_mean.copy()
    layer.eval().forward(x)  # evaluation never moves them
    np.testing.assert_array_equal(layer.running_mean, before)


def test_evaluation_mode_uses_the_running_statistics():
    layer = _layer("1d", 4)
    for seed in range(20):
        layer.forward(_x((16, 4), seed, 3.0, 2.0))
    layer.eval()
    Z = _x((5, 4), 99)
    want = (Z - layer.running_mean) / np.sqrt(layer.running_var + 1e-5) * layer.w.data
    np.testing.assert_allclose(layer.forward(Z), want + layer.b.data, rtol=1e-13)
    one = layer.forward(Z[:1])  # a single example is fine in evaluation mode
    np.testing.assert_allclose(one, layer.forward(Z)[:1], rtol=1e-15)


def test_float32_layer_computes_in_float32():
    x = _x((8, 3), 6, 1.0, 3.0)
    l32, l64 = nn.BatchNorm1d(3, dtype=np.float32), nn.BatchNorm1d(3)
    out32, out64 = l32.forward(x), l64.forward(x)
    assert out32.dtype == np.float32 and l32.running_var.dtype == np.float32
    np.testing.assert_allclose(out32, out64, rtol=1e-5, atol=1e-5)
    d = _x((8, 3), 7)
    dx32 = l32.backward(d.astype(np.float32))
    assert dx32.dtype == np.float32 and l32.w.grad.dtype == np.float32
    np.testing.assert_allclose(dx32, l64.backward(d), rtol=1e-4, atol=1e-5)


def test_mlp_with_batchnorm_trains():
    g = np.random.default_rng(0)
    X = g.standard_normal((64, 5))
    y = (X[:, 0] + X[:, 1] > 0).astype(np.int64)
    model = nn.Sequential(
        nn.Linear(5, 16, seed=0), nn.BatchNorm1d(16), nn.ReLU(), nn.Linear(16, 2, seed=1)
    )
    hist = fit(model, nn.CrossEntropyLoss(), Adam(model, lr=0.01), X, y, epochs=30, batch_size=16)
    assert hist.loss[-1] < 0.5 * hist.loss[0] and hist.accuracy[-1] > 0.9
    assert not model.training  # fit scores in evaluation mode
    assert np.abs(model[1].running_mean).max() > 0


# -------------------------------------------------------------------- bad input


@pytest.mark.parametrize(
    "make, x, phrase",
    [
        (
            lambda: nn.BatchNorm1d(3),
            np.ones((1, 3)),
            r"training mode got 1 value per feature.*\.eval\(\)",
        ),
        (lambda: nn.BatchNorm1d(3), np.ones((0, 3)), r"got 0 values per feature"),
        (lambda: nn.BatchNorm2d(2), np.ones((1, 2, 1, 1)), r"1 value per channel.*batch of 2"),
        (lambda: nn.BatchNorm1d(3), np.ones((4, 5)), r"5 features on axis 1, but it normalises 3"),
        (lambda: nn.BatchNorm1d(3), np.ones((2, 3, 4, 4)), r"use BatchNorm2d\(3\)"),
        (lambda: nn.BatchNorm1d(3), np.ones(3), r"needs \(N, 3\)"),
        (lambda: nn.BatchNorm2d(3), np.ones((4, 3)), r"use BatchNorm1d\(3\)"),
        (lambda: nn.BatchNorm2d(3), np.ones((2, 4, 4, 3)), r"channels-last"),
        (lambda: nn.BatchNorm2d(3), np.ones((3, 4, 4)), r"batch axis"),
        (lambda: nn.BatchNorm1d(2), np.array([[1.0, np.nan], [0, 0]]), r"non-finite"),
    ],
)
def test_bad_input_is_refused_with_a_hint(make, x, phrase):
    layer = make()
    with pytest.raises(ValueError, match=phrase) as info:
        layer.forward(x)
    assert repr(layer) in str(info.value)


def test_evaluation_mode_accepts_one_example_and_an_empty_batch():
    layer = nn.BatchNorm1d(3).eval()
    assert layer.forward(np.ones((1, 3))).shape == (1, 3)
    assert layer.forward(np.ones((0, 3))).shape == (0, 3)


@pytest.mark.parametrize(
    "kwargs, exc, phrase",
    [
        ({"eps": 0}, ValueError, r"eps must lie in \(0, inf\)"),
        ({"eps": -1e-5}, ValueError, "eps must lie"),
        ({"eps": "1e-5"}, TypeError, "eps must be a real number"),
        ({"momentum": 1.5}, ValueError, r"momentum must lie in \[0, 1\]"),
        ({"momentum": None}, TypeError, "momentum must be a real number"),
        ({"momentum": float("nan")}, ValueError, "momentum must lie"),
        ({"affine": 1}, TypeError, "affine must be True or False"),
        ({"dtype": np.int64}, TypeError, "dtype must be a floating dtype"),
    ],
)
def test_bad_hyper_parameters_are_refused(kwargs, exc, phrase):
    for cls in (nn.BatchNorm1d, nn.BatchNorm2d):
        with pytest.raises(exc, match=phrase):
            cls(4, **kwargs)


@pytest.mark.parametrize("bad", [0, -2, 2.0, True, None, "4"])
def test_num_features_must_be_a_positive_int(bad):
    with pytest.raises((TypeError, ValueError), match="num_features"):
        nn.BatchNorm1d(bad)


def test_repr_shows_what_differs_from_the_defaults():
    assert repr(nn.BatchNorm1d(8)) == "BatchNorm1d(8)"
    assert repr(nn.BatchNorm2d(3, eps=1e-3, momentum=0.2, affine=False)) == (
        "BatchNorm2d(3, eps=0.001, momentum=0.2, affine=False)"
    )


# ------------------------------------------------------------------------- state


def test_state_dict_holds_the_running_statistics():
    layer = _layer("2d", 3)
    layer.forward(_x((4, 3, 2, 2), 8))
    state = layer.state_dict()
    assert sorted(state) == ["b", "running_mean", "running_var", "w"]
    fresh = nn.BatchNorm2d(3)
    fresh.load_state_dict(state)
    for k, a in fresh.state_dict().items():
        np.testing.assert_array_equal(a, state[k])
    state["running_var"][...] = 7  # copies, not views
    assert not np.any(layer.running_var == 7)
    with pytest.raises(KeyError, match=r"missing \['running_var'\]"):
        fresh.load_state_dict({k: v for k, v in state.items() if k != "running_var"})
    with pytest.raises(ValueError, match="running_mean: saved shape"):
        fresh.load_state_dict({**state, "running_mean": np.zeros(4)})


def test_optimizers_never_touch_the_running_statistics():
    layer = _layer("1d", 3)
    assert [p.name for p in layer.parameters()] == ["w", "b"]
    opt = SGD(layer, lr=0.5, weight_decay=0.1)
    layer.forward(_x((6, 3), 9))
    layer.backward(_x((6, 3), 10))
    before = layer.running_var.copy()
    opt.step()
    np.testing.assert_array_equal(layer.running_var, before)


def _bn_model(seed: int):
    return nn.Sequential(
        nn.Linear(8, 16, seed=seed),
        nn.BatchNorm1d(16),
        nn.ReLU(),
        nn.Dropout(0.2, seed=seed + 1),
        nn.Linear(16, 3, seed=seed + 2),
    )


def test_sequential_state_dict_holds_the_running_statistics():
    model = _bn_model(0)
    model.forward(_x((5, 8), 11))
    state = model.state_dict()
    assert {"1.running_mean", "1.running_var", "1.w", "1.b"} <= set(state)
    fresh = _bn_model(7)
    fresh.load_state_dict(state)
    np.testing.assert_array_equal(fresh[1].running_mean, model[1].running_mean)


@pytest.mark.parametrize("opt_name", ["sgd", "adam"])
def test_resume_with_batchnorm_is_bit_identical(opt_name, tmp_path):
    """As tests/test_resume.py: 4 epochs straight == 2 epochs, a checkpoint, and 2 more
    epochs in fresh objects built from other seeds."""
    from dlkit.optim import OPTIMIZERS

    g = np.random.default_rng(0)
    X, y = g.standard_normal((24, 8)), np.arange(24) % 3
    loss = nn.CrossEntropyLoss()

    def build(seed):
        model = _bn_model(seed)
        return model, OPTIMIZERS[opt_name](model.parameters(), lr=0.01)

    model_a, opt_a = build(0)
    hist_a = fit(model_a, loss, opt_a, X, y, epochs=4, batch_size=8, seed=3)
    ckpt = tmp_path / "bn.npz"
    model_b, opt_b = build(0)
    fit(model_b, loss, opt_b, X, y, epochs=2, batch_size=8, seed=3, checkpoint=ckpt)
    model_c, opt_c = build(50)
    hist_c = fit(
        model_c, loss, opt_c, X, y, epochs=4, batch_size=8, seed=3, checkpoint=ckpt, resume=True
    )
    for (k, a), (_, c) in zip(model_a.state_dict().items(), model_c.state_dict().items()):
        assert np.array_equal(a, c), k
    assert hist_c.step_loss == hist_a.step_loss and hist_c.accuracy == hist_a.accuracy
    model_a.eval(), model_c.eval()
    assert np.array_equal(model_a.forward(X), model_c.forward(X))
    fresh = _bn_model(9)
    checkpoint.load(ckpt, fresh)  # the resumed run rewrote the file after epoch 4
    np.testing.assert_array_equal(fresh[1].running_var, model_a[1].running_var)
    assert not np.array_equal(fresh[1].running_var, np.ones(16))
