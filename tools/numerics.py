"""The second numeric configuration that `make test` re-runs every chapter under.

    python tools/numerics.py          # prints VAR=value pairs for `env`
    python tools/numerics.py --explain

A chapter's checked output must be the same on every reader's machine: another CPU,
another BLAS kernel, another thread count. So after the normal nbval pass, `make test`
runs nbval over every chapter again with

- one thread for OpenBLAS, OpenMP and Numba (another summation order in BLAS and in
  the compiled kernels' parallel loops);
- Numba compiling for the ``generic`` CPU (no FMA, no AVX: other rounding in every
  compiled kernel);
- another OpenBLAS kernel through ``OPENBLAS_CORETYPE``, one this CPU supports and that
  differs from the one OpenBLAS picks: ``Sandybridge`` (AVX without FMA) on x86-64
  CPUs with AVX, else ``Prescott`` (SSE3). Where the environment already sets
  ``OPENBLAS_CORETYPE`` (some machines pin it because older OpenBLAS builds compute
  wrong results on their CPU), it is left as it is.

A cell that prints rounding noise fails here first, not on a reader's machine.
"""

from __future__ import annotations

import os
import platform
import sys


def cpu_flags() -> set[str]:
    """The CPU's feature flags from /proc/cpuinfo (empty where there is none)."""
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            for line in f:
                if line.startswith("flags"):
                    return set(line.split(":", 1)[1].split())
    except OSError:
        pass
    return set()


def openblas_kernel() -> str | None:
    """The kernel ("Zen", "Haswell", "SkylakeX", ...) numpy's OpenBLAS runs here."""
    try:
        import numpy  # noqa: F401  (loads the BLAS library)
        from threadpoolctl import threadpool_info
    except ImportError:
        return None
    for info in threadpool_info():
        if info.get("internal_api") == "openblas":
            return info.get("architecture")
    return None


def other_coretype(current: str | None, flags: set[str]) -> str | None:
    """An OpenBLAS kernel this CPU supports that differs from `current`."""
    if platform.machine().lower() not in ("x86_64", "amd64"):
        return None
    for kernel, needs in (("Sandybridge", "avx"), ("Prescott", "sse3")):
        if (current or "").lower() != kernel.lower() and (needs in flags or needs == "sse3"):
            return kernel
    return None


def configuration() -> dict[str, str]:
    env = {
        "OMP_NUM_THREADS": "1",
        "OPENBLAS_NUM_THREADS": "1",
        "NUMBA_NUM_THREADS": "1",
        "NUMBA_CPU_NAME": "generic",
    }
    if "OPENBLAS_CORETYPE" not in os.environ:
        kernel = other_coretype(openblas_kernel(), cpu_flags())
        if kernel:
            env["OPENBLAS_CORETYPE"] = kernel
    return env


def main(argv: list[str]) -> int:
    env = configuration()
    if "--explain" in argv:
        pinned = os.environ.get("OPENBLAS_CORETYPE")
        blas = f"OpenBLAS kernel {openblas_kernel() or '?'}"
        blas += f" (pinned by the environment: {pinned})" if pinned else ""
        print(
            f"second nbval pass: {' '.join(f'{k}={v}' for k, v in env.items())}; "
            f"first pass ran with {blas}"
        )
    else:
        print(" ".join(f"{k}={v}" for k, v in env.items()))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
