"""The optimizers in the book's notation, and the checks of chapters 4 and 6.

- Adam keeps its first moment as ``v`` and its second as ``E``; a state saved under the
  paper's names (``m`` and ``v``), as older dlkit versions wrote it, still resumes bit
  for bit, directly and through a checkpoint file.
- The shown code follows the notation: no gradient called ``g``, no learning rate α.
- No exercise check of chapters 4 and 6 prints the expected value on a wrong answer.
"""

from __future__ import annotations

import inspect
import math
import re

import numpy as np
import pytest

from dlkit import checkpoint, nn
from dlkit.exercises import digits as ex6
from dlkit.exercises import optimizers as ex4
from dlkit.nn import Param
from dlkit.optim import SGD, Adam, AdamW

# ---------------------------------------------------------------- Adam's state names


def _grads(steps: int, shape=(3, 2), seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).standard_normal((steps, *shape))


def _params():
    return [Param(np.linspace(-1.0, 1.0, 6).reshape(3, 2)), Param(np.array([0.5, -0.25]))]


def _step(opt, params, grads) -> None:
    for g in grads:
        for p in params:
            p.grad[...] = g.reshape(-1)[: p.data.size].reshape(p.shape)
        opt.step()


def _paper_names(state: dict) -> dict:
    """The state as a dlkit that used Kingma and Ba's names saved it: m, v."""
    old = {}
    for key, value in state.items():
        head, _, name = key.rpartition(".")
        if key.startswith("state."):
            key = f"{head}.{ {'v': 'm', 'E': 'v'}[name] }"
        old[key] = np.array(value, copy=True)
    return old


def test_adam_keeps_v_and_E():
    params = _params()
    opt = Adam(params, lr=0.01)
    _step(opt, params, _grads(2))
    assert all(set(s) == {"v", "E"} for s in opt.state)
    keys = {k for k in opt.state_dict() if k.startswith("state.")}
    assert keys == {"state.0.v", "state.0.E", "state.1.v", "state.1.E"}
    # v is the running mean of the gradients, E that of their squares
    g = _grads(1)[0]
    one = Adam([Param(np.zeros((3, 2)))], lr=0.01)
    one.params[0].grad[...] = g
    one.step()
    np.testing.assert_array_equal(one.state[0]["v"], (1 - 0.9) * g)
    np.testing.assert_array_equal(one.state[0]["E"], (1 - 0.999) * (g * g))


@pytest.mark.parametrize("cls, kw", [(Adam, {"weight_decay": 0.01}), (AdamW, {})])
def test_state_saved_with_paper_names_resumes_bit_identically(cls, kw):
    grads = _grads(9)
    straight = _params()
    opt = cls(straight, lr=0.05, **kw)
    _step(opt, straight, grads)

    first = _params()
    opt1 = cls(first, lr=0.05, **kw)
    _step(opt1, first, grads[:4])
    old = _paper_names(opt1.state_dict())
    assert {"state.0.m", "state.0.v", "state.1.m", "state.1.v"} <= set(old)
    assert not any(k.endswith(".E") for k in old)

    resumed = _params()
    for p, q in zip(resumed, first):
        p.data[...] = q.data
    opt2 = cls(resumed, lr=0.5, **kw)  # another lr: the state must restore it
    opt2.load_state_dict(old)
    assert opt2.t == 4 and opt2.lr == 0.05
    for s_new, s_old in zip(opt2.state, opt1.state):
        assert set(s_new) == {"v", "E"}
        np.testing.assert_array_equal(s_new["v"], s_old["v"])  # the paper's m
        np.testing.assert_array_equal(s_new["E"], s_old["E"])  # the paper's v
    _step(opt2, resumed, grads[4:])
    for p, q in zip(resumed, straight):
        np.testing.assert_array_equal(p.data, q.data)
    for s_new, s_ref in zip(opt2.state, opt.state):
        np.testing.assert_array_equal(s_new["v"], s_ref["v"])
        np.testing.assert_array_equal(s_new["E"], s_ref["E"])


