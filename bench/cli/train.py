"""`bench train` and `bench train-all`: thin wrappers over mldrnet.training.loop and bench.train_all.

torch is imported inside the commands (the zoo, the training loop): `bench -h` stays fast."""

from __future__ import annotations

import json
import math
from typing import Annotated

import typer

from bench.cli.console import err, info, interrupted, print_table
from bench.cli.options import (
    DEFAULT_DATASET,
    BatchSize,
    Crop,
    DataRoot,
    DatasetName,
    Device,
    Epochs,
    Fold,
    Force,
    LabelNoise,
    Lr,
    NoisyExtra,
    NoProgress,
    Pretrained,
    Profile,
    ProfileName,
    ResultsDir,
    Seed,
    SynthN,
    SynthSize,
    TrainDataset,
    Tta,
    Workers,
    plain,
)
from mldrnet.errors import BenchError
from mldrnet.io import jsonfile
from mldrnet.io.layout import results_root

# The training options are bench.cli.options' (shared with `train-all` and `reproduce`); these are train's own,
# and --weights and --json, which train, train-all and reproduce share (bench.cli.reproduce imports them).
Weights = Annotated[
    str | None,
    typer.Option(
        "--weights",
        help="Fine-tuned baselines (alexnet, vgg19, resnet101, alexnet-svm): start from these ImageNet weights, a "
        "torchvision state-dict file (.pth) or a folder holding torchvision's files (torch hub's cache, TORCH_HOME). "
        "train-all and reproduce train the other models from scratch.",
    ),
]
Json = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document on stdout (tables, progress and messages go to stderr)."),
]
ModelOpt = Annotated[
    list[str] | None,
    typer.Option(
        "--model-opt",
        help="Model option KEY=VALUE (JSON value), e.g. --model-opt levels=5 --model-opt fusion='\"max\"'.",
    ),
]


def _parse_model_opts(pairs: list[str] | None) -> dict:
    opts = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BenchError(f"--model-opt {pair!r} is not KEY=VALUE (e.g. levels=5)")
        try:
            opts[key] = jsonfile.loads(value, f"--model-opt {key}", max_depth=4)
        except BenchError as e:
            if value[:1] in "[{" or "nested" in str(e):
                raise
            opts[key] = value  # a bare word such as fusion=max
    return opts


def _check_model_opts(model: str, opts: dict) -> None:
    """--model-opt values of a MldrNet (its MldrNetConfig fields) of the field's type, each refused in one line
    that says which option, what it got and what it takes; other models' builders name their own options."""
    from dataclasses import fields

    from mldrnet import models

    if not opts or models.info(model).family != "mldrnet":
        return
    from mldrnet.models.mldrnet import MldrNetConfig

    kinds = {f.name: str(f.type) for f in fields(MldrNetConfig) if f.name not in ("num_classes", "level_specs")}
    for key, value in opts.items():
        if key not in kinds:
            raise BenchError(f"--model-opt {key}: {model} has no option {key!r} (its options: {', '.join(kinds)})")
        kind = kinds[key]
        fits = {
            "int": isinstance(value, int) and not isinstance(value, bool),
            "float": isinstance(value, (int, float)) and not isinstance(value, bool) and math.isfinite(value),
            "bool": isinstance(value, bool),
            "str": isinstance(value, str),
        }.get(kind, True)
        if not fits:
            what = {"int": "an integer", "float": "a finite number", "bool": "true or false", "str": "a word"}[kind]
            raise BenchError(
                f"--model-opt {key} takes {what}, not {json.dumps(value)[:40]} (e.g. --model-opt {key}="
                f"{json.dumps(getattr(MldrNetConfig, key))}; {model}'s options are documented in "
                "mldrnet/models/mldrnet.py)"
            )


def _check_imagenet_options(model: str, pretrained: bool | None, weights: str | None) -> None:
    """--pretrained and --weights start a baseline from ImageNet weights; any other model would fail on them."""
    from mldrnet import models

    for option, given, takes in (("--pretrained", pretrained, "pretrained"), ("--weights", weights, "weights_path")):
        if given and not models.takes(model, takes):
            takers = [n for n in models.names() if models.takes(n, takes)]
            raise BenchError(
                f"{option} does not apply to {model}: it trains from scratch; only {', '.join(takers)} start from "
                f"ImageNet weights. Drop {option}"
            )


