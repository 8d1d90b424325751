"""The layer convention shared by every layer in dlkit.

A layer owns its parameters (:class:`Param`: the array ``data`` and its gradient
``grad``). ``forward(x)`` computes the output and caches what the backward pass
needs; ``backward(dout)`` takes dL/d(output), *sets* each parameter's ``grad`` to
dL/d(parameter) for the last forward pass, and returns dL/d(input). Shapes follow
``(N, features)`` for dense layers and ``(N, C, H, W)`` for images.
"""

from __future__ import annotations

import numbers
from types import ModuleType
from typing import Iterable, Iterator

import numpy as np

from dlkit.backend import get_backend
from dlkit.checks import check_int as _check_int


class BackwardBeforeForwardError(RuntimeError, ValueError):
    """``backward`` was called on a layer or loss whose ``forward`` has not run yet.

    A ``RuntimeError`` (the call order is wrong) and a ``ValueError`` (there is no
    forward output for the gradient to match), so either ``except`` catches it.
    """


class Param:
    """A trainable array and its gradient (same shape and dtype).

    Optimizers update ``data`` in place, so a layer, an optimizer and a checkpoint all
    hold the same array.
    """

    __slots__ = ("data", "grad", "name")

    def __init__(self, data: np.ndarray, name: str = ""):
        self.data = data
        self.grad = np.zeros_like(data)
        self.name = name

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def size(self) -> int:
        return self.data.size

    def __repr__(self) -> str:
        return f"Param({self.name or '?'}, shape={self.data.shape}, dtype={self.data.dtype})"


def array_module() -> ModuleType:
    """The array module of the current backend (``numpy``; ``cupy`` on the cupy backend).

    Layers create arrays with it (``xp.zeros``, ``xp.asarray``), so that an array of
    the backend's module flows through them.
    """
    return get_backend().xp


def _as_backend_array(x, who: str, xp: ModuleType):
    """`x` as an array of the backend's module `xp`.

    An array of `xp` is returned as it is; a GPU array on the numpy backend is refused
    with a hint; anything else (a list, a host array on a GPU backend) is converted by
    ``xp.asarray``.
    """
    if isinstance(x, xp.ndarray):
        return x
    if xp is np and (
        hasattr(x, "__cuda_array_interface__") or type(x).__module__.startswith("cupy")
    ):
        raise TypeError(f"{who} got a GPU array; this layer runs on numpy: use .get() first")
    try:
        return xp.asarray(x)
    except Exception as exc:  # noqa: BLE001
        raise TypeError(
            f"{who} got {type(x).__name__}; pass a {getattr(xp, '__name__', 'numpy')} array"
        ) from exc


def check_array(
    x,
    who: str,
    *,
    ndim: int | tuple[int, ...] | None = None,
    dtype: np.dtype | None = None,
    check_finite: bool = True,
) -> np.ndarray:
    """Validate a layer input and return it as a float array of `dtype`.

    Raises a ``TypeError`` or ``ValueError`` that names the layer (`who`), what was
    wrong and what to do, instead of a numpy broadcasting error three frames down.
    Integer and boolean inputs (truth tables, pixel counts) are converted. The array
    module is the current backend's (:func:`array_module`): on the numpy backend a
    CuPy array is refused with a hint, on a CuPy backend it is accepted.
    """
    xp = array_module()
    x = _as_backend_array(x, who, xp)
    kind = x.dtype.kind
    if kind not in "fiub":
        raise TypeError(
            f"{who} got an array of dtype {x.dtype}; pass real numbers "
            f"(e.g. np.asarray(x, dtype=np.float32))"
        )
    if ndim is not None:
        allowed = (ndim,) if isinstance(ndim, int) else ndim
        if x.ndim not in allowed:
            want = " or ".join(f"{d}-D" for d in allowed)
            raise ValueError(f"{who} expects {want} input, got shape {x.shape}")
    if dtype is not None and x.dtype != dtype:
        x = x.astype(dtype)
    elif kind != "f":
        x = x.astype(np.float64)
    if check_finite and not xp.isfinite(x).all():
        bad = xp.argwhere(~xp.isfinite(x))[0]
        raise ValueError(
            f"{who} got a non-finite input (first at index {tuple(int(i) for i in bad)}: "
            f"{x[tuple(bad)]}); check the data, or lower the learning rate if the previous "
            "layers diverged"
        )
    return x


