"""The old name of :mod:`dlkit.exercises.perceptrons`, the checks of chapter 1:
*Perceptrons*.

``import dlkit.exercises.ch01`` gives the module :mod:`dlkit.exercises.perceptrons` itself.
"""

import sys

from dlkit.exercises import perceptrons

sys.modules[__name__] = perceptrons
