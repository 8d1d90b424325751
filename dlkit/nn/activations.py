"""Activation functions g(z), their derivatives g'(z), and layers that apply them.

=============  ==========================================  =====================================
name           g(z)                                        g'(z)
=============  ==========================================  =====================================
sigmoid        σ(z) = 1 / (1 + e^{-z})                     σ(z) (1 - σ(z)), at most 1/4
tanh           (e^z - e^{-z}) / (e^z + e^{-z})             1 - g(z)^2
relu           max(0, z)                                   1 if z > 0 else 0
leaky_relu     max(κ z, z), κ = 0.1                        1 if z > 0 else κ
elu            z if z > 0 else κ (e^z - 1), κ = 1          1 if z > 0 else g(z) + κ
identity       z                                           1
=============  ==========================================  =====================================

κ is the negative-side parameter (the argument ``slope`` of leaky ReLU, ``alpha`` of
ELU). :data:`FUNCTIONS` (``dlkit.nn.ACTIVATIONS``) maps each name to its pair (g, g');
every function applies elementwise to a number or an array z and returns an array.

The layers follow the batch notation of chapter 5: the activation of layer j takes
the weighted inputs Z^(j) and returns A^(j) = g(Z^(j)); backward takes ∂𝓛/∂A^(j) and
returns δ^(j) = ∂𝓛/∂Z^(j) = ∂𝓛/∂A^(j) ⊙ g'(Z^(j)).

Maxout (Goodfellow et al. 2013) is not elementwise: it is a layer taking the max of
``k`` linear pieces, :class:`Maxout`.
"""

from __future__ import annotations

from typing import Callable

import numpy as np

from dlkit import rng as _rng
from dlkit.nn import device
from dlkit.nn import init as _init
from dlkit.nn.core import (
    Layer,
    Param,
    check_array,
    check_float_dtype,
    check_int,
    check_numeric,
    check_real,
)
from dlkit.nn.losses import check_classes

LEAKY_SLOPE = 0.1


def sigmoid(z):
    """g(z) = σ(z) = 1 / (1 + e^{-z}), elementwise; values in (0, 1)."""
    z = check_numeric(z, "sigmoid")
    # Written with exp(-|z|) so that large |z| neither overflows nor loses precision.
    z = np.asarray(z, dtype=np.result_type(z, np.float32))
    e = np.exp(-np.abs(z))
    return np.where(z >= 0, 1.0 / (1.0 + e), e / (1.0 + e)).astype(z.dtype, copy=False)


def sigmoid_prime(z):
    """g'(z) = σ(z) (1 - σ(z)), elementwise; at most 1/4, reached at z = 0."""
    z = check_numeric(z, "sigmoid_prime")
    s = sigmoid(z)
    return s * (1 - s)


def _floating(z):
    """`z` unchanged if it is float (or a Python number); an integer or boolean array as
    float32 or wider, the type :func:`sigmoid` returns for it (numpy's own tanh of a
    bool or int8 array is float16, which holds only 3 digits)."""
    dtype = getattr(z, "dtype", None)
    if dtype is None or dtype.kind == "f":
        return z
    return np.asarray(z, dtype=np.result_type(z, np.float32))


def tanh(z):
    """g(z) = tanh z = 2σ(2z) - 1, elementwise; values in (-1, 1)."""
    z = _floating(check_numeric(z, "tanh"))
    return np.tanh(z)


def tanh_prime(z):
    """g'(z) = 1 - tanh² z, elementwise; 1 at z = 0."""
    z = _floating(check_numeric(z, "tanh_prime"))
    return 1 - np.tanh(z) ** 2


def relu(z):
    """g(z) = max(0, z), elementwise."""
    z = check_numeric(z, "relu")
    return np.maximum(z, 0)


def relu_prime(z):
    """g'(z) = 1 if z > 0 else 0, elementwise (0 at the kink z = 0)."""
    z = check_numeric(z, "relu_prime")
    return (np.asarray(z) > 0).astype(np.result_type(z, np.float32))


