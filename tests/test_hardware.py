"""dlkit.hardware: datasheets, the roofline, the CUDA model counted, DianNao's pipeline.

Closed forms are checked against exact replays and against runs of the demonstration
kernels in Numba's CUDA simulator (one subprocess with NUMBA_ENABLE_CUDASIM=1, so this
process keeps its CPU numba), and the kernels are compiled to PTX for compute
capabilities 7.5 and 9.0.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import textwrap

import numpy as np
import pytest

from dlkit.experiments import gpu as xg
from dlkit.hardware import cudamodel as cm
from dlkit.hardware import diannao as dn
from dlkit.hardware import roofline as rf
from dlkit.hardware import specs

# ------------------------------------------------------------------------------ specs


def test_datasheet_peaks_multiply_out():
    assert specs.I7_7700K.peak_from_parts() == pytest.approx(540, rel=0.01)
    assert specs.RTX_2080_TI_SPEC.peak_from_parts() == pytest.approx(13_400, rel=0.01)
    assert specs.H200_SXM.peak_from_parts() == pytest.approx(67_000, rel=0.01)
    # the seed's 3,584 cores (the GTX 1080 Ti's) do not give its 13.4 TFLOP/s
    assert specs.RTX_2080_TI.peak_from_parts() < 0.9 * specs.RTX_2080_TI.peak_gflops
    assert specs.H200_SXM.ridge == pytest.approx(67_000 / 4_800)


# ------------------------------------------------------------------------------ roofline


def test_roofline_bound_and_ridge():
    P, B = 1000.0, 100.0
    assert rf.ridge(P, B) == 10.0
    assert rf.bound(1.0, P, B) == 100.0
    assert rf.bound(10.0, P, B) == 1000.0
    assert rf.bound(50.0, P, B) == 1000.0
    np.testing.assert_array_equal(rf.bound([0.5, 20.0], P, B), [50.0, 1000.0])
    c = rf.Ceiling("m", P, B)
    assert c.ridge == 10.0 and c.bound(2.0) == 200.0


@pytest.mark.parametrize(
    "args", [(-1.0, 1.0, 1.0), (float("nan"), 1.0, 1.0), (1.0, 0.0, 1.0), (1.0, 1.0, "x")]
)
def test_roofline_bound_refuses_bad_input(args):
    with pytest.raises(ValueError, match="bound"):
        rf.bound(*args)


def test_intensities():
    for n in (8, 100, 1024):
        assert rf.gemm_intensity(n, n, n) == pytest.approx(n / 6)
        assert rf.gemm_intensity(n, n, n, itemsize=8) == pytest.approx(n / 12)
    assert rf.fc_intensity(1, 4096, 4096) == pytest.approx(0.5, rel=1e-3)
    big = rf.fc_intensity(10**6, 4096, 4096)
    assert big == pytest.approx(2 * 4096 * 4096 / (4 * 8192), rel=1e-2)
    assert rf.elementwise_intensity() == pytest.approx(2 / 12)
    assert rf.reduction_intensity(8) == 1 / 8
    with pytest.raises(ValueError, match="M must be an int"):
        rf.gemm_intensity(0, 3, 3)


def test_measurements_count_flops_and_bytes():
    t = rf.measure_triad(2**12, repeats=1)
    assert (t.flops, t.bytes) == (2 * 2**12, 24 * 2**12) and t.seconds > 0
    g = rf.measure_peak(32, repeats=1)
    assert g.flops == 2 * 32**3 and g.intensity == pytest.approx(32 / 6)


# ------------------------------------------------------------------------------ CUDA model


@pytest.mark.parametrize(
    "shape,block", [((6, 10), (4, 4)), ((12, 20), (16, 4)), ((5, 33), (32, 1))]
)
def test_ownership_gives_each_output_one_thread(shape, block):
    o = cm.ownership(shape, block)
    rows, cols = shape
    bx, by = block
    r, c = np.indices(shape)
    np.testing.assert_array_equal(o.block_y * by + o.thread_y, r)
    np.testing.assert_array_equal(o.block_x * bx + o.thread_x, c)
    gid = (o.block_id * bx * by + o.thread_x + bx * o.thread_y).ravel()
    assert np.unique(gid).size == rows * cols
    assert o.idle_threads == o.grid[0] * o.grid[1] * bx * by - rows * cols
    assert o.warp.max() == (bx * by - 1) // 32


def test_ownership_refuses_bad_blocks():
    with pytest.raises(ValueError, match="at most 1024"):
        cm.ownership((4, 4), (64, 32))
    with pytest.raises(ValueError, match="block"):
        cm.ownership((4, 4), (0, 4))


def test_warp_transactions():
    assert cm.warp_transactions(4 * np.arange(32)) == 1  # 32 float32 in one 128-byte line
    assert cm.warp_transactions(4 * np.arange(32), 32) == 4
    assert cm.warp_transactions(4 + 4 * np.arange(32)) == 2  # misaligned by one float
    assert cm.warp_transactions(8 * np.arange(32)) == 2  # stride 2
    assert cm.warp_transactions(256 * np.arange(32)) == 32  # down a column
    with pytest.raises(ValueError, match="segment"):
        cm.warp_transactions([0], 100)
    with pytest.raises(ValueError, match="at most 32"):
        cm.warp_transactions(np.arange(33))


@pytest.mark.parametrize("itemsize,segment", [(4, 128), (4, 32), (8, 128), (8, 64)])
def test_access_transactions_closed_form(itemsize, segment):
    rows = cols = 64
    row = cm.access_transactions(rows, cols, "row", itemsize, segment)
    col = cm.access_transactions(rows, cols, "column", itemsize, segment)
    assert row == rows * cols * itemsize // segment  # every byte fetched is used
    assert col == rows * cols  # one transaction per thread


@pytest.mark.parametrize(
    "M,N,K,T", [(8, 8, 8, 4), (13, 11, 9, 4), (5, 7, 3, 2), (16, 16, 16, 16), (9, 4, 17, 8)]
)
def test_gemm_loads_closed_form_equals_replay(M, N, K, T):
    for tile in (None, T):
        nA, nB = cm.replay_gemm_loads(M, N, K, tile)
        assert (int(nA.sum()), int(nB.sum())) == cm.gemm_loads(M, N, K, tile)
    nA, _ = cm.replay_gemm_loads(M, N, K, T)
    assert (nA == -(-N // T)).all()  # each element of A once per block column


def test_tiling_divides_loads_by_tile_size():
    n = 64
    naive = sum(cm.gemm_loads(n, n, n))
    for T in (1, 2, 4, 8, 16, 32, 64):
        assert naive == T * sum(cm.gemm_loads(n, n, n, T))


def test_replay_tiled_gemm_needs_its_barriers():
    r = np.random.default_rng(0)
    A, B = r.standard_normal((9, 7)), r.standard_normal((7, 10))
    np.testing.assert_allclose(cm.replay_tiled_gemm(A, B, 4), A @ B, atol=1e-12)
    assert not np.allclose(cm.replay_tiled_gemm(A, B, 4, barriers=False), A @ B)
    with pytest.raises(ValueError, match="matching K"):
        cm.replay_tiled_gemm(A, A, 4)


# Known values (the CUDA Occupancy Calculator's rules): (threads, registers, shared, cc)
# -> (blocks per SM, occupancy, limiter).
OCCUPANCY = [
    ((256, 32, 0, "7.5"), (4, 1.0, "warps")),
    ((256, 96, 0, "7.5"), (2, 0.5, "registers")),
    ((1024, 64, 0, "7.5"), (1, 1.0, "warps")),
    ((128, 32, 40_000, "7.5"), (1, 0.125, "shared memory")),
    ((256, 32, 0, "9.0"), (8, 1.0, "warps")),
    ((128, 64, 48 * 1024, "9.0"), (4, 0.25, "shared memory")),
    ((1024, 64, 0, "9.0"), (1, 0.5, "registers")),
    ((64, 16, 0, "9.0"), (32, 1.0, "warps")),
    ((32, 16, 0, "9.0"), (32, 0.5, "blocks")),
]


@pytest.mark.parametrize("args,want", OCCUPANCY)
def test_occupancy_known_values(args, want):
    o = cm.occupancy(*args)
    assert (o.blocks, o.fraction, o.limiter) == want


@pytest.mark.parametrize(
    "args,match",
    [
        ((0, 32), "threads_per_block"),
        ((2048, 32), "at most 1024 threads"),
        ((256, 300), "registers per thread"),
        ((256, 32, -1), "shared_per_block"),
        ((256, 32, 10**6, "9.0"), "shared memory per block"),
        ((256, 32, 0, "6.1"), "cc must be one of"),
    ],
)
def test_occupancy_refuses_bad_input(args, match):
    with pytest.raises(ValueError, match=match):
        cm.occupancy(*args)


@pytest.fixture(scope="module")
def simulated():
    return xg.cuda_model_runs(own_shape=(6, 10), own_block=(4, 4), gemm=(13, 11, 9), tile=4)


def test_simulator_ownership_equals_index_arithmetic(simulated):
    o = cm.ownership((6, 10), (4, 4))
    for k in ("block_x", "block_y", "thread_x", "thread_y"):
        np.testing.assert_array_equal(simulated["ownership"][k], getattr(o, k))


@pytest.mark.parametrize("name,tile", [("naive", None), ("tiled", 4)])
def test_simulator_load_counts_equal_closed_form_and_replay(simulated, name, tile):
    r = simulated[name]
    np.testing.assert_allclose(r["C"], r["A"] @ r["B"], atol=1e-12)
    nA, nB = cm.replay_gemm_loads(13, 11, 9, tile)
    np.testing.assert_array_equal(r["nA"], nA)
    np.testing.assert_array_equal(r["nB"], nB)
    assert (int(r["nA"].sum()), int(r["nB"].sum())) == cm.gemm_loads(13, 11, 9, tile)


def test_simulator_catches_a_missing_barrier(simulated):
    r = simulated["no_sync"]
    assert not np.allclose(r["C"], r["A"] @ r["B"])


def test_simulator_reports_a_failing_job():
    with pytest.raises(cm.SimulatorError):
        cm.simulate("no_such_job")
    with pytest.raises(ValueError, match="name, kwargs"):
        cm.simulate_many(["ownership"])


def test_kernels_compile_to_ptx_for_two_compute_capabilities():
    code = textwrap.dedent(
        """
        from numba import cuda, float64, int64
        import dlkit.hardware._cudasim as s
        m2 = float64[:, :]
        gemm = (m2, m2, m2, int64[:, :], int64[:, :])
        for cc in ((7, 5), (9, 0)):
            ptx, _ = cuda.compile_ptx(s.whoami.py_func, (int64[:, :],) * 4, cc=cc)
            assert ".entry" in ptx
            ptx, _ = cuda.compile_ptx(s.gemm_naive.py_func, gemm, cc=cc)
            assert "atom" in ptx
            ptx, _ = cuda.compile_ptx(s.make_gemm_tiled(8).py_func, gemm, cc=cc)
            assert "bar.sync" in ptx and ".shared" in ptx
            ptx, _ = cuda.compile_ptx(s.make_gemm_tiled(8, False).py_func, gemm, cc=cc)
            assert "bar.sync" not in ptx
        print("ok")
        """
    )
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=300, env=env
    )
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr[-2000:]


def test_kernel_source_reads_the_file():
    src = cm.kernel_source("make_gemm_tiled")
    assert "cuda.syncthreads()" in src.code and src.location == "dlkit/hardware/_cudasim.py"
    with pytest.raises(ValueError, match="no kernel"):
        cm.kernel_source("nothing")
    with pytest.raises(ValueError, match="a dlkit module"):
        cm.kernel_source("x", "os")
    conv = cm.kernel_source("conv2d_direct_kernel", "dlkit.kernels.cuda")
    assert conv.code.startswith("@cuda.jit") and conv.location == "dlkit/kernels/cuda.py"


def test_importing_the_models_does_not_import_numba():
    code = (
        "import sys, dlkit.hardware.cudamodel, dlkit.hardware.diannao, dlkit.hardware.specs,"
        " dlkit.hardware.roofline, dlkit.experiments.gpu, dlkit.exercises.gpus;"
        " print('numba' in sys.modules)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120)
    assert out.stdout.strip() == "False", out.stderr


# ------------------------------------------------------------------------------ DianNao


@pytest.mark.parametrize("s_in,s_out", [(40, 20), (16, 16), (3, 1), (33, 17)])
def test_diannao_fc_cycle_by_cycle_equals_closed_form(s_in, s_out):
    L = dn.fc_layer(s_in, s_out)
    r = np.random.default_rng(1)
    x, w = r.standard_normal(s_in), r.standard_normal((s_out, s_in))
    out, c = dn.simulate_nfu(L, x, w)
    assert c == dn.cycles(L) == -(-s_out // 16) * -(-s_in // 16) + 2
    np.testing.assert_allclose(out, np.tanh(w @ x), atol=1e-12)


@pytest.mark.parametrize("C_in,C_out,H,W,kh,kw", [(3, 18, 7, 6, 3, 2), (17, 5, 4, 4, 2, 2)])
def test_diannao_conv_cycle_by_cycle_equals_closed_form(C_in, C_out, H, W, kh, kw):
    from dlkit import conv

    L = dn.conv_layer(C_in, C_out, H, W, kh, kw)
    r = np.random.default_rng(2)
    x, w = r.standard_normal((C_in, H, W)), r.standard_normal((C_out, C_in, kh, kw))
    out, c = dn.simulate_nfu(L, x, w, g=lambda z: np.maximum(z, 0))
    assert c == dn.cycles(L)
    ref = np.maximum(conv.conv2d(x[None], w, algorithm="direct")[0], 0)
    np.testing.assert_allclose(out, ref, atol=1e-12)


def test_diannao_throughput():
    assert dn.peak_gops() == pytest.approx(2 * 256 * 0.98)
    big = dn.throughput(dn.fc_layer(4096, 4096))
    assert big.utilisation > 0.9999 and big.gops == pytest.approx(dn.peak_gops(), rel=1e-4)
    assert big.intensity == pytest.approx(1.0, rel=1e-3)  # 2 ops per 2-byte synapse
    conv = dn.throughput(dn.conv_layer(6, 16, 14, 14, 5, 5))
    assert conv.utilisation == pytest.approx(6 * 16 * 100 * 25 / (256 * conv.cycles))
    assert conv.bandwidth_gbs < 10 < big.bandwidth_gbs


def test_diannao_refuses_bad_input():
    with pytest.raises(ValueError, match="s_in"):
        dn.fc_layer(0, 3)
    with pytest.raises(ValueError, match="larger than the input"):
        dn.conv_layer(1, 1, 3, 3, 5, 5)
    with pytest.raises(TypeError, match="diannao.Layer"):
        dn.cycles((3, 4))
    with pytest.raises(ValueError, match="shapes"):
        dn.simulate_nfu(dn.fc_layer(4, 2), np.ones(5), np.ones((2, 4)))


# ------------------------------------------------------------------------------ GPU runs


RUN = {
    "device": "NVIDIA H200",
    "compute_capability": "9.0",
    "date": "2026-12-01",
    "rows": [
        {
            "group": "gpu",
            "name": "GEMM 4096³ tiled",
            "dlkit_s": 0.01,
            "peer": "cupy.matmul",
            "peer_s": 0.004,
            "note": "",
        },
        {
            "group": "gpu",
            "name": "conv1",
            "dlkit_s": 1e-4,
            "peer": None,
            "peer_s": None,
            "note": "no cuDNN here",
        },
    ],
}


def test_gpu_runs_file(tmp_path):
    assert isinstance(xg.load_gpu_runs(), list)
    p = tmp_path / "runs.json"
    p.write_text(json.dumps({"runs": []}))
    one = tmp_path / "run.json"
    one.write_text(json.dumps(RUN))
    assert xg.add_gpu_run(one, p) == 1
    assert xg.load_gpu_runs(p) == [RUN]
    p.write_text(json.dumps({"runs": [{"device": "x"}]}))
    with pytest.raises(ValueError, match="lacks date, rows"):
        xg.load_gpu_runs(p)
    p.write_text(json.dumps({"runs": [{**RUN, "rows": [{"name": "x"}]}]}))
    with pytest.raises(ValueError, match="dlkit_s"):
        xg.load_gpu_runs(p)
    p.write_text("[]")
    with pytest.raises(ValueError, match="expected"):
        xg.load_gpu_runs(p)


def test_gpu_runs_figure_draws_every_timed_row():
    from dlkit.viz import gpu as vg

    fig = vg.plot_gpu_runs([RUN])
    assert len(fig.axes[0].patches) == 4  # two rows, dlkit and peer bars


def test_source_from_code_renders_like_show_source_and_rejects_bad_input():
    import dlkit

    src = dlkit.Source.from_code(
        "def f():\n    return 1", "dlkit.kernels.cuda", "f", anchor="module-dlkit.kernels"
    )
    assert src.code == "def f():\n    return 1\n"
    assert src.location == "dlkit/kernels/cuda.py"
    assert src.reference == "../api/dlkit.kernels.html#module-dlkit.kernels"
    assert "dlkit-source-ref" in src._repr_html_()
    with pytest.raises(ValueError, match="code must be a non-empty"):
        dlkit.Source.from_code("  ", "dlkit.x", "f", anchor="module-dlkit")
    with pytest.raises(ValueError, match="anchor must name"):
        dlkit.Source.from_code("x = 1", "dlkit.x", "f", anchor="")