def _data_config(dataset, data_root, seed: int, fold: int, label_noise: float, noisy_extra, synth_n, synth_size):
    from mldrnet.data import DataConfig

    extra = {k: v for k, v in {"synth_n": synth_n, "synth_size": synth_size}.items() if v is not None}
    return DataConfig(
        dataset=plain(dataset),
        data_root=str(data_root) if data_root else None,
        seed=seed,
        fold=fold,
        label_noise=label_noise,
        noisy_extra=noisy_extra,
        **extra,
    )


def train(
    model: Annotated[str, typer.Argument(help="A zoo name (see `bench models`).")],
    profile: Profile = ProfileName.quick,
    dataset: TrainDataset = DatasetName(DEFAULT_DATASET),
    data_root: DataRoot = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: Lr = None,
    crop: Crop = None,
    tta: Tta = None,
    seed: Seed = 0,
    workers: Workers = None,
    device: Device = None,
    bf16: Annotated[bool | None, typer.Option("--bf16", help="CUDA: bf16 autocast.")] = None,
    channels_last: Annotated[bool | None, typer.Option("--channels-last", help="CUDA: channels_last memory.")] = None,
    pretrained: Pretrained = None,
    weights: Weights = None,
    model_opt: ModelOpt = None,
    fold: Fold = 0,
    label_noise: LabelNoise = 0.0,
    noisy_extra: NoisyExtra = None,
    synth_n: SynthN = None,
    synth_size: SynthSize = None,
    resume: Annotated[bool, typer.Option("--resume", help="Continue an interrupted run from last.pt.")] = False,
    force: Force = False,
    results_dir: ResultsDir = None,
    no_progress: NoProgress = False,
    as_json: Json = False,
) -> None:
    """Train one model with the paper's recipe; keeps the best-val checkpoint and reports its test accuracy."""
    from bench.cli.progress import EpochProgress
    from bench.cli.tables import train_table
    from mldrnet import models
    from mldrnet.training.config import resolve
    from mldrnet.training.distributed import is_main_process
    from mldrnet.training.loop import train_model

    models.info(model)  # unknown names fail before any data work
    _check_imagenet_options(model, pretrained, weights)
    model_config = _parse_model_opts(model_opt)
    _check_model_opts(model, model_config)
    cfg = resolve(
        model,
        plain(profile),
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        crop=crop,
        tta=plain(tta),
        seed=seed,
        workers=workers,
        device=plain(device),
        bf16=bf16,
        channels_last=channels_last,
        pretrained=pretrained,
        weights_path=weights,
        model_config=model_config or None,
    )
    data_cfg = _data_config(dataset, data_root, seed, fold, label_noise, noisy_extra, synth_n, synth_size)
    try:
        result = train_model(
            cfg,
            data_cfg,
            results_root(results_dir),
            resume=resume,
            force=force,
            observer=EpochProgress(bars=not no_progress),
        )
    except KeyboardInterrupt:
        # Typer turns a KeyboardInterrupt raised in a command into a silent exit 130: say it here
        interrupted(f"interrupted: resume with `bench train {model} --resume` (and the same options)")
    if is_main_process():
        print_table(train_table([result]), err)
        _say_run_keys([result])
        if as_json:
            print_json(train_document("train", [result]))


def _train_all_names(model_names: list[str] | None, variants: bool, hand_crafted: bool) -> list[str]:
    """The models train-all trains, each checked against the zoo (an unknown name fails before any data work)."""
    from bench.train_all import DEFAULT_MODELS
    from mldrnet import models

    names = list(model_names or DEFAULT_MODELS)
    if variants:
        names += [n for n in models.names() if models.info(n).family == "mldrnet"]
    if hand_crafted:
        names += [n for n in models.names() if models.info(n).family == "hand-crafted"]
    for name in names:
        models.info(name)
    return names


