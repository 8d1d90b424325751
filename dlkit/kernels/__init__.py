"""Compiled kernels: one source of truth for the loops dlkit runs fast.

- :mod:`dlkit.kernels.cpu`: Numba CPU kernels (``@njit`` with ``prange`` loops on all
  cores, ``cache=True``) for the direct convolution (image by image, and with the
  batch innermost) and its gradients, im2col/col2im, max pooling and a blocked GEMM
  written for teaching. Importing it imports numba.
- :mod:`dlkit.kernels.cuda`: Numba-CUDA kernels (``@cuda.jit``) under the CPU twins'
  names where one exists, for the ``cuda`` backend (a GPU) and the ``cudasim`` backend
  (the same kernels in Numba's CUDA simulator, ``NUMBA_ENABLE_CUDASIM=1``);
  :mod:`dlkit.kernels.ptx` compiles them to PTX with no GPU. Importing it imports
  numba.cuda.

Layers do not import a kernel module themselves: they ask the registry for the module
of the current backend (:mod:`dlkit.backend`), which has the same function names
whatever it runs on::

    from dlkit import kernels

    k = kernels.for_backend()            # dlkit.kernels.cpu on the numba backend
    out = k.conv2d_direct(xp, w, b, stride)

A backend without compiled kernels (``numpy``, the reference) has none registered:
:func:`has_kernels` is False there and the layers run numpy, while :func:`for_backend`
raises :class:`NoKernelsError`. A kernel module for another backend plugs in with
:func:`register` (as ``register("cuda", "dlkit.kernels.cuda")`` does for the two CUDA
backends); it is imported on first use, so importing dlkit never imports numba.

Every kernel is tested against a numpy reference (tests/test_kernels.py).

The kernels trust their arguments (a compiled loop does not check bounds): shapes,
dtypes, strides and paddings are checked by their Python callers, the layers of
:mod:`dlkit.nn` and the functions of :mod:`dlkit.conv`, before a kernel runs.
"""

from __future__ import annotations

import importlib
from types import ModuleType

from dlkit.backend import NAMES, Backend, get_backend

__all__ = ["NoKernelsError", "register", "registered", "has_kernels", "for_backend"]

#: Backend name -> the module (dotted name) that implements its kernels.
_REGISTRY: dict[str, str] = {
    "numba": "dlkit.kernels.cpu",
    "cuda": "dlkit.kernels.cuda",
    "cudasim": "dlkit.kernels.cuda",
}


class NoKernelsError(LookupError):
    """The backend has no compiled kernels registered (see :func:`register`)."""


def _name(backend: Backend | str | None) -> str:
    """The backend's name: the current backend's for None."""
    if backend is None:
        return get_backend().name
    if isinstance(backend, Backend):
        return backend.name
    if isinstance(backend, str):
        return backend.strip().lower()
    raise TypeError(f"backend must be a Backend, a backend name or None, got {backend!r}")


def register(backend: str, module: str) -> None:
    """Name the module that implements the kernels of `backend`.

    Parameters
    ----------
    backend : str
        A backend of :mod:`dlkit.backend` (``"numba"``, ``"cuda"``, ``"cudasim"``...).
    module : str
        Dotted name of a module with the kernel functions of :mod:`dlkit.kernels.cpu`
        under the same names. It is imported by :func:`for_backend`, not here.
    """
    name = _name(backend)
    if name not in NAMES:
        raise ValueError(f"unknown backend {backend!r}: choose one of {', '.join(NAMES)}")
    if not isinstance(module, str) or not module:
        raise TypeError(
            f"module must be a dotted module name such as 'dlkit.kernels.cuda', got {module!r}"
        )
    _REGISTRY[name] = module


def registered() -> dict[str, str]:
    """A copy of the registry: backend name -> kernel module name."""
    return dict(_REGISTRY)


def has_kernels(backend: Backend | str | None = None) -> bool:
    """True if `backend` (default: the current one) has compiled kernels registered."""
    return _name(backend) in _REGISTRY


def for_backend(backend: Backend | str | None = None) -> ModuleType:
    """The module implementing the kernels of `backend` (default: the current one).

    Parameters
    ----------
    backend : Backend, str or None
        A backend, its name, or None for :func:`dlkit.backend.get_backend`.

    Returns
    -------
    module
        :mod:`dlkit.kernels.cpu` for ``numba``; every kernel module has the same
        function names.

    Raises
    ------
    NoKernelsError
        If no kernel module is registered for the backend (e.g. ``numpy``, the
        reference, which runs numpy code instead).
    """
    name = _name(backend)
    module = _REGISTRY.get(name)
    if module is None:
        have = ", ".join(f"{b} ({m})" for b, m in sorted(_REGISTRY.items())) or "none"
        raise NoKernelsError(
            f"backend {name!r} has no compiled kernels (registered: {have}); switch with "
            "dlkit.backend.set_backend('numba'), or use a numpy algorithm such as "
            "algorithm='im2col'"
        )
    return importlib.import_module(module)
