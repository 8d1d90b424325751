"""The old name of :mod:`dlkit.exercises.feedforward`, the checks of chapter 3:
*Feedforward networks*.

``import dlkit.exercises.ch03`` gives the module :mod:`dlkit.exercises.feedforward` itself.
"""

import sys

from dlkit.exercises import feedforward

sys.modules[__name__] = feedforward
