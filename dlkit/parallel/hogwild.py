"""HOGWILD!: stochastic gradient descent by several threads on one shared weight vector.

Niu, Recht, Ré and Wright (2011) let p threads run SGD on the same parameters θ ∈ R^P
in shared memory with no lock at all: each thread reads θ, computes the gradient of one
example's loss and writes its update, while the others do the same. A thread may read
a θ that others are about to change (a stale read) and may overwrite a coordinate that
another thread changed between its read and its write (a lost update). When every
example touches only a few of the P coordinates, such collisions are rare and the
method converges almost as serial SGD does, p times faster.

This module runs that experiment with real threads. The model is logistic regression
on examples x ∈ R^P with labels y' = ±1; the loss of one example is

    ℓ(θ) = log(1 + exp(−y' θ·x)),   ∇ℓ = −y' σ(−y' θ·x) x,

so an SGD step θ ← θ − η ∇ℓ changes only the coordinates where x is non-zero. The
examples are stored as CSR arrays (``indptr``, ``indices``, ``data``): example n has
the non-zeros ``data[indptr[n]:indptr[n+1]]`` at the coordinates
``indices[indptr[n]:indptr[n+1]]``. Three ways to share θ between p threads:

- ``"hogwild"``: no lock; plain loads and stores (Niu et al.'s scheme);
- ``"lock"``: one global lock held for the whole step (read, gradient, write), so the
  steps happen one at a time; Numba has no mutex in compiled code, so the lock is a
  spin lock on a compare-and-swap;
- ``"atomic"``: every coordinate's update is one atomic add (LLVM ``atomicrmw fadd``,
  a compare-and-swap loop on x86): no update is lost, reads may still be stale.

Each worker is a Numba function compiled with ``nogil=True``: it releases Python's
global interpreter lock, so p Python threads really run it at the same time on p cores.
The order in which threads interleave is up to the machine, so two runs with p ≥ 2
threads differ in their last digits. :func:`hogwild` with ``serial=True`` replays the
same schedule in one thread in a fixed round-robin order, for results that are equal on
every machine (see :func:`replay_epoch`).

:func:`hypergraph` computes Niu et al.'s measures of sparsity (Ω, Δ, ρ) of a problem.
"""

from __future__ import annotations

import threading
import time
import dataclasses
from dataclasses import dataclass

import numpy as np
from numba import njit, types
from numba.core import cgutils
from numba.extending import intrinsic

MODES = ("hogwild", "lock", "atomic")
_HOGWILD, _LOCK, _ATOMIC = 0, 1, 2


# --------------------------------------------------------------------------------------
# Problems
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Examples:
    """N examples as CSR arrays, with labels y' = ±1.

    indptr (N + 1,) int64, indices (nnz,) int64 (coordinates in 0..P−1), data (nnz,)
    float64 (the values x_j), y (N,) float64 (±1).
    """

    indptr: np.ndarray
    indices: np.ndarray
    data: np.ndarray
    y: np.ndarray

    @property
    def N(self) -> int:
        return len(self.y)

    def dense(self, P: int) -> np.ndarray:
        """The examples as a dense (N, P) array (for small problems and tests)."""
        X = np.zeros((self.N, P))
        for n in range(self.N):
            lo, hi = self.indptr[n], self.indptr[n + 1]
            X[n, self.indices[lo:hi]] = self.data[lo:hi]
        return X


@dataclass(frozen=True)
class Problem:
    """A logistic-regression problem: training and test examples over P coordinates.

    ``theta_star`` is the θ that generated the labels (y' = +1 with probability
    σ(θ*·x)), or None for a problem built by hand.
    """

    train: Examples
    test: Examples
    P: int
    name: str = "problem"
    theta_star: np.ndarray | None = None

    def __post_init__(self):
        _check_problem(self)


