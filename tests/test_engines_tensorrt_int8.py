"""TensorRT int8 from explicit Q/DQ, on the CPU: the file ONNX Runtime's quantize_static makes for TensorRT
(symmetric signed int8 activations, per-channel int8 weights, float biases, the logits' layers in float), its
agreement with fp32 judged by the int8 gate's number on ONNX Runtime's CPU provider, the `trt int8` variant and
the gate on its rows; and the strongly typed build with one profile per timed batch, against a fake tensorrt."""

import json
import sys
import types

import onnx
import pytest
import torch
from onnx import numpy_helper

from bench.check import Tolerance, compare_runs
from bench.variants import select_variants
from engines import formats
from engines.base import EngineOptions, create_engine, file_sha256
from engines.export import ExportOptions
from engines.parity import parity_batches
from engines.quantize import calibration_set, quantize_for_tensorrt
from engines.tensorrt_build import qdq_path
from engines.tensorrt_engine import choose_profile
from mldrnet.errors import BenchError
from tests.helpers.compare_fakes import synthetic_run
from tests.helpers.int8 import agreement, assert_agrees, int8_noise, logits

GATE = Tolerance().int8_agreement_pct / 100  # bench check's limit for every int8 row: 99 % top-1 with fp32


@pytest.fixture(scope="module")
def qdq(trained):
    root, checkpoint, ckpt = trained
    path = qdq_path(formats.get("tensorrt").path(checkpoint.parent, "int8"))
    quantize_for_tensorrt(checkpoint, ExportOptions(to="tensorrt", precision="int8"), root, path)
    return root, checkpoint, ckpt, path


def test_the_qdq_file_is_what_tensorrt_explicit_quantization_takes(qdq):
    _, checkpoint, _, path = qdq
    assert path.name == "model.trt-int8.onnx" and path.parent == checkpoint.parent
    proto = onnx.load(str(path))
    inits = {t.name: t for t in proto.graph.initializer}
    quant = [n for n in proto.graph.node if n.op_type in ("QuantizeLinear", "DequantizeLinear")]
    assert len(quant) > 10
    for node in quant:  # zero points all int8 and 0: symmetric signed, as TensorRT requires
        zero = inits.get(node.input[2]) if len(node.input) > 2 else None
        assert zero is None or (zero.data_type == onnx.TensorProto.INT8 and not numpy_helper.to_array(zero).any())
    dequantized = {n.input[0] for n in quant if n.op_type == "DequantizeLinear"}
    weights = [inits[name] for name in dequantized if name in inits]
    assert weights and all(t.data_type == onnx.TensorProto.INT8 for t in weights)  # no int32 biases: float
    assert any(len(t.dims) == 4 for t in weights)  # conv weights, per output channel
    scales = [inits[n.input[1]] for n in quant if n.op_type == "DequantizeLinear" and n.input[0] in inits]
    assert any(numpy_helper.to_array(s).size > 1 for s in scales)  # per-channel
    record = json.loads({p.key: p.value for p in proto.metadata_props}["bench.quantization"])
    assert record["target"] == "tensorrt" and record["activations"] == "QInt8 symmetric"
    assert record["biases"] == "float" and record["reduce_range"] is False
    assert record["float_nodes"]  # the layers that make the logits stay float
    props = {p.key: p.value for p in proto.metadata_props}
    assert json.loads(props["bench.checkpoint_sha256"]) == file_sha256(checkpoint)  # tied to best.pt


def test_the_qdq_file_passes_the_int8_gate_on_the_cpu(qdq):
    root, checkpoint, ckpt, path = qdq
    int8 = create_engine("onnxruntime", path, EngineOptions(precision="int8", provider="cpu", threads=2))
    fp32 = create_engine("onnxruntime", formats.get("onnx").path(checkpoint.parent), EngineOptions(threads=2))
    batches = parity_batches(ckpt, "test", 64, root)
    calibration = int8.describe()["quantization"]["calibration"]
    noise = int8_noise(int8, fp32, calibration_set(ckpt, calibration["images"], root).batches)
    a, b = logits(int8, batches), logits(fp32, batches)
    assert_agrees(agreement(a, b, noise), at_least=GATE)
    assert not torch.equal(a, b)


