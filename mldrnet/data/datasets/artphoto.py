"""ArtPhoto (Machajdik & Hanbury 2010): one flat folder of 806 JPGs labelled by file-name prefix
(`amusement_12.jpg`, `sad_3.jpg`; `sad` means sadness), with a `ReadMe.rtf` beside them."""

from __future__ import annotations

import re
from pathlib import Path

from mldrnet import EMOTIONS
from mldrnet.data.base import DatasetSpec, Listing
from mldrnet.data.decode import printable
from mldrnet.data.files import find_place, images_in, places, require_dir, require_every_class
from mldrnet.data.labels import label_of

LAYOUT = (
    "ROOT/<emotion>_<n>.jpg in one flat folder "
    "(prefixes amusement, anger, awe, contentment, disgust, excitement, fear, sad)"
)
_PREFIX = re.compile(r"^([A-Za-z]+)")


def scan(root: Path) -> Listing:
    root = require_dir(root, "artphoto", LAYOUT)
    # the archive unpacks to testImages_artphoto/: the data root may be that folder or the one holding it
    base = find_place(
        "artphoto",
        LAYOUT,
        f"no images for {', '.join(EMOTIONS)}",
        places(root, "testImages_artphoto"),
        lambda p: None if images_in(p) else "no images",
    )
    samples: list[tuple[str, int]] = []
    dropped: list[str] = []
    for name in images_in(base, dropped):
        m = _PREFIX.match(name)
        label = label_of(m.group(1), EMOTIONS) if m else None
        if label is None:
            dropped.append(f"{printable(base / name)}: file-name prefix names no emotion (ignored)")
        else:
            samples.append((name, label))
    require_every_class(samples, EMOTIONS, "artphoto", f"in {printable(base)}", LAYOUT)
    return Listing(base, tuple(sorted(samples)), dropped=tuple(dropped))


SPEC = DatasetSpec(
    name="artphoto",
    title="ArtPhoto (806 art photos, 8 emotions)",
    classes=EMOTIONS,
    split="kfold",
    folds=5,
    layout=LAYOUT,
    scan=scan,
)
