"""`bench reproduce`: a thin wrapper over bench.reproduce (torch is imported inside the command)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Annotated

import typer

from bench.cli.console import err, error, info, interrupted, print_table, session, warn
from bench.cli.options import (
    Crop,
    DataRoot,
    Epochs,
    Force,
    NoisyExtra,
    NoProgress,
    Pretrained,
    Profile,
    ProfileName,
    ResultsDir,
    SynthN,
    SynthSize,
    TrainDataset,
    out_path_option,
    plain,
)
from bench.cli.train import Json, Weights, print_json
from mldrnet.errors import BenchError
from mldrnet.io.layout import reproduce_dir, results_root

EXPERIMENT_NAMES = ("table1", "table2", "table3", "table4", "fig5", "fig6", "fig7", "fig8", "fig9", "fig10", "all")


def reproduce(
    experiment: Annotated[str, typer.Argument(help=f"One of {', '.join(EXPERIMENT_NAMES)}.")],
    dataset: TrainDataset = None,
    data_root: DataRoot = None,
    profile: Profile = ProfileName.quick,
    out: Annotated[
        Path | None,
        typer.Option("--out", callback=out_path_option, help="Report folder (default results/reproduce/<time>)."),
    ] = None,
    seeds: Annotated[
        int | None,
        typer.Option(
            "--seeds",
            min=1,
            max=20,
            help="Trainings per network for the run-to-run spread (default 3: Student's t gets n-1 = 2 df per side).",
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
    force: Force = False,
    pretrained: Pretrained = None,
    weights: Weights = None,
    as_json: Json = False,
) -> None:
    """Reproduce one of the paper's tables or figures (or all): train what it needs, run its protocol, print our
    numbers beside the paper's, check its claims, and write a report folder.

    --dataset: real data, with --data-root (default: each experiment's built-in synthetic set):
      fi for Tables I-III and Figs. 5-7, mart for Table IV, artphoto, abstract and iaps for Figs. 8, 9 and 10.
    --noisy-extra: Table II / Fig. 6 on real data; without it the noisy set flips 30% of the training labels.
    --pretrained / --weights: the baselines the paper fine-tuned (AlexNet, VGG-19, ResNet-101, AlexNet+SVM) start
      from ImageNet weights, as in the paper; MldrNet and the other models train from scratch."""
    dataset, profile = plain(dataset), plain(profile)
    _check_arguments(experiment, dataset, data_root, image)
    if weights and not Path(weights).expanduser().exists():
        raise BenchError(
            f"--weights {weights}: no such file or folder: pass a torchvision state-dict file (.pth) or a folder "
            "holding torchvision's files (torch hub's cache)"
        )
    _refuse_options_that_do_not_apply(
        experiment, {"--extended": extended, "--noisy-extra": noisy_extra, "--source-data-root": source_data_root}
    )
    from bench.cli.progress import EpochProgress
    from bench.reproduce.context import ReproduceConfig
    from bench.reproduce.run import check_start, failures, run_experiments, select
    from mldrnet.io.atomic import writable_dir

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
        force=force,
        pretrained=bool(pretrained),
        weights=weights,
    )
    names, skipped = select(experiment, ctx)
    check_start(names, ctx, experiment)
    if skipped:
        warn(f"--dataset {dataset} does not apply to {', '.join(skipped)}: skipped")
    _warn_paper_on_cpu(profile)
    writable_dir(root, "results folder")  # before any training: a report that cannot be written loses no work
    writable_dir(ctx.out, "report folder")

    try:
        results = run_experiments(names, ctx, on_result=lambda res: _show(res, err if as_json else None))
    except KeyboardInterrupt:
        interrupted(f"interrupted: run the same `bench reproduce {experiment}` again: trained runs are reused")
    info(f"report: {ctx.out / 'report.md'}")
    failed = failures(results)
    for line in failed:
        error(line)
    if as_json:
        print_json(_document(ctx.out, failed))
    if failed:
        error(f"{len(failed)} failure(s): the report holds what succeeded; fix them and run it again")
        raise typer.Exit(1)


def _check_arguments(experiment: str, dataset: str | None, data_root, image: Path | None) -> None:
    """Refused before anything heavy is imported: a typo answers at once (the profile and the dataset are choices,
    refused at parse time)."""
    if experiment not in EXPERIMENT_NAMES:
        raise BenchError(f"unknown experiment {experiment!r}: choose one of {', '.join(EXPERIMENT_NAMES)}")
    if dataset and not data_root and not dataset.startswith("synth"):
        raise BenchError(f"--dataset {dataset} needs --data-root PATH (the folder holding its files)")
    _refuse_options_that_do_not_apply(experiment, {"--image": image})
    if image is not None and not image.is_file():
        raise BenchError(f"--image {image}: no such file")


# the experiments each option changes (besides `all`): given with any other, it would be ignored silently
APPLIES_TO = {
    "--image": ("fig5",),
    "--extended": ("table3",),
    "--noisy-extra": ("table2", "fig6"),
    "--source-data-root": ("fig8", "fig9", "fig10"),
}


def _refuse_options_that_do_not_apply(experiment: str, given: dict) -> None:
    for option, value in given.items():
        used_by = APPLIES_TO[option]
        if value and experiment != "all" and experiment not in used_by:
            raise BenchError(
                f"{option} does not apply to {experiment}: it changes only {', '.join(used_by)} (or all); drop it"
            )


def _document(out: Path, failed: list[str]) -> dict:
    """The --json document: the report folder's results.json (every experiment's rows, claims, paired tests and
    runs, just written), with where the report is and what failed."""
    import json

    payload = json.loads((out / "results.json").read_text(encoding="utf-8"))  # written by this process just now
    return {"command": "reproduce", "ok": not failed, "failures": failed, "report": str(out / "report.md"), **payload}


def _show(res, console=None) -> None:
    """One experiment's tables as it finishes (on `console`: stdout by default), then its notes."""
    from bench.cli.tables import paired_table
    from bench.reproduce.report import claims_table, paired_title, rich_table

    if res.rows:
        print_table(rich_table(res), console)
    if res.claims:
        print_table(claims_table(res), console)
    if res.paired:
        print_table(paired_table(res.paired, paired_title(res)), console)
    for note in res.notes:
        info(f"{res.name}: {note}")
    done = {r.run_dir: r.skipped for r in res.runs if r.run_dir}
    if done:
        reused = sum(done.values())
        info(f"{res.name}: {len(done) - reused} run(s) trained, {reused} reused (listed in report.md)")


def _warn_paper_on_cpu(profile: str) -> None:
    if profile != "paper":
        return
    import torch

    if not torch.cuda.is_available():
        warn("the paper profile trains at 375 px for 30 epochs: it needs a GPU; on this CPU it takes days")


def register(app: typer.Typer) -> None:
    app.command()(reproduce)
