"""Single neurons: the perceptron, its learning rule, and hand-wired logic gates.

Chapters 1 and 2 of the book. The notation follows the text:

- a unit with weights w = (w_1, ..., w_n) and bias b computes the weighted input
  z = w · x + b = w_1 x_1 + ... + w_n x_n + b and outputs h = g(z);
- g is the step function for a perceptron (Rosenblatt 1958) and the sigmoid
  g(z) = 1 / (1 + e^{-z}) for a sigmoid neuron (Nielsen 2015);
- the perceptron learning rule, for each example (x, y) in turn, predicts
  ŷ = step(w · x + b) and, on a mistake, moves the line towards the example:
  w ← w + η (y − ŷ) x,  b ← b + η (y − ŷ).

On linearly separable data the rule stops making mistakes after finitely many
updates (Novikoff's convergence theorem). On XOR no line separates the classes
(Minsky & Papert 1969), so it never stops: :func:`train_perceptron` detects that the
weights come back to a state they had before, i.e. that the rule cycles forever.

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
    "fit_gate_network",
]


def step(z) -> np.ndarray:
    """The perceptron's activation g(z): 1 where z > 0, else 0 (as int64).

    The threshold rule "output 1 if w · x > threshold" is the same as step(w · x + b)
    with b = −threshold.
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
    """One unit: z = w · x + b, h = g(z).

    Parameters
    ----------
    w : sequence of float, shape (n,)
        Weights w_1..w_n.
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
        """Weighted inputs z = X w + b, shape (N,), for X of shape (N, n)."""
        X = _as_inputs(X, self.n_inputs, repr(self))
        return X @ self.w + self.b

    def __call__(self, X) -> np.ndarray:
        """Outputs h = g(z), shape (N,): 0/1 ints for 'step', floats in (0, 1) for 'sigmoid'."""
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
    """Two layers of neurons: hidden units a_j = g(w_j · x + b_j), then h = g(v · a + c).

    Parameters
    ----------
    hidden : list of Neuron
        The hidden layer; each sees the inputs x.
    output : Neuron
        The output unit; it sees the hidden activations a = (a_1, ..., a_k).
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
        """a, shape (N, k): column j is hidden unit j's output."""
        return np.column_stack([np.asarray(u(X), dtype=np.float64) for u in self.hidden])

    def forward(self, X) -> tuple[np.ndarray, np.ndarray]:
        """(a, h): hidden activations (N, k) and outputs (N,)."""
        a = self.hidden_activations(X)
        return a, self.output(a)

    def __call__(self, X) -> np.ndarray:
        return self.forward(X)[1]

    def scaled(self, c: float) -> "GateNetwork":
        """Every weight and bias multiplied by c."""
        return GateNetwork([u.scaled(c) for u in self.hidden], self.output.scaled(c), self.name)


def xnor_network(activation: str = "sigmoid", scale: float = 1.0) -> GateNetwork:
    """XNOR by hand: a1 = x1 AND x2, a2 = (NOT x1) AND (NOT x2), h = a1 OR a2."""
    a1 = gate_unit("AND", activation, scale)
    a2 = gate_unit("NOR", activation, scale)
    a2.name = "(NOT x1) AND (NOT x2)"
    return GateNetwork([a1, a2], gate_unit("OR", activation, scale), "XNOR")


def xor_network(activation: str = "sigmoid", scale: float = 1.0) -> GateNetwork:
    """XOR by hand: a1 = x1 OR x2, a2 = x1 NAND x2, h = a1 AND a2."""
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
    index: int  # which example, 0-based
    x: tuple[float, ...]
    y: int  # target
    y_hat: int  # the wrong prediction that caused the update
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
    """The checked inputs of :func:`train_perceptron`: X (N, n), y (N,) int64 in {0, 1},
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
    """X (N, n) finite floats and y (N,) of 0s and 1s, with N >= 1."""
    X = _real_matrix(X, "X", who)
    if X.ndim != 2:
        raise ValueError(f"{who} needs X of shape (N, n), got {X.shape}")
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

    For each epoch, for each example i in order (or in a seeded random order if
    ``shuffle``): ŷ = step(w · x_i + b); if ŷ ≠ y_i then
    w ← w + lr (y_i − ŷ) x_i and b ← b + lr (y_i − ŷ).
    Stops as soon as an epoch ends with no misclassified example, or after
    ``max_epochs``.

    Parameters
    ----------
    X : array (N, n)
        Inputs.
    y : array (N,)
        Targets in {0, 1}.
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
    g = _rng(seed)
    res = PerceptronResult(w, b, False, 0)
    seen: dict[tuple, int] = {}
    for epoch in range(1, max_epochs + 1):
        order = g.permutation(len(y)) if shuffle else range(len(y))
        n_mistakes = 0
        for i in order:
            y_hat = int(step(X[i] @ w + b))
            if y_hat != y[i]:
                w += lr * (y[i] - y_hat) * X[i]
                b = float(b + lr * (y[i] - y_hat))
                n_mistakes += 1
                res.updates.append(
                    Update(
                        epoch, int(i), tuple(X[i].tolist()), int(y[i]), y_hat, tuple(w.tolist()), b
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

    The network is ``Linear(2, hidden) -> activation -> Linear(hidden, 1) -> Sigmoid``
    trained with binary cross-entropy and plain SGD on the four rows of the truth
    table, via :func:`dlkit.train.fit`.

    Returns
    -------
    (model, history) : the trained ``dlkit.nn.Sequential`` and its ``History``
        (per-epoch loss and accuracy). ``model[:2].forward(X)`` gives the hidden
        activations.
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
