"""The user's --batch-sizes reach every place that tunes for a batch: the TensorRT engine's file (one optimisation
profile per timed batch, rebuilt when one is missing), the engine options (ORT's TensorRT provider profiles), and
not the defaults (CPU_BATCHES, GPU_BATCHES). CPU only: what is checked are the arguments and profile shapes. Then
the rest of what the TensorRT builder decides on its own, against a fake tensorrt: fp16 as a strongly typed network
from an fp16 ONNX copy from TensorRT 10.12 on (the FP16 flag before)."""

import sys
import warnings
from types import SimpleNamespace

import numpy as np
import pytest
import torch

from bench import artifacts
from bench.artifacts import artifact_for
from bench.compare import CPU_BATCHES, GPU_BATCHES, CompareConfig, Hooks, run_compare
from bench.variants import select_variants
from engines import export
from engines.onnx_engine import tensorrt_profile
from engines.tensorrt_build import _add_profiles
from mldrnet.checkpoint import Checkpoint
from mldrnet.errors import BenchError
from tests.helpers.compare_fakes import FAST, fake_hooks, write_checkpoint

USER = (2, 5, 12)  # none of them a default batch
assert not set(USER) & (set(CPU_BATCHES) | set(GPU_BATCHES))


class Spy:
    def __init__(self):
        self.artifacts: list[tuple[str, str, dict]] = []  # (label, precision, keyword arguments)
        self.options: dict[tuple[str, str], object] = {}
        base = fake_hooks(n_images=16)

        def artifact(variant, checkpoint, model, max_batch, results_root, data_root, **kw):
            self.artifacts.append((variant.label, variant.precision, dict(kw, max_batch=max_batch)))
            return base.artifact(variant, checkpoint, model, max_batch, results_root, data_root)

        def engine(name, source, options):
            self.options[(name, options.provider or "", options.precision)] = options
            return base.engine(name, source, options)

        self.hooks = Hooks(eval_set=base.eval_set, artifact=artifact, engine=engine)


