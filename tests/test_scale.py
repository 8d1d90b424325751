"""Cost models of DistBelief and COTS HPC (dlkit.largescale.scale): the closed form of one
distributed update equals the simulated time; the models' arithmetic."""

import numpy as np
import pytest

from dlkit.cluster import devices, networks
from dlkit.largescale import scale as sc
from dlkit.largescale.localconn import LocallyConnected2d


def _stack():
    L1 = LocallyConnected2d(2, (30, 9), 3, 4, 2, seed=0)
    L2 = LocallyConnected2d(3, (L1.Ho, L1.Wo), 2, 3, 1, seed=1)
    shapes = [(2, 30, 9, 3, 4, 2), (3, L1.Ho, L1.Wo, 2, 3, 1)]
    return [L1, L2], shapes


@pytest.mark.parametrize("p", [1, 2, 3, 5, 6])
@pytest.mark.parametrize("batch", [1, 40])
@pytest.mark.parametrize("net", ["cots", "10gbe"])
def test_closed_form_equals_simulated_update(p, batch, net):
    network = sc.COTS_NETWORK if net == "cots" else networks.preset("10gbe")
    layers, shapes = _stack()
    simulated, clocks = sc.simulate_update(p, layers, batch, network, sc.GTX680)
    closed = sc.update_time(p, shapes, batch, network, sc.GTX680)
    assert simulated == pytest.approx(closed, rel=1e-12)
    if p > 1:  # the exchange costs something: slower than the compute alone
        one = sc.update_time(1, shapes, batch, network, sc.GTX680)
        assert closed > one / p


def test_closed_form_on_two_servers_of_the_cots_network():
    # 8 ranks = 2 servers of 4 GPUs: one halo crosses InfiniBand, the others PCIe
    L = LocallyConnected2d(2, (8 * 6 + 2, 12), 4, 4, 2, seed=0)
    t_sim, _ = sc.simulate_update(8, [L], 16, sc.COTS_NETWORK, sc.GTX680)
    t = sc.update_time(8, [(2, 50, 12, 4, 4, 2)], 16, sc.COTS_NETWORK, sc.GTX680)
    assert t_sim == pytest.approx(t, rel=1e-12)


def test_cots_params_count_the_layers_weights():
    for p, F in ((1, 3), (4, 5)):
        rows = p * sc.COTS_ROWS + sc.COTS_WINDOW - sc.COTS_STRIDE
        total = 0
        for j in range(sc.COTS_LAYERS):
            C = 3 if j == 0 else F
            L = LocallyConnected2d(C, (rows, sc.COTS_WIDTH), F, sc.COTS_WINDOW, sc.COTS_STRIDE)
            assert L.Ho == p * sc.COTS_ROWS // sc.COTS_STRIDE
            total += L.W.size
        assert sc.cots_params(F, p) == total


def test_cots_weak_scaling_and_the_papers_figures():
    t = sc.cots_table(gpus=(1, 64), maps=range(8, 10))
    F = t["maps"]
    assert sc.cots_params(F) <= sc.PAPER_SIZES[1] < sc.cots_params(F + 1)
    # the same network per GPU: compute per GPU equal, so 64 GPUs only add communication
    assert t["times"][64] > t["times"][1]
    assert t["similar"] == pytest.approx(t["times"][64] / t["times"][1])
    # throughput = (P / T) on 64 over 1: below the 64x of the parameters
    assert t["throughput"] == pytest.approx(64 / t["similar"])
    assert 1 < t["throughput"] < 64
    # with a free network the update time would not change at all
    free = networks.two_level(
        networks.Network(0.0, 0.0), networks.Network(0.0, 0.0), ranks_per_node=4
    )
    assert sc.cots_update_time(64, F, network=free) == pytest.approx(
        sc.cots_update_time(1, F, network=free), rel=1e-12
    )


def test_distbelief_arithmetic():
    one = sc.distbelief(1)
    flops = sc.FLOPS_PER_PARAM * sc.LE_PARAMS * sc.BATCH
    assert one.compute_s == pytest.approx(flops / (16 * sc.CORE_FLOPS))
    assert one.comm_s == 0.0
    assert one.pass_h == pytest.approx(sc.LE_FRAMES / sc.BATCH * one.step_s / 3600)
    m = sc.distbelief(169)
    assert m.compute_s == pytest.approx(one.compute_s / 169)
    assert m.step_s > m.compute_s  # model parallelism pays in communication
    r = sc.distbelief(169, 6)
    assert r.machines == 1014 and r.pass_h == pytest.approx(m.pass_h / 6)
    with pytest.raises(ValueError, match="must be >= 1"):
        sc.distbelief(0)


def test_gtx680_device():
    assert isinstance(sc.GTX680, devices.Device) and sc.GTX680.flops == 1e12
    assert np.isclose(sc.COTS_NETWORK.inter.beta, 2 / 12e9 + 1 / 6.8e9)
