"""dlkit.conv: every algorithm against scipy.signal.correlate, and its gradients."""

import numpy as np
import pytest
from scipy.signal import correlate

import dlkit.conv as dc
from dlkit.nn import numerical_gradient, rel_error

ALGOS = ["direct", "im2col", "winograd", "fft", "numba"]


def reference(x, w, b, stride, padding):
    """Channel-summed scipy correlations, kept at every stride-th position."""
    xp = np.pad(x, ((0, 0), (0, 0), (padding, padding), (padding, padding)))
    N, F = x.shape[0], w.shape[0]
    out = np.array(
        [
            [
                sum(correlate(xp[n, c], w[f, c], mode="valid") for c in range(x.shape[1])) + b[f]
                for f in range(F)
            ]
            for n in range(N)
        ]
    )
    return out[:, :, ::stride, ::stride]


def applies(algorithm, kernel, stride):
    return algorithm != "winograd" or (kernel == (3, 3) and stride == 1)


# (N, C, H, W, F, kh, kw): odd sizes, non-square kernels, many channels
SHAPES = [
    (2, 3, 7, 8, 4, 3, 3),
    (1, 1, 9, 5, 2, 3, 3),
    (3, 2, 11, 13, 3, 5, 4),
    (1, 17, 6, 7, 9, 3, 3),
    (2, 5, 8, 8, 3, 1, 1),
    (1, 2, 12, 10, 2, 7, 6),
    (2, 3, 9, 10, 8, 5, 4),  # F a multiple of 4: the blocked compiled kernel
]


FORWARD_CASES = [
    (a, shape, s, p)
    for a in ALGOS
    for shape in SHAPES
    for s, p in [(1, 0), (1, 2), (2, 0), (3, 1)]
    if applies(a, shape[5:], s)
]


@pytest.mark.parametrize("algorithm,shape,stride,padding", FORWARD_CASES)
def test_forward_matches_scipy(algorithm, shape, stride, padding):
    N, C, H, W, F, kh, kw = shape
    g = np.random.default_rng(sum(shape) + stride + padding)
    x = g.standard_normal((N, C, H, W))
    w = g.standard_normal((F, C, kh, kw))
    b = g.standard_normal(F)
    out = dc.conv2d(x, w, b, stride, padding, algorithm)
    ref = reference(x, w, b, stride, padding)
    assert out.shape == ref.shape
    np.testing.assert_allclose(out, ref, rtol=1e-10, atol=1e-10)


@pytest.mark.parametrize("algorithm", ALGOS)
def test_float32_matches_scipy(algorithm):
    g = np.random.default_rng(0)
    x = g.standard_normal((2, 4, 10, 9)).astype(np.float32)
    w = g.standard_normal((3, 4, 3, 3)).astype(np.float32)
    out = dc.conv2d(x, w, None, 1, 1, algorithm)
    assert out.dtype == np.float32
    ref = reference(x.astype(np.float64), w.astype(np.float64), np.zeros(3), 1, 1)
    np.testing.assert_allclose(out, ref, rtol=1e-4, atol=1e-4)


def test_direct_loops_is_the_definition():
    g = np.random.default_rng(1)
    x, w, b = g.standard_normal((1, 2, 6, 5)), g.standard_normal((2, 2, 3, 2)), np.zeros(2)
    for s, p in [(1, 0), (2, 1)]:
        np.testing.assert_allclose(
            dc.conv2d_direct_loops(x, w, b, s, p), reference(x, w, b, s, p), atol=1e-12
        )


BACKWARD_CASES = [
    (a, s, p)
    for a in ALGOS
    for s, p in [(1, 0), (1, 1), (2, 1), (3, 0)]
    if a != "winograd" or s == 1
]


@pytest.mark.parametrize("algorithm,stride,padding", BACKWARD_CASES)
def test_backward_gradient_check(algorithm, stride, padding):
    kernel = (3, 3) if algorithm == "winograd" else (3, 2)
    g = np.random.default_rng(stride * 10 + padding)
    x = g.standard_normal((2, 2, 7, 6))
    w = g.standard_normal((3, 2) + kernel)
    b = g.standard_normal(3)
    R = g.standard_normal(dc.conv2d(x, w, b, stride, padding, "im2col").shape)

    def loss():
        return float(np.sum(dc.conv2d(x, w, b, stride, padding, algorithm) * R))

    dx, dw, db = dc.conv2d_backward(R, x, w, stride, padding, algorithm)
    # The loss is linear in each argument, so a large step has no truncation error.
    # Inputs a stride never reads have gradient exactly 0 (numerically ~1e-13), so the
    # error is measured relative to the largest entry rather than entry by entry.
    for analytic, arg in ((dx, x), (dw, w), (db, b)):
        num = numerical_gradient(loss, arg, h=1e-3)
        err = np.abs(analytic - num).max() / np.abs(num).max()
        assert err < 1e-9, err
        big = np.abs(num) > 1e-3 * np.abs(num).max()
        assert rel_error(analytic[big], num[big]) < 1e-7


