"""Check every kernel of :mod:`dlkit.kernels.cuda` against numpy, on a GPU or in the simulator.

``python -m dlkit.kernels.cuda_check`` runs each kernel on ragged sizes (no dimension a
multiple of a block or a tile) for float32 and float64 and prints, per kernel, the
largest error against a float64 numpy reference and that error as a fraction of its
bound; ``--bench`` then times the tiled GEMM against ``cupy.matmul`` (cuBLAS) at
4096² in float32 when CuPy is installed, and the direct convolution on the layers of
LeNet-5; ``--json PATH`` writes the device, the date and every figure to PATH.

The cases are one list, :data:`CASES`, shared with the tests (tests/cuda), which run
them in Numba's CUDA simulator on the small sizes (``big=False``); a GPU run uses the
large ones.

The bounds are those of floating-point error analysis, with u = ε/2 the unit roundoff
of the dtype and γ_k = k·u / (1 − k·u): a sum or dot product of k terms, in any order
and with or without fused multiply-adds, is within γ_k · Σ|terms| of the exact value
(Higham, *Accuracy and Stability of Numerical Algorithms*, 2002, §3.1). Copies and
maxima are exact: their bound is 0. The softmax adds the few-ulp errors of exp and log
(see :func:`_case_softmax_xent`).
"""

from __future__ import annotations

import argparse
import datetime as _dt
import json
import math
import os
import sys
import tempfile
import time
from dataclasses import asdict, dataclass
from typing import Callable

import numpy as np

__all__ = ["Result", "CASES", "gamma", "run_case", "run", "race", "bench", "format_table", "main"]


def gamma(k: int, dtype) -> float:
    """γ_k = k·u / (1 − k·u), u = ε/2: the relative error bound of a sum of k terms."""
    u = float(np.finfo(dtype).eps) / 2
    return k * u / (1 - k * u)


@dataclass(frozen=True)
class Result:
    """One kernel checked on one dtype: the largest error and its ratio to the bound."""

    kernel: str
    dtype: str
    shape: str
    max_err: float
    ratio: float  # max over entries of |error| / bound (0 where both are 0)
    ok: bool


def _compare(got, ref, bound) -> tuple[float, float, bool]:
    got = np.asarray(got, dtype=np.float64)
    ref = np.asarray(ref, dtype=np.float64)
    if got.shape != ref.shape:
        return math.inf, math.inf, False
    err = np.abs(got - ref)
    bound = np.broadcast_to(np.asarray(bound, dtype=np.float64), err.shape)
    if not np.all(np.isfinite(err)):
        return math.inf, math.inf, False
    with np.errstate(divide="ignore", invalid="ignore"):
        r = np.where(err == 0, 0.0, err / bound)  # err > 0 with bound 0 -> inf
    max_err = float(err.max()) if err.size else 0.0
    ratio = float(r.max()) if r.size else 0.0
    return max_err, ratio, bool(np.all(err <= bound))


# -- numpy references ----------------------------------------------------------------------


def _windows(x, KH, KW, sh, sw):
    """(N, C, H_out, W_out, k_h, k_w) view of the pooling/convolution windows of x."""
    v = np.lib.stride_tricks.sliding_window_view(x, (KH, KW), axis=(2, 3))
    return v[:, :, ::sh, ::sw]


def _conv_ref(xp, w, b, stride):
    win = _windows(xp, w.shape[2], w.shape[3], stride, stride)  # (N, C, Ho, Wo, kh, kw)
    return np.einsum("ncuvij,fcij->nfuv", win, w) + b[None, :, None, None]


def _im2col_ref(xp, KH, KW, stride):
    win = _windows(xp, KH, KW, stride, stride)  # (N, C, Ho, Wo, kh, kw)
    N, C, Ho, Wo = win.shape[:4]
    return win.transpose(1, 4, 5, 0, 2, 3).reshape(C * KH * KW, N * Ho * Wo)


