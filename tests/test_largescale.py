"""Tests of dlkit.largescale: the face data, the Le-style network, the unit selection."""

import numpy as np
import pytest

from dlkit.experiments import faces as xf
from dlkit.largescale import faces as fc
from dlkit.largescale import network as nw
from dlkit.largescale import units as un


@pytest.fixture(scope="module")
def data():
    return fc.make_face_data(600, face_copies=4, nonface_copies=2, seed=0)


def test_splits_disjoint_and_balanced(data):
    assert not set(data.train_faces) & set(data.val_faces)
    assert not set(data.train_faces) & set(data.test_faces)
    assert not set(data.val_faces) & set(data.test_faces)
    for y in (data.y_val, data.y_test):
        assert len(y) == 100 and y.sum() == 35
    assert 0 < data.face_train.mean() < 0.5  # faces are a minority of training
    # no held-out image appears in training, even augmented: compare raw pixels
    val = {im.tobytes() for im in data.X_val}
    assert not any(x.tobytes() in val for x in data.X_train)
    assert not {x.tobytes() for x in data.X_test} & val


def test_inputs_normalised(data):
    for X in (data.X_train, data.X_val, data.X_test):
        assert np.allclose(X.mean(axis=1), 0, atol=1e-12)
        assert np.allclose(np.linalg.norm(X, axis=1), 1)


def test_control_has_no_faces():
    d = fc.make_face_data(300, face_copies=4, nonface_copies=2, with_faces=False, seed=0)
    assert not d.face_train.any() and d.y_test.sum() == 35


def test_transform_identity_and_shift():
    img = fc.lfw_faces()[0][0]
    assert np.allclose(fc.transform(img), img)
    moved = fc.transform(img, shift=(0, 3))
    assert np.allclose(moved[:, 5:20], img[:, 2:17])


def test_rica_gradient():
    g = np.random.default_rng(0)
    mask = nw.local_mask(9, 5, 2, 2)
    H = nw.pooling_matrix(3, 2, 2)
    X = g.standard_normal((7, 81))
    W = g.standard_normal(mask.shape) * mask
    J, grad = nw.rica_cost(W, X, H, 0.3, mask=mask)
    err = nw.gradient_check(lambda w: nw.rica_cost(w, X, H, 0.3, mask=mask)[0], W, grad, n=40)
    assert err < 1e-6
    assert np.all(grad[mask == 0] == 0)


def test_buggy_gradient_is_caught():
    g = np.random.default_rng(0)
    H = np.eye(4)
    X, W = g.standard_normal((7, 6)), g.standard_normal((4, 6))
    _, grad = xf.buggy_rica_cost(W, X, H, 0.3)
    err = nw.gradient_check(lambda w: nw.rica_cost(w, X, H, 0.3)[0], W, grad, n=20)
    assert err > 1e-2


def test_input_gradient_of_network():
    net = nw.FaceNetwork(window=13, stride=4, maps1=2, units2=3, seed=1)
    x = np.random.default_rng(2).standard_normal(625)
    for u in (0, net.n_units - 1):
        grad = net.input_gradient(x[None], u)[0]
        err = nw.gradient_check(lambda v: net.units(v[None])[0, u], x, grad, n=30, h=1e-4)
        assert err < 1e-6


def test_lcn_gradient():
    g = np.random.default_rng(3)
    G = nw.neighbourhood_matrix(3, 2, 1)
    assert np.allclose(G.sum(axis=1), 1)
    P, R = g.random((4, 18)), g.standard_normal((4, 18))
    A, cache = nw.lcn(P, G)
    grad = nw.lcn_backward(R, cache)
    err = nw.gradient_check(lambda p: (nw.lcn(p, G)[0] * R).sum(), P, grad, n=30)
    assert err < 1e-6


def test_selection_uses_validation_only():
    g = np.random.default_rng(0)
    y = np.r_[np.ones(35, int), np.zeros(65, int)]
    Fv, Ft = g.standard_normal((100, 12)), g.standard_normal((100, 12))
    Fv[:, 7] += 1.5 * y
    a = un.evaluate(Fv, y, Ft, y)
    b = un.evaluate(Fv, y, Ft, g.permutation(y))
    c = un.evaluate(Fv, y, g.standard_normal((100, 12)), y)
    assert a.unit == b.unit == c.unit == 7
    assert a.threshold == b.threshold == c.threshold


