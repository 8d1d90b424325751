"""Reproducibility: fingerprints of parameters, traces of training runs, the first step
where two runs part, and sums whose result does not depend on the thread count.

A training run is a long chain of floating-point operations; change one rounding and
every later step differs. This module gives the tools to find where two runs part:

- :func:`fingerprint`: one hash per tensor of a model (SHA-256 of the name, the dtype,
  the shape and the bytes in little-endian order): equal on every machine for
  bit-equal arrays, different for arrays that differ in one bit;
- :class:`Trace`: what ``dlkit.train.fit(..., fingerprint=True)`` records after every
  step (and before the first): the fingerprints, each tensor's norm ‖θ‖₂ and, on
  request, a copy of the parameters;
- :func:`first_divergence`: the first step and tensor where two traces differ, and by
  how much (a :class:`Divergence`);
- fixed-order reductions: :func:`tree_sum` adds p ranks' arrays in a fixed pairwise
  tree (``dlkit.parallel.data_parallel.allreduce_gradients(..., deterministic=True)``
  uses it); :func:`blocked_sum` adds a vector with any number of threads in fixed
  blocks, so that its bits do not depend on the thread count, where
  :func:`parallel_sum`, the usual one chunk per thread, changes with it;
- :class:`BuggyLinear` and :func:`inject_bug`: a Linear layer with a real bug in its
  backward (a gradient scaled by 1/B a second time, or a bias gradient of the wrong
  sign), to show that networks train despite bugs and which checks catch them.
"""

from __future__ import annotations

import hashlib
import threading
from dataclasses import dataclass, field

import numpy as np
from numba import njit

from dlkit.nn.core import Layer, Param
from dlkit.nn.linear import Linear

__all__ = [
    "fingerprint",
    "digest",
    "Trace",
    "Divergence",
    "first_divergence",
    "tree_sum",
    "sequential_sum",
    "parallel_sum",
    "blocked_sum",
    "BLOCK",
    "BuggyLinear",
    "BUGS",
    "inject_bug",
]


# ------------------------------------------------------------------ fingerprints


def _named_arrays(obj, who: str) -> list[tuple[str, np.ndarray]]:
    """(name, array) pairs of a Layer (its named parameters), a dict of arrays, a Param,
    an array, or a list/tuple of Params or arrays (named "0", "1", ...)."""
    if isinstance(obj, Layer):
        return [(name, p.data) for name, p in obj.named_parameters()]
    if isinstance(obj, dict):
        items = list(obj.items())
    elif isinstance(obj, (Param, np.ndarray)):
        items = [("", obj)]
    elif isinstance(obj, (list, tuple)):
        items = [(str(i), a) for i, a in enumerate(obj)]
    else:
        raise TypeError(
            f"{who}: pass a dlkit Layer, a dict of arrays, a Param, an array or a list of "
            f"them, got {type(obj).__name__}"
        )
    out = []
    for name, a in items:
        a = a.data if isinstance(a, Param) else a
        if not isinstance(a, np.ndarray) or a.dtype.kind not in "biuf":
            raise TypeError(
                f"{who}: tensor {name!r} must be a numpy array of numbers (or a Param), got "
                f"{type(a).__name__}{'' if not hasattr(a, 'dtype') else f' of dtype {a.dtype}'}"
            )
        out.append((str(name), a))
    return out


def _tensor_hash(name: str, a: np.ndarray) -> str:
    """SHA-256 of the name, dtype, shape and bytes of `a` in little-endian C order."""
    canon = np.ascontiguousarray(a, dtype=a.dtype.newbyteorder("<"))
    h = hashlib.sha256(f"{name}|{canon.dtype.str}|{canon.shape}|".encode())
    h.update(canon.tobytes())
    return h.hexdigest()[:16]


def fingerprint(model_or_params) -> dict[str, str]:
    """One hash per tensor: ``{name: 16 hex digits}``.

    The hash covers the tensor's name, dtype, shape and bytes, in little-endian C order,
    so it is the same on every machine for bit-equal arrays and differs when one bit
    does. `model_or_params` is a dlkit Layer (its ``named_parameters``), a dict of
    arrays, a Param, an array, or a list of Params or arrays.
    """
    return {
        name: _tensor_hash(name, a) for name, a in _named_arrays(model_or_params, "fingerprint")
    }


