"""Layer arithmetic: output sizes, parameter counts, multiply-adds and layer tables.

Every formula for the shape or the cost of a layer is written here once; the
convolution algorithms (:mod:`dlkit.conv`), the per-layer counts of a real network
(:mod:`dlkit.flops`) and the architecture specifications (:mod:`dlkit.models`) import
these functions rather than repeating them. The module imports nothing from dlkit, so
every floor of the package may use it (numpy is its one import).

Notation of chapters 7 and 8: a convolution maps (C_in, H_in, W_in) to
(C_out, H_out, W_out) with kernels k_h × k_w, a stride, zero padding, and `groups`
splitting the channels into that many independent towers::

    H_out  = floor((H_in + 2·padding - k_h) / stride) + 1     (ceil for Caffe-style pooling)
    conv   params = C_out · (C_in/groups · k_h · k_w + 1)     (the +1 is the bias)
           MACs   = C_out · H_out · W_out · C_in/groups · k_h · k_w
    fc     params = s_j · (s_{j-1} + 1),   MACs = s_j · s_{j-1}   (widths s_{j-1} -> s_j)

A multiply-accumulate (MAC) is one multiply and one add, so a layer does F = 2 · MACs
floating-point operations (flops). Counts are for one example; multiply by the batch
size for a mini-batch.
"""

from __future__ import annotations

from typing import Iterable, Sequence


from dlkit.checks import check_int

__all__ = [
    "check_int_arg",
    "check_output_size_args",
    "output_size",
    "pair",
    "output_hw",
    "pool_output_hw",
    "conv_params",
    "conv_macs",
    "linear_params",
    "linear_macs",
    "layer_table",
]


# -- argument checks ----------------------------------------------------------------------


def check_int_arg(v, name: str, who: str, minimum: int) -> int:
    """`v` as an int >= `minimum`; a bool, a float (even 2.0) or a str is a TypeError."""
    return check_int(v, name, who, minimum)


def check_output_size_args(size, k, stride, padding, who: str = "output_size") -> None:
    """size an int >= 0, k and stride ints >= 1, padding an int >= 0, and the window of
    length k must fit in the padded length size + 2·padding."""
    size = check_int_arg(size, "size", who, 0)
    k = check_int_arg(k, "the kernel size k", who, 1)
    check_int_arg(stride, "stride", who, 1)
    padding = check_int_arg(padding, "padding", who, 0)
    if size + 2 * padding < k:
        raise ValueError(
            f"{who}: a window of {k} does not fit in the padded length {size + 2 * padding} "
            f"(size {size} + 2·padding {padding}); pad more or use a smaller kernel"
        )


# -- output sizes -------------------------------------------------------------------------


def output_size(
    size: int,
    k: int,
    stride: int = 1,
    padding: int = 0,
    ceil_mode: bool = False,
    *,
    who: str = "output_size",
) -> int:
    """Output length along one axis: (size + 2·padding − k) // stride + 1.

    Parameters
    ----------
    size : int
        Input length H (or W).
    k : int
        Window (kernel) length k_h (or k_w).
    stride, padding : int
        The stride and the zero padding on each side.
    ceil_mode : bool
        Round the division up, as Caffe's pooling does; the last window must still
        start inside the input (the Caffe and PyTorch rule).
    who : str
        The caller named in an error message.

    Returns
    -------
    int
        H_out (or W_out), at least 1: a window that does not fit is a ValueError.
    """
    check_output_size_args(size, k, stride, padding, who)
    span = size + 2 * padding - k
    if not ceil_mode:
        return span // stride + 1
    out = -(-span // stride) + 1
    if (out - 1) * stride >= size + padding:
        out -= 1
    return out


def pair(v) -> tuple:
    """(v, v) for one number, (v[0], v[1]) for a pair: a kernel, stride or padding."""
    if isinstance(v, (tuple, list)):
        if len(v) != 2:
            raise ValueError(f"expected one number or a pair (height, width), got {v!r}")
        return v[0], v[1]
    return v, v


def output_hw(
    h: int, w: int, kernel, stride=1, padding=0, *, who: str = "output_size"
) -> tuple[int, int]:
    """(H_out, W_out): (H + 2·padding − kh) // stride + 1, and the same for W.

    `kernel`, `stride` and `padding` are each one int or a pair (height, width).
    """
    (kh, kw), (sh, sw), (ph, pw) = pair(kernel), pair(stride), pair(padding)
    return output_size(h, kh, sh, ph, who=who), output_size(w, kw, sw, pw, who=who)


def pool_output_hw(
    h: int, w: int, kernel, stride=None, *, who: str = "output_size"
) -> tuple[int, int]:
    """(H_out, W_out) of a pooling window with no padding (stride defaults to the window)."""
    stride = kernel if stride is None else stride
    return output_hw(h, w, kernel, stride, 0, who=who)


# -- parameters and multiply-adds ---------------------------------------------------------


def conv_params(c_in: int, c_out: int, kernel, bias: bool = True, groups: int = 1) -> int:
    """Weights and biases of a convolution: C_out · (C_in/groups · k_h · k_w + 1).

    `kernel` is k or (k_h, k_w); without a bias the +1 goes.
    """
    kh, kw = pair(kernel)
    return int(c_out * (c_in // groups * kh * kw + (1 if bias else 0)))


def conv_macs(c_in: int, c_out: int, kernel, out_hw: tuple[int, int], groups: int = 1) -> int:
    """Multiply-accumulates of one example through a convolution.

    C_out·H_out·W_out·C_in/groups·k_h·k_w: each of the C_out·H_out·W_out outputs is a
    sum over the C_in/groups · k_h · k_w weights that feed it.
    """
    kh, kw = pair(kernel)
    return int(c_out * out_hw[0] * out_hw[1] * (c_in // groups * kh * kw))


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Weights in·out plus out biases."""
    return int(in_features * out_features + (out_features if bias else 0))


def linear_macs(in_features: int, out_features: int) -> int:
    """Multiply-adds of one input through a dense layer: in·out."""
    return int(in_features * out_features)


# -- layer tables -------------------------------------------------------------------------


def layer_table(
    columns: Sequence[tuple[str, str]],
    rows: Iterable[Sequence],
    total: Sequence | None = None,
    *,
    rules: bool = False,
) -> str:
    """A plain-text table with one line per layer and a line of totals.

    Parameters
    ----------
    columns : sequence of (title, spec)
        spec is an alignment, ``'<'`` or ``'>'``, followed by the column's width,
        e.g. ``'>12'``; with no width the column is as wide as its widest entry
        (title, rows and total).
    rows : iterable of sequences
        One entry per column, already formatted (e.g. ``f"{macs:,}"``).
    total : sequence, optional
        The last line, laid out like a row.
    rules : bool
        Draw a line of dashes under the header and above the total.

    Returns
    -------
    str
        The lines joined by newlines; columns are separated by two spaces.
    """
    body = [tuple(str(c) for c in row) for row in rows]
    tail = [] if total is None else [tuple(str(c) for c in total)]
    specs = []
    for j, (title, spec) in enumerate(columns):
        align, width = spec[0], spec[1:]
        if not width:
            width = max(len(line[j]) for line in [(title,) * len(columns)] + body + tail)
        specs.append((align, int(width)))

    def line(cells: Sequence[str]) -> str:
        return "  ".join(f"{c:{a}{w}}" for c, (a, w) in zip(cells, specs))

    head = line([title for title, _ in columns])
    rule = ["-" * len(head)] if rules else []
    lines = [head] + rule + [line(row) for row in body]
    if tail:
        lines += rule + [line(tail[0])]
    return "\n".join(lines)
