"""Datasheet rows of CPUs and GPUs: the numbers the chapter *GPUs and kernels* compares.

Each :class:`Device` holds what a datasheet states (cores, clock, memory, bandwidth B,
peak flop rate P in fp32, price where one was quoted) and where the numbers come from.
The peak of a processor is a product, P = cores × clock × flops per cycle per core, and
:meth:`Device.peak_from_parts` computes it so that a table can be checked against itself.

- ``SEED_TABLE``: the two rows of the seed lecture (after CS231n's 2019 lecture 6):
  an Intel Core i7-7700K and an NVIDIA RTX 2080 Ti. The lecture gives the 2080 Ti
  3,584 cores (the GTX 1080 Ti's count); NVIDIA's specification gives it 4,352 CUDA
  cores at a boost clock of 1.545 GHz, and 4,352 × 2 × 1.545 GHz = 13.4 TFLOP/s is
  the lecture's peak. The row keeps the lecture's numbers; ``RTX_2080_TI_SPEC`` holds
  NVIDIA's.
- ``DATACENTER``: a current datacenter GPU, the NVIDIA H200 SXM, from NVIDIA's H200
  Tensor Core GPU datasheet (2024).
"""

from __future__ import annotations

from dataclasses import dataclass

__all__ = [
    "Device",
    "I7_7700K",
    "RTX_2080_TI",
    "RTX_2080_TI_SPEC",
    "H200_SXM",
    "SEED_TABLE",
    "DATACENTER",
    "all_devices",
]


@dataclass(frozen=True)
class Device:
    """One processor's datasheet row.

    Attributes
    ----------
    name : str
    kind : str
        ``"CPU"`` or ``"GPU"``.
    cores : int
        CPU cores, or a GPU's fp32 lanes ("CUDA cores").
    clock_ghz : float
        The clock the peak is quoted at (a CPU's turbo, a GPU's boost clock).
    memory : str
        The memory the processor computes from.
    bandwidth_gbs : float
        B, its memory bandwidth, GB/s (10⁹ bytes per second).
    peak_gflops : float
        P, its peak fp32 rate, GFLOP/s (a multiply-accumulate counts as two flops).
    flops_per_cycle : int
        fp32 flops one core finishes per cycle: 32 for a core with two 8-lane AVX2
        FMA units, 2 for a CUDA core (one FMA).
    price : str
        The price quoted with the row, or "" when none was.
    source : str
        Where the numbers come from.
    """

    name: str
    kind: str
    cores: int
    clock_ghz: float
    memory: str
    bandwidth_gbs: float
    peak_gflops: float
    flops_per_cycle: int
    price: str = ""
    source: str = ""

    def peak_from_parts(self) -> float:
        """P = cores × clock × flops per cycle per core, in GFLOP/s."""
        return self.cores * self.clock_ghz * self.flops_per_cycle

    @property
    def ridge(self) -> float:
        """The ridge point P / B of its roofline, flops per byte: kernels of lower
        arithmetic intensity are limited by memory, kernels of higher by arithmetic."""
        return self.peak_gflops / self.bandwidth_gbs


I7_7700K = Device(
    "Intel Core i7-7700K",
    "CPU",
    4,
    4.2,
    "system RAM (DDR4)",
    35.0,
    540.0,
    32,
    price="~$350",
    source="seed lecture (after CS231n 2019, lecture 6)",
)

RTX_2080_TI = Device(
    "NVIDIA RTX 2080 Ti",
    "GPU",
    3584,
    1.6,
    "11 GB GDDR6",
    616.0,
    13_400.0,
    2,
    price="~$1200",
    source="seed lecture (after CS231n 2019, lecture 6)",
)

RTX_2080_TI_SPEC = Device(
    "NVIDIA RTX 2080 Ti",
    "GPU",
    4352,
    1.545,
    "11 GB GDDR6",
    616.0,
    13_400.0,
    2,
    price="",
    source="NVIDIA GeForce RTX 2080 Ti specifications (reference boost clock)",
)

H200_SXM = Device(
    "NVIDIA H200 SXM",
    "GPU",
    16_896,
    1.98,
    "141 GB HBM3e",
    4_800.0,
    67_000.0,
    2,
    price="",
    source="NVIDIA H200 Tensor Core GPU datasheet (2024)",
)

#: The seed lecture's table, as it printed it.
SEED_TABLE = (I7_7700K, RTX_2080_TI)

#: A current datacenter GPU, from its datasheet.
DATACENTER = (H200_SXM,)


def all_devices() -> tuple[Device, ...]:
    """The seed's rows, then the datacenter GPU."""
    return SEED_TABLE + DATACENTER
