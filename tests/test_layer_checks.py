"""Input checks of layers, losses, convolution functions, the scalar engine and the
perceptron: every wrong input raises a TypeError or ValueError that names the layer or
function, instead of broadcasting, running with a rounded argument or crashing."""

import subprocess
import sys
import textwrap

import numpy as np
import pytest

import dlkit.conv as dc
from dlkit import nn
from dlkit import perceptron as P
from dlkit.autograd import Value, draw_graph, topological_order
from dlkit.nn.losses import Loss

# ------------------------------------------------------------------ every layer's backward

#: Exported layer class -> (a fresh instance, the input of its forward).
LAYERS = {
    nn.Linear: (lambda: nn.Linear(4, 3, seed=0), (5, 4)),
    nn.Sigmoid: (nn.Sigmoid, (5, 3)),
    nn.Tanh: (nn.Tanh, (5, 3)),
    nn.ReLU: (nn.ReLU, (5, 3)),
    nn.LeakyReLU: (nn.LeakyReLU, (5, 3)),
    nn.ELU: (nn.ELU, (5, 3)),
    nn.Identity: (nn.Identity, (5, 3)),
    nn.Softmax: (nn.Softmax, (5, 3)),
    nn.Maxout: (lambda: nn.Maxout(4, 3, k=2, seed=0), (5, 4)),
    nn.Conv2d: (lambda: nn.Conv2d(2, 4, 3, seed=0), (3, 2, 6, 6)),
    nn.MaxPool2d: (lambda: nn.MaxPool2d(2), (3, 2, 6, 6)),
    nn.AvgPool2d: (lambda: nn.AvgPool2d(2), (3, 2, 6, 6)),
    nn.Flatten: (nn.Flatten, (3, 2, 4, 4)),
    nn.Dropout: (lambda: nn.Dropout(0.5, seed=0), (5, 3)),
    nn.BatchNorm1d: (lambda: nn.BatchNorm1d(3), (5, 3)),
    nn.BatchNorm2d: (lambda: nn.BatchNorm2d(2), (3, 2, 4, 4)),
    nn.Sequential: (lambda: nn.Sequential(nn.Linear(4, 3, seed=0), nn.ReLU()), (5, 4)),
}
#: Exported Layer classes that are not layers one runs: the base class.
NOT_LAYERS = {nn.Layer}


def _exported(base):
    return {
        obj
        for name in nn.__all__
        if isinstance(obj := getattr(nn, name), type) and issubclass(obj, base)
    }


def _name(layer) -> str:
    """The name the error must contain: the layer's repr (a Sequential's last layer)."""
    return repr(layer.layers[-1]) if isinstance(layer, nn.Sequential) else repr(layer)


def test_every_exported_layer_has_an_entry():
    missing = _exported(nn.Layer) - set(LAYERS) - NOT_LAYERS
    assert not missing, f"add these layers to LAYERS in {__file__}: {sorted(map(str, missing))}"


def _run_forward(cls):
    make, shape = LAYERS[cls]
    layer = make()
    out = layer.forward(np.random.default_rng(0).standard_normal(shape))
    return layer, out


def _wrong_shapes(out_shape):
    """(a wrong trailing axis, another batch size, a broadcastable (N, 1, ...) shape)."""
    N, K = out_shape[:2]
    return {
        "wrong axis": out_shape[:-1] + (out_shape[-1] + 1,),
        "wrong batch": (N + 1,) + out_shape[1:],
        "broadcastable": (N, 1) + out_shape[2:],
        "extra axis": out_shape + (1,),
    }


@pytest.mark.parametrize("cls", list(LAYERS), ids=lambda c: c.__name__)
@pytest.mark.parametrize("case", ["wrong axis", "wrong batch", "broadcastable", "extra axis"])
def test_backward_refuses_a_dout_of_the_wrong_shape(cls, case):
    layer, out = _run_forward(cls)
    shape = _wrong_shapes(out.shape)[case]
    with pytest.raises(ValueError, match="backward got dout of shape") as info:
        layer.backward(np.ones(shape))
    msg = str(info.value)
    assert _name(layer) in msg
    assert str(tuple(shape)) in msg and str(tuple(out.shape)) in msg
    if case == "wrong batch":
        assert "batch sizes differ" in msg
    if case == "broadcastable":
        assert "no broadcasting" in msg


