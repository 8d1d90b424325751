"""Resume == uninterrupted, bit for bit, for every optimizer and every kind of model.

Each case trains 4 epochs straight, and 2 epochs with a checkpoint, then fresh objects
(built from other seeds, so everything must come from the file) load it and train the
other 2: parameters, loss history and generator-driven quantities must be identical.
Also: saves killed with SIGKILL leave temporary files that the next save removes.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

from dlkit import checkpoint, nn
from dlkit import precision as P
from dlkit.optim import OPTIMIZERS
from dlkit.train import fit

EPOCHS, SPLIT, BATCH, SEED = 4, 2, 8, 3
FMT = P.FixedPoint(4, 10)


def data(kind: str):
    g = np.random.default_rng(0)
    X = g.standard_normal((24, 1, 8, 8) if kind == "cnn" else (24, 8))
    return X, np.arange(24) % 3


def build_model(kind: str, seed: int):
    if kind == "mlp":
        return nn.mlp([8, 16, 3], "relu", seed=seed)
    if kind == "dropout":
        return nn.Sequential(
            nn.Linear(8, 16, seed=seed),
            nn.ReLU(),
            nn.Dropout(0.3, seed=seed + 1),
            nn.Linear(16, 3, seed=seed + 2),
        )
    if kind == "cnn":
        return nn.Sequential(
            nn.Conv2d(1, 2, 3, seed=seed),
            nn.ReLU(),
            nn.MaxPool2d(2),
            nn.Flatten(),
            nn.Linear(2 * 3 * 3, 3, seed=seed + 1),
        )
    if kind == "stochastic":
        return P.quantize_model(nn.mlp([8, 16, 3], "relu", seed=seed), FMT, "stochastic", seed=seed)
    raise AssertionError(kind)


def build(kind: str, opt_name: str, seed: int):
    model = build_model(kind, seed)
    if opt_name == "quantized_sgd":
        opt = P.QuantizedSGD(
            model.parameters(), lr=0.05, fmt=FMT, rounding="stochastic", momentum=0.5, seed=seed + 7
        )
    else:
        opt = OPTIMIZERS[opt_name](model.parameters(), lr=0.01)
    return model, opt


MODELS = ("mlp", "dropout", "cnn", "stochastic")
OPTIMIZER_NAMES = (*OPTIMIZERS, "quantized_sgd")


@pytest.mark.parametrize("opt_name", OPTIMIZER_NAMES)
@pytest.mark.parametrize("kind", MODELS)
def test_resume_is_bit_identical(kind, opt_name, tmp_path):
    X, y = data(kind)
    loss = nn.CrossEntropyLoss()
    model_a, opt_a = build(kind, opt_name, seed=0)
    hist_a = fit(model_a, loss, opt_a, X, y, epochs=EPOCHS, batch_size=BATCH, seed=SEED)

    ckpt = tmp_path / "run.npz"
    model_b, opt_b = build(kind, opt_name, seed=0)
    fit(model_b, loss, opt_b, X, y, epochs=SPLIT, batch_size=BATCH, seed=SEED, checkpoint=ckpt)
    del model_b, opt_b  # the process "dies"

    model_c, opt_c = build(kind, opt_name, seed=50)  # other seeds: all from the file
    hist_c = fit(
        model_c,
        loss,
        opt_c,
        X,
        y,
        epochs=EPOCHS,
        batch_size=BATCH,
        seed=SEED,
        checkpoint=ckpt,
        resume=True,
    )

    for (k, p), (_, q) in zip(model_a.named_parameters(), model_c.named_parameters()):
        assert np.array_equal(p.data, q.data), k
    assert hist_c.step_loss == hist_a.step_loss
    assert hist_c.loss == hist_a.loss and hist_c.accuracy == hist_a.accuracy
    assert len(hist_c.loss) == EPOCHS and opt_c.t == opt_a.t
    ga, gc = checkpoint.generators_of(model_a), checkpoint.generators_of(model_c)
    assert set(ga) == set(gc)
    for k in ga:  # the streams continue identically
        assert ga[k].bit_generator.state == gc[k].bit_generator.state, k
    if opt_name == "quantized_sgd":
        assert (opt_c.n_updates, opt_c.n_lost) == (opt_a.n_updates, opt_a.n_lost)
        assert opt_c.applied == opt_a.applied and opt_c.intended == opt_a.intended


def test_generator_paths_name_layer_and_attribute():
    model = build_model("dropout", 0)
    assert list(checkpoint.generators_of(model)) == ["2._rng"]
    q = build_model("stochastic", 0)
    assert list(checkpoint.generators_of(q)) == [f"{i}._rng" for i in range(0, 8, 2)]

    class Block(nn.Layer):
        def __init__(self):
            self.inner = nn.Dropout(0.5, seed=1)
            self.branches = [nn.Dropout(0.5, seed=2)]

    assert sorted(checkpoint.generators_of(nn.Sequential(Block()))) == [
        "0.branches.0._rng",
        "0.inner._rng",
    ]


def test_dropout_state_restored_by_load_alone(tmp_path):
    model = build_model("dropout", 0)
    model.forward(np.ones((5, 8)))  # advances the mask generator
    path = checkpoint.save(tmp_path / "d", model)
    expected = model[2]._rng.random(4)
    fresh = build_model("dropout", 0)
    checkpoint.load(path, fresh)
    np.testing.assert_array_equal(fresh[2]._rng.random(4), expected)


def test_checkpoint_with_generators_needs_the_same_generators(tmp_path):
    path = checkpoint.save(tmp_path / "d", build_model("dropout", 0))
    plain = nn.Sequential(
        nn.Linear(8, 16, seed=0), nn.ReLU(), nn.Identity(), nn.Linear(16, 3, seed=2)
    )
    before = plain[0].W.data.copy()
    with pytest.raises(KeyError, match=r"random generators do not match.*unexpected \['2._rng'\]"):
        checkpoint.load(path, plain)
    np.testing.assert_array_equal(plain[0].W.data, before)  # nothing was changed


def test_resume_with_another_seed_is_refused(tmp_path):
    X, y = data("mlp")
    model, opt = build("mlp", "adam", 0)
    ckpt = tmp_path / "r.npz"
    fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=1,
        batch_size=BATCH,
        seed=SEED,
        checkpoint=ckpt,
    )
    fresh, fresh_opt = build("mlp", "adam", 1)
    before = fresh[0].W.data.copy()
    with pytest.raises(ValueError, match=f"seed={SEED}, but fit got seed=4: pass seed={SEED}"):
        fit(
            fresh,
            nn.CrossEntropyLoss(),
            fresh_opt,
            X,
            y,
            epochs=2,
            batch_size=BATCH,
            seed=4,
            checkpoint=ckpt,
            resume=True,
        )
    np.testing.assert_array_equal(fresh[0].W.data, before)
    assert checkpoint.read_meta(ckpt) == {"format": checkpoint.FORMAT, "epoch": 1, "seed": SEED}


def test_resume_finds_a_checkpoint_named_without_suffix(tmp_path):
    X, y = data("mlp")
    model, opt = build("mlp", "sgd", 0)
    fit(
        model,
        nn.CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=2,
        batch_size=BATCH,
        checkpoint=tmp_path / "run",
    )
    assert (tmp_path / "run.npz").exists()
    fresh, fresh_opt = build("mlp", "sgd", 1)
    hist = fit(
        fresh,
        nn.CrossEntropyLoss(),
        fresh_opt,
        X,
        y,
        epochs=2,
        batch_size=BATCH,
        checkpoint=tmp_path / "run",
        resume=True,
    )
    assert fresh_opt.t == opt.t == 6 and len(hist.loss) == 2  # nothing left to train
    np.testing.assert_array_equal(fresh[0].W.data, model[0].W.data)


# -- interrupted saves --------------------------------------------------------------------

_CHILD = r"""
import sys, time
import numpy as np
from dlkit import checkpoint, nn
from dlkit.optim import Adam