def check_int(v, name: str, who: str, *, minimum: int = 1) -> int:
    """Return `v` as an int; it must be an int (not a bool, not a float) >= `minimum`.

    Raises a ``TypeError`` for a wrong type and a ``ValueError`` for a value below the
    bound, both naming `who` and the argument (:func:`dlkit.checks.check_int`).
    """
    return _check_int(v, name, who, minimum, say_minimum=True)


def check_real(
    v,
    name: str,
    who: str,
    *,
    low: float | None = None,
    high: float | None = None,
    low_open: bool = False,
    high_open: bool = False,
) -> float:
    """Return `v` as a float; it must be a finite real number (not a bool, not a str)
    within the given bounds (closed unless ``low_open`` / ``high_open``)."""
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, numbers.Real):
        raise TypeError(f"{who}: {name} must be a real number, got {v!r} ({type(v).__name__})")
    v = float(v)
    too_low = low is not None and (v <= low if low_open else v < low)
    too_high = high is not None and (v >= high if high_open else v > high)
    if not np.isfinite(v) or too_low or too_high:
        lo = "(-inf" if low is None else f"{'(' if low_open else '['}{low:g}"
        hi = "inf)" if high is None else f"{high:g}{')' if high_open else ']'}"
        raise ValueError(f"{who}: {name} must lie in {lo}, {hi}, got {v!r}")
    return v


def check_flag(v, name: str, who: str) -> bool:
    """Return `v` as a bool; it must be True or False (not 0, 1 or a string)."""
    if not isinstance(v, (bool, np.bool_)):
        raise TypeError(f"{who}: {name} must be True or False, got {v!r} ({type(v).__name__})")
    return bool(v)


def check_float_dtype(dtype, who: str) -> np.dtype:
    """Return ``np.dtype(dtype)``; it must be a floating dtype (float16/32/64).

    Integer, boolean and complex weights are refused: an integer weight cannot take a
    gradient step smaller than 1, so such a layer would never learn.
    """
    try:
        dt = np.dtype(dtype)
    except TypeError as exc:
        raise TypeError(
            f"{who}: dtype {dtype!r} is not a numpy dtype; pass np.float64 or np.float32"
        ) from exc
    if dt.kind != "f":
        raise TypeError(
            f"{who}: dtype must be a floating dtype, got {dt}; pass dtype=np.float64 (exact "
            "gradient checks) or np.float32 (speed): integer, bool and complex weights "
            "cannot be trained"
        )
    return dt


def check_numeric(z, who: str):
    """`z` if it holds real numbers (an array, a scalar; a list or tuple is returned as
    an array); else TypeError.

    Only the dtype is looked at (no copy, no scan), so elementwise functions such as
    :func:`dlkit.nn.sigmoid` stay as fast as the numpy expressions they are. A list
    becomes an array because numpy reads a list given as a dtype (``np.result_type``)
    as a structured-dtype spec.
    """
    dtype = getattr(z, "dtype", None)
    if dtype is None:
        if z is None or isinstance(z, (str, bytes)):
            raise TypeError(f"{who} got {z!r}; pass a number or a numpy array of real numbers")
        try:
            a = np.asarray(z)
        except (TypeError, ValueError) as exc:
            raise TypeError(
                f"{who} got {type(z).__name__}; pass a numpy array of real numbers"
            ) from exc
        dtype = a.dtype
        if isinstance(z, (list, tuple)) and dtype.kind in "fiub":
            z = a
    if np.dtype(dtype).kind not in "fiub":
        raise TypeError(
            f"{who} got values of dtype {dtype}; pass real numbers "
            "(e.g. np.asarray(z, dtype=np.float64))"
        )
    return z


