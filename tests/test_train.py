"""Mini-batches, fit, history, accuracy, confusion matrix, divergence detection."""

import numpy as np
import pytest

from dlkit import nn
from dlkit.data import load_digits
from dlkit.optim import SGD, Adam
from dlkit.train import DivergenceError, History, accuracy, batches, confusion_matrix, fit, predict


def test_batches_cover_data_once_in_seeded_order():
    X = np.arange(10)[:, None]
    y = np.arange(10)
    got = list(batches(X, y, 4, seed=3))
    assert [len(b[1]) for b in got] == [4, 4, 2]
    seen = np.concatenate([b[1] for b in got])
    assert sorted(seen) == list(range(10)) and list(seen) != list(range(10))
    again = np.concatenate([b[1] for b in batches(X, y, 4, seed=3)])
    np.testing.assert_array_equal(seen, again)
    for xb, yb in got:
        np.testing.assert_array_equal(xb[:, 0], yb)
    with pytest.raises(ValueError, match="batch_size"):
        list(batches(X, y, 0))
    with pytest.raises(ValueError, match="examples"):
        list(batches(X, y[:5], 2))


def test_accuracy_and_confusion_matrix():
    y = np.array([0, 1, 2, 2, 1])
    scores = np.array([[3, 1, 0], [0, 2, 1], [0, 3, 1], [0, 0, 1], [5, 0, 0]], float)
    assert accuracy(scores, y) == pytest.approx(0.6)
    C = confusion_matrix(y, scores)
    np.testing.assert_array_equal(C, [[1, 0, 0], [1, 1, 0], [0, 1, 1]])
    assert C.trace() / C.sum() == pytest.approx(accuracy(scores, y))
    np.testing.assert_array_equal(predict(scores), [0, 1, 1, 2, 0])
    assert confusion_matrix(y, predict(scores), num_classes=4).shape == (4, 4)
    with pytest.raises(ValueError, match="integer"):
        confusion_matrix(y, y.astype(float))


def test_fit_learns_digits_and_records_history():
    X, y, Xt, yt = load_digits()
    net = nn.mlp([64, 32, 10], "relu", seed=0)
    hist = fit(
        net,
        nn.CrossEntropyLoss(),
        Adam(net.parameters(), lr=3e-3),
        X,
        y,
        epochs=8,
        batch_size=32,
        seed=0,
        val=(Xt, yt),
    )
    assert len(hist.loss) == len(hist.accuracy) == len(hist.val_accuracy) == 8
    assert len(hist.step_loss) == 8 * int(np.ceil(len(X) / 32))
    assert hist.loss[-1] < hist.loss[0] / 4
    assert hist.val_accuracy[-1] >= 0.93
    assert History.from_arrays(hist.as_arrays()) == hist


def test_fit_is_reproducible_and_progress_bar_runs(capsys):
    X, y, _, _ = load_digits()
    ws = []
    for progress in (False, True):
        net = nn.mlp([64, 16, 10], "tanh", seed=1)
        fit(
            net,
            nn.CrossEntropyLoss(),
            SGD(net.parameters(), lr=0.1),
            X,
            y,
            epochs=2,
            batch_size=64,
            seed=5,
            progress=progress,
        )
        ws.append(net[0].W.data.copy())
    np.testing.assert_array_equal(ws[0], ws[1])
    assert "fit" in capsys.readouterr().err  # tqdm writes its bar to stderr


def test_fit_old_signature_still_works():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    y = np.array([0, 1, 1, 0])
    net = nn.mlp([2, 8, 2], "tanh", seed=0)
    hist = fit(net, nn.CrossEntropyLoss(), SGD(net.parameters(), lr=0.5), X, y, epochs=300)
    assert hist.accuracy[-1] == 1.0


def test_divergence_names_step_layer_and_fix():
    X, y, _, _ = load_digits()
    net = nn.mlp([64, 32, 1], "relu", seed=0)
    with np.errstate(all="ignore"), pytest.raises(DivergenceError) as err:
        fit(
            net,
            nn.MSELoss(),
            SGD(net.parameters(), lr=20.0),
            X,
            y.astype(float),
            epochs=5,
            batch_size=32,
        )
    msg = str(err.value)
    assert "at step" in msg and "layer" in msg and "Linear(" in msg
    assert "lower the learning rate" in msg.lower() and "lr=2" in msg
    step = int(msg.split("at step ")[1].split()[0])
    assert 1 < step <= 5 * 43


