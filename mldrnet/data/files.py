"""File-system and table helpers shared by the dataset-format modules."""

from __future__ import annotations

import csv
import io
import os
import re
from pathlib import Path

from mldrnet.data.decode import is_image_name
from mldrnet.data.labels import label_of
from mldrnet.errors import BenchError

_ID_COLUMN = re.compile(r"pic|id|iaps|file|image|name|number|slide", re.I)
_LABEL_COLUMN = re.compile(r"emotion|categor|label|class", re.I)


def require_dir(root: Path, dataset: str, layout: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise BenchError(f"{dataset}: data root {root} is not a folder; expected {layout}")
    return root


def descend(root: Path, *names: str) -> Path:
    """The dataset's own folder when the user pointed at its parent (e.g. the unzipped testImages_abstract/)."""
    for name in names:
        if (root / name).is_dir():
            return root / name
    return root


def images_in(folder: Path) -> list[str]:
    """Names of the image-extension files directly in `folder`, sorted (hidden files skipped)."""
    with os.scandir(folder) as entries:
        return sorted(e.name for e in entries if is_image_name(e.name) and e.is_file())


def index_images(root: Path) -> dict[str, str]:
    """Every image under `root` (recursively) by lower-case relative path, file name and stem -> relative path.

    CSV-indexed sets name files inconsistently (with or without folder, extension or case); the first match
    in sorted order wins, so the result is deterministic.
    """
    index: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for name in sorted(filenames):
            if not is_image_name(name):
                continue
            rel = Path(dirpath, name).relative_to(root).as_posix()
            for key in (rel.lower(), name.lower(), Path(name).stem.lower()):
                index.setdefault(key, rel)
    return index


def lookup(index: dict[str, str], name: str) -> str | None:
    key = name.strip().replace("\\", "/").lower()
    return index.get(key) or index.get(Path(key).name) or index.get(Path(key).stem)


def find_table(root: Path, dataset: str, layout: str, prefer: tuple[str, ...], suffixes=(".csv",)) -> Path:
    """The one label table in `root`: a unique file with a matching suffix, or the one whose name has a hint."""
    tables = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
    if len(tables) == 1:
        return tables[0]
    hinted = [p for p in tables if any(h in p.name.lower() for h in prefer)]
    if len(hinted) == 1:
        return hinted[0]
    if not tables:
        raise BenchError(f"{dataset}: no {'/'.join(suffixes)} label table in {root}; expected {layout}")
    names = ", ".join(p.name for p in tables)
    raise BenchError(f"{dataset}: several label tables in {root} ({names}); keep only the one that maps files to labels")


def read_rows(path: Path, quotechar: str = '"') -> list[list[str]]:
    """Rows of a small CSV/TSV table with a sniffed delimiter, cells stripped of spaces and stray quotes."""
    try:
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as e:
        raise BenchError(f"cannot read {path}: {e.strerror}") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quotechar, skipinitialspace=True)
    rows = [[c.strip().strip("'\"").strip() for c in row] for row in reader]
    return [r for r in rows if any(r)]


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def first_per_path(samples: list[tuple[str, int]], dropped: list[str], table: Path) -> tuple[tuple[str, int], ...]:
    """Sorted samples, one per file: a table that lists a file twice keeps its first row (and says so)."""
    seen: dict[str, int] = {}
    for rel, label in samples:
        if rel in seen:
            dropped.append(f"{rel}: listed more than once in {table} (first row kept)")
        else:
            seen[rel] = label
    return tuple(sorted(seen.items()))


def require_every_class(samples, classes: tuple[str, ...], dataset: str, where: str, layout: str) -> None:
    """A listing with no image of some class is a wrong folder or table, not a dataset to train on."""
    present = {label for _, label in samples}
    missing = [c for i, c in enumerate(classes) if i not in present]
    if missing:
        raise BenchError(f"{dataset}: no images for {', '.join(missing)} {where}; expected {layout}")


def table_columns(header: list[str], classes: tuple[str, ...]) -> tuple[int, int, bool]:
    """(id column, label column, whether the first row is a header) of a two-column-ish label table."""
    if len(header) >= 2 and label_of(header[1], classes) is not None:
        return 0, 1, False
    ids = [i for i, h in enumerate(header) if _ID_COLUMN.search(h)]
    labels = [i for i, h in enumerate(header) if _LABEL_COLUMN.search(h)]
    return (ids[0] if ids else 0), (labels[0] if labels else 1), True
