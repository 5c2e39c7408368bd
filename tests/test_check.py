"""The CI gate: fails on an injected regression, a missing baseline, no matching rows; passes on an identical run."""

import json

import pytest
from typer.testing import CliRunner

from bench.check import Tolerance, check, compare_runs, load_baseline, write_baseline
from bench.records import save_run
from mldrnet.errors import BenchError
from tests.helpers.compare_fakes import cli_app, synthetic_run

ROWS = [
    dict(model="mldrnet", variant="torch-cpu", batch_size=1),
    dict(model="mldrnet", variant="torch-cpu", batch_size=8),
    dict(model="alexnet", variant="ort-cpu", engine="onnxruntime", batch_size=1),
]


def test_identical_run_passes():
    run = synthetic_run(ROWS)
    result = compare_runs(run, run)
    assert result.passed and result.matched == 3 and result.failures == 0
    assert all(r.verdict == "ok" for r in result.rows)
    assert all(r.latency_ratio == pytest.approx(1.0) and r.throughput_ratio == pytest.approx(1.0) for r in result.rows)


@pytest.mark.parametrize(
    "change, reason",
    [
        (dict(accuracy_pct=55.0), "top-1"),  # -5 points > 2
        (dict(agreement_pct=90.0), "agreement"),  # parity broke
        (dict(lat_p50_ms=20.0), "median latency"),  # 2x slower > 1.5x
        (dict(throughput_ips=40.0), "throughput"),
        (dict(status="error", error="export failed", accuracy_pct=None), "error: export failed"),
    ],
)
def test_injected_regression_fails(change, reason):
    base = synthetic_run(ROWS)
    cur = synthetic_run([{**ROWS[0], **change}] + ROWS[1:])
    result = compare_runs(cur, base, Tolerance(accuracy_points=2.0, timing=0.5))
    assert not result.passed and result.failures == 1
    bad = [r for r in result.rows if r.failed]
    assert bad[0].key == ("mldrnet", "torch-cpu", "fp32", 1) and reason in bad[0].reasons[0]


def test_within_tolerance_and_improvements_pass():
    base = synthetic_run(ROWS)
    cur = synthetic_run(
        [
            {**ROWS[0], "accuracy_pct": 58.5, "lat_p50_ms": 14.0, "throughput_ips": 70.0},
            {**ROWS[1], "accuracy_pct": 70.0, "lat_p50_ms": 2.0, "throughput_ips": 900.0},
            ROWS[2],
        ]
    )
    assert compare_runs(cur, base, Tolerance(accuracy_points=2.0, timing=0.5)).passed


def test_timings_are_normalized_by_the_calibration():
    base = synthetic_run(ROWS, cal_ms=1.0)
    # a machine 3x slower at the matrix product, and 3x slower at the models: no regression
    slow_machine = synthetic_run([{**r, "lat_p50_ms": 30.0, "throughput_ips": 100 / 3} for r in ROWS], cal_ms=3.0)
    result = compare_runs(slow_machine, base)
    assert result.passed and result.scale["cpu"] == pytest.approx(3.0)
    assert result.rows[0].latency_ratio == pytest.approx(1.0)
    # the same numbers without normalization are a regression; and a real 2x slowdown on that machine is caught
    assert not compare_runs(slow_machine, base, Tolerance(normalize=False)).passed
    regressed = synthetic_run([{**r, "lat_p50_ms": 60.0} for r in ROWS], cal_ms=3.0)
    assert not compare_runs(regressed, base).passed


def test_missing_calibration_fails_when_normalizing():
    base = synthetic_run(ROWS)
    cur = synthetic_run(ROWS)
    cur = type(cur)(cur.records, cur.environment, cur.config, {})
    result = compare_runs(cur, base)
    assert not result.passed and "calibration" in result.problems[0]
    assert compare_runs(cur, base, Tolerance(normalize=False)).passed


def test_another_thread_count_fails():
    base = synthetic_run(ROWS)
    cur = synthetic_run(ROWS)
    cur.environment["threads"] = 16
    result = compare_runs(cur, base)
    assert not result.passed and "--threads 2" in result.problems[0]


def test_a_run_on_a_busy_machine_fails_loudly():
    base = synthetic_run(ROWS)
    cur = synthetic_run(ROWS)
    cur.calibration["cpu"]["spread"] = 4.0
    result = compare_runs(cur, base)
    assert not result.passed and "busy" in result.problems[0]
    assert all(r.verdict == "ok" for r in result.rows)  # the rows themselves may look fine: still no pass
    assert compare_runs(cur, base, Tolerance(busy_spread=5.0)).passed


def test_a_different_calibration_benchmark_fails():
    base = synthetic_run(ROWS)
    cur = synthetic_run(ROWS)
    cur.calibration["cpu"]["size"] = 1024
    result = compare_runs(cur, base)
    assert not result.passed and "calibration changed" in result.problems[0]


