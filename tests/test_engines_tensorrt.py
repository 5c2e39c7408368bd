"""TensorRT: without a GPU or without tensorrt, one documented error line; on a GPU (marker `gpu`), real builds."""

import json
import os
import sys

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import _register_commands, app
from engines.base import EngineOptions, ModelMeta, create_engine, file_sha256
from engines.export import is_current, stale_reason
from engines.tensorrt_build import ENGINE_FORMAT, read_engine_meta, require_tensorrt
from engines.tensorrt_export import build_tensorrt, export_tensorrt_checked
from mldrnet import EMOTIONS, models
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError

runner = CliRunner()
_register_commands()
INSTALL = "pip install 'bench-mldrnet[gpu]'"


@pytest.fixture
def no_gpu_no_tensorrt(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # makes `import tensorrt` raise ImportError


def test_without_gpu_and_tensorrt_the_error_names_both_and_the_fix(no_gpu_no_tensorrt):
    with pytest.raises(BenchError) as e:
        require_tensorrt()
    message = str(e.value)
    assert "\n" not in message and "a CUDA GPU" in message and "the tensorrt package" in message and INSTALL in message


def test_with_a_gpu_but_no_tensorrt_the_error_names_only_tensorrt(monkeypatch):
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    with pytest.raises(BenchError, match=r"missing the tensorrt package: on a machine") as e:
        require_tensorrt()
    assert "CUDA GPU" not in str(e.value)


def test_engine_build_and_export_give_the_same_error(no_gpu_no_tensorrt, tmp_path):
    with pytest.raises(BenchError, match="TensorRT cannot run here"):
        create_engine("tensorrt", tmp_path / "model.fp32.engine", EngineOptions(device="cuda"))
    with pytest.raises(BenchError, match="TensorRT cannot run here"):
        build_tensorrt(tmp_path / "model.onnx", precision="fp16")
    with pytest.raises(BenchError, match="precision must be one of fp32, fp16, int8"):
        build_tensorrt(tmp_path / "model.onnx", precision="bf16")


def test_cli_export_to_tensorrt_fails_fast_with_one_line(no_gpu_no_tensorrt, tmp_path):
    # no checkpoint needed: the missing GPU / package is reported before anything slow
    result = runner.invoke(app, ["export", "mldrnet", "--to", "tensorrt", "--results-dir", str(tmp_path)])
    assert result.exit_code != 0 and isinstance(result.exception, BenchError)
    assert INSTALL in str(result.exception)
    result = runner.invoke(app, ["predict", "x.jpg", "--engine", "tensorrt", "--results-dir", str(tmp_path)])
    assert isinstance(result.exception, BenchError) and INSTALL in str(result.exception)


def test_engine_metadata_must_sit_beside_the_engine(tmp_path):
    with pytest.raises(BenchError, match=r"model.fp16.json .*is missing"):
        read_engine_meta(tmp_path / "model.fp16.engine")
    (tmp_path / "model.fp16.json").write_text(json.dumps({"format": "other"}))
    with pytest.raises(BenchError, match="not bench engine metadata"):
        read_engine_meta(tmp_path / "model.fp16.engine")
    (tmp_path / "model.fp16.json").write_text('{"format": "bench-tens')  # a build killed mid-write (older bench)
    with pytest.raises(BenchError, match="cannot read .*model.fp16.json"):
        read_engine_meta(tmp_path / "model.fp16.engine")
    (tmp_path / "model.fp16.json").write_text(json.dumps({"format": ENGINE_FORMAT, "meta": {"model": "mldrnet"}}))
    with pytest.raises(BenchError, match="incomplete.*re-export"):
        read_engine_meta(tmp_path / "model.fp16.engine")


def _fake_engine(folder, max_batch, checkpoint=None, profiles=None):
    meta = ModelMeta("mldrnet", EMOTIONS, Preprocessing(crop=64))
    (folder / "model.fp32.engine").write_bytes(b"serialized")
    record = {
        "format": ENGINE_FORMAT,
        "meta": meta.to_dict(),
        "precision": "fp32",
        "max_batch": max_batch,
        "profiles": profiles or [1, max_batch],
        "source_onnx": "model.onnx",
        "source_sha256": "0" * 64,
        "checkpoint_sha256": file_sha256(checkpoint) if checkpoint else None,
    }  # no model.onnx here: the hash is not compared
    (folder / "model.fp32.json").write_text(json.dumps(record))
    return folder / "model.fp32.engine"


def test_an_engine_built_for_smaller_batches_or_from_another_checkpoint_is_rebuilt(tmp_path):
    checkpoint = tmp_path / "best.pt"
    checkpoint.write_bytes(b"weights")
    engine = _fake_engine(tmp_path, max_batch=8, checkpoint=checkpoint)
    assert is_current(engine, checkpoint, max_batch=8) and is_current(engine, checkpoint)
    assert not is_current(engine, checkpoint, max_batch=32)  # compare's eval batch of 32 would run in chunks
    assert is_current(engine, checkpoint, max_batch=8, batches=(1, 8))
    assert stale_reason(engine, checkpoint, max_batch=8, batches=(1, 4, 8)) == (
        "rebuilding model.fp32.engine: no profile tuned at batch 4"
    )
    (tmp_path / "model.fp32.json").unlink()
    assert not is_current(engine, checkpoint, max_batch=8)  # no metadata: rebuild
    engine = _fake_engine(tmp_path, max_batch=32, checkpoint=checkpoint)
    stat = checkpoint.stat()
    os.utime(engine, (stat.st_atime, stat.st_mtime - 10))  # older than the checkpoint, but its export by content
    assert is_current(engine, checkpoint, max_batch=8)
    checkpoint.write_bytes(b"retrained weights")  # retrained: another checkpoint by content, whatever the times
    os.utime(checkpoint, (stat.st_atime, stat.st_mtime - 100))
    assert "was exported from another checkpoint" in stale_reason(engine, checkpoint, max_batch=8)
    assert not is_current(tmp_path / "model.onnx", checkpoint)  # missing
    _fake_engine(tmp_path, max_batch=32)  # an older bench's engine: no checkpoint hash, rebuilt
    assert "records no checkpoint hash" in stale_reason(engine, checkpoint)


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_tensorrt_engine_builds_runs_and_matches_eager(precision, tmp_path):
    pytest.importorskip("tensorrt")
    from engines.onnx_export import export_onnx

    torch.manual_seed(0)
    model = models.create("mldrnet").eval()
    meta = ModelMeta("mldrnet", EMOTIONS, Preprocessing(crop=64))
    onnx_path = export_onnx(model, meta, tmp_path / "model.onnx")
    batches = [torch.randn(b, 3, 64, 64) for b in (1, 5)]
    result = export_tensorrt_checked(
        model, meta, onnx_path, tmp_path / f"model.{precision}.engine", batches, precision=precision, max_batch=8
    )
    if precision == "fp32":
        assert result.parity.top1_agreement == 1.0
    else:
        # a random-init model's logits are nearly tied, so fp16 can flip the top-1 of any of 6 images: judge fp16
        # by how close its logits are (export's reduced-precision bound: 5e-2 + 5e-2 x the logits' scale), not top-1
        assert result.parity.ok, result.parity.summary()
    assert (tmp_path / f"model.{precision}.json").is_file() and list(tmp_path.glob("tensorrt-*.timing-cache"))
    engine = create_engine("tensorrt", result.path, EngineOptions(device="cuda", precision=precision))
    out = engine(torch.randn(12, 3, 64, 64))  # above max_batch: run in chunks
    assert out.shape == (12, 8) and out.dtype == torch.float32 and out.device.type == "cpu"
    info = engine.describe()
    assert info["engine"] == "tensorrt" and info["precision"] == precision and info["max_batch"] == 8
    assert info["profiles"] == [1, 8] and info["tf32"] is (precision != "fp32") and info["layer_precisions"]
    engine(torch.randn(1, 3, 64, 64))
    assert engine.describe()["profile_of_batch"][1] == 0  # batch 1 ran in the profile tuned at 1
    assert engine.meta.classes == EMOTIONS


@pytest.mark.gpu
def test_onnxruntime_cuda_provider_with_io_binding(tmp_path):
    _ort_provider_or_skip("CUDAExecutionProvider")
    from engines.onnx_export import export_onnx

    torch.manual_seed(0)
    model = models.create("mldrnet").eval()
    path = export_onnx(model, ModelMeta("mldrnet", EMOTIONS, Preprocessing(crop=64)), tmp_path / "model.onnx")
    engine = create_engine("onnxruntime", path, EngineOptions(device="cuda"))
    assert engine.describe()["provider"] == "CUDAExecutionProvider" and engine.io_binding
    x = torch.randn(4, 3, 64, 64)
    with torch.inference_mode():
        expected = model(x)
    torch.testing.assert_close(engine(x), expected, rtol=1e-2, atol=1e-2)
    assert engine.run_on_device(x.cuda()).device.type == "cuda"


def _ort_provider_or_skip(name):
    """Skip, saying why, unless this onnxruntime has the provider AND its library loads here (a wheel lists the
    providers it contains, not the ones whose CUDA / TensorRT libraries are present)."""
    import onnxruntime as ort

    from engines.onnx_engine import provider_failure, provider_load_error

    if name not in ort.get_available_providers() or provider_load_error(ort, name):
        pytest.skip(provider_failure(ort, name))


@pytest.mark.gpu
@pytest.mark.parametrize("precision", ["fp32", "fp16"])
def test_onnxruntime_tensorrt_provider_with_a_profile_and_a_keyed_cache(precision, tmp_path):
    _ort_provider_or_skip("TensorrtExecutionProvider")
    from engines.onnx_export import export_onnx

    torch.manual_seed(0)
    model = models.create("mldrnet").eval()
    path = export_onnx(model, ModelMeta("mldrnet", EMOTIONS, Preprocessing(crop=64)), tmp_path / "model.onnx")
    engine = create_engine(
        "onnxruntime", path, EngineOptions(device="cuda", provider="tensorrt", precision=precision, max_batch=8)
    )
    info = engine.describe()
    assert info["provider"] == "TensorrtExecutionProvider" and info["max_batch"] == 8
    x = torch.randn(5, 3, 64, 64)
    with torch.inference_mode():
        expected = model(x)
    scale = expected.abs().max().item()
    tol = 1e-3 if precision == "fp32" else 5e-2  # fp32 is IEEE (NVIDIA_TF32_OVERRIDE=0 while building)
    torch.testing.assert_close(engine(x), expected, rtol=tol, atol=tol * scale + tol)
    cache = tmp_path / "ort-trt-cache"
    assert os.path.dirname(info["tensorrt_cache"]) == str(cache) and any(os.scandir(info["tensorrt_cache"]))


@pytest.mark.gpu
def test_torch_cuda_fp32_is_ieee_and_tf32_is_its_own_row():
    torch.manual_seed(0)
    model = models.create("mldrnet").eval()
    x = torch.randn(4, 3, 64, 64)
    with torch.inference_mode():
        expected = model(x)
    fp32 = create_engine("torch", model, EngineOptions(device="cuda"))
    got = fp32(x)
    scale = expected.abs().max().item()
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * scale)  # TF32 would be ~1e-3 off
    assert fp32.describe()["tf32"] is False and fp32.describe()["cudnn_benchmark"] is True
    tf32 = create_engine("torch", model, EngineOptions(device="cuda", precision="tf32"))
    torch.testing.assert_close(tf32(x), expected, rtol=1e-2, atol=1e-2 * scale)
    assert tf32.describe()["tf32"] is True
