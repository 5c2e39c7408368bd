"""Export orchestration: checkpoint (or in-memory model) -> ONNX file, parity-checked; the staleness of every
exported file (`stale_reason`), and `ensure_file`, which compare uses. The TensorRT engine's exporter is in
engines.tensorrt_export, ONNX Runtime int8 in engines.quantize, OpenVINO in engines.openvino_export.

Files go next to the checkpoint, results/runs/<run key>/<model>/, named by the formats table (engines.formats),
whose `exporter` column points at the functions here:

    best.pt                 the checkpoint (torch engine)
    model.onnx              fp32, dynamic batch, metadata inside (onnxruntime engine)
    model.<precision>.engine + model.<precision>.json  (tensorrt engine), tensorrt-<version>-<gpu>.timing-cache
    model.trt-int8.onnx     the Q/DQ file a TensorRT int8 engine is built from (engines.quantize, for TensorRT)
    model.fp16.onnx         TensorRT >= 10.12's strongly typed fp16 input (ModelOpt's, else ORT's converter)
    model.ort-int8.onnx     ONNX Runtime static int8 (engines.quantize)
    model.openvino[.int8].xml + .bin + .json   OpenVINO IR, fp32 weights or NNCF int8 (engines.openvino_export)

A serving size S other than the checkpoint's crop (`ExportOptions.size`, `ensure_file(size=S)`) exports the same
weights at S (the models end in adaptive pooling) into files named with ".sS" before the extension
(model.s375.onnx), parity-checked on test images preprocessed at S (`at_size`).

Every exported file records the sha256 of the checkpoint it was made from (ONNX: metadata_props
`bench.checkpoint_sha256`; the OpenVINO IR and the TensorRT engine: their JSON beside the file; the int8 ONNX
copies its model.onnx's). That hash, not a modification time, ties a file to best.pt: `stale_reason` compares it
before any use, so a file from another training, copied in or left over, is re-exported by `ensure_file` (compare,
export) and refused in one line by `require_same_checkpoint` (predict, which never exports).

`ensure_file` gives a format's file for a checkpoint, exporting it when it is missing or stale (from another
checkpoint, or a TensorRT engine built for a smaller batch): compare and export ask it. A current file is used
without taking its export lock, so a read-only results folder serves the files it holds.

After each export the new file runs on images of the checkpoint's test split next to PyTorch eager on the CPU;
an fp32 file whose logits differ beyond the tolerance is deleted and the export fails. Reduced precision is
reported, not failed: how much accuracy it costs is what `bench compare` is for.
"""

from __future__ import annotations

import os
import time
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import torch
from torch import nn

from engines import base, formats
from engines.base import CHECKPOINT_KEY, EngineOptions, create_engine, file_sha256
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
    max_batch: int = 32  # tensorrt optimization profiles: batch 1..max_batch
    batches: tuple[int, ...] | None = None  # tensorrt: the timed batch sizes, one profile tuned at each
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


_CROPS: dict[tuple[str, int, int], int] = {}


