"""ONNX Runtime static int8 (the onnx-int8 row): the file, its calibration record, top-1 agreement with fp32 on a
briefly trained tiny model, the engine's precision check, and quantization failures as BenchErrors."""

import json

import onnx
import pytest
import torch

from engines import formats
from engines.base import EngineOptions, create_engine
from engines.export import ensure_file
from engines.parity import parity_batches
from engines.quantize import Calibration, calibration_set, quantize_onnx
from mldrnet.errors import BenchError
from tests.helpers.int8 import agreement, assert_agrees, int8_noise


def _top1(engine, batches):
    with torch.inference_mode():
        return torch.cat([engine(b) for b in batches])


def test_ort_int8_file_agrees_with_fp32_and_records_its_calibration(trained):
    root, checkpoint, ckpt = trained
    path = ensure_file(formats.get("onnx-int8"), "int8", checkpoint, results_root=root)
    assert path.name == "model.ort-int8.onnx" and not (checkpoint.parent / "model.int8.onnx").exists()
    proto = onnx.load(str(path))
    ops = {n.op_type for n in proto.graph.node}
    assert {"QuantizeLinear", "DequantizeLinear"} <= ops  # QDQ format
    props = {p.key: p.value for p in proto.metadata_props}
    record = json.loads(props["bench.quantization"])
    assert record["format"] == "QDQ" and record["per_channel"] and record["method"] == "minmax"
    assert (record["activations"], record["weights"]) == ("QUInt8", "QInt8")
    calibration = record["calibration"]
    assert calibration["split"] == "train" and calibration["seed"] == 0 and calibration["split_hash"] == ckpt.split_hash
    assert 0 < calibration["images"] <= calibration["requested"]

    int8 = create_engine("onnxruntime", path, EngineOptions(precision="int8", threads=2))
    assert int8.meta == ckpt.meta and int8.describe()["quantization"] == record
    fp32 = create_engine("onnxruntime", formats.get("onnx").path(checkpoint.parent), EngineOptions(threads=2))
    batches = parity_batches(ckpt, "test", 64, root)
    a, b = _top1(int8, batches), _top1(fp32, batches)
    # judged where int8 rounding cannot bridge the fp32 margin, on any x86-64 CPU (tests.helpers.int8)
    noise = int8_noise(int8, fp32, calibration_set(ckpt, calibration["images"], root).batches)
    assert_agrees(agreement(a, b, noise))
    assert not torch.equal(a, b)


def test_onnxruntime_precision_follows_the_file(trained):
    root, checkpoint, _ = trained
    int8 = ensure_file(formats.get("onnx-int8"), "int8", checkpoint, results_root=root)
    fp32 = formats.get("onnx").path(checkpoint.parent)
    with pytest.raises(BenchError, match="not an int8 file"):
        create_engine("onnxruntime", fp32, EngineOptions(precision="int8"))
    with pytest.raises(BenchError, match="is an int8 file"):
        create_engine("onnxruntime", int8, EngineOptions(precision="fp32"))
    with pytest.raises(BenchError, match="cpu provider only"):
        create_engine("onnxruntime", int8, EngineOptions(precision="int8", provider="cuda"))


def test_entropy_calibration_and_a_size_of_its_own(trained):
    root, checkpoint, ckpt = trained
    from engines.export import ExportOptions, export_checkpoint

    result = export_checkpoint(
        checkpoint,
        ExportOptions(to="onnx-int8", precision="int8", size=48, calibration_images=32, calibration_method="entropy"),
        root,
    )
    assert result.ok and result.path.name == "model.ort-int8.s48.onnx"
    record = json.loads({p.key: p.value for p in onnx.load(str(result.path)).metadata_props}["bench.quantization"])
    assert record["method"] == "entropy" and record["calibration"]["size"] == 48
    assert record["calibration"]["images"] == 32 and record["source"] == "model.s48.onnx"
    assert result.parity.images > 0


def test_quantization_failures_are_bench_errors(trained, tmp_path):
    root, checkpoint, ckpt = trained
    with pytest.raises(BenchError, match="at least one image"):
        calibration_set(ckpt, 0, root)
    src = formats.get("onnx").path(checkpoint.parent)
    ensure_file(formats.get("onnx"), "fp32", checkpoint, results_root=root)
    wrong = Calibration([torch.zeros(2, 3, 17, 17).numpy()], {})  # images of the wrong size for the model
    with pytest.raises(BenchError, match="int8 quantization of model.onnx failed") as e:
        quantize_onnx(src, tmp_path / "q.onnx", wrong)
    assert "\n" not in str(e.value) and not (tmp_path / "q.onnx").exists()
    with pytest.raises(BenchError, match="calibration method"):
        quantize_onnx(src, tmp_path / "q.onnx", wrong, method="percentile")
