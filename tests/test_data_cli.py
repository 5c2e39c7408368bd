"""`bench data synth | info | verify | split` through the real Typer app."""

import json
import re
import sys
from pathlib import Path

import pytest
from typer.testing import CliRunner

from bench.cli import _register_commands, app, main
from mldrnet import EMOTIONS
from mldrnet.errors import BenchError
from tests.helpers.data_files import jpg, write_fi

runner = CliRunner()
if not any(g.name == "data" for g in app.registered_groups):
    _register_commands()


def invoke(*args, **kw):
    return runner.invoke(app, ["data", *map(str, args)], **kw)


def test_synth_generates_then_reuses(tmp_path):
    result = invoke("synth", "--out", tmp_path / "s", "--n", 16, "--size", 24, "--seed", 3)
    assert result.exit_code == 0, result.output
    assert "generated 16 images of 24 px" in result.output
    assert len(list((tmp_path / "s" / "emotion_dataset").rglob("*.jpg"))) == 16
    again = invoke("synth", "--out", tmp_path / "s", "--n", 16, "--size", 24, "--seed", 3)
    assert again.exit_code == 0 and "already there" in again.output


def test_synth_default_folder_follows_results_dir_env(tmp_path):
    result = invoke("synth", "--n", 8, "--size", 16, env={"BENCH_RESULTS_DIR": str(tmp_path)})
    assert result.exit_code == 0, result.output
    assert (tmp_path / "data" / "synth-n8-px16-seed0" / "emotion_dataset" / "awe" / "awe_0000.jpg").is_file()


def test_info_counts_per_class_and_split_with_unreadable(tmp_path):
    root = write_fi(tmp_path / "fi", per_class=20, bad_in="fear")
    result = invoke(
        "info", "--dataset", "fi", "--data-root", root, "--results-dir", tmp_path / "r", env={"COLUMNS": "200"}
    )
    assert result.exit_code == 0, result.output
    lines = {line.split()[1]: line for line in result.output.splitlines() if line.startswith("│")}
    assert set(EMOTIONS) <= set(lines)
    awe = [c.strip() for c in lines["awe"].split("│")[1:-1]]
    assert awe == ["awe", "16", "1", "3", "20", "-"]
    fear = [c.strip() for c in lines["fear"].split("│")[1:-1]]
    assert fear[4:] == ["23", "3"]  # the three bad files are counted
    assert (tmp_path / "r" / "splits" / "fi_seed0.json").is_file()


def test_verify_names_each_bad_file_and_exits_2(tmp_path):
    root = write_fi(tmp_path / "fi", per_class=1, bad_in="anger")
    result = invoke("verify", "--dataset", "fi", "--data-root", root, env={"COLUMNS": "300"})
    assert result.exit_code == 2, result.output
    for name, reason in (
        ("anger_9997.jpg", "truncated"),
        ("anger_9998.jpg", "empty file"),
        ("anger_9999.jpg", "not an image"),
    ):
        assert any(name in line and reason in line for line in result.output.splitlines())
    assert "11 images decoded" in result.output and "3 unreadable" in result.output


