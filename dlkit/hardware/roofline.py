"""The roofline model: a kernel's speed is bounded by arithmetic or by memory.

A kernel that performs F flops and moves m bytes to and from memory has arithmetic
intensity I = F / m (flops per byte). On a machine of peak flop rate P and memory
bandwidth B it cannot run faster than

    min(P, I · B)                                            (Williams et al., 2009)

flops per second: below the ridge point I = P / B the memory is the limit, above it the
arithmetic. This module measures P and B on the machine it runs on (:func:`measure_peak`,
a BLAS GEMM; :func:`measure_triad`, the STREAM triad in Numba), computes the bound
(:func:`bound`), the intensity of the kernels a network runs (:func:`gemm_intensity`,
:func:`fc_intensity`, :func:`elementwise_intensity`, :func:`reduction_intensity`; the
convolution's lives in :func:`dlkit.conv.cost.arithmetic_intensity`) and measures
dlkit's own kernels (:func:`measure_kernels`) so the chapter can place them on the
roofline.

Intensities count every array once, as if the caches kept whatever is reused: the least
traffic a kernel can have, so the highest intensity it can reach.

Timings are the best of a few repeats (the least disturbed run); they depend on the
machine, its load and its BLAS, so a chapter shows them in cells whose output is not
checked.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Callable, Sequence

import numpy as np

__all__ = [
    "Ceiling",
    "KernelPoint",
    "bound",
    "ridge",
    "gemm_intensity",
    "fc_intensity",
    "elementwise_intensity",
    "reduction_intensity",
    "measure_peak",
    "measure_triad",
    "measure_kernels",
    "best_time",
]


def _positive_int(v, name: str, who: str) -> int:
    if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v < 1:
        raise ValueError(f"{who}: {name} must be an int >= 1, got {v!r}")
    return int(v)


def _positive(v, name: str, who: str) -> float:
    try:
        f = float(v)
    except (TypeError, ValueError):
        raise ValueError(f"{who}: {name} must be a positive number, got {v!r}") from None
    if not np.isfinite(f) or f <= 0:
        raise ValueError(f"{who}: {name} must be a positive number, got {v!r}")
    return f


@dataclass(frozen=True)
class Ceiling:
    """A machine's two ceilings: peak P (GFLOP/s) and bandwidth B (GB/s)."""

    name: str
    peak_gflops: float
    bandwidth_gbs: float

    @property
    def ridge(self) -> float:
        """P / B, flops per byte."""
        return ridge(self.peak_gflops, self.bandwidth_gbs)

    def bound(self, intensity):
        """min(P, I · B) in GFLOP/s, for one intensity or an array of them."""
        return bound(intensity, self.peak_gflops, self.bandwidth_gbs)


@dataclass(frozen=True)
class KernelPoint:
    """One measured kernel: its flops F, bytes moved m and best time T (seconds)."""

    name: str
    flops: float
    bytes: float
    seconds: float

    @property
    def intensity(self) -> float:
        """I = F / m, flops per byte."""
        return self.flops / self.bytes

    @property
    def gflops(self) -> float:
        """F / T in GFLOP/s."""
        return self.flops / self.seconds / 1e9


def bound(intensity, peak_gflops: float, bandwidth_gbs: float):
    """The roofline: min(P, I · B) in GFLOP/s, for I in flops per byte (scalar or array).

    Parameters
    ----------
    intensity : float or array
        Arithmetic intensity I = F / m, flops per byte, >= 0.
    peak_gflops : float
        P, GFLOP/s.
    bandwidth_gbs : float
        B, GB/s (10⁹ bytes per second), so I · B is in GFLOP/s.
    """
    P = _positive(peak_gflops, "peak_gflops", "bound")
    B = _positive(bandwidth_gbs, "bandwidth_gbs", "bound")
    I = np.asarray(intensity, dtype=float)  # noqa: E741 - the book writes I
    if not np.all(np.isfinite(I)) or np.any(I < 0):
        raise ValueError("bound: intensity must be finite and >= 0 (flops per byte)")
    out = np.minimum(P, I * B)
    return float(out) if out.ndim == 0 else out


def ridge(peak_gflops: float, bandwidth_gbs: float) -> float:
    """The ridge point P / B (flops per byte) where the two ceilings meet."""
    return _positive(peak_gflops, "peak_gflops", "ridge") / _positive(
        bandwidth_gbs, "bandwidth_gbs", "ridge"
    )


def gemm_intensity(M: int, N: int, K: int, itemsize: int = 4) -> float:
    """I of C = A B with A (M, K), B (K, N): F = 2·M·N·K over the bytes of A, B and C.

    For square n × n matrices this is 2n³ / (3n² · itemsize) = n / (1.5 · itemsize): it
    grows with n, which is why large GEMMs reach the peak and small ones do not.
    """
    M, N, K = (_positive_int(v, s, "gemm_intensity") for v, s in ((M, "M"), (N, "N"), (K, "K")))
    itemsize = _positive_int(itemsize, "itemsize", "gemm_intensity")
    return 2 * M * N * K / (itemsize * (M * K + K * N + M * N))


def fc_intensity(B: int, s_in: int, s_out: int, itemsize: int = 4) -> float:
    """I of a fully connected layer Z = A W^T + b on a batch of B examples.

    A (B, s_in), W (s_out, s_in), Z (B, s_out): it is a GEMM with M = B, K = s_in,
    N = s_out. For B = 1 (a matrix-vector product) every weight is used once,
    I ≈ 2 / itemsize, and the layer is memory bound on every machine; a batch reuses
    each weight B times, and I grows towards 2·s_in·s_out / (itemsize·(s_in + s_out)).
    """
    return gemm_intensity(B, s_out, s_in, itemsize)


