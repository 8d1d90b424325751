"""Compute devices for the simulator's cost model: a rate in floating-point operations
per second.

``compute(comm, flops)`` advances a simulated rank's clock by ``flops / device.flops``
seconds (times the rank's slow factor). Rates are peak single-precision (FP32,
non-tensor-core) figures from the vendors' datasheets; a real training step reaches
a fraction of peak, which you can model with ``Device.scaled(efficiency)``.

=========  ===============  ===========================================================
name       FP32 FLOP/s      source
=========  ===============  ===========================================================
cpu_core   96 GFLOP/s       one x86 core at 3 GHz with AVX2: 2 FMA units x 8 FP32
                            lanes x 2 flops = 32 flops/cycle (Intel Haswell and later)
gtx580     1.58 TFLOP/s     NVIDIA GeForce GTX 580 (Fermi, 2010): 512 cores x
                            1.544 GHz x 2; the GPU AlexNet was trained on (x2)
k20        3.52 TFLOP/s     NVIDIA Tesla K20 (Kepler GK110, 2012) datasheet
k40        4.29 TFLOP/s     NVIDIA Tesla K40 (Kepler GK110B, 2013) datasheet, base clock
v100       15.7 TFLOP/s     NVIDIA Tesla V100 SXM2 (Volta, 2017) datasheet
a100       19.5 TFLOP/s     NVIDIA A100 SXM (Ampere, 2020) datasheet
h100       67 TFLOP/s       NVIDIA H100 SXM5 (Hopper, 2022) datasheet
=========  ===============  ===========================================================
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Device:
    """A compute device: ``name`` and ``flops``, its rate in floating-point ops per second."""

    name: str
    flops: float
    source: str = ""

    def __post_init__(self):
        if not (self.flops > 0):
            raise ValueError(
                f"Device {self.name!r}: flops must be > 0 per second, got {self.flops}"
            )

    def time(self, flops: float) -> float:
        """Seconds to execute ``flops`` floating-point operations."""
        return flops / self.flops

    def scaled(self, efficiency: float) -> "Device":
        """The same device running at a fraction ``efficiency`` of its peak."""
        if not 0 < efficiency <= 1:
            raise ValueError(f"efficiency must be in (0, 1], got {efficiency}")
        return Device(f"{self.name}@{efficiency:g}", self.flops * efficiency, self.source)

    def __str__(self) -> str:
        return f"{self.name}: {self.flops / 1e12:.4g} TFLOP/s"


_PRESETS = {
    "cpu_core": (96e9, "x86 core, 3 GHz, AVX2 FMA: 32 FP32 flops/cycle"),
    "gtx580": (1.581e12, "NVIDIA GTX 580: 512 cores x 1.544 GHz x 2"),
    "k20": (3.52e12, "NVIDIA Tesla K20 datasheet, FP32 peak"),
    "k40": (4.29e12, "NVIDIA Tesla K40 datasheet, FP32 peak (base clock)"),
    "v100": (15.7e12, "NVIDIA V100 SXM2 datasheet, FP32 peak"),
    "a100": (19.5e12, "NVIDIA A100 SXM datasheet, FP32 peak (non-tensor)"),
    "h100": (67e12, "NVIDIA H100 SXM5 datasheet, FP32 peak (non-tensor)"),
}

PRESETS = tuple(_PRESETS)


def preset(name: str) -> Device:
    """A device preset by name: one of ``PRESETS`` (see the module docstring)."""
    key = name.lower().replace("-", "").replace(" ", "_")
    if key not in _PRESETS:
        raise ValueError(
            f"unknown device {name!r}; choose one of {', '.join(PRESETS)} or "
            "build Device(name, flops)"
        )
    flops, source = _PRESETS[key]
    return Device(key, flops, source)
