"""dlkit.determinism: fingerprints, per-step traces, the first divergence of two runs,
fixed-order reductions across threads and ranks, and a bug that trains but is caught."""

import numpy as np
import pytest

from dlkit import nn
from dlkit.cluster import Faults, SimCluster
from dlkit.data import load_digits
from dlkit.determinism import (
    BLOCK,
    BuggyLinear,
    Trace,
    blocked_sum,
    digest,
    fingerprint,
    first_divergence,
    inject_bug,
    parallel_sum,
    sequential_sum,
    tree_sum,
)
from dlkit.optim import SGD
from dlkit.parallel.data_parallel import allreduce_gradients
from dlkit.train import accuracy, fit


@pytest.fixture(scope="module")
def digits():
    return load_digits()  # pixels in [0, 1]


def train(digits, *, seed=0, init_seed=0, epochs=1, bug=None, fingerprint=True, lr=0.1):
    X, y, _, _ = digits
    net = nn.mlp([64, 16, 10], "relu", seed=init_seed)
    if bug is not None:
        inject_bug(net, 0, bug)
    opt = SGD(net.parameters(), lr=lr)
    hist = fit(
        net,
        nn.CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=epochs,
        batch_size=64,
        seed=seed,
        fingerprint=fingerprint,
    )
    return net, hist


# ------------------------------------------------------------------- fingerprints


def test_fingerprint_is_equal_for_equal_arrays_and_changes_with_one_bit():
    a = np.random.default_rng(0).standard_normal((5, 7))
    fp = fingerprint({"W": a})
    assert fp == fingerprint({"W": a.copy()})
    flipped = a.copy()
    flipped.view(np.uint64)[2, 3] ^= 1  # the last bit of one entry
    assert fingerprint({"W": flipped})["W"] != fp["W"]
    # name, dtype, shape and byte order are part of the hash; the memory layout is not
    assert fingerprint({"V": a}) != {"V": fp["W"]}
    assert fingerprint({"W": a.astype(np.float32)}) != fp
    assert fingerprint({"W": a.reshape(7, 5)}) != fp
    assert fingerprint({"W": np.asfortranarray(a)}) == fp
    assert fingerprint({"W": a.astype(">f8")}) == fp
    assert len(fp["W"]) == 16 and digest(fp) == digest({"W": a})


def test_fingerprint_of_a_model_names_every_parameter_and_refuses_other_things():
    net = nn.mlp([4, 3, 2], seed=0)
    fp = fingerprint(net)
    assert list(fp) == [name for name, _ in net.named_parameters()]
    assert fingerprint(net.parameters()) == {
        str(i): v for i, v in enumerate(fingerprint([p.data for p in net.parameters()]).values())
    }
    with pytest.raises(TypeError, match="fingerprint: pass a dlkit Layer"):
        fingerprint("weights")
    with pytest.raises(TypeError, match="tensor 'x' must be a numpy array"):
        fingerprint({"x": [1.0, 2.0]})


# ---------------------------------------------------------- traces and divergence