def leaky_relu(z, slope: float = LEAKY_SLOPE):
    """g(z) = max(κ z, z), elementwise, with κ = `slope` (0.1 by default, 0 <= κ < 1)."""
    z, slope = check_numeric(z, "leaky_relu"), check_numeric(slope, "leaky_relu slope")
    return np.maximum(z, np.multiply(slope, z))


def leaky_relu_prime(z, slope: float = LEAKY_SLOPE):
    """g'(z) = 1 if z > 0 else κ, elementwise, with κ = `slope`."""
    z, slope = check_numeric(z, "leaky_relu_prime"), check_numeric(slope, "leaky_relu_prime slope")
    z = np.asarray(z)
    return np.where(z > 0, 1.0, slope).astype(np.result_type(z, np.float32))


def elu(z, alpha: float = 1.0):
    """g(z) = z if z > 0 else κ (e^z - 1), elementwise, with κ = `alpha` (1 by default)."""
    z, alpha = check_numeric(z, "elu"), check_numeric(alpha, "elu alpha")
    z = np.asarray(z)
    return np.where(z > 0, z, alpha * np.expm1(np.minimum(z, 0)))


def elu_prime(z, alpha: float = 1.0):
    """g'(z) = 1 if z > 0 else κ e^z = g(z) + κ, elementwise, with κ = `alpha`."""
    z, alpha = check_numeric(z, "elu_prime"), check_numeric(alpha, "elu_prime alpha")
    z = np.asarray(z)
    return np.where(z > 0, 1.0, alpha * np.exp(np.minimum(z, 0))).astype(
        np.result_type(z, np.float32)
    )


def identity(z):
    """g(z) = z."""
    z = check_numeric(z, "identity")
    return np.asarray(z)


def identity_prime(z):
    """g'(z) = 1, an array of ones shaped like z."""
    z = check_numeric(z, "identity_prime")
    return np.ones_like(np.asarray(z, dtype=np.result_type(z, np.float32)))


#: name -> (g, g')
FUNCTIONS: dict[str, tuple[Callable, Callable]] = {
    "sigmoid": (sigmoid, sigmoid_prime),
    "tanh": (tanh, tanh_prime),
    "relu": (relu, relu_prime),
    "leaky_relu": (leaky_relu, leaky_relu_prime),
    "elu": (elu, elu_prime),
    "identity": (identity, identity_prime),
}

_ALIASES = {
    "leakyrelu": "leaky_relu",
    "leaky-relu": "leaky_relu",
    "linear": "identity",
    "logistic": "sigmoid",
}


def _canonical(name: str) -> str:
    if not isinstance(name, str):
        raise TypeError(
            f"activation name must be a string, got {name!r} "
            f"({type(name).__name__}); choose one of "
            f"{', '.join(sorted(FUNCTIONS) + ['maxout'])}"
        )
    key = name.strip().lower()
    key = _ALIASES.get(key, key)
    if key not in FUNCTIONS and key != "maxout":
        raise ValueError(
            f"unknown activation {name!r}: choose one of "
            f"{', '.join(sorted(FUNCTIONS) + ['maxout'])}"
        )
    return key


def function(name: str) -> tuple[Callable, Callable]:
    """(g, g') for an elementwise activation name."""
    key = _canonical(name)
    if key == "maxout":
        raise ValueError("maxout is a layer with its own weights: use dlkit.nn.Maxout(in, out, k)")
    return FUNCTIONS[key]


class Activation(Layer):
    """Elementwise A^(j) = g(Z^(j)), in chapter 5's notation: the activation of layer j.

    forward takes the weighted inputs Z^(j) (from the Linear layer below) and caches
    them; backward takes ∂𝓛/∂A^(j) (the layer convention's `dout`) and returns
    δ^(j) = ∂𝓛/∂Z^(j) = ∂𝓛/∂A^(j) ⊙ g'(Z^(j)).
    """

    name = "identity"

    def __init__(self):
        self._g, self._gprime = FUNCTIONS[self.name]
        self._z = None

    def forward(self, z):
        Z = check_array(z, type(self).__name__)
        self._z = Z
        return self._g(Z)

    def _output_shape(self):
        return None if self._z is None else np.shape(self._z)

    def backward(self, dout):
        dA = self._check_dout(dout)  # ∂𝓛/∂A^(j)
        return dA * self._gprime(self._z)  # δ^(j) = ∂𝓛/∂A^(j) ⊙ g'(Z^(j))

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


