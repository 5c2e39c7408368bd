"""Splits: seeded, stratified, written once and reused; changes detected; noise only on training labels."""

from collections import Counter
from pathlib import Path

import pytest

from mldrnet.data import DataConfig, prepare_data
from mldrnet.data.splits import kfold_split, kfold_val, ratio_split
from mldrnet.errors import BenchError
from tests.helpers.data_files import jpg, write_emoset, write_fi, write_mart

LABELS = [c for c in range(4) for _ in range(40)] + [4] * 3  # 4 classes of 40 and a tiny class of 3


def test_ratio_split_is_seeded_and_stratified():
    a, b, c = (ratio_split(LABELS, (0.8, 0.05, 0.15), s) for s in (0, 0, 1))
    assert a == b and a != c
    for cls in range(4):
        got = Counter(w for w, y in zip(a, LABELS) if y == cls)
        assert got == {"train": 32, "val": 2, "test": 6}  # exactly per class, not just overall


def test_kfold_balanced_even_with_tiny_classes():
    folds = kfold_split(LABELS, 5, seed=0)
    assert folds == kfold_split(LABELS, 5, seed=0) and folds != kfold_split(LABELS, 5, seed=1)
    for cls in range(4):
        assert Counter(f for f, y in zip(folds, LABELS) if y == cls) == {f: 8 for f in range(5)}
    sizes = Counter(folds).values()
    assert max(sizes) - min(sizes) <= 1  # the 3 tiny-class members go to 3 different, least-filled folds
    assert len({f for f, y in zip(folds, LABELS) if y == 4}) == 3


def test_kfold_fold_sizes_stay_even_when_classes_do_not_divide():
    labels = [c for c in range(6) for _ in range(7)]  # 42 images, 7 per class, 5 folds: 2 extra per class
    sizes = Counter(kfold_split(labels, 5, seed=0)).values()
    assert max(sizes) - min(sizes) <= 1  # the extras rotate over the folds instead of piling onto folds 0 and 1


def test_kfold_val_comes_from_training_folds_stratified():
    folds = kfold_split(LABELS, 5, seed=0)
    val = kfold_val(LABELS, folds, test_fold=2, seed=0)
    assert val == kfold_val(LABELS, folds, test_fold=2, seed=0)
    assert all(folds[i] != 2 for i in val)
    assert Counter(LABELS[i] for i in val) == {0: 3, 1: 3, 2: 3, 3: 3}  # 10% of the 32 training images per class


def fi_cfg(root, **kw):
    return DataConfig(dataset="fi", data_root=str(root), **kw)


@pytest.fixture
def fi_root(tmp_path):
    return write_fi(tmp_path / "fi", per_class=20)


def test_fi_split_written_once_and_reused(fi_root, tmp_path):
    res = tmp_path / "results"
    a = prepare_data(fi_cfg(fi_root), res)
    assert a.split_file == res / "splits" / "fi_seed0.json" and a.split_file.is_file()
    stamp = a.split_file.stat().st_mtime_ns
    b = prepare_data(fi_cfg(fi_root), res)
    assert b.split_file.stat().st_mtime_ns == stamp  # read, not rewritten
    assert (a.train, a.val, a.test, a.split_hash) == (b.train, b.val, b.test, b.split_hash)
    assert (len(a.train), len(a.val), len(a.test)) == (128, 8, 24)  # 80 / 5 / 15 % of 160, per class
    paths = [p for p, _ in a.train + a.val + a.test]
    assert len(set(paths)) == 160 and all(Path(p).is_file() for p in paths)


def test_split_survives_a_moved_dataset(fi_root, tmp_path):
    res = tmp_path / "results"
    a = prepare_data(fi_cfg(fi_root), res)
    moved = fi_root.rename(tmp_path / "elsewhere")
    b = prepare_data(fi_cfg(moved), res)
    assert b.split_hash == a.split_hash and [Path(p).name for p, _ in b.test] == [Path(p).name for p, _ in a.test]


def test_different_seed_gives_another_split_file(fi_root, tmp_path):
    a = prepare_data(fi_cfg(fi_root), tmp_path / "r")
    b = prepare_data(fi_cfg(fi_root, seed=1), tmp_path / "r")
    assert b.split_file.name == "fi_seed1.json" and a.test != b.test and a.split_hash != b.split_hash


