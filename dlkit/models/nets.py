"""Trainable dlkit networks of the architectures that chapters 7 and 8 use.

:func:`digits_cnn` is the small CNN for the 8x8 digits (chapter 8); :func:`lenet5_net`
is the network that :func:`dlkit.models.zoo.lenet5` specifies, layer for layer, so that
its parameters and multiply-adds (counted by :mod:`dlkit.flops`) equal the
specification's (chapter 8); :func:`lenet28_net` is the LeNet-style network for
unpadded 28x28 images whose convolutions chapter 7 computes and times.
"""

from __future__ import annotations

import numpy as np

from dlkit.nn import AvgPool2d, Conv2d, Flatten, Linear, MaxPool2d, ReLU, Sequential, Tanh

__all__ = ["digits_cnn", "lenet5_net", "lenet28_net"]


def digits_cnn(c1: int = 32, c2: int = 64, *, seed=0, algorithm: str = "im2col", dtype=None):
    """The small CNN of chapter 8 for the 8x8 digits, as a dlkit Sequential.

    conv 3x3 (c1) → ReLU → 2x2 max pool → conv 3x3 (c2) → ReLU → 2x2 max pool →
    flatten → fc 10. Padding 1 keeps 8x8 → 8x8 → 4x4 → 4x4 → 2x2. Layer i is seeded
    with ``seed + i``.
    """
    dtype = np.float64 if dtype is None else dtype
    s = int(seed)
    return Sequential(
        Conv2d(1, c1, 3, padding=1, algorithm=algorithm, seed=s, dtype=dtype),
        ReLU(),
        MaxPool2d(2),
        Conv2d(c1, c2, 3, padding=1, algorithm=algorithm, seed=s + 1, dtype=dtype),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(c2 * 2 * 2, 10, init="xavier", seed=s + 2, dtype=dtype),
    )


def lenet5_net(n_classes: int = 10, *, seed=0, algorithm: str = "auto", dtype=None):
    """LeNet-5 as specified by :func:`~dlkit.models.zoo.lenet5`, as a trainable dlkit Sequential.

    For 1x32x32 inputs (MNIST's 28x28 padded by 2, as LeCun et al. did); tanh units and
    average pooling as in the paper, a fully connected C3, untrained pooling and a
    fully connected output layer where the paper has a sparse C3, trainable
    subsampling and RBF units (see :func:`~dlkit.models.zoo.lenet5`): 61,706 parameters
    against the paper's 60,000. Not chapter 7's :func:`lenet28_net`.
    """
    dtype = np.float64 if dtype is None else dtype
    s = int(seed)
    return Sequential(
        Conv2d(1, 6, 5, algorithm=algorithm, init="xavier", seed=s, dtype=dtype),
        Tanh(),
        AvgPool2d(2),
        Conv2d(6, 16, 5, algorithm=algorithm, init="xavier", seed=s + 1, dtype=dtype),
        Tanh(),
        AvgPool2d(2),
        Flatten(),
        Linear(400, 120, seed=s + 2, dtype=dtype),
        Tanh(),
        Linear(120, 84, seed=s + 3, dtype=dtype),
        Tanh(),
        Linear(84, n_classes, seed=s + 4, dtype=dtype),
    )


def lenet28_net(n_classes: int = 10, *, seed=0, algorithm: str = "auto", dtype=None):
    """A LeNet-style network for 28x28 images, as a trainable dlkit Sequential: 44,426
    parameters for 10 classes.

    LeNet-5's layer widths (6 and 16 maps of 5x5 kernels, then 120, 84 and 10 units)
    with the choices of most modern re-implementations: ReLU units, 2x2 max pooling and
    MNIST's 28x28 images unpadded, so that conv2 sees 12x12 maps and the first fully
    connected layer 16·4·4 = 256 values. It is *not* LeNet-5 (:func:`lenet5_net`:
    32x32 inputs, tanh, average pooling, 61,706 parameters). Chapter 7 counts and times
    its two convolutions, and ``python -m dlkit.bench --only conv`` and ``--only lenet``
    measure them. He initialisation for the ReLU layers; the first convolution skips
    the gradient of its input, which is data. Layer i is seeded with ``seed + i``.
    """
    dtype = np.float64 if dtype is None else dtype
    s = int(seed)
    return Sequential(
        Conv2d(1, 6, 5, algorithm=algorithm, input_grad=False, seed=s, dtype=dtype),
        ReLU(),
        MaxPool2d(2),
        Conv2d(6, 16, 5, algorithm=algorithm, seed=s + 1, dtype=dtype),
        ReLU(),
        MaxPool2d(2),
        Flatten(),
        Linear(256, 120, init="he", seed=s + 2, dtype=dtype),
        ReLU(),
        Linear(120, 84, init="he", seed=s + 3, dtype=dtype),
        ReLU(),
        Linear(84, n_classes, seed=s + 4, dtype=dtype),
    )