def test_divergence_inside_the_network_is_reported_too():
    """A NaN activation (caught by check_array) after a bad update becomes a DivergenceError."""
    X, y, _, _ = load_digits()
    net = nn.mlp([64, 16, 10], "relu", seed=0)

    class Exploding(SGD):
        def step(self):
            super().step()
            if self.t == 3:
                net[0].W.data[0, 0] = np.inf
                net[0].W.grad[0, 0] = np.inf

    with np.errstate(all="ignore"), pytest.raises(DivergenceError, match="step 4 .*layer 0"):
        fit(
            net,
            nn.CrossEntropyLoss(),
            Exploding(net.parameters(), lr=0.1),
            X,
            y,
            epochs=1,
            batch_size=64,
        )


def test_bad_data_is_not_called_divergence():
    X, y, _, _ = load_digits()
    X = X.copy()
    X[5, 3] = np.nan
    net = nn.mlp([64, 16, 10], "relu", seed=0)
    with pytest.raises(ValueError, match="non-finite input") as err:
        fit(
            net, nn.CrossEntropyLoss(), SGD(net.parameters(), lr=0.1), X, y, epochs=1, batch_size=64
        )
    assert not isinstance(err.value, DivergenceError)


def test_training_memory_counts_every_array():
    from dlkit.train import training_memory

    net = nn.mlp([784, 100, 10], "relu", seed=0, dtype=np.float32)
    X = np.zeros((32, 784), np.float32)
    m = training_memory(net, X, np.zeros(32, np.int64), nn.CrossEntropyLoss())
    assert m.D == 32 * 4 * (784 + 100 + 100 + 10)  # Linear, ReLU, Linear inputs + output
    assert m.dD == m.D
    assert m.W == m.dW == 4 * (784 * 100 + 100 + 100 * 10 + 10)
    assert m.total == m.D + m.W + m.dD + m.dW
    assert m.W + m.dW + m.D < m.peak < m.total  # measured: ∇D is transient


def test_gradient_norms_match_numpy():
    from dlkit.train import gradient_norms

    X, y, _, _ = load_digits()
    net = nn.mlp([64, 8, 10], "tanh", seed=0)
    loss = nn.CrossEntropyLoss()
    loss.forward(net.forward(X[:50]), y[:50])
    net.backward(loss.backward())
    norms = gradient_norms(net)
    assert set(norms) == {"0.W", "0.b", "2.W", "2.b"}
    assert norms["2.W"] == pytest.approx(np.linalg.norm(net[2].W.grad))


def test_sigmoid_gradients_vanish_relu_ones_do_not():
    from dlkit.viz import backprop as vb

    sig = vb.layer_gradient_norms("sigmoid", depth=8, init="xavier")
    relu = vb.layer_gradient_norms("relu", depth=8, init="he")
    assert sig[-1] / sig[0] > 1e3 and relu[-1] / relu[0] < 10


def test_voting_network_rule():
    from dlkit.nn.voting import VotingNetwork

    net = VotingNetwork(4, 3, threshold=0.5)
    net.W[...] = [[1, 0, -1, 2], [0, 1, 1, 0], [2, -1, 0, 0]]
    x = np.array([0.9, 0.1, 0.7, 0.6])  # active pixels 0, 2, 3
    assert net.train_step(x, 1) is False  # scores (2, 1, 2): guess 0
    np.testing.assert_array_equal(net.W, [[0, 0, -2, 1], [1, 1, 2, 1], [2, -1, 0, 0]])
    before = net.W.copy()
    assert net.train_step(x, 1) is True  # now class 1 wins: no change
    np.testing.assert_array_equal(net.W, before)


def test_digits_accuracies_of_chapter_6():
    from dlkit.nn.voting import train_voting
    from dlkit.train import train_mlp

    split = load_digits()
    _, _, voter_test = train_voting(split, epochs=20, threshold=0.25, seed=0)
    assert voter_test >= 0.85
    run = train_mlp(split, hidden=(100,), optimizer="sgd", lr=0.1, epochs=20, seed=0)
    assert run.test_accuracy >= 0.97
    C = confusion_matrix(split.y_test, run.scores)
    assert C.trace() / C.sum() == run.test_accuracy


