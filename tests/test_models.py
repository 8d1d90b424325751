"""Architecture specifications: totals equal the published figures, closed forms hold."""

import math

import pytest

from dlkit import models


@pytest.mark.parametrize(
    "build, expected",
    [
        (models.lenet5, 61_706),  # 6-16-120-84-10, 32x32
        (models.alexnet, 60_965_224),  # Krizhevsky 2012, 2 GPUs
        (lambda: models.alexnet(False, conv4=256), 61_100_840),  # torchvision.models.alexnet
        (models.vgg16, 138_357_544),  # torchvision vgg16
        (lambda: models.resnet(18), 11_689_512),  # torchvision resnet18
        (lambda: models.resnet(34), 21_797_672),
        (lambda: models.resnet(50), 25_557_032),
        (lambda: models.resnet(101), 44_549_160),
        (lambda: models.resnet(152), 60_192_808),
    ],
)
def test_totals_match_published_counts(build, expected):
    assert build().params == expected


def test_resnet_multiply_adds_match_paper_table1():
    # He et al. 2016, Table 1, "FLOPs" (multiply-adds): 1.8, 3.6, 3.8, 7.6, 11.3 x 10^9,
    # given to one decimal (ResNet-34's 3.66 is printed 3.6, so: within 0.07)
    for depth, gmacs in [(18, 1.8), (34, 3.6), (50, 3.8), (101, 7.6), (152, 11.3)]:
        spec = models.resnet(depth)
        assert abs(spec.macs / 1e9 - gmacs) < 0.07, (depth, spec.macs)
        assert spec.depth == depth


def test_googlenet_from_table1_columns():
    # an independent count from the paper's Table 1 columns, with biases
    spec = models.googlenet()
    c_in = {
        "3a": 192,
        "3b": 256,
        "4a": 480,
        "4b": 512,
        "4c": 512,
        "4d": 512,
        "4e": 528,
        "5a": 832,
        "5b": 832,
    }
    total = 64 * (3 * 49 + 1) + 64 * (64 + 1) + 192 * (64 * 9 + 1) + 1000 * (1024 + 1)
    for name, (n1, r3, n3, r5, n5, pp) in models.GOOGLENET_INCEPTION.items():
        c = c_in[name]
        total += (
            n1 * (c + 1)
            + r3 * (c + 1)
            + n3 * (9 * r3 + 1)
            + r5 * (c + 1)
            + n5 * (25 * r5 + 1)
            + pp * (c + 1)
        )
        assert spec[f"inception{name}/concat"].out_shape[0] == n1 + n3 + n5 + pp
    assert spec.params == total == 6_998_552
    assert spec.depth == 22
    assert spec.output_shape == (1000,)
    assert spec["inception5b/concat"].out_shape == (1024, 7, 7)


def test_cifar_resnets_match_paper_table6():
    # He et al. 2016, Table 6: params 0.27M, 0.85M, 1.7M, 19.4M (rounded as printed)
    for depth, m, digits in [(20, 0.27, 2), (56, 0.85, 2), (110, 1.7, 1), (1202, 19.4, 1)]:
        spec = models.cifar_resnet(depth)
        assert round(spec.params / 1e6, digits) == m, (depth, spec.params)
        assert spec.depth == depth and spec.output_shape == (10,)
    assert models.cifar_resnet(152)["avgpool"].in_shape == (64, 8, 8)
    with pytest.raises(ValueError, match="6n"):
        models.cifar_resnet(51)


def test_alexnet_layer_shapes_and_grouping():
    spec = models.alexnet()
    assert [lay.out_shape for lay in spec.conv_layers()] == [
        (96, 55, 55),
        (256, 27, 27),
        (384, 13, 13),
        (384, 13, 13),
        (256, 13, 13),
    ]
    assert len(spec.conv_layers()) == 5 and len(spec.fc_layers()) == 3
    # groups=2 halves the weights of conv2: 256 * (48*25 + 1)
    assert spec["conv2"].params == 256 * (48 * 25 + 1)
    ungrouped = models.alexnet(False)
    assert [c.out_shape[0] for c in ungrouped.conv_layers()] == [64, 192, 384, 384, 256]
    assert ungrouped["fc6"].in_shape == (256, 6, 6)


