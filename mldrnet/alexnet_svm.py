"""AlexNet+SVM (You et al.): AlexNet's features and penultimate layer, then a linear SVM as the head; and the two
hooks its zoo entry gives the training loop (mldrnet.train names no model):

- start: take the backbone from the trained `alexnet` of the same data variant when there is one (the paper's
  AlexNet+SVM: the fine-tuned AlexNet's features, then an SVM); it then needs no epochs of its own. Without one,
  the backbone is fine-tuned with cross-entropy for the configured epochs first.
- finish: fit the linear SVM (mldrnet.svm) on the penultimate features of the training split and fold it into
  the last layer; the val accuracy reported is the SVM's.
"""

from __future__ import annotations

import numpy as np
import torch
from torch import nn

from mldrnet.checkpoint import Checkpoint
from mldrnet.svm import fit_svm, fold_into_linear
from mldrnet.zoo_hooks import Start, TrainContext

BACKBONE = "alexnet"


class AlexNetSVM(nn.Module):
    """The SVM (one-vs-rest, scikit-learn's LinearSVC) is fitted on the penultimate 4096-d features after
    training; its `coef_` and `intercept_` are copied into `svm`, a plain Linear layer, so the model exports
    and runs like any other and its outputs are the SVM's decision function."""

    def __init__(self, alexnet: nn.Module, num_classes: int):
        super().__init__()
        self.features = alexnet.features
        self.avgpool = alexnet.avgpool
        self.penultimate = nn.Sequential(*list(alexnet.classifier.children())[:6])  # ... FC 4096 + ReLU
        self.svm = nn.Linear(alexnet.classifier[6].in_features, num_classes)

    def embed(self, x: torch.Tensor) -> torch.Tensor:
        return self.penultimate(torch.flatten(self.avgpool(self.features(x)), 1))  # (B, 4096)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.svm(self.embed(x))  # (B, num_classes)


def _alexnet_to_svm_keys(state: dict) -> dict:
    renamed = {}
    for key, value in state.items():
        if key.startswith("classifier.6."):
            key = "svm." + key[len("classifier.6."):]
        elif key.startswith("classifier."):
            key = "penultimate." + key[len("classifier."):]
        renamed[key] = value
    return renamed


def start_from_trained_alexnet(model: nn.Module, ctx: TrainContext) -> Start | None:
    trained = ctx.run.sibling(BACKBONE).checkpoint
    if not trained.is_file():
        return None
    ckpt = Checkpoint.load(trained)
    if ckpt.classes != tuple(ctx.data.classes) or ckpt.split_hash != ctx.data.split_hash:
        return None
    model.load_state_dict(_alexnet_to_svm_keys(ckpt.state_dict))
    return Start(source=f"{BACKBONE}:{ckpt.config_hash}", epochs=0)  # already fine-tuned: no epochs before the SVM


@torch.no_grad()
def _features(model, samples, ctx: TrainContext):
    from mldrnet.data import make_loader

    model.eval()
    feats, labels = [], []
    for images, y, _ in make_loader(samples, ctx.prep, train=False, batch_size=ctx.cfg.batch_size,
                                    workers=ctx.cfg.workers):
        if len(y):
            feats.append(model.embed(images.to(ctx.device)).float().cpu())
            labels.append(y)
    return torch.cat(feats).numpy(), torch.cat(labels).numpy()


def fit_svm_head(model: nn.Module, ctx: TrainContext) -> float | None:
    """Fit the SVM and fold it into `model.svm`; returns its val accuracy (None without a val split)."""
    x, y = _features(model, ctx.data.train, ctx)
    fold_into_linear(fit_svm(x, y, c=ctx.cfg.svm_c, seed=ctx.cfg.seed), model.svm)
    if not ctx.data.val:
        return None
    xv, yv = _features(model, ctx.data.val, ctx)
    return float(np.mean(model.svm(torch.as_tensor(xv).to(ctx.device)).argmax(1).cpu().numpy() == yv))
