"""FI (You et al. 2016): `emotion_dataset/<emotion>/<emotion>_NNNN.jpg`, one lower-case folder per emotion.

Labels come from the folder name, never from the directory-listing order. The data root may be the folder
that holds `emotion_dataset/` or `emotion_dataset/` itself. The synthetic set is written in this layout so
that it runs through this loader.
"""

from __future__ import annotations

from pathlib import Path

from mldrnet import EMOTIONS
from mldrnet.data.base import DatasetSpec, Listing
from mldrnet.data.decode import printable
from mldrnet.data.files import find_place, images_in, places, require_dir
from mldrnet.errors import BenchError

LAYOUT = "ROOT/emotion_dataset/<emotion>/<emotion>_NNNN.jpg with folders " + ", ".join(EMOTIONS)


def scan_folders(
    root: Path, dataset: str = "fi", *, require_all: bool = True, classes: tuple[str, ...] = EMOTIONS
) -> Listing:
    """One folder per class under `root` (or `root/emotion_dataset`). `require_all=False` accepts missing
    classes, for the user's extra noisy-label folder; `classes` other than the emotions: the generated
    synth-mart set (positive / negative folders)."""
    layout = LAYOUT if classes == EMOTIONS else layout_of(classes)
    root = require_dir(root, dataset, layout)
    base = find_place(
        dataset,
        layout,
        f"missing class folders {', '.join(classes)}",
        places(root, "emotion_dataset"),
        lambda p: None if set(_class_folders(p)) & set(classes) else "no class folder",
    )
    folders = _class_folders(base)
    missing = [e for e in classes if e not in folders]
    if require_all and missing:
        raise BenchError(
            f"{dataset}: missing class folders {', '.join(missing)} in {printable(base)}; expected {layout}"
        )
    samples: list[tuple[str, int]] = []
    dropped: list[str] = []
    for label, emotion in enumerate(classes):
        if emotion not in folders:
            continue
        names = images_in(folders[emotion], dropped)
        if require_all and not names:
            raise BenchError(f"{dataset}: class folder {printable(folders[emotion])} has no images; expected {layout}")
        samples += [(f"{folders[emotion].name}/{n}", label) for n in names]
    what = "an emotion class" if classes == EMOTIONS else f"a class of {dataset}"
    dropped += [
        f"folder {printable(base / name)} is not {what} (ignored)" for name in sorted(folders) if name not in classes
    ]
    return Listing(base, tuple(sorted(samples)), dropped=tuple(dropped))


def layout_of(classes: tuple[str, ...]) -> str:
    """FI's layout with other class folders (the generated synth-mart set's positive / negative)."""
    return f"ROOT/emotion_dataset/<class>/<class>_NNNN.jpg with folders {', '.join(classes)}"


def _class_folders(base: Path) -> dict[str, Path]:
    return {p.name.lower(): p for p in base.iterdir() if p.is_dir() and not p.name.startswith(".")}


def scan(root: Path) -> Listing:
    return scan_folders(root, "fi")


SPEC = DatasetSpec(
    name="fi",
    title="FI (Flickr & Instagram, 8 emotions, ~23k images)",
    classes=EMOTIONS,
    split="ratio",
    ratios=(0.80, 0.05, 0.15),  # the paper: 80% train, 15% test, 5% val, at random
    layout=LAYOUT,
    scan=scan,
)
