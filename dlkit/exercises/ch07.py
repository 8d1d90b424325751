"""The old name of :mod:`dlkit.exercises.convolution`, the checks of chapter 7:
*Convolution algorithms*.

``import dlkit.exercises.ch07`` gives the module :mod:`dlkit.exercises.convolution` itself.
"""

import sys

from dlkit.exercises import convolution

sys.modules[__name__] = convolution
