"""Abstract (Machajdik & Hanbury 2010): 280 paintings and `ABSTRACT_groundTruth.csv`.

The CSV quotes its header and file names in single quotes ('ID','Amusement',...,'Content',...,'Sad') and has
one vote count per emotion. The label is the most-voted emotion; ties are dropped, which leaves 228 paintings
as in the paper.
"""

from __future__ import annotations

from pathlib import Path

from mldrnet import EMOTIONS
from mldrnet.data.base import DatasetSpec, Listing
from mldrnet.data.decode import printable
from mldrnet.data.files import (
    descend,
    find_place,
    first_per_path,
    index_images,
    is_number,
    lookup,
    places,
    read_rows,
    require_dir,
)
from mldrnet.data.labels import label_of
from mldrnet.errors import BenchError

CSV_NAME = "ABSTRACT_groundTruth.csv"
FOLDER = "testImages_abstract"  # what the archive unpacks to
LAYOUT = (
    f"ROOT/{CSV_NAME} ('ID' then one vote column per emotion) beside the painting files, or beside their "
    f"folder ROOT/{FOLDER}/"
)


def _table_in(folder: Path) -> Path | None:
    """The ground-truth CSV in `folder`, its name matched case-insensitively."""
    if (folder / CSV_NAME).is_file():
        return folder / CSV_NAME
    named = sorted(p for p in folder.iterdir() if p.name.lower() == CSV_NAME.lower() and p.is_file())
    return named[0] if named else None


def scan(root: Path) -> Listing:
    root = require_dir(root, "abstract", LAYOUT)
    base = descend(root, FOLDER)  # the paintings
    # the CSV sits inside the paintings' folder or beside it: ROOT/, ROOT/testImages_abstract/, or above the
    # data root when that is testImages_abstract/ itself
    where = find_place(
        "abstract",
        LAYOUT,
        f"{CSV_NAME} not found",
        [base, *places(root, FOLDER, parent=True)],
        lambda p: None if _table_in(p) else "",
    )
    table = _table_in(where)
    assert table is not None  # find_place returned a folder where _table_in found it
    rows = read_rows(table, quotechar="'")
    if not rows:
        raise BenchError(f"abstract: {table} is empty; expected {LAYOUT}")
    header, body = rows[0], rows[1:]
    columns = {i: label_of(h, EMOTIONS) for i, h in enumerate(header) if i > 0}
    missing = [e for j, e in enumerate(EMOTIONS) if j not in columns.values()]
    if missing:
        raise BenchError(f"abstract: {table} has no vote column for {', '.join(missing)}; expected {LAYOUT}")
    samples: list[tuple[str, int]] = []
    dropped: list[str] = []
    index = index_images(base, dropped)
    for row in body:
        name, cells = row[0], row[1:]
        votes = [
            (float(cells[i - 1]), lbl)
            for i, lbl in columns.items()
            if lbl is not None and i - 1 < len(cells) and is_number(cells[i - 1])
        ]
        if len(votes) != len(EMOTIONS):
            dropped.append(f"{table}: row {name!r} does not have {len(EMOTIONS)} vote counts (ignored)")
            continue
        top = max(v for v, _ in votes)
        winners = sorted(lbl for v, lbl in votes if v == top)
        rel = lookup(index, name)
        if len(winners) > 1:
            continue  # a tie has no label: the paper drops these 52 paintings too, so this is no news to report
        if rel is None:
            dropped.append(f"{name}: listed in {CSV_NAME} but not found under {printable(base)}")
        else:
            samples.append((rel, winners[0]))
    if not samples:
        raise BenchError(
            f"abstract: none of the paintings listed in {table} were found under {base}; expected {LAYOUT}"
        )
    return Listing(base, first_per_path(samples, dropped, table), dropped=tuple(dropped))


SPEC = DatasetSpec(
    name="abstract",
    title="Abstract (228 abstract paintings, 8 emotions by majority vote)",
    classes=EMOTIONS,
    split="kfold",
    folds=5,
    layout=LAYOUT,
    scan=scan,
)