net = nn.mlp([256, 512, 10], seed=0)
opt = Adam(net.parameters())
target = sys.argv[1]
if sys.argv[2] == "hang":
    def slow_savez(f, **arrays):
        f.write(b"PK\x03\x04 part of a zip file")
        f.flush()
        print("writing", flush=True)
        time.sleep(60)
    checkpoint.np.savez = slow_savez
    checkpoint.save(target, net, opt, epoch=1)
else:
    print("writing", flush=True)
    for epoch in range(10**6):
        checkpoint.save(target, net, opt, epoch=epoch)
"""


def _save_and_kill(target: Path, mode: str, delay: float = 0.0) -> None:
    env = dict(os.environ, PYTHONPATH=str(Path(__file__).resolve().parents[1]))
    child = subprocess.Popen(
        [sys.executable, "-c", _CHILD, str(target), mode], stdout=subprocess.PIPE, env=env
    )
    try:
        assert child.stdout.readline().strip() == b"writing"
        time.sleep(delay)
    finally:
        os.kill(child.pid, signal.SIGKILL)
        child.wait(timeout=30)
    assert child.returncode == -signal.SIGKILL


def _temporaries(folder: Path, name: str) -> list[Path]:
    return sorted(folder.glob(f".{name}.*.tmp"))


def test_saves_killed_with_sigkill_leave_nothing_after_the_next_save(tmp_path):
    target = tmp_path / "ckpt.npz"
    net = nn.mlp([256, 512, 10], seed=0)
    checkpoint.save(target, net, epoch=0)
    _save_and_kill(target, "loop", delay=0.3)  # killed at some point of real saves
    assert len(_temporaries(tmp_path, "ckpt.npz")) <= 1  # each save removed the last one's
    for _ in range(3):  # killed in the middle of a write
        _save_and_kill(target, "hang")
        assert len(_temporaries(tmp_path, "ckpt.npz")) == 1  # its own; earlier ones removed
    assert checkpoint.load(target, nn.mlp([256, 512, 10], seed=1))["epoch"] >= 0
    checkpoint.save(target, net, epoch=7)
    assert _temporaries(tmp_path, "ckpt.npz") == []
    assert sorted(os.listdir(tmp_path)) == ["ckpt.npz"]
    fresh = nn.mlp([256, 512, 10], seed=1)
    assert checkpoint.load(target, fresh)["epoch"] == 7
    np.testing.assert_array_equal(fresh[0].W.data, net[0].W.data)


def test_cleanup_spares_other_targets_and_files_still_being_written(tmp_path):
    net = nn.mlp([4, 3], seed=0)
    old = time.time() - 3600
    stale = tmp_path / ".a.npz.x1y2.tmp"
    other = tmp_path / ".b.npz.x1y2.tmp"  # another checkpoint's temporary
    busy = tmp_path / ".a.npz.z3w4.tmp"  # a concurrent save, written just now
    for f in (stale, other, busy):
        f.write_bytes(b"partial")
    for f in (stale, other):
        os.utime(f, (old, old))
    future = time.time() + 60
    os.utime(busy, (future, future))
    checkpoint.save(tmp_path / "a.npz", net)
    assert not stale.exists() and other.exists() and busy.exists()