@pytest.mark.parametrize("cls", list(LAYERS), ids=lambda c: c.__name__)
@pytest.mark.parametrize("dtype", [np.int64, np.int32, bool, np.complex128])
def test_backward_refuses_a_non_float_dout(cls, dtype):
    layer, out = _run_forward(cls)
    with pytest.raises(
        TypeError, match=f"dout of dtype {np.dtype(dtype)}; pass a floating"
    ) as info:
        layer.backward(np.ones(out.shape, dtype))
    assert _name(layer) in str(info.value)


@pytest.mark.parametrize("cls", list(LAYERS), ids=lambda c: c.__name__)
def test_backward_refuses_none_and_strings(cls):
    layer, out = _run_forward(cls)
    for bad in (None, "dout"):
        with pytest.raises(TypeError, match="pass dL/d\\(output\\)") as info:
            layer.backward(bad)
        assert _name(layer) in str(info.value)


@pytest.mark.parametrize("cls", list(LAYERS), ids=lambda c: c.__name__)
def test_backward_before_forward(cls):
    make, shape = LAYERS[cls]
    layer = make()
    with pytest.raises(ValueError, match="backward called before forward") as info:
        layer.backward(np.ones(shape))
    assert isinstance(info.value, RuntimeError)  # as before: both catch it
    assert isinstance(info.value, nn.BackwardBeforeForwardError)
    assert _name(layer) in str(info.value)


@pytest.mark.parametrize("cls", list(LAYERS), ids=lambda c: c.__name__)
def test_backward_accepts_any_float_dout_of_the_right_shape(cls):
    layer, out = _run_forward(cls)
    dx64 = layer.backward(np.ones(out.shape))
    x_shape = LAYERS[cls][1]
    assert dx64.shape == x_shape
    layer, out = _run_forward(cls)
    dx32 = layer.backward(np.ones(out.shape, np.float32))
    assert dx32.shape == x_shape
    np.testing.assert_allclose(dx32, dx64, rtol=1e-6, atol=1e-6)


def test_check_dout_returns_the_same_array():
    d = np.ones((2, 3))
    assert nn.check_dout(d, "X", (2, 3)) is d
    lin = nn.Linear(3, 2, seed=0)
    x = np.random.default_rng(1).standard_normal((4, 3))
    lin.forward(x)
    dz = np.random.default_rng(2).standard_normal((4, 2))
    dx = lin.backward(dz)
    assert np.array_equal(dx, dz @ lin.W.data)  # bit-identical formula
    assert np.array_equal(lin.W.grad, dz.T @ x)


def test_a_later_forward_resets_the_expected_shape():
    relu = nn.ReLU()
    relu.forward(np.ones((5, 3)))
    relu.forward(np.ones((2, 3)))
    with pytest.raises(ValueError, match=r"\(5, 3\).*forward returned shape \(2, 3\)"):
        relu.backward(np.ones((5, 3)))
    assert relu.backward(np.ones((2, 3))).shape == (2, 3)


# --------------------------------------------------------------- the cases measured before


def test_conv2d_batch_and_channel_of_dout_are_checked():
    conv = nn.Conv2d(2, 4, 3, seed=0)
    conv.forward(np.ones((3, 2, 6, 6)))
    with pytest.raises(
        ValueError,
        match=r"Conv2d\(2, 4, 3\)\.backward got dout of shape "
        r"\(4, 4, 4, 4\), but forward returned shape \(3, 4, 4, 4\)",
    ):
        conv.backward(np.ones((4, 4, 4, 4)))
    with pytest.raises(ValueError, match=r"\(3, 1, 4, 4\).*no broadcasting"):
        conv.backward(np.ones((3, 1, 4, 4)))


def test_relu_refuses_a_broadcast_dout():
    relu = nn.ReLU()
    relu.forward(np.ones((5, 3)))
    with pytest.raises(ValueError, match=r"ReLU\(\)\.backward got dout of shape \(5, 1\)"):
        relu.backward(np.ones((5, 1)))


#: Each case would read or write out of bounds in a compiled kernel if it reached it.
_KERNEL_CASES = textwrap.dedent("""
    import numpy as np
    from dlkit import backend, nn
    import dlkit.conv as dc
    backend.set_backend("numba")
    def case(name, f):
        try:
            f()
            print(name, "accepted")
        except (TypeError, ValueError) as e:
            print(name, type(e).__name__, str(e).replace("\\n", " "))
    p = nn.MaxPool2d(2)
    p.forward(np.ones((3, 2, 6, 6)))
    case("maxpool_batch", lambda: p.backward(np.ones((4, 2, 3, 3))))
    case("maxpool_spatial", lambda: p.backward(np.ones((3, 2, 30, 30))))
    x, w = np.ones((2, 3, 8, 8)), np.ones((4, 3, 3, 3))
    for f in (dc.conv2d_numba_backward, dc.conv2d_fast_backward):
        case(f.__name__, lambda: f(np.ones((5, 4, 40, 40)), x, w))
        case(f.__name__ + "_channels", lambda: f(np.ones((2, 9, 6, 6)), x, w))
    print("done")
""")


