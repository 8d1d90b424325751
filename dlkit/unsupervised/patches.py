"""Natural-image patches, per-patch mean removal and ZCA whitening (chapter 10).

The images ship inside installed packages, so nothing is downloaded: scikit-learn's two
sample photographs (``china.jpg``, ``flower.jpg``) and scikit-image's ``camera``,
``astronaut``, ``coffee``, ``grass``, ``gravel`` and ``brick``. Every image is turned to
grey levels in [0, 1].
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from dlkit import rng as _rng
from dlkit.checks import as_real_array, check_int

__all__ = [
    "IMAGE_NAMES",
    "natural_images",
    "sample_patches",
    "remove_mean",
    "ZCA",
    "zca_whiten",
]

#: The images :func:`natural_images` loads, in order.
IMAGE_NAMES = ("china", "flower", "camera", "astronaut", "coffee", "grass", "gravel", "brick")


def _grey(img: np.ndarray) -> np.ndarray:
    img = np.asarray(img, dtype=np.float64)
    if img.ndim == 3:  # ITU-R 601 luma, as skimage.color.rgb2gray's older weights
        img = img[..., :3] @ np.array([0.299, 0.587, 0.114])
    return img / 255.0


def natural_images(names=IMAGE_NAMES) -> dict[str, np.ndarray]:
    """The named images as 2-D float64 arrays of grey levels in [0, 1]."""
    if isinstance(names, str):
        names = (names,)
    unknown = [n for n in names if n not in IMAGE_NAMES]
    if unknown:
        raise ValueError(f"natural_images: unknown image(s) {unknown}; choose from {IMAGE_NAMES}")
    out: dict[str, np.ndarray] = {}
    sk = [n for n in names if n in ("china", "flower")]
    if sk:
        from sklearn.datasets import load_sample_image

        for n in sk:
            out[n] = _grey(load_sample_image(f"{n}.jpg"))
    rest = [n for n in names if n not in out]
    if rest:
        try:
            import skimage.data
        except ImportError as exc:  # pragma: no cover - the pinned requirements have it
            raise ImportError(
                f"natural_images needs scikit-image for the images {rest}: pip install scikit-image"
            ) from exc
        for n in rest:
            out[n] = _grey(getattr(skimage.data, n)())
    return {n: out[n] for n in names}


def sample_patches(n: int, size: int = 14, *, images=None, seed=0) -> np.ndarray:
    """`n` square patches of `size` × `size` pixels, drawn uniformly from the images
    (each patch from an image chosen uniformly, then a uniform position): (n, size²)."""
    n = check_int(n, "n", "sample_patches")
    size = check_int(size, "size", "sample_patches", minimum=2, say_minimum=True)
    imgs = (
        list((natural_images() if images is None else images).values())
        if (images is None or isinstance(images, dict))
        else list(images)
    )
    for i, im in enumerate(imgs):
        if np.ndim(im) != 2 or min(np.shape(im)) < size:
            raise ValueError(
                f"sample_patches: image {i} has shape {np.shape(im)}; images must be 2-D grey "
                f"levels at least {size} × {size} (the patch size)"
            )
    g = _rng(seed)
    which = g.integers(0, len(imgs), size=n)
    out = np.empty((n, size * size))
    for t, w in enumerate(which):
        im = imgs[w]
        r = g.integers(0, im.shape[0] - size + 1)
        c = g.integers(0, im.shape[1] - size + 1)
        out[t] = np.asarray(im[r : r + size, c : c + size], dtype=np.float64).ravel()
    return out


def remove_mean(P) -> np.ndarray:
    """Each patch minus its own mean grey level (the DC component): rows sum to 0."""
    P = as_real_array(P, "P", "remove_mean").astype(np.float64)
    if P.ndim != 2:
        raise ValueError(f"remove_mean: P must be (n_patches, n_pixels), got shape {P.shape}")
    return P - P.mean(axis=1, keepdims=True)


@dataclass
class ZCA:
    """A fitted ZCA whitening: x ↦ (x − mean) M, with M = U diag(1/√(λ + ε)) Uᵀ from the
    eigen-decomposition C = U diag(λ) Uᵀ of the data's covariance."""

    mean: np.ndarray
    matrix: np.ndarray
    eigenvalues: np.ndarray
    eps: float

    def transform(self, X) -> np.ndarray:
        X = as_real_array(X, "X", "ZCA.transform").astype(np.float64)
        if X.ndim != 2 or X.shape[1] != self.mean.size:
            raise ValueError(
                f"ZCA.transform: X must have shape (N, {self.mean.size}), got {X.shape}"
            )
        return (X - self.mean) @ self.matrix


def zca_whiten(X, eps: float = 1e-5) -> tuple[np.ndarray, ZCA]:
    """Whiten the rows of X so that their covariance is ≈ I, rotating back to pixel space
    (ZCA, Bell & Sejnowski 1997): the whitened patches still look like patches, with
    edges emphasised. ``eps`` (ε) regularises the small eigenvalues; with ε ≪ the smallest
    eigenvalue the whitened covariance is I to rounding. Returns (whitened X, the ZCA)."""
    X = as_real_array(X, "X", "zca_whiten").astype(np.float64)
    if X.ndim != 2 or X.shape[0] < 2:
        raise ValueError(f"zca_whiten: X must be (N, d) with N ≥ 2 rows, got shape {X.shape}")
    if isinstance(eps, bool) or not isinstance(eps, (int, float)) or not eps >= 0:
        raise ValueError(f"zca_whiten: eps must be a number ≥ 0, got {eps!r}; e.g. eps=1e-5")
    mean = X.mean(axis=0)
    C = np.cov(X - mean, rowvar=False, bias=True)
    lam, U = np.linalg.eigh(C)
    lam = np.clip(lam, 0.0, None)
    if eps == 0 and lam.min() <= 1e-12 * max(lam.max(), 1e-300):
        raise ValueError(
            "zca_whiten: the covariance is singular (e.g. after remove_mean, whose patches "
            "sum to 0); pass eps > 0, e.g. eps=1e-5"
        )
    M = (U / np.sqrt(lam + eps)) @ U.T
    z = ZCA(mean, M, lam, float(eps))
    return z.transform(X), z
