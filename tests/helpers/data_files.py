"""Tiny on-disk fixtures for the data-layer tests: images (good and bad) and each dataset's exact layout."""

from __future__ import annotations

import json
import os
import struct
import zlib
from pathlib import Path

import numpy as np
from PIL import Image

from mldrnet import EMOTIONS

COLOURS = [
    (200, 30, 30),
    (30, 200, 30),
    (30, 30, 200),
    (200, 200, 30),
    (30, 200, 200),
    (200, 30, 200),
    (120, 120, 120),
    (250, 150, 50),
]


def jpg(path: Path, colour=(200, 30, 30), size=(24, 16)) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.new("RGB", size, colour).save(path, quality=95)
    return path


def noise_jpg(path: Path, size=(48, 48), seed=0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    arr = np.random.default_rng(seed).integers(0, 256, (size[1], size[0], 3), dtype=np.uint8)
    Image.fromarray(arr).save(path, quality=90)
    return path


def truncated_jpg(path: Path) -> Path:
    noise_jpg(path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) * 6 // 10])
    return path


def zero_byte(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(b"")
    return path


def text_as_jpg(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("<html><body>This photo is no longer available</body></html>")
    return path


def bomb_png(path: Path, width=40000, height=40000) -> Path:
    """A PNG header claiming width x height pixels, with no real pixel data: Pillow's bomb check fires on open."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(
        b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b"")
    )
    return path


def bad_files(folder: Path, stem: str) -> list[Path]:
    """The three kinds of bad file a scraped dataset holds, named like its good files."""
    return [
        truncated_jpg(folder / f"{stem}_9997.jpg"),
        zero_byte(folder / f"{stem}_9998.jpg"),
        text_as_jpg(folder / f"{stem}_9999.jpg"),
    ]


def write_fi(root: Path, per_class: int = 3, bad_in: str | None = None) -> Path:
    """root/emotion_dataset/<emotion>/<emotion>_NNNN.jpg; `bad_in` adds the three bad files to that class."""
    base = root / "emotion_dataset"
    for label, emotion in enumerate(EMOTIONS):
        for k in range(per_class):
            jpg(base / emotion / f"{emotion}_{k:04d}.jpg", COLOURS[label])
    if bad_in:
        bad_files(base / bad_in, bad_in)
    return root


def write_artphoto(root: Path) -> Path:
    prefixes = ["amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sad"]
    for label, prefix in enumerate(prefixes):
        for k in (1, 2, 13):
            jpg(root / f"{prefix}_{k}.jpg", COLOURS[label])
    (root / "ReadMe.rtf").write_text("{\\rtf1 ArtPhoto}")
    jpg(root / "unknown_1.jpg")
    return root


ABSTRACT_HEADER = "'ID','Amusement','Anger','Awe','Content','Disgust','Excitement','Fear','Sad'"


def write_abstract(root: Path) -> tuple[Path, dict[str, int]]:
    """Paintings + ABSTRACT_groundTruth.csv in single quotes; returns the expected labels (ties excluded)."""
    rows, expected = [ABSTRACT_HEADER], {}
    for label in range(8):
        for k in range(2):
            name = f"abstract_{label * 10 + k}.jpg"
            votes = [1] * 8
            votes[label] = 6
            rows.append(f"'{name}'," + ",".join(map(str, votes)))
            jpg(root / name, COLOURS[label])
            expected[name] = label
    jpg(root / "abstract_98.jpg")
    rows.append("'abstract_98.jpg',5,5,0,0,0,0,0,4")  # tie amusement/anger: dropped
    rows.append("'abstract_99.jpg',0,0,9,0,0,0,0,0")  # listed, but no such file
    (root / "ABSTRACT_groundTruth.csv").write_text("\r\n".join(rows) + "\r\n")
    return root, expected


def write_iaps(root: Path) -> tuple[Path, dict[str, int]]:
    """IAPS pictures named by number + a CSV of picture number -> emotion (header, mixed spellings)."""
    expected, lines = {}, ["Picture,Emotion"]
    spell = {"sadness": "sad", "contentment": "Contentment"}
    for label, emotion in enumerate(EMOTIONS):
        for k in range(2):
            number = f"{1000 + label * 10 + k}.{k + 1}"
            jpg(root / f"{number}.jpg", COLOURS[label])
            lines.append(f"{number},{spell.get(emotion, emotion)}")
            expected[f"{number}.jpg"] = label
    jpg(root / "2352.1.jpg")
    lines.append("2352.10,amusement")  # the picture number written with a trailing zero
    expected["2352.1.jpg"] = 0
    (root / "IAPS_subset_mikels.csv").write_text("\n".join(lines) + "\n")
    return root, expected


EMOTION6_CLASSES = ("anger", "disgust", "fear", "joy", "sadness", "surprise")


def write_emotion6(root: Path) -> Path:
    lines = [
        "[image_filename]\t[valence]\t[arousal]\t[prob. anger]\t[prob. disgust]\t[prob. fear]\t[prob. joy]"
        "\t[prob. sadness]\t[prob. surprise]\t[prob. neutral]"
    ]
    for label, emotion in enumerate(EMOTION6_CLASSES):
        for k in (1, 2, 3):
            jpg(root / "images" / emotion / f"{k}.jpg", COLOURS[label])
            probs = ["0.1"] * 7
            lines.append("\t".join([f"{emotion}/{k}.jpg", "4.5", "5.1", *probs]))
    (root / "ground_truth.txt").write_text("\n".join(lines) + "\n")
    return root


# EmoSet's own label ids: NOT alphabetical
EMOSET_LABEL2IDX = {
    "amusement": 0,
    "awe": 1,
    "contentment": 2,
    "excitement": 3,
    "anger": 4,
    "disgust": 5,
    "fear": 6,
    "sadness": 7,
}


def write_emoset(root: Path, fields: int = 3, numeric: bool = False) -> tuple[Path, dict[str, tuple[int, str]]]:
    """image/, annotation/, {train,val,test}.json with 3- or 4-field entries, info.json. Returns rel -> (label,
    split)."""
    expected, splits = {}, {"train": [], "val": [], "test": []}
    for emotion in EMOTIONS:
        for k, split in enumerate(("train", "train", "val", "test")):
            image_id = f"{emotion}_{k:05d}"
            rel_img, rel_ann = f"image/{emotion}/{image_id}.jpg", f"annotation/{emotion}/{image_id}.json"
            jpg(root / rel_img, COLOURS[EMOTIONS.index(emotion)])
            (root / rel_ann).parent.mkdir(parents=True, exist_ok=True)
            (root / rel_ann).write_text(json.dumps({"emotion": emotion, "image_id": image_id}))
            label = EMOSET_LABEL2IDX[emotion] if numeric else emotion
            entry = [label, rel_img, rel_ann] if fields == 3 else [label, image_id, rel_img, rel_ann]
            splits[split].append(entry)
            expected[rel_img] = (EMOTIONS.index(emotion), split)
    for split, entries in splits.items():
        (root / f"{split}.json").write_text(json.dumps(entries))
    info = {"label2idx": EMOSET_LABEL2IDX, "idx2label": {str(v): k for k, v in EMOSET_LABEL2IDX.items()}}
    (root / "info.json").write_text(json.dumps(info))
    return root, expected


def write_mart(root: Path, per_class: int = 10) -> tuple[Path, dict[str, int]]:
    expected, lines = {}, ["file,label"]
    for k in range(2 * per_class):
        positive = k % 2 == 0
        name = f"{k + 1}.jpg"
        jpg(root / "images" / name, COLOURS[0] if positive else COLOURS[2])
        lines.append(f"{name},{'positive' if positive else 'negative'}")
        expected[f"images/{name}"] = 0 if positive else 1
    (root / "mart_labels.csv").write_text("\n".join(lines) + "\n")
    return root, expected


def write_raw_name(folder: Path, name: bytes, data: bytes) -> str:
    """A file whose name is raw bytes (e.g. b'caf\\xe9.jpg', Latin-1, not valid UTF-8); returns the name as Python
    lists it (os.fsdecode: surrogate escapes)."""
    folder.mkdir(parents=True, exist_ok=True)
    fd = os.open(os.fsencode(folder) + b"/" + name, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o644)
    try:
        os.write(fd, data)
    finally:
        os.close(fd)
    return os.fsdecode(name)


def write_hostile_fi(root: Path, per_class: int = 3) -> tuple[Path, dict[str, str]]:
    """FI layout plus what real folders hold: a good image and an empty file with non-UTF-8 names, a symlink
    loop, a dangling image symlink and a folder named like an image, all in awe/. Returns root and the
    expected reason (a substring) per unusable file name."""
    write_fi(root, per_class=per_class)
    awe = root / "emotion_dataset" / "awe"
    write_raw_name(awe, b"caf\xe9.jpg", (awe / "awe_0000.jpg").read_bytes())
    empty = write_raw_name(awe, b"vide_\xe9t\xe9.jpg", b"")
    os.symlink("loop.jpg", awe / "loop.jpg")  # points at itself
    os.symlink("no_such_target.jpg", awe / "dangling.jpg")
    (awe / "album.jpg").mkdir()
    return root, {empty: "empty file", "loop.jpg": "symlink loop", "dangling.jpg": "dangling symlink"}