def test_compiled_kernels_never_see_a_wrong_shape():
    # a subprocess, so that a regression to a segmentation fault fails this test
    # instead of killing pytest
    r = subprocess.run(
        [sys.executable, "-c", _KERNEL_CASES], capture_output=True, text=True, timeout=300
    )
    assert r.returncode == 0, f"exit code {r.returncode} (-11 is a segfault): {r.stderr[-2000:]}"
    lines = dict(line.split(" ", 1) for line in r.stdout.splitlines() if " " in line)
    assert r.stdout.rstrip().endswith("done")
    assert lines["maxpool_batch"].startswith(
        "ValueError MaxPool2d(2).backward got dout of shape (4, 2, 3, 3)"
    )
    assert lines["maxpool_spatial"].startswith("ValueError MaxPool2d(2).backward")
    for f in ("conv2d_numba_backward", "conv2d_fast_backward"):
        assert lines[f].startswith(f"ValueError {f}: dout has shape (5, 4, 40, 40)")
        assert "outputs (2, 4, 6, 6)" in lines[f]
        assert lines[f + "_channels"].startswith(f"ValueError {f}: dout has shape (2, 9, 6, 6)")


@pytest.mark.parametrize("algorithm", ["direct", "im2col", "fft", "numba", "winograd"])
def test_conv2d_backward_checks_dout(algorithm):
    x, w = np.ones((2, 3, 8, 8)), np.ones((4, 3, 3, 3))
    with pytest.raises(ValueError, match=r"dout has shape \(2, 4, 6, 7\).*outputs \(2, 4, 6, 6\)"):
        dc.conv2d_backward(np.ones((2, 4, 6, 7)), x, w, algorithm=algorithm)
    with pytest.raises(TypeError, match="dout has dtype int64"):
        dc.conv2d_backward(np.ones((2, 4, 6, 6), int), x, w, algorithm=algorithm)
    dx, dw, db = dc.conv2d_backward(np.ones((2, 4, 6, 6)), x, w, algorithm=algorithm)
    assert dx.shape == x.shape and dw.shape == w.shape and db.tolist() == [72.0] * 4


def test_integer_dtypes_are_refused_by_every_layer_with_weights():
    for make in (
        lambda d: nn.Linear(4, 3, dtype=d),
        lambda d: nn.Conv2d(1, 2, 3, dtype=d),
        lambda d: nn.Maxout(4, 3, dtype=d),
    ):
        for dtype in (np.int64, np.int32, bool, np.complex128, "U3"):
            with pytest.raises(TypeError, match="dtype must be a floating dtype"):
                make(dtype)
        with pytest.raises(TypeError, match="not a numpy dtype"):
            make("float65")
        assert make(np.float32).W.data.dtype == np.float32
    with pytest.raises(
        TypeError,
        match=r"Linear: dtype must be a floating dtype, got int64; "
        r"pass dtype=np.float64",
    ):
        nn.Linear(4, 3, dtype=np.int64)


@pytest.mark.parametrize(
    "loss, pred",
    [
        (nn.MSELoss(), np.zeros((0, 3))),
        (nn.CrossEntropyLoss(), np.zeros((0, 3))),
        (nn.BCELoss(), np.zeros((0, 1))),
    ],
)
def test_losses_refuse_an_empty_batch(loss, pred):
    target = np.zeros(0, int) if isinstance(loss, nn.CrossEntropyLoss) else np.zeros(pred.shape)
    with pytest.raises(ValueError, match=f"{type(loss).__name__} got an empty batch"):
        loss.forward(pred, target)


@pytest.mark.parametrize(
    "fn",
    [f for pair in nn.ACTIVATIONS.values() for f in pair] + [nn.softmax, nn.log_softmax, P.step],
    ids=lambda f: f.__name__,
)
def test_functions_refuse_none_strings_and_objects(fn):
    for bad in (None, "1.0", object(), np.array(["a"]), np.array([1 + 2j]), {"z": 1}):
        with pytest.raises(TypeError, match=fn.__name__):
            fn(bad)
    z = np.array([[-2.0, 0.5, 3.0]])
    assert np.asarray(fn(z)).shape == z.shape


