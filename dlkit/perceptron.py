"""Single neurons: the perceptron, its learning rule, and hand-wired logic gates.

Chapters 1 and 2 of the book. The notation follows the text:

- a unit with weights w = (w_1, ..., w_{s_1}) and bias b computes the weighted input
  z = w · x + b = w_1 x_1 + ... + w_{s_1} x_{s_1} + b and outputs its activation
  a = g(z) (s_1 is the number of inputs; the output of a whole network is ŷ);
- g is the step function for a perceptron (Rosenblatt 1958) and the sigmoid
  g(z) = 1 / (1 + e^{-z}) for a sigmoid neuron (Nielsen 2015);
- the perceptron learning rule, for each example (x_n, y_n) in turn, predicts
  ŷ = step(w · x_n + b) and, on a mistake, moves the line towards the example:
  w ← w + η (y_n − ŷ) x_n,  b ← b + η (y_n − ŷ).

On linearly separable data the rule stops making mistakes after finitely many
updates (Novikoff's convergence theorem: at most (R/ω)², where ω is the margin of a
separating line, :func:`margin`; :func:`max_margin` finds the line of largest ω). On
XOR no line separates the classes (Minsky & Papert 1969), so it never stops:
:func:`train_perceptron` detects that the weights come back to a state they had
before, i.e. that the rule cycles forever.

Hand-set gate units (:data:`GATE_WEIGHTS`) use the classic weights ±20 and biases
−30, −10, 10, 30, large enough that the sigmoid is within 5e-5 of 0 or 1 on every
row. :class:`GateNetwork` wires such units into two layers, e.g. XNOR from AND, NOR
and OR (:func:`xnor_network`). :func:`fit_gate_network` learns the same thing with
``dlkit.nn`` by gradient descent.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Callable

import numpy as np

from dlkit.nn.activations import sigmoid
from dlkit.nn.core import check_flag, check_int, check_numeric, check_real

__all__ = [
    "step",
    "sigmoid",
    "ACTIVATIONS",
    "Neuron",
    "GATE_WEIGHTS",
    "gate_unit",
    "GateNetwork",
    "xnor_network",
    "xor_network",
    "truth_table_inputs",
    "Update",
    "PerceptronResult",
    "train_perceptron",
    "linearly_separable",
    "margin",
    "max_margin",
    "fit_gate_network",
]


def step(z) -> np.ndarray:
    """The perceptron's activation a = g(z): 1 where z > 0, else 0 (as int64).

    z = w · x + b is the unit's weighted input. The threshold rule "output 1 if
    w · x > threshold" is the same as step(w · x + b) with b = −threshold.
    """
    z = check_numeric(z, "step")
    return (np.asarray(z) > 0).astype(np.int64)


#: name -> g; a Neuron's ``activation`` is one of these names.
ACTIVATIONS: dict[str, Callable] = {"step": step, "sigmoid": sigmoid}


def _real_matrix(X, name: str, who: str) -> np.ndarray:
    """X as a float64 array; None, strings and objects are a TypeError."""
    check_numeric(X, f"{who} {name}")
    return np.asarray(X, dtype=np.float64)


def _as_inputs(X, n_inputs: int, who: str) -> np.ndarray:
    X = _real_matrix(X, "input X", who)
    if X.ndim == 1 and n_inputs == 1:
        X = X[:, None]
    if X.ndim == 1 and X.shape[0] == n_inputs:
        X = X[None, :]
    if X.ndim != 2 or X.shape[1] != n_inputs:
        raise ValueError(
            f"{who} has {n_inputs} input(s) and got X of shape {X.shape}; pass one row per "
            f"example, shape (N, {n_inputs})"
        )
    if not np.isfinite(X).all():
        raise ValueError(f"{who} got a non-finite input; check the data")
    return X


@dataclass
class Neuron:
    """One unit: z = w · x + b, a = g(z).

    Parameters
    ----------
    w : sequence of float, shape (s_1,)
        Weights w_1..w_{s_1}, one per input.
    b : float
        Bias (minus the threshold).
    activation : 'step' or 'sigmoid'
        g: 'step' makes a perceptron, 'sigmoid' a sigmoid neuron.
    name : str
        A label for tables and plots.
    """

    w: np.ndarray
    b: float
    activation: str = "step"
    name: str = ""

    def __post_init__(self):
        self.w = np.atleast_1d(_real_matrix(self.w, "weights w", "Neuron"))
        if self.w.ndim != 1 or self.w.size == 0:
            raise ValueError(f"Neuron weights must be a vector, got shape {self.w.shape}")
        if not np.isfinite(self.w).all():
            raise ValueError(f"Neuron weights must be finite, got {self.w}")
        self.b = check_real(self.b, "bias b", "Neuron")
        if not isinstance(self.activation, str):
            raise TypeError(
                f"Neuron activation must be a name, 'step' or 'sigmoid', got {self.activation!r}"
            )
        if not isinstance(self.name, str):
            raise TypeError(f"Neuron name must be a str, got {type(self.name).__name__}")
        if self.activation not in ACTIVATIONS:
            raise ValueError(
                f"unknown activation {self.activation!r} for a Neuron: choose one of "
                f"{', '.join(ACTIVATIONS)}"
            )

    @property
    def n_inputs(self) -> int:
        return self.w.shape[0]

    def z(self, X) -> np.ndarray:
        """Weighted inputs z_n = w · x_n + b, shape (N,), for X of shape (N, s_1).

        Row n of X is the input x_n of example n; together, z = X w + b.
        """
        X = _as_inputs(X, self.n_inputs, repr(self))
        return X @ self.w + self.b

    def __call__(self, X) -> np.ndarray:
        """Activations a = g(z), shape (N,): 0/1 ints for 'step', floats in (0, 1) for
        'sigmoid'."""
        return ACTIVATIONS[self.activation](self.z(X))

    def with_activation(self, activation: str) -> "Neuron":
        """The same weights with another g."""
        return Neuron(self.w.copy(), self.b, activation, self.name)

    def scaled(self, c: float) -> "Neuron":
        """The unit with weights and bias multiplied by c: same line, steeper sigmoid."""
        c = check_real(c, "c", f"{self!r}.scaled")
        return Neuron(self.w * c, self.b * c, self.activation, self.name)

    def formula(self) -> str:
        """The unit as text, e.g. 'g(-30 + 20 x1 + 20 x2)'."""
        terms = [f"{self.b:g}"]
        for i, wi in enumerate(self.w, 1):
            terms.append(f"{'-' if wi < 0 else '+'} {abs(wi):g} x{i}")
        return f"g({' '.join(terms)})"

    def __repr__(self) -> str:
        label = f"{self.name}: " if self.name else ""
        return f"Neuron({label}{self.formula()}, g={self.activation})"


#: Hand-set weights (w, b) of the gate units: AND g(-30 + 20x1 + 20x2) etc.
#: NOR is "(NOT x1) AND (NOT x2)": it fires only when both inputs are 0.
GATE_WEIGHTS: dict[str, tuple[tuple[float, ...], float]] = {
    "AND": ((20.0, 20.0), -30.0),
    "OR": ((20.0, 20.0), -10.0),
    "NAND": ((-20.0, -20.0), 30.0),
    "NOR": ((-20.0, -20.0), 10.0),
    "NOT": ((-20.0,), 10.0),
}


def gate_unit(name: str, activation: str = "sigmoid", scale: float = 1.0) -> Neuron:
    """A neuron computing a logic gate with the hand-set weights of :data:`GATE_WEIGHTS`.

    ``scale`` multiplies weights and bias: ``gate_unit('AND', scale=0.1)`` is
    g(-3 + 2 x1 + 2 x2), the same decision line with a much softer sigmoid.
    """
    if not isinstance(name, str):
        raise TypeError(f"gate_unit needs a gate name such as 'AND', got {name!r}")
    key = name.strip().upper()
    if key not in GATE_WEIGHTS:
        raise ValueError(
            f"no hand-set unit for gate {name!r}: one neuron can compute "
            f"{', '.join(GATE_WEIGHTS)} (XOR and XNOR need two layers: see xnor_network)"
        )
    w, b = GATE_WEIGHTS[key]
    scale = check_real(scale, "scale", "gate_unit")
    return Neuron(np.array(w) * scale, b * scale, activation, key)


def truth_table_inputs(n_inputs: int = 2) -> np.ndarray:
    """All 2**n 0/1 input rows in binary order, shape (2**n, n): (0,0), (0,1), (1,0), (1,1)."""
    if (
        isinstance(n_inputs, (int, np.integer))
        and not isinstance(n_inputs, bool)
        and (n_inputs < 1 or n_inputs > 24)
    ):
        raise ValueError(f"n_inputs must be in 1..24 (2**n rows), got {n_inputs}")
    n_inputs = check_int(n_inputs, "n_inputs", "truth_table_inputs")
    rows = np.arange(2**n_inputs)[:, None] >> np.arange(n_inputs - 1, -1, -1)
    return (rows & 1).astype(np.float64)


@dataclass
class GateNetwork:
    """Two layers of neurons: hidden units a_i = g(w_i · x + b_i), then the output
    unit ŷ = g(w · a + b) on the hidden activations a = (a_1, ..., a_{s_2}).

    (w, b) are each unit's own weights and bias; chapter 3 stacks them into the
    matrices W^{(2)}, b^{(2)} of the hidden layer and W^{(3)}, b^{(3)} of the output.

    Parameters
    ----------
    hidden : list of Neuron
        The hidden layer of s_2 units; each sees the inputs x.
    output : Neuron
        The output unit; it sees the hidden activations a = (a_1, ..., a_{s_2}).
    name : str
        A label, e.g. 'XNOR'.
    """

    hidden: list[Neuron]
    output: Neuron
    name: str = ""

    def __post_init__(self):
        self.hidden = list(self.hidden)
        for i, u in enumerate(self.hidden + [self.output]):
            if not isinstance(u, Neuron):
                where = "output" if i == len(self.hidden) else f"hidden[{i}]"
                raise TypeError(
                    f"GateNetwork {where} must be a Neuron, got "
                    f"{type(u).__name__}; build units with Neuron(w, b) or gate_unit"
                )
        if len(self.hidden) != self.output.n_inputs:
            raise ValueError(
                f"the output unit has {self.output.n_inputs} inputs but there are "
                f"{len(self.hidden)} hidden units; they must match"
            )

    def hidden_activations(self, X) -> np.ndarray:
        """a, shape (N, s_2): column i is hidden unit i's activation a_i."""
        return np.column_stack([np.asarray(u(X), dtype=np.float64) for u in self.hidden])

    def forward(self, X) -> tuple[np.ndarray, np.ndarray]:
        """(a, ŷ): the hidden activations a, shape (N, s_2), and the outputs ŷ, shape (N,).

        Row n of X is the input x_n; row n of a is what the output unit sees for it.
        """
        a = self.hidden_activations(X)
        y_hat = self.output(a)
        return a, y_hat

    def __call__(self, X) -> np.ndarray:
        return self.forward(X)[1]

    def scaled(self, c: float) -> "GateNetwork":
        """Every weight and bias multiplied by c."""
        return GateNetwork([u.scaled(c) for u in self.hidden], self.output.scaled(c), self.name)


