"""Export orchestration: checkpoint (or in-memory model) -> ONNX file / TensorRT engine, each parity-checked.

Files go next to the checkpoint, results/runs/<run key>/<model>/, named by the formats table (engines.formats),
whose `exporter` column points at the functions here:

    best.pt                 the checkpoint (torch engine)
    model.onnx              fp32, dynamic batch, metadata inside (onnxruntime engine)
    model.<precision>.engine + model.<precision>.json, tensorrt.timing-cache  (tensorrt engine)
    model.fp16.onnx / model.int8.onnx   TensorRT 11's ModelOpt-converted inputs
    model.ort-int8.onnx     ONNX Runtime static int8 (engines.quantize)
    model.openvino[.int8].xml + .bin + .json   OpenVINO IR, fp32 weights or NNCF int8 (engines.openvino_export)

A serving size S other than the checkpoint's crop (`ExportOptions.size`, `ensure_file(size=S)`) exports the same
weights at S (the models end in adaptive pooling) into files named with ".sS" before the extension
(model.s375.onnx), parity-checked on test images preprocessed at S (`at_size`).

`ensure_file` gives a format's file for a checkpoint, exporting it when it is missing or stale (older than the
checkpoint, or a TensorRT engine built for a smaller batch): compare and predict ask it.

After each export the new file runs on images of the checkpoint's test split next to PyTorch eager on the CPU;
an fp32 file whose logits differ beyond the tolerance is deleted and the export fails. Reduced precision is
reported, not failed: how much accuracy it costs is what `bench compare` is for.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import torch
from torch import nn

from engines import formats
from engines.base import EngineOptions, create_engine
from engines.parity import ParityReport, check_parity, eager, parity_batches
from mldrnet import models
from mldrnet.checkpoint import Checkpoint, ModelMeta
from mldrnet.errors import BenchError, one_line
from mldrnet.io import layout
from mldrnet.io.lock import exclusive, lock_file_for

# loose bounds for reduced precision: only used to flag a report, never to fail an export
REDUCED_RTOL, REDUCED_ATOL = 5e-2, 5e-2


@dataclass(frozen=True)
class ExportOptions:
    to: str = "onnx"  # a format with an exporter: onnx | tensorrt | onnx-int8 | openvino
    precision: str = "fp32"  # tensorrt: fp32 | fp16 | int8; openvino: fp32 | int8; onnx-int8: int8 (ONNX is fp32)
    max_batch: int = 32  # tensorrt optimization profile: batch 1..max_batch
    parity_images: int = 64  # test-split images for the parity check
    calibration_images: int = 256  # training images for int8 (a seeded sample: engines.quantize)
    data_root: str | None = None  # where the checkpoint's dataset lives on this machine, if not where it was trained
    opset: int | None = None
    size: int | None = None  # serving size (crop) to export at; None: the checkpoint's own
    calibration_method: str = "minmax"  # onnx-int8: minmax | entropy


def at_size(ckpt: Checkpoint, size: int | None) -> Checkpoint:
    """The checkpoint with its preprocessing scaled to crop `size` (resize scaled alike), for exports and parity
    images at a serving size; itself when `size` is None or its own crop."""
    p = ckpt.preprocessing
    if size is None or int(size) == p.crop:
        return ckpt
    if int(size) < 16:
        raise BenchError(f"serving size {size} is too small (16 px at least)")
    return replace(ckpt, preprocessing=replace(p, crop=int(size), resize=round(p.resize_to * int(size) / p.crop)))


def size_key(checkpoint: str | Path | Checkpoint, size: int | None) -> int | None:
    """`size` as file names take it: None when it is the checkpoint's own crop (the file without ".sS")."""
    if size is None:
        return None
    ckpt = checkpoint if isinstance(checkpoint, Checkpoint) else Checkpoint.load(checkpoint)
    return None if int(size) == ckpt.preprocessing.crop else int(size)


@dataclass(frozen=True)
class ExportResult:
    model: str
    format: str
    precision: str
    path: Path | None
    parity: ParityReport | None
    seconds: float
    error: str | None = None  # one line (mldrnet.errors.one_line); None when it worked

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "format": self.format,
            "precision": self.precision,
            "path": str(self.path) if self.path else None,
            "seconds": round(self.seconds, 2),
            "parity": self.parity.to_dict() if self.parity else None,
            "error": self.error,
        }


