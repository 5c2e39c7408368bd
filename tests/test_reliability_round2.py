"""Reliability, round two (issue 23): no code runs from a cache, no success after a failure, a gate that cannot be
fooled, nothing lost. Each class of the issue is tried with new values of the same kind as the issue's examples
(its own examples are left to the checks that judge it); every case is one parametrisation, so the number of
cases tried is what pytest counts (`pytest tests/test_reliability_round2.py -q`). Classes 0 and 6 and the
engine-side messages (truncated OpenVINO IR, a wrong-size ONNX file, a read-only model.onnx) are engines/'."""

from __future__ import annotations

import errno
import hashlib
import json
import os
import pickle
import shutil
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
import torchvision
from typer.testing import CliRunner

from bench.check import Tolerance, check, compare_runs, junit_xml, write_baseline
from bench.records import latest_run, load_run, save_run
from mldrnet import models
from mldrnet.checkpoint import Checkpoint
from mldrnet.errors import BenchError
from tests.helpers.compare_fakes import cli_app, synthetic_run

runner = CliRunner()
CLASSES = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
ROWS = [
    dict(model="mldrnet", variant="torch-cpu", batch_size=1),
    dict(model="mldrnet", variant="torch-cpu", batch_size=8),
    dict(model="alexnet", variant="ort-cpu", engine="onnxruntime", batch_size=1),
]
# control characters that must never reach a terminal: a screen clear, a window title (OSC ... BEL), a C1 CSI,
# a bell, a carriage return that overwrites the line, a backspace, a NUL, DEL
HOSTILE = ["\x1b[2J", "\x1b]0;pwned\x07", "\x9b31m", "\x07", "\r", "x\x08", "\x00", "\x7f"]
ESCAPES = [chr(c) for c in (*range(0, 9), *range(11, 32), *range(0x7F, 0xA0))]  # what may not be printed raw


def _one_line(text: str) -> str:
    assert "\n" not in text.strip() and "Traceback" not in text, text
    return text


def _invoke(args: list[str], **kwargs):
    return runner.invoke(cli_app(), [str(a) for a in args], **kwargs)


def _refusal(result) -> str:
    """The one-line refusal of a CLI call: a BenchError (the CLI prints it as one red line, exit 1) or a usage
    error (exit 2); never a traceback, never exit 0."""
    if isinstance(result.exception, BenchError):
        return _one_line(str(result.exception))
    assert result.exit_code in (1, 2) and not isinstance(result.exception, (AssertionError, TypeError)), (
        result.exit_code,
        result.output,
        result.exception,
    )
    return result.output


# --- class 1: no code runs from a cache ------------------------------------------------------------------------


class Planted:
    """A pickle that runs code when unpickled: it creates `marker`."""

    def __init__(self, marker: Path):
        self.marker = marker

    def __reduce__(self):
        return (Path.touch, (self.marker,))