def test_checkpoint_with_paper_names_resumes_bit_identically(tmp_path):
    from dlkit.data import load_digits

    X, y, _, _ = load_digits()
    X, y = X[:96], y[:96]
    loss = nn.CrossEntropyLoss()

    def build(seed: int = 0):
        net = nn.mlp([64, 16, 10], "relu", seed=seed)
        return net, Adam(net.parameters(), lr=3e-3)

    def train(net, opt, batches):
        for i in batches:
            xb, yb = X[16 * i : 16 * (i + 1)], y[16 * i : 16 * (i + 1)]
            loss.forward(net.forward(xb), yb)
            net.backward(loss.backward())
            opt.step()

    straight, opt = build()
    train(straight, opt, range(6))

    net, opt1 = build()
    train(net, opt1, range(3))
    path = checkpoint.save(tmp_path / "new.npz", net, opt1, epoch=1)
    with np.load(path) as f:
        arrays = {k: f[k] for k in f.files}
    old = {}
    for key, value in arrays.items():
        if key.startswith("optim/state."):
            head, _, name = key.rpartition(".")
            key = f"{head}.{ {'v': 'm', 'E': 'v'}[name] }"
        old[key] = value
    assert any(k.endswith(".m") for k in old)
    np.savez(tmp_path / "old.npz", **old)

    fresh, opt2 = build(seed=1)  # other weights: everything must come from the file
    checkpoint.load(tmp_path / "old.npz", fresh, opt2)
    assert opt2.t == 3 and all(set(s) == {"v", "E"} for s in opt2.state)
    train(fresh, opt2, range(3, 6))
    for (name, p), (_, q) in zip(fresh.named_parameters(), straight.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=name)


def test_mixed_names_are_refused_and_change_nothing():
    params = _params()
    opt = Adam(params, lr=0.01)
    _step(opt, params, _grads(2))
    state = opt.state_dict()
    mixed = dict(state, **{"state.0.m": state["state.0.v"].copy()})
    target = Adam(_params(), lr=0.01)
    _step(target, target.params, _grads(1, seed=1))
    before = [{k: v.copy() for k, v in s.items()} for s in target.state]
    with pytest.raises(ValueError, match=r"parameter 0 has buffers \['m'\] besides v and E"):
        target.load_state_dict(mixed)
    assert target.t == 1
    for s, b in zip(target.state, before):
        assert s.keys() == b.keys() and all(np.array_equal(s[k], b[k]) for k in s)


def test_paper_names_with_a_wrong_shape_are_refused():
    params = _params()
    opt = Adam(params, lr=0.01)
    _step(opt, params, _grads(1))
    old = _paper_names(opt.state_dict())
    old["state.1.m"] = np.zeros(5)
    with pytest.raises(ValueError, match=r"state.1.v \(shape \(5,\)\) does not fit"):
        Adam(_params(), lr=0.01).load_state_dict(old)


# ------------------------------------------------------------ the shown code's notation


@pytest.mark.parametrize("fn", [SGD.update, Adam.update])
def test_shown_updates_use_the_books_names(fn):
    src = inspect.getsource(fn)
    assert not re.search(r"\bg\b", src), "a gradient is `grad` (∇), never g"
    assert "α" not in src and "m̂" not in src
    assert "η" in src and "∇" in src
    if fn is Adam.update:
        assert '"v"' in src and '"E"' in src and "v̂" in src and "Ê" in src


def test_nesterov_docstring_says_which_form_is_implemented():
    doc = SGD.__doc__
    assert "Sutskever" in doc and "Bengio" in doc and "look-ahead" in doc
    assert "θ ← θ + μ v − η ∇" in doc


# ------------------------------------------------------ checks never print the answer


def _forms(value: float) -> list[str]:
    """The ways a number is commonly printed: integer, %g, 2 to 6 decimals or digits."""
    forms = {f"{value:g}", repr(float(value))}
    if float(value).is_integer():
        forms.add(str(int(value)))
    for d in range(2, 7):
        forms.add(f"{value:.{d}f}")
        forms.add(f"{value:.{d}g}")
    return sorted(f for f in forms if f not in ("0", "1"))


def _number(f: str) -> str:
    return rf"(?<![\d.]){re.escape(f)}(?!\d)"


def _reveals(out: str, value: float) -> list[str]:
    return [f for f in _forms(value) if re.search(_number(f), out)]


