"""A catalogue of bad inputs to dlkit's public API, and a classifier of what each does.

Every :class:`Case` calls one public function or method with an input that is wrong
(a bad shape, dtype, type or value), or unusual but acceptable (an integer array that a
layer may convert). :func:`judge` sorts what happened into one of

``clear``
    dlkit raised a ``ValueError``, ``TypeError``, ``KeyError`` (or ``RuntimeError``,
    ``OSError`` or a class defined in dlkit) from a ``raise`` statement in the dlkit
    package, with a message of at least 15 characters; or, for an acceptable input,
    it returned the right result (the case's ``ok`` check).
``unclear``
    any other exception: ``IndexError``, ``AttributeError``, ``ZeroDivisionError``, a
    Numba typing error, a numpy broadcasting error raised inside numpy (even when the
    numpy call sits in a dlkit line), a message under 15 characters; or an exception on
    an input that must be accepted (``must_succeed``).
``silent``
    it returned normally although the input was invalid, or returned NaN/inf, or failed
    the case's ``ok`` check.
``crash``
    the interpreter died (a signal); found by :class:`Runner`, which runs cases in
    child processes.
``hang``
    the case ran past the per-case time limit (:class:`Runner`).

Errors raised inside a simulated rank reach the caller wrapped in
:class:`dlkit.cluster.RankError`; the classifier judges the original exception.

Cases never depend on the wording of a message, only on the exception's class and
origin. ``tools/fuzz_report.py`` runs the whole catalogue and prints the counts;
``tests/test_fuzz.py`` asserts, family by family, that every case is ``clear``.
"""

from __future__ import annotations

import dis
import functools
import importlib
import math
import os
import tempfile
import time
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, NamedTuple

import numpy as np

KINDS = ("clear", "unclear", "silent", "crash", "hang")

#: Exception classes that count as a clear refusal when dlkit raises them itself.
CLEAR_TYPES: tuple[type[BaseException], ...] = (
    ValueError,
    TypeError,
    KeyError,
    RuntimeError,
    OSError,
)
#: Subclasses of CLEAR_TYPES that never count as clear.
UNCLEAR_TYPES: tuple[type[BaseException], ...] = (
    NotImplementedError,
    RecursionError,
    IndexError,
    UnicodeError,
)
MIN_MESSAGE = 15


class Outcome(NamedTuple):
    kind: str
    detail: str


@dataclass
class Case:
    """One call of the public API with a bad (or unusual) input.

    Attributes
    ----------
    name : unique, ``module.object.method[variant]``.
    module : the dlkit subsystem: nn, conv, optim, train, checkpoint, precision, data,
        cluster, autograd.
    fn : runs the call; its return value is judged.
    ok : for an acceptable input, ``ok(result)`` says whether the result is right; a
        right result counts as clear (handled). None: the input is invalid, so the
        only clear outcome is an error.
    must_succeed : the input is valid: an exception counts as unclear.
    compiled : runs compiled (Numba) kernels: crash-prone, run in a child process.
    issue : one of the cases named in the issue.
    family : the group of cases it belongs to (tests assert per family).
    """

    name: str
    module: str
    fn: Callable[[], Any]
    ok: Callable[[Any], bool] | None = None
    must_succeed: bool = False
    compiled: bool = False
    issue: bool = False
    family: str = ""
    timeout: float | None = None


# ------------------------------------------------------------------ the classifier


def _dlkit_dir() -> str:
    import dlkit

    return os.path.dirname(os.path.abspath(dlkit.__file__)) + os.sep


def _unwrap(exc: BaseException) -> BaseException:
    """The exception a rank raised, when the simulator wrapped it in RankError."""
    seen = 0
    while type(exc).__name__ == "RankError" and type(exc).__module__.startswith("dlkit"):
        inner = getattr(exc, "exc", None) or exc.__cause__
        if inner is None or seen > 10:
            break
        exc, seen = inner, seen + 1
    return exc


def _origin(exc: BaseException) -> tuple[str, int, str]:
    """(file, line, opcode) of the innermost traceback entry of `exc`."""
    tb = exc.__traceback__
    if tb is None:
        return "?", 0, "?"
    while tb.tb_next is not None:
        tb = tb.tb_next
    code = tb.tb_frame.f_code
    op = "?"
    for ins in dis.get_instructions(code):
        if ins.offset == tb.tb_lasti:
            op = ins.opname
            break
    return code.co_filename, tb.tb_lineno, op


def _short(path: str) -> str:
    parts = Path(path).parts
    for anchor in ("dlkit", "numpy", "numba", "site-packages"):
        if anchor in parts:
            i = len(parts) - 1 - parts[::-1].index(anchor)
            return "/".join(parts[i:])
    return Path(path).name


def classify_exception(exc: BaseException) -> Outcome:
    """clear or unclear, for an exception a case raised (see the module docstring)."""
    exc = _unwrap(exc)
    name = type(exc).__name__
    msg = str(exc)
    path, line, op = _origin(exc)
    where = f"{_short(path)}:{line}"
    brief = msg.splitlines()[0][:120] if msg else ""
    detail = f"{name} at {where}: {brief}"
    if not os.path.abspath(path).startswith(_dlkit_dir()) or op != "RAISE_VARARGS":
        inside = (
            "inside dlkit but not by a raise statement"
            if path.startswith(_dlkit_dir())
            else "outside dlkit"
        )
        return Outcome("unclear", f"{detail} ({inside})")
    own = type(exc).__module__.startswith("dlkit")
    if not own and (not isinstance(exc, CLEAR_TYPES) or isinstance(exc, UNCLEAR_TYPES)):
        return Outcome("unclear", f"{detail} (class {name})")
    if len(msg) < MIN_MESSAGE:
        return Outcome("unclear", f"{detail} (message too short)")
    return Outcome("clear", detail)


def _nonfinite(x: Any, depth: int = 0) -> bool:
    if depth > 3:
        return False
    if isinstance(x, np.ndarray):
        return x.dtype.kind in "fc" and x.size > 0 and not np.isfinite(x).all()
    if isinstance(x, (float, np.floating, complex, np.complexfloating)):
        return not np.isfinite(x)
    if isinstance(x, (list, tuple)):
        return any(_nonfinite(v, depth + 1) for v in x[:64])
    if isinstance(x, dict):
        return any(_nonfinite(v, depth + 1) for v in list(x.values())[:64])
    if type(x).__name__ == "Value" and hasattr(x, "data"):
        return _nonfinite(x.data, depth + 1)
    return False


def _describe(x: Any) -> str:
    if isinstance(x, np.ndarray):
        return f"array {x.shape} {x.dtype}"
    r = " ".join(repr(x).split())
    return type(x).__name__ + (f" {r[:60]}" if len(r) < 200 else "")


def judge(case: Case) -> Outcome:
    """Run `case` in this process and classify what it did (never crash/hang)."""
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with np.errstate(all="ignore"):
                result = case.fn()
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # noqa: BLE001 - classifying is the point
        if type(exc).__name__ in ("_Abort", "_Crash"):
            return Outcome("unclear", f"internal signal {type(exc).__name__} escaped")
        out = classify_exception(exc)
        if case.must_succeed:
            return Outcome("unclear", f"refused an acceptable input: {out.detail}")
        return out
    if case.ok is not None:
        try:
            with np.errstate(all="ignore"), warnings.catch_warnings():
                warnings.simplefilter("ignore")
                good = bool(case.ok(result))
        except Exception as exc:  # noqa: BLE001
            return Outcome(
                "silent",
                f"returned {_describe(result)}; ok check raised {type(exc).__name__}: {exc}"[:200],
            )
        if good:
            return Outcome("clear", "handled: correct result")
        return Outcome("silent", f"returned a wrong result: {_describe(result)}")
    if _nonfinite(result):
        return Outcome("silent", f"returned non-finite values: {_describe(result)}")
    return Outcome("silent", f"accepted the bad input, returned {_describe(result)}")


# -------------------------------------------------------------- inputs and checks

FACTORIES: dict[str, Callable[..., Case]] = {}


def factory(fn: Callable[..., Case]) -> Callable[..., Case]:
    """Register a case factory, so a child process can rebuild a case from its spec."""
    FACTORIES[fn.__name__] = fn
    return fn


