"""CUDA source compiled with no GPU: the CUDA C tiled GEMM through NVRTC, and the
Numba-CUDA glue kernels of the layers (dlkit.kernels.cuda_layers) to PTX."""

import json
import os
import subprocess
import sys

import pytest

from dlkit import backend
from dlkit.kernels import cuda_c


@pytest.mark.parametrize("arch", ["compute_75", "compute_90"])
def test_the_tiled_gemm_compiles_to_ptx(arch):
    ptx = cuda_c.compile_ptx(cuda_c.GEMM_TILED_SRC, arch)
    assert f".target sm_{arch[-2:]}" in ptx
    assert ".entry gemm_tiled" in ptx  # extern "C": the name is not mangled
    assert "bar.sync" in ptx  # __syncthreads()
    shared = [line for line in ptx.splitlines() if ".shared" in line and ".b8" in line]
    assert len(shared) == 2 and all("[1024]" in line for line in shared)  # 16·16 floats each


def test_the_tile_is_a_compile_time_constant():
    ptx = cuda_c.compile_ptx(options=("-DTILE=32",))
    shared = [line for line in ptx.splitlines() if ".shared" in line and ".b8" in line]
    assert len(shared) == 2 and all("[4096]" in line for line in shared)  # 32·32 floats


@pytest.mark.parametrize("config", cuda_c.BLOCKED_CONFIGS)
def test_the_register_blocked_gemm_compiles_with_its_patch_in_registers(config):
    bm, bn, bk, tm, tn = config
    options = tuple(f"-D{k}={v}" for k, v in zip(("BM", "BN", "BK", "TM", "TN"), config))
    for arch in ("compute_75", "compute_90"):
        ptx = cuda_c.compile_ptx(cuda_c.GEMM_BLOCKED_SRC, arch, options=options)
        assert ".entry gemm_blocked" in ptx and "bar.sync" in ptx
        shared = [line for line in ptx.splitlines() if ".shared" in line and ".b8" in line]
        assert sorted(shared)[0].endswith(f"[{4 * bk * bm}];")  # As: BK × BM floats
        assert ".local" not in ptx  # the TM × TN accumulators stay in registers
        assert ptx.count("fma.rn.f32") == bk * tm * tn  # the unrolled inner loops
    assert cuda_c.check_blocked_config(*config) == (bm // tm) * (bn // tn)


def test_a_blocked_config_that_cannot_launch_is_refused():
    with pytest.raises(ValueError, match="tm must divide bm"):
        cuda_c.check_blocked_config(64, 64, 8, 5, 4)
    with pytest.raises(ValueError, match="needs 4096 threads"):
        cuda_c.check_blocked_config(128, 128, 8, 2, 2)


def test_a_compile_error_shows_nvrtcs_log():
    bad = cuda_c.GEMM_TILED_SRC.replace("acc += As[ty][k] * Bs[k][tx];", "acc += As[ty][k] * Cs;")
    with pytest.raises(cuda_c.NVRTCError) as err:
        cuda_c.compile_ptx(bad, name="gemm_tiled.cu")
    text = str(err.value)
    assert "could not compile gemm_tiled.cu for compute_75" in text
    assert 'identifier "Cs" is undefined' in text and "gemm_tiled.cu(" in text


def test_bad_arguments_are_named():
    with pytest.raises(ValueError, match="arch must name a virtual architecture"):
        cuda_c.compile_ptx(arch="sm_75")
    with pytest.raises(TypeError, match="src must be CUDA C source text"):
        cuda_c.compile_ptx("")


@pytest.mark.skipif(backend.available("cupy"), reason="CuPy runs here")
def test_the_raw_kernel_needs_cupy_on_a_gpu():
    with pytest.raises(
        backend.BackendUnavailable, match="cupy_gemm_tiled needs CuPy on a GPU: cupy"
    ):
        cuda_c.cupy_gemm_tiled([[1.0]], [[1.0]])


PTX_SCRIPT = """
import json, numba
from numba import cuda
from dlkit.kernels import cuda_layers
out = {}
for t in ("float32", "float64"):
    for name, (kernel, sig) in cuda_layers.signatures(getattr(numba, t)).items():
        for cc in ((7, 5), (9, 0)):
            ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=cc)
            out[f"{name}[{t}]{cc}"] = [f".target sm_{cc[0]}{cc[1]}" in ptx, ptx.count(".f64")]
print(json.dumps(out))
"""


def test_the_layer_glue_kernels_compile_to_ptx():
    """In a process where numba.cuda is the real target (the simulator variable unset)."""
    env = {k: v for k, v in os.environ.items() if k != "NUMBA_ENABLE_CUDASIM"}
    proc = subprocess.run(
        [sys.executable, "-c", PTX_SCRIPT], capture_output=True, text=True, env=env, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    got = json.loads(proc.stdout.strip().splitlines()[-1])
    assert len(got) == 7 * 2 * 2
    for key, (target_ok, f64_lines) in got.items():
        assert target_ok, key
        if "float32" in key:
            assert f64_lines == 0, f"{key} computes in float64"  # stays in float32