def elementwise_intensity(flops_per_element: int = 2, arrays: int = 3, itemsize: int = 4) -> float:
    """I of an elementwise kernel: `flops_per_element` flops per element over `arrays`
    arrays read or written, e.g. axpy y ← αx + y: 2 flops, 3 arrays (x, y read; y written).
    The STREAM triad a ← b + s·c is the same: 2 flops, 3 arrays."""
    f = _positive_int(flops_per_element, "flops_per_element", "elementwise_intensity")
    a = _positive_int(arrays, "arrays", "elementwise_intensity")
    return f / (a * _positive_int(itemsize, "itemsize", "elementwise_intensity"))


def reduction_intensity(itemsize: int = 4) -> float:
    """I of a sum of n values: n - 1 additions over n · itemsize bytes read, about
    1 / itemsize."""
    return 1 / _positive_int(itemsize, "itemsize", "reduction_intensity")


def best_time(fn: Callable[[], object], repeats: int = 5) -> float:
    """The least wall time of `repeats` calls of `fn` (after one untimed warm-up call)."""
    repeats = _positive_int(repeats, "repeats", "best_time")
    fn()
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def measure_peak(n: int = 1024, dtype=np.float32, repeats: int = 5) -> KernelPoint:
    """This machine's practical peak P: a BLAS GEMM (numpy's ``@``) of two n × n matrices.

    A large GEMM is the one kernel that a tuned library runs close to the processor's
    arithmetic limit, so its rate is the roofline's compute ceiling as measured.
    """
    n = _positive_int(n, "n", "measure_peak")
    r = np.random.default_rng(0)
    A = r.standard_normal((n, n)).astype(dtype)
    B = r.standard_normal((n, n)).astype(dtype)
    itemsize = np.dtype(dtype).itemsize
    t = best_time(lambda: A @ B, repeats)
    return KernelPoint(f"BLAS GEMM {n}³", 2.0 * n**3, 3.0 * n * n * itemsize, t)


def _triad_kernel():
    """The STREAM triad a[i] = b[i] + s·c[i], compiled by Numba, parallel over cores."""
    from numba import njit, prange

    @njit(parallel=True, cache=True)
    def triad(a, b, c, s):
        for i in prange(a.shape[0]):
            a[i] = b[i] + s * c[i]

    return triad


def measure_triad(n: int = 2**23, repeats: int = 5) -> KernelPoint:
    """This machine's memory bandwidth B: the STREAM triad (McCalpin, 1995) on n float64.

    The triad reads b and c and writes a: 24 bytes per element, counted as STREAM
    counts them. Three arrays of 2²³ float64 are 192 MB, far more than the caches, so
    the bytes come from main memory.
    """
    n = _positive_int(n, "n", "measure_triad")
    triad = _triad_kernel()
    a = np.zeros(n)
    b = np.ones(n)
    c = np.full(n, 2.0)
    t = best_time(lambda: triad(a, b, c, 3.0), repeats)
    return KernelPoint("STREAM triad (Numba)", 2.0 * n, 24.0 * n, t)


def _sum_kernel():
    from numba import njit, prange

    @njit(parallel=True, cache=True)
    def total(x):
        s = 0.0
        for i in prange(x.shape[0]):
            s += x[i]
        return s

    return total


def measure_kernels(
    gemm_sizes: Sequence[int] = (32, 128, 512), repeats: int = 5
) -> list[KernelPoint]:
    """dlkit's own kernels and numpy's GEMM, measured, with their F and m.

    - ``gemm_blocked`` n³: :func:`dlkit.kernels.cpu.gemm_blocked` (the cache-blocked
      GEMM written for teaching), float32, at each size of `gemm_sizes`;
    - ``numpy GEMM`` n³: the BLAS at the same sizes;
    - ``conv (numba)``: :func:`dlkit.conv.compiled.conv2d_numba` on the second layer
      of a LeNet-5 (64 images, 6 → 16 channels, 14 × 14, 5 × 5 kernels);
    - ``triad``: the STREAM triad (elementwise, 2 flops per 24 bytes);
    - ``sum``: a parallel reduction of 2²³ float64.
    """
    from dlkit.conv import cost
    from dlkit.conv.compiled import conv2d_numba
    from dlkit.kernels import cpu

    r = np.random.default_rng(0)
    points = []
    for n in gemm_sizes:
        n = _positive_int(n, "gemm size", "measure_kernels")
        A = r.standard_normal((n, n)).astype(np.float32)
        B = r.standard_normal((n, n)).astype(np.float32)
        F, m = 2.0 * n**3, 3.0 * n * n * 4
        points.append(
            KernelPoint(
                f"gemm_blocked {n}³", F, m, best_time(lambda: cpu.gemm_blocked(A, B), repeats)
            )
        )
        points.append(KernelPoint(f"numpy GEMM {n}³", F, m, best_time(lambda: A @ B, repeats)))
    N, C, C_out, H, k = 64, 6, 16, 14, 5
    x = r.standard_normal((N, C, H, H)).astype(np.float32)
    w = r.standard_normal((C_out, C, k, k)).astype(np.float32)
    F = cost.direct_flops(N, C, C_out, H, H, k, k)
    m = cost.conv_bytes(N, C, C_out, H, H, k, k)
    points.append(KernelPoint("conv (numba)", F, m, best_time(lambda: conv2d_numba(x, w), repeats)))
    points.append(measure_triad(2**23, repeats))
    total = _sum_kernel()
    v = np.ones(2**23)
    points.append(
        KernelPoint(
            "sum (numba)", float(v.size - 1), 8.0 * v.size, best_time(lambda: total(v), repeats)
        )
    )
    return points
