"""The CI gate never passes a broken run (issue 13, item 1): the strict reader of runs and baselines refuses
every non-number, wrong type and duplicated row in one line naming the file and the field; a baseline cannot
come from a run with error rows unless asked; a check that compared nothing fails."""

import json
import math
import re
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.check import Tolerance, check, compare_runs, load_baseline, update_baseline, write_baseline
from bench.records import load_run, save_run
from mldrnet.errors import BenchError
from tests.helpers.compare_fakes import cli_app, synthetic_run

ROWS = [
    dict(model="mldrnet", variant="torch-cpu", batch_size=1),
    dict(model="mldrnet", variant="torch-cpu", batch_size=8),
    dict(model="alexnet", variant="ort-cpu", engine="onnxruntime", batch_size=1),
]
runner = CliRunner()

# raw JSON text for each bad number (json.loads takes NaN, Infinity and 1e400 as floats; a huge int as an int)
BAD = {
    "NaN": "NaN",
    "Infinity": "infinite",
    "-Infinity": "-infinite",
    "1e400": "infinite",
    "1" + "0" * 400: "an integer too large for a float",
    "null": "null",
}


@pytest.fixture()
def files(tmp_path):
    """A run folder and a baseline file made from it (both valid), returned as (run json, baseline json)."""
    save_run(synthetic_run(ROWS), tmp_path / "run")
    baseline = write_baseline(tmp_path / "run", tmp_path / "base.json", Tolerance())
    check(tmp_path / "run", baseline)  # both read fine as written
    return tmp_path / "run" / "records.json", baseline


def _leaves(value, path=""):
    """(path, value) of every number in a JSON document, paths as the reader names them (a.b[1].c)."""
    if isinstance(value, dict):
        for k, v in value.items():
            yield from _leaves(v, f"{path}.{k}" if path else k)
    elif isinstance(value, list):
        for i, v in enumerate(value):
            yield from _leaves(v, f"{path}[{i}]")
    elif isinstance(value, (int, float)) and not isinstance(value, bool):
        yield path, value


def _set(doc, path, value):
    """Set `path` (a.b[1].c) in `doc`."""
    parts = [p for chunk in path.split(".") for p in chunk.replace("]", "").split("[")]
    node = doc
    for p in parts[:-1]:
        node = node[int(p)] if isinstance(node, list) else node[p]
    last = parts[-1]
    node[int(last) if isinstance(node, list) else last] = value


def _write(file, doc, path, raw):
    """`doc` with `path` set to the raw JSON text `raw` (NaN, 1e400, ... as a hand-edited file would hold)."""
    doc = json.loads(json.dumps(doc))
    _set(doc, path, "@@BAD@@")
    file.write_text(json.dumps(doc).replace('"@@BAD@@"', raw))


# null is a legitimate value for numbers an ok row may lack (agreement_pct: no PyTorch reference ran)
MAY_BE_NULL = ("agreement_pct", "environment.threads")


def test_every_number_in_a_run_or_baseline_refuses_nan_inf_null_and_huge(files):
    """Property over the files: every numeric leaf, every bad value, either file -> one BenchError line naming
    that file and that field (never a pass, never a traceback)."""
    cases = 0
    for file in files:
        doc = json.loads(file.read_text())
        original = file.read_text()
        for path, _ in _leaves(doc):
            for raw, kind in BAD.items():
                if raw == "null" and path.endswith(MAY_BE_NULL):
                    continue
                _write(file, doc, path, raw)
                with pytest.raises(BenchError) as e:
                    check(files[0].parent, files[1])
                    pytest.fail(f"{file}: {path} = {raw} was accepted")
                msg = str(e.value)
                assert msg.startswith(f"{file}: {path} is {kind}") or msg.startswith(f"{file}: {path} is null"), msg
                assert "\n" not in msg
                cases += 1
        file.write_text(original)
    assert cases > 150  # records, calibration, environment and the stored tolerance were all mutated


