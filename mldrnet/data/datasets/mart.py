"""MART (Alameda-Pineda et al. 2016): 500 abstract paintings labelled positive or negative, read from a CSV of
file,label (labels positive/negative, pos/neg, 1/0 or 1/-1) with the images anywhere under the data root."""

from __future__ import annotations

from pathlib import Path

from mldrnet.data.base import DatasetSpec, Listing
from mldrnet.data.decode import printable
from mldrnet.data.files import (
    find_table,
    first_per_path,
    index_images,
    lookup,
    places,
    read_rows,
    require_dir,
    require_every_class,
    table_columns,
)
from mldrnet.data.labels import POLARITY, label_of
from mldrnet.errors import BenchError

LAYOUT = "ROOT/<one CSV of file,label (positive/negative)> and the paintings anywhere under ROOT"


def scan(root: Path) -> Listing:
    root = require_dir(root, "mart", LAYOUT)
    # the data root may be the folder holding the table or the one holding that folder (MART/); the paintings
    # are looked up under the table's folder. ROOT first: a table there always was the one used.
    table = find_table([root, *places(root, "MART")], "mart", LAYOUT, prefer=("mart", "label"))
    base = table.parent
    rows = read_rows(table)
    if not rows:
        raise BenchError(f"mart: {table} is empty; expected {LAYOUT}")
    file_col, label_col, has_header = table_columns(rows[0], POLARITY)
    samples: list[tuple[str, int]] = []
    dropped: list[str] = []
    index = index_images(base, dropped)
    for row in rows[1:] if has_header else rows:
        if len(row) <= max(file_col, label_col):
            continue
        name, label = row[file_col], label_of(row[label_col], POLARITY)
        rel = lookup(index, name)
        if label is None:
            dropped.append(f"{table}: {name!r} has label {row[label_col]!r}, not positive/negative (ignored)")
        elif rel is None:
            dropped.append(f"{name}: listed in {table.name} but not found under {printable(base)}")
        else:
            samples.append((rel, label))
    require_every_class(
        samples, POLARITY, "mart", f"listed in {printable(table)} and found under {printable(base)}", LAYOUT
    )
    return Listing(base, first_per_path(samples, dropped, table), dropped=tuple(dropped))


SPEC = DatasetSpec(
    name="mart",
    title="MART (500 abstract paintings, positive / negative)",
    classes=POLARITY,
    split="kfold",
    folds=10,
    layout=LAYOUT,
    scan=scan,
)
