"""Every CUDA kernel compiles to PTX for compute capabilities 7.5 and 9.0, with no GPU.

Compiling needs the real numba.cuda target, and this process may have the simulator
on (tests/conftest.py), so the compilation runs in a child process without
NUMBA_ENABLE_CUDASIM, without CUDA_HOME and CUDA_PATH, and with no CUDA directory on
LD_LIBRARY_PATH: it must find NVVM in the ``numba-cuda[cu12]`` wheels, as on a
reader's machine, not in a system toolkit such as /usr/local/cuda.
"""

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip(
    "numba_cuda", reason="numba-cuda is not installed: pip install 'numba-cuda[cu12]'"
)

ROOT = Path(__file__).resolve().parents[1]
KERNELS = (
    "axpy",
    "relu_forward",
    "relu_backward",
    "sum_reduce",
    "gemm_naive",
    "gemm_tiled",
    "conv2d_direct",
    "im2col",
    "maxpool2d_forward",
    "maxpool2d_backward",
    "softmax_xent",
    "sgd_update",
    "momentum_update",
)
DTYPES = ("float32", "float64")


def _clean_env() -> dict:
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("NUMBA_ENABLE_CUDASIM", "CUDA_HOME", "CUDA_PATH", "DLKIT_REAL_CUDA")
    }
    ld = [p for p in env.get("LD_LIBRARY_PATH", "").split(os.pathsep) if p and "cuda" not in p]
    env["LD_LIBRARY_PATH"] = os.pathsep.join(ld)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    return env


@pytest.fixture(scope="module")
def report() -> dict:
    """python -m dlkit.kernels.ptx --json, run in a clean child process."""
    r = subprocess.run(
        [sys.executable, "-m", "dlkit.kernels.ptx", "--json", "--cc", "7.5", "9.0"],
        env=_clean_env(),
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=900,
    )
    assert r.returncode == 0, r.stderr[-3000:]
    return json.loads(r.stdout)


def _row(report, kernel, dtype):
    rows = {row["kernel"]: row for row in report["rows"]}
    return rows[f"{kernel}[{dtype}]"]


def test_the_table_lists_every_kernel_and_dtype(report):
    from dlkit.kernels import cuda

    assert cuda.KERNELS == KERNELS  # the list below is the module's
    assert [row["kernel"] for row in report["rows"]] == [
        f"{k}[{d}]" for k in KERNELS for d in DTYPES
    ]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kernel", KERNELS)
def test_every_kernel_compiles_for_both_compute_capabilities(report, kernel, dtype):
    row = _row(report, kernel, dtype)
    assert set(row["lines"]) == {"7.5", "9.0"}
    assert min(row["lines"].values()) > 20  # a real kernel: entry, parameters, body
    if dtype == "float32":
        assert row["f64_lines"] == 0, "a float32 kernel promotes to float64 somewhere"


@pytest.mark.parametrize("dtype, size", [("float32", 4), ("float64", 8)])
def test_the_tiled_gemm_has_its_barrier_and_its_two_shared_tiles(report, dtype, size):
    row = _row(report, "gemm_tiled", dtype)
    assert row["bar_sync"]
    assert row["shared_bytes"] == 2 * 16 * 16 * size  # sA and sB, T = 16
    assert not _row(report, "gemm_naive", dtype)["bar_sync"]
    assert _row(report, "gemm_naive", dtype)["shared_bytes"] == 0


@pytest.mark.parametrize("dtype, size", [("float32", 4), ("float64", 8)])
def test_the_reduction_uses_shared_memory_barriers_and_warp_shuffles(report, dtype, size):
    row = _row(report, "sum_reduce", dtype)
    assert row["bar_sync"] and row["shfl"]
    assert row["shared_bytes"] == 256 * size  # one slot per thread


def test_the_compiler_comes_from_the_wheels_not_a_system_toolkit(report):
    prefix = os.path.realpath(sys.prefix)
    nvvm_by, nvvm = report["toolkit"]["nvvm"]
    assert os.path.realpath(nvvm).startswith(prefix), (nvvm_by, nvvm)
    loaded = [p for p in report["loaded"] if "libnvvm" in p]
    assert loaded, "libnvvm was not loaded: nothing was compiled?"
    for path in loaded:
        assert os.path.realpath(path).startswith(prefix), path
        assert not path.startswith("/usr/local/cuda"), path


def test_ptx_stats_reads_shared_bytes_barriers_and_shuffles():
    from dlkit.kernels.ptx import ptx_stats

    text = (
        ".visible .shared .align 4 .b8 _smem_1[1024];\n"
        ".shared .align 8 .b8 _smem_2[2048];\n"
        "bar.sync 0;\nshfl.sync.down.b32 %r1, %r2, 16, 31, -1;\nadd.f64 %fd1, %fd2, %fd3;"
    )
    s = ptx_stats(text)
    assert s == {"lines": 5, "shared_bytes": 3072, "bar_sync": True, "shfl": True, "f64_lines": 1}
    assert ptx_stats("ret;")["shared_bytes"] == 0


def test_compiling_under_the_simulator_is_refused_clearly():
    from numba import cuda

    from dlkit.kernels import ptx

    if not cuda.jit.__module__.startswith("numba.cuda.simulator"):
        pytest.skip("this process runs the real numba.cuda target")
    with pytest.raises(RuntimeError, match="without that variable"):
        ptx.compile_all((7, 5))
    with pytest.raises(RuntimeError, match="simulator"):
        ptx.toolkit()


def test_bad_arguments_are_named():
    from dlkit.kernels import ptx

    with pytest.raises(TypeError, match="compute capability"):
        ptx._check_cc([7, 5])
    with pytest.raises(TypeError, match="compute capability"):
        ptx._check_cc((7.0, 5))
    assert np.array_equal(ptx._parse_cc("9.0"), (9, 0))