def test_sigmoid_of_none_is_an_error_not_nan():
    with pytest.raises(TypeError, match="sigmoid got None; pass a number or a numpy array"):
        nn.sigmoid(None)
    assert nn.sigmoid(0.0) == 0.5
    assert nn.relu([-1, 2]).tolist() == [0, 2]


@pytest.mark.parametrize("algorithm", ["direct", "im2col", "fft", "numba"])
def test_conv2d_stride_and_padding_must_be_ints(algorithm):
    x, w = np.ones((1, 1, 7, 7)), np.ones((1, 1, 3, 3))
    with pytest.raises(TypeError, match=r"stride must be an int, got 1.5 \(float\)"):
        dc.conv2d(x, w, stride=1.5, algorithm=algorithm)
    with pytest.raises(TypeError, match=r"stride must be an int, got 2.0 \(float\); pass stride=2"):
        dc.conv2d(x, w, stride=2.0, algorithm=algorithm)
    with pytest.raises(TypeError, match="stride must be an int, got True"):
        dc.conv2d(x, w, stride=True, algorithm=algorithm)
    with pytest.raises(TypeError, match=r"padding must be an int, got 1.0"):
        dc.conv2d(x, w, padding=1.0, algorithm=algorithm)
    with pytest.raises(ValueError, match="padding must be >= 0, got -1"):
        dc.conv2d(x, w, padding=-1, algorithm=algorithm)
    assert dc.conv2d(x, w, stride=np.int64(2), algorithm=algorithm).shape == (1, 1, 3, 3)


def test_conv_functions_refuse_non_arrays():
    w = np.ones((1, 1, 3, 3))
    for bad in (None, "image", np.array([[["a"]]])):
        with pytest.raises(TypeError, match="conv2d_im2col: the input x"):
            dc.conv2d(bad, w)
    with pytest.raises(TypeError, match="the kernel w has dtype complex128"):
        dc.conv2d(np.ones((1, 1, 5, 5)), w.astype(complex))
    with pytest.raises(TypeError, match="algorithm must be a name"):
        dc.conv2d(np.ones((1, 1, 5, 5)), w, algorithm=3)
    with pytest.raises(ValueError, match=r"the kernel must have shape \(C_out, C, 3, 3\)"):
        dc.conv2d(np.ones((1, 1, 5, 5)), np.ones((3, 3)), algorithm="winograd")


def test_im2col_and_col2im_check_their_arguments():
    x = np.ones((2, 3, 6, 6))
    with pytest.raises(TypeError, match="im2col: stride must be an int, got 1.5"):
        dc.im2col(x, 3, 3, 1.5)
    with pytest.raises(TypeError, match="im2col: kh must be an int"):
        dc.im2col(x, 3.0, 3)
    with pytest.raises(ValueError, match="im2col: kw must be a positive int, got 0"):
        dc.im2col(x, 3, 0)
    with pytest.raises(ValueError, match="window is larger than the padded input 6x6"):
        dc.im2col(x, 7, 3)
    with pytest.raises(ValueError, match=r"im2col: the input must have shape \(N, C, H, W\)"):
        dc.im2col(np.ones((6, 6)), 3, 3)
    cols = dc.im2col(x, 3, 3)
    assert cols.shape == (27, 2 * 4 * 4)
    assert dc.col2im(cols, x.shape, 3, 3).shape == x.shape
    with pytest.raises(ValueError, match=r"col2im: cols has shape \(27, 31\).*\(27, 32\)"):
        dc.col2im(cols[:, :-1], x.shape, 3, 3)
    with pytest.raises(TypeError, match="x_shape must be the input's shape"):
        dc.col2im(cols, (2, 3, 6), 3, 3)
    with pytest.raises(TypeError, match="pad_input: padding must be an int"):
        dc.pad_input(x, 0.5)
    with pytest.raises(TypeError, match="dilate: stride must be an int"):
        dc.dilate(x, 2.0)


# ------------------------------------------------------------------------ constructors


@pytest.mark.parametrize(
    "make, name",
    [
        (lambda v: nn.Linear(v, 3), "in_features"),
        (lambda v: nn.Linear(3, v), "out_features"),
        (lambda v: nn.Conv2d(v, 2, 3), "in_channels"),
        (lambda v: nn.Conv2d(1, v, 3), "out_channels"),
        (lambda v: nn.Maxout(v, 3), "in_features"),
        (lambda v: nn.Maxout(3, 3, k=v), "k"),
        (lambda v: nn.Conv2d(1, 2, 3, stride=v), "stride"),
    ],
)
def test_sizes_are_positive_ints(make, name):
    for bad in (2.5, 2.0, True, "3", None):
        with pytest.raises(TypeError, match=f"{name} must be an int"):
            make(bad)
    with pytest.raises(ValueError, match=f"{name} must be a positive int, got 0|k >= 1"):
        make(0)
    make(np.int64(2))


