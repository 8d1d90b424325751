"""Finding and probing the face unit (chapter 16).

A unit "detects faces" at a threshold θ when it calls every input with a response above
θ a face. Following Le et al. (2012), the best unit and its threshold are chosen on the
**validation** split only; its accuracy at that threshold, and its AUC, are then
reported on the **test** split, which played no part in any choice.

- :func:`best_threshold`, :func:`auc`, :func:`select_unit`, :func:`evaluate`: the
  selection and the scores;
- :func:`linear_filters`: the best-linear-filter baseline (filters sampled from the
  training images);
- :func:`optimal_stimulus`: x* = argmax f(x) subject to ‖x‖₂ = 1 (and a zero mean, as
  every normalised input), by projected gradient ascent;
- :func:`invariance`: the unit's mean response to faces moved, scaled and turned.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlkit import rng as _rng
from dlkit.checks import as_real_array, check_int
from dlkit.largescale.faces import normalise, transform

__all__ = [
    "best_threshold",
    "accuracy_at",
    "auc",
    "UnitScore",
    "select_unit",
    "evaluate",
    "linear_filters",
    "optimal_stimulus",
    "invariance",
]


def _scores_labels(F, y, who):
    F = as_real_array(F, "F", who).astype(np.float64)
    y = as_real_array(y, "y", who)
    if F.ndim == 1:
        F = F[:, None]
    if F.ndim != 2 or y.ndim != 1 or len(F) != len(y):
        raise ValueError(
            f"{who}: F must be (N, units) and y (N,) with the same N, got {F.shape} and {y.shape}"
        )
    if not np.isin(y, (0, 1)).all() or y.min() == y.max():
        raise ValueError(f"{who}: y must hold labels 0 and 1 (1 = face), both present")
    return F, y.astype(int)


def best_threshold(f, y) -> tuple[float, float]:
    """The threshold θ that maximises the accuracy of "face if f > θ" on (f, y), and that
    accuracy. θ is a midpoint between two neighbouring responses (or below the smallest),
    so the verdicts do not hinge on rounding; ties go to the smallest θ."""
    F, y = _scores_labels(f, y, "best_threshold")
    f = F[:, 0]
    v = np.unique(f)
    cands = np.r_[v[0] - 1.0, (v[:-1] + v[1:]) / 2, v[-1] + 1.0]
    acc = ((f[None, :] > cands[:, None]) == y[None, :].astype(bool)).mean(axis=1)
    i = int(np.argmax(acc))
    return float(cands[i]), float(acc[i])


def accuracy_at(f, y, theta: float) -> float:
    """The accuracy of "face if f > θ" on (f, y)."""
    F, y = _scores_labels(f, y, "accuracy_at")
    return float(((F[:, 0] > theta) == y.astype(bool)).mean())


def auc(f, y) -> float:
    """The area under the ROC curve: the probability that a random face gets a larger
    response than a random non-face (ties count 1/2)."""
    F, y = _scores_labels(f, y, "auc")
    f = F[:, 0]
    pos, neg = f[y == 1], f[y == 0]
    gt = (pos[:, None] > neg[None, :]).sum() + 0.5 * (pos[:, None] == neg[None, :]).sum()
    return float(gt / (len(pos) * len(neg)))


@dataclass
class UnitScore:
    """The chosen unit, its threshold (both from validation) and its scores."""

    unit: int
    threshold: float
    val_accuracy: float
    test_accuracy: float
    test_auc: float

    def __str__(self) -> str:
        return (
            f"unit {self.unit}: validation accuracy {self.val_accuracy:.0%}, "
            f"test accuracy {self.test_accuracy:.0%}, test AUC {self.test_auc:.2f}"
        )


def select_unit(F_val, y_val) -> tuple[int, float, float]:
    """The unit (column of F_val, N × units) whose best threshold gives the highest
    validation accuracy; ties go to the higher validation AUC, then the lowest index.
    Returns (unit, θ, validation accuracy). Nothing but the validation split is read."""
    F, y = _scores_labels(F_val, y_val, "select_unit")
    best = None
    for u in range(F.shape[1]):
        theta, acc = best_threshold(F[:, u], y)
        key = (acc, auc(F[:, u], y), -u)
        if best is None or key > best[0]:
            best = (key, u, theta, acc)
    return best[1], best[2], best[3]


def evaluate(F_val, y_val, F_test, y_test) -> UnitScore:
    """Choose the unit and θ on validation (:func:`select_unit`), score them on test."""
    u, theta, acc = select_unit(F_val, y_val)
    F_test, y_test = _scores_labels(F_test, y_test, "evaluate")
    return UnitScore(
        u,
        theta,
        acc,
        accuracy_at(F_test[:, u], y_test, theta),
        auc(F_test[:, u], y_test),
    )


def linear_filters(X_train, n: int, *, seed=0) -> np.ndarray:
    """`n` linear filters sampled from the (normalised) training images: (n × 625) rows,
    each a training image, so the response of filter w to x is w · x."""
    X_train = as_real_array(X_train, "X_train", "linear_filters").astype(np.float64)
    n = check_int(n, "n", "linear_filters")
    g = _rng(seed)
    return X_train[g.choice(len(X_train), size=n, replace=n > len(X_train))]


def _project(x):
    x = x - x.mean()
    return x / np.linalg.norm(x)


def optimal_stimulus(f, grad, x0, *, steps: int = 200, lr: float = 0.5):
    """x* = argmax f(x) subject to ‖x‖₂ = 1 and a zero mean, by projected gradient ascent
    from x0: x ← P(x + η ∇f(x)), P the projection onto the set (subtract the mean, divide
    by the norm). A step that lowers f is retried with η halved, so f never decreases.
    `f(x)` returns the unit's response to one image x (625,), `grad(x)` its gradient.
    Returns (x*, the responses along the way)."""
    steps = check_int(steps, "steps", "optimal_stimulus", minimum=0)
    x = _project(np.asarray(x0, dtype=np.float64).ravel())
    fx = f(x)
    trace = [fx]
    for _ in range(steps):
        g = grad(x)
        eta = lr
        while eta > 1e-8:
            x_new = _project(x + eta * g)
            f_new = f(x_new)
            if f_new >= fx:
                break
            eta /= 2
        else:
            break
        x, fx = x_new, f_new
        trace.append(fx)
    return x, np.array(trace)


#: The perturbations of :func:`invariance`, each with its range.
PERTURBATIONS = {
    "shift": np.arange(-8, 9, 1.0),  # pixels, horizontally
    "scale": np.round(np.arange(0.5, 1.55, 0.1), 2),
    "rotation": np.arange(-90, 91, 10.0),  # degrees, in the image plane
}


def invariance(
    units, raw_images, unit: int, kind: str, values=None
) -> tuple[np.ndarray, np.ndarray]:
    """The mean response of `unit` to `raw_images` (N × 25 × 25 grey levels) perturbed by
    each of `values` ("shift": pixels to the right; "scale": a factor; "rotation":
    degrees), each normalised as every input. `units(X)` gives all units' responses.
    Returns (values, mean responses)."""
    if kind not in PERTURBATIONS:
        raise ValueError(f"invariance: kind must be one of {tuple(PERTURBATIONS)}, got {kind!r}")
    values = PERTURBATIONS[kind] if values is None else np.asarray(values, dtype=np.float64)
    out = []
    for v in values:
        kw = {"shift": {"shift": (0.0, v)}, "scale": {"scale": v}, "rotation": {"angle": v}}[kind]
        X = normalise(np.array([transform(im, **kw) for im in raw_images]))
        out.append(units(X)[:, unit].mean())
    return values, np.array(out)
