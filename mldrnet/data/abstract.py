"""Abstract (Machajdik & Hanbury 2010): 280 paintings and `ABSTRACT_groundTruth.csv`.

The CSV quotes its header and file names in single quotes ('ID','Amusement',...,'Content',...,'Sad') and has
one vote count per emotion. The label is the most-voted emotion; ties are dropped, which leaves 228 paintings
as in the paper.
"""

from __future__ import annotations

from pathlib import Path

from mldrnet import EMOTIONS
from mldrnet.data.base import DatasetSpec, Listing
from mldrnet.data.files import descend, first_per_path, index_images, is_number, lookup, read_rows, require_dir
from mldrnet.data.labels import label_of
from mldrnet.errors import BenchError

CSV_NAME = "ABSTRACT_groundTruth.csv"
LAYOUT = f"ROOT/{CSV_NAME} ('ID' then one vote column per emotion) beside the painting files"


def scan(root: Path) -> Listing:
    base = descend(require_dir(root, "abstract", LAYOUT), "testImages_abstract")
    table = base / CSV_NAME
    if not table.is_file():
        raise BenchError(f"abstract: {table} not found; expected {LAYOUT}")
    rows = read_rows(table, quotechar="'")
    if not rows:
        raise BenchError(f"abstract: {table} is empty; expected {LAYOUT}")
    header, body = rows[0], rows[1:]
    columns = {i: label_of(h, EMOTIONS) for i, h in enumerate(header) if i > 0}
    missing = [e for j, e in enumerate(EMOTIONS) if j not in columns.values()]
    if missing:
        raise BenchError(f"abstract: {table} has no vote column for {', '.join(missing)}; expected {LAYOUT}")
    index = index_images(base)
    samples, dropped = [], []
    for row in body:
        name, cells = row[0], row[1:]
        votes = [(float(cells[i - 1]), lbl) for i, lbl in columns.items()
                 if lbl is not None and i - 1 < len(cells) and is_number(cells[i - 1])]
        if len(votes) != len(EMOTIONS):
            dropped.append(f"{table}: row {name!r} does not have {len(EMOTIONS)} vote counts (ignored)")
            continue
        top = max(v for v, _ in votes)
        winners = sorted(lbl for v, lbl in votes if v == top)
        rel = lookup(index, name)
        if len(winners) > 1:
            continue  # a tie has no label: the paper drops these 52 paintings too, so this is no news to report
        if rel is None:
            dropped.append(f"{name}: listed in {CSV_NAME} but not found under {base}")
        else:
            samples.append((rel, winners[0]))
    if not samples:
        raise BenchError(f"abstract: none of the paintings listed in {table} were found under {base}; expected {LAYOUT}")
    samples = first_per_path(samples, dropped, table)
    return Listing(base, samples, dropped=tuple(dropped))


SPEC = DatasetSpec(
    name="abstract",
    title="Abstract (228 abstract paintings, 8 emotions by majority vote)",
    classes=EMOTIONS,
    split="kfold",
    folds=5,
    layout=LAYOUT,
    scan=scan,
)
