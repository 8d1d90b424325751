"""Data- and model-parallel training on the simulated cluster (dlkit.parallel)."""

import numpy as np
import pytest

from dlkit.cluster import SimCluster
from dlkit.nn import CrossEntropyLoss, Linear, MSELoss, mlp
from dlkit.parallel import (
    ModelParallelLinear,
    allreduce_gradients,
    data_parallel_sgd,
    global_batches,
    sgd_reference,
    shard,
)
from dlkit.parallel.train_digits import simulate, train_single

rng = np.random.default_rng(0)
X = rng.normal(size=(96, 6))
Y = rng.integers(0, 3, size=96)


def _dp(comm, steps=12, batch_size=24, lr=0.3):
    model = mlp([6, 8, 3], "tanh", seed=comm.Get_rank() + 5)  # deliberately different
    losses = data_parallel_sgd(
        comm, model, CrossEntropyLoss(), X, Y, steps=steps, batch_size=batch_size, lr=lr, seed=3
    )
    return model.state_dict(), losses


@pytest.mark.parametrize("p", [1, 2, 3, 4])
def test_data_parallel_equals_single_process_sgd(p):
    res = SimCluster(p).run(_dp)
    ref = mlp([6, 8, 3], "tanh", seed=5)  # rank 0's initial weights
    ref_losses = sgd_reference(
        ref, CrossEntropyLoss(), X, Y, steps=12, batch_size=24, lr=0.3, seed=3
    )
    for state, losses in res.values:
        for k, w in ref.state_dict().items():
            assert np.abs(state[k] - w).max() < 1e-13
        np.testing.assert_allclose(losses, ref_losses, rtol=1e-12)
    # identical on every rank after the last step, bit for bit
    first = res.values[0][0]
    for state, _ in res.values[1:]:
        for k in first:
            assert np.array_equal(state[k], first[k])


def test_weights_identical_on_every_rank_after_every_step():
    def body(comm):
        model = mlp([6, 8, 3], "tanh", seed=comm.Get_rank())
        snaps = []
        data_parallel_sgd(
            comm,
            model,
            CrossEntropyLoss(),
            X,
            Y,
            steps=6,
            batch_size=24,
            lr=0.3,
            seed=1,
            callback=lambda t, loss: snaps.append(
                np.concatenate([p.data.ravel() for p in model.parameters()])
            ),
        )
        return np.array(snaps)

    snaps = SimCluster(3).run(body).values
    assert snaps[0].shape == (6, 6 * 8 + 8 + 8 * 3 + 3)
    for s in snaps[1:]:
        assert np.array_equal(s, snaps[0])
    assert not np.array_equal(snaps[0][0], snaps[0][-1])  # the weights do move


def test_global_batches_and_shards_cover_the_batch():
    batches = list(global_batches(10, 4, 5, seed=1))
    assert [len(b) for b in batches] == [4] * 5
    assert sorted(np.concatenate(batches[:2])) == sorted(set(np.concatenate(batches[:2])))
    idx = batches[0]
    parts = [shard(idx, r, 2) for r in range(2)]
    assert np.array_equal(np.concatenate(parts), idx)
    with pytest.raises(ValueError, match="multiple of 3"):
        shard(idx, 0, 3)


def test_allreduce_gradients_averages_and_returns_mean_loss():
    def body(comm):
        r = comm.Get_rank()
        layer = Linear(3, 2, seed=0)
        layer.W.grad[...] = r + 1.0
        layer.b.grad[...] = 2.0 * r
        loss = allreduce_gradients(comm, layer.parameters(), extra=float(r))
        return layer.W.grad.copy(), layer.b.grad.copy(), loss

    for W, b, loss in SimCluster(4).run(body).values:
        assert np.all(W == 2.5) and np.all(b == 3.0) and loss == 1.5


def _mp(comm, x, dout):
    layer = ModelParallelLinear(comm, 5, 8, seed=7)
    z = layer.forward(x)
    dx = layer.backward(dout)
    return z, dx, layer.W.grad.copy(), layer.b.grad.copy(), layer.rows


@pytest.mark.parametrize("p", [1, 2, 4])
def test_model_parallel_linear_equals_unsplit_layer(p):
    x = rng.normal(size=(7, 5))
    dout = rng.normal(size=(7, 8))
    full = Linear(5, 8, seed=7)
    z_ref = full.forward(x)
    dx_ref = full.backward(dout)
    for z, dx, dW, db, rows in SimCluster(p).run(_mp, x, dout).values:
        assert np.abs(z - z_ref).max() < 1e-14
        assert np.abs(dx - dx_ref).max() < 1e-14
        assert np.abs(dW - full.W.grad[rows]).max() < 1e-14
        assert np.abs(db - full.b.grad[rows]).max() < 1e-14