def _require_fp32_parity(report: ParityReport, path: Path, what: str) -> None:
    if not report.ok:
        path.unlink(missing_ok=True)  # a file that disagrees with PyTorch must not be picked up by predict/compare
        raise BenchError(
            f"{what} does not match PyTorch ({report.summary()}); {path.name} was deleted: "
            "rerun with --debug and report it"
        )


def export_onnx_checked(
    model: nn.Module,
    meta: ModelMeta,
    path: str | Path,
    parity_inputs: Iterable[torch.Tensor],
    *,
    opset: int | None = None,
    threads: int | None = None,
) -> ExportResult:
    """Export an in-memory model to ONNX and check ONNX Runtime (CPU) against it; BenchError if fp32 parity breaks."""
    from engines.onnx_export import export_onnx

    started = time.perf_counter()
    path = export_onnx(model, meta, path, opset=opset)
    engine = create_engine("onnxruntime", path, EngineOptions(provider="cpu", threads=threads))
    report = check_parity(eager(model), engine, parity_inputs)
    _require_fp32_parity(report, path, f"the ONNX export of {meta.model}")
    return ExportResult(meta.model, "onnx", "fp32", path, report, time.perf_counter() - started)


def export_tensorrt_checked(
    model: nn.Module,
    meta: ModelMeta,
    onnx_path: Path,
    engine_path: Path,
    parity_inputs: Iterable[torch.Tensor],
    *,
    precision: str = "fp32",
    max_batch: int = 32,
    calibration: Callable[[], Iterable[np.ndarray]] | None = None,
) -> ExportResult:
    """Build a TensorRT engine from `onnx_path` and check it against the model run eagerly on the CPU in fp32
    (on the GPU, cuDNN's TF32 would make the reference itself inexact)."""
    from engines.tensorrt_build import build_engine

    started = time.perf_counter()
    build_engine(
        Path(onnx_path), Path(engine_path), meta, precision=precision, max_batch=max_batch, calibration=calibration
    )
    engine = create_engine("tensorrt", engine_path, EngineOptions(device="cuda", precision=precision))
    reference = eager(model.to("cpu"))
    if precision == "fp32":
        report = check_parity(reference, engine, parity_inputs)
        _require_fp32_parity(report, Path(engine_path), f"the {precision} TensorRT engine of {meta.model}")
    else:
        report = check_parity(reference, engine, parity_inputs, rtol=REDUCED_RTOL, atol=REDUCED_ATOL)
    return ExportResult(meta.model, "tensorrt", precision, Path(engine_path), report, time.perf_counter() - started)


def export_onnx(
    checkpoint: str | Path,
    path: str | Path | None = None,
    *,
    results_root: str | Path | None = None,
    data_root: str | None = None,
    parity_images: int = 64,
    opset: int | None = None,
    size: int | None = None,
) -> ExportResult:
    """checkpoint -> ONNX file (default: model.onnx beside it, model.sS.onnx at another size S), parity-checked on
    the checkpoint's test split."""
    checkpoint = Path(checkpoint)
    loaded = Checkpoint.load(checkpoint)
    key = size_key(loaded, size)
    ckpt = at_size(loaded, key)
    offered = models.info(ckpt.model).formats
    if offered is not None and "onnx" not in offered:
        raise BenchError(f"{ckpt.model} has no ONNX form (it runs only as {', '.join(offered)}): use --engine torch")
    inputs = parity_batches(ckpt, "test", parity_images, layout.root_of_checkpoint(checkpoint, results_root), data_root)
    path = Path(path) if path is not None else formats.get("onnx").path(checkpoint.parent, "fp32", key)
    return export_onnx_checked(models.load(ckpt), ckpt.meta, path, inputs, opset=opset)