def make_array(shape, dtype: str = "float64", fill: str = "normal", seed: int = 0) -> np.ndarray:
    """A test array: `fill` is normal, ones, nan (one NaN) or inf (one inf)."""
    g = np.random.default_rng(seed)
    a = g.standard_normal(tuple(shape))
    if fill == "ones":
        a = np.ones(tuple(shape))
    if fill in ("nan", "inf") and a.size:
        a.flat[a.size // 2] = np.nan if fill == "nan" else np.inf
    if dtype in ("int64", "int32", "uint8"):
        return np.abs(np.round(a * 3)).astype(dtype) if a.size else a.astype(dtype)
    if dtype == "bool":
        return a > 0
    if dtype == "complex128":
        return a + 1j * a
    return a.astype(dtype)


#: Non-array inputs, by name (built when a case runs).
JUNK: dict[str, Callable[[], Any]] = {
    "None": lambda: None,
    "str": lambda: "abc",
    "object": object,
    "dict": dict,
    "list_of_str": lambda: [["a", "b"], ["c", "d"]],
    "object_array": lambda: np.array([[1.0, "x"], [None, 2]], dtype=object),
    "bytes": lambda: b"\x00\x01",
}


def close(a: Any, b: Any, rtol: float = 1e-5) -> bool:
    """Same shape, finite, equal to rtol (for comparing with a float64 reference)."""
    a, b = np.asarray(a), np.asarray(b)
    if a.shape != b.shape or a.dtype.kind not in "fiub":
        return False
    if a.size == 0:
        return True
    a, b = a.astype(np.float64), b.astype(np.float64)
    return bool(np.isfinite(a).all() and np.allclose(a, b, rtol=rtol, atol=1e-7))


def _resolve(target: str) -> Any:
    """``"nn.Linear"`` -> dlkit.nn.Linear; ``"nn.forward.add_bias"`` imports dlkit.nn.forward."""
    parts = target.split(".")
    path = "dlkit." + parts[0]
    obj = importlib.import_module(path)
    for p in parts[1:]:
        path += "." + p
        obj = getattr(obj, p) if hasattr(obj, p) else importlib.import_module(path)
    return obj


def _fmt(v: Any) -> str:
    if isinstance(v, float) and math.isnan(v):
        return "nan"
    if isinstance(v, _Lazy):
        return v.label
    if isinstance(v, np.ndarray):
        if v.size <= 12 and v.dtype.kind in "biufc":
            return f"array({v.tolist()})"
        return f"array{v.shape}{v.dtype}{' with nan' if _nonfinite(v) else ''}"
    if isinstance(v, type):
        return v.__name__
    if callable(v):
        return getattr(v, "__name__", type(v).__name__)
    if isinstance(v, np.dtype):
        return str(v)
    r = repr(v)
    return r if len(r) <= 30 else r[:27] + "..."


@factory
def call(
    target: str,
    args: tuple = (),
    kwargs: dict | None = None,
    *,
    module: str = "",
    family: str = "",
    ok: Callable | None = None,
    must_succeed: bool = False,
    issue: bool = False,
    label: str | None = None,
    compiled: bool = False,
) -> Case:
    """Call the public callable `target` (a dotted name under dlkit) with these arguments."""
    kwargs = kwargs or {}

    def fn():
        f = _resolve(target)
        a = [v() if isinstance(v, _Lazy) else v for v in args]
        k = {n: (v() if isinstance(v, _Lazy) else v) for n, v in kwargs.items()}
        return f(*a, **k)

    if label is None:
        label = ", ".join([_fmt(a) for a in args] + [f"{k}={_fmt(v)}" for k, v in kwargs.items()])
    return Case(
        f"{target}({label})",
        module or target.split(".")[0],
        fn,
        ok,
        must_succeed,
        compiled,
        issue,
        family or target,
    )


class _Lazy:
    """An argument built when the case runs (arrays, layers), not at catalogue time."""

    def __init__(self, make: Callable[[], Any], label: str):
        self.make, self.label = make, label

    def __call__(self):
        return self.make()


def lazy(make: Callable[[], Any], label: str) -> _Lazy:
    """An argument made when the case runs; `label` names it in the case's name."""
    return _Lazy(make, label)


def arr(*shape: int, dtype: str = "float64", fill: str = "normal") -> _Lazy:
    """A lazy :func:`make_array` argument."""
    tail = "" if dtype == "float64" else f" {dtype}"
    tail += "" if fill == "normal" else f" {fill}"
    return _Lazy(functools.partial(make_array, shape, dtype, fill), f"array{shape}{tail}")


# ----------------------------------------------------------------------- layers


def _nn():
    from dlkit import nn

    return nn


def _fixed_quantize():
    from dlkit import precision

    return precision.Quantize(precision.FixedPoint(6, 12))


def _dense(n: int) -> Callable[[tuple], bool]:
    return lambda s: len(s) == 2 and s[1] == n


def _image(c: int | None, k: int) -> Callable[[tuple], bool]:
    return lambda s: (len(s) == 4 and (c is None or s[1] == c) and s[2] >= k and s[3] >= k)


def _any(s: tuple) -> bool:
    return True


#: name -> (make the layer, a valid input shape, accepts(shape), runs compiled kernels)
LAYERS: dict[str, tuple[Callable[[], Any], tuple, Callable[[tuple], bool], bool]] = {
    "Linear": (lambda: _nn().Linear(4, 3, seed=0), (2, 4), _dense(4), False),
    "Conv2d": (lambda: _nn().Conv2d(2, 4, 3, seed=0), (3, 2, 6, 6), _image(2, 3), True),
    "Conv2d_im2col": (
        lambda: _nn().Conv2d(2, 4, 3, algorithm="im2col", seed=0),
        (3, 2, 6, 6),
        _image(2, 3),
        False,
    ),
    "Conv2d_stride2": (
        lambda: _nn().Conv2d(2, 3, 3, stride=2, padding=1, algorithm="direct", seed=0),
        (2, 2, 5, 5),
        _image(2, 1),
        False,
    ),
    "MaxPool2d": (lambda: _nn().MaxPool2d(2), (3, 2, 6, 6), _image(None, 2), True),
    "MaxPool2d_overlap": (
        lambda: _nn().MaxPool2d(3, stride=2),
        (2, 2, 7, 7),
        _image(None, 3),
        True,
    ),
    "AvgPool2d": (lambda: _nn().AvgPool2d(2), (3, 2, 6, 6), _image(None, 2), False),
    "AvgPool2d_overlap": (
        lambda: _nn().AvgPool2d(3, stride=2),
        (2, 2, 7, 7),
        _image(None, 3),
        False,
    ),
    "Flatten": (lambda: _nn().Flatten(), (3, 2, 4), lambda s: len(s) >= 2, False),
    "Dropout": (lambda: _nn().Dropout(0.5, seed=0), (3, 4), _any, False),
    "Sigmoid": (lambda: _nn().Sigmoid(), (3, 4), _any, False),
    "Tanh": (lambda: _nn().Tanh(), (3, 4), _any, False),
    "ReLU": (lambda: _nn().ReLU(), (3, 4), _any, False),
    "LeakyReLU": (lambda: _nn().LeakyReLU(), (3, 4), _any, False),
    "ELU": (lambda: _nn().ELU(), (3, 4), _any, False),
    "Identity": (lambda: _nn().Identity(), (3, 4), _any, False),
    "Softmax": (lambda: _nn().Softmax(), (3, 4), _any, False),
    "Maxout": (lambda: _nn().Maxout(4, 3, 2, seed=0), (2, 4), _dense(4), False),
    "Sequential": (
        lambda: _nn().Sequential(
            _nn().Linear(4, 5, seed=0), _nn().ReLU(), _nn().Linear(5, 3, seed=1)
        ),
        (2, 4),
        _dense(4),
        False,
    ),
    "Quantize": (_fixed_quantize, (3, 4), _any, False),
    "BatchNorm1d": (lambda: _nn().BatchNorm1d(4), (3, 4), _dense(4), False),
    "BatchNorm1d_eval": (lambda: _nn().BatchNorm1d(4).eval(), (3, 4), _dense(4), False),
    "BatchNorm2d": (lambda: _nn().BatchNorm2d(2), (3, 2, 4, 4), _image(2, 1), False),
}


def _build_input(kind: str, shape, dtype: str, fill: str) -> Any:
    if kind == "array":
        return make_array(shape, dtype, fill)
    if kind == "nested_list":
        return make_array(shape, dtype, fill).tolist()
    if kind == "scalar":
        return np.float64(0.5)
    return JUNK[kind]()


def _input_valid(kind: str, shape, dtype: str, fill: str) -> bool:
    """A real, finite array (or a nested list of numbers)."""
    if kind not in ("array", "nested_list"):
        return False
    if dtype == "complex128":
        return False
    return fill not in ("nan", "inf") or int(np.prod(shape)) == 0


@factory
def layer_forward(
    layer: str,
    kind: str = "array",
    shape: tuple | None = None,
    dtype: str = "float64",
    fill: str = "normal",
    variant: str = "",
) -> Case:
    """``layer.forward(x)`` for one input; a valid input must give the float64 result."""
    make, good_shape, accepts, compiled = LAYERS[layer]
    shape = tuple(good_shape if shape is None else shape)
    scalar_ok = kind == "scalar" and accepts(())
    valid = (_input_valid(kind, shape, dtype, fill) and accepts(shape)) or scalar_ok
    saturates = layer == "Quantize" and fill == "inf" and kind == "array" and dtype != "complex128"
    if saturates:  # Convert(x) saturates: inf becomes the format's largest number
        valid = True

    def fn():
        return make().forward(_build_input(kind, shape, dtype, fill))

    ok = None
    if valid:

        def ok(result):
            x = _build_input(kind, shape, dtype, fill)
            ref = make().forward(np.asarray(x, dtype=np.float64))
            if saturates:
                return bool(np.array_equal(result, ref) and np.isfinite(result).all())
            return close(result, ref)

    label = variant or f"{kind} {shape} {dtype} {fill}"
    return Case(
        f"nn.{layer}.forward[{label}]", "nn", fn, ok, False, compiled, False, "layer.forward"
    )


def _out_shape(layer: str) -> tuple:
    make, good_shape, _, _ = LAYERS[layer]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return make().forward(make_array(good_shape)).shape


@factory
def layer_backward(
    layer: str,
    kind: str = "array",
    shape: tuple | None = None,
    dtype: str = "float64",
    before_forward: bool = False,
    variant: str = "",
) -> Case:
    """``layer.backward(dout)`` after a valid forward; a valid dout must give the float64
    gradients. `shape` None means the output's shape."""
    make, good_shape, _, compiled = LAYERS[layer]

    def dout_shape():
        return _out_shape(layer) if shape is None else tuple(shape)

    def fn():
        lay = make()
        if not before_forward:
            lay.forward(make_array(good_shape))
        return lay.backward(_build_input(kind, dout_shape(), dtype, "normal"))

    def ok(result):
        if before_forward or dout_shape() != _out_shape(layer):
            return False
        lay = make()
        lay.forward(make_array(good_shape))
        d = np.asarray(_build_input(kind, dout_shape(), dtype, "normal"), dtype=np.float64)
        return close(result, lay.backward(d))

    valid = kind in ("array", "nested_list") and dtype != "complex128" and not before_forward
    label = variant or f"{kind} {shape} {dtype}{' before forward' if before_forward else ''}"
    return Case(
        f"nn.{layer}.backward[{label}]",
        "nn",
        fn,
        ok if valid else None,
        False,
        compiled,
        False,
        "layer.backward",
    )


def _forward_variants(layer: str) -> list[Case]:
    _, s, accepts, _ = LAYERS[layer]
    N = s[0]
    out = []
    v = [
        ("drop batch axis", "array", s[1:], "float64", "normal"),
        ("extra axis", "array", s + (2,), "float64", "normal"),
        ("5-D", "array", (2,) * 5, "float64", "normal"),
        ("1-D", "array", (4,), "float64", "normal"),
        ("features+1", "array", s[:-1] + (s[-1] + 1,), "float64", "normal"),
        ("NaN", "array", s, "float64", "nan"),
        ("inf", "array", s, "float64", "inf"),
        ("empty batch", "array", (0,) + s[1:], "float64", "normal"),
        ("complex", "array", s, "complex128", "normal"),
        ("int64", "array", s, "int64", "normal"),
        ("bool", "array", s, "bool", "normal"),
        ("float32", "array", s, "float32", "normal"),
        ("nested list", "nested_list", s, "float64", "normal"),
        ("0-d scalar", "scalar", (), "float64", "normal"),
    ]
    if len(s) == 4:
        v += [
            ("channels+1", "array", (N, s[1] + 1) + s[2:], "float64", "normal"),
            ("channels-last", "array", (N,) + s[2:] + (s[1],), "float64", "normal"),
            ("1x1 images", "array", (N, s[1], 1, 1), "float64", "normal"),
            ("zero channels", "array", (N, 0) + s[2:], "float64", "normal"),
        ]
    else:
        v += [("zero features", "array", s[:-1] + (0,), "float64", "normal")]
    for label, kind, shape, dtype, fill in v:
        out.append(layer_forward(layer, kind, shape, dtype, fill, variant=label))
    for junk in JUNK:
        out.append(layer_forward(layer, junk, s, variant=junk))
    return out


def _backward_variants(layer: str) -> list[Case]:
    o = _OUT_SHAPES[layer]
    N = o[0]
    v = [
        ("batch+1", "array", (N + 1,) + o[1:], "float64"),
        ("batch-1", "array", (N - 1,) + o[1:], "float64"),
        ("(N, 1) broadcastable", "array", (N, 1) + o[2:], "float64"),
        ("extra axis", "array", o + (1,), "float64"),
        ("missing axis", "array", o[:-1], "float64"),
        ("last axis+1", "array", o[:-1] + (o[-1] + 1,), "float64"),
        ("0-d scalar", "array", (), "float64"),
        ("empty", "array", (0,) + o[1:], "float64"),
        ("int64", "array", o, "int64"),
        ("float32", "array", o, "float32"),
        ("complex", "array", o, "complex128"),
        ("nested list", "nested_list", o, "float64"),
    ]
    if o[::-1] != o:
        v.append(("transposed", "array", o[::-1], "float64"))
    if len(o) == 4:
        v.append(("spatial+1", "array", o[:2] + (o[2] + 1, o[3] + 1), "float64"))
    out = [
        layer_backward(layer, kind, shape, dtype, variant=label) for label, kind, shape, dtype in v
    ]
    for junk in ("None", "str", "object"):
        out.append(layer_backward(layer, junk, o, variant=junk))
    out.append(layer_backward(layer, "array", o, before_forward=True, variant="before forward"))
    return out


#: Output shapes of the layers on their valid inputs (computed from the layers' specs).
_OUT_SHAPES: dict[str, tuple] = {
    "Linear": (2, 3),
    "Conv2d": (3, 4, 4, 4),
    "Conv2d_im2col": (3, 4, 4, 4),
    "Conv2d_stride2": (2, 3, 3, 3),
    "MaxPool2d": (3, 2, 3, 3),
    "MaxPool2d_overlap": (2, 2, 3, 3),
    "AvgPool2d": (3, 2, 3, 3),
    "AvgPool2d_overlap": (2, 2, 3, 3),
    "Flatten": (3, 8),
    "Dropout": (3, 4),
    "Sigmoid": (3, 4),
    "Tanh": (3, 4),
    "ReLU": (3, 4),
    "LeakyReLU": (3, 4),
    "ELU": (3, 4),
    "Identity": (3, 4),
    "Softmax": (3, 4),
    "Maxout": (2, 3),
    "Sequential": (2, 3),
    "Quantize": (3, 4),
    "BatchNorm1d": (3, 4),
    "BatchNorm1d_eval": (3, 4),
    "BatchNorm2d": (3, 2, 4, 4),
}


BAD_INTS = [0, -1, 2.5, True, None, "4", 4.0, float("nan"), [4]]
BAD_DTYPES = [np.int64, np.int32, np.uint8, bool, np.complex128, object, "str", "float99"]


def _constructor_cases() -> list[Case]:
    cases = []

    def add(target, args=(), kwargs=None, **kw):
        cases.append(call(target, args, kwargs, module="nn", family="nn.constructors", **kw))

    for v in BAD_INTS:
        add("nn.Linear", (v, 3))
        add("nn.Linear", (4, v))
        add("nn.Conv2d", (v, 4, 3))
        add("nn.Conv2d", (2, v, 3))
        add("nn.Conv2d", (2, 4, v))
        add("nn.MaxPool2d", (v,))
        add("nn.AvgPool2d", (v,))
        if v is not None:  # stride=None means "the window size"
            add("nn.MaxPool2d", (2,), {"stride": v})
        add("nn.Maxout", (v, 3, 2))
        add("nn.Maxout", (4, 3, v))
        add("nn.mlp", ([4, v, 3],))
    for v in [1.5, 0, -1, True, "1", None, float("nan")]:
        add("nn.Conv2d", (2, 4, 3), {"stride": v})
    for v in [1.5, -1, True, "0", None, float("nan")]:
        add("nn.Conv2d", (2, 4, 3), {"padding": v})
    for v in [(3,), (3, 3, 3), (0, 3), (3, -1), (2.5, 3), ()]:
        add("nn.Conv2d", (2, 4, v))
        add("nn.MaxPool2d", (v,))
    for dt in BAD_DTYPES:
        add("nn.Linear", (4, 3), {"dtype": dt}, issue=dt is np.int64)
        add("nn.Conv2d", (2, 4, 3), {"dtype": dt})
        add("nn.Maxout", (4, 3, 2), {"dtype": dt})
        add("nn.mlp", ([4, 3],), {"dtype": dt})
    for v in [float("nan"), -0.1, 1.0, 1.5, True, "0.1", None, float("inf")]:
        add("nn.LeakyReLU", (v,))
        add("nn.Dropout", (v,))
    for v in [float("nan"), -1.0, True, "1", None, float("inf")]:
        add("nn.ELU", (v,))
    for v in [None, "abc", 2.5, True]:
        add("nn.Dropout", (0.5,), {"seed": v})
        add("nn.Linear", (4, 3), {"seed": v})
    for v in ["nope", None, 5]:
        add("nn.Linear", (4, 3), {"init": v})
        add("nn.Conv2d", (2, 4, 3), {"algorithm": v})
        add("nn.get_activation", (v,))
        add("nn.get_loss", (v,))
        add("nn.mlp", ([4, 3],), {"activation": v})
        add("nn.init.get", (v,))
    add("nn.Conv2d", (2, 4, 5), {"algorithm": "winograd"})
    add("nn.Conv2d", (2, 4, 3), {"stride": 2, "algorithm": "winograd"})
    for v in [[4], [], "abc", None, 5, [4, 3.5], [4, -3]]:
        add("nn.mlp", (v,))
    for v in [(1,), ("relu",), (None,), ([1, 2],), (lambda x: x,)]:
        add("nn.Sequential", v)
    for v in [float("nan"), -1.0, 0.6, "x", True, None]:
        add("nn.BCELoss", (v,))
    for v in [np.array([[0.0]]), [], None]:
        add("nn.init.fans", (v,))
    for cls in ("nn.BatchNorm1d", "nn.BatchNorm2d"):
        for v in BAD_INTS:
            add(cls, (v,))
        for v in [0, -1e-5, float("nan"), float("inf"), "1e-5", None, True]:
            add(cls, (4,), {"eps": v})
        for v in [-0.1, 1.5, float("nan"), float("inf"), "0.1", None, True]:
            add(cls, (4,), {"momentum": v})
        for v in [1, "yes", None]:
            add(cls, (4,), {"affine": v})
        for dt in BAD_DTYPES:
            add(cls, (4,), {"dtype": dt})
    return cases


def _function_cases() -> list[Case]:
    """nn's functions on junk, complex, integer and empty inputs."""
    cases = []
    names = [
        "sigmoid",
        "sigmoid_prime",
        "tanh",
        "tanh_prime",
        "relu",
        "relu_prime",
        "leaky_relu",
        "leaky_relu_prime",
        "elu",
        "elu_prime",
        "identity",
        "identity_prime",
        "softmax",
        "log_softmax",
    ]
    for name in names:
        for junk in ("None", "str", "object", "list_of_str", "object_array"):
            cases.append(
                call(
                    f"nn.{name}",
                    (lazy(JUNK[junk], junk),),
                    module="nn",
                    family="nn.functions",
                    label=junk,
                    issue=(name, junk) == ("sigmoid", "None"),
                )
            )
        cases.append(
            call(
                f"nn.{name}",
                (arr(3, 4, dtype="complex128"),),
                module="nn",
                family="nn.functions",
                label="complex",
            )
        )
        for label, shape, dtype in (
            ("int64", (3, 4), "int64"),
            ("bool", (3, 4), "bool"),
            ("empty", (0, 4), "float64"),
            ("list", (3, 4), "list"),
        ):
            cases.append(_function_ok(name, label, shape, dtype))
    for v in [
        (np.array([0.5, 1.5]), 3),
        (np.array([[0, 1]]), 3),
        (np.array([0, 3]), 3),
        (np.array([-1, 0]), 3),
        (np.array([0, 1]), 0),
        (np.array([0, 1]), 2.5),
        (np.array([0, 1]), True),
        (np.array([0, 1]), None),
        (None, 3),
        ("ab", 3),
    ]:
        cases.append(call("nn.one_hot", v, module="nn", family="nn.functions"))
    for a, b in [(np.ones(3), np.ones(4)), (None, np.ones(3)), ("a", "b")]:
        cases.append(call("nn.rel_error", (a, b), module="nn", family="nn.functions"))
    cases.append(
        call("nn.numerical_gradient", (lambda: 1.0, None), module="nn", family="nn.functions")
    )
    cases.append(
        call("nn.numerical_gradient", (lambda: "x", np.ones(2)), module="nn", family="nn.functions")
    )
    cases.append(
        call(
            "nn.numerical_gradient",
            (lambda: 1.0, np.ones(2)),
            {"h": 0},
            module="nn",
            family="nn.functions",
        )
    )
    for v in [None, "abc", np.ones((2, 2, 2))]:
        cases.append(call("nn.forward.add_bias", (v,), module="nn", family="nn.functions"))
    cases.append(
        call("nn.check_layer", (None, np.ones((2, 4))), module="nn", family="nn.functions")
    )
    cases.append(
        call(
            "nn.check_layer",
            (lazy(lambda: _nn().Linear(4, 3), "Linear(4, 3)"), np.ones((2, 5))),
            module="nn",
            family="nn.functions",
        )
    )
    return cases


def _function_ok(name: str, label: str, shape, dtype) -> Case:
    """nn.<name> on a real array: must equal the float64 result (or refuse clearly)."""

    def x():
        if dtype == "list":
            return make_array(shape).tolist()
        return make_array(shape, dtype)

    def ok(result):
        f = _resolve(f"nn.{name}")
        return close(result, f(np.asarray(x(), dtype=np.float64)))

    return call(
        f"nn.{name}", (lazy(x, label),), module="nn", family="nn.functions", label=label, ok=ok
    )


def _loss_cases() -> list[Case]:
    cases = []

    def add(loss, pred, target, label, **kw):
        def fn(loss=loss, pred=pred, target=target):
            lf = _resolve(f"nn.{loss}")()
            return lf.forward(pred(), target())

        cases.append(Case(f"nn.{loss}.forward[{label}]", "nn", fn, family="nn.losses", **kw))

    A = make_array
    for loss in ("MSELoss", "BCELoss", "CrossEntropyLoss"):
        add(loss, lambda: A((4, 3)), lambda: A((5, 3)), "batch mismatch")
        add(loss, lambda: A((4, 3)), lambda: A((4, 2)), "width mismatch")
        add(loss, lambda: A((0, 3)), lambda: A((0, 3)), "empty batch", issue=True)
        add(loss, lambda: A((4, 3), fill="nan"), lambda: A((4, 3)), "NaN prediction")
        add(loss, lambda: A((4, 3)), lambda: A((4, 3), fill="nan"), "NaN target")
        add(loss, lambda: None, lambda: A((4, 3)), "None prediction")
        add(loss, lambda: A((4, 3)), lambda: None, "None target")
        add(loss, lambda: "abc", lambda: A((4, 3)), "str prediction")
        add(loss, lambda: A((4, 3), "complex128"), lambda: A((4, 3)), "complex prediction")
        add(loss, lambda: A((4, 3)), lambda: A((3, 4)), "transposed target")
        add(loss, lambda: A((4, 3)), lambda: A((4,)), "1-D target for 3 outputs")

        def before(loss=loss):
            return _resolve(f"nn.{loss}")().backward()

        cases.append(Case(f"nn.{loss}.backward[before forward]", "nn", before, family="nn.losses"))
    P = lambda: np.full((4, 3), 0.5)  # noqa: E731
    add("CrossEntropyLoss", P, lambda: np.array([0, 1, 2, 3]), "label out of range")
    add("CrossEntropyLoss", P, lambda: np.array([0, 1, -1, 2]), "negative label")
    add("CrossEntropyLoss", P, lambda: np.array([0.0, 1.0, 2.0, 1.0]), "float labels")
    add("CrossEntropyLoss", P, lambda: np.array([0, 1, 2]), "too few labels")
    add("CrossEntropyLoss", P, lambda: np.array([True, False, True, False]), "bool labels")
    add("CrossEntropyLoss", lambda: A((4,)), lambda: np.array([0, 1, 2, 3]), "1-D logits")
    add("CrossEntropyLoss", lambda: A((2, 3, 4)), lambda: np.zeros(2, np.int64), "3-D logits")
    add("CrossEntropyLoss", P, lambda: np.eye(4, 3) * 2, "one-hot summing to 2")
    add("BCELoss", lambda: np.full((4, 1), 1.5), lambda: np.ones((4, 1)), "probability > 1")
    add("BCELoss", lambda: np.full((4, 1), -0.5), lambda: np.ones((4, 1)), "probability < 0")
    add("BCELoss", lambda: np.full((4, 1), 0.5), lambda: np.full((4, 1), 2.0), "target 2")
    add("MSELoss", lambda: A((4, 1)), lambda: A((1, 4)), "(N,1) vs (1,N)")
    add("MSELoss", lambda: A((4, 3)), lambda: A((1, 3)), "broadcastable target")
    return cases


def _layer_cases() -> list[Case]:
    cases = []
    for layer in LAYERS:
        cases += _forward_variants(layer)
        cases += _backward_variants(layer)
    return cases


# ------------------------------------------------------------------------ conv

_CONV_X, _CONV_W = (2, 2, 5, 5), (3, 2, 3, 3)


def _conv(name):
    from dlkit import conv

    return getattr(conv, name)


@factory
def conv_forward(
    algorithm: str = "im2col",
    x_shape=_CONV_X,
    w_shape=_CONV_W,
    b_shape=(3,),
    stride: Any = 1,
    padding: Any = 0,
    x_kind: str = "array",
    x_dtype: str = "float64",
    variant: str = "",
) -> Case:
    """``conv.conv2d(x, w, b, stride, padding, algorithm)``; valid arguments must give the
    result of the direct algorithm with int stride and padding."""

    def args():
        x = _build_input(x_kind, x_shape, x_dtype, "normal")
        w = make_array(w_shape, seed=1)
        b = None if b_shape is None else make_array(b_shape, seed=2)
        return x, w, b

    def fn():
        return _conv("conv2d")(*args(), stride, padding, algorithm)

    valid = (
        _int_ok(stride, 1)
        and _int_ok(padding, 0)
        and x_kind == "array"
        and x_dtype != "complex128"
        and len(x_shape) == 4
        and len(w_shape) == 4
        and x_shape[1] == w_shape[1]
        and (b_shape is None or tuple(b_shape) == w_shape[:1])
        and x_shape[2] + 2 * padding >= w_shape[2]
        and x_shape[3] + 2 * padding >= w_shape[3]
        and x_shape[1] > 0
        and algorithm in ("direct", "im2col", "fft", "numba", "winograd")
        and (algorithm != "winograd" or (w_shape[2:] == (3, 3) and stride == 1))
    )
    ok = None
    if valid:

        def ok(result):
            x, w, b = args()
            ref = _conv("conv2d")(np.asarray(x, np.float64), w, b, stride, padding, "direct")
            return close(result, ref)

    label = variant or (
        f"x{tuple(x_shape)} {x_kind} {x_dtype} w{tuple(w_shape)} b{b_shape} "
        f"stride={_fmt(stride)} padding={_fmt(padding)}"
    )
    return Case(
        f"conv.conv2d[{algorithm}: {label}]",
        "conv",
        fn,
        ok,
        False,
        algorithm == "numba",
        variant == "stride=1.5" and algorithm == "im2col",
        "conv.forward",
    )


def _int_ok(v: Any, low: int) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, bool) and v >= low


