"""`bench tune`: settings chosen on val with Optuna, the same space and budget for every model, the test split
never read, the search written down, and one study shared by several processes through a journal file."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import optuna
import pytest

from mldrnet.data import DataConfig
from mldrnet.errors import BenchError
from mldrnet.training import loop
from mldrnet.training.tune import SPACE, TuneConfig, run_study, search_log, storage_of, suggest, write_log

ROOT = Path(__file__).resolve().parents[1]
TINY = DataConfig(dataset="synth", synth_n=96, synth_size=40)


def test_suggestions_stay_in_the_stated_space():
    study = optuna.create_study(sampler=optuna.samplers.RandomSampler(seed=0))
    for _ in range(20):
        values = suggest(study.ask(), "mldrnet")
        assert SPACE.lr[0] <= values["lr"] <= SPACE.lr[1]
        assert SPACE.epochs[0] <= values["epochs"] <= SPACE.epochs[1]
        assert values["batch_size"] in SPACE.batch_size and values["crop"] in SPACE.crop
    assert SPACE.crops("alexnet") == [64, 96]  # the same space, less what is below AlexNet's smallest input (63)


def test_a_study_reads_val_only_and_writes_its_search_log(tmp_path, monkeypatch):
    def no_test_pass(*args, **kwargs):
        raise AssertionError("the test split was read while tuning")

    monkeypatch.setattr(loop, "finish_and_test", no_test_pass)
    monkeypatch.setattr("mldrnet.training.tune.SPACE", SPACE.__class__(epochs=(1, 2), batch_size=(32,), crop=(32,)))
    cfg = TuneConfig("mldrnet-l2", trials=2, budget_s=60, seed=3)
    study = run_study(cfg, TINY, tmp_path, tmp_path / "tune" / "s")
    log = search_log(cfg, TINY, study)
    assert [t["state"] for t in log["trials"]] == ["COMPLETE", "COMPLETE"]
    assert all(0.0 <= t["val_top1"] <= 1.0 and t["stopped_by"] == "epochs" for t in log["trials"])
    assert log["best"]["val_top1"] == max(t["val_top1"] for t in log["trials"])
    path = write_log(log, tmp_path / "tune" / "s")
    saved = json.loads(path.read_text())
    assert saved["budget"] == {"trials": 2, "seconds_per_trial": 60, "sampler": "TPE seed 3, random for the first 1"}
    assert saved["space"]["lr"] == list(SPACE.lr) and "test split is never read" in saved["objective"]
    assert (path.parent / "trials.csv").read_text().splitlines()[0].startswith("number,state,val_top1")
    assert not list((tmp_path / "tune" / "s" / "trials").glob("*"))  # the trials' weights are not kept
    again = run_study(cfg, TINY, tmp_path, tmp_path / "tune" / "s")  # the journal: the same command resumes
    assert len(again.trials) == 2


def test_a_trial_over_the_budget_is_pruned_and_never_chosen(tmp_path, monkeypatch):
    monkeypatch.setattr("mldrnet.training.tune.SPACE", SPACE.__class__(epochs=(1, 1), batch_size=(32,), crop=(32,)))
    cfg = TuneConfig("mldrnet-l2", trials=2, budget_s=1e-3)  # no epoch fits a millisecond, the last one included
    log = search_log(cfg, TINY, run_study(cfg, TINY, tmp_path, tmp_path / "t"))
    assert [(t["state"], t["stopped_by"]) for t in log["trials"]] == [("PRUNED", "budget")] * 2
    # cut in the middle of the first epoch (its first batch): no val score, nothing to choose
    assert log["best"] is None and all(t["val_seen"] is None and t["epochs_done"] == 0 for t in log["trials"])


def test_a_failed_trial_counts_towards_the_trials(tmp_path, monkeypatch):
    """A diverged learning rate is one of the study's trials: the study stops at its total, and a rerun of the same
    command runs no more."""
    calls = []

    def diverges(*args, **kwargs):
        calls.append(1)
        raise BenchError("mldrnet-l2 diverged in epoch 1")

    monkeypatch.setattr("mldrnet.training.tune.train_model", diverges)
    cfg = TuneConfig("mldrnet-l2", trials=2, budget_s=60)
    study = run_study(cfg, TINY, tmp_path, tmp_path / "t")
    assert [t.state.name for t in study.trials] == ["FAIL", "FAIL"] and len(calls) == 2
    run_study(cfg, TINY, tmp_path, tmp_path / "t")
    assert len(calls) == 2
    assert search_log(cfg, TINY, study)["trials"][0]["error"] == "mldrnet-l2 diverged in epoch 1"


def test_a_set_without_val_images_is_one_error_not_failed_trials(tmp_path):
    with pytest.raises(BenchError, match="no val images"):
        run_study(TuneConfig("mldrnet-l2", trials=2), DataConfig(synth_n=16, synth_size=40), tmp_path, tmp_path / "t")


def test_models_fitted_after_their_epochs_and_bad_budgets_are_refused(tmp_path):
    with pytest.raises(BenchError, match="finish hook"):
        run_study(TuneConfig("alexnet-svm"), TINY, tmp_path, tmp_path / "t")
    with pytest.raises(BenchError, match="must be positive"):
        run_study(TuneConfig("mldrnet-l2", trials=0), TINY, tmp_path, tmp_path / "t")


def test_storage_urls(tmp_path):
    assert storage_of("sqlite:///x.db", tmp_path) == "sqlite:///x.db"
    journal = storage_of(f"journal:{tmp_path / 'j.log'}", tmp_path)
    assert isinstance(journal, optuna.storages.JournalStorage)
    assert isinstance(storage_of(None, tmp_path / "study"), optuna.storages.JournalStorage)
    assert (tmp_path / "study").is_dir()


def test_two_processes_share_one_study_through_a_journal_file(tmp_path):
    journal = tmp_path / "shared.log"
    command = [
        sys.executable,
        "-m",
        "bench",
        "tune",
        "mldrnet-l2",
        "--trials",
        "2",
        "--budget-s",
        "1",
        "--storage",
        str(journal),
        "--study",
        "shared",
        "--synth-n",
        "96",
        "--synth-size",
        "40",
        "--results-dir",
        str(tmp_path / "results"),
        "--json",
    ]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    workers = [
        subprocess.Popen(command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        for _ in range(2)
    ]
    outputs = [w.communicate(timeout=600) for w in workers]
    assert [w.returncode for w in workers] == [0, 0], [err for _, err in outputs]
    study = optuna.load_study(study_name="shared", storage=storage_of(str(journal), tmp_path))
    finished = [t for t in study.trials if t.state.is_finished()]
    assert 2 <= len(finished) <= 3  # the total is 2: a trial already running in the other process may still end
    assert all(
        t.user_attrs["stopped_by"] == "budget" or t.user_attrs["epochs_done"] == t.params["epochs"] for t in finished
    )
    assert json.loads(outputs[0][0])["study"] == "shared"


def test_profile_out_writes_the_chosen_values_and_the_search_log(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from bench.cli import _register_commands, app
    from mldrnet.training import tuned

    _register_commands()
    monkeypatch.setattr("mldrnet.training.tune.SPACE", SPACE.__class__(epochs=(1, 2), batch_size=(32,), crop=(32,)))
    out = tmp_path / "quick.json"
    args = ["tune", "mldrnet-l2", "--trials", "2", "--budget-s", "60", "--synth-n", "96", "--synth-size", "40"]
    result = CliRunner().invoke(app, [*args, "--results-dir", str(tmp_path / "r"), "--profile-out", str(out)])
    assert result.exit_code == 0, result.output
    entry = json.loads(out.read_text())["models"]["mldrnet-l2"]
    best = entry["search"]["best"]
    assert entry["values"] == {k: best["params"][k] for k in tuned.KEYS}
    assert entry["tuned"] == "tuned: 2 trials on synth's val, 60 s each" and entry["val_top1"] == best["val_top1"]


def test_the_study_table_fits_80_columns_and_says_how_each_trial_ended():
    from rich.console import Console

    from bench.cli.tables import tune_table

    def trial(number, state, stopped_by, val, seen):
        params = {"lr": 0.0123456, "epochs": 12, "batch_size": 64, "crop": 96}
        return dict(number=number, state=state, stopped_by=stopped_by, val_top1=val, val_seen=seen, params=params,
                    epochs_done=7, seconds=64.3)  # fmt: skip

    trials = [trial(0, "COMPLETE", "epochs", 0.95, 0.95), trial(1, "PRUNED", "budget", None, 0.9667)]
    trials.append(trial(2, "PRUNED", "pruned", None, 0.3))
    log = {"model": "resnet101", "budget": {"seconds_per_trial": 60.0}, "trials": trials, "best": trials[0]}
    console = Console(width=80, record=True)
    console.print(tune_table(log))
    text = console.export_text()
    assert "…" not in text and max(map(len, text.splitlines())) <= 80
    rows = [line for line in text.splitlines() if line.startswith("│")]
    assert "95.00 *" in rows[0] and "96.67" in rows[1] and "budget" in rows[1] and "pruned" in rows[2]
