"""`bench compare --scenarios`: compare's rows driven through MLPerf LoadGen (bench.mlperf.compare_scenarios), on
the session's small trained model with runs of a fraction of a second (their verdicts may be INVALID: the tests
check what is recorded and where, not the verdict)."""

from __future__ import annotations

from pathlib import Path

import pytest

pytest.importorskip("mlperf_loadgen")
pytest.importorskip("onnxruntime")

from bench.mlperf import logs  # noqa: E402
from bench.mlperf.compare_scenarios import (  # noqa: E402
    MLPERF_SUBDIR,
    parse_scenarios,
    run_loadgen_scenarios,
    scenario_figures,
)
from bench.mlperf.settings import MlperfConfig  # noqa: E402
from mldrnet.errors import BenchError  # noqa: E402

MODEL = "mldrnet-l2"


def test_scenario_names_are_checked_and_put_in_loadgens_order():
    assert parse_scenarios("offline,single-stream") == ("single-stream", "offline")
    assert parse_scenarios("all") == ("single-stream", "multi-stream", "server", "offline")
    with pytest.raises(BenchError, match="--scenarios 'offlin'"):
        parse_scenarios("offlin")
    with pytest.raises(BenchError):
        parse_scenarios(" , ")


def test_every_compare_row_that_ran_gets_loadgens_figures(trained, tmp_path):
    from bench.compare import CompareConfig, run_compare
    from bench.timing import TimingConfig

    root, _, _ = trained
    quick = TimingConfig(warmup_iters=1, warmup_s=0.0, min_iters=3, budget_s=0.0)
    run = run_compare(
        CompareConfig(
            models=(MODEL,),
            engines=("torch-cpu", "ort-cpu"),
            batch_sizes=(1,),
            threads=1,
            peak_budget_s=0.05,
            timing=quick,
            calibration=quick,
        ),
        root,
    )
    assert all(r.ok for r in run.records)
    base = MlperfConfig(duration_s=0.3, min_queries=16, threads=2)
    records = run_loadgen_scenarios(run, tmp_path, root, ("single-stream", "offline"), base)
    assert [(r.variant, r.scenario) for r in records] == [
        ("torch-cpu", "single-stream"),
        ("torch-cpu", "offline"),
        ("ort-cpu", "single-stream"),
        ("ort-cpu", "offline"),
    ]
    for r in records:
        assert r.ok, r.error
        assert r.threads == 1  # the compare run's threads, not base's
        assert r.input_size == run.records[0].timing_size
        folder = Path(r.log_dir)
        assert (folder / logs.SUMMARY).is_file()
        assert folder.is_relative_to(tmp_path / MLPERF_SUBDIR / f"{MODEL}-fp32")
    figures = scenario_figures(records)
    assert [(f["model"], f["variant"], f["precision"]) for f in figures] == [
        (MODEL, "torch-cpu", "fp32"),
        (MODEL, "ort-cpu", "fp32"),
    ]
    for f, (single, offline) in zip(figures, (records[:2], records[2:])):
        assert f["single-stream"]["figure"] == single.p90_ms and f["single-stream"]["count"] == single.latency_count
        assert f["offline"]["figure"] == offline.samples_per_s
        assert f["offline"]["validity"] in ("VALID", "INVALID") and f["error"] is None
