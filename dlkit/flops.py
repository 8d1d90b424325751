"""Counting a network's work: multiply-adds (MACs), parameters and output shapes.

For a :class:`dlkit.nn.Sequential` and the shape of one input, :func:`count` walks the
layers, propagates the shape and returns one :class:`LayerCount` per layer;
:func:`table` prints them. The per-layer closed forms live in :mod:`dlkit.shapes`,
which the convolution algorithms and the architecture specifications share; they are
importable from here under their names of this module:

- Conv2d:  MACs = C_out · H_out · W_out · C_in · k_h · k_w,
           params = C_out · C_in · k_h · k_w + C_out
- Linear:  MACs = s_{j-1} · s_j,  params = s_{j-1} · s_j + s_j
  (layer j, from s_{j-1} inputs to s_j outputs)

Counts are per image (batch size 1); multiply by the batch size B for a mini-batch,
and by 2 for floating-point operations F (a multiply-add is two flops). A training
step costs about three times the forward pass: the backward pass of a Linear layer
is two products of the forward's size (∂𝓛/∂W = δᵀA and ∂𝓛/∂A = δW), which is what
chapter 13's cost model charges (2 flops per MAC forward, 4 backward). Activations,
pooling, Flatten and Dropout do no multiply-adds and have no parameters.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from dlkit.nn.conv import AvgPool2d, Conv2d, Dropout, Flatten, MaxPool2d
from dlkit.nn.core import Layer, Sequential
from dlkit.nn.linear import Linear
from dlkit.shapes import conv_macs as conv2d_macs
from dlkit.shapes import conv_params as conv2d_params
from dlkit.shapes import layer_table, linear_macs, linear_params, pool_output_hw
from dlkit.shapes import output_hw as conv2d_output_hw

__all__ = [
    "conv2d_macs",
    "conv2d_params",
    "conv2d_output_hw",
    "linear_macs",
    "linear_params",
    "pool_output_hw",
    "LayerCount",
    "count",
    "table",
    "total_macs",
    "total_params",
]


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
            raise ValueError(
                f"{layer!r} cannot take inputs of shape {shape}; it needs "
                f"({layer.in_channels}, H, W)"
            )
        hw = conv2d_output_hw(
            shape[1], shape[2], layer.kernel_size, layer.stride, layer.padding, who=repr(layer)
        )
        out = (layer.out_channels,) + hw
        return (
            out,
            conv2d_macs(layer.in_channels, layer.out_channels, layer.kernel_size, hw),
            layer.n_params,
        )
    if isinstance(layer, (MaxPool2d, AvgPool2d)):
        if len(shape) != 3:
            raise ValueError(f"{layer!r} cannot take inputs of shape {shape}; it needs (C, H, W)")
        hw = pool_output_hw(shape[1], shape[2], layer.kernel_size, layer.stride, who=repr(layer))
        return (shape[0],) + hw, 0, 0
    if isinstance(layer, Flatten):
        return (int(np.prod(shape)),), 0, 0
    if isinstance(layer, Linear):
        if shape != (layer.in_features,):
            raise ValueError(
                f"{layer!r} cannot take inputs of shape {shape}; it needs "
                f"({layer.in_features},) (add Flatten() before it?)"
            )
        return (
            (layer.out_features,),
            linear_macs(layer.in_features, layer.out_features),
            layer.n_params,
        )
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
    columns = [("#", ">3"), ("layer", "<"), ("output", "<14"), ("MACs", ">12"), ("params", ">10")]
    lines = [(r.index, r.layer, r.output_shape, f"{r.macs:,}", f"{r.params:,}") for r in rows]
    total = ("", "total", "", f"{sum(r.macs for r in rows):,}", f"{sum(r.params for r in rows):,}")
    return layer_table(columns, lines, total)