def _plant(path: Path, marker: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        pickle.dump({"state_dict": Planted(marker)}, f)
    return path


@pytest.fixture
def torch_home(tmp_path, monkeypatch):
    home = tmp_path / "torch-home"
    monkeypatch.setenv("TORCH_HOME", str(home))
    return home / "hub" / "checkpoints"


@pytest.mark.parametrize("arch", ["alexnet", "vgg19", "resnet101", "alexnet-svm"])
def test_a_planted_pickle_in_the_torch_cache_never_runs(arch, torch_home, tmp_path, monkeypatch):
    from mldrnet.models.torchvision import published_weights

    url, prefix = published_weights("alexnet" if arch == "alexnet-svm" else arch)
    marker = tmp_path / "code-ran"
    _plant(torch_home / url.rsplit("/", 1)[-1], marker)
    monkeypatch.setattr(
        torch.hub, "download_url_to_file", lambda *a, **k: pytest.fail("no download: the file is there")
    )
    with pytest.raises(BenchError) as e:
        models.create(arch, pretrained=True)
    message = _one_line(str(e.value))
    assert not marker.exists(), "the planted pickle ran"
    assert "sha256" in message and prefix in message and str(torch_home) in message and "--weights" in message


def _small_state(path: Path, seed: int = 0) -> Path:
    """SqueezeNet 1.1's ImageNet state dict in torchvision's format, with random weights (5 MB): the right keys."""
    torch.manual_seed(seed)
    torch.save(torchvision.models.squeezenet1_1(weights=None).state_dict(), path)
    return path


def _publish(monkeypatch, torch_home: Path, file: Path) -> tuple[str, Path]:
    """Pretend torchvision publishes `file` for squeezenet1_1 (its name carries the file's hash prefix, as
    torchvision's do), and put it in the cache under that name."""
    prefix = hashlib.sha256(file.read_bytes()).hexdigest()[:8]
    url = f"https://download.pytorch.org/models/squeezenet1_1-{prefix}.pth"
    from mldrnet.models import torchvision as tv

    monkeypatch.setattr(tv, "published_weights", lambda arch: (url, prefix))
    cached = torch_home / url.rsplit("/", 1)[-1]
    cached.parent.mkdir(parents=True, exist_ok=True)
    shutil.copy(file, cached)
    return prefix, cached


def test_cached_weights_with_the_published_hash_load_as_weights_only(torch_home, tmp_path, monkeypatch):
    from mldrnet.models.torchvision import load_imagenet

    weights = _small_state(tmp_path / "w.pth")
    _publish(monkeypatch, torch_home, weights)
    loaded = torch.load(weights, weights_only=True)
    model = load_imagenet("squeezenet1_1", True, None)
    for k, v in model.state_dict().items():
        assert torch.equal(v, loaded[k]), k


@pytest.mark.parametrize("content", ["pickle", "truncated", "other-keys", "nan"])
def test_a_cached_file_matching_its_hash_is_still_loaded_weights_only(content, torch_home, tmp_path, monkeypatch):
    from mldrnet.models.torchvision import load_imagenet

    marker = tmp_path / "code-ran"
    file = tmp_path / "w.pth"
    if content == "pickle":
        _plant(file, marker)
    elif content == "truncated":
        file.write_bytes(_small_state(tmp_path / "full.pth").read_bytes()[:50_000])
    elif content == "other-keys":
        torch.save({"fc.weight": torch.zeros(2, 2)}, file)
    else:
        state = torch.load(_small_state(tmp_path / "full.pth"), weights_only=True)
        state["features.0.weight"].fill_(float("nan"))
        torch.save(state, file)
    _publish(monkeypatch, torch_home, file)
    with pytest.raises(BenchError) as e:
        load_imagenet("squeezenet1_1", True, None)
    message = _one_line(str(e.value))
    assert not marker.exists() and "weights_only=False" not in message and "--lr" not in message
    assert str(torch_home) in message


@pytest.mark.parametrize(
    "content, says",
    [
        (b"", "the file is empty"),
        (b"\x80\x02}q\x00.", "corrupt"),
        (b"PK\x03\x04 not really a zip", ""),
        ("pickle", "pickled Python objects"),
        ("nan", "NaN or infinite"),
    ],
)
def test_a_bad_weights_file_is_one_line_with_its_reason(content, says, tmp_path):
    from mldrnet.models.torchvision import load_imagenet

    marker = tmp_path / "code-ran"
    file = tmp_path / "given.pth"
    if content == "pickle":
        _plant(file, marker)
    elif content == "nan":
        state = torch.load(_small_state(tmp_path / "full.pth"), weights_only=True)
        state["classifier.1.bias"].fill_(float("inf"))
        torch.save(state, file)
    else:
        file.write_bytes(content)
    with pytest.raises(BenchError) as e:
        load_imagenet("squeezenet1_1", False, file)
    message = _one_line(str(e.value))
    reason = message.split(f"{file}: ", 1)[-1]
    assert not marker.exists() and says in message and reason.strip(" ;:") and "--lr" not in message


def test_bench_train_pretrained_refuses_a_planted_cache_file(torch_home, tmp_path):
    marker = tmp_path / "code-ran"
    _plant(torch_home / "alexnet-owt-7be5be79.pth", marker)
    r = _invoke(
        ["train", "alexnet", "--pretrained", "--synth-n", "96", "--synth-size", "64", "--epochs", "1"]
        + ["--results-dir", tmp_path / "res", "--no-progress"]
    )
    assert "sha256" in _refusal(r) and not marker.exists()
    assert not (tmp_path / "res" / "runs" / "synth" / "alexnet" / "best.pt").exists()


# --- class 4: no success after a failure -----------------------------------------------------------------------


def _fake_experiment(kind: str):
    from bench.reproduce.results import Cell, ExperimentResult, Row, Run

    def run(ctx):
        if kind == "raises":
            raise RuntimeError("disk on fire")
        res = ExperimentResult("table1", "fake", "synth", "quick", "top-1", ["top-1"])
        if kind == "cell-failed":
            cells = {"top-1": Cell((Run(50.0, 0), Run(None, 1, error="cannot write: read-only file system")))}
            res.rows.append(Row("mldrnet", "mldrnet", {}, cells))
        elif kind == "no-model":
            res.notes.append("MldrNet did not train: EROFS")
        else:
            res.rows.append(Row("mldrnet", "mldrnet", {}, {"top-1": Cell((Run(50.0, 0), Run(52.0, 1)))}))
        return res

    return run


@pytest.mark.parametrize("kind, exit_code", [("raises", 1), ("cell-failed", 1), ("no-model", 1), ("fine", 0)])
def test_reproduce_exits_non_zero_after_any_failure_and_keeps_the_report(kind, exit_code, tmp_path, monkeypatch):
    from bench.reproduce import run as reproduce_run

    monkeypatch.setitem(reproduce_run.EXPERIMENTS, "table1", _fake_experiment(kind))
    r = _invoke(["reproduce", "table1", "--out", tmp_path / "report", "--results-dir", tmp_path / "res"])
    assert r.exit_code == exit_code, r.output
    assert (tmp_path / "report" / "report.md").is_file()  # what succeeded is written first
    if exit_code:
        assert "failure" in r.output


@pytest.mark.parametrize("blocker", ["file", "parent-file"])
def test_reproduce_out_that_cannot_be_a_folder_is_refused_before_training(blocker, tmp_path, monkeypatch):
    from bench.reproduce import run as reproduce_run

    monkeypatch.setitem(reproduce_run.EXPERIMENTS, "table1", lambda ctx: pytest.fail("trained before checking --out"))
    (tmp_path / "f").write_text("x")
    out = tmp_path / "f" if blocker == "file" else tmp_path / "f" / "report"
    r = _invoke(["reproduce", "table1", "--out", out, "--results-dir", tmp_path / "res"])
    assert r.exit_code == 2 and "is a file" in r.output


@pytest.mark.parametrize("n", [8, 24, 40, 64])
def test_training_without_val_or_test_images_is_refused_before_it_starts(n, tmp_path):
    from mldrnet.data import DataConfig
    from mldrnet.training.config import resolve
    from mldrnet.training.loop import train_model

    cfg = resolve("mldrnet-l2", "quick", epochs=1, crop=32, batch_size=8, workers=0, device="cpu")
    with pytest.raises(BenchError) as e:
        train_model(cfg, DataConfig(synth_n=n, synth_size=32), tmp_path)
    assert "no val" in _one_line(str(e.value))
    assert not (tmp_path / "runs").exists()  # nothing started


@pytest.fixture(scope="module")
def tiny_run(tmp_path_factory):
    """(results root, RunFolder, config hash) of an MldrNet-l2 trained 1 epoch at 32 px on 96 images."""
    from mldrnet.data import DataConfig
    from mldrnet.io.layout import RunFolder
    from mldrnet.training.config import resolve
    from mldrnet.training.loop import train_model

    root = tmp_path_factory.mktemp("tiny")
    cfg = resolve("mldrnet-l2", "quick", epochs=1, crop=32, batch_size=32, workers=0, device="cpu")
    result = train_model(cfg, DataConfig(synth_n=96, synth_size=40), root)
    assert result.ok
    run = RunFolder(Path(result.run_dir))
    return root, run, json.loads(run.result.read_text())["config_hash"]


def test_result_json_is_strict_json_with_finite_numbers(tiny_run):
    _, run, _ = tiny_run

    def refuse(name):
        raise AssertionError(f"result.json holds {name}")

    done = json.loads(run.result.read_text(), parse_constant=refuse)
    assert all(np.isfinite(done[k]) for k in ("best_val_acc", "test_acc", "seconds"))


@pytest.mark.parametrize(
    "edit",
    [
        {"test_acc": 0.99},
        {"best_val_acc": 1.0},
        {"best_epoch": 7},
        {"test_acc": "0.5"},
        {"test_acc": None},
        {"epochs": "many"},
        {"model": "vgg19"},
        {"best_val_acc": True},
    ],
    ids=lambda d: "-".join(f"{k}={v}" for k, v in d.items()),
)
def test_a_result_json_that_disagrees_with_its_checkpoint_is_not_reused(edit, tiny_run, tmp_path):
    from mldrnet.io.layout import RunFolder
    from mldrnet.training.loop import _already_trained

    _, run, config_hash = tiny_run
    copy = RunFolder(tmp_path / "runs" / "synth" / "mldrnet-l2")
    shutil.copytree(run.path, copy.path)
    assert _already_trained(copy, config_hash) is not None  # as written: reused
    done = json.loads(copy.result.read_text())
    copy.result.write_text(json.dumps({**done, **edit}))
    assert _already_trained(copy, config_hash) is None


@pytest.mark.parametrize("raw", ["NaN", "Infinity", "1" + "0" * 5000])
def test_a_result_json_with_a_bad_number_is_not_reused(raw, tiny_run, tmp_path):
    from mldrnet.io.layout import RunFolder
    from mldrnet.training.loop import _already_trained

    _, run, config_hash = tiny_run
    copy = RunFolder(tmp_path / "r" / "runs" / "synth" / "mldrnet-l2")
    shutil.copytree(run.path, copy.path)
    text = copy.result.read_text()
    done = json.loads(text)
    copy.result.write_text(text.replace(json.dumps(done["test_acc"]), raw, 1))
    assert _already_trained(copy, config_hash) is None


def test_a_test_pass_without_readable_images_is_an_error_not_a_nan(tmp_path, monkeypatch):
    from mldrnet.data import DataConfig
    from mldrnet.training import loop
    from mldrnet.training.config import resolve

    monkeypatch.setattr(loop, "accuracy", lambda logits, labels: float("nan"))  # as if no image could be read
    cfg = resolve("mldrnet-l2", "quick", epochs=1, crop=32, batch_size=32, workers=0, device="cpu")
    with pytest.raises(BenchError) as e:
        loop.train_model(cfg, DataConfig(synth_n=96, synth_size=40), tmp_path)
    assert "test images could be read" in _one_line(str(e.value))
    assert not any(tmp_path.rglob("result.json"))


def _checkpoint_dict(**changes) -> dict:
    from mldrnet.data.transforms import Preprocessing

    net = models.create("mldrnet-l2")
    ckpt = Checkpoint.of_model("mldrnet-l2", net, CLASSES, Preprocessing(32))
    raw = ckpt.to_dict()
    for key, value in changes.items():
        if key.startswith("preprocessing."):
            raw["preprocessing"] = {**raw["preprocessing"], key.split(".", 1)[1]: value}
        else:
            raw[key] = value
    return raw


@pytest.mark.parametrize(
    "classes",
    [
        ("joy",) * 8,
        ("amusement", "anger", "awe", "awe", "disgust", "excitement", "fear", "sadness"),
        ("a",),
        ("a", ""),
        ("a", 3),
        "amusement",
    ],
    ids=["all-same", "one-repeated", "one-class", "empty-name", "not-a-string", "a-string"],
)
def test_a_checkpoint_whose_class_names_repeat_or_are_no_names_is_refused(classes, tmp_path):
    raw = _checkpoint_dict(classes=classes)
    torch.save(raw, tmp_path / "best.pt")
    with pytest.raises(BenchError) as e:
        Checkpoint.load(tmp_path / "best.pt")
    assert str(tmp_path / "best.pt") in _one_line(str(e.value))


# --- class 5: a gate that cannot be fooled ----------------------------------------------------------------------


def _save(run, folder: Path, created: str | None) -> Path:
    env = dict(run.environment)
    if created is not None:
        env["created"] = created
    save_run(replace(run, environment=env), folder)
    return folder


@pytest.mark.parametrize(
    "folders, newest",
    [
        ({"ci": "2026-01-01T00:00:00+00:00", "20260105-120000": "2026-01-05T12:00:00+00:00"}, "20260105-120000"),
        (
            {"20260105-120000-2": "2026-01-05T12:00:01+00:00", "20260105-120000-10": "2026-01-05T12:00:09+00:00"},
            "20260105-120000-10",
        ),
        ({"zzz": None, "aaa": "2026-02-01T00:00:00+01:00", "mmm": "2026-01-31T23:30:00+00:00"}, "mmm"),
    ],
    ids=["ci-vs-timestamp", "suffix-2-vs-10", "timezones-and-untimed"],
)
def test_latest_is_the_newest_by_recorded_time_and_is_named(folders, newest, tmp_path):
    run = synthetic_run(ROWS)
    for name, created in folders.items():
        _save(run, tmp_path / "compare" / name, created)
    folder, _ = latest_run(tmp_path)
    assert folder.name == newest
    base = write_baseline(tmp_path / "compare" / newest, tmp_path / "base.json", Tolerance())
    r = _invoke(["check", "latest", "--baseline", base, "--results-dir", tmp_path])
    assert r.exit_code == 0 and str(tmp_path / "compare" / newest) in r.output.replace("\n", ""), r.output


def test_latest_without_any_timed_run_is_an_error(tmp_path):
    _save(synthetic_run(ROWS), tmp_path / "compare" / "old", None)
    with pytest.raises(BenchError, match="no compare run with a recorded time"):
        latest_run(tmp_path)


@pytest.mark.parametrize(
    "field, base_value, run_value",
    [
        ("test_images", 32, 1),
        ("test_images", 32, 31),
        ("test_images", 32, 33),
        ("input_size", 64, 96),
        ("timing_size", 64, 375),
        ("test_images", 32, None),
        ("timing_size", None, 64),
        ("input_size", 64, None),
    ],
)
def test_rows_measured_differently_are_incomparable_never_a_pass_nor_a_regression(field, base_value, run_value):
    base = synthetic_run([{**r, field: base_value} for r in ROWS]) if base_value is not None else None
    if base_value is None:  # a row built in memory (the strict reader refuses such a file)
        base = synthetic_run(ROWS)
        base = replace(base, records=tuple(replace(r, **{field: None}) for r in base.records))
    cur = synthetic_run(ROWS)
    cur = replace(cur, records=tuple(replace(r, **{field: run_value}) for r in cur.records))
    result = compare_runs(cur, base)
    assert not result.passed
    assert {r.verdict for r in result.rows} == {"incomparable"}  # never also a "regression"
    assert all(field in r.reasons[0] for r in result.rows)


@pytest.mark.parametrize("side, key", [("run", "spread"), ("run", "size"), ("baseline", "size")])
def test_a_missing_calibration_field_fails_never_skips(side, key):
    base, cur = synthetic_run(ROWS), synthetic_run(ROWS)
    del (cur if side == "run" else base).calibration["cpu"][key]
    result = compare_runs(cur, base)
    assert not result.passed and any(key in p or "matrix size" in p for p in result.problems), result.problems


@pytest.mark.parametrize("where", ["both", "run", "baseline"])
def test_rows_without_an_agreement_do_not_pass_silently(where):
    null = [{**r, "agreement_pct": None} for r in ROWS]
    base = synthetic_run(null if where in ("both", "baseline") else ROWS)
    cur = synthetic_run(null if where in ("both", "run") else ROWS)
    result = compare_runs(cur, base)
    assert not result.passed and all(r.verdict == "unchecked" for r in result.rows)
    assert all("agreement" in r.reasons[0] for r in result.rows)


@pytest.mark.parametrize(
    "duplicate",
    [
        ('"error": null', '"error": "CRASHED", "error": null'),
        ('"accuracy_pct": 60.0', '"accuracy_pct": 10.0, "accuracy_pct": 60.0'),
        ('"threads": 2', '"threads": 64, "threads": 2'),
        ('"format": "bench-compare/1"', '"format": "bench-compare/1", "format": "bench-compare/1"'),
    ],
    ids=["error", "accuracy", "environment", "top-level"],
)
@pytest.mark.parametrize("file", ["run", "baseline"])
def test_a_key_twice_in_one_object_is_refused(duplicate, file, tmp_path):
    run_dir = _save(synthetic_run(ROWS), tmp_path / "run", "2026-01-01T00:00:00+00:00")
    base = write_baseline(run_dir, tmp_path / "base.json", Tolerance())
    target = run_dir / "records.json" if file == "run" else base
    text = json.dumps(json.loads(target.read_text()))  # one line, ", " and ": " separators
    assert duplicate[0] in text
    target.write_text(text.replace(duplicate[0], duplicate[1], 1))
    with pytest.raises(BenchError) as e:
        check(run_dir, base)
    assert "twice" in _one_line(str(e.value)) and str(target) in str(e.value)


@pytest.mark.parametrize("shape", ["5000-digit-int", "-5000-digit-int", "1000-deep", "100-deep", "huge-file"])
@pytest.mark.parametrize("file", ["run", "baseline"])
def test_json_reading_is_bounded_by_size_depth_and_digits(shape, file, tmp_path):
    run_dir = _save(synthetic_run(ROWS), tmp_path / "run", "2026-01-01T00:00:00+00:00")
    base = write_baseline(run_dir, tmp_path / "base.json", Tolerance())
    target = run_dir / "records.json" if file == "run" else base
    doc = json.loads(target.read_text())
    if shape.endswith("digit-int"):
        text = json.dumps(doc).replace(
            '"batch_size": 1', f'"batch_size": {"-" if shape[0] == "-" else ""}{"7" * 5000}', 1
        )
        target.write_text(text)
    elif shape.endswith("deep"):
        depth = int(shape.split("-")[0])
        doc["config"]["x"] = "@@DEEP@@"
        target.write_text(json.dumps(doc).replace('"@@DEEP@@"', "[" * depth + "]" * depth))
    else:
        with open(target, "r+b") as f:  # sparse: 100 MB on paper, nothing on disk
            f.truncate(100 * 2**20)
    with pytest.raises(BenchError) as e:
        check(run_dir, base)
    message = _one_line(str(e.value))
    assert str(target) in message


def test_check_writes_junit_xml_that_parses_and_counts_the_failures(tmp_path):
    from xml.etree import ElementTree as ET

    run_dir = _save(synthetic_run(ROWS), tmp_path / "run", "2026-01-01T00:00:00+00:00")
    base = write_baseline(run_dir, tmp_path / "base.json", Tolerance())
    bad = _save(
        synthetic_run([{**ROWS[0], "accuracy_pct": 40.0, "error": None}, {**ROWS[1], "test_images": 1}, ROWS[2]]),
        tmp_path / "bad",
        "2026-01-02T00:00:00+00:00",
    )
    bad_doc = json.loads((bad / "records.json").read_text())
    bad_doc["records"][2]["error"] = "boom \x1b[2J \udcff"  # an error row with control characters in its message
    bad_doc["records"][2]["status"] = "error"
    (bad / "records.json").write_text(json.dumps(bad_doc))
    junit = tmp_path / "out" / "check.xml"
    r = _invoke(["check", bad, "--baseline", base, "--junit", junit])
    assert r.exit_code == 1
    suite = ET.parse(junit).getroot().find("testsuite")
    cases = suite.findall("testcase")
    failures = [c for c in cases if c.find("failure") is not None]
    assert int(suite.get("tests")) == len(cases) == 3 and int(suite.get("failures")) == len(failures) == 3
    verdicts = {c.find("failure").get("type") for c in failures}
    assert verdicts == {"regression", "incomparable"}
    r = _invoke(["check", run_dir, "--baseline", base, "--junit", junit])
    suite = ET.parse(junit).getroot().find("testsuite")
    assert r.exit_code == 0 and suite.get("failures") == "0" and suite.get("tests") == "3"
    assert junit_xml(check(run_dir, base), "a\x1b", "b").count("\x1b") == 0


# --- class 2: no control character reaches a terminal, a table or a log ---------------------------------------


def _raw(text: str) -> list[str]:
    return [c for c in text if c in ESCAPES]


@pytest.mark.parametrize("hostile", HOSTILE)
def test_records_with_control_characters_print_as_visible_text(hostile, tmp_path):
    run = synthetic_run(ROWS)
    records = list(run.records)
    records[0] = replace(records[0], how_trained=f"quick {hostile}")
    records[2] = replace(records[2], error=f"export failed {hostile}", accuracy_pct=None)
    run = replace(run, records=tuple(records))
    save_run(run, tmp_path / "run")
    base = write_baseline(tmp_path / "run", tmp_path / "base.json", Tolerance(), allow_error_rows=True)
    r = _invoke(["check", tmp_path / "run", "--baseline", base], env={"COLUMNS": "300"})
    assert r.exit_code == 0, r.output
    from bench.cli.console import print_table, shown
    from bench.cli.tables import check_table, records_table

    with open(tmp_path / "log.txt", "w") as f:
        from rich.console import Console

        console = Console(file=f, width=400)
        from bench.cli.console import guard

        print_table(records_table(load_run(tmp_path / "run"), wide=True), guard(console))  # errors: in --wide
        print_table(check_table(check(tmp_path / "run", base)), guard(console))
    text = (tmp_path / "log.txt").read_text()
    assert not _raw(text) and not _raw(r.output)
    assert shown(hostile).strip() in text or not hostile.strip("\x00\x7f")


@pytest.mark.parametrize("hostile", HOSTILE)
@pytest.mark.parametrize("channel", ["error", "warn", "info", "log"])
def test_messages_show_control_characters_and_never_send_them(hostile, channel, capsys):
    import logging

    from bench.cli import console

    message = f"file bad{hostile}name.jpg cannot be read"
    if channel == "log":
        console.route_library_logs()
        logging.getLogger("mldrnet.test").warning(message)
    else:
        getattr(console, channel)(message)
    captured = capsys.readouterr()
    out = captured.out + captured.err
    assert not _raw(out) and console.shown(hostile) in out.replace("\n", "")


@pytest.mark.parametrize("hostile", HOSTILE[:4])
def test_class_names_of_a_checkpoint_and_usage_errors_print_without_controls(hostile):
    from bench.cli.console import guard, print_table
    from bench.cli.tables import predict_table, train_table
    from mldrnet.training.loop import TrainResult

    class P:
        ok, path, top, confidence = True, f"img{hostile}.jpg", f"joy{hostile}", 0.9
        probabilities = {f"joy{hostile}": 0.9, "fear": 0.1}

    from io import StringIO

    from rich.console import Console

    buf = StringIO()
    con = guard(Console(file=buf, width=300))
    print_table(predict_table("mldrnet", {"engine": "torch", "provider": "eager", "precision": "fp32"}, [P()]), con)
    print_table(train_table([TrainResult(f"m{hostile}", error=f"boom{hostile}")]), con)
    assert not _raw(buf.getvalue())
    r = _invoke(["data", "info", "--dataset", f"synth{hostile}"])  # Typer's own usage error echoes the value
    assert r.exit_code == 2 and not _raw(r.output)


def test_progress_bars_and_rich_own_control_codes_still_work():
    from io import StringIO

    from rich.console import Console
    from rich.progress import Progress

    from bench.cli.console import guard

    buf = StringIO()
    con = guard(Console(file=buf, force_terminal=True, width=80))
    with Progress(console=con) as p:
        task = p.add_task(f"epoch{HOSTILE[0]}", total=2)
        p.advance(task)
    text = buf.getvalue()
    assert "\x1b[" in text  # rich's own styling and cursor moves are kept
    assert "\x1b[2J" not in text  # the hostile one is not


# --- class 3: every name that becomes a path -------------------------------------------------------------------

BAD_NAMES = ["../../outside", "a/b", "..", ".hidden", "x\x1b[2J", "a" * 101, "fi/../../x", "-rf", "caf\udce9"]


@pytest.mark.parametrize("name", BAD_NAMES, ids=range(len(BAD_NAMES)))
@pytest.mark.parametrize("command", ["export", "predict", "compare"])
def test_a_run_key_that_is_not_a_name_is_refused_before_anything_is_read(command, name, tmp_path):
    args = {
        "export": ["export", "mldrnet"],
        "predict": ["predict", tmp_path / "x.jpg"],
        "compare": ["compare", "--out", tmp_path / "out"],
    }[command]
    r = _invoke([*args, "--dataset", name, "--results-dir", tmp_path / "res"])
    assert r.exit_code == 2 and "not a valid name" in " ".join(r.output.replace("│", " ").split()), r.output
    assert not (tmp_path / "res").exists() and not (tmp_path / "out").exists()
    assert not (tmp_path.parent / "outside").exists()


@pytest.mark.parametrize("name", BAD_NAMES, ids=range(len(BAD_NAMES)))
def test_the_layout_refuses_names_that_would_leave_their_root(name, tmp_path):
    from mldrnet.io import layout

    for make in (
        lambda: layout.RunFolder.at(tmp_path, "mldrnet", name),
        lambda: layout.RunFolder.at(tmp_path, name, "synth"),
        lambda: layout.runs_dir(tmp_path, name),
        lambda: layout.split_file(tmp_path, name, 0),
        lambda: layout.synth_dir(tmp_path, name),
        lambda: layout.feature_cache_dir(tmp_path, name),
    ):
        with pytest.raises(BenchError, match="not a valid name"):
            make()


@pytest.mark.parametrize("key", ["synth", "fi-noise0.2", "mart-fold3", "synth-split1-seed1", "fi-noisy", "emoset"])
def test_the_layout_keeps_every_run_key_bench_makes(key, tmp_path):
    from mldrnet.io import layout

    assert layout.RunFolder.at(tmp_path, "mldrnet-l2", key).path == tmp_path / "runs" / key / "mldrnet-l2"
    assert layout.checkpoint_path(tmp_path, "alexnet-svm", key).parent.parent.name == key


def test_export_outside_the_results_root_is_refused_and_writes_nothing(tmp_path):
    (tmp_path / "outside" / "mldrnet").mkdir(parents=True)
    r = _invoke(["export", "mldrnet", "--dataset", "../../outside", "--results-dir", tmp_path / "root"])
    assert r.exit_code == 2 and not any((tmp_path / "outside").rglob("*.onnx"))


# --- class 7: write the records before an odd name can fail; non-UTF-8 names -----------------------------------


def test_records_with_names_that_are_not_utf8_are_written_not_lost(tmp_path):
    from bench.report import save_all

    odd = tmp_path / os.fsdecode(b"res-caf\xe9")
    run = synthetic_run(ROWS)
    records = list(run.records)
    records[2] = replace(records[2], error=f"cannot read {odd}/x.jpg", accuracy_pct=None)
    records[0] = replace(records[0], engine_info={"source": f"{odd}/runs/synth/mldrnet/best.pt"})
    run = replace(run, records=tuple(records))
    written = save_all(run, tmp_path / "out", plots=False)
    assert {p.name for p in written} >= {"records.json", "records.csv"}
    assert load_run(tmp_path / "out").records[2].error.startswith("cannot read")
    assert "\\udce9" in (tmp_path / "out" / "records.csv").read_text()


ODD_TEXT = ["cost $x_{ 5", os.fsdecode(b"caf\xe9"), "title \x1b]0;x\x07", "mathtext $\\frac{1}{0}$"]


@pytest.mark.parametrize("odd", ODD_TEXT, ids=range(len(ODD_TEXT)))
def test_plots_of_odd_names_are_drawn_and_never_cost_the_records(odd, tmp_path):
    from bench.report import save_all

    run = synthetic_run([ROWS[0], {**ROWS[2], "status": "error", "error": f"cannot read {odd}", "accuracy_pct": None}])
    records = list(run.records)
    classes = (f"joy {odd}", "fear", "awe")
    records[0] = replace(
        records[0],
        how_trained=f"quick {odd}",
        classes=classes,
        confusion=((2, 0, 0), (0, 1, 1), (0, 0, 2)),
        per_class_tpr_pct=(100.0, 50.0, 100.0),
    )
    run = replace(run, records=tuple(records), environment={**run.environment, "cpu": f"cpu {odd}"})
    names = {p.name for p in save_all(run, tmp_path / "out", plots=True)}
    assert {"records.json", "accuracy_vs_latency.png", "per_class_tpr.png", "confusion_mldrnet.png"} <= names


def test_a_plot_that_fails_still_leaves_the_records_and_fails_the_run(tmp_path, monkeypatch):
    from bench import report

    def broken(*a, **k):
        raise ValueError("matplotlib cannot draw this")

    monkeypatch.setattr(report, "write_plots", broken)
    with pytest.raises(BenchError, match="the plots could not be written .*the records are saved"):
        report.save_all(synthetic_run(ROWS), tmp_path / "out", plots=True)
    assert len(load_run(tmp_path / "out").records) == 3


@pytest.mark.parametrize("out", [os.fsdecode(b"caf\xe9"), "bad\x1bname", "tab\tname"])
@pytest.mark.parametrize("command", ["compare", "reproduce", "synth"])
def test_an_out_folder_with_control_characters_or_non_utf8_bytes_is_refused_up_front(out, command, tmp_path):
    args = {"compare": ["compare"], "reproduce": ["reproduce", "table1"], "synth": ["data", "synth"]}[command]
    r = _invoke([*args, "--out", tmp_path / out, "--results-dir", tmp_path / "res"])
    assert r.exit_code == 2 and not (tmp_path / out).exists() and not (tmp_path / "res").exists()


def test_text_that_utf8_cannot_hold_is_written_escaped(tmp_path):
    from mldrnet.io.atomic import atomic_write_text

    atomic_write_text(tmp_path / "t.txt", "caf\udce9 \x1b ok")
    assert (tmp_path / "t.txt").read_text() == "caf\\udce9 \x1b ok"


# --- class 8: ordinary settings that crashed --------------------------------------------------------------------


class _Batches:
    """A loader of (images, labels, unreadable) batches of the given sizes."""

    def __init__(self, sizes, crop=32):
        self.sizes, self.crop = sizes, crop

    def __iter__(self):
        for n in self.sizes:
            yield torch.randn(n, 3, self.crop, self.crop), torch.randint(0, 8, (n,)), 0

    def __len__(self):
        return len(self.sizes)


@pytest.mark.parametrize("model", ["mldrnet-l2", "mldrnet", "resnet101"])
@pytest.mark.parametrize("sizes", [[4, 1], [1, 3], [2, 1, 2]])
def test_a_training_batch_of_one_image_is_skipped_by_a_batch_norm_model(model, sizes):
    from mldrnet.training.config import resolve
    from mldrnet.training.loop import train_one_epoch

    torch.manual_seed(0)
    net = models.create(model)
    cfg = resolve(model, "quick", crop=32, device="cpu")
    opt = torch.optim.SGD(net.parameters(), lr=0.001)
    stats = train_one_epoch(net, _Batches(sizes), opt, torch.device("cpu"), cfg, None)
    assert stats["images"] == sum(n for n in sizes if n > 1)


def test_the_issues_batch_of_one_settings_train(tmp_path):
    from mldrnet.data import DataConfig
    from mldrnet.training.config import resolve
    from mldrnet.training.loop import train_model

    cfg = resolve("mldrnet", "quick", epochs=1, crop=32, batch_size=127, workers=0, device="cpu")
    result = train_model(cfg, DataConfig(synth_n=160, synth_size=32), tmp_path)  # 128 training images: 127 + 1
    assert result.ok and np.isfinite(result.test_acc)


@pytest.mark.parametrize("model, crop", [("alexnet", 32), ("alexnet", 48), ("alexnet", 62), ("alexnet-svm", 40)])
def test_a_crop_below_a_models_smallest_input_is_refused_by_the_option(model, crop, tmp_path):
    r = _invoke(["train", model, "--crop", crop, "--results-dir", tmp_path])
    assert "needs an input of 63" in _refusal(r) and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("model", ["alexnet", "alexnet-svm", "vgg19", "mldrnet"])
def test_a_models_smallest_crop_is_accepted(model):
    from mldrnet.training.config import resolve

    entry = models.info(model)
    assert resolve(model, "quick", crop=entry.min_crop).crop == entry.min_crop
    net = models.create(model).eval()
    with torch.no_grad():
        assert net(torch.zeros(1, 3, entry.min_crop, entry.min_crop)).shape == (1, 8)


@pytest.mark.parametrize("size", [32, 40, 62])
def test_bench_models_at_a_small_size_lists_every_model(size):
    r = _invoke(["models", "--size", size, "--json"])
    assert r.exit_code == 0, r.output
    rows = {row["name"]: row for row in json.loads(r.output)}
    assert list(rows) == models.names()
    assert rows["alexnet"]["gflops"] is None and rows["alexnet"]["min_crop"] == 63 and rows["mldrnet"]["gflops"] > 0
    assert _invoke(["models", "--size", size]).exit_code == 0


@pytest.mark.parametrize(
    "to, given, chosen",
    [("onnx-int8", None, "int8"), ("onnx", None, "fp32"), ("tensorrt", "fp16", "fp16"), ("openvino", "int8", "int8")],
)
def test_export_precision_follows_the_format(to, given, chosen):
    from bench.cli.engines import export_precision

    assert export_precision(to, given) == chosen


@pytest.mark.parametrize("to, given", [("onnx-int8", "fp32"), ("onnx", "int8"), ("openvino", "fp16")])
def test_a_precision_the_format_does_not_export_is_refused(to, given):
    from bench.cli.engines import export_precision

    with pytest.raises(BenchError, match="drop --precision"):
        export_precision(to, given)


# --- class 9: hostile environments and files ---------------------------------------------------------------------


def _synth(out, tmp_path, env=None):
    args = ["data", "synth", "--n", "8", "--size", "16"] + (["--out", out] if out is not None else [])
    return _invoke(args, env=env)


@pytest.mark.parametrize(
    "case",
    ["out-is-file", "parent-is-file", "results-dir-is-file", "symlink-loop", "name-too-long", "path-too-long"],
)
def test_synthetic_generation_in_a_hostile_place_is_one_line(case, tmp_path):
    (tmp_path / "file").write_text("x")
    (tmp_path / "loop").symlink_to(tmp_path / "loop")
    env, out = None, None
    if case == "out-is-file":
        out = tmp_path / "file"
    elif case == "parent-is-file":
        out = tmp_path / "file" / "set"
    elif case == "results-dir-is-file":
        env = {"BENCH_RESULTS_DIR": str(tmp_path / "file")}
    elif case == "symlink-loop":
        env = {"BENCH_RESULTS_DIR": str(tmp_path / "loop")}
    elif case == "name-too-long":
        env = {"BENCH_RESULTS_DIR": str(tmp_path / ("n" * 300))}
    else:
        out = tmp_path.joinpath(*["deep" * 20] * 60)
    r = _synth(out, tmp_path, env)
    _refusal(r)
    assert not r.output.count("Traceback")


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts a tmpfs)")
@pytest.mark.parametrize("mount", ["ro", "full"])
def test_synthetic_generation_on_a_read_only_or_full_disk_is_one_line(mount, tmp_path):
    where = tmp_path / "mnt"
    where.mkdir()
    opts = "size=64k" + (",ro" if mount == "ro" else "")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", opts, "tmpfs", str(where)], capture_output=True)
    if done.returncode:
        pytest.skip(f"cannot mount a tmpfs: {done.stderr.decode().strip()}")
    try:
        r = _invoke(["data", "synth", "--n", "2400", "--size", "128", "--out", where / "set"])
        message = _refusal(r)
        assert ("read-only" if mount == "ro" else "no space left") in message
        assert not (where / "set").exists()
    finally:
        subprocess.run(["umount", str(where)], check=False)