def digest(model_or_fingerprint) -> str:
    """One hash (16 hex digits) for a whole model: the hash of its sorted fingerprint."""
    fp = model_or_fingerprint
    if not (isinstance(fp, dict) and all(isinstance(v, str) for v in fp.values())):
        fp = fingerprint(fp)
    text = ";".join(f"{k}={v}" for k, v in sorted(fp.items()))
    return hashlib.sha256(text.encode()).hexdigest()[:16]


@dataclass
class Trace:
    """Per-step record of a training run: what ``fit(..., fingerprint=True)`` keeps.

    ``steps[i]`` is the number of optimizer steps taken when record i was made (0: the
    initial parameters); ``fingerprints[i]`` the :func:`fingerprint` then, ``norms[i]``
    each tensor's ‖θ‖₂ (a cheap summary that says how far two runs are apart even
    without the parameters), and, with ``keep_params=True``, ``params[i]`` a copy of
    every tensor (for the exact difference at the first divergence; small models only).
    """

    keep_params: bool = False
    steps: list[int] = field(default_factory=list)
    fingerprints: list[dict[str, str]] = field(default_factory=list)
    norms: list[dict[str, float]] = field(default_factory=list)
    params: list[dict[str, np.ndarray]] = field(default_factory=list)

    def record(self, step: int, model) -> None:
        """Append the fingerprint (and norms, and parameters) of `model` after `step` steps."""
        named = _named_arrays(model, "Trace.record")
        self.steps.append(int(step))
        self.fingerprints.append({n: _tensor_hash(n, a) for n, a in named})
        self.norms.append(
            {n: float(np.linalg.norm(a.astype(np.float64).ravel())) for n, a in named}
        )
        if self.keep_params:
            self.params.append({n: a.copy() for n, a in named})

    def __len__(self) -> int:
        return len(self.steps)

    def __repr__(self) -> str:
        last = (
            f", last step {self.steps[-1]}, digest {digest(self.fingerprints[-1])}" if self else ""
        )
        return f"Trace({len(self)} records{last})"


@dataclass(frozen=True)
class Divergence:
    """Where two runs part: the first recorded ``step`` at which a tensor differs, that
    ``tensor`` (the first in the model's order) and all ``tensors`` that differ then;
    ``max_abs`` = max |θ_a − θ_b| of that tensor when both traces kept their parameters
    (else None), and ``norm_a``, ``norm_b`` its norms ‖θ‖₂ in the two runs."""

    step: int
    tensor: str
    tensors: tuple[str, ...]
    max_abs: float | None
    norm_a: float
    norm_b: float

    @property
    def norm_gap(self) -> float:
        """|‖θ_a‖ − ‖θ_b‖|: a lower bound on ‖θ_a − θ_b‖, known without the parameters."""
        return abs(self.norm_a - self.norm_b)

    def __str__(self) -> str:
        others = len(self.tensors) - 1
        more = f" (and {others} other tensor{'s' * (others > 1)})" if others else ""
        size = (
            f"max |a - b| = {self.max_abs:.1e}"
            if self.max_abs is not None
            else f"norms {self.norm_a:.6g} vs {self.norm_b:.6g}"
        )
        return f"first divergence at step {self.step}, tensor {self.tensor!r}{more}: {size}"


def _trace(run, who: str, name: str) -> Trace:
    """The Trace of `run`: a Trace, or a History from ``fit(..., fingerprint=True)``."""
    trace = run if isinstance(run, Trace) else getattr(run, "trace", None)
    if not isinstance(trace, Trace):
        raise TypeError(
            f"{who}: {name} must be a Trace or the History of fit(..., fingerprint=True), "
            f"got {type(run).__name__}; train with fingerprint=True to record one"
        )
    return trace


def _check_pair(a: Trace, b: Trace, i: int) -> None:
    """Record i of both traces is of the same step and of the same tensors."""
    if a.steps[i] != b.steps[i]:
        raise ValueError(
            f"first_divergence: record {i} is of step {a.steps[i]} in run_a but of step "
            f"{b.steps[i]} in run_b; compare traces recorded at the same steps"
        )
    if list(a.fingerprints[i]) != list(b.fingerprints[i]):
        raise ValueError(
            f"first_divergence: the runs hold other tensors ({list(a.fingerprints[i])} vs "
            f"{list(b.fingerprints[i])}); compare runs of the same model"
        )


