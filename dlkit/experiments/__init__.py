"""The training runs, sweeps and measurements that chapters show, one module per topic.

A chapter calls an experiment here, prints or asserts its numbers, and hands the
result to a :mod:`dlkit.viz` function to draw it. Nothing here draws or imports viz.

- :mod:`~dlkit.experiments.boundaries`: small networks trained on 2-D data and the
  class they assign to every point of the plane (chapter 3);
- :mod:`~dlkit.experiments.approximation`: one-hidden-layer networks of growing width
  fitted to a 1-D function (chapter 3);
- :mod:`~dlkit.experiments.optimizers`: optimizers on 2-D loss surfaces, gradient
  descent on a parabola, and mini-batch gradient noise (chapter 4);
- :mod:`~dlkit.experiments.backprop`: layer-by-layer gradients, the scalar engine
  against the layers, gradient checks, training memory and vanishing gradients
  (chapter 5);
- :mod:`~dlkit.experiments.regularization`: overfitting on a small digits training
  set, and what early stopping, weight decay, dropout, shifted images and batch
  normalisation do to the test accuracy (chapter 6b);
- :mod:`~dlkit.experiments.conv`: the example input of the sliding window and the
  index runs of the compiled direct kernels (chapter 7);
- :mod:`~dlkit.experiments.cnn`: the feature maps of a trained CNN (chapter 8);
- :mod:`~dlkit.experiments.precision`: samples of small values and their rounding
  bias (chapter 9);
- :mod:`~dlkit.experiments.parallel`: where a simulated hybrid-parallel step spends
  its time (chapter 13);
- :mod:`~dlkit.experiments.collectives`: one simulated allreduce beside its closed
  form, and allreduce times swept over the message size m and over p (chapter 14);
- :mod:`~dlkit.experiments.rbm`: RBMs trained by CD-1, CD-10 and PCD with their AIS
  log-likelihoods, AIS against the exact log Z, RBM features for a classifier, and
  when DBN pretraining helps (chapter 11);
- :mod:`~dlkit.experiments.async_sgd`: HOGWILD!, Downpour, Sandblaster, Project Adam and
  the parameter server over MPI windows, the runs chapter 15 shows;
- :mod:`~dlkit.experiments.async_dbn`: the seed talk's DBN trained by asynchronous SGD on
  4 to 32 simulated cores, both tables (chapter 15);
- :mod:`~dlkit.experiments.faces`: the face-neuron experiment (chapter 16);
- :mod:`~dlkit.experiments.determinism`: where run-to-run differences come from: sums in
  other orders and thread counts, another BLAS kernel, HOGWILD! and asynchronous update
  order, a GPU's atomics, seeds, an injected bug (chapter 16).
"""