def _check_problem(problem: Problem) -> None:
    if not isinstance(problem.P, (int, np.integer)) or problem.P < 1:
        raise ValueError(f"Problem: P must be a positive integer, got {problem.P!r}")
    for part in ("train", "test"):
        ex = getattr(problem, part)
        if not isinstance(ex, Examples):
            raise TypeError(f"Problem: {part} must be an Examples, got {type(ex).__name__}")
        for field, dtype in (
            ("indptr", np.int64),
            ("indices", np.int64),
            ("data", np.float64),
            ("y", np.float64),
        ):
            a = getattr(ex, field)
            if not (isinstance(a, np.ndarray) and a.dtype == dtype and a.ndim == 1):
                raise ValueError(
                    f"Problem.{part}.{field} must be a 1-D {np.dtype(dtype).name} array; "
                    f"convert it with np.asarray(..., dtype=np.{np.dtype(dtype).name})"
                )
            if not a.flags.c_contiguous:
                raise ValueError(f"Problem.{part}.{field} must be contiguous: pass a copy")
        N = len(ex.y)
        if len(ex.indptr) != N + 1 or ex.indptr[0] != 0 or ex.indptr[-1] != len(ex.indices):
            raise ValueError(
                f"Problem.{part}: indptr must have N + 1 = {N + 1} entries, start at 0 and "
                f"end at len(indices) = {len(ex.indices)}"
            )
        if np.any(np.diff(ex.indptr) < 0):
            raise ValueError(f"Problem.{part}: indptr must be non-decreasing")
        if len(ex.data) != len(ex.indices):
            raise ValueError(f"Problem.{part}: data and indices must have the same length")
        if len(ex.indices) and (ex.indices.min() < 0 or ex.indices.max() >= problem.P):
            raise ValueError(f"Problem.{part}: every index must be in 0..P-1 = 0..{problem.P - 1}")
        if not np.all(np.abs(ex.y) == 1.0):
            raise ValueError(f"Problem.{part}: labels y must be +1 or -1 (y' = 2y - 1 for 0/1)")
    if problem.train.N < 1:
        raise ValueError("Problem: the training set is empty")


def _make_examples(cols: np.ndarray, vals: np.ndarray, theta_star, g) -> Examples:
    """CSR examples with `cols`/`vals` (N, k) and labels drawn from σ(θ*·x)."""
    N, k = cols.shape
    z = np.einsum("nk,nk->n", vals, theta_star[cols])
    y = np.where(g.random(N) < 1.0 / (1.0 + np.exp(-z)), 1.0, -1.0)
    indptr = np.arange(0, N * k + 1, k, dtype=np.int64)
    return Examples(indptr, cols.reshape(-1).astype(np.int64), vals.reshape(-1).copy(), y)


def sparse_problem(
    N: int = 50_000, P: int = 10_000, nnz: int = 10, *, n_test: int = 10_000, seed: int = 0
) -> Problem:
    """Sparse logistic regression: each example has `nnz` non-zeros among P coordinates.

    The coordinates of an example are `nnz` distinct ones drawn uniformly; the values are
    N(0, 1/nnz), so that ‖x‖ ≈ 1; θ* has N(0, 3²) entries, and each label is y' = +1 with
    probability σ(θ*·x) (a noisy problem: even θ* misclassifies some examples).
    """
    _check_sizes(N=N, P=P, nnz=nnz, n_test=n_test)
    if nnz > P:
        raise ValueError(f"sparse_problem: nnz = {nnz} non-zeros do not fit in P = {P}")
    g = np.random.default_rng(seed)
    theta_star = 3.0 * g.standard_normal(P)
    parts = []
    for M in (N, n_test):
        # nnz distinct coordinates per example: uniform draws, redrawn for the rows
        # with a repeat (few when nnz is small against P), else a random ordering of
        # all P; then sorted, so each row's indices ascend.
        if nnz * 4 <= P:
            cols = g.integers(0, P, size=(M, nnz))
            bad = _rows_with_repeats(cols)
            while bad.any():
                cols[bad] = g.integers(0, P, size=(int(bad.sum()), nnz))
                bad = _rows_with_repeats(cols)
        else:
            cols = np.argsort(g.random((M, P)), axis=1)[:, :nnz]
        cols = np.sort(cols, axis=1)
        vals = g.standard_normal((M, nnz)) / np.sqrt(nnz)
        parts.append(_make_examples(cols, vals, theta_star, g))
    return Problem(parts[0], parts[1], int(P), f"sparse ({nnz} of {P})", theta_star)