class Sigmoid(Activation):
    """A^(j) = σ(Z^(j)); backward returns δ^(j) = ∂𝓛/∂A^(j) ⊙ A^(j) (1 - A^(j))."""

    name = "sigmoid"

    def forward(self, z):
        # Cache the output A = σ(Z): g'(Z) = A (1 - A) needs nothing else.
        self._a = sigmoid(check_array(z, "Sigmoid"))
        self._z = z
        return self._a

    def backward(self, dout):
        dout = self._check_dout(dout)
        a = self._a
        return dout * a * (1 - a)


class Tanh(Activation):
    """A^(j) = tanh Z^(j); backward returns δ^(j) = ∂𝓛/∂A^(j) ⊙ (1 - A^(j) ⊙ A^(j))."""

    name = "tanh"

    def forward(self, z):
        self._a = np.tanh(check_array(z, "Tanh"))
        self._z = z
        return self._a

    def backward(self, dout):
        dout = self._check_dout(dout)
        return dout * (1 - self._a * self._a)


class ReLU(Activation):
    """A^(j) = max(0, Z^(j)) elementwise; backward returns
    δ^(j) = ∂𝓛/∂Z^(j) = ∂𝓛/∂A^(j) ⊙ g'(Z^(j)), where g'(Z) is 1 for Z > 0 and 0 elsewhere."""

    name = "relu"

    def forward(self, z):
        Z = check_array(z, "ReLU")  # Z^(j), (N, s_j)
        self._z = Z
        self._mask = Z > 0  # g'(Z^(j))
        return Z * self._mask  # A^(j) = max(0, Z^(j))

    def backward(self, dout):
        dA = self._check_dout(dout)  # ∂𝓛/∂A^(j)
        return dA * self._mask  # δ^(j) = ∂𝓛/∂A^(j) ⊙ g'(Z^(j))


class LeakyReLU(Activation):
    """A^(j) = max(κ Z^(j), Z^(j)) elementwise, with κ = `slope` (0.1 by default)."""

    name = "leaky_relu"

    def __init__(self, slope: float = LEAKY_SLOPE):
        super().__init__()
        self.slope = check_real(slope, "slope", "LeakyReLU", low=0.0, high=1.0, high_open=True)
        self._g = lambda z: leaky_relu(z, slope)
        self._gprime = lambda z: leaky_relu_prime(z, slope)

    def __repr__(self) -> str:
        return f"LeakyReLU(slope={self.slope})"


class ELU(Activation):
    """A^(j) = Z^(j) where Z^(j) > 0, else κ (e^{Z^(j)} - 1), with κ = `alpha` (1 by default)."""

    name = "elu"

    def __init__(self, alpha: float = 1.0):
        super().__init__()
        self.alpha = check_real(alpha, "alpha", "ELU", low=0.0)
        self._g = lambda z: elu(z, alpha)
        self._gprime = lambda z: elu_prime(z, alpha)

    def __repr__(self) -> str:
        return f"ELU(alpha={self.alpha})"


class Identity(Activation):
    name = "identity"


def _softmax_input(z) -> np.ndarray:
    """The input of :class:`Softmax` as a float array with at least one class per row."""
    z = check_array(z, "Softmax")
    check_classes(z, "Softmax")
    return z


