"""The engine registry, lazy imports, and the torch engine (module or checkpoint; fp32 / bf16 / fp16)."""

import dataclasses
import subprocess
import sys
from dataclasses import asdict

import pytest
import torch

from engines.base import ENGINES, Engine, EngineOptions, create_engine, engine_class, engine_names
from mldrnet import EMOTIONS, models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError

SIZE = 64


def _model():
    torch.manual_seed(0)
    return models.create("mldrnet-l2").eval()


def test_registry_maps_each_name_to_its_class():
    assert engine_names() == ["torch", "onnxruntime", "tensorrt", "openvino"]
    for name in engine_names():
        cls = engine_class(name)  # imports the module: must work without tensorrt, openvino or a GPU
        assert issubclass(cls, Engine) and cls.name == name and ENGINES[name] is cls
    with pytest.raises(BenchError, match="unknown engine 'tflite'"):
        create_engine("tflite", "x.tflite")


def test_importing_the_engines_never_imports_onnxruntime_or_tensorrt():
    code = (
        "import sys, engines.base, engines.export, engines.predict, engines.torch_engine, engines.parity, "
        "engines.tensorrt_engine, engines.openvino_engine, engines.openvino_export, engines.quantize, "
        "bench.cli.engines; print(sorted(m for m in ('onnxruntime', 'tensorrt', 'onnx', 'modelopt', 'openvino', "
        "'nncf') if m in sys.modules))"
    )
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert result.stdout.strip() == "[]"


def test_torch_engine_from_a_module_matches_eager_and_describes_itself():
    model = _model()
    x = torch.randn(3, 3, SIZE, SIZE)
    with torch.inference_mode():
        expected = model(x)
    engine = create_engine("torch", model, EngineOptions(threads=1))
    got = engine(x)
    assert got.dtype == torch.float32 and got.device.type == "cpu" and got.shape == (3, 8)
    torch.testing.assert_close(got, expected)
    info = engine.describe()
    assert info["engine"] == "torch" and info["provider"] == "eager" and info["precision"] == "fp32"
    assert info["channels_last"] and engine.model.levels[0][0].weight.is_contiguous(memory_format=torch.channels_last)
    assert info["threads"] == torch.get_num_threads() == 1 and info["versions"]["torch"] == torch.__version__
    assert engine.meta is None  # an in-memory module carries no metadata


@pytest.mark.parametrize("precision", ["bf16", "fp16"])
def test_torch_engine_reduced_precision_runs_in_that_precision(precision):
    model = _model()
    x = torch.randn(4, 3, SIZE, SIZE)
    with torch.inference_mode():
        expected = model(x)
    got = create_engine("torch", model, EngineOptions(precision=precision))(x)
    assert got.dtype == torch.float32  # the engine contract, whatever ran inside
    diff = (got - expected).abs().max().item()
    assert 0 < diff < 0.1 * expected.abs().max().item() + 0.05  # close, but not bit-identical: it did run in 16 bit


def test_torch_engine_loads_a_checkpoint_with_its_metadata(tmp_path):
    model = _model()
    ckpt = Checkpoint.of_model("mldrnet-l2", model, EMOTIONS, Preprocessing(crop=SIZE))
    ckpt.save(tmp_path / "best.pt")
    engine = create_engine("torch", tmp_path / "best.pt")
    assert engine.meta == ckpt.meta and engine.meta.input_shape == (3, SIZE, SIZE)
    x = torch.randn(2, 3, SIZE, SIZE)
    with torch.inference_mode():
        torch.testing.assert_close(engine(x), model(x))
    assert engine.describe()["source"] == str(tmp_path / "best.pt")


def test_torch_engine_errors():
    with pytest.raises(BenchError, match="precision"):
        create_engine("torch", _model(), EngineOptions(precision="int8"))
    if not torch.cuda.is_available():
        with pytest.raises(BenchError, match="CUDA"):
            create_engine("torch", _model(), EngineOptions(device="cuda"))
    with pytest.raises(BenchError, match="does not exist"):
        create_engine("torch", "/nonexistent/best.pt")


def test_engine_options_are_frozen_and_recordable():
    options = EngineOptions(device="cpu", precision="bf16", threads=2)
    assert asdict(options) == options.to_dict() and options.to_dict()["threads"] == 2
    with pytest.raises(dataclasses.FrozenInstanceError):
        options.threads = 4


def test_torch_compile_freezes_weights_per_compile_and_times_the_compile_apart():
    from torch import nn

    torch.manual_seed(0)
    model = nn.Sequential(
        nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.ReLU(), nn.AdaptiveAvgPool2d(1), nn.Flatten(), nn.Linear(4, 8)
    ).eval()
    x = torch.randn(2, 3, 16, 16)
    with torch.inference_mode():
        expected = model(x)
    engine = create_engine("torch", model, EngineOptions(threads=1, compile=True))
    torch.testing.assert_close(engine(x), expected, rtol=1e-4, atol=1e-5)
    torch.testing.assert_close(engine(x), expected, rtol=1e-4, atol=1e-5)
    info = engine.describe()
    assert info["provider"] == "torch.compile (inductor)" and info["freezing"] and info["channels_last"]
    assert list(info["compile_seconds"]) == [2] and info["compile_seconds"][2] > 0  # the first call only
    assert torch._inductor.config.freezing is False  # scoped to this compile, not left set for the process
    assert engine.model[0].weight.is_contiguous(memory_format=torch.channels_last)
