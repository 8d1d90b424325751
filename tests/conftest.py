"""Test set-up shared by every test module.

Numba's CUDA simulator must be on before numba is first imported, so it is set here,
at collection, never from inside dlkit. Set DLKIT_REAL_CUDA=1 on a machine with an
NVIDIA GPU to run the CUDA tests on the device instead.
"""

import os

if os.environ.get("DLKIT_REAL_CUDA") != "1":
    os.environ.setdefault("NUMBA_ENABLE_CUDASIM", "1")
os.environ.setdefault("MPLBACKEND", "Agg")
