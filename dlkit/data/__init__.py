"""Datasets: logic gates, 2-D toy problems and handwritten digits, all offline.

Everything here is either generated from a seed or ships with an installed
package (scikit-learn's digits), so a chapter's numbers are the same on every
machine.
"""

from dlkit.data.gates import GATES, gate_table, logic_gate, xnor, xor
from dlkit.data.synthetic import circles, moons, spirals
from dlkit.data.digits import Split, load_digits
from dlkit.data.mnist import MNISTError, load_mnist
from dlkit.data.preprocess import standardize
from dlkit.data.augment import random_shifts, shift_images, translate

__all__ = [
    "GATES",
    "gate_table",
    "logic_gate",
    "xor",
    "xnor",
    "moons",
    "circles",
    "spirals",
    "load_digits",
    "Split",
    "load_mnist",
    "MNISTError",
    "standardize",
    "shift_images",
    "random_shifts",
    "translate",
]
