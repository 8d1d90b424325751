"""Inputs and index runs of the convolution algorithms (chapter 7).

- :func:`example_input`: the small integer image and kernel of the sliding window;
- :func:`layout_runs`: the positions the two compiled direct kernels sweep
  (``conv2d_direct``'s flat run and ``conv2d_chwn``'s batch-innermost run).

:mod:`dlkit.viz.conv` draws them.
"""

from __future__ import annotations

import numpy as np

from dlkit.conv import output_size


def example_input(seed: int = 0, size: int = 7, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """A small integer image (size × size, values 0..9) and kernel (k × k, values −1..1)."""
    g = np.random.default_rng(seed)
    return g.integers(0, 10, (size, size)).astype(float), g.integers(-1, 2, (k, k)).astype(float)


def layout_runs(H: int = 5, k: int = 3, N: int = 3) -> dict[str, np.ndarray]:
    """The runs the two compiled kernels sweep, for an H×H input and a k×k kernel.

    ``"flat"``: the output column u2 of each position of ``conv2d_direct``'s flat run over
    one image (flat index u = u1·H + u2 for output row u1; u2 ≥ H_out is a wrapped
    position, computed and dropped). ``"chwn_out"``: the image n of each position of one
    output row in ``conv2d_chwn`` (u = u2·N + n). ``"chwn_in"``: the image n of each value
    of one input row of all N images, the run that the kernel offsets o2 = 0, 1, ... read
    shifted by o2·N.
    """
    Ho = output_size(H, k)
    flat = np.arange((Ho - 1) * H + Ho) % H
    return {
        "flat": flat,
        "chwn_out": np.tile(np.arange(N), Ho),
        "chwn_in": np.tile(np.arange(N), H),
    }
