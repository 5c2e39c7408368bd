"""`bench mlperf`: LoadGen over our engines on the session's small trained model (tests/conftest.py `trained`),
with runs of a fraction of a second and small query counts (those runs may be INVALID: early stopping needs more
queries; the tests check what is recorded, not the verdict, except where a verdict is the point)."""

from __future__ import annotations

import json
import time
import warnings
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("mlperf_loadgen")
pytest.importorskip("onnxruntime")

from bench.mlperf import logs  # noqa: E402
from bench.mlperf.record import JSON_NAME, MlperfRecord, read_records, row_name  # noqa: E402
from bench.mlperf.runner import MlperfConfig, run_mlperf  # noqa: E402
from bench.mlperf.search import Step, find_max_qps  # noqa: E402
from bench.mlperf.settings import Expected, RunSettings, loadgen_settings  # noqa: E402
from mldrnet.data import DataConfig  # noqa: E402
from mldrnet.errors import BenchError  # noqa: E402

MODEL = "mldrnet-l2"
QUICK = MlperfConfig(model=MODEL, engines=("ort-cpu",), duration_s=0.3, min_queries=32, search_steps=2, threads=1)


def _run(root: Path, out: Path, **changes):
    return run_mlperf(replace(QUICK, **changes), root, out)


@pytest.fixture(scope="module")
def all_scenarios(trained, tmp_path_factory):
    root, _, _ = trained
    out = tmp_path_factory.mktemp("mlperf-all")
    return out, _run(root, out, scenarios=("single-stream", "multi-stream", "server", "offline"))


def test_every_scenario_reports_loadgens_figure_verdict_logs_and_resources(all_scenarios):
    out, run = all_scenarios
    assert [r.scenario for r in run.records] == ["single-stream", "multi-stream", "offline", "server"]
    for r in run.records:
        assert r.ok, r.error
        assert r.validity in ("VALID", "INVALID")
        assert (r.validity == "INVALID") == bool(r.invalid_reasons)  # LoadGen's reason whenever INVALID
        assert r.figure is not None and r.figure > 0 and r.figure_name
        assert r.latency_count and r.p99_ms is not None
        assert r.timed.startswith("model:") and "not an official" in r.note
        # resources: the process's peak memory, CPU over the window, the engine's load time and file
        assert r.peak_rss_mb > 0 and r.window_rss_mb > 0
        assert r.cpu_util_pct is not None and r.cpu_util_pct >= 0
        assert r.load_s is not None and r.load_s > 0 and r.file_bytes > 0 and Path(r.file).is_file()
        folder = Path(r.log_dir)
        assert folder.parent == out or folder.parent.parent == out
    single, multi, offline, server = run.records
    assert single.figure == single.p90_ms and multi.figure == multi.p99_ms
    assert offline.figure == offline.samples_per_s and server.figure == server.samples_per_s
    for r in (single, multi, offline):
        assert (Path(r.log_dir) / logs.SUMMARY).is_file() and (Path(r.log_dir) / logs.DETAIL).is_file()
        assert Path(r.log_dir).name == row_name(MODEL, "ort-cpu", "fp32", r.scenario)
    # the server search: every step one LoadGen run in its own folder, recorded
    assert 1 <= len(server.search) <= 2 and server.target_latency_ms == 100.0
    for step in server.search:
        assert (Path(step["log_dir"]) / logs.SUMMARY).is_file() and step["validity"] in ("VALID", "INVALID")
    # mlperf.json holds the same records, and the plot is there
    again = read_records(out / JSON_NAME)
    assert [r.to_dict() for r in again] == [r.to_dict() for r in run.records]
    assert json.loads((out / JSON_NAME).read_text())["environment"]["loadgen"]
    assert (out / "server_p99_vs_qps.png").stat().st_size > 1000


def test_accuracy_mode_equals_compares_top1(trained, tmp_path):
    from bench.compare import CompareConfig, run_compare
    from bench.timing import TimingConfig

    root, _, _ = trained
    run = _run(root, tmp_path / "acc", scenarios=("offline",), mode="accuracy")
    (rec,) = run.records
    assert rec.ok, rec.error
    assert rec.validity is None  # accuracy mode: LoadGen times and judges nothing
    (tmp_path / "results").mkdir()
    quick = TimingConfig(warmup_iters=1, warmup_s=0.0, min_iters=1, budget_s=0.0)
    compared = run_compare(
        CompareConfig(
            models=(MODEL,),
            engines=("ort-cpu",),
            batch_sizes=(1,),
            threads=1,
            peak_budget_s=0.05,
            timing=quick,
            calibration=quick,
        ),
        root,
    )
    (row,) = compared.records
    assert row.ok, row.error
    assert rec.accuracy_images == row.test_images
    assert rec.accuracy_pct == pytest.approx(row.accuracy_pct, abs=1e-9)