def _wrong_output(capsys, check, *args) -> str:
    """What `check` prints for the wrong answer `args`, less the reader's own numbers
    echoed back (an echo of 1.4 is not the answer 1.386 rounded)."""
    capsys.readouterr()
    assert check(*args) is False
    out = capsys.readouterr().out
    assert out.startswith(("Not yet: ", "Cannot check: ")) and out.count("\n") == 1, out
    for given in args:
        if isinstance(given, float):
            echoes = {f"{given:g}", repr(given), f"{given:.4g}", f"{given:.4f}", f"{given:.6f}"}
            for f in sorted(echoes, key=len, reverse=True):
                out = re.sub(_number(f), "<yours>", out)
    return out


@pytest.mark.parametrize("wrong", [1.0, 0.0, -math.log(4), 1.3, 1.4, 2.0, -1.0, 0.25, 0.602])
def test_cross_entropy_check_hides_log_4(capsys, wrong):
    out = _wrong_output(capsys, ex4.check_cross_entropy, 0.25, wrong)
    assert not _reveals(out, math.log(4)), out
    assert not _reveals(out, 4), out


@pytest.mark.parametrize("wrong", [1.0, 0.25, 0.4, 0.6, 2.0, 0.499, 0.001, 100.0])
def test_max_learning_rate_check_hides_two_over_a(capsys, wrong):
    out = _wrong_output(capsys, ex4.check_max_learning_rate, 4, wrong)
    assert not _reveals(out, 0.5), out
    assert "2/a" not in out and "1/2" not in out


@pytest.mark.parametrize("wrong", [1.0, -2.0, 0.7, 1.1, 0.0, 0.99, 0.8])
def test_adam_first_step_check_hides_theta1(capsys, wrong):
    out = _wrong_output(capsys, ex4.check_adam_first_step, 1.0, 30.0, 0.1, wrong)
    assert not _reveals(out, 0.9), out
    assert "sign" not in out  # the idea of the answer is in the Correct verdict only


@pytest.mark.parametrize("lr, momentum", [(0.45, 0.0), (0.05, 0.5), (5.0, 0.5), (0.01, 0.0)])
def test_ravine_check_suggests_no_settings(capsys, lr, momentum):
    out = _wrong_output(capsys, ex4.check_ravine_settings, lr, momentum)
    for value in (0.2, 0.8):
        assert not _reveals(out, value), out


def _voting_answer():
    W = ex6.VOTING_W.copy()
    W[ex6.VOTING_LABEL] += ex6.VOTING_X
    W[0] -= ex6.VOTING_X
    return W


@pytest.mark.parametrize(
    "guess, W_after",
    [(None, None), (2, None), (2, "answer"), (1, "answer"), (0, "start"), (0, "row 2")],
)
def test_voting_check_hides_the_guess_and_the_weights(capsys, guess, W_after):
    answer = _voting_answer()
    if isinstance(W_after, str):
        W_after = {"answer": answer, "start": ex6.VOTING_W}.get(W_after)
        if W_after is None:
            W_after = answer.copy()
            W_after[2, 0] += 1
    out = _wrong_output(capsys, ex6.check_voting_update, guess, W_after)
    assert "guess 0" not in out and "class 0" not in out, out
    for row in answer:
        assert str(row.tolist()) not in out and " ".join(map(str, row)) not in out, out
    assert str(answer.tolist()) not in out


@pytest.mark.parametrize("wrong", [0.5, 7 / 8, 0.9, 0.7, 1.0])
def test_recall_check_hides_the_recall(capsys, wrong):
    C = [[5, 1], [2, 7]]
    out = _wrong_output(capsys, ex6.check_recall, C, 1, wrong)
    assert not _reveals(out, 7 / 9), out
    assert "7/9" not in out and "7 / 9" not in out


def test_digits_model_check_gives_a_hint_for_the_placeholder(capsys):
    out = _wrong_output(capsys, ex6.check_digits_model, None)
    assert "trained dlkit model" in out
    out = _wrong_output(capsys, ex6.check_digits_model, nn.mlp([64, 10], seed=0))
    assert "test accuracy" in out and "try" in out
