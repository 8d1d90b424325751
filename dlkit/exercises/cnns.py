"""Checks for the exercises of the chapter *Convolutional networks*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint) and
returns True or False; it never raises, whatever it is given.

- :func:`check_output_size`: H_out of a convolution or pooling window.
- :func:`check_conv_params`: the parameters of a conv layer (with groups).
- :func:`check_receptive_field`: the receptive field of a stack of layers.

No check prints the expected value: a wrong answer gets a hint about the method.
"""

from __future__ import annotations

from typing import Sequence

from dlkit.exercises import cannot_check, never_raises, number, verdict, whole
from dlkit.models import conv, conv_out_size


def _not_whole(answer, what: str, why: str) -> str | None:
    """The hint for an `answer` that is not a whole number, or None when it is one.

    `why` says what the whole number counts, without saying which one it is.
    """
    value = number(answer)
    if value is None:
        return f"{what} should be a whole number, got {answer!r}"
    if not value.is_integer():
        return f"{what} is a whole number, got {value:g}: {why}"
    return None


@never_raises
def check_output_size(h: int, k: int, stride: int, padding: int, answer) -> bool:
    """Is `answer` the output size of a k x k window, stride s, padding p, on h pixels?"""
    try:
        want = conv_out_size(int(h), int(k), int(stride), int(padding))
    except (TypeError, ValueError, OverflowError) as exc:
        return cannot_check(str(exc))
    hint = _not_whole(
        answer,
        "the output size",
        "it counts the window positions, and only a window that fits entirely counts",
    )
    if hint:
        return verdict(False, hint)
    got = whole(answer)
    if got == want:
        return verdict(True, f"({h} + 2·{padding} − {k}) // {stride} + 1 = {want}.")
    hint = ""
    if got == (h - k) // stride + 1:
        hint = " Did you forget the padding on both sides (2·padding)?"
    elif got == -(-(h + 2 * padding - k) // stride) + 1:
        hint = " A window must fit entirely inside the padded image: a partial one is not computed."
    return verdict(
        False, f"{got} is not it.{hint} Use H_out = (H_in + 2·padding − k) // stride + 1."
    )


@never_raises
def check_conv_params(
    c_in: int, c_out: int, k: int, answer, *, groups: int = 1, bias: bool = True
) -> bool:
    """Is `answer` the number of weights and biases of Conv2d(c_in, c_out, k, groups)?"""
    try:
        want = conv("check", (c_in, k, k), c_out, k, groups=groups, bias=bias).params
    except (TypeError, ValueError) as exc:
        return cannot_check(str(exc))
    hint = _not_whole(answer, "the parameter count", "it counts weights and biases")
    if hint:
        return verdict(False, hint)
    got = whole(answer)
    if got == want:
        return verdict(
            True,
            f"{c_out} filters of {c_in // groups}·{k}·{k} weights"
            f"{' plus a bias' if bias else ''} = {want:,}.",
        )
    hint = ""
    if got == c_out * c_in * k * k + (c_out if bias else 0) and groups > 1:
        hint = (
            f" With groups={groups} each filter sees only C_in/groups = {c_in // groups} channels."
        )
    elif got == want - (c_out if bias else 0):
        hint = " Each filter also has a bias."
    return verdict(False, f"{got:,} is not it.{hint} params = C_out·(C_in/groups·k·k + 1).")


def receptive_field(layers: Sequence[tuple[int, int]]) -> int:
    """Receptive field of stacked windows [(k, stride), ...], first layer first.

    field ← field + (k − 1)·jump and jump ← jump·stride, starting from one input pixel
    (field = jump = 1); the jump is how many input pixels apart two neighbouring
    inputs of the next layer are.
    """
    field, jump = 1, 1
    for k, stride in layers:
        field += (int(k) - 1) * jump
        jump *= int(stride)
    return field


@never_raises
def check_receptive_field(layers: Sequence[tuple[int, int]], answer) -> bool:
    """Is `answer` the receptive field (in input pixels, per side) of the stack?

    `layers` lists (kernel size, stride) from the input up, e.g. [(3, 1), (2, 2), (3, 1)]
    for conv 3x3, max pool 2x2, conv 3x3.
    """
    try:
        want = receptive_field(layers)
    except (TypeError, ValueError, OverflowError) as exc:
        return cannot_check(str(exc))
    hint = _not_whole(answer, "the receptive field", "it counts input pixels along one side")
    if hint:
        return verdict(False, hint)
    got = whole(answer)
    if got == want:
        return verdict(True, f"one output of this stack sees a {want}x{want} patch of the input.")
    naive = 1 + sum(int(k) - 1 for k, _ in layers)
    hint = (
        " Strides multiply the step of every later layer: after a stride-2 pool, one "
        "pixel of the next layer's input is two input pixels apart."
        if got == naive
        else ""
    )
    return verdict(
        False,
        f"{got} is not it.{hint} Each layer grows the field by (k − 1) × jump, the jump "
        "being the product of the strides below it.",
    )