def test_an_audit_config_in_the_working_directory_never_applies(trained, tmp_path, monkeypatch):
    root, _, _ = trained
    monkeypatch.chdir(tmp_path)
    # LoadGen would apply these: a minute per run, and accuracy mode
    (tmp_path / "audit.config").write_text("*.*.min_duration = 60000\n*.*.mode = 2\n")
    started = time.perf_counter()
    (rec,) = _run(root, tmp_path / "out", scenarios=("single-stream",)).records
    assert time.perf_counter() - started < 30
    assert rec.ok and rec.validity is not None  # performance mode, judged
    detail = (Path(rec.log_dir) / logs.DETAIL).read_text()
    assert "audit.config" not in detail
    assert logs.parse(Path(rec.log_dir)).detail["effective_min_duration_ms"] == 300
    assert Path.cwd() == tmp_path  # the working directory is given back


def test_an_audit_config_in_the_runs_own_folder_is_refused(tmp_path):
    (tmp_path / "audit.config").write_text("*.*.mode = 2\n")
    with pytest.raises(BenchError, match="audit.config"):
        with logs.inside(tmp_path):
            pass


def test_the_do_nothing_sut_measures_the_harness(trained, tmp_path, monkeypatch):
    from bench.mlperf.qsl import SampleLibrary

    gathered = []  # the null SUT does nothing: not even the batch gather, which is every engine row's own work
    monkeypatch.setattr(SampleLibrary, "batch", lambda self, indices: gathered.append(indices))
    root, _, _ = trained
    (null,) = _run(root, tmp_path, scenarios=("offline",), null_sut=True).records
    assert null.ok and null.variant == "null" and null.samples_per_s > 0 and gathered == []


def test_a_batch_is_its_samples_in_one_reused_buffer():
    import torch

    from bench.mlperf.qsl import SampleLibrary
    from mldrnet.data.transforms import Preprocessing

    qsl = SampleLibrary([("a.png", 0)], Preprocessing(crop=16, resize=20))
    qsl.loaded = {i: torch.full((1, 3, 16, 16), float(i)) for i in range(5)}
    assert qsl.batch([3]) is qsl.loaded[3]  # one sample: the stored tensor, no copy
    first = qsl.batch([4, 0, 2])
    assert first[:, 0, 0, 0].tolist() == [4.0, 0.0, 2.0]
    second = qsl.batch([1, 1])
    assert second[:, 0, 0, 0].tolist() == [1.0, 1.0] and second.data_ptr() == first.data_ptr()  # the same buffer
    assert qsl.batch([0, 1, 2, 3])[:, 2, 5, 5].tolist() == [0.0, 1.0, 2.0, 3.0]  # grown for a larger batch


