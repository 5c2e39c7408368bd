"""The file each engine variant loads, made on demand next to the checkpoint and reused afterwards.

torch loads the checkpoint itself; ONNX Runtime an .onnx exported from it; TensorRT an engine built from that
.onnx. A file older than its checkpoint is stale (the model was retrained) and is made again. The sizes
recorded per format are of what a deployment would ship: the weights alone for torch (a training checkpoint
also carries optimizer state), the .onnx (with external data) and the engine file.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from bench.variants import Variant
from mldrnet.errors import BenchError


@dataclass(frozen=True)
class Artifact:
    source: Any  # what create_engine gets: a path (or an nn.Module)
    path: Path | None
    nbytes: int | None


def state_dict_bytes(model: torch.nn.Module) -> int:
    buf = io.BytesIO()
    torch.save(model.state_dict(), buf)
    return buf.tell()


def _fresh(path: Path, checkpoint: Path) -> bool:
    return path.is_file() and path.stat().st_mtime >= checkpoint.stat().st_mtime


def _size(path: Path) -> int:
    extra = path.with_name(path.name + ".data")  # ONNX external data, if the exporter wrote any
    return path.stat().st_size + (extra.stat().st_size if extra.is_file() else 0)


def onnx_path(checkpoint: Path) -> Path:
    return checkpoint.with_suffix(".onnx")


def engine_path(checkpoint: Path, precision: str) -> Path:
    return checkpoint.with_name(f"{checkpoint.stem}.{precision}.engine")


def make_onnx(checkpoint: Path) -> Path:
    path = onnx_path(checkpoint)
    if not _fresh(path, checkpoint):
        from engines import export  # heavy (onnx, onnxscript): only when a row needs it

        export.export_onnx(checkpoint, path)
    return path


def make_engine(checkpoint: Path, precision: str, max_batch: int) -> Path:
    path = engine_path(checkpoint, precision)
    if not _fresh(path, checkpoint):
        from engines import export

        export.build_tensorrt(make_onnx(checkpoint), path, precision=precision, max_batch=max_batch)
    return path


def artifact_for(variant: Variant, checkpoint: Path, model: torch.nn.Module, max_batch: int) -> Artifact:
    if variant.file_format == "pt":
        return Artifact(checkpoint, checkpoint, state_dict_bytes(model))
    if variant.file_format == "onnx":
        path = make_onnx(checkpoint)
        return Artifact(path, path, _size(path))
    if variant.file_format == "engine":
        path = make_engine(checkpoint, variant.precision, max_batch)
        return Artifact(path, path, _size(path))
    raise BenchError(f"no file format {variant.file_format!r}")
