"""Each dataset loader against a tiny fixture in that dataset's exact on-disk format."""

import json

import pytest

from mldrnet import EMOTIONS
from mldrnet.data import DATASETS
from mldrnet.data.labels import EMOTION6, POLARITY
from mldrnet.errors import BenchError
from tests.helpers.data_files import (
    EMOSET_LABEL2IDX,
    EMOTION6_CLASSES,
    jpg,
    write_abstract,
    write_artphoto,
    write_emoset,
    write_emotion6,
    write_fi,
    write_iaps,
    write_mart,
)


def labels_by_path(listing):
    return dict(listing.samples)


def test_registry_names_every_format():
    assert set(DATASETS) == {
        "synth",
        "fi",
        "artphoto",
        "abstract",
        "iaps",
        "emotion6",
        "emoset",
        "mart",
        "folder",
        "synth-artphoto",
        "synth-abstract",
        "synth-iaps",
        "synth-mart",
        "synth-low",
        "synth-mid",
        "synth-high",
    }
    for name in ("synth", "fi", "artphoto", "abstract", "iaps", "emoset"):
        assert DATASETS[name].classes == EMOTIONS
    assert DATASETS["emotion6"].classes == EMOTION6 == EMOTION6_CLASSES
    assert DATASETS["mart"].classes == POLARITY
    assert {n: DATASETS[n].folds for n in ("artphoto", "abstract", "iaps", "mart")} == {
        "artphoto": 5,
        "abstract": 5,
        "iaps": 5,
        "mart": 10,
    }
    assert DATASETS["fi"].ratios == (0.80, 0.05, 0.15) and DATASETS["emoset"].split == "given"


@pytest.mark.parametrize("point_at_parent", [True, False])
def test_fi_labels_by_folder_name(tmp_path, point_at_parent):
    write_fi(tmp_path, per_class=2, bad_in="fear")
    (tmp_path / "emotion_dataset" / "fear" / "notes.txt").write_text("not an image extension: ignored")
    root = tmp_path if point_at_parent else tmp_path / "emotion_dataset"
    listing = DATASETS["fi"].scan(root)
    got = labels_by_path(listing)
    assert len(got) == 8 * 2 + 3  # bad files stay listed: the loader skips them, the split stays stable
    for rel, label in got.items():
        assert rel.split("/")[0] == EMOTIONS[label] and rel.split("/")[1].startswith(EMOTIONS[label] + "_")
    assert listing.root == tmp_path / "emotion_dataset"


def test_fi_ignores_listing_order(tmp_path, monkeypatch):
    write_fi(tmp_path, per_class=1)
    from pathlib import Path

    real = Path.iterdir
    # a file system that lists folders in reverse alphabetical order must not change any label
    monkeypatch.setattr(Path, "iterdir", lambda self: iter(sorted(real(self), reverse=True)))
    got = labels_by_path(DATASETS["fi"].scan(tmp_path))
    assert got == {f"{e}/{e}_0000.jpg": i for i, e in enumerate(EMOTIONS)}


def test_fi_missing_class_fails_up_front(tmp_path):
    write_fi(tmp_path, per_class=1)
    for f in (tmp_path / "emotion_dataset" / "awe").iterdir():
        f.unlink()
    (tmp_path / "emotion_dataset" / "awe").rmdir()
    with pytest.raises(BenchError, match=r"missing class folders awe in .*emotion_dataset; expected"):
        DATASETS["fi"].scan(tmp_path)


def test_fi_empty_class_and_wrong_folder_fail(tmp_path):
    (tmp_path / "photos").mkdir()
    with pytest.raises(BenchError, match="missing class folders amusement, anger"):
        DATASETS["fi"].scan(tmp_path)
    with pytest.raises(BenchError, match="is not a folder"):
        DATASETS["fi"].scan(tmp_path / "nope")
    write_fi(tmp_path / "x", per_class=1)
    (tmp_path / "x" / "emotion_dataset" / "fear" / "fear_0000.jpg").unlink()
    with pytest.raises(BenchError, match="fear has no images"):
        DATASETS["fi"].scan(tmp_path / "x")


def test_artphoto_labels_by_prefix(tmp_path):
    write_artphoto(tmp_path)
    listing = DATASETS["artphoto"].scan(tmp_path)
    got = labels_by_path(listing)
    assert got["sad_1.jpg"] == EMOTIONS.index("sadness") and got["amusement_13.jpg"] == 0
    assert len(got) == 24 and "ReadMe.rtf" not in got
    assert any("unknown_1.jpg" in d for d in listing.dropped)


