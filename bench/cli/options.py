"""Command-line option types shared by several commands, defined once so that a flag means the same thing (name,
type, bounds, environment variable, help) in every command that takes it.

    def cmd(dataset: Dataset = DEFAULT_DATASET, data_root: DataRoot = None, results_dir: ResultsDir = None): ...

Options with a fixed set of values are `str` Enums (Typer lists them in -h and refuses others at parse time),
built from the library's own tables where importing them is light (engines.formats); where the table's module
imports torch (the dataset registry, the training profiles, the TTA modes) the names are spelled out here and a
test checks they agree. `train`, `train-all` and `reproduce` take their training options from the block below.

Nothing here imports torch: `bench -h` stays fast.
"""

from __future__ import annotations

import math
import os
from collections.abc import Callable, Iterable
from enum import Enum
from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from typer.core import TyperGroup

from engines import formats
from mldrnet.errors import BenchError
from mldrnet.io.layout import ENV_VAR, check_name
from mldrnet.io.limits import MAX_CROP, MIN_CROP


def choices(name: str, values: Iterable[str]) -> type[Enum]:
    """A `str` Enum whose members are `values` (member name = value): Typer's choice type."""
    return Enum(name, {v: v for v in values}, type=str)


def plain_help(command) -> None:
    """Make `command`'s help, its parameters' and its subcommands' plain text for rich: help says "[default: the
    baseline's]" or "pip install 'pkg[gpu]'", which rich would otherwise read as style tags and drop. A flag shows
    no value type (Typer would print "<bool>" after `--official`, as if it took one)."""
    if command.help:
        command.help = escape(command.help)
    if command.short_help:
        command.short_help = escape(command.short_help)
    for param in command.params:
        if getattr(param, "help", None):
            param.help = escape(param.help)
        if getattr(param, "is_flag", False) and param.metavar is None:  # a flag takes no value: no "<bool>" after it
            param.metavar = ""
    for sub in getattr(command, "commands", {}).values():
        plain_help(sub)


class PlainHelpGroup(TyperGroup):
    """The root group: once Typer has built the command tree (each `bench` run, each test invocation), every help
    text in it is escaped (`plain_help`), so that rich keeps brackets and still draws its panels."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        plain_help(self)


def plain(choice):
    """An Enum choice's plain string (None stays None): what the library takes and what messages print."""
    return choice.value if isinstance(choice, Enum) else choice


DEFAULT_DATASET = "synth"  # the built-in synthetic dataset, what every command uses when none is named
# Spelled out rather than read from mldrnet.data's registry, which imports torch (tests check they agree).
DATASET_NAMES = (
    "synth",
    "fi",
    "artphoto",
    "abstract",
    "iaps",
    "emotion6",
    "emoset",
    "mart",
    "folder",
    "synth-artphoto",
    "synth-abstract",
    "synth-iaps",
    "synth-mart",
    "synth-low",
    "synth-mid",
    "synth-high",
)
DatasetName = choices("DatasetName", DATASET_NAMES)
# the choices named in the help, where they wrap between words, not as the option's metavar (16 names in one
# "<a|b|...>" word were cut in the middle of names at 80 and 100 columns, and pushed the default out of the row)
DATASET_METAVAR = "<dataset>"
DATASETS_HELP = (
    "synth (the built-in synthetic set), synth-low, synth-mid, synth-high (its cue ablations), synth-artphoto, "
    "synth-abstract, synth-iaps, synth-mart (synthetic stand-ins); fi, artphoto, abstract, iaps, emotion6, emoset, "
    "mart (the real sets: --data-root), folder (your own: --data-root)"
)
PROFILE_NAMES = ("quick", "paper")  # mldrnet.training.config.PROFILES
ProfileName = choices("ProfileName", PROFILE_NAMES)
TTA_MODES = ("center", "five")  # mldrnet.data.transforms.TTA_MODES
TtaMode = choices("TtaMode", TTA_MODES)
TrainDevice = choices("TrainDevice", ("auto", *formats.engine_devices("torch")))  # auto: cuda when torch sees one

# compare's engine variants: bench.variants.LABELS, spelled out because bench.variants imports torch (a test checks
# they agree); the engine names and the precisions come from the formats table
VARIANT_LABELS = (
    "torch-cpu",
    "ort-cpu",
    "torch-cuda",
    "ort-cuda",
    "ort-trt",
    "trt",
    "torch-cpu-compile",
    "torch-cuda-compile",
    "ov-cpu",
)
OPT_IN_LABELS = ("torch-cpu-compile", "torch-cuda-compile")  # bench.variants.OPT_IN: compiling takes minutes


