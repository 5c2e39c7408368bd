"""`bench train` and `bench train-all`: thin wrappers over mldrnet.training.loop and bench.train_all.

torch is imported inside the commands (the zoo, the training loop): `bench -h` stays fast."""

from __future__ import annotations

import json
from typing import Annotated, Optional

import typer

from bench.cli.console import err, info, interrupted, print_table
from bench.cli.options import (DEFAULT_DATASET, MAX_CROP, MAX_SEED, MAX_SYNTH_N, MAX_WORKERS, DataRoot, Dataset,
                               ResultsDir, finite)
from mldrnet.errors import BenchError
from mldrnet.io.layout import results_root

ModelOpt = Annotated[Optional[list[str]], typer.Option(
    "--model-opt", help="Model option KEY=VALUE (JSON value), e.g. --model-opt levels=5 --model-opt fusion='\"max\"'.")]
Profile = Annotated[str, typer.Option("--profile", help="quick (small, CPU, the default) or paper (375 px, GPU).")]

# Options that `train` and `train-all` share: defined once, so a flag means the same in both.
# Every number is bounded at parse time: a usage error before any data or model work.
Epochs = Annotated[Optional[int], typer.Option(min=1, max=10000, help="Epochs (default: the profile's, per model).")]
BatchSize = Annotated[Optional[int], typer.Option(min=1, max=4096, help="Global batch size (paper: 64).")]
Lr = Annotated[Optional[float], typer.Option(callback=finite(0.0, 10.0, above=True),
                                             help="Initial learning rate (paper: 0.001).")]
Crop = Annotated[Optional[int], typer.Option(min=32, max=MAX_CROP, help="Crop size in px (paper: 375).")]
Tta = Annotated[Optional[str], typer.Option(help="Evaluation: center or five (mean of five crops).")]
Seed = Annotated[int, typer.Option(min=0, max=MAX_SEED, help="Seed for the split, the training order and the initialisation.")]
Workers = Annotated[Optional[int], typer.Option(min=0, max=MAX_WORKERS, help="DataLoader worker processes.")]
Device = Annotated[Optional[str], typer.Option(help="auto, cpu or cuda.")]
Pretrained = Annotated[Optional[bool], typer.Option("--pretrained", help="Baselines: torchvision ImageNet weights "
                                                    "(the paper fine-tunes them).")]
Fold = Annotated[int, typer.Option(min=0, max=99, help="k-fold datasets: the test fold.")]
LabelNoise = Annotated[float, typer.Option(callback=finite(0.0, 1.0), help="Flip this seeded fraction of the training labels.")]
NoisyExtra = Annotated[Optional[str], typer.Option(help="Extra noisy training pairs: folder or CSV.")]
SynthN = Annotated[Optional[int], typer.Option(min=8, max=MAX_SYNTH_N, help="Synthetic dataset: number of images.")]
SynthSize = Annotated[Optional[int], typer.Option(min=16, max=2048, help="Synthetic dataset: image size in px.")]
Force = Annotated[bool, typer.Option("--force", help="Train again even if trained with the same configuration.")]
NoProgress = Annotated[bool, typer.Option("--no-progress", help="No progress bars (epoch lines only).")]


def _parse_model_opts(pairs: list[str] | None) -> dict:
    opts = {}
    for pair in pairs or []:
        key, sep, value = pair.partition("=")
        if not sep or not key:
            raise BenchError(f"--model-opt {pair!r} is not KEY=VALUE (e.g. levels=5)")
        try:
            opts[key] = json.loads(value)
        except json.JSONDecodeError:
            opts[key] = value  # a bare word such as fusion=max
    return opts


def _data_config(dataset: str, data_root, seed: int, fold: int, label_noise: float, noisy_extra, synth_n, synth_size):
    from mldrnet.data import DataConfig

    extra = {k: v for k, v in {"synth_n": synth_n, "synth_size": synth_size}.items() if v is not None}
    return DataConfig(dataset=dataset, data_root=str(data_root) if data_root else None, seed=seed, fold=fold, label_noise=label_noise,
                      noisy_extra=noisy_extra, **extra)


