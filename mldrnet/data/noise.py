"""Noisy-label training (the paper's Table II): flipped training labels and extra noisy training pairs.

Both touch the training set only; val and test labels are never changed, so a noisy run is evaluated on the
same clean test images as a clean one.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from mldrnet.data.datasets.fi import scan_folders
from mldrnet.data.files import read_rows
from mldrnet.data.labels import label_of
from mldrnet.errors import BenchError

Pairs = list[tuple[str, int]]
_NOISE = 0x6E6F6973  # RNG stream tag, so the flips share no random numbers with the split


def flip_labels(samples: Pairs, fraction: float, n_classes: int, seed: int) -> tuple[Pairs, int]:
    """A seeded `fraction` of the samples (exactly round(fraction * n)) get a different label, uniform over the
    other classes. Returns (new samples, number flipped)."""
    if not 0.0 <= fraction < 1.0:
        raise BenchError(f"--label-noise must be in [0, 1), got {fraction}")
    k = int(round(fraction * len(samples)))
    if k == 0 or n_classes < 2:
        return list(samples), 0
    rng = np.random.default_rng([seed, _NOISE])
    chosen = rng.choice(len(samples), size=k, replace=False)
    shifts = rng.integers(1, n_classes, size=k)  # 1..n-1: never the original class
    out = list(samples)
    for i, shift in zip(chosen.tolist(), shifts.tolist()):
        path, label = out[i]
        out[i] = (path, (label + shift) % n_classes)
    return out, k


def load_extra(source: str | Path, classes: tuple[str, ...]) -> tuple[Pairs, list[str]]:
    """Extra (absolute path, label) training pairs from a folder in FI's layout or a CSV of path,label
    (paths relative to the CSV's folder, labels by name). Returns (pairs, dropped-entry notes)."""
    source = Path(source).expanduser()
    if source.is_dir():
        listing = scan_folders(source, "noisy-extra", require_all=False)
        return [(str(listing.root / rel), label) for rel, label in listing.samples], list(listing.dropped)
    if not source.is_file():
        raise BenchError(
            f"noisy extra data {source} does not exist: give a folder in FI's layout or a CSV of path,label"
        )
    rows = read_rows(source)
    if rows and len(rows[0]) >= 2 and label_of(rows[0][1], classes) is None:
        rows = rows[1:]  # a header row
    pairs, dropped = [], []
    for row in rows:
        if len(row) < 2:
            continue
        path = Path(row[0]) if Path(row[0]).is_absolute() else source.parent / row[0]
        label = label_of(row[1], classes)
        if label is None:
            dropped.append(f"{source}: {row[0]!r} has label {row[1]!r}, not one of {', '.join(classes)} (ignored)")
        elif not path.is_file():
            dropped.append(f"{path}: listed in {source.name} but not found")
        else:
            pairs.append((str(path), label))
    if not pairs:
        raise BenchError(
            f"noisy extra data {source} lists no existing image with a known label; expected lines of path,label"
        )
    return pairs, dropped
