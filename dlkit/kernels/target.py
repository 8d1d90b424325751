"""What the Numba CPU kernels are compiled for: the target CPU and its vector registers.

Numba compiles for the machine it runs on unless ``NUMBA_CPU_NAME`` and
``NUMBA_CPU_FEATURES`` name another target (``NUMBA_CPU_NAME=generic`` compiles for any
x86-64). The kernels of :mod:`dlkit.kernels.cpu` read two facts from here when they are
first imported, so that their register blocks fit the registers the code will have:

=============================  ===================  ======================================
target features                vector registers     float32 lanes of the widest register
=============================  ===================  ======================================
``+avx512f`` (AVX-512)         32 (zmm0 to zmm31)   16 (8 where LLVM prefers 256 bits)
``+avx`` / ``+avx2`` (AVX2)    16 (ymm0 to ymm15)   8
neither (SSE2, ``generic``)    16 (xmm0 to xmm15)   4
=============================  ===================  ======================================
"""

from __future__ import annotations


def numba_target() -> tuple[str, str]:
    """(CPU name, LLVM feature string) that Numba compiles for in this process.

    The same rule as Numba's own: ``NUMBA_CPU_NAME`` / ``NUMBA_CPU_FEATURES`` when set,
    else the host's. Without Numba: ``("generic", "")``.
    """
    try:
        import numba
        from llvmlite import binding as ll
    except ImportError:
        return "generic", ""
    name = numba.config.CPU_NAME or ll.get_host_cpu_name()
    features = numba.config.CPU_FEATURES
    if features is None:
        try:
            features = ll.get_host_cpu_features().flatten()
        except RuntimeError:
            features = ""
    return name, features


def has_feature(feature: str, features: str | None = None) -> bool:
    """Whether the LLVM feature string `features` (default: Numba's target's) turns
    `feature` on, e.g. ``has_feature("avx512f")``."""
    if features is None:
        features = numba_target()[1]
    return ("+" + feature) in {f.strip() for f in features.split(",")}


def vector_registers(features: str | None = None) -> int:
    """Number of vector registers of the target: 32 with AVX-512, else 16."""
    return 32 if has_feature("avx512f", features) else 16
