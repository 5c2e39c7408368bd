"""`--dataset folder --data-root PATH`: the user's own labelled images, one subfolder per class, any number of
classes, through the same split, verify, train and compare path as the paper's datasets."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from mldrnet.data import DataConfig, prepare_data
from mldrnet.data.datasets.folder import scan
from mldrnet.errors import BenchError
from tests.helpers.compare_fakes import cli_app
from tests.helpers.data_files import jpg, noise_jpg

runner = CliRunner()
COLOURS = {"calm": (40, 90, 200), "Joy": (230, 200, 30), "rage": (200, 20, 20)}  # a capital sorts case-insensitively


def make_folder(root, per_class: int = 14):
    for name, colour in COLOURS.items():
        for k in range(per_class):
            shade = tuple(min(255, v + 3 * k) for v in colour)
            jpg(root / name / f"{name}_{k}.jpg", shade, size=(48, 40))
    (root / "empty").mkdir()
    jpg(root / "stray.jpg")
    return root


def test_classes_are_the_subfolders_with_images_in_sorted_order(tmp_path):
    listing = scan(make_folder(tmp_path / "mine"))
    assert listing.classes == ("calm", "Joy", "rage")
    assert len(listing.samples) == 42 and {label for _, label in listing.samples} == {0, 1, 2}
    assert any("empty" in d for d in listing.dropped) and any(
        "stray" in d or "directly in" in d for d in listing.dropped
    )


def test_one_class_or_none_is_a_one_line_error(tmp_path):
    jpg(tmp_path / "only" / "a.jpg")
    with pytest.raises(BenchError, match="two or more"):
        scan(tmp_path)
    with pytest.raises(BenchError, match="not a folder"):
        scan(tmp_path / "missing")


def test_prepared_data_carries_the_folders_classes_and_a_stratified_split(tmp_path):
    data = prepare_data(DataConfig(dataset="folder", data_root=str(make_folder(tmp_path / "mine"))), tmp_path / "res")
    assert data.classes == ("calm", "Joy", "rage")
    assert len(data.train) + len(data.val) + len(data.test) == 42
    assert {label for _, label in data.test} == {0, 1, 2}  # every class in the test split


def test_train_and_compare_on_three_classes_end_to_end(tmp_path):
    mine, results = make_folder(tmp_path / "mine"), tmp_path / "results"
    noise_jpg(mine / "calm" / "texture.jpg")  # an image that is not a flat colour: still fine
    r = runner.invoke(
        cli_app(),
        [
            "train",
            "mldrnet-l2",
            "--dataset",
            "folder",
            "--data-root",
            str(mine),
            "--epochs",
            "1",
            "--crop",
            "32",
            "--results-dir",
            str(results),
            "--no-progress",
        ],
    )
    assert r.exit_code == 0, r.output
    out = results / "compare" / "mine"
    r = runner.invoke(
        cli_app(),
        [
            "compare",
            "--dataset",
            "folder",
            "--results-dir",
            str(results),
            "--engines",
            "torch-cpu",
            "--batch-sizes",
            "1",
            "--threads",
            "1",
            "--out",
            str(out),
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
    row = json.loads((out / "records.json").read_text())["records"][0]
    assert row["model"] == "mldrnet-l2" and row["status"] == "ok"
    assert row["classes"] == ["calm", "Joy", "rage"] and len(row["per_class_tpr_pct"]) == 3
    assert row["test_images"] >= 6 and 0 <= row["accuracy_pct"] <= 100
