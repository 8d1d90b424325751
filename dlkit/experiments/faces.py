"""Experiments of the chapter *Large-scale learning and determinism*.

The data live in :mod:`dlkit.largescale.faces`, the network in
:mod:`dlkit.largescale.network`, the unit selection and probes in
:mod:`dlkit.largescale.units`; this module runs them the way the chapter shows them:

- :func:`face_neuron`: build the splits, score the untrained network, the best linear
  filter and the trained network (all chosen on validation, reported on test);
  ``with_faces=False`` is the control experiment. Results are cached per argument set.
- :func:`mean_face_filter`: the mean training face as one template, a labelled reference
  for how far a single linear filter can go on these images;
- :func:`optimal_stimulus` and :func:`invariance_curves` for the chosen unit;
- :func:`buggy_rica_cost`, :func:`fingerprint`: a gradient with a real bug that still
  trains, and a hash of the parameters for bit-identical reruns.

The chapter's run is small (2,000 training images, 150 L-BFGS iterations per layer);
``face_neuron(n_train=6000, max_iter=400)`` runs a larger one in a few minutes.
"""

from __future__ import annotations

import functools
import hashlib
from dataclasses import dataclass

import numpy as np

from dlkit.largescale import faces as _faces
from dlkit.largescale import network as _nw
from dlkit.largescale import units as _units

__all__ = [
    "SEED_TABLE",
    "FaceNeuron",
    "face_neuron",
    "optimal_stimulus",
    "invariance_curves",
    "buggy_rica_cost",
    "fingerprint",
    "table",
    "mean_face_filter",
]

#: The seed talks' results (accuracy of the best unit on faces against distractors):
#: guessing "no face", the untrained (random) network, the best linear filter, and the
#: trained network; None where the source gives no number.
SEED_TABLE = {
    "Le et al. 2012 (faces)": (0.648, None, 0.74, 0.817),
    "Coates et al. 2013 (faces)": (0.647, 0.648, None, 0.882),
}

#: The network of the chapter's run: layer 1 of 8 maps of 13 × 13 locally connected
#: filters at stride 4 (a 4 × 4 grid), 2 × 2 L2 pooling, LCN; layer 2 of 32 units.
NETWORK = {"window": 13, "stride": 4, "maps1": 8, "units2": 32, "lam": 0.03}


@dataclass
class FaceNeuron:
    """One run: the data, the untrained and the trained network, and the three scores
    (:class:`~dlkit.largescale.units.UnitScore`); ``guessing`` is the test accuracy of
    always answering "no face"."""

    data: _faces.FaceData
    untrained: _nw.FaceNetwork
    trained: _nw.FaceNetwork
    random_score: _units.UnitScore
    linear_score: _units.UnitScore
    trained_score: _units.UnitScore
    filters: np.ndarray
    guessing: float

    @property
    def unit(self) -> int:
        """The trained network's best unit (chosen on validation)."""
        return self.trained_score.unit


