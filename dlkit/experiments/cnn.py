"""The feature maps of a convolutional network (chapter 8, *Convolutional networks*).

:func:`feature_maps` runs one image through a Sequential and keeps every layer's
output; :mod:`dlkit.viz.cnn` draws them.
"""

from __future__ import annotations

import numpy as np

from dlkit.nn import Sequential


def feature_maps(model: Sequential, x: np.ndarray) -> list[np.ndarray]:
    """Outputs of every layer for a single image `x` of shape (C, H, W) (eval mode)."""
    model.eval()
    h = np.asarray(x)[None]
    outs = []
    for layer in model:
        h = layer.forward(h)
        outs.append(h[0])
    return outs
