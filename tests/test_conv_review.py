"""Chapters 7 and 8 after review: checkers that never reveal the answer, the cost model
in flops and bytes, and the LeNet counts the chapters quote."""

from __future__ import annotations

import re

import numpy as np
import pytest

import dlkit.conv as dc
from dlkit import flops, models, nn
from dlkit.exercises import cnns, convolution

# -- the checks never print the expected value ------------------------------------------


def _spellings(value) -> set[str]:
    """The common ways to print `value`: the integer (with and without thousands
    separators) or the float rounded to 2-6 digits."""
    out = set()
    if float(value).is_integer():
        out |= {f"{int(value)}", f"{int(value):,}"}
    else:
        for d in range(2, 7):
            out |= {f"{value:.{d}f}", f"{value:.{d}g}"}
    return out


def _leaks(out: str, value, answer) -> list[str]:
    """The spellings of `value` found in `out`, once the reader's own answer is removed
    (a check may echo what it was given)."""
    for echo in sorted(
        {
            repr(answer),
            str(answer),
            f"{answer:g}" if isinstance(answer, float) else str(answer),
            f"{answer:,}" if isinstance(answer, int) else "",
        },
        key=len,
        reverse=True,
    ):
        if echo:
            out = out.replace(echo, " ")
    found = []
    for s in _spellings(value):
        if re.search(rf"(?<![\d.,]){re.escape(s)}(?![\d,]|\.\d)", out):
            found.append(s)
    return found


WRONG = [
    # (check, args before the answer, keyword args, the expected value, wrong answers)
    (convolution.check_output_size, (28, 5, 2, 1), {}, 13, [12, 14, 13.5, 15, "x"]),
    (
        convolution.check_winograd_multiplications,
        (1, 6, 16, 12, 12, 1),
        {},
        55_296,
        [124_416, 7, 55_295, 27_648, 36 * 16],
    ),
    (
        convolution.check_arithmetic_intensity,
        (64, 1, 6, 28, 5),
        {},
        dc.arithmetic_intensity(64, 1, 6, 28, 28, 5, 5, algorithm="im2col"),
        [10.18, 0.654, 5.23, 2.32, 7, 1.2, 1.4, "x"],
    ),
    (
        convolution.check_arithmetic_intensity,
        (64, 6, 16, 12, 5),
        {},
        dc.arithmetic_intensity(64, 6, 16, 12, 12, 5, 5, algorithm="im2col"),
        [39.89, 1.8, 14.5, 3.0, 4.2],
    ),
    (
        convolution.check_arithmetic_intensity,
        (64, 1, 6, 28, 5),
        {"algorithm": "direct"},
        dc.arithmetic_intensity(64, 1, 6, 28, 28, 5, 5),
        [1.31, 5.09, 40.7, 9.0, 12],
    ),
    (cnns.check_output_size, (227, 11, 4, 0), {}, 55, [54, 56, 54.5, 57, 217]),
    (
        cnns.check_conv_params,
        (96, 256, 5),
        {"groups": 2},
        307_456,
        [614_656, 307_200, 1, 307_456.5],
    ),
    (cnns.check_receptive_field, ([(3, 1), (2, 2), (3, 1)],), {}, 8, [5, 6, 7, 9, 7.5]),
]


@pytest.mark.parametrize(
    "check, args, kwargs, want, wrong",
    WRONG,
    ids=[f"{c.__module__.rsplit('.', 1)[-1]}.{c.__name__}-{i}" for i, (c, *_) in enumerate(WRONG)],
)
def test_a_wrong_answer_never_reveals_the_expected_value(check, args, kwargs, want, wrong, capsys):
    for answer in wrong:
        assert check(*args, answer, **kwargs) is False
        out = capsys.readouterr().out
        assert out.startswith("Not yet: ") and out.count("\n") == 1, out
        assert not _leaks(out, want, answer), f"{check.__name__}({answer!r}) prints {out!r}"


