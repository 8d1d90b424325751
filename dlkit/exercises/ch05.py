"""The old name of :mod:`dlkit.exercises.backprop`, the checks of chapter 5:
*Backpropagation*.

``import dlkit.exercises.ch05`` gives the module :mod:`dlkit.exercises.backprop` itself.
"""

import sys

from dlkit.exercises import backprop

sys.modules[__name__] = backprop