@factory
def conv_backward(
    algorithm: str = "im2col",
    dout_shape=(2, 3, 3, 3),
    dout_dtype="float64",
    dout_kind: str = "array",
    stride: Any = 1,
    padding: Any = 0,
    x_shape=_CONV_X,
    variant: str = "",
) -> Case:
    """``conv.conv2d_backward(dout, x, w, stride, padding, algorithm)``."""

    def args():
        x = make_array(x_shape)
        w = make_array(_CONV_W, seed=1)
        return _build_input(dout_kind, dout_shape, dout_dtype, "normal"), x, w

    def fn():
        return _conv("conv2d_backward")(*args(), stride, padding, algorithm)

    try:
        expect = (
            x_shape[0],
            _CONV_W[0],
            (x_shape[2] + 2 * padding - 3) // stride + 1,
            (x_shape[3] + 2 * padding - 3) // stride + 1,
        )
    except TypeError:
        expect = None
    valid = (
        _int_ok(stride, 1)
        and _int_ok(padding, 0)
        and dout_kind in ("array", "nested_list")
        and dout_dtype != "complex128"
        and tuple(dout_shape) == expect
        and (algorithm != "winograd" or stride == 1)
    )
    ok = None
    if valid:

        def ok(result):
            d, x, w = args()
            ref = _conv("conv2d_backward")(
                np.asarray(d, np.float64), x, w, stride, padding, "direct"
            )
            return all(close(a, b) for a, b in zip(result, ref))

    label = variant or f"dout{tuple(dout_shape)} {dout_kind} {dout_dtype} stride={_fmt(stride)}"
    return Case(
        f"conv.conv2d_backward[{algorithm}: {label}]",
        "conv",
        fn,
        ok,
        False,
        algorithm == "numba",
        False,
        "conv.backward",
    )