def test_chapter_6_exercise_checks(capsys):
    from dlkit.exercises import ch06

    W = ch06.VOTING_W.copy()
    W[1] += ch06.VOTING_X
    W[0] -= ch06.VOTING_X
    assert ch06.check_voting_update(0, W)
    assert not ch06.check_voting_update(2, W)
    assert not ch06.check_voting_update(0, ch06.VOTING_W)
    C = np.array([[5, 1], [2, 7]])
    assert ch06.check_recall(C, 1, 7 / 9)
    assert not ch06.check_recall(C, 1, 7 / 8)
    assert not ch06.check_digits_model(nn.mlp([64, 10], seed=0))
    assert capsys.readouterr().out.count("Correct:") == 2


def test_training_utilities_reachable_from_nn():
    import dlkit.train

    assert nn.fit is dlkit.train.fit and nn.batches is dlkit.train.batches
    assert nn.confusion_matrix is confusion_matrix and nn.History is History
    with pytest.raises(AttributeError, match="no attribute"):
        nn.not_a_thing


# -- fit, evaluate, batches and the metrics check what they are given ----------------------


def _xor():
    X = np.array([[0, 0], [0, 1], [1, 0], [1, 1]], float)
    return X, np.array([0, 1, 1, 0])


def test_fit_refuses_an_optimizer_of_another_model():
    X, y = _xor()
    net, other = nn.mlp([2, 4, 2], seed=0), nn.mlp([2, 4, 2], seed=1)
    before = net[0].W.data.copy()
    with pytest.raises(
        ValueError,
        match=r"does not update this model's parameters.*"
        r"\['0.W', '0.b', '2.W', '2.b'\].*SGD\(model",
    ):
        fit(net, nn.CrossEntropyLoss(), SGD(other.parameters(), lr=0.1), X, y)
    with pytest.raises(ValueError, match=r"model's \['2.W', '2.b'\] are not in it"):
        fit(net, nn.CrossEntropyLoss(), SGD(net[0].parameters(), lr=0.1), X, y)
    np.testing.assert_array_equal(net[0].W.data, before)


@pytest.mark.parametrize(
    "kw, exc, phrase",
    [
        ({"batch_size": 0}, ValueError, "batch_size must be an int >= 1, got batch_size=0"),
        ({"batch_size": -3}, ValueError, "batch_size must be an int >= 1"),
        ({"batch_size": True}, TypeError, r"batch_size must be an int >= 1, got True \(bool\)"),
        ({"batch_size": 2.0}, TypeError, r"got 2.0 \(float\)"),
        ({"epochs": 0}, ValueError, "epochs must be an int >= 1, got epochs=0"),
        ({"epochs": True}, TypeError, "epochs must be an int"),
        ({"epochs": 2.5}, TypeError, "epochs must be an int"),
        ({"start_epoch": -1}, ValueError, "start_epoch must be an int >= 0"),
        ({"seed": 1.5}, TypeError, "seed must be an int"),
        ({"seed": np.random.default_rng(0)}, TypeError, "seed must be an int"),
        (
            {"val": (np.zeros((3, 2)), np.zeros(2, int))},
            ValueError,
            r"fit\(val=...\): X has 3 examples but y has 2",
        ),
        ({"val": np.zeros((3, 2))}, TypeError, "val must be a pair"),
        ({"callback": 3}, TypeError, "callback must be callable"),
        ({"history": {}}, TypeError, "history must be a History"),
    ],
)
def test_fit_refuses_bad_arguments_by_name(kw, exc, phrase):
    X, y = _xor()
    net = nn.mlp([2, 4, 2], seed=0)
    with pytest.raises(exc, match=phrase):
        fit(net, nn.CrossEntropyLoss(), SGD(net.parameters(), lr=0.1), X, y, **kw)