def train_all(
    model_names: Annotated[
        list[str] | None,
        typer.Option(
            "--model", "-m", help="Models to train (repeat); default: mldrnet alexnet vgg19 resnet101 alexnet-svm."
        ),
    ] = None,
    variants: Annotated[bool, typer.Option("--variants", help="Also every MldrNet variant of the paper.")] = False,
    hand_crafted: Annotated[
        bool,
        typer.Option(
            "--hand-crafted",
            help="Also the hand-crafted-feature baselines (machajdik, zhao, rao; minutes of feature extraction).",
        ),
    ] = False,
    profile: Profile = ProfileName.quick,
    dataset: TrainDataset = DatasetName(DEFAULT_DATASET),
    data_root: DataRoot = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: Lr = None,
    crop: Crop = None,
    tta: Tta = None,
    seed: Seed = 0,
    device: Device = None,
    workers: Workers = None,
    pretrained: Pretrained = None,
    weights: Weights = None,
    fold: Fold = 0,
    label_noise: LabelNoise = 0.0,
    noisy_extra: NoisyExtra = None,
    synth_n: SynthN = None,
    synth_size: SynthSize = None,
    force: Force = False,
    results_dir: ResultsDir = None,
    no_progress: NoProgress = False,
    as_json: Json = False,
    fail_fast: Annotated[
        bool,
        typer.Option(
            "--fail-fast",
            help="Stop at the first model that fails, with its error, instead of recording it and training the others.",
        ),
    ] = False,
) -> None:
    """Train every model that compare needs; models trained with the same configuration are skipped."""
    from bench.cli.progress import EpochProgress
    from bench.cli.tables import train_table
    from bench.train_all import train_all as run_all
    from mldrnet.training.distributed import is_main_process

    names = _train_all_names(model_names, variants, hand_crafted)
    _check_imagenet_start_applies(names, pretrained, weights)
    data_cfg = _data_config(dataset, data_root, seed, fold, label_noise, noisy_extra, synth_n, synth_size)
    progress = EpochProgress(bars=not no_progress, models=len(names))  # "model k/N" on every line
    try:
        results = run_all(
            names,
            plain(profile),
            data_cfg,
            results_root(results_dir),
            force=force,
            observer=progress,
            on_result=progress.model_done,
            fail_fast=fail_fast,
            epochs=epochs,
            batch_size=batch_size,
            lr=lr,
            crop=crop,
            tta=plain(tta),
            seed=seed,
            device=plain(device),
            workers=workers,
            pretrained=pretrained,
            weights_path=weights,
        )
    except KeyboardInterrupt:
        interrupted(
            "interrupted: run the same `bench train-all` again to continue (trained models are skipped; "
            "resume the interrupted one with `bench train MODEL --resume`)"
        )
    if not is_main_process():
        return
    print_table(train_table(results), err if as_json else None)
    _say_run_keys(results)
    if as_json:
        print_json(train_document("train-all", results))
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def _check_imagenet_start_applies(names: list[str], pretrained: bool | None, weights: str | None) -> None:
    """train-all passes --pretrained / --weights to the models with an ImageNet start and trains the others from
    scratch; given to a list with none of them, they would change nothing: refused, like train's."""
    from mldrnet.training.start import takes_imagenet

    given = [option for option, value in (("--pretrained", pretrained), ("--weights", weights)) if value]
    if given and not any(takes_imagenet(n) for n in names):
        raise BenchError(
            f"{' and '.join(given)} apply to none of {', '.join(names)}: they train from scratch; only alexnet, "
            "vgg19, resnet101 and alexnet-svm start from ImageNet weights. Add one (-m alexnet) or drop "
            f"{' and '.join(given)}"
        )


def _json_value(value):
    """A number JSON can hold: NaN and infinities (a run that never evaluated) become null."""
    return None if isinstance(value, float) and not math.isfinite(value) else value


def train_document(command: str, results) -> dict:
    """The --json document of train and train-all: every run's result (result.json's fields; accuracies are
    fractions, as there), whether it succeeded and its run key (what compare, export and predict take)."""
    from pathlib import Path

    runs = [
        {
            **{k: _json_value(v) for k, v in r.to_dict().items()},
            "ok": r.ok,
            "run_key": Path(r.run_dir).parent.name if r.run_dir else None,
        }
        for r in results
    ]
    return {"command": command, "ok": all(r.ok for r in results), "runs": runs}


def print_json(document: dict) -> None:
    """One JSON document on stdout, the only thing there (strict JSON: no NaN)."""
    import sys

    sys.stdout.write(json.dumps(document, indent=2, allow_nan=False) + "\n")
    sys.stdout.flush()


def _say_run_keys(results) -> None:
    """Where the runs are, and the run key that compare, export and predict take as --dataset."""
    from pathlib import Path

    for folder in dict.fromkeys(Path(r.run_dir).parent for r in results if r.ok and r.run_dir):
        info(f"runs in {folder}/ (run key {folder.name}: `bench compare --dataset {folder.name}`)")


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command("train-all")(train_all)
