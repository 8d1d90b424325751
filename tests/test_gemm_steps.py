"""The steps from the naive matrix product to the register-blocked one agree with numpy.

Each kernel of dlkit.kernels.cpu that chapter 7's "What it takes to reach BLAS" shows is
compared with ``A @ B`` on ragged sizes (not multiples of the blocks, the 4 × 3 register
block or the SIMD width) in float32 and float64. No timing is asserted: speed is shown
by ``python -m dlkit.bench --only gemm``.
"""

import numpy as np
import pytest

numba = pytest.importorskip("numba")
from dlkit.kernels import cpu  # noqa: E402

STEPS = ["gemm_naive", "gemm_loop_order", "gemm_tiled", "gemm_packed", "gemm_micro", "gemm_blocked"]
SIZES = [(1, 1, 1), (5, 7, 2), (13, 37, 11), (65, 130, 257), (130, 513, 67)]


def _check(C, A, B):
    ref = A.astype(np.float64) @ B.astype(np.float64)
    assert C.shape == ref.shape and C.dtype == A.dtype and C.flags.c_contiguous
    tol = 1e-12 if A.dtype == np.float64 else 1e-4
    # float32 sums of K terms: the error grows like sqrt(K) times the terms' size
    scale = np.sqrt(A.shape[1]) if A.dtype == np.float32 else 1.0
    np.testing.assert_allclose(C, ref, rtol=tol * scale, atol=tol * scale)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
@pytest.mark.parametrize("M,K,N", SIZES)
@pytest.mark.parametrize("step", STEPS)
def test_step_matches_numpy(step, M, K, N, dtype):
    g = np.random.default_rng(M * 1000 + K * 10 + N)
    A = g.standard_normal((M, K)).astype(dtype)
    B = g.standard_normal((K, N)).astype(dtype)
    _check(getattr(cpu, step)(A, B), A, B)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_small_blocks_and_panels(dtype):
    """Blocks smaller than the matrices, so every loop runs several times and ends ragged."""
    g = np.random.default_rng(3)
    A = g.standard_normal((37, 45)).astype(dtype)
    B = g.standard_normal((45, 29)).astype(dtype)
    _check(cpu.gemm_tiled(A, B, 8, 16, 8), A, B)
    _check(cpu.gemm_packed(A, B, 8, 16), A, B)
    _check(cpu.gemm_micro(A, B, 6, 16), A, B)  # bm not a multiple of 4
    _check(cpu.gemm_micro(A, B, 4, 8), A, B)


def test_micro_on_one_thread_is_the_same_product():
    g = np.random.default_rng(4)
    A = g.standard_normal((70, 90)).astype(np.float32)
    B = g.standard_normal((90, 50)).astype(np.float32)
    before = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        one = cpu.gemm_micro(A, B, 16, 32)
    finally:
        numba.set_num_threads(before)
    np.testing.assert_array_equal(one, cpu.gemm_micro(A, B, 16, 32))


def test_pack_b_layout():
    B = np.arange(5 * 4, dtype=np.float64).reshape(5, 4)
    Bp = cpu.gemm_pack_b(B, 3)
    assert Bp.shape == (2, 6, 3)  # 2 panels of 3 rows; 4 columns padded to 6
    np.testing.assert_array_equal(Bp[0, :4], B[0:3].T)
    np.testing.assert_array_equal(Bp[1, :4, :2], B[3:5].T)
    assert not Bp[1, :, 2].any() and not Bp[:, 4:].any()  # zero padding


def test_kernel_4x3_adds_a_block():
    g = np.random.default_rng(5)
    Ap = g.standard_normal((8, 10))
    Bp = g.standard_normal((6, 10))
    C = np.ones((8, 6))
    cpu.gemm_kernel_4x3(Ap, Bp, C, 4, 3, 7)
    expect = np.ones((8, 6))
    expect[4:8, 3:6] += Ap[4:8, :7] @ Bp[3:6, :7].T
    np.testing.assert_allclose(C, expect, rtol=1e-12, atol=1e-12)


def test_micro_kernel_uses_the_vector_registers_of_the_target():
    """Compiled (not run) for an AVX2 and an AVX-512 CPU, the micro-kernel's loop is
    twelve FMAs on 256-bit and on 512-bit registers (what chapter 7 prints)."""
    from dlkit.bench.gemm import AVX2_FEATURES, AVX512_FEATURES, fma_registers

    avx2 = fma_registers("gemm_kernel_4x3", "haswell", AVX2_FEATURES)
    assert avx2["ymm"] == 12 and avx2["zmm"] == 0
    zen4 = fma_registers("gemm_kernel_4x3", "znver4", AVX512_FEATURES)
    assert zen4["zmm"] == 12


def test_fma_registers_names_its_kernels():
    from dlkit.bench.gemm import fma_registers

    with pytest.raises(ValueError, match="gemm_kernel_4x3"):
        fma_registers("gemm_fast")
