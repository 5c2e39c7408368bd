"""The hooks a zoo entry can give the training loop, so the loop itself names no model.

    after    models whose trained run this one uses: `train-all` trains them first
    start    (model, ctx) -> Start | None: initialise from another run before the epochs (None: from scratch)
    finish   (model, ctx) -> float | None: a step after the epochs on the best weights (e.g. fit an SVM head);
             returns the final model's val accuracy, or None to keep the loop's

AlexNet+SVM uses all three (mldrnet.alexnet_svm); feature-plus-classifier models use the same hooks.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

from mldrnet.layout import RunFolder


@dataclass(frozen=True)
class Start:
    source: str  # what it started from, e.g. "alexnet:<config hash>": part of the run's config hash
    epochs: int | None = None  # epochs of its own after such a start (None: the configured ones)


@dataclass(frozen=True)
class TrainContext:
    """What a hook may read: the training config, the prepared data, the run folder, the evaluation
    preprocessing and the device."""

    cfg: Any  # mldrnet.train_config.TrainConfig
    data: Any  # mldrnet.data.PreparedData
    run: RunFolder
    prep: Any = None  # mldrnet.preprocess.Preprocessing
    device: Any = None  # torch.device
    observer: Any = None  # mldrnet.train.TrainObserver for progress (None: quiet)


@dataclass(frozen=True)
class TrainHooks:
    after: tuple[str, ...] = ()
    start: Callable[..., Start | None] | None = None
    finish: Callable[..., float | None] | None = None
