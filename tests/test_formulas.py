"""One home per formula: dlkit.shapes, and the modules that import it instead of repeating it."""

import ast
import io
import re
import tokenize
from pathlib import Path

import numpy as np
import pytest

import dlkit
import dlkit.conv as dc
from dlkit import flops, models, shapes
from dlkit.conv import common, cost
from dlkit.models import nets, specs, zoo

DLKIT = Path(dlkit.__file__).parent

#: the modules that compute shapes and costs through dlkit.shapes
USERS = [
    "flops.py",
    "models/__init__.py",
    "models/specs.py",
    "models/zoo.py",
    "models/nets.py",
    "conv/common.py",
    "conv/cost.py",
    "conv/direct.py",
    "conv/im2col.py",
    "conv/fft.py",
    "conv/winograd.py",
    "conv/__init__.py",
    "conv/compiled.py",
]


def code_only(path: Path) -> str:
    """The source of `path` without its strings and comments (docstrings may quote formulas)."""
    toks = tokenize.generate_tokens(io.StringIO(path.read_text()).readline)
    return " ".join(t.string for t in toks if t.type not in (tokenize.STRING, tokenize.COMMENT))


def dlkit_imports(path: Path) -> set[str]:
    """The dlkit modules that `path` imports at module level."""
    found = set()
    for node in ast.parse(path.read_text()).body:
        if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("dlkit"):
            found.add(node.module)
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names if a.name.startswith("dlkit")}
    return found


# ------------------------------------------------------------- the same function objects


def test_one_output_size_function():
    assert dc.output_size is common.output_size is shapes.output_size
    assert models.conv_out_size is specs.conv_out_size is shapes.output_size
    assert common.check_int_arg is shapes.check_int_arg
    assert common.check_output_size_args is shapes.check_output_size_args
    assert cost.output_size is shapes.output_size


def test_one_cost_function_per_layer_kind():
    assert flops.conv2d_output_hw is shapes.output_hw
    assert flops.pool_output_hw is shapes.pool_output_hw
    assert flops.conv2d_macs is cost.conv_macs is specs.conv_macs is shapes.conv_macs
    assert flops.conv2d_params is specs.conv_params is shapes.conv_params
    assert flops.linear_macs is specs.linear_macs is shapes.linear_macs
    assert flops.linear_params is specs.linear_params is shapes.linear_params
    assert flops.layer_table is specs.layer_table is shapes.layer_table


@pytest.mark.parametrize("name", USERS)
def test_no_user_writes_the_output_size_formula_again(name):
    code = code_only(DLKIT / name)
    # "(H + 2 * p - k) // s + 1" and its relatives: a floor division followed by + 1
    assert not re.search(r"//\s*[A-Za-z_]\w*\s*\)?\s*\+\s*1\b", code), name
    assert not re.search(r"\+\s*2\s*\*\s*\w+\s*-\s*k", code), name


@pytest.mark.parametrize("name", [n for n in USERS if n.startswith("conv/")])
def test_no_user_writes_the_unpadding_slice_again(name):
    code = code_only(DLKIT / name)
    # dxp[:, :, p : p + H, p : p + W] if p else dxp
    assert not re.search(r"(\w+)\s*:\s*\1\s*\+.*?\]\s*if\s+\1\s+else", code), name


def test_shapes_is_the_lowest_floor():
    assert dlkit_imports(DLKIT / "checks.py") == set()  # the argument checks, below it
    assert dlkit_imports(DLKIT / "shapes.py") == {"dlkit.checks"}
    # specifications cost microseconds: no layers, no numba behind them
    assert dlkit_imports(DLKIT / "models/specs.py") == {"dlkit.shapes"}
    assert dlkit_imports(DLKIT / "models/zoo.py") == {"dlkit.models.specs"}
    assert dlkit_imports(DLKIT / "conv/common.py") == {"dlkit.shapes", "dlkit.checks"}


# ------------------------------------------------------------------- the old import paths


