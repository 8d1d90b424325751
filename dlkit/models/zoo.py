"""The paper zoo: famous architectures as :class:`~dlkit.models.specs.ArchSpec` s.

Each function builds its network's layer table with :class:`~dlkit.models.specs.Builder`,
so that it reads like the table of the paper it comes from; the docstrings say where
every number comes from and where dlkit's count departs from a figure usually quoted.

* :func:`lenet5`  - LeCun et al. (1998), the classic 6-16-120-84-10 on 32x32 input, as
  usually reproduced; :func:`lenet5_paper_params` counts the paper's own network
  (its C3 connection table :data:`LENET5_C3_TABLE`), 60,000 trainable parameters.
* :func:`alexnet` - Krizhevsky, Sutskever & Hinton (2012), two GPU towers; or the
  single-tower network of Krizhevsky (2014), "One weird trick".
* :func:`vgg16`   - Simonyan & Zisserman (2015), configuration D.
* :func:`googlenet` - Szegedy et al. (2015), Table 1 (without auxiliary classifiers).
* :func:`resnet`  - He et al. (2016), Table 1, depths 18/34/50/101/152.
* :func:`cifar_resnet` - He et al. (2016), Section 4.2, the 6n+2-layer CIFAR-10 nets.

:func:`get` looks one up by name (``get('resnet50')``).
"""

from __future__ import annotations

from dlkit.models.specs import ArchSpec, Builder, Shape, add, concat, conv, fc, norm, pool

__all__ = [
    "lenet5",
    "lenet5_paper_params",
    "LENET5_C3_TABLE",
    "alexnet",
    "vgg16",
    "googlenet",
    "resnet",
    "cifar_resnet",
    "VGG16_CFG",
    "GOOGLENET_INCEPTION",
    "RESNET_BLOCKS",
    "ARCHITECTURES",
    "get",
]


def lenet5(input_shape: Shape = (1, 32, 32), n_classes: int = 10) -> ArchSpec:
    """LeNet-5 (LeCun et al. 1998) as usually reproduced: 61,706 parameters.

    C1 6@5x5 → S2 2x2 pool → C3 16@5x5 → S4 2x2 pool → C5 120 (a 5x5 conv on a 5x5
    map, i.e. fully connected) → F6 84 → 10 outputs. Three departures from the paper,
    as in most re-implementations, which make the 1,706 parameters between this count
    and the paper's exact 60,000 (:func:`lenet5_paper_params`): C3 connects every S2
    map (2,416 parameters; the paper's connection table gives 1,516), the subsampling
    layers have no trainable coefficient and bias (the paper's have 12 and 32), and the
    output is a fully connected layer (850 parameters) instead of the paper's RBF units,
    whose centres were fixed by hand.
    """
    b = Builder(input_shape)
    b.conv("C1", 6, 5)
    b.pool("S2", 2, mode="avg")
    b.conv("C3", 16, 5)
    b.pool("S4", 2, mode="avg")
    b.fc("C5", 120)
    b.fc("F6", 84)
    b.fc("output", n_classes)
    return b.build("LeNet-5", input_shape, "LeCun et al. 1998, Fig. 2 (dense C3, no RBF)")


#: LeNet-5's C3 connection table (LeCun et al. 1998, Table I): the S2 maps each of the
#: 16 C3 maps reads. Six read three neighbouring maps, six read four neighbours, three
#: read four maps that are not all neighbours, and the last reads all six.
LENET5_C3_TABLE = (
    (0, 1, 2),
    (1, 2, 3),
    (2, 3, 4),
    (3, 4, 5),
    (0, 4, 5),
    (0, 1, 5),
    (0, 1, 2, 3),
    (1, 2, 3, 4),
    (2, 3, 4, 5),
    (0, 3, 4, 5),
    (0, 1, 4, 5),
    (0, 1, 2, 5),
    (0, 1, 3, 4),
    (1, 2, 4, 5),
    (0, 2, 3, 5),
    (0, 1, 2, 3, 4, 5),
)