def test_artphoto_missing_class(tmp_path):
    write_artphoto(tmp_path)
    for f in tmp_path.glob("sad_*.jpg"):
        f.unlink()
    with pytest.raises(BenchError, match="no images for sadness"):
        DATASETS["artphoto"].scan(tmp_path)


def test_abstract_single_quoted_csv_majority_vote_ties_dropped(tmp_path):
    _, expected = write_abstract(tmp_path)
    listing = DATASETS["abstract"].scan(tmp_path)
    assert labels_by_path(listing) == expected  # 'Content' -> contentment, 'Sad' -> sadness, tie and missing left out
    assert any("abstract_99.jpg" in d and "not found" in d for d in listing.dropped)


def test_abstract_without_csv_fails(tmp_path):
    jpg(tmp_path / "abstract_1.jpg")
    with pytest.raises(BenchError, match="ABSTRACT_groundTruth.csv not found"):
        DATASETS["abstract"].scan(tmp_path)


def test_iaps_picture_numbers_and_label_spellings(tmp_path):
    _, expected = write_iaps(tmp_path)
    assert labels_by_path(DATASETS["iaps"].scan(tmp_path)) == expected


def test_iaps_two_tables_is_ambiguous(tmp_path):
    write_iaps(tmp_path)
    (tmp_path / "other.csv").write_text("a,b\n")
    (tmp_path / "more.csv").write_text("a,b\n")
    assert DATASETS["iaps"].scan(tmp_path)  # the one named like IAPS wins
    (tmp_path / "IAPS_subset_mikels.csv").rename(tmp_path / "table.csv")
    with pytest.raises(BenchError, match="several label tables"):
        DATASETS["iaps"].scan(tmp_path)


def test_emotion6_tab_separated_ground_truth(tmp_path):
    write_emotion6(tmp_path)
    listing = DATASETS["emotion6"].scan(tmp_path)
    got = labels_by_path(listing)
    assert len(got) == 18 and got["joy/2.jpg"] == EMOTION6.index("joy") and got["surprise/3.jpg"] == 5
    assert listing.root == tmp_path / "images"


def test_emotion6_needs_ground_truth(tmp_path):
    write_emotion6(tmp_path)
    (tmp_path / "ground_truth.txt").unlink()
    with pytest.raises(BenchError, match="ground_truth.txt"):
        DATASETS["emotion6"].scan(tmp_path)


@pytest.mark.parametrize("fields, numeric", [(3, False), (4, False), (4, True)])
def test_emoset_split_files_and_label_ids(tmp_path, fields, numeric):
    _, expected = write_emoset(tmp_path, fields=fields, numeric=numeric)
    listing = DATASETS["emoset"].scan(tmp_path)
    got = {rel: (label, split) for (rel, label), split in zip(listing.samples, listing.given_split)}
    assert got == expected
    # EmoSet's ids are not the canonical order: awe is EmoSet id 1 but canonical index 2
    assert EMOSET_LABEL2IDX["awe"] == 1 and got["image/awe/awe_00000.jpg"][0] == EMOTIONS.index("awe") == 2


def test_emoset_missing_split_file(tmp_path):
    write_emoset(tmp_path)
    (tmp_path / "val.json").unlink()
    with pytest.raises(BenchError, match="val.json not found"):
        DATASETS["emoset"].scan(tmp_path)


def test_emoset_bad_entries_are_reported(tmp_path):
    write_emoset(tmp_path)
    entries = json.loads((tmp_path / "train.json").read_text())
    entries += [
        ["joy", "image/joy/x.jpg", "annotation/joy/x.json"],
        ["fear", "image/fear/gone.jpg", "a.json"],
        ["fear"],
    ]
    (tmp_path / "train.json").write_text(json.dumps(entries))
    listing = DATASETS["emoset"].scan(tmp_path)
    assert len(listing.samples) == 32 and len(listing.dropped) == 3


def test_mart_csv_positive_negative(tmp_path):
    _, expected = write_mart(tmp_path)
    assert labels_by_path(DATASETS["mart"].scan(tmp_path)) == expected


def test_mart_numeric_labels_without_header(tmp_path):
    for k in range(4):
        jpg(tmp_path / f"p{k}.jpg")
    (tmp_path / "mart.csv").write_text("p0.jpg,1\np1.jpg,0\np2.jpg,-1\np3.jpg,1\n")
    got = labels_by_path(DATASETS["mart"].scan(tmp_path))
    assert got == {"p0.jpg": 0, "p1.jpg": 1, "p2.jpg": 1, "p3.jpg": 0}