@pytest.mark.parametrize(
    "path, value, says",
    [
        ("records", {}, "records is an object, expected a list"),
        ("records", "rows", "records is a string"),
        ("records[1]", 7, "records[1] is an integer (7), expected an object"),
        ("records[0].batch_size", "8", "records[0].batch_size is a string ('8'), expected an integer"),
        ("records[0].batch_size", 1.5, "records[0].batch_size is a number (1.5), expected an integer"),
        ("records[0].batch_size", 0, "records[0].batch_size is 0, expected >= 1"),
        ("records[0].lat_p50_ms", "10", "records[0].lat_p50_ms is a string"),
        ("records[0].lat_p50_ms", True, "records[0].lat_p50_ms is a boolean"),
        ("records[0].lat_p50_ms", 0, "records[0].lat_p50_ms is 0, expected > 0"),
        ("records[0].accuracy_pct", 250.0, "records[0].accuracy_pct is 250.0"),
        ("records[0].accuracy_pct", None, "records[0].accuracy_pct is null on an ok row"),
        ("records[0].throughput_ips", None, "records[0].throughput_ips is null on an ok row"),
        ("records[0].noisy", "no", "records[0].noisy is a string"),
        ("records[0].classes", "abc", "records[0].classes is a string ('abc'), expected a list"),
        ("records[0].confusion", [[1, "x"]], "records[0].confusion[0][1] is a string"),
        ("records[0].model", 5, "records[0].model is an integer (5), expected a string"),
        ("records[0].engine_info", [], "records[0].engine_info is a list, expected an object"),
        ("records[0].status", "fine", "records[0].status is 'fine'"),
        ("records[0].status", "ok", "records[0].status is 'ok'"),  # with records[0].error set below
        # closed vocabularies (engines.formats), bounds on every number, no unknown or empty field
        ("records[0].precision", "fp64", "records[0].precision is 'fp64', expected 'fp32', "),
        ("records[0].device", 3, "records[0].device is an integer (3), expected 'cpu' or 'cuda'"),
        ("records[0].engine", "tflite", "records[0].engine is 'tflite', expected 'torch', "),
        ("records[0].file_format", "pb", "records[0].file_format is 'pb'"),
        ("records[0].model", "", "records[0].model is a string (''), expected a non-empty string"),
        ("records[0].bogus", 1, "records[0]: unknown record fields ['bogus']"),
        ("records[0].lat_mean_ms", -1.0, "records[0].lat_mean_ms is -1.0, expected > 0"),
        ("records[0].lat_std_ms", -0.5, "records[0].lat_std_ms is -0.5, expected >= 0"),
        ("records[0].test_images", -3, "records[0].test_images is -3, expected >= 0"),
        ("records[0].per_class_tpr_pct", [50.0, 101.0], "records[0].per_class_tpr_pct[1] is 101.0, expected <= 100"),
        ("records[0].confusion", [[1, -2]], "records[0].confusion[0][1] is -2, expected >= 0"),
        ("records[0].confusion", [[1, 2.0]], "records[0].confusion[0][1] is a number (2.0), expected an integer"),
        ("records[0].threads", 0, "records[0].threads is 0, expected >= 1"),
        ("records[0].max_logit_diff", -1, "records[0].max_logit_diff is -1, expected >= 0"),
        ("environment", [], "environment is a list, expected an object"),
        ("environment.threads", "2", "environment.threads is a string"),
        ("environment.threads", 2.5, "environment.threads is a number (2.5), expected an integer"),
        ("environment.dataset", 3, "environment.dataset is an integer (3), expected a string"),
        ("environment.split_hashes", "abc", "environment.split_hashes is a string"),
        ("calibration", [], "calibration is a list, expected an object"),
        ("calibration.cpu", 3, "calibration.cpu is an integer (3), expected an object"),
        ("calibration.cpu.median_ms", "fast", "calibration.cpu.median_ms is a string"),
        ("calibration.cpu.median_ms", 0, "calibration.cpu.median_ms is 0, expected > 0"),
        ("calibration.cpu", {"size": 384}, "calibration.cpu lacks median_ms"),
        ("calibration.cpu.peak", {"gflops_per_s": 10.0}, "calibration.cpu.peak lacks best_ms"),
        (
            "calibration.cpu.peak",
            {"gflops_per_s": "10", "best_ms": 1.0},
            "calibration.cpu.peak.gflops_per_s is a string",
        ),
        ("environment.split_hashes", ["a", 1], "environment.split_hashes[1] is an integer (1), expected a string"),
        ("bogus", {}, "unknown fields ['bogus']"),
        ("config", "x", "config is a string"),
        ("tolerance", [], "tolerance is a list, expected an object"),
        ("tolerance.timing", "0.5", "tolerance.timing is a string"),
        ("tolerance.timing", -1, "tolerance.timing is -1, expected >= 0"),
        ("tolerance.timing", 5000, "tolerance.timing is 5000, expected <= 1000"),
        ("tolerance.busy_spread", 0.5, "tolerance.busy_spread is 0.5"),
        ("tolerance.normalize", "yes", "tolerance.normalize is a string ('yes'), expected true or false"),
    ],
)
def test_wrong_types_in_a_baseline_are_one_line_naming_the_field(files, path, value, says):
    _, baseline = files
    doc = json.loads(baseline.read_text())
    _set(doc, path, value)
    if path == "records[0].status" and value == "ok":
        doc["records"][0]["error"] = "export failed"
    baseline.write_text(json.dumps(doc))
    with pytest.raises(BenchError) as e:
        load_baseline(baseline)
    assert str(e.value).startswith(f"{baseline}: {says}"), str(e.value)
    r = runner.invoke(cli_app(), ["check", str(files[0].parent), "--baseline", str(baseline)])
    assert isinstance(r.exception, BenchError) and "Traceback" not in r.output  # one red line via bench.cli.main
    assert "\n" not in str(e.value) and "pydantic" not in str(e.value)