def test_the_right_answers_pass(capsys):
    assert convolution.check_output_size(28, 5, 2, 1, 13)
    assert convolution.check_winograd_multiplications(1, 6, 16, 12, 12, 1, 55_296)
    assert convolution.check_arithmetic_intensity(64, 1, 6, 28, 5, 1.31)  # rounded: within 2%
    assert convolution.check_arithmetic_intensity(64, 6, 16, 12, 5, 3.64)
    assert convolution.check_arithmetic_intensity(64, 6, 16, 12, 5, 39.9, algorithm="direct")
    assert cnns.check_output_size(227, 11, 4, 0, 55)
    assert cnns.check_conv_params(96, 256, 5, 307_456, groups=2)
    assert cnns.check_receptive_field([(3, 1), (2, 2), (3, 1)], 8)
    out = capsys.readouterr().out.splitlines()
    assert len(out) == 8 and all(line.startswith("Correct: ") for line in out)


def test_the_intensity_hints_name_the_mistake(capsys):
    flop = dc.direct_flops(64, 1, 6, 28, 28, 5, 5)
    moved = dc.conv_bytes(64, 1, 6, 28, 28, 5, 5, algorithm="im2col")
    cases = {
        dc.arithmetic_intensity(64, 1, 6, 28, 28, 5, 5): "direct convolution's intensity",
        flop / moved / 2: "a MAC is two flops",
        flop / moved * 4: "a float32 value is 4 bytes",
        flop / (moved - 4 * 25 * 64 * 24 * 24): "cols crosses the memory bus twice",
    }
    for answer, hint in cases.items():
        assert not convolution.check_arithmetic_intensity(64, 1, 6, 28, 5, answer)
        assert hint in capsys.readouterr().out


def test_checks_of_a_question_without_an_answer_say_so(capsys):
    assert not convolution.check_arithmetic_intensity(64, 1, 6, 28, 5, 1.3, algorithm="fft")
    assert capsys.readouterr().out.startswith("Cannot check: algorithm must be one of")
    assert not convolution.check_arithmetic_intensity(0.5, 1, 6, 28, 5, 1.3)
    assert capsys.readouterr().out.startswith("Cannot check: ")


def test_a_wrongly_shaped_convolution_is_told_so_without_the_shape(capsys):
    def wrong_shape(x, w, b, stride, padding):
        if x.shape == (1, 1, 5, 5):  # right on the first case, wrong on the second
            return dc.conv2d(x, w, b, stride, padding, "direct")
        return np.zeros((2, 4, 7, 6))

    assert not convolution.check_conv2d(wrong_shape)
    out = capsys.readouterr().out
    assert "(2, 4, 7, 6)" in out and "(2, 4, 7, 7)" not in out


# -- the cost model: MACs, flops, bytes ---------------------------------------------------


def test_flops_are_twice_the_macs_and_the_crossover_compares_flops():
    args = (8, 3, 8, 32, 32)
    for k in (3, 5, 7):
        assert dc.direct_flops(*args, k, k) == 2 * dc.direct_mults(*args, k, k)
    assert dc.fft_mults(*args) == dc.fft_flops(*args) / 2
    assert dc.fft_crossover(*args, [3, 5, 7, 9, 11]) == 5  # chapter 7's table
    k = dc.fft_crossover(*args, range(1, 12))
    assert k == 4
    assert dc.fft_flops(*args) < dc.direct_flops(*args, k, k)
    assert dc.fft_flops(*args) >= dc.direct_flops(*args, k - 1, k - 1)


def test_the_old_keyword_F_still_means_the_output_channels():
    assert dc.direct_mults(2, 3, F=4, H=10, W=9, kh=3, kw=3) == dc.direct_mults(
        2, 3, 4, 10, 9, 3, 3
    )
    assert dc.winograd_mults(1, 6, F=16, H=12, W=12, padding=1) == 55_296
    assert convolution.check_winograd_multiplications(
        1, 6, F=16, H=12, W=12, padding=1, answer=55_296
    )
    with pytest.raises(TypeError, match="pass C_out= only"):
        dc.direct_mults(2, 3, H=10, W=9, kh=3, kw=3, F=4, C_out=4)


