"""Shapes, argument checks and padding shared by every convolution algorithm.

Notation of chapter 7: an input ``x`` of shape (N, C, H, W) (N images, C = f_i input
channels), a kernel ``w`` of shape (F, C, kh, kw) (F = f_o output channels), stride s
and zero padding p. The output has shape (N, F, H_out, W_out) with

    H_out = (H + 2p - kh) // s + 1,    W_out = (W + 2p - kw) // s + 1.
"""

from __future__ import annotations

import numpy as np


def output_size(size: int, k: int, stride: int = 1, padding: int = 0) -> int:
    """Output length along one axis: (size + 2·padding − k) // stride + 1."""
    return (size + 2 * padding - k) // stride + 1


def pad_input(x: np.ndarray, padding: int, padding_w: int | None = None) -> np.ndarray:
    """Zero-pad the two spatial axes of (N, C, H, W): `padding` rows above and below,
    `padding_w` (default: `padding`) columns left and right."""
    ph = int(padding)
    pw = ph if padding_w is None else int(padding_w)
    if ph == 0 and pw == 0:
        return x
    N, C, H, W = x.shape
    out = np.zeros((N, C, H + 2 * ph, W + 2 * pw), x.dtype)   # quicker than np.pad
    out[:, :, ph : ph + H, pw : pw + W] = x
    return out


def check_conv_args(x, w, b=None, stride: int = 1, padding: int = 0, who: str = "conv2d"):
    """Validate the arguments of a convolution; return (x, w, b, stride, padding) as arrays.

    Raises a ValueError that names the mismatch and the fix.
    """
    x = np.asarray(x)
    w = np.asarray(w)
    if w.ndim != 4:
        raise ValueError(f"{who}: the kernel must have shape (F, C, kh, kw), got {w.shape}")
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
    stride, padding = int(stride), int(padding)
    if stride < 1:
        raise ValueError(f"{who}: stride must be a positive int, got {stride}")
    if padding < 0:
        raise ValueError(f"{who}: padding must be >= 0, got {padding}")
    kh, kw = w.shape[2:]
    H, W = x.shape[2:]
    if H + 2 * padding < kh or W + 2 * padding < kw:
        raise ValueError(
            f"{who}: the {kh}x{kw} kernel is larger than the padded input "
            f"{H + 2 * padding}x{W + 2 * padding}; pad more or use a smaller kernel"
        )
    if b is not None:
        b = np.asarray(b)
        if b.shape != (w.shape[0],):
            raise ValueError(f"{who}: the bias must have shape ({w.shape[0]},), got {b.shape}")
    dtype = np.result_type(x.dtype, w.dtype, np.float32)
    x = x.astype(dtype, copy=False)
    w = w.astype(dtype, copy=False)
    if b is not None:
        b = b.astype(dtype, copy=False)
    return x, w, b, stride, padding


def add_bias(out: np.ndarray, b) -> np.ndarray:
    """Add a per-channel bias of shape (F,) to out (N, F, H, W) in place."""
    if b is not None:
        out += b[None, :, None, None]
    return out


def dilate(dout: np.ndarray, stride: int) -> np.ndarray:
    """Insert stride − 1 zeros between the output positions (the backward pass of a stride).

    A stride-s convolution equals a stride-1 convolution whose output is kept only at
    every s-th position; its gradient is therefore the stride-1 gradient of this
    'dilated' dout, zero at the positions that were dropped.
    """
    if stride == 1:
        return dout
    N, F, Ho, Wo = dout.shape
    d = np.zeros((N, F, (Ho - 1) * stride + 1, (Wo - 1) * stride + 1), dout.dtype)
    d[:, :, ::stride, ::stride] = dout
    return d
