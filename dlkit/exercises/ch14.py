"""The old name of :mod:`dlkit.exercises.sync_sgd`, the checks of chapter 14:
*Synchronous SGD and allreduce*.

``import dlkit.exercises.ch14`` gives the module :mod:`dlkit.exercises.sync_sgd` itself.
"""

import sys

from dlkit.exercises import sync_sgd

sys.modules[__name__] = sync_sgd
