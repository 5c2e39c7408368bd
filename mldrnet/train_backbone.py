"""What differs per model before and after the shared training loop.

Before: build the model from the zoo (with ImageNet weights for baselines when asked). alexnet-svm takes its
backbone from the trained `alexnet` of the same dataset when there is one (that is the paper's AlexNet+SVM:
the fine-tuned AlexNet's features, then an SVM), and then needs no epochs of its own; otherwise its backbone is
fine-tuned with cross-entropy for the configured epochs first.
After: alexnet-svm fits a linear SVM on the penultimate features of the training split and folds it into
its last layer; the returned val accuracy is the SVM's.
"""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from mldrnet import zoo
from mldrnet.checkpoint import load_checkpoint
from mldrnet.preprocess import Preprocessing
from mldrnet.svm import fit_svm, fold_into_linear


def _alexnet_to_svm_keys(state: dict) -> dict:
    renamed = {}
    for key, value in state.items():
        if key.startswith("classifier.6."):
            key = "svm." + key[len("classifier.6."):]
        elif key.startswith("classifier."):
            key = "penultimate." + key[len("classifier."):]
        renamed[key] = value
    return renamed


def initial_model(cfg, data, dataset_runs: Path) -> tuple[nn.Module, str | None]:
    """(model ready for the loop, id of the backbone it started from or None)."""
    baseline_opts = {}
    if zoo.info(cfg.model).family == "baseline":
        baseline_opts = {"pretrained": cfg.pretrained, "weights_path": cfg.weights_path}
    model = zoo.create(cfg.model, num_classes=len(data.classes), **baseline_opts, **cfg.model_config)
    if cfg.model != "alexnet-svm":
        return model, None
    trained_alexnet = dataset_runs / "alexnet" / "best.pt"
    if not trained_alexnet.is_file():
        return model, None
    ckpt = load_checkpoint(trained_alexnet)
    if ckpt["classes"] != list(data.classes) or ckpt.get("split_hash") != data.split_hash:
        return model, None
    model.load_state_dict(_alexnet_to_svm_keys(ckpt["state_dict"]))
    return model, f"alexnet:{ckpt['config_hash']}"


def epochs_for(cfg, backbone: str | None):
    """A backbone taken from the trained AlexNet is already fine-tuned: no epochs before the SVM."""
    return replace(cfg, epochs=0) if backbone else cfg


@torch.no_grad()
def _features(model, samples, prep: Preprocessing, device, batch_size: int, workers: int):
    from mldrnet.data import make_loader

    model.eval()
    feats, labels = [], []
    for images, y, _ in make_loader(samples, prep, train=False, batch_size=batch_size, workers=workers):
        if len(y):
            feats.append(model.embed(images.to(device)).float().cpu())
            labels.append(y)
    return torch.cat(feats).numpy(), torch.cat(labels).numpy()


def finish_model(model, cfg, data, prep: Preprocessing, device, best_val: float, best_epoch: int):
    """Post-training step; returns (best val accuracy, best epoch) of the final model."""
    if cfg.model != "alexnet-svm":
        return best_val, best_epoch
    x, y = _features(model, data.train, prep, device, cfg.batch_size, cfg.workers)
    fold_into_linear(fit_svm(x, y, c=cfg.svm_c, seed=cfg.seed), model.svm)
    if not data.val:
        return best_val, best_epoch
    xv, yv = _features(model, data.val, prep, device, cfg.batch_size, cfg.workers)
    val_acc = float(np.mean(model.svm(torch.as_tensor(xv).to(device)).argmax(1).cpu().numpy() == yv))
    return val_acc, max(best_epoch, 0)