def build_tensorrt(
    onnx_path: str | Path,
    engine_path: str | Path | None = None,
    *,
    precision: str = "fp32",
    max_batch: int = 32,
    checkpoint: str | Path | None = None,
    results_root: str | Path | None = None,
    data_root: str | None = None,
    parity_images: int = 64,
    calibration_images: int = 256,
    size: int | None = None,
) -> ExportResult:
    """ONNX file -> TensorRT engine (default: model.<precision>.engine beside it), parity-checked against the
    checkpoint it was exported from (default: best.pt beside it), whose training split also calibrates int8."""
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

    def calibration() -> list[np.ndarray]:
        return [b.numpy() for b in parity_batches(ckpt, "train", calibration_images, root, data_root)]

    return export_tensorrt_checked(
        models.load(ckpt),
        ckpt.meta,
        onnx_path,
        engine_path,
        inputs,
        precision=precision,
        max_batch=max_batch,
        calibration=calibration if precision == "int8" else None,
    )


def _require_tensorrt(precision: str) -> None:
    """Checked before any slow step: on a machine without a GPU this one line is the whole answer."""
    from engines.tensorrt_build import require_tensorrt

    allowed = formats.get("tensorrt").export_precisions
    if precision not in allowed:
        raise BenchError(f"TensorRT precision must be one of {', '.join(allowed)}, got {precision!r}")
    require_tensorrt()


def export_checkpoint(
    checkpoint: str | Path, options: ExportOptions = ExportOptions(), results_root: str | Path | None = None
) -> ExportResult:
    """Export one trained checkpoint through its format's exporter (the formats table); files land next to it."""
    fmt = formats.get(options.to)
    if fmt.exporter is None:
        raise BenchError(
            f"{fmt.title} files are written by training, not exported: choose --to "
            + " or ".join(f.name for f in formats.exportable())
        )
    if options.precision not in fmt.export_precisions:
        others = [f"`--to {f.name}`" for f in formats.exportable() if options.precision in f.export_precisions]
        raise BenchError(
            f"the {fmt.title} file is {'/'.join(fmt.export_precisions)}; {options.precision} is built "
            f"from it by {' or '.join(others) or 'no format'}"
        )
    ckpt = Checkpoint.load(checkpoint)
    target = fmt.path(Path(checkpoint).parent, options.precision, size_key(ckpt, options.size))
    with exclusive(lock_file_for(target), f"the export {target}"):  # one writer per exported file
        ckpt.require_finite()  # a diverged training's weights: refused before any work
        return fmt.exporter_function()(Path(checkpoint), options, results_root)


def export_onnx_format(checkpoint: Path, options: ExportOptions, results_root) -> ExportResult:
    """The onnx row's exporter."""
    return export_onnx(
        checkpoint,
        results_root=results_root,
        data_root=options.data_root,
        parity_images=options.parity_images,
        opset=options.opset,
        size=options.size,
    )


def export_tensorrt_format(checkpoint: Path, options: ExportOptions, results_root) -> ExportResult:
    """The tensorrt row's exporter: builds from model.onnx, exported first when missing or stale."""
    _require_tensorrt(options.precision)
    onnx_path = source_onnx(checkpoint, options, results_root)
    return build_tensorrt(
        onnx_path,
        precision=options.precision,
        max_batch=options.max_batch,
        checkpoint=checkpoint,
        results_root=results_root,
        data_root=options.data_root,
        parity_images=options.parity_images,
        calibration_images=options.calibration_images,
        size=options.size,
    )


def source_onnx(checkpoint: Path, options: ExportOptions, results_root) -> Path:
    """The fp32 ONNX file (at options.size) that rows made from onnx read, exported first when missing or stale."""
    onnx_path = formats.get("onnx").path(checkpoint.parent, "fp32", size_key(checkpoint, options.size))
    if not is_current(onnx_path, checkpoint):
        export_onnx_format(checkpoint, replace(options, to="onnx", precision="fp32"), results_root)
    return onnx_path


def is_current(path: Path, checkpoint: Path, max_batch: int | None = None) -> bool:
    """Whether the file exported from `checkpoint` can be used as it is: it exists and is not older than the
    checkpoint (else the model was retrained since), and a TensorRT engine was built for batches up to
    `max_batch` (an engine built for fewer would run every larger batch in chunks and time the wrong thing) from
    the model.onnx beside it as it is now (its sha256), by this TensorRT on this GPU. A stale existing file is
    logged with the reason (`stale_reason`), e.g. "rebuilding model.fp16.engine: built for TensorRT 10.3, this is
    11.0"."""
    import logging

    reason = stale_reason(path, checkpoint, max_batch)
    if reason is not None and Path(path).is_file():
        logging.getLogger(__name__).warning(reason)
    return reason is None


