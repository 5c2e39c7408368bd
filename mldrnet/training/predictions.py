"""Per-image test predictions: what a model said about each test image, kept so that two models can be compared
image by image (exact McNemar, a paired bootstrap: mldrnet.evaluation.statistics).

One compressed numpy file (`predictions.npz`, written atomically): `paths` (the test images, in the order they
were scored; unreadable ones left out), `labels` (int64), `probs` (float32 softmax, one row per image),
`classes`, and `meta` (a JSON string: model, split hash, engine, ...). Loaded with allow_pickle=False: the file
holds arrays only. `bench train` writes one beside result.json, `bench compare` one per accuracy row, and every
`bench reproduce` cell is a training that writes its own.
"""

from __future__ import annotations

import io
import json
import os
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from mldrnet.errors import BenchError
from mldrnet.io.atomic import atomic_write_bytes

PREDICTIONS_FILE = "predictions.npz"


@dataclass(frozen=True)
class Predictions:
    paths: tuple[str, ...]
    labels: np.ndarray  # (N,) int64
    probs: np.ndarray  # (N, classes) float32
    classes: tuple[str, ...]
    meta: dict = field(default_factory=dict)

    def __post_init__(self):
        n = len(self.paths)
        if self.labels.shape != (n,) or self.probs.ndim != 2 or self.probs.shape[0] != n:
            raise ValueError(
                f"predictions of {n} paths with labels {self.labels.shape} and probabilities {self.probs.shape}"
            )

    @classmethod
    def from_logits(cls, paths, labels, logits, classes, **meta) -> Predictions:
        z = np.asarray(logits, dtype=np.float64)
        z = z - z.max(axis=1, keepdims=True) if len(z) else z.reshape(0, len(classes))
        e = np.exp(z)
        probs = (e / e.sum(axis=1, keepdims=True)).astype(np.float32) if len(z) else e.astype(np.float32)
        return cls(
            tuple(os.fsdecode(p) for p in paths), np.asarray(labels, dtype=np.int64), probs, tuple(classes), meta
        )

    @property
    def predicted(self) -> np.ndarray:
        return self.probs.argmax(axis=1)

    @property
    def right(self) -> np.ndarray:
        return self.predicted == self.labels

    @property
    def accuracy(self) -> float:
        return float(self.right.mean()) if len(self.labels) else float("nan")

    def save(self, path: str | os.PathLike) -> Path:
        buf = io.BytesIO()
        np.savez_compressed(
            buf,
            paths=np.asarray(self.paths, dtype=str),
            labels=self.labels,
            probs=self.probs,
            classes=np.asarray(self.classes, dtype=str),
            meta=np.asarray(json.dumps(self.meta, default=str)),
        )
        return atomic_write_bytes(path, buf.getvalue())

    @classmethod
    def load(cls, path: str | os.PathLike) -> Predictions:
        try:
            with np.load(path, allow_pickle=False) as f:
                return cls(
                    tuple(str(p) for p in f["paths"]),
                    f["labels"].astype(np.int64),
                    f["probs"].astype(np.float32),
                    tuple(str(c) for c in f["classes"]),
                    json.loads(str(f["meta"])),
                )
        except (OSError, ValueError, KeyError) as e:
            raise BenchError(f"{path}: not a predictions file ({e})") from None


def readable_paths(samples, unreadable) -> list[str]:
    """The paths of (path, label) samples that a loader scored, in order: those it reported unreadable (a mapping
    or set of paths, mldrnet.data.loader.SkippingLoader.unreadable) left out."""
    bad = set(unreadable)
    return [p for p in (os.fsdecode(s[0]) for s in samples) if p not in bad]


def aligned(a: Predictions, b: Predictions) -> tuple[np.ndarray, np.ndarray, int]:
    """(A right?, B right?, images) over the test images both scored, matched by path; a path whose label differs
    between the two files means they were not scored on the same data (BenchError)."""
    if a.classes != b.classes:
        raise BenchError(f"the two prediction files have different classes: {list(a.classes)} and {list(b.classes)}")
    index_b = {p: i for i, p in enumerate(b.paths)}
    ia = [i for i, p in enumerate(a.paths) if p in index_b]
    ib = [index_b[a.paths[i]] for i in ia]
    if not np.array_equal(a.labels[ia], b.labels[ib]):
        raise BenchError("the two prediction files give the same test image different labels: not the same data")
    return a.right[ia], b.right[ib], len(ia)