@pytest.fixture(scope="module")
def spied(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    write_checkpoint(root, "mldrnet-l2")
    spy = Spy()
    cfg = CompareConfig(
        models=("mldrnet-l2",),
        engines=("torch-cpu", "trt", "ort-trt"),
        precisions=("fp32",),
        batch_sizes=USER,
        threads=1,
        eval_batch_size=8,
        timing=FAST,
        calibration=FAST,
        peak_budget_s=0.0,
    )
    return run_compare(cfg, root, spy.hooks), spy


def test_the_tensorrt_file_is_asked_for_with_the_users_batches(spied):
    run, spy = spied
    trt = [kw for label, _, kw in spy.artifacts if label == "trt"]
    assert trt == [{"batches": USER, "max_batch": 12}]  # max(eval batch 8, the largest timed batch)
    # files that serve any batch are not asked with batches (their hooks need not take them)
    assert all("batches" not in kw for label, _, kw in spy.artifacts if label != "trt")
    assert {r.batch_size for r in run.records} == set(USER)  # the rows too: no default batch anywhere


def test_every_engine_gets_the_users_batches_as_its_profiles(spied):
    _, spy = spied
    assert spy.options, "no engine was made"
    for key, options in spy.options.items():
        assert options.profile_batches == USER and options.max_batch == 12, key
    ort_trt = spy.options[("onnxruntime", "tensorrt", "fp32")]
    shapes = tensorrt_profile("input", (3, 64, 64), ort_trt.max_batch, ort_trt.profile_batches)
    assert shapes["trt_profile_opt_shapes"] == ",".join(f"input:{b}x3x64x64" for b in USER)
    assert shapes["trt_profile_max_shapes"] == ",".join("input:12x3x64x64" for _ in USER)


def test_artifact_for_hands_the_batches_to_the_export(monkeypatch, tmp_path):
    seen = {}

    def ensure_file(fmt, precision, checkpoint, **kw):
        seen.update(kw, fmt=fmt.name)
        path = tmp_path / "model.fp32.engine"
        path.write_bytes(b"x" * 10)
        return path

    monkeypatch.setattr(export, "ensure_file", ensure_file)
    (v,) = select_variants(["trt"], ["fp32"])
    art = artifact_for(v, tmp_path / "best.pt", None, 12, tmp_path, batches=[2, 5, 12])
    assert seen["fmt"] == "tensorrt" and seen["batches"] == USER and seen["max_batch"] == 12
    assert art.nbytes == 10 and "tensorrt" in artifacts.PER_BATCH_FORMATS


def test_the_engine_builder_tunes_one_profile_per_user_batch():
    """engines.tensorrt_build with a fake builder: one profile per timed batch, each tuned (opt) at it."""
    made = []

    class Profile:
        def set_shape(self, name, lo, opt, hi):
            made.append((name, lo[0], opt[0], hi[0]))

    builder = SimpleNamespace(create_optimization_profile=Profile)
    config = SimpleNamespace(add_optimization_profile=lambda p: None)
    inp = SimpleNamespace(name="input", shape=(-1, 3, 64, 64))
    from engines.tensorrt_build import profile_batches

    opts = _add_profiles(builder, config, inp, profile_batches(USER, 12), 12)
    assert opts == USER and made == [("input", 1, b, 12) for b in USER]


def test_a_stale_engine_without_a_profile_at_a_user_batch_is_rebuilt(monkeypatch, tmp_path):
    """An engine built for the default batches (1 and 32) lacks a profile at 5: ensure_file's check says so."""
    from engines import base, tensorrt_build

    ckpt = write_checkpoint(tmp_path)
    onnx = tmp_path / "model.onnx"
    onnx.write_bytes(b"onnx")
    engine = tmp_path / "model.fp32.engine"
    engine.write_bytes(b"engine")
    record = dict(source_onnx="model.onnx", source_sha256=base.file_sha256(onnx), max_batch=32, profiles=[1, 32])
    monkeypatch.setattr(export, "checkpoint_mismatch", lambda path, checkpoint: None)
    monkeypatch.setattr(tensorrt_build, "read_engine_meta", lambda path: (None, record))
    monkeypatch.setattr(base, "tensorrt_version", lambda: None)
    monkeypatch.setattr(base, "gpu_name", lambda: None)
    assert export.stale_reason(engine, ckpt, 32, None) is None  # the default batches: current
    reason = export.stale_reason(engine, ckpt, 12, USER)
    assert reason == "rebuilding model.fp32.engine: no profile tuned at batch 2, 5, 12"


# --- the TensorRT builder's fp16 (engines.tensorrt_build): strongly typed from TensorRT 10.12 on -----------------


class Tiny(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.conv, self.fc = torch.nn.Conv2d(3, 4, 3), torch.nn.Linear(4, 8)

    def forward(self, x):
        return self.fc(torch.nn.functional.adaptive_avg_pool2d(torch.relu(self.conv(x)), 1).flatten(1))


@pytest.fixture
def tiny_onnx(tmp_path):
    torch.manual_seed(0)
    path = tmp_path / "model.onnx"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(Tiny().eval(), (torch.randn(1, 3, 16, 16),), str(path), input_names=["input"], dynamo=False)
    return path


def test_the_fp16_flag_only_before_tensorrt_10_12():
    from engines.tensorrt_build import fp16_by_flag

    assert fp16_by_flag("10.11.0.33") and fp16_by_flag("8.6.1")
    assert not fp16_by_flag("10.12.0.36") and not fp16_by_flag("10.16.1.11.post1") and not fp16_by_flag("11.0.0")
    assert not fp16_by_flag(None) and not fp16_by_flag("not a version")  # unknown: the current, typed way


def test_the_fp16_copy_without_modelopt(tiny_onnx, monkeypatch):
    """ONNX Runtime's converter: fp16 weights, fp32 input and output, nodes in order, the same logits to fp16's
    precision on ONNX Runtime's CPU provider."""
    import onnx
    import onnxruntime as ort

    from engines.tensorrt_build import fp16_onnx

    monkeypatch.setitem(sys.modules, "modelopt", None)  # not importable, as in every extra
    path, how = fp16_onnx(tiny_onnx)
    assert path.name == "model.fp16.onnx" and how == "onnxruntime float16"
    graph = onnx.load(str(path)).graph
    floats = {i.data_type for i in graph.initializer} & {onnx.TensorProto.FLOAT, onnx.TensorProto.FLOAT16}
    assert floats == {onnx.TensorProto.FLOAT16}
    assert [v.type.tensor_type.elem_type for v in (*graph.input, *graph.output)] == [onnx.TensorProto.FLOAT] * 2
    made = {i.name for i in graph.input} | {i.name for i in graph.initializer}
    for node in graph.node:  # topological: every input made before
        assert all(i in made or not i for i in node.input), node.name
        made.update(node.output)
    x = np.random.default_rng(0).standard_normal((1, 3, 16, 16), dtype=np.float32)
    fp32, fp16 = (ort.InferenceSession(str(p), providers=["CPUExecutionProvider"]) for p in (tiny_onnx, path))
    a, b = (s.run(None, {"input": x})[0] for s in (fp32, fp16))
    assert np.abs(a - b).max() <= 1e-2 * max(1.0, np.abs(a).max())


def test_an_order_that_cannot_be_sorted_is_one_line():
    import onnx
    from onnx import helper

    from engines.tensorrt_build import _topological_order

    graph = helper.make_graph(
        [helper.make_node("Relu", ["b"], ["c"]), helper.make_node("Relu", ["a"], ["b"])],
        "g",
        [helper.make_tensor_value_info("a", onnx.TensorProto.FLOAT, [1])],
        [helper.make_tensor_value_info("c", onnx.TensorProto.FLOAT, [1])],
    )
    _topological_order(graph, "m.onnx")
    assert [n.output[0] for n in graph.node] == ["b", "c"]
    graph.node.append(helper.make_node("Relu", ["nowhere"], ["d"]))
    with pytest.raises(BenchError, match="nothing makes \\(nowhere\\)"):
        _topological_order(graph, "m.onnx")


@pytest.mark.parametrize("version, typed", [("10.16.1.11", True), ("11.4.0.106", True), ("10.11.0.33", False)])
def test_fp16_builds_strongly_typed_from_the_fp16_copy(tiny_onnx, tmp_path, monkeypatch, version, typed):
    from engines import tensorrt_build
    from engines.tensorrt_build import build_engine, read_engine_meta
    from tests.test_engines_tensorrt_int8 import FakeTensorRT

    trt = FakeTensorRT(version)
    monkeypatch.setitem(sys.modules, "tensorrt", trt)
    monkeypatch.setitem(sys.modules, "modelopt", None)
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "get_device_name", lambda *a: "NVIDIA H100 80GB HBM3")
    monkeypatch.setattr(tensorrt_build, "_LOGGER", None)
    meta = Checkpoint.load(write_checkpoint(tmp_path / "r")).meta
    engine = build_engine(tiny_onnx, tmp_path / "model.fp16.engine", meta, precision="fp16", max_batch=8)
    (built,) = trt.built
    _, record = read_engine_meta(engine)
    if typed:  # no deprecated flag: the types are the fp16 file's
        assert built["network_flags"] == (1 << 1 if version.startswith("10.") else 0)  # 11: always typed
        assert "FP16" not in built["config"].flags and record["strongly_typed"]
        assert record["onnx"] == "model.fp16.onnx" and record["fp16_from"] == "onnxruntime float16"
    else:
        assert "FP16" in built["config"].flags and built["network_flags"] == 0 and not record["strongly_typed"]
        assert record["onnx"] == "model.onnx" and record["fp16_from"] is None
    assert record["source_onnx"] == "model.onnx"  # staleness is judged on the fp32 file either way
