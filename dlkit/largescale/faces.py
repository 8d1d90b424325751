"""Faces among distractors: the data of the face-neuron experiment (chapter 16).

Le et al. (2012) trained a network on 10 million unlabeled YouTube frames, of which some
contained faces, then asked whether one unit had become a face detector, on a labelled
test set of faces and random distractors (35% faces, so that always guessing "no face"
scores 65%). This module builds the same experiment at a scale that runs in seconds,
from images that ship inside installed packages:

- the faces: the 100 faces of scikit-image's ``lfw_subset()`` (25 × 25 grey levels from
  Labeled Faces in the Wild; the function returns float64 in [0, 1]);
- the distractors: its 100 non-faces (25 × 25 crops of the same photographs that hold
  no face) and 25 × 25 patches of natural images (:func:`dlkit.unsupervised.patches.natural_images`).

The 100 faces and 100 non-faces are split into disjoint groups for training, validation
and test; the natural images are cut into three horizontal bands, one per split, so no
pixel of a validation or test image was seen in training. Only the training split is
augmented (small shifts, scalings and mirror flips), and it carries no labels: the
labels it has are kept for counting only. Every image is then a vector x of 625 pixels
minus its own mean, scaled to ‖x‖₂ = 1 (:func:`normalise`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from scipy import ndimage

from dlkit import rng as _rng
from dlkit.checks import as_real_array, check_int
from dlkit.unsupervised.patches import natural_images

__all__ = [
    "SIZE",
    "FaceData",
    "lfw_faces",
    "normalise",
    "transform",
    "augment",
    "distractor_patches",
    "make_face_data",
]

#: The side of every image, in pixels (that of ``lfw_subset``).
SIZE = 25

#: Faces and non-faces of lfw_subset given to validation and to test (each); the rest train.
HELD_OUT = 35

#: The fraction of faces in the validation and test splits (that of Le et al.'s test set).
FACE_FRACTION_HELD_OUT = 0.35


@dataclass
class FaceData:
    """The splits of the face-neuron experiment.

    ``X_train`` (N, 625): the unlabeled training images, normalised (:func:`normalise`);
    ``face_train`` (N,) bool says which are (augmented) faces, for counting only, never
    for training. ``X_val``, ``y_val``, ``X_test``, ``y_test``: the held-out images and
    their labels (1 = face). ``raw_val`` and ``raw_test`` (N, 25, 25) are the same images
    in grey levels before normalisation, for perturbing them. ``source_*`` name where
    each held-out image comes from ("face", "non-face" or "natural").
    """

    X_train: np.ndarray
    face_train: np.ndarray
    X_val: np.ndarray
    y_val: np.ndarray
    X_test: np.ndarray
    y_test: np.ndarray
    raw_val: np.ndarray
    raw_test: np.ndarray
    source_val: np.ndarray
    source_test: np.ndarray
    train_faces: np.ndarray
    val_faces: np.ndarray
    test_faces: np.ndarray

    def __repr__(self) -> str:
        return (
            f"FaceData(train {len(self.X_train):,} unlabeled images, "
            f"{self.face_train.mean():.0%} faces; validation {len(self.y_val)} "
            f"({self.y_val.mean():.0%} faces); test {len(self.y_test)} "
            f"({self.y_test.mean():.0%} faces))"
        )


def lfw_faces() -> tuple[np.ndarray, np.ndarray]:
    """The 100 faces and the 100 non-faces of ``skimage.data.lfw_subset()``, each
    (100, 25, 25) float64 grey levels in [0, 1]."""
    try:
        import skimage.data
    except ImportError as exc:  # pragma: no cover - the pinned requirements have it
        raise ImportError("lfw_faces needs scikit-image: pip install scikit-image") from exc
    imgs = np.asarray(skimage.data.lfw_subset(), dtype=np.float64)
    return imgs[:100], imgs[100:]


def normalise(images) -> np.ndarray:
    """Each image as a vector x minus its own mean, scaled to ‖x‖₂ = 1: (N, h·w).

    A flat image (no contrast) stays 0. This is the input every unit of the chapter sees,
    and the sphere ‖x‖₂ = 1 is where the optimal stimulus is looked for."""
    A = as_real_array(images, "images", "normalise").astype(np.float64)
    if A.ndim == 2 and A.shape[1] == SIZE * SIZE:
        X = A.copy()
    elif A.ndim == 3:
        X = A.reshape(len(A), -1)
    else:
        raise ValueError(
            f"normalise: images must be (N, h, w) or (N, {SIZE * SIZE}), got shape {A.shape}"
        )
    X = X - X.mean(axis=1, keepdims=True)
    norm = np.linalg.norm(X, axis=1, keepdims=True)
    return np.divide(X, norm, out=np.zeros_like(X), where=norm > 1e-12)


def transform(img, *, shift=(0.0, 0.0), scale: float = 1.0, angle: float = 0.0) -> np.ndarray:
    """The image moved by `shift` = (rows, columns) pixels, scaled by `scale` and turned
    by `angle` degrees (anticlockwise) about its centre; bilinear, edges reflected."""
    img = as_real_array(img, "img", "transform").astype(np.float64)
    if img.ndim != 2:
        raise ValueError(f"transform: img must be one 2-D image, got shape {img.shape}")
    if not scale > 0:
        raise ValueError(f"transform: scale must be > 0, got {scale!r}")
    t = np.deg2rad(angle)
    # The output pixel o samples the input at M (o − c) + c − shift: M undoes the rotation
    # and the scaling, c is the centre.
    M = np.array([[np.cos(t), np.sin(t)], [-np.sin(t), np.cos(t)]]) / scale
    c = (np.array(img.shape) - 1) / 2
    offset = c - M @ c - M @ np.asarray(shift, dtype=np.float64)
    return ndimage.affine_transform(img, M, offset=offset, order=1, mode="reflect")


def augment(images, copies: int, *, seed=0) -> np.ndarray:
    """`copies` randomly perturbed versions of each image: a shift of up to 2 pixels in
    each direction, a scaling by 0.9 to 1.1, a turn of up to 10 degrees and a mirror flip
    with probability 1/2. Returns (len(images) · copies, h, w), image by image."""
    images = as_real_array(images, "images", "augment").astype(np.float64)
    copies = check_int(copies, "copies", "augment")
    if images.ndim != 3:
        raise ValueError(f"augment: images must be (N, h, w), got shape {images.shape}")
    g = _rng(seed)
    out = np.empty((len(images) * copies, *images.shape[1:]))
    for n, img in enumerate(images):
        for c in range(copies):
            im = img[:, ::-1] if g.random() < 0.5 else img
            out[n * copies + c] = transform(
                im,
                shift=g.uniform(-2, 2, size=2),
                scale=g.uniform(0.9, 1.1),
                angle=g.uniform(-10, 10),
            )
    return out


def distractor_patches(n: int, band: int, *, seed=0) -> np.ndarray:
    """`n` patches of 25 × 25 pixels from natural images, (n, 25, 25) grey levels.

    Each image is cut into three horizontal bands (the top 3/5 for ``band=0``, training;
    the next 1/5 for ``band=1``, validation; the last 1/5 for ``band=2``, test), and the
    patches of a band lie wholly inside it, so the splits share no pixel. Patches with
    almost no contrast (a standard deviation below 0.02, e.g. sky) are drawn again."""
    n = check_int(n, "n", "distractor_patches", minimum=0)
    if band not in (0, 1, 2):
        raise ValueError(f"distractor_patches: band must be 0, 1 or 2, got {band!r}")
    cuts = (0.0, 0.6, 0.8, 1.0)
    imgs = []
    for im in natural_images().values():
        h = im.shape[0]
        imgs.append(im[int(cuts[band] * h) : int(cuts[band + 1] * h)])
    g = _rng(seed)
    out = np.empty((n, SIZE, SIZE))
    t = 0
    while t < n:
        im = imgs[g.integers(len(imgs))]
        r = g.integers(0, im.shape[0] - SIZE + 1)
        c = g.integers(0, im.shape[1] - SIZE + 1)
        p = im[r : r + SIZE, c : c + SIZE]
        if p.std() >= 0.02:
            out[t] = p
            t += 1
    return out


def _held_out(faces, nonfaces, band, seed):
    n_face = len(faces)
    n_total = int(round(n_face / FACE_FRACTION_HELD_OUT))
    n_natural = n_total - n_face - len(nonfaces)
    natural = distractor_patches(n_natural, band, seed=seed)
    raw = np.concatenate([faces, nonfaces, natural])
    y = np.r_[np.ones(n_face, int), np.zeros(len(nonfaces) + n_natural, int)]
    src = np.array(["face"] * n_face + ["non-face"] * len(nonfaces) + ["natural"] * n_natural)
    order = _rng(seed).permutation(len(y))
    return raw[order], y[order], src[order]


def make_face_data(
    n_train: int = 6000,
    *,
    face_copies: int = 40,
    nonface_copies: int = 10,
    with_faces: bool = True,
    seed=0,
) -> FaceData:
    """The three splits of the face-neuron experiment.

    Of lfw_subset's 100 faces, 35 go to validation, 35 to test and the other 30 to
    training, each augmented into `face_copies` versions; likewise its non-faces (the 30
    of training into `nonface_copies` versions each). Validation and test are filled up
    with natural-image patches to 100 images, 35% faces. The training split is filled up
    to `n_train` images with natural-image patches; faces are a minority of it
    (30 · 40 = 1,200 of 6,000 by default, 20%). ``with_faces=False`` builds the control
    experiment's training split: the same size, with no face at all (the held-out splits
    are unchanged)."""
    n_train = check_int(n_train, "n_train", "make_face_data")
    face_copies = check_int(face_copies, "face_copies", "make_face_data")
    nonface_copies = check_int(nonface_copies, "nonface_copies", "make_face_data")
    faces, nonfaces = lfw_faces()
    n_tr = 100 - 2 * HELD_OUT
    need = n_tr * (face_copies if with_faces else 0) + n_tr * nonface_copies
    if need > n_train:
        raise ValueError(
            f"make_face_data: n_train={n_train} is smaller than the {need} augmented "
            f"faces and non-faces of the training split; raise n_train or lower the copies"
        )
    g = _rng(seed)
    fi, ni = g.permutation(100), g.permutation(100)
    tr_f, va_f, te_f = fi[:n_tr], fi[n_tr : n_tr + HELD_OUT], fi[n_tr + HELD_OUT :]
    tr_n, va_n, te_n = ni[:n_tr], ni[n_tr : n_tr + HELD_OUT], ni[n_tr + HELD_OUT :]
    parts = [augment(nonfaces[tr_n], nonface_copies, seed=seed + 1)]
    if with_faces:
        parts.insert(0, augment(faces[tr_f], face_copies, seed=seed + 2))
    n_faces = len(parts[0]) if with_faces else 0
    used = sum(len(p) for p in parts)
    parts.append(distractor_patches(n_train - used, 0, seed=seed + 3))
    raw_train = np.concatenate(parts)
    face_train = np.r_[np.ones(n_faces, bool), np.zeros(n_train - n_faces, bool)]
    order = g.permutation(n_train)
    raw_val, y_val, s_val = _held_out(faces[va_f], nonfaces[va_n], 1, seed + 4)
    raw_test, y_test, s_test = _held_out(faces[te_f], nonfaces[te_n], 2, seed + 5)
    return FaceData(
        X_train=normalise(raw_train[order]),
        face_train=face_train[order],
        X_val=normalise(raw_val),
        y_val=y_val,
        X_test=normalise(raw_test),
        y_test=y_test,
        raw_val=raw_val,
        raw_test=raw_test,
        source_val=s_val,
        source_test=s_test,
        train_faces=np.sort(tr_f),
        val_faces=np.sort(va_f),
        test_faces=np.sort(te_f),
    )
