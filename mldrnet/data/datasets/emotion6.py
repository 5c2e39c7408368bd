"""Emotion6 (Peng et al. 2015): `images/<emotion>/<n>.jpg` and a tab-separated `ground_truth.txt`.

`ground_truth.txt` has a header line and one row per image: file name (`anger/1.jpg`), valence, arousal and
7 emotion probabilities (anger, disgust, fear, joy, sadness, surprise, neutral). The label is the image's
category folder, the class it was collected for; a row without a folder falls back to the most probable of
the 6 emotions. 6 classes (`labels.EMOTION6`), split at random like FI.
"""

from __future__ import annotations

from pathlib import Path

from mldrnet.data.base import DatasetSpec, Listing
from mldrnet.data.decode import printable
from mldrnet.data.files import (
    find_place,
    first_per_path,
    is_number,
    listed_file,
    places,
    require_dir,
    require_every_class,
)
from mldrnet.data.labels import EMOTION6, label_of

LAYOUT = (
    "ROOT/images/<emotion>/<n>.jpg and ROOT/ground_truth.txt (tab-separated: file, valence, arousal, 7 probabilities)"
)


def _label(name: str, cells: list[str]) -> int | None:
    if "/" in name:
        return label_of(name.split("/")[0], EMOTION6)
    probs = [float(c) for c in cells[2:8]] if len(cells) >= 8 and all(is_number(c) for c in cells[2:8]) else []
    if not probs or probs.count(max(probs)) > 1:
        return None
    return probs.index(max(probs))


def _lacks(folder: Path) -> str | None:
    missing = [
        name
        for name, ok in (
            ("ground_truth.txt", (folder / "ground_truth.txt").is_file()),
            ("images/", (folder / "images").is_dir()),
        )
        if not ok
    ]
    return f"no {' and no '.join(missing)}" if missing else None


def scan(root: Path) -> Listing:
    root = require_dir(root, "emotion6", LAYOUT)
    # the archive unpacks to Emotion6/; the data root may be that folder, the one holding it, or its images/
    candidates = places(root, "Emotion6") + ([root.parent] if root.name.lower() == "images" else [])
    base = find_place("emotion6", LAYOUT, "ground_truth.txt and folder images/ not found together", candidates, _lacks)
    table, images = base / "ground_truth.txt", base / "images"
    samples: list[tuple[str, int]] = []
    dropped: list[str] = []
    for line in table.read_text(encoding="utf-8-sig", errors="replace").splitlines():
        cells = [c.strip().strip("'\"") for c in line.split("\t")]
        if len(cells) < 2 or not is_number(cells[1]):  # the header ([image_filename] [valence] ...) or a blank line
            continue
        name = cells[0].replace("\\", "/")
        label = _label(name, cells[1:])
        if label is None:
            dropped.append(f"{table}: {name!r} has no Emotion6 category (ignored)")
        elif not listed_file(images / name):
            dropped.append(f"{name}: listed in ground_truth.txt but not found under {printable(images)}")
        else:
            samples.append((name, label))
    require_every_class(samples, EMOTION6, "emotion6", f"listed in {table} and found under {images}", LAYOUT)
    return Listing(images, first_per_path(samples, dropped, table), dropped=tuple(dropped))


SPEC = DatasetSpec(
    name="emotion6",
    title="Emotion6 (1,980 images, 6 emotions)",
    classes=EMOTION6,
    split="ratio",
    ratios=(0.80, 0.05, 0.15),
    layout=LAYOUT,
    scan=scan,
)