@pytest.mark.parametrize(
    "path, raw, says",
    [
        ("config.timing.budget_s", "NaN", "config.timing.budget_s is NaN"),
        ("config.sizes[1]", "Infinity", "config.sizes[1] is infinite"),
        ("environment.host", "-Infinity", "environment.host is -infinite"),
        ("environment.gpu.memory", "1" + "0" * 400, "environment.gpu.memory is an integer too large for a float"),
        ("calibration.cpu.notes[0].x", "NaN", "calibration.cpu.notes[0].x is NaN"),
        ("records[0].engine_info.versions.torch", "1e400", "records[0].engine_info.versions.torch is infinite"),
    ],
)
def test_free_form_objects_refuse_bad_numbers_at_any_depth(files, path, raw, says):
    """config, engine_info and unknown environment / calibration keys may hold any JSON, but no NaN, infinity or
    integer too large for a float, however deep (the path inside them is named)."""
    run_json, baseline = files
    doc = json.loads(baseline.read_text())
    doc["config"] = {"timing": {"budget_s": 1.0}, "sizes": [1, 2]}
    doc["environment"].update(host=1, gpu={"memory": 1})
    doc["calibration"]["cpu"]["notes"] = [{"x": 1.0}]
    doc["records"][0]["engine_info"] = {"versions": {"torch": 1}}
    baseline.write_text(json.dumps(doc))
    load_baseline(baseline)  # valid as it is
    _write(baseline, doc, path, raw)
    with pytest.raises(BenchError) as e:
        load_baseline(baseline)
    assert str(e.value).startswith(f"{baseline}: {says}, expected a finite number"), str(e.value)


def test_a_duplicated_row_key_is_refused_not_last_wins(files):
    run_json, baseline = files
    for file in files:
        original = file.read_text()
        doc = json.loads(original)
        doc["records"].append({**doc["records"][0], "lat_p50_ms": 1.0})  # a faster copy would win
        file.write_text(json.dumps(doc))
        with pytest.raises(BenchError, match=rf"^{file}: records\[3\] repeats the row key .* of records\[0\]"):
            check(run_json.parent, baseline)
        file.write_text(original)


