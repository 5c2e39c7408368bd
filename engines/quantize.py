"""int8 post-training quantization, calibrated on a seeded sample of the checkpoint's training split.

- ONNX Runtime (the onnx-int8 row, model.ort-int8.onnx): `quant_pre_process` (shape inference, Conv+BN fusion),
  then `quantize_static` in QDQ format, per-channel weights, QUInt8 activations and QInt8 weights, MinMax (default)
  or Entropy calibration. `reduce_range` (7-bit weights) is ONNX Runtime's documented remedy for u8s8 saturation
  on AVX2/AVX-512 without VNNI. On a VNNI CPU (AMD EPYC, AVX512_VNNI) it only lost precision: the tiny trained
  MldrNet's largest logit difference to fp32 grew from 0.0026 to 0.0037 (top-1 agreement equal), so it is on only
  where the CPU lacks VNNI (`reduce_range_default`; not measured on such a CPU here).
- TensorRT int8 (the trt row's int8) is built from a Q/DQ file made here by the same `quantize_static`, for
  TensorRT (`target="tensorrt"`, model.trt-int8.onnx): symmetric signed int8 activations and weights (TensorRT's
  explicit quantization takes zero points of 0 only), per-channel weights, biases left in float (TensorRT has no
  int32 DequantizeLinear), no reduce_range (a CPU kernel's concern). It runs on ONNX Runtime's CPU provider too,
  which is how its agreement with fp32 is tested without a GPU.
- OpenVINO int8 (the openvino row's int8, model.openvino.int8.xml) is NNCF's, in engines.openvino_export; the
  calibration sample and its record are made here for all three.

The calibration set (split, count, seed, split hash, a hash of the preprocessed images) and the method go into
the file: ONNX metadata_props "bench.quantization" (JSON), shown by the engine's describe(). A quantization that
fails (no calibration image, an op the quantizer cannot handle) is a BenchError.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import json
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from engines import formats
from mldrnet import models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data.evalset import for_checkpoint
from mldrnet.errors import BenchError
from mldrnet.io import layout

CALIBRATION_SPLIT = "train"
CALIBRATION_SEED = 0  # mldrnet.data.evalset.subsample's seed: the sample Checkpoint.eval_set(max_images=N) takes
METHODS = ("minmax", "entropy")
TARGETS = ("cpu", "tensorrt")


@dataclass(frozen=True)
class Calibration:
    batches: list[np.ndarray]  # (B, 3, H, W) float32, preprocessed as the model is evaluated
    record: dict  # what is written into the quantized file


def cpu_has_vnni() -> bool:
    from engines.base import cpu_flags

    return bool(cpu_flags() & {"avx512_vnni", "avx_vnni", "amx_int8"})


def reduce_range_default() -> bool:
    """7-bit weights only where u8s8 can saturate: AVX2/AVX-512 without VNNI."""
    return not cpu_has_vnni()


def calibration_set(
    ckpt: Checkpoint, images: int, results_root: str | Path, data_root: str | None = None, batch_size: int = 16
) -> Calibration:
    """A seeded sample of `images` training images with the checkpoint's evaluation preprocessing."""
    if images < 1:
        raise BenchError(f"int8 calibration needs at least one image, got {images}")
    ev = for_checkpoint(
        ckpt, CALIBRATION_SPLIT, results_root, data_root=data_root, batch_size=batch_size, max_images=images
    )
    batches = [np.ascontiguousarray(x.numpy(), dtype=np.float32) for x, _labels in ev.batches() if len(x)]
    if not batches:
        raise BenchError(
            f"no calibration images for int8: none of the {ev.count} {CALIBRATION_SPLIT} images of "
            f"{ev.dataset} could be read"
        )
    digest = hashlib.sha256()
    for b in batches:
        digest.update(b.tobytes())
    record = {
        "split": CALIBRATION_SPLIT,
        "images": int(sum(len(b) for b in batches)),
        "requested": int(images),
        "seed": CALIBRATION_SEED,
        "dataset": ev.dataset,
        "split_hash": ev.split_hash,
        "images_sha256": digest.hexdigest()[:16],
        "size": int(batches[0].shape[-1]),
    }
    return Calibration(batches, record)


