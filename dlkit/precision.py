"""Low-precision arithmetic: float16 storage, fixed point ⟨IL, FL⟩, and rounding.

Chapter 9's notation (Gupta et al. 2015, "Deep learning with limited numerical
precision"):

* A fixed-point format ⟨IL, FL⟩ has IL integer bits (the sign bit included) and FL
  fractional bits, a word length WL = IL + FL. Its numbers are the multiples of
  ε = 2^{−FL} in the range [−2^{IL−1}, 2^{IL−1} − 2^{−FL}].
* ⌊x⌋ is the largest multiple of ε not above x.
* Round-to-nearest:  Round(x) = ⌊x⌋ if x − ⌊x⌋ ≤ ε/2, else ⌊x⌋ + ε.
* Stochastic rounding: Round(x) = ⌊x⌋ + ε with probability (x − ⌊x⌋)/ε, else ⌊x⌋,
  so that E[Round(x)] = x: rounding adds noise but no bias.
* Convert(x, ⟨IL, FL⟩) saturates: values beyond the range become its end points,
  everything else is rounded.

Training with such numbers (Gupta et al.'s experiment): weights, layer outputs
(activations) and gradients are *stored* in ⟨IL, FL⟩; each layer's arithmetic runs in
higher precision (here float64: a Linear layer multiplies the stored numbers and sums
the products in float64, as a fixed-point multiplier with a wide accumulator does)
and only its result is converted back. Three pieces do it:

* :class:`Quantize`, a layer that converts what flows forward (activations) and what
  flows backward (gradients with respect to activations);
* :class:`QuantizedSGD`, an optimizer whose step converts the weight gradients and
  the updated weights, θ ← Convert(θ − η Convert(∇)), with η the learning rate;
* :func:`quantize_model`, which puts a :class:`Quantize` after every layer of a
  :class:`~dlkit.nn.Sequential` and converts its initial weights.

Formats share one method, ``quantize(x, rounding, rng)``: :class:`FixedPoint` and
:class:`Float16` (IEEE half precision, numpy's ``float16``: round to nearest even).
The float16 helpers show mixed precision's three ingredients (Micikevicius et al.
2018): float16 storage with float32 arithmetic, a float32 master copy of the weights,
and loss scaling.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlkit import rng as _rng
from dlkit.nn.core import Layer, Param, Sequential, check_array
from dlkit.optim import Optimizer, check_rate

__all__ = [
    "FixedPoint",
    "Float16",
    "ROUNDINGS",
    "round_nearest",
    "round_stochastic",
    "saturate",
    "quantize",
    "rounding_error_stats",
    "to_float16",
    "matmul_float16",
    "sum_in",
    "float16_update",
    "Quantize",
    "QuantizedSGD",
    "quantize_model",
    "RunResult",
    "train_digits",
    "compare_formats",
    "format_table",
]

ROUNDINGS = ("nearest", "stochastic")


def _check_format(il, fl) -> tuple[int, int]:
    for name, v in (("IL", il), ("FL", fl)):
        if isinstance(v, bool) or not isinstance(v, (int, np.integer)):
            raise TypeError(f"{name} must be an int number of bits, got {v!r}")
    il, fl = int(il), int(fl)
    if il < 1:
        raise ValueError(f"IL={il}: a fixed-point format needs IL >= 1 (the sign bit)")
    if fl < 0:
        raise ValueError(f"FL={fl}: the number of fractional bits cannot be negative")
    if il + fl > 52:
        raise ValueError(
            f"<{il}, {fl}> has a word length of {il + fl} bits; dlkit simulates fixed point "
            "in float64, which holds at most 52 bits exactly: use WL = IL + FL <= 52"
        )
    return il, fl


def _real(x, who: str, dtype=None, *, allow_nan: bool = True) -> np.ndarray:
    """`x` as an array of real numbers (of `dtype` if given); refuses None, str, objects,
    complex values and, unless `allow_nan`, NaN."""
    a = np.asarray(x)
    if a.dtype.kind not in "biuf":
        raise TypeError(
            f"{who} needs real numbers, got {type(x).__name__} of dtype {a.dtype}; "
            "pass a float array"
        )
    if not allow_nan and a.dtype.kind == "f" and np.isnan(a).any():
        raise ValueError(
            f"{who} got a non-finite input (NaN), which no format can hold; check "
            "the data, or lower the learning rate if training diverged"
        )
    return a if dtype is None else np.asarray(a, dtype=dtype)


def _float_dtype(dtype, who: str) -> np.dtype:
    try:
        dt = np.dtype(dtype)
    except TypeError:
        dt = None
    if dt is None or dt.kind != "f":
        raise TypeError(
            f"{who}: dtype must be a float dtype such as np.float16 or np.float32, got {dtype!r}"
        )
    return dt


def _check_int(who: str, name: str, v, low: int = 0) -> int:
    if isinstance(v, (bool, np.bool_)) or not isinstance(v, (int, np.integer)):
        raise TypeError(f"{who}: {name} must be an int >= {low}, got {v!r} ({type(v).__name__})")
    if v < low:
        raise ValueError(f"{who}: {name} must be an int >= {low}, got {name}={v}")
    return int(v)


def _check_matmul(A, B, accumulate) -> None:
    A, B = _real(A, "matmul_float16"), _real(B, "matmul_float16")
    if A.ndim != 2 or B.ndim != 2 or A.shape[1] != B.shape[0]:
        raise ValueError(
            f"matmul_float16 multiplies matrices (n, k) @ (k, m), got shapes "
            f"{A.shape} and {B.shape}"
        )
    _float_dtype(accumulate, "matmul_float16 accumulate")


def _check_update(w, update, steps) -> None:
    for name, v in (("w", w), ("update", update)):
        if isinstance(v, (bool, np.bool_)) or not isinstance(
            v, (int, float, np.integer, np.floating)
        ):
            raise TypeError(f"float16_update: {name} must be a real number, got {v!r}")
    _check_int("float16_update", "steps", steps)


def _check_formats(who: str, fmt, grad_fmt, rounding: str) -> None:
    """fmt and grad_fmt are number formats (FixedPoint, Float16) that can do `rounding`."""
    _check_rounding(rounding)
    for name, f in (("fmt", fmt), ("grad_fmt", grad_fmt)):
        if f is None and name == "grad_fmt":
            continue
        if not callable(getattr(f, "quantize", None)):
            raise TypeError(
                f"{who}: {name} must be a number format such as FixedPoint(2, 14) "
                f"or Float16(), got {f!r}"
            )
        if rounding == "stochastic" and isinstance(f, Float16):
            raise ValueError(
                f"{who}: Float16 rounds to nearest (numpy's float16); use "
                "rounding='nearest', or a FixedPoint format for stochastic rounding"
            )


def _check_rounding(rounding: str) -> str:
    if rounding not in ROUNDINGS:
        raise ValueError(f"rounding must be 'nearest' or 'stochastic', got {rounding!r}")
    return rounding


def round_nearest(x, fl: int) -> np.ndarray:
    """Round to the nearest multiple of ε = 2^{−FL}; a tie (x − ⌊x⌋ = ε/2) goes down.

    No saturation: see :func:`quantize` for the full conversion.
    """
    _check_format(1, fl)
    eps = 2.0**-fl
    scaled = _real(x, "round_nearest", np.float64) / eps  # exact: ε is a power of two
    r = np.ceil(scaled - 0.5) * eps  # ⌊x⌋ if x − ⌊x⌋ ≤ ε/2, else ⌊x⌋ + ε
    return r + 0.0  # + 0.0 turns −0.0 into 0.0


def round_stochastic(x, fl: int, rng=0) -> np.ndarray:
    """Round up to ⌊x⌋ + ε with probability (x − ⌊x⌋)/ε, else down to ⌊x⌋.

    `rng` is a seed or a numpy Generator (pass the same Generator to keep drawing
    fresh random numbers). E[round_stochastic(x)] = x.
    """
    _check_format(1, fl)
    eps = 2.0**-fl
    scaled = _real(x, "round_stochastic", np.float64) / eps
    floor = np.floor(scaled)  # ⌊x⌋ / ε
    frac = scaled - floor  # (x − ⌊x⌋) / ε, in [0, 1)
    up = _rng(rng).random(scaled.shape) < frac  # probability (x − ⌊x⌋)/ε
    return (floor + up) * eps + 0.0


def saturate(x, il: int, fl: int) -> np.ndarray:
    """Clip to the range of ⟨IL, FL⟩: [−2^{IL−1}, 2^{IL−1} − 2^{−FL}]."""
    il, fl = _check_format(il, fl)
    return np.clip(x, -(2.0 ** (il - 1)), 2.0 ** (il - 1) - 2.0**-fl)


def quantize(x, il: int, fl: int, rounding: str = "nearest", rng=0) -> np.ndarray:
    """Convert(x, ⟨IL, FL⟩): round (nearest or stochastic), then saturate."""
    il, fl = _check_format(il, fl)
    x = _real(x, "quantize", np.float64, allow_nan=False)
    if _check_rounding(rounding) == "nearest":
        r = round_nearest(x, fl)
    else:
        r = round_stochastic(x, fl, rng)
    return saturate(r, il, fl)


@dataclass(frozen=True)
class FixedPoint:
    """The fixed-point format ⟨IL, FL⟩: ``FixedPoint(2, 14)`` is a 16-bit word.

    >>> q = FixedPoint(2, 14)
    >>> q.eps, q.lo, q.hi
    (6.103515625e-05, -2.0, 1.99993896484375)
    """

    il: int
    fl: int

    def __post_init__(self):
        _check_format(self.il, self.fl)

    @property
    def wl(self) -> int:
        """Word length WL = IL + FL."""
        return self.il + self.fl

    @property
    def eps(self) -> float:
        """ε = 2^{−FL}: the spacing of the representable numbers."""
        return 2.0**-self.fl

    @property
    def lo(self) -> float:
        return -(2.0 ** (self.il - 1))

    @property
    def hi(self) -> float:
        return 2.0 ** (self.il - 1) - self.eps

    def quantize(self, x, rounding: str = "nearest", rng=0) -> np.ndarray:
        return quantize(x, self.il, self.fl, rounding, rng)

    def representable(self, x) -> np.ndarray:
        """True where x is a multiple of ε inside the range."""
        x = np.asarray(x, dtype=np.float64)
        return (x == np.round(x / self.eps) * self.eps) & (x >= self.lo) & (x <= self.hi)

    def __str__(self) -> str:
        return f"<{self.il}, {self.fl}>"


@dataclass(frozen=True)
class Float16:
    """IEEE 754 half precision as a storage format: numpy's float16.

    11 significant bits (spacing 2^{−10} between 1 and 2), largest finite 65504,
    smallest normal 2^{−14} ≈ 6.1e-5, smallest subnormal 2^{−24} ≈ 6.0e-8. numpy
    rounds to the nearest float16, a tie to the one with an even last bit: magnitudes
    up to 2^{−25} (half the smallest subnormal, a tie with 0) become 0, those between
    2^{−25} and 2^{−24} become 2^{−24}, and values that round beyond 65504 become inf.
    As a format for :func:`quantize_model` it stores numbers only: the arithmetic
    between two conversions is the layer's own (float64 in chapter 9).
    """

    max: float = 65504.0
    tiny: float = 2.0**-14
    smallest_subnormal: float = 2.0**-24
    eps: float = 2.0**-10

    def quantize(self, x, rounding: str = "nearest", rng=0) -> np.ndarray:
        if _check_rounding(rounding) != "nearest":
            raise ValueError(
                "Float16 rounds to nearest (numpy's float16); "
                "use FixedPoint for stochastic rounding"
            )
        return to_float16(x).astype(np.float64)

    def __str__(self) -> str:
        return "float16"


def rounding_error_stats(
    x, fmt: FixedPoint, rounding: str, *, repeats: int = 1, seed=0
) -> dict[str, float]:
    """Mean and standard error of Round(x) − x over `repeats` roundings of every x.

    Returns ``{'bias', 'stderr', 'max_abs'}`` in units of the data; the bias of
    stochastic rounding is zero in expectation, round-to-nearest's is deterministic.
    """
    _check_formats("rounding_error_stats", fmt, None, rounding)
    _check_int("rounding_error_stats", "repeats", repeats, low=1)
    g = _rng(seed)
    x = _real(x, "rounding_error_stats", np.float64)
    err = np.stack([fmt.quantize(x, rounding, g) - x for _ in range(repeats)])
    return {
        "bias": float(err.mean()),
        "stderr": float(err.std() / np.sqrt(err.size)),
        "max_abs": float(np.abs(err).max()),
    }


# -- float16 storage, float32 arithmetic ---------------------------------------------------


def to_float16(x) -> np.ndarray:
    """Store x in half precision (values above 65504 overflow to ±inf, as on GPUs)."""
    with np.errstate(over="ignore"):
        return _real(x, "to_float16").astype(np.float16)


def matmul_float16(A, B, *, accumulate=np.float32) -> np.ndarray:
    """A @ B with A, B stored in float16 and the products summed in `accumulate`.

    ``accumulate=np.float32`` is what tensor cores do (Micikevicius et al. 2018): the
    inputs cost half the memory and bandwidth, the dot products keep float32's 24
    significant bits. ``accumulate=np.float16`` rounds every partial sum to 11 bits.
    """
    _check_matmul(A, B, accumulate)
    A16, B16 = to_float16(A), to_float16(B)
    if np.dtype(accumulate) == np.float16:
        out = np.zeros((A16.shape[0], B16.shape[1]), np.float16)
        for k in range(A16.shape[1]):  # one rounding per partial sum, as in hardware
            out = (out + np.outer(A16[:, k], B16[k])).astype(np.float16)
        return out
    return A16.astype(accumulate) @ B16.astype(accumulate)


def sum_in(values, dtype) -> float:
    """Add `values` one by one in `dtype` (each partial sum rounded to `dtype`)."""
    values = _real(values, "sum_in", _float_dtype(dtype, "sum_in")).reshape(-1)
    acc = np.zeros((), dtype)
    for v in values:
        acc = (acc + v).astype(dtype)
    return float(acc)


def float16_update(w: float, update: float, steps: int, *, master: bool) -> float:
    """Apply w ← w + update `steps` times; return w as float16 would store it.

    ``master=False`` keeps w itself in float16: an update smaller than half the
    spacing of float16 numbers near w is rounded away every time. ``master=True``
    keeps a float32 master copy (Micikevicius et al. 2018) and rounds to float16 only
    for use, so the small updates add up.
    """
    _check_update(w, update, steps)
    if master:
        w32 = np.float32(w)
        for _ in range(steps):
            w32 = np.float32(w32 + np.float32(update))
        return float(np.float16(w32))
    w16 = np.float16(w)
    for _ in range(steps):
        w16 = np.float16(w16 + np.float16(update))
    return float(w16)


# -- training with quantised weights, activations and gradients -------------------------


class Quantize(Layer):
    """Converts activations on the way forward and their gradients on the way back.

    ``forward(x)`` returns Convert(x) in `fmt`; ``backward(dout)`` returns
    Convert(dout). The conversion is treated as the identity for differentiation
    (the "straight-through" rule: rounding's true derivative is zero almost
    everywhere), so what reaches the previous layer is the rounded gradient.

    Parameters
    ----------
    fmt : FixedPoint or Float16
    rounding : 'nearest' or 'stochastic'
    seed : int or Generator, the source of the stochastic rounding's random numbers.
    grad_fmt : format for the backward pass (default: `fmt`).
    """

    def __init__(self, fmt, rounding: str = "nearest", *, seed=0, grad_fmt=None):
        _check_formats("Quantize", fmt, grad_fmt, rounding)
        self.fmt = fmt
        self.grad_fmt = fmt if grad_fmt is None else grad_fmt
        self.rounding = _check_rounding(rounding)
        self._rng = _rng(seed)

    def forward(self, x: np.ndarray) -> np.ndarray:
        x = check_array(x, repr(self), check_finite=False)
        lo, hi = getattr(self.fmt, "lo", -np.inf), getattr(self.fmt, "hi", np.inf)
        self._inside = (x >= lo) & (x <= hi)  # saturation's derivative: 1 inside, 0 out
        return self.fmt.quantize(x, self.rounding, self._rng)

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dout = self._check_dout(dout)
        return self.grad_fmt.quantize(dout * self._inside, self.rounding, self._rng)

    def _output_shape(self) -> tuple[int, ...] | None:
        """Shape of the last forward's output (None before the first forward)."""
        inside = getattr(self, "_inside", None)
        return None if inside is None else inside.shape

    def __repr__(self) -> str:
        return f"Quantize({self.fmt}, {self.rounding!r})"


