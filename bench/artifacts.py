"""The file each engine variant loads, made on demand next to the checkpoint and reused afterwards.

Which file a variant loads and how it is made are its formats-table row (engines.formats): the torch row loads
the checkpoint itself, the others ask `engines.export.ensure_file`, which exports a missing or stale file. The
sizes recorded per format are of what a deployment would ship: the weights alone for torch (a training
checkpoint also carries optimizer state), the .onnx (with external data) and the engine file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.variants import Variant
from engines import formats


@dataclass(frozen=True)
class Artifact:
    source: Any  # what create_engine gets: a path (or an nn.Module)
    path: Path | None
    nbytes: int | None


def state_dict_bytes(model: torch.nn.Module) -> int:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


def _size(path: Path) -> int:
    # ONNX external data if the exporter wrote any; an OpenVINO IR's weights are the .bin beside its .xml
    extras = [path.with_name(path.name + ".data")] + ([path.with_suffix(".bin")] if path.suffix == ".xml" else [])
    return path.stat().st_size + sum(e.stat().st_size for e in extras if e.is_file())


# formats whose file is built for the batch sizes it will run (a TensorRT engine: one optimisation profile tuned at
# each timed batch); the others serve any batch, so their files do not depend on the caller's batch sizes
PER_BATCH_FORMATS = frozenset({"tensorrt"})


def artifact_for(
    variant: Variant,
    checkpoint: Path,
    model: torch.nn.Module,
    max_batch: int,
    results_root: Path,
    data_root: str | None = None,
    size: int | None = None,
    batches: tuple[int, ...] | None = None,
) -> Artifact:
    """`size`: the input side (px) the file must serve (bench compare --size); None = the checkpoint's crop. The
    torch row loads the checkpoint at any size (the zoo's CNNs end in adaptive pooling); exported files are made
    for one size (engines.export.ensure_file's `size`). `batches`: the batch sizes the caller times (the user's
    --batch-sizes): a TensorRT engine gets a profile tuned at each, and is rebuilt when one is missing."""
    fmt = formats.get(variant.format)
    if fmt.exporter is None:
        # the torch engine loads the checkpoint itself: handing it `model` would move compare's reference copy
        return Artifact(checkpoint, checkpoint, state_dict_bytes(model))
    from engines.export import ensure_file  # heavy (onnx, onnxscript): only when a row needs it

    at_size = {} if size is None else {"size": size}  # only when compare asks for another size than the crop
    path = ensure_file(
        fmt,
        variant.precision if variant.precision in fmt.export_precisions else "fp32",
        checkpoint,
        max_batch=max_batch,
        results_root=results_root,
        data_root=data_root,
        batches=tuple(batches) if batches else None,
        **at_size,
    )
    return Artifact(path, path, _size(path))