def xnor_network(activation: str = "sigmoid", scale: float = 1.0) -> GateNetwork:
    """XNOR by hand: a1 = x1 AND x2, a2 = (NOT x1) AND (NOT x2), ŷ = a1 OR a2."""
    a1 = gate_unit("AND", activation, scale)
    a2 = gate_unit("NOR", activation, scale)
    a2.name = "(NOT x1) AND (NOT x2)"
    return GateNetwork([a1, a2], gate_unit("OR", activation, scale), "XNOR")


def xor_network(activation: str = "sigmoid", scale: float = 1.0) -> GateNetwork:
    """XOR by hand: a1 = x1 OR x2, a2 = x1 NAND x2, ŷ = a1 AND a2."""
    return GateNetwork(
        [gate_unit("OR", activation, scale), gate_unit("NAND", activation, scale)],
        gate_unit("AND", activation, scale),
        "XOR",
    )


# --------------------------------------------------------------------------- learning


@dataclass(frozen=True)
class Update:
    """One correction made by the perceptron rule (after it was applied)."""

    epoch: int  # 1-based
    index: int  # n, which example, 0-based
    x: tuple[float, ...]  # x_n
    y: int  # the target y_n
    y_hat: int  # ŷ, the wrong prediction that caused the update
    w: tuple[float, ...]  # weights after the update
    b: float  # bias after the update