class QuantizedSGD(Optimizer):
    """SGD whose gradients and weights live in a low-precision format.

    One step, for every parameter θ with gradient ∇ (computed in float64 by the layer
    from quantised inputs) and the learning rate η = `lr`:

        ∇_q = Convert(∇);   θ ← Convert(θ − η ∇_q)

    θ − η∇_q is computed in float64 and rounded at once: there is no higher-precision
    master copy of θ. With round-to-nearest an update |η ∇_q| < ε/2 is rounded away:
    θ does not move. With stochastic rounding it moves by ε with probability
    |η ∇_q|/ε, which is right on average. ``momentum`` keeps its velocity v in the
    same format. ``grad_fmt`` converts ∇ (default: `fmt`).
    """

    hyper = ("momentum",)

    def __init__(
        self,
        params,
        lr: float = 0.1,
        *,
        fmt,
        rounding: str = "nearest",
        momentum: float = 0.0,
        seed=0,
        grad_fmt=None,
    ):
        super().__init__(params, lr)
        _check_formats("QuantizedSGD", fmt, grad_fmt, rounding)
        self.momentum = check_rate("momentum", momentum)
        self.fmt = fmt
        self.grad_fmt = fmt if grad_fmt is None else grad_fmt
        self.rounding = _check_rounding(rounding)
        self._rng = _rng(seed)
        self.n_updates = 0  # weights the unrounded step would have changed...
        self.n_lost = 0  # ...and those that rounding left where they were
        self.intended = 0.0  # Σ |step| before rounding
        self.applied = 0.0  # Σ |Δθ| after rounding

    @property
    def lost_fraction(self) -> float:
        """Fraction of the weight updates so far that rounding cancelled."""
        return self.n_lost / max(self.n_updates, 1)

    @property
    def kept_ratio(self) -> float:
        """Σ|Δθ| / Σ|step|: how much of the intended movement the weights made."""
        return self.applied / self.intended if self.intended else 1.0

    def _q(self, x, fmt) -> np.ndarray:
        return fmt.quantize(x, self.rounding, self._rng)

    def update(self, p: Param, state: dict) -> None:
        grad = self._q(p.grad, self.grad_fmt)  # ∇_q = Convert(∇)
        if self.momentum:
            v = self._buffer(state, "v", p)
            v[...] = self._q(self.momentum * v - self.lr * grad, self.fmt)  # v ← μv − η∇_q
            step = v
        else:
            step = -self.lr * grad  # −η∇_q
        new = self._q(p.data + step, self.fmt)  # θ ← Convert(θ − η∇_q), or Convert(θ + v)
        moved = step != 0
        self.n_updates += int(moved.sum())
        self.n_lost += int((moved & (new == p.data)).sum())
        self.intended += float(np.abs(step).sum())
        self.applied += float(np.abs(new - p.data).sum())
        p.data[...] = new

    def __repr__(self) -> str:
        return f"QuantizedSGD(lr={self.lr}, fmt={self.fmt}, rounding={self.rounding!r})"


