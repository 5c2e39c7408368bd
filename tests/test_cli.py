"""The CLI shell: help, version, `bench models`, and errors as one red line with exit code 1."""

import json
import subprocess
import sys

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
    assert all(r["output_shape"] == [1, 8] and r["params"] > 0 and r["gflops"] > 0
               for name, r in rows.items() if name in models.networks())
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