OLD_MODELS_NAMES = {
    "LayerSpec": specs,
    "ArchSpec": specs,
    "conv_out_size": specs,
    "conv": specs,
    "fc": specs,
    "pool": specs,
    "norm": specs,
    "concat": specs,
    "add": specs,
    "summary": specs,
    "lenet5": zoo,
    "alexnet": zoo,
    "vgg16": zoo,
    "googlenet": zoo,
    "resnet": zoo,
    "cifar_resnet": zoo,
    "ARCHITECTURES": zoo,
    "get": zoo,
    "VGG16_CFG": zoo,
    "GOOGLENET_INCEPTION": zoo,
    "RESNET_BLOCKS": zoo,
    "digits_cnn": nets,
    "lenet5_net": nets,
}


@pytest.mark.parametrize("name", sorted(OLD_MODELS_NAMES))
def test_old_models_names_resolve_to_their_new_home(name):
    assert getattr(models, name) is getattr(OLD_MODELS_NAMES[name], name)


def test_models_all_keeps_every_old_public_name():
    old_all = {
        "LayerSpec",
        "ArchSpec",
        "conv_out_size",
        "conv",
        "fc",
        "pool",
        "norm",
        "concat",
        "add",
        "lenet5",
        "alexnet",
        "vgg16",
        "googlenet",
        "resnet",
        "cifar_resnet",
        "summary",
        "ARCHITECTURES",
        "get",
        "digits_cnn",
        "lenet5_net",
    }
    assert old_all <= set(models.__all__)
    assert all(hasattr(models, n) for n in models.__all__)
    ns = {}
    exec("from dlkit.models import *", ns)
    assert old_all <= set(ns)


def test_old_flops_and_conv_names_still_work():
    for name in flops.__all__:
        assert hasattr(flops, name), name
    for name in dc.__all__:
        assert hasattr(dc, name), name
    assert flops.conv2d_output_hw(227, 227, 11, 4, 0) == (55, 55)
    assert dc.output_size(28, 5, 2, 1) == 13


# ----------------------------------------------------------------------- the formulas


def test_output_size_floor_and_ceil():
    assert shapes.output_size(227, 11, 4) == 55  # AlexNet conv1
    assert shapes.output_size(112, 3, 2) == 55
    assert shapes.output_size(112, 3, 2, ceil_mode=True) == 56  # GoogLeNet's Caffe pooling
    # ceil mode: the last window must start inside the input, not in the padding
    assert shapes.output_size(5, 2, 2, 1, ceil_mode=True) == 3
    assert shapes.output_size(6, 2, 2, 1, ceil_mode=True) == 4


def test_output_size_names_its_caller():
    with pytest.raises(ValueError, match=r"conv 'c': a window of 5 does not fit"):
        models.conv("c", (1, 4, 4), 2, 5)
    with pytest.raises(ValueError, match=r"pool 'p': a window of 3 does not fit"):
        models.pool("p", (1, 2, 2), 3)
    with pytest.raises(TypeError, match=r"conv 'c': stride must be an int, got 1.5"):
        models.conv("c", (1, 8, 8), 2, 3, stride=1.5)


def test_output_hw_takes_numbers_or_pairs():
    assert shapes.output_hw(31, 30, 3, 2, 1) == (16, 15)
    assert shapes.output_hw(31, 30, (3, 5), (2, 1), (1, 0)) == (16, 26)
    assert shapes.pool_output_hw(55, 55, 3, 2) == (27, 27)
    assert shapes.pool_output_hw(8, 6, 2) == (4, 3)
    with pytest.raises(ValueError, match="one number or a pair"):
        shapes.output_hw(8, 8, (3, 3, 3))


