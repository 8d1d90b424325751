"""Checkpoints: round trip, atomic writes, no pickles, and resume == uninterrupted."""

import os

import numpy as np
import pytest

from dlkit import checkpoint, nn
from dlkit.data import load_digits
from dlkit.optim import Adam, Momentum
from dlkit.train import fit


def small_run():
    net = nn.mlp([64, 24, 10], "relu", seed=0)
    return net, Adam(net.parameters(), lr=3e-3)


def test_round_trip(tmp_path):
    net, opt = small_run()
    X, y, _, _ = load_digits()
    fit(net, nn.CrossEntropyLoss(), opt, X, y, epochs=1, batch_size=128)
    path = checkpoint.save(tmp_path / "run", net, opt, epoch=1)
    assert path.name == "run.npz"
    net2, opt2 = small_run()
    meta = checkpoint.load(path, net2, opt2)
    assert meta["epoch"] == 1 and meta["history"] is None
    for (k, p), (_, q) in zip(net.named_parameters(), net2.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=k)
    assert opt2.t == opt.t
    for s, s2 in zip(opt.state, opt2.state):
        for k in s:
            np.testing.assert_array_equal(s[k], s2[k])


def test_resume_is_bit_identical_to_uninterrupted(tmp_path):
    X, y, _, _ = load_digits()
    loss = nn.CrossEntropyLoss()
    # uninterrupted: 4 epochs
    net_a, opt_a = small_run()
    hist_a = fit(net_a, loss, opt_a, X, y, epochs=4, batch_size=32, seed=7)
    # interrupted after epoch 2 (the process "dies"), then resumed in fresh objects
    ckpt = tmp_path / "ckpt.npz"
    net_b, opt_b = small_run()
    fit(net_b, loss, opt_b, X, y, epochs=2, batch_size=32, seed=7, checkpoint=ckpt)
    del net_b, opt_b
    net_c, opt_c = small_run()
    hist_c = fit(
        net_c, loss, opt_c, X, y, epochs=4, batch_size=32, seed=7, checkpoint=ckpt, resume=True
    )
    for (k, p), (_, q) in zip(net_a.named_parameters(), net_c.named_parameters()):
        assert np.array_equal(p.data, q.data), k  # bit-identical
    assert hist_c.loss == hist_a.loss and hist_c.step_loss == hist_a.step_loss
    assert checkpoint.load(ckpt, net_c)["epoch"] == 4


def test_crash_mid_write_leaves_old_file_intact(tmp_path, monkeypatch):
    net, opt = small_run()
    path = checkpoint.save(tmp_path / "c.npz", net, opt, epoch=1)
    before = path.read_bytes()
    net[0].W.data += 1.0

    def crashing_savez(f, **arrays):
        f.write(b"PK\x03\x04 half a zip file")
        raise KeyboardInterrupt("power cut")

    monkeypatch.setattr(checkpoint.np, "savez", crashing_savez)
    with pytest.raises(KeyboardInterrupt):
        checkpoint.save(path, net, opt, epoch=2)
    assert path.read_bytes() == before
    assert os.listdir(tmp_path) == ["c.npz"]  # no temporary file left behind


def test_load_refuses_pickles_and_mismatches(tmp_path):
    bad = tmp_path / "bad.npz"
    np.savez(bad, **{"meta/format": np.array(1), "param/0.W": np.array([object()])})
    net, opt = small_run()
    with pytest.raises(ValueError, match="allow_pickle"):
        checkpoint.load(bad, net)
    path = checkpoint.save(tmp_path / "m.npz", net, opt)
    other = nn.mlp([64, 30, 10], "relu", seed=0)
    with pytest.raises(ValueError, match="saved shape"):
        checkpoint.load(path, other)
    with pytest.raises(KeyError, match="missing"):
        checkpoint.load(path, nn.mlp([64, 24, 24, 10], "relu"))
    with pytest.raises(FileNotFoundError, match="no checkpoint"):
        checkpoint.load(tmp_path / "nope.npz", net)
    with pytest.raises(ValueError, match="not a dlkit checkpoint"):
        np.savez(tmp_path / "plain.npz", a=np.zeros(2))
        checkpoint.load(tmp_path / "plain.npz", net)


def test_momentum_state_survives(tmp_path):
    net = nn.mlp([4, 3], seed=0)
    opt = Momentum(net.parameters(), lr=0.1)
    for p in net.parameters():
        p.grad[...] = 1.0
    opt.step()
    path = checkpoint.save(tmp_path / "m", net, opt)
    net2 = nn.mlp([4, 3], seed=1)
    opt2 = Momentum(net2.parameters(), lr=0.5)
    checkpoint.load(path, net2, opt2)
    np.testing.assert_array_equal(opt2.state[0]["v"], opt.state[0]["v"])
    assert opt2.lr == 0.1 and opt2.momentum == 0.9


# -- load checks everything before it changes anything -------------------------------------