@dataclass
class PerceptronResult:
    """What :func:`train_perceptron` did.

    Attributes
    ----------
    w, b : final weights (n,) and bias.
    converged : True if an epoch ended with every example classified correctly.
    epochs : epochs run (when converged: the first epoch after which errors == 0).
    errors : per epoch, examples misclassified by the weights at the end of the epoch.
    mistakes : per epoch, updates made during the epoch.
    updates : every update, in order.
    cycle : (first epoch, period) if the weights at the end of an epoch repeated an
        earlier state; the rule is deterministic, so it then repeats forever.
    """

    w: np.ndarray
    b: float
    converged: bool
    epochs: int
    errors: list[int] = field(default_factory=list)
    mistakes: list[int] = field(default_factory=list)
    updates: list[Update] = field(default_factory=list)
    cycle: tuple[int, int] | None = None

    @property
    def unit(self) -> Neuron:
        """The learned perceptron."""
        return Neuron(self.w.copy(), self.b, "step")

    def summary(self) -> str:
        w = ", ".join(f"{v:g}" for v in self.w)
        if self.converged:
            return (
                f"converged after {self.epochs} epochs ({len(self.updates)} updates): "
                f"w = ({w}), b = {self.b:g}"
            )
        text = (
            f"not converged after {self.epochs} epochs ({len(self.updates)} updates): "
            f"errors per epoch never below {min(self.errors)}"
        )
        if self.cycle is not None:
            a, p = self.cycle
            text += (
                f"; the weights at the end of epoch {a + p} equal those at the end of "
                f"epoch {a}, so the rule repeats the same {p}-epoch cycle forever"
            )
        return text


