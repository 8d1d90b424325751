"""Checks for the exercises of chapter 8, *Convolutional networks*.

Each check prints a verdict and returns True or False; a wrong answer never raises.

- :func:`check_output_size`: H_out of a convolution or pooling window.
- :func:`check_conv_params`: the parameters of a conv layer (with groups).
- :func:`check_receptive_field`: the receptive field of a stack of layers.
"""

from __future__ import annotations

from typing import Sequence

from dlkit.models import conv, conv_out_size


def _as_int(answer, what: str) -> int | None:
    try:
        value = float(answer)
    except (TypeError, ValueError):
        print(f"Wrong: {what} should be a whole number, got {answer!r}")
        return None
    if value != int(value):
        print(f"Not yet: {what} is a whole number of pixels/parameters, got {value:g}; "
              "the formula rounds down")
        return None
    return int(value)


def check_output_size(h: int, k: int, stride: int, padding: int, answer) -> bool:
    """Is `answer` the output size of a k x k window, stride s, padding p, on h pixels?"""
    try:
        want = conv_out_size(int(h), int(k), int(stride), int(padding))
    except (TypeError, ValueError) as exc:
        print(f"Cannot check: {exc}")
        return False
    got = _as_int(answer, "the output size")
    if got is None:
        return False
    if got == want:
        print(f"Correct: ({h} + 2·{padding} − {k}) // {stride} + 1 = {want}.")
        return True
    hint = ""
    if got == (h - k) // stride + 1:
        hint = " Did you forget the padding on both sides (2p)?"
    elif got == -(-(h + 2 * padding - k) // stride) + 1:
        hint = " The division rounds down: a window must fit entirely."
    print(f"Not yet: {got} is not it.{hint} Use H_out = (H + 2p − k) // s + 1.")
    return False


def check_conv_params(c_in: int, c_out: int, k: int, answer, *, groups: int = 1,
                      bias: bool = True) -> bool:
    """Is `answer` the number of weights and biases of Conv2d(c_in, c_out, k, groups)?"""
    try:
        want = conv("check", (c_in, k, k), c_out, k, groups=groups, bias=bias).params
    except (TypeError, ValueError) as exc:
        print(f"Cannot check: {exc}")
        return False
    got = _as_int(answer, "the parameter count")
    if got is None:
        return False
    if got == want:
        print(f"Correct: {c_out} filters of {c_in // groups}·{k}·{k} weights"
              f"{' plus a bias' if bias else ''} = {want:,}.")
        return True
    hint = ""
    if got == c_out * c_in * k * k + (c_out if bias else 0) and groups > 1:
        hint = f" With groups={groups} each filter sees only C_in/groups = {c_in // groups} channels."
    elif got == want - (c_out if bias else 0):
        hint = " Each filter also has a bias."
    print(f"Not yet: {got:,} is not it.{hint} params = C_out·(C_in/groups·k·k + 1).")
    return False


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Receptive field of stacked windows [(k, s), ...], first layer first.

    r ← r + (k − 1)·j and j ← j·s, starting from r = j = 1 (one input pixel).
    """
    r, j = 1, 1
    for k, s in layers:
        r += (int(k) - 1) * j
        j *= int(s)
    return r


def check_receptive_field(layers: Sequence[tuple[int, int]], answer) -> bool:
    """Is `answer` the receptive field (in input pixels, per side) of the stack?

    `layers` lists (kernel size, stride) from the input up, e.g. [(3, 1), (2, 2), (3, 1)]
    for conv 3x3, max pool 2x2, conv 3x3.
    """
    try:
        want = receptive_field(layers)
    except (TypeError, ValueError) as exc:
        print(f"Cannot check: {exc}")
        return False
    got = _as_int(answer, "the receptive field")
    if got is None:
        return False
    if got == want:
        print(f"Correct: one output of this stack sees a {want}x{want} patch of the input.")
        return True
    naive = 1 + sum(int(k) - 1 for k, _ in layers)
    hint = (" Strides multiply the step of every later layer: after a stride-2 pool, one "
            "pixel of the next layer's input is two input pixels apart." if got == naive else "")
    print(f"Not yet: {got} is not it.{hint} Grow r by (k − 1)·j per layer, j the product of "
          "the strides below it.")
    return False