def dense_problem(N: int = 20_000, P: int = 100, *, n_test: int = 5_000, seed: int = 0) -> Problem:
    """Dense logistic regression: every example has all P coordinates non-zero.

    The same model as :func:`sparse_problem` with nnz = P, stored in the same CSR form,
    so the same workers run it: every step now writes every coordinate of θ, and p
    threads collide on every step (Ω = P, Δ = ρ = 1).
    """
    _check_sizes(N=N, P=P, n_test=n_test)
    g = np.random.default_rng(seed)
    theta_star = 3.0 * g.standard_normal(P)
    parts = []
    for M in (N, n_test):
        cols = np.broadcast_to(np.arange(P), (M, P))
        vals = g.standard_normal((M, P)) / np.sqrt(P)
        parts.append(_make_examples(np.ascontiguousarray(cols), vals, theta_star, g))
    return Problem(parts[0], parts[1], int(P), f"dense ({P})", theta_star)


def _rows_with_repeats(cols: np.ndarray) -> np.ndarray:
    s = np.sort(cols, axis=1)
    return (s[:, 1:] == s[:, :-1]).any(axis=1)


def _check_sizes(**sizes) -> None:
    for name, v in sizes.items():
        low = 0 if name == "n_test" else 1
        if not isinstance(v, (int, np.integer)) or isinstance(v, bool) or v < low:
            raise ValueError(f"{name} must be an integer >= {low}, got {v!r}")


# --------------------------------------------------------------------------------------
# Atomic operations for Numba CPU code (LLVM instructions, through @intrinsic)
# --------------------------------------------------------------------------------------


def _item_pointer(context, builder, aty, aval, idx):
    ary = context.make_array(aty)(context, builder, aval)
    return cgutils.get_item_pointer(context, builder, aty, ary, [idx])


@intrinsic
def atomic_add(typingctx, a, i, v):
    """``a[i] += v`` as one atomic read-modify-write (float64 array); returns the old a[i]."""
    if not (isinstance(a, types.Array) and a.dtype == types.float64):
        return None
    if not (isinstance(i, types.Integer) and isinstance(v, (types.Float, types.Integer))):
        return None

    def codegen(context, builder, sig, args):
        ptr = _item_pointer(context, builder, sig.args[0], args[0], args[1])
        val = context.cast(builder, args[2], sig.args[2], types.float64)
        return builder.atomic_rmw("fadd", ptr, val, "monotonic")

    return types.float64(a, i, v), codegen


@intrinsic
def compare_and_swap(typingctx, a, i, expected, new):
    """If a[i] == expected, set a[i] = new, atomically (int64 array); return the old a[i]."""
    if not (isinstance(a, types.Array) and a.dtype == types.int64):
        return None

    def codegen(context, builder, sig, args):
        ptr = _item_pointer(context, builder, sig.args[0], args[0], args[1])
        e = context.cast(builder, args[2], sig.args[2], types.int64)
        n = context.cast(builder, args[3], sig.args[3], types.int64)
        pair = builder.cmpxchg(ptr, e, n, "acquire", "monotonic")
        return builder.extract_value(pair, 0)

    return types.int64(a, i, expected, new), codegen


@intrinsic
def store_release(typingctx, a, i, v):
    """``a[i] = v`` (int64 array), after every earlier write of this thread is visible."""
    if not (isinstance(a, types.Array) and a.dtype == types.int64):
        return None

    def codegen(context, builder, sig, args):
        ptr = _item_pointer(context, builder, sig.args[0], args[0], args[1])
        val = context.cast(builder, args[2], sig.args[2], types.int64)
        builder.store_atomic(val, ptr, "release", 8)
        return context.get_dummy_value()

    return types.void(a, i, v), codegen


# --------------------------------------------------------------------------------------
# The workers
# --------------------------------------------------------------------------------------


@njit(nogil=True, cache=True)
def sgd_steps(indptr, indices, data, y, theta, r, p, lr, mode, lock):
    """Thread r's share of one epoch: SGD steps on examples r, r + p, r + 2p, ...

    For each example n: z = θ·x_n over its non-zeros, the derivative of the loss
    dℓ/dz = −y'_n σ(−y'_n z), then θ_j ← θ_j − η (dℓ/dz) x_nj on its non-zeros.
    mode 0 (HOGWILD!) writes with plain stores; mode 1 holds the global spin lock
    ``lock[0]`` for the whole step; mode 2 writes each coordinate by an atomic add.
    """
    for n in range(r, y.shape[0], p):
        lo, hi = indptr[n], indptr[n + 1]
        if mode == 1:  # acquire: swap lock[0] from 0 to 1, retrying while it is taken
            while compare_and_swap(lock, 0, 0, 1) != 0:
                pass
        z = 0.0
        for q in range(lo, hi):
            z += theta[indices[q]] * data[q]
        step = lr * (-y[n] / (1.0 + np.exp(y[n] * z)))  # η dℓ/dz
        if mode == 2:
            for q in range(lo, hi):
                atomic_add(theta, indices[q], -(step * data[q]))
        else:
            for q in range(lo, hi):
                theta[indices[q]] -= step * data[q]
        if mode == 1:  # release
            store_release(lock, 0, 0)


