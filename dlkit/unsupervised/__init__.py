"""Unsupervised learning: restricted Boltzmann machines, deep belief networks, sparse
coding and autoencoders (chapters 10 and 11).

The pieces, one module each:

- :mod:`dlkit.unsupervised.patches`: natural-image patches, mean removal, ZCA whitening;
- :mod:`dlkit.unsupervised.sparse_coding`: ISTA, FISTA and dictionary learning;
- :mod:`dlkit.unsupervised.autoencoder`: plain, tied, sparse and denoising autoencoders;
- :mod:`dlkit.unsupervised.rbm`: Bernoulli RBMs, CD-k, PCD, exact and AIS log Z;
- :mod:`dlkit.unsupervised.dbn`: greedy pretraining of stacked RBMs, unrolling and
  fine-tuning, sampling.
"""

from __future__ import annotations

from dlkit.unsupervised import autoencoder, dbn, patches, rbm, sparse_coding
from dlkit.unsupervised.autoencoder import (
    Autoencoder,
    corrupt,
    train_autoencoder,
    train_autoencoder_lbfgs,
)
from dlkit.unsupervised.dbn import (
    DBN,
    FineTuneDBN,
    PreTrainDBN,
    dbn_parameter_count,
    fine_tune_dbn,
    pretrain_dbn,
    unroll,
)
from dlkit.unsupervised.patches import natural_images, remove_mean, sample_patches, zca_whiten
from dlkit.unsupervised.sparse_coding import fista, ista, learn_dictionary, sparse_codes
from dlkit.unsupervised.rbm import (
    RBM,
    AISResult,
    CDResult,
    RBMHistory,
    RBMupdate,
    ais_log_partition,
    cd_gradient,
    exact_log_partition,
    log_likelihood,
    rbm_update,
    train_rbm,
)

from dlkit.unsupervised import steps
from dlkit.unsupervised.steps import (
    dbn_flat_params,
    fine_tune_flat,
    finetune_gradient,
    param_layout,
    rbm_gradient_step,
    set_flat_params,
)

__all__ = [
    "autoencoder",
    "dbn",
    "patches",
    "rbm",
    "sparse_coding",
    "steps",
    "Autoencoder",
    "corrupt",
    "train_autoencoder",
    "train_autoencoder_lbfgs",
    "DBN",
    "FineTuneDBN",
    "PreTrainDBN",
    "dbn_parameter_count",
    "fine_tune_dbn",
    "pretrain_dbn",
    "unroll",
    "natural_images",
    "remove_mean",
    "sample_patches",
    "zca_whiten",
    "fista",
    "ista",
    "learn_dictionary",
    "sparse_codes",
    "RBM",
    "AISResult",
    "CDResult",
    "RBMHistory",
    "RBMupdate",
    "ais_log_partition",
    "cd_gradient",
    "exact_log_partition",
    "log_likelihood",
    "rbm_update",
    "train_rbm",
    "dbn_flat_params",
    "fine_tune_flat",
    "finetune_gradient",
    "param_layout",
    "rbm_gradient_step",
    "set_flat_params",
]
