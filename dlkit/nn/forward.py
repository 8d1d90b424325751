"""Forward propagation written out in the notation of chapter 3, with the bias unit.

A network with L layers has s_j units in layer j (s_1 inputs, s_L outputs); a^(j) is
layer j's activation, a^(1) = x. Every parameter is indexed by the layer it computes:
layer j = 2..L has the weights W^(j) ∈ R^{s_j × s_{j-1}} (W^(j)_ik from unit k of layer
j-1 to unit i of layer j) and the biases b^(j) ∈ R^{s_j}. Putting b^(j) in front of
W^(j) as column 0 gives the *bias-unit form*

    Θ^(j) = [b^(j) | W^(j)] ∈ R^{s_j × (s_{j-1} + 1)},

whose first column multiplies the bias unit a_0^(j-1) = 1. Forward propagation is

    z^(j) = Θ^(j) [1; a^(j-1)] = W^(j) a^(j-1) + b^(j),        a^(j) = g(z^(j)),

for one example (column vectors), and for a batch X of N examples stored as rows,

    Z^(j) = [1 | A^(j-1)] Θ^(j)ᵀ = A^(j-1) W^(j)ᵀ + b^(j)        (N × s_j),

the same products done N at a time. :class:`dlkit.nn.Linear` stores W^(j) and b^(j)
themselves (``W``, ``b``); :func:`theta_from_linear` and :func:`linear_from_theta`
convert between the two forms.

Indices follow the book: a list ``Thetas`` holds Θ^(2), ..., Θ^(L), so ``Thetas[j - 2]``
is Θ^(j) (``Thetas[0]`` is Θ^(2)), and the result of :func:`forward_theta` holds ``a[j]``
for j = 1..L and ``z[j]`` for j = 2..L.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Sequence

import numpy as np

from dlkit.nn.activations import function as _activation_function
from dlkit.nn.core import Layer, Sequential, check_array
from dlkit.nn.linear import Linear

__all__ = [
    "add_bias",
    "forward_theta",
    "ForwardPass",
    "theta_from_linear",
    "linear_from_theta",
    "thetas_from_model",
    "model_from_thetas",
    "count_parameters",
]


def add_bias(a: np.ndarray) -> np.ndarray:
    """Prepend the bias unit a_0^(j) = 1 to the activations of layer j.

    Parameters
    ----------
    a : array (s_j,), a^(j) of one example, or (N, s_j), A^(j) of a batch (one example
        per row).

    Returns
    -------
    array (s_j + 1,) = [1; a^(j)], or (N, s_j + 1) = [1 | A^(j)] (a column of ones first).
    """
    a = check_array(a, "add_bias", ndim=(1, 2))
    if a.ndim == 1:
        return np.concatenate([np.ones(1, a.dtype), a])
    return np.hstack([np.ones((a.shape[0], 1), a.dtype), a])


@dataclass
class ForwardPass:
    """Every layer's values from one forward pass, indexed by layer as in the book.

    Attributes
    ----------
    a : dict j -> a^(j), j = 1..L, *without* the bias unit; a[1] is the input x.
        Shape (s_j,) for one example, (N, s_j) for a batch (then a[j] is A^(j)).
    z : dict j -> z^(j), j = 2..L (layer 1 has no z): the weighted inputs,
        z^(j) = Θ^(j) [1; a^(j-1)].
    """

    a: dict[int, np.ndarray] = field(default_factory=dict)
    z: dict[int, np.ndarray] = field(default_factory=dict)

    @property
    def L(self) -> int:
        """Number of layers, counting the input layer."""
        return len(self.a)

    @property
    def output(self) -> np.ndarray:
        """ŷ = a^(L), the network's output."""
        return self.a[self.L]

    def __repr__(self) -> str:
        # One entry per layer j: a[1] for the input, then z[j], a[j] (both of shape s_j).
        layers = [f"a[1] {tuple(self.a[1].shape)}"] if 1 in self.a else []
        layers += [f"z[{j}], a[{j}] {tuple(self.a[j].shape)}" for j in sorted(self.a) if j > 1]
        return f"ForwardPass(L={self.L}: {' | '.join(layers)})"


def _check_thetas(Thetas: Sequence[np.ndarray]) -> list[np.ndarray]:
    """`Thetas` = [Θ^(2), ..., Θ^(L)] as a list of 2-D arrays whose shapes chain:
    Θ^(j) has s_j rows, so Θ^(j+1) needs s_j + 1 columns."""
    if isinstance(Thetas, np.ndarray) and Thetas.ndim == 2:
        Thetas = [Thetas]
    Thetas = [check_array(T, f"Θ^({j})", ndim=2) for j, T in enumerate(Thetas, start=2)]
    if not Thetas:
        raise ValueError("forward_theta needs at least one matrix, Θ^(2)")
    for j in range(2, len(Thetas) + 1):  # Θ^(j) = Thetas[j - 2] feeds Θ^(j+1)
        s_j, cols = Thetas[j - 2].shape[0], Thetas[j - 1].shape[1]
        if cols != s_j + 1:
            raise ValueError(
                f"Θ^({j}) has {s_j} rows, so layer {j} has {s_j} units and Θ^({j + 1}) "
                f"needs {s_j} + 1 = {s_j + 1} columns (bias first), but it has {cols}"
            )
    return Thetas