def _engines_help() -> str:
    return (
        f"Engine variants ({', '.join(VARIANT_LABELS)}), engine names ({', '.join(formats.engine_names())}) or all. "
        "Default: what this machine runs, less ov-cpu, the int8 rows and the compile rows; all and engine names add "
        "ov-cpu and int8, a variant adds its int8 row with --precisions int8; "
        f"{' and '.join(OPT_IN_LABELS)} run only when named."
    )


def _precisions_help() -> str:
    by_engine = "; ".join(f"{e}: {' '.join(formats.engine_precisions(e))}" for e in formats.engine_names())
    return f"Keep only these precisions: {', '.join(formats.precisions())} ({by_engine})."


Engines = Annotated[list[str] | None, typer.Option("--engines", "-e", help=_engines_help())]
Precisions = Annotated[list[str] | None, typer.Option("--precisions", "-p", help=_precisions_help())]

ResultsDir = Annotated[
    Path | None,
    typer.Option(
        "--results-dir",
        envvar=ENV_VAR,
        help="Root of everything bench writes: runs, exports, splits, generated data, "
        "compare results (default ./results).",
    ),
]


def run_key_option(value: str | None) -> str | None:
    """--dataset as a run key (a folder under results/runs): one name (mldrnet.io.layout.NAME), never a path."""
    if value is None:
        return None
    try:
        return check_name(value, "run key")
    except BenchError as e:
        raise typer.BadParameter(str(e)) from None


def odd_path_component(path: Path) -> str | None:
    """The first component of `path` that holds a control character or bytes that are not UTF-8 (a surrogate
    escape), else None: such a name breaks terminals, records and their CSV."""
    for part in path.parts:
        if any(ord(c) < 32 or 127 <= ord(c) < 160 or 0xDC80 <= ord(c) <= 0xDCFF for c in part):
            return part
    return None


def out_path_option(value: Path | None) -> Path | None:
    """An --out folder: any path, but no component with control characters or non-UTF-8 bytes, and no file
    where the folder should be (checked before any work)."""
    if value is None:
        return None
    odd = odd_path_component(value)
    if odd is not None:
        shown = odd.encode("utf-8", "backslashreplace").decode("ascii", "backslashreplace")
        raise typer.BadParameter(
            f"{shown!r} holds control characters or bytes that are not UTF-8: choose a plain folder name"
        )
    try:
        for p in (value, *value.parents):
            if p.is_symlink() and not p.exists():
                raise typer.BadParameter(f"{p} is a symlink that leads nowhere (a loop or a missing target)")
            if p.exists():
                if not p.is_dir():
                    raise typer.BadParameter(f"{p} is a file, not a folder: choose another --out")
                break
    except OSError as e:  # a name or path too long
        raise typer.BadParameter(f"{value}: {e.strerror or e}: choose a shorter path") from None
    return value


Dataset = Annotated[
    str,
    typer.Option(
        "--dataset",
        "-d",
        callback=run_key_option,
        help=f"Dataset or run key: {', '.join(DATASET_NAMES)} ({DEFAULT_DATASET} is the built-in synthetic set), "
        "or a run key such as fi-noise0.2 or mart-fold3.",
    ),
]
DataRoot = Annotated[
    Path | None,
    typer.Option(
        "--data-root",
        help="Folder holding the dataset's files on this machine (real datasets; commands on trained "
        "models default to the folder they were trained on).",
    ),
]

# --- bounds: every numeric option is checked at parse time (a usage error, exit 2), before any work ---------

CPUS = os.cpu_count() or 1
MAX_WORKERS = CPUS * 4  # DataLoader / decoding processes
MAX_SEED = 2**32 - 1  # numpy's seed range
MAX_BATCH = 1024  # timing, evaluation and export batches
MAX_TRAIN_BATCH = 4096  # a training step's global batch
# MIN_CROP, MAX_CROP: mldrnet.io.limits' (checkpoints are held to them too); a model may need more than MIN_CROP
# (its zoo entry's min_crop, checked by the library: AlexNet's stem and three pools need 63 px)
MAX_EPOCHS = 10_000
MAX_SYNTH_N = 1_000_000
MAX_SYNTH_SIZE = 2048  # px


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


