"""Where every command writes: ./results of the working directory unless --results-dir or
BENCH_RESULTS_DIR says otherwise. The layout is documented in results/README.md."""

from __future__ import annotations

import os
from pathlib import Path

ENV_VAR = "BENCH_RESULTS_DIR"


def results_root(override: str | os.PathLike | None = None) -> Path:
    return Path(override or os.environ.get(ENV_VAR) or "results")


def run_dir(root: Path, model: str, dataset: str) -> Path:
    """Checkpoints, metrics and exported files of one model trained on one dataset."""
    return root / "runs" / dataset / model