@functools.lru_cache(maxsize=4)
def face_neuron(
    n_train: int = 2000,
    *,
    with_faces: bool = True,
    max_iter: int = 150,
    n_filters: int = 1000,
    seed: int = 0,
) -> FaceNeuron:
    """Run the face-neuron experiment (see the module docstring). `n_train` unlabeled
    training images (30% augmented faces, or none with ``with_faces=False``), each layer
    trained for `max_iter` L-BFGS iterations; `n_filters` linear filters sampled from
    the training images. Every choice (unit, threshold) is made on validation."""
    d = _faces.make_face_data(
        n_train,
        face_copies=max(1, n_train // 100),
        nonface_copies=max(1, n_train // 400),
        with_faces=with_faces,
        seed=seed,
    )
    untrained = _nw.FaceNetwork(**NETWORK, seed=seed)
    random_score = _units.evaluate(
        untrained.units(d.X_val), d.y_val, untrained.units(d.X_test), d.y_test
    )
    filters = _units.linear_filters(d.X_train, n_filters, seed=seed)
    linear_score = _units.evaluate(d.X_val @ filters.T, d.y_val, d.X_test @ filters.T, d.y_test)
    trained = _nw.FaceNetwork(**NETWORK, seed=seed).fit(d.X_train, max_iter=max_iter)
    trained_score = _units.evaluate(
        trained.units(d.X_val), d.y_val, trained.units(d.X_test), d.y_test
    )
    return FaceNeuron(
        d,
        untrained,
        trained,
        random_score,
        linear_score,
        trained_score,
        filters,
        float(np.mean(d.y_test == 0)),
    )


def table(run: FaceNeuron, name: str = "this chapter") -> dict[str, tuple]:
    """The seed table with `run`'s row added: {row: (guessing, random network, best
    linear filter, trained network)}, test accuracies."""
    rows = dict(SEED_TABLE)
    rows[name] = (
        run.guessing,
        run.random_score.test_accuracy,
        run.linear_score.test_accuracy,
        run.trained_score.test_accuracy,
    )
    return rows


def mean_face_filter(run: FaceNeuron) -> _units.UnitScore:
    """The mean of the training split's faces as a single linear filter w, response w · x,
    scored as every baseline (threshold on validation, accuracy and AUC on test).

    It reads which training images are faces, which nothing else in the experiment does:
    it is not a baseline but a reference for how well one template can separate these
    faces from these distractors, which the best sampled filter comes close to unlabelled."""
    d = run.data
    w = d.X_train[d.face_train].mean(axis=0)
    return _units.evaluate(d.X_val @ w, d.y_val, d.X_test @ w, d.y_test)


def optimal_stimulus(run: FaceNeuron, *, steps: int = 300, lr: float = 0.5):
    """The optimal stimulus of the run's best unit, from the test image it responds to
    most. Returns (x*, the responses along the ascent, the top test response)."""
    net, u = run.trained, run.unit
    f = lambda x: float(net.units(x[None])[0, u])  # noqa: E731 - one line each
    grad = lambda x: net.input_gradient(x[None], u)[0]  # noqa: E731
    F = net.units(run.data.X_test)[:, u]
    top = int(np.argmax(F))
    x, trace = _units.optimal_stimulus(f, grad, run.data.X_test[top], steps=steps, lr=lr)
    return x, trace, float(F[top])


def invariance_curves(run: FaceNeuron) -> dict:
    """The best unit's mean response to the test faces and to the test non-faces under
    each perturbation of :data:`dlkit.largescale.units.PERTURBATIONS`:
    {kind: {"faces": (values, responses), "non-faces": (values, responses)}}."""
    d, net, u = run.data, run.trained, run.unit
    out = {}
    for kind in _units.PERTURBATIONS:
        out[kind] = {
            name: _units.invariance(net.units, d.raw_test[d.y_test == lab], u, kind)
            for name, lab in (("faces", 1), ("non-faces", 0))
        }
    return out


def buggy_rica_cost(W, X, H, lam, eps=1e-2, mask=None):
    """:func:`~dlkit.largescale.network.rica_cost` with a bug of the kind that is easy to
    make: the gradient of the reconstruction term keeps only one of the two paths by
    which W enters Wᵀ W x (the term (E Wᵀ)ᵀ X is missing). J itself is right."""
    N = len(X)
    if mask is not None:
        W = W * mask
    Z = X @ W.T
    P = np.sqrt(eps + (Z * Z) @ H.T)
    E = Z @ W - X
    J = lam / N * P.sum() + 0.5 / N * (E * E).sum()
    dZ = lam / N * Z * ((1 / P) @ H)
    grad = dZ.T @ X + (Z.T @ E) / N  # BUG: + (E @ W.T).T @ X / N is missing
    if mask is not None:
        grad = grad * mask
    return float(J), grad


def fingerprint(*arrays) -> str:
    """The first 16 hex digits of the SHA-256 of the arrays' bytes: equal exactly when
    every bit of every parameter is equal."""
    h = hashlib.sha256()
    for a in arrays:
        a = np.ascontiguousarray(a)
        h.update(str((a.dtype, a.shape)).encode())
        h.update(a.tobytes())
    return h.hexdigest()[:16]
