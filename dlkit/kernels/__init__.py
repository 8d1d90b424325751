"""Compiled kernels: one source of truth for the loops dlkit runs fast.

- :mod:`dlkit.kernels.cpu`: Numba CPU kernels (``@njit`` with ``prange`` loops on all
  cores, ``cache=True``) for the direct convolution (image by image, and with the
  batch innermost) and its gradients, im2col/col2im and a blocked GEMM
  written for teaching. Importing it imports numba; dlkit imports it only when a
  numba path is asked for.

Every kernel is tested against a numpy reference (tests/test_kernels.py).

The kernels trust their arguments (a compiled loop does not check bounds): shapes,
dtypes, strides and paddings are checked by their Python callers, the layers of
:mod:`dlkit.nn` and the functions of :mod:`dlkit.conv`, before a kernel runs.
"""
