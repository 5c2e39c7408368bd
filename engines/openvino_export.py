"""ONNX -> OpenVINO IR (model.openvino.xml + .bin) with fp32 weights, and its NNCF int8 (model.openvino.int8.xml).

`ov.save_model` compresses weights to fp16 by default: bench passes `compress_to_fp16=False`, so the fp32 IR
matches PyTorch to fp32 tolerance (checked after export; a file that does not is deleted). The batch dimension
stays dynamic as in model.onnx; the engine reshapes to the batch it runs. Beside each IR a JSON file
(model.openvino[.int8].json) holds the ModelMeta, the precision, the file it was made from (with its sha256) and,
for int8, the quantization record (NNCF's settings and the calibration sample, engines.quantize).

Without the openvino (or, for int8, nncf) package, every entry point says in one line which extra to install.
"""

from __future__ import annotations

import contextlib
import io
import json
import os
import time
from pathlib import Path

from engines import formats
from engines.base import file_sha256, read_file_meta
from mldrnet import models
from mldrnet.checkpoint import Checkpoint, ModelMeta
from mldrnet.errors import BenchError
from mldrnet.io import layout
from mldrnet.io.atomic import atomic_write_text

IR_FORMAT = "bench-openvino/1"
INSTALL = "install the cpu extra: pip install 'bench-mldrnet[cpu]'"


def require_openvino():
    try:
        import openvino
    except ImportError as e:
        raise BenchError(f"OpenVINO is not installed (no openvino package): {INSTALL}") from e
    return openvino


def require_nncf():
    try:
        import nncf
    except ImportError as e:
        raise BenchError(f"OpenVINO int8 needs NNCF (no nncf package): {INSTALL}") from e
    return nncf


def meta_path(xml: str | os.PathLike) -> Path:
    return Path(xml).with_suffix(".json")


def read_ir_meta(xml: str | os.PathLike) -> tuple[ModelMeta, dict]:
    return read_file_meta(
        meta_path(xml), Path(xml), IR_FORMAT, "OpenVINO", "re-export it with `bench export MODEL --to openvino`"
    )


def save_ir(model, xml: Path, meta: ModelMeta, record: dict) -> Path:
    """Write the IR (xml + bin, fp32 weights) under temporary names, then move both into place, then the JSON."""
    ov = require_openvino()
    tmp = xml.with_name(f".{xml.stem}.{os.getpid()}.tmp.xml")
    try:
        ov.save_model(model, str(tmp), compress_to_fp16=False)
        os.replace(tmp.with_suffix(".bin"), xml.with_suffix(".bin"))
        os.replace(tmp, xml)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".bin").unlink(missing_ok=True)
    full = {"format": IR_FORMAT, "meta": meta.to_dict(), "openvino": ov.__version__, **record}
    atomic_write_text(meta_path(xml), json.dumps(full, indent=2))
    return xml


def onnx_to_ir(onnx_path: Path, xml: Path, meta: ModelMeta) -> Path:
    ov = require_openvino()
    try:
        model = ov.convert_model(str(onnx_path))
    except Exception as e:
        raise BenchError(
            f"OpenVINO cannot convert {onnx_path.name}: {(str(e).strip().splitlines() or [repr(e)])[0]}"
        ) from e
    return save_ir(
        model, xml, meta, {"precision": "fp32", "source": onnx_path.name, "source_sha256": file_sha256(onnx_path)}
    )


def quantize_ir(fp32_xml: Path, xml: Path, meta: ModelMeta, calibration) -> Path:
    """NNCF post-training quantization of the fp32 IR, one calibration image per NNCF sample."""
    ov, nncf = require_openvino(), require_nncf()
    started = time.perf_counter()
    images = [b[i : i + 1] for b in calibration.batches for i in range(len(b))]
    try:
        model = ov.Core().read_model(str(fp32_xml))
        # NNCF draws progress bars on stdout: compare's table and --json output must stay clean
        with contextlib.redirect_stdout(io.StringIO()):
            quantized = nncf.quantize(
                model,
                nncf.Dataset(images),
                subset_size=len(images),
                preset=nncf.QuantizationPreset.PERFORMANCE,
                target_device=nncf.TargetDevice.CPU,
            )
    except Exception as e:
        raise BenchError(
            f"NNCF int8 quantization of {fp32_xml.name} failed: {(str(e).strip().splitlines() or [repr(e)])[0]}"
        ) from e
    quantization = {
        "tool": f"nncf {nncf.__version__}",
        "preset": "performance",
        "method": "nncf min-max + fast bias correction",
        "subset_size": len(images),
        "calibration": calibration.record,
        "seconds": round(time.perf_counter() - started, 1),
    }
    return save_ir(
        quantized,
        xml,
        meta,
        {
            "precision": "int8",
            "source": fp32_xml.name,
            "source_sha256": file_sha256(fp32_xml),
            "quantization": quantization,
        },
    )


def export_openvino_format(checkpoint: Path, options, results_root):
    """The openvino row's exporter: fp32 IR from model.onnx (exported first when missing or stale), checked against
    PyTorch to fp32 tolerance; int8 quantized from that IR with NNCF (its parity reported, never failed)."""
    from engines.base import EngineOptions, create_engine
    from engines.export import (
        REDUCED_ATOL,
        REDUCED_RTOL,
        ExportResult,
        _require_fp32_parity,
        at_size,
        is_current,
        size_key,
        source_onnx,
    )
    from engines.parity import check_parity, eager, parity_batches
    from engines.quantize import calibration_set

    require_openvino()
    if options.precision == "int8":
        require_nncf()
    started = time.perf_counter()
    loaded = Checkpoint.load(checkpoint)
    key = size_key(loaded, options.size)
    ckpt = at_size(loaded, key)
    root = layout.root_of_checkpoint(checkpoint, results_root)
    fmt = formats.get("openvino")
    fp32 = fmt.path(checkpoint.parent, "fp32", key)
    inputs = parity_batches(ckpt, "test", options.parity_images, root, options.data_root)
    reference = eager(models.load(ckpt))
    if options.precision == "fp32" or not is_current(fp32, checkpoint):
        onnx_to_ir(source_onnx(checkpoint, options, results_root), fp32, ckpt.meta)
        report = check_parity(reference, create_engine("openvino", fp32, EngineOptions(precision="fp32")), inputs)
        _require_fp32_parity(report, fp32, f"the OpenVINO IR of {ckpt.model}")
    if options.precision == "fp32":
        return ExportResult(ckpt.model, "openvino", "fp32", fp32, report, time.perf_counter() - started)
    calibration = calibration_set(ckpt, options.calibration_images, root, options.data_root)
    xml = quantize_ir(fp32, fmt.path(checkpoint.parent, "int8", key), ckpt.meta, calibration)
    engine = create_engine("openvino", xml, EngineOptions(precision="int8"))
    report = check_parity(reference, engine, inputs, rtol=REDUCED_RTOL, atol=REDUCED_ATOL)
    return ExportResult(ckpt.model, "openvino", "int8", xml, report, time.perf_counter() - started)
