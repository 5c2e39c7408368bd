"""Command-line option types shared by several commands, defined once so that a flag means the same thing (name,
type, environment variable, help) in every command that takes it.

    def cmd(dataset: Dataset = DEFAULT_DATASET, data_root: DataRoot = None, results_dir: ResultsDir = None): ...

Nothing here imports torch: `bench -h` stays fast.
"""

from __future__ import annotations

import math
import os
from enum import Enum
from pathlib import Path
from typing import Annotated, Callable, Optional

import typer

from mldrnet.io.layout import ENV_VAR

DEFAULT_DATASET = "synth"  # the built-in synthetic dataset, what every command uses when none is named
# Spelled out rather than read from mldrnet.data's registry, which imports torch (tests check they agree).
DATASET_NAMES = ("synth", "fi", "artphoto", "abstract", "iaps", "emotion6", "emoset", "mart", "synth-artphoto",
                 "synth-abstract", "synth-iaps", "synth-mart")
DatasetName = Enum("DatasetName", {n: n for n in DATASET_NAMES}, type=str)

ResultsDir = Annotated[Optional[Path], typer.Option(
    "--results-dir", envvar=ENV_VAR,
    help="Root of everything bench writes: runs, exports, splits, generated data, compare results (default ./results).")]
Dataset = Annotated[str, typer.Option(
    "--dataset", "-d", help=f"Dataset: {', '.join(DATASET_NAMES)} ({DEFAULT_DATASET} is the built-in synthetic set).")]
DataRoot = Annotated[Optional[Path], typer.Option(
    "--data-root", help="Folder holding the dataset's files on this machine (real datasets; commands on trained "
                        "models default to the folder they were trained on).")]

# --- bounds: every numeric option is checked at parse time (a usage error, exit 2), before any work ---------

CPUS = os.cpu_count() or 1
MAX_WORKERS = CPUS * 4  # DataLoader / decoding processes
MAX_SEED = 2**32 - 1  # numpy's seed range
MAX_BATCH = 1024  # timing, evaluation and export batches
MAX_CROP = 1024  # px; min 32 (below, the CNNs' feature maps vanish)
MAX_SYNTH_N = 1_000_000


def finite(low: float | None = None, high: float | None = None, above: bool = False) -> Callable:
    """A Typer callback for a float option: a finite number within [low, high] (low excluded when `above`);
    Typer's own min/max let NaN through (every comparison with NaN is false) and accept inf when unbounded."""

    def check(value: float | None) -> float | None:
        if value is None:
            return None
        if not math.isfinite(value):
            raise typer.BadParameter(f"{value} is not a finite number")
        if low is not None and (value <= low if above else value < low) or high is not None and value > high:
            lo = "" if low is None else f"{'>' if above else '>='} {low:g}"
            hi = "" if high is None else f"<= {high:g}"
            raise typer.BadParameter(f"{value:g} is out of range ({' and '.join(x for x in (lo, hi) if x)})")
        return value

    return check

