"""The batch-innermost gradient kernels and the register blocks sized for the target.

Every kernel is compared with the numpy reference (im2col + GEMM in float64) on ragged
shapes: batches and channel counts that do not fill the kernels' blocks, non-square
kernels, the paddings the layers use. The register blocks of both targets (AVX-512's
and AVX2's) are called directly, so both are tested on any machine.
"""

import numpy as np
import pytest

import dlkit.conv as dc
from dlkit import nn
from dlkit.kernels import cpu, target

SHAPES = [  # N, C, F, H, W, kh, kw, padding
    (64, 6, 16, 12, 12, 5, 5, 0),  # conv2 of the LeNet-style network
    (64, 6, 16, 12, 12, 3, 3, 1),  # conv2 as 3x3 pad 1
    (5, 1, 6, 28, 28, 5, 5, 0),  # conv1's shape, a small batch
    (3, 2, 3, 9, 7, 4, 2, 1),  # nothing fills a block
    (1, 5, 7, 6, 8, 3, 5, 2),
    (7, 4, 9, 5, 5, 1, 1, 0),
]


def _case(N, C, F, H, W, kh, kw, p, dtype, seed=0):
    g = np.random.default_rng(seed)
    x = g.standard_normal((N, C, H, W)).astype(dtype)
    w = g.standard_normal((F, C, kh, kw)).astype(dtype)
    Ho, Wo = H + 2 * p - kh + 1, W + 2 * p - kw + 1
    dout = g.standard_normal((N, F, Ho, Wo)).astype(dtype)
    ref = dc.conv2d_im2col_backward(dout.astype(np.float64), x.astype(np.float64), w, 1, p)
    return x, w, dout, ref


def _close(got, ref, dtype):
    tol = 1e-4 if dtype == np.float32 else 1e-11
    scale = max(np.abs(ref).max(), 1.0)
    assert got.shape == ref.shape
    assert np.abs(got - ref).max() <= tol * scale


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_weight_grad_chwn_matches_reference(shape, dtype):
    N, C, F, H, W, kh, kw, p = shape
    x, w, dout, (_, dw, _) = _case(*shape, dtype)
    got = cpu.conv2d_weight_grad_chwn(dout, x, kh, kw, p)
    assert got.dtype == dtype
    _close(got, dw, dtype)


@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_input_grad_chwn_matches_reference(shape, dtype):
    N, C, F, H, W, kh, kw, p = shape
    x, w, dout, (dx, _, _) = _case(*shape, dtype)
    got = cpu.conv2d_input_grad_chwn(dout, w, H, W, p)
    assert got.dtype == dtype
    _close(got, dx, dtype)