@pytest.mark.parametrize(
    "change, says",
    [
        ({"preprocessing.crop": 0}, "preprocessing.crop"),
        ({"preprocessing.crop": 100000}, "preprocessing.crop"),
        ({"preprocessing.std": [0.2, 0.0, 0.2]}, "preprocessing.std"),
        ({"preprocessing.std": [float("nan")] * 3}, "preprocessing.std"),
        ({"preprocessing.mean": [float("inf"), 0, 0]}, "preprocessing.mean"),
        ({"preprocessing.resize": 8}, "preprocessing.resize"),
        ({"preprocessing.crop": "64"}, "preprocessing.crop"),
        ({"best_val_acc": 2.0}, "best_val_acc"),
        ({"test_acc": float("nan")}, "test_acc"),
        ({"epoch": -5}, "epoch"),
        ({"model": "../../x"}, "model"),
        ({"state_dict": [1, 2]}, "state_dict"),
        ({"model_config": "levels=9"}, "model_config"),
    ],
    ids=lambda v: str(v)[:30],
)
def test_checkpoint_values_are_held_to_the_cli_bounds(change, says, tmp_path):
    torch.save(_checkpoint_dict(**change), tmp_path / "best.pt")
    with pytest.raises(BenchError) as e:
        Checkpoint.load(tmp_path / "best.pt")
    message = _one_line(str(e.value))
    assert says in message and str(tmp_path / "best.pt") in message


