"""Tests of dlkit's CUDA kernels, run in Numba's CUDA simulator or on a GPU.

tests/conftest.py switches the simulator on (``NUMBA_ENABLE_CUDASIM=1``) before numba is
first imported, unless ``DLKIT_REAL_CUDA=1`` asks for the GPU. Run this directory in its
own process: ``NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda``. Where numba.cuda is
neither the simulator nor a visible GPU, every test here is skipped, saying why.
"""

import pytest


def _where() -> str | None:
    """'simulator', 'gpu', or None when neither can run a kernel."""
    try:
        from numba import cuda
    except ImportError:
        return None
    if cuda.jit.__module__.startswith("numba.cuda.simulator"):
        return "simulator"
    return "gpu" if cuda.is_available() else None


WHERE = _where()


@pytest.fixture(autouse=True)
def _needs_simulator_or_gpu():
    if WHERE is None:
        pytest.skip(
            "numba.cuda is neither the CUDA simulator nor a visible GPU: run "
            "NUMBA_ENABLE_CUDASIM=1 python -m pytest tests/cuda (the variable must be set "
            "before numba is imported), or run on a machine with an NVIDIA GPU"
        )