def test_fit_refuses_empty_or_mismatched_data_and_wrong_objects():
    X, y = _xor()
    net = nn.mlp([2, 4, 2], seed=0)
    opt = SGD(net.parameters(), lr=0.1)
    loss = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"fit: got no examples \(X has shape \(0, 2\)\)"):
        fit(net, loss, opt, X[:0], y[:0])
    with pytest.raises(ValueError, match="fit: X has 4 examples but y has 3; pass one target"):
        fit(net, loss, opt, X, y[:3])
    with pytest.raises(TypeError, match="X must be a numpy array"):
        fit(net, loss, opt, X.tolist(), y)
    with pytest.raises(TypeError, match="model must be a dlkit Layer"):
        fit("net", loss, opt, X, y)
    with pytest.raises(TypeError, match="loss_fn must be a dlkit loss"):
        fit(net, "ce", opt, X, y)
    with pytest.raises(TypeError, match="optimizer must have step"):
        fit(net, loss, None, X, y)
    assert opt.t == 0


def test_fit_refuses_a_folder_as_checkpoint(tmp_path):
    X, y = _xor()
    net = nn.mlp([2, 4, 2], seed=0)
    with pytest.raises(
        ValueError,
        match=f"{tmp_path} is a folder; pass a file name inside it, e.g. .*checkpoint.npz",
    ):
        fit(net, nn.CrossEntropyLoss(), SGD(net.parameters(), lr=0.1), X, y, checkpoint=tmp_path)
    assert list(tmp_path.parent.glob(f"{tmp_path.name}.npz")) == []  # nothing written beside


def test_accuracy_checks_labels_against_scores():
    with pytest.raises(
        ValueError,
        match=r"scores of shape \(5, 3\) are for 5 examples but y "
        "holds 1 labels",
    ):
        accuracy(np.eye(5, 3), np.array([1]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\) .* got labels in \[0, 3\]"):
        accuracy(np.eye(4, 3), np.array([0, 1, 2, 3]))
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\)"):
        accuracy(np.eye(3), np.array([-1, 1, 2]))
    with pytest.raises(ValueError, match="integer class labels"):
        accuracy(np.eye(3), np.array([0.5, 1, 2]))
    with pytest.raises(ValueError, match="accuracy: got no examples"):
        accuracy(np.zeros((0, 3)), np.zeros(0, int))
    with pytest.raises(ValueError, match=r"\(N, K\) class scores"):
        accuracy(np.zeros((2, 3, 4)), np.zeros(2, int))
    with pytest.raises(TypeError, match="scores must be real numbers"):
        accuracy(np.array(["a", "b"]), np.zeros(2, int))
    # what still works: float labels that are whole numbers, one-hot targets, binary scores
    assert accuracy(np.eye(3), np.array([0.0, 1.0, 1.0])) == pytest.approx(2 / 3)
    assert accuracy(np.eye(3)[[0, 1, 2, 2]], np.eye(3)[[0, 1, 2, 0]]) == 0.75
    assert accuracy(np.array([[0.9], [0.2], [0.7]]), np.array([1, 0, 0])) == pytest.approx(2 / 3)


def test_predict_confusion_matrix_and_evaluate_refuse_empty_or_mismatched_input():
    with pytest.raises(ValueError, match="predict: got no examples"):
        predict(np.zeros((0, 4)))
    with pytest.raises(ValueError, match="confusion_matrix: got no examples"):
        confusion_matrix(np.zeros(0, int), np.zeros(0, int))
    with pytest.raises(ValueError, match="3 labels but 2 predictions"):
        confusion_matrix(np.array([0, 1, 1]), np.array([0, 1]))
    with pytest.raises(ValueError, match="num_classes=2"):
        confusion_matrix(np.array([0, 2]), np.array([0, 1]), num_classes=2)
    with pytest.raises(TypeError, match="num_classes must be an int"):
        confusion_matrix(np.array([0, 1]), np.array([0, 1]), num_classes=2.0)
    from dlkit.train import evaluate

    net = nn.mlp([2, 3], seed=0)
    with pytest.raises(ValueError, match="evaluate: X has 4 examples but y has 2"):
        evaluate(net, nn.CrossEntropyLoss(), np.zeros((4, 2)), np.zeros(2, int))
    with pytest.raises(ValueError, match="evaluate: got no examples"):
        evaluate(net, nn.CrossEntropyLoss(), np.zeros((0, 2)), np.zeros(0, int))


def test_batches_refuses_bools_and_empty_data():
    X, y = _xor()
    with pytest.raises(TypeError, match="batch_size must be an int >= 1, got True"):
        list(batches(X, y, True))
    with pytest.raises(ValueError, match="batches: got no examples"):
        list(batches(X[:0], y[:0], 2))
    assert [len(b) for b, _ in batches(X, y, np.int64(3))] == [3, 1]