def stale_reason(path: Path, checkpoint: Path, max_batch: int | None = None) -> str | None:
    """None when `is_current`, else one line saying why the file must be made again."""
    from engines import base  # base.tensorrt_version / base.gpu_name: looked up at call time (tests replace them)
    from engines.tensorrt_build import read_engine_meta  # no tensorrt import: the metadata is a JSON file

    path = Path(path)
    if not path.is_file():
        return f"{path.name} does not exist"
    verb = "rebuilding" if path.suffix == ".engine" else "re-exporting"
    if path.stat().st_mtime < Path(checkpoint).stat().st_mtime:
        return f"{verb} {path.name}: {Path(checkpoint).name} is newer (the model was retrained)"
    if path.suffix != ".engine":
        return None
    try:
        _, record = read_engine_meta(path)
    except BenchError as e:  # no or foreign metadata: rebuilding writes it
        return f"{verb} {path.name}: {one_line(e)}"
    source = path.parent / str(record.get("source_onnx") or formats.get("onnx").filename())
    if not record.get("source_sha256"):
        return f"{verb} {path.name}: its metadata has no hash of the {source.name} it was built from (an older bench)"
    if source.is_file() and base.file_sha256(source) != record["source_sha256"]:
        return f"{verb} {path.name}: {source.name} changed since it was built (re-exported from a retrained model)"
    built, here = record.get("tensorrt"), base.tensorrt_version()
    if here and built != here:
        return f"{verb} {path.name}: built for TensorRT {built or 'unknown'}, this is {here}"
    built_gpu, gpu = record.get("gpu"), base.gpu_name()
    if gpu and built_gpu != gpu:
        return f"{verb} {path.name}: built on {built_gpu or 'an unknown GPU'}, this is {gpu}"
    if max_batch is not None and int(record.get("max_batch") or 0) < max_batch:
        return f"{verb} {path.name}: built for batches up to {record.get('max_batch')}, {max_batch} needed"
    return None


def ensure_file(
    fmt: formats.Format,
    precision: str,
    checkpoint: Path,
    *,
    max_batch: int = 32,
    results_root: str | Path | None = None,
    data_root: str | None = None,
    size: int | None = None,
) -> Path:
    """The format's file next to the checkpoint, exported (with its parity check) when missing or stale; `size`:
    exported at that serving size (a file named ".sS" when S is not the checkpoint's crop)."""
    if fmt.exporter is None:
        return Path(checkpoint)
    key = size_key(checkpoint, size)
    path = fmt.path(Path(checkpoint).parent, precision, key)
    with exclusive(lock_file_for(path), f"the export {path}"):  # checked and exported by one process at a time
        if not is_current(path, checkpoint, max_batch):
            export_checkpoint(
                checkpoint,
                ExportOptions(to=fmt.name, precision=precision, max_batch=max_batch, data_root=data_root, size=key),
                results_root,
            )
    if not path.is_file():
        raise BenchError(f"the export did not write {path}")
    return path


def export_models(
    models: list[str], options: ExportOptions, results_root: str | Path, dataset: str, keep_going: bool = False
) -> list[ExportResult]:
    """Export each model's checkpoint under results_root/runs/<dataset>/<model>/. With keep_going (`--all`), a model
    that fails becomes a result with its error and the others still export; otherwise the BenchError propagates."""
    if options.to == "tensorrt":
        _require_tensorrt(options.precision)  # one line for the whole run, not one error row per model
    results = []
    for name in models:
        checkpoint = layout.checkpoint_path(results_root, name, dataset)
        started = time.perf_counter()
        try:
            results.append(export_checkpoint(checkpoint, options, results_root))
        except BenchError as e:
            if not keep_going:
                raise
            results.append(
                ExportResult(
                    name, options.to, options.precision, None, None, time.perf_counter() - started, one_line(e)
                )
            )
    return results
