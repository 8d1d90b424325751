"""Compile every kernel of :mod:`dlkit.kernels.cuda` to PTX, with no GPU at all.

PTX is the virtual instruction set that the CUDA driver turns into a GPU's machine
code. ``numba.cuda.compile_ptx`` produces it from a kernel and its argument types for a
chosen compute capability (cc): (7, 5) is Turing (an RTX 2080 Ti), (9, 0) Hopper (an
H100). Compiling needs NVVM, the CUDA compiler library, which the ``cuda-nvcc`` wheel
of ``numba-cuda[cu12]`` brings; it does not need a driver or a GPU, so a kernel that
the simulator accepts but that is not valid CUDA fails here, on any machine.

Three things in a kernel's PTX are worth reading:

- its length (instructions and directives, one per line);
- ``.shared``: the shared memory a block reserves, in bytes (the tiled GEMM's two
  tiles of T × T values: 2·16·16·4 = 2,048 bytes in float32);
- ``bar.sync``: the barrier that ``cuda.syncthreads()`` becomes, and ``shfl.sync``: a
  warp shuffle.

Run ``python -m dlkit.kernels.ptx`` for the table of every kernel at cc 7.5 and 9.0.
"""

from __future__ import annotations

import argparse
import json
import re
import sys

__all__ = [
    "DTYPES",
    "CCS",
    "toolkit",
    "compile_kernel",
    "compile_all",
    "ptx_stats",
    "table",
    "loaded_libraries",
    "report",
]

#: The float types every kernel is compiled for.
DTYPES = ("float32", "float64")

#: The compute capabilities of the table: Turing (RTX 2080 Ti) and Hopper (H100).
CCS = ((7, 5), (9, 0))

_SHARED = re.compile(r"\.shared\s+(?:\.align\s+\d+\s+)?\.b8\s+\w+\[(\d+)\]")


def _require_real_target() -> None:
    from numba import cuda

    if cuda.jit.__module__.startswith("numba.cuda.simulator"):
        raise RuntimeError(
            "compiling to PTX needs the real numba.cuda target, but numba.cuda is the "
            "simulator here (NUMBA_ENABLE_CUDASIM=1 was set when numba was imported): run "
            "this in a process without that variable"
        )


def toolkit() -> dict:
    """Where Numba finds the CUDA compiler pieces: NVVM, libdevice and NVRTC.

    Returns a dict name -> (how it was found, path). With ``numba-cuda[cu12]`` these are
    the NVIDIA wheels inside the Python environment, whatever system toolkit
    (``/usr/local/cuda``, ``CUDA_HOME``) the machine has.
    """
    _require_real_target()
    from numba.cuda.cuda_paths import get_cuda_paths

    paths = get_cuda_paths()
    return {k: (paths[k].by, paths[k].info) for k in ("nvvm", "libdevice", "nvrtc") if k in paths}


def compile_kernel(name: str, dtype: str = "float32", cc: tuple[int, int] = (7, 5)) -> str:
    """The PTX of kernel `name` (a key of :data:`dlkit.kernels.cuda.KERNELS`) for one
    float type and compute capability."""
    _require_real_target()
    import numba
    from numba import cuda

    from dlkit.kernels import cuda as kernels

    if name not in kernels.KERNELS:
        raise ValueError(f"unknown kernel {name!r}: choose one of {', '.join(kernels.KERNELS)}")
    if dtype not in DTYPES:
        raise ValueError(f"dtype must be one of {', '.join(DTYPES)}, got {dtype!r}")
    cc = _check_cc(cc)
    kernel, sig = kernels.signatures(getattr(numba, dtype))[name]
    ptx, _ = cuda.compile_ptx(kernel.py_func, sig, cc=cc)
    return ptx


def _check_cc(cc) -> tuple[int, int]:
    if (
        not isinstance(cc, tuple)
        or len(cc) != 2
        or not all(isinstance(v, int) and not isinstance(v, bool) for v in cc)
    ):
        raise TypeError(
            f"cc must be a compute capability (major, minor) such as (7, 5), got {cc!r}"
        )
    return cc