def first_divergence(run_a, run_b) -> Divergence | None:
    """The first step and tensor where two training runs differ, or None if every step
    both recorded is bit-equal.

    `run_a` and `run_b` are :class:`Trace` objects or the Histories returned by
    ``fit(..., fingerprint=True)``. Step by step, the tensors' fingerprints are
    compared; at the first mismatch the difference is measured: exactly (max |a − b|)
    when both runs kept their parameters, else by the tensors' norms.
    """
    a, b = _trace(run_a, "first_divergence", "run_a"), _trace(run_b, "first_divergence", "run_b")
    for i in range(min(len(a), len(b))):
        _check_pair(a, b, i)
        fa, fb = a.fingerprints[i], b.fingerprints[i]
        differ = tuple(name for name in fa if fa[name] != fb[name])
        if not differ:
            continue
        name = differ[0]
        max_abs = None
        if a.params and b.params:  # both kept their parameters: the exact difference
            diff = a.params[i][name].astype(np.float64) - b.params[i][name]
            max_abs = float(np.max(np.abs(diff)))
        return Divergence(a.steps[i], name, differ, max_abs, a.norms[i][name], b.norms[i][name])
    return None


# ------------------------------------------------------------ fixed-order reductions


def tree_sum(rows) -> np.ndarray:
    """Σ_r rows[r] in a fixed pairwise tree: ((x_0 + x_1) + (x_2 + x_3)) + ...

    `rows` (p, ...) holds p arrays, one per rank, in rank order. The tree depends only
    on p, so the result is the same bits whatever order the rows arrived in, whatever
    allreduce algorithm moved them, and on every machine.
    """
    parts = list(np.asarray(rows))
    if not parts:
        raise ValueError("tree_sum: rows is empty; pass at least one array (one per rank)")
    while len(parts) > 1:
        paired = [parts[i] + parts[i + 1] for i in range(0, len(parts) - 1, 2)]
        parts = paired + parts[len(paired) * 2 :]  # an odd last one moves up unchanged
    return np.array(parts[0], copy=True)


#: The block length of :func:`blocked_sum`: fixed, so the blocks do not depend on the
#: thread count.
BLOCK = 4096


@njit(nogil=True, cache=True)
def _range_sum(x, lo, hi):
    """x[lo] + x[lo + 1] + ... + x[hi - 1], strictly left to right (no reordering)."""
    s = 0.0
    for i in range(lo, hi):
        s += x[i]
    return s


@njit(nogil=True, cache=True)
def _block_sums(x, block, first, last, out):
    """out[k] = the sum of block k (entries k B .. (k+1) B - 1), for first <= k < last."""
    for k in range(first, last):
        out[k] = _range_sum(x, k * block, min((k + 1) * block, x.shape[0]))


def _check_sum(x, threads: int, who: str) -> np.ndarray:
    """`x` as a flat float64 array; `threads` an int >= 1."""
    if isinstance(threads, bool) or not isinstance(threads, (int, np.integer)) or threads < 1:
        raise ValueError(f"{who}: threads must be an int >= 1, got {threads!r}")
    x = np.asarray(x)
    if x.dtype.kind not in "biuf":
        raise TypeError(f"{who}: x must hold real numbers, got dtype {x.dtype}")
    return np.ascontiguousarray(x, dtype=np.float64).ravel()


def _on_threads(threads: int, work) -> None:
    """Run ``work(t)`` for t = 0 .. threads-1, each on its own thread (the compiled
    kernels release the GIL, so the threads really run at the same time)."""
    if threads == 1:
        work(0)
        return
    pool = [threading.Thread(target=work, args=(t,)) for t in range(threads)]
    for th in pool:
        th.start()
    for th in pool:
        th.join()


def sequential_sum(x) -> float:
    """x_0 + x_1 + ... + x_{n-1}, left to right: the textbook order (one thread)."""
    x = _check_sum(x, 1, "sequential_sum")
    return float(_range_sum(x, 0, x.size))


def parallel_sum(x, threads: int) -> float:
    """The usual parallel reduction: thread t adds its contiguous chunk
    [t n/T, (t+1) n/T) of the T = `threads` chunks, then the T partial sums are added.

    The chunks, hence the rounding, change with T: another thread count, other bits.
    """
    x = _check_sum(x, threads, "parallel_sum")
    edges = np.arange(threads + 1) * x.size // threads
    partial = np.zeros(threads)

    def work(t: int) -> None:
        partial[t] = _range_sum(x, edges[t], edges[t + 1])

    _on_threads(threads, work)
    return float(_range_sum(partial, 0, threads))