def _conv_cases() -> list[Case]:
    cases = []
    for algo in ("direct", "im2col", "winograd", "fft", "numba"):
        for s in [1.5, "1", True, None, 0, -1, 2.0, np.float64(1.0), float("nan"), (1, 1)]:
            cases.append(conv_forward(algo, stride=s, variant=f"stride={_fmt(s)}"))
        for p in [1.5, "0", True, None, -1, 0.5, float("nan")]:
            cases.append(conv_forward(algo, padding=p, variant=f"padding={_fmt(p)}"))
        for label, kw in [
            ("channels mismatch", {"w_shape": (3, 3, 3, 3)}),
            ("3-D input", {"x_shape": (2, 5, 5)}),
            ("5-D input", {"x_shape": (1, 2, 2, 5, 5)}),
            ("3-D kernel", {"w_shape": (3, 3, 3)}),
            ("bias wrong size", {"b_shape": (4,)}),
            ("bias 2-D", {"b_shape": (3, 1)}),
            ("kernel larger than input", {"w_shape": (3, 2, 7, 7)}),
            ("empty batch", {"x_shape": (0, 2, 5, 5)}),
            ("0x0 images", {"x_shape": (2, 2, 0, 0)}),
            ("None input", {"x_kind": "None"}),
            ("str input", {"x_kind": "str"}),
            ("complex input", {"x_dtype": "complex128"}),
            ("int input", {"x_dtype": "int64"}),
            ("stride 2", {"stride": 2}),
        ]:
            cases.append(conv_forward(algo, variant=label, **kw))
        for label, kw in [
            ("dout batch+1", {"dout_shape": (3, 3, 3, 3)}),
            ("dout 1 channel", {"dout_shape": (2, 1, 3, 3)}),
            ("dout channels+1", {"dout_shape": (2, 4, 3, 3)}),
            ("dout spatial+1", {"dout_shape": (2, 3, 4, 4)}),
            ("dout spatial-1", {"dout_shape": (2, 3, 2, 2)}),
            ("dout 3-D", {"dout_shape": (2, 3, 9)}),
            ("dout None", {"dout_kind": "None"}),
            ("dout str", {"dout_kind": "str"}),
            ("dout int", {"dout_dtype": "int64"}),
            ("dout complex", {"dout_dtype": "complex128"}),
            ("stride=1.5", {"stride": 1.5}),
            ("stride=True", {"stride": True}),
            ("padding=-1", {"padding": -1}),
            ("padding='0'", {"padding": "0"}),
        ]:
            cases.append(conv_backward(algo, variant=label, **kw))
    for algo in (None, "foo", 5):
        cases.append(conv_forward(algo, variant=f"algorithm={algo!r}"))
    add = cases.append
    for args in [(5, 3, 1.5), (5, 3, 0), ("5", 3), (5, 3, 1, -3), (2, 5), (None, 3), (5, 3, True)]:
        add(call("conv.output_size", args, module="conv", family="conv.helpers"))
    X = arr(1, 1, 4, 4)
    for args in [(X, -1), (X, 1.5), (None, 1), (arr(4, 4), 1), (X, "1")]:
        add(call("conv.pad_input", args, module="conv", family="conv.helpers"))
    for args in [
        (arr(4, 4), 3, 3),
        (X, 0, 3),
        (X, 3, 3, 0),
        (X, 5, 5),
        (X, 3, 3, 1.5),
        (X, 2.5, 3),
    ]:
        add(call("conv.im2col", args, module="conv", family="conv.helpers"))
    for args in [(arr(9, 5), (1, 1, 4, 4), 3, 3), (arr(9, 4), (1, 1, 4, 4), 3, 3, 0)]:
        add(call("conv.col2im", args, module="conv", family="conv.helpers"))
    for args in [(arr(1, 1, 3, 3), 0), (arr(1, 1, 3, 3), 1.5), (arr(3, 3), 2)]:
        add(call("conv.dilate", args, module="conv", family="conv.helpers"))
    for args in [("foo", (3, 2, 3, 3)), ("winograd", (3, 2, 5, 5)), (None, (3, 2, 3, 3))]:
        add(call("conv.choose_algorithm", args, module="conv", family="conv.helpers"))
    return cases


# ------------------------------------------------------------------------ optim

OPTIMIZERS = ("SGD", "Momentum", "Nesterov", "AdaGrad", "RMSProp", "Adam", "AdamW")


def _net(seed: int = 0, n_in: int = 4, n_out: int = 3):
    return _nn().Sequential(
        _nn().Linear(n_in, 5, seed=seed), _nn().ReLU(), _nn().Linear(5, n_out, seed=seed + 1)
    )


def _opt(kind: str, params, **kw):
    from dlkit import optim

    return getattr(optim, kind)(params, **kw)


def _valid_hyper(name: str, v: Any) -> bool:
    """Whether an optimizer hyper-parameter value is valid (a real number in range)."""
    if name == "betas":
        return isinstance(v, tuple) and len(v) == 2 and all(_valid_hyper("beta", b) for b in v)
    if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)):
        return False
    v = float(v)
    if not math.isfinite(v):
        return False
    if name == "lr":
        return v > 0
    if name == "weight_decay":
        return v >= 0
    if name == "eps":
        return 0 < v < 1
    return 0 <= v < 1  # momentum, rho, beta


@factory
def optimizer_hyper(kind: str, name: str, value: Any) -> Case:
    """``Kind(net, name=value)``: a bad value must be refused, a valid one kept."""

    def fn():
        kw = {name: value}
        if kind == "QuantizedSGD":
            from dlkit import precision

            kw["fmt"] = precision.FixedPoint(4, 12)
            return getattr(precision, kind)(_net().parameters(), **kw)
        return _opt(kind, _net(), **kw)

    ok = None
    if _valid_hyper(name, value):

        def ok(opt):
            got = getattr(opt, name)
            return (
                tuple(float(b) for b in got) == tuple(float(b) for b in value)
                if name == "betas"
                else float(got) == float(value)
            )

    issue = kind == "SGD" and name == "lr" and value is True
    return Case(
        f"optim.{kind}({name}={_fmt(value)})", "optim", fn, ok, False, False, issue, "optim.hyper"
    )


BAD_RATES = [
    True,
    False,
    "0.1",
    None,
    float("nan"),
    float("inf"),
    -float("inf"),
    -0.1,
    0,
    [0.1],
    np.array([0.1, 0.2]),
    1 + 2j,
    np.bool_(True),
]
BAD_FRACTIONS = [True, "0.9", None, float("nan"), float("inf"), -0.1, 1.0, 1.5, [0.9], 1j]


def _opt_state(kind: str, net, steps: int = 1) -> dict:
    opt = _opt(kind, net)
    x = make_array((6, 4))
    for _ in range(steps):
        out = net.forward(x)
        net.backward(np.ones_like(out))
        opt.step()
    return opt.state_dict()


@factory
def optimizer_load(kind: str, source: str, variant: str) -> Case:
    """``Kind(net).load_state_dict(state)`` for a state that does not fit."""

    def fn():
        net = _net()
        opt = _opt(kind, net)
        if variant == "other kind":
            state = _opt_state(source, _net())
        elif variant == "other kind, no steps":
            state = _opt(source, _net()).state_dict()
        elif variant == "other network":
            state = _opt_state(kind, _net(0, 6, 2))
        elif variant == "missing t":
            state = {k: v for k, v in _opt_state(kind, _net()).items() if k != "t"}
        elif variant == "empty":
            state = {}
        elif variant == "None":
            state = None
        elif variant == "str values":
            state = {k: "x" for k in _opt_state(kind, _net())}
        elif variant == "extra parameter":
            state = _opt_state(kind, _net())
            state["state.99.v"] = np.zeros(3)
        elif variant == "complex state":
            state = {
                k: (np.asarray(v) + 1j if np.asarray(v).dtype.kind in "biuf" else v)
                for k, v in _opt_state(kind, _net()).items()
            }
        else:
            raise AssertionError(variant)
        opt.load_state_dict(state)
        return opt

    label = f"{source} state" if variant.startswith("other kind") else variant
    if variant == "other kind, no steps":
        label += ", no steps"
    return Case(
        f"optim.{kind}.load_state_dict[{label}]",
        "optim",
        fn,
        None,
        False,
        False,
        (kind, source) == ("Adam", "Momentum") and variant.startswith("other kind"),
        "optim.load_state_dict",
    )


def _optim_cases() -> list[Case]:
    cases = []
    for kind in OPTIMIZERS:
        for v in BAD_RATES:
            cases.append(optimizer_hyper(kind, "lr", v))
        for v in [True, "0.1", float("nan"), -1.0, float("inf"), None]:
            cases.append(optimizer_hyper(kind, "weight_decay", v))
        for label, params in [
            ("[]", lambda: []),
            ("None", lambda: None),
            ("5", lambda: 5),
            ("str", lambda: "abc"),
            ("arrays", lambda: [np.ones(3)]),
            ("layer without params", lambda: _nn().ReLU()),
        ]:

            def fn(kind=kind, params=params):
                return _opt(kind, params())

            cases.append(Case(f"optim.{kind}(params={label})", "optim", fn, family="optim.params"))
        for source in OPTIMIZERS:
            if source != kind:
                cases.append(optimizer_load(kind, source, "other kind"))
        cases.append(
            optimizer_load(kind, "Adam" if kind != "Adam" else "SGD", "other kind, no steps")
        )
        for variant in (
            "other network",
            "missing t",
            "empty",
            "None",
            "str values",
            "extra parameter",
            "complex state",
        ):
            cases.append(optimizer_load(kind, kind, variant))
    for kind in ("SGD", "Momentum", "Nesterov"):
        for v in BAD_FRACTIONS:
            cases.append(optimizer_hyper(kind, "momentum", v))
    cases.append(
        Case(
            "optim.SGD(nesterov=True, momentum=0)",
            "optim",
            lambda: _opt("SGD", _net(), nesterov=True),
            family="optim.hyper",
        )
    )
    for kind in ("Adam", "AdamW"):
        for v in [
            (True, 0.999),
            ("0.9", 0.999),
            (float("nan"), 0.999),
            (1.0, 0.999),
            (-0.1, 0.999),
            (0.9,),
            0.9,
            None,
            (0.9, 0.999, 0.5),
            (0.9, float("inf")),
            "ab",
        ]:
            cases.append(optimizer_hyper(kind, "betas", v))
    for kind in ("AdaGrad", "RMSProp", "Adam", "AdamW"):
        for v in [True, "1e-8", float("nan"), 0, -1.0, float("inf"), None]:
            cases.append(optimizer_hyper(kind, "eps", v))
    for v in [True, float("nan"), 1.0, -0.1, "0.9", None]:
        cases.append(optimizer_hyper("RMSProp", "rho", v))
    for v in [True, None, float("nan"), -0.1, "0.1"]:
        cases.append(optimizer_hyper("QuantizedSGD", "lr", v))
        cases.append(optimizer_hyper("QuantizedSGD", "momentum", v))
    for name, kw in [
        ("foo", {}),
        (None, {}),
        ("adam", {"lr": True}),
        ("adam", {"betas": 0.9}),
        ("sgd", {"momentum": "x"}),
    ]:
        cases.append(
            call(
                "optim.get_optimizer",
                (name, lazy(lambda: _net().parameters(), "params")),
                kw,
                module="optim",
                family="optim.hyper",
            )
        )
    return cases


# ------------------------------------------------------------------------ train


def _xy(n: int = 8, d: int = 4, k: int = 3):
    return make_array((n, d)), np.arange(n) % k


def _fit(**kw):
    """``train.fit`` on a small classifier, with keyword overrides."""
    from dlkit import train

    X, y = _xy()
    args: dict[str, Any] = dict(
        model=_net(), loss_fn=_nn().CrossEntropyLoss(), optimizer=None, X=X, y=y
    )
    args.update({k: kw.pop(k) for k in list(kw) if k in args})
    for k in ("X", "y", "model", "loss_fn", "optimizer"):
        if isinstance(args[k], _Lazy):
            args[k] = args[k]()
    if args["optimizer"] is None:
        args["optimizer"] = _opt("SGD", args["model"], lr=0.1)
    return train.fit(
        args.pop("model"),
        args.pop("loss_fn"),
        args.pop("optimizer"),
        args.pop("X"),
        args.pop("y"),
        **kw,
    )


def _fit_case(label: str, issue: bool = False, **kw) -> Case:
    return Case(f"train.fit[{label}]", "train", lambda: _fit(**kw), issue=issue, family="train.fit")


def _fit_into_folder():
    with tempfile.TemporaryDirectory() as d:
        folder = Path(d) / "ckpt"
        folder.mkdir()
        hist = _fit(checkpoint=folder, epochs=1)
        return hist, sorted(p.name for p in Path(d).iterdir())


def _fit_resume_folder():
    with tempfile.TemporaryDirectory() as d:
        return _fit(checkpoint=d, resume=True, epochs=1)