def test_conv_bytes_counts_every_array_once_and_cols_twice():
    # chapter 7's LeNet-style layers, batch 64, float32
    assert dc.conv_bytes(64, 1, 6, 28, 28, 5, 5) == 4 * (64 * 784 + 150 + 64 * 6 * 576) == 1_086_040
    assert dc.conv_bytes(64, 6, 16, 12, 12, 5, 5) == 492_928
    cols1, cols2 = 25 * 64 * 24 * 24, 150 * 64 * 8 * 8
    assert cols1 == 921_600
    im1 = dc.conv_bytes(64, 1, 6, 28, 28, 5, 5, algorithm="im2col")
    im2 = dc.conv_bytes(64, 6, 16, 12, 12, 5, 5, algorithm="im2col")
    assert (im1, im2) == (1_086_040 + 8 * cols1, 492_928 + 8 * cols2) == (8_458_840, 5_408_128)
    # the numbers of the text, the table and exercise 4's solution
    direct = [
        dc.arithmetic_intensity(64, c, f, h, h, 5, 5) for c, f, h in [(1, 6, 28), (6, 16, 12)]
    ]
    assert [round(i, 1) for i in direct] == [10.2, 39.9]
    im2col = [
        dc.arithmetic_intensity(64, c, f, h, h, 5, 5, algorithm="im2col")
        for c, f, h in [(1, 6, 28), (6, 16, 12)]
    ]
    assert [round(i, 2) for i in im2col] == [1.31, 3.64]
    assert round(direct[0] / im2col[0]) == 8 and round(direct[1] / im2col[1]) == 11
    assert dc.arithmetic_intensity(64, 1, 6, 28, 28, 5, 5, itemsize=8) == direct[0] / 2


def test_the_cost_functions_refuse_bad_arguments():
    with pytest.raises(ValueError, match="conv_bytes: algorithm must be one of 'direct', 'im2col'"):
        dc.conv_bytes(1, 1, 1, 5, 5, 3, 3, algorithm="fft")
    with pytest.raises(TypeError, match="direct_mults: N must be an int"):
        dc.direct_mults(1.5, 1, 1, 5, 5, 3, 3)
    with pytest.raises(ValueError, match="conv_bytes: C_out must be a positive int, got 0"):
        dc.conv_bytes(1, 1, 0, 5, 5, 3, 3)


# -- the networks the chapters count -------------------------------------------------------


def test_lenet5_paper_count_is_exactly_60000_and_the_gap_is_three_layers():
    paper, spec = models.lenet5_paper_params(), models.lenet5()
    assert paper == {
        "C1": 156,
        "S2": 12,
        "C3": 1_516,
        "S4": 32,
        "C5": 48_120,
        "F6": 10_164,
        "output": 0,
    }
    assert sum(paper.values()) == 60_000 and spec.params == 61_706
    diff = {name: spec[name].params - p for name, p in paper.items() if spec[name].params != p}
    assert diff == {"S2": -12, "C3": 900, "S4": -32, "output": 850}


def test_the_c3_connection_table():
    table = models.LENET5_C3_TABLE
    assert len(table) == 16 and sum(map(len, table)) == 60
    assert [len(t) for t in table] == [3] * 6 + [4] * 9 + [6]
    assert all(list(t) == sorted(set(t)) and set(t) <= set(range(6)) for t in table)
    # the first six read three neighbouring S2 maps, the next six four (cyclically)
    for i in range(6):
        assert set(table[i]) == {i % 6, (i + 1) % 6, (i + 2) % 6}
        assert set(table[6 + i]) == {(i + d) % 6 for d in range(4)}
    assert len(set(table)) == 16  # no two C3 maps read the same maps


def test_lenet28_net_is_the_lenet_style_network_of_chapter_7():
    net = models.lenet28_net(seed=0)
    assert net.n_params == 44_426
    assert flops.total_macs(net, (1, 28, 28)) == 281_640
    assert net[0].input_grad is False and isinstance(net[1], nn.ReLU)
    assert isinstance(net[2], nn.MaxPool2d)
    out = net.forward(np.zeros((2, 1, 28, 28)))
    assert out.shape == (2, 10)
    assert models.lenet28_net(5).n_params == 44_426 - 5 * 85
    assert models.lenet5_net(seed=0).n_params == 61_706  # LeNet-5 is another network


def test_the_mlp_control_of_chapter_8_has_as_many_parameters_as_the_cnn():
    cnn = models.digits_cnn(seed=0)
    h = round((cnn.n_params - 10) / 75)
    assert (cnn.n_params, h) == (21_386, 285)
    assert nn.mlp([64, h, 10], "relu", seed=0).n_params == 21_385
