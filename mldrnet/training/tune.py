"""Training settings chosen on val with Optuna, on the same budget for every model (`bench tune MODEL`).

The protocol (../shared/notes/fair-comparison.md): every network gets the same search space (`SPACE`), the same
number of trials and the same cap on training seconds per trial; the objective is the best val top-1 the trial
reached; the test split is never read while tuning. A trial ends (`_TrialObserver`) after its last epoch; it is
pruned after the epoch that passes the seconds cap (values that cannot be trained inside the budget are never
chosen: the profile must be what `bench train` then runs, whole), or when the median pruner says it cannot catch
up — always before the training loop's test pass, which is why the loop needs no tuning mode. The sampler is TPE
with a fixed seed. The chosen values go into a profile file with `--profile-out` (mldrnet.training.tuned): the
quick profile is such a file.

Trials train in their own results folder under the study's folder (removed afterwards: only the numbers are
kept) on the dataset's own files, so the synthetic set is generated once. Studies live in an Optuna storage: by
default a journal file in the study's folder, so a rerun of the same command resumes it; `--storage` shares one
study between processes or machines (a journal file on a shared disk, or an RDB URL such as sqlite:///x.db), and
the trial budget is a total over all of them (`MaxTrialsCallback`).

What is written (`write_log`): search.json (space, budget, machine, every trial's values, state and seconds, the
best values) and trials.csv (one row per trial).
"""

from __future__ import annotations

import csv
import io
import json
import math
import os
import platform
import shutil
import time
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import Any

import optuna

from mldrnet import models
from mldrnet.data.prepare import DataConfig, dataset_root, prepare_data
from mldrnet.errors import BenchError
from mldrnet.io.atomic import atomic_write_text
from mldrnet.training.config import resolve
from mldrnet.training.hooks import hooks_for
from mldrnet.training.loop import TrainObserver, train_model

FORMAT = "bench-tune/1"


@dataclass(frozen=True)
class Space:
    """The search space every network gets: the same ranges for all, so no model is favoured by its own. Only
    settings `bench train` takes, so the chosen ones can be given to it as they are."""

    lr: tuple[float, float] = (1e-3, 0.1)  # log-uniform: from the paper's 0.001 up
    epochs: tuple[int, int] = (1, 12)  # the cosine schedule is laid over this many epochs
    batch_size: tuple[int, ...] = (32, 64)
    crop: tuple[int, ...] = (32, 64, 96)  # px, less those below the model's smallest input (AlexNet's: 63)

    def crops(self, model: str) -> list[int]:
        smallest = models.info(model).min_crop
        return [c for c in self.crop if c >= smallest]


SPACE = Space()


@dataclass(frozen=True)
class TuneConfig:
    model: str
    trials: int = 20  # in total, over every process sharing the study
    budget_s: float = 120.0  # seconds per trial, val passes included (pruned after the epoch that passes it)
    seed: int = 0  # TPE's seed; the training seed of every trial is the profile's
    profile: str = "quick"  # what the untuned settings (crop, momentum...) come from
    study: str | None = None  # default: tune-<model>-<dataset>
    storage: str | None = None  # default: a journal file in the study's folder


class _TrialDone(Exception):
    """Raised by the observer to end a trial before the loop's test pass."""


