"""File-system and table helpers shared by the dataset-format modules."""

from __future__ import annotations

import csv
import io
import os
import re
from collections.abc import Callable, Iterable
from pathlib import Path

from mldrnet.data.decode import is_image_name, printable
from mldrnet.data.labels import label_of
from mldrnet.errors import BenchError

_ID_COLUMN = re.compile(r"pic|id|iaps|file|image|name|number|slide", re.I)
_LABEL_COLUMN = re.compile(r"emotion|categor|label|class", re.I)


def require_dir(root: Path, dataset: str, layout: str) -> Path:
    root = Path(root).expanduser()
    if not root.is_dir():
        raise BenchError(f"{dataset}: data root {printable(root)} is not a folder; expected {layout}")
    return root


def child(root: Path, name: str) -> Path:
    """root/name, matching the folder name case-insensitively when only another spelling exists."""
    if (root / name).is_dir():
        return root / name
    try:
        with os.scandir(root) as entries:
            for e in entries:
                if e.name.lower() == name.lower() and _is_dir(e):
                    return root / e.name
    except OSError:
        pass
    return root / name


def descend(root: Path, *names: str) -> Path:
    """The dataset's own folder when the user pointed at its parent (e.g. the unzipped testImages_abstract/)."""
    for name in names:
        if child(root, name).is_dir():
            return child(root, name)
    return root


def places(root: Path, *names: str, parent: bool = False) -> list[Path]:
    """Where an archive's files may be, in the order tried: the folder the archive unpacks to (`names`, inside
    `root`), then `root` itself. With `parent`, when `root` is that folder, also the folder above it (a table
    shipped beside the archive's folder)."""
    out = [child(root, n) for n in names] + [root]
    if parent and root.name.lower() in {n.lower() for n in names}:
        out.append(root.parent)
    return list(dict.fromkeys(out))


def find_place(
    dataset: str, layout: str, what: str, candidates: Iterable[Path], problem: Callable[[Path], str | None]
) -> Path:
    """The first candidate folder that holds the dataset (`problem(folder)` is None); otherwise a BenchError
    that names every place looked in and, where `problem` says one, what it lacked."""
    notes = []
    for place in dict.fromkeys(candidates):
        if not place.is_dir():
            notes.append(f"{printable(place)} (no such folder)")
            continue
        issue = problem(place)
        if issue is None:
            return place
        notes.append(f"{printable(place)} ({issue})" if issue else printable(place))
    raise BenchError(f"{dataset}: {what}; looked in {', '.join(notes)}; expected {layout}")


def _is_dir(entry: os.DirEntry) -> bool:
    try:
        return entry.is_dir()  # follows symlinks; a symlink loop raises ELOOP: not a folder
    except OSError:
        return False


def listed_file(path: Path) -> bool:
    """Whether a file an index names is there to be listed: anything but a folder, a broken symlink included
    (as in `images_in`, decoding then names what is wrong with it)."""
    return os.path.lexists(path) and not os.path.isdir(path)


def images_in(folder: Path, dropped: list[str] | None = None) -> list[str]:
    """Names of the image-extension entries directly in `folder`, sorted (hidden files skipped).

    Entries that cannot be used (dangling symlinks, symlink loops, unreadable or special files) stay listed, like
    corrupt images: decoding names each with its reason (`bench data verify`, `info`, the loader), and the split
    does not change when one is repaired. A folder with an image name is no file: left out, and said so in
    `dropped`. Names that are not valid UTF-8 are kept as Python's surrogate escapes (os.fsdecode).
    """
    names = []
    try:
        with os.scandir(folder) as entries:
            for e in entries:
                if not is_image_name(e.name):
                    continue
                if _is_dir(e):
                    if dropped is not None:
                        dropped.append(f"{printable(folder / e.name)}: is a folder, not an image file (ignored)")
                    continue
                names.append(e.name)
    except OSError as e:
        raise BenchError(f"cannot list folder {printable(folder)} ({e.strerror})") from None
    return sorted(names)


def index_images(root: Path, dropped: list[str] | None = None) -> dict[str, str]:
    """Every image under `root` (recursively) by lower-case relative path, file name and stem -> relative path.

    CSV-indexed sets name files inconsistently (with or without folder, extension or case); the first match
    in sorted order wins, so the result is deterministic. As in `images_in`, dangling links and symlink loops
    are indexed (decoding names them); a sub-folder that cannot be listed is said so in `dropped`.
    """

    def unlisted(e: OSError) -> None:
        if dropped is not None:
            dropped.append(
                f"{printable(e.filename or root)}: cannot list folder ({e.strerror}); its images are left out"
            )

    index: dict[str, str] = {}
    for dirpath, dirnames, filenames in os.walk(root, onerror=unlisted):
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


def find_table(
    roots: Path | Iterable[Path], dataset: str, layout: str, prefer: tuple[str, ...], suffixes=(".csv",)
) -> Path:
    """The one label table in the first of `roots` that has any: a unique file with a matching suffix, or the
    one whose name has a hint. None anywhere: a BenchError naming every folder looked in."""
    looked = []
    for root in dict.fromkeys([roots] if isinstance(roots, Path) else roots):
        if not root.is_dir():
            looked.append(f"{printable(root)} (no such folder)")
            continue
        tables = sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in suffixes)
        if len(tables) == 1:
            return tables[0]
        hinted = [p for p in tables if any(h in p.name.lower() for h in prefer)]
        if len(hinted) == 1:
            return hinted[0]
        if tables:
            names = ", ".join(printable(p.name) for p in tables)
            raise BenchError(
                f"{dataset}: several label tables in {printable(root)} ({names}); keep only the one that "
                f"maps files to labels"
            )
        looked.append(printable(root))
    raise BenchError(
        f"{dataset}: no {'/'.join(suffixes)} label table found; looked in {', '.join(looked)}; expected {layout}"
    )


MAX_TABLE_BYTES = 256 * 2**20  # a label table of millions of rows; larger is not one


def read_rows(path: Path, quotechar: str = '"') -> list[list[str]]:
    """Rows of a small CSV/TSV table with a sniffed delimiter, cells stripped of spaces and stray quotes. A file
    over MAX_TABLE_BYTES or a field over csv's limit (128 KiB: no path or label is that long) is one BenchError."""
    try:
        size = path.stat().st_size
        if size > MAX_TABLE_BYTES:
            raise BenchError(
                f"{printable(path)} is {size / 2**20:.0f} MiB, more than a label table of "
                f"{MAX_TABLE_BYTES / 2**20:.0f} MiB: give a CSV of path,label"
            )
        text = path.read_text(encoding="utf-8-sig", errors="replace")
    except OSError as e:
        raise BenchError(f"cannot read {printable(path)}: {e.strerror}") from None
    try:
        dialect = csv.Sniffer().sniff(text[:4096], delimiters=",;\t")
        delimiter = dialect.delimiter
    except csv.Error:
        delimiter = ","
    reader = csv.reader(io.StringIO(text), delimiter=delimiter, quotechar=quotechar, skipinitialspace=True)
    try:
        rows = [[c.strip().strip("'\"").strip() for c in row] for row in reader]
    except csv.Error as e:
        raise BenchError(
            f"{printable(path)}: line {reader.line_num}: {e}: not a table of path,label (a field that long is no "
            "path or label)"
        ) from None
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
