"""Which arrays and kernels dlkit computes with: the one place that decides.

Backends, from the reference outwards:

=========  ===========================================================
numpy      the reference: every other backend is tested against it
numba      Numba CPU kernels (``@njit(parallel=True)``) where dlkit has one,
           numpy elsewhere
cuda       Numba-CUDA kernels on an NVIDIA GPU (needs the ``gpu`` extra)
cudasim    the same kernels in Numba's CUDA simulator, for machines with no GPU;
           the simulator must be switched on (``NUMBA_ENABLE_CUDASIM=1``)
           before numba is first imported
cupy       CuPy arrays on an NVIDIA GPU (needs the ``gpu`` extra)
=========  ===========================================================

On ``cuda``, ``cudasim`` and ``cupy`` the layers keep their parameters and
activations on the device (:attr:`Backend.device_arrays`; the glue is in
:mod:`dlkit.nn.device`); :meth:`Backend.asnumpy` copies an array back.

The default is ``numba`` when numba is installed (it is a dependency of dlkit), else
``numpy``. Choose with the environment variable ``DLKIT_BACKEND`` (read when dlkit
first asks for its backend) or with :func:`set_backend`; ``DLKIT_BACKEND=numpy`` runs
everything on the numpy reference. Asking for one that this machine
cannot run raises :class:`BackendUnavailable` saying what is missing; dlkit never
falls back silently.
"""

from __future__ import annotations

import importlib.util
import os
from contextlib import contextmanager
from dataclasses import dataclass
from types import ModuleType
from typing import Iterator

import numpy as np

NAMES = ("numpy", "numba", "cuda", "cudasim", "cupy")


class BackendUnavailable(RuntimeError):
    """The requested backend cannot run on this machine."""


@dataclass(frozen=True)
class Backend:
    """A backend: its name and its array module `xp` (numpy or cupy).

    Layers create and check arrays through ``xp`` (``xp.zeros``, ``xp.asarray``), so an
    array of the backend's array module flows through them; compiled kernels come from
    :func:`dlkit.kernels.for_backend`.
    """

    name: str
    xp: ModuleType

    @property
    def uses_numba(self) -> bool:
        return self.name in ("numba", "cuda", "cudasim")

    @property
    def cpu_kernels(self) -> bool:
        """Whether this backend's kernels are the Numba CPU ones (:mod:`dlkit.kernels.cpu`).

        Layers do not ask this: they take the kernel module of the current backend from
        :func:`dlkit.kernels.for_backend`. Kept for code written against older dlkit.
        """
        return self.name == "numba"

    @property
    def on_gpu(self) -> bool:
        return self.name in ("cuda", "cupy")

    @property
    def device_arrays(self) -> bool:
        """Whether the layers keep their arrays on a device (``cuda``, ``cudasim``: Numba
        device arrays; ``cupy``: CuPy arrays); see :mod:`dlkit.nn.device`."""
        return self.name in ("cuda", "cudasim", "cupy")

    def asnumpy(self, a) -> np.ndarray:
        """Copy an array of this backend back to host numpy (a numpy array as it is)."""
        if isinstance(a, np.ndarray):
            return a
        if hasattr(a, "copy_to_host"):  # a Numba device array, real or simulated
            return a.copy_to_host()
        return a.get() if hasattr(a, "get") else np.asarray(a)


def _why_unavailable(name: str) -> str | None:
    """Return None if `name` can run here, else a sentence that says why and what to do."""
    if name == "numpy":
        return None
    if name == "numba":
        if importlib.util.find_spec("numba") is None:
            return "numba is not installed: pip install numba"
        return None
    if name in ("cuda", "cudasim"):
        if importlib.util.find_spec("numba") is None:
            return "numba is not installed: pip install 'dlkit[gpu]'"
        sim = os.environ.get("NUMBA_ENABLE_CUDASIM") == "1"
        numba_sim = _numba_simulator()  # None until numba has been imported
        if name == "cudasim":
            if not sim:
                return (
                    "the CUDA simulator is off: set NUMBA_ENABLE_CUDASIM=1 in the environment "
                    "before Python starts (numba reads it once, at import)"
                )
            if numba_sim is False:
                return (
                    "NUMBA_ENABLE_CUDASIM=1 was set after numba was imported, so numba.cuda "
                    "is not the simulator: set it in the environment before Python starts"
                )
            return None
        if sim or numba_sim:
            return "NUMBA_ENABLE_CUDASIM=1 is set, so numba.cuda is the simulator: unset it"
        try:
            from numba import cuda
        except ImportError:
            return "numba.cuda cannot be imported: pip install 'dlkit[gpu]'"
        if not cuda.is_available():
            return (
                "no CUDA GPU is visible (numba.cuda.is_available() is False): run on a machine "
                "with an NVIDIA GPU and its driver, or use 'cudasim' (NUMBA_ENABLE_CUDASIM=1)"
            )
        return None
    if name == "cupy":
        if importlib.util.find_spec("cupy") is None:
            return "cupy is not installed: pip install 'dlkit[gpu]' (or cupy-cuda12x)"
        import cupy

        try:
            ok = cupy.cuda.is_available()
        except Exception:  # noqa: BLE001 - any driver error means "not here"
            ok = False
        return None if ok else "cupy finds no CUDA GPU (cupy.cuda.is_available() is False)"
    raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(NAMES)}")


def _numba_simulator() -> bool | None:
    """Whether the numba already imported runs CUDA in its simulator (None: not imported)."""
    import sys

    if "numba" not in sys.modules:
        return None
    return bool(getattr(sys.modules["numba"].config, "ENABLE_CUDASIM", False))


def available(name: str) -> bool:
    """True if backend `name` can run on this machine."""
    return _why_unavailable(name) is None


def available_backends() -> list[str]:
    """The backends this machine can run, reference first."""
    return [n for n in NAMES if available(n)]


def _make(name: str) -> Backend:
    if name not in NAMES:
        raise ValueError(f"unknown backend {name!r}: choose one of {', '.join(NAMES)}")
    why = _why_unavailable(name)
    if why is not None:
        raise BackendUnavailable(f"backend {name!r} is not available: {why}")
    if name == "cupy":
        import cupy

        return Backend(name, cupy)
    return Backend(name, np)


_current: Backend | None = None


def default_name() -> str:
    """``DLKIT_BACKEND`` if set, else numba when it is installed, else numpy."""
    name = os.environ.get("DLKIT_BACKEND", "").strip().lower()
    if name:
        return name
    return "numba" if available("numba") else "numpy"


def get_backend() -> Backend:
    """The current backend (chosen by :func:`default_name` the first time)."""
    global _current
    if _current is None:
        _current = _make(default_name())
    return _current


def set_backend(name: str) -> Backend:
    """Switch the backend for the rest of the process; returns the new one."""
    global _current
    _current = _make(name.strip().lower())
    return _current


@contextmanager
def use_backend(name: str) -> Iterator[Backend]:
    """Use a backend inside a ``with`` block, then restore the previous one."""
    global _current
    previous = get_backend()
    try:
        yield set_backend(name)
    finally:
        _current = previous
