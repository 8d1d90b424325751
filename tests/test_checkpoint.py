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
    hist_c = fit(net_c, loss, opt_c, X, y, epochs=4, batch_size=32, seed=7, checkpoint=ckpt,
                 resume=True)
    for (k, p), (_, q) in zip(net_a.named_parameters(), net_c.named_parameters()):
        assert np.array_equal(p.data, q.data), k          # bit-identical
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