@njit(cache=True)
def replay_epoch(indptr, indices, data, y, theta, p, lr, mode, read, written):
    """One epoch of p threads, replayed in one thread in a fixed round-robin order.

    Round k gives thread r the example k p + r, as :func:`sgd_steps` does. With the
    lock (mode 1) the p steps of a round run one after another: plain SGD over the
    examples in their order. Without it every thread of a round first reads θ and
    computes its step (so each read misses the other p − 1 updates of the round), then
    the threads write in the order r = 0, ..., p − 1: with atomic adds (mode 2) every update lands; with
    plain stores (mode 0) thread r writes θ_j = (θ_j as it read it) − η (dℓ/dz) x_j, so
    where two examples of a round share a coordinate the later write overwrites the
    earlier update. Returns the number of such lost coordinate updates.

    This is the worst interleaving of a round, not a typical one: on real cores a
    thread's read and write are a few nanoseconds apart and most steps do not overlap.

    ``read`` (nnz,) float64 and ``written`` (P,) int64 are scratch arrays.
    """
    N = y.shape[0]
    lost = 0
    written[:] = -1  # written[j]: the last round that wrote θ_j
    steps = np.empty(p)
    for k0 in range(0, N, p):
        m = min(p, N - k0)
        if mode == 1:
            for r in range(m):
                n = k0 + r
                z = 0.0
                for q in range(indptr[n], indptr[n + 1]):
                    z += theta[indices[q]] * data[q]
                step = lr * (-y[n] / (1.0 + np.exp(y[n] * z)))
                for q in range(indptr[n], indptr[n + 1]):
                    theta[indices[q]] -= step * data[q]
            continue
        for r in range(m):  # every thread reads θ ...
            n = k0 + r
            z = 0.0
            for q in range(indptr[n], indptr[n + 1]):
                read[q] = theta[indices[q]]
                z += read[q] * data[q]
            steps[r] = lr * (-y[n] / (1.0 + np.exp(y[n] * z)))
        for r in range(m):  # ... then every thread writes
            n = k0 + r
            for q in range(indptr[n], indptr[n + 1]):
                j = indices[q]
                if mode == 2:
                    theta[j] -= steps[r] * data[q]
                else:
                    if written[j] == k0:
                        lost += 1
                    written[j] = k0
                    theta[j] = read[q] - steps[r] * data[q]
    return lost


@njit(cache=True)
def loss_and_accuracy(indptr, indices, data, y, theta):
    """Mean loss ℓ = log(1 + exp(−y' θ·x)) and the fraction with y' θ·x > 0."""
    N = y.shape[0]
    total = 0.0
    right = 0
    for n in range(N):
        z = 0.0
        for q in range(indptr[n], indptr[n + 1]):
            z += theta[indices[q]] * data[q]
        margin = y[n] * z
        total += max(-margin, 0.0) + np.log1p(np.exp(-abs(margin)))
        if margin > 0:
            right += 1
    return total / N, right / N


# --------------------------------------------------------------------------------------
# Training
# --------------------------------------------------------------------------------------


@dataclass
class HogwildResult:
    """What :func:`hogwild` returns.

    theta (P,): the final weights θ. loss (epochs,): the mean training loss after each
    epoch; accuracy (epochs,): the test accuracy after each epoch. updates_per_s: SGD
    steps (one example each) per second of wall time, all threads together, measured
    over the epochs alone (not the loss evaluations). lost: coordinate updates
    overwritten in the serialised HOGWILD! replay (0 for every other run: a threaded run
    cannot count its own).
    """

    theta: np.ndarray = dataclasses.field(repr=False)
    loss: np.ndarray
    accuracy: np.ndarray
    updates_per_s: float
    seconds: float
    n_threads: int
    mode: str
    serial: bool
    lost: int = 0