COMPUTE_OPS = frozenset({"Conv", "Gemm", "MatMul"})


def output_head(graph) -> list[str]:
    """The names of the nodes that make the logits: each Conv / Gemm / MatMul with no other one between it and the
    graph's output (MldrNet's per-branch score layers, a classifier head) and every node after them (the fusion
    of the levels). They stay in float, as in the OpenVINO int8 (engines.openvino_export.output_head, where it
    was measured): few and cheap, and where clipping or rounding flips a top-1 directly."""
    producer = {out: node for node in graph.node for out in node.output}
    head: list[str] = []
    seen: set[str] = set()
    pending = [producer[o.name] for o in graph.output if o.name in producer]
    while pending:
        node = pending.pop()
        key = node.name or node.output[0]
        if key in seen:
            continue
        seen.add(key)
        if node.name:
            head.append(node.name)
        if node.op_type in COMPUTE_OPS:
            continue
        pending += [producer[i] for i in node.input if i in producer]
    return head


class _Reader:
    """onnxruntime.quantization's CalibrationDataReader protocol over the calibration batches."""

    def __init__(self, batches: list[np.ndarray], input_name: str):
        self.batches, self.input_name, self.i = batches, input_name, 0

    def get_next(self):
        if self.i >= len(self.batches):
            return None
        self.i += 1
        return {self.input_name: self.batches[self.i - 1]}

    def rewind(self) -> None:
        self.i = 0


def quantize_onnx(
    src: Path,
    dst: Path,
    calibration: Calibration,
    *,
    method: str = "minmax",
    reduce_range: bool | None = None,
    target: str = "cpu",
) -> Path:
    """fp32 ONNX file `src` -> static int8 QDQ file `dst` (atomic), with the bench metadata of `src` (its checkpoint
    hash included) and the quantization record. `target`: "cpu" (ONNX Runtime's CPU kernels: u8 activations) or
    "tensorrt" (symmetric s8 activations, float biases: what TensorRT's explicit quantization takes)."""
    import onnx
    import onnxruntime

    from mldrnet.io.atomic import atomic_write_bytes

    if method not in METHODS:
        raise BenchError(f"calibration method must be one of {', '.join(METHODS)}, got {method!r}")
    if target not in TARGETS:
        raise BenchError(f"quantization target must be one of {', '.join(TARGETS)}, got {target!r}")
    tensorrt = target == "tensorrt"
    if tensorrt:
        reduce_range = False  # 7-bit weights are a remedy for CPU kernels without VNNI, not for TensorRT
    reduce_range = reduce_range_default() if reduce_range is None else reduce_range
    started = time.perf_counter()
    props = {p.key: p.value for p in onnx.load(str(src)).metadata_props}
    with tempfile.TemporaryDirectory(dir=dst.parent, prefix=".quantize-") as tmp:
        proto, head = _quantize_static(src, Path(tmp), calibration, method, reduce_range, tensorrt)
    record = {
        "tool": f"onnxruntime {onnxruntime.__version__} quantize_static",
        "format": "QDQ",
        "target": target,
        "per_channel": True,
        "activations": "QInt8 symmetric" if tensorrt else "QUInt8",
        "weights": "QInt8",
        **({"biases": "float"} if tensorrt else {}),
        "reduce_range": reduce_range,
        "method": method,
        "float_nodes": sorted(head),
        "calibration": calibration.record,
        "source": src.name,
        "seconds": round(time.perf_counter() - started, 1),
    }
    del proto.metadata_props[:]
    for key, value in {**props, "bench.quantization": json.dumps(record)}.items():
        proto.metadata_props.add(key=key, value=value)
    atomic_write_bytes(dst, proto.SerializeToString())
    return dst


