"""Large-scale unsupervised learning at a small scale (chapter 16).

- :mod:`dlkit.largescale.faces`: faces among distractors, the splits of the face-neuron
  experiment (from scikit-image's ``lfw_subset`` and natural-image patches);
- :mod:`dlkit.largescale.network`: a Le-style network (locally connected filters with
  untied weights, L2 pooling, local contrast normalisation) trained by reconstruction ICA;
- :mod:`dlkit.largescale.units`: the best unit chosen on validation and scored on test,
  the linear-filter baseline, the optimal stimulus and invariance curves.
"""

from dlkit.largescale import faces, network, units

__all__ = ["faces", "network", "units"]