class _TrialObserver(TrainObserver):
    def __init__(self, trial: optuna.Trial, epochs: int, budget_s: float):
        self.trial, self.epochs, self.budget_s = trial, epochs, budget_s
        self.best, self.started, self.done = float("nan"), time.perf_counter(), 0
        self.stopped_by = "epochs"

    def batch(self, loss: float, images_per_s: float) -> None:
        """Over the budget in the middle of an epoch: pruned now, not after the epoch (one epoch of VGG-19 at
        96 px on 2 cores takes minutes, and its end would change nothing: the trial cannot be chosen)."""
        if time.perf_counter() - self.started > self.budget_s:
            self.stopped_by = "budget"
            raise optuna.TrialPruned(f"over the budget of {self.budget_s:g} s in epoch {self.done + 1}")

    def end_epoch(self, metrics: dict) -> None:
        val = float(metrics["val_acc"])
        self.best = val if not self.best >= val else self.best  # NaN-safe max
        self.done = int(metrics["epoch"])
        self.trial.report(val, self.done)
        if self.trial.should_prune():
            self.stopped_by = "pruned"
            raise optuna.TrialPruned()
        # the whole trial, its last epoch included, must fit: else a 1-epoch trial of any size would count
        if time.perf_counter() - self.started > self.budget_s:
            self.stopped_by = "budget"
            raise optuna.TrialPruned(f"over the budget of {self.budget_s:g} s after epoch {self.done}")
        if self.done >= self.epochs:
            raise _TrialDone()


def suggest(trial: optuna.Trial, model: str, space: Space | None = None) -> dict[str, Any]:
    space = space or SPACE
    return {
        "lr": trial.suggest_float("lr", *space.lr, log=True),
        "epochs": trial.suggest_int("epochs", *space.epochs),
        "batch_size": trial.suggest_categorical("batch_size", list(space.batch_size)),
        "crop": trial.suggest_categorical("crop", space.crops(model)),
    }


def objective(tune: TuneConfig, data: DataConfig, work: Path):
    """Optuna's objective: one short training with the trial's values; its best val top-1 (never test)."""

    def run(trial: optuna.Trial) -> float:
        values = suggest(trial, tune.model)
        cfg = resolve(tune.model, tune.profile, **values)
        observer = _TrialObserver(trial, cfg.epochs, tune.budget_s)
        root = work / f"trial-{trial.number}-{os.getpid()}"
        trial.set_user_attr("pid", os.getpid())
        try:
            train_model(cfg, data, root, force=True, observer=observer)
        except _TrialDone:
            pass
        except BenchError as e:  # e.g. a learning rate that diverged: a failed trial, said why, the study goes on
            trial.set_user_attr("error", str(e))
            raise
        finally:
            trial.set_user_attr("epochs_done", observer.done)
            trial.set_user_attr("stopped_by", observer.stopped_by)
            trial.set_user_attr("seconds", round(time.perf_counter() - observer.started, 2))
            shutil.rmtree(root, ignore_errors=True)  # the numbers are the trial's result, not its weights
        if math.isnan(observer.best):  # no epoch finished
            raise BenchError(f"trial {trial.number} of {tune.model} finished no epoch")
        return observer.best

    return run