def test_the_trt_int8_variant_is_named_and_its_rows_are_gated():
    labels = lambda vs: [(v.label, v.precision) for v in vs]  # noqa: E731
    assert ("trt", "int8") not in labels(select_variants(None, None, gpu=True))  # calibrates: named only
    assert labels(select_variants(["trt"], ["int8"], gpu=True)) == [("trt", "int8")]
    assert ("trt", "int8") in labels(select_variants(["tensorrt"], None, gpu=True))
    row = dict(model="mldrnet", variant="trt", engine="tensorrt", device="cuda", precision="int8", batch_size=1)
    base = synthetic_run([{**row, "agreement_pct": 99.6}])
    tol = Tolerance(normalize=False)
    assert compare_runs(synthetic_run([{**row, "agreement_pct": 99.5}]), base, tol).passed
    failed = compare_runs(synthetic_run([{**row, "agreement_pct": 98.0}]), base, tol)
    assert not failed.passed and "int8 top-1 agreement with fp32 98.00% < 99%" in failed.rows[0].reasons[-1]


# --- the build, against a fake tensorrt: strongly typed int8, no calibrator, a profile per timed batch --------


class _Flags:
    def __init__(self, *names):
        for name in names:
            setattr(self, name, name)


class FakeTensorRT(types.ModuleType):
    """The tensorrt API build_engine uses, recording what it is asked."""

    def __init__(self, version="10.16.1.11"):
        super().__init__("tensorrt")
        self.__version__ = version
        self.built: list[dict] = []
        self.loggers: list = []
        trt = self

        class Logger:
            WARNING = "warning"

            def __init__(self, level):
                trt.loggers.append(self)

        class Profile:
            def __init__(self):
                self.shapes = None

            def set_shape(self, name, low, opt, high):
                self.shapes = (name, low, opt, high)

        class Config:
            def __init__(self):
                self.flags = {"TF32"}  # TensorRT's default
                self.profiles, self.profiling_verbosity = [], None

            def set_memory_pool_limit(self, pool, size):
                pass

            def add_optimization_profile(self, profile):
                self.profiles.append(profile.shapes)

            def set_flag(self, flag):
                self.flags.add(flag)

            def clear_flag(self, flag):
                self.flags.discard(flag)

            def get_flag(self, flag):
                return flag in self.flags

            def create_timing_cache(self, data):
                return types.SimpleNamespace(serialize=lambda: b"timings")

            def set_timing_cache(self, cache, ignore_mismatch):
                return True

            def get_timing_cache(self):
                return types.SimpleNamespace(serialize=lambda: b"timings")

        class Network:
            def __init__(self, flags):
                self.flags = flags

            def get_input(self, i):
                return types.SimpleNamespace(name="images", shape=(-1, 3, 8, 8))

        class Builder:
            def __init__(self, logger):
                self.logger = logger

            def create_network(self, flags):
                return Network(flags)

            def create_builder_config(self):
                return Config()

            def create_optimization_profile(self):
                return Profile()

            def build_serialized_network(self, network, config):
                trt.built.append({"network_flags": network.flags, "config": config, "logger": self.logger})
                return b"engine"

        class OnnxParser:
            def __init__(self, network, logger):
                self.num_errors = 0
                trt.built_parser_logger = logger

            def parse_from_file(self, path):
                return True

        self.Logger, self.Builder, self.OnnxParser = Logger, Builder, OnnxParser
        self.NetworkDefinitionCreationFlag = types.SimpleNamespace(STRONGLY_TYPED=1)
        self.MemoryPoolType = types.SimpleNamespace(WORKSPACE="workspace")
        self.ProfilingVerbosity = types.SimpleNamespace(DETAILED="detailed")
        self.BuilderFlag = _Flags("TF32", "FP16", "INT8")


@pytest.fixture
def fake_trt(monkeypatch):
    from engines import tensorrt_build

    trt = FakeTensorRT()
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(tensorrt_build, "_LOGGER", None)
    return trt