def forward_theta(
    Thetas: Sequence[np.ndarray],
    x: np.ndarray,
    activation: str = "sigmoid",
    output_activation: str = "identity",
) -> ForwardPass:
    """Forward propagation with the bias-unit matrices Θ^(2), ..., Θ^(L).

    Parameters
    ----------
    Thetas : list [Θ^(2), ..., Θ^(L)]; ``Thetas[j - 2]`` is Θ^(j) = [b^(j) | W^(j)],
        shape (s_j, s_{j-1} + 1), its first column the biases.
    x : array (s_1,) for one example, or (N, s_1) for a batch X of N examples (rows).
    activation : g of the hidden layers 2..L-1 ('sigmoid', 'tanh', 'relu', ...).
    output_activation : g of the output layer L. 'identity' (the default) returns the
        scores z^(L), as :func:`dlkit.nn.mlp` does; 'sigmoid' gives the classic
        ŷ = σ(z^(L)).

    Returns
    -------
    ForwardPass with ``a[j]`` (j = 1..L) and ``z[j]`` (j = 2..L); ``.output`` is ŷ = a^(L).
    """
    Thetas = _check_thetas(Thetas)
    g, _ = _activation_function(activation)
    g_out, _ = _activation_function(output_activation)
    x = check_array(x, "forward_theta input x", ndim=(1, 2))
    s_1 = Thetas[0].shape[1] - 1
    if x.shape[-1] != s_1:
        raise ValueError(
            f"Θ^(2) has {s_1} + 1 columns, so x needs {s_1} features, got shape {x.shape}"
            + ("; pass one example as shape (s_1,) or a batch as (N, s_1)" if x.ndim == 2 else "")
        )
    one_example = x.ndim == 1
    result = ForwardPass()
    result.a[1] = x
    L = len(Thetas) + 1
    for j, Theta in enumerate(Thetas, start=2):  # Theta is Θ^(j), layer j = 2..L
        a_bias = add_bias(result.a[j - 1])  # [1; a^(j-1)]
        if one_example:
            z = Theta @ a_bias  # z^(j) = Θ^(j) [1; a^(j-1)]
        else:
            z = a_bias @ Theta.T  # Z^(j) = [1 | A^(j-1)] Θ^(j)ᵀ
        result.z[j] = z
        result.a[j] = g_out(z) if j == L else g(z)  # a^(j) = g(z^(j))
    return result


def theta_from_linear(layer: Linear) -> np.ndarray:
    """Θ^(j) = [b^(j) | W^(j)], shape (s_j, s_{j-1} + 1), from the Linear layer of layer j.

    The layer stores W^(j) as ``W`` (out_features × in_features = s_j × s_{j-1}) and
    b^(j) as ``b``; a layer without bias gets a zero first column.
    """
    if not isinstance(layer, Linear):
        raise TypeError(f"theta_from_linear needs a Linear layer, got {type(layer).__name__}")
    W = layer.W.data
    b = layer.b.data if layer.b is not None else np.zeros(W.shape[0], W.dtype)
    return np.column_stack([b, W])


def linear_from_theta(Theta: np.ndarray) -> Linear:
    """A new Linear(s_{j-1}, s_j) from Θ^(j) = [b^(j) | W^(j)]: ``b`` a copy of Θ^(j)'s
    first column, ``W`` a copy of the rest."""
    Theta = check_array(Theta, "linear_from_theta", ndim=2)
    out, cols = Theta.shape
    if cols < 2:
        raise ValueError(
            f"Θ has shape {Theta.shape}: it needs a bias column and at least one weight column"
        )
    layer = Linear(cols - 1, out, init="zeros", dtype=Theta.dtype)
    layer.b.data[...] = Theta[:, 0]
    layer.W.data[...] = Theta[:, 1:]
    return layer


def thetas_from_model(model: Layer) -> list[np.ndarray]:
    """[Θ^(2), ..., Θ^(L)] from the Linear layers of a Sequential (or one Linear), in order.

    The list's entry j - 2 is Θ^(j), the Linear layer that computes layer j.
    """
    if isinstance(model, Linear):
        return [theta_from_linear(model)]
    if not isinstance(model, Sequential):
        raise TypeError(
            f"thetas_from_model needs a Sequential of Linear layers, got {type(model).__name__}"
        )
    Thetas = [theta_from_linear(layer) for layer in model if isinstance(layer, Linear)]
    if not Thetas:
        raise ValueError("the model has no Linear layers, so it has no Θ matrices")
    return Thetas


def model_from_thetas(Thetas: Sequence[np.ndarray], activation: str = "sigmoid") -> Sequential:
    """The Sequential [Linear, g, Linear, g, ..., Linear] holding Θ^(2), ..., Θ^(L).

    Its ``forward`` equals ``forward_theta(Thetas, X, activation).output``.
    """
    from dlkit.nn.activations import get_activation

    Thetas = _check_thetas(Thetas)
    layers: list[Layer] = []
    for j, Theta in enumerate(Thetas):
        layers.append(linear_from_theta(Theta))
        if j < len(Thetas) - 1:
            layers.append(get_activation(activation))
    return Sequential(*layers)


def count_parameters(sizes: Sequence[int]) -> int:
    """P, the number of weights and biases of a fully connected network with layer
    sizes s_1, ..., s_L.

    Layer j = 2..L has W^(j) (s_j × s_{j-1}) and b^(j) (s_j), together the s_j (s_{j-1} + 1)
    entries of Θ^(j), so P = Σ_{j=2}^{L} s_j (s_{j-1} + 1).
    For 784-100-10: 100·785 + 10·101 = 79,510.
    """
    sizes = list(sizes)
    if len(sizes) < 2:
        raise ValueError(f"a network needs at least an input and an output layer, got {sizes}")
    for s in sizes:
        if not isinstance(s, (int, np.integer)) or isinstance(s, bool) or s < 1:
            raise ValueError(f"layer sizes must be positive ints, got {sizes}")
    # zip pairs (s_{j-1}, s_j) for j = 2..L
    return int(sum(s_j * (s_prev + 1) for s_prev, s_j in zip(sizes[:-1], sizes[1:])))
