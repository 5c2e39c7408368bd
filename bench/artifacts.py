"""The file each engine variant loads, made on demand next to the checkpoint and reused afterwards.

torch loads the checkpoint itself; ONNX Runtime an .onnx exported from it; TensorRT an engine built from that
.onnx. A file older than its checkpoint is stale (the model was retrained) and is made again, and so is an
engine built for a smaller batch than the row needs (`engines.run_files.is_current`). The sizes
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


def _size(path: Path) -> int:
    extra = path.with_name(path.name + ".data")  # ONNX external data, if the exporter wrote any
    return path.stat().st_size + (extra.stat().st_size if extra.is_file() else 0)


def _export(checkpoint: Path, to: str, precision: str, max_batch: int, results_root: Path,
            data_root: str | None) -> None:
    from engines.export import ExportOptions, export_checkpoint  # heavy (onnx, onnxscript): only when a row needs it

    export_checkpoint(checkpoint, ExportOptions(to=to, precision=precision, max_batch=max_batch, data_root=data_root),
                      results_root)


def make_file(variant: Variant, checkpoint: Path, max_batch: int, results_root: Path, data_root: str | None) -> Path:
    """The variant's file next to the checkpoint, exported (with engines.export's parity check) when missing or stale."""
    from engines.run_files import artifact_path, is_current

    path = artifact_path(checkpoint.parent, variant.engine, variant.precision)
    if not is_current(path, checkpoint, max_batch):
        to = "onnx" if variant.file_format == "onnx" else "tensorrt"
        _export(checkpoint, to, variant.precision if to == "tensorrt" else "fp32", max_batch, results_root, data_root)
    if not path.is_file():
        raise BenchError(f"the export did not write {path}")
    return path


def artifact_for(variant: Variant, checkpoint: Path, model: torch.nn.Module, max_batch: int, results_root: Path,
                 data_root: str | None = None) -> Artifact:
    if variant.file_format == "pt":
        # the torch engine loads the checkpoint itself: handing it `model` would move compare's reference copy
        return Artifact(checkpoint, checkpoint, state_dict_bytes(model))
    if variant.file_format in ("onnx", "engine"):
        path = make_file(variant, checkpoint, max_batch, results_root, data_root)
        return Artifact(path, path, _size(path))
    raise BenchError(f"no file format {variant.file_format!r}")