@pytest.mark.parametrize("mismatch", ["classes", "shape", "missing", "extra"])
def test_weights_that_do_not_fit_the_checkpoints_model_are_one_line(mismatch, tmp_path):
    raw = _checkpoint_dict()
    if mismatch == "classes":
        raw["classes"] = [*CLASSES, "surprise"]
    elif mismatch == "shape":
        key = next(k for k in raw["state_dict"] if k.endswith("weight"))
        raw["state_dict"][key] = torch.zeros(3, 3)
    elif mismatch == "missing":
        raw["state_dict"].pop(next(iter(raw["state_dict"])))
    else:
        raw["state_dict"]["bogus.weight"] = torch.zeros(1)
    torch.save(raw, tmp_path / "best.pt")
    with pytest.raises(BenchError) as e:
        models.load(Checkpoint.load(tmp_path / "best.pt"))
    assert "do not fit" in _one_line(str(e.value)) and str(tmp_path / "best.pt") in str(e.value)


def _skops_state(kind: str) -> dict:
    import skops.io as sio
    from sklearn.svm import SVC

    spec = json.dumps({"method": "zhao", "groups": [], "classifier": "svm", "num_classes": 8})
    blob = {
        "garbage": b"not a skops file at all",
        "empty": b"",
        "unfitted": sio.dumps(SVC()),
        "zip-junk": b"PK\x05\x06" + b"\x00" * 18,
    }.get(kind, b"x")
    meta = json.dumps({"kind": "skops"})
    if kind == "meta-not-json":
        meta = "{kind: skops"
    if kind == "meta-a-list":
        meta = "[1, 2]"
    if kind == "spec-not-json":
        spec = "nope"
    arrays = {"skops": torch.from_numpy(np.frombuffer(blob, dtype=np.uint8).copy())} if blob else {}
    return {"arrays": arrays, "meta": meta, "spec": spec}