# --- training: the options `train`, `train-all` and `reproduce` share (one definition, one set of bounds) ------

Profile = Annotated[
    ProfileName,
    typer.Option(
        "--profile",
        help="quick (values tuned on val by `bench tune`: small crops, minutes on a CPU) or paper (375 px, 30 "
        "epochs: a GPU).",
    ),
]
TrainDataset = Annotated[
    DatasetName | None,
    typer.Option(
        "--dataset",
        "-d",
        metavar=DATASET_METAVAR,
        help=f"Dataset: {DATASETS_HELP}.",
    ),
]
Epochs = Annotated[
    int | None,
    typer.Option(
        "--epochs", min=1, max=MAX_EPOCHS, help="Epochs of every model trained (default: the profile's, per model)."
    ),
]
BatchSize = Annotated[
    int | None, typer.Option("--batch-size", min=1, max=MAX_TRAIN_BATCH, help="Global batch size (paper: 64).")
]
Lr = Annotated[
    float | None,
    typer.Option("--lr", callback=finite(0.0, 10.0, above=True), help="Initial learning rate (paper: 0.001)."),
]
Crop = Annotated[
    int | None,
    typer.Option(
        "--crop", min=MIN_CROP, max=MAX_CROP, help="Crop size in px (default: the profile's, per model; paper: 375)."
    ),
]
Tta = Annotated[
    TtaMode | None, typer.Option("--tta", help="Evaluation: center (the centre crop) or five (mean of five crops).")
]
Seed = Annotated[
    int,
    typer.Option("--seed", min=0, max=MAX_SEED, help="Seed for the split, the training order and the initialisation."),
]
Workers = Annotated[int | None, typer.Option("--workers", min=0, max=MAX_WORKERS, help="DataLoader worker processes.")]
Device = Annotated[
    TrainDevice | None,
    typer.Option("--device", help="Where to train: auto (cuda when torch sees a GPU, else cpu), cpu or cuda."),
]
Pretrained = Annotated[
    bool | None,
    typer.Option("--pretrained", help="Baselines: torchvision ImageNet weights (the paper fine-tunes them)."),
]
Fold = Annotated[int, typer.Option("--fold", min=0, max=99, help="k-fold datasets: the test fold.")]
LabelNoise = Annotated[
    float,
    typer.Option("--label-noise", callback=finite(0.0, 1.0), help="Flip this seeded fraction of the training labels."),
]
NoisyExtra = Annotated[
    str | None,
    typer.Option("--noisy-extra", help="Extra noisy training images: a folder in FI's layout or a CSV of path,label."),
]
SynthN = Annotated[
    int | None,
    typer.Option(
        "--synth-n",
        min=8,
        max=MAX_SYNTH_N,
        help="Synthetic 8-emotion set: number of images (default 2400; the small "
        "synthetic sets keep their real counts).",
    ),
]
SynthSize = Annotated[
    int | None,
    typer.Option("--synth-size", min=16, max=MAX_SYNTH_SIZE, help="Synthetic sets: image size in px (default 128)."),
]
Force = Annotated[
    bool,
    typer.Option(
        "--force",
        help="Train again even where a run trained the same way (same configuration, same code) exists; reproduce "
        "retrains each of its runs once per invocation.",
    ),
]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="No progress bars (epoch lines only).")]


# --- options that compare and mlperf share: any ONNX classifier, LoadGen's run length and deadline ---------------
Onnx = Annotated[
    Path | None,
    typer.Option(
        "--onnx",
        help="Any image-classifier ONNX file (one that bench did not write): ONNX Runtime on the CPU, ImageNet "
        "preprocessing, the dataset's test split.",
    ),
]
InputSize = Annotated[
    int | None,
    typer.Option("--input-size", min=16, max=4096, help="--onnx: its input side in px, where the file's is dynamic."),
]
Labels = Annotated[
    Path | None,
    typer.Option(
        "--labels",
        help="--onnx: its class names, one a line in output order; accuracy only where they name every class of "
        "the dataset.",
    ),
]
Duration = Annotated[
    float,
    typer.Option(
        "--duration",
        callback=finite(0.0, 86_400.0, above=True),
        help="Seconds per LoadGen run (its minimum duration); quick runs, not official results.",
    ),
]
TargetLatency = Annotated[
    float,
    typer.Option(
        "--target-latency-ms",
        callback=finite(0.0, 600_000.0, above=True),
        help="Server: the deadline of the 99th-percentile latency.",
    ),
]
