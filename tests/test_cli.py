"""The CLI shell: help, version, `bench models`, errors as one red line with exit code 1, and the options that
several commands share defined once (the training options of train, train-all and reproduce; choices from the
library's tables)."""

import json
import subprocess
import sys

import pytest
import typer.main
from typer.core import TyperOption
from typer.testing import CliRunner

from bench import __version__
from bench.cli import _register_commands, app
from mldrnet import models

runner = CliRunner()
_register_commands()


def test_help_and_version():
    for flag in ("-h", "--help"):
        result = runner.invoke(app, [flag])
        assert result.exit_code == 0 and "models" in result.output
    result = runner.invoke(app, ["--version"])
    assert result.exit_code == 0 and __version__ in result.output


def test_models_json_lists_every_zoo_entry():
    result = runner.invoke(app, ["models", "--size", "64", "--json"])
    assert result.exit_code == 0, result.output
    rows = {r["name"]: r for r in json.loads(result.output)}
    assert list(rows) == models.names()
    assert all(
        r["output_shape"] == [1, 8] and r["params"] > 0 and r["gflops"] > 0
        for name, r in rows.items()
        if name in models.networks()
    )
    # hand-crafted features + a classifier: no parameters, no FLOP count (numpy code), never a made-up number
    assert all(r["params"] == 0 and r["gflops"] is None for name, r in rows.items() if name not in models.networks())
    assert rows["mldrnet"]["paper_fi_accuracy"] == 67.24 and rows["mldrnet-bigru"]["paper_fi_accuracy"] == 73.03
    # FLOPs are measured at the requested size, not looked up
    big = json.loads(runner.invoke(app, ["models", "--size", "128", "--json"]).output)
    assert big[0]["gflops"] > rows["mldrnet"]["gflops"] * 3


def test_models_table():
    result = runner.invoke(app, ["models", "--size", "64"], env={"COLUMNS": "200"})
    assert result.exit_code == 0
    for name in models.names():
        assert name in result.output


def test_bad_option_value_is_a_usage_error():
    result = runner.invoke(app, ["models", "--size", "5"])
    assert result.exit_code == 2


def test_bench_error_is_one_red_line_and_exit_1():
    # through the real entry point, as a user runs it: no traceback, one line on stderr
    proc = subprocess.run([sys.executable, "-m", "bench", "train", "no-such-model"], capture_output=True, text=True)
    assert proc.returncode == 1
    assert "Traceback" not in proc.stderr
    lines = [line for line in proc.stderr.splitlines() if line.strip()]
    assert len(lines) == 1 and "unknown model 'no-such-model'" in lines[0]


def _options(command: str) -> dict[str, TyperOption]:
    group = typer.main.get_command(app)
    return {p.opts[0]: p for p in group.commands[command].params if isinstance(p, TyperOption)}


def test_train_train_all_and_reproduce_share_one_definition_per_option():
    commands = {name: _options(name) for name in ("train", "train-all", "reproduce")}
    shared = {o for opts in commands.values() for o in opts if sum(o in c for c in commands.values()) > 1}
    assert {
        "--profile",
        "--dataset",
        "--data-root",
        "--epochs",
        "--batch-size",
        "--lr",
        "--crop",
        "--tta",
        "--seed",
        "--workers",
        "--device",
        "--pretrained",
        "--fold",
        "--label-noise",
        "--noisy-extra",
        "--synth-n",
        "--synth-size",
        "--force",
        "--results-dir",
        "--no-progress",
    } <= shared
    for name in shared:
        first, *others = [c[name] for c in commands.values() if name in c]
        for other in others:
            assert other.type_descriptor.annotation == first.type_descriptor.annotation, name  # choices included
            assert (other.opts, other.min, other.max, other.help) == (first.opts, first.min, first.max, first.help)
    assert commands["reproduce"]["--crop"].min == commands["train"]["--crop"].min == 32


def test_choices_are_the_library_tables():
    """The CLI spells out the names whose tables import torch (bench -h stays light): they must be the library's."""
    from bench.cli.options import PROFILE_NAMES, TTA_MODES, TrainDevice
    from engines import formats
    from mldrnet.data.transforms import TTA_MODES as LIBRARY_TTA_MODES
    from mldrnet.training.config import PROFILES

    assert sorted(PROFILE_NAMES) == sorted(PROFILES)  # quick first in the CLI: the default
    assert TTA_MODES == tuple(LIBRARY_TTA_MODES)
    assert [d.value for d in TrainDevice] == ["auto", *formats.engine_devices("torch")] == ["auto", "cpu", "cuda"]
    train = _options("train")
    assert [c.value for c in train["--profile"].type_descriptor.annotation] == list(PROFILE_NAMES)
    assert [c.value for c in train["--tta"].type_descriptor.annotation] == list(TTA_MODES)


def test_train_all_fail_fast_is_passed_on_and_debug_is_the_root_option(monkeypatch):
    import bench.train_all

    seen = {}

    def fake_train_all(names, profile, data_cfg, root, **kwargs):
        seen.update(kwargs, profile=profile, dataset=data_cfg.dataset)
        return []

    monkeypatch.setattr(bench.train_all, "train_all", fake_train_all)
    result = runner.invoke(app, ["train-all", "--fail-fast", "--no-progress", "--tta", "five", "--device", "cpu"])
    assert result.exit_code == 0, result.output
    # the choices reach the library as plain strings, not Enum members
    assert seen["fail_fast"] is True and seen["tta"] == "five" and type(seen["tta"]) is str
    assert type(seen["device"]) is str and seen["profile"] == "quick" and type(seen["profile"]) is str
    assert type(seen["dataset"]) is str and seen["dataset"] == "synth"
    assert runner.invoke(app, ["train-all", "--debug"]).exit_code == 2  # renamed: --debug is the root's (tracebacks)


def test_train_all_fail_fast_raises_the_first_failure(tmp_path, monkeypatch):
    import bench.train_all

    def broken(cfg, *args, **kwargs):
        raise RuntimeError(f"{cfg.model} broke")

    monkeypatch.setattr(bench.train_all, "train_model", broken)
    results = bench.train_all.train_all(["mldrnet", "mldrnet-l2"], "quick", None, tmp_path)
    assert sorted(r.error for r in results) == ["RuntimeError: mldrnet broke", "RuntimeError: mldrnet-l2 broke"]
    with pytest.raises(RuntimeError, match="broke"):
        bench.train_all.train_all(["mldrnet", "mldrnet-l2"], "quick", None, tmp_path, fail_fast=True)