def test_fit_with_fingerprints_trains_exactly_as_without(digits):
    plain, h0 = train(digits, fingerprint=False)
    traced, h1 = train(digits, fingerprint=True)
    assert h0.trace is None
    assert fingerprint(plain) == fingerprint(traced)
    assert h0.step_loss == h1.step_loss and h0.loss == h1.loss
    steps = -(-len(digits.X_train) // 64)
    assert h1.trace.steps == list(range(steps + 1))  # before the first step, then each
    assert h1.trace.fingerprints[-1] == fingerprint(traced)
    assert "trace" not in h1.as_arrays() and "trace" not in repr(h1)


def test_equal_runs_have_equal_traces(digits):
    _, a = train(digits)
    _, b = train(digits)
    assert a.trace.fingerprints == b.trace.fingerprints
    assert first_divergence(a, b) is None


class FlipAt(Trace):
    """A Trace that flips the last bit of one weight of 2.W just before recording `step`."""

    def __init__(self, step):
        super().__init__(keep_params=True)
        self.flip_step = step

    def record(self, step, model):
        if step == self.flip_step:
            model.layers[2].W.data.view(np.uint64)[3, 5] ^= 1
        super().record(step, model)


def test_first_divergence_finds_the_injected_step_and_tensor(digits):
    X, y, _, _ = digits
    runs = []
    for trace in (Trace(keep_params=True), FlipAt(17)):
        net = nn.mlp([64, 16, 10], "relu", seed=0)
        opt = SGD(net.parameters(), lr=0.1)
        fit(net, nn.CrossEntropyLoss(), opt, X, y, epochs=2, batch_size=64, fingerprint=trace)
        runs.append(trace)
    d = first_divergence(*runs)
    assert (d.step, d.tensor, d.tensors) == (17, "2.W", ("2.W",))
    assert 0 < d.max_abs < 1e-12  # one bit of one weight
    assert "step 17, tensor '2.W'" in str(d)
    after = [
        Trace(steps=t.steps[18:], fingerprints=t.fingerprints[18:], norms=t.norms[18:])
        for t in runs
    ]
    assert first_divergence(*after).step == 18 and "0.W" in first_divergence(*after).tensors


def test_first_divergence_of_another_seed_and_another_init(digits):
    _, a = train(digits, seed=0)
    _, b = train(digits, seed=1)  # another data order: the same start, another batch
    d = first_divergence(a, b)
    assert d.step == 1 and d.max_abs is None and d.norm_gap < 1.0
    _, c = train(digits, init_seed=1)
    assert first_divergence(a, c).step == 0  # other initial weights


def test_first_divergence_refuses_what_is_not_a_trace(digits):
    _, a = train(digits)
    _, b = train(digits, fingerprint=False)
    with pytest.raises(TypeError, match="run_b must be a Trace or the History of fit"):
        first_divergence(a, b)
    other = Trace()
    other.record(5, nn.mlp([64, 16, 10], seed=0))
    with pytest.raises(ValueError, match="record 0 is of step 0 in run_a but of step 5"):
        first_divergence(a, other)


def test_fit_refuses_a_bad_fingerprint_argument(digits):
    X, y, _, _ = digits
    net = nn.mlp([64, 10], seed=0)
    with pytest.raises(TypeError, match="fingerprint must be True, False or a"):
        fit(net, nn.CrossEntropyLoss(), SGD(net.parameters(), lr=0.1), X, y, fingerprint="yes")


# ------------------------------------------------------------ fixed-order reductions


def wide_range(n=100_003, seed=0):
    g = np.random.default_rng(seed)
    return g.standard_normal(n) * 10.0 ** g.uniform(-6, 6, n)


def test_blocked_sum_is_bit_equal_for_every_thread_count():
    x = wide_range()
    sums = {blocked_sum(x, t) for t in (1, 2, 3, 4, 7, 16)}
    assert len(sums) == 1
    # the same additions as: each block left to right, then the blocks in order
    blocks = [np.cumsum(x[i : i + BLOCK])[-1] for i in range(0, x.size, BLOCK)]
    assert sums == {float(np.cumsum(blocks)[-1])}
    assert abs(sums.pop() - np.sum(x)) < 1e-9 * np.abs(x).sum()


def test_the_usual_parallel_sum_changes_with_the_thread_count():
    x = wide_range()
    assert parallel_sum(x, 1) == sequential_sum(x) == float(np.cumsum(x)[-1])
    assert len({parallel_sum(x, t) for t in (1, 2, 3, 4, 7, 16)}) > 1
    for t in (2, 3, 7):
        assert parallel_sum(x, t) == parallel_sum(x, t)  # the same T: the same bits


def test_sums_refuse_bad_arguments():
    with pytest.raises(ValueError, match="threads must be an int >= 1"):
        blocked_sum(np.ones(3), 0)
    with pytest.raises(ValueError, match="block must be an int >= 1"):
        blocked_sum(np.ones(3), 1, block=0)
    with pytest.raises(TypeError, match="x must hold real numbers"):
        parallel_sum(np.array(["a"]), 2)


def test_tree_sum_is_a_fixed_pairwise_tree():
    rows = wide_range(5 * 7).reshape(5, 7)
    want = ((rows[0] + rows[1]) + (rows[2] + rows[3])) + rows[4]
    assert np.array_equal(tree_sum(rows), want)
    assert np.array_equal(tree_sum(rows[:1]), rows[0])
    with pytest.raises(ValueError, match="rows is empty"):
        tree_sum(np.zeros((0, 3)))


def _allreduce_body(comm, deterministic):
    """Rank r's gradient: a seeded wide-range vector; returns the averaged gradient."""
    p = nn.core.Param(np.zeros(997))
    p.grad[...] = wide_range(997, seed=comm.Get_rank())
    allreduce_gradients(comm, [p], deterministic=deterministic)
    return p.grad.copy()


def test_deterministic_allreduce_is_bit_equal_whatever_the_algorithm_and_timing():
    p = 6
    want = tree_sum([wide_range(997, seed=r) for r in range(p)]) / p
    results = []
    for algorithm in ("ring", "recursive_doubling", "tree", "rabenseifner"):
        for network, faults in (("10gbe", None), ("1gbe", Faults(slow={1: 5.0}))):
            res = SimCluster(p, network=network, allreduce=algorithm, faults=faults).run(
                _allreduce_body, True
            )
            results += res.values
    assert all(np.array_equal(r, want) for r in results)
    # the plain Allreduce: the same up to rounding, but the algorithms round differently
    plain = [
        SimCluster(p, allreduce=a).run(_allreduce_body, False).values[0]
        for a in ("ring", "recursive_doubling")
    ]
    assert all(np.allclose(r, want, rtol=1e-12, atol=0) for r in plain)
    assert not np.array_equal(plain[0], plain[1])


# ----------------------------------------------------------------- the buggy layer


def test_a_buggy_layer_still_trains_and_the_gradient_check_catches_it(digits):
    X, y, Xt, yt = digits
    scores = {}
    for bug in (None, "scale"):
        net, _ = train(digits, epochs=10, bug=bug, fingerprint=False, lr=0.1)
        net.eval()
        scores[bug] = accuracy(net.forward(Xt), yt)
    assert scores[None] > 0.85 and 0.3 < scores["scale"] < scores[None] - 0.03, scores
    x = np.random.default_rng(0).standard_normal((5, 4))
    for bug, name in (("scale", "W"), ("sign", "b")):
        layer = BuggyLinear(4, 3, seed=0, bug=bug)
        err = nn.check_layer(layer, x).errors
        assert err[name] > 0.5 and err["x"] < 1e-7  # the wrong gradient, the right one
    assert nn.check_layer(nn.Linear(4, 3, seed=0), x).max_error < 1e-7


def test_a_reproducibility_diff_points_at_the_buggy_tensor(digits):
    _, ref = train(digits)
    _, bad = train(digits, bug="scale")
    d = first_divergence(ref, bad)
    assert (d.step, d.tensors) == (1, ("0.W",))  # the step and the one tensor
    _, bad = train(digits, bug="sign")
    assert (first_divergence(ref, bad).step, first_divergence(ref, bad).tensors) == (1, ("0.b",))


def test_inject_bug_refuses_what_is_not_a_linear_layer():
    net = nn.mlp([4, 3, 2], seed=0)
    with pytest.raises(
        ValueError, match=r"layer 1 is .*not a Linear; the Linear layers are at \[0, 2\]"
    ):
        inject_bug(net, 1)
    with pytest.raises(ValueError, match="bug must be one of 'scale', 'sign'"):
        inject_bug(net, 0, "typo")
    assert isinstance(inject_bug(net, 2, "sign").layers[2], BuggyLinear)


def _dp_body(comm, algorithm_unused, deterministic):
    from dlkit.parallel.data_parallel import data_parallel_sgd

    X, y, _, _ = load_digits()
    net = nn.mlp([64, 16, 10], "relu", seed=0)
    data_parallel_sgd(
        comm,
        net,
        nn.CrossEntropyLoss(),
        X,
        y,
        steps=5,
        batch_size=48,
        lr=0.1,
        deterministic=deterministic,
    )
    return fingerprint(net)


def test_deterministic_data_parallel_sgd_gives_one_model_whatever_the_allreduce():
    prints = [
        SimCluster(6, allreduce=a).run(_dp_body, a, True).values
        for a in ("ring", "recursive_doubling", "tree")
    ]
    assert all(fp == prints[0][0] for run in prints for fp in run)  # every rank, every algorithm


# ---------------------------------------------------------------- progress bars


def test_the_progress_bar_takes_a_description_and_a_metric(capsys):
    from dlkit.train import _Progress

    with _Progress(True, 3, "CD-1 RBM", "error", unit="epoch") as bar:
        for e in range(3):
            bar.update(e, 0.5 - 0.1 * e)
    err = capsys.readouterr().err
    assert "CD-1 RBM" in err and "error=0.3000" in err and "3/3" in err and "epoch" in err


def test_train_rbm_shows_its_bar_and_trains_the_same_with_it(capsys):
    from dlkit.unsupervised.rbm import RBM, train_rbm

    X = (load_digits().X_train[:200] > 0.5).astype(np.float64)
    hists = []
    for progress in (False, True):
        rbm = RBM(64, 16, seed=0)
        hists.append(train_rbm(rbm, X, epochs=3, progress=progress))
        hists[-1] = (hists[-1].reconstruction_error, fingerprint(rbm))
    assert hists[0] == hists[1]
    err = capsys.readouterr().err
    assert "CD-1 RBM(64, 16)" in err and "/3" in err and "epoch" in err  # the bar, then cleared


# ------------------------------------------------------ the measured sources (experiments)


def test_the_measured_sources_of_difference():
    from dlkit.experiments import determinism as xd

    atomics = xd.atomic_orders(n=1 << 16, blocks=64, threads=32, trials=30)
    assert np.array_equal(atomics, xd.atomic_orders(n=1 << 16, blocks=64, threads=32, trials=30))
    x = np.random.default_rng(0).standard_normal(1 << 16).astype(np.float32)
    assert len(np.unique(atomics)) > 1 and np.all(np.abs(atomics - x.sum(dtype=np.float64)) < 1e-2)
    blas = xd.blas_kernels((None, "Prescott"), n=64)
    assert xd.rel_diff(blas.products[1], blas.products[0]) < 1e-12
    runs = xd.async_orders(steps=10)
    (a, ha), (b, hb), (c, hc) = runs.values()
    assert ha.sum() == hb.sum() == hc.sum() == 40  # every gradient of 4 replicas applied
    assert xd.rel_diff(c, a) > 1e-6  # a slower replica: another order, another θ
    flip = xd.digits_run(flip_at=3, hidden=8)
    d = first_divergence(xd.digits_run(hidden=8).trace, flip.trace)
    assert (d.step, d.tensors) == (3, ("2.W",)) and 0 < d.max_abs < 1e-15