def epoch_orders(N: int, epochs: int, seed: int) -> np.ndarray:
    """The example order of every epoch, (epochs, N) int64: a fresh permutation each."""
    g = np.random.default_rng(seed)
    return np.stack([g.permutation(N) for _ in range(epochs)]).astype(np.int64)


def shuffled(examples: Examples, order: np.ndarray) -> Examples:
    """A copy of `examples` stored in the given order (example order[i] becomes row i).

    Copying the examples into each epoch's order lets the workers stream through memory
    instead of jumping to a random example at every step (a cache miss or more each).
    """
    sizes = np.diff(examples.indptr)[order]
    indptr = np.zeros(len(order) + 1, np.int64)
    np.cumsum(sizes, out=indptr[1:])
    # Position i of the copy reads position src[i] of the original.
    src = np.repeat(examples.indptr[order] - indptr[:-1], sizes) + np.arange(indptr[-1])
    return Examples(indptr, examples.indices[src], examples.data[src], examples.y[order])


def run_epoch(ex: Examples, theta, n_threads: int, lr: float, mode: int, lock) -> None:
    """One epoch of :func:`sgd_steps` on `n_threads` Python threads, joined at the end."""
    args = (ex.indptr, ex.indices, ex.data, ex.y, theta)
    if n_threads == 1:
        sgd_steps(*args, 0, 1, lr, mode, lock)
        return
    threads = [
        threading.Thread(target=sgd_steps, args=(*args, r, n_threads, lr, mode, lock))
        for r in range(n_threads)
    ]
    for th in threads:
        th.start()
    for th in threads:
        th.join()


def hogwild(
    problem: Problem,
    n_threads: int = 2,
    mode: str = "hogwild",
    epochs: int = 5,
    lr: float = 0.5,
    seed: int = 0,
    *,
    serial: bool = False,
) -> HogwildResult:
    """SGD on ``problem`` by p = ``n_threads`` threads sharing one θ, for ``epochs`` epochs.

    θ starts at 0. Each epoch takes a fresh permutation of the training examples (from
    ``seed``), split round-robin: thread r takes positions r, r + p, r + 2p, ... and runs
    :func:`sgd_steps` on them with learning rate η = ``lr``; the threads are joined at the
    end of each epoch. ``mode`` is ``"hogwild"`` (no lock), ``"lock"`` (one global lock)
    or ``"atomic"`` (atomic adds). With ``serial=True`` the p threads' schedule is
    replayed by :func:`replay_epoch` in one thread: the same result on every run and
    every machine. With p = 1 every mode is plain serial SGD, bit for bit.
    """
    mode_id = _check_run(problem, n_threads, mode, epochs, lr, seed, serial)
    lr = float(lr)
    tr, te = problem.train, problem.test
    theta = np.zeros(problem.P)
    lock = np.zeros(1, np.int64)  # the global lock: 0 free, 1 taken
    read, written = np.empty(len(tr.data)), np.full(problem.P, -1, np.int64)
    none = shuffled(tr, np.arange(0))  # compile (or load) the workers: zero steps
    run_epoch(none, theta, 1, lr, mode_id, lock)
    replay_epoch(none.indptr, none.indices, none.data, none.y, theta, 1, lr, 0, read, written)
    loss, accuracy = np.empty(epochs), np.empty(epochs)
    seconds, lost = 0.0, 0
    for e, order in enumerate(epoch_orders(tr.N, epochs, seed)):
        ex = shuffled(tr, order)
        t0 = time.perf_counter()
        if serial:
            args = (ex.indptr, ex.indices, ex.data, ex.y, theta)
            lost += replay_epoch(*args, n_threads, lr, mode_id, read, written)
        else:
            run_epoch(ex, theta, n_threads, lr, mode_id, lock)
        seconds += time.perf_counter() - t0
        loss[e] = loss_and_accuracy(tr.indptr, tr.indices, tr.data, tr.y, theta)[0]
        accuracy[e] = loss_and_accuracy(te.indptr, te.indices, te.data, te.y, theta)[1]
    rate = epochs * tr.N / seconds if seconds > 0 else float("inf")
    return HogwildResult(theta, loss, accuracy, rate, seconds, n_threads, mode, serial, lost)