def quantize_model(
    model: Sequential, fmt, rounding: str = "nearest", *, seed=0, quantize_input: bool = True
) -> Sequential:
    """A network whose activations and activation gradients are stored in `fmt`.

    Returns a new :class:`Sequential` holding the same layer objects (so the same
    parameters) with a :class:`Quantize` after every layer (and before the first one
    when `quantize_input`); the parameters are converted in place. Each Quantize
    gets its own random stream, drawn from `seed`.

    What is in `fmt`: the input, every layer's output and every gradient passed
    back between layers. What is not: the arithmetic inside a layer, which keeps
    the layer's dtype (float64 for ``dlkit.nn.mlp``'s default): a Linear layer
    multiplies numbers that `fmt` can hold and sums the products in float64, and
    only the Quantize after it rounds the result. Pair it with
    :class:`QuantizedSGD`, which keeps the weights and their gradients in `fmt`.
    """
    if not isinstance(model, Sequential):
        raise TypeError(f"quantize_model needs a Sequential, got {type(model).__name__}")
    _check_formats("quantize_model", fmt, None, rounding)
    seeds = np.random.SeedSequence(_seed_int(seed)).spawn(len(model) + 2)
    init = np.random.default_rng(seeds[-1])
    for p in model.parameters():
        p.data[...] = fmt.quantize(p.data, rounding, init)
    layers: list[Layer] = []
    if quantize_input:
        layers.append(Quantize(fmt, rounding, seed=np.random.default_rng(seeds[-2])))
    for layer, s in zip(model, seeds):
        layers += [layer, Quantize(fmt, rounding, seed=np.random.default_rng(s))]
    return Sequential(*layers)


