"""Large-scale unsupervised learning at a small scale (chapter 16).

- :mod:`dlkit.largescale.faces`: faces among distractors, the splits of the face-neuron
  experiment (from scikit-image's ``lfw_subset`` and natural-image patches);
- :mod:`dlkit.largescale.network`: a Le-style network (locally connected filters with
  untied weights, L2 pooling, local contrast normalisation) trained by reconstruction ICA;
- :mod:`dlkit.largescale.units`: the best unit chosen on validation and scored on test,
  the linear-filter baseline, the optimal stimulus and invariance curves;
- :mod:`dlkit.largescale.localconn`: a locally connected layer on (N, C, H, W) arrays, one
  small dense GEMM per output position;
- :mod:`dlkit.largescale.distarray`: that layer on a distributed array, its input split over
  ranks by rows, with a halo exchange (simulated or under ``mpiexec``);
- :mod:`dlkit.largescale.scale`: the cost models of DistBelief and of COTS HPC at paper scale.
"""

from dlkit.largescale import distarray, faces, localconn, network, scale, units

__all__ = ["distarray", "faces", "localconn", "network", "scale", "units"]