def test_fast_backward_equals_numba_backward():
    g = np.random.default_rng(3)
    # C·kh·kw = 27 takes the dot-product kernel for dw, 72 the GEMM
    for C, s, p in [(3, 1, 0), (3, 2, 1), (8, 1, 0), (8, 2, 1)]:
        x, w = g.standard_normal((2, C, 9, 8)), g.standard_normal((4, C, 3, 3))
        d = g.standard_normal(dc.conv2d(x, w, None, s, p).shape)
        fast = dc.conv2d_fast_backward(d, x, w, s, p)
        for a, b in zip(fast, dc.conv2d_numba_backward(d, x, w, s, p)):
            np.testing.assert_allclose(a, b, atol=1e-12)
        assert dc.conv2d_fast_backward(d, x, w, s, p, need_dx=False)[0] is None


def test_im2col_col2im_are_adjoint():
    # <im2col(x), c> == <x, col2im(c)> for all x, c: col2im is im2col's transpose
    g = np.random.default_rng(2)
    x = g.standard_normal((2, 3, 7, 6))
    cols = dc.im2col(x, 3, 2, 2, 1)
    c = g.standard_normal(cols.shape)
    assert np.isclose(np.sum(cols * c), np.sum(x * dc.col2im(c, x.shape, 3, 2, 2, 1)))
    assert cols.shape == (3 * 3 * 2, 2 * 4 * 4)


def test_winograd_transforms_reproduce_a_tile():
    # Y = Aᵀ[(G g Gᵀ) ⊙ (Bᵀ d B)]A is the 2x2 valid correlation of a 4x4 tile
    g = np.random.default_rng(5)
    d, k = g.standard_normal((4, 4)), g.standard_normal((3, 3))
    Y = dc.AT @ ((dc.G @ k @ dc.G.T) * (dc.BT @ d @ dc.BT.T)) @ dc.AT.T
    np.testing.assert_allclose(Y, correlate(d, k, mode="valid"), atol=1e-12)


def test_clear_errors():
    x, w = np.zeros((1, 2, 8, 8)), np.zeros((3, 2, 5, 5))
    with pytest.raises(ValueError, match="needs a 3x3 kernel, got 5x5"):
        dc.conv2d(x, w, algorithm="winograd")
    with pytest.raises(ValueError, match="needs stride 1, got stride 2"):
        dc.conv2d(x, np.zeros((3, 2, 3, 3)), stride=2, algorithm="winograd")
    with pytest.raises(ValueError, match="has 2 channels but the kernel expects 4"):
        dc.conv2d(x, np.zeros((3, 4, 3, 3)))
    with pytest.raises(ValueError, match=r"add a channel axis with x\[:, None\]"):
        dc.conv2d(np.zeros((4, 8, 8)), np.zeros((3, 1, 3, 3)))
    with pytest.raises(ValueError, match="larger than the padded input"):
        dc.conv2d(np.zeros((1, 2, 3, 3)), w)
    with pytest.raises(ValueError, match="unknown convolution algorithm"):
        dc.conv2d(x, w, algorithm="gemm")
    with pytest.raises(ValueError, match="stride must be a positive int"):
        dc.conv2d(x, w, stride=0)


def test_operation_counts():
    # one 2x2 output tile of a 3x3 kernel: 36 products direct, 16 by Winograd
    assert dc.direct_mults(1, 1, 1, 4, 4, 3, 3) == 36
    assert dc.winograd_mults(1, 1, 1, 4, 4) == 16
    assert dc.im2col_mults(2, 3, 4, 10, 9, 3, 3) == dc.direct_mults(2, 3, 4, 10, 9, 3, 3)
    assert dc.direct_mults(64, 1, 6, 28, 28, 5, 5) == 64 * 6 * 24 * 24 * 25
    # the FFT model does not depend on the kernel size; direct grows with it
    assert dc.fft_mults(8, 16, 16, 32, 32) == dc.fft_mults(8, 16, 16, 32, 32)
    k = dc.fft_crossover(8, 16, 16, 32, 32, range(1, 32))
    assert k is not None
    assert dc.direct_mults(8, 16, 16, 32, 32, k, k) > dc.fft_mults(8, 16, 16, 32, 32)
    assert dc.direct_mults(8, 16, 16, 32, 32, k - 1, k - 1) <= dc.fft_mults(8, 16, 16, 32, 32)


