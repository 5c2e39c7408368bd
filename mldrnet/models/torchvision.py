"""The paper's ImageNet baselines (Table III): torchvision's AlexNet, VGG-19 and ResNet-101 with the classifier
swapped for a `num_classes`-way head. `pretrained=True` goes through torchvision's weights API (torch hub cache),
and `weights_path=FILE` loads a local ImageNet state dict instead (`weights_only=True`).
"""

from __future__ import annotations

import os
import urllib.error
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

from mldrnet.errors import BenchError, first_line
from mldrnet.models.registry import register

# --- Baselines: torchvision architectures with an num_classes-way head -----------------------------------


def load_imagenet(arch: str, pretrained: bool, weights_path: str | os.PathLike | None) -> nn.Module:
    """torchvision's `arch` with its 1000-class ImageNet head, weights loaded if asked."""
    if weights_path is not None:
        model = torchvision.models.get_model(arch, weights=None)
        path = Path(weights_path)
        if not path.is_file():
            raise BenchError(f"weights file {path} does not exist: pass a torchvision {arch} state dict")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
        except Exception as e:  # a wrong file is the user's to fix, say so in one line
            raise BenchError(f"cannot load {arch} ImageNet weights from {path}: {first_line(e)}") from e
        return model
    if not pretrained:
        return torchvision.models.get_model(arch, weights=None)
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    try:
        return torchvision.models.get_model(arch, weights=weights)
    except (urllib.error.URLError, OSError, RuntimeError) as e:
        target = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
        raise BenchError(
            f"cannot get {arch} ImageNet weights ({type(e).__name__}): put {weights.url.rsplit('/', 1)[-1]} "
            f"at {target}, or pass --weights FILE"
        ) from e


def _baseline(arch: str, swap_head: Callable[[nn.Module, int], None], scratch_init: Callable | None = None):
    def build(num_classes: int = 8, pretrained: bool = False, weights_path=None) -> nn.Module:
        model = load_imagenet(arch, pretrained, weights_path)
        swap_head(model, num_classes)
        if scratch_init is not None and not pretrained and weights_path is None:
            scratch_init(model)
        return model

    return build


def he_init(model: nn.Module) -> None:
    """The initialisation torchvision gives VGG (He-normal convolutions, N(0, 0.01) linear layers, zero biases),
    for a network it leaves at PyTorch's defaults because its weights are meant to be loaded: AlexNet. From
    scratch and without batch norm, the defaults shrink the signal through its eight layers and it sits near
    chance for epochs; with this init it starts learning in the first epoch."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def _swap_classifier(model: nn.Module, num_classes: int) -> None:
    classifier = model.get_submodule("classifier")  # AlexNet's and VGG's nn.Sequential; [6] is the last Linear
    last = classifier.get_submodule("6")
    assert isinstance(last, nn.Linear)
    classifier.add_module("6", nn.Linear(last.in_features, num_classes))  # replaces it in place


def _swap_fc(model: nn.Module, num_classes: int) -> None:
    fc = model.get_submodule("fc")  # ResNet's last Linear
    assert isinstance(fc, nn.Linear)
    model.fc = nn.Linear(fc.in_features, num_classes)


register("alexnet", "baseline", 58.61, "AlexNet fine-tuned (torchvision), 8-class head")(
    _baseline("alexnet", _swap_classifier, scratch_init=he_init)
)
register("vgg19", "baseline", 59.32, "VGGNet-19 fine-tuned (torchvision), 8-class head")(
    _baseline("vgg19", _swap_classifier)
)
register("resnet101", "baseline", 60.82, "ResNet-101 fine-tuned (torchvision), 8-class head")(
    _baseline("resnet101", _swap_fc)
)


# models whose from-scratch initialisation is ours, not their builder's: part of a run's config hash, so a run
# trained before the init changed is trained again instead of reused
SCRATCH_INIT = {"alexnet": "he", "alexnet-svm": "he"}


def init_tag(name: str, pretrained: bool = False, weights_path=None) -> str | None:
    """The initialisation a from-scratch model gets when it is ours (SCRATCH_INIT), else None."""
    return None if pretrained or weights_path else SCRATCH_INIT.get(name)
