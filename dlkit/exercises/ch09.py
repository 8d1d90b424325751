"""The old name of :mod:`dlkit.exercises.low_precision`, the checks of chapter 9:
*Low precision: float16, fixed point and stochastic rounding*.

``import dlkit.exercises.ch09`` gives the module :mod:`dlkit.exercises.low_precision` itself.
"""

import sys

from dlkit.exercises import low_precision

sys.modules[__name__] = low_precision