def _check_perceptron_args(X, y, lr, max_epochs, w0, b0, shuffle, stop_on_cycle):
    """The checked inputs of :func:`train_perceptron`: X (N, s_1), y (N,) int64 in {0, 1},
    w (n,) and b as floats."""
    who = "train_perceptron"
    X, y = _check_examples(X, y, who)
    check_real(lr, "learning rate lr", who, low=0.0, low_open=True)
    check_int(max_epochs, "max_epochs", who)
    check_flag(shuffle, "shuffle", who)
    check_flag(stop_on_cycle, "stop_on_cycle", who)
    w = np.zeros(X.shape[1]) if w0 is None else _real_matrix(w0, "w0", who).copy()
    if w.shape != (X.shape[1],):
        raise ValueError(f"w0 must have shape ({X.shape[1]},), got {w.shape}")
    if not np.isfinite(w).all():
        raise ValueError(f"{who}: w0 must be finite, got {w}")
    return X, y.astype(np.int64), w, check_real(b0, "b0", who)


def _check_examples(X, y, who: str) -> tuple[np.ndarray, np.ndarray]:
    """X (N, s_1) finite floats and y (N,) of 0s and 1s, with N >= 1."""
    X = _real_matrix(X, "X", who)
    if X.ndim != 2:
        raise ValueError(f"{who} needs X of shape (N, s_1), one example per row, got {X.shape}")
    if X.shape[0] == 0 or X.shape[1] == 0:
        raise ValueError(
            f"{who} got X of shape {X.shape}; it needs at least one example with at least one input"
        )
    if not np.isfinite(X).all():
        raise ValueError(f"{who} got a non-finite input in X; check the data")
    y = np.asarray(check_numeric(y, f"{who} y"))
    if y.shape != (X.shape[0],):
        raise ValueError(f"y must have shape ({X.shape[0]},) to match X, got {y.shape}")
    if not np.isin(y, (0, 1)).all():
        raise ValueError("perceptron targets must be 0 or 1")
    return X, y