@pytest.mark.parametrize(
    "kind", ["garbage", "empty", "unfitted", "zip-junk", "meta-not-json", "meta-a-list", "spec-not-json"]
)
def test_a_bad_skops_blob_or_meta_is_one_line(kind):
    from mldrnet.models.handcrafted import FeatureModel

    model = FeatureModel(8, "zhao")
    with pytest.raises(BenchError) as e:
        model.set_extra_state(_skops_state(kind))
    assert "classifier" in _one_line(str(e.value))


POISON = {
    "nan": lambda n: np.full(n, np.nan),
    "inf": lambda n: np.full(n, np.inf),
    "wrong-length": lambda n: np.zeros(n + 3),
    "two-dimensional": lambda n: np.zeros((n, 2)),
    "complex": lambda n: np.zeros(n, dtype=np.complex128),
    "integers": lambda n: np.zeros(n, dtype=np.int64),
    "empty": lambda n: np.zeros(0),
}


@pytest.mark.parametrize("poison", [*POISON, "pickle", "truncated", "not-npy"])
def test_a_poisoned_feature_cache_entry_is_discarded_and_recomputed(poison, tmp_path):
    from mldrnet.data.transforms import Preprocessing
    from mldrnet.models.handcrafted import FeatureCache, FeatureSpec

    spec = FeatureSpec("machajdik", None, "svm")
    cache = FeatureCache(tmp_path, spec, Preprocessing(32))
    good = np.linspace(0, 1, cache.size)
    cache.put("ab" * 20, good)
    np.testing.assert_array_equal(cache.get("ab" * 20), good)
    path = cache.path("ab" * 20)
    if poison in POISON:
        np.save(path, POISON[poison](cache.size), allow_pickle=False)
        path.with_suffix(".npy.npy").replace(path) if path.with_suffix(".npy.npy").exists() else None
    elif poison == "pickle":
        np.save(path, np.array([{"x": 1}], dtype=object), allow_pickle=True)
    elif poison == "truncated":
        path.write_bytes(path.read_bytes()[:40])
    else:
        path.write_text("hello")
    assert cache.get("ab" * 20) is None and not path.exists()  # discarded, so the next put writes it again