def _train_cases() -> list[Case]:
    A = make_array
    cases = [
        _fit_case(
            "optimizer of another model",
            True,
            optimizer=lazy(lambda: _opt("SGD", _net(5), lr=0.1), "SGD(other)"),
        ),
        _fit_case("X and y lengths differ", y=np.arange(7) % 3),
        _fit_case("empty data", X=np.zeros((0, 4)), y=np.zeros(0, np.int64)),
        _fit_case("X None", X=None),
        _fit_case("y None", y=None),
        _fit_case("X str", X="abc"),
        _fit_case("X 3-D", X=A((8, 2, 2))),
        _fit_case("y float labels", y=np.linspace(0, 2, 8)),
        _fit_case("y out of range", y=np.arange(8)),
        _fit_case("X with NaN", X=A((8, 4), fill="nan")),
        _fit_case("loss_fn a string", loss_fn="mse"),
        _fit_case("loss_fn None", loss_fn=None),
        _fit_case("model None", model=None, optimizer=lazy(lambda: _opt("SGD", _net()), "SGD")),
        _fit_case(
            "model not a Layer",
            model=lazy(lambda: [_nn().Linear(4, 3)], "list"),
            optimizer=lazy(lambda: _opt("SGD", _net()), "SGD"),
        ),
        _fit_case("optimizer a string", optimizer="sgd"),
        _fit_case("callback not callable", callback=5),
        _fit_case("val mismatched", val=(A((4, 4)), np.arange(3) % 3)),
        _fit_case("val not a pair", val=A((4, 4))),
        _fit_case("seed None", seed=None),
        _fit_case("start_epoch -1", start_epoch=-1),
    ]
    for v in [0, -1, 2.5, True, "32", float("nan")]:
        cases.append(_fit_case(f"batch_size={_fmt(v)}", batch_size=v))
    for v in [-1, 2.5, True, "3", None, float("nan")]:
        cases.append(_fit_case(f"epochs={_fmt(v)}", epochs=v))
    cases.append(
        Case(
            "train.fit[checkpoint=existing folder]",
            "train",
            _fit_into_folder,
            issue=True,
            family="train.fit",
        )
    )
    cases.append(
        Case(
            "train.fit[checkpoint=folder, resume=True]",
            "train",
            _fit_resume_folder,
            family="train.fit",
        )
    )

    def add(target, args, kw=None, issue=False):
        cases.append(call(target, args, kw, module="train", family="train.metrics", issue=issue))

    add("train.accuracy", (np.eye(5, 3), np.array([1])), issue=True)
    for s, y in [
        (np.eye(5, 3), np.arange(4)),
        (np.eye(5, 3), np.arange(6)),
        (None, np.arange(3)),
        (np.eye(3), None),
        ("abc", np.arange(3)),
        (np.zeros((0, 3)), np.zeros(0)),
        (np.ones((2, 3, 4)), np.arange(2)),
        (np.eye(3), np.eye(4)),
        (np.eye(3), np.array([0.5, 1.0, 2.0])),
        (np.full((3, 3), np.nan), np.arange(3)),
        (np.eye(5, 3), np.array([[1, 2, 0, 1, 2]]).T),
    ]:
        add("train.accuracy", (s, y))
    for s in [
        None,
        "abc",
        np.ones((2, 3, 4)),
        np.array(1.0),
        np.eye(3) * np.nan,
        np.array([[1, 2], [3, 4]], dtype=object),
    ]:
        add("train.predict", (s,))
    for a, b, k in [
        (np.arange(3), np.arange(4), None),
        (np.array([0.5, 1.0]), np.arange(2), None),
        (np.array([-1, 0]), np.arange(2), None),
        (np.arange(3), np.arange(3), 2),
        (np.arange(3), np.arange(3), 0),
        (np.arange(3), np.arange(3), 2.5),
        (np.arange(3), np.arange(3), True),
        (None, np.arange(3), None),
        ("abc", "abc", None),
        (np.arange(3), np.eye(3, 2), 2),
    ]:
        add("train.confusion_matrix", (a, b, k))

    def batches(X, y, bs, **kw):
        from dlkit import train

        return list(train.batches(X, y, bs, **kw))

    for label, args in [
        ("lengths differ", (A((5, 2)), np.arange(4), 2)),
        ("batch_size 0", (A((5, 2)), np.arange(5), 0)),
        ("batch_size 2.5", (A((5, 2)), np.arange(5), 2.5)),
        ("batch_size True", (A((5, 2)), np.arange(5), True)),
        ("X None", (None, np.arange(5), 2)),
        ("empty", (np.zeros((0, 2)), np.zeros(0), 2)),
        ("seed None", (A((5, 2)), np.arange(5), 2)),
    ]:
        kw = {"seed": None} if label == "seed None" else {}
        cases.append(
            Case(
                f"train.batches[{label}]",
                "train",
                functools.partial(batches, *args, **kw),
                family="train.metrics",
            )
        )
    for label, fn in [
        (
            "evaluate X None",
            lambda: _resolve("train.evaluate")(
                _net(), _nn().CrossEntropyLoss(), None, np.arange(3)
            ),
        ),
        (
            "evaluate X/y mismatch",
            lambda: _resolve("train.evaluate")(
                _net(), _nn().CrossEntropyLoss(), A((5, 4)), np.arange(3)
            ),
        ),
        ("gradient_norms None", lambda: _resolve("train.gradient_norms")(None)),
        (
            "training_memory mismatch",
            lambda: _resolve("train.training_memory")(
                _net(), A((5, 4)), np.arange(3), _nn().CrossEntropyLoss()
            ),
        ),
        ("epoch_seed None", lambda: _resolve("train.epoch_seed")(None, 1)),
        ("epoch_seed str", lambda: _resolve("train.epoch_seed")("a", 1)),
        (
            "train_mlp optimizer foo",
            lambda: _resolve("train.train_mlp")(_small_split(), optimizer="foo"),
        ),
        (
            "train_mlp lr=True",
            lambda: _resolve("train.train_mlp")(_small_split(), lr=True, epochs=1),
        ),
        ("train_mlp epochs=-1", lambda: _resolve("train.train_mlp")(_small_split(), epochs=-1)),
        ("train_mlp split None", lambda: _resolve("train.train_mlp")(None)),
    ]:
        cases.append(Case(f"train.{label}", "train", fn, family="train.metrics"))
    return cases


def _small_split():
    from dlkit.data import Split

    X, y = _xy(12, 4, 3)
    return Split(X[:8], y[:8], X[8:], y[8:])


# ------------------------------------------------------------------- checkpoint


def _ckpt():
    from dlkit import checkpoint

    return checkpoint