def _seed_int(seed) -> int:
    if isinstance(seed, np.random.Generator):
        return int(seed.integers(2**63))
    _rng(seed)  # validates
    return int(seed)


# -- the experiment of chapter 9 -----------------------------------------------------------


@dataclass(frozen=True)
class RunResult:
    """One training run: its format, rounding and what it reached."""

    fmt: str
    rounding: str
    test_error: float
    train_loss: float
    lost_fraction: float  # weight updates rounded away (0 for float32)
    kept_ratio: float  # Σ|Δθ| / Σ|η∇|: movement made over movement asked (1 for float32)


def train_digits(
    fmt=None,
    rounding: str = "nearest",
    *,
    hidden: int = 100,
    lr: float = 0.1,
    epochs: int = 20,
    batch_size: int = 32,
    seed=0,
) -> RunResult:
    """Train a 64-`hidden`-10 ReLU network on the digits; return its test error.

    SGD with learning rate η = `lr` on mini-batches of B = `batch_size` examples.
    ``fmt=None`` trains in float32 with plain SGD (the baseline). Otherwise the
    weights, the activations and the gradients are stored in `fmt`
    (:func:`quantize_model` + :class:`QuantizedSGD`, no master copy of the weights),
    while the arithmetic is float64: each Linear layer multiplies stored numbers and
    sums the products in float64, and only its output is converted with `rounding`,
    as in Gupta et al. (2015). ``Float16()`` is thus float16 storage with float64
    accumulation, not float16 arithmetic.
    """
    from dlkit.data import load_digits
    from dlkit.nn import CrossEntropyLoss, mlp
    from dlkit.optim import SGD
    from dlkit.train import accuracy, fit

    X, y, X_test, y_test = load_digits(seed=0)
    s = _seed_int(seed)
    if fmt is None:
        model = mlp([64, hidden, 10], "relu", seed=s, dtype=np.float32)
        opt = SGD(model.parameters(), lr=lr)
        name, rounding = "float32", "-"
    else:
        model = quantize_model(mlp([64, hidden, 10], "relu", seed=s), fmt, rounding, seed=s)
        opt = QuantizedSGD(model.parameters(), lr=lr, fmt=fmt, rounding=rounding, seed=s + 1)
        name = str(fmt)
    hist = fit(
        model,
        CrossEntropyLoss(),
        opt,
        X,
        y,
        epochs=epochs,
        batch_size=batch_size,
        seed=s,
        classify=False,
    )
    model.eval()
    err = 1.0 - accuracy(model.forward(X_test), y_test)
    if fmt is None:
        return RunResult(name, rounding, err, hist.loss[-1], 0.0, 1.0)
    return RunResult(name, rounding, err, hist.loss[-1], opt.lost_fraction, opt.kept_ratio)


