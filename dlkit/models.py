"""Architecture specifications: layer shapes, parameter counts and multiply-adds.

A network is described here as a list of :class:`LayerSpec` s, one per layer, each
computed from the real layer shapes by a small helper (:func:`conv`, :func:`fc`,
:func:`pool`, :func:`norm`). Nothing is trained or allocated, so the specification of
a 60-million-parameter network costs microseconds: it is what a cost model (the
cluster chapters), a memory estimate or a "how many parameters does ResNet-152 have?"
question needs.

Closed forms (chapter 8's notation: a convolution maps (C_in, H, W) to
(C_out, H_out, W_out) with kernels k_h × k_w, stride s, zero padding p, and `groups`
g splitting the channels into g independent towers)::

    H_out  = floor((H + 2p - k_h) / s) + 1        (ceil for Caffe-style pooling)
    conv   params = C_out · (C_in/g · k_h · k_w + 1)        (the +1 is the bias)
           MACs   = C_out · H_out · W_out · C_in/g · k_h · k_w
    fc     params = out · (in + 1),   MACs = out · in
    norm   params = 2 · C (batch norm's γ and β; local response norm has none)

A multiply-accumulate (MAC) is one multiply and one add, so FLOPs = 2 · MACs. Biases,
activations and pooling are not counted as MACs (they are a rounding error next to
the convolutions), which is also how the papers count.

The architectures, and where each number comes from:

* :func:`lenet5`  - LeCun et al. (1998), the classic 6-16-120-84-10 on 32x32 input.
* :func:`alexnet` - Krizhevsky, Sutskever & Hinton (2012), two GPU towers; or the
  single-tower network of Krizhevsky (2014), "One weird trick".
* :func:`vgg16`   - Simonyan & Zisserman (2015), configuration D.
* :func:`googlenet` - Szegedy et al. (2015), Table 1 (without auxiliary classifiers).
* :func:`resnet`  - He et al. (2016), Table 1, depths 18/34/50/101/152.
* :func:`cifar_resnet` - He et al. (2016), Section 4.2, the 6n+2-layer CIFAR-10 nets.

:func:`digits_cnn` and :func:`lenet5_net` build trainable dlkit networks (chapter 8).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Iterator, Sequence

__all__ = [
    "LayerSpec", "ArchSpec", "conv_out_size", "conv", "fc", "pool", "norm", "concat", "add",
    "lenet5", "alexnet", "vgg16", "googlenet", "resnet", "cifar_resnet", "summary",
    "ARCHITECTURES", "get", "digits_cnn", "lenet5_net",
]

Shape = tuple[int, ...]


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
        Trainable parameters (weights + biases; γ, β for batch norm).
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


def conv_out_size(size: int, k: int, stride: int = 1, padding: int = 0,
                  ceil_mode: bool = False) -> int:
    """H_out = floor((H + 2p − k) / s) + 1 (or ceil, as Caffe's pooling does)."""
    span = size + 2 * padding - k
    if span < 0:
        raise ValueError(
            f"a {k}x{k} window (padding {padding}) does not fit an input of size {size}; "
            "use a smaller kernel or more padding"
        )
    out = (-(-span // stride) if ceil_mode else span // stride) + 1
    if ceil_mode and (out - 1) * stride >= size + padding:
        out -= 1  # the last window must start inside the input (Caffe/PyTorch rule)
    return out


def _as_chw(shape: Sequence[int], who: str) -> Shape:
    shape = tuple(int(s) for s in shape)
    if len(shape) != 3 or min(shape) < 1:
        raise ValueError(f"{who} needs an input shape (C, H, W), got {shape}")
    return shape


def _pair(v) -> tuple[int, int]:
    return (int(v), int(v)) if isinstance(v, (int,)) else (int(v[0]), int(v[1]))


def conv(name: str, in_shape: Sequence[int], c_out: int, k, stride: int = 1,
         padding: int = 0, groups: int = 1, bias: bool = True) -> LayerSpec:
    """A convolution layer's spec: params = C_out (C_in/g k_h k_w + 1), MACs = ... ."""
    c_in, h, w = _as_chw(in_shape, f"conv {name!r}")
    kh, kw = _pair(k)
    if c_in % groups or c_out % groups:
        raise ValueError(
            f"conv {name!r}: groups={groups} must divide both C_in={c_in} and C_out={c_out}"
        )
    h_out = conv_out_size(h, kh, stride, padding)
    w_out = conv_out_size(w, kw, stride, padding)
    per_out = c_in // groups * kh * kw  # weights feeding one output value
    params = c_out * (per_out + (1 if bias else 0))
    macs = c_out * h_out * w_out * per_out
    attrs = dict(k=(kh, kw), stride=stride, padding=padding, groups=groups, bias=bias)
    return LayerSpec(name, "conv", (c_in, h, w), (c_out, h_out, w_out), params, macs, attrs)


def fc(name: str, in_shape: Sequence[int] | int, out: int, bias: bool = True) -> LayerSpec:
    """A fully connected layer (its input is flattened): params = out (in + 1), MACs = out in."""
    n_in = in_shape if isinstance(in_shape, int) else math.prod(in_shape)
    params = out * (n_in + (1 if bias else 0))
    shape_in = (n_in,) if isinstance(in_shape, int) else tuple(in_shape)
    return LayerSpec(name, "fc", shape_in, (out,), params, out * n_in, dict(bias=bias))


def pool(name: str, in_shape: Sequence[int], k: int, stride: int | None = None,
         padding: int = 0, mode: str = "max", ceil_mode: bool = False) -> LayerSpec:
    """Max or average pooling: no parameters, no MACs; changes H and W only.

    ``k=None`` means global pooling (the window is the whole feature map).
    """
    c, h, w = _as_chw(in_shape, f"pool {name!r}")
    if mode not in ("max", "avg"):
        raise ValueError(f"pool {name!r}: mode must be 'max' or 'avg', got {mode!r}")
    kh, kw = (h, w) if k is None else _pair(k)
    s = kh if stride is None else stride
    out = (c, conv_out_size(h, kh, s, padding, ceil_mode), conv_out_size(w, kw, s, padding,
                                                                         ceil_mode))
    attrs = dict(k=(kh, kw), stride=s, padding=padding, mode=mode, ceil_mode=ceil_mode)
    return LayerSpec(name, "pool", (c, h, w), out, 0, 0, attrs)


def norm(name: str, in_shape: Sequence[int], mode: str = "batch") -> LayerSpec:
    """Batch norm (2C parameters: γ, β) or local response norm ('lrn', none)."""
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
            raise KeyError(f"{self.name} has no layer {key!r}; names: "
                           f"{', '.join(lay.name for lay in self.layers[:8])}...")
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
        return (f"ArchSpec({self.name}: {len(self.layers)} layers, depth {self.depth}, "
                f"{self.params:,} params, {self.macs / 1e9:.3g} GMACs)")


def summary(spec: ArchSpec, kinds: Sequence[str] | None = None) -> str:
    """A table: one row per layer (name, kind, output shape, params, MACs) and totals.

    `kinds` keeps only those kinds of layer in the rows (totals are always the whole
    network's), e.g. ``summary(alexnet(), kinds=('conv', 'fc'))``.
    """
    rows = [lay for lay in spec.layers if kinds is None or lay.kind in kinds]
    w = max([len(lay.name) for lay in rows] + [5])
    head = f"{'layer':<{w}}  {'kind':<6}  {'output':>14}  {'params':>12}  {'MACs':>15}"
    lines = [f"{spec.name}: input {'x'.join(map(str, spec.input_shape))}", head,
             "-" * len(head)]
    for lay in rows:
        shape = "x".join(map(str, lay.out_shape))
        lines.append(f"{lay.name:<{w}}  {lay.kind:<6}  {shape:>14}  {lay.params:>12,}  "
                     f"{lay.macs:>15,}")
    lines.append("-" * len(head))
    lines.append(f"{'total':<{w}}  {'':<6}  {'':>14}  {spec.params:>12,}  {spec.macs:>15,}")
    lines.append(f"depth (layers with weights on the longest path): {spec.depth}")
    return "\n".join(lines)


class _Builder:
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


# -- the architectures ------------------------------------------------------------------


def lenet5(input_shape: Shape = (1, 32, 32), n_classes: int = 10) -> ArchSpec:
    """LeNet-5 (LeCun et al. 1998) as usually reproduced: 61,706 parameters.

    C1 6@5x5 → S2 2x2 pool → C3 16@5x5 → S4 2x2 pool → C5 120 (a 5x5 conv on a 5x5
    map, i.e. fully connected) → F6 84 → 10 outputs. Two simplifications of the paper,
    as in most re-implementations: C3 connects every S2 map (the paper's sparse
    connection table gives C3 1,516 parameters, not 2,416), the subsampling layers
    have no trainable coefficients (the paper's have 2 per map: 12 and 32), and the
    output is a fully connected layer instead of the paper's RBF units.
    """
    b = _Builder(input_shape)
    b.conv("C1", 6, 5)
    b.pool("S2", 2, mode="avg")
    b.conv("C3", 16, 5)
    b.pool("S4", 2, mode="avg")
    b.fc("C5", 120)
    b.fc("F6", 84)
    b.fc("output", n_classes)
    return b.build("LeNet-5", input_shape, "LeCun et al. 1998, Fig. 2 (dense C3, no RBF)")


def alexnet(grouped: bool = True, *, conv4: int | None = None,
            n_classes: int = 1000) -> ArchSpec:
    """AlexNet: 5 convolutional and 3 fully connected layers.

    ``grouped=True`` (default) is the network of Krizhevsky et al. (2012), Fig. 2 and
    Section 3.5, split over two GPUs: conv2, conv4 and conv5 only see the 48/192/192
    channels of their own GPU, which here is ``groups=2``. The paper writes 224x224
    inputs, but 11x11 kernels at stride 4 need 227 (or padding) to give its 55x55 maps,
    so the input is 3x227x227. Total: 60,965,224 parameters, ~0.72 GMACs.

    ``grouped=False`` is the single-tower network of Krizhevsky (2014), "One weird
    trick": 64, 192, 384, 384, 256 filters (its footnote 1), 224x224 input with
    padding 2 in conv1. ``conv4=256`` gives the variant in ``torchvision.models.alexnet``
    (taken from cuda-convnet2's ``layers-imagenet-1gpu.cfg``), 61,100,840 parameters.
    Local response normalisation has no parameters and is left out.
    """
    if grouped:
        if conv4 not in (None, 384):
            raise ValueError("conv4 applies to the single-tower network: pass grouped=False")
        b = _Builder((3, 227, 227))
        b.conv("conv1", 96, 11, stride=4)
        b.pool("pool1", 3, 2)
        b.conv("conv2", 256, 5, padding=2, groups=2)
        b.pool("pool2", 3, 2)
        b.conv("conv3", 384, 3, padding=1)              # sees both GPUs' maps
        b.conv("conv4", 384, 3, padding=1, groups=2)
        b.conv("conv5", 256, 3, padding=1, groups=2)
        b.pool("pool5", 3, 2)
        b.fc("fc6", 4096)
        b.fc("fc7", 4096)
        b.fc("fc8", n_classes)
        return b.build("AlexNet (2 GPUs)", (3, 227, 227),
                       "Krizhevsky, Sutskever & Hinton 2012, Fig. 2")
    c4 = 384 if conv4 is None else int(conv4)
    b = _Builder((3, 224, 224))
    b.conv("conv1", 64, 11, stride=4, padding=2)
    b.pool("pool1", 3, 2)
    b.conv("conv2", 192, 5, padding=2)
    b.pool("pool2", 3, 2)
    b.conv("conv3", 384, 3, padding=1)
    b.conv("conv4", c4, 3, padding=1)
    b.conv("conv5", 256, 3, padding=1)
    b.pool("pool5", 3, 2)
    b.fc("fc6", 4096)
    b.fc("fc7", 4096)
    b.fc("fc8", n_classes)
    src = ("Krizhevsky 2014, footnote 1" if c4 == 384
           else f"Krizhevsky 2014 with conv4={c4} (torchvision when 256)")
    return b.build("AlexNet (1 tower)", (3, 224, 224), src)


#: VGG configuration D (Simonyan & Zisserman 2015, Table 1): channels, 'M' = 2x2 max pool.
VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M",
             512, 512, 512, "M")


def vgg16(n_classes: int = 1000) -> ArchSpec:
    """VGG-16 (configuration D of Simonyan & Zisserman 2015): 138,357,544 parameters.

    13 conv layers (3x3, stride 1, padding 1) in five stages closed by 2x2 max pooling,
    then fc 4096, 4096, 1000 on 224x224 inputs.
    """
    b = _Builder((3, 224, 224))
    stage, i = 1, 1
    for v in VGG16_CFG:
        if v == "M":
            b.pool(f"pool{stage}", 2, 2)
            stage, i = stage + 1, 1
        else:
            b.conv(f"conv{stage}_{i}", v, 3, padding=1)
            i += 1
    b.fc("fc6", 4096)
    b.fc("fc7", 4096)
    b.fc("fc8", n_classes)
    return b.build("VGG-16", (3, 224, 224), "Simonyan & Zisserman 2015, Table 1 (D)")


#: Inception modules of GoogLeNet (Szegedy et al. 2015, Table 1):
#: name: (#1x1, #3x3 reduce, #3x3, #5x5 reduce, #5x5, pool proj)
GOOGLENET_INCEPTION = {
    "3a": (64, 96, 128, 16, 32, 32),
    "3b": (128, 128, 192, 32, 96, 64),
    "4a": (192, 96, 208, 16, 48, 64),
    "4b": (160, 112, 224, 24, 64, 64),
    "4c": (128, 128, 256, 24, 64, 64),
    "4d": (112, 144, 288, 32, 64, 64),
    "4e": (256, 160, 320, 32, 128, 128),
    "5a": (256, 160, 320, 32, 128, 128),
    "5b": (384, 192, 384, 48, 128, 128),
}


def _inception(b: _Builder, name: str, cfg: tuple[int, ...]) -> None:
    n1, r3, n3, r5, n5, pp = cfg
    x = b.shape
    branches = [
        [conv(f"{name}/1x1", x, n1, 1)],
        [conv(f"{name}/3x3_reduce", x, r3, 1)],
        [conv(f"{name}/5x5_reduce", x, r5, 1)],
        [pool(f"{name}/pool", x, 3, 1, padding=1)],
    ]
    branches[1].append(conv(f"{name}/3x3", branches[1][0].out_shape, n3, 3, padding=1))
    branches[2].append(conv(f"{name}/5x5", branches[2][0].out_shape, n5, 5, padding=2))
    branches[3].append(conv(f"{name}/pool_proj", branches[3][0].out_shape, pp, 1))
    for br in branches:
        b.layers.extend(br)
    out = concat(f"{name}/concat", [br[-1].out_shape for br in branches])
    b.layers.append(out)
    b.shape = out.out_shape
    b.depth += 2  # the longest path through a module has two weight layers


def googlenet(n_classes: int = 1000) -> ArchSpec:
    """GoogLeNet (Szegedy et al. 2015, Table 1): 22 layers with parameters.

    Counted: every convolution's weights and biases and the final classifier; not
    counted: the two auxiliary classifiers used only in training (Section 5: 1x1 conv
    with 128 filters, fc 1024, fc 1000), about 3.2M parameters each. Local response normalisation has no parameters and is left
    out. Pooling rounds up (as in the BVLC Caffe re-implementation), so 112 → 56 → 28.
    The result is 6,998,552 (6,990,272 weights). Summing the "params" column of the
    paper's Table 1 gives ~6.8M: the table appears to count in units of 1024 (conv2's
    114,688 weights are printed 112K, inception 3a's 163,328 are printed 159K), and
    6,990,272 / 1024 = 6,826K; its conv1 row (2.7K) matches no count of a 7x7x3x64 kernel.
    """
    b = _Builder((3, 224, 224))
    b.conv("conv1/7x7_s2", 64, 7, stride=2, padding=3)
    b.pool("pool1/3x3_s2", 3, 2, ceil_mode=True)
    b.conv("conv2/3x3_reduce", 64, 1)
    b.conv("conv2/3x3", 192, 3, padding=1)
    b.pool("pool2/3x3_s2", 3, 2, ceil_mode=True)
    for name, cfg in GOOGLENET_INCEPTION.items():
        _inception(b, f"inception{name}", cfg)
        if name in ("3b", "4e"):
            b.pool(f"pool{name[0]}/3x3_s2", 3, 2, ceil_mode=True)
    b.pool("pool5/7x7_s1", 7, 1, mode="avg")
    b.fc("loss3/classifier", n_classes)
    return b.build("GoogLeNet", (3, 224, 224), "Szegedy et al. 2015, Table 1 (no aux heads)")


#: blocks per stage (He et al. 2016, Table 1) and whether the block is a bottleneck.
RESNET_BLOCKS = {18: ((2, 2, 2, 2), False), 34: ((3, 4, 6, 3), False),
                 50: ((3, 4, 6, 3), True), 101: ((3, 4, 23, 3), True),
                 152: ((3, 8, 36, 3), True)}


def resnet(depth: int = 50, n_classes: int = 1000) -> ArchSpec:
    """ResNet-`depth` for ImageNet (He et al. 2016, Table 1), depth in 18/34/50/101/152.

    conv1 7x7/2 + BN, 3x3/2 max pool, four stages of residual blocks (64, 128, 256, 512
    channels; bottleneck blocks for depth >= 50 expand them 4x), global average pool
    and a 1000-way fc. Convolutions have no bias (batch norm follows each one: 2C
    parameters, γ and β). The first block of a stage whose shape changes has a 1x1
    projection shortcut + BN (the paper's option B); the stride-2 downsampling sits
    in the first 1x1 (bottleneck) or 3x3 (basic block) convolution, as in the paper.
    Counts match ``torchvision.models.resnetXX``: 25,557,032 for ResNet-50 and
    60,192,808 for ResNet-152.
    """
    if depth not in RESNET_BLOCKS:
        raise ValueError(f"resnet depth must be one of {sorted(RESNET_BLOCKS)}, got {depth}")
    blocks, bottleneck = RESNET_BLOCKS[depth]
    b = _Builder((3, 224, 224))
    b.conv("conv1", 64, 7, stride=2, padding=3, bias=False)
    b.norm("bn1")
    b.pool("maxpool", 3, 2, padding=1)
    expansion = 4 if bottleneck else 1
    for stage, (n, width) in enumerate(zip(blocks, (64, 128, 256, 512)), start=2):
        for i in range(n):
            stride = 2 if (i == 0 and stage > 2) else 1
            x = b.shape
            name = f"conv{stage}_{i + 1}"
            if bottleneck:
                b.conv(f"{name}/1x1a", width, 1, stride=stride, bias=False)
                b.norm(f"{name}/bn_a")
                b.conv(f"{name}/3x3", width, 3, padding=1, bias=False)
                b.norm(f"{name}/bn_b")
                b.conv(f"{name}/1x1b", width * expansion, 1, bias=False)
                b.norm(f"{name}/bn_c")
            else:
                b.conv(f"{name}/3x3a", width, 3, stride=stride, padding=1, bias=False)
                b.norm(f"{name}/bn_a")
                b.conv(f"{name}/3x3b", width, 3, padding=1, bias=False)
                b.norm(f"{name}/bn_b")
            out = b.shape
            if x != out:  # projection shortcut (not on the longest path)
                proj = conv(f"{name}/proj", x, out[0], 1, stride=stride, bias=False)
                b.layers += [proj, norm(f"{name}/bn_proj", proj.out_shape)]
            b.layers.append(add(f"{name}/add", out))
    b.pool("avgpool", None, mode="avg")
    b.fc("fc", n_classes)
    return b.build(f"ResNet-{depth}", (3, 224, 224), "He et al. 2016, Table 1")


def cifar_resnet(depth: int = 110, n_classes: int = 10) -> ArchSpec:
    """The CIFAR-10 ResNets of He et al. (2016), Section 4.2: depth = 6n + 2.

    A 3x3 conv with 16 filters on 32x32 inputs, three stages of n basic blocks (two 3x3
    convs each) with 16, 32 and 64 filters on 32, 16 and 8 pixel maps, global average
    pooling and a 10-way fc. Shortcuts are identities, zero-padded where the channels
    double (option A: no parameters). The paper's Table 6 gives 0.27M parameters for
    ResNet-20, 0.85M for 56, 1.7M for 110 and 19.4M for 1202, which this count
    reproduces (batch norm's γ, β included). Depth 152 (n = 25) gives 2.41M.
    """
    if not isinstance(depth, int) or depth < 8 or (depth - 2) % 6:
        raise ValueError(f"a CIFAR ResNet has depth 6n + 2 (20, 32, 44, 56, 110...), got {depth}")
    n = (depth - 2) // 6
    b = _Builder((3, 32, 32))
    b.conv("conv1", 16, 3, padding=1, bias=False)
    b.norm("bn1")
    for stage, width in enumerate((16, 32, 64), start=1):
        for i in range(n):
            stride = 2 if (i == 0 and stage > 1) else 1
            name = f"stage{stage}_{i + 1}"
            b.conv(f"{name}/3x3a", width, 3, stride=stride, padding=1, bias=False)
            b.norm(f"{name}/bn_a")
            b.conv(f"{name}/3x3b", width, 3, padding=1, bias=False)
            b.norm(f"{name}/bn_b")
            b.layers.append(add(f"{name}/add", b.shape))
    b.pool("avgpool", None, mode="avg")
    b.fc("fc", n_classes)
    return b.build(f"CIFAR ResNet-{depth}", (3, 32, 32), "He et al. 2016, Section 4.2")


# -- trainable dlkit networks -------------------------------------------------------------


def digits_cnn(c1: int = 32, c2: int = 64, *, seed=0, algorithm: str = "im2col",
               dtype=None):
    """The small CNN of chapter 8 for the 8x8 digits, as a dlkit Sequential.

    conv 3x3 (c1) → ReLU → 2x2 max pool → conv 3x3 (c2) → ReLU → 2x2 max pool →
    flatten → fc 10. Padding 1 keeps 8x8 → 8x8 → 4x4 → 4x4 → 2x2. Layer i is seeded
    with ``seed + i``.
    """
    import numpy as np

    from dlkit.nn import Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential

    dtype = np.float64 if dtype is None else dtype
    s = int(seed)
    return Sequential(
        Conv2d(1, c1, 3, padding=1, algorithm=algorithm, seed=s, dtype=dtype), ReLU(),
        MaxPool2d(2),
        Conv2d(c1, c2, 3, padding=1, algorithm=algorithm, seed=s + 1, dtype=dtype), ReLU(),
        MaxPool2d(2),
        Flatten(), Linear(c2 * 2 * 2, 10, init="xavier", seed=s + 2, dtype=dtype),
    )


def lenet5_net(n_classes: int = 10, *, seed=0, algorithm: str = "auto", dtype=None):
    """LeNet-5 as specified by :func:`lenet5`, as a trainable dlkit Sequential.

    For 1x32x32 inputs (MNIST's 28x28 padded by 2, as LeCun et al. did); tanh units and
    average pooling as in the paper, dense C3 and an fc output (see :func:`lenet5`).
    """
    import numpy as np

    from dlkit.nn import AvgPool2d, Conv2d, Flatten, Linear, Sequential, Tanh

    dtype = np.float64 if dtype is None else dtype
    s = int(seed)
    return Sequential(
        Conv2d(1, 6, 5, algorithm=algorithm, init="xavier", seed=s, dtype=dtype), Tanh(),
        AvgPool2d(2),
        Conv2d(6, 16, 5, algorithm=algorithm, init="xavier", seed=s + 1, dtype=dtype), Tanh(),
        AvgPool2d(2),
        Flatten(),
        Linear(400, 120, seed=s + 2, dtype=dtype), Tanh(),
        Linear(120, 84, seed=s + 3, dtype=dtype), Tanh(),
        Linear(84, n_classes, seed=s + 4, dtype=dtype),
    )


ARCHITECTURES = {
    "lenet5": lenet5, "alexnet": alexnet, "vgg16": vgg16, "googlenet": googlenet,
    "resnet18": lambda: resnet(18), "resnet34": lambda: resnet(34),
    "resnet50": lambda: resnet(50), "resnet101": lambda: resnet(101),
    "resnet152": lambda: resnet(152), "cifar_resnet110": lambda: cifar_resnet(110),
}


def get(name: str) -> ArchSpec:
    """An architecture by name: ``get('resnet50')``."""
    try:
        return ARCHITECTURES[name.lower().replace("-", "")]()
    except KeyError:
        raise ValueError(f"unknown architecture {name!r}: choose one of "
                         f"{', '.join(ARCHITECTURES)}") from None
