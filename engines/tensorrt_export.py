"""ONNX -> TensorRT engine exports, parity-checked: the tensorrt row's exporter (the formats table points here).

fp32 and fp16 engines are built from model.onnx; int8 from the Q/DQ file engines.quantize makes for TensorRT
(model.trt-int8.onnx: symmetric signed int8 activations, calibrated on the checkpoint's training split), as a
strongly typed network (engines.tensorrt_build). Every engine is checked against the model run eagerly on the CPU
(fp32 to fp32 tolerance, or deleted; reduced precision reported). Apart from engines.export, which it builds on,
so that export's staleness checks import neither the quantizer nor TensorRT.
"""

from __future__ import annotations

import time
from collections.abc import Iterable
from pathlib import Path

import torch
from torch import nn

from engines import formats
from engines.base import EngineOptions, create_engine, file_sha256
from engines.export import (
    REDUCED_ATOL,
    REDUCED_RTOL,
    ExportOptions,
    ExportResult,
    _require_fp32_parity,
    _require_tensorrt,
    at_size,
    size_key,
    source_onnx,
)
from engines.parity import check_parity, eager, parity_batches
from mldrnet import models
from mldrnet.checkpoint import Checkpoint, ModelMeta
from mldrnet.io import layout


def export_tensorrt_checked(
    model: nn.Module,
    meta: ModelMeta,
    onnx_path: Path,
    engine_path: Path,
    parity_inputs: Iterable[torch.Tensor],
    *,
    precision: str = "fp32",
    max_batch: int = 32,
    batches: Iterable[int] | None = None,
    source_onnx: Path | None = None,
    checkpoint_sha256: str | None = None,
) -> ExportResult:
    """Build a TensorRT engine from `onnx_path` (int8: the Q/DQ file, `source_onnx` the model.onnx it came from)
    and check it against the model run eagerly on the CPU in fp32 (on the GPU, cuDNN's TF32 would make the
    reference itself inexact)."""
    from engines.tensorrt_build import build_engine

    started = time.perf_counter()
    build_engine(
        Path(onnx_path),
        Path(engine_path),
        meta,
        precision=precision,
        max_batch=max_batch,
        batches=batches,
        source_onnx=source_onnx,
        checkpoint_sha256=checkpoint_sha256,
    )
    engine = create_engine("tensorrt", engine_path, EngineOptions(device="cuda", precision=precision))
    reference = eager(model.to("cpu"))
    if precision == "fp32":
        report = check_parity(reference, engine, parity_inputs)
        _require_fp32_parity(report, Path(engine_path), f"the {precision} TensorRT engine of {meta.model}")
    else:
        report = check_parity(reference, engine, parity_inputs, rtol=REDUCED_RTOL, atol=REDUCED_ATOL)
    return ExportResult(meta.model, "tensorrt", precision, Path(engine_path), report, time.perf_counter() - started)


def build_tensorrt(
    onnx_path: str | Path,
    engine_path: str | Path | None = None,
    *,
    precision: str = "fp32",
    max_batch: int = 32,
    batches: Iterable[int] | None = None,
    checkpoint: str | Path | None = None,
    results_root: str | Path | None = None,
    data_root: str | None = None,
    parity_images: int = 64,
    calibration_images: int = 256,
    calibration_method: str = "minmax",
    size: int | None = None,
) -> ExportResult:
    """ONNX file -> TensorRT engine (default: model.<precision>.engine beside it), parity-checked against the
    checkpoint it was exported from (default: best.pt beside it). int8 is built from the Q/DQ file that
    engines.quantize makes for TensorRT (model.trt-int8.onnx), calibrated on the checkpoint's training split."""
    from engines.quantize import quantize_for_tensorrt
    from engines.tensorrt_build import qdq_path

    _require_tensorrt(precision)
    onnx_path = Path(onnx_path)
    checkpoint = Path(checkpoint) if checkpoint is not None else formats.get("torch").path(onnx_path.parent)
    loaded = Checkpoint.load(checkpoint)
    key = size_key(loaded, size)
    engine_path = (
        Path(engine_path) if engine_path is not None else formats.get("tensorrt").path(onnx_path.parent, precision, key)
    )
    root = layout.root_of_checkpoint(checkpoint, results_root)
    ckpt = at_size(loaded, key)
    inputs = parity_batches(ckpt, "test", parity_images, root, data_root)
    build_from = onnx_path
    if precision == "int8":
        options = ExportOptions(
            to="tensorrt",
            precision="int8",
            calibration_images=calibration_images,
            calibration_method=calibration_method,
            data_root=data_root,
            size=key,
        )
        build_from = quantize_for_tensorrt(checkpoint, options, results_root, qdq_path(engine_path))
    return export_tensorrt_checked(
        models.load(ckpt),
        ckpt.meta,
        build_from,
        engine_path,
        inputs,
        precision=precision,
        max_batch=max_batch,
        batches=batches,
        source_onnx=onnx_path,
        checkpoint_sha256=file_sha256(checkpoint),
    )


def export_tensorrt_format(checkpoint: Path, options: ExportOptions, results_root) -> ExportResult:
    """The tensorrt row's exporter: builds from model.onnx, exported first when missing or stale."""
    _require_tensorrt(options.precision)
    onnx_path = source_onnx(checkpoint, options, results_root)
    return build_tensorrt(
        onnx_path,
        precision=options.precision,
        max_batch=options.max_batch,
        batches=options.batches,
        checkpoint=checkpoint,
        results_root=results_root,
        data_root=options.data_root,
        parity_images=options.parity_images,
        calibration_images=options.calibration_images,
        calibration_method=options.calibration_method,
        size=options.size,
    )