def test_verify_clean_dataset_exits_0_and_reports_duplicates(tmp_path):
    root = write_fi(tmp_path / "fi", per_class=1)
    base = root / "emotion_dataset"
    (base / "awe" / "awe_0001.jpg").write_bytes((base / "fear" / "fear_0000.jpg").read_bytes())  # a placeholder copy
    result = invoke("verify", "--dataset", "fi", "--data-root", root, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "9 images decoded" in result.output and "0 unreadable" in result.output
    assert "2 files in 1 groups are byte-identical" in result.output


def test_wrong_layout_is_a_bench_error(tmp_path):
    (tmp_path / "empty").mkdir()
    result = invoke("verify", "--dataset", "fi", "--data-root", tmp_path / "empty")
    assert isinstance(result.exception, BenchError) and "missing class folders" in str(result.exception)


def test_wrong_layout_exits_1_with_one_red_line(tmp_path, monkeypatch, capsys):
    (tmp_path / "empty").mkdir()
    monkeypatch.setattr(
        sys,
        "argv",
        [
            "bench",
            "data",
            "info",
            "--dataset",
            "artphoto",
            "--data-root",
            str(tmp_path / "empty"),
            "--results-dir",
            str(tmp_path / "r"),
        ],
    )
    with pytest.raises(SystemExit) as exit_info:
        main()  # the real entry point: BenchError -> one red line on stderr, exit 1
    err = capsys.readouterr().err
    assert exit_info.value.code == 1
    assert err.count("\n") == 1 and "artphoto: no images for amusement" in err and "Traceback" not in err


def test_split_force_after_a_change(tmp_path):
    root = write_fi(tmp_path / "fi", per_class=5)
    res = tmp_path / "r"
    assert invoke("split", "--dataset", "fi", "--data-root", root, "--results-dir", res).exit_code == 0
    jpg(root / "emotion_dataset" / "awe" / "awe_0042.jpg")
    refused = invoke("split", "--dataset", "fi", "--data-root", root, "--results-dir", res)
    assert isinstance(refused.exception, BenchError) and "1 added" in str(refused.exception)
    forced = invoke("split", "--dataset", "fi", "--data-root", root, "--results-dir", res, "--force")
    assert forced.exit_code == 0, forced.output
    counts = re.search(r"fi: (\d+) train, (\d+) val, (\d+) test", forced.output.replace("\n", " "))
    assert sum(map(int, counts.groups())) == 41


def test_cli_dataset_choices_match_the_registry():
    from bench.cli.options import DatasetName
    from mldrnet.data import DATASETS

    assert [d.value for d in DatasetName] == list(DATASETS)  # spelled out in the CLI to keep `bench -h` import-light


def test_paths_with_brackets_are_printed_verbatim(tmp_path):
    root = write_fi(tmp_path / "fi[red]", per_class=1, bad_in="awe")
    result = invoke("verify", "--dataset", "fi", "--data-root", root, env={"COLUMNS": "400"})
    assert result.exit_code == 2 and "fi[red]/emotion_dataset/awe/awe_9998.jpg: empty file" in result.output


def test_verify_json_is_one_document_on_stdout(tmp_path):
    root = write_fi(tmp_path / "fi", per_class=1, bad_in="anger")
    base = root / "emotion_dataset"
    (base / "awe" / "awe_0001.jpg").write_bytes((base / "fear" / "fear_0000.jpg").read_bytes())
    result = invoke("verify", "-d", "fi", "--data-root", root, "--json")
    assert result.exit_code == 2  # unreadable files: the same exit code as the text report
    doc = json.loads(result.stdout)  # the whole of stdout is one JSON document
    assert doc["dataset"] == "fi" and doc["checked"] == 12 and doc["ok"] is False
    reasons = {Path(b["path"]).name: b["reason"] for b in doc["unreadable"]}
    assert sorted(reasons) == ["anger_9997.jpg", "anger_9998.jpg", "anger_9999.jpg"]
    assert "truncated" in reasons["anger_9997.jpg"] and "empty file" in reasons["anger_9998.jpg"]
    assert [sorted(Path(p).name for p in g) for g in doc["duplicates"]] == [["awe_0001.jpg", "fear_0000.jpg"]]


def test_the_old_positional_dataset_still_works_with_a_warning(tmp_path):
    root = write_fi(tmp_path / "fi", per_class=1)
    result = invoke("verify", "fi", "--data-root", root, env={"COLUMNS": "300"})
    assert result.exit_code == 0, result.output
    assert "deprecated: write `bench data verify --dataset fi`" in result.stderr
    assert "fi: 8 images decoded" in result.stdout


@pytest.mark.parametrize(
    "args, says",
    [(["fi", "--dataset", "iaps"], "two datasets given"), (["fii"], "unexpected 'fii'"), (["fi", "x"], "unexpected")],
)
def test_a_second_or_unknown_dataset_name_is_a_usage_error(args, says, tmp_path):
    result = invoke("info", *args, "--results-dir", tmp_path, env={"COLUMNS": "300"})
    assert result.exit_code == 2 and says in result.output, result.output
    assert not (tmp_path / "splits").exists()


def test_data_help_names_the_dataset_option_and_no_positional():
    result = invoke("info", "-h", env={"COLUMNS": "200"})
    usage = next(line for line in result.output.splitlines() if "Usage:" in line)
    assert usage.split() == ["Usage:", "bench", "data", "info", "[OPTIONS]"]  # the positional is not advertised
    assert "--dataset" in result.output