def test_kernel_sizes_and_padding():
    for bad in (2.0, True, "2", (2, 2, 2), (2.0, 2), None):
        with pytest.raises(TypeError, match="kernel_size must be a positive int or a pair"):
            nn.Conv2d(1, 2, bad)
        with pytest.raises(TypeError, match="kernel_size must be a positive int or a pair"):
            nn.MaxPool2d(bad)
        if bad is not None:  # stride=None: the window
            with pytest.raises(TypeError, match="stride must be a positive int or a pair"):
                nn.AvgPool2d(2, bad)
    with pytest.raises(ValueError, match="kernel_size must be a positive int or a pair"):
        nn.MaxPool2d((0, 2))
    with pytest.raises(ValueError, match="padding must be an int >= 0, got -1"):
        nn.Conv2d(1, 2, 3, padding=-1)
    with pytest.raises(TypeError, match="padding must be an int >= 0, got 1.0"):
        nn.Conv2d(1, 2, 3, padding=1.0)
    assert nn.MaxPool2d((2, 3), [1, 2]).stride == (1, 2)


def test_flags_and_hyper_parameters():
    with pytest.raises(TypeError, match="Linear: bias must be True or False, got 'no'"):
        nn.Linear(2, 2, bias="no")
    with pytest.raises(TypeError, match="input_grad must be True or False"):
        nn.Conv2d(1, 2, 3, input_grad=1)
    for bad in (True, "0.5", None):
        with pytest.raises(TypeError, match="Dropout: p must be a real number"):
            nn.Dropout(bad)
    for bad in (1.0, -0.1, float("nan")):
        with pytest.raises(ValueError, match=r"Dropout: p must lie in \[0, 1\)"):
            nn.Dropout(bad)
    with pytest.raises(ValueError, match=r"LeakyReLU: slope must lie in \[0, 1\)"):
        nn.LeakyReLU(1.5)
    with pytest.raises(TypeError, match="LeakyReLU: slope must be a real number"):
        nn.LeakyReLU("0.1")
    with pytest.raises(ValueError, match="ELU: alpha must lie in"):
        nn.ELU(-1.0)
    with pytest.raises(ValueError, match=r"BCELoss: eps must lie in \(0, 0.5\)"):
        nn.BCELoss(0.0)
    with pytest.raises(TypeError, match="one_hot: num_classes must be an int"):
        nn.one_hot(np.array([0, 1]), 2.0)
    with pytest.raises(TypeError, match="get_loss needs a loss name"):
        nn.get_loss(None)
    with pytest.raises(TypeError, match="mlp needs a list of layer sizes"):
        nn.mlp(5)
    assert nn.Dropout(np.float32(0.25)).p == 0.25


# ------------------------------------------------------------------------------ losses

LOSSES = {
    nn.MSELoss: (np.zeros((4, 2)), np.zeros((4, 2))),
    nn.CrossEntropyLoss: (np.zeros((4, 3)), np.array([0, 1, 2, 0])),
    nn.BCELoss: (np.full((4, 1), 0.5), np.array([0.0, 1.0, 1.0, 0.0])),
}


def test_every_exported_loss_has_an_entry():
    assert _exported(Loss) - set(LOSSES) == set()


@pytest.mark.parametrize("cls", list(LOSSES), ids=lambda c: c.__name__)
def test_loss_backward_before_forward(cls):
    loss = cls()
    with pytest.raises(ValueError, match=f"{cls.__name__}\\(\\).backward called before forward"):
        loss.backward()
    pred, target = LOSSES[cls]
    loss.forward(pred, target)
    assert loss.backward().shape == pred.shape


@pytest.mark.parametrize("cls", list(LOSSES), ids=lambda c: c.__name__)
def test_loss_refuses_mismatched_pairs(cls):
    pred, target = LOSSES[cls]
    with pytest.raises(ValueError, match=cls.__name__):
        cls().forward(pred, target[:3])
    with pytest.raises(TypeError, match=cls.__name__):
        cls().forward(None, target)


