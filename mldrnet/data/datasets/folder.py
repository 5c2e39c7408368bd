"""Your own labelled images: `ROOT/<class>/<image>`, one subfolder per class, any number of classes (two or more).

The classes are the subfolders that hold at least one image, in sorted order (case-insensitive), so the label of
a class does not depend on the directory-listing order or on which folder was created first. Images directly in
ROOT, and subfolders without images, are named once as dropped: nothing is left out silently. The rest of the
data layer is the same as for the paper's datasets: one seeded, stratified split file written once and reused
(70 % train, 15 % val, 15 % test: a user's set is usually small, and 5 % val, the paper's FI ratio, would leave
too few images to choose a checkpoint on), `bench data verify`, and decoding that skips and counts corrupt files.
"""

from __future__ import annotations

import os
from pathlib import Path

from mldrnet.data.base import DatasetSpec, Listing
from mldrnet.data.decode import is_image_name, printable
from mldrnet.data.files import images_in, require_dir
from mldrnet.errors import BenchError

LAYOUT = "ROOT/<class>/<image> (one subfolder per class, two classes or more)"


def _subfolders(root: Path) -> list[Path]:
    try:
        with os.scandir(root) as entries:
            found = [root / e.name for e in entries if not e.name.startswith(".") and e.is_dir()]
    except OSError as e:
        raise BenchError(f"folder: cannot list {printable(root)} ({e.strerror})") from None
    return sorted(found, key=lambda p: (p.name.lower(), p.name))


def scan(root: Path) -> Listing:
    root = require_dir(root, "folder", LAYOUT)
    dropped: list[str] = []
    classes: list[tuple[str, list[str]]] = []
    for sub in _subfolders(root):
        names = images_in(sub, dropped)
        if names:
            classes.append((sub.name, names))
        else:
            dropped.append(f"{printable(sub)}: no images, so not a class (ignored)")
    loose = [n for n in os.listdir(root) if is_image_name(n) and (root / n).is_file()]
    if loose:
        dropped.append(f"{len(loose)} image(s) directly in {printable(root)} belong to no class folder (ignored)")
    if len(classes) < 2:
        raise BenchError(
            f"folder: {printable(root)} has {len(classes)} class folder(s) with images; "
            f"a classifier needs two or more: expected {LAYOUT}"
        )
    samples = [(f"{name}/{image}", label) for label, (name, images) in enumerate(classes) for image in images]
    return Listing(root, tuple(sorted(samples)), dropped=tuple(dropped), classes=tuple(n for n, _ in classes))


SPEC = DatasetSpec(
    name="folder",
    title="your own images: one subfolder per class (--data-root)",
    classes=(),  # from the folder: Listing.classes
    split="ratio",
    ratios=(0.70, 0.15, 0.15),
    layout=LAYOUT,
    scan=scan,
)
