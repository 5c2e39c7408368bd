"""The data layer on real, hostile folders (issue 13, item 5 and predict's folder message from item 7): file names
that are not valid UTF-8, symlink loops, dangling links, folders where files should be, and every archive layout a
loader is found in."""

import json
import logging
import os
import re
import shutil
from types import SimpleNamespace

import pytest
from typer.testing import CliRunner

from bench.cli import _register_commands, app
from mldrnet.data import DATASETS, DataConfig, UnreadableImage, decode_image, make_loader, prepare_data
from mldrnet.data.decode import probe_image
from mldrnet.data.splitfile import read as read_split
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError
from tests.helpers.data_files import (
    jpg,
    write_abstract,
    write_emoset,
    write_emotion6,
    write_hostile_fi,
    write_iaps,
    write_mart,
    write_raw_name,
)

runner = CliRunner()
if not any(g.name == "data" for g in app.registered_groups):
    _register_commands()

CAFE = os.fsdecode(b"caf\xe9.jpg")  # 'caf\udce9.jpg'


def printable(name: str) -> str:
    """How the messages show a name: its bytes that are not UTF-8 as \\xNN ('caf\\xe9.jpg')."""
    return name.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@pytest.fixture
def warnings_seen():
    """Warnings of the data layer, whether or not an earlier test routed library logs to the CLI console."""
    seen: list[str] = []

    class Keep(logging.Handler):
        def emit(self, record):
            seen.append(record.getMessage())

    logger = logging.getLogger("mldrnet.data")
    handler = Keep(logging.WARNING)
    logger.addHandler(handler)
    yield seen
    logger.removeHandler(handler)


def test_fi_with_hostile_entries_prepares_and_round_trips_its_split(tmp_path, warnings_seen):
    root, unusable = write_hostile_fi(tmp_path / "fi")
    cfg = DataConfig(dataset="fi", data_root=str(root))
    data = prepare_data(cfg, tmp_path / "r")  # used to crash hashing the file list (UnicodeEncodeError)
    paths = {os.path.basename(p): p for p, _ in data.train + data.val + data.test}
    assert set(unusable) | {CAFE} <= set(paths)  # listed like corrupt files: the split is stable when repaired
    assert "album.jpg" not in paths and any("album.jpg" in d and "is a folder" in d for d in data.dropped)
    assert decode_image(paths[CAFE]).size == (24, 16)  # the non-UTF-8 name opens
    for name, reason in unusable.items():
        with pytest.raises(UnreadableImage, match=reason):
            decode_image(paths[name])
    # the split file is JSON (ASCII escapes) and reads back to the same names: a second run reuses it
    text = data.split_file.read_text(encoding="ascii")
    assert "caf\\udce9.jpg" in text and any(s[0] == f"awe/{CAFE}" for s in read_split(data.split_file).samples)
    again = prepare_data(cfg, tmp_path / "r")
    assert again.split_hash == data.split_hash and again.train == data.train
    json.dumps(data.summary())  # what checkpoints carry stays valid JSON
    # training reads the same list: the good non-UTF-8 image is used, each unusable file skipped and named once
    loader = make_loader(data.train + data.val + data.test, Preprocessing(crop=16), train=False, batch_size=64)
    n_images = sum(len(images) for images, _, _ in loader)
    assert n_images == len(paths) - len(unusable)
    assert sorted(os.path.basename(p) for p in loader.unreadable) == sorted(unusable)
    skipped = [w for w in warnings_seen if w.startswith("skipping unreadable image")]
    assert len(skipped) == len(unusable) and all(w.encode("utf-8") for w in skipped)


def test_verify_and_info_name_each_unusable_file_once_and_agree(tmp_path, warnings_seen):
    root, unusable = write_hostile_fi(tmp_path / "fi")
    args = ["--dataset", "fi", "--data-root", str(root), "--results-dir", str(tmp_path / "r")]
    verify = runner.invoke(app, ["data", "verify", *args], env={"COLUMNS": "400"})
    assert verify.exit_code == 2, verify.output  # bad files found, no traceback
    bad_lines = [line for line in verify.output.splitlines() if line.startswith("bad ")]
    assert len(bad_lines) == len(unusable)
    for name, reason in unusable.items():
        assert sum(printable(name) in line for line in bad_lines) == 1
        assert any(printable(name) in line and reason in line for line in bad_lines)
    assert "vide_\\xe9t\\xe9.jpg: empty file" in verify.output  # the raw bytes shown, not a crash
    assert f"{len(unusable)} unreadable" in verify.output and CAFE not in verify.output

    info = runner.invoke(app, ["data", "info", *args], env={"COLUMNS": "200"})
    assert info.exit_code == 0, info.output
    total = [line for line in info.output.splitlines() if line.startswith("│ all")][0]
    assert [c.strip() for c in total.split("│")[1:-1]][-1] == str(len(unusable))  # the same count as verify
    named = [w for w in warnings_seen if "cannot be used" in w]
    assert len(named) == 1
    for name, reason in unusable.items():
        assert named[0].count(printable(name) + ": ") == 1 and reason in named[0]


