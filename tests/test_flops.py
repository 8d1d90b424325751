"""dlkit.flops: per-layer counts equal their closed forms."""

import pytest

from dlkit import flops
from dlkit.nn import Conv2d, Dropout, Flatten, Linear, MaxPool2d, ReLU, Sequential


def lenet5():
    return Sequential(
        Conv2d(1, 6, 5, seed=0),
        ReLU(),
        MaxPool2d(2),
        Conv2d(6, 16, 5, seed=1),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(256, 120, seed=2),
        ReLU(),
        Linear(120, 84, seed=3),
        ReLU(),
        Dropout(0.5),
        Linear(84, 10, seed=4),
    )


def test_lenet5_counts():
    net = lenet5()
    rows = flops.count(net, (1, 28, 28))
    assert [r.output_shape for r in rows][:7] == [
        (6, 24, 24),
        (6, 24, 24),
        (6, 12, 12),
        (16, 8, 8),
        (16, 8, 8),
        (16, 4, 4),
        (256,),
    ]
    # closed forms
    assert rows[0].macs == 6 * 24 * 24 * 1 * 5 * 5 == 86_400
    assert rows[3].macs == 16 * 8 * 8 * 6 * 5 * 5 == 153_600
    assert rows[7].macs == 256 * 120
    params = (
        (6 * 25 + 6) + (16 * 6 * 25 + 16) + (256 * 120 + 120) + (120 * 84 + 84) + (84 * 10 + 10)
    )
    assert params == 44_426
    assert sum(r.params for r in rows) == params == net.n_params
    assert flops.total_macs(net, (64, 1, 28, 28)) == 86_400 + 153_600 + 30_720 + 10_080 + 840
    assert "total" in flops.table(net, (1, 28, 28)) and "44,426" in flops.table(net, (1, 28, 28))


def test_helpers_closed_forms():
    assert flops.conv2d_output_hw(227, 227, 11, 4, 0) == (55, 55)  # AlexNet conv1
    assert flops.conv2d_macs(3, 96, 11, (55, 55)) == 96 * 55 * 55 * 3 * 121
    assert flops.conv2d_params(3, 96, 11) == 96 * 3 * 121 + 96
    assert flops.conv2d_params(3, 96, (11, 11), bias=False) == 96 * 3 * 121
    assert flops.linear_macs(4096, 1000) == 4_096_000
    assert flops.linear_params(4096, 1000) == 4_097_000
    assert flops.pool_output_hw(55, 55, 3, 2) == (27, 27)


def test_strided_padded_conv_counts_match_layer():
    layer = Conv2d(3, 8, 3, stride=2, padding=1)
    (row,) = flops.count(layer, (3, 31, 30))
    assert row.output_shape == layer.output_shape((1, 3, 31, 30))[1:] == (8, 16, 15)
    assert row.macs == 8 * 16 * 15 * 3 * 9 and row.params == 8 * 27 + 8


def test_shape_errors_are_clear():
    with pytest.raises(ValueError, match="add Flatten"):
        flops.count(Sequential(Conv2d(1, 2, 3), Linear(8, 2)), (1, 4, 4))
    with pytest.raises(ValueError, match=r"needs \(3, H, W\)"):
        flops.count(Sequential(Conv2d(3, 2, 3)), (1, 4, 4))


def test_benchmark_lenet5_matches_the_counted_network():
    from dlkit.bench.conv import kernel_size_sweep, lenet5

    net = lenet5()
    assert net.n_params == 44_426
    assert [r.output_shape for r in flops.count(net, (1, 28, 28))][-1] == (10,)
    times = kernel_size_sweep(1, 1, 4, 8, kernel_sizes=(3, 5), repeat=1)
    assert set(times) == {"direct", "im2col", "fft", "numba"}
    assert all(len(t) == 2 and min(t) > 0 for t in times.values())


def test_table_layout_is_exact():
    # chapters 7 and 8 print these tables and compare them character for character
    net = Sequential(
        Conv2d(1, 2, 3, seed=0), ReLU(), MaxPool2d(2), Flatten(), Linear(18, 10, seed=1)
    )
    assert flops.table(net, (1, 8, 8)) == "\n".join(
        [
            "  #  layer            output                  MACs      params",
            "  0  Conv2d(1, 2, 3)  (2, 6, 6)                648          20",
            "  1  ReLU()           (2, 6, 6)                  0           0",
            "  2  MaxPool2d(2)     (2, 3, 3)                  0           0",
            "  3  Flatten()        (18,)                      0           0",
            "  4  Linear(18, 10)   (10,)                    180         190",
            "     total                                     828         210",
        ]
    )


def test_windows_that_do_not_fit_name_the_layer():
    with pytest.raises(ValueError, match=r"Conv2d\(1, 1, 5\): a window of 5 does not fit"):
        flops.count(Sequential(Conv2d(1, 1, 5)), (1, 2, 2))
    with pytest.raises(ValueError, match=r"MaxPool2d\(4\): a window of 4 does not fit"):
        flops.count(Sequential(MaxPool2d(4)), (1, 2, 2))
    with pytest.raises(ValueError, match=r"MaxPool2d\(2\) cannot take inputs of shape \(4,\)"):
        flops.count(Sequential(Flatten(), MaxPool2d(2)), (1, 2, 2))
