"""Architecture specifications: layer shapes, parameter counts and multiply-adds.

A network is described here as a list of :class:`LayerSpec` s, one per layer, each
computed from the real layer shapes by a small helper (:func:`conv`, :func:`fc`,
:func:`pool`, :func:`norm`). Nothing is trained or allocated, so the specification of
a 60-million-parameter network costs microseconds: it is what a cost model (the
cluster chapters), a memory estimate or a "how many parameters does ResNet-152 have?"
question needs.

The closed forms (output size, parameters, multiply-adds of a convolution or a dense
layer) are those of :mod:`dlkit.shapes`, shared with :mod:`dlkit.flops` and
:mod:`dlkit.conv`; batch norm adds its own: 2 · C parameters (a scale w and a shift
b per channel, Ioffe and Szegedy's γ and β), and local response norm has none.
Biases, activations and pooling are not counted as MACs (they are a rounding error
next to the convolutions), which is also how the papers count. :class:`Builder` tracks
the current shape, so that an architecture of :mod:`dlkit.models.zoo` reads like its
paper's table.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Sequence

from dlkit.shapes import (
    conv_macs,
    conv_params,
    layer_table,
    linear_macs,
    linear_params,
    output_size,
    pair,
)

__all__ = [
    "LayerSpec",
    "ArchSpec",
    "conv_out_size",
    "conv",
    "fc",
    "pool",
    "norm",
    "concat",
    "add",
    "summary",
    "Builder",
]

Shape = tuple[int, ...]

#: H_out = floor((H + 2p − k) / s) + 1 (or ceil, as Caffe's pooling does): the one
#: output-size function of :mod:`dlkit.shapes`, under the name this module gave it.
conv_out_size = output_size


# -- one layer --------------------------------------------------------------------------


@dataclass(frozen=True)
class LayerSpec:
    """One layer of an architecture: its shapes, parameter count and multiply-adds.

    Attributes
    ----------
    name : str
        e.g. ``"conv1"`` or ``"inception4a/3x3"``.
    kind : str
        ``'conv'``, ``'fc'``, ``'pool'``, ``'norm'``, ``'concat'`` or ``'add'``.
    in_shape, out_shape : tuple
        ``(C, H, W)`` for feature maps, ``(features,)`` for vectors (one example).
    params : int
        Trainable parameters (weights + biases; the scale and shift of batch norm).
    macs : int
        Multiply-accumulates for one example in the forward pass.
    attrs : dict
        The hyper-parameters that produced it (kernel, stride, padding, groups...).
    """

    name: str
    kind: str
    in_shape: Shape
    out_shape: Shape
    params: int
    macs: int
    attrs: dict = field(default_factory=dict, compare=False)

    @property
    def flops(self) -> int:
        """Floating-point operations of the forward pass: 2 · MACs."""
        return 2 * self.macs

    @property
    def activations(self) -> int:
        """Elements of the output (for one example)."""
        return math.prod(self.out_shape)

    def param_bytes(self, bytes_per_value: int = 4) -> int:
        """Memory of the parameters (float32: 4 bytes each)."""
        return self.params * bytes_per_value

    def activation_bytes(self, bytes_per_value: int = 4, batch_size: int = 1) -> int:
        """Memory of the output activations of `batch_size` examples."""
        return self.activations * bytes_per_value * batch_size

    @property
    def has_weights(self) -> bool:
        """True for conv and fc layers: the "layers with parameters" papers count."""
        return self.kind in ("conv", "fc")


def _as_chw(shape: Sequence[int], who: str) -> Shape:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{who} needs an input shape (C, H, W), got {shape}")
    return shape


def _conv_args(name: str, in_shape: Sequence[int], c_out: int, k, groups: int):
    """(C_in, H, W, k_h, k_w) of a convolution spec, after checking its input and groups."""
    c_in, h, w = _as_chw(in_shape, f"conv {name!r}")
    kh, kw = pair(k)
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"conv {name!r}: groups={groups} must divide both C_in={c_in} and C_out={c_out}"
        )
    return c_in, h, w, kh, kw


def conv(
    name: str,
    in_shape: Sequence[int],
    c_out: int,
    k,
    stride: int = 1,
    padding: int = 0,
    groups: int = 1,
    bias: bool = True,
) -> LayerSpec:
    """A convolution layer's spec, from the closed forms of :mod:`dlkit.shapes`.

    params = C_out · (C_in/groups · k_h · k_w + 1) and
    MACs = C_out · H_out · W_out · C_in/groups · k_h · k_w, for an input (C_in, H_in, W_in)
    and `k` = k_h or (k_h, k_w).
    """
    c_in, h, w, kh, kw = _conv_args(name, in_shape, c_out, k, groups)
    h_out = output_size(h, kh, stride, padding, who=f"conv {name!r}")
    w_out = output_size(w, kw, stride, padding, who=f"conv {name!r}")
    params = conv_params(c_in, c_out, (kh, kw), bias, groups)
    macs = conv_macs(c_in, c_out, (kh, kw), (h_out, w_out), groups)
    attrs = dict(k=(kh, kw), stride=stride, padding=padding, groups=groups, bias=bias)
    return LayerSpec(name, "conv", (c_in, h, w), (c_out, h_out, w_out), params, macs, attrs)


def fc(name: str, in_shape: Sequence[int] | int, out: int, bias: bool = True) -> LayerSpec:
    """A fully connected layer (its input is flattened) from s_{j-1} = `in_shape` values to
    s_j = `out`: params = s_j (s_{j-1} + 1), MACs = s_j s_{j-1}."""
    n_in = in_shape if isinstance(in_shape, int) else math.prod(in_shape)
    shape_in = (n_in,) if isinstance(in_shape, int) else tuple(in_shape)
    return LayerSpec(
        name,
        "fc",
        shape_in,
        (out,),
        linear_params(n_in, out, bias),
        linear_macs(n_in, out),
        dict(bias=bias),
    )


def pool(
    name: str,
    in_shape: Sequence[int],
    k: int,
    stride: int | None = None,
    padding: int = 0,
    mode: str = "max",
    ceil_mode: bool = False,
) -> LayerSpec:
    """Max or average pooling: no parameters, no MACs; changes H and W only.

    ``k=None`` means global pooling (the window is the whole feature map).
    """
    c, h, w = _as_chw(in_shape, f"pool {name!r}")
    if mode not in ("max", "avg"):
        raise ValueError(f"pool {name!r}: mode must be 'max' or 'avg', got {mode!r}")
    kh, kw = (h, w) if k is None else pair(k)
    s = kh if stride is None else stride
    who = f"pool {name!r}"
    out = (
        c,
        output_size(h, kh, s, padding, ceil_mode, who=who),
        output_size(w, kw, s, padding, ceil_mode, who=who),
    )
    attrs = dict(k=(kh, kw), stride=s, padding=padding, mode=mode, ceil_mode=ceil_mode)
    return LayerSpec(name, "pool", (c, h, w), out, 0, 0, attrs)


def norm(name: str, in_shape: Sequence[int], mode: str = "batch") -> LayerSpec:
    """Batch norm (2C parameters: a scale and a shift per channel), or local response norm
    ('lrn', no parameters)."""
    if mode not in ("batch", "lrn"):
        raise ValueError(f"norm {name!r}: mode must be 'batch' or 'lrn', got {mode!r}")
    shape = tuple(in_shape)
    params = 2 * shape[0] if mode == "batch" else 0
    return LayerSpec(name, "norm", shape, shape, params, 0, dict(mode=mode))


def concat(name: str, shapes: Sequence[Sequence[int]]) -> LayerSpec:
    """Channel concatenation of branch outputs (an inception module's end)."""
    shapes = [tuple(s) for s in shapes]
    if len({s[1:] for s in shapes}) != 1:
        raise ValueError(f"concat {name!r}: branches differ in H, W: {shapes}")
    c = sum(s[0] for s in shapes)
    out = (c,) + shapes[0][1:]
    return LayerSpec(name, "concat", out, out, 0, 0, dict(branches=len(shapes)))


def add(name: str, shape: Sequence[int]) -> LayerSpec:
    """Element-wise sum of a residual branch and its shortcut (a ResNet block's end)."""
    shape = tuple(shape)
    return LayerSpec(name, "add", shape, shape, 0, 0)


# -- a whole network --------------------------------------------------------------------


@dataclass
class ArchSpec:
    """A network as a list of :class:`LayerSpec` s, with totals and a summary table.

    Iterating gives the layers in order. Branches (inception modules, residual
    shortcuts) are listed one after another, named ``"module/branch"``; their
    parameters and MACs add up like any other layer's.
    """

    name: str
    input_shape: Shape
    layers: list[LayerSpec]
    source: str = ""
    #: layers with weights on the longest path (conv + fc), as papers count depth:
    #: parallel inception branches and projection shortcuts are not on it.
    depth: int = 0

    def __iter__(self) -> Iterator[LayerSpec]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, key: int | str) -> LayerSpec:
        if isinstance(key, str):
            for layer in self.layers:
                if layer.name == key:
                    return layer
            raise KeyError(
                f"{self.name} has no layer {key!r}; names: "
                f"{', '.join(lay.name for lay in self.layers[:8])}..."
            )
        return self.layers[key]

    @property
    def params(self) -> int:
        """Total trainable parameters."""
        return sum(layer.params for layer in self.layers)

    @property
    def macs(self) -> int:
        """Total multiply-accumulates for one example (forward pass)."""
        return sum(layer.macs for layer in self.layers)

    @property
    def flops(self) -> int:
        return 2 * self.macs

    def conv_layers(self) -> list[LayerSpec]:
        return [layer for layer in self.layers if layer.kind == "conv"]

    def fc_layers(self) -> list[LayerSpec]:
        return [layer for layer in self.layers if layer.kind == "fc"]

    def weight_layers(self) -> list[LayerSpec]:
        return [layer for layer in self.layers if layer.has_weights]

    @property
    def output_shape(self) -> Shape:
        return self.layers[-1].out_shape

    def param_bytes(self, bytes_per_value: int = 4) -> int:
        return self.params * bytes_per_value

    def activation_bytes(self, bytes_per_value: int = 4, batch_size: int = 1) -> int:
        """Memory of every layer's output for `batch_size` examples (what backprop keeps)."""
        return sum(lay.activation_bytes(bytes_per_value, batch_size) for lay in self.layers)

    def summary(self, kinds: Sequence[str] | None = None) -> str:
        return summary(self, kinds)

    def __repr__(self) -> str:
        return (
            f"ArchSpec({self.name}: {len(self.layers)} layers, depth {self.depth}, "
            f"{self.params:,} params, {self.macs / 1e9:.3g} GMACs)"
        )


