"""The engines one `bench mlperf` run drives, each with its test images and what making it cost.

A zoo model's row is a compare variant (ort-cpu int8, torch-cpu fp32, ...): its file comes from bench.artifacts
(exported or calibrated on first use, as compare does), its engine from engines.base.create_engine, its images
from the checkpoint's own data configuration (the seeded test list compare's accuracy pass reads, with the
checkpoint's evaluation preprocessing, scaled to `--size` where one is given). A `--onnx FILE` row is
foreign.ForeignOnnx over the `--dataset` test split at the file's input size. `--null-sut` replaces the engine by
one that does nothing (sut.NullEngine): the harness alone.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import torch

from bench.mlperf.foreign import ForeignOnnx, file_bytes, label_map, read_labels
from bench.mlperf.qsl import SampleLibrary
from bench.mlperf.sut import NullEngine
from mldrnet.data.prepare import DataConfig, prepare_data
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError, one_line


@dataclass
class Source:
    """Where the images come from and what a row needs to say about them."""

    model: str
    dataset: str
    classes: tuple[str, ...]
    split_hash: str | None
    qsl: SampleLibrary


@dataclass
class Row:
    model: str
    variant: str
    engine_name: str
    device: str
    precision: str
    provider: str | None
    engine: Any = None  # callable (B, 3, S, S) -> (B, classes)
    file: str | None = None
    file_bytes: int | None = None
    load_s: float | None = None
    first_call_s: float | None = None
    label_map: np.ndarray | None = None  # output index -> dataset class (foreign models)
    accuracy_note: str | None = None  # why accuracy is not reported, if it is not
    info: dict = field(default_factory=dict)
    error: str | None = None


def _timed(make: Callable[[], Any]) -> tuple[Any, float]:
    t0 = time.perf_counter()
    made = make()
    return made, time.perf_counter() - t0


def _first_call(row: Row, size: int) -> None:
    _, row.first_call_s = _timed(lambda: row.engine(torch.zeros(1, 3, size, size)))


def zoo_source(
    model: str, results_root: Path, dataset: str, data_root: str | None, size: int | None, max_images: int | None
) -> tuple[Source, Any, Any, Path]:
    """(Source, Checkpoint, nn.Module, checkpoint path) of a trained zoo model."""
    from engines.export import at_size
    from mldrnet import models
    from mldrnet.checkpoint import Checkpoint
    from mldrnet.data.evalset import data_config, subsample
    from mldrnet.io import layout

    name = models.info(model).name
    path = layout.checkpoint_path(results_root, name, dataset)
    if not path.is_file():
        raise BenchError(f"{name} is not trained on {dataset} ({path} is missing): run `bench train {name}` first")
    ckpt = Checkpoint.load(path)
    data = prepare_data(data_config(ckpt, data_root=data_root), results_root)
    samples = subsample(data.test, max_images)
    pre = at_size(ckpt, size).preprocessing
    source = Source(name, data.name, tuple(data.classes), data.split_hash, SampleLibrary(samples, pre))
    return source, ckpt, models.load(ckpt), path


def foreign_source(path: Path, results_root: Path, data_cfg: DataConfig, size: int, max_images: int | None) -> Source:
    from mldrnet.data.evalset import subsample

    data = prepare_data(data_cfg, results_root)
    samples = subsample(data.test, max_images)
    return Source(
        Path(path).stem,
        data.name,
        tuple(data.classes),
        data.split_hash,
        SampleLibrary(samples, Preprocessing(crop=size)),
    )


def zoo_rows(
    labels: list[str],
    precision: str,
    source: Source,
    model: Any,
    checkpoint: Path,
    results_root: Path,
    data_root: str | None,
    size: int | None,
    threads: int,
    max_batch: int | None,
) -> Iterator[Row]:
    """One Row per engine variant named, its engine made (or its error): the variants' own lookup and messages."""
    from bench.artifacts import artifact_for
    from bench.variants import select_variants
    from engines.base import create_engine

    variants = []
    for label in labels:
        try:
            variants += [v for v in select_variants([label], [precision]) if v not in variants]
        except BenchError as e:
            yield Row(source.model, label, "?", "cpu", precision, None, error=one_line(e))
    for v in variants:
        row = Row(source.model, v.label, v.engine, v.device, v.precision, v.provider)
        batch = max_batch or (32 if v.device == "cuda" else 8)
        try:
            art = artifact_for(v, checkpoint, model, batch, results_root, data_root, size=size)
            row.file, row.file_bytes = str(art.path) if art.path else None, art.nbytes
            row.engine, row.load_s = _timed(
                lambda v=v, a=art, b=batch: create_engine(v.engine, a.source, v.options(threads, b))
            )
            _first_call(row, source.qsl.size)
            row.info = dict(row.engine.describe())
        except Exception as e:
            row.error, row.engine = one_line(e), None
        yield row


def foreign_row(
    path: Path,
    threads: int,
    input_size: int | None,
    labels_file: str | None,
    precision: str,
    classes: tuple[str, ...] | None = None,
    dataset: str = "",
) -> Row:
    row = Row(Path(path).stem, "onnx", "onnxruntime", "cpu", precision, "cpu")
    row.engine, row.load_s = _timed(lambda: ForeignOnnx(path, threads, input_size))
    row.file, row.file_bytes = str(path), file_bytes(Path(path))
    row.info = row.engine.describe()
    if classes is not None:
        labels = read_labels(labels_file) if labels_file else None
        row.label_map, row.accuracy_note = label_map(labels, row.engine.classes, classes, dataset)
    return row


def null_row(template: Row, classes: int, size: int) -> Row:
    row = replace(
        template,
        variant="null",
        engine_name="null",
        engine=NullEngine(classes),
        file=None,
        file_bytes=None,
        load_s=0.0,
        info=NullEngine(classes).describe(),
        error=None,
    )
    _first_call(row, size)
    return row