def check_dout(dout, who: str, shape: tuple[int, ...] | None) -> np.ndarray:
    """Validate the gradient `dout` passed to ``backward`` of the layer named `who`.

    It must be a floating-point array (any float dtype: float16, float32, float64) of
    exactly `shape`, the shape of the output of the last ``forward``; ``shape=None``
    means forward has not run. Returns `dout` itself (an array-like is converted).
    Raises :class:`BackwardBeforeForwardError`, ``TypeError`` or ``ValueError``, never a
    broadcast: a (N, 1) gradient for a (N, K) output is an error, not K copies.
    """
    if shape is None:
        raise BackwardBeforeForwardError(
            f"{who}.backward called before forward: run forward(x) on the batch first, "
            "then backward(dout) with dout shaped like forward's output"
        )
    if not (hasattr(dout, "shape") and hasattr(dout, "dtype")):
        if dout is None or isinstance(dout, (str, bytes)):
            raise TypeError(
                f"{who}.backward got dout={dout!r}; pass dL/d(output), a float "
                f"array of shape {tuple(shape)}"
            )
        dout = np.asarray(dout)
    if dout.dtype.kind != "f":
        raise TypeError(
            f"{who}.backward got dout of dtype {dout.dtype}; pass a floating-point gradient "
            f"of shape {tuple(shape)} (e.g. dout.astype(np.float64))"
        )
    if tuple(dout.shape) != tuple(shape):
        if dout.ndim == len(shape) and dout.ndim and dout.shape[0] != shape[0]:
            hint = "the batch sizes differ: call backward right after the forward of the same batch"
        else:
            hint = (
                "dout must match it exactly (no broadcasting): it holds dL/d(output), "
                "one entry per output value"
            )
        raise ValueError(
            f"{who}.backward got dout of shape {tuple(dout.shape)}, but forward returned "
            f"shape {tuple(shape)}; {hint}"
        )
    return dout


