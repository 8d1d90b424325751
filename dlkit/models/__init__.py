"""Architectures: their specifications, the paper zoo, and trainable networks.

Three modules, one job each:

* :mod:`dlkit.models.specs` - a network as a list of :class:`LayerSpec` s (shapes,
  parameters and multiply-adds of every layer, from the closed forms of
  :mod:`dlkit.shapes`), totals and a summary table; nothing is trained or allocated.
* :mod:`dlkit.models.zoo` - famous architectures as specifications, each with the
  paper it comes from: :func:`lenet5`, :func:`alexnet`, :func:`vgg16`,
  :func:`googlenet`, :func:`resnet`, :func:`cifar_resnet`; :func:`get` by name.
* :mod:`dlkit.models.nets` - trainable dlkit networks: :func:`digits_cnn` and
  :func:`lenet5_net` (chapter 8), and the LeNet-style :func:`lenet28_net` for 28x28
  images (chapter 7).

Every name is importable from ``dlkit.models`` itself, e.g.
``from dlkit.models import alexnet, conv_out_size``.
"""

from __future__ import annotations

from dlkit.models import nets as _nets
from dlkit.models import specs as _specs
from dlkit.models import zoo as _zoo
from dlkit.models.nets import *  # noqa: F403 - every name of the three modules
from dlkit.models.specs import *  # noqa: F403
from dlkit.models.zoo import *  # noqa: F403

__all__ = [*_specs.__all__, *_zoo.__all__, *_nets.__all__]
