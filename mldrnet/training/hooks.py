"""What the training loop does for a model besides the epochs, so the loop itself names no model.

    after    models whose trained run this one uses: `train-all` trains them first
    start    (model, ctx) -> Start | None: initialise from another run before the epochs (None: from scratch)
    finish   (model, ctx) -> float | None: a step after the epochs on the best weights (e.g. fit an SVM head);
             returns the final model's val accuracy, or None to keep the loop's

`hooks_for(name)` looks a model's hooks up: AlexNet+SVM has all three (start from the trained `alexnet`, fit the
SVM head); the hand-crafted and MART families have no epochs and fit their classifier on features. Here, not in
mldrnet.models, because hooks read other runs and the data: the models stay free of training.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Protocol

import numpy as np
import torch
from torch import nn

from mldrnet.checkpoint import Checkpoint
from mldrnet.data.loader import make_loader
from mldrnet.io import layout
from mldrnet.io.layout import RunFolder
from mldrnet.io.provenance import how_trained
from mldrnet.models import registry
from mldrnet.models.alexnet_svm import BACKBONE, AlexNetSVM, alexnet_to_svm_keys
from mldrnet.models.handcrafted import FeatureCache, FeatureModel, split_features
from mldrnet.models.svm import fit_svm, fold_into_linear
from mldrnet.training.start import start_phrase

if TYPE_CHECKING:
    from mldrnet.data.prepare import PreparedData
    from mldrnet.data.transforms import Preprocessing
    from mldrnet.training.config import TrainConfig


@dataclass(frozen=True)
class Start:
    source: str  # what it started from, e.g. "alexnet:<config hash>": part of the run's config hash
    epochs: int | None = None  # epochs of its own after such a start (None: the configured ones)


class Observer(Protocol):
    """What a hook may report progress to (mldrnet.training.loop's TrainObserver)."""

    def start_run(self, what: str, epochs: int) -> None: ...

    def start_epoch(self, epoch: int, batches: int) -> None: ...

    def batch(self, loss: float, images_per_s: float) -> None: ...

    def end_run(self) -> None: ...


@dataclass(frozen=True)
class TrainContext:
    """What a hook may read: the training config, the prepared data, the run folder, the evaluation
    preprocessing and the device."""

    cfg: TrainConfig
    data: PreparedData
    run: RunFolder
    prep: Preprocessing
    device: torch.device | None = None
    observer: Observer | None = None  # progress (None: quiet)


@dataclass(frozen=True)
class TrainHooks:
    after: tuple[str, ...] = ()
    start: Callable[..., Start | None] | None = None
    finish: Callable[..., float | None] | None = None


log = logging.getLogger(__name__)

# --- AlexNet+SVM ----------------------------------------------------------------------------------------------


def start_from_trained_alexnet(model: AlexNetSVM, ctx: TrainContext) -> Start | None:
    """The backbone of the trained `alexnet` of the same data variant and split, when there is one: the paper's
    AlexNet+SVM (the fine-tuned AlexNet's features, then an SVM), which then needs no epochs of its own."""
    trained = ctx.run.sibling(BACKBONE).checkpoint
    if not trained.is_file():
        return None
    ckpt = Checkpoint.load(trained)
    if ckpt.classes != tuple(ctx.data.classes) or ckpt.split_hash != ctx.data.split_hash:
        return None
    model.load_state_dict(alexnet_to_svm_keys(ckpt.state_dict))
    return Start(source=f"{BACKBONE}:{ckpt.config_hash}", epochs=0)  # already fine-tuned: no epochs before the SVM


@torch.no_grad()
def _features(model: AlexNetSVM, samples: list[tuple[str, int]], ctx: TrainContext) -> tuple[np.ndarray, np.ndarray]:
    model.eval()
    feats, labels = [], []
    for images, y, _ in make_loader(
        samples, ctx.prep, train=False, batch_size=ctx.cfg.batch_size, workers=ctx.cfg.workers
    ):
        if len(y):
            feats.append(model.embed(images.to(ctx.device)).float().cpu())
            labels.append(y)
    return torch.cat(feats).numpy(), torch.cat(labels).numpy()


# LinearSVC's C for alexnet-svm, chosen on val (TrainConfig.svm_c None). Up to 0.01 the primal solver converges in
# well under a minute on the quick set's 1680 x 4096 AlexNet features; at 0.1 it ran over 4 minutes (stopped), at 1
# minutes without converging: a grid past 0.01 would cost the default run more than all of its training
SVM_C_GRID = (0.001, 0.003, 0.01)


def fit_svm_head(model: AlexNetSVM, ctx: TrainContext) -> float | None:
    """Fit the SVM (each C of the grid, the best on val; the config's C when it names one) and fold it into
    `model.svm`; returns its val accuracy (None without a val split, where the grid's middle C is used)."""
    x, y = _features(model, ctx.data.train, ctx)
    xv, yv = _features(model, ctx.data.val, ctx) if ctx.data.val else (None, None)
    grid = (ctx.cfg.svm_c,) if ctx.cfg.svm_c is not None else SVM_C_GRID if xv is not None else SVM_C_GRID[1:2]
    best: tuple[float, float, object] | None = None
    for c in grid:
        svm = fit_svm(x, y, c=c, seed=ctx.cfg.seed)
        val = float(np.mean(svm.predict(xv) == yv)) if xv is not None else float("nan")
        log.info("alexnet-svm: C=%g gives val top-1 %.2f %%", c, 100 * val)
        if best is None or val > best[0]:  # ties: the smaller C (more regularised), first in the grid
            best = (val, c, svm)
    assert best is not None
    fold_into_linear(best[2], model.svm)
    if xv is None:
        return None
    return float(np.mean(model.svm(torch.as_tensor(xv).to(ctx.device)).argmax(1).cpu().numpy() == yv))


# --- hand-crafted features + a classifier (the Table III and Table IV baselines) ------------------------------


def no_epochs(model: nn.Module, ctx: TrainContext) -> Start:
    """Feature models learn in `fit_on_features`, not by gradient descent."""
    return Start(source="hand-crafted features", epochs=0)


def fit_on_features(model: FeatureModel, ctx: TrainContext) -> float | None:
    """Features of train (+ val, and test unlabelled for the transductive methods), then the classifier;
    returns the val accuracy."""
    root = ctx.run.results_root() or layout.results_root()
    cache = FeatureCache(root, model.spec, ctx.prep)
    progress = ctx.observer
    if progress:
        progress.start_run(f"{ctx.cfg.model} features", 1)
    try:
        x, y = split_features(model.spec, ctx.prep, ctx.data.train, cache, ctx.cfg.workers, progress)
        xv, yv = (
            split_features(model.spec, ctx.prep, ctx.data.val, cache, ctx.cfg.workers, progress)
            if ctx.data.val
            else (np.zeros((0, x.shape[1])), np.zeros(0, int))
        )
        xu = (
            split_features(model.spec, ctx.prep, ctx.data.test, cache, ctx.cfg.workers, progress)[0]
            if model.spec.transductive and ctx.data.test
            else xv
        )
    finally:
        if progress:
            progress.end_run()
    model.fit_features(x, y, xu, seed=ctx.cfg.seed)
    if not len(yv):
        return None
    return float(np.mean(model.scores(xv).argmax(1) == yv))


# --- which model has which hooks -------------------------------------------------------------------------------

BY_NAME = {"alexnet-svm": TrainHooks(after=(BACKBONE,), start=start_from_trained_alexnet, finish=fit_svm_head)}
BY_FAMILY = {family: TrainHooks(start=no_epochs, finish=fit_on_features) for family in ("hand-crafted", "mart")}


def hooks_for(name: str) -> TrainHooks:
    """The hooks of a zoo model (none: plain epochs of gradient descent)."""
    return BY_NAME.get(name) or BY_FAMILY.get(registry.info(name).family) or TrainHooks()


def training_order(models: list[str]) -> list[str]:
    """The user's order with repeats dropped, except that a model comes after the models its hooks name in
    `after` when they are in the list too (alexnet before alexnet-svm: the SVM is fitted on its features)."""
    todo, done = list(dict.fromkeys(models)), []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done or name in path:
            return
        for dep in hooks_for(name).after:
            if dep in todo:
                visit(dep, path + (name,))
        done.append(name)

    for name in todo:
        visit(name, ())
    return done


def training_kind(model: str, train_config: dict | None) -> tuple[str, str | None]:
    """("network" | "features" | "head", backbone) of a zoo model as it was trained, for
    mldrnet.io.provenance.how_trained: "head" only when its start hook found the trained backbone (no epochs of its
    own); alexnet-svm without a trained alexnet beside it trained its backbone itself."""
    if not registry.info(model).is_network:
        return "features", None
    after = hooks_for(model).after
    if after and (train_config or {}).get("epochs") == 0:
        return "head", after[0]
    return "network", None


def describe_training(model: str, train_config: dict | None, epochs_run: int | None) -> str:
    """mldrnet.io.provenance.how_trained for a zoo model, with its kind (network, features, head) looked up."""
    kind, backbone = training_kind(model, train_config)
    if not train_config or "start" not in train_config:  # a run of an older version: its options say the start
        return how_trained(train_config, kind, backbone, epochs_run)
    tag = train_config["start"]
    # the start by its name (mldrnet.training.start), not by the path the user gave: how_trained shows a
    # weights_path by its base name, and a tag holds no "/"
    text = how_trained({**train_config, "pretrained": False, "weights_path": tag}, kind, backbone, epochs_run)
    return f"{text}, {backbone} {start_phrase(tag)}" if kind == "head" and tag else text


def describe_checkpoint(ckpt: Checkpoint) -> str:
    """How the checkpoint's model was trained, in one phrase: profile, epochs, input size and start."""
    return describe_training(ckpt.model, ckpt.train_config, len(ckpt.history) or None)
