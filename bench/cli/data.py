"""`bench data synth | info | verify | split`: thin wrappers over mldrnet.data.

The dataset is `--dataset NAME` (`-d`), as in every other command; the positional name of earlier releases still
works, with a warning, for one release.

Exit codes: 0 fine; 1 bad input (a BenchError: wrong layout, missing classes, unknown dataset), printed as one
red line by bench.cli; 2 from `verify` when the layout is right but some files cannot be decoded (training
skips those files with a warning, so this is a report, not a failure of the dataset).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Annotated

import typer

from bench.cli.console import escape, out, print_table, warn
from bench.cli.options import (
    DATASET_METAVAR,
    DATASETS_HELP,
    MAX_SEED,
    MAX_SYNTH_N,
    MAX_SYNTH_SIZE,
    MAX_WORKERS,
    DataRoot,
    DatasetName,
    ResultsDir,
    out_path_option,
)
from mldrnet.errors import BenchError
from mldrnet.io.layout import results_root

VERIFY_BAD_FILES_EXIT = 2

DatasetOpt = Annotated[
    DatasetName,
    typer.Option("--dataset", "-d", metavar=DATASET_METAVAR, help=f"Dataset: {DATASETS_HELP}."),
]
# the positional name of earlier releases (`bench data info fi`) arrives as an extra argument (ctx.args), kept one
# release with a warning; an Argument would put it back into the usage line
OLD_POSITIONAL = {"allow_extra_args": True}
SynthN = Annotated[
    int, typer.Option("--n", min=8, max=MAX_SYNTH_N, help="Synthetic set: number of images (balanced over 8 classes).")
]
SynthSize = Annotated[
    int, typer.Option("--size", min=16, max=MAX_SYNTH_SIZE, help="Synthetic set: image size in pixels.")
]
Seed = Annotated[int, typer.Option("--seed", min=0, max=MAX_SEED, help="Split seed.")]

data_app = typer.Typer(
    help="Datasets: generate the synthetic set, inspect and verify real ones, write splits.",
    no_args_is_help=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)


def register(app) -> None:
    app.add_typer(data_app, name="data")


def _dataset(option: DatasetName, ctx: typer.Context, command: str) -> DatasetName:
    """The dataset named by --dataset, or by the old positional name (with a warning). Both, naming different sets,
    or an extra argument that is no dataset: a usage error (an explicit `--dataset synth` cannot be told from the
    default, so it yields to the positional)."""
    if not ctx.args:
        return option
    names = [d.value for d in DatasetName]
    if len(ctx.args) > 1 or ctx.args[0] not in names:
        raise typer.BadParameter(
            f"unexpected {' '.join(map(repr, ctx.args))}: name the dataset with --dataset, one of {', '.join(names)}"
        )
    positional = DatasetName(ctx.args[0])
    if option not in (positional, DatasetName.synth):
        raise typer.BadParameter(f"two datasets given ({positional.value} and {option.value}): give only --dataset")
    name = positional.value
    warn(f"`bench data {command} {name}` is deprecated: write `bench data {command} --dataset {name}`")
    return positional


def _config(dataset: DatasetName, data_root, seed: int = 0, fold: int = 0, n: int = 2400, size: int = 128, **extra):
    from mldrnet.data import DataConfig

    # inspecting commands never create data: a --data-root that is not there is a typo, not a place to generate
    # the synthetic set into (`bench data synth --out` does that)
    if data_root is not None and not Path(data_root).is_dir():
        raise BenchError(
            f"--data-root {data_root} does not exist (or is not a folder): give the dataset's folder"
            + (" or generate one with `bench data synth --out PATH`" if dataset.value == "synth" else "")
        )

    return DataConfig(
        dataset=dataset.value,
        data_root=str(data_root) if data_root else None,
        seed=seed,
        fold=fold,
        synth_n=n,
        synth_size=size,
        **extra,
    )


@data_app.command()
def synth(
    out_dir: Annotated[
        Path | None,
        typer.Option(
            "--out",
            callback=out_path_option,
            help="Folder to write (default results/data/synth-n<N>-px<PX>-seed<S>).",
        ),
    ] = None,
    n: SynthN = 2400,
    size: SynthSize = 128,
    seed: Annotated[
        int, typer.Option("--seed", min=0, max=MAX_SEED, help="Image seed: the same seed gives the same images.")
    ] = 0,
    results_dir: ResultsDir = None,
) -> None:
    """Generate the synthetic emotion dataset in FI's layout (train on it with --dataset synth --data-root OUT)."""
    from mldrnet.data.synth import SynthParams, ensure_synth
    from mldrnet.data.synth.params import FORMAT, read_format

    params = SynthParams(n, size, seed)
    target = out_dir or results_root(results_dir) / "data" / params.key
    try:
        existed = read_format(target) == FORMAT  # an older format's set is drawn again
    except OSError:  # a name too long, a loop: ensure_synth names the problem
        existed = False
    start = time.perf_counter()
    path = ensure_synth(params, target)
    if existed:
        out.print(f"synthetic set already there: {path} ({n} images, {size} px, seed {seed})", markup=False)
    else:
        out.print(
            f"generated {n} images of {size} px (seed {seed}) in {time.perf_counter() - start:.1f} s: {path}",
            markup=False,
        )


