"""The "very simple" two-layer voting network of chapter 6.

One output unit per class, each with its own map of weights over the input pixels.
A digit's score for class k is the sum of the weights from its *active* pixels to
unit k; the network guesses the class with the highest score. Training increments
the weights from the active pixels to the correct class and decrements them to the
guessed class (when the guess is right the two cancel, so only mistakes teach).
"""

from __future__ import annotations

import numpy as np

__all__ = ["VotingNetwork", "train_voting"]


class VotingNetwork:
    """Input pixels vote for classes: score_k = Σ_i W[k, i] x_i over active pixels x_i = 1.

    Parameters
    ----------
    n_inputs, n_classes : pixels per image and number of classes.
    threshold : a pixel is active when its value exceeds this.

    ``W`` has shape (n_classes, n_inputs): row k is class k's map of the input.
    """

    def __init__(self, n_inputs: int, n_classes: int = 10, *, threshold: float = 0.5):
        self.W = np.zeros((n_classes, n_inputs), dtype=np.int64)
        self.threshold = threshold

    def active(self, X: np.ndarray) -> np.ndarray:
        """x = 1 for active pixels, else 0; shape (N, n_inputs)."""
        X = np.asarray(X)
        if X.ndim != 2 or X.shape[1] != self.W.shape[1]:
            raise ValueError(
                f"VotingNetwork({self.W.shape[1]} inputs) got shape {X.shape}; "
                f"flatten images to (N, {self.W.shape[1]})"
            )
        return (X > self.threshold).astype(np.int64)

    def scores(self, X: np.ndarray) -> np.ndarray:
        """Votes per class, (N, n_classes)."""
        return self.active(X) @ self.W.T

    def predict(self, X: np.ndarray) -> np.ndarray:
        return self.scores(X).argmax(axis=1)

    def train_step(self, x: np.ndarray, label: int) -> bool:
        """One example: W[label] += x, W[guess] −= x. Returns whether the guess was right."""
        x = self.active(x[None])[0]
        guess = int(np.argmax(self.W @ x))
        self.W[label] += x  # increment the weights from active pixels to the correct class
        self.W[guess] -= x  # decrement them to the guessed class (cancels if guess == label)
        return guess == label

    def fit(self, X: np.ndarray, y: np.ndarray, epochs: int = 5, *, seed=0) -> list[float]:
        """`epochs` passes over the data in seeded random order; training accuracy per pass
        (measured while training, i.e. the guesses made before each update)."""
        from dlkit import rng

        g = rng(seed)
        acc = []
        for _ in range(epochs):
            right = sum(self.train_step(X[i], int(y[i])) for i in g.permutation(len(X)))
            acc.append(right / len(X))
        return acc


def train_voting(split, epochs: int = 10, *, threshold: float = 0.5, seed=0):
    """Train a :class:`VotingNetwork` on a Split; return (network, per-epoch accuracy,
    test accuracy)."""
    X, y, Xt, yt = split
    net = VotingNetwork(X.shape[1], int(y.max()) + 1, threshold=threshold)
    hist = net.fit(X, y, epochs, seed=seed)
    return net, hist, float(np.mean(net.predict(Xt) == yt))