def blocked_sum(x, threads: int, block: int = BLOCK) -> float:
    """A parallel sum whose bits do not depend on the thread count.

    The vector is cut into fixed blocks of B = `block` entries (independent of T =
    `threads`); thread t adds its share of whole blocks, each left to right into the
    block's own slot, and the block sums are then added in block order. Every addition
    is the same whatever T, so the result is the same bits with 1 thread or 64. The
    cost is one slot per block instead of one per thread.
    """
    x = _check_sum(x, threads, "blocked_sum")
    if isinstance(block, bool) or not isinstance(block, (int, np.integer)) or block < 1:
        raise ValueError(f"blocked_sum: block must be an int >= 1, got {block!r}")
    partial = np.zeros(-(-x.size // block))  # one slot per block
    share = np.arange(threads + 1) * partial.size // threads  # thread t: blocks share[t]..

    def work(t: int) -> None:
        _block_sums(x, block, share[t], share[t + 1], partial)

    _on_threads(threads, work)
    return float(_range_sum(partial, 0, partial.size))


# ----------------------------------------------------------------- a buggy layer

#: The bugs :class:`BuggyLinear` can have.
BUGS = ("scale", "sign")


class BuggyLinear(Linear):
    """A Linear layer with one real bug in its backward pass.

    - ``bug="scale"``: ∂𝓛/∂W is divided by the batch size B a second time (the loss
      already averaged over the batch), so the layer learns B times too slowly;
    - ``bug="sign"``: ∂𝓛/∂b has the wrong sign, so the bias climbs the loss.

    The forward pass and the gradient passed to the layer below are right, so the
    network still trains. Build one from a layer with :meth:`from_layer` (it shares
    that layer's parameters) or put it in a network with :func:`inject_bug`.
    """

    def __init__(self, *args, bug: str = "scale", **kwargs):
        super().__init__(*args, **kwargs)
        self.bug = _check_bug(bug)

    @classmethod
    def from_layer(cls, layer: Linear, bug: str = "scale") -> "BuggyLinear":
        """A BuggyLinear with the same parameters (the same arrays) as `layer`."""
        if not isinstance(layer, Linear):
            raise TypeError(f"BuggyLinear.from_layer: layer must be a Linear, got {layer!r}")
        new = cls.__new__(cls)
        new.__dict__.update(layer.__dict__)
        new.bug = _check_bug(bug)
        return new

    def backward(self, dout: np.ndarray) -> np.ndarray:
        dA = super().backward(dout)  # the right gradients ...
        if self.bug == "scale":
            self.W.grad /= len(dout)  # ... then the bug: the batch mean taken twice
        elif self.b is not None:
            np.negative(self.b.grad, out=self.b.grad)  # ... or: the bias gradient's sign
        return dA

    def __repr__(self) -> str:
        return f"BuggyLinear({self.in_features}, {self.out_features}, bug={self.bug!r})"


def _check_bug(bug) -> str:
    if bug not in BUGS:
        raise ValueError(
            f"BuggyLinear: bug must be one of {', '.join(map(repr, BUGS))}, got {bug!r}"
        )
    return bug


def inject_bug(model, layer: int, bug: str = "scale"):
    """Replace ``model.layers[layer]`` (a Linear) by a :class:`BuggyLinear` with the same
    parameters, in place; build the optimizer afterwards or before: the arrays are the
    same. Returns `model`."""
    layers = getattr(model, "layers", None)
    if not isinstance(layers, list):
        raise TypeError(f"inject_bug: model must be a Sequential, got {type(model).__name__}")
    if (
        isinstance(layer, bool)
        or not isinstance(layer, int)
        or not -len(layers) <= layer < len(layers)
    ):
        raise ValueError(f"inject_bug: layer must be an index in [0, {len(layers)}), got {layer!r}")
    if not isinstance(layers[layer], Linear):
        linear = [i for i, m in enumerate(layers) if isinstance(m, Linear)]
        raise ValueError(
            f"inject_bug: layer {layer} is {layers[layer]!r}, not a Linear; the Linear layers "
            f"are at {linear}"
        )
    layers[layer] = BuggyLinear.from_layer(layers[layer], bug)
    return model