def test_int8_is_built_strongly_typed_from_the_qdq_file_with_a_profile_per_batch(fake_trt, qdq, tmp_path):
    from engines.tensorrt_build import build_engine, read_engine_meta

    _, checkpoint, ckpt, path = qdq
    engine = tmp_path / "model.int8.engine"
    source = formats.get("onnx").path(checkpoint.parent)
    build_engine(
        path,
        engine,
        ckpt.meta,
        precision="int8",
        max_batch=16,
        batches=(1, 4),
        source_onnx=source,
        checkpoint_sha256="c",
    )
    (built,) = fake_trt.built
    config = built["config"]
    assert built["network_flags"] == 1 << 1  # NetworkDefinitionCreationFlag.STRONGLY_TYPED
    assert not {"INT8", "FP16"} & config.flags  # no precision flag, no calibrator: the types are the file's
    assert config.profiling_verbosity == "detailed"
    assert config.profiles == [("images", (1, 3, 8, 8), (opt, 3, 8, 8), (16, 3, 8, 8)) for opt in (1, 4, 16)]
    _, record = read_engine_meta(engine)
    assert record["profiles"] == [1, 4, 16] and record["strongly_typed"] and record["onnx"] == "model.trt-int8.onnx"
    assert record["source_onnx"] == "model.onnx" and record["source_sha256"] == file_sha256(source)
    assert record["checkpoint_sha256"] == "c" and record["tf32"] is True  # fp32 layers of an int8 engine may TF32
    assert (tmp_path / "tensorrt-10.16.1.11-NVIDIA-H100-80GB-HBM3.timing-cache").read_bytes() == b"timings"
    assert record["timing_cache"] == "tensorrt-10.16.1.11-NVIDIA-H100-80GB-HBM3.timing-cache"

    build_engine(source, tmp_path / "model.fp32.engine", ckpt.meta, precision="fp32", max_batch=8)
    config = fake_trt.built[-1]["config"]
    assert "TF32" not in config.flags and fake_trt.built[-1]["network_flags"] == 0
    assert read_engine_meta(tmp_path / "model.fp32.engine")[1]["tf32"] is False  # IEEE fp32, recorded so
    build_engine(source, tmp_path / "model.fp16.engine", ckpt.meta, precision="fp16", max_batch=8)
    fp16 = fake_trt.built[-1]  # 10.16: strongly typed from model.fp16.onnx, not weak typing's FP16 flag
    assert "FP16" not in fp16["config"].flags and fp16["network_flags"] == 1 << 1
    assert read_engine_meta(tmp_path / "model.fp16.engine")[1]["onnx"] == "model.fp16.onnx"
    assert len(fake_trt.loggers) == 1  # one TensorRT logger for every builder and parser of the process
    assert {b["logger"] for b in fake_trt.built} == {fake_trt.loggers[0]}

    with pytest.raises(BenchError, match="has no Q/DQ nodes"):
        build_engine(source, tmp_path / "x.engine", ckpt.meta, precision="int8")


def test_a_batch_runs_in_the_profile_tuned_at_it():
    opts = [1, 4, 32]
    assert [choose_profile(opts, b) for b in (1, 4, 32)] == [0, 1, 2]
    assert choose_profile(opts, 3) == 1 and choose_profile(opts, 7) == 2 and choose_profile(opts, 64) == 2


def test_the_qdq_path_follows_the_engine_name(tmp_path):
    assert qdq_path(tmp_path / "model.int8.engine").name == "model.trt-int8.onnx"
    assert qdq_path(tmp_path / "model.int8.s375.engine").name == "model.trt-int8.s375.onnx"


@pytest.mark.gpu
def test_tensorrt_int8_engine_from_the_qdq_file_passes_the_gate(trained):
    pytest.importorskip("tensorrt")
    from engines.export import ensure_file

    root, checkpoint, ckpt = trained
    engine_path = ensure_file(formats.get("tensorrt"), "int8", checkpoint, results_root=root, max_batch=16)
    int8 = create_engine("tensorrt", engine_path, EngineOptions(device="cuda", precision="int8"))
    info = int8.describe()
    assert info["strongly_typed"] and "int8" in " ".join(map(str, info["layer_precisions"])).lower()
    fp32 = create_engine("onnxruntime", formats.get("onnx").path(checkpoint.parent), EngineOptions(threads=2))
    batches = parity_batches(ckpt, "test", 64, root)
    calibration = calibration_set(ckpt, 256, root).batches
    assert_agrees(agreement(logits(int8, batches), logits(fp32, batches), int8_noise(int8, fp32, calibration)), GATE)