def test_model_parallel_network_trains_like_the_unsplit_one():
    """Two split layers with a nonlinearity between them, five SGD steps."""
    from dlkit.nn import Sequential, Tanh
    from dlkit.optim import SGD

    Xr, Yr = rng.normal(size=(16, 4)), rng.normal(size=(16, 6))

    def body(comm):
        net = Sequential(
            ModelParallelLinear(comm, 4, 8, seed=1), Tanh(), ModelParallelLinear(comm, 8, 6, seed=2)
        )
        opt, loss = SGD(net.parameters(), lr=0.1), MSELoss()
        for _ in range(5):
            loss.forward(net.forward(Xr), Yr)
            net.backward(loss.backward())
            opt.step()
        return net.forward(Xr)

    ref = Sequential(Linear(4, 8, seed=1), Tanh(), Linear(8, 6, seed=2))
    opt, loss = SGD(ref.parameters(), lr=0.1), MSELoss()
    for _ in range(5):
        loss.forward(ref.forward(Xr), Yr)
        ref.backward(loss.backward())
        opt.step()
    for out in SimCluster(2).run(body).values:
        assert np.abs(out - ref.forward(Xr)).max() < 1e-13


def test_model_parallel_rejects_uneven_split():
    def body(comm):
        ModelParallelLinear(comm, 4, 5)

    with pytest.raises(Exception, match="multiple of 2"):
        SimCluster(2).run(body)


def test_digits_data_parallel_reaches_accuracy_and_matches_single_process():
    res = simulate(4, steps=300)
    single = train_single(steps=300)
    for v in res.values:
        assert v["test_accuracy"] >= 0.95
        for k, w in single["state"].items():
            assert np.abs(v["state"][k] - w).max() < 1e-12


def test_allreduce_comparisons_and_crossover():
    from dlkit.cluster import costs, networks
    from dlkit.parallel.allreduce import compare, crossover

    for c in compare(5, 1000, "10gbe"):
        assert c.rel_error < 1e-9
    net = networks.preset("10gbe")
    N = crossover(8, net)
    ring = lambda n: costs.allreduce("ring", 8, n, 8, net)  # noqa: E731
    rd = lambda n: costs.allreduce("recursive_doubling", 8, n, 8, net)  # noqa: E731
    assert ring(N) <= rd(N) and ring(N - 1) > rd(N - 1)
    assert crossover(16, net) > N


def test_exercise_checks_accept_the_solutions_and_reject_wrong_answers(capsys):
    from dlkit.cluster import costs, networks
    from dlkit.exercises import ch13, ch14
    from dlkit.parallel import hybrid
    from dlkit.parallel.allreduce import crossover

    net = hybrid.NETWORK
    assert ch13.check_allgather_time(3 * (net.alpha + 128 * 9216 * 4 * net.beta))
    assert not ch13.check_allgather_time(net.alpha + 128 * 9216 * 4 * net.beta)
    assert not ch13.check_allgather_time("soon")
    R, e = hybrid.DEVICE.flops, networks.preset("10gbe")
    a, c, d = 2 * 128 / (4 * R), 3 * 4 * 128 * e.beta / 4, 3 * e.alpha
    n = (c + (c * c + 4 * a * d) ** 0.5) / (2 * a)
    assert ch13.check_break_even_width(n) and not ch13.check_break_even_width(4096)
    m = 8 * 10**6 // 16
    assert ch14.check_ring_time(30 * (e.alpha + m * e.beta) + 15 * m * e.gamma)
    assert not ch14.check_ring_time(30 * (e.alpha + m * e.beta))
    assert ch14.check_ring_time(costs.allreduce_ring(16, 10**6, 8, e))
    assert ch14.check_shard_weights([22 / 64, 21 / 64, 21 / 64])
    assert not ch14.check_shard_weights([1 / 3] * 3) and not ch14.check_shard_weights("x")
    assert ch14.check_crossover(8 * crossover(8, "fdr_ib"))
    assert not ch14.check_crossover(10)
    out = capsys.readouterr().out
    assert "Correct:" in out and "Not yet:" in out


def test_model_parallel_backward_checks_dout():
    from dlkit.parallel.model_parallel import ModelParallelLinear

    def body(comm):
        layer = ModelParallelLinear(comm, 4, 4)
        with pytest.raises(ValueError, match="before forward"):
            layer.backward(np.ones((3, 4)))
        layer.forward(np.ones((3, 4)))
        with pytest.raises(ValueError, match=r"dout of shape \(3, 1\)"):
            layer.backward(np.ones((3, 1)))
        return layer.backward(np.ones((3, 4))).shape

    assert SimCluster(2).run(body).values == [(3, 4), (3, 4)]
