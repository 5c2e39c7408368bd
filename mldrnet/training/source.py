"""The version of the code a training depended on: a hash of the source files of the model, the data pipeline and
the training (mldrnet/models, mldrnet/baselines — the hand-crafted models' features —, mldrnet/data,
mldrnet/training and mldrnet/checkpoint.py). It is recorded in result.json and is part of a run's config hash, so
a run trained by other code is trained again rather than reused (bench train, train-all and reproduce)."""

from __future__ import annotations

import functools
import hashlib
from pathlib import Path

PACKAGE = Path(__file__).resolve().parents[1]  # mldrnet/
SOURCES = ("models", "baselines", "data", "training", "checkpoint.py")


def source_files(root: Path = PACKAGE) -> list[Path]:
    """The hashed files, in a fixed order: every .py file under SOURCES (folders searched recursively)."""
    files: list[Path] = []
    for name in SOURCES:
        p = root / name
        files += sorted(p.rglob("*.py")) if p.is_dir() else [p] if p.is_file() else []
    return files


@functools.cache
def source_hash(root: Path = PACKAGE) -> str:
    """sha256 (16 hex digits) over each file's path relative to mldrnet/ and its bytes."""
    h = hashlib.sha256()
    for f in source_files(root):
        h.update(f.relative_to(root).as_posix().encode() + b"\0")
        h.update(f.read_bytes() + b"\0")
    return h.hexdigest()[:16]