def test_split_features_recompute_a_poisoned_entry(tmp_path):
    from PIL import Image

    from mldrnet.data.transforms import Preprocessing
    from mldrnet.models.handcrafted import FeatureCache, FeatureSpec, _file_hash, split_features

    spec = FeatureSpec("machajdik", None, "svm")
    prep = Preprocessing(32)
    cache = FeatureCache(tmp_path, spec, prep)
    images = []
    for i in range(2):
        path = tmp_path / f"{i}.png"
        Image.fromarray(np.random.default_rng(i).integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(path)
        images.append((str(path), i))
    first, _ = split_features(spec, prep, images, cache, workers=1)
    np.save(cache.path(_file_hash(images[0][0])), np.full(cache.size, np.nan))
    again, labels = split_features(spec, prep, images, cache, workers=1)
    assert np.isfinite(again).all() and list(labels) == [0, 1]
    np.testing.assert_allclose(again, first)
    assert np.isfinite(np.load(cache.path(_file_hash(images[0][0])))).all()  # rewritten


@pytest.mark.parametrize("field_kb", [128, 1024])
def test_a_huge_field_in_a_noisy_extra_csv_is_one_line(field_kb, tmp_path):
    from mldrnet.data.noise import load_extra

    csv = tmp_path / "extra.csv"
    csv.write_text(f"img.jpg,{'x' * field_kb * 1024}\n")
    with pytest.raises(BenchError) as e:
        load_extra(csv, CLASSES)
    assert str(csv) in _one_line(str(e.value))


# --- class 10: messages that say what, where and what to do; options that do not apply are refused ------------


@pytest.mark.parametrize("option", [["--weights", "/nonexistent.pth"], ["--pretrained"]])
@pytest.mark.parametrize("model", ["mldrnet", "zhao"])
def test_imagenet_options_on_a_model_trained_from_scratch_say_so(option, model, tmp_path):
    r = _invoke(["train", model, *option, "--results-dir", tmp_path])
    message = _refusal(r)
    assert "does not apply" in message and "alexnet" in message and "unexpected keyword" not in message


@pytest.mark.parametrize(
    "opt, says",
    [
        ("levels=__import__('os')", "levels takes an integer"),
        ("levels=4.5", "levels takes an integer"),
        ("fusion=3", "fusion takes a word"),
        ("dropout=Infinity", "dropout takes a finite number"),
        ("batch_norm=1", "batch_norm takes true or false"),
        ("depth=3", "has no option 'depth'"),
        ("levels=" + "[" * 1000 + "]" * 1000, "nested deeper"),
    ],
    ids=range(7),
)
def test_a_model_option_of_the_wrong_type_names_the_option(opt, says, tmp_path):
    r = _invoke(["train", "mldrnet", "--model-opt", opt, "--results-dir", tmp_path])
    message = _refusal(r)
    assert says in message and "not supported" not in message and not (tmp_path / "runs").exists()


@pytest.mark.parametrize("fold", [1, 5, 99])
@pytest.mark.parametrize("command", ["train", "data-info"])
def test_a_fold_on_a_dataset_without_folds_is_refused(command, fold, tmp_path):
    args = (
        ["train", "mldrnet", "--fold", fold, "--results-dir", tmp_path]
        if command == "train"
        else ["data", "info", "--dataset", "synth", "--fold", fold, "--results-dir", tmp_path]
    )
    assert "no folds" in _refusal(_invoke(args))


@pytest.mark.parametrize(
    "experiment, option",
    [
        ("table1", ["--image", __file__]),
        ("fig6", ["--image", __file__]),
        ("table1", ["--extended"]),
        ("fig5", ["--noisy-extra", __file__]),
        ("table3", ["--source-data-root", "/tmp"]),
    ],
)
def test_a_reproduce_option_that_does_not_apply_is_refused(experiment, option, tmp_path, monkeypatch):
    from bench.reproduce import run as reproduce_run

    monkeypatch.setitem(reproduce_run.EXPERIMENTS, experiment, lambda ctx: pytest.fail("ran"))
    r = _invoke(["reproduce", experiment, *option, "--out", tmp_path / "out", "--results-dir", tmp_path / "r"])
    assert "does not apply" in _refusal(r) and not (tmp_path / "out").exists()


@pytest.mark.parametrize("out", ["new", "new/deeper"])
def test_a_refused_compare_leaves_no_out_folder(out, tmp_path):
    r = _invoke(["compare", "--out", tmp_path / out, "--results-dir", tmp_path / "empty-results", "--no-plots"])
    assert "no trained models" in _refusal(r)
    assert not (tmp_path / out).exists()


def test_a_refused_compare_keeps_an_out_folder_that_was_there(tmp_path):
    (tmp_path / "mine").mkdir()
    (tmp_path / "mine" / "notes.txt").write_text("keep me")
    r = _invoke(["compare", "--out", tmp_path / "mine", "--results-dir", tmp_path / "empty-results"])
    _refusal(r)
    assert (tmp_path / "mine" / "notes.txt").read_text() == "keep me"


def test_bench_main_prints_a_hostile_error_as_one_escaped_line(tmp_path):
    bad = tmp_path / "x\x1b[2Jy.pth"
    code = (
        "import sys\nfrom bench.cli import main\n"
        f"sys.argv = ['bench', 'train', 'alexnet', '--weights', {str(bad)!r}, '--results-dir', {str(tmp_path)!r}]\n"
        "main()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=300)
    assert done.returncode == 1 and "\x1b[2J" not in done.stderr and "\\x1b[2J" in done.stderr, done.stderr[-500:]
    assert done.stderr.strip().count("\n") == 0
    assert errno.ENOENT  # (the file does not exist: its name, escaped, is the message)


@pytest.mark.parametrize("fill", ["nan", "inf", "all-nan"])
def test_non_finite_checkpoint_weights_are_called_damaged_not_a_learning_rate(fill, tmp_path):
    raw = _checkpoint_dict()
    for i, value in enumerate(raw["state_dict"].values()):
        if value.is_floating_point() and (fill == "all-nan" or i == 0):
            value.fill_(float("inf") if fill == "inf" else float("nan"))
    torch.save(raw, tmp_path / "best.pt")
    with pytest.raises(BenchError) as e:
        models.load(Checkpoint.load(tmp_path / "best.pt"))
    message = _one_line(str(e.value))
    assert "non-finite weights" in message and "--lr" not in message and "train mldrnet-l2 again" in message
