"""Command-line option types shared by several commands, defined once so that a flag means the same thing (name,
type, environment variable, help) in every command that takes it.

    def cmd(dataset: Dataset = DEFAULT_DATASET, data_root: DataRoot = None, results_dir: ResultsDir = None): ...

Nothing here imports torch: `bench -h` stays fast.
"""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer

from mldrnet.layout import ENV_VAR

DEFAULT_DATASET = "synth"  # the built-in synthetic dataset, what every command uses when none is named
# Spelled out rather than read from mldrnet.data's registry, which imports torch (tests check they agree).
DATASET_NAMES = ("synth", "fi", "artphoto", "abstract", "iaps", "emotion6", "emoset", "mart")
DatasetName = Enum("DatasetName", {n: n for n in DATASET_NAMES}, type=str)

ResultsDir = Annotated[Optional[Path], typer.Option(
    "--results-dir", envvar=ENV_VAR,
    help="Root of everything bench writes: runs, exports, splits, generated data, compare results (default ./results).")]
Dataset = Annotated[str, typer.Option(
    "--dataset", "-d", help=f"Dataset: {', '.join(DATASET_NAMES)} ({DEFAULT_DATASET} is the built-in synthetic set).")]
DataRoot = Annotated[Optional[Path], typer.Option(
    "--data-root", help="Folder holding the dataset's files on this machine (real datasets; commands on trained "
                        "models default to the folder they were trained on).")]