def test_cross_entropy_targets():
    ce = nn.CrossEntropyLoss()
    with pytest.raises(ValueError, match=r"labels must lie in \[0, 3\) for 3 logits, got 0..3"):
        ce.forward(np.zeros((2, 3)), np.array([0, 3]))
    with pytest.raises(ValueError, match="labels must lie in"):
        ce.forward(np.zeros((2, 3)), np.array([-1, 0]))
    with pytest.raises(ValueError, match="1-D targets must be integer labels"):
        ce.forward(np.zeros((2, 3)), np.array([0.0, 1.0]))
    with pytest.raises(ValueError, match="fits neither labels"):
        ce.forward(np.zeros((2, 3)), np.zeros((2, 2)))
    with pytest.raises(TypeError, match="CrossEntropyLoss target"):
        ce.forward(np.zeros((2, 3)), np.array([["a"] * 3] * 2))
    assert ce.forward(np.zeros((2, 3)), np.eye(3)[[0, 1]]) == pytest.approx(np.log(3))


def test_bce_targets_lie_in_0_1():
    with pytest.raises(ValueError, match=r"BCELoss needs targets in \[0, 1\], got 0.0..2.0"):
        nn.BCELoss().forward(np.full((2, 1), 0.5), np.array([0.0, 2.0]))


# ----------------------------------------------------------------- the scalar engine


def test_value_needs_a_real_number():
    for bad in ("1.5", None, True, 1 + 2j, [1.0]):
        with pytest.raises(TypeError, match="Value needs a real number"):
            Value(bad)
    with pytest.raises(TypeError, match="1-element array"):
        Value(np.array([1.0]))
    with pytest.raises(TypeError, match="Value needs a real number, got 'a'"):
        Value(2.0) + "a"
    with pytest.raises(TypeError, match="label must be a str"):
        Value(1.0, label=3)
    assert Value(np.float32(0.5)).data == 0.5 and Value(np.int64(3)).data == 3.0


def test_value_powers():
    with pytest.raises(ValueError, match=r"Value\(0\) \*\* -1 divides by zero"):
        Value(0.0) ** -1
    with pytest.raises(ValueError, match="divides by zero"):
        Value(1.0) / Value(0.0)
    with pytest.raises(ValueError, match="negative base needs an integer exponent"):
        Value(-8.0) ** 0.5
    with pytest.raises(TypeError, match="constant exponent"):
        Value(2.0) ** True
    assert (Value(-2.0) ** 2).data == 4.0


def test_graph_functions_need_a_value():
    with pytest.raises(TypeError, match="topological_order needs a Value"):
        topological_order(3.0)
    with pytest.raises(TypeError, match="draw_graph needs a Value"):
        draw_graph([Value(1.0)])


# ------------------------------------------------------------------------ the perceptron

X4 = P.truth_table_inputs(2)


def test_neuron_arguments():
    with pytest.raises(TypeError, match="Neuron weights w"):
        P.Neuron("ab", 0.0)
    with pytest.raises(TypeError, match="Neuron weights w"):
        P.Neuron(None, 0.0)
    with pytest.raises(ValueError, match="must be a vector"):
        P.Neuron([], 0.0)
    with pytest.raises(ValueError, match="must be finite"):
        P.Neuron([np.nan, 1.0], 0.0)
    with pytest.raises(TypeError, match="Neuron: bias b must be a real number"):
        P.Neuron([1.0], "1")
    with pytest.raises(TypeError, match="Neuron activation must be a name"):
        P.Neuron([1.0], 0.0, ["step"])
    with pytest.raises(TypeError, match="Neuron.*input X"):
        P.Neuron([1.0, 1.0], 0.0)(None)
    with pytest.raises(TypeError, match="scaled: c must be a real number"):
        P.Neuron([1.0], 0.0).scaled("2")
    with pytest.raises(TypeError, match="gate_unit needs a gate name"):
        P.gate_unit(5)
    with pytest.raises(TypeError, match="gate_unit: scale must be a real number"):
        P.gate_unit("AND", scale=None)
    with pytest.raises(TypeError, match=r"GateNetwork hidden\[1\] must be a Neuron"):
        P.GateNetwork([P.gate_unit("AND"), "OR"], P.gate_unit("OR"))


def test_truth_table_inputs_arguments():
    for bad in (True, 2.0, "2"):
        with pytest.raises(TypeError, match="n_inputs must be an int"):
            P.truth_table_inputs(bad)
    for bad in (0, 25):
        with pytest.raises(ValueError, match=r"n_inputs must be in 1..24"):
            P.truth_table_inputs(bad)
    assert P.truth_table_inputs(3).shape == (8, 3)


