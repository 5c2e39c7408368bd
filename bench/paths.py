"""Where every command writes: ./results of the working directory unless --results-dir or
BENCH_RESULTS_DIR says otherwise. The layout is documented in results/README.md."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "BENCH_RESULTS_DIR"


def results_root(override: str | os.PathLike | None = None) -> Path:
    return Path(override or os.environ.get(ENV_VAR) or "results")


def run_dir(root: Path, model: str, dataset: str) -> Path:
    """Checkpoints, metrics and exported files of one model trained on one dataset (or dataset variant:
    `dataset` is a run key, see `run_key`)."""
    return root / "runs" / dataset / model


def run_key(data_cfg, data) -> str:
    """The folder name of a training data variant: the dataset's name, plus `-fold<k>` for a k-fold set's fold
    other than 0, `-noise<p>` with label noise, `-noisy` with extra noisy pairs. Runs on different variants
    (Table II's well vs noisy FI, Table IV's folds) then sit side by side instead of overwriting each other."""
    key = data.name
    if getattr(data, "folds", 0) and data_cfg.fold:
        key += f"-fold{data_cfg.fold}"
    if data_cfg.label_noise:
        key += f"-noise{data_cfg.label_noise:g}"
    if data_cfg.noisy_extra:
        key += "-noisy"
    return key