def test_metrics_refuse_missing_labels_nan_scores_and_column_labels():
    with pytest.raises(TypeError, match="y must hold numbers"):
        accuracy(np.eye(3), None)
    with pytest.raises(ValueError, match="scores hold NaN or inf"):
        accuracy(np.full((3, 3), np.nan), np.arange(3))
    with pytest.raises(ValueError, match="scores hold NaN or inf"):
        predict(np.where(np.eye(3) > 0, np.inf, 0.0))
    with pytest.raises(
        ValueError,
        match=r"y must be labels \(N,\) or one-hot \(N, 3\).*"
        r"got shape \(5, 1\); use y.reshape\(-1\)",
    ):
        accuracy(np.eye(5, 3), np.array([[1, 2, 0, 1, 2]]).T)
    # binary scores still take (N, 1) targets, as BCELoss does
    assert accuracy(np.array([[0.9], [0.1]]), np.array([[1.0], [0.0]])) == 1.0


def test_gradient_norms_and_epoch_seed_check_their_arguments():
    from dlkit.train import epoch_seed, gradient_norms

    with pytest.raises(TypeError, match="gradient_norms needs a dlkit Layer"):
        gradient_norms(None)
    with pytest.raises(TypeError, match="epoch_seed: seed must be an int"):
        epoch_seed("a", 1)
    with pytest.raises(TypeError, match="epoch_seed: seed must be an int"):
        epoch_seed(None, 1)
    assert epoch_seed(7, 2) == 7 * 100003 + 2


def test_optimizer_refuses_things_that_are_not_parameters():
    from dlkit.optim import Adam

    for bad in (None, 5, "abc"):
        with pytest.raises(TypeError, match="optimizer needs the model's parameters"):
            Adam(bad)


def test_train_mlp_checks_its_split():
    from dlkit.data.digits import Split
    from dlkit.train import train_mlp

    with pytest.raises(TypeError, match="train_mlp: split must be a Split with X_train"):
        train_mlp(None)
    with pytest.raises(TypeError, match="split must be a Split"):
        train_mlp((np.zeros((4, 2)), np.zeros(4, int), np.zeros((2, 2)), np.zeros(2, int)))
    empty = Split(np.zeros((0, 4)), np.zeros(0, int), np.zeros((2, 4)), np.zeros(2, int))
    with pytest.raises(ValueError, match=r"train_mlp \(train split\): got no examples"):
        train_mlp(empty)
    images = Split(np.zeros((3, 1, 2, 2)), np.zeros(3, int), np.zeros((2, 4)), np.zeros(2, int))
    with pytest.raises(ValueError, match="an MLP needs flat rows"):
        train_mlp(images)
    floats = Split(np.zeros((3, 4)), np.zeros(3), np.zeros((2, 4)), np.zeros(2, int))
    with pytest.raises(TypeError, match="the train labels have dtype float64"):
        train_mlp(floats)
    short = Split(np.zeros((3, 4)), np.zeros(3, int), np.zeros((2, 4)), np.zeros(3, int))
    with pytest.raises(ValueError, match=r"\(test split\): X has 2 examples but y has 3"):
        train_mlp(short)


# -- the layering: where the training names live, predict written once, fit on one screen --


def test_moved_training_names_resolve_to_the_objects_of_dlkit_train():
    import dlkit.train

    assert set(nn._MOVED) == {
        "batches",
        "fit",
        "History",
        "accuracy",
        "confusion_matrix",
        "evaluate",
        "DivergenceError",
    }
    for name, home in nn._MOVED.items():
        assert home == "dlkit.train"
        assert getattr(nn, name) is getattr(dlkit.train, name), name
        assert name in dir(nn)
    from dlkit.nn import fit as nn_fit

    assert nn_fit is fit


