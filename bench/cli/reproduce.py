"""`bench reproduce`: a thin wrapper over bench.reproduce (torch is imported inside the command)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from bench.cli.console import info, interrupted, print_table, session, warn
from bench.cli.options import (
    Crop,
    DataRoot,
    Epochs,
    NoisyExtra,
    NoProgress,
    Profile,
    ProfileName,
    ResultsDir,
    SynthN,
    SynthSize,
    TrainDataset,
    plain,
)
from mldrnet.errors import BenchError
from mldrnet.io.layout import reproduce_dir, results_root

EXPERIMENT_NAMES = ("table1", "table2", "table3", "table4", "fig5", "fig6", "fig7", "fig8", "fig9", "fig10", "all")


def reproduce(
    experiment: Annotated[str, typer.Argument(help=f"One of {', '.join(EXPERIMENT_NAMES)}.")],
    dataset: TrainDataset = None,
    data_root: DataRoot = None,
    profile: Profile = ProfileName.quick,
    out: Annotated[Path | None, typer.Option("--out", help="Report folder (default results/reproduce/<time>).")] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            "--seeds",
            min=1,
            max=20,
            help=(
                "Trainings per network for the run-to-run spread (default: quick 2, one for VGG-19 and ResNet-101; "
                "paper 3)."
            ),
        ),
    ] = None,
    extended: Annotated[bool, typer.Option("--extended", help="Table III also with A-CNN and T-CNN (Fig. 4).")] = False,
    noisy_extra: NoisyExtra = None,
    source_data_root: Annotated[
        Path | None,
        typer.Option(
            "--source-data-root",
            help=("Figs. 8-10 on real data: FI's folder; the last layer is retrained on the models trained there."),
        ),
    ] = None,
    image: Annotated[
        Path | None,
        typer.Option(
            "--image",
            help=("Fig. 5: the image whose strongest filters are shown (default: a test image MldrNet gets right)."),
        ),
    ] = None,
    epochs: Epochs = None,
    crop: Crop = None,
    synth_n: SynthN = None,
    synth_size: SynthSize = None,
    results_dir: ResultsDir = None,
    no_progress: NoProgress = False,
) -> None:
    """Reproduce one of the paper's tables or figures (or all): train what it needs, run its protocol, print our
    numbers beside the paper's, check its claims, and write a report folder.

    --dataset: real data, with --data-root (default: each experiment's built-in synthetic set):
      fi for Tables I-III and Figs. 5-7, mart for Table IV, artphoto, abstract and iaps for Figs. 8, 9 and 10.
    --noisy-extra: Table II / Fig. 6 on real data; without it the noisy set flips 30% of the training labels."""
    dataset, profile = plain(dataset), plain(profile)
    _check_arguments(experiment, dataset, data_root, image)
    from bench.cli.progress import EpochProgress
    from bench.reproduce.context import ReproduceConfig
    from bench.reproduce.run import run_experiments, select

    root = results_root(results_dir)
    folder = out or reproduce_dir(root) / dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    data_overrides = {k: v for k, v in {"synth_n": synth_n, "synth_size": synth_size}.items() if v is not None}
    train_overrides = {k: v for k, v in {"epochs": epochs, "crop": crop}.items() if v is not None}
    ctx = ReproduceConfig(
        root,
        Path(folder),
        profile=profile,
        dataset=dataset,
        data_root=str(data_root) if data_root else None,
        noisy_extra=noisy_extra,
        seeds=seeds,
        extended=extended,
        observer=EpochProgress(bars=not no_progress),
        progress=info,
        data_overrides=data_overrides,
        train_overrides=train_overrides,
        source_data_root=str(source_data_root) if source_data_root else None,
        image=str(image) if image else None,
        debug=session.debug,
    )
    names, skipped = select(experiment, ctx)
    if skipped:
        warn(f"--dataset {dataset} does not apply to {', '.join(skipped)}: skipped")
    _warn_paper_on_cpu(profile)

    try:
        run_experiments(names, ctx, on_result=_show)
    except KeyboardInterrupt:
        interrupted(f"interrupted: run the same `bench reproduce {experiment}` again: trained runs are reused")
    info(f"report: {ctx.out / 'report.md'}")


def _check_arguments(experiment: str, dataset: str | None, data_root, image: Path | None) -> None:
    """Refused before anything heavy is imported: a typo answers at once (the profile and the dataset are choices,
    refused at parse time)."""
    if experiment not in EXPERIMENT_NAMES:
        raise BenchError(f"unknown experiment {experiment!r}: choose one of {', '.join(EXPERIMENT_NAMES)}")
    if dataset and not data_root and not dataset.startswith("synth"):
        raise BenchError(f"--dataset {dataset} needs --data-root PATH (the folder holding its files)")
    if image is not None and not image.is_file():
        raise BenchError(f"--image {image}: no such file")


def _show(res) -> None:
    """One experiment's tables as it finishes, then its notes."""
    from bench.reproduce.report import claims_table, rich_table

    if res.rows:
        print_table(rich_table(res))
    if res.claims:
        print_table(claims_table(res))
    for note in res.notes:
        info(f"{res.name}: {note}")


def _warn_paper_on_cpu(profile: str) -> None:
    if profile != "paper":
        return
    import torch

    if not torch.cuda.is_available():
        warn("the paper profile trains at 375 px for 30 epochs: it needs a GPU; on this CPU it takes days")


def register(app: typer.Typer) -> None:
    app.command()(reproduce)
