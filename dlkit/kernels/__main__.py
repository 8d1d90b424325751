"""``python -m dlkit.kernels``: compile every kernel into Numba's cache (see :mod:`.warm`)."""

import sys

from dlkit.kernels.warm import main

sys.exit(main())