def test_best_threshold_and_auc():
    f = np.array([0.1, 0.4, 0.35, 0.8])
    y = np.array([0, 0, 1, 1])
    theta, acc = un.best_threshold(f, y)
    assert acc == 0.75 and un.accuracy_at(f, y, theta) == 0.75
    assert un.auc(f, y) == 0.75
    assert un.auc(np.array([1.0, 2.0]), np.array([0, 1])) == 1.0


def test_optimal_stimulus_beats_every_test_image(data):
    net = nw.FaceNetwork(window=13, stride=4, maps1=2, units2=3, seed=0)
    u = 4
    F = net.units(data.X_test)[:, u]
    x, trace = un.optimal_stimulus(
        lambda v: float(net.units(v[None])[0, u]),
        lambda v: net.input_gradient(v[None], u)[0],
        data.X_test[np.argmax(F)],
        steps=30,
    )
    assert abs(np.linalg.norm(x) - 1) < 1e-12 and abs(x.mean()) < 1e-12
    assert net.units(x[None])[0, u] >= F.max() - 1e-12
    assert np.all(np.diff(trace) >= 0)


def test_invariance_curve_shape(data):
    net = nw.FaceNetwork(window=13, stride=4, maps1=2, units2=3, seed=0)
    v, r = un.invariance(net.units, data.raw_test[:3], 0, "shift", values=[-2, 0, 2])
    assert v.shape == r.shape == (3,)
    assert np.isclose(r[1], net.units(fc.normalise(data.raw_test[:3]))[:, 0].mean())


def test_fingerprint():
    a = np.arange(4.0)
    assert xf.fingerprint(a) == xf.fingerprint(a.copy())
    b = a.copy()
    b[0] = np.nextafter(0.0, 1.0)
    assert xf.fingerprint(a) != xf.fingerprint(b)


@pytest.mark.parametrize(
    "call, match",
    [
        (lambda: fc.make_face_data(100), "n_train"),
        (lambda: fc.make_face_data(2.0), "n_train"),
        (lambda: fc.normalise(np.zeros((3, 7))), "images"),
        (lambda: fc.transform(np.zeros((5, 5)), scale=0), "scale"),
        (lambda: fc.distractor_patches(3, 5), "band"),
        (lambda: nw.local_mask(9, 11, 1, 1), "window"),
        (lambda: nw.pooling_matrix(2, 1, 3), "pool"),
        (lambda: un.best_threshold(np.zeros(3), np.zeros(3)), "labels"),
        (
            lambda: un.evaluate(np.zeros((3, 2)), np.array([0, 1, 1]), np.zeros((2, 2)), [0, 1, 1]),
            "same N",
        ),
        (lambda: un.invariance(None, np.zeros((1, 25, 25)), 0, "shear"), "kind"),
        (
            lambda: nw.train_rica(nw.FaceNetwork(maps1=1, units2=1).layer1, np.zeros((3, 5))),
            "shape",
        ),
    ],
)
def test_bad_inputs(call, match):
    with pytest.raises((ValueError, TypeError), match=match):
        call()


@pytest.fixture(scope="module")
def chapter_runs():
    """The chapter's run and its control (seed 0), as chapter 16 prints them."""
    from threadpoolctl import threadpool_limits

    with threadpool_limits(1, user_api="blas"):
        return xf.face_neuron(), xf.face_neuron(with_faces=False)


def test_chapter_run_scores(chapter_runs):
    run, control = chapter_runs
    assert run.guessing == 0.65
    # training helps: the trained unit orders faces above non-faces better than the
    # untrained network's best unit and than the best unit trained without faces
    assert run.trained_score.test_auc > run.random_score.test_auc + 0.03
    assert control.trained_score.test_auc < run.trained_score.test_auc - 0.05
    assert control.trained_score.test_accuracy < run.trained_score.test_accuracy
    # at this scale a template sampled from the training images is not beaten ...
    assert run.linear_score.test_auc > run.trained_score.test_auc + 0.05
    # ... and it comes within 0.05 in AUC of the labelled reference, the mean training face
    ref = xf.mean_face_filter(run)
    assert ref.test_auc > 0.9 and abs(run.linear_score.test_auc - ref.test_auc) < 0.05
    # the control's linear filters come from a training split without faces
    assert not control.data.face_train.any()