def summary(spec: ArchSpec, kinds: Sequence[str] | None = None) -> str:
    """A table: one row per layer (name, kind, output shape, params, MACs) and totals.

    `kinds` keeps only those kinds of layer in the rows (totals are always the whole
    network's), e.g. ``summary(alexnet(), kinds=('conv', 'fc'))``.
    """
    columns = [
        ("layer", "<"),
        ("kind", "<6"),
        ("output", ">14"),
        ("params", ">12"),
        ("MACs", ">15"),
    ]
    rows = [
        (lay.name, lay.kind, "x".join(map(str, lay.out_shape)), f"{lay.params:,}", f"{lay.macs:,}")
        for lay in spec.layers
        if kinds is None or lay.kind in kinds
    ]
    total = ("total", "", "", f"{spec.params:,}", f"{spec.macs:,}")
    return "\n".join(
        [
            f"{spec.name}: input {'x'.join(map(str, spec.input_shape))}",
            layer_table(columns, rows, total, rules=True),
            f"depth (layers with weights on the longest path): {spec.depth}",
        ]
    )


class Builder:
    """Tracks the current shape so an architecture reads like its paper's table."""

    def __init__(self, input_shape: Shape):
        self.shape = tuple(input_shape)
        self.layers: list[LayerSpec] = []
        self.depth = 0

    def _push(self, spec: LayerSpec, deep: bool = False) -> LayerSpec:
        self.layers.append(spec)
        self.shape = spec.out_shape
        self.depth += deep
        return spec

    def conv(self, name, c_out, k, stride=1, padding=0, groups=1, bias=True):
        return self._push(conv(name, self.shape, c_out, k, stride, padding, groups, bias), True)

    def fc(self, name, out, bias=True):
        return self._push(fc(name, self.shape, out, bias), True)

    def pool(self, name, k, stride=None, padding=0, mode="max", ceil_mode=False):
        return self._push(pool(name, self.shape, k, stride, padding, mode, ceil_mode))

    def norm(self, name, mode="batch"):
        return self._push(norm(name, self.shape, mode))

    def build(self, name: str, input_shape: Shape, source: str) -> ArchSpec:
        return ArchSpec(name, tuple(input_shape), self.layers, source, self.depth)
