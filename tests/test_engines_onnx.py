"""ONNX export of every zoo model, and the ONNX Runtime engine: parity, metadata, providers, threads."""

import onnx
import pytest
import torch
from torch import nn

from engines.base import EngineOptions, ModelMeta, create_engine
from engines.export import export_onnx_checked
from engines.onnx_export import FORMAT, export_onnx, meta_from_props, read_onnx_meta
from engines.parity import check_parity, eager
from mldrnet import EMOTIONS, models
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError
from mldrnet.evaluation.metrics import parity as compare_logits  # the one parity measure

SIZE = 64  # every zoo model accepts 64 px; small keeps the export and the runs fast on 2 shared cores
SLOW = {"vgg19", "resnet101"}  # hundreds of MB of weights to trace, serialize and check


def _meta(name: str, config: dict | None = None) -> ModelMeta:
    return ModelMeta(name, EMOTIONS, Preprocessing(crop=SIZE), config or {})


def _model(name: str) -> nn.Module:
    torch.manual_seed(0)
    return models.create(name).eval()


def _batches(*sizes: int) -> list[torch.Tensor]:
    g = torch.Generator().manual_seed(1)
    return [torch.randn(b, 3, SIZE, SIZE, generator=g) for b in sizes]


@pytest.fixture(scope="module")
def mldrnet_onnx(tmp_path_factory):
    model = _model("mldrnet")
    path = export_onnx(model, _meta("mldrnet", {"levels": 4}), tmp_path_factory.mktemp("onnx") / "model.onnx")
    return model, path


@pytest.mark.parametrize(
    "name", [pytest.param(n, marks=pytest.mark.slow) if n in SLOW else n for n in models.networks()]
)
def test_every_zoo_model_exports_and_onnxruntime_matches_eager(name, tmp_path):
    model = _model(name)
    # batch 3 and 1: neither is the export's example batch of 2, so the batch dimension must really be dynamic
    result = export_onnx_checked(model, _meta(name), tmp_path / "model.onnx", _batches(3, 1), threads=1)
    assert result.parity.ok and result.parity.top1_agreement == 1.0 and result.parity.images == 4
    assert result.path == tmp_path / "model.onnx"
    assert [p.name for p in tmp_path.iterdir()] == ["model.onnx"]  # weights inside, no external data, no temp file
    engine = create_engine("onnxruntime", result.path, EngineOptions(threads=1))
    x = _batches(5)[0]
    with torch.inference_mode():
        expected = model(x)
    got = engine(x)
    assert got.shape == (5, 8) and got.dtype == torch.float32 and got.device.type == "cpu"
    torch.testing.assert_close(got, expected, rtol=1e-4, atol=1e-4 * expected.abs().max().item())


def test_onnx_file_is_checked_dynamic_and_self_describing(mldrnet_onnx):
    _, path = mldrnet_onnx
    proto = onnx.load(str(path))
    onnx.checker.check_model(proto, full_check=True)
    dims = proto.graph.input[0].type.tensor_type.shape.dim
    assert dims[0].dim_param and [d.dim_value for d in dims[1:]] == [3, SIZE, SIZE]  # dynamic batch, static H/W
    assert [i.name for i in proto.graph.input] == ["images"] and [o.name for o in proto.graph.output] == ["logits"]
    assert "BatchNormalization" not in {n.op_type for n in proto.graph.node}  # folded into the convolutions
    meta = read_onnx_meta(path)
    assert meta.to_dict() == _meta("mldrnet", {"levels": 4}).to_dict()
    assert meta.input_shape == (3, SIZE, SIZE) and meta.classes == EMOTIONS
    props = {p.key for p in proto.metadata_props}
    assert {"bench.model", "bench.classes", "bench.input_size", "bench.preprocessing", "bench.model_config"} <= props


