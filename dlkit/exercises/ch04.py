"""The old name of :mod:`dlkit.exercises.optimizers`, the checks of chapter 4:
*Losses and gradient descent*.

``import dlkit.exercises.ch04`` gives the module :mod:`dlkit.exercises.optimizers` itself.
"""

import sys

from dlkit.exercises import optimizers

sys.modules[__name__] = optimizers
