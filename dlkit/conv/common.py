"""Shapes, argument checks and padding shared by every convolution algorithm.

Notation of chapters 7 and 8: an input ``x`` of shape (N, C, H, W) (N images of
C = C_in channels, H_in × W_in pixels in the text), kernels ``w`` of shape
(C_out, C, kh, kw) (C_out output channels, k_h × k_w in the text), a stride and zero
padding. The output has shape (N, C_out, H_out, W_out) with

    H_out = (H + 2·padding - kh) // stride + 1,    W_out = (W + 2·padding - kw) // stride + 1,

computed by :func:`output_size`, whose one home is :mod:`dlkit.shapes`.
"""

from __future__ import annotations

import functools
from typing import Callable

import numpy as np

from dlkit.checks import as_real_array
from dlkit.shapes import check_int_arg, check_output_size_args, output_size

__all__ = [
    "output_size",
    "check_output_size_args",
    "check_int_arg",
    "pad_input",
    "unpad",
    "check_images",
    "as_real_array",
    "check_conv_args",
    "check_unfold_args",
    "check_col2im_args",
    "check_conv_dout",
    "add_bias",
    "dilate",
    "renamed_arg",
]


def renamed_arg(old: str, new: str) -> Callable[[Callable], Callable]:
    """Keep the keyword `old` of a function working after it was renamed `new`.

    ``f(..., F=16)`` then means ``f(..., C_out=16)``; passing both is a TypeError.
    """

    def wrap(fn: Callable) -> Callable:
        @functools.wraps(fn)
        def call(*args, **kwargs):
            if old in kwargs:
                if new in kwargs:
                    raise TypeError(
                        f"{fn.__name__}: pass {new}= only ({old}= is its old name), not both"
                    )
                kwargs[new] = kwargs.pop(old)
            return fn(*args, **kwargs)

        return call

    return wrap


def pad_input(x: np.ndarray, padding: int, padding_w: int | None = None) -> np.ndarray:
    """Zero-pad the two spatial axes of (N, C, H, W): `padding` rows above and below,
    `padding_w` (default: `padding`) columns left and right."""
    x = check_images(x, "x", "pad_input")
    ph = check_int_arg(padding, "padding", "pad_input", 0)
    pw = ph if padding_w is None else check_int_arg(padding_w, "padding_w", "pad_input", 0)
    if ph == 0 and pw == 0:
        return x
    N, C, H, W = x.shape
    out = np.zeros((N, C, H + 2 * ph, W + 2 * pw), x.dtype)  # quicker than np.pad
    out[:, :, ph : ph + H, pw : pw + W] = x
    return out


def unpad(xp: np.ndarray, padding: int, padding_w: int | None = None) -> np.ndarray:
    """The inverse of :func:`pad_input`: drop `padding` rows above and below and
    `padding_w` (default: `padding`) columns left and right of (N, C, H, W).

    A backward pass computes the gradient with respect to the padded input; the
    gradient with respect to the input itself is its interior. Returns a view.
    """
    pw = padding if padding_w is None else padding_w
    if padding == 0 and pw == 0:
        return xp
    H, W = xp.shape[2:]
    return xp[:, :, padding : H - padding, pw : W - pw]


def check_images(x, name: str, who: str) -> np.ndarray:
    """`x` as a real array of shape (N, C, H, W) (an ndarray of 4 axes passes unchanged)."""
    if type(x) is not np.ndarray or x.dtype.kind not in "fiub":
        x = as_real_array(x, name, who)
    if x.ndim != 4:
        hint = (
            f"add batch and channel axes with {name}[None, None]" if x.ndim == 2 else "reshape it"
        )
        raise ValueError(f"{who}: {name} must have shape (N, C, H, W), got {x.shape}; {hint}")
    return x


def check_conv_args(x, w, b=None, stride: int = 1, padding: int = 0, who: str = "conv2d"):
    """Validate the arguments of a convolution; return (x, w, b, stride, padding) as arrays.

    Raises a TypeError (wrong type: stride 1.5, a str input) or a ValueError (wrong
    shape or value) that names the mismatch and the fix.
    """
    x = as_real_array(x, "the input x", who)
    w = as_real_array(w, "the kernel w", who)
    if w.ndim != 4:
        raise ValueError(f"{who}: the kernel must have shape (C_out, C, kh, kw), got {w.shape}")
    if x.ndim != 4:
        hint = " add a channel axis with x[:, None]" if x.ndim == 3 and w.shape[1] == 1 else ""
        raise ValueError(
            f"{who}: the input must have shape (N, C, H, W), got {x.shape};{hint or ' reshape it'}"
        )
    if x.shape[1] != w.shape[1]:
        raise ValueError(
            f"{who}: the input has {x.shape[1]} channels but the kernel expects {w.shape[1]} "
            f"(input {x.shape}, kernel {w.shape})"
        )
    if 0 in w.shape:
        raise ValueError(f"{who}: the kernel has an empty axis, shape {w.shape}")
    stride = check_int_arg(stride, "stride", who, 1)
    padding = check_int_arg(padding, "padding", who, 0)
    kh, kw = w.shape[2:]
    H, W = x.shape[2:]
    if H + 2 * padding < kh or W + 2 * padding < kw:
        raise ValueError(
            f"{who}: the {kh}x{kw} kernel is larger than the padded input "
            f"{H + 2 * padding}x{W + 2 * padding}; pad more or use a smaller kernel"
        )
    if b is not None:
        b = as_real_array(b, "the bias b", who)
        if b.shape != (w.shape[0],):
            raise ValueError(f"{who}: the bias must have shape ({w.shape[0]},), got {b.shape}")
    dtype = np.result_type(x.dtype, w.dtype, np.float32)
    x = x.astype(dtype, copy=False)
    w = w.astype(dtype, copy=False)
    if b is not None:
        b = b.astype(dtype, copy=False)
    return x, w, b, stride, padding