def train_perceptron(
    X,
    y,
    *,
    lr: float = 1.0,
    max_epochs: int = 100,
    w0=None,
    b0: float = 0.0,
    shuffle: bool = False,
    seed=0,
    stop_on_cycle: bool = False,
) -> PerceptronResult:
    """Rosenblatt's perceptron learning rule.

    For each epoch, for each example n in order (or in a seeded random order if
    ``shuffle``): ŷ = step(w · x_n + b); if ŷ ≠ y_n then
    w ← w + η (y_n − ŷ) x_n and b ← b + η (y_n − ŷ), with η = ``lr``.
    Stops as soon as an epoch ends with no misclassified example, or after
    ``max_epochs``.

    Parameters
    ----------
    X : array (N, s_1)
        Inputs, one example x_n per row.
    y : array (N,)
        Targets y_n in {0, 1}.
    lr : float
        η, the learning rate (with w0 = 0 it only scales w and b, not the outcome).
    max_epochs : int
        Passes over the data before giving up.
    w0, b0 : initial weights (default zeros) and bias.
    shuffle, seed : visit the examples in a new seeded order every epoch.
    stop_on_cycle : stop when the end-of-epoch weights repeat (only meaningful
        without shuffling, where a repeat means the rule loops forever).

    Returns
    -------
    PerceptronResult
    """
    from dlkit import rng as _rng

    X, y, w, b = _check_perceptron_args(X, y, lr, max_epochs, w0, b0, shuffle, stop_on_cycle)
    rng = _rng(seed)
    res = PerceptronResult(w, b, False, 0)
    seen: dict[tuple, int] = {}
    for epoch in range(1, max_epochs + 1):
        order = rng.permutation(len(y)) if shuffle else range(len(y))
        n_mistakes = 0
        for n in order:
            y_hat = int(step(X[n] @ w + b))  # ŷ = step(w · x_n + b)
            if y_hat != y[n]:
                w += lr * (y[n] - y_hat) * X[n]  # w ← w + η (y_n − ŷ) x_n
                b = float(b + lr * (y[n] - y_hat))  # b ← b + η (y_n − ŷ)
                n_mistakes += 1
                res.updates.append(
                    Update(
                        epoch, int(n), tuple(X[n].tolist()), int(y[n]), y_hat, tuple(w.tolist()), b
                    )
                )
        res.mistakes.append(n_mistakes)
        res.errors.append(int(np.sum(step(X @ w + b) != y)))
        res.epochs = epoch
        if res.errors[-1] == 0:
            res.converged = True
            break
        key = (tuple(np.round(w, 12).tolist()), round(b, 12))
        if not shuffle and res.cycle is None and key in seen:
            res.cycle = (seen[key], epoch - seen[key])
            if stop_on_cycle:
                break
        seen.setdefault(key, epoch)
    res.w, res.b = w, b
    return res


def linearly_separable(X, y) -> bool:
    """True if some line (hyperplane) w · x + b = 0 puts every y=1 point strictly on one
    side and every y=0 point on the other.

    Decided exactly by a linear program: find w, b with (2y_i − 1)(w · x_i + b) >= 1
    for all i (any strict separator can be scaled to satisfy this).
    """
    from scipy.optimize import linprog

    X, y = _check_examples(X, y, "linearly_separable")
    s = np.where(y.astype(bool), 1.0, -1.0)
    A = -s[:, None] * np.column_stack([X, np.ones(len(X))])
    n = X.shape[1] + 1
    r = linprog(
        np.zeros(n), A_ub=A, b_ub=-np.ones(len(X)), bounds=[(None, None)] * n, method="highs"
    )
    return r.status == 0