@pytest.mark.parametrize("block", ["wgrad_block_4x5", "wgrad_block_4x3"])
def test_both_register_blocks_add_their_dot_products(block):
    """Each block, whatever the target, adds Σ_i dt[f+a, i] · xf[i·RN + off[r+b] :]."""
    g = np.random.default_rng(1)
    RB = int(block[-1])
    F4, Ho, L, RN = 8, 3, 13, 17
    dt = g.standard_normal((F4, Ho, L))
    xf = g.standard_normal(Ho * RN + 40)
    off = g.integers(0, 20, 2 * RB)
    dw = np.ones((F4, 2 * RB))
    getattr(cpu, block)(dt, xf, dw, 4, RB, off, RN, Ho, L)
    expect = np.ones((F4, 2 * RB))
    for a in range(4):
        for b in range(RB):
            expect[4 + a, RB + b] += sum(
                dt[4 + a, i] @ xf[i * RN + off[RB + b] : i * RN + off[RB + b] + L]
                for i in range(Ho)
            )
    np.testing.assert_allclose(dw, expect, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("shape", SHAPES + [(4, 3, 8, 9, 9, 3, 3, 1)])
def test_fast_backward_equals_the_reference_on_every_plan(shape):
    N, C, F, H, W, kh, kw, p = shape
    x, w, dout, (dx, dw, db) = _case(*shape, np.float64)
    gx, gw, gb = dc.conv2d_fast_backward(dout, x, w, 1, p)
    _close(gx, dx, np.float64)
    _close(gw, dw, np.float64)
    _close(gb, db, np.float64)
    none, gw2, _ = dc.conv2d_fast_backward(dout, x, w, 1, p, need_dx=False)
    assert none is None
    _close(gw2, dw, np.float64)


def test_fast_backward_with_a_stride_and_an_empty_batch():
    g = np.random.default_rng(2)
    x = g.standard_normal((3, 4, 11, 10))
    w = g.standard_normal((5, 4, 3, 3))
    dout = g.standard_normal((3, 5, 6, 5))
    ref = dc.conv2d_im2col_backward(dout, x, w, 2, 1)
    for got, r in zip(dc.conv2d_fast_backward(dout, x, w, 2, 1), ref):
        _close(got, r, np.float64)
    e = dc.conv2d_fast_backward(np.zeros((0, 5, 9, 8)), np.zeros((0, 4, 11, 10)), w, 1, 0)
    assert e[0].shape == (0, 4, 11, 10) and not e[1].any()


def test_backward_plan_rule():
    assert dc.backward_plan((16, 6, 5, 5), 1) == ("chwn", "chwn")
    assert dc.backward_plan((6, 1, 5, 5), 1) == ("chwn", "dot")  # one input channel
    assert dc.backward_plan((16, 6, 5, 5), 2) == ("gemm", "gemm")  # C·kh·kw = 150
    assert dc.backward_plan((4, 2, 3, 3), 2) == ("dot", "dot")  # 18 < GEMM_MIN_K

    class NoChwn:  # a backend without the batch-innermost kernels
        pass

    assert dc.backward_plan((16, 6, 5, 5), 1, NoChwn()) == ("gemm", "gemm")


@pytest.mark.parametrize("padding", [0, 1])
def test_conv2d_auto_gradient_check(padding):
    """Conv2d(algorithm="auto") takes the batch-innermost gradients: a numerical check."""
    x = np.random.default_rng(3).standard_normal((3, 3, 7, 6))
    layer = nn.Conv2d(3, 5, 3, padding=padding, seed=0)
    assert nn.check_layer(layer, x, h=1e-4).max_error < 1e-7


def test_gemm_kernel_5x5_adds_a_block():
    g = np.random.default_rng(5)
    Ap = g.standard_normal((10, 11))
    Bp = g.standard_normal((10, 11))
    C = np.ones((10, 10))
    cpu.gemm_kernel_5x5(Ap, Bp, C, 5, 5, 9)
    expect = np.ones((10, 10))
    expect[5:10, 5:10] += Ap[5:10, :9] @ Bp[5:10, :9].T
    np.testing.assert_allclose(C, expect, rtol=1e-12, atol=1e-12)


def test_register_blocks_follow_the_target():
    avx512 = "+avx,+avx2,+fma,+avx512f,+avx512vl"
    avx2 = "+avx,+avx2,+fma,-avx512f"
    assert target.vector_registers(avx512) == 32
    assert target.vector_registers(avx2) == 16 and target.vector_registers("") == 16
    assert target.has_feature("avx2", avx2) and not target.has_feature("avx512f", avx2)
    wide = target.vector_registers() >= 32  # this process's target
    assert (cpu.MICRO_MR, cpu.MICRO_NR) == ((5, 5) if wide else (4, 3))
    assert cpu.WGRAD_RB == (5 if wide else 3)


def test_to_chwn_layout():
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    t = cpu.to_chwn(x, 1)
    assert t.shape == (3, 6, 7, 2)
    np.testing.assert_array_equal(t[:, 1:5, 1:6, :], x.transpose(1, 2, 3, 0))
    assert not t[:, 0].any() and not t[:, :, 0].any() and not t[:, 5].any()