class Softmax(Layer):
    """softmax over the last axis; backward uses the full Jacobian-vector product.

    For classification prefer :class:`dlkit.nn.CrossEntropyLoss` on the logits, whose
    gradient (p - y)/N is simpler and more stable.
    """

    _p = None

    def forward(self, z):
        z = _softmax_input(z)
        e = np.exp(z - z.max(axis=-1, keepdims=True))
        self._p = e / e.sum(axis=-1, keepdims=True)
        return self._p

    def _output_shape(self):
        return None if self._p is None else self._p.shape

    def backward(self, dout):
        dout = self._check_dout(dout)
        p = self._p
        return p * (dout - (dout * p).sum(axis=-1, keepdims=True))


class Maxout(Layer):
    """Output unit i: max over its pieces u = 1..``k`` of x · W[i, u] + b[i, u]
    (Goodfellow et al. 2013).

    A maxout unit is ``k`` linear units followed by a max: it can learn ReLU, |z| or any
    convex piecewise-linear activation. Weights ``W`` have shape (out, k, in), biases
    ``b`` (out, k); forward maps (N, in) to (N, out).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        k: int = 2,
        *,
        init="xavier",
        seed=0,
        dtype=np.float64,
    ):
        in_features = check_int(in_features, "in_features", "Maxout")
        out_features = check_int(out_features, "out_features", "Maxout")
        if isinstance(k, (int, np.integer)) and not isinstance(k, bool) and k < 1:
            raise ValueError(f"Maxout needs k >= 1 pieces, got k={k}")
        k = check_int(k, "k", "Maxout")
        self.in_features, self.out_features, self.k = in_features, out_features, k
        self.dtype = check_float_dtype(dtype, "Maxout")
        g = _rng(seed)
        w = _init.get(init)((out_features * k, in_features), g, self.dtype)
        self.W = Param(w.reshape(out_features, k, in_features), "W")
        self.b = Param(np.zeros((out_features, k), self.dtype), "b")
        self._x = None

    def forward(self, x):
        who = f"Maxout({self.in_features}, {self.out_features}, k={self.k})"
        x = check_array(x, who, dtype=self.dtype)
        if x.ndim != 2 or x.shape[1] != self.in_features:
            raise ValueError(
                f"{who} got input of shape {x.shape}; it needs (N, {self.in_features})"
            )
        z = np.einsum("ni,oki->nok", x, self.W.data) + self.b.data  # (N, out, k)
        self._x = x
        self._arg = z.argmax(axis=2)  # which piece won, (N, out)
        return np.take_along_axis(z, self._arg[..., None], axis=2)[..., 0]

    def _output_shape(self):
        return None if self._x is None else (self._x.shape[0], self.out_features)

    def backward(self, dout):
        dout = self._check_dout(dout)
        n = dout.shape[0]
        dz = np.zeros((n, self.out_features, self.k), dtype=dout.dtype)
        np.put_along_axis(dz, self._arg[..., None], dout[..., None], axis=2)
        self.W.grad[...] = np.einsum("nok,ni->oki", dz, self._x)
        self.b.grad[...] = dz.sum(axis=0)
        return np.einsum("nok,oki->ni", dz, self.W.data)

    def __repr__(self) -> str:
        return f"Maxout({self.in_features}, {self.out_features}, k={self.k})"


_LAYERS = {
    "sigmoid": Sigmoid,
    "tanh": Tanh,
    "relu": ReLU,
    "leaky_relu": LeakyReLU,
    "elu": ELU,
    "identity": Identity,
}


def get_activation(name: str) -> Layer:
    """A new activation layer by name: 'sigmoid', 'tanh', 'relu', 'leaky_relu', 'elu'..."""
    key = _canonical(name)
    if key == "maxout":
        raise ValueError("maxout is a layer with its own weights: use dlkit.nn.Maxout(in, out, k)")
    return _LAYERS[key]()


# On a GPU backend (cuda, cudasim, cupy) ReLU runs on the device (dlkit.nn.device); the
# other layers here say that they do not.
device.runs_on_device(ReLU, forward="relu_forward", backward="relu_backward")
for _layer in (Activation, Sigmoid, Tanh, Softmax, Maxout):
    device.runs_on_device(_layer, forward="unsupported")
del _layer
