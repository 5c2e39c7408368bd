"""`bench tune MODEL`: training settings chosen on val with Optuna, on the same budget for every model
(mldrnet.training.tune). Optuna and torch are imported inside the command: `bench -h` stays fast."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bench.cli.console import info, interrupted, print_table
from bench.cli.options import (
    DEFAULT_DATASET,
    DataRoot,
    DatasetName,
    Profile,
    ProfileName,
    ResultsDir,
    SynthN,
    SynthSize,
    TrainDataset,
    plain,
)
from mldrnet.errors import BenchError
from mldrnet.io.layout import results_root

Trials = Annotated[
    int, typer.Option("--trials", min=1, max=10_000, help="Trials in total, over every process sharing the study.")
]
BudgetS = Annotated[
    float,
    typer.Option("--budget-s", min=1.0, max=86_400.0, help="Cap on training seconds per trial (the same for all)."),
]
Storage = Annotated[
    str | None,
    typer.Option(
        "--storage",
        help="Share the study between processes or machines: a journal file (PATH or journal:PATH) or an RDB URL "
        "(sqlite:///tune.db). Default: a journal in the study's folder, so the same command resumes it.",
    ),
]
Study = Annotated[str | None, typer.Option("--study", help="Study name (default: tune-MODEL-DATASET).")]
TuneSeed = Annotated[int, typer.Option("--seed", min=0, max=2**31 - 1, help="The TPE sampler's seed.")]
AsJson = Annotated[bool, typer.Option("--json", help="Print search.json instead of the table.")]
ProfileOut = Annotated[
    Path | None,
    typer.Option(
        "--profile-out",
        help="Write the chosen values and the search log into this profile file as the model's entry (the quick "
        "profile is mldrnet/training/profiles/quick.json).",
        dir_okay=False,
    ),
]


def tune(
    model: Annotated[str, typer.Argument(help="A network of the zoo (see `bench models`).")],
    trials: Trials = 20,
    budget_s: BudgetS = 120.0,
    storage: Storage = None,
    study: Study = None,
    seed: TuneSeed = 0,
    profile: Profile = ProfileName.quick,
    dataset: TrainDataset = DatasetName(DEFAULT_DATASET),
    data_root: DataRoot = None,
    synth_n: SynthN = None,
    synth_size: SynthSize = None,
    results_dir: ResultsDir = None,
    as_json: AsJson = False,
    profile_out: ProfileOut = None,
) -> None:
    """Choose lr, epochs, batch size and crop on val (seeded TPE, median pruning); the test split is never read."""
    from bench.cli.tables import tune_table
    from mldrnet import models
    from mldrnet.data import DataConfig
    from mldrnet.io.layout import tune_dir
    from mldrnet.training.tune import TuneConfig, run_study, search_log, write_log

    name = models.info(model).name
    sizes = {k: v for k, v in {"synth_n": synth_n, "synth_size": synth_size}.items() if v is not None}
    data = DataConfig(dataset=plain(dataset), data_root=str(data_root) if data_root else None, **sizes)
    cfg = TuneConfig(name, trials, budget_s, seed, plain(profile), study, storage)
    root = results_root(results_dir)
    folder = tune_dir(root, study or f"tune-{name}-{data.dataset}")
    info(f"tuning {name} on val: {trials} trials, {budget_s:g} s of training each, study in {folder}")
    try:
        result = run_study(cfg, data, root, folder)
    except KeyboardInterrupt:
        interrupted(f"interrupted: the finished trials are in {folder}; the same command goes on from them")
    log = search_log(cfg, data, result)
    path = write_log(log, folder)
    if as_json:
        print(json.dumps(log, indent=2, default=str))
    else:
        print_table(tune_table(log))
        info(f"search log: {path}")
    best = log["best"]
    if profile_out is not None:
        from mldrnet.training.tuned import record

        entry = record(profile_out, log)
        info(f"{name} in {profile_out}: {entry['tuned']}, {entry['values']}")
    if best is None and profile_out is None and not as_json:  # --json: the log says "best": null
        raise BenchError(f"no trial of {name} finished inside {budget_s:g} s: see {path}")
    if best is not None and not as_json:
        flags = " ".join(f"--{k.replace('_', '-')} {v:g}" for k, v in best["params"].items())
        info(
            f"best val top-1 {100 * best['val_top1']:.2f} % (trial {best['number']}); train with: bench train "
            f"{name} {flags}"
        )


def register(app) -> None:
    app.command("tune")(tune)