def check_unfold_args(x, kh, kw, stride, padding, who: str = "im2col") -> np.ndarray:
    """Validate the arguments of :func:`dlkit.conv.im2col`; return x as an array.

    x must be a real (N, C, H, W) array, kh and kw positive ints, stride an int >= 1,
    padding an int >= 0, and the kh×kw window must fit in the padded image.
    """
    x = as_real_array(x, "the input x", who)
    if x.ndim != 4:
        raise ValueError(f"{who}: the input must have shape (N, C, H, W), got {x.shape}")
    kh, kw = check_int_arg(kh, "kh", who, 1), check_int_arg(kw, "kw", who, 1)
    check_int_arg(stride, "stride", who, 1)
    padding = check_int_arg(padding, "padding", who, 0)
    H, W = x.shape[2:]
    if H + 2 * padding < kh or W + 2 * padding < kw:
        raise ValueError(
            f"{who}: the {kh}x{kw} window is larger than the padded input "
            f"{H + 2 * padding}x{W + 2 * padding}; pad more or use a smaller window"
        )
    return x


def check_col2im_args(cols, x_shape, kh, kw, stride, padding, who: str = "col2im"):
    """Validate the arguments of :func:`dlkit.conv.col2im`; return (cols, x_shape).

    cols must have the shape im2col gives for an input of x_shape: (C·kh·kw, N·H_out·W_out).
    """
    cols = as_real_array(cols, "cols", who)
    if not isinstance(x_shape, (tuple, list)) or len(x_shape) != 4:
        raise TypeError(f"{who}: x_shape must be the input's shape (N, C, H, W), got {x_shape!r}")
    N, C, H, W = (
        check_int_arg(v, f"x_shape[{i}]", who, 0 if i == 0 else 1)  # N = 0: no images
        for i, v in enumerate(x_shape)
    )
    check_unfold_args(np.empty((0, 0, H, W)), kh, kw, stride, padding, who)
    want = (
        C * kh * kw,
        N * output_size(H, kh, stride, padding) * output_size(W, kw, stride, padding),
    )
    if cols.shape != want:
        raise ValueError(
            f"{who}: cols has shape {cols.shape}, but im2col of an input "
            f"{tuple(x_shape)} with a {kh}x{kw} window, stride {stride} and "
            f"padding {padding} has shape {want}"
        )
    return cols, (N, C, H, W)


def check_conv_dout(
    dout, x: np.ndarray, w: np.ndarray, stride: int, padding: int, who: str
) -> np.ndarray:
    """Validate the gradient of a convolution's output against its (checked) arguments.

    dout must be a float array of exactly (N, C_out, H_out, W_out): the compiled kernels
    index it by the shapes of x and w, so a wrong shape would read out of bounds.
    Returns dout as an array, its dtype unchanged.
    """
    N, C_out = x.shape[0], w.shape[0]
    want = (
        N,
        C_out,
        output_size(x.shape[2], w.shape[2], stride, padding),
        output_size(x.shape[3], w.shape[3], stride, padding),
    )
    dout = as_real_array(dout, "dout", who)
    if dout.dtype.kind != "f":
        raise TypeError(
            f"{who}: dout has dtype {dout.dtype}; pass a floating-point gradient of shape {want}"
        )
    if dout.shape != want:
        raise ValueError(
            f"{who}: dout has shape {dout.shape}, but the convolution of x {x.shape} with w "
            f"{w.shape} (stride {stride}, padding {padding}) outputs {want}; pass the "
            "gradient of that output"
        )
    return dout


def add_bias(out: np.ndarray, b) -> np.ndarray:
    """Add a per-channel bias of shape (C_out,) to out (N, C_out, H, W) in place."""
    if b is not None:
        out += b[None, :, None, None]
    return out


def dilate(dout: np.ndarray, stride: int) -> np.ndarray:
    """Insert stride − 1 zeros between the output positions (the backward pass of a stride).

    A stride-s convolution equals a stride-1 convolution whose output is kept only at
    every s-th position; its gradient is therefore the stride-1 gradient of this
    'dilated' dout, zero at the positions that were dropped.
    """
    dout = check_images(dout, "dout", "dilate")
    if check_int_arg(stride, "stride", "dilate", 1) == 1:
        return dout
    N, C_out, Ho, Wo = dout.shape
    d = np.zeros((N, C_out, (Ho - 1) * stride + 1, (Wo - 1) * stride + 1), dout.dtype)
    d[:, :, ::stride, ::stride] = dout
    return d
