"""Every model the harness knows, behind one registry: MldrNet and its paper variants, the ImageNet baselines,
AlexNet+SVM, the shallow CNNs of Fig. 4 and the hand-crafted-feature and MART baselines.

    create(name, num_classes=8, **cfg) -> nn.Module     names(), networks(), info(name), takes(name, option)
    load(ckpt) -> nn.Module                            a checkpoint's model with its weights, in eval mode

The registry (mldrnet.models.registry) imports no model; each model module registers its entries when imported,
and this package imports them all. May import mldrnet.errors, .io, .data, .baselines and .checkpoint; never
mldrnet.training or mldrnet.evaluation.
"""

# isort: off  (they register themselves on import, and this order is the order of names(): the tables' order)
from mldrnet.models import alexnet_svm, handcrafted, mldrnet, paper_cnns, torchvision  # noqa: F401

# isort: on
from mldrnet.models.load import check_input_size, load
from mldrnet.models.registry import (
    NETWORK_FAMILIES,
    ZooEntry,
    create,
    info,
    names,
    networks,
    register,
    takes,
)
from mldrnet.models.torchvision import he_init, init_tag

__all__ = [
    "NETWORK_FAMILIES",
    "ZooEntry",
    "check_input_size",
    "create",
    "he_init",
    "info",
    "init_tag",
    "load",
    "names",
    "networks",
    "register",
    "takes",
]
