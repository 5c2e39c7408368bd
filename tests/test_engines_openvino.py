"""The OpenVINO engine and its exports (fp32 IR, NNCF int8, another serving size), on a briefly trained tiny model;
the formats-table rows and the compare variants of the CPU engines; the one-line error without the package."""

import builtins
import json

import onnx
import pytest
import torch

from engines import formats
from engines.base import EngineOptions, create_engine, engine_class
from engines.export import at_size, ensure_file
from engines.parity import parity_batches
from engines.quantize import calibration_set
from mldrnet import models
from mldrnet.errors import BenchError
from tests.helpers.int8 import agreement, assert_agrees, int8_noise

pytest.importorskip("openvino")
TRAINED = 40  # the tiny model's crop


def _logits(run, batches):
    with torch.inference_mode():
        return torch.cat([run(b) for b in batches])


def test_formats_rows_and_file_names():
    ov, q = formats.get("openvino"), formats.get("onnx-int8")
    assert (ov.engine, ov.made_from, ov.devices, ov.precisions) == (
        "openvino",
        "onnx",
        ("cpu",),
        ("fp32", "bf16", "int8"),
    )
    assert [ov.filename(p) for p in ("fp32", "bf16", "int8")] == [
        "model.openvino.xml",
        "model.openvino.xml",
        "model.openvino.int8.xml",
    ]
    assert ov.filename("int8", 375) == "model.openvino.int8.s375.xml"
    assert (q.engine, q.filename("int8"), q.filename("int8", 375)) == (
        "onnxruntime",
        "model.ort-int8.onnx",
        "model.ort-int8.s375.onnx",
    )
    assert formats.get("onnx").filename("fp32", 375) == "model.s375.onnx"
    assert formats.get("tensorrt").filename("fp16", 375) == "model.fp16.s375.engine"
    assert formats.of_engine("onnxruntime", "int8").name == "onnx-int8"
    assert formats.of_engine("onnxruntime", "fp32").name == formats.of_engine("onnxruntime").name == "onnx"
    assert engine_class("openvino").name == "openvino"
    assert list(formats.engine_names()) == ["torch", "onnxruntime", "tensorrt", "openvino"]  # one choice per engine


def test_cpu_variants_run_only_when_named():
    from bench.variants import select_variants

    labels = lambda vs: [(v.label, v.precision) for v in vs]  # noqa: E731
    assert labels(select_variants(None, None, gpu=False)) == [("torch-cpu", "fp32"), ("ort-cpu", "fp32")]
    assert labels(select_variants(["ov-cpu"], None, gpu=False)) == [("ov-cpu", "fp32"), ("ov-cpu", "int8")]
    assert labels(select_variants(["ort-cpu"], None, gpu=False)) == [("ort-cpu", "fp32")]
    assert labels(select_variants(["onnxruntime"], None, gpu=False)) == [("ort-cpu", "fp32"), ("ort-cpu", "int8")]
    everything = labels(select_variants(["all"], None, gpu=False))
    assert {("ov-cpu", "fp32"), ("ov-cpu", "int8"), ("ort-cpu", "int8")} <= set(everything)


def test_openvino_fp32_export_matches_eager_and_describes_itself(trained):
    root, checkpoint, ckpt = trained
    xml = ensure_file(formats.get("openvino"), "fp32", checkpoint, results_root=root)
    assert xml.name == "model.openvino.xml" and xml.with_suffix(".bin").is_file()
    record = json.loads(xml.with_suffix(".json").read_text())
    assert record["precision"] == "fp32" and record["source"] == "model.onnx"
    engine = create_engine("openvino", xml, EngineOptions(threads=2))
    assert engine.meta == ckpt.meta
    model = models.load(ckpt)
    batches = parity_batches(ckpt, "test", 24, root)
    singles = [b[i : i + 1] for b in batches[:1] for i in range(4)]
    for inputs in (batches, singles):  # the throughput (async queue) and latency models
        torch.testing.assert_close(_logits(engine, inputs), _logits(model, inputs), rtol=0, atol=1e-3)
    info = engine.describe()
    assert info["threads"] == 2 and info["precision"] == "fp32" and info["inference_precision"] == "f32"
    assert set(info["compile_seconds"]) == {"latency", "throughput"}
    assert info["modes"]["latency"]["hint"] == "LATENCY" and info["modes"]["throughput"]["hint"] == "THROUGHPUT"
    assert "f32" in info["modes"]["throughput"]["inference_precision"]
    assert info["cache_dir"] == str(checkpoint.parent / "openvino-cache") and any(
        (checkpoint.parent / "openvino-cache").iterdir()
    )