def test_no_matching_rows_fails():
    base = synthetic_run(ROWS)
    other = synthetic_run([dict(model="vgg19", variant="trt", batch_size=32)])
    result = compare_runs(other, base, Tolerance(allow_missing=True))
    assert not result.passed and any("no rows match" in p for p in result.problems)
    assert not compare_runs(synthetic_run([]), base, Tolerance(allow_missing=True)).passed


def test_missing_rows_fail_unless_allowed_and_new_rows_do_not():
    base = synthetic_run(ROWS)
    cur = synthetic_run(ROWS[:2] + [dict(model="vgg19", variant="torch-cpu", batch_size=1)])
    result = compare_runs(cur, base)
    verdicts = {r.key[0]: r.verdict for r in result.rows}
    assert verdicts == {"mldrnet": "ok", "alexnet": "missing", "vgg19": "new"}
    assert not result.passed
    assert compare_runs(cur, base, Tolerance(allow_missing=True)).passed


def test_other_dataset_fails_and_baseline_error_rows_are_not_regressions():
    base = synthetic_run(ROWS)
    assert not compare_runs(synthetic_run(ROWS, dataset="fi"), base).passed
    base_err = synthetic_run([{**ROWS[0], "status": "error", "error": "no GPU"}] + ROWS[1:])
    cur_err = synthetic_run([{**ROWS[0], "status": "error", "error": "no GPU"}] + ROWS[1:])
    result = compare_runs(cur_err, base_err)
    assert result.passed and result.rows[0].verdict == "error (also in baseline)"


def test_missing_baseline_is_an_error(tmp_path):
    save_run(synthetic_run(ROWS), tmp_path / "run")
    with pytest.raises(BenchError, match="--update"):
        check(tmp_path / "run", tmp_path / "nope.json")


def test_corrupt_baseline_and_incomplete_records_are_bench_errors(tmp_path):
    save_run(synthetic_run(ROWS), tmp_path / "run")
    baseline = tmp_path / "base.json"
    baseline.write_text('{"format": "bench-compare/1", "records": [')  # cut off mid-write
    with pytest.raises(BenchError, match="cannot read .*base.json"):
        check(tmp_path / "run", baseline)
    data = json.loads((tmp_path / "run" / "records.json").read_text())
    del data["records"][0]["batch_size"]
    baseline.write_text(json.dumps(data))
    with pytest.raises(BenchError, match="lacks batch_size.*re-run `bench compare`"):
        check(tmp_path / "run", baseline)
    data["records"][0]["batch_size"] = "one"
    baseline.write_text(json.dumps(data))
    with pytest.raises(BenchError, match=r"base.json: records\[0\].batch_size is a string .*expected an integer"):
        load_baseline(baseline)


def test_baseline_stores_its_tolerance_and_the_command_line_wins(tmp_path):
    save_run(synthetic_run(ROWS), tmp_path / "run")
    path = write_baseline(tmp_path / "run", tmp_path / "b" / "base.json", Tolerance(accuracy_points=7.0, timing=2.0))
    run, stored = load_baseline(path)
    assert stored["accuracy_points"] == 7.0 and stored["timing"] == 2.0 and len(run.records) == 3
    slower = synthetic_run([{**r, "lat_p50_ms": 25.0} for r in ROWS])  # 2.5x: inside 3x, outside 1.5x
    save_run(slower, tmp_path / "slow")
    assert check(tmp_path / "slow", path).passed
    assert not check(tmp_path / "slow", path, timing=0.5).passed


@pytest.fixture(scope="module")
def cli():
    return CliRunner()


def test_cli_exit_codes(cli, tmp_path):
    save_run(synthetic_run(ROWS), tmp_path / "run")
    save_run(synthetic_run([{**ROWS[0], "accuracy_pct": 40.0}] + ROWS[1:]), tmp_path / "bad")
    baseline = tmp_path / "base.json"
    r = cli.invoke(cli_app(), ["check", str(tmp_path / "run"), "--baseline", str(baseline)])
    # missing baseline: never a silent pass, and a user error (one line, exit 1 via bench.cli), not a crash
    assert isinstance(r.exception, BenchError) and "does not exist" in str(r.exception), r.output
    r = cli.invoke(cli_app(), ["check", str(tmp_path / "run"), "--baseline", str(baseline), "--update"])
    assert r.exit_code == 0 and baseline.is_file(), r.output
    assert json.loads(baseline.read_text())["tolerance"]["accuracy_points"] == 2.0
    r = cli.invoke(cli_app(), ["check", str(tmp_path / "run"), "--baseline", str(baseline)])
    assert r.exit_code == 0, r.output
    assert "normalized by a calibration" in r.output
    r = cli.invoke(cli_app(), ["check", str(tmp_path / "bad"), "--baseline", str(baseline)])
    assert r.exit_code == 1 and "regression" in r.output
    r = cli.invoke(
        cli_app(), ["check", str(tmp_path / "bad"), "--baseline", str(baseline), "--accuracy-tolerance", "25"]
    )
    assert r.exit_code == 0, r.output
