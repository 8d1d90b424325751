"""The old name of :mod:`dlkit.exercises.sigmoid_xor`, the checks of chapter 2:
*Sigmoid neurons and XOR*.

``import dlkit.exercises.ch02`` gives the module :mod:`dlkit.exercises.sigmoid_xor` itself.
"""

import sys

from dlkit.exercises import sigmoid_xor

sys.modules[__name__] = sigmoid_xor
