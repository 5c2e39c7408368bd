"""What every dataset-format module produces: a `DatasetSpec` (name, classes, split scheme, expected layout,
scan function) whose scan turns a folder into a `Listing` of (relative path, label) pairs."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

SPLITS = ("train", "val", "test")


@dataclass(frozen=True)
class Listing:
    root: Path  # the folder the relative paths are relative to
    samples: tuple[tuple[str, int], ...]  # (relative POSIX path, label), sorted by path
    # EmoSet ships its own split: one of SPLITS per sample, in `samples` order; None for everything else.
    given_split: tuple[str, ...] | None = None
    # One line per entry the index named but the loader left out (vote ties, unknown labels, missing files),
    # reported as a warning so that nothing disappears silently.
    dropped: tuple[str, ...] = ()
    # the classes found in the folder, for a format whose classes are the user's (`folder`); None: the spec's
    classes: tuple[str, ...] | None = None

    def paths(self) -> list[Path]:
        return [self.root / rel for rel, _ in self.samples]


@dataclass(frozen=True)
class DatasetSpec:
    name: str
    title: str
    classes: tuple[str, ...]  # () for a format whose classes come from the folder (its Listing.classes)
    split: str  # "ratio" (random stratified train/val/test), "kfold" (stratified folds) or "given" (the set's files)
    layout: str  # the expected on-disk layout, shown in errors and `bench data --help`
    scan: Callable[[Path], Listing] = field(repr=False)
    folds: int = 0  # for split == "kfold"
    ratios: tuple[float, float, float] = (0.0, 0.0, 0.0)  # (train, val, test) for split == "ratio"
    # A built-in synthetic set, generated on first use: its `SynthParams.kind` ("emotions" for `synth`, or a
    # kind of mldrnet.data.synth.KINDS); None for the real datasets, which need a data root.
    synth_kind: str | None = None
