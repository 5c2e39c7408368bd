"""--json on train, train-all and reproduce (issue 21, item 3): one JSON document on stdout, which parses, and
nothing else there; tables, progress and messages on stderr."""

from __future__ import annotations

import json
import math

import pytest
from typer.testing import CliRunner

from tests.helpers.compare_fakes import cli_app

runner = CliRunner()
TINY = ["--synth-n", "96", "--synth-size", "48", "--crop", "40", "--epochs", "1", "--batch-size", "32"]


def _invoke(args):
    return runner.invoke(cli_app(), [str(a) for a in args])


def test_train_json_is_the_only_thing_on_stdout(tmp_path):
    """A real tiny training: progress, the table and the run-key line must all stay off stdout."""
    r = _invoke(["train", "mldrnet-l2", "--json", *TINY, "--results-dir", tmp_path])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["command"] == "train" and doc["ok"] is True
    (run,) = doc["runs"]
    assert run["model"] == "mldrnet-l2" and run["run_key"] == "synth" and run["ok"] is True
    assert 0.0 <= run["test_acc"] <= 1.0 and run["test_images"] > 0 and "from scratch" in run["how_trained"]
    assert "run key synth" in r.stderr  # the human-readable lines went to stderr


def test_train_all_json_holds_every_run_and_failures_as_null(tmp_path, monkeypatch):
    """A failed model (NaN accuracies) is strict JSON (null), the document still prints, and the exit is 1."""
    import bench.train_all
    from mldrnet.training.loop import TrainResult

    def fake_train_model(cfg, data_cfg, root, **kwargs):
        if cfg.model == "alexnet":
            return TrainResult("alexnet", error="out of memory")
        run_dir = root / "runs" / "synth" / cfg.model
        return TrainResult(cfg.model, str(run_dir), 1, 1, 0.5, 0.25, 1.0, how_trained="quick, 1 ep", test_images=8)

    monkeypatch.setattr(bench.train_all, "train_model", fake_train_model)
    r = _invoke(["train-all", "-m", "mldrnet", "-m", "alexnet", "--json", "--results-dir", tmp_path])
    assert r.exit_code == 1, r.output
    doc = json.loads(r.stdout)  # strict JSON: Python's parser would take NaN, so check there is none
    assert "NaN" not in r.stdout and doc["command"] == "train-all" and doc["ok"] is False
    runs = {run["model"]: run for run in doc["runs"]}
    assert runs["mldrnet"]["test_acc"] == 0.25 and runs["mldrnet"]["run_key"] == "synth"
    assert runs["alexnet"]["ok"] is False and runs["alexnet"]["error"] == "out of memory"
    assert runs["alexnet"]["test_acc"] is None and runs["alexnet"]["run_key"] is None
    assert "mldrnet" in r.stderr  # the table went to stderr


@pytest.mark.parametrize("fails", [False, True])
def test_reproduce_json_is_the_report_with_its_failures(fails, tmp_path, monkeypatch):
    from bench.reproduce import run as reproduce_run
    from bench.reproduce.results import Cell, ExperimentResult, Row, Run

    def experiment(ctx):
        res = ExperimentResult("table1", "fake", "synth", "quick", "top-1", ["top-1"])
        second = Run(None, 1, error="disk full") if fails else Run(52.0, 1)
        res.rows.append(Row("MldrNet", "mldrnet", {"top-1": 67.24}, {"top-1": Cell((Run(50.0, 0), second))}))
        return res

    monkeypatch.setitem(reproduce_run.EXPERIMENTS, "table1", experiment)
    out = tmp_path / "report"
    r = _invoke(["reproduce", "table1", "--json", "--out", out, "--results-dir", tmp_path / "res"])
    assert r.exit_code == (1 if fails else 0), r.output
    doc = json.loads(r.stdout)
    assert doc["command"] == "reproduce" and doc["ok"] is (not fails) and doc["report"] == str(out / "report.md")
    (experiment_doc,) = doc["experiments"]
    cell = experiment_doc["rows"][0]["ours"]["top-1"]
    assert experiment_doc["name"] == "table1" and cell["runs"][0]["value"] == 50.0
    assert math.isclose(cell["mean"], 50.0 if fails else 51.0)
    assert bool(doc["failures"]) is fails and (not fails or "disk full" in doc["failures"][0])
    assert "MldrNet" in r.stderr  # the table went to stderr
