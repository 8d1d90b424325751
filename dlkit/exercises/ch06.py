"""The old name of :mod:`dlkit.exercises.digits`, the checks of chapter 6:
*Handwritten digits*.

``import dlkit.exercises.ch06`` gives the module :mod:`dlkit.exercises.digits` itself.
"""

import sys

from dlkit.exercises import digits

sys.modules[__name__] = digits