def test_train_perceptron_arguments():
    y = np.array([0, 0, 0, 1])
    for bad in (True, "1", None):
        with pytest.raises(TypeError, match="learning rate lr must be a real number"):
            P.train_perceptron(X4, y, lr=bad)
    with pytest.raises(ValueError, match="learning rate lr must lie in"):
        P.train_perceptron(X4, y, lr=float("inf"))
    with pytest.raises(TypeError, match="max_epochs must be an int"):
        P.train_perceptron(X4, y, max_epochs=2.5)
    with pytest.raises(TypeError, match="shuffle must be True or False"):
        P.train_perceptron(X4, y, shuffle="yes")
    with pytest.raises(ValueError, match="at least one example"):
        P.train_perceptron(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(TypeError, match="train_perceptron X"):
        P.train_perceptron(None, y)
    with pytest.raises(TypeError, match="train_perceptron y"):
        P.train_perceptron(X4, "0001")
    with pytest.raises(ValueError, match="w0 must be finite"):
        P.train_perceptron(X4, y, w0=[np.inf, 0.0])
    with pytest.raises(TypeError, match="b0 must be a real number"):
        P.train_perceptron(X4, y, b0="0")
    r = P.train_perceptron(X4, y)
    assert r.converged and r.epochs == 5


def test_linearly_separable_arguments():
    with pytest.raises(ValueError, match="linearly_separable got X of shape \\(0, 2\\)"):
        P.linearly_separable(np.zeros((0, 2)), np.zeros(0))
    with pytest.raises(ValueError, match="0 or 1"):
        P.linearly_separable(X4, np.array([0, 1, 2, 0]))
    assert P.linearly_separable(X4, np.array([0, 1, 1, 1]))


# ------------------------------------------------------- empty batches, lists, bad helpers


def test_conv2d_empty_batch_gives_empty_output_and_gradients():
    for algorithm in ("auto", "numba", "im2col", "direct"):
        conv = nn.Conv2d(2, 4, 3, algorithm=algorithm, seed=0)
        out = conv.forward(np.zeros((0, 2, 6, 6)))
        assert out.shape == (0, 4, 4, 4)
        dx = conv.backward(np.zeros(out.shape))
        assert dx.shape == (0, 2, 6, 6)
        assert not conv.W.grad.any() and not conv.b.grad.any()


def test_flatten_empty_batch():
    flat = nn.Flatten()
    out = flat.forward(np.zeros((0, 2, 4)))
    assert out.shape == (0, 8)
    assert flat.backward(np.zeros((0, 8))).shape == (0, 2, 4)
    x = np.arange(24.0).reshape(3, 2, 4)
    np.testing.assert_array_equal(nn.Flatten().forward(x), x.reshape(3, 8))


@pytest.mark.parametrize("f", [nn.Softmax().forward, nn.softmax, nn.log_softmax])
def test_softmax_of_zero_classes_is_refused(f):
    with pytest.raises(ValueError, match=r"shape \(3, 0\), with no classes on axis -1"):
        f(np.zeros((3, 0)))
    assert f(np.zeros((0, 4))).shape == (0, 4)  # an empty batch is fine


@pytest.mark.parametrize(
    "name",
    ["sigmoid", "sigmoid_prime", "relu_prime", "identity_prime", "tanh", "relu", "elu_prime"],
)
def test_functions_accept_lists_like_arrays(name):
    f = getattr(nn, name)
    z = np.random.default_rng(0).standard_normal((3, 4))
    np.testing.assert_array_equal(f(z.tolist()), f(z))
    np.testing.assert_array_equal(f(tuple(z[0])), f(z[0]))
    x32 = z.astype(np.float32)
    assert f(x32).dtype == np.float32  # a float32 array stays float32


def test_tanh_of_bools_and_small_ints_is_float32_like_sigmoid():
    z = np.array([[True, False], [False, True]])
    for f in (nn.tanh, nn.tanh_prime, nn.sigmoid):
        assert f(z).dtype == np.float32
        assert f(z.astype(np.int8)).dtype == np.float32
    np.testing.assert_allclose(nn.tanh(z), np.tanh(z.astype(np.float64)), rtol=1e-7)
    np.testing.assert_allclose(nn.tanh_prime(z), 1 - np.tanh(z.astype(np.float64)) ** 2, rtol=1e-6)
    assert nn.tanh(np.ones(2, np.float16)).dtype == np.float16  # floats keep their dtype
    assert nn.tanh(np.ones(2, np.int64)).dtype == np.float64


def test_init_fans_refuses_a_non_shape():
    with pytest.raises(TypeError, match="init.fans: shape must be a tuple of ints"):
        nn.init.fans(None)
    with pytest.raises(TypeError, match="shape must hold ints >= 0"):
        nn.init.fans((3, 2.5))
    with pytest.raises(ValueError, match="at least 2 dimensions"):
        nn.init.fans([])
    assert nn.init.fans([6, 3, 5, 5]) == (75, 150)
    assert nn.init.fans(np.array([4, 3])) == (3, 4)


def test_rel_error_refuses_non_numbers():
    with pytest.raises(TypeError, match="rel_error: a must be an array of real numbers"):
        nn.rel_error("a", "b")
    with pytest.raises(TypeError, match="rel_error: a must be an array of real numbers"):
        nn.rel_error(None, np.ones(3))
    with pytest.raises(TypeError, match="rel_error: b has dtype complex128"):
        nn.rel_error(np.ones(2), np.ones(2) * 1j)
    assert nn.rel_error([1.0, 2.0], np.array([1.0, 2.0])) == 0.0
    assert nn.rel_error(np.array([1.0]), np.array([3.0])) == pytest.approx(0.5)


def test_numerical_gradient_checks_its_arguments():
    with pytest.raises(TypeError, match="numerical_gradient: x must be a numpy array"):
        nn.numerical_gradient(lambda: 1.0, None)
    with pytest.raises(TypeError, match="x has dtype int64"):
        nn.numerical_gradient(lambda: 1.0, np.ones(2, np.int64))
    with pytest.raises(TypeError, match="f must be a function"):
        nn.numerical_gradient(1.0, np.ones(2))
    with pytest.raises(TypeError, match=r"f\(\) must return the loss as a real number, got 'x'"):
        nn.numerical_gradient(lambda: "x", np.ones(2))
    with pytest.raises(ValueError, match=r"h must lie in \(0, inf\), got 0.0"):
        nn.numerical_gradient(lambda: 1.0, np.ones(2), h=0)
    with pytest.raises(TypeError, match="h must be a real number"):
        nn.numerical_gradient(lambda: 1.0, np.ones(2), h=True)
    x = np.array([1.0, -2.0])
    g = nn.numerical_gradient(lambda: float(np.sum(x**2)), x)
    np.testing.assert_allclose(g, [2.0, -4.0], rtol=1e-8)


def test_check_layer_refuses_a_non_layer():
    with pytest.raises(TypeError, match="check_layer: layer must be a dlkit layer"):
        nn.check_layer(None, np.ones((2, 4)))
    with pytest.raises(TypeError, match="check_layer: x must be an array of real numbers"):
        nn.check_layer(nn.Linear(4, 3), "abc")
    assert nn.check_layer(nn.Linear(4, 3, seed=0), np.ones((2, 4))).max_error < 1e-6


@pytest.mark.parametrize(
    "activation, exc, phrase",
    [
        ("nope", ValueError, "unknown activation 'nope'"),
        (None, TypeError, "activation name must be a string, got None"),
        (5, TypeError, "activation name must be a string, got 5"),
        ("maxout", ValueError, "use dlkit.nn.Maxout"),
    ],
)
def test_mlp_validates_the_activation_even_without_hidden_layers(activation, exc, phrase):
    with pytest.raises(exc, match=phrase):
        nn.mlp([4, 3], activation=activation)
    with pytest.raises(exc, match=phrase):
        nn.mlp([4, 5, 3], activation=activation)
    assert len(nn.mlp([4, 3], "Tanh")) == 1


def test_cross_entropy_refuses_targets_that_are_not_distributions():
    ce = nn.CrossEntropyLoss()
    logits = np.full((4, 3), 0.5)
    with pytest.raises(ValueError, match=r"target row 0 \[2.0, 0.0, 0.0\] sums to 2, but"):
        ce.forward(logits, np.eye(4, 3) * 2)
    with pytest.raises(ValueError, match="target row 1 .* has a negative entry"):
        ce.forward(logits[:2], np.array([[0.0, 1.0, 0.0], [1.5, -0.5, 0.0]]))
    with pytest.raises(ValueError, match="row 3 .*sums to 0"):
        ce.forward(logits, np.eye(4, 3))
    soft = np.array([[0.2, 0.3, 0.5], [0.0, 1.0, 0.0]])
    assert ce.forward(logits[:2], soft) == pytest.approx(np.log(3), rel=1e-12)
    labels = np.array([0, 2, 1, 0])
    z = np.random.default_rng(0).standard_normal((4, 3))
    assert ce.forward(z, nn.one_hot(labels, 3)) == ce.forward(z, labels)
    assert ce.forward(z.astype(np.float32), nn.one_hot(labels, 3)) > 0
