"""Property-based tests: every bad input to dlkit's public API is refused clearly.

For each family of inputs (layer forward and backward, nn functions, optimizer
hyper-parameters, convolution strides and paddings, fixed-point formats, metrics, the
simulated cluster's buffers), hypothesis draws inputs, :mod:`fuzz_api` builds the call,
and the outcome must be ``clear``: a ValueError/TypeError (or another dlkit error)
raised by dlkit itself with a message, or, for an acceptable input, the right result.
Never silent, unclear, a crash or a hang. Families that run compiled kernels or the
cluster simulator run in a child process (:class:`fuzz_api.Runner`).

The first tests check the instrument itself: the classifier and the runner.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import HealthCheck, Phase, given, settings
from hypothesis import strategies as st

import fuzz_api as F

# No shrinking: on today's code most families fail, and each failure should cost one
# example, not a search for the smallest one.
FUZZ = settings(
    max_examples=25,
    derandomize=True,
    database=None,
    deadline=None,
    suppress_health_check=list(HealthCheck),
    phases=[Phase.explicit, Phase.reuse, Phase.generate],
)
FEW = settings(FUZZ, max_examples=6)


def assert_clear(case: F.Case, out: F.Outcome) -> None:
    assert out.kind == "clear", f"{case.name}: {out.kind}: {out.detail}"


def check(case: F.Case) -> None:
    assert_clear(case, F.judge(case))


_RUNNER: F.Runner | None = None


def runner() -> F.Runner:
    global _RUNNER
    if _RUNNER is None:
        _RUNNER = F.Runner(jobs=1, timeout=20.0, isolate=False)
    return _RUNNER


@pytest.fixture(scope="module", autouse=True)
def _close_runner():
    yield
    global _RUNNER
    if _RUNNER is not None:
        _RUNNER.close()
        _RUNNER = None


def check_isolated(specs: list) -> None:
    cases = [F.case_from_spec(s) for s in specs]
    bad = [(c.name, o) for c, o in zip(cases, runner().run(specs)) if o.kind != "clear"]
    assert not bad, "\n".join(f"{n}: {o.kind}: {o.detail}" for n, o in bad)


# ------------------------------------------------------------------ the instrument


def _raise_from_dlkit():
    from dlkit import rng

    rng(None)


def _numpy_error_in_dlkit_line():
    """A broadcasting error raised by numpy on a line of a (pretend) dlkit module."""
    code = compile("np.ones(3) + np.ones(4)", F._dlkit_dir() + "pretend.py", "exec")
    exec(code, {"np": np})


def test_classifier_tells_a_dlkit_raise_from_a_numpy_error():
    with pytest.raises(ValueError) as clear:
        _raise_from_dlkit()
    with pytest.raises(ValueError) as numpy_err:
        _numpy_error_in_dlkit_line()
    assert F.classify_exception(clear.value).kind == "clear"
    out = F.classify_exception(numpy_err.value)
    assert out.kind == "unclear" and "not by a raise statement" in out.detail


def test_classifier_refuses_short_messages_and_foreign_classes():
    with pytest.raises(ValueError) as short:
        exec(compile("raise ValueError('short')", F._dlkit_dir() + "fake.py", "exec"))
    assert F.classify_exception(short.value) == F.Outcome(
        "unclear", "ValueError at dlkit/fake.py:1: short (message too short)"
    )
    with pytest.raises(IndexError) as index:
        exec(compile("raise IndexError('a long enough message')", F._dlkit_dir() + "f.py", "exec"))
    assert "class IndexError" in F.classify_exception(index.value).detail


def test_classifier_judges_the_error_inside_a_rank():
    from dlkit.cluster import RankError, SimCluster

    def train(comm):
        if comm.Get_rank() == 1:
            np.ones(3) + np.ones(4)

    with pytest.raises(RankError) as info:
        SimCluster(2).run(train)
    out = F.classify_exception(info.value)
    assert out.kind == "unclear" and out.detail.startswith("ValueError")


def test_judge_counts_nan_results_and_failed_ok_checks_as_silent():
    nan = F.Case("nan", "x", lambda: np.array([1.0, np.nan]))
    wrong = F.Case("wrong", "x", lambda: 3, ok=lambda r: r == 4)
    right = F.Case("right", "x", lambda: 4, ok=lambda r: r == 4)
    assert F.judge(nan).kind == "silent"
    assert F.judge(wrong).kind == "silent"
    assert F.judge(right) == F.Outcome("clear", "handled: correct result")


def test_runner_finds_crashes_and_hangs():
    specs = [
        ("harness_probe", {"behaviour": b}) for b in ("clear", "crash", "unclear", "hang", "silent")
    ]
    with F.Runner(jobs=1, timeout=3.0) as r:
        kinds = [o.kind for o in r.run(specs)]
    assert kinds == ["clear", "crash", "unclear", "hang", "silent"]


def test_catalogue_covers_the_public_api():
    cases = F.catalogue()
    assert len({c.name for c in cases}) == len(cases) >= 1500
    modules = {c.module for c in cases}
    assert modules == {
        "nn",
        "conv",
        "optim",
        "train",
        "checkpoint",
        "precision",
        "data",
        "cluster",
        "autograd",
    }
    assert len(F.issue_cases()) >= 20
    for layer, shape in F._OUT_SHAPES.items():
        assert F._out_shape(layer) == shape


# ------------------------------------------------------------------ the issue's cases


def test_issue_cases():
    """The cases the issue names (MaxPool2d segfault, Adam loading Momentum state...)."""
    check_isolated([c.name for c in F.issue_cases()])


# ------------------------------------------------------------------------ layers

PLAIN_LAYERS = sorted(k for k, v in F.LAYERS.items() if not v[3])
COMPILED_LAYERS = sorted(k for k, v in F.LAYERS.items() if v[3])
shapes = st.lists(st.integers(0, 4), min_size=0, max_size=5).map(tuple)
dtypes = st.sampled_from(["float64", "float32", "int64", "bool", "complex128"])
kinds = st.sampled_from(["array", "array", "array", "nested_list", "scalar", *F.JUNK])


@FUZZ
@given(
    layer=st.sampled_from(PLAIN_LAYERS),
    kind=kinds,
    shape=shapes,
    dtype=dtypes,
    fill=st.sampled_from(["normal", "nan", "inf"]),
)
def test_layer_forward(layer, kind, shape, dtype, fill):
    check(F.layer_forward(layer, kind, shape, dtype, fill))


@FUZZ
@given(
    layer=st.sampled_from(PLAIN_LAYERS),
    kind=kinds,
    shape=st.none() | shapes,
    dtype=dtypes,
    before=st.booleans(),
)
def test_layer_backward(layer, kind, shape, dtype, before):
    check(F.layer_backward(layer, kind, shape, dtype, before))


@FEW
@given(
    layer=st.sampled_from(COMPILED_LAYERS),
    shape=st.lists(st.integers(1, 5), min_size=4, max_size=4).map(tuple),
    dtype=st.sampled_from(["float64", "int64", "complex128"]),
)
def test_compiled_layer_backward(layer, shape, dtype):
    """Conv2d and MaxPool2d run Numba kernels: a dout of the wrong shape must not reach
    them (it read out of bounds and crashed the interpreter)."""
    check_isolated(
        [
            ("layer_backward", {"layer": layer, "shape": shape, "dtype": dtype}),
            ("layer_forward", {"layer": layer, "shape": shape, "dtype": dtype}),
        ]
    )


@FUZZ
@given(
    name=st.sampled_from(
        [
            "sigmoid",
            "sigmoid_prime",
            "tanh",
            "relu",
            "relu_prime",
            "leaky_relu",
            "elu",
            "identity",
            "softmax",
            "log_softmax",
        ]
    ),
    junk=st.sampled_from([*F.JUNK, "complex"]),
)
def test_nn_functions(name, junk):
    x = F.arr(3, 4, dtype="complex128") if junk == "complex" else F.lazy(F.JUNK[junk], junk)
    check(F.call(f"nn.{name}", (x,), module="nn", label=junk))


@FUZZ
@given(
    name=st.sampled_from(["sigmoid", "tanh", "relu", "elu", "identity", "softmax"]),
    shape=st.lists(st.integers(0, 4), min_size=1, max_size=3).map(tuple),
    dtype=st.sampled_from(["float64", "int64", "bool", "list"]),
)
def test_nn_functions_on_real_arrays(name, shape, dtype):
    check(F._function_ok(name, f"{dtype} {shape}", shape, dtype))


# ---------------------------------------------------------------------- optimizers

numbers = (
    st.floats(allow_nan=True, allow_infinity=True)
    | st.integers(-3, 3)
    | st.booleans()
    | st.none()
    | st.text(max_size=3)
    | st.just([0.1])
    | st.complex_numbers(max_magnitude=2)
)
HYPER = {
    "SGD": ("lr", "momentum", "weight_decay"),
    "Momentum": ("lr", "momentum"),
    "Nesterov": ("lr", "momentum"),
    "AdaGrad": ("lr", "eps", "weight_decay"),
    "RMSProp": ("lr", "rho", "eps"),
    "Adam": ("lr", "betas", "eps", "weight_decay"),
    "AdamW": ("lr", "betas", "weight_decay"),
}


@FUZZ
@given(data=st.data(), kind=st.sampled_from(sorted(HYPER)))
def test_optimizer_hyper_parameters(data, kind):
    """lr a positive finite real (not bool or str); fractions in [0, 1); eps in (0, 1)."""
    name = data.draw(st.sampled_from(HYPER[kind]))
    value = data.draw(st.tuples(numbers, numbers) | numbers if name == "betas" else numbers)
    check(F.optimizer_hyper(kind, name, value))


@FUZZ
@given(
    kind=st.sampled_from(F.OPTIMIZERS),
    source=st.sampled_from(F.OPTIMIZERS),
    variant=st.sampled_from(
        [
            "other kind",
            "other kind, no steps",
            "other network",
            "missing t",
            "str values",
            "extra parameter",
        ]
    ),
)
def test_optimizer_load_state_dict(kind, source, variant):
    if variant.startswith("other kind") and source == kind:
        variant = "other network"
    check(F.optimizer_load(kind, source, variant))


# ----------------------------------------------------------------------- conv

ints_or_junk = (
    st.integers(-2, 4)
    | st.floats(-2, 4)
    | st.booleans()
    | st.none()
    | st.sampled_from(["1", "0"])
    | st.just(np.float64(1.0))
)


@FUZZ
@given(
    algorithm=st.sampled_from(["direct", "im2col", "winograd", "fft"]),
    stride=ints_or_junk,
    padding=ints_or_junk,
)
def test_conv_stride_and_padding(algorithm, stride, padding):
    check(F.conv_forward(algorithm, stride=stride, padding=padding))


@FUZZ
@given(
    algorithm=st.sampled_from(["direct", "im2col", "winograd", "fft"]),
    shape=st.lists(st.integers(0, 4), min_size=3, max_size=5).map(tuple),
    dtype=st.sampled_from(["float64", "int64", "complex128"]),
)
def test_conv_backward_dout(algorithm, shape, dtype):
    check(F.conv_backward(algorithm, dout_shape=shape, dout_dtype=dtype))


@FEW
@given(stride=ints_or_junk, shape=st.lists(st.integers(1, 4), min_size=4, max_size=4).map(tuple))
def test_conv_numba(stride, shape):
    check_isolated(
        [
            ("conv_forward", {"algorithm": "numba", "stride": stride}),
            ("conv_backward", {"algorithm": "numba", "dout_shape": shape}),
        ]
    )


# ------------------------------------------------------------------ precision, train


@FUZZ
@given(il=numbers | st.integers(-2, 60), fl=numbers | st.integers(-2, 60))
def test_fixed_point_formats(il, fl):
    valid = all(isinstance(v, int) and not isinstance(v, bool) for v in (il, fl)) and (
        il >= 1 and fl >= 0 and il + fl <= 52
    )
    ok = (lambda q: (q.il, q.fl) == (il, fl)) if valid else None
    check(F.call("precision.FixedPoint", (il, fl), module="precision", ok=ok))


@FUZZ
@given(n=st.integers(0, 5), k=st.integers(2, 4), m=st.integers(0, 5))
def test_accuracy_shapes(n, k, m):
    scores = F.make_array((n, k))
    y = np.arange(m) % k
    ok = None
    if n == m and n > 0:

        def ok(acc):
            return math.isclose(acc, float(np.mean(scores.argmax(axis=1) == y)))

    check(F.call("train.accuracy", (scores, y), module="train", ok=ok))


# ------------------------------------------------------------------------ cluster


@FEW
@given(
    recv_dtype=st.sampled_from(["float64", "float32", "int64"]),
    recv_size=st.integers(0, 10),
    root=st.integers(-2, 6) | st.none() | st.booleans() | st.just(1.0),
)
def test_cluster_bcast_buffers_and_roots(recv_dtype, recv_size, root):
    check_isolated(
        [("cluster_bcast", {"recv_dtype": recv_dtype, "recv_size": recv_size, "root": root})]
    )


# ------------------------------------------------------- the catalogue, module by module


@pytest.mark.parametrize(
    "module", ["nn", "conv", "optim", "train", "checkpoint", "precision", "data", "autograd"]
)
def test_catalogue_module(module):
    """Every catalogue case of `module` that runs no compiled kernel, in this process."""
    cases = [c for c in F.catalogue() if c.module == module and not c.compiled]
    bad = [(c.name, o) for c in cases if (o := F.judge(c)).kind != "clear"]
    assert not bad, f"{len(bad)} of {len(cases)} cases:\n" + "\n".join(
        f"{n}: {o.kind}: {o.detail}" for n, o in bad[:40]
    )


def test_catalogue_cluster():
    check_isolated([c.name for c in F.catalogue() if c.module == "cluster"])


def test_catalogue_compiled():
    check_isolated([c.name for c in F.catalogue() if c.compiled and not c.issue])
