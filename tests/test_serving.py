"""Serving-side numbers of `bench compare` (issue 10): timing at a serving size other than the trained size, achieved
GFLOP/s against the machine's fp32 matrix-product peak, the MLPerf scenarios, the int8 agreement gate of
`bench check`, both accuracy plots, and old baselines still loading."""

import io
import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from PIL import Image
from rich.console import Console
from typer.testing import CliRunner

from bench.artifacts import artifact_for
from bench.check import Tolerance, check, compare_runs, load_baseline, resolve_tolerance
from bench.cli.tables import records_table, scenarios_table
from bench.compare import CompareConfig, Hooks, run_compare
from bench.peak import executed_gflops
from bench.plots import write_plots
from bench.records import CompareRun, Record, load_run, read_csv, save_run
from bench.report import save_all, scenarios, warnings_for
from bench.timing import Peak, achieved, measure_peak
from engines.base import Engine, create_engine
from mldrnet import models
from mldrnet.errors import BenchError
from tests.helpers.compare_fakes import CLASSES, FAST, SIZE, cli_app, fake_hooks, synthetic_run, write_checkpoint

SERVE = 96  # != SIZE (64), the checkpoint's crop
COMMITTED = Path(__file__).parents[1] / "results" / "baselines" / "ci-synth-cpu.json"


# --- timing at the serving size ------------------------------------------------------------------------------


class Recording(Engine):
    name = "recording"

    def __init__(self, real, shapes):
        self.real, self.shapes = real, shapes

    def __call__(self, batch):
        self.shapes.append(tuple(batch.shape))
        return self.real(batch)

    def describe(self):
        return self.real.describe()

    def synchronize(self):
        self.real.synchronize()


class Spy:
    """The real torch engine (any size: the zoo's CNNs end in adaptive pooling), recording input shapes and the
    `size` each artifact was asked for."""

    def __init__(self):
        self.shapes, self.sizes = [], []
        base = fake_hooks(n_images=16)

        def artifact(variant, checkpoint, model, max_batch, results_root, data_root, **kw):
            self.sizes.append(kw.get("size"))
            return artifact_for(variant, checkpoint, model, max_batch, results_root, data_root, **kw)

        def engine(name, source, options):
            return Recording(create_engine(name, source, options), self.shapes)

        self.hooks = Hooks(eval_set=base.eval_set, artifact=artifact, engine=engine)