def _stepped_run():
    net, opt = small_run()
    for p in net.parameters():
        p.grad[...] = 0.1
    opt.step()
    return net, opt


def _same(net_a, net_b):
    return all(
        np.array_equal(p.data, q.data)
        for (_, p), (_, q) in zip(net_a.named_parameters(), net_b.named_parameters())
    )


def test_load_with_an_optimizer_of_another_kind_is_refused_and_changes_nothing(tmp_path):
    net, opt = _stepped_run()
    path = checkpoint.save(tmp_path / "adam", net, opt, epoch=3)
    fresh = nn.mlp([64, 24, 10], "relu", seed=5)
    untouched = nn.mlp([64, 24, 10], "relu", seed=5)
    mom = Momentum(fresh.parameters(), lr=0.1)
    with pytest.raises(
        ValueError,
        match="saved with optimizer Adam, this one is Momentum: "
        r"build Adam\(model.parameters\(\), ...\)",
    ):
        checkpoint.load(path, fresh, mom)
    assert _same(fresh, untouched) and mom.t == 0 and mom.lr == 0.1


def test_load_with_a_wrong_optimizer_state_leaves_the_model_alone(tmp_path):
    net, opt = _stepped_run()
    path = checkpoint.save(tmp_path / "a", net, opt)
    fresh = nn.mlp([64, 24, 10], "relu", seed=5)
    untouched = nn.mlp([64, 24, 10], "relu", seed=5)
    other = nn.mlp([64, 24, 10, 10], "relu", seed=0)  # 6 params, not 4
    with pytest.raises(ValueError, match="saved for 4 parameters, this optimizer has 6"):
        checkpoint.load(path, fresh, Adam(other.parameters()))
    assert _same(fresh, untouched)


def test_load_refuses_dtype_mismatch_and_bad_entries(tmp_path):
    net, opt = _stepped_run()
    path = checkpoint.save(tmp_path / "a", net, opt, epoch=2)
    f32 = nn.mlp([64, 24, 10], "relu", seed=0, dtype=np.float32)
    with pytest.raises(
        ValueError,
        match="parameter 0.W: saved as float64, the network's is "
        "float32; build the network with dtype=np.float64",
    ):
        checkpoint.load(path, f32)
    with np.load(path) as f:
        data = {k: f[k] for k in f.files}
    cases = [
        ({"meta/format": np.array(99)}, ValueError, "format 99, newer than"),
        ({"meta/epoch": np.array(-1)}, ValueError, "meta/epoch must be an int >= 0"),
        ({"extra/x": np.zeros(1)}, ValueError, r"unexpected entries \['extra/x'\]"),
        ({"history/loss": np.zeros((2, 2))}, ValueError, "history/loss must be a 1-D array"),
        ({"rng/0._rng": np.array("{}")}, KeyError, "random generators do not match"),
        ({"optim/state.0.m": np.zeros(3)}, ValueError, "does not fit"),
    ]
    for change, exc, phrase in cases:
        bad = tmp_path / "bad.npz"
        np.savez(bad, **{**data, **change})
        fresh, fresh_opt = small_run()
        untouched, _ = small_run()
        with pytest.raises(exc, match=phrase):
            checkpoint.load(bad, fresh, fresh_opt)
        assert _same(fresh, untouched) and fresh_opt.t == 0, change


def test_load_refuses_truncated_and_non_npz_files(tmp_path):
    net, opt = small_run()
    path = checkpoint.save(tmp_path / "a", net, opt)
    cut = tmp_path / "cut.npz"
    cut.write_bytes(path.read_bytes()[:200])
    with pytest.raises(ValueError, match="not a readable .npz file .* save the checkpoint again"):
        checkpoint.load(cut, net)
    one = tmp_path / "one.npy"
    np.save(one, np.zeros(3))
    with pytest.raises(ValueError, match="holds a single array"):
        checkpoint.load(one, net)
    with pytest.raises(ValueError, match="is a folder"):
        checkpoint.load(tmp_path, net)


def test_old_format_1_checkpoints_still_load(tmp_path):
    net, opt = _stepped_run()
    state = {
        k: v
        for k, v in opt.state_dict().items()
        if k in ("t", "lr", "weight_decay", "beta1", "beta2", "eps") or k.startswith("state.")
    }
    arrays = {"meta/format": np.array(1), "meta/epoch": np.array(4)}
    arrays.update({f"param/{k}": p.data for k, p in net.named_parameters()})
    arrays.update({f"optim/{k}": v for k, v in state.items()})
    np.savez(tmp_path / "v1.npz", **arrays)
    fresh, fresh_opt = small_run()
    meta = checkpoint.load(tmp_path / "v1.npz", fresh, fresh_opt)
    assert meta == {"epoch": 4, "seed": None, "history": None}
    assert _same(fresh, net) and fresh_opt.t == 1
    np.testing.assert_array_equal(fresh_opt.state[0]["v"], opt.state[0]["v"])