def test_openvino_int8_agrees_with_fp32_and_records_its_calibration(trained):
    root, checkpoint, ckpt = trained
    fmt = formats.get("openvino")
    xml = ensure_file(fmt, "int8", checkpoint, results_root=root)
    assert xml.name == "model.openvino.int8.xml"
    int8 = create_engine("openvino", xml, EngineOptions(precision="int8", threads=2))
    fp32 = create_engine("openvino", fmt.path(checkpoint.parent), EngineOptions(threads=2))
    batches = parity_batches(ckpt, "test", 64, root)
    a, b = _logits(int8, batches), _logits(fp32, batches)
    calibration = int8.describe()["quantization"]["calibration"]
    # judged on the images whose fp32 margin int8 rounding cannot bridge (tests.helpers.int8): the tiny model's
    # top-2 logits are often within 0.001 of each other, and which way those fall depends on the CPU's int8 kernels
    noise = int8_noise(int8, fp32, calibration_set(ckpt, calibration["images"], root).batches)
    assert_agrees(agreement(a, b, noise))
    record = int8.describe()["quantization"]
    assert any("linear" in op for op in record["fp32_ops"])  # the layers that make the logits stay fp32
    assert "all layers" in record["overflow_fix"]  # 7-bit weights: AVX2 computes the integers VNNI does
    assert not torch.equal(a, b)  # it did run quantized
    assert calibration["split"] == "train" and calibration["seed"] == 0 and calibration["images"] > 0
    assert calibration["split_hash"] == ckpt.split_hash and len(calibration["images_sha256"]) == 16
    with pytest.raises(BenchError, match="int8"):  # the fp32 IR is not an int8 file, nor the reverse
        create_engine("openvino", fmt.path(checkpoint.parent), EngineOptions(precision="int8"))
    with pytest.raises(BenchError, match="int8"):
        create_engine("openvino", xml, EngineOptions(precision="fp32"))


def test_bf16_is_refused_where_the_cpu_lacks_it(trained, monkeypatch):
    import engines.openvino_engine as ove

    root, checkpoint, _ = trained
    xml = ensure_file(formats.get("openvino"), "fp32", checkpoint, results_root=root)
    monkeypatch.setattr(ove, "cpu_has_bf16", lambda core: False)
    with pytest.raises(BenchError, match="no native bf16") as e:
        create_engine("openvino", xml, EngineOptions(precision="bf16"))
    assert "\n" not in str(e.value)


def test_export_at_another_serving_size(trained):
    root, checkpoint, ckpt = trained
    size = 56
    onnx_path = ensure_file(formats.get("onnx"), "fp32", checkpoint, results_root=root, size=size)
    assert onnx_path.name == "model.s56.onnx"
    dims = onnx.load(str(onnx_path)).graph.input[0].type.tensor_type.shape.dim
    assert [d.dim_value for d in dims[1:]] == [3, size, size]
    xml = ensure_file(formats.get("openvino"), "fp32", checkpoint, results_root=root, size=size)
    assert xml.name == "model.openvino.s56.xml"
    sized = at_size(ckpt, size)
    assert sized.preprocessing.crop == size and sized.preprocessing.resize == round(
        ckpt.preprocessing.resize_to * 56 / 40
    )
    engine = create_engine("openvino", xml, EngineOptions(threads=1))
    assert engine.meta.input_shape == (3, size, size)
    batches = parity_batches(sized, "test", 8, root)
    assert batches[0].shape[-1] == size
    torch.testing.assert_close(_logits(engine, batches), _logits(models.load(ckpt), batches), rtol=0, atol=1e-3)
    # the trained size is the file without ".sS"
    assert ensure_file(formats.get("onnx"), "fp32", checkpoint, results_root=root, size=TRAINED).name == "model.onnx"


def _without(monkeypatch, package: str):
    real = builtins.__import__

    def fake(name, *args, **kwargs):
        if name == package or name.startswith(package + "."):
            raise ImportError(f"No module named {package!r}")
        return real(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", fake)


def test_without_openvino_or_nncf_one_line_names_the_extra(trained, monkeypatch, tmp_path):
    root, checkpoint, _ = trained
    xml = ensure_file(formats.get("openvino"), "fp32", checkpoint, results_root=root)
    _without(monkeypatch, "openvino")
    for attempt in (
        lambda: create_engine("openvino", xml),
        lambda: ensure_file(formats.get("openvino"), "fp32", checkpoint, results_root=root, size=48),
    ):
        with pytest.raises(BenchError, match=r"pip install 'bench-mldrnet\[cpu\]'") as e:
            attempt()
        assert "\n" not in str(e.value) and "openvino" in str(e.value)
    monkeypatch.undo()
    _without(monkeypatch, "nncf")
    with pytest.raises(BenchError, match=r"nncf.*bench-mldrnet\[cpu\]"):
        ensure_file(formats.get("openvino"), "int8", checkpoint, results_root=root, size=48)
    assert not (checkpoint.parent / "model.openvino.int8.s48.xml").exists()