def checkpoint_crop(checkpoint: str | Path) -> int:
    """The checkpoint's crop, remembered per (path, size, mtime): compare asks for every row, and loading a VGG-19
    checkpoint reads 550 MB."""
    path = Path(checkpoint)
    try:
        st = path.stat()
    except OSError:
        return Checkpoint.load(path).preprocessing.crop  # says in one line what is wrong with the checkpoint
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _CROPS:
        _CROPS[key] = Checkpoint.load(path).preprocessing.crop
    return _CROPS[key]


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
    checkpoint_sha256: str | None = None,
) -> ExportResult:
    """Export an in-memory model to ONNX and check ONNX Runtime (CPU) against it; BenchError if fp32 parity breaks.
    `checkpoint_sha256`: the checkpoint file the model was loaded from, recorded in the file."""
    from engines.onnx_export import export_onnx

    started = time.perf_counter()
    path = export_onnx(model, meta, path, opset=opset, checkpoint_sha256=checkpoint_sha256)
    engine = create_engine("onnxruntime", path, EngineOptions(provider="cpu", threads=threads))
    report = check_parity(eager(model), engine, parity_inputs)
    _require_fp32_parity(report, path, f"the ONNX export of {meta.model}")
    return ExportResult(meta.model, "onnx", "fp32", path, report, time.perf_counter() - started)


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
    return export_onnx_checked(
        models.load(ckpt), ckpt.meta, path, inputs, opset=opset, checkpoint_sha256=file_sha256(checkpoint)
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


def source_onnx(checkpoint: Path, options: ExportOptions, results_root) -> Path:
    """The fp32 ONNX file (at options.size) that rows made from onnx read, exported first when missing or stale
    (another checkpoint's, or another size's)."""
    crop = checkpoint_crop(checkpoint)
    key = None if options.size is None or int(options.size) == crop else int(options.size)
    onnx_path = formats.get("onnx").path(checkpoint.parent, "fp32", key)
    if not is_current(onnx_path, checkpoint, size=key or crop):
        export_onnx_format(checkpoint, replace(options, to="onnx", precision="fp32"), results_root)
    return onnx_path


def is_current(
    path: Path,
    checkpoint: Path,
    max_batch: int | None = None,
    batches: Iterable[int] | None = None,
    size: int | None = None,
) -> bool:
    """Whether the file exported from `checkpoint` can be used as it is (`stale_reason` is None). A stale existing
    file is logged with the reason, e.g. "rebuilding model.fp16.engine: built for TensorRT 10.3, this is 11.0"."""
    import logging

    reason = stale_reason(path, checkpoint, max_batch, batches, size)
    if reason is not None and Path(path).is_file():
        logging.getLogger(__name__).warning(reason)
    return reason is None


def _file_record(path: Path) -> tuple[ModelMeta, str | None]:
    """(ModelMeta, the sha256 of the checkpoint it records or None) of an exported file; BenchError when its
    metadata cannot be read."""
    path = Path(path)
    if path.suffix == ".onnx":
        from engines.onnx_export import read_onnx_checkpoint, read_onnx_meta

        return read_onnx_meta(path), read_onnx_checkpoint(path)
    if path.suffix == ".engine":
        from engines.tensorrt_build import read_engine_meta  # no tensorrt import: the metadata is a JSON file

        meta, record = read_engine_meta(path)
    elif path.suffix == ".xml":
        from engines.openvino_files import read_ir_meta  # no openvino import: the metadata is a JSON file

        meta, record = read_ir_meta(path)
    else:
        raise BenchError(f"{path} is not an exported file bench knows (.onnx, .engine, .xml)")
    value = record.get(CHECKPOINT_KEY)
    return meta, value if isinstance(value, str) else None


def recorded_checkpoint(path: Path) -> str | None:
    """The sha256 of the checkpoint an exported file records (None: it records none, an older bench's file);
    BenchError when its metadata cannot be read."""
    return _file_record(path)[1]


def checkpoint_mismatch(path: Path, checkpoint: Path) -> str | None:
    """Why `path` is not the export of `checkpoint` as it is now (None: it is, by content)."""
    recorded = recorded_checkpoint(path)
    if recorded is None:
        return f"{path.name} records no checkpoint hash (written by an older bench)"
    here = base.file_sha256(checkpoint)
    if recorded != here:
        return (
            f"{path.name} was exported from another checkpoint (sha256 {recorded[:12]}) than "
            f"{Path(checkpoint).name} (sha256 {here[:12]}): retrained since, or copied from another run"
        )
    return None


def stale_reason(
    path: Path,
    checkpoint: Path,
    max_batch: int | None = None,
    batches: Iterable[int] | None = None,
    size: int | None = None,
) -> str | None:
    """None when the file can be used as it is: it exists, it records the sha256 of `checkpoint` as it is now, and
    a TensorRT engine was also built for batches up to `max_batch` (an engine built for fewer would run every
    larger batch in chunks and time the wrong thing) with a profile tuned at each of `batches`, from the model.onnx
    beside it as it is now (its sha256), by this TensorRT release (versions compared by their release numbers: a
    .postN wheel is the same TensorRT) on this GPU. With `size` (the input side the caller will feed), the file must
    take that size (a renamed model.s56.onnx is the same checkpoint's, at another size). Else one line saying why
    the file must be made again."""
    from engines.tensorrt_build import profile_batches, read_engine_meta

    path = Path(path)
    if not path.is_file():
        return f"{path.name} does not exist"
    verb = "rebuilding" if path.suffix == ".engine" else "re-exporting"
    try:
        mismatch = checkpoint_mismatch(path, checkpoint)
    except BenchError as e:  # unreadable or foreign metadata: exporting again writes it
        return f"{verb} {path.name}: {one_line(e)}"
    if mismatch is not None:
        return f"{verb} {path.name}: {mismatch}"
    if size is not None:
        crop = _file_record(path)[0].preprocessing.crop
        if crop != int(size):
            return f"{verb} {path.name}: it takes {crop} px images, {int(size)} px are needed (renamed?)"
    if path.suffix != ".engine":
        return None
    _, record = read_engine_meta(path)
    source = path.parent / str(record.get("source_onnx") or formats.get("onnx").filename())
    if not record.get("source_sha256"):
        return f"{verb} {path.name}: its metadata has no hash of the {source.name} it was built from (an older bench)"
    if source.is_file() and base.file_sha256(source) != record["source_sha256"]:
        return f"{verb} {path.name}: {source.name} changed since it was built (re-exported from a retrained model)"
    built, here = record.get("tensorrt"), base.tensorrt_version()
    if here and not base.same_version(built, here):
        return f"{verb} {path.name}: built for TensorRT {built or 'unknown'}, this is {here}"
    built_gpu, gpu = record.get("gpu"), base.gpu_name()
    if gpu and built_gpu != gpu:
        return f"{verb} {path.name}: built on {built_gpu or 'an unknown GPU'}, this is {gpu}"
    if max_batch is not None and int(record.get("max_batch") or 0) < max_batch:
        return f"{verb} {path.name}: built for batches up to {record.get('max_batch')}, {max_batch} needed"
    if batches is not None:
        needed = set(profile_batches(batches, max_batch or int(record.get("max_batch") or 1)))
        missing = sorted(needed - {int(b) for b in record.get("profiles") or ()})
        if missing:
            return f"{verb} {path.name}: no profile tuned at batch {', '.join(map(str, missing))}"
    return None


def require_same_checkpoint(path: Path, checkpoint: Path, fmt: formats.Format) -> None:
    """For a caller that never exports (predict): refuse, in one line, a file that is not the export of the
    checkpoint beside it as it is now. A folder without a checkpoint (a deployed model.onnx alone) is not judged."""
    if not Path(checkpoint).is_file() or not Path(path).is_file():
        return
    mismatch = checkpoint_mismatch(Path(path), Path(checkpoint))
    if mismatch is not None:
        precision = "" if fmt.export_precisions == ("fp32",) else " --precision PRECISION"
        raise BenchError(
            f"{mismatch}: it is not used; export it again with `bench export MODEL --to {fmt.name}{precision}`"
        )


def ensure_file(
    fmt: formats.Format,
    precision: str,
    checkpoint: Path,
    *,
    max_batch: int = 32,
    results_root: str | Path | None = None,
    data_root: str | None = None,
    size: int | None = None,
    batches: tuple[int, ...] | None = None,
) -> Path:
    """The format's file next to the checkpoint, exported (with its parity check) when missing or stale; `size`:
    exported at that serving size (a file named ".sS" when S is not the checkpoint's crop); `batches`: the batch
    sizes the caller times (a TensorRT engine gets a profile tuned at each)."""
    if fmt.exporter is None:
        return Path(checkpoint)
    crop = checkpoint_crop(checkpoint)
    key = None if size is None or int(size) == crop else int(size)
    path = fmt.path(Path(checkpoint).parent, precision, key)
    expected = key or crop
    # a current file is read without its lock (files are replaced atomically): a read-only folder still serves it
    reason = stale_reason(path, checkpoint, max_batch, batches, expected)
    if reason is None:
        return path
    if path.is_file():
        import logging

        logging.getLogger(__name__).warning(reason)
    if not os.access(path.parent, os.W_OK):
        raise BenchError(
            f"{reason}, but {path.parent} is not writable: make it writable, or copy the run folder to a "
            "writable place and point --results-dir there"
        )
    with exclusive(lock_file_for(path), f"the export {path}"):  # checked and exported by one process at a time
        if stale_reason(path, checkpoint, max_batch, batches, expected) is not None:
            options = ExportOptions(
                to=fmt.name, precision=precision, max_batch=max_batch, data_root=data_root, size=key, batches=batches
            )
            export_checkpoint(checkpoint, options, results_root)
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
