"""ONNX -> OpenVINO IR (model.openvino.xml + .bin) with fp32 weights, and its NNCF int8 (model.openvino.int8.xml).

`ov.save_model` compresses weights to fp16 by default: bench passes `compress_to_fp16=False`, so the fp32 IR
matches PyTorch to fp32 tolerance (checked after export; a file that does not is deleted). The batch dimension
stays dynamic as in model.onnx; the engine reshapes to the batch it runs. Beside each IR a JSON file
(model.openvino[.int8].json) holds the ModelMeta, the precision, the file it was made from (with its sha256), the
sha256 of the checkpoint (which ties the IR to best.pt, engines.export.stale_reason), the sha256 of the .xml and
the .bin themselves (`check_ir_files`: a truncated or altered IR is refused in one line before OpenVINO reads it)
and, for int8, the quantization record (NNCF's settings and the calibration sample, engines.quantize).

Without the openvino (or, for int8, nncf) package, every entry point says in one line which extra to install.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import os
import time
from pathlib import Path

from engines import formats
from engines.base import CHECKPOINT_KEY, file_sha256

# the IR's metadata and the check of its files live apart (engines.export reads them without this module)
from engines.openvino_files import IR_FORMAT, REMAKE, check_ir_files, meta_path, read_ir_meta  # noqa: F401
from mldrnet import models
from mldrnet.checkpoint import Checkpoint, ModelMeta
from mldrnet.errors import BenchError
from mldrnet.io import layout
from mldrnet.io.atomic import atomic_write_text

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


def save_ir(model, xml: Path, meta: ModelMeta, record: dict) -> Path:
    """Write the IR (xml + bin, fp32 weights) under temporary names, then move both into place, then the JSON
    (with both files' sha256)."""
    ov = require_openvino()
    tmp = xml.with_name(f".{xml.stem}.{os.getpid()}.tmp.xml")
    try:
        ov.save_model(model, str(tmp), compress_to_fp16=False)
        hashes = {"xml_sha256": file_sha256(tmp), "bin_sha256": file_sha256(tmp.with_suffix(".bin"))}
        os.replace(tmp.with_suffix(".bin"), xml.with_suffix(".bin"))
        os.replace(tmp, xml)
    finally:
        tmp.unlink(missing_ok=True)
        tmp.with_suffix(".bin").unlink(missing_ok=True)
    full = {"format": IR_FORMAT, "meta": meta.to_dict(), "openvino": ov.__version__, **record, **hashes}
    atomic_write_text(meta_path(xml), json.dumps(full, indent=2))
    return xml


def onnx_to_ir(onnx_path: Path, xml: Path, meta: ModelMeta, checkpoint_sha256: str | None = None) -> Path:
    ov = require_openvino()
    try:
        model = ov.convert_model(str(onnx_path))
    except Exception as e:
        raise BenchError(
            f"OpenVINO cannot convert {onnx_path.name}: {(str(e).strip().splitlines() or [repr(e)])[0]}"
        ) from e
    record = {"precision": "fp32", "source": onnx_path.name, "source_sha256": file_sha256(onnx_path)}
    return save_ir(model, xml, meta, {**record, CHECKPOINT_KEY: checkpoint_sha256})


@contextlib.contextmanager
def _quiet(logger: str):
    """The logger at WARNING for the block, then as it was."""
    log = logging.getLogger(logger)
    level = log.level
    log.setLevel(max(level, logging.WARNING))
    try:
        yield
    finally:
        log.setLevel(level)


COMPUTE_OPS = frozenset({"Convolution", "GroupConvolution", "MatMul"})


def output_head(model) -> list[str]:
    """The friendly names of the ops that make the logits: each Convolution / MatMul with no other one between it
    and the output (MldrNet's per-branch score layers, a classifier head) and every op after them (bias, the
    fusion of the levels). NNCF leaves them in fp32."""
    head: list[str] = []
    seen: set[str] = set()
    pending = [out.get_node() for out in model.outputs]
    while pending:
        node = pending.pop()
        name = node.get_friendly_name()
        if name in seen or node.get_type_name() in ("Constant", "Parameter"):
            continue
        seen.add(name)
        if node.get_type_name() != "Result":
            head.append(name)
        if node.get_type_name() in COMPUTE_OPS:
            continue  # a last layer: what feeds it is quantized as usual
        pending += [value.get_node() for value in node.input_values()]
    return head


def quantize_ir(fp32_xml: Path, xml: Path, meta: ModelMeta, calibration, checkpoint_sha256: str | None = None) -> Path:
    """NNCF post-training quantization of the fp32 IR, one calibration image per NNCF sample.

    Three departures from NNCF's defaults, each measured on MldrNet (tiny synthetic models, 400 fresh images,
    top-1 agreement with the fp32 IR): together 72.8 % -> 99.5 % (8-epoch model), 85.8 % -> 98.0 % (2-epoch),
    at the int8 speed of the default (375 px, 2 threads: 32 ms, fp32 96 ms):
    - activation ranges are the min and max over all calibration images (`RangeEstimatorParametersSet.MINMAX`),
      not NNCF's mean over images of each image's extremes, which clips every image brighter than the average;
    - the layers that make the logits and the fusion after them stay fp32 (`output_head`): the scores of the
      branches are few, cheap, and where clipping or rounding flips a top-1 directly;
    - 7-bit weights in every layer (`OverflowFix.ENABLE`, NNCF's default only fixes the first layer): u8 x s8
      pairs then fit the 16-bit sums of the AVX2 and AVX-512 (no VNNI) int8 kernels, so a CPU without VNNI
      cannot saturate and computes the same integers as one with it (the agreement measured here holds there).
    NNCF's accuracy-aware mode (`quantize_with_accuracy_control`, 1 % drop) was tried and not kept: from the
    default settings it reached 95-96 % in 13-35 s; from these it had nothing to restore.
    """
    ov, nncf = require_openvino(), require_nncf()
    from nncf.quantization.advanced_parameters import AdvancedQuantizationParameters, OverflowFix
    from nncf.quantization.range_estimator import RangeEstimatorParametersSet

    started = time.perf_counter()
    images = [b[i : i + 1] for b in calibration.batches for i in range(len(b))]
    try:
        model = ov.Core().read_model(str(fp32_xml))
        head = output_head(model)
        # NNCF draws progress bars on stdout and logs each op it leaves in fp32 at INFO: compare's table and
        # --json output must stay clean
        with contextlib.redirect_stdout(io.StringIO()), _quiet("nncf"):
            quantized = nncf.quantize(
                model,
                nncf.Dataset(images),
                subset_size=len(images),
                preset=nncf.QuantizationPreset.PERFORMANCE,
                target_device=nncf.TargetDevice.CPU,
                ignored_scope=nncf.IgnoredScope(names=head, validate=False),
                advanced_parameters=AdvancedQuantizationParameters(
                    overflow_fix=OverflowFix.ENABLE,
                    activations_range_estimator_params=RangeEstimatorParametersSet.MINMAX,
                ),
            )
    except Exception as e:
        raise BenchError(
            f"NNCF int8 quantization of {fp32_xml.name} failed: {(str(e).strip().splitlines() or [repr(e)])[0]}"
        ) from e
    quantization = {
        "tool": f"nncf {nncf.__version__}",
        "preset": "performance",
        "method": "nncf min-max (min and max over all calibration images) + fast bias correction",
        "overflow_fix": "all layers (7-bit weights: no u8 x s8 saturation on AVX2 / AVX-512 without VNNI)",
        "fp32_ops": sorted(head),
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
            CHECKPOINT_KEY: checkpoint_sha256,
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
    checkpoint_sha256 = file_sha256(checkpoint)
    if options.precision == "fp32" or not is_current(fp32, checkpoint):
        onnx_to_ir(source_onnx(checkpoint, options, results_root), fp32, ckpt.meta, checkpoint_sha256)
        report = check_parity(reference, create_engine("openvino", fp32, EngineOptions(precision="fp32")), inputs)
        _require_fp32_parity(report, fp32, f"the OpenVINO IR of {ckpt.model}")
    if options.precision == "fp32":
        return ExportResult(ckpt.model, "openvino", "fp32", fp32, report, time.perf_counter() - started)
    calibration = calibration_set(ckpt, options.calibration_images, root, options.data_root)
    xml = quantize_ir(fp32, fmt.path(checkpoint.parent, "int8", key), ckpt.meta, calibration, checkpoint_sha256)
    engine = create_engine("openvino", xml, EngineOptions(precision="int8"))
    report = check_parity(reference, engine, inputs, rtol=REDUCED_RTOL, atol=REDUCED_ATOL)
    return ExportResult(ckpt.model, "openvino", "int8", xml, report, time.perf_counter() - started)