def margin(w, b, X, y) -> float:
    """The geometric margin ω of the line w · x + b = 0 on the examples (X, y).

    With the labels as signs y'_n = 2 y_n − 1 ∈ {−1, +1} and z_n = w · x_n + b,

        ω = min_n  y'_n z_n / ‖w‖:

    the distance from the line to the closest example, counted positive when the
    example is on its own class's side. ω > 0: every example is strictly on the right
    side, at least ω away; ω = 0: an example lies on the line (a step unit, whose
    g(0) = 0, gets it right only if its y is 0); ω < 0: an example is on the wrong
    side. Multiplying w and b by c > 0 does not move the line, nor change ω.

    Parameters
    ----------
    w : array (s_1,)
        The weights, not all zero.
    b : float
        The bias.
    X : array (N, s_1)
        The inputs x_n, one per row.
    y : array (N,)
        The targets y_n in {0, 1}.
    """
    w, b, X, y = _check_margin_args(w, b, X, y)
    y_sign = 2.0 * y - 1.0  # y'_n = ±1
    z = X @ w + b  # z_n = w · x_n + b
    return float(np.min(y_sign * z) / np.linalg.norm(w)) + 0.0  # + 0.0: never −0.0


def _check_margin_args(w, b, X, y):
    """The checked inputs of :func:`margin`: w (s_1,) finite and not all zero, b a
    finite float, X (N, s_1) and y (N,) in {0, 1}."""
    who = "margin"
    X, y = _check_examples(X, y, who)
    w = np.atleast_1d(_real_matrix(w, "weights w", who))
    b = check_real(b, "bias b", who)
    n_inputs = X.shape[1]
    if w.shape != (n_inputs,):
        raise ValueError(
            f"{who}: w must have one weight per input, shape ({n_inputs},), got {w.shape}"
        )
    if not np.isfinite(w).all():
        raise ValueError(f"{who}: the weights w must be finite, got {w}")
    if not np.any(w):
        raise ValueError(f"{who}: w = 0 is not a line (w · x + b is constant); pass w ≠ 0")
    return w, b, X, y


def max_margin(X, y) -> tuple[np.ndarray, float]:
    """The separating line of largest margin ω (the hard-margin support vector machine).

    Solves the quadratic program

        minimise ½ ‖w‖²  subject to  y'_n (w · x_n + b) ≥ 1 for every n,

    with y'_n = 2 y_n − 1. At the solution the closest examples have z_n = ±1, so the
    margin is ω = 1 / ‖w‖, the largest that any line achieves on (X, y). For AND the
    line is x_1 + x_2 = 1.5, w = (2, 2), b = −3 and ω = 1/(2√2).

    Parameters
    ----------
    X : array (N, s_1)
        The inputs x_n, one per row.
    y : array (N,)
        The targets y_n in {0, 1}, both classes present and linearly separable.

    Returns
    -------
    (w, b) : the weights, shape (s_1,), and the bias of the line, scaled so that
        ``margin(w, b, X, y) == 1 / np.linalg.norm(w)``.
    """
    from scipy.optimize import minimize

    X, y = _check_examples(X, y, "max_margin")
    if len(np.unique(y)) < 2:
        raise ValueError(
            "max_margin needs examples of both classes (y = 0 and y = 1); with one class "
            "every line that leaves all points on one side separates them"
        )
    if not linearly_separable(X, y):
        raise ValueError(
            "max_margin: no line separates these classes (check with linearly_separable); "
            "the margin of every line is negative"
        )
    y_sign = 2.0 * y - 1.0
    Xb = np.column_stack([X, np.ones(len(X))])  # θ = (w, b), z = Xb θ
    A = y_sign[:, None] * Xb  # constraints A θ − 1 ≥ 0
    P = np.eye(Xb.shape[1])
    P[-1, -1] = 0.0  # ½ ‖w‖², the bias is free
    theta0 = _separating_theta(A)
    r = minimize(
        lambda t: 0.5 * t @ P @ t,
        theta0,
        jac=lambda t: P @ t,
        constraints=[{"type": "ineq", "fun": lambda t: A @ t - 1.0, "jac": lambda t: A}],
        method="SLSQP",
        options={"ftol": 1e-12, "maxiter": 1000},
    )
    theta = _kkt_solution(A, P, r.x)
    if theta is None:
        raise RuntimeError(
            f"max_margin: the quadratic program did not converge ({r.message}); rescale X "
            "so that its entries are of order 1 and try again"
        )
    return theta[:-1].copy(), float(theta[-1])


