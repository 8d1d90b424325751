"""Neural-network layers, losses, initialisers and gradient checking.

One convention for every layer (see :mod:`dlkit.nn.core`): a layer owns its
:class:`Param` s, ``forward(x)`` caches what ``backward(dout)`` needs, and ``backward``
sets the parameters' gradients and returns the gradient with respect to its input.
"""

from dlkit.aliases import moved
from dlkit.nn import init
from dlkit.nn.activations import (
    ELU,
    FUNCTIONS as ACTIVATIONS,
    Identity,
    LeakyReLU,
    Maxout,
    ReLU,
    Sigmoid,
    Softmax,
    Tanh,
    elu,
    elu_prime,
    get_activation,
    identity,
    identity_prime,
    leaky_relu,
    leaky_relu_prime,
    relu,
    relu_prime,
    sigmoid,
    sigmoid_prime,
    tanh,
    tanh_prime,
)
from dlkit.nn.activations import function as _activation_function
from dlkit.nn.core import (
    BackwardBeforeForwardError,
    Layer,
    Param,
    Sequential,
    check_array,
    check_dout,
    parameters_of,
)
from dlkit.nn.conv import AvgPool2d, Conv2d, Dropout, Flatten, MaxPool2d
from dlkit.nn.gradcheck import GradCheck, check_layer, check_loss, numerical_gradient, rel_error
from dlkit.nn.linear import Linear
from dlkit.nn.norm import BatchNorm1d, BatchNorm2d
from dlkit.nn.losses import (
    BCELoss,
    CrossEntropyLoss,
    MSELoss,
    get_loss,
    log_softmax,
    one_hot,
    softmax,
)

__all__ = [
    "init",
    "Layer",
    "Param",
    "Sequential",
    "check_array",
    "check_dout",
    "parameters_of",
    "BackwardBeforeForwardError",
    "Conv2d",
    "MaxPool2d",
    "AvgPool2d",
    "Flatten",
    "Dropout",
    "Linear",
    "BatchNorm1d",
    "BatchNorm2d",
    "Sigmoid",
    "Tanh",
    "ReLU",
    "LeakyReLU",
    "ELU",
    "Identity",
    "Softmax",
    "Maxout",
    "get_activation",
    "ACTIVATIONS",
    "sigmoid",
    "sigmoid_prime",
    "tanh",
    "tanh_prime",
    "relu",
    "relu_prime",
    "leaky_relu",
    "leaky_relu_prime",
    "elu",
    "elu_prime",
    "identity",
    "identity_prime",
    "MSELoss",
    "CrossEntropyLoss",
    "BCELoss",
    "get_loss",
    "softmax",
    "log_softmax",
    "one_hot",
    "GradCheck",
    "check_layer",
    "check_loss",
    "numerical_gradient",
    "rel_error",
    "mlp",
]


def mlp(sizes, activation: str = "relu", *, seed=0, init=None, dtype=None) -> Sequential:
    """A fully connected network: ``mlp([2, 8, 8, 1], 'tanh')``.

    Linear layers of the given sizes with `activation` between them (none after the
    last). Layer i is seeded with ``seed + i`` so networks are reproducible.
    """
    import numpy as np

    try:
        sizes = list(sizes)
    except TypeError:
        raise TypeError(
            f"mlp needs a list of layer sizes such as [784, 100, 10], got {sizes!r}"
        ) from None
    if len(sizes) < 2:
        raise ValueError(f"mlp needs at least an input and an output size, got {sizes}")
    _activation_function(activation)  # a bad name is an error even when no layer would use it
    if init is None:
        init = "he" if activation in ("relu", "leaky_relu", "elu") else "xavier"
    dtype = np.float64 if dtype is None else dtype
    layers = []
    for i, (a, b) in enumerate(zip(sizes[:-1], sizes[1:])):
        layers.append(Linear(a, b, init=init, seed=seed + i, dtype=dtype))
        if i < len(sizes) - 2:
            layers.append(get_activation(activation))
    return Sequential(*layers)


#: Names that live in a higher floor, served from here for code written against older
#: dlkit (``from dlkit.nn import fit``): name -> the module that defines it. They are
#: imported on first use, inside :func:`__getattr__`, because dlkit.train imports dlkit.nn.
_MOVED = {
    name: "dlkit.train"
    for name in (
        "batches",
        "fit",
        "History",
        "accuracy",
        "confusion_matrix",
        "evaluate",
        "DivergenceError",
    )
}


__getattr__ = moved(__name__, _MOVED)


def __dir__() -> list[str]:
    return sorted(set(globals()) | set(_MOVED))
