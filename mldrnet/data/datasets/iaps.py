"""IAPS-Subset (Mikels et al. 2005): IAPS pictures named by number (`2352.1.jpg`) and a CSV that maps the
picture number to one of the 8 emotion categories (395 pictures).

The table is the one CSV in the folder (or the one with `iaps`/`mikels` in its name). Columns are found by
header name (picture/id/file/number and emotion/category/label/class), else the first two are taken; picture
numbers match files by name, stem or numeric value (`2352.1` = `2352.10`).
"""

from __future__ import annotations

from pathlib import Path

from mldrnet import EMOTIONS
from mldrnet.data.base import DatasetSpec, Listing
from mldrnet.data.decode import printable
from mldrnet.data.files import (
    descend,
    find_table,
    first_per_path,
    index_images,
    is_number,
    lookup,
    places,
    read_rows,
    require_dir,
    table_columns,
)
from mldrnet.data.labels import label_of
from mldrnet.errors import BenchError

LAYOUT = "ROOT/<picture number>.jpg (e.g. 2352.1.jpg) and one CSV of picture number -> emotion"
_FOLDERS = ("IAPS-Subset", "iaps")  # the folder the pictures may come in


def _numeric_index(index: dict[str, str]) -> dict[float, str]:
    out: dict[float, str] = {}
    for key, rel in sorted(index.items()):
        stem = Path(key).stem if key.endswith((".jpg", ".jpeg", ".png", ".bmp", ".tif", ".tiff")) else key
        if is_number(stem):
            out.setdefault(float(stem), rel)
    return out


def scan(root: Path) -> Listing:
    root = require_dir(root, "iaps", LAYOUT)
    base = descend(root, *_FOLDERS)  # the pictures
    # the table sits with the pictures or beside their folder (above the data root when that is the folder itself)
    table = find_table([base, *places(root, *_FOLDERS, parent=True)], "iaps", LAYOUT, prefer=("iaps", "mikels"))
    rows = read_rows(table)
    if not rows:
        raise BenchError(f"iaps: {table} is empty; expected {LAYOUT}")
    id_col, label_col, has_header = table_columns(rows[0], EMOTIONS)
    samples: list[tuple[str, int]] = []
    dropped: list[str] = []
    index = index_images(base, dropped)
    by_number = _numeric_index(index)
    for row in rows[1:] if has_header else rows:
        if len(row) <= max(id_col, label_col):
            continue
        pic, label = row[id_col], label_of(row[label_col], EMOTIONS)
        rel = lookup(index, pic) or (by_number.get(float(pic)) if is_number(pic) else None)
        if label is None:
            dropped.append(
                f"{table}: picture {pic!r} has label {row[label_col]!r}, not one of the 8 emotions (ignored)"
            )
        elif rel is None:
            dropped.append(f"{pic}: listed in {table.name} but no such picture under {printable(base)}")
        else:
            samples.append((rel, label))
    if not samples:
        raise BenchError(f"iaps: no picture listed in {table} was found under {base}; expected {LAYOUT}")
    return Listing(base, first_per_path(samples, dropped, table), dropped=tuple(dropped))


SPEC = DatasetSpec(
    name="iaps",
    title="IAPS-Subset (395 IAPS pictures, 8 emotions, Mikels et al.)",
    classes=EMOTIONS,
    split="kfold",
    folds=5,
    layout=LAYOUT,
    scan=scan,
)
