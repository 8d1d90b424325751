"""A scalar reverse-mode automatic differentiation engine (chapter 5).

Each :class:`Value` holds a number ``data``, the derivative ``grad`` = ∂𝓛/∂(this value)
of the output 𝓛 on which ``backward()`` was called, and the values it was computed
from. Every operation builds its result *and* a small ``_backward`` closure, written
right beside the forward formula, that applies the chain rule locally:

    out = u * v          ->   u.grad += v * out.grad,  v.grad += u * out.grad

(``out.grad`` is ∂𝓛/∂out; the closure adds ∂𝓛/∂out · ∂out/∂u to ∂𝓛/∂u.)
``backward()`` sorts the graph topologically (every node after the nodes it depends
on), sets ∂𝓛/∂𝓛 = 1 and calls the closures in reverse order. Gradients are *added*
(``+=``) because a value used twice receives a contribution from each use (the
multivariate chain rule sums over paths); they are reset to zero at the start of
every ``backward()``, so calling it again gives the same answer.

The design (a ``Value`` with ``data``, ``grad``, its parents and a ``_backward``
closure per operation; ``backward()`` as a topological sort and one loop) is that of
Andrej Karpathy's micrograd (2020, https://github.com/karpathy/micrograd).

The engine only: :func:`dlkit.viz.autograd.draw_graph` draws a graph.
"""

from __future__ import annotations

from dlkit.aliases import moved
import math
import numbers
import sys
from typing import Callable, Iterable


def _number(data, who: str = "Value") -> float:
    """`data` as a float: a real number (int, float, numpy scalar), not a bool or a str."""
    if type(data) is float or type(data) is int:  # the common case, fast
        return float(data)
    if isinstance(data, bool) or not isinstance(data, numbers.Real):
        hint = (
            " (a Value holds one number: use float(x) for a 1-element array)"
            if hasattr(data, "shape")
            else ""
        )
        raise TypeError(f"{who} needs a real number, got {data!r} ({type(data).__name__}){hint}")
    return float(data)


class Value:
    """A scalar node of the computational graph: its number ``data`` and, once
    ``backward()`` has run on an output 𝓛 built from it, ``grad`` = ∂𝓛/∂(this value)."""

    __slots__ = ("data", "grad", "_prev", "_op", "_backward", "label")

    def __init__(self, data: float, _prev: Iterable["Value"] = (), _op: str = "", label: str = ""):
        self.data = _number(data)
        self.grad = 0.0
        self._prev = tuple(_prev)
        self._op = _op
        self._backward: Callable[[], None] = lambda: None
        if not isinstance(label, str):
            raise TypeError(f"Value label must be a str, got {type(label).__name__}")
        self.label = label

    # -- operations: forward, then the local chain rule ---------------------------------
    def __add__(self, other) -> "Value":
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data + other.data, (self, other), "+")

        def _backward():
            self.grad += out.grad
            other.grad += out.grad

        out._backward = _backward
        return out

    def __mul__(self, other) -> "Value":
        """out = self · other, whose local chain rule, with ``out.grad`` = ∂𝓛/∂out, is
        ∂𝓛/∂self += other · ∂𝓛/∂out and ∂𝓛/∂other += self · ∂𝓛/∂out."""
        other = other if isinstance(other, Value) else Value(other)
        out = Value(self.data * other.data, (self, other), "*")

        def _backward():  # += : a value used twice adds the gradients of both uses
            self.grad += other.data * out.grad
            other.grad += self.data * out.grad

        out._backward = _backward
        return out

    def __pow__(self, k: float) -> "Value":
        _check_power(self.data, k)
        out = Value(self.data**k, (self,), f"**{k:g}")

        def _backward():
            self.grad += k * self.data ** (k - 1) * out.grad

        out._backward = _backward
        return out

    def exp(self) -> "Value":
        _check_exp(self.data)
        out = Value(math.exp(self.data), (self,), "exp")

        def _backward():
            self.grad += out.data * out.grad

        out._backward = _backward
        return out

    def log(self) -> "Value":
        if self.data <= 0:
            raise ValueError(f"log of a non-positive value {self.data}")
        out = Value(math.log(self.data), (self,), "log")

        def _backward():
            self.grad += out.grad / self.data

        out._backward = _backward
        return out

    def tanh(self) -> "Value":
        out = Value(math.tanh(self.data), (self,), "tanh")

        def _backward():
            self.grad += (1 - out.data**2) * out.grad

        out._backward = _backward
        return out

    def sigmoid(self) -> "Value":
        z = self.data
        s = 1 / (1 + math.exp(-z)) if z >= 0 else math.exp(z) / (1 + math.exp(z))
        out = Value(s, (self,), "σ")

        def _backward():
            self.grad += out.data * (1 - out.data) * out.grad

        out._backward = _backward
        return out

    def relu(self) -> "Value":
        out = Value(max(self.data, 0.0), (self,), "relu")

        def _backward():
            self.grad += (self.data > 0) * out.grad

        out._backward = _backward
        return out

    # -- derived operations (built from the ones above) ---------------------------------
    def __neg__(self) -> "Value":
        return self * -1

    def __sub__(self, other) -> "Value":
        return self + (-other)

    def __truediv__(self, other) -> "Value":
        other = other if isinstance(other, Value) else Value(other)
        return self * other**-1

    def __radd__(self, other) -> "Value":
        return self + other

    def __rmul__(self, other) -> "Value":
        return self * other

    def __rsub__(self, other) -> "Value":
        return Value(other) - self

    def __rtruediv__(self, other) -> "Value":
        return Value(other) / self

    # -- the backward pass ---------------------------------------------------------------
    def backward(self) -> None:
        """Fill ``grad`` of every node of the graph with ∂𝓛/∂(node), where 𝓛 = self.

        Every gradient is first reset to 0, then ∂𝓛/∂𝓛 = 1 and the nodes' closures run
        in reversed topological order: each node after all the nodes that use it, so
        its ∂𝓛/∂(node) is complete before it passes it on to its inputs.
        """
        order = topological_order(self)
        for node in order:
            node.grad = 0.0
        self.grad = 1.0  # ∂𝓛/∂𝓛
        for node in reversed(order):
            node._backward()

    def __repr__(self) -> str:
        name = f"{self.label}=" if self.label else ""
        return f"Value({name}{self.data:.4g}, grad={self.grad:.4g})"