def test_chapter7_exercise_checks(capsys):
    from dlkit.exercises import ch07

    assert ch07.check_output_size(28, 5, 1, 0, 24)
    assert ch07.check_output_size(28, 5, 2, 1, 13)
    assert not ch07.check_output_size(28, 5, 2, 1, 13.5)
    assert not ch07.check_output_size(28, 5, 2, 1, "x")
    assert not ch07.check_output_size(28.0, 5, 2, 1, 13)  # never raises
    assert "Cannot check" in capsys.readouterr().out
    assert ch07.check_output_size(3, 5, 1, 1, 1)  # padding makes it fit
    assert ch07.check_winograd_multiplications(2, 6, 16, 12, 12, 1, 2 * 6 * 16 * 36 * 16)
    assert not ch07.check_winograd_multiplications(1, 1, 1, 5, 5, 0, 81)  # direct count
    assert ch07.check_conv2d(dc.conv2d_im2col)
    assert not ch07.check_conv2d(lambda x, w, b, s, p: dc.conv2d(x, w[:, :, ::-1, ::-1], b, s, p))
    assert "flipped kernel" in capsys.readouterr().out
    assert not ch07.check_conv2d(lambda *a: 1 / 0)


# ------------------------------------------------------------------ helpers' arguments


@pytest.mark.parametrize(
    "args, exc, phrase",
    [
        ((5, 3, 1.5), TypeError, "output_size: stride must be an int, got 1.5"),
        ((5, 3, True), TypeError, "output_size: stride must be an int, got True"),
        ((5, 3, 0), ValueError, "output_size: stride must be a positive int, got 0"),
        (("5", 3), TypeError, "output_size: size must be an int, got '5'"),
        ((None, 3), TypeError, "output_size: size must be an int, got None"),
        ((5, 3, 1, -3), ValueError, "output_size: padding must be >= 0, got -3"),
        ((5, 0), ValueError, "kernel size k must be a positive int"),
        ((2, 5), ValueError, "a window of 5 does not fit in the padded length 2"),
    ],
)
def test_output_size_refuses_bad_arguments(args, exc, phrase):
    with pytest.raises(exc, match=phrase):
        dc.output_size(*args)


def test_output_size_values():
    assert dc.output_size(28, 5) == 24
    assert dc.output_size(28, 5, 2, 1) == 13
    assert dc.output_size(2, 5, 1, 2) == 2  # fits once padded
    assert dc.output_size(np.int64(8), np.int64(3), np.int64(2)) == 3


def test_pad_input_and_dilate_need_nchw_arrays():
    with pytest.raises(TypeError, match="pad_input: x must be a numpy array, got None"):
        dc.pad_input(None, 1)
    with pytest.raises(
        ValueError,
        match=r"pad_input: x must have shape \(N, C, H, W\), got "
        r"\(4, 4\); add batch and channel axes",
    ):
        dc.pad_input(np.ones((4, 4)), 1)
    with pytest.raises(
        ValueError,
        match=r"dilate: dout must have shape \(N, C, H, W\), got "
        r"\(3, 3\)",
    ):
        dc.dilate(np.ones((3, 3)), 2)
    x = np.ones((1, 1, 2, 2))
    assert dc.pad_input(x, 0) is x
    assert dc.pad_input(x, 1).sum() == 4 and dc.pad_input(x, 1).shape == (1, 1, 4, 4)
    np.testing.assert_array_equal(dc.dilate(x, 2)[0, 0], [[1, 0, 1], [0, 0, 0], [1, 0, 1]])


@pytest.mark.parametrize("algo", ALGOS)
def test_empty_batch_convolves_to_an_empty_batch(algo):
    x, w = np.zeros((0, 2, 6, 6)), np.ones((4, 2, 3, 3))
    assert dc.conv2d(x, w, np.zeros(4), 1, 0, algo).shape == (0, 4, 4, 4)
    dx, dw, db = dc.conv2d_backward(np.zeros((0, 4, 4, 4)), x, w, 1, 0, algo)
    assert dx.shape == (0, 2, 6, 6) and not dw.any() and not db.any()
    assert dc.col2im(np.zeros((18, 0)), (0, 2, 6, 6), 3, 3).shape == (0, 2, 6, 6)