def test_abstract_csv_beside_the_image_folder(tmp_path):
    _, expected = write_abstract(tmp_path / "testImages_abstract")
    shutil.move(tmp_path / "testImages_abstract" / "ABSTRACT_groundTruth.csv", tmp_path / "ABSTRACT_groundTruth.csv")
    for root in (tmp_path, tmp_path / "testImages_abstract"):  # the archive's top folder or the folder inside it
        listing = DATASETS["abstract"].scan(root)
        assert dict(listing.samples) == expected and listing.root == tmp_path / "testImages_abstract"


@pytest.mark.parametrize(
    "dataset, write, folder, move",
    [
        ("iaps", write_iaps, "IAPS-Subset", "IAPS_subset_mikels.csv"),  # the table beside the pictures' folder
        ("emotion6", write_emotion6, "Emotion6", None),
        ("mart", write_mart, "MART", None),
    ],
)
def test_each_archive_layout_is_accepted(tmp_path, dataset, write, folder, move):
    write(tmp_path / folder)
    if move:
        shutil.move(tmp_path / folder / move, tmp_path / move)
    roots = [tmp_path, tmp_path / folder] + ([tmp_path / folder / "images"] if dataset == "emotion6" else [])
    listings = [DATASETS[dataset].scan(root) for root in roots]
    assert len(listings[0].samples) > 0 and all(listing.samples == listings[0].samples for listing in listings)


@pytest.mark.parametrize(
    "dataset, inner",
    [
        ("fi", "emotion_dataset"),
        ("artphoto", "testImages_artphoto"),
        ("abstract", "testImages_abstract"),
        ("iaps", "IAPS-Subset"),
        ("emotion6", "Emotion6"),
        ("emoset", "EmoSet-118K"),
        ("mart", "MART"),
    ],
)
def test_wrong_folder_error_names_every_place_looked(tmp_path, dataset, inner):
    jpg(tmp_path / "photos" / "x.jpg")
    with pytest.raises(BenchError) as info:
        DATASETS[dataset].scan(tmp_path)
    message = str(info.value)
    assert "\n" not in message and "looked in" in message and "expected" in message
    assert f"{tmp_path / inner} (no such folder)" in message  # the archive's folder inside the data root...
    assert re.search(re.escape(str(tmp_path)) + r"( \(|,|;)", message)  # ...and the data root itself


def test_emoset_missing_split_file_named_per_place(tmp_path):
    write_emoset(tmp_path / "EmoSet-118K")
    (tmp_path / "EmoSet-118K" / "val.json").unlink()
    with pytest.raises(
        BenchError, match=r"looked in .*EmoSet-118K \(val.json not found\), .*EmoSet \(no such folder\)"
    ):
        DATASETS["emoset"].scan(tmp_path)


def test_decode_says_folder_missing_dangling_loop_and_special_file(tmp_path):
    (tmp_path / "photos").mkdir()
    os.symlink("nowhere.jpg", tmp_path / "dangling.jpg")
    os.symlink("loop.jpg", tmp_path / "loop.jpg")
    os.mkfifo(tmp_path / "pipe.jpg")  # opening it would block: refused from its mode
    cases = {
        "photos": "is a folder, not an image file",
        "missing.jpg": "does not exist",
        "dangling.jpg": "dangling symlink (its target nowhere.jpg does not exist)",
        "loop.jpg": "symlink loop",
        "pipe.jpg": "not a file",
    }
    for name, reason in cases.items():
        with pytest.raises(UnreadableImage) as info:
            decode_image(tmp_path / name)
        assert reason in info.value.reason and "corrupt" not in info.value.reason
        assert probe_image(tmp_path / name) == info.value.reason  # info's header check says the same


def test_predict_names_a_folder_and_a_missing_file(tmp_path):
    from engines.predict import predict_images

    (tmp_path / "album").mkdir()
    meta = SimpleNamespace(preprocessing=Preprocessing(crop=32))
    folder, missing = predict_images(None, meta, [tmp_path / "album", tmp_path / "gone.jpg"])
    assert "album: is a folder, not an image file" in folder.error and "corrupt" not in folder.error
    assert "gone.jpg: does not exist" in missing.error


def test_bytes_and_non_utf8_paths_decode(tmp_path):
    name = write_raw_name(tmp_path, b"\xff\xfe_photo.jpg", jpg(tmp_path / "ok.jpg").read_bytes())
    assert decode_image(os.fsencode(tmp_path / name)).size == (24, 16)
    write_raw_name(tmp_path, b"\xffbad.jpg", b"<html>")
    with pytest.raises(UnreadableImage) as info:
        decode_image(os.fsencode(tmp_path) + b"/\xffbad.jpg")
    str(info.value).encode("utf-8")  # printable: no lone surrogates in the message
    assert "\\xffbad.jpg: not an image" in str(info.value)


@pytest.mark.skipif(os.geteuid() == 0, reason="root reads every file whatever its mode")
def test_unreadable_file_is_named(tmp_path):
    path = jpg(tmp_path / "locked.jpg")
    path.chmod(0)
    with pytest.raises(UnreadableImage, match="unreadable"):
        decode_image(path)
    assert "unreadable" in probe_image(path)
