"""Architectures: their specifications, the paper zoo, and trainable networks.

Three modules, one job each:

* :mod:`dlkit.models.specs` - a network as a list of :class:`LayerSpec` s (shapes,
  parameters and multiply-adds of every layer, from the closed forms of
  :mod:`dlkit.shapes`), totals and a summary table; nothing is trained or allocated.
* :mod:`dlkit.models.zoo` - famous architectures as specifications, each with the
  paper it comes from: :func:`lenet5`, :func:`alexnet`, :func:`vgg16`,
  :func:`googlenet`, :func:`resnet`, :func:`cifar_resnet`; :func:`get` by name.
* :mod:`dlkit.models.nets` - trainable dlkit networks: :func:`digits_cnn` and
  :func:`lenet5_net` (chapter 8).

Every name is importable from ``dlkit.models`` itself, e.g.
``from dlkit.models import alexnet, conv_out_size``.
"""

from __future__ import annotations

from dlkit.models.nets import digits_cnn, lenet5_net
from dlkit.models.specs import (
    ArchSpec,
    Builder,
    LayerSpec,
    add,
    concat,
    conv,
    conv_out_size,
    fc,
    norm,
    pool,
    summary,
)
from dlkit.models.zoo import (
    ARCHITECTURES,
    GOOGLENET_INCEPTION,
    RESNET_BLOCKS,
    VGG16_CFG,
    alexnet,
    cifar_resnet,
    get,
    googlenet,
    lenet5,
    resnet,
    vgg16,
)

__all__ = [
    "LayerSpec",
    "ArchSpec",
    "conv_out_size",
    "conv",
    "fc",
    "pool",
    "norm",
    "concat",
    "add",
    "lenet5",
    "alexnet",
    "vgg16",
    "googlenet",
    "resnet",
    "cifar_resnet",
    "summary",
    "ARCHITECTURES",
    "get",
    "digits_cnn",
    "lenet5_net",
    "Builder",
    "VGG16_CFG",
    "GOOGLENET_INCEPTION",
    "RESNET_BLOCKS",
]