def test_save_refuses_bad_arguments(tmp_path):
    net, opt = small_run()
    with pytest.raises(ValueError, match=r"is a folder; pass a file name inside it, e\.g\. "):
        checkpoint.save(tmp_path, net, opt)
    (tmp_path / "run.npz").mkdir()
    with pytest.raises(ValueError, match="run.npz is a folder"):
        checkpoint.save(tmp_path / "run", net, opt)
    with pytest.raises(TypeError, match="checkpoint needs a dlkit Layer"):
        checkpoint.save(tmp_path / "m", {"W": np.zeros(2)})
    with pytest.raises(TypeError, match="optimizer must have state_dict"):
        checkpoint.save(tmp_path / "m", net, "adam")
    with pytest.raises(TypeError, match=r"epoch must be an int >= 0, got 1.5 \(float\)"):
        checkpoint.save(tmp_path / "m", net, opt, epoch=1.5)
    with pytest.raises(TypeError, match="epoch must be an int"):
        checkpoint.save(tmp_path / "m", net, opt, epoch=True)
    with pytest.raises(ValueError, match="epoch must be an int >= 0, got epoch=-2"):
        checkpoint.save(tmp_path / "m", net, opt, epoch=-2)
    with pytest.raises(TypeError, match="history must be a dlkit.train.History"):
        checkpoint.save(tmp_path / "m", net, opt, history=[0.5])
    with pytest.raises(TypeError, match="path must be a str or os.PathLike"):
        checkpoint.save(3, net, opt)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["run.npz"]


def test_generator_state_survives_npz_without_pickles(tmp_path):
    g = np.random.default_rng(12345)
    g.random(7)
    a = checkpoint.generator_state(g)
    assert a.dtype.kind == "U" and a.ndim == 0
    np.savez(tmp_path / "g.npz", g=a)
    with np.load(tmp_path / "g.npz", allow_pickle=False) as f:
        state = checkpoint.read_generator_state(f["g"], np.random.default_rng(0))
    h = np.random.default_rng(0)
    h.bit_generator.state = state
    np.testing.assert_array_equal(h.random(5), g.random(5))
    with pytest.raises(ValueError, match="invalid PCG64 state"):
        checkpoint.read_generator_state(
            np.array('{"bit_generator": "PCG64", "state": {}}'), np.random.default_rng(0)
        )


# -- plain data out, the model's own load_state_dict in --------------------------------------


def test_load_returns_the_history_as_plain_arrays(tmp_path):
    from dlkit.train import History

    X, y, _, _ = load_digits()
    net, opt = small_run()
    hist = fit(
        net, nn.CrossEntropyLoss(), opt, X, y, epochs=2, batch_size=128, checkpoint=tmp_path / "h"
    )
    meta = checkpoint.load(tmp_path / "h", *small_run())
    arrays = meta["history"]
    assert isinstance(arrays, dict) and set(arrays) == set(vars(hist))
    assert all(type(v) is np.ndarray and v.ndim == 1 for v in arrays.values())
    assert History.from_arrays(arrays) == hist


class Recording(nn.Sequential):
    """A Sequential that records the calls of its load_state_dict."""

    def __init__(self, *layers):
        super().__init__(*layers)
        self.loaded = []

    def load_state_dict(self, state):
        self.loaded.append(sorted(state))
        super().load_state_dict(state)


def test_load_uses_the_models_own_load_state_dict_after_checking_everything(tmp_path):
    net, opt = small_run()
    path = checkpoint.save(tmp_path / "r", net, opt, epoch=1)
    target = Recording(*nn.mlp([64, 24, 10], "relu", seed=3).layers)
    checkpoint.load(path, target, Adam(target.parameters()))
    assert target.loaded == [sorted(k for k, _ in net.named_parameters())]
    for (k, p), (_, q) in zip(net.named_parameters(), target.named_parameters()):
        np.testing.assert_array_equal(p.data, q.data, err_msg=k)
    # a file that does not fit the optimizer: refused before the model is touched
    other = Recording(*nn.mlp([64, 24, 10], "relu", seed=4).layers)
    before = [p.data.copy() for p in other.parameters()]
    with pytest.raises(ValueError, match="optimizer Adam"):
        checkpoint.load(path, other, Momentum(other.parameters()))
    assert other.loaded == []
    assert all(np.array_equal(a, p.data) for a, p in zip(before, other.parameters()))


def test_a_single_layer_round_trips(tmp_path):
    lin = nn.Linear(3, 2, seed=0)
    path = checkpoint.save(tmp_path / "lin", lin)
    fresh = nn.Linear(3, 2, seed=9)
    assert checkpoint.load(path, fresh)["history"] is None
    np.testing.assert_array_equal(fresh.W.data, lin.W.data)
    with pytest.raises(ValueError, match="saved shape"):
        checkpoint.load(path, nn.Linear(4, 2, seed=0))