class Layer:
    """Base class: subclasses implement ``forward`` and ``backward``.

    Parameters are the attributes that are :class:`Param` instances, in the order the
    constructor created them; ``training`` switches layers such as Dropout.
    """

    training: bool = True

    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement forward(x)")

    def backward(self, dout: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} must implement backward(dout)")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def _output_shape(self) -> tuple[int, ...] | None:
        """Shape of the last forward's output (None before the first forward)."""
        raise NotImplementedError(f"{type(self).__name__} must implement _output_shape()")

    def _check_dout(self, dout) -> np.ndarray:
        """The first line of ``backward``: dout must be a float array shaped like the
        last forward's output (see :func:`check_dout`)."""
        shape = self._output_shape()
        if (
            type(dout) is np.ndarray
            and dout.dtype.kind == "f"
            and shape is not None
            and dout.shape == tuple(shape)
        ):
            return dout  # the common case: no repr built
        return check_dout(dout, repr(self), shape)

    def parameters(self) -> list[Param]:
        return [v for v in vars(self).values() if isinstance(v, Param)]

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Param]]:
        return [(prefix + k, v) for k, v in vars(self).items() if isinstance(v, Param)]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.grad[...] = 0

    def train(self, mode: bool = True) -> "Layer":
        self.training = mode
        return self

    def eval(self) -> "Layer":
        return self.train(False)

    @property
    def n_params(self) -> int:
        return sum(p.size for p in self.parameters())

    def named_buffers(self, prefix: str = "") -> list[tuple[str, np.ndarray]]:
        """Arrays of state that no optimizer trains (BatchNorm's running statistics),
        named like parameters; none for most layers."""
        return []

    def _state_arrays(self) -> dict[str, np.ndarray]:
        """Every array of the state by name: the parameters' data, then the buffers
        (read through ``Layer`` for a duck-typed model without ``named_buffers``)."""
        state = {k: p.data for k, p in self.named_parameters()}
        state.update(getattr(self, "named_buffers", lambda: [])())
        return state

    def state_dict(self) -> dict[str, np.ndarray]:
        """Copies of every parameter and buffer, keyed as ``named_parameters()`` and
        ``named_buffers()`` name them (``"<layer index>.<name>"`` in a Sequential)."""
        return {k: a.copy() for k, a in Layer._state_arrays(self).items()}

    def load_state_dict(self, state: dict[str, np.ndarray]) -> None:
        """Copy arrays into the parameters and buffers in place; names and shapes must
        match."""
        self.check_state(state)
        for k, a in Layer._state_arrays(self).items():
            a[...] = state[k]

    def check_state(self, state: dict, source: str = "state", *, dtypes: bool = False) -> None:
        """Raise unless `state` has exactly this network's parameter and buffer names and
        shapes (and dtypes, if `dtypes`); `source` names where the state came from."""
        mine = Layer._state_arrays(self)
        missing, extra = set(mine) - set(state), set(state) - set(mine)
        if missing or extra:
            raise KeyError(
                f"{source} does not match this network: missing {sorted(missing)}, "
                f"unexpected {sorted(extra)}"
            )
        for k, a in mine.items():
            if state[k].shape != a.shape:
                raise ValueError(
                    f"parameter {k}: saved shape {state[k].shape} != network's {a.shape}"
                )
            if dtypes and state[k].dtype != a.dtype:
                raise ValueError(
                    f"parameter {k}: saved as {state[k].dtype}, the network's is "
                    f"{a.dtype}; build the network with dtype=np.{state[k].dtype}"
                )

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sequential(Layer):
    """Layers applied in order; ``backward`` runs them in reverse.

    >>> from dlkit.nn import Sequential, Linear, ReLU
    >>> net = Sequential(Linear(2, 8, seed=0), ReLU(), Linear(8, 1, seed=1))
    """

    def __init__(self, *layers: Layer):
        if len(layers) == 1 and isinstance(layers[0], (list, tuple)):
            layers = tuple(layers[0])
        for i, layer in enumerate(layers):
            if not isinstance(layer, Layer):
                raise TypeError(
                    f"Sequential item {i} is {type(layer).__name__}, not a Layer; "
                    "pass layer instances such as Linear(2, 8) or ReLU()"
                )
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self.layers:
            x = layer.forward(x)
        return x

    def backward(self, dout: np.ndarray) -> np.ndarray:
        for layer in reversed(self.layers):
            dout = layer.backward(dout)
        return dout

    def parameters(self) -> list[Param]:
        return [p for layer in self.layers for p in layer.parameters()]

    def named_parameters(self, prefix: str = "") -> list[tuple[str, Param]]:
        out = []
        for i, layer in enumerate(self.layers):
            out += layer.named_parameters(f"{prefix}{i}.")
        return out

    def named_buffers(self, prefix: str = "") -> list[tuple[str, np.ndarray]]:
        out = []
        for i, layer in enumerate(self.layers):
            out += layer.named_buffers(f"{prefix}{i}.")
        return out

    def train(self, mode: bool = True) -> "Sequential":
        self.training = mode
        for layer in self.layers:
            layer.train(mode)
        return self

    def __getitem__(self, i):
        return Sequential(*self.layers[i]) if isinstance(i, slice) else self.layers[i]

    def __len__(self) -> int:
        return len(self.layers)

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def summary(self) -> str:
        """A table of layers and their parameter counts."""
        rows = [(f"{i}", repr(layer), layer.n_params) for i, layer in enumerate(self.layers)]
        w = max(len(r[1]) for r in rows) if rows else 10
        lines = [f"{'#':>3}  {'layer':<{w}}  {'params':>10}"]
        lines += [f"{i:>3}  {r:<{w}}  {n:>10,}" for i, r, n in rows]
        lines.append(f"{'':>3}  {'total':<{w}}  {self.n_params:>10,}")
        return "\n".join(lines)

    def __repr__(self) -> str:
        inner = ",\n".join(f"  ({i}) {layer!r}" for i, layer in enumerate(self.layers))
        return f"Sequential(\n{inner}\n)"


def parameters_of(model: Layer | Iterable[Param]) -> list[Param]:
    """Accept a layer/network or an iterable of Params; return a list of Params."""
    if isinstance(model, Layer):
        return model.parameters()
    params = list(model)
    for p in params:
        if not isinstance(p, Param):
            raise TypeError(f"expected Params (e.g. model.parameters()), got {type(p).__name__}")
    return params