@factory
def checkpoint_load(variant: str) -> Case:
    """``checkpoint.load(path, model, optimizer)`` for a file or model that does not fit;
    a refusal must leave the model and optimizer as they were."""

    def fn():
        with tempfile.TemporaryDirectory() as d:
            path = Path(d) / "run.npz"
            net = _net()
            opt = _opt("Adam", net)
            out = net.forward(make_array((6, 4)))
            net.backward(np.ones_like(out))
            opt.step()
            _ckpt().save(path, net, opt, epoch=3)
            target, topt = _net(7), None
            if variant == "other optimizer kind":
                topt = _opt("Momentum", target)
            elif variant == "other optimizer kind, same net":
                target = _net()
                topt = _opt("SGD", target)
            elif variant == "other architecture":
                target = _net(0, 6, 2)
            elif variant == "optimizer of another model":
                topt = _opt("Adam", _net(0, 6, 2))
            elif variant == "missing file":
                path = Path(d) / "nope.npz"
            elif variant in ("random bytes", "empty file", "truncated"):
                raw = path.read_bytes()
                path.write_bytes(
                    {
                        "random bytes": os.urandom(256),
                        "empty file": b"",
                        "truncated": raw[: len(raw) // 2],
                    }[variant]
                )
            elif variant == "not a dlkit npz":
                np.savez(path, a=np.ones(3))
            elif variant == "a directory":
                path = Path(d)
            elif variant == "model None":
                target = None
            elif variant == "path None":
                path = None
            elif variant == "pickled object array":
                np.savez(
                    path,
                    **{"meta/format": np.array(1), "param/0.W": np.array([object()], dtype=object)},
                )
            elif variant == "no optimizer state":
                _ckpt().save(path, net, None)
                topt = _opt("Adam", target)
            else:
                raise AssertionError(variant)
            before = [p.data.copy() for p in target.parameters()] if target is not None else []
            obefore = topt.state_dict() if topt is not None else None
            try:
                return _ckpt().load(path, target, topt)
            except Exception:
                after = [p.data for p in target.parameters()] if target is not None else []
                changed = any(not np.array_equal(a, b) for a, b in zip(before, after))
                if topt is not None:
                    now = topt.state_dict()
                    changed |= set(now) != set(obefore) or any(
                        not np.array_equal(now[k], obefore[k]) for k in now
                    )
                if changed:
                    return "refused, but changed the model or optimizer first"
                raise

    return Case(
        f"checkpoint.load[{variant}]",
        "checkpoint",
        fn,
        None,
        False,
        False,
        variant == "other optimizer kind",
        "checkpoint",
    )


def _checkpoint_cases() -> list[Case]:
    cases = [
        checkpoint_load(v)
        for v in (
            "other optimizer kind",
            "other optimizer kind, same net",
            "other architecture",
            "optimizer of another model",
            "missing file",
            "random bytes",
            "empty file",
            "truncated",
            "not a dlkit npz",
            "a directory",
            "model None",
            "path None",
            "pickled object array",
            "no optimizer state",
        )
    ]

    def save(variant):
        with tempfile.TemporaryDirectory() as d:
            kw: dict = {}
            path: Any = Path(d) / "run.npz"
            model: Any = _net()
            opt: Any = None
            if variant == "into a directory":
                path = Path(d)
            elif variant == "model None":
                model = None
            elif variant == "optimizer a string":
                opt = "adam"
            elif variant.startswith("epoch="):
                kw["epoch"] = {
                    "epoch=-1": -1,
                    "epoch=2.5": 2.5,
                    "epoch='x'": "x",
                    "epoch=True": True,
                }[variant]
            elif variant == "history a dict":
                kw["history"] = {"loss": [1.0]}
            elif variant == "path None":
                path = None
            return _ckpt().save(path, model, opt, **kw)

    for v in (
        "into a directory",
        "model None",
        "optimizer a string",
        "epoch=-1",
        "epoch=2.5",
        "epoch='x'",
        "epoch=True",
        "history a dict",
        "path None",
    ):
        cases.append(
            Case(
                f"checkpoint.save[{v}]",
                "checkpoint",
                functools.partial(save, v),
                family="checkpoint",
            )
        )
    return cases


# -------------------------------------------------------------------- precision


def _precision_cases() -> list[Case]:
    cases = []

    def add(target, args=(), kw=None, **k):
        k.setdefault("family", "precision")
        cases.append(call(target, args, kw, module="precision", **k))

    for v in [0, -1, 2.5, True, "4", None, 60, float("nan")]:
        add("precision.FixedPoint", (v, 8))
        add("precision.FixedPoint", (4, v if v != 0 else -2))
    X = arr(3, 4)
    FP = lazy(lambda: _resolve("precision.FixedPoint")(4, 8), "FixedPoint(4, 8)")
    for r in ["foo", None, 5, "Nearest", ""]:
        add("precision.quantize", (X, 4, 8, r))
    for x in ["None", "str", "object"]:
        add("precision.quantize", (lazy(JUNK[x], x), 4, 8))
    add("precision.quantize", (arr(3, 4, dtype="complex128"), 4, 8))
    add("precision.quantize", (arr(3, 4, fill="nan"), 4, 8))
    for fl in [-1, 2.5, True, None, "8", 80]:
        add("precision.round_nearest", (X, fl))
        add("precision.round_stochastic", (X, fl))
    for g in [None, "x", 2.5, -1]:
        add("precision.round_stochastic", (X, 8), {"rng": g})
    for il, fl in [(0, 8), (4, -1), (2.5, 8), (True, 8)]:
        add("precision.saturate", (X, il, fl))
    for r in ("stochastic", "foo", None):
        cases.append(
            Case(
                f"precision.Float16().quantize(rounding={r!r})",
                "precision",
                functools.partial(_float16_quantize, r),
                family="precision",
            )
        )
    for v in [None, "abc", 5]:
        add("precision.Quantize", (v,), label=f"fmt={_fmt(v)}")
        cases.append(
            Case(
                f"precision.Quantize(fmt={_fmt(v)}).forward",
                "precision",
                functools.partial(_quantize_forward, v),
                family="precision",
            )
        )
    add("precision.Quantize", (FP, "foo"))
    add("precision.Quantize", (FP,), {"seed": None})
    for label, kw in [
        ("fmt None", {"fmt": None}),
        ("fmt str", {"fmt": "q"}),
        ("rounding foo", {"rounding": "foo"}),
        ("momentum 1.5", {"momentum": 1.5}),
        ("seed None", {"seed": None}),
    ]:
        cases.append(
            Case(
                f"precision.QuantizedSGD[{label}]",
                "precision",
                functools.partial(_qsgd_step, kw),
                family="precision",
            )
        )
    for v in ["None", "str", "object"]:
        add("precision.to_float16", (lazy(JUNK[v], v),))
    add("precision.to_float16", (arr(3, dtype="complex128"),))
    for a, b in [((3, 4), (5, 2)), ((3,), (4,)), ((2, 2, 2), (2, 2))]:
        add("precision.matmul_float16", (arr(*a), arr(*b)))
    add("precision.matmul_float16", (X, X), {"accumulate": "foo"})
    for dt in ["foo", np.int64, object]:
        add("precision.sum_in", ([0.1, 0.2], dt))
    add("precision.sum_in", (None, np.float32))
    for v in [-1, 2.5, "x", None, True]:
        add("precision.float16_update", (1.0, 1e-4, v), {"master": True})
    add("precision.float16_update", ("x", 1e-4, 3), {"master": True})
    for fmt in [None, "q", 5]:
        cases.append(
            Case(
                f"precision.quantize_model[fmt={fmt!r}]",
                "precision",
                functools.partial(_qmodel, fmt),
                family="precision",
            )
        )
    cases.append(
        Case(
            "precision.quantize_model[model a list]",
            "precision",
            functools.partial(_qmodel, "list"),
            family="precision",
        )
    )
    add("precision.rounding_error_stats", (X, None, "nearest"))
    add("precision.rounding_error_stats", (X, FP, "nearest"), {"repeats": 0})
    return cases


def _float16_quantize(rounding):
    from dlkit import precision

    return precision.Float16().quantize(make_array((3, 4)), rounding)


def _quantize_forward(fmt):
    from dlkit import precision

    return precision.Quantize(fmt).forward(make_array((3, 4)))


def _qsgd_step(kw):
    from dlkit import precision

    net = _net()
    kw = dict(kw)
    kw.setdefault("fmt", precision.FixedPoint(4, 12))
    opt = precision.QuantizedSGD(net.parameters(), 0.1, **kw)
    out = net.forward(make_array((4, 4)))
    net.backward(np.ones_like(out))
    opt.step()
    return opt


def _qmodel(fmt):
    from dlkit import precision

    model = [_nn().Linear(4, 3)] if fmt == "list" else _net()
    fmt = precision.FixedPoint(4, 12) if fmt == "list" else fmt
    return precision.quantize_model(model, fmt).forward(make_array((2, 4)))


# ------------------------------------------------------------------------- data


def _mnist_files(folder: Path) -> dict[str, str]:
    """Write four tiny IDX files (3 train, 2 test images); return file name -> MD5."""
    import gzip
    import hashlib

    from dlkit.data import mnist

    sums = {}
    for role, (filename, _) in mnist.FILES.items():
        n = 3 if role.startswith("train") else 2
        if role.endswith("images"):
            body = bytes([0, 0, 8, 3]) + np.array([n, 28, 28], ">u4").tobytes() + bytes(n * 784)
        else:
            body = bytes([0, 0, 8, 1]) + np.array([n], ">u4").tobytes() + bytes(range(n))
        raw = gzip.compress(body) if filename.endswith(".gz") else body
        (folder / filename).write_bytes(raw)
        sums[filename] = hashlib.md5(raw).hexdigest()
    return sums


def _load_mnist(variant: str):
    from dlkit.data import load_mnist

    with tempfile.TemporaryDirectory() as d:
        src, cache = Path(d) / "src", Path(d) / "cache"
        src.mkdir()
        sums = _mnist_files(src)
        kw: dict = {
            "path": cache,
            "mirrors": [src.as_uri() + "/"],
            "checksums": sums,
            "timeout": 5.0,
        }
        if variant == "one mirror as a string":
            kw["mirrors"] = src.as_uri() + "/"
        elif variant == "mirrors empty":
            kw["mirrors"] = []
        elif variant == "mirrors None":
            kw["mirrors"] = None
        elif variant == "mirror 404":
            kw["mirrors"] = [(Path(d) / "missing").as_uri() + "/"]
        elif variant.startswith("timeout="):
            kw["timeout"] = {
                "timeout=-1": -1,
                "timeout=0": 0,
                "timeout='x'": "x",
                "timeout=nan": float("nan"),
                "timeout=True": True,
            }[variant]
            kw["mirrors"] = ["http://127.0.0.1:9/"]
        elif variant == "path is a file":
            (Path(d) / "file").write_text("x")
            kw["path"] = Path(d) / "file"
        elif variant == "checksums a string":
            kw["checksums"] = "abc"
        elif variant == "mirror unreachable":
            kw["mirrors"] = ["http://127.0.0.1:9/"]
        elif variant == "dtype int":
            kw["dtype"] = np.int64
        else:
            raise AssertionError(variant)
        return load_mnist(**kw)


def _mnist_ok(split) -> bool:
    return split.X_train.shape == (3, 784) and split.y_test.tolist() == [0, 1]


def _data_cases() -> list[Case]:
    cases = []

    def add(target, args=(), kw=None, **k):
        k.setdefault("family", "data")
        cases.append(call(target, args, kw, module="data", **k))

    for v in [0, 1, -0.5, 1.5, "0.25", True, None, float("nan")]:
        add("data.load_digits", (v,))
    for v in [None, "a", 2.5]:
        add("data.load_digits", (), {"seed": v})
    for fn in ("moons", "circles", "spirals"):
        for v in [0, 1, -5, 2.5, True, "100", None]:
            add(f"data.{fn}", (v,))
        for v in [-1.0, float("nan"), "0.1", None, True, float("inf")]:
            add(f"data.{fn}", (), {"noise": v})
        for v in [None, "a", 2.5]:
            add(f"data.{fn}", (), {"seed": v})
    for v in [0, 1, float("nan"), 1.5, "0.5", None]:
        add("data.circles", (), {"factor": v})
    for v in [1, 0, 2.5, True, "3", None]:
        add("data.spirals", (), {"classes": v})
    for v in [float("nan"), "1", None, float("inf")]:
        add("data.spirals", (), {"turns": v})
    add("data.spirals", (2,), {"classes": 5})
    for v in ["FOO", None, 5, ""]:
        add("data.gate_table", (v,))
    for args in [
        ("AND", [0, 1]),
        ("XOR", [0, 1], [0, 1, 1]),
        (None, [0], [1]),
        ("FOO", [0], [1]),
        ("NOT", [0], [1]),
        ("AND", "ab", "cd"),
        ("AND", [0.5, 2], [1, 1]),
        ("AND", [None], [1]),
    ]:
        add("data.logic_gate", args)
    for v in [None, (1, 2), "abc", (np.ones((3, 2)), np.arange(3))]:
        add("data.standardize", (v,))
    split = lazy(_small_split, "split")
    for v in [-1.0, float("nan"), "x", None]:
        add("data.standardize", (split, v))
    for v in (
        "mirrors empty",
        "mirrors None",
        "mirror 404",
        "timeout=-1",
        "timeout=0",
        "timeout='x'",
        "timeout=nan",
        "timeout=True",
        "path is a file",
        "checksums a string",
        "mirror unreachable",
        "dtype int",
    ):
        cases.append(
            Case(
                f"data.load_mnist[{v}]",
                "data",
                functools.partial(_load_mnist, v),
                family="data.mnist",
                timeout=40.0,
            )
        )
    cases.append(
        Case(
            "data.load_mnist[one mirror as a string]",
            "data",
            functools.partial(_load_mnist, "one mirror as a string"),
            _mnist_ok,
            must_succeed=True,
            issue=True,
            family="data.mnist",
            timeout=40.0,
        )
    )
    for v in [b"\x00\x00\x08", b"", b"\x1f\x8bxx", None, 5]:
        add("data.mnist.read_idx", (v,), family="data.mnist")
    return cases


# ---------------------------------------------------------------------- cluster


def _sim(n: int, program: Callable, **kw):
    from dlkit.cluster import SimCluster

    return SimCluster(n, **kw).run(program)


def _p_bcast(comm, recv_dtype="float64", recv_size=8, root=0, root_dtype="float64"):
    me = comm.Get_rank()
    if me == (root if isinstance(root, int) and 0 <= root < comm.Get_size() else 0):
        buf = np.arange(8, dtype=root_dtype)
    else:
        buf = np.zeros(recv_size, dtype=recv_dtype)
    comm.Bcast(buf, root=root)
    return buf.copy()


def _bcast_ok(n: int):
    def ok(res):
        return len(res.values) == n and all(np.array_equal(v, np.arange(8)) for v in res.values)

    return ok


@factory
def cluster_bcast(
    recv_dtype: str = "float64",
    recv_size: int = 8,
    root: Any = 0,
    n: int = 4,
    root_dtype: str = "float64",
    issue: bool = False,
) -> Case:
    """``comm.Bcast(buf, root)`` where the non-root ranks' buffers may not fit."""
    prog = functools.partial(
        _p_bcast, recv_dtype=recv_dtype, recv_size=recv_size, root=root, root_dtype=root_dtype
    )
    valid = recv_dtype == root_dtype and recv_size == 8 and _int_ok(root, 0) and root < n
    src = "" if root_dtype == "float64" else f"root {root_dtype}, "
    return Case(
        f"cluster.Bcast[{src}recv {recv_dtype}[{recv_size}], root={_fmt(root)}, n={n}]",
        "cluster",
        lambda: _sim(n, prog),
        _bcast_ok(n) if valid else None,
        False,
        False,
        issue,
        "cluster.buffers",
        timeout=30.0,
    )


def _p_mismatch(comm, calls=("bcast", "gather")):
    me = comm.Get_rank()
    what = calls[0] if me == 0 else calls[1]
    x = np.arange(4.0)
    out = np.zeros(4)
    if what == "bcast":
        return comm.bcast(me, root=0)
    if what == "gather":
        return comm.gather(me, root=0)
    if what == "Bcast":
        comm.Bcast(x, root=0)
        return x
    if what == "Allreduce":
        comm.Allreduce(x, out)
        return out
    if what == "allreduce":
        return comm.allreduce(me)
    if what == "reduce":
        return comm.reduce(me, root=0)
    if what == "Barrier":
        comm.Barrier()
        return None
    if what == "scatter":
        return comm.scatter(list(range(comm.Get_size())) if me == 0 else None, root=0)
    if what == "allgather":
        return comm.allgather(me)
    if what == "nothing":
        return None
    if what == "bcast root 1":
        return comm.bcast(me, root=1)
    raise AssertionError(what)


@factory
def cluster_mismatch(first: str, others: str, n: int = 4, issue: bool = False) -> Case:
    """Rank 0 calls one collective while the other ranks call another."""
    prog = functools.partial(_p_mismatch, calls=(first, others))
    size = "" if n == 4 else f", n={n}"
    return Case(
        f"cluster.collective mismatch[rank 0 {first}, others {others}{size}]",
        "cluster",
        lambda: _sim(n, prog),
        None,
        False,
        False,
        issue,
        "cluster.mismatch",
        timeout=30.0,
    )


def _p_p2p(comm, variant):
    me = comm.Get_rank()
    if variant == "Recv smaller":
        if me == 0:
            comm.Send(np.arange(8.0), dest=1)
        elif me == 1:
            buf = np.zeros(4)
            comm.Recv(buf, source=0)
            return buf
    elif variant == "Recv larger":
        if me == 0:
            comm.Send(np.arange(4.0), dest=1)
        elif me == 1:
            buf = np.zeros(8)
            comm.Recv(buf, source=0)
            return buf
    elif variant in ("Recv float32", "Recv int64"):
        if me == 0:
            comm.Send(np.arange(4.0), dest=1)
        elif me == 1:
            buf = np.zeros(4, np.float32 if variant == "Recv float32" else np.int64)
            comm.Recv(buf, source=0)
            return buf
    elif variant.startswith("dest="):
        if me == 0:
            comm.Send(
                np.arange(4.0),
                dest={
                    "dest=7": 7,
                    "dest=-1": -1,
                    "dest=-5": -5,
                    "dest=2.5": 2.5,
                    "dest='1'": "1",
                    "dest=None": None,
                }[variant],
            )
    elif variant.startswith("source="):
        if me == 1:
            comm.Recv(np.zeros(4), source={"source=7": 7, "source=2.5": 2.5}[variant])
    elif variant == "send to self, no recv":
        comm.Send(np.arange(4.0), dest=me)
    elif variant == "recv list buffer":
        if me == 0:
            comm.Send(np.arange(4.0), dest=1)
        elif me == 1:
            comm.Recv([0.0] * 4, source=0)
    elif variant == "Send a list":
        if me == 0:
            comm.Send([1.0, 2.0], dest=1)
        elif me == 1:
            comm.Recv(np.zeros(2), source=0)
    elif variant == "tag str":
        if me == 0:
            comm.send(1, dest=1, tag="x")
        elif me == 1:
            return comm.recv(source=0, tag="x")
    elif variant == "unreceived message":
        if me == 0:
            comm.send("hello", dest=1)
    elif variant == "unpicklable object":
        if me == 0:
            comm.send(lambda: 1, dest=1)
        elif me == 1:
            return comm.recv(source=0)
    elif variant == "Recv read-only buffer":
        if me == 0:
            comm.Send(np.arange(4.0), dest=1)
        elif me == 1:
            buf = np.zeros(4)
            buf.flags.writeable = False
            comm.Recv(buf, source=0)
    else:
        raise AssertionError(variant)
    return None


def _p_coll(comm, variant):
    me, p = comm.Get_rank(), comm.Get_size()
    if variant == "Allreduce sizes differ across ranks":
        x = np.ones(8 if me == 0 else 4)
        out = np.zeros_like(x)
        comm.Allreduce(x, out)
        return out
    if variant == "Allreduce dtypes differ":
        x = np.ones(4)
        out = np.zeros(4, np.float32)
        comm.Allreduce(x, out)
        return out
    if variant == "Allreduce int vs float ranks":
        x = np.ones(4, np.int64 if me == 0 else np.float64)
        out = np.zeros_like(x)
        comm.Allreduce(x, out)
        return out
    if variant.startswith("Allreduce op="):
        x = np.ones(4)
        out = np.zeros(4)
        comm.Allreduce(
            x,
            out,
            op={"Allreduce op='sum'": "sum", "Allreduce op=None": None, "Allreduce op=5": 5}[
                variant
            ],
        )
        return out
    if variant.startswith("Reduce root="):
        x = np.ones(4)
        out = np.zeros(4)
        comm.Reduce(
            x, out, root={"Reduce root=7": 7, "Reduce root=-1": -1, "Reduce root=2.5": 2.5}[variant]
        )
        return out
    if variant.startswith("bcast root="):
        return comm.bcast(
            me, root={"bcast root=7": 7, "bcast root=-1": -1, "bcast root='0'": "0"}[variant]
        )
    if variant == "Gather recvbuf too small":
        out = np.zeros(2) if me == 0 else None
        comm.Gather(np.ones(2), out, root=0)
        return out
    if variant == "Gather recvbuf None at root":
        comm.Gather(np.ones(2), None, root=0)
        return None
    if variant == "Scatter sendbuf wrong size":
        out = np.zeros(2)
        comm.Scatter(np.arange(5.0) if me == 0 else None, out, root=0)
        return out
    if variant == "Allgather recvbuf wrong size":
        out = np.zeros(3)
        comm.Allgather(np.ones(2), out)
        return out
    if variant == "alltoall wrong length":
        return comm.alltoall([1, 2])
    if variant == "scatter wrong length":
        return comm.scatter([1, 2] if me == 0 else None, root=0)
    if variant == "gather root=9":
        return comm.gather(me, root=9)
    if variant == "Split color str":
        return comm.Split("a", 0)
    if variant == "ring allreduce sizes differ":
        from dlkit.cluster import collectives

        return collectives.allreduce_ring(comm, np.ones(8 if me == 0 else 6))
    if variant == "allreduce algorithm foo":
        from dlkit.cluster import collectives

        return collectives.allreduce(comm, np.ones(4), algorithm="foo")
    if variant == "Bcast sizes differ":
        buf = np.arange(8.0) if me == 0 else np.zeros(4)
        comm.Bcast(buf, root=0)
        return buf
    if variant == "bcast on rank 0 only":
        return comm.bcast(me, root=0) if me == 0 else None
    if variant == "compute negative flops":
        from dlkit.cluster import compute

        compute(comm, -1e9)
        return comm.Wtime()
    if variant == "compute flops str":
        from dlkit.cluster import compute

        compute(comm, "1e9")
        return comm.Wtime()
    raise AssertionError((variant, p))


@factory
def cluster_program(
    kind: str, variant: str, n: int = 4, issue: bool = False, ok: str | None = None
) -> Case:
    """Run one named program with a wrong call inside ``SimCluster(n).run``."""
    prog = functools.partial(_p_p2p if kind == "p2p" else _p_coll, variant=variant)
    check = {
        "unreceived": _unreceived_reported,
        "received": _received_prefix,
        "proc_null": _nothing_sent,
    }.get(ok or "")

    def fn():
        if ok == "unreceived":
            with warnings.catch_warnings(record=True) as w:
                warnings.simplefilter("always")
                res = _sim(n, prog)
            return res, [str(x.message) for x in w]
        return _sim(n, prog)

    return Case(
        f"cluster.{variant}",
        "cluster",
        fn,
        check,
        False,
        False,
        issue,
        f"cluster.{kind}",
        timeout=30.0,
    )


def _nothing_sent(res) -> bool:
    """dest=-1 is MPI.PROC_NULL (mpi4py's value): a send to it is a no-op."""
    return not res.unreceived and not res.messages


def _received_prefix(res) -> bool:
    """A Recv into a larger buffer (legal in MPI) fills its first elements."""
    return np.array_equal(res.values[1][:4], np.arange(4.0))


def _unreceived_reported(out) -> bool:
    """Handled when a warning was issued or the result lists the unreceived message."""
    res, warned = out
    if warned:
        return True
    for name in dir(res):
        if any(w in name.lower() for w in ("unreceived", "pending", "unmatched", "undelivered")):
            if getattr(res, name):
                return True
    return False


def _spin(comm, what):
    """A rank that never finishes: bounded by wall time so a leaked thread ends."""
    end = time.monotonic() + 45.0
    if comm.Get_rank() == 0:
        while time.monotonic() < end:
            if what == "probe":
                comm.Iprobe(source=1, tag=99)
            else:
                sum(range(1000))
        return None
    if what == "busy":
        return comm.recv(source=0)
    return None


def _cluster_cases() -> list[Case]:
    cases = []
    for dt in ("float32", "int64", "complex128", "uint8"):
        cases.append(cluster_bcast(recv_dtype=dt, issue=dt == "float32"))
    for size in (4, 16, 0):
        cases.append(cluster_bcast(recv_size=size))
    for root in (7, 4, -1, 2.5, "0", None, True):
        cases.append(cluster_bcast(root=root, issue=root == 7))
    cases.append(cluster_bcast(root_dtype="int64", recv_dtype="int64"))
    cases.append(cluster_bcast(recv_dtype="float32", n=2))
    pairs = [
        ("bcast", "gather"),
        ("Bcast", "Allreduce"),
        ("Barrier", "bcast"),
        ("allreduce", "reduce"),
        ("gather", "scatter"),
        ("Allreduce", "Barrier"),
        ("allgather", "allreduce"),
        ("bcast", "bcast root 1"),
        ("scatter", "bcast"),
        ("reduce", "gather"),
    ]
    for a, b in pairs:
        cases.append(cluster_mismatch(a, b, issue=(a, b) == ("bcast", "gather")))
    cases.append(cluster_mismatch("bcast", "gather", n=2))
    cases.append(cluster_program("coll", "bcast on rank 0 only", ok="unreceived"))
    cases.append(cluster_program("p2p", "Recv larger", ok="received"))
    cases.append(cluster_program("p2p", "dest=-1", ok="proc_null"))
    for v in (
        "Recv smaller",
        "Recv float32",
        "Recv int64",
        "dest=7",
        "dest=-5",
        "dest=2.5",
        "dest='1'",
        "dest=None",
        "source=7",
        "source=2.5",
        "recv list buffer",
        "Send a list",
        "tag str",
        "unpicklable object",
        "Recv read-only buffer",
    ):
        cases.append(cluster_program("p2p", v))
    for v in ("unreceived message", "send to self, no recv"):
        cases.append(cluster_program("p2p", v, ok="unreceived"))
    for v in (
        "Allreduce sizes differ across ranks",
        "Allreduce dtypes differ",
        "Allreduce int vs float ranks",
        "Allreduce op='sum'",
        "Allreduce op=None",
        "Allreduce op=5",
        "Reduce root=7",
        "Reduce root=-1",
        "Reduce root=2.5",
        "bcast root=7",
        "bcast root=-1",
        "bcast root='0'",
        "Gather recvbuf too small",
        "Gather recvbuf None at root",
        "Scatter sendbuf wrong size",
        "Allgather recvbuf wrong size",
        "alltoall wrong length",
        "scatter wrong length",
        "gather root=9",
        "Split color str",
        "ring allreduce sizes differ",
        "allreduce algorithm foo",
        "Bcast sizes differ",
        "compute negative flops",
        "compute flops str",
    ):
        cases.append(cluster_program("coll", v))

    def add(args, kw=None):
        cases.append(
            call("cluster.SimCluster", args, kw, module="cluster", family="cluster.constructor")
        )

    for v in [0, -1, 2.5, True, "4", None, float("nan")]:
        add((v,))
    for k, v in [
        ("network", "foo"),
        ("network", 5),
        ("compute", "foo"),
        ("compute", 5),
        ("allreduce", "foo"),
        ("seed", None),
        ("seed", "x"),
        ("seed", 2.5),
        ("eager_limit", -1),
        ("eager_limit", "x"),
        ("faults", "x"),
        (
            "faults",
            lazy(lambda: _resolve("cluster.Faults")(crash={9: 0.0}), "Faults(crash={9: 0.0})"),
        ),
    ]:
        add((4,), {k: v})
    cases.append(
        Case(
            "cluster.SimCluster.run[train not callable]",
            "cluster",
            lambda: _resolve("cluster.SimCluster")(2).run(5),
            family="cluster.constructor",
            timeout=30.0,
        )
    )
    for what in ("busy", "probe"):
        cases.append(
            Case(
                f"cluster.SimCluster.run[rank 0 never finishes: {what}]",
                "cluster",
                functools.partial(_run_with_limit, what),
                family="cluster.limits",
                timeout=30.0,
            )
        )
    return cases


def _run_with_limit(what):
    from dlkit.cluster import SimCluster

    kw = {"timeout": 5.0}
    return SimCluster(2).run(functools.partial(_spin, what=what), **kw)


# --------------------------------------------------------------------- autograd


def _autograd_cases() -> list[Case]:
    cases = []

    def add(label, fn):
        cases.append(Case(f"autograd.{label}", "autograd", fn, family="autograd"))

    def V(x):
        from dlkit.autograd import Value

        return Value(x)

    for label, v in [
        ("str", "abc"),
        ("None", None),
        ("list", [1, 2]),
        ("object", object()),
        ("array of 2", np.array([1.0, 2.0])),
        ("complex", 1 + 2j),
        ("bool", True),
    ]:
        add(f"Value({label})", functools.partial(V, v))
    add("Value + str", lambda: V(1.0) + "a")
    add("Value * None", lambda: V(1.0) * None)
    add("Value ** Value", lambda: V(2.0) ** V(3.0))
    add("Value ** str", lambda: V(2.0) ** "x")
    add("Value(-1).log()", lambda: V(-1.0).log())
    add("Value(0).log()", lambda: V(0.0).log())
    add("Value(1000).exp()", lambda: V(1000.0).exp())
    add("Value / 0", lambda: V(1.0) / 0)
    add("Value(0) ** -1", lambda: V(0.0) ** -1)
    add("Value(-8) ** 0.5", lambda: V(-8.0) ** 0.5)
    add("topological_order(None)", lambda: _resolve("autograd.topological_order")(None))
    add("topological_order(5)", lambda: _resolve("autograd.topological_order")(5))
    return cases


@factory
def harness_probe(behaviour: str) -> Case:
    """Cases that test the harness itself: crash (SIGSEGV), hang, clear, unclear, silent."""

    def fn():
        if behaviour == "crash":
            import ctypes

            ctypes.string_at(0)
        if behaviour == "hang":
            time.sleep(600)
        if behaviour == "clear":
            from dlkit import rng

            return rng(None)
        if behaviour == "unclear":
            return np.ones(3) + np.ones(4)
        return np.full(2, np.nan)

    return Case(f"harness[{behaviour}]", "harness", fn, family="harness")


# ------------------------------------------------------------------ issue cases


def _issue_cases() -> list[Case]:
    """The cases the issue names, each spelled out as the issue wrote it."""
    nn = _nn

    def maxpool():
        p = nn().MaxPool2d(2)
        p.forward(np.ones((3, 2, 6, 6)))
        return p.backward(np.ones((4, 2, 3, 3)))

    def conv_batch():
        c = nn().Conv2d(2, 4, 3)
        c.forward(np.ones((3, 2, 6, 6)))
        return c.backward(np.ones((4, 4, 4, 4)))

    def conv_channel():
        c = nn().Conv2d(2, 4, 3)
        c.forward(np.ones((3, 2, 6, 6)))
        return c.backward(np.ones((3, 1, 4, 4)))

    def relu():
        r = nn().ReLU()
        r.forward(np.ones((5, 4)))
        return r.backward(np.ones((5, 1)))

    def adam_momentum():
        from dlkit import optim

        net = _net()
        return optim.Adam(net).load_state_dict(optim.Momentum(net).state_dict())

    def empty_batch():
        return nn().CrossEntropyLoss().forward(np.zeros((0, 3)), np.zeros(0, np.int64))

    return [
        Case(
            "issue: MaxPool2d(2) forward (3,2,6,6), backward (4,2,3,3)",
            "nn",
            maxpool,
            compiled=True,
            issue=True,
            family="issue",
        ),
        Case(
            "issue: Conv2d(2,4,3) forward batch 3, backward batch 4",
            "nn",
            conv_batch,
            compiled=True,
            issue=True,
            family="issue",
        ),
        Case(
            "issue: Conv2d(2,4,3) backward 1-channel dout",
            "nn",
            conv_channel,
            compiled=True,
            issue=True,
            family="issue",
        ),
        Case("issue: ReLU().backward((5,1) dout)", "nn", relu, issue=True, family="issue"),
        Case(
            "issue: Adam.load_state_dict(Momentum(net).state_dict())",
            "optim",
            adam_momentum,
            issue=True,
            family="issue",
        ),
        checkpoint_load("other optimizer kind"),
        _fit_case(
            "optimizer of another model",
            True,
            optimizer=lazy(lambda: _opt("SGD", _net(5), lr=0.1), "SGD(other)"),
        ),
        Case(
            "train.fit[checkpoint=existing folder]",
            "train",
            _fit_into_folder,
            issue=True,
            family="train.fit",
        ),
        call("nn.Linear", (4, 3), {"dtype": np.int64}, module="nn", issue=True),
        Case(
            "issue: empty batch into CrossEntropyLoss",
            "nn",
            empty_batch,
            issue=True,
            family="issue",
        ),
        call("nn.sigmoid", (None,), module="nn", issue=True),
        call("train.accuracy", (np.eye(5, 3), np.array([1])), module="train", issue=True),
        conv_forward("im2col", stride=1.5, variant="stride=1.5"),
        optimizer_hyper("SGD", "lr", True),
        cluster_bcast(recv_dtype="float32", issue=True),
        cluster_bcast(root=7, issue=True),
        cluster_mismatch("bcast", "gather", issue=True),
    ]


# -------------------------------------------------------------------- catalogue


@functools.lru_cache(maxsize=1)
def catalogue() -> tuple[Case, ...]:
    """Every case, in a fixed order; names are unique."""
    cases: list[Case] = []
    for part in (
        _layer_cases,
        _constructor_cases,
        _function_cases,
        _loss_cases,
        _conv_cases,
        _optim_cases,
        _train_cases,
        _checkpoint_cases,
        _precision_cases,
        _data_cases,
        _cluster_cases,
        _autograd_cases,
    ):
        cases += part()
    seen: dict[str, Case] = {}
    for c in cases:
        if c.name in seen:
            raise ValueError(f"two cases are named {c.name!r}")
        seen[c.name] = c
    for c in _issue_cases():
        if c.name in seen:
            seen[c.name].issue = True
        else:
            seen[c.name] = c
    return tuple(seen.values())


@functools.lru_cache(maxsize=1)
def by_name() -> dict[str, Case]:
    return {c.name: c for c in catalogue()}


def issue_cases() -> list[Case]:
    return [c for c in catalogue() if c.issue]


Spec = "str | tuple[str, dict]"


def case_from_spec(spec) -> Case:
    """A catalogue name, or ``(factory name, keyword arguments)``."""
    if isinstance(spec, str):
        return by_name()[spec]
    name, kwargs = spec
    return FACTORIES[name](**kwargs)


def spec_of(case_or_spec) -> Any:
    return case_or_spec.name if isinstance(case_or_spec, Case) else case_or_spec


# ----------------------------------------------------- running in child processes


def _worker_main(conn, fh_path: str) -> None:
    """Child process: build cases from specs and report each outcome."""
    import faulthandler

    fh = open(fh_path, "w")
    faulthandler.enable(file=fh)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 1)
    os.dup2(devnull, 2)
    warnings.simplefilter("ignore")
    import dlkit.nn  # noqa: F401 - before the first case's clock starts

    conn.send(("ready", os.getpid()))
    warm = False
    while True:
        specs = conn.recv()
        if specs is None:
            return
        for i, spec in enumerate(specs):
            try:
                case = case_from_spec(spec)
            except Exception as exc:  # noqa: BLE001 - a broken spec is reported, not fatal
                conn.send(("start", i))
                conn.send(("done", i, "unclear", f"harness could not build the case: {exc!r}"))
                continue
            if case.compiled and not warm:
                warm_up()
                warm = True
            conn.send(("start", i))
            out = judge(case)
            conn.send(("done", i, out.kind, out.detail))
        conn.send(("idle",))