def train(
    model: Annotated[str, typer.Argument(help="A zoo name (see `bench models`).")],
    profile: Profile = "quick",
    dataset: Dataset = DEFAULT_DATASET,
    data_root: DataRoot = None,
    epochs: Epochs = None,
    batch_size: BatchSize = None,
    lr: Lr = None,
    crop: Crop = None,
    tta: Tta = None,
    seed: Seed = 0,
    workers: Workers = None,
    device: Device = None,
    bf16: Annotated[Optional[bool], typer.Option("--bf16", help="CUDA: bf16 autocast.")] = None,
    channels_last: Annotated[Optional[bool], typer.Option("--channels-last", help="CUDA: channels_last memory.")] = None,
    pretrained: Pretrained = None,
    weights: Annotated[Optional[str], typer.Option("--weights", help="Baselines: a local ImageNet state dict.")] = None,
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
) -> None:
    """Train one model with the paper's recipe; keeps the best-val checkpoint and reports its test accuracy."""
    from bench.cli.progress import EpochProgress
    from bench.report import train_table
    from mldrnet import models
    from mldrnet.training.distributed import is_main_process
    from mldrnet.training.loop import train_model
    from mldrnet.training.config import resolve

    models.info(model)  # unknown names fail before any data work
    cfg = resolve(model, profile, epochs=epochs, batch_size=batch_size, lr=lr, crop=crop, tta=tta, seed=seed,
                  workers=workers, device=device, bf16=bf16, channels_last=channels_last, pretrained=pretrained,
                  weights_path=weights, model_config=_parse_model_opts(model_opt) or None)
    data_cfg = _data_config(dataset, data_root, seed, fold, label_noise, noisy_extra, synth_n, synth_size)
    try:
        result = train_model(cfg, data_cfg, results_root(results_dir), resume=resume, force=force,
                             observer=EpochProgress(bars=not no_progress))
    except KeyboardInterrupt:
        # Typer turns a KeyboardInterrupt raised in a command into a silent exit 130: say it here
        interrupted(f"interrupted: resume with `bench train {model} --resume` (and the same options)")
    if is_main_process():
        print_table(train_table([result]), err)
        _say_run_keys([result])


def train_all(
    model_names: Annotated[Optional[list[str]], typer.Option("--model", "-m", help="Models to train (repeat); default: "
                                                        "mldrnet alexnet vgg19 resnet101 alexnet-svm.")] = None,
    variants: Annotated[bool, typer.Option("--variants", help="Also every MldrNet variant of the paper.")] = False,
    hand_crafted: Annotated[bool, typer.Option("--hand-crafted", help="Also the hand-crafted-feature baselines "
                                               "(machajdik, zhao, rao; minutes of feature extraction).")] = False,
    profile: Profile = "quick",
    dataset: Dataset = DEFAULT_DATASET,
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
    fold: Fold = 0,
    label_noise: LabelNoise = 0.0,
    noisy_extra: NoisyExtra = None,
    synth_n: SynthN = None,
    synth_size: SynthSize = None,
    force: Force = False,
    results_dir: ResultsDir = None,
    no_progress: NoProgress = False,
    debug: Annotated[bool, typer.Option("--debug", help="Stop at the first failing model with its traceback.")] = False,
) -> None:
    """Train every model that compare needs; models trained with the same configuration are skipped."""
    from bench.cli.progress import EpochProgress
    from bench.report import train_table
    from bench.train_all import DEFAULT_MODELS, train_all as run_all
    from mldrnet import models
    from mldrnet.training.distributed import is_main_process

    names = list(model_names or DEFAULT_MODELS)
    if variants:
        names += [n for n in models.names() if models.info(n).family == "mldrnet"]
    if hand_crafted:
        names += [n for n in models.names() if models.info(n).family == "hand-crafted"]
    for name in names:
        models.info(name)
    data_cfg = _data_config(dataset, data_root, seed, fold, label_noise, noisy_extra, synth_n, synth_size)
    try:
        results = run_all(names, profile, data_cfg, results_root(results_dir), force=force,
                          observer=EpochProgress(bars=not no_progress), debug=debug, epochs=epochs, batch_size=batch_size, lr=lr, crop=crop, tta=tta, seed=seed,
                          device=device, workers=workers, pretrained=pretrained)
    except KeyboardInterrupt:
        interrupted("interrupted: run the same `bench train-all` again to continue (trained models are skipped; "
                    "resume the interrupted one with `bench train MODEL --resume`)")
    if not is_main_process():
        return
    print_table(train_table(results))
    _say_run_keys(results)
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def _say_run_keys(results) -> None:
    """Where the runs are, and the run key that compare, export and predict take as --dataset."""
    from pathlib import Path

    for folder in dict.fromkeys(Path(r.run_dir).parent for r in results if r.ok and r.run_dir):
        info(f"runs in {folder}/ (run key {folder.name}: `bench compare --dataset {folder.name}`)")


def register(app: typer.Typer) -> None:
    app.command()(train)
    app.command("train-all")(train_all)