@pytest.fixture(scope="module")
def served(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    write_checkpoint(root, "mldrnet-l2")
    spy = Spy()
    cfg = CompareConfig(
        models=("mldrnet-l2",),
        engines=("torch-cpu",),
        batch_sizes=(1, 3),
        threads=1,
        eval_batch_size=8,
        timing=FAST,
        calibration=FAST,
        size=SERVE,
        peak_budget_s=0.0,
    )
    return run_compare(cfg, root, spy.hooks), spy, root


def test_timing_batches_at_the_serving_size_accuracy_at_the_trained_size(served):
    run, spy, _ = served
    assert all(r.ok for r in run.records), [r.error for r in run.records]
    sides = {s[2:] for s in spy.shapes}
    assert sides == {(SIZE, SIZE), (SERVE, SERVE)}
    # the accuracy pass (16 images in batches of 8) ran at 64 px; every timed batch (1 and 3) at 96 px
    assert {s[0] for s in spy.shapes if s[2] == SIZE} == {8}
    assert {s[0] for s in spy.shapes if s[2] == SERVE} == {1, 3}
    # the accuracy file without a size, the timing file asked for at the serving size
    assert spy.sizes == [None, SERVE]
    for r in run.records:
        assert r.input_size == SIZE and r.timing_size == SERVE and r.test_images == 16
        assert r.agreement_pct == 100.0  # accuracy at 64 px is the reference itself
    net = models.create("mldrnet-l2", num_classes=len(CLASSES))
    assert run.records[0].gflops == pytest.approx(executed_gflops(net, SERVE))  # convolutions over real inputs
    assert run.records[0].gflops > executed_gflops(net, SIZE) * 2  # (96/64)^2 = 2.25x the work, less the borders
    assert run.config["size"] == SERVE


def test_rows_carry_achieved_gflops_and_the_peak_fraction(served):
    run, _, _ = served
    peak = run.calibration["cpu"]["peak"]
    assert peak["size"] >= 2048 and peak["runs"] >= 3 and peak["threads"] == 1
    assert peak["gflops_per_s"] == pytest.approx(2 * peak["size"] ** 3 / (peak["best_ms"] * 1e-3) / 1e9)
    assert run.peak_gflops("cpu") == peak["gflops_per_s"]
    for r in run.records:
        assert r.achieved_gflops == pytest.approx(r.gflops * r.throughput_ips)
        assert r.peak_fraction == pytest.approx(r.achieved_gflops / peak["gflops_per_s"])


def test_new_fields_survive_json_and_csv(served, tmp_path):
    run, _, _ = served
    json_path, csv_path = save_run(run, tmp_path)
    back = load_run(tmp_path, unique_keys=True)
    assert back.records == run.records and back.calibration["cpu"]["peak"] == run.calibration["cpu"]["peak"]
    assert read_csv(csv_path) == list(run.records)
    assert json.loads(json_path.read_text())["records"][0]["timing_size"] == SERVE


def test_without_a_size_timing_stays_at_the_trained_size(tmp_path):
    write_checkpoint(tmp_path, "mldrnet-l2")
    cfg = CompareConfig(
        models=("mldrnet-l2",),
        engines=("torch-cpu", "ort-cpu"),
        batch_sizes=(1,),
        threads=1,
        timing=FAST,
        calibration=FAST,
        peak_budget_s=0.0,
    )
    run = run_compare(cfg, tmp_path, fake_hooks())  # fake artifact hook without `size`: never passed one
    assert all(r.ok and r.input_size == r.timing_size == SIZE for r in run.records), [r.error for r in run.records]


def test_achieved_and_peak_from_fabricated_numbers():
    assert achieved(2.0, 50.0, 200.0) == (100.0, 0.5)
    assert achieved(2.0, 50.0, None) == (100.0, None)
    assert achieved(None, 50.0, 200.0) == (None, None)
    assert Peak("cpu", 1000, 10.0, 3, 2).gflops_per_s == pytest.approx(200.0)  # 2e9 FLOPs in 10 ms
    ticks = iter(i * 0.5 for i in range(100))  # every clock read 0.5 s later: each product "takes" 0.5 s
    p = measure_peak("cpu", size=64, min_runs=3, budget_s=0.0, clock=lambda: next(ticks))
    assert p.runs == 3 and p.best_ms == pytest.approx(500.0) and p.size == 64


# --- the scenarios -------------------------------------------------------------------------------------------


def _timed(batch, ips, **kw):
    return dict(
        model="mldrnet",
        variant="ort-cpu",
        engine="onnxruntime",
        batch_size=batch,
        throughput_ips=ips,
        lat_p50_ms=1000 * batch / ips,
        lat_p90_ms=1.1 * 1000 * batch / ips,
        lat_p99_ms=1.5 * 1000 * batch / ips,
        **{"lat_count": 200, **kw},
    )


def test_scenarios_pick_batch_one_latency_and_the_best_offline_batch(tmp_path):
    rows = [
        _timed(1, 100.0),
        _timed(8, 400.0, achieved_gflops=40.0, peak_fraction=0.4),
        _timed(32, 300.0),
        dict(model="mldrnet", variant="torch-cpu", batch_size=8, throughput_ips=200.0),
    ]
    run = synthetic_run(rows)
    by = {x["variant"]: x for x in scenarios(run)}
    ort = by["ort-cpu"]
    assert ort["single_stream"] == {
        "batch_size": 1,
        "p50_ms": 10.0,
        "p90_ms": pytest.approx(11.0),
        "p99_ms": pytest.approx(15.0),
        "count": 200,
        "throughput_ips": 100.0,
    }
    assert ort["offline"]["batch_size"] == 8 and ort["offline"]["throughput_ips"] == 400.0
    assert ort["offline"]["batches_tried"] == [1, 8, 32] and ort["offline"]["peak_fraction"] == 0.4
    assert by["torch-cpu"]["single_stream"] is None and by["torch-cpu"]["offline"]["batch_size"] == 8
    written = save_all(run, tmp_path / "out", plots=False)
    data = json.loads((tmp_path / "out" / "scenarios.json").read_text())
    assert tmp_path / "out" / "scenarios.json" in written and data["format"] == "bench-scenarios/1"
    assert data["scenarios"][0]["offline"]["batch_size"] == 8
    console = Console(file=io.StringIO(), width=250, force_terminal=False, color_system=None)
    console.print(scenarios_table(run))
    assert "400.0" in console.file.getvalue() and "MLPerf" in console.file.getvalue()


def test_no_p99_from_fewer_than_100_calls_and_the_title_says_whose_timer(tmp_path):
    run = synthetic_run([_timed(1, 100.0, lat_count=5), _timed(8, 400.0, lat_count=5)])
    (x,) = scenarios(run)
    assert x["single_stream"]["p99_ms"] is None and x["single_stream"]["count"] == 5
    assert x["single_stream"]["p90_ms"] == pytest.approx(11.0)
    console = Console(file=io.StringIO(), width=300, force_terminal=False, color_system=None)
    console.print(scenarios_table(run))
    text = " ".join(console.file.getvalue().split())  # the title wraps at the (compact) table's width
    assert "- (n=5)" in text and "15.00" not in text
    assert "our timer" in text and "5 timed calls" in text and "not LoadGen" in text
    save_all(run, tmp_path, plots=False)
    data = json.loads((tmp_path / "scenarios.json").read_text())
    assert data["min_p99_samples"] == 100 and "not LoadGen" in data["source"]


# --- the int8 agreement gate ---------------------------------------------------------------------------------

FP32 = [dict(model="mldrnet", variant="ort-cpu", engine="onnxruntime", batch_size=b) for b in (1, 8)]


def _int8(agree):
    return [
        dict(
            model="mldrnet",
            variant="ort-cpu",
            engine="onnxruntime",
            precision="int8",
            batch_size=b,
            agreement_pct=agree,
        )
        for b in (1, 8)
    ]


def test_int8_rows_below_the_agreement_limit_fail_even_without_a_baseline_row():
    base = synthetic_run(FP32)  # the baseline never had int8 rows
    low = compare_runs(synthetic_run(FP32 + _int8(98.0)), base)
    assert not low.passed and low.failures == 2
    bad = [r for r in low.rows if r.failed]
    assert {r.key[2] for r in bad} == {"int8"} and "98.00% < 99%" in bad[0].reasons[-1]
    assert compare_runs(synthetic_run(FP32 + _int8(99.5)), base).passed
    assert compare_runs(synthetic_run(FP32 + _int8(98.0)), base, Tolerance(int8_agreement_pct=97.0)).passed
    # matched in the baseline too: still judged by the limit, not only by the drop
    assert not compare_runs(synthetic_run(FP32 + _int8(98.0)), synthetic_run(FP32 + _int8(98.0))).passed
    # no agreement to judge: never a silent pass
    assert not compare_runs(synthetic_run(FP32 + _int8(None)), base).passed
    # fp32 rows at 98% are the accuracy tolerance's business, not the int8 gate's
    assert compare_runs(synthetic_run([{**r, "agreement_pct": 98.0} for r in FP32]), base).passed


def test_int8_limit_is_a_validated_tolerance_and_a_cli_option(tmp_path):
    with pytest.raises(BenchError, match="int8_agreement_pct"):
        Tolerance(int8_agreement_pct=101.0)
    with pytest.raises(BenchError, match="int8_agreement_pct"):
        resolve_tolerance({"int8_agreement_pct": "high"})
    assert resolve_tolerance({"int8_agreement_pct": 95.0}).int8_agreement_pct == 95.0
    save_run(synthetic_run(FP32), tmp_path / "base")
    save_run(synthetic_run(FP32 + _int8(98.0)), tmp_path / "run")
    baseline = tmp_path / "b.json"
    runner = CliRunner()
    r = runner.invoke(cli_app(), ["check", str(tmp_path / "base"), "--baseline", str(baseline), "--update"])
    assert r.exit_code == 0, r.output
    assert json.loads(baseline.read_text())["tolerance"]["int8_agreement_pct"] == 99.0
    r = runner.invoke(cli_app(), ["check", str(tmp_path / "run"), "--baseline", str(baseline)])
    assert r.exit_code == 1 and "int8 top-1 agreement" in r.output, r.output
    r = runner.invoke(
        cli_app(), ["check", str(tmp_path / "run"), "--baseline", str(baseline), "--int8-agreement", "97"]
    )
    assert r.exit_code == 0, r.output
    assert check(tmp_path / "run", baseline, int8_agreement_pct=97.0).passed


def test_the_compare_table_marks_int8_rows_below_the_limit():
    run = synthetic_run([{**FP32[0], "agreement_pct": 98.0}, _int8(98.0)[0], {**_int8(99.5)[1], "model": "vgg19"}])
    cells = {c.header: list(c.cells) for c in records_table(run, wide=True).columns}
    agree = cells["agree %"]
    assert "✗" not in agree[0] and "✗" in agree[1] and "✗" not in agree[2]
    status = [c.cells for c in records_table(run).columns if c.header == "status"][0]  # the compact view too
    assert ["✗" in s for s in status] == [False, True, False]
    text = "\n".join(warnings_for(run))
    assert "mldrnet ort-cpu int8 batch 1: int8 top-1 agreement with fp32 98.0%" in text and "vgg19" not in text


# --- the timing size and old baselines in the gate -----------------------------------------------------------


def test_timings_at_another_size_than_the_baseline_fail():
    base = synthetic_run([{**r, "input_size": 64, "timing_size": 64} for r in FP32])
    same = synthetic_run([{**r, "input_size": 64, "timing_size": 64} for r in FP32])
    assert compare_runs(same, base).passed
    other = synthetic_run([{**r, "input_size": 64, "timing_size": 375} for r in FP32])
    result = compare_runs(other, base)
    # each row is incomparable (never also a regression), and says how to time at the baseline's size
    assert not result.passed and {r.verdict for r in result.rows} == {"incomparable"}
    assert all("--size 64" in row.reasons[0] for row in result.rows)


def test_the_committed_baseline_still_loads_and_passes_against_itself():
    run, stored = load_baseline(COMMITTED)
    assert len(run.records) == 20 and all(r.timing_size == r.input_size and r.how_trained for r in run.records)
    tol = resolve_tolerance(stored)
    assert tol.int8_agreement_pct == 99.0
    result = compare_runs(run, run, tol)
    assert result.passed and result.checked == 20
    r = CliRunner().invoke(cli_app(), ["check", str(COMMITTED), "--baseline", str(COMMITTED)])
    assert r.exit_code == 0 and "passed: 20 rows checked" in r.output, r.output


def test_the_strict_reader_knows_the_new_fields():
    base = dict(model="m", variant="torch-cpu", engine="torch", device="cpu", precision="fp32", batch_size=1, error="x")
    r = Record.from_dict({**base, "timing_size": 375, "achieved_gflops": 12.5, "peak_fraction": 0.5})
    assert (r.timing_size, r.achieved_gflops, r.peak_fraction) == (375, 12.5, 0.5)
    for field, value, says in (
        ("timing_size", "375", "expected an integer"),
        ("timing_size", 0, "expected >= 1"),
        ("peak_fraction", -0.1, "expected >= 0"),
        ("achieved_gflops", None, None),
    ):
        if says is None:
            assert Record.from_dict({**base, field: value}).achieved_gflops is None
            continue
        with pytest.raises(BenchError, match=f"{field} .*{says}"):
            Record.from_dict({**base, field: value})
    run = synthetic_run(FP32)
    bad = run.to_dict()
    bad["calibration"]["cpu"]["peak"] = {"gflops_per_s": 0, "best_ms": 1.0}
    with pytest.raises(BenchError, match="peak.gflops_per_s"):
        CompareRun.from_dict(bad, "x.json")


# --- plots ---------------------------------------------------------------------------------------------------


def test_both_accuracy_plots_are_written(tmp_path):
    rows = [
        _timed(1, 100.0, accuracy_pct=60.0),
        _timed(8, 400.0, accuracy_pct=60.0),
        {**_timed(1, 250.0, accuracy_pct=59.0), "precision": "int8", "agreement_pct": 99.5},
        {**_timed(8, 900.0, accuracy_pct=59.0), "precision": "int8", "agreement_pct": 99.5},
        dict(model="mldrnet", variant="torch-cpu", batch_size=1, throughput_ips=80.0, lat_p50_ms=12.5),
    ]
    paths = write_plots(list(synthetic_run(rows).records), tmp_path)
    names = {p.name for p in paths}
    assert {"accuracy_vs_latency.png", "accuracy_vs_throughput.png"} <= names
    for name in ("accuracy_vs_latency.png", "accuracy_vs_throughput.png"):
        with Image.open(tmp_path / name) as im:
            assert im.format == "PNG" and im.size[0] > 300
            assert len(im.convert("L").getcolors(maxcolors=1 << 16)) > 10


# --- the command line ----------------------------------------------------------------------------------------


def test_compare_size_option_end_to_end(tmp_path):
    from mldrnet.checkpoint import Checkpoint
    from mldrnet.data import DataConfig
    from mldrnet.data.transforms import Preprocessing
    from mldrnet.io.layout import checkpoint_path

    torch.manual_seed(0)
    data = DataConfig(dataset="synth", synth_n=96, synth_size=64)
    Checkpoint.of_model(
        "mldrnet-l2", models.create("mldrnet-l2"), CLASSES, Preprocessing(crop=64), data_config=asdict(data)
    ).save(checkpoint_path(tmp_path, "mldrnet-l2", "synth"))
    out = tmp_path / "compare" / "served"
    r = CliRunner().invoke(
        cli_app(),
        [
            "compare",
            "--results-dir",
            str(tmp_path),
            "--engines",
            "torch-cpu",
            "--batch-sizes",
            "1,2",
            "--threads",
            "1",
            "--size",
            "80",
            "--out",
            str(out),
            "--no-plots",
            "--time-budget",
            "0",
            "--warmup-time",
            "0",
            "--warmup-iters",
            "1",
            "--iters",
            "2",
        ],
    )
    assert r.exit_code == 0, r.output
    rows = json.loads((out / "records.json").read_text())["records"]
    assert [(x["input_size"], x["timing_size"], x["status"]) for x in rows] == [(64, 80, "ok"), (64, 80, "ok")]
    assert all(x["peak_fraction"] > 0 for x in rows)
    scen = json.loads((out / "scenarios.json").read_text())["scenarios"]
    assert len(scen) == 1 and scen[0]["offline"]["batch_size"] in (1, 2) and scen[0]["timing_size"] == 80
    assert "MLPerf scenarios" in r.output and "64/80" in r.output
    r = CliRunner().invoke(cli_app(), ["compare", "--results-dir", str(tmp_path), "--size", "8"])
    assert r.exit_code == 2  # below 32 px: a usage error before any work