def warm_up() -> None:
    """Compile (or load from Numba's cache) the kernels that the compiled cases call, so
    that no case's time limit is spent compiling."""
    nn = _nn()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for dtype in (np.float64, np.float32):
            for layer in (
                nn.Conv2d(2, 4, 3, dtype=dtype),
                nn.Conv2d(2, 3, 3, stride=2),
                nn.Conv2d(8, 4, 3),
                nn.MaxPool2d(2),
                nn.MaxPool2d(3, stride=2),
            ):
                c = 8 if getattr(layer, "in_channels", 2) == 8 else 2
                out = layer.forward(make_array((3, c, 7, 7), "float64").astype(dtype))
                layer.backward(np.ones_like(out))
        _conv("conv2d_backward")(
            np.ones((2, 3, 3, 3)), make_array(_CONV_X), make_array(_CONV_W), 1, 0, "numba"
        )
        _conv("conv2d")(make_array(_CONV_X), make_array(_CONV_W), None, 2, 0, "numba")


def _fh_tail(path: str) -> str:
    try:
        text = Path(path).read_text(errors="replace")
    except OSError:
        return ""
    lines = [ln.strip() for ln in text.splitlines() if "File" in ln]
    dl = [ln for ln in lines if "dlkit" in ln]
    pick = (dl or lines)[:1]
    return pick[0] if pick else ""


