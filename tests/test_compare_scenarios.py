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


def _figures_run(tmp_path):
    """A saved compare run of the standard set whose folder holds LoadGen records for each row (fixed numbers)."""
    from bench.mlperf.record import MlperfRecord, write_records
    from tests.test_tables_width import ENGINES, MODELS, standard_run

    run = standard_run()
    for model in MODELS:
        records = []
        for variant, engine, precision in ENGINES:
            for scenario, figure in (
                ("single-stream", 1.25),
                ("multi-stream", 9.5),
                ("server", 612.5),
                ("offline", 1534.0),
            ):
                records.append(
                    MlperfRecord(
                        model, variant, engine, "cpu", precision, scenario,
                        figure=figure, p90_ms=figure, p99_ms=figure, latency_count=1024, target_latency_ms=100.0,
                        validity="INVALID" if scenario == "server" and variant == "ov-cpu" else "VALID",
                        invalid_reasons=["Performance constraints not satisfied"] if variant == "ov-cpu" else [],
                    )
                )  # fmt: skip
        write_records(records, tmp_path / MLPERF_SUBDIR / f"{model}-x", {}, {})
    return run


@pytest.mark.parametrize("width", [80, 100])
def test_loadgens_table_replaces_our_timers_and_fits(tmp_path, width):
    import io

    from rich.console import Console

    from bench.cli.compare import compare_tables

    run = _figures_run(tmp_path)
    (ours,) = compare_tables(run, folder=tmp_path)[1:]
    assert "by LoadGen" in str(ours.title)
    assert compare_tables(run, folder=tmp_path / "elsewhere")[1].title.startswith("MLPerf scenarios by our timer")
    console = Console(file=io.StringIO(), width=width, force_terminal=False, color_system=None)
    console.print(ours)
    text = console.file.getvalue()
    models = ("mldrnet ", "alexnet ", "alexnet-svm ", "vgg19 ", "resnet101 ")
    lines = [line for line in text.splitlines() if line.startswith(models)]  # off a terminal: a name on every row
    assert len(lines) == 30 and "…" not in text  # every row, a line each, nothing cut
    assert all(len(line) <= width for line in text.splitlines())
    ov = [line for line in lines if " ov-cpu " in line]
    assert ov and all("612.5 ✗" in line for line in ov)  # the INVALID server figure is marked, never best
    assert all("612.5*" in line for line in lines if " ov-cpu " not in line)


def test_end_to_end_rows_are_left_out_and_a_failing_model_is_its_rows_errors(tmp_path):
    from bench.records import CompareRun, Record

    def row(model, variant, timed="model"):
        return Record(model, variant, "onnxruntime", "cpu", "fp32", 1, lat_p50_ms=1.0, timed=timed)

    records = (
        row("no-such-model", "ort-cpu"),
        row("no-such-model", "ort-cpu-e2e", timed="end to end"),  # LoadGen times the model rows, not these
        row("net.onnx", "ort-cpu"),  # an --onnx file's row, named by its file name
    )
    config = {"onnx": str(tmp_path / "missing" / "net.onnx")}
    run = CompareRun(records, {"dataset": "synth", "threads": 1}, config, {})
    got = run_loadgen_scenarios(run, tmp_path, tmp_path, ("single-stream",), MlperfConfig(duration_s=0.1))
    # no exception: each failure is its rows' error, and the measured compare run is kept
    assert [(r.model, r.variant, r.scenario, r.ok) for r in got] == [
        ("no-such-model", "ort-cpu", "single-stream", False),
        ("net.onnx", "ort-cpu", "single-stream", False),
    ]
    assert all(r.error for r in got) and got[0].engine == "onnxruntime"
