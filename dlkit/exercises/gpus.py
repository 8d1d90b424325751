"""Checks for the exercises of the chapter *GPUs and kernels*.

Each check prints one verdict ("Correct: ..." or "Not yet: ..." and a hint, never
the expected value) and returns True or False; it never raises, whatever it is given.
"""

from __future__ import annotations

from dlkit.exercises import never_raises, number, verdict, whole
from dlkit.hardware import cudamodel, diannao, roofline


def _close(v: float, want: float, rtol: float = 1e-3) -> bool:
    return abs(v - want) <= rtol * abs(want)


@never_raises
def check_gemm_intensity(flops_per_byte, n: int = 1024, itemsize: int = 4) -> bool:
    """Exercise 1: the arithmetic intensity I of an n × n by n × n GEMM (n = 1024) in
    float32, each matrix moved once."""
    v = number(flops_per_byte)
    if v is None:
        return verdict(False, "answer with a number of flops per byte")
    want = roofline.gemm_intensity(n, n, n, itemsize)
    if _close(v, want):
        return verdict(True, "I = 2n³ / (3n² · 4 bytes) = n / 6: large GEMMs are compute bound")
    if _close(v, want / 2):
        return verdict(False, "a multiply-accumulate is two flops, not one")
    if _close(v, want * itemsize) or _close(v, want * itemsize / 8):
        return verdict(False, "divide by bytes, not by values: a float32 is 4 bytes")
    if _close(v, want * 3):
        return verdict(False, "three matrices cross the memory bus: A and B read, C written")
    return verdict(False, "F = 2n³ flops; the bytes are those of A, B and C, 4 each")


@never_raises
def check_tiled_loads(loads, n: int = 64, tile: int = 16) -> bool:
    """Exercise 2: global loads (of A and B together) of the tiled GEMM with T = 16 for
    n × n matrices, n = 64."""
    v = whole(loads)
    if v is None:
        return verdict(False, "answer with a whole number of loads")
    a, b = cudamodel.gemm_loads(n, n, n, tile)
    want = a + b
    if v == want:
        return verdict(True, "2n³ / T: every element is loaded once per block row or column")
    naive = sum(cudamodel.gemm_loads(n, n, n))
    if v == naive:
        return verdict(False, "that is the naive kernel; the tiles reuse each load T times")
    if v * 2 == want:
        return verdict(False, "count the loads of both A and B")
    if v == naive // (tile * tile):
        return verdict(False, "each loaded element is reused by T threads, not T²")
    return verdict(False, "each element of A is loaded once per block column: ceil(n / T) times")


@never_raises
def check_transactions(count) -> bool:
    """Exercise 3: 128-byte transactions of one warp whose thread t reads x[2·t] of a
    float32 array (aligned): a stride of two elements."""
    v = whole(count)
    if v is None:
        return verdict(False, "answer with a whole number of transactions")
    want = cudamodel.warp_transactions([8 * t for t in range(32)], 128)
    if v == want:
        return verdict(True, "the warp spans 256 bytes, so half of every fetched byte is wasted")
    if v == 32:
        return verdict(
            False, "neighbouring threads share segments: count the 128-byte blocks spanned"
        )
    if v == 1:
        return verdict(
            False, "with a stride of two elements the 32 floats no longer fit in one segment"
        )
    return verdict(
        False, "find the first and last byte the warp reads, and count the segments between"
    )


@never_raises
def check_occupancy(fraction, threads: int = 256, registers: int = 96, cc: str = "7.5") -> bool:
    """Exercise 4: the occupancy (a fraction of 1) of a kernel of 256 threads per block
    and 96 registers per thread, no shared memory, on compute capability 7.5."""
    v = number(fraction)
    if v is None:
        return verdict(False, "answer with a fraction between 0 and 1")
    occ = cudamodel.occupancy(threads, registers, 0, cc)
    if _close(v, occ.fraction, 1e-6):
        return verdict(True, f"the {occ.limiter} allow the fewest blocks")
    if 1 < v <= 100 and _close(v / 100, occ.fraction, 1e-6):
        return verdict(False, "answer as a fraction of 1, not a percentage")
    if _close(v, 1.0, 1e-6):
        return verdict(False, "the threads fit; do the registers?")
    return verdict(
        False, "a warp needs 32 × registers per thread (in units of 256); how many such warps fit?"
    )


@never_raises
def check_diannao_cycles(count, s_in: int = 256, s_out: int = 64) -> bool:
    """Exercise 5: cycles of DianNao's NFU (Tn = 16) for a fully connected layer of
    256 inputs and 64 outputs."""
    v = whole(count)
    if v is None:
        return verdict(False, "answer with a whole number of cycles")
    L = diannao.fc_layer(s_in, s_out)
    want = diannao.cycles(L)
    if v == want:
        return verdict(True, "ceil(s_out/16)·ceil(s_in/16) steps, one per cycle, plus 2 to drain")
    if v == diannao.steps(L):
        return verdict(
            False, "a step is not finished when it enters NFU-1: it still passes NFU-2 and NFU-3"
        )
    if v == diannao.steps(L) + 3:
        return verdict(False, "the first stage of the last step is its entry cycle; count again")
    if v == L.macs or v == L.macs // 16:
        return verdict(False, "the NFU does 16 × 16 multiplications per cycle")
    return verdict(False, "count the steps: groups of 16 outputs times chunks of 16 inputs")
