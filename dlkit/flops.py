"""Counting a network's work: multiply-adds (MACs), parameters and output shapes.

For a :class:`dlkit.nn.Sequential` and the shape of one input, :func:`count` walks the
layers, propagates the shape and returns one :class:`LayerCount` per layer;
:func:`table` prints them. The per-layer closed forms are public so that other
modules (e.g. architecture specifications) use the same arithmetic:

- Conv2d:  MACs = C_out · H_out · W_out · C_in · kh · kw,   params = C_out · C_in · kh · kw + C_out
- Linear:  MACs = in · out,                                 params = in · out + out

Counts are per image (batch size 1); multiply by the batch size for a mini-batch, and
by 2 for floating-point operations (a multiply-add is two flops). Activations,
pooling, Flatten and Dropout do no multiply-adds and have no parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dlkit.nn.conv import AvgPool2d, Conv2d, Dropout, Flatten, MaxPool2d
from dlkit.nn.core import Layer, Sequential
from dlkit.nn.linear import Linear

__all__ = ["conv2d_macs", "conv2d_params", "conv2d_output_hw", "linear_macs", "linear_params",
           "pool_output_hw", "LayerCount", "count", "table", "total_macs", "total_params"]


def conv2d_output_hw(h: int, w: int, kernel, stride=1, padding=0) -> tuple[int, int]:
    """(H_out, W_out) = ((H + 2p − kh) // s + 1, (W + 2p − kw) // s + 1)."""
    kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
    sh, sw = (stride, stride) if np.isscalar(stride) else stride
    ph, pw = (padding, padding) if np.isscalar(padding) else padding
    return (h + 2 * ph - kh) // sh + 1, (w + 2 * pw - kw) // sw + 1


def conv2d_macs(c_in: int, c_out: int, kernel, out_hw: tuple[int, int]) -> int:
    """Multiply-adds of one image through a convolution: C_out·H_out·W_out·C_in·kh·kw."""
    kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
    return int(c_out * out_hw[0] * out_hw[1] * c_in * kh * kw)


def conv2d_params(c_in: int, c_out: int, kernel, bias: bool = True) -> int:
    """Weights C_out·C_in·kh·kw plus C_out biases."""
    kh, kw = (kernel, kernel) if np.isscalar(kernel) else kernel
    return int(c_out * c_in * kh * kw + (c_out if bias else 0))


def linear_macs(in_features: int, out_features: int) -> int:
    """Multiply-adds of one input through a dense layer: in·out."""
    return int(in_features * out_features)


def linear_params(in_features: int, out_features: int, bias: bool = True) -> int:
    """Weights in·out plus out biases."""
    return int(in_features * out_features + (out_features if bias else 0))


def pool_output_hw(h: int, w: int, kernel, stride=None) -> tuple[int, int]:
    """(H_out, W_out) of a pooling window (stride defaults to the window)."""
    stride = kernel if stride is None else stride
    return conv2d_output_hw(h, w, kernel, stride, 0)


@dataclass(frozen=True)
class LayerCount:
    """One layer's line in the table (per image)."""

    index: int
    layer: str
    output_shape: tuple[int, ...]
    macs: int
    params: int


def _step(layer: Layer, shape: tuple[int, ...]) -> tuple[tuple[int, ...], int, int]:
    """(output shape, MACs, params) of one layer for a per-image input `shape`."""
    if isinstance(layer, Conv2d):
        if len(shape) != 3 or shape[0] != layer.in_channels:
            raise ValueError(f"{layer!r} cannot take inputs of shape {shape}; it needs "
                             f"({layer.in_channels}, H, W)")
        hw = conv2d_output_hw(shape[1], shape[2], layer.kernel_size, layer.stride,
                              layer.padding)
        if min(hw) < 1:
            raise ValueError(f"{layer!r}: input {shape} is smaller than its kernel")
        out = (layer.out_channels,) + hw
        return (out, conv2d_macs(layer.in_channels, layer.out_channels, layer.kernel_size, hw),
                layer.n_params)
    if isinstance(layer, (MaxPool2d, AvgPool2d)):
        hw = pool_output_hw(shape[1], shape[2], layer.kernel_size, layer.stride)
        return (shape[0],) + hw, 0, 0
    if isinstance(layer, Flatten):
        return (int(np.prod(shape)),), 0, 0
    if isinstance(layer, Linear):
        if shape != (layer.in_features,):
            raise ValueError(f"{layer!r} cannot take inputs of shape {shape}; it needs "
                             f"({layer.in_features},) (add Flatten() before it?)")
        return (layer.out_features,), linear_macs(layer.in_features, layer.out_features), \
            layer.n_params
    if isinstance(layer, Dropout) or not layer.parameters():
        # elementwise layers (activations, Dropout): shape unchanged, no work counted
        return shape, 0, 0
    raise TypeError(f"count() does not know how to count {type(layer).__name__} layers")


def count(model: Sequential | Layer, input_shape: Sequence[int]) -> list[LayerCount]:
    """Per-layer MACs, parameters and output shape for one input of `input_shape`.

    `input_shape` is one image, e.g. (1, 28, 28), or a batch (N, 1, 28, 28) (N is
    dropped: counts are per image).
    """
    layers = list(model) if isinstance(model, Sequential) else [model]
    shape = tuple(int(s) for s in input_shape)
    if len(shape) == 4:
        shape = shape[1:]
    rows = []
    for i, layer in enumerate(layers):
        shape, macs, params = _step(layer, shape)
        rows.append(LayerCount(i, repr(layer), shape, macs, params))
    return rows


def total_macs(model, input_shape) -> int:
    """Sum of the per-image MACs of every layer."""
    return sum(r.macs for r in count(model, input_shape))


def total_params(model, input_shape=None) -> int:
    """Number of trainable parameters."""
    return model.n_params


def table(model, input_shape) -> str:
    """The counts as a text table, with totals."""
    rows = count(model, input_shape)
    w = max([len(r.layer) for r in rows] + [5])
    lines = [f"{'#':>3}  {'layer':<{w}}  {'output':<14}  {'MACs':>12}  {'params':>10}"]
    for r in rows:
        lines.append(f"{r.index:>3}  {r.layer:<{w}}  {str(r.output_shape):<14}  "
                     f"{r.macs:>12,}  {r.params:>10,}")
    lines.append(f"{'':>3}  {'total':<{w}}  {'':<14}  {sum(r.macs for r in rows):>12,}  "
                 f"{sum(r.params for r in rows):>10,}")
    return "\n".join(lines)