@data_app.command(context_settings=OLD_POSITIONAL)
def info(
    ctx: typer.Context,
    dataset: DatasetOpt = DatasetName.synth,
    data_root: DataRoot = None,
    seed: Seed = 0,
    fold: Annotated[int, typer.Option("--fold", min=0, max=99, help="k-fold sets: the test fold.")] = 0,
    n: SynthN = 2400,
    size: SynthSize = 128,
    workers: Annotated[
        int, typer.Option("--workers", min=0, max=MAX_WORKERS, help="Processes for the header check.")
    ] = 0,
    results_dir: ResultsDir = None,
) -> None:
    """Images per class and split (the split every model uses; written on first use) and unreadable files."""
    from bench.cli.tables import dataset_table
    from mldrnet.data import get_spec, prepare_data
    from mldrnet.data.audit import class_rows, quick_check

    dataset = _dataset(dataset, ctx, "info")
    data = prepare_data(_config(dataset, data_root, seed, fold, n, size), results_root(results_dir))
    bad = quick_check([p for p, _ in data.train + data.val + data.test], workers)
    print_table(dataset_table(data, class_rows(data, bad), get_spec(data.name).title))


@data_app.command(context_settings=OLD_POSITIONAL)
def verify(
    ctx: typer.Context,
    dataset: DatasetOpt = DatasetName.synth,
    data_root: DataRoot = None,
    n: SynthN = 2400,
    size: SynthSize = 128,
    workers: Annotated[int, typer.Option("--workers", min=0, max=MAX_WORKERS, help="Decoding processes.")] = 0,
    results_dir: ResultsDir = None,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print one JSON document (files checked, unreadable, duplicates).")
    ] = False,
) -> None:
    """Decode every image and name each bad file. Exit 1 on a wrong layout, 2 when some files are unreadable."""
    from bench.cli.progress import RowProgress
    from mldrnet.data.audit import verify as verify_files
    from mldrnet.data.prepare import report_dropped, scan

    dataset = _dataset(dataset, ctx, "verify")
    spec, listing, _ = scan(_config(dataset, data_root, n=n, size=size), results_root(results_dir))
    report_dropped(spec.name, listing.dropped, show=len(listing.dropped))
    start = time.perf_counter()
    with RowProgress(unit="file") as progress:  # a live line on a terminal; in a log, a line when 10 s pass
        progress(f"decoding {len(listing.paths())} files of {spec.name}")
        report = verify_files(listing.paths(), workers, on_progress=progress.rows)
    seconds = time.perf_counter() - start
    if as_json:
        print(json.dumps(_verify_document(spec.name, listing, report, seconds), indent=2))
    else:
        _print_verify(spec.name, listing.root, report, seconds)
    if not report.ok:
        raise typer.Exit(VERIFY_BAD_FILES_EXIT)


def _verify_document(name: str, listing, report, seconds: float) -> dict:
    """verify's result as JSON: what the text output says, one field each (paths as the text shows them)."""
    return {
        "dataset": name,
        "root": str(listing.root),
        "checked": report.n_checked,
        "unreadable": [{"path": path, "reason": reason} for path, reason in report.bad],
        "duplicates": [list(group) for group in report.duplicates],
        "left_out": list(listing.dropped),
        "seconds": round(seconds, 3),
        "ok": report.ok,
    }


def _print_verify(name: str, root, report, seconds: float) -> None:
    for path, reason in report.bad:
        out.print(f"[red]bad[/] {escape(f'{path}: {reason}')}", highlight=False)
    if report.duplicates:
        n_files = sum(len(g) for g in report.duplicates)
        warn(
            f"{n_files} files in {len(report.duplicates)} groups are byte-identical (placeholders or copies), "
            f"e.g. {', '.join(report.duplicates[0][:3])}"
        )
    out.print(
        f"{name}: {report.n_checked} images decoded in {seconds:.1f} s, {len(report.bad)} unreadable ({root})",
        markup=False,
    )


@data_app.command(context_settings=OLD_POSITIONAL)
def split(
    ctx: typer.Context,
    dataset: DatasetOpt = DatasetName.synth,
    data_root: DataRoot = None,
    seed: Seed = 0,
    force: Annotated[
        bool, typer.Option("--force", help="Rewrite a split whose dataset changed (old models become incomparable).")
    ] = False,
    n: SynthN = 2400,
    size: SynthSize = 128,
    results_dir: ResultsDir = None,
) -> None:
    """Write (or check) the dataset's split file under results/splits/."""
    from mldrnet.data import prepare_data

    dataset = _dataset(dataset, ctx, "split")
    data = prepare_data(_config(dataset, data_root, seed, n=n, size=size, resplit=force), results_root(results_dir))
    folds = f", {data.folds} folds (fold 0 shown)" if data.folds else ""
    out.print(
        f"{data.name}: {len(data.train)} train, {len(data.val)} val, {len(data.test)} test{folds}; "
        f"split {data.split_file} (hash {data.split_hash})",
        markup=False,
    )