def _check_power(base: float, k) -> None:
    if isinstance(k, bool) or not isinstance(k, (int, float)):
        raise TypeError(f"Value ** k supports a constant exponent k (int or float) only, got {k!r}")
    if base == 0 and k < 0:
        raise ValueError(f"Value(0) ** {k} divides by zero (also x / Value(0))")
    if base < 0 and not float(k).is_integer():
        raise ValueError(
            f"Value({base:g}) ** {k:g} is not a real number: a negative base "
            "needs an integer exponent"
        )


#: The largest x whose e^x is a finite float64: log(1.797...e308) = 709.78...
EXP_MAX = math.log(sys.float_info.max)


class ExpOverflowError(OverflowError, ValueError):
    """``Value.exp()`` of an x above :data:`EXP_MAX`: e^x does not fit in a float64.

    An ``OverflowError`` (what ``math.exp`` raises) and a ``ValueError`` (the value is
    out of range for the operation), so either ``except`` catches it.
    """


def _check_exp(x: float) -> None:
    if x > EXP_MAX:
        raise ExpOverflowError(
            f"Value({x:g}).exp() overflows float64: e^x is finite only for x <= {EXP_MAX:.2f}; "
            "scale the input down, or rewrite the formula to exponentiate a smaller number "
            "(e.g. sigmoid() or log-sum-exp, which subtract the largest exponent first)"
        )


def _check_root(root, who: str) -> None:
    if not isinstance(root, Value):
        raise TypeError(
            f"{who} needs a Value (the output of a computation), got {type(root).__name__}"
        )


def topological_order(root: Value) -> list[Value]:
    """The nodes of root's graph, each after all the nodes it was computed from.

    Reversed, every node comes after all the nodes that use it: the order in which
    :meth:`Value.backward` completes ∂𝓛/∂(node) for 𝓛 = `root`.
    """
    _check_root(root, "topological_order")
    order, seen = [], set()
    stack = [(root, False)]
    while stack:  # iterative depth-first search, so deep graphs do not hit recursion limits
        node, expanded = stack.pop()
        if expanded:
            order.append(node)
        elif id(node) not in seen:
            seen.add(id(node))
            stack.append((node, True))
            stack.extend((child, False) for child in node._prev if id(child) not in seen)
    return order


#: Names that moved out of this module: name -> the module that holds it now. They
#: are served lazily by :func:`__getattr__`, so the old ``dlkit.autograd.draw_graph``
#: still works without the engine importing the drawing code.
_MOVED = {"draw_graph": "dlkit.viz.autograd"}


__getattr__ = moved(__name__, _MOVED)