def _quantize_static(src: Path, tmp: Path, calibration: Calibration, method: str, reduce_range: bool, tensorrt: bool):
    """(the quantized model, the nodes left in float): quant_pre_process, then quantize_static in QDQ format with
    the output head excluded; the quantizer's own errors (an op it cannot handle) as one BenchError line."""
    import onnx
    from onnxruntime.quantization import CalibrationMethod, QuantFormat, QuantType, quantize_static
    from onnxruntime.quantization.shape_inference import quant_pre_process

    from engines.onnx_export import INPUT_NAME

    pre, out = tmp / "pre.onnx", tmp / "int8.onnx"
    extra = {"ActivationSymmetric": True, "WeightSymmetric": True, "QuantizeBias": False} if tensorrt else {}
    try:  # the Entropy calibrator prints its progress: compare's table and --json output must stay clean
        quant_pre_process(str(src), str(pre), skip_symbolic_shape=True)
        head = output_head(onnx.load(str(pre), load_external_data=False).graph)
        with contextlib.redirect_stdout(io.StringIO()):
            quantize_static(
                str(pre),
                str(out),
                _Reader(calibration.batches, INPUT_NAME),
                quant_format=QuantFormat.QDQ,
                per_channel=True,
                reduce_range=reduce_range,
                activation_type=QuantType.QInt8 if tensorrt else QuantType.QUInt8,
                weight_type=QuantType.QInt8,
                calibrate_method=(CalibrationMethod.MinMax if method == "minmax" else CalibrationMethod.Entropy),
                nodes_to_exclude=head,
                extra_options=extra,
            )
    except Exception as e:
        raise BenchError(
            f"ONNX Runtime int8 quantization of {src.name} failed: {(str(e).strip().splitlines() or [repr(e)])[0]}"
        ) from e
    return onnx.load(str(out)), head


def quantize_for_tensorrt(checkpoint: Path, options, results_root, dst: Path) -> Path:
    """The Q/DQ file a TensorRT int8 engine is built from (`dst`, model.trt-int8.onnx): model.onnx at
    options.size (exported first when missing or stale), quantized for TensorRT on the calibration sample. Needs no
    GPU: its agreement with fp32 can be checked on ONNX Runtime's CPU provider."""
    from engines.export import at_size, size_key, source_onnx

    loaded = Checkpoint.load(checkpoint)
    ckpt = at_size(loaded, size_key(loaded, options.size))
    root = layout.root_of_checkpoint(checkpoint, results_root)
    src = source_onnx(checkpoint, options, results_root)
    calibration = calibration_set(ckpt, options.calibration_images, root, options.data_root)
    return quantize_onnx(src, dst, calibration, method=options.calibration_method, target="tensorrt")


def export_onnx_int8_format(checkpoint: Path, options, results_root):
    """The onnx-int8 row's exporter: model.onnx (exported first when missing or stale) -> model.ort-int8.onnx,
    then compared with PyTorch on test images (reported, never failed: the accuracy cost is compare's to show)."""
    from engines.base import EngineOptions, create_engine
    from engines.export import REDUCED_ATOL, REDUCED_RTOL, ExportResult, at_size, size_key, source_onnx
    from engines.parity import check_parity, eager, parity_batches

    started = time.perf_counter()
    loaded = Checkpoint.load(checkpoint)
    key = size_key(loaded, options.size)
    ckpt = at_size(loaded, key)
    root = layout.root_of_checkpoint(checkpoint, results_root)
    src = source_onnx(checkpoint, options, results_root)
    calibration = calibration_set(ckpt, options.calibration_images, root, options.data_root)
    dst = formats.get("onnx-int8").path(checkpoint.parent, "int8", key)
    quantize_onnx(src, dst, calibration, method=options.calibration_method)
    engine = create_engine("onnxruntime", dst, EngineOptions(provider="cpu", precision="int8"))
    inputs = parity_batches(ckpt, "test", options.parity_images, root, options.data_root)
    report = check_parity(eager(models.load(ckpt)), engine, inputs, rtol=REDUCED_RTOL, atol=REDUCED_ATOL)
    return ExportResult(ckpt.model, "onnx-int8", "int8", dst, report, time.perf_counter() - started)