def lenet5_paper_params() -> dict[str, int]:
    """The trainable parameters of each layer of the LeNet-5 of LeCun et al. (1998).

    Layer by layer as the paper (Section II.B) counts them; they sum to its 60,000:

    - C1: 6 kernels of 5x5 and their biases, 6·(25 + 1) = 156;
    - S2: each subsampling map adds its 2x2 window, times a trainable coefficient, plus
      a trainable bias: 6·2 = 12;
    - C3: only the 60 (C3 map, S2 map) pairs of :data:`LENET5_C3_TABLE` have a 5x5
      kernel: 60·25 weights + 16 biases = 1,516;
    - S4: 16·2 = 32;
    - C5: 120·(16·25 + 1) = 48,120, F6: 84·(120 + 1) = 10,164;
    - output: 10 Euclidean RBF units, whose 84-value centres were chosen by hand and
      kept fixed: no trainable parameters.
    """
    c3_pairs = sum(len(inputs) for inputs in LENET5_C3_TABLE)
    return {
        "C1": conv("C1", (1, 32, 32), 6, 5).params,
        "S2": 6 * 2,
        "C3": c3_pairs * 5 * 5 + len(LENET5_C3_TABLE),
        "S4": 16 * 2,
        "C5": conv("C5", (16, 5, 5), 120, 5).params,
        "F6": fc("F6", 120, 84).params,
        "output": 0,
    }


def alexnet(grouped: bool = True, *, conv4: int | None = None, n_classes: int = 1000) -> ArchSpec:
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
        b = Builder((3, 227, 227))
        b.conv("conv1", 96, 11, stride=4)
        b.pool("pool1", 3, 2)
        b.conv("conv2", 256, 5, padding=2, groups=2)
        b.pool("pool2", 3, 2)
        b.conv("conv3", 384, 3, padding=1)  # sees both GPUs' maps
        b.conv("conv4", 384, 3, padding=1, groups=2)
        b.conv("conv5", 256, 3, padding=1, groups=2)
        b.pool("pool5", 3, 2)
        b.fc("fc6", 4096)
        b.fc("fc7", 4096)
        b.fc("fc8", n_classes)
        return b.build(
            "AlexNet (2 GPUs)", (3, 227, 227), "Krizhevsky, Sutskever & Hinton 2012, Fig. 2"
        )
    c4 = 384 if conv4 is None else int(conv4)
    b = Builder((3, 224, 224))
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
    src = (
        "Krizhevsky 2014, footnote 1"
        if c4 == 384
        else f"Krizhevsky 2014 with conv4={c4} (torchvision when 256)"
    )
    return b.build("AlexNet (1 tower)", (3, 224, 224), src)


#: VGG configuration D (Simonyan & Zisserman 2015, Table 1): channels, 'M' = 2x2 max pool.
VGG16_CFG = (64, 64, "M", 128, 128, "M", 256, 256, 256, "M", 512, 512, 512, "M", 512, 512, 512, "M")


def vgg16(n_classes: int = 1000) -> ArchSpec:
    """VGG-16 (configuration D of Simonyan & Zisserman 2015): 138,357,544 parameters.

    13 conv layers (3x3, stride 1, padding 1) in five stages closed by 2x2 max pooling,
    then fc 4096, 4096, 1000 on 224x224 inputs.
    """
    b = Builder((3, 224, 224))
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


def _inception(b: Builder, name: str, cfg: tuple[int, ...]) -> None:
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
    b = Builder((3, 224, 224))
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
RESNET_BLOCKS = {
    18: ((2, 2, 2, 2), False),
    34: ((3, 4, 6, 3), False),
    50: ((3, 4, 6, 3), True),
    101: ((3, 4, 23, 3), True),
    152: ((3, 8, 36, 3), True),
}


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
    b = Builder((3, 224, 224))
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
    b = Builder((3, 32, 32))
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


ARCHITECTURES = {
    "lenet5": lenet5,
    "alexnet": alexnet,
    "vgg16": vgg16,
    "googlenet": googlenet,
    "resnet18": lambda: resnet(18),
    "resnet34": lambda: resnet(34),
    "resnet50": lambda: resnet(50),
    "resnet101": lambda: resnet(101),
    "resnet152": lambda: resnet(152),
    "cifar_resnet110": lambda: cifar_resnet(110),
}


def get(name: str) -> ArchSpec:
    """An architecture by name: ``get('resnet50')``."""
    try:
        return ARCHITECTURES[name.lower().replace("-", "")]()
    except KeyError:
        raise ValueError(
            f"unknown architecture {name!r}: choose one of {', '.join(ARCHITECTURES)}"
        ) from None