def test_closed_forms_and_derived_sizes():
    lay = models.conv("c", (6, 14, 14), 16, 5, stride=1, padding=0)
    assert lay.out_shape == (16, 10, 10)
    assert lay.params == 16 * (6 * 25 + 1)
    assert lay.macs == 16 * 10 * 10 * 6 * 25
    assert lay.flops == 2 * lay.macs
    assert lay.activations == 1600 and lay.activation_bytes(4, batch_size=8) == 1600 * 32
    assert lay.param_bytes(2) == 2 * lay.params
    g = models.conv("g", (8, 9, 9), 4, 3, stride=2, padding=1, groups=2)
    assert g.out_shape == (4, 5, 5) and g.params == 4 * (4 * 9 + 1)
    f = models.fc("f", (16, 5, 5), 120)
    assert f.params == 120 * 401 and f.macs == 120 * 400
    assert models.pool("p", (3, 112, 112), 3, 2, ceil_mode=True).out_shape == (3, 56, 56)
    assert models.pool("p", (3, 112, 112), 3, 2).out_shape == (3, 55, 55)
    assert models.norm("n", (64, 8, 8)).params == 128
    assert models.norm("n", (64, 8, 8), "lrn").params == 0
    spec = models.vgg16()
    assert spec.param_bytes() == 4 * spec.params
    assert spec.activation_bytes() == 4 * sum(math.prod(x.out_shape) for x in spec)
    assert spec.flops == 2 * spec.macs


def test_summary_table_lists_layers_and_totals():
    text = models.lenet5().summary()
    assert "61,706" in text and "C3" in text and text.count("\n") == 12
    only = models.alexnet().summary(kinds=("fc",))
    assert "fc6" in only and "conv1" not in only and "60,965,224" in only


def test_bad_arguments_are_explained():
    with pytest.raises(ValueError, match="groups=3 must divide"):
        models.conv("c", (4, 8, 8), 6, 3, groups=3)
    with pytest.raises(ValueError, match="does not fit"):
        models.conv("c", (1, 4, 4), 2, 5)
    with pytest.raises(ValueError, match="depth must be one of"):
        models.resnet(42)
    with pytest.raises(ValueError, match="unknown architecture"):
        models.get("lenet7")
    with pytest.raises(ValueError, match="grouped=False"):
        models.alexnet(conv4=256)
    assert models.get("ResNet-50").params == 25_557_032


LENET5_SUMMARY = """\
LeNet-5: input 1x32x32
layer   kind            output        params             MACs
-------------------------------------------------------------
C1      conv           6x28x28           156          117,600
S2      pool           6x14x14             0                0
C3      conv          16x10x10         2,416          240,000
S4      pool            16x5x5             0                0
C5      fc                 120        48,120           48,000
F6      fc                  84        10,164           10,080
output  fc                  10           850              840
-------------------------------------------------------------
total                                 61,706          416,520
depth (layers with weights on the longest path): 5"""


def test_summary_layout_is_exact():
    # chapters print this table and compare it character for character
    assert models.lenet5().summary() == LENET5_SUMMARY
    assert models.summary(models.lenet5()) == LENET5_SUMMARY


def test_three_modules_three_jobs():
    from dlkit.models import nets, specs, zoo

    assert models.conv is specs.conv and models.LayerSpec is specs.LayerSpec
    assert models.alexnet is zoo.alexnet and models.get is zoo.get
    assert models.digits_cnn is nets.digits_cnn and models.lenet5_net is nets.lenet5_net
    # a zoo entry is built from the spec helpers: a custom network the same way
    b = models.Builder((3, 32, 32))
    b.conv("c1", 8, 3, padding=1)
    b.pool("p1", 2)
    b.fc("fc", 10)
    spec = b.build("tiny", (3, 32, 32), "test")
    assert spec.params == 8 * (27 + 1) + 10 * (8 * 16 * 16 + 1) and spec.depth == 2
    assert spec["p1"].out_shape == (8, 16, 16)
