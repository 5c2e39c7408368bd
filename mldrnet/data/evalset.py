"""A dataset split as an engine sees it: preprocessed batches and labels, identical for every engine row.

The images are decoded once per model (each checkpoint carries its own preprocessing) and kept in memory when
they fit under `cache_bytes`, so the second engine row of a model costs only inference; a big test split
(FI at 375 px is ~6 GB as float32) is streamed from disk for each row instead.
"""

from __future__ import annotations

import os
import random
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import TYPE_CHECKING

import torch

from mldrnet.data.loader import make_loader
from mldrnet.data.prepare import DataConfig, prepare_data
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError

if TYPE_CHECKING:
    from mldrnet.checkpoint import Checkpoint

Batch = tuple[torch.Tensor, torch.Tensor]  # (images (B, 3, S, S), labels (B,))


@dataclass
class EvalSet:
    dataset: str
    classes: tuple[str, ...]
    split_hash: str | None
    size: int  # crop size in pixels
    count: int  # images in the split that were asked for (readable or not)
    _batches: Callable[[], Iterator[tuple[torch.Tensor, torch.Tensor, int]]]  # re-iterable source
    _cache: list[Batch] | None = field(default=None, repr=False)
    unreadable: int = 0
    paths: tuple[str, ...] = ()  # the images asked for, in order (empty for in-memory sets): see readable_paths
    _unreadable_paths: Callable[[], Collection[str]] = field(default=lambda: (), repr=False)

    def readable_paths(self) -> list[str]:
        """The paths of the images the batches hold, in order (the unreadable ones of the last pass left out):
        what per-image predictions are keyed by."""
        bad = set(self._unreadable_paths())
        return [p for p in self.paths if p not in bad]

    def batches(self) -> Iterator[Batch]:
        if self._cache is not None:
            yield from self._cache
            return
        unreadable = 0
        for images, labels, bad in self._batches():
            unreadable += int(bad)
            yield images, labels
        self.unreadable = unreadable

    def cache_size(self) -> int:
        """Batches held in memory (0 when streaming)."""
        return len(self._cache or [])

    def materialize(self, cache_bytes: int) -> EvalSet:
        """Read every batch once and keep them if they fit in `cache_bytes` (else stay streaming)."""
        per_image = 3 * self.size * self.size * 4
        if self.count * per_image > cache_bytes:
            return self
        self._cache = list(self.batches())
        return self


def from_tensors(
    images: torch.Tensor,
    labels: torch.Tensor,
    classes: tuple[str, ...],
    batch_size: int,
    dataset: str = "tensors",
    split_hash: str | None = None,
) -> EvalSet:
    """An in-memory evaluation set (tests, and callers that already hold preprocessed images)."""

    def gen():
        for i in range(0, len(images), batch_size):
            yield images[i : i + batch_size], labels[i : i + batch_size], 0

    return EvalSet(dataset, tuple(classes), split_hash, int(images.shape[-1]), len(images), gen)


def subsample(samples: list, limit: int | None, seed: int = 0) -> list:
    """A seeded random subset (test lists are often ordered by class, so never take the first N)."""
    if limit is None or limit >= len(samples):
        return list(samples)
    return random.Random(seed).sample(list(samples), limit)


def load_split(
    data_cfg: DataConfig,
    preprocessing: Preprocessing,
    split: str,
    results_root: Path,
    *,
    batch_size: int = 32,
    max_images: int | None = None,
    cache_bytes: int = 0,
) -> EvalSet:
    """One split ("train", "val" or "test") of a data configuration with the evaluation preprocessing (centre
    crop): every consumer of evaluation images (compare's accuracy, export's parity check, int8 calibration)
    reads them here. `max_images` keeps a seeded random subset."""
    data = prepare_data(data_cfg, results_root)
    if split not in ("train", "val", "test"):
        raise ValueError(f"unknown split {split!r}")
    samples = subsample(getattr(data, split), max_images)
    if not samples:
        raise BenchError(f"the {split} split of {data.name} is empty: check --data-root")

    last: list = []  # the loader of the last pass: it knows which paths it could not read

    def gen():
        last[:] = [make_loader(samples, preprocessing, train=False, tta="center", batch_size=batch_size)]
        return iter(last[0])

    ev = EvalSet(
        data.name,
        tuple(data.classes),
        data.split_hash,
        preprocessing.crop,
        len(samples),
        gen,
        paths=tuple(os.fsdecode(p) for p, _ in samples),
        _unreadable_paths=lambda: last[0].unreadable if last else (),
    )
    return ev.materialize(cache_bytes)


def data_config(ckpt: Checkpoint, dataset: str | None = None, data_root: str | os.PathLike | None = None) -> DataConfig:
    """The DataConfig the checkpoint was trained with (same split file, so the same test images), with the dataset
    and its folder on this machine overridable. Keys this version does not know are left out."""
    if ckpt.data_config is None:
        raise BenchError(
            f"the {ckpt.model} checkpoint records no data_config, so its splits cannot be rebuilt: "
            "retrain it with the current `bench train`"
        )
    known = {f.name for f in fields(DataConfig)}
    cfg = DataConfig(**{k: v for k, v in ckpt.data_config.items() if k in known})
    if dataset is not None:
        cfg = replace(cfg, dataset=dataset)
    if data_root is not None:  # the same dataset, at another place on this machine
        cfg = replace(cfg, data_root=str(data_root))
    return cfg


def for_checkpoint(
    ckpt: Checkpoint,
    split: str,
    results_root: str | os.PathLike,
    *,
    data_root: str | os.PathLike | None = None,
    batch_size: int = 32,
    max_images: int | None = None,
    cache_bytes: int = 0,
) -> EvalSet:
    """Images of one of the checkpoint's dataset's splits ("test" for accuracy and parity, "train" for int8
    calibration) with its evaluation preprocessing: the one loader of evaluation images."""
    return load_split(
        data_config(ckpt, data_root=data_root),
        ckpt.preprocessing,
        split,
        Path(results_root),
        batch_size=batch_size,
        max_images=max_images,
        cache_bytes=cache_bytes,
    )
