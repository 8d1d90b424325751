"""Test set-up shared by every test module.

Numba's CUDA simulator must be on before numba is first imported, so it is set here,
at collection, never from inside dlkit. Set DLKIT_REAL_CUDA=1 on a machine with an
NVIDIA GPU to run the CUDA tests on the device instead.

Matplotlib is switched to Agg for this process only: setting MPLBACKEND in the
environment would reach the notebook kernels that nbval starts and stop their
figures from being displayed inline.
"""

import os

if os.environ.get("DLKIT_REAL_CUDA") != "1":
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")

import matplotlib  # noqa: E402

matplotlib.use("Agg")
