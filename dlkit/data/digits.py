"""scikit-learn's handwritten digits (1,797 images of 8x8 pixels, values 0..16).

They ship with scikit-learn, so the chapters run offline and get the same split on
every machine. For MNIST see :func:`dlkit.data.load_mnist`.
"""

from __future__ import annotations

from dataclasses import dataclass
from numbers import Real

import numpy as np

from dlkit import rng as _rng


@dataclass(frozen=True)
class Split:
    """A train/test split. ``X_*`` are float arrays with one example x_n per row (N rows),
    ``y_*`` their int64 labels y_n."""

    X_train: np.ndarray
    y_train: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray

    def __iter__(self):
        return iter((self.X_train, self.y_train, self.X_test, self.y_test))

    def __repr__(self) -> str:
        return (
            f"Split(train={self.X_train.shape} {self.X_train.dtype}, "
            f"test={self.X_test.shape} {self.X_test.dtype})"
        )


def load_digits(
    test_size: float = 0.25, *, flat: bool = True, seed=0, dtype=np.float64, scale: bool = True
) -> Split:
    """The sklearn digits, shuffled with `seed` and split into train and test.

    Parameters
    ----------
    test_size : fraction of the 1,797 images held out (default 0.25: 1,348 / 449).
    flat : True gives X of shape (N, 64), one example x_n per row; False gives images
        (N, 1, 8, 8).
    scale : divide pixel values by 16 so they lie in [0, 1].

    The labels y_n are the digits 0..9 (K = 10 classes).
    """
    _check_digits_args(test_size, flat, scale)
    from sklearn.datasets import load_digits as _sk

    d = _sk()
    X = d.data.astype(dtype)
    if scale:
        X /= 16.0
    y = d.target.astype(np.int64)
    order = _rng(seed).permutation(len(y))
    X, y = X[order], y[order]
    n_test = int(round(test_size * len(y)))
    if not flat:
        X = X.reshape(-1, 1, 8, 8)
    return Split(X[n_test:], y[n_test:], X[:n_test], y[:n_test])


def _check_digits_args(test_size, flat, scale) -> None:
    if isinstance(test_size, (bool, np.bool_)) or not isinstance(test_size, Real):
        raise TypeError(
            f"load_digits: test_size must be a fraction in (0, 1), got "
            f"{test_size!r} ({type(test_size).__name__}); e.g. test_size=0.25"
        )
    if not 0 < test_size < 1:
        raise ValueError(f"test_size must be a fraction in (0, 1), got {test_size}")
    if not 1 <= int(round(test_size * 1797)) <= 1796:
        raise ValueError(
            f"load_digits: test_size={test_size} leaves an empty train or test "
            "set of the 1,797 digits; pass a fraction between 0.001 and 0.999"
        )
    for name, value in (("flat", flat), ("scale", scale)):
        if not isinstance(value, (bool, np.bool_)):
            raise TypeError(f"load_digits({name}=...) must be True or False, got {value!r}")
