"""The old name of :mod:`dlkit.exercises.parallelism`, the checks of chapter 13:
*Parallelism: data, model and hybrid*.

``import dlkit.exercises.ch13`` gives the module :mod:`dlkit.exercises.parallelism` itself.
"""

import sys

from dlkit.exercises import parallelism

sys.modules[__name__] = parallelism