def _module_level_imports(path) -> set[str]:
    """The dlkit modules `path` imports outside functions (``from x import y`` gives x
    and x.y)."""
    import ast

    tree = ast.parse(path.read_text(encoding="utf-8"))
    found: set[str] = set()

    def visit(node) -> None:
        for child in ast.iter_child_nodes(node):
            if isinstance(child, (ast.FunctionDef, ast.AsyncFunctionDef, ast.Lambda)):
                continue
            if isinstance(child, ast.Import):
                found.update(a.name for a in child.names)
            elif isinstance(child, ast.ImportFrom) and child.module:
                found.add(child.module)
                found.update(f"{child.module}.{a.name}" for a in child.names)
            visit(child)

    visit(tree)
    return {m for m in found if m.startswith("dlkit")}


def test_nn_and_checkpoint_do_not_import_train():
    from pathlib import Path

    import dlkit

    root = Path(dlkit.__file__).parent
    assert "dlkit.train" not in _module_level_imports(root / "nn" / "__init__.py")
    text = (root / "checkpoint.py").read_text(encoding="utf-8")
    assert "dlkit.train import" not in text and "import train" not in text
    assert "dlkit.checkpoint" in _module_level_imports(root / "train.py")


def test_accuracy_scores_what_predict_predicts(monkeypatch):
    import dlkit.train

    scores = np.array([[0.2, 0.8], [0.9, 0.1], [0.4, 0.6]])
    calls = []

    def fake_predict(s):
        calls.append(s)
        return np.array([0, 0, 0])

    monkeypatch.setattr(dlkit.train, "predict", fake_predict)
    assert dlkit.train.accuracy(scores, np.array([0, 0, 1])) == pytest.approx(2 / 3)
    assert len(calls) == 1


@pytest.mark.parametrize("dtype", [np.int64, np.uint8, bool, float])
def test_binary_accuracy_is_the_same_for_every_label_dtype(dtype):
    s = np.array([0.1, 0.6, 0.5, 0.49, 0.9])
    y = np.array([0, 1, 0, 0, 0]).astype(dtype)
    assert accuracy(s, y) == accuracy(s[:, None], y) == 0.6


def test_fit_core_loop_fits_on_one_screen():
    import ast
    import inspect
    import textwrap

    src = textwrap.dedent(inspect.getsource(fit))
    body = ast.parse(src).body[0].body
    first, last = body[1].lineno, body[-1].end_lineno  # after the docstring
    assert last - first + 1 <= 32
    code = src.splitlines()[first - 1 : last]
    assert code[0].lstrip().startswith("_check_fit(")
    loop = "\n".join(code)
    for line in (
        "model.forward(xb)",
        "model.backward(loss_fn.backward())",
        "optimizer.step()",
        "batches(X, y, bs, seed=epoch_seed(seed, epoch))",
    ):
        assert line in loop, line
    assert "tqdm" not in loop and "_ckpt.save" not in loop and "isfinite" not in loop


def test_fit_progress_bar_is_closed_when_training_diverges(monkeypatch):
    import dlkit.train

    closed = []

    class Bar:
        def __init__(self, show, total):
            self.show, self.total = show, total

        def update(self, epoch, loss):
            pass

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            closed.append(exc[0])

    monkeypatch.setattr(dlkit.train, "_Progress", Bar)
    X, y, _, _ = load_digits()
    net = nn.mlp([64, 32, 1], "relu", seed=0)
    with pytest.raises(DivergenceError, match="diverged at step"), np.errstate(all="ignore"):
        fit(
            net,
            nn.MSELoss(),
            SGD(net.parameters(), lr=20.0),
            X,
            y.astype(float),
            epochs=5,
            batch_size=32,
            progress=True,
        )
    assert closed == [DivergenceError]


def test_fit_turns_a_non_finite_activation_into_a_divergence_but_not_bad_data():
    X, y, _, _ = load_digits()
    net = nn.mlp([64, 32, 10], "relu", seed=0)
    net.layers[2].W.data[0, 0] = np.inf
    with (
        pytest.raises(DivergenceError, match="step 1 .*an activation became non-finite"),
        np.errstate(all="ignore"),
    ):
        fit(net, nn.CrossEntropyLoss(), SGD(net.parameters(), lr=0.1), X, y, batch_size=32)
    bad = X.copy()
    bad[5, 3] = np.nan
    net = nn.mlp([64, 32, 10], "relu", seed=0)
    with pytest.raises(ValueError, match="non-finite input") as err:
        fit(net, nn.CrossEntropyLoss(), SGD(net.parameters(), lr=0.1), bad, y, batch_size=32)
    assert not isinstance(err.value, DivergenceError)