def test_onnxruntime_engine_parity_describe_and_threads(mldrnet_onnx):
    model, path = mldrnet_onnx
    engine = create_engine("onnxruntime", path, EngineOptions(threads=2))
    report = check_parity(eager(model), engine, _batches(1, 4, 7))
    assert report.ok and report.top1_agreement == 1.0 and report.images == 12 and report.max_abs_diff < 1e-4
    info = engine.describe()
    assert info["engine"] == "onnxruntime" and info["provider"] == "CPUExecutionProvider"
    assert info["threads"] == 2 and engine.session.get_session_options().intra_op_num_threads == 2
    assert info["precision"] == "fp32" and info["versions"]["onnxruntime"]
    assert engine.meta.model == "mldrnet"  # loaded from the file alone
    engine.warmup(2, SIZE, iterations=1)


def test_asking_for_a_gpu_provider_on_a_cpu_build_is_an_error(mldrnet_onnx):
    import onnxruntime as ort

    _, path = mldrnet_onnx
    for provider, name in [("cuda", "CUDAExecutionProvider"), ("tensorrt", "TensorrtExecutionProvider")]:
        if name in ort.get_available_providers():
            pytest.skip(f"this onnxruntime build has {name}")
        # no silent CPU fallback: the session itself is refused, with the reason in one line
        with pytest.raises(BenchError, match=f"cannot run model.onnx on {name}: this onnxruntime build has no {name}"):
            create_engine("onnxruntime", path, EngineOptions(provider=provider))
    with pytest.raises(BenchError, match="onnxruntime-gpu"):
        create_engine("onnxruntime", path, EngineOptions(device="cuda"))  # device=cuda means the CUDA provider


def test_onnxruntime_rejects_what_it_cannot_run(mldrnet_onnx, tmp_path):
    _, path = mldrnet_onnx
    with pytest.raises(BenchError, match="unknown onnxruntime provider"):
        create_engine("onnxruntime", path, EngineOptions(provider="directml"))
    with pytest.raises(BenchError, match="fp32"):
        create_engine("onnxruntime", path, EngineOptions(precision="fp16"))
    with pytest.raises(BenchError, match="does not exist"):
        create_engine("onnxruntime", tmp_path / "missing.onnx")
    bare = onnx.load(str(path))
    del bare.metadata_props[:]
    onnx.save(bare, str(tmp_path / "bare.onnx"))
    with pytest.raises(BenchError, match="no bench metadata"):
        create_engine("onnxruntime", tmp_path / "bare.onnx")


class ExportsDifferently(nn.Module):
    """Eager and exported graphs disagree: what a silently wrong lowering would look like."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 3)

    def forward(self, x):
        y = self.conv(x).mean(dim=(2, 3))
        return y + 1.0 if torch.compiler.is_exporting() else y


def test_export_fails_and_deletes_the_file_when_fp32_parity_breaks(tmp_path):
    with pytest.raises(BenchError, match="does not match PyTorch.*model.onnx was deleted"):
        export_onnx_checked(ExportsDifferently(), _meta("odd"), tmp_path / "model.onnx", _batches(2))
    assert not (tmp_path / "model.onnx").exists()


def test_parity_report():
    ref = torch.tensor([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]])
    same = compare_logits(ref, ref + 1e-6)
    assert same.ok and same.top1_agreement == 1.0 and 0 < same.max_abs_diff < 2e-6
    flipped = compare_logits(ref, torch.tensor([[1.0, 2.0, 3.0], [1.0, 2.0, 3.0]]))
    assert not flipped.ok and flipped.top1_agreement == 0.5 and flipped.max_abs_diff == 2.0
    assert not compare_logits(ref, torch.full_like(ref, float("nan"))).ok
    scaled = compare_logits(ref * 1e4, ref * 1e4 + 0.5)  # the tolerance scales with the logits
    assert scaled.ok and scaled.tolerance == pytest.approx(1e-4 + 1e-3 * 3e4)
    with pytest.raises(BenchError, match="shape"):
        compare_logits(ref, ref[:1])


def test_incomplete_onnx_metadata_asks_for_a_re_export():
    props = {"bench.format": FORMAT, "bench.model": '"mldrnet"'}  # no classes, no preprocessing
    with pytest.raises(BenchError, match="model.onnx is incomplete.*re-export"):
        meta_from_props(props, "model.onnx")
    with pytest.raises(BenchError, match="unreadable bench metadata"):
        meta_from_props({**props, "bench.classes": "[not json"}, "model.onnx")
