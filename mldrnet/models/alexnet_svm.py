"""AlexNet+SVM (You et al.): AlexNet's features and penultimate layer, then a linear SVM as the head.

The SVM (mldrnet.models.svm) is fitted after the network is trained and folded into the last Linear layer, so
the model exports and runs like any other. How it is trained (start from the trained `alexnet` of the same data
variant, then fit the SVM) is its training hooks' business: mldrnet.training.hooks.
"""

from __future__ import annotations

import torch
from torch import nn

from mldrnet.models.registry import register
from mldrnet.models.torchvision import ALEXNET_MIN_CROP, he_init, load_imagenet

BACKBONE = "alexnet"  # the zoo model whose trained weights it starts from


class AlexNetSVM(nn.Module):
    """The SVM (one-vs-rest, scikit-learn's LinearSVC) is fitted on the penultimate 4096-d features after
    training; its `coef_` and `intercept_` are copied into `svm`, a plain Linear layer, so the model exports
    and runs like any other and its outputs are the SVM's decision function."""

    def __init__(self, alexnet: nn.Module, num_classes: int):
        super().__init__()
        classifier = alexnet.get_submodule("classifier")
        last = classifier.get_submodule("6")
        assert isinstance(last, nn.Linear)
        self.features = alexnet.get_submodule("features")
        self.avgpool = alexnet.get_submodule("avgpool")
        self.penultimate = nn.Sequential(*list(classifier.children())[:6])  # ... FC 4096 + ReLU
        self.svm = nn.Linear(last.in_features, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.penultimate(torch.flatten(self.avgpool(self.features(x)), 1))  # (B, 4096)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.svm(self.embed(x))  # (B, num_classes)


def alexnet_to_svm_keys(state: dict) -> dict:
    """A trained `alexnet` state dict with its keys renamed for AlexNetSVM (classifier.6 becomes the svm layer)."""
    renamed = {}
    for key, value in state.items():
        if key.startswith("classifier.6."):
            key = "svm." + key[len("classifier.6.") :]
        elif key.startswith("classifier."):
            key = "penultimate." + key[len("classifier.") :]
        renamed[key] = value
    return renamed


@register(
    "alexnet-svm", "baseline", 57.89, "AlexNet features + linear SVM head (You et al.)", min_crop=ALEXNET_MIN_CROP
)
def _alexnet_svm(num_classes: int = 8, pretrained: bool = False, weights_path=None) -> nn.Module:
    backbone = load_imagenet("alexnet", pretrained, weights_path)
    if not pretrained and weights_path is None:  # it trains its own backbone when no trained alexnet is beside it
        he_init(backbone)
    return AlexNetSVM(backbone, num_classes)
