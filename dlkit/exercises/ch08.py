"""The old name of :mod:`dlkit.exercises.cnns`, the checks of chapter 8:
*Convolutional networks*.

``import dlkit.exercises.ch08`` gives the module :mod:`dlkit.exercises.cnns` itself.
"""

import sys

from dlkit.exercises import cnns

sys.modules[__name__] = cnns