def startup_trials(trials: int) -> int:
    """TPE's random trials before it models the scores: Optuna's 10, or half of a shorter study (with 10 of 8
    trials TPE would never act, and the search would be a random one)."""
    return max(1, min(10, trials // 2))


def storage_of(url: str | None, folder: Path) -> optuna.storages.BaseStorage | str:
    """A journal file (a path, or journal:PATH) or an RDB URL; None: journal.log in the study's folder."""
    from optuna.storages import JournalStorage
    from optuna.storages.journal import JournalFileBackend

    if url and "://" in url and not url.startswith("journal:"):
        return url  # sqlite:///x.db, postgresql://...: Optuna's RDB storage
    path = Path(url.removeprefix("journal:")) if url else folder / "journal.log"
    path.parent.mkdir(parents=True, exist_ok=True)
    return JournalStorage(JournalFileBackend(str(path)))


def run_study(tune: TuneConfig, data: DataConfig, results_root: Path, folder: Path) -> optuna.Study:
    """Run trials until the study holds `tune.trials` finished ones (from this process or any other)."""
    if tune.trials < 1 or tune.budget_s <= 0:
        raise BenchError(f"--trials {tune.trials} / --budget-s {tune.budget_s}: both must be positive")
    if hooks_for(tune.model).finish is not None:
        raise BenchError(f"{tune.model} is fitted after its epochs (its finish hook): tune the network it builds on")
    root, _ = dataset_root(data, results_root)  # generate the synthetic set once, every trial reads it
    data = replace(data, data_root=str(root))
    prepared = prepare_data(data, results_root)  # a dataset problem is one error now, not a failed trial each
    if not prepared.val:
        raise BenchError(f"{prepared.name} has no val images to tune on: use a larger set (e.g. --synth-n 96)")
    optuna.logging.set_verbosity(optuna.logging.WARNING)
    study = optuna.create_study(
        study_name=tune.study or folder.name,
        storage=storage_of(tune.storage, folder),
        direction="maximize",
        sampler=optuna.samplers.TPESampler(seed=tune.seed, n_startup_trials=startup_trials(tune.trials)),
        pruner=optuna.pruners.MedianPruner(n_startup_trials=3, n_warmup_steps=1),
        load_if_exists=True,
    )
    # a trial that failed (a learning rate that diverged) is one of the budget's trials too
    states = (optuna.trial.TrialState.COMPLETE, optuna.trial.TrialState.PRUNED, optuna.trial.TrialState.FAIL)
    done = len(study.get_trials(deepcopy=False, states=states))
    if done < tune.trials:
        study.optimize(
            objective(tune, data, folder / "trials"),
            n_trials=tune.trials - done,
            callbacks=[optuna.study.MaxTrialsCallback(tune.trials, states=states)],
            catch=(BenchError,),
        )
    return study


def search_log(tune: TuneConfig, data: DataConfig, study: optuna.Study) -> dict:
    """What search.json holds: enough to see how the settings were chosen without rerunning anything."""
    trials: list[dict[str, Any]] = [
        {
            "number": t.number,
            "state": t.state.name,
            "val_top1": t.value if t.state == optuna.trial.TrialState.COMPLETE else None,  # Optuna's: the last
            "params": t.params,
            # a pruned trial's best val so far: shown, never chosen (it was cut off, or could not fit the budget)
            "val_seen": max(t.intermediate_values.values(), default=None),
            **{k: t.user_attrs.get(k) for k in ("epochs_done", "stopped_by", "seconds", "error")},
        }
        for t in study.get_trials(deepcopy=False)
    ]
    complete = [t for t in trials if t["state"] == "COMPLETE"]
    best = max(complete, key=lambda t: float(t["val_top1"])) if complete else None
    return {
        "format": FORMAT,
        "model": tune.model,
        "study": study.study_name,
        "objective": "best val top-1 of the trial (the test split is never read)",
        "space": {**asdict(SPACE), "crop": SPACE.crops(tune.model)},
        "budget": {
            "trials": tune.trials,
            "seconds_per_trial": tune.budget_s,
            "sampler": f"TPE seed {tune.seed}, random for the first {startup_trials(tune.trials)}",
        },
        "data": asdict(data),
        "machine": {"cpu": cpu_model(), "cpus": os.cpu_count(), "torch_threads": torch_threads()},
        "trials": trials,
        "best": best,
    }


def cpu_model() -> str:
    """The reference machine the seconds were measured on: /proc/cpuinfo's model name where there is one."""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def torch_threads() -> int:
    import torch

    return torch.get_num_threads()


def write_log(log: dict, folder: Path) -> Path:
    """search.json and trials.csv (one row per trial: number, state, val top-1, the values tried, how it ended)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = sorted({k for t in log["trials"] for k in t["params"]})
    columns = ["number", "state", "val_top1", "val_seen", *names, "epochs_done", "stopped_by", "seconds"]
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(columns)
    for t in log["trials"]:
        writer.writerow([{**t, **t["params"]}.get(c) for c in columns])
    atomic_write_text(folder / "trials.csv", buffer.getvalue())
    path = folder / "search.json"
    atomic_write_text(path, json.dumps(log, indent=2, default=str))
    return path
