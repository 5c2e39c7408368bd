"""`bench train-all`: train every model that compare needs, skipping those already trained the same way."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from mldrnet.errors import one_line
from mldrnet.io.atomic import writable_dir
from mldrnet.training.config import resolve
from mldrnet.training.hooks import training_order
from mldrnet.training.loop import TrainObserver, TrainResult, train_model

DEFAULT_MODELS = ("mldrnet", "alexnet", "vgg19", "resnet101", "alexnet-svm")


def train_all(
    model_names: list[str],
    profile: str,
    data_cfg,
    results_root: Path,
    *,
    force: bool = False,
    observer: TrainObserver | None = None,
    on_result: Callable[[TrainResult], None] | None = None,
    fail_fast: bool = False,
    **overrides,
) -> list[TrainResult]:
    """Train each model in turn (a model after those its zoo hooks use: zoo.training_order); a model that fails
    becomes a result with its error and the others still train, unless `fail_fast`: then its error is raised."""
    writable_dir(results_root, "results folder")  # a read-only or full-of-files root: one line, not one per model
    results: list[TrainResult] = []
    for name in training_order(model_names):
        try:
            cfg = resolve(name, profile, **overrides)
            result = train_model(cfg, data_cfg, results_root, force=force, observer=observer)
        except Exception as e:  # out of memory, a crop too small for a model...: the other models still train
            if fail_fast:
                raise
            result = TrainResult(name, error=one_line(e))
        results.append(result)
        if on_result:
            on_result(result)
    return results