def test_a_run_ten_times_slower_at_zero_accuracy_fails_whatever_the_files_hold(files, tmp_path):
    run_json, baseline = files
    broken = [
        {**r, "accuracy_pct": 0.0, "agreement_pct": 0.0, "lat_p50_ms": 100.0, "throughput_ips": 10.0} for r in ROWS
    ]
    save_run(synthetic_run(broken), tmp_path / "broken")
    result = check(tmp_path / "broken", baseline)
    assert not result.passed and all(r.verdict == "regression" for r in result.rows)
    # the old holes: NaN stored tolerance or calibration, null values; each is now a refusal, never a pass
    doc = json.loads(baseline.read_text())
    for path in ("tolerance.timing", "tolerance.accuracy_points", "calibration.cpu.median_ms", "records[0].lat_p50_ms"):
        _write(baseline, doc, path, "NaN")
        with pytest.raises(BenchError, match=re.escape(f"{baseline}: {path} is NaN")):
            check(tmp_path / "broken", baseline)
    baseline.write_text(json.dumps(doc))
    bdoc = json.loads((tmp_path / "broken" / "records.json").read_text())
    for r in bdoc["records"]:
        r["accuracy_pct"] = r["lat_p50_ms"] = r["throughput_ips"] = None  # what the writer makes of NaN
    (tmp_path / "broken" / "records.json").write_text(json.dumps(bdoc))
    with pytest.raises(BenchError, match="accuracy_pct is null on an ok row"):
        check(tmp_path / "broken", baseline)
    # in memory too: a NaN tolerance cannot be built, NaN values are "unchecked" and fail
    with pytest.raises(BenchError, match="timing is NaN"):
        Tolerance(timing=math.nan)
    base = synthetic_run(ROWS)
    nan_run = synthetic_run(ROWS)
    nan_run = type(nan_run)(
        tuple(r.__class__(**{**r.__dict__, "lat_p50_ms": None}) for r in nan_run.records),
        nan_run.environment,
        {},
        nan_run.calibration,
    )
    result = compare_runs(nan_run, base)
    assert not result.passed and result.checked == 0 and {r.verdict for r in result.rows} == {"unchecked"}


def test_an_error_run_cannot_become_a_baseline_without_the_flag(tmp_path):
    errors = [
        {
            **r,
            "status": "error",
            "error": "provider missing",
            "accuracy_pct": None,
            "lat_p50_ms": None,
            "throughput_ips": None,
        }
        for r in ROWS
    ]
    save_run(synthetic_run(errors), tmp_path / "all-errors")
    save_run(synthetic_run(errors[:1] + ROWS[1:]), tmp_path / "some-errors")
    baseline = tmp_path / "base.json"
    with pytest.raises(BenchError, match="no ok row"):
        update_baseline(tmp_path / "all-errors", baseline)
    with pytest.raises(BenchError, match="no ok row"):  # not even when asked: nothing could ever be checked
        update_baseline(tmp_path / "all-errors", baseline, allow_error_rows=True)
    r = runner.invoke(cli_app(), ["check", str(tmp_path / "some-errors"), "--baseline", str(baseline), "--update"])
    assert isinstance(r.exception, BenchError) and "--allow-error-rows" in str(r.exception) and not baseline.exists()
    r = runner.invoke(
        cli_app(),
        ["check", str(tmp_path / "some-errors"), "--baseline", str(baseline), "--update", "--allow-error-rows"],
    )
    assert r.exit_code == 0 and baseline.is_file(), r.output
    # a run where every model fails never passes against it
    r = runner.invoke(cli_app(), ["check", str(tmp_path / "all-errors"), "--baseline", str(baseline)])
    assert r.exit_code == 1 and "regression" in r.output


def test_a_check_that_compared_nothing_fails():
    errors = [{**r, "status": "error", "error": "no GPU", "accuracy_pct": None} for r in ROWS]
    both_failed = compare_runs(synthetic_run(errors), synthetic_run(errors))  # every row "error (also in baseline)"
    assert not both_failed.passed and both_failed.checked == 0
    assert any("nothing was checked" in p for p in both_failed.problems)
    ok = compare_runs(synthetic_run(ROWS), synthetic_run(ROWS))
    assert ok.passed and ok.checked == 3


def test_the_committed_ci_baseline_reads_strictly():
    committed = Path(__file__).parents[1] / "results" / "baselines" / "ci-synth-cpu.json"
    run, stored = load_baseline(committed)
    assert len(run.records) == 20 and all(r.ok for r in run.records) and stored["timing"] == 0.75
    assert load_run(committed, unique_keys=True).records == run.records