class _Worker:
    def __init__(self, ctx):
        import multiprocessing as mp  # noqa: F401

        fd, self.fh_path = tempfile.mkstemp(prefix="fuzz-fh-", suffix=".txt")
        os.close(fd)
        self.conn, child = ctx.Pipe()
        self.proc = ctx.Process(target=_worker_main, args=(child, self.fh_path), daemon=True)
        self.proc.start()
        child.close()
        self.ready = False
        self.born = time.monotonic()
        self.chunk: list[int] = []
        self.cur: int | None = None
        self.t0 = 0.0
        self.done: list[int] = []
        self.busy = False

    def assign(self, chunk: list[int], specs: list) -> None:
        self.chunk, self.done, self.cur, self.busy = chunk, [], None, True
        self.conn.send([specs[i] for i in chunk])
        self.t0 = time.monotonic()

    def stop(self) -> None:
        try:
            if self.proc.is_alive():
                self.proc.kill()
            self.proc.join(5)
        finally:
            self.conn.close()
            try:
                os.unlink(self.fh_path)
            except OSError:
                pass


class Runner:
    """Runs cases in child processes ('spawn'), `jobs` at a time, with a per-case limit.

    A case whose process dies is re-run alone in a fresh process; if it survives alone,
    the cases that ran before it in the same process are re-run one per process to find
    the one that broke the interpreter. A case that runs past its limit is a hang; its
    process is replaced.
    """

    def __init__(
        self,
        jobs: int = 2,
        timeout: float = 20.0,
        chunk: int = 20,
        start_timeout: float = 180.0,
        isolate: bool = True,
    ):
        import multiprocessing as mp

        self.ctx = mp.get_context("spawn")
        self.jobs, self.timeout, self.chunk = max(1, jobs), timeout, chunk
        self.start_timeout = start_timeout
        self.isolate = isolate
        self._pool: list[_Worker] = []

    def close(self) -> None:
        for w in self._pool:
            w.stop()
        self._pool = []

    def __enter__(self) -> "Runner":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def _chunks(self, specs: list) -> list[list[int]]:
        """Consecutive indices; compiled cases in short chunks (a crash re-runs its chunk)."""
        out: list[list[int]] = []
        for i, spec in enumerate(specs):
            size = 4 if self._compiled(spec) else self.chunk
            if (
                out
                and len(out[-1]) < size
                and self._compiled(specs[out[-1][0]]) == (self._compiled(spec))
            ):
                out[-1].append(i)
            else:
                out.append([i])
        return out

    @staticmethod
    def _compiled(spec) -> bool:
        try:
            return case_from_spec(spec).compiled
        except Exception:  # noqa: BLE001
            return False

    def _limit(self, spec) -> float:
        try:
            case = case_from_spec(spec)
        except Exception:  # noqa: BLE001
            return self.timeout
        t = case.timeout or self.timeout
        return t * 3 if case.compiled else t

    def run(self, specs: list, progress: Callable[[int, int], None] | None = None) -> list[Outcome]:
        """Outcomes of `specs` (catalogue names or factory specs), in order."""
        from multiprocessing.connection import wait

        specs = [spec_of(s) for s in specs]
        limits = [self._limit(s) for s in specs]
        results: list[Outcome | None] = [None] * len(specs)
        todo = self._chunks(specs)
        while self._pool and len(self._pool) > self.jobs:
            self._pool.pop().stop()
        while todo or any(w.busy for w in self._pool):
            while len(self._pool) < self.jobs and todo:
                self._pool.append(_Worker(self.ctx))
            for w in self._pool:
                if w.ready and not w.busy and todo:
                    w.assign(todo.pop(0), specs)
            conns = [w.conn for w in self._pool]
            ready = wait(conns, timeout=0.25)
            now = time.monotonic()
            for w in list(self._pool):
                dead = False
                if w.conn in ready:
                    try:
                        msg = w.conn.recv()
                    except (EOFError, OSError):
                        dead = True
                    else:
                        self._message(w, msg, results, now)
                        if progress:
                            progress(sum(r is not None for r in results), len(specs))
                        continue
                if not dead and not w.proc.is_alive() and not w.conn.poll():
                    dead = True
                if dead:
                    self._died(w, specs, results, todo)
                    continue
                if not w.ready and now - w.born > self.start_timeout:
                    raise RuntimeError(
                        "fuzz worker did not start; run a case in-process with judge() to see why"
                    )
                if w.busy and w.cur is not None and now - w.t0 > limits[w.cur]:
                    results[w.cur] = Outcome("hang", f"ran past {limits[w.cur]:.0f} s")
                    rest = [i for i in w.chunk if i not in w.done and i != w.cur]
                    if rest:
                        todo.insert(0, rest)
                    self._pool.remove(w)
                    w.stop()
        return [r if r is not None else Outcome("unclear", "not run") for r in results]

    @staticmethod
    def _message(w: _Worker, msg: tuple, results: list, now: float) -> None:
        tag = msg[0]
        if tag == "ready":
            w.ready = True
        elif tag == "start":
            w.cur, w.t0 = w.chunk[msg[1]], now
        elif tag == "done":
            idx = w.chunk[msg[1]]
            results[idx] = Outcome(msg[2], msg[3])
            w.done.append(idx)
            w.cur = None
        elif tag == "idle":
            w.busy, w.cur = False, None

    def _died(self, w: _Worker, specs: list, results: list, todo: list) -> None:
        self._pool.remove(w)
        code = w.proc.exitcode
        where = _fh_tail(w.fh_path)
        w.stop()
        if not w.busy:
            if not w.ready:
                raise RuntimeError(f"fuzz worker died while starting (exit code {code})")
            return
        pending = [i for i in w.chunk if i not in w.done]
        cur = w.cur if w.cur is not None else (pending[0] if pending else None)
        rest = [i for i in pending if i != cur]
        if rest:
            todo.insert(0, rest)
        if cur is None:
            return
        why = f"interpreter died (exit code {code})" + (f" at {where}" if where else "")
        if not self.isolate:
            results[cur] = Outcome("crash", why)
            return
        alone = self._alone(specs[cur])
        if alone.kind == "crash":
            results[cur] = Outcome("crash", alone.detail or why)
            return
        culprits = []
        for i in w.done:
            again = self._alone(specs[i])
            if again.kind == "crash":
                results[i] = again
                culprits.append(i)
        if culprits:
            results[cur] = alone
        else:
            results[cur] = Outcome("crash", f"{why}; alone it was {alone.kind}")

    def _alone(self, spec) -> Outcome:
        """Run one spec in a fresh process: its outcome, or crash/hang."""
        from multiprocessing.connection import wait

        w = _Worker(self.ctx)
        try:
            deadline = time.monotonic() + self.start_timeout
            limit = self._limit(spec)
            while True:
                left = deadline - time.monotonic()
                if left <= 0:
                    return Outcome("hang", f"ran past {limit:.0f} s (alone)")
                if not wait([w.conn], timeout=min(left, 0.5)):
                    if not w.proc.is_alive() and not w.conn.poll():
                        raise EOFError
                    continue
                msg = w.conn.recv()
                if msg[0] == "ready":
                    w.chunk = [0]
                    w.conn.send([spec])
                elif msg[0] == "start":
                    deadline = time.monotonic() + limit
                elif msg[0] == "done":
                    return Outcome(msg[2], msg[3])
        except (EOFError, OSError):
            where = _fh_tail(w.fh_path)
            w.proc.join(5)
            return Outcome(
                "crash",
                f"interpreter died (exit code {w.proc.exitcode})"
                + (f" at {where}" if where else ""),
            )
        finally:
            w.stop()


def run_isolated(specs: list, jobs: int = 1, timeout: float = 20.0) -> list[Outcome]:
    """Outcomes of `specs`, run in child processes (crash- and hang-safe)."""
    with Runner(jobs=jobs, timeout=timeout) as r:
        return r.run(specs)


def summarize(cases: list[Case], outcomes: list[Outcome]) -> dict[str, int]:
    counts = {k: 0 for k in KINDS}
    for o in outcomes:
        counts[o.kind] += 1
    return counts


__all__ = [
    "Case",
    "Outcome",
    "KINDS",
    "judge",
    "classify_exception",
    "catalogue",
    "by_name",
    "issue_cases",
    "case_from_spec",
    "Runner",
    "run_isolated",
    "summarize",
    "FACTORIES",
    "LAYERS",
    "make_array",
    "close",
]