def _pool_ref(x, KH, KW, sh, sw):
    win = _windows(x, KH, KW, sh, sw)
    flat = win.reshape(*win.shape[:4], KH * KW)
    return flat.max(axis=-1), flat.argmax(axis=-1).astype(np.int32)  # argmax: first max


def _pool_back_ref(dout, arg, H, W, KH, KW, sh, sw):
    N, C, Ho, Wo = dout.shape
    dx = np.zeros((N, C, H, W), np.float64)
    n, c, i, j = np.indices((N, C, Ho, Wo))
    np.add.at(dx, (n, c, i * sh + arg // KW, j * sw + arg % KW), dout)
    return dx


# -- the cases -----------------------------------------------------------------------------
#
# Each case takes (rng, dtype, big) and returns (shape text, got, reference, bound), with
# got computed by the kernel on numpy inputs of `dtype` and the reference in float64 from
# the same (rounded) inputs.


def _k():
    from dlkit.kernels import cuda

    return cuda


def _normal(rng, shape, dtype):
    return rng.standard_normal(shape).astype(dtype)


def _n(big):
    return 1_000_003 if big else 777


def _case_axpy(rng, dt, big):
    n = _n(big)
    x, y = _normal(rng, n, dt), _normal(rng, n, dt)
    a = dt(1.5)
    got = _k().axpy(a, x, y)
    x64, y64, a64 = x.astype(np.float64), y.astype(np.float64), float(a)
    return f"n={n}", got, a64 * x64 + y64, gamma(2, dt) * (abs(a64 * x64) + abs(y64))


def _case_relu_forward(rng, dt, big):
    n = _n(big)
    z = _normal(rng, n, dt)
    z[::7] = 0  # the kink: max(0, 0) = 0
    return f"n={n}", _k().relu_forward(z), np.maximum(z, 0), 0.0


def _case_relu_backward(rng, dt, big):
    n = _n(big)
    z, dout = _normal(rng, n, dt), _normal(rng, n, dt)
    z[::7] = 0  # g'(0) = 0, as the CPU layer
    return f"n={n}", _k().relu_backward(dout, z), dout * (z > 0), 0.0


def _case_sum_reduce(rng, dt, big):
    """Two blocks on the small size, so that both the grid-stride loop (three entries
    per thread) and the atomic add of the blocks' sums are exercised."""
    n, blocks = (10_000_019, 1024) if big else (1_500, 2)
    x = _normal(rng, n, dt)
    x64 = x.astype(np.float64)
    got = np.asarray(_k().sum_reduce(x, max_blocks=blocks))
    return f"n={n}, {blocks} blocks", got, np.asarray(x64.sum()), gamma(n, dt) * np.abs(x64).sum()


def _gemm_case(fn, big, **kw):
    def case(rng, dt, big_=big):
        M, K, N = (1029, 515, 771) if big_ else (20, 13, 17)
        A, B = _normal(rng, (M, K), dt), _normal(rng, (K, N), dt)
        A64, B64 = A.astype(np.float64), B.astype(np.float64)
        got = getattr(_k(), fn)(A, B, **kw)
        tile = f", tile={kw['tile']}" if kw else ""
        return f"{M}x{K}x{N}{tile}", got, A64 @ B64, gamma(K, dt) * (np.abs(A64) @ np.abs(B64))

    return case


def _conv_case(stride):
    def case(rng, dt, big):
        N, C, H, W, F, KH, KW, pad = (
            (64, 6, 14, 14, 16, 5, 5, 2) if big else (2, 3, 9, 11, 4, 3, 2, 1)
        )
        x = _normal(rng, (N, C, H, W), dt)
        xp = np.pad(x, ((0, 0), (0, 0), (pad, pad), (pad, pad)))
        w, b = _normal(rng, (F, C, KH, KW), dt), _normal(rng, F, dt)
        got = _k().conv2d_direct(xp, w, b, stride)
        xp64, w64, b64 = (a.astype(np.float64) for a in (xp, w, b))
        bound = gamma(C * KH * KW + 1, dt) * _conv_ref(
            np.abs(xp64), np.abs(w64), np.abs(b64), stride
        )
        shape = f"{N}x{C}x{H}x{W} * {F}x{C}x{KH}x{KW}, pad {pad}, stride {stride}"
        return shape, got, _conv_ref(xp64, w64, b64, stride), bound

    return case


def _case_im2col(rng, dt, big):
    N, C, Hp, Wp, KH, KW, s = (64, 6, 18, 18, 5, 5, 1) if big else (2, 3, 11, 13, 3, 2, 2)
    xp = _normal(rng, (N, C, Hp, Wp), dt)
    return (
        f"{N}x{C}x{Hp}x{Wp}, {KH}x{KW}, stride {s}",
        _k().im2col(xp, KH, KW, s),
        _im2col_ref(xp, KH, KW, s),
        0.0,
    )


def _pool_shape(big):
    return (64, 16, 29, 27, 3, 3, 2, 2) if big else (2, 3, 9, 11, 3, 3, 2, 2)


def _pool_input(rng, dt, big):
    N, C, H, W, KH, KW, sh, sw = _pool_shape(big)
    x = rng.integers(0, 5, (N, C, H, W)).astype(dt)  # small integers: many ties
    return x, (KH, KW, sh, sw)


def _case_maxpool2d_forward(rng, dt, big):
    """Values and argmax offsets (ties included: the first maximum wins), both exact."""
    x, (KH, KW, sh, sw) = _pool_input(rng, dt, big)
    out, arg = _k().maxpool2d_forward(x, KH, KW, sh, sw)
    ref_out, ref_arg = _pool_ref(x, KH, KW, sh, sw)
    got = np.concatenate([np.ravel(out), np.ravel(arg)])
    ref = np.concatenate([np.ravel(ref_out), np.ravel(ref_arg)])
    return f"{'x'.join(map(str, x.shape))}, {KH}x{KW}, stride ({sh}, {sw})", got, ref, 0.0


def _case_maxpool2d_backward(rng, dt, big):
    x, (KH, KW, sh, sw) = _pool_input(rng, dt, big)
    _, arg = _pool_ref(x, KH, KW, sh, sw)
    dout = _normal(rng, arg.shape, dt)
    H, W = x.shape[2:]
    got = _k().maxpool2d_backward(dout, arg, H, W, KH, KW, sh, sw)
    d64 = dout.astype(np.float64)
    ref = _pool_back_ref(d64, arg, H, W, KH, KW, sh, sw)
    m = math.ceil(KH / sh) * math.ceil(KW / sw)  # windows that can share a maximum
    bound = gamma(m, dt) * _pool_back_ref(np.abs(d64), arg, H, W, KH, KW, sh, sw)
    return f"{'x'.join(map(str, x.shape))}, {KH}x{KW}, stride ({sh}, {sw})", got, ref, bound


def _case_softmax_xent(rng, dt, big):
    """Loss and gradient together (the loss first).

    Bound: the sum of K exponentials adds γ_K; exp and log add a few ulp each (CUDA's
    expf and logf are within 2 and 1 ulp); the arguments z − m − log Σ are rounded
    with an absolute error of about u·(|z| + |m| + |log Σ|), which exp turns into the same
    relative error of ŷ. So ŷ is within c·(K + 3|z|_max + 8)·u relatively, and the bound
    takes c = 4 on that, for ŷ/N and for the loss (relative to 1 + |ℓ|).
    """
    N, K = (1031, 10) if big else (37, 10)
    z = (3 * rng.standard_normal((N, K))).astype(dt)
    y = rng.integers(0, K, N)
    loss, dz = _k().softmax_xent(z, y)
    z64 = z.astype(np.float64)
    zs = z64 - z64.max(axis=1, keepdims=True)
    log_p = zs - np.log(np.exp(zs).sum(axis=1, keepdims=True))
    p = np.exp(log_p)
    onehot = np.eye(K)[y]
    ell = -log_p[np.arange(N), y]
    rel = 4 * (K + 3 * float(np.abs(z64).max()) + 8) * float(np.finfo(dt).eps) / 2
    got = np.concatenate([[loss], np.ravel(dz)])
    ref = np.concatenate([[ell.mean()], np.ravel((p - onehot) / N)])
    bound = np.concatenate(
        [[rel * (1 + ell.mean()) + gamma(N, dt) * ell.mean()], np.ravel(rel * (p + onehot) / N)]
    )
    return f"{N}x{K}", got, ref, bound


def _case_sgd_update(rng, dt, big):
    n = _n(big)
    theta, grad = _normal(rng, n, dt), _normal(rng, n, dt)
    lr = dt(0.1)
    t64, g64, lr64 = theta.astype(np.float64), grad.astype(np.float64), float(lr)
    got = _k().sgd_update(theta.copy(), grad, lr)
    return f"n={n}", got, t64 - lr64 * g64, gamma(2, dt) * (abs(t64) + abs(lr64 * g64))


def _case_momentum_update(rng, dt, big):
    n = _n(big)
    theta, v, grad = _normal(rng, n, dt), _normal(rng, n, dt), _normal(rng, n, dt)
    lr, mu = dt(0.1), dt(0.9)
    t64, v64, g64 = (a.astype(np.float64) for a in (theta, v, grad))
    new_theta, new_v = _k().momentum_update(theta.copy(), v.copy(), grad, lr, mu)
    ref_v = float(mu) * v64 - float(lr) * g64  # v ← μ v − η ∇
    ref_t = t64 + ref_v  # θ ← θ + v
    scale = abs(float(mu) * v64) + abs(float(lr) * g64)
    got = np.concatenate([new_v, new_theta])
    ref = np.concatenate([ref_v, ref_t])
    bound = np.concatenate([gamma(2, dt) * scale, gamma(3, dt) * (abs(t64) + scale)])
    return f"n={n}", got, ref, bound


#: kernel name -> case(rng, dtype, big) -> (shape, got, reference, bound).
CASES: dict[str, Callable] = {
    "axpy": _case_axpy,
    "relu_forward": _case_relu_forward,
    "relu_backward": _case_relu_backward,
    "sum_reduce": _case_sum_reduce,
    "gemm_naive": _gemm_case("gemm_naive", False),
    "gemm_tiled": _gemm_case("gemm_tiled", False),
    "gemm_tiled[tile=8]": _gemm_case("gemm_tiled", False, tile=8),
    "conv2d_direct": _conv_case(1),
    "conv2d_direct[stride=2]": _conv_case(2),
    "im2col": _case_im2col,
    "maxpool2d_forward": _case_maxpool2d_forward,
    "maxpool2d_backward": _case_maxpool2d_backward,
    "softmax_xent": _case_softmax_xent,
    "sgd_update": _case_sgd_update,
    "momentum_update": _case_momentum_update,
}

DTYPES = (np.float32, np.float64)


def run_case(name: str, dtype=np.float32, big: bool = False, seed: int = 0) -> Result:
    """Run one case of :data:`CASES` and compare it with its reference."""
    if name not in CASES:
        raise ValueError(f"unknown case {name!r}: choose one of {', '.join(CASES)}")
    dt = np.dtype(dtype).type
    rng = np.random.default_rng(seed)
    shape, got, ref, bound = CASES[name](rng, dt, big)
    max_err, ratio, ok = _compare(got, ref, bound)
    return Result(name, np.dtype(dt).name, shape, max_err, ratio, ok)


def run(big: bool = False, dtypes=DTYPES, names=None) -> list[Result]:
    """Every case (or those in `names`) for every dtype."""
    return [run_case(n, dt, big) for n in (names or CASES) for dt in dtypes]


def race(big: bool = False, dtype=np.float32, seed: int = 0) -> dict:
    """The tiled GEMM with and without ``syncthreads`` on the same matrices.

    Returns the largest error of each against A @ B and whether the unsafe one is wrong
    (an error above the bound of the safe one). Without barriers the error depends on
    the order in which the threads happen to run.
    """
    M, K, N = (1029, 515, 771) if big else (20, 13, 17)
    rng = np.random.default_rng(seed)
    dt = np.dtype(dtype).type
    A, B = _normal(rng, (M, K), dt), _normal(rng, (K, N), dt)
    A64, B64 = A.astype(np.float64), B.astype(np.float64)
    ref = A64 @ B64
    bound = gamma(K, dt) * (np.abs(A64) @ np.abs(B64))
    safe = _compare(_k().gemm_tiled(A, B), ref, bound)
    unsafe = _compare(_k().gemm_tiled_unsafe(A, B), ref, bound)
    return {
        "shape": f"{M}x{K}x{N}",
        "safe_max_err": safe[0],
        "unsafe_max_err": unsafe[0],
        "unsafe_is_wrong": not unsafe[2],
    }


# -- timing (GPU only) -----------------------------------------------------------------------


def _time(fn, reps: int) -> float:
    """Median seconds of fn() over `reps` runs after one warm-up, synchronised."""
    from numba import cuda

    fn()
    cuda.synchronize()
    times = []
    for _ in range(reps):
        t0 = time.perf_counter()
        fn()
        cuda.synchronize()
        times.append(time.perf_counter() - t0)
    return float(np.median(times))


def bench(n: int = 4096, reps: int = 5) -> dict:
    """Time the tiled and naive GEMMs (n × n, float32), cupy.matmul when CuPy is there,
    the direct convolution on LeNet-5's two layers (batch 64), and axpy's bandwidth."""
    from numba import cuda

    k = _k()
    rng = np.random.default_rng(0)
    out: dict = {}
    A = cuda.to_device(_normal(rng, (n, n), np.float32))
    B = cuda.to_device(_normal(rng, (n, n), np.float32))
    F = 2 * n**3
    for name, fn in (
        ("gemm_tiled", lambda: k.gemm_tiled(A, B)),
        ("gemm_naive", lambda: k.gemm_naive(A, B)),
    ):
        t = _time(fn, reps)
        out[f"{name}_{n}_fp32"] = {"seconds": t, "gflops": F / t / 1e9}
    try:
        import cupy

        if cupy.cuda.is_available():
            cA, cB = cupy.asarray(A), cupy.asarray(B)
            t = _time(lambda: cupy.matmul(cA, cB), reps)
            out[f"cupy_matmul_{n}_fp32"] = {"seconds": t, "gflops": F / t / 1e9}
            out["gemm_tiled_over_cublas"] = out[f"gemm_tiled_{n}_fp32"]["gflops"] / (F / t / 1e9)
    except ImportError:
        out["cupy"] = "not installed"
    lenet = {"conv1": (64, 1, 32, 32, 6, 5), "conv2": (64, 6, 14, 14, 16, 5)}  # padded inputs
    for name, (N, C, H, W, Fo, kk) in lenet.items():
        xp = cuda.to_device(_normal(rng, (N, C, H, W), np.float32))
        w = cuda.to_device(_normal(rng, (Fo, C, kk, kk), np.float32))
        b = cuda.to_device(_normal(rng, Fo, np.float32))
        t = _time(lambda: k.conv2d_direct(xp, w, b, 1), reps)
        flops = 2 * N * Fo * (H - kk + 1) * (W - kk + 1) * C * kk * kk
        out[f"conv2d_direct_lenet_{name}"] = {
            "shape": [N, C, H, W, Fo, kk],
            "seconds": t,
            "gflops": flops / t / 1e9,
        }
    m = 1 << 26
    x = cuda.to_device(_normal(rng, m, np.float32))
    y = cuda.to_device(_normal(rng, m, np.float32))
    t = _time(lambda: k.axpy(2.0, x, y), reps)
    out["axpy_2^26_fp32"] = {"seconds": t, "gb_per_s": 3 * 4 * m / t / 1e9}
    return out


# -- report ----------------------------------------------------------------------------------


def format_table(results: list[Result]) -> str:
    """The pass/fail table: kernel, dtype, sizes, max |error|, error / bound."""
    head = f"{'kernel':<26}{'dtype':<9}{'max |err|':>11}{'err/bound':>11}  result  sizes"
    lines = [head, "-" * len(head)]
    for r in results:
        lines.append(
            f"{r.kernel:<26}{r.dtype:<9}{r.max_err:>11.2e}{r.ratio:>11.3g}  "
            f"{'pass' if r.ok else 'FAIL':<6}  {r.shape}"
        )
    return "\n".join(lines)


def _device_info() -> dict:
    from numba import cuda

    if os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1":
        return {"device": "Numba CUDA simulator", "compute_capability": None}
    dev = cuda.get_current_device()
    name = dev.name.decode() if isinstance(dev.name, bytes) else str(dev.name)
    return {"device": name, "compute_capability": list(dev.compute_capability)}


def write_json(path: str, data: dict) -> None:
    """Write `data` to `path` atomically: a temporary file beside it, then os.replace."""
    folder = os.path.dirname(os.path.abspath(path))
    os.makedirs(folder, exist_ok=True)
    fd, tmp = tempfile.mkstemp(dir=folder, prefix=".cuda_check.", suffix=".json")
    try:
        with os.fdopen(fd, "w") as f:
            json.dump(data, f, indent=1, sort_keys=True)
            f.write("\n")
        os.replace(tmp, path)
    except BaseException:
        if os.path.exists(tmp):
            os.unlink(tmp)
        raise


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlkit.kernels.cuda_check",
        description="Run every dlkit CUDA kernel against numpy and, optionally, time it.",
    )
    parser.add_argument(
        "--small", action="store_true", help="the small sizes of the simulator tests"
    )
    parser.add_argument(
        "--bench", action="store_true", help="time gemm_tiled, cupy.matmul, conv2d_direct"
    )
    parser.add_argument("--json", metavar="PATH", help="write the device, date and figures to PATH")
    args = parser.parse_args(argv)

    simulator = os.environ.get("NUMBA_ENABLE_CUDASIM", "0") == "1"
    from numba import cuda

    if not simulator and not cuda.is_available():
        print(
            "no CUDA GPU is visible (numba.cuda.is_available() is False); run on a GPU "
            "machine, or in the simulator: NUMBA_ENABLE_CUDASIM=1 python -m "
            "dlkit.kernels.cuda_check --small",
            file=sys.stderr,
        )
        return 2
    big = not (args.small or simulator)
    info = _device_info()
    import numba_cuda

    data = {
        **info,
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
        "numba_cuda": getattr(numba_cuda, "__version__", "unknown"),
        "sizes": "big" if big else "small",
    }
    print(f"{info['device']}  cc {info['compute_capability']}  sizes: {data['sizes']}")
    t0 = time.perf_counter()
    results = run(big)
    data["checks_seconds"] = time.perf_counter() - t0
    data["checks"] = [asdict(r) for r in results]
    print(format_table(results))
    data["race"] = race(big)
    wrong = "wrong, as expected" if data["race"]["unsafe_is_wrong"] else "right by luck"
    print(
        f"gemm_tiled_unsafe (no syncthreads), {data['race']['shape']}: max |err| "
        f"{data['race']['unsafe_max_err']:.2e}: {wrong}"
    )
    if args.bench:
        if simulator:
            print("--bench needs a GPU: the simulator's times mean nothing", file=sys.stderr)
        else:
            data["bench"] = bench()
            for key, value in data["bench"].items():
                print(f"{key:<30} {value}")
    if args.json:
        write_json(args.json, data)
        print(f"wrote {args.json}")
    return 0 if all(r.ok for r in results) else 1


if __name__ == "__main__":
    sys.exit(main())