@pytest.mark.parametrize(
    "c_in, c_out, k, groups, bias",
    [(3, 96, 11, 1, True), (48, 256, 5, 2, True), (64, 128, (3, 1), 1, False), (8, 8, 3, 8, True)],
)
def test_conv_counts_against_a_real_loop(c_in, c_out, k, groups, bias):
    kh, kw = shapes.pair(k)
    # count the weights of every filter and the products of every output, one by one
    weights = sum(c_in // groups * kh * kw + bias for _ in range(c_out))
    assert shapes.conv_params(c_in, c_out, k, bias, groups) == weights
    out_hw = (7, 5)
    products = sum(c_in // groups * kh * kw for _ in range(c_out * out_hw[0] * out_hw[1]))
    assert shapes.conv_macs(c_in, c_out, k, out_hw, groups) == products


def test_conv_counts_agree_with_the_conv_layer_and_its_cost_model():
    layer = dlkit.nn.Conv2d(6, 16, 5, stride=1, padding=2, seed=0)
    assert shapes.conv_params(6, 16, 5) == layer.n_params == layer.W.size + layer.b.size
    hw = shapes.output_hw(14, 14, 5, 1, 2)
    assert layer.output_shape((1, 6, 14, 14)) == (1, 16) + hw
    assert dc.direct_mults(4, 6, 16, 14, 14, 5, 5, 1, 2) == 4 * shapes.conv_macs(6, 16, 5, hw)


def test_linear_counts():
    assert shapes.linear_params(4096, 1000) == 4_097_000
    assert shapes.linear_params(4096, 1000, bias=False) == 4_096_000
    assert shapes.linear_macs(400, 120) == 48_000
    assert models.fc("f", (16, 5, 5), 120).params == shapes.linear_params(400, 120)


# ---------------------------------------------------------------------------- tables


def test_layer_table_fits_columns_and_draws_rules():
    text = shapes.layer_table(
        [("name", "<"), ("n", ">6")],
        [("a", "1,234"), ("longer", "5")],
        ("total", "1,239"),
        rules=True,
    )
    assert text.split("\n") == [
        "name         n",
        "--------------",
        "a        1,234",
        "longer       5",
        "--------------",
        "total    1,239",
    ]
    assert shapes.layer_table([("#", ">3"), ("layer", "<")], []) == "  #  layer"


def test_tables_of_flops_and_models_share_the_layout():
    net = models.lenet5_net(seed=0)
    lines = flops.table(net, (1, 32, 32)).split("\n")
    assert lines[0].split() == ["#", "layer", "output", "MACs", "params"]
    assert lines[-1].split() == [
        "total",
        f"{sum(r.macs for r in flops.count(net, (1, 32, 32))):,}",
        f"{net.n_params:,}",
    ]
    assert len({len(line) for line in lines[1:]}) == 1  # right-aligned numbers
    text = models.lenet5().summary().split("\n")
    assert text[2] == "-" * len(text[1]) == text[-3]
    assert text[-2].split() == ["total", "61,706", f"{models.lenet5().macs:,}"]


# --------------------------------------------------------------------------- unpadding


@pytest.mark.parametrize("ph, pw", [(0, 0), (1, 1), (2, 0), (0, 3), (2, 1)])
def test_unpad_inverts_pad_input(ph, pw):
    x = np.arange(2 * 3 * 4 * 5, dtype=np.float64).reshape(2, 3, 4, 5)
    xp = common.pad_input(x, ph, pw)
    back = common.unpad(xp, ph, pw)
    assert back.shape == x.shape and np.array_equal(back, x)
    assert np.shares_memory(back, xp)  # a view: no copy
    if ph == pw == 0:
        assert back is xp


def test_unpad_default_width_is_the_height():
    xp = np.zeros((1, 1, 8, 10))
    assert common.unpad(xp, 2).shape == (1, 1, 4, 6)


def test_one_home_for_the_argument_checks():
    from dlkit import checks
    from dlkit.conv import common
    from dlkit.nn import core, gradcheck

    assert common.as_real_array is checks.as_real_array
    assert gradcheck.as_real_array is checks.as_real_array
    assert core._check_int is checks.check_int and shapes.check_int is checks.check_int
    with pytest.raises(TypeError, match=r"f: n must be an int >= 1, got 2.0 \(float\); pass n=2"):
        core.check_int(2.0, "n", "f")
    with pytest.raises(TypeError, match=r"f: n must be an int, got 2.0 \(float\); pass n=2"):
        shapes.check_int_arg(2.0, "n", "f", 1)
    with pytest.raises(ValueError, match="f: n must be an int >= 2, got 1"):
        core.check_int(1, "n", "f", minimum=2)
    with pytest.raises(ValueError, match="f: n must be >= 2, got 1"):
        shapes.check_int_arg(1, "n", "f", 2)