def test_changed_file_list_is_an_error_until_resplit(fi_root, tmp_path, caplog):
    res = tmp_path / "results"
    a = prepare_data(fi_cfg(fi_root), res)
    jpg(fi_root / "emotion_dataset" / "awe" / "awe_0100.jpg")
    (fi_root / "emotion_dataset" / "fear" / "fear_0000.jpg").unlink()
    with pytest.raises(BenchError, match=r"file list changed \(1 added, 1 removed, 0 relabelled\).*--force"):
        prepare_data(fi_cfg(fi_root), res)
    b = prepare_data(fi_cfg(fi_root, resplit=True), res)
    assert "re-splitting fi" in caplog.text
    assert b.split_hash != a.split_hash and any(p.endswith("awe_0100.jpg") for p, _ in b.train + b.val + b.test)
    assert prepare_data(fi_cfg(fi_root), res).split_hash == b.split_hash  # the new split is now the one reused


def test_corrupt_split_file_is_reported(fi_root, tmp_path):
    res = tmp_path / "results"
    path = prepare_data(fi_cfg(fi_root), res).split_file
    path.write_text("{not json")
    with pytest.raises(BenchError, match="cannot read split file .*delete it"):
        prepare_data(fi_cfg(fi_root), res)


def test_label_noise_flips_train_labels_only(fi_root, tmp_path):
    clean = prepare_data(fi_cfg(fi_root), tmp_path / "r")
    noisy = prepare_data(fi_cfg(fi_root, label_noise=0.25), tmp_path / "r")
    assert noisy.val == clean.val and noisy.test == clean.test and noisy.split_hash == clean.split_hash
    assert [p for p, _ in noisy.train] == [p for p, _ in clean.train]
    flipped = sum(a != b for (_, a), (_, b) in zip(clean.train, noisy.train))
    assert flipped == noisy.n_flipped == round(0.25 * len(clean.train))
    again = prepare_data(fi_cfg(fi_root, label_noise=0.25), tmp_path / "r")
    assert again.train == noisy.train  # seeded
    with pytest.raises(BenchError, match="label-noise"):
        prepare_data(fi_cfg(fi_root, label_noise=1.0), tmp_path / "r")


def test_noisy_extra_folder_and_csv_add_training_pairs(fi_root, tmp_path, caplog):
    clean = prepare_data(fi_cfg(fi_root), tmp_path / "r")
    extra = tmp_path / "noisy"
    for k in range(3):
        jpg(extra / "awe" / f"awe_{k}.jpg")
    got = prepare_data(fi_cfg(fi_root, noisy_extra=str(extra)), tmp_path / "r")
    assert got.n_extra == 3 and got.train[:-3] == clean.train and got.test == clean.test
    assert all(label == 2 for _, label in got.train[-3:])
    test_file = clean.test[0][0]
    table = tmp_path / "extra.csv"
    table.write_text(f"path,label\nnoisy/awe/awe_0.jpg,sad\n{test_file},fear\nnoisy/missing.jpg,awe\n")
    got = prepare_data(fi_cfg(fi_root, noisy_extra=str(table)), tmp_path / "r")
    assert (
        got.train[-1] == (str(tmp_path / "noisy/awe/awe_0.jpg"), 7) and got.n_extra == 1
    )  # the test image is kept out
    err = caplog.text
    assert "in the val/test split" in err and "missing.jpg" in err


def test_kfold_dataset_folds_cover_everything_once(tmp_path):
    root, _ = write_mart(tmp_path / "mart", per_class=10)
    tests, hashes = [], set()
    for fold in range(10):
        d = prepare_data(DataConfig(dataset="mart", data_root=str(root), fold=fold), tmp_path / "r")
        assert d.folds == 10 and d.fold == fold and d.classes == ("positive", "negative")
        train, val, test = ({p for p, _ in part} for part in (d.train, d.val, d.test))
        assert not (test & train) and not (test & val) and not (val & train)
        assert len(val) == 2 and Counter(y for _, y in d.val) == {0: 1, 1: 1}  # 10% of 9 per class, stratified
        tests += [p for p, _ in d.test]
        hashes.add(d.split_hash)
    assert len(tests) == len(set(tests)) == 20 and len(hashes) == 10
    with pytest.raises(BenchError, match="--fold 10 is out of range"):
        prepare_data(DataConfig(dataset="mart", data_root=str(root), fold=10), tmp_path / "r")


def test_emoset_uses_its_own_split(tmp_path):
    root, expected = write_emoset(tmp_path / "emoset", fields=4)
    d = prepare_data(DataConfig(dataset="emoset", data_root=str(root), seed=3), tmp_path / "r")
    for part in ("train", "val", "test"):
        got = {Path(p).relative_to(root).as_posix() for p, _ in getattr(d, part)}
        assert got == {rel for rel, (_, split) in expected.items() if split == part}


def test_real_dataset_needs_data_root(tmp_path):
    with pytest.raises(BenchError, match="needs --data-root"):
        prepare_data(DataConfig(dataset="fi"), tmp_path)
    with pytest.raises(BenchError, match="unknown dataset 'cifar'"):
        prepare_data(DataConfig(dataset="cifar"), tmp_path)
