"""Hardware models for the chapter *GPUs and kernels*: what a processor can do, and why.

- :mod:`dlkit.hardware.specs`: datasheet rows of CPUs and GPUs (cores, clock, memory,
  bandwidth, peak flop rate) and the peak that cores × clock × flops per cycle gives.
- :mod:`dlkit.hardware.roofline`: this machine's measured ceilings (a BLAS GEMM for
  the peak flop rate, a STREAM triad for the memory bandwidth), the roofline bound
  min(P, I·B), and the arithmetic intensity I of GEMM, convolution, elementwise
  kernels, reductions and fully connected layers.
- :mod:`dlkit.hardware.cudamodel`: the CUDA execution model counted: which thread of
  which block computes which output, the memory transactions of a warp, the global
  loads of a naive against a tiled GEMM, occupancy; and :func:`~dlkit.hardware.cudamodel.simulate`,
  which runs small demonstration kernels in Numba's CUDA simulator (in a subprocess,
  so the simulator never touches the numba of the caller's process).
- :mod:`dlkit.hardware.diannao`: the neural functional unit of the DianNao
  accelerator (Chen et al., 2014) as a three-stage pipeline, in closed form and cycle
  by cycle.

Importing this package imports neither numba nor matplotlib.
"""

from __future__ import annotations

import importlib
from typing import Any

__all__ = ["specs", "roofline", "cudamodel", "diannao"]


def __getattr__(name: str) -> Any:
    if name in __all__:
        return importlib.import_module(f"{__name__}.{name}")
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