def _kkt_solution(A: np.ndarray, P: np.ndarray, theta: np.ndarray) -> np.ndarray | None:
    """The exact optimum of min ½ θᵀ P θ subject to A θ ≥ 1, from an approximate `theta`.

    The constraints nearly active at `theta` (the support vectors) are made equalities
    and the KKT equations P θ = A_Sᵀ λ, A_S θ = 1 solved as one linear system. The
    result is returned only if it is a certified optimum: feasible (A θ ≥ 1), with
    multipliers λ ≥ 0; else None.
    """
    for tol in (1e-6, 1e-4, 1e-3):
        As = A[A @ theta - 1.0 < tol]
        k, m = As.shape
        K = np.block([[P, -As.T], [As, np.zeros((k, k))]])
        rhs = np.concatenate([np.zeros(m), np.ones(k)])
        sol = np.linalg.lstsq(K, rhs, rcond=None)[0]
        t, lam = sol[:m], sol[m:]
        scale = max(1.0, float(np.max(np.abs(As))) * float(np.max(np.abs(t))))
        if (
            np.min(A @ t) > 1.0 - 1e-9 * scale
            and np.min(lam, initial=0.0) > -1e-9 * scale
            and np.allclose(K @ sol, rhs, rtol=0.0, atol=1e-9 * scale)
        ):
            return t
    return None


def _separating_theta(A: np.ndarray) -> np.ndarray:
    """Some θ = (w, b) with A θ ≥ 1: a feasible start for :func:`max_margin`."""
    from scipy.optimize import linprog

    n = A.shape[1]
    r = linprog(
        np.zeros(n), A_ub=-A, b_ub=-np.ones(len(A)), bounds=[(None, None)] * n, method="highs"
    )
    return r.x


# ----------------------------------------------------------------- learning by gradient


def fit_gate_network(
    gate: str = "XOR",
    *,
    hidden: int = 2,
    activation: str = "tanh",
    lr: float = 0.5,
    epochs: int = 2000,
    seed: int = 0,
):
    """Learn a two-input gate with a 2-hidden-1 network by full-batch gradient descent.

    The network is ``Linear(2, hidden) -> activation -> Linear(hidden, 1) -> Sigmoid``:

        a^{(2)} = g(W^{(2)} x + b^{(2)}),   ŷ = σ(W^{(3)} a^{(2)} + b^{(3)}),

    with W^{(2)} of shape (hidden, 2) and W^{(3)} of shape (1, hidden) (layer 1 is the
    input). It is trained on the N = 4 rows of the truth table with the binary
    cross-entropy 𝓛 = −(1/N) Σ_n [y_n log ŷ_n + (1 − y_n) log(1 − ŷ_n)] and plain
    gradient descent θ ← θ − η ∇_θ 𝓛 (η = ``lr``), via :func:`dlkit.train.fit`.

    Returns
    -------
    (model, history) : the trained ``dlkit.nn.Sequential`` and its ``History``
        (per-epoch loss and accuracy). ``model[:2].forward(X)`` gives the hidden
        activations a^{(2)}, one row per example.
    """
    from dlkit import nn
    from dlkit.data import gate_table
    from dlkit.optim import SGD
    from dlkit.train import fit

    X, y = gate_table(gate)
    model = nn.Sequential(
        nn.Linear(2, hidden, seed=seed),
        nn.get_activation(activation),
        nn.Linear(hidden, 1, seed=seed + 1),
        nn.Sigmoid(),
    )
    history = fit(
        model, nn.BCELoss(), SGD(model.parameters(), lr=lr), X, y, epochs=epochs, seed=seed
    )
    return model, history
