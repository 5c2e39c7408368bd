"""`bench train-all`: train every model that compare needs, skipping those already trained the same way."""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from mldrnet.errors import BenchError, one_line
from mldrnet.io.atomic import atomic_write_bytes, atomic_write_text, writable_dir
from mldrnet.io.jsonfile import read_json
from mldrnet.io.layout import CHECKPOINT_FILE, METRICS_FILE, RESULT_FILE, RunFolder
from mldrnet.training.config import resolve
from mldrnet.training.hooks import training_order
from mldrnet.training.loop import TrainObserver, TrainResult, train_model, writing
from mldrnet.training.predictions import PREDICTIONS_FILE
from mldrnet.training.start import imagenet_start, takes_imagenet

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
    becomes a result with its error and the others still train, unless `fail_fast`: then its error is raised.
    `pretrained` / `weights_path` among the overrides start the models that have an ImageNet start from those
    weights (mldrnet.training.start); the others ignore them and train from scratch."""
    writable_dir(results_root, "results folder")  # a read-only or full-of-files root: one line, not one per model
    for name in model_names:  # a missing weights file (or no cache and no network): one line before any training
        imagenet_start(name, overrides.get("pretrained"), overrides.get("weights_path"))
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
    if overrides.get("pretrained") or overrides.get("weights_path"):
        results = share_scratch_runs(results)
    return results


def share_scratch_runs(results: list[TrainResult]) -> list[TrainResult]:
    """With a start from ImageNet, the fine-tuned baselines train under the run key `<key>-imagenet...` and the
    models without such a start under `<key>`, where their from-scratch run is reused (it is the same whatever the
    baselines start from). Each such run is copied beside the baselines', so that `bench compare --dataset
    <key>-imagenet...` compares every model train-all trained; its result then names the copy. Nothing is copied
    when the started runs sit under more than one run key (a folder of weights files of different origins)."""
    started = {Path(r.run_dir).parent for r in results if r.ok and r.run_dir and takes_imagenet(r.model)}
    if len(started) != 1:
        return results
    (target,) = started
    shared = []
    for r in results:
        if r.ok and r.run_dir and not takes_imagenet(r.model) and Path(r.run_dir).parent != target:
            r = replace(r, run_dir=str(copy_run(Path(r.run_dir), RunFolder(target / r.model))))
        shared.append(r)
    return shared


RUN_FILES = (CHECKPOINT_FILE, METRICS_FILE, PREDICTIONS_FILE)  # result.json is written last: it marks the run done


def copy_run(source: Path, run: RunFolder) -> Path:
    """The finished run in `source` copied to `run` (not last.pt: the copy is never resumed), unless `run` already
    holds it (its result.json has the same config hash); result.json names its new folder."""
    done = read_json(source / RESULT_FILE, max_bytes=1 << 20)
    if not isinstance(done, dict):
        raise BenchError(f"{source / RESULT_FILE} holds no run summary: train it again with --force")
    if run.result.is_file():
        try:
            there = read_json(run.result, max_bytes=1 << 20)
        except BenchError:
            there = None
        if isinstance(there, dict) and there.get("config_hash") == done.get("config_hash"):
            return run.path
    with writing(run):
        for name in RUN_FILES:
            if (source / name).is_file():
                atomic_write_bytes(run.path / name, (source / name).read_bytes())
        atomic_write_text(run.result, json.dumps({**done, "run_dir": str(run.path)}, indent=2, allow_nan=False))
    return run.path