def compile_all(cc: tuple[int, int] = (7, 5)) -> dict[str, str]:
    """PTX of every kernel for float32 and float64 at compute capability `cc`.

    Returns
    -------
    dict
        ``"name[dtype]"`` (e.g. ``"gemm_tiled[float32]"``) -> PTX text, for every name of
        :data:`dlkit.kernels.cuda.KERNELS` and both :data:`DTYPES`.
    """
    from dlkit.kernels import cuda as kernels

    return {
        f"{name}[{dtype}]": compile_kernel(name, dtype, cc)
        for name in kernels.KERNELS
        for dtype in DTYPES
    }


def ptx_stats(ptx: str) -> dict:
    """What a PTX text shows: lines, static ``.shared`` bytes, barriers, shuffles, and
    the lines that work on 64-bit floats (none in a float32 kernel that stays float32)."""
    lines = ptx.splitlines()
    return {
        "lines": len(lines),
        "shared_bytes": sum(int(n) for n in _SHARED.findall(ptx)),
        "bar_sync": "bar.sync" in ptx or "barrier.sync" in ptx,
        "shfl": "shfl.sync" in ptx,
        "f64_lines": sum(".f64" in line for line in lines),
    }


def table(ccs=CCS) -> list[dict]:
    """One row per kernel and dtype: PTX lines per cc, ``.shared`` bytes, bar.sync, shfl."""
    ccs = [_check_cc(tuple(cc)) for cc in ccs]
    ptx = {cc: compile_all(cc) for cc in ccs}
    rows = []
    for key in ptx[ccs[0]]:
        stats = {cc: ptx_stats(ptx[cc][key]) for cc in ccs}
        first = stats[ccs[0]]
        rows.append(
            {
                "kernel": key,
                "lines": {f"{a}.{b}": stats[(a, b)]["lines"] for a, b in ccs},
                "shared_bytes": first["shared_bytes"],
                "bar_sync": first["bar_sync"],
                "shfl": first["shfl"],
                "f64_lines": first["f64_lines"],
            }
        )
    return rows


def loaded_libraries() -> list[str]:
    """The CUDA compiler libraries (libnvvm, libnvrtc) mapped into this process, from
    /proc/self/maps (Linux; empty elsewhere): which files were really used."""
    try:
        with open("/proc/self/maps") as f:
            maps = f.read().splitlines()
    except OSError:
        return []
    found = {line.split()[-1] for line in maps if "libnvvm" in line or "libnvrtc" in line}
    return sorted(found)


def report(ccs=CCS) -> dict:
    """Everything :func:`main` prints, as data: the toolkit, the libraries loaded, the table."""
    rows = table(ccs)
    return {"toolkit": toolkit(), "loaded": loaded_libraries(), "rows": rows}


def _parse_cc(text: str) -> tuple[int, int]:
    try:
        major, minor = text.split(".")
        return int(major), int(minor)
    except ValueError:
        raise argparse.ArgumentTypeError(f"a compute capability reads like 7.5, got {text!r}")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m dlkit.kernels.ptx",
        description="Compile every dlkit CUDA kernel to PTX (no GPU needed) and tabulate it.",
    )
    parser.add_argument(
        "--cc",
        nargs="+",
        type=_parse_cc,
        default=list(CCS),
        help="compute capabilities, e.g. 7.5 9.0",
    )
    parser.add_argument("--json", action="store_true", help="print the report as JSON instead")
    args = parser.parse_args(argv)
    if args.json:
        print(json.dumps(report(args.cc)))
        return 0
    for what, (by, path) in toolkit().items():
        print(f"{what:<10} {path}  ({by})")
    rows = table(args.cc)
    ccs = list(rows[0]["lines"])
    head = (
        f"{'kernel':<28}"
        + "".join(f"{'cc ' + c:>9}" for c in ccs)
        + f"{'.shared B':>11}  bar.sync  shfl"
    )
    print(head)
    print("-" * len(head))
    for r in rows:
        print(
            f"{r['kernel']:<28}"
            + "".join(f"{r['lines'][c]:>9}" for c in ccs)
            + f"{r['shared_bytes']:>11}  {'yes' if r['bar_sync'] else 'no':<8}  "
            + ("yes" if r["shfl"] else "no")
        )
    print("(cc columns: lines of PTX)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