# --- any ONNX classifier -----------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    """torchvision's mobilenet_v3_small with random weights, exported at 64 px with a fixed batch of 1 (a file bench
    did not write: no bench metadata, a static batch)."""
    import torch
    import torchvision

    path = tmp_path_factory.mktemp("onnx") / "mobilenet_v3_small.onnx"
    model = torchvision.models.mobilenet_v3_small(weights=None).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(model, (torch.randn(1, 3, 64, 64),), str(path), input_names=["x"], dynamo=False)
    return path


SMALL_SYNTH = DataConfig(dataset="synth", synth_n=160, synth_size=48)  # the `trained` fixture's images


def test_any_onnx_classifier_runs_without_labels_accuracy_is_not_claimed(trained, mobilenet, tmp_path):
    root, _, _ = trained
    cfg = dict(model=None, onnx=str(mobilenet), data_config=SMALL_SYNTH, max_images=8)
    single, offline = _run(root, tmp_path / "perf", scenarios=("single-stream", "offline"), **cfg).records
    for r in (single, offline):
        assert r.ok, r.error
        assert r.variant == "onnx" and r.input_size == 64 and r.figure > 0 and r.validity in ("VALID", "INVALID")
    assert offline.max_batch == 8  # the file's batch is 1: the SUT's batches run in chunks
    (acc,) = _run(root, tmp_path / "acc", scenarios=("offline",), mode="accuracy", **cfg).records
    assert acc.ok and acc.accuracy_pct is None and "without --labels" in acc.accuracy_note


def test_any_onnx_classifier_gets_accuracy_only_when_its_labels_match(trained, mobilenet, tmp_path):
    from mldrnet.data.prepare import prepare_data

    root, _, _ = trained
    classes = prepare_data(SMALL_SYNTH, root).classes
    names = [f"imagenet{i}" for i in range(1000)]
    wrong = tmp_path / "wrong.txt"
    wrong.write_text("\n".join(names) + "\n")
    for i, c in enumerate(classes):  # the dataset's classes among the model's 1000 outputs
        names[100 + i] = c.upper()
    right = tmp_path / "right.txt"
    right.write_text("# ImageNet-style labels\n" + "\n".join(names) + "\n")
    cfg = dict(model=None, onnx=str(mobilenet), data_config=SMALL_SYNTH, scenarios=("offline",), mode="accuracy")
    (bad,) = _run(root, tmp_path / "bad", labels=str(wrong), **cfg).records
    assert bad.ok and bad.accuracy_pct is None and "do not match" in bad.accuracy_note
    (good,) = _run(root, tmp_path / "good", labels=str(right), **cfg).records
    assert good.ok and good.accuracy_pct is not None and 0 <= good.accuracy_pct <= 100
    assert good.accuracy_images == good.test_images


def test_an_onnx_file_with_another_fixed_size_is_refused(trained, mobilenet, tmp_path):
    root, _, _ = trained
    with pytest.raises(BenchError, match="64 px"):
        _run(root, tmp_path, model=None, onnx=str(mobilenet), input_size=96, data_config=SMALL_SYNTH)


# --- settings, logs, search (no LoadGen run) ----------------------------------------------------------------


def test_official_settings_are_the_run_rules():
    expected = Expected(0.01, 0.05, 100.0)
    off = loadgen_settings(RunSettings("offline", official=True, performance_count=500), expected)
    assert off.min_duration_ms == 600_000 and off.min_query_count == 24_576
    assert off.performance_sample_count_override == 500
    quick = loadgen_settings(RunSettings("multi-stream", duration_s=2.0), expected)
    assert quick.min_duration_ms == 2000 and quick.min_query_count == 662
    server = loadgen_settings(RunSettings("server", target_latency_ms=200, server_qps=42.0), expected)
    assert server.server_target_latency_ns == 200_000_000 and server.server_target_qps == 42.0


def test_the_server_batch_fits_the_deadline():
    from bench.mlperf.settings import server_batch

    calls = {1: 0.011, 2: 0.021, 4: 0.045, 8: 0.110}  # s per call: MldrNet int8 at 375 px on 2 busy cores
    expected = Expected(0.011, 0.110, 80.0, calls)
    assert server_batch(expected, 8, target_latency_ms=100) == 2
    assert server_batch(expected, 8, target_latency_ms=1000) == 8
    assert server_batch(expected, 4, target_latency_ms=1000) == 4
    assert server_batch(expected, 8, target_latency_ms=10) == 1  # even batch 1 is too slow: one at a time


SUMMARY_INVALID = """================================================
MLPerf Results Summary
================================================
SUT name : PySUT
Scenario : Server
Mode     : PerformanceOnly
Completed samples per second    : 187.82
Result is : INVALID
  Performance constraints satisfied : NO
  Min duration satisfied : Yes
  Min queries satisfied : Yes
  Early stopping satisfied: NO
Recommendations:
 * Reduce target QPS to improve latency.
