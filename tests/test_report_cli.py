"""`bench report RUN_DIR` prints a saved run again as the command that made it printed it (compare, mlperf,
reproduce); every compare writes table.md; `--json` on compare and check prints one JSON document on stdout.
The compare here is the CLI's own, with the measuring replaced by fixed records (no model runs)."""

import json

import pytest
from typer.testing import CliRunner

from bench.records import save_run
from mldrnet.errors import BenchError
from tests.helpers.compare_fakes import cli_app, synthetic_run
from tests.test_tables_width import MODELS, standard_run

runner = CliRunner()


@pytest.fixture
def fake_compare(monkeypatch):
    """`bench compare` whose measuring returns standard_run()'s fixed records."""
    import bench.compare

    run = standard_run()
    monkeypatch.setattr(bench.compare, "run_compare", lambda *args, **kwargs: run)
    return run


def _compare(out, *extra):
    return runner.invoke(cli_app(), ["compare", "--out", str(out), "--no-plots", *extra])


def test_report_prints_a_saved_compare_as_compare_printed_it(tmp_path, fake_compare):
    out = tmp_path / "run"
    made = _compare(out)
    assert made.exit_code == 0, made.output
    shown = runner.invoke(cli_app(), ["report", str(out)])
    assert shown.exit_code == 0, shown.output
    assert shown.stdout == made.stdout and "alexnet-svm" in shown.stdout  # the tables, identical
    assert [w for w in shown.stderr.splitlines() if w.startswith("warning:")] == [
        w for w in made.stderr.splitlines() if w.startswith("warning:")
    ]
    wide = runner.invoke(cli_app(), ["report", str(out), "--wide"])
    assert wide.exit_code == 0 and "max |dlogit|" in wide.stdout and "max |dlogit|" not in made.stdout
    picked = runner.invoke(cli_app(), ["report", str(out / "records.json"), "--columns", "engine,p50"])
    header = next(line for line in picked.stdout.splitlines() if line.startswith("model"))
    assert header.split() == ["model", "engine", "p50", "ms"]
    # table.md: the compact tables in markdown, the same as `bench report --format md`
    md = runner.invoke(cli_app(), ["report", str(out), "--format", "md"])
    assert md.exit_code == 0 and md.stdout == (out / "table.md").read_text()
    rows = [line for line in md.stdout.splitlines() if line.startswith("| ") and "---" not in line]
    assert all(line.split()[1] in MODELS for line in rows[1:62])  # every row names its model
    assert "| mldrnet | torch-cpu | fp32 | 1 | 64 | 91.39\\* |" in md.stdout  # the mark, escaped for markdown
    csv = runner.invoke(cli_app(), ["report", str(out), "--format", "csv", "--columns", "engine,p50"])
    assert csv.stdout.splitlines()[:2] == ["model,engine,p50", "mldrnet,torch-cpu,3.0"]  # raw values


def test_compare_json_is_one_document_on_stdout(tmp_path, fake_compare):
    r = _compare(tmp_path / "run", "--json")
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)  # nothing else on stdout
    assert doc["run"]["format"] == "bench-compare/1" and len(doc["run"]["records"]) == len(fake_compare.records)
    assert doc["run_dir"] == str(tmp_path / "run") and any(f.endswith("table.md") for f in doc["files"])
    assert any("int8 top-1 agreement" in w for w in doc["warnings"]) and "warning:" in r.stderr
    assert len(doc["scenarios"]) == 31
    again = runner.invoke(cli_app(), ["report", str(tmp_path / "run"), "--format", "json"])
    assert json.loads(again.stdout)["run"] == doc["run"]


def test_unknown_columns_are_one_line_before_any_work(tmp_path, fake_compare):
    r = _compare(tmp_path / "run", "--columns", "model,latency")
    assert isinstance(r.exception, BenchError) and not (tmp_path / "run").exists()  # main() prints it in red
    message = str(r.exception)
    assert "\n" not in message and "'latency'" in message and "img/s" in message


def test_check_json_parses(tmp_path):
    rows = [dict(model="mldrnet", variant="torch-cpu", batch_size=b) for b in (1, 8)]
    save_run(synthetic_run(rows), tmp_path / "run")
    base = tmp_path / "base.json"
    r = runner.invoke(cli_app(), ["check", str(tmp_path / "run"), "--baseline", str(base), "--update", "--json"])
    assert r.exit_code == 0 and json.loads(r.stdout)["updated"] is True, r.output
    r = runner.invoke(cli_app(), ["check", str(tmp_path / "run"), "--baseline", str(base), "--json"])
    assert r.exit_code == 0, r.output
    doc = json.loads(r.stdout)
    assert doc["passed"] is True and [x["verdict"] for x in doc["rows"]] == ["ok", "ok"]
    slower = [{**x, "lat_p50_ms": 100.0} for x in rows]
    save_run(synthetic_run(slower), tmp_path / "slow")
    r = runner.invoke(cli_app(), ["check", str(tmp_path / "slow"), "--baseline", str(base), "--json"])
    doc = json.loads(r.stdout)
    assert r.exit_code == 1 and doc["passed"] is False and doc["rows"][0]["verdict"] == "regression"


def test_report_of_mlperf_and_reproduce_runs_and_of_neither(tmp_path):
    from bench.mlperf.record import MlperfRecord, write_records

    mlperf = tmp_path / "mlperf"
    mlperf.mkdir()
    record = MlperfRecord("mldrnet", "ort-cpu", "onnxruntime", "cpu", "fp32", "offline", validity="VALID")
    write_records([record], mlperf, {}, {})
    r = runner.invoke(cli_app(), ["report", str(mlperf)])
    assert r.exit_code == 0 and "LoadGen" in r.stdout and "mldrnet" in r.stdout, r.output
    r = runner.invoke(cli_app(), ["report", str(mlperf), "--format", "md"])
    assert "| mldrnet | ort-cpu | fp32 | offline | VALID |" in r.stdout
    reproduce = tmp_path / "reproduce"
    reproduce.mkdir()
    (reproduce / "report.md").write_text("# bench reproduce\n\n| experiment | minutes |\n")
    r = runner.invoke(cli_app(), ["report", str(reproduce)])
    assert r.exit_code == 0 and r.stdout == "# bench reproduce\n\n| experiment | minutes |\n"
    r = runner.invoke(cli_app(), ["report", str(tmp_path)])
    assert isinstance(r.exception, BenchError) and "records.json" in str(r.exception) and "\n" not in str(r.exception)
    r = runner.invoke(cli_app(), ["report", str(mlperf), "--wide"])
    assert isinstance(r.exception, BenchError) and "mlperf run" in str(r.exception)