def compare_formats(fls=(14, 10, 8, 6), wl: int = 16, **kwargs) -> list[RunResult]:
    """float32, then ⟨WL−FL, FL⟩ with both roundings for each FL: chapter 9's table."""
    rows = [train_digits(None, **kwargs)]
    for fl in fls:
        for rounding in ROUNDINGS:
            rows.append(train_digits(FixedPoint(wl - fl, fl), rounding, **kwargs))
    return rows


def format_table(rows: list[RunResult]) -> str:
    """The rows of :func:`compare_formats` as a text table (errors in percent)."""
    lines = [
        f"{'format':<10} {'WL':>3} {'FL':>3} {'rounding':<11} {'test error':>10} "
        f"{'train loss':>10} {'updates lost':>12} {'kept':>6}"
    ]
    for r in rows:
        wl = fl = "-"
        if r.fmt.startswith("<"):
            il, fl = (int(v) for v in r.fmt.strip("<>").split(","))
            wl = il + fl
        lines.append(
            f"{r.fmt:<10} {wl!s:>3} {fl!s:>3} {r.rounding:<11} "
            f"{100 * r.test_error:>9.2f}% {r.train_loss:>10.4f} "
            f"{100 * r.lost_fraction:>11.1f}% {r.kept_ratio:>6.3f}"
        )
    return "\n".join(lines)