Early Stopping Result:
"""


def test_loadgens_reasons_are_read_from_the_summary(tmp_path):
    (tmp_path / logs.SUMMARY).write_text(SUMMARY_INVALID)
    line = {"key": "result_99.00_percentile_latency_ns", "value": 250_000_000, "metadata": {}}
    (tmp_path / logs.DETAIL).write_text(":::MLLOG " + json.dumps(line) + "\n")
    res = logs.parse(tmp_path)
    assert res.validity == "INVALID" and res.scenario == "Server"
    assert res.reasons[:3] == [
        "Performance constraints not satisfied",
        "Early stopping not satisfied",
        "Reduce target QPS to improve latency.",
    ]
    assert res.latencies_ms()["p99_ms"] == 250.0


def test_top1_from_the_accuracy_log(tmp_path):
    rows = [np.array([0.1, 0.9], np.float32), np.array([2.0, 1.0], np.float32), np.array([0.0, 3.0], np.float32)]
    entries = [{"seq_id": i, "qsl_idx": i, "data": r.tobytes().hex().upper()} for i, r in enumerate(rows)]
    (tmp_path / logs.ACCURACY).write_text(json.dumps(entries))
    got = logs.accuracy_logits(tmp_path)
    labels = np.array([1, 1, 1])
    assert logs.top1(got, labels) == (2 / 3, 3)
    assert logs.top1(got, labels, skip={1}) == (1.0, 2)


def _fake_server(limit: float):
    def run_at(qps: float) -> Step:
        ok = qps <= limit
        return Step(qps, "VALID" if ok else "INVALID", 10.0 if ok else 500.0, min(qps, limit), 500)

    return run_at


def test_the_server_search_brackets_then_bisects():
    search = find_max_qps(_fake_server(100.0), start_qps=30.0, max_steps=20, tolerance=0.02)
    qps = [s.offered_qps for s in search.steps]
    assert qps[:4] == [30.0, 45.0, 67.5, 101.25]  # bracketing up by 1.5x until INVALID
    assert 98.0 <= search.best.offered_qps <= 100.0 and "bracketed" in search.stopped
    down = find_max_qps(_fake_server(10.0), start_qps=80.0, max_steps=20)
    assert [s.offered_qps for s in down.steps][:4] == [80.0, 40.0, 20.0, 10.0] and down.best.valid
    none = find_max_qps(_fake_server(0.0), start_qps=1.0, max_steps=20, floor_qps=0.2)
    assert none.best is None and "no VALID" in none.stopped and len(none.steps) == 3
    capped = find_max_qps(_fake_server(1e9), start_qps=1.0, max_steps=3)
    assert len(capped.steps) == 3 and "3 steps" in capped.stopped


def test_the_search_stops_halving_when_less_load_does_not_lower_the_tail():
    def slow_engine(qps: float) -> Step:  # p99 of 150 ms whatever the load: the engine's own tail
        return Step(qps, "INVALID", 150.0, qps, 500)

    search = find_max_qps(slow_engine, start_qps=40.0, max_steps=20, deadline_ms=100.0)
    assert [s.offered_qps for s in search.steps] == [40.0, 20.0] and search.best is None
    assert "latency tail itself" in search.stopped
    floor = find_max_qps(_fake_server(0.0), start_qps=40.0, max_steps=20, floor_qps=6.5)
    assert [s.offered_qps for s in floor.steps] == [40.0, 20.0, 10.0] and "6.5" in floor.stopped


def test_the_plot_marks_the_deadline_and_the_knee(tmp_path):
    from bench.mlperf.plot import write_server_plot

    rec = MlperfRecord(MODEL, "ort-cpu", "onnxruntime", "cpu", "int8", "server", target_latency_ms=100.0)
    rec.search = [s.to_dict() for s in find_max_qps(_fake_server(100.0), 30.0, max_steps=8).steps]
    path = write_server_plot([rec], tmp_path)
    assert path is not None and path.stat().st_size > 1000
    assert write_server_plot([replace(rec, search=[])], tmp_path / "none") is None


# --- the command ----------------------------------------------------------------------------------------------


def test_the_command_writes_logs_and_a_record(trained, tmp_path):
    from typer.testing import CliRunner

    from bench.cli import _register_commands, app

    root, _, _ = trained
    _register_commands()
    args = ["mlperf", MODEL, "--engine", "ort-cpu", "--scenario", "server", "--target-latency-ms", "200"]
    args += ["--duration", "0.3", "--min-queries", "32", "--server-qps", "50", "--threads", "1"]
    result = CliRunner().invoke(app, [*args, "--results-dir", str(root), "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    (rec,) = read_records(tmp_path / JSON_NAME)
    assert rec.validity in ("VALID", "INVALID") and rec.offered_qps == 50.0 and rec.target_latency_ms == 200.0
    assert (Path(rec.log_dir) / logs.SUMMARY).is_file() and (Path(rec.log_dir) / logs.DETAIL).is_file()
    assert "LoadGen" in result.output
    neither = CliRunner().invoke(app, ["mlperf", "--results-dir", str(root)])
    assert neither.exit_code != 0
