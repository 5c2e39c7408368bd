"""`bench compare` and `bench check` end to end on the real data layer and torch engine: a tiny synthetic set,
a randomly initialized checkpoint (no training), short timing budgets."""

import json
import subprocess
import sys
from dataclasses import asdict

import pytest
import torch
from typer.testing import CliRunner

from mldrnet import models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data import DataConfig
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError
from mldrnet.io.layout import checkpoint_path
from tests.helpers.compare_fakes import cli_app

QUICK = ["--time-budget", "0", "--warmup-time", "0", "--warmup-iters", "1", "--iters", "2"]
runner = CliRunner()


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    torch.manual_seed(0)
    net = models.create("mldrnet-l2")
    data = DataConfig(dataset="synth", synth_n=96, synth_size=64)
    Checkpoint.of_model("mldrnet-l2", net, data_classes(), Preprocessing(crop=64), data_config=asdict(data)).save(
        checkpoint_path(root, "mldrnet-l2", "synth")
    )
    return root


def data_classes():
    return ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")


def test_compare_then_check_end_to_end(root):
    out = root / "compare" / "one"
    r = runner.invoke(
        cli_app(),
        [
            "compare",
            "--results-dir",
            str(root),
            "--engines",
            "torch-cpu",
            "--batch-sizes",
            "1,2",
            "--threads",
            "1",
            "--out",
            str(out),
            *QUICK,
        ],
    )
    assert r.exit_code == 0, r.output
    data = json.loads((out / "records.json").read_text())
    rows = data["records"]
    assert [(x["model"], x["variant"], x["batch_size"], x["status"]) for x in rows] == [
        ("mldrnet-l2", "torch-cpu", 1, "ok"),
        ("mldrnet-l2", "torch-cpu", 2, "ok"),
    ]
    row = rows[0]
    assert row["test_images"] == 16 and row["unreadable"] == 0  # 15% of 96 synthetic images, from the split file
    assert row["agreement_pct"] == 100.0 and row["max_logit_diff"] == 0.0  # the reference itself
    assert row["threads"] == 1 and row["lat_count"] >= 2 and row["throughput_ips"] > 0
    assert data["environment"]["split_hashes"] == [row["split_hash"]] and data["calibration"]["cpu"]["median_ms"] > 0
    assert {p.name for p in out.iterdir()} >= {
        "records.json",
        "records.csv",
        "accuracy_vs_latency.png",
        "confusion_mldrnet-l2.png",
        "per_class_tpr.png",
    }
    assert "mldrnet-l2" in r.output and "2/2 rows ok" in r.output

    baseline = root / "baselines" / "b.json"
    r = runner.invoke(cli_app(), ["check", str(out), "--baseline", str(baseline), "--update", "--tolerance", "3"])
    assert r.exit_code == 0 and baseline.is_file(), r.output
    r = runner.invoke(cli_app(), ["check", "latest", "--results-dir", str(root), "--baseline", str(baseline)])
    assert r.exit_code == 0 and "passed: 2 rows checked" in r.output, r.output


def test_a_failing_engine_is_an_error_row_not_a_crash(root):
    # TensorRT cannot run here (no GPU): its rows say so, the torch rows still run
    out = root / "compare" / "two"
    r = runner.invoke(
        cli_app(),
        [
            "compare",
            "--results-dir",
            str(root),
            "--engines",
            "torch-cpu,tensorrt",
            "--batch-sizes",
            "1",
            "--threads",
            "1",
            "--out",
            str(out),
            "--no-plots",
            *QUICK,
        ],
    )
    assert r.exit_code == 0, r.output
    rows = json.loads((out / "records.json").read_text())["records"]
    status = {(x["variant"], x["precision"]): (x["status"], x["error"]) for x in rows}
    assert status[("torch-cpu", "fp32")] == ("ok", None)
    if not torch.cuda.is_available():
        assert status[("trt", "fp32")][0] == "error" and "TensorRT cannot run here" in status[("trt", "fp32")][1]
    assert not list(out.glob("*.png"))


def test_user_errors_are_one_line_and_exit_1(tmp_path):
    def bench(*args):
        return subprocess.run([sys.executable, "-m", "bench", *args], capture_output=True, text=True, timeout=120)

    r = bench("compare", "--results-dir", str(tmp_path))
    assert r.returncode == 1 and "bench train-all" in r.stderr and "Traceback" not in r.stderr
    (tmp_path / "run").mkdir()
    (tmp_path / "run" / "records.json").write_text(json.dumps({"format": "bench-compare/1", "records": []}))
    r = bench("check", str(tmp_path / "run"), "--baseline", str(tmp_path / "missing.json"))
    assert r.returncode == 1 and "does not exist" in r.stderr and "Traceback" not in r.stderr


def test_more_timed_calls_than_a_row_may_take_is_a_bench_error(tmp_path):
    r = CliRunner().invoke(cli_app(), ["compare", "--results-dir", str(tmp_path), "--iters", "20000"])
    assert isinstance(r.exception, BenchError) and "--iters 20000" in str(r.exception), r.output