def _check_run(problem, n_threads, mode, epochs, lr, seed, serial) -> int:
    if not isinstance(problem, Problem):
        raise TypeError(
            f"hogwild: problem must be a Problem (from sparse_problem() or dense_problem()), "
            f"got {type(problem).__name__}"
        )
    if not isinstance(n_threads, (int, np.integer)) or isinstance(n_threads, bool) or n_threads < 1:
        raise ValueError(f"hogwild: n_threads must be an integer >= 1, got {n_threads!r}")
    if mode not in MODES:
        raise ValueError(
            f"hogwild: mode must be one of {', '.join(map(repr, MODES))}; got {mode!r}"
        )
    if not isinstance(epochs, (int, np.integer)) or isinstance(epochs, bool) or epochs < 1:
        raise ValueError(f"hogwild: epochs must be an integer >= 1, got {epochs!r}")
    if not isinstance(lr, (int, float, np.floating)) or not np.isfinite(lr) or lr <= 0:
        raise ValueError(f"hogwild: lr (the learning rate η) must be a positive number, got {lr!r}")
    if not isinstance(seed, (int, np.integer)) or isinstance(seed, bool):
        raise ValueError(f"hogwild: seed must be an integer, got {seed!r}")
    if not isinstance(serial, (bool, np.bool_)):
        raise ValueError(f"hogwild: serial must be True or False, got {serial!r}")
    return MODES.index(mode)


# --------------------------------------------------------------------------------------
# Niu et al.'s hypergraph
# --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Hypergraph:
    """Niu et al.'s (2011) sparsity measures of a problem's hypergraph G = (V, E).

    The vertices are the P coordinates of θ; each training example is an edge e, the set
    of coordinates where it is non-zero (the coordinates its SGD step changes).

    - Omega, Ω = max_e |e|: the most coordinates one step touches;
    - Delta, Δ = max_v |{e : v ∈ e}| / |E|: the largest fraction of steps that touch one
      coordinate;
    - rho, ρ = max_e |{ê : ê ∩ e ≠ ∅}| / |E|: the largest fraction of steps that share a
      coordinate with one step (e itself counted), so a step collides with at most
      ρ|E| others.
    """

    Omega: int
    Delta: float
    rho: float
    n_edges: int
    n_vertices: int


@njit(cache=True)
def _max_edge_degree(indptr, indices, col_ptr, col_rows):
    """max_e |{ê : ê ∩ e ≠ ∅}|, by marking the edges met through each vertex of e."""
    N = indptr.shape[0] - 1
    mark = np.full(N, -1, np.int64)
    best = 0
    for e in range(N):
        count = 0
        for q in range(indptr[e], indptr[e + 1]):
            v = indices[q]
            for s in range(col_ptr[v], col_ptr[v + 1]):
                f = col_rows[s]
                if mark[f] != e:
                    mark[f] = e
                    count += 1
        if count > best:
            best = count
            if best == N:  # every edge meets e: the largest value possible
                break
    return best


def hypergraph(problem: Problem) -> Hypergraph:
    """Ω, Δ and ρ of the problem's training examples (see :class:`Hypergraph`)."""
    if not isinstance(problem, Problem):
        raise TypeError(f"hypergraph: problem must be a Problem, got {type(problem).__name__}")
    tr = problem.train
    sizes = np.diff(tr.indptr)
    # Each coordinate's edges (the CSC form of the same matrix); a coordinate listed
    # twice in one example is one vertex of that edge.
    rows = np.repeat(np.arange(tr.N, dtype=np.int64), sizes)
    keys = np.sort(tr.indices * tr.N + rows)  # by coordinate v, then by edge
    keys = keys[np.concatenate([[True], keys[1:] != keys[:-1]])]  # each pair once
    v, col_rows = keys // tr.N, np.ascontiguousarray(keys % tr.N)
    degree = np.bincount(v, minlength=problem.P)
    col_ptr = np.concatenate([[0], np.cumsum(degree)]).astype(np.int64)
    edge_sizes = np.bincount(col_rows, minlength=tr.N)
    Omega = int(edge_sizes.max()) if tr.N else 0
    met = _max_edge_degree(tr.indptr, tr.indices, col_ptr, col_rows)
    return Hypergraph(Omega, float(degree.max()) / tr.N, met / tr.N, tr.N, problem.P)
