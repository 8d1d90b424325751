"""The locally connected layer, the distributed array and its halo exchange
(dlkit.largescale.localconn, dlkit.largescale.distarray), simulated and under real MPI."""

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from dlkit.cluster import SimCluster, networks
from dlkit.largescale import distarray as da
from dlkit.largescale.localconn import LocallyConnected2d, dense_matrix
from dlkit.nn.gradcheck import check_layer

ROOT = Path(__file__).resolve().parents[1]
SCRIPT = ROOT / "tests" / "mpi_scripts" / "distarray.py"


def test_layer_equals_its_masked_dense_matrix():
    L = LocallyConnected2d(2, (11, 7), maps=3, window=4, stride=2, seed=0)
    L.b.data[...] = np.random.default_rng(5).standard_normal(L.b.shape)
    x = np.random.default_rng(1).standard_normal((5, 2, 11, 7))
    M = dense_matrix(L)
    want = (x.reshape(5, -1) @ M.T).reshape(5, L.F, L.Ho, L.Wo) + L.b.data.transpose(2, 0, 1)
    np.testing.assert_allclose(L.forward(x), want, rtol=1e-12, atol=1e-12)
    # every row has exactly C * k * k non-zeros: the unit's window
    assert ((M != 0).sum(axis=1) == 2 * 4 * 4).all()


@pytest.mark.parametrize("stride", [1, 2, 3])
def test_layer_gradient_check(stride):
    L = LocallyConnected2d(2, (8, 7), maps=2, window=3, stride=stride, seed=0)
    x = np.random.default_rng(3).standard_normal((2, 2, 8, 7))
    errs = check_layer(L, x).errors
    assert max(errs.values()) < 1e-6, errs


def test_layer_rejects_bad_input():
    L = LocallyConnected2d(2, 9, maps=2, window=3)
    with pytest.raises(ValueError, match=r"needs \(N, 2, 9, 9\)"):
        L.forward(np.zeros((1, 3, 9, 9)))
    with pytest.raises(ValueError, match="window=10 is larger"):
        LocallyConnected2d(1, 9, maps=1, window=10)


def test_halo_plan_ranges():
    blocks = da.split_rows(13, 3)  # 5, 4, 4 rows
    needs = da.needed_rows(3, 13, window=4, stride=1)  # Ho = 10 -> 4, 3, 3 output rows
    assert blocks == [(0, 5), (5, 9), (9, 13)]
    assert needs == [(0, 7), (4, 10), (7, 13)]
    p1 = da.halo_plan(blocks, needs, 1)
    assert p1.from_prev == (4, 5) and p1.from_next == (9, 10)
    assert p1.to_prev == (5, 7) and p1.to_next == (7, 9)
    with pytest.raises(ValueError, match="use fewer ranks"):
        da.halo_plan(da.split_rows(14, 8), da.needed_rows(8, 14, 3, 1), 7)


def _run_distributed(p, case, network="10gbe"):
    spec = importlib.util.spec_from_file_location("distarray_script", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod, SimCluster(p, network=network).run(mod.distributed, case)


@pytest.mark.parametrize("p", [1, 2, 3, 4])
def test_distributed_layer_equals_one_process_on_simcluster(p):
    case = (2, (13, 6), 3, 4, 1)
    net = networks.two_level("pcie3", "fdr_ib", 2)
    mod, res = _run_distributed(p, case, net)
    layer, x, dz = mod.problem(case)
    z1, dx1 = layer.forward(x), layer.backward(dz)
    shared = sorted(
        h for h in range(13) if sum(lo <= h < hi for lo, hi in da.needed_rows(p, 13, 4, 1)) > 1
    )
    for z, dx, dW, db, (o0, o1) in res.values:
        assert np.array_equal(z, z1)  # bit-equal: the same GEMM per position
        assert np.array_equal(dW, layer.W.grad[o0:o1]) and np.array_equal(db, layer.b.grad[o0:o1])
        own = [h for h in range(13) if h not in shared]
        assert np.array_equal(dx[:, :, own], dx1[:, :, own])  # rows no halo touches
        np.testing.assert_allclose(dx, dx1, rtol=1e-12, atol=1e-14)


def test_exchange_uses_proc_null_at_the_edges():
    def train(comm):
        r, p = comm.Get_rank(), comm.Get_size()
        up = np.full(2, 10.0 * r)
        got_prev = np.full(2, -1.0) if r > 0 else None
        got_next = np.full(2, -1.0) if r < p - 1 else None
        da.exchange(comm, up if r > 0 else None, up if r < p - 1 else None, got_prev, got_next)
        return got_prev, got_next

    res = SimCluster(4).run(train)
    for r, (prev, nxt) in enumerate(res.values):
        assert (prev is None) == (r == 0) and (nxt is None) == (r == 3)
        if prev is not None:
            assert (prev == 10.0 * (r - 1)).all()
        if nxt is not None:
            assert (nxt == 10.0 * (r + 1)).all()
    assert len(res.messages) == 6  # 3 links, both ways; nothing to or from PROC_NULL


def mpiexec() -> str:
    path = Path(sys.executable).parent / "mpiexec"
    if not path.exists():
        pytest.fail(
            f"mpiexec not found next to {sys.executable}: install the MPICH wheel "
            "(`pip install mpich`, pinned in requirements.txt)"
        )
    return str(path)


@pytest.mark.parametrize("n", [2, 3])
def test_distributed_layer_under_real_mpi_equals_one_process(n):
    env = {
        **os.environ,
        "PYTHONPATH": str(ROOT),
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
    }
    proc = subprocess.run(
        [mpiexec(), "-n", str(n), sys.executable, "-m", "mpi4py", str(SCRIPT)],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
        cwd=ROOT,
    )
    assert proc.returncode == 0, f"mpiexec failed:\n{proc.stdout}\n{proc.stderr}"
    assert proc.stdout.count("forward, dW, db bit-equal; dx equal below 1e-12") == 2
    assert f"OK {n} ranks" in proc.stdout
