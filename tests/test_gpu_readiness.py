"""GPU readiness, on the CPU: the CUDA stack check, provider-failure messages, IEEE fp32 / TF32 options, cache keys
and engine staleness, ORT's TensorRT profile and IO-binding reuse. GPU libraries are faked at their boundary."""

import gc
import json
import logging
import os
import subprocess
import sys
import types

import numpy as np
import onnx
import pytest
import torch
from onnx import TensorProto, helper

from bench import doctor
from bench.timing import TimingConfig, measure_resident
from bench.variants import VARIANTS, default_variants, select_variants
from engines import base, onnx_engine
from engines.base import EngineOptions, ModelMeta, create_engine
from engines.export import is_current, stale_reason
from engines.onnx_export import meta_to_props
from engines.tensorrt_build import ENGINE_FORMAT
from engines.torch_engine import fp32_math
from mldrnet import EMOTIONS
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError

# --- the CUDA stack of the gpu extra ---------------------------------------------------------------------------


def _item(name, version, requires=()):
    return {"metadata": {"name": name, "version": version, "requires_dist": list(requires)}}


TORCH_CU13 = _item(
    "torch",
    "2.14.1",
    [
        'cuda-toolkit[cublas,cudart]==13.0.3; platform_system == "Linux"',
        'nvidia-cudnn-cu13==9.24.0.43; platform_system == "Linux"',
        "numpy",
    ],
)
ORT_CU13 = _item(
    "onnxruntime-gpu",
    "1.31.1",
    [
        "numpy>=1.21.6",
        'nvidia-cuda-runtime~=13.0; extra == "cuda"',
        'nvidia-cufft~=12.0; extra == "cuda"',
        'nvidia-cudnn-cu13~=9.0; extra == "cudnn"',
    ],
)
ORT_CU12 = _item("onnxruntime-gpu", "1.24.4", ['nvidia-cuda-runtime-cu12~=12.0; extra == "cuda"'])
MODELOPT = _item(
    "nvidia-modelopt", "0.47.0", ['cupy-cuda12x; extra == "onnx"', 'onnxruntime-gpu~=1.24.2; extra == "onnx"']
)


def test_cuda_major_is_read_from_names_versions_and_requirements():
    assert doctor.cuda_major_of_name("tensorrt-cu13") == 13 and doctor.cuda_major_of_name("tensorrt_cu12_libs") == 12
    assert doctor.cuda_major_of_name("cupy-cuda12x") == 12 and doctor.cuda_major_of_name("nvidia-cudnn-cu13") == 13
    assert doctor.cuda_major_of_name("nvidia-cuda-runtime", "13.0.96") == 13
    assert doctor.cuda_major_of_name("nvidia-cufft", "12.0.0.61") is None  # a CUDA 13 library with its own major
    assert doctor.cuda_major_of_name("numpy", "2.0") is None
    assert doctor.cuda_major_of_requirement('nvidia-cuda-runtime~=13.0; extra == "cuda"') == 13
    assert doctor.cuda_major_of_requirement("cuda-toolkit[cudart]==12.8.1") == 12
    assert doctor.package_cuda_major("torch", "2.14.1+cu130", [])[0] == 13
    assert doctor.package_cuda_major("torch", "2.14.1", TORCH_CU13["metadata"]["requires_dist"])[0] == 13
    assert doctor.package_cuda_major("onnxruntime-gpu", "1.24.4", ORT_CU12["metadata"]["requires_dist"])[0] == 12
    assert doctor.package_cuda_major("numpy", "2.0", ["typing-extensions"]) == (None, "")


def test_one_cuda_major_is_a_coherent_stack():
    report = {
        "install": [
            TORCH_CU13,
            ORT_CU13,
            _item("nvidia-cuda-runtime", "13.0.96"),
            _item("nvidia-cufft", "12.0.0.61"),
            _item("numpy", "2.3.0"),
        ]
    }
    check = doctor.stack_verdict(report, {"tensorrt-cu13>=10.13.2,<11": 13})
    assert check.ok and "CUDA 13" in check.message
    assert check.majors["onnxruntime-gpu 1.31.1"] == 13 and "nvidia-cufft 12.0.0.61" not in check.majors


def test_cuda_majors_that_disagree_fail_and_name_the_packages():
    # what nvidia-modelopt[onnx] pulled in: onnxruntime-gpu 1.24 (CUDA 12) and cupy-cuda12x next to torch for CUDA 13
    report = {"install": [TORCH_CU13, ORT_CU12, MODELOPT, _item("cupy-cuda12x", "13.6.0")]}
    check = doctor.stack_verdict(report, {"tensorrt-cu13": 13})
    assert not check.ok
    assert "mixes CUDA majors" in check.message and "CUDA 12:" in check.message and "CUDA 13:" in check.message
    assert "onnxruntime-gpu 1.24.4" in check.message and "torch 2.14.1" in check.message
    assert check.why["nvidia-modelopt 0.47.0"] == "requires cupy-cuda12x"
    assert not doctor.stack_verdict({"install": [_item("numpy", "2.3.0")]}).ok  # nothing says: not a GPU stack


def _pyproject(tmp_path, gpu, tensorrt):
    (tmp_path / "pyproject.toml").write_text(
        '[project]\nname = "x"\ndependencies = ["torch==2.14.1", "numpy"]\n[project.optional-dependencies]\n'
        f"gpu = {json.dumps(gpu)}\ntensorrt = {json.dumps(tensorrt)}\n"
    )
    return tmp_path / "pyproject.toml"


def test_the_stack_check_resolves_the_gpu_extra_from_the_public_index_and_the_tensorrt_extra_by_name(tmp_path):
    pyproject = _pyproject(tmp_path, ["onnxruntime-gpu[cuda,cudnn]>=1.27"], ["tensorrt-cu13>=10.15,<11"])
    seen, envs = [], []

    def fake_pip(cmd, **kwargs):
        seen.append(cmd)
        envs.append(kwargs.get("env"))
        return subprocess.CompletedProcess(cmd, 0, json.dumps({"install": [TORCH_CU13, ORT_CU13]}), "")

    os.environ["PIP_EXTRA_INDEX_URL"] = "file:///opt/mirror/simple"  # a machine's own mirror must not answer
    try:
        check = doctor.check_gpu_stack(pyproject, run=fake_pip)
    finally:
        del os.environ["PIP_EXTRA_INDEX_URL"]
    assert envs[0]["PIP_CONFIG_FILE"] == os.devnull and "PIP_EXTRA_INDEX_URL" not in envs[0]
    assert check.ok and check.majors["tensorrt-cu13>=10.15,<11"] == 13
    assert "resolves from https://pypi.org/simple" in check.message and "tensorrt-cu13>=10.15,<11" in check.message
    cmd = seen[0]
    assert "--dry-run" in cmd and "--report" in cmd and "--ignore-installed" in cmd
    assert cmd[cmd.index("--index-url") + 1] == "https://pypi.org/simple"  # and no configured extra index
    assert "torch==2.14.1" in cmd and "onnxruntime-gpu[cuda,cudnn]>=1.27" in cmd
    assert not any(c.startswith("tensorrt") for c in cmd)  # source stubs that download the real wheel

    def offline(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 1, "", "ERROR: ... NewConnectionError ... Max retries exceeded")

    with pytest.raises(doctor.ResolverUnavailable, match="offline"):
        doctor.check_gpu_stack(pyproject, run=offline)


def test_tensorrt_in_the_gpu_extra_or_below_10_15_fails(tmp_path):
    def fake_pip(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 0, json.dumps({"install": [TORCH_CU13, ORT_CU13]}), "")

    low = doctor.check_gpu_stack(
        _pyproject(tmp_path, ["onnxruntime-gpu>=1.27"], ["tensorrt-cu13>=10.13.2,<11"]), run=fake_pip
    )
    assert not low.ok and "allows TensorRT below 10.15" in low.message
    mixed = doctor.check_gpu_stack(
        _pyproject(tmp_path, ["onnxruntime-gpu>=1.27", "tensorrt-cu13>=10.15"], []), run=fake_pip
    )
    assert not mixed.ok and "the gpu extra pulls TensorRT (tensorrt-cu13>=10.15)" in mixed.message
    assert "the tensorrt extra names no TensorRT package" in mixed.message


def test_a_package_from_another_index_fails_the_check(tmp_path):
    mirrored = {**ORT_CU13, "download_info": {"url": "file:///opt/pypi/simple/onnxruntime_gpu-1.31.1.whl"}}
    public = {**TORCH_CU13, "download_info": {"url": "https://files.pythonhosted.org/packages/torch-2.14.1.whl"}}

    def fake_pip(cmd, **kwargs):
        return subprocess.CompletedProcess(cmd, 0, json.dumps({"install": [public, mirrored]}), "")

    check = doctor.check_gpu_stack(
        _pyproject(tmp_path, ["onnxruntime-gpu>=1.27"], ["tensorrt-cu13>=10.15"]), run=fake_pip
    )
    assert not check.ok and "1 package(s) of the gpu extra did not come from the public index" in check.message
    assert "onnxruntime-gpu 1.31.1 from file:///opt/pypi" in check.message


def test_the_projects_extras_split_the_public_index_from_nvidias():
    gpu, torch_reqs = doctor.gpu_extra()
    assert gpu and not any(doctor.normalize(doctor.requirement_name(r)).startswith("tensorrt") for r in gpu)
    assert any(doctor.requirement_name(r) == "onnxruntime-gpu" for r in gpu) and torch_reqs
    assert doctor.tensorrt_problems(doctor.tensorrt_extra()) == []


@pytest.mark.slow
@pytest.mark.skipif(
    not os.environ.get("BENCH_NETWORK_TESTS"),
    reason="set BENCH_NETWORK_TESTS=1: resolves with pip against the package index (~15-60 s)",
)
def test_the_projects_gpu_extra_resolves_to_one_cuda_stack():
    try:
        check = doctor.check_gpu_stack()
    except doctor.ResolverUnavailable as e:
        pytest.skip(str(e))
    assert check.ok, check.message


# --- ONNX Runtime: provider failures told apart, TF32, the TensorRT provider's cache and profile -----------------


def _onnx_file(path, crop=8, weight=0.5):
    """A small ONNX file with bench metadata; `weight` changes its content (a retrained model)."""
    w = helper.make_tensor("w", TensorProto.FLOAT, [1], [weight])
    graph = helper.make_graph(
        [
            helper.make_node("Mul", ["images", "w"], ["y"]),
            helper.make_node("GlobalAveragePool", ["y"], ["p"]),
            helper.make_node("Flatten", ["p"], ["logits"]),
        ],
        "g",
        [helper.make_tensor_value_info("images", TensorProto.FLOAT, ["batch", 3, crop, crop])],
        [helper.make_tensor_value_info("logits", TensorProto.FLOAT, ["batch", 3])],
        [w],
    )
    model = helper.make_model(graph, opset_imports=[helper.make_opsetid("", 17)])
    meta = ModelMeta("mldrnet", EMOTIONS, Preprocessing(crop=crop))
    for k, v in meta_to_props(meta).items():
        model.metadata_props.add(key=k, value=v)
    onnx.save(model, str(path))
    return path


class FakeSession:
    def __init__(self, path, options, providers):
        self.providers = providers
        self.options = options
        self.tf32_override = os.environ.get("NVIDIA_TF32_OVERRIDE")
        self.props = {p.key: p.value for p in onnx.load(path).metadata_props}
        self.preloaded = list(FakeOrt.preloads)  # what had been preloaded when the session was made
        self.runs = []
        FakeOrt.sessions.append(self)

    def run(self, outputs, feeds):
        self.runs.append({k: v.shape for k, v in feeds.items()})
        return [np.zeros((len(next(iter(feeds.values()))), 3), np.float32)]

    def end_profiling(self):
        """A profile as ONNX Runtime writes it: each node's kernel event with the provider that ran it."""
        if not self.options.enable_profiling:
            return ""
        path = f"{self.options.profile_file_prefix}_fake.json"
        first = self.providers[0]
        name = first[0] if isinstance(first, tuple) else first
        placed = FakeOrt.placement or {name: 3}
        events = [
            {"cat": "Node", "name": f"{p}_node{i}_kernel_time", "args": {"provider": p, "op_name": "Conv"}}
            for p, n in placed.items()
            for i in range(n)
        ] + [{"cat": "Session", "name": "model_run"}]
        with open(path, "w") as f:
            json.dump(events, f)
        return path

    def get_provider_options(self):
        return {p[0]: {k: str(v) for k, v in p[1].items()} for p in self.providers if isinstance(p, tuple)}

    def get_modelmeta(self):
        return types.SimpleNamespace(custom_metadata_map=self.props)

    def get_inputs(self):
        return [types.SimpleNamespace(name="images")]

    def get_outputs(self):
        return [types.SimpleNamespace(name="logits")]

    def get_providers(self):
        first = self.providers[0]
        name = first[0] if isinstance(first, tuple) else first
        return [name if FakeOrt.loads else "CPUExecutionProvider", "CPUExecutionProvider"]


class FakeOrt(types.ModuleType):
    """onnxruntime-gpu as seen from Python: the providers the wheel contains, sessions that record their options."""

    sessions: list = []
    loads = True
    placement: dict = {}  # provider -> nodes in the profile (empty: all on the first provider asked for)
    preloads: list = []

    def __init__(self, folder, providers):
        super().__init__("onnxruntime")
        self.__file__ = str(folder / "__init__.py")
        self.__version__ = "1.31.1"
        self._providers = providers
        self.InferenceSession = FakeSession
        real = pytest.importorskip("onnxruntime")
        self.SessionOptions, self.ExecutionMode, self.GraphOptimizationLevel = (
            real.SessionOptions,
            real.ExecutionMode,
            real.GraphOptimizationLevel,
        )

    def get_available_providers(self):
        return list(self._providers)


@pytest.fixture
def fake_ort(tmp_path, monkeypatch):
    """A GPU onnxruntime wheel whose provider libraries exist; ctypes.CDLL is replaced (see `missing`)."""
    capi = tmp_path / "ort" / "capi"
    capi.mkdir(parents=True)
    for lib in [*onnx_engine.PROVIDER_LIBRARIES.values(), "libonnxruntime_providers_shared.so"]:
        (capi / lib).write_bytes(b"\x7fELF")
    module = FakeOrt(tmp_path / "ort", ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"])
    FakeOrt.sessions, FakeOrt.loads, FakeOrt.placement, FakeOrt.preloads = [], True, {}, []
    monkeypatch.setattr(onnx_engine, "preload_tensorrt", lambda: FakeOrt.preloads.append("tensorrt"))
    missing: dict[str, str] = {}  # library file name -> the dlopen error it raises

    def cdll(path, mode=0):
        name = os.path.basename(path)
        if name in missing:
            raise OSError(missing[name])
        return object()

    monkeypatch.setattr(onnx_engine.ctypes, "CDLL", cdll)
    monkeypatch.setitem(sys.modules, "onnxruntime", module)
    monkeypatch.setattr(onnx_engine, "gpu_name", lambda: "NVIDIA H200")
    monkeypatch.setattr(onnx_engine, "tensorrt_version", lambda: "10.16.1.11")
    module.missing = missing
    return module


def test_a_cpu_wheel_is_told_from_a_provider_that_cannot_load(fake_ort, monkeypatch):
    cpu_wheel = types.SimpleNamespace(
        __file__=fake_ort.__file__, __version__="1.32.0", get_available_providers=lambda: ["CPUExecutionProvider"]
    )
    message = onnx_engine.provider_failure(cpu_wheel, "CUDAExecutionProvider")
    assert "has no CUDAExecutionProvider" in message and "onnxruntime-gpu" in message

    monkeypatch.setattr(torch.version, "cuda", "13.0")
    fake_ort.missing["libonnxruntime_providers_cuda.so"] = (
        "libcublasLt.so.12: cannot open shared object file: No such file or directory"
    )
    message = onnx_engine.provider_failure(fake_ort, "CUDAExecutionProvider")
    assert "built into onnxruntime 1.31.1 but failed to load" in message and "libcublasLt.so.12" in message
    assert "built for CUDA 12 but torch is CUDA 13" in message and "has no" not in message

    monkeypatch.setattr(onnx_engine, "tensorrt_version", lambda: "11.4.0.106")
    fake_ort.missing["libonnxruntime_providers_tensorrt.so"] = (
        "libnvinfer.so.10: cannot open shared object file: No such file or directory"
    )
    message = onnx_engine.provider_failure(fake_ort, "TensorrtExecutionProvider")
    assert "links TensorRT 10 but TensorRT 11.4.0.106 is installed" in message

    fake_ort.missing["libonnxruntime_providers_cuda.so"] = (
        "libcuda.so.1: cannot open shared object file: No such file or directory"
    )
    assert "no NVIDIA driver" in onnx_engine.provider_failure(fake_ort, "CUDAExecutionProvider")
    del fake_ort.missing["libonnxruntime_providers_cuda.so"]
    assert "its library loads" in onnx_engine.provider_failure(fake_ort, "CUDAExecutionProvider")


def test_the_engine_error_names_the_missing_library(fake_ort, tmp_path):
    path = _onnx_file(tmp_path / "model.onnx")
    FakeOrt.loads = False  # ORT fell back to the CPU
    fake_ort.missing["libonnxruntime_providers_cuda.so"] = (
        "libcudnn.so.9: cannot open shared object file: No such file or directory"
    )
    with pytest.raises(
        BenchError,
        match=r"asked for CUDAExecutionProvider but runs on CPUExecutionProvider: "
        r"CUDAExecutionProvider is built into .* \(missing library libcudnn.so.9",
    ):
        create_engine("onnxruntime", path, EngineOptions(device="cuda", provider="cuda"))


# --- item 1: TensorRT's libraries are preloaded before any TensorRT-provider session or probe -------------------


@pytest.fixture
def fake_tensorrt_wheel(tmp_path, monkeypatch):
    """site-packages/tensorrt_libs as the tensorrt-cu13 library wheel lays it out, with ctypes.CDLL recording."""
    from engines import gpu_libraries

    folder = tmp_path / "site" / "tensorrt_libs"
    folder.mkdir(parents=True)
    (folder / "__init__.py").write_text("")
    for lib in ("libnvonnxparser.so.10", "libnvinfer_plugin.so.10", "libnvinfer.so.10", "libnvinfer_lean.so.10"):
        (folder / lib).write_bytes(b"\x7fELF")
    monkeypatch.syspath_prepend(str(tmp_path / "site"))
    loaded, failing = [], {}

    def cdll(path, mode=0):
        name = os.path.basename(path)
        if name in failing:
            raise OSError(failing[name])
        loaded.append((name, mode))
        return object()

    monkeypatch.setattr(gpu_libraries.ctypes, "CDLL", cdll)
    monkeypatch.setattr(gpu_libraries, "_RESULT", None)
    return folder, loaded, failing


def test_tensorrt_libraries_load_from_the_wheel_folder_libnvinfer_first(fake_tensorrt_wheel):
    from engines import gpu_libraries

    folder, loaded, _ = fake_tensorrt_wheel
    result = gpu_libraries.preload_tensorrt()
    assert result.ok and result.folder == folder
    assert [name for name, _ in loaded] == ["libnvinfer.so.10", "libnvinfer_plugin.so.10", "libnvonnxparser.so.10"]
    assert all(mode == gpu_libraries.ctypes.RTLD_GLOBAL for _, mode in loaded)  # visible to the provider library
    assert gpu_libraries.preload_tensorrt() is result and len(loaded) == 3  # once per process


def test_a_library_that_does_not_load_is_named_with_why(fake_tensorrt_wheel, monkeypatch):
    from engines import gpu_libraries

    folder, _, failing = fake_tensorrt_wheel
    failing["libnvinfer.so.10"] = "libcudart.so.13: cannot open shared object file: No such file or directory"
    why = gpu_libraries.preload_tensorrt(force=True).why_not()
    assert why == (
        f"libnvinfer.so.10 in {folder} does not load "
        "(libcudart.so.13: cannot open shared object file: No such file or directory)"
    )
    monkeypatch.setattr(gpu_libraries, "library_folder", lambda: None)
    why = gpu_libraries.preload_tensorrt(force=True).why_not()
    assert "no tensorrt_libs package" in why and "bench-mldrnet[tensorrt]" in why and "pypi.nvidia.com" in why


def test_the_tensorrt_provider_session_and_probe_come_after_the_preload(fake_ort, tmp_path, monkeypatch):
    path = _onnx_file(tmp_path / "model.onnx")
    create_engine("onnxruntime", path, EngineOptions(device="cuda", provider="cuda"))
    assert FakeOrt.sessions[-1].preloaded == []  # the CUDA provider does not need TensorRT
    create_engine("onnxruntime", path, EngineOptions(device="cuda", provider="tensorrt"))
    assert FakeOrt.sessions[-1].preloaded == ["tensorrt"]  # loaded before the session was made
    order = []
    monkeypatch.setattr(onnx_engine, "preload_tensorrt", lambda: order.append("preload"))
    monkeypatch.setattr(onnx_engine.ctypes, "CDLL", lambda path, mode=0: order.append(os.path.basename(path)))
    assert onnx_engine.provider_load_error(fake_ort, "TensorrtExecutionProvider") is None  # the doctor's probe
    assert order == ["preload", "libonnxruntime_providers_shared.so", "libonnxruntime_providers_tensorrt.so"]


def test_a_missing_libnvinfer_says_why_the_preload_did_not_find_it(monkeypatch):
    from engines import gpu_libraries

    monkeypatch.setattr(gpu_libraries, "library_folder", lambda: None)
    monkeypatch.setattr(gpu_libraries, "_RESULT", None)
    monkeypatch.setattr(onnx_engine, "preload_tensorrt", gpu_libraries.preload_tensorrt)
    monkeypatch.setattr(onnx_engine, "tensorrt_version", lambda: None)
    message = onnx_engine.explain_missing("libnvinfer.so.10")
    assert message.startswith("missing library libnvinfer.so.10 (TensorRT 10): TensorRT's libraries are not installed")


# --- item 3: no silent fallback, node placement ------------------------------------------------------------


def test_gpu_sessions_disable_the_cpu_fallback_and_name_no_cpu_provider(fake_ort, tmp_path):
    path = _onnx_file(tmp_path / "model.onnx")
    for provider, chain in [
        ("cuda", ["CUDAExecutionProvider"]),
        ("tensorrt", ["TensorrtExecutionProvider", "CUDAExecutionProvider"]),
    ]:
        engine = create_engine("onnxruntime", path, EngineOptions(device="cuda", provider=provider))
        session = FakeOrt.sessions[-1]
        assert [p[0] if isinstance(p, tuple) else p for p in session.providers] == chain
        assert session.options.get_session_config_entry("session.disable_cpu_ep_fallback") == "1"
        assert session.options.enable_profiling and session.runs == [{"images": (1, 3, 8, 8)}]  # one profiled run
        info = engine.describe()
        assert info["node_placement"] == {chain[0]: 3} and info["cpu_fallback"] is False
        assert not list((tmp_path).glob("**/*_fake.json"))  # the profile file is not left behind


def test_a_session_that_fails_to_start_leaves_no_profile_folder(fake_ort, tmp_path, monkeypatch):
    made = tmp_path / "tmp"
    made.mkdir()
    monkeypatch.setattr(onnx_engine.tempfile, "tempdir", str(made))  # where mkdtemp puts the profile folder
    FakeOrt.loads = False  # ORT fell back to the CPU: the engine refuses the row before the placement check
    with pytest.raises(BenchError, match="runs on CPUExecutionProvider"):
        create_engine("onnxruntime", _onnx_file(tmp_path / "model.onnx"), EngineOptions(device="cuda"))
    gc.collect()
    assert not list(made.glob("bench-ort-profile-*"))


def test_a_cpu_session_keeps_onnxruntime_defaults(tmp_path):
    import onnxruntime as ort

    path = _onnx_file(tmp_path / "model.onnx")
    engine = create_engine("onnxruntime", path, EngineOptions(provider="cpu"))
    assert not engine.session.get_session_options().enable_profiling and "node_placement" not in engine.describe()
    with pytest.raises(RuntimeError):  # the key is absent: ONNX Runtime's default (no fallback question on the CPU)
        engine.session.get_session_options().get_session_config_entry("session.disable_cpu_ep_fallback")
    assert isinstance(engine.session, ort.InferenceSession)


def test_a_row_whose_nodes_did_not_all_run_on_its_provider_is_an_error(fake_ort, tmp_path):
    path = _onnx_file(tmp_path / "model.onnx")
    FakeOrt.placement = {"TensorrtExecutionProvider": 3, "CUDAExecutionProvider": 2}
    with pytest.raises(BenchError) as e:
        create_engine("onnxruntime", path, EngineOptions(device="cuda", provider="tensorrt"))
    assert str(e.value).startswith(
        "model.onnx does not run wholly on TensorrtExecutionProvider: 2 of 5 nodes did not run on "
        "TensorrtExecutionProvider (2 on CUDAExecutionProvider)"
    )
    assert "\n" not in str(e.value)


def test_node_placement_is_read_from_a_real_onnxruntime_profile(tmp_path):
    import onnxruntime as ort

    path = _onnx_file(tmp_path / "model.onnx")
    so = ort.SessionOptions()
    so.enable_profiling, so.profile_file_prefix = True, str(tmp_path / "p")
    session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
    session.run(None, {"images": np.zeros((1, 3, 8, 8), np.float32)})
    events = json.loads(open(session.end_profiling()).read())
    assert onnx_engine.node_placement(events) == {"CPUExecutionProvider": 3}  # Mul, GlobalAveragePool, Flatten
    copy = {"cat": "Node", "name": "Memcpy_token_1_kernel_time", "args": {"provider": "CUDAExecutionProvider"}}
    copy["args"]["op_name"] = "MemcpyToHost"  # ONNX Runtime's own copies are not nodes of the model
    assert onnx_engine.node_placement([*events, copy]) == {"CPUExecutionProvider": 3}
    assert onnx_engine.placement_problem({"CPUExecutionProvider": 3}, "CUDAExecutionProvider").startswith("3 of 3")
    assert onnx_engine.placement_problem({}, "CUDAExecutionProvider").startswith("ONNX Runtime's profile shows no")


# --- TF32: the CUDA provider's option as reported back, the TensorRT provider's override while building ---------


def test_fp32_is_ieee_and_tf32_is_its_own_precision_on_the_cuda_provider(fake_ort, tmp_path):
    path = _onnx_file(tmp_path / "model.onnx")
    fp32 = create_engine("onnxruntime", path, EngineOptions(device="cuda", provider="cuda"))
    tf32 = create_engine("onnxruntime", path, EngineOptions(device="cuda", provider="cuda", precision="tf32"))
    assert FakeOrt.sessions[0].providers[0] == ("CUDAExecutionProvider", {"use_tf32": "0"})
    assert FakeOrt.sessions[1].providers[0] == ("CUDAExecutionProvider", {"use_tf32": "1"})
    assert fp32.options.precision == "fp32" and tf32.options.precision == "tf32"
    assert fp32.describe()["tf32"] is False and tf32.describe()["tf32"] is True  # what the session reports back
    with pytest.raises(BenchError, match="tf32 is a GPU precision"):
        create_engine("onnxruntime", path, EngineOptions(provider="cpu", precision="tf32"))


def test_the_tensorrt_provider_gets_a_profile_per_timed_batch_a_keyed_cache_and_ieee_fp32(
    fake_ort, tmp_path, monkeypatch
):
    monkeypatch.delenv("NVIDIA_TF32_OVERRIDE", raising=False)
    path = _onnx_file(tmp_path / "model.onnx", crop=8)
    engine = create_engine(
        "onnxruntime", path, EngineOptions(device="cuda", provider="tensorrt", max_batch=16, profile_batches=(1, 4))
    )
    session = FakeOrt.sessions[-1]
    name, trt = session.providers[0]
    assert name == "TensorrtExecutionProvider" and session.providers[1] == ("CUDAExecutionProvider", {"use_tf32": "0"})
    # one profile per timed batch and one at max_batch, each taking 1..16 and tuned (opt) at its own batch
    assert trt["trt_profile_min_shapes"] == "images:1x3x8x8,images:1x3x8x8,images:1x3x8x8"
    assert trt["trt_profile_opt_shapes"] == "images:1x3x8x8,images:4x3x8x8,images:16x3x8x8"
    assert trt["trt_profile_max_shapes"] == "images:16x3x8x8,images:16x3x8x8,images:16x3x8x8"
    assert trt["trt_fp16_enable"] is False
    assert session.tf32_override == "0" and "NVIDIA_TF32_OVERRIDE" not in os.environ  # only while it is built
    assert engine.describe()["tf32"] is False and engine.describe()["profiles"] == [1, 4, 16]
    cache = trt["trt_engine_cache_path"]
    assert os.path.dirname(cache) == str(tmp_path / "ort-trt-cache") and os.path.isdir(cache)
    assert os.path.basename(cache).startswith("fp32-") and "trt10.16.1.11" in cache and "NVIDIA-H200" in cache
    assert cache.endswith("-b1-4-16")
    assert os.path.basename(trt["trt_timing_cache_path"]) == "timing-trt10.16.1.11-NVIDIA-H200"

    engine = create_engine("onnxruntime", path, EngineOptions(device="cuda", provider="tensorrt", precision="fp16"))
    session = FakeOrt.sessions[-1]
    assert session.tf32_override is None and session.providers[0][1]["trt_fp16_enable"] is True
    assert session.providers[0][1]["trt_profile_opt_shapes"] == "images:1x3x8x8,images:32x3x8x8"  # the default
    assert session.providers[0][1]["trt_engine_cache_path"] != cache  # another precision, another engine
    assert engine.describe()["tf32"] is True  # TensorRT's default for the fp32 layers of an fp16 engine


def test_a_read_only_folder_builds_without_the_tensorrt_caches(fake_ort, tmp_path, monkeypatch):
    path = _onnx_file(tmp_path / "model.onnx", crop=8)
    monkeypatch.setattr(onnx_engine.os, "access", lambda p, mode: False)
    engine = create_engine("onnxruntime", path, EngineOptions(device="cuda", provider="tensorrt"))
    trt = FakeOrt.sessions[-1].providers[0][1]
    assert trt["trt_engine_cache_enable"] is False and "trt_engine_cache_path" not in trt
    assert engine.describe()["tensorrt_cache"] is None


def test_the_ort_tensorrt_cache_changes_with_the_weights_tensorrt_and_gpu(fake_ort, tmp_path, monkeypatch):
    path = _onnx_file(tmp_path / "model.onnx", weight=0.5)
    key = onnx_engine.tensorrt_cache_key(path, "fp32")
    assert onnx_engine.tensorrt_cache_key(path, "fp32") == key
    _onnx_file(path, weight=0.25)  # retrained and re-exported: same name, same graph, other weights
    retrained = onnx_engine.tensorrt_cache_key(path, "fp32")
    assert retrained != key and retrained.split("-")[1] == base.file_sha256(path)[:16]
    monkeypatch.setattr(onnx_engine, "tensorrt_version", lambda: "11.4.0.106")
    assert onnx_engine.tensorrt_cache_key(path, "fp32") != retrained
    monkeypatch.setattr(onnx_engine, "gpu_name", lambda: "NVIDIA B200")
    assert "NVIDIA-B200" in onnx_engine.tensorrt_cache_key(path, "fp32")


class FakeBinding:
    def __init__(self):
        self.inputs, self.outputs = [], []

    def bind_input(self, name, device, device_id, dtype, shape, ptr):
        self.inputs.append((shape, ptr))

    def bind_output(self, name, device, device_id, dtype, shape, ptr):
        self.outputs.append(shape)

    def synchronize_outputs(self):
        pass


def test_io_binding_is_made_once_per_input_shape_and_reused():
    engine = object.__new__(onnx_engine.OnnxRuntimeEngine)
    made = []

    def io_binding():
        made.append(FakeBinding())
        return made[-1]

    engine.session = types.SimpleNamespace(io_binding=io_binding, run_with_iobinding=lambda b: None)
    engine.io_binding, engine._bindings = True, {}
    engine.input_name, engine.output_name = "images", "logits"
    engine.meta = ModelMeta("mldrnet", EMOTIONS, Preprocessing(crop=8))
    engine._torch_device = engine._ort_device = "cpu"
    engine._wait_for_torch = lambda: None
    x = torch.zeros(4, 3, 8, 8)
    first, second = engine.run_on_device(x), engine.run_on_device(x)
    assert len(made) == 1 and len(made[0].inputs) == 1 and len(made[0].outputs) == 2  # same tensor: no rebinding
    assert first.data_ptr() != second.data_ptr()  # a fresh output each call: the previous result stays valid
    engine.run_on_device(torch.zeros(4, 3, 8, 8) + 1)  # same shape, another tensor: same binding, input rebound
    assert len(made) == 1 and len(made[0].inputs) == 2
    engine.run_on_device(torch.zeros(1, 3, 8, 8))
    assert len(made) == 2 and set(engine._bindings) == {(4, 3, 8, 8), (1, 3, 8, 8)}


# --- TensorRT engines: stale ones are rebuilt, with the reason ------------------------------------------------


def _engine(folder, **record):
    meta = ModelMeta("mldrnet", EMOTIONS, Preprocessing(crop=8))
    onnx_path = _onnx_file(folder / "model.onnx")
    (folder / "model.fp16.engine").write_bytes(b"serialized")
    full = {
        "format": ENGINE_FORMAT,
        "meta": meta.to_dict(),
        "precision": "fp16",
        "max_batch": 32,
        "source_onnx": "model.onnx",
        "source_sha256": base.file_sha256(onnx_path),
        "tensorrt": "10.3.0",
        "gpu": "NVIDIA H200",
        "checkpoint_sha256": base.file_sha256(folder / "best.pt"),
        **record,
    }
    (folder / "model.fp16.json").write_text(json.dumps({k: v for k, v in full.items() if v is not None}))
    return folder / "model.fp16.engine"


@pytest.fixture
def checkpoint(tmp_path):
    path = tmp_path / "best.pt"
    path.write_bytes(b"weights")
    os.utime(path, (1, 1))  # older than everything built from it
    return path


def test_an_engine_from_the_same_onnx_tensorrt_and_gpu_is_current(tmp_path, checkpoint, monkeypatch):
    monkeypatch.setattr(base, "tensorrt_version", lambda: "10.3.0")
    monkeypatch.setattr(base, "gpu_name", lambda: "NVIDIA H200")
    engine = _engine(tmp_path)
    assert is_current(engine, checkpoint, max_batch=32) and stale_reason(engine, checkpoint) is None


def test_a_tensorrt_upgrade_another_gpu_or_a_new_onnx_rebuild_with_a_reason(tmp_path, checkpoint, monkeypatch, caplog):
    monkeypatch.setattr(base, "tensorrt_version", lambda: "11.0.0")
    monkeypatch.setattr(base, "gpu_name", lambda: "NVIDIA H200")
    engine = _engine(tmp_path)
    with caplog.at_level(logging.INFO, logger="engines.export"):
        assert not is_current(engine, checkpoint)
    assert "rebuilding model.fp16.engine: built for TensorRT 10.3.0, this is 11.0.0" in caplog.text

    monkeypatch.setattr(base, "tensorrt_version", lambda: "10.3.0")
    monkeypatch.setattr(base, "gpu_name", lambda: "NVIDIA B200")
    assert stale_reason(engine, checkpoint) == "rebuilding model.fp16.engine: built on NVIDIA H200, this is NVIDIA B200"

    monkeypatch.setattr(base, "gpu_name", lambda: "NVIDIA H200")
    _onnx_file(tmp_path / "model.onnx", weight=0.125)  # re-exported from a retrained checkpoint
    assert "model.onnx changed since it was built" in stale_reason(engine, checkpoint)

    engine = _engine(tmp_path, source_sha256=None)  # metadata of an older bench
    assert "no hash of the model.onnx" in stale_reason(engine, checkpoint)


def test_without_tensorrt_or_gpu_here_only_what_can_be_checked_is(tmp_path, checkpoint, monkeypatch):
    monkeypatch.setattr(base, "tensorrt_version", lambda: None)
    monkeypatch.setattr(base, "gpu_name", lambda: None)
    engine = _engine(tmp_path, max_batch=8)
    assert is_current(engine, checkpoint, max_batch=8)
    assert (
        stale_reason(engine, checkpoint, max_batch=32)
        == "rebuilding model.fp16.engine: built for batches up to 8, 32 needed"
    )


def test_a_post_release_of_the_same_tensorrt_rebuilds_nothing(tmp_path, checkpoint, monkeypatch):
    monkeypatch.setattr(base, "gpu_name", lambda: "NVIDIA H200")
    monkeypatch.setattr(base, "tensorrt_version", lambda: "10.3.0.post1")  # the wheel's metadata version
    engine = _engine(tmp_path)  # built by trt.__version__ 10.3.0
    assert stale_reason(engine, checkpoint) is None
    assert base.same_version("10.16.1.11", "10.16.1.11.post1") and not base.same_version("10.16.1", "10.16.2")
    assert not base.same_version(None, "10.3.0") and base.release("not a version") is None


# --- torch: IEEE fp32 and TF32, variants, timing ----------------------------------------------------------------


def test_torch_fp32_switches_tf32_off_and_restores_the_callers_settings():
    matmul, conv = torch.backends.cuda.matmul, torch.backends.cudnn.conv
    before = (matmul.fp32_precision, conv.fp32_precision)
    with fp32_math(tf32=False):
        assert (matmul.fp32_precision, conv.fp32_precision) == ("ieee", "ieee")
    assert (matmul.fp32_precision, conv.fp32_precision) == before
    with fp32_math(tf32=True):
        assert (matmul.fp32_precision, conv.fp32_precision) == ("tf32", "tf32")
    assert (matmul.fp32_precision, conv.fp32_precision) == before


def test_torch_tf32_is_cuda_only():
    with pytest.raises(BenchError, match="tf32 is a CUDA precision"):
        create_engine("torch", torch.nn.Linear(2, 2), EngineOptions(precision="tf32"))


def test_cpu_defaults_are_unchanged_and_compile_and_tf32_rows_are_reachable():
    assert [(v.label, v.precision) for v in default_variants(gpu=False)] == [("torch-cpu", "fp32"), ("ort-cpu", "fp32")]
    gpu = {(v.label, v.precision) for v in default_variants(gpu=True)}
    assert {("torch-cuda", "tf32"), ("ort-cuda", "tf32"), ("ort-cuda", "fp32"), ("trt", "fp16")} <= gpu
    assert not any(v.compile for v in default_variants(gpu=True)) and not any(
        v.compile for v in select_variants(["all"])
    )
    (compiled,) = select_variants(["torch-cpu-compile"], gpu=False)
    assert compiled.options(2).compile and not compiled.is_reference
    assert compiled.options(2, max_batch=8).max_batch == 8 and compiled.options(2).threads == 2
    assert [v.label for v in select_variants(["torch"], gpu=False)] == ["torch-cpu"]
    assert all(v.precision != "tf32" or v.device == "cuda" for v in VARIANTS)


def test_device_resident_timing_calls_run_on_device_between_syncs():
    calls = []

    class Engine:
        def run_on_device(self, x):
            calls.append(("run", x.device.type))
            return x

        def synchronize(self):
            calls.append(("sync",))

    m = measure_resident(
        Engine(), torch.zeros(2, 3, 4, 4), "cpu", TimingConfig(warmup_iters=1, warmup_s=0, min_iters=3, budget_s=0)
    )
    assert m.batch_size == 2 and m.latency.count == 3
    runs = [i for i, c in enumerate(calls) if c[0] == "run"]
    assert all(calls[i - 1] == ("sync",) and calls[i + 1] == ("sync",) for i in runs[-3:])


def test_pinned_staging_reuses_one_buffer_per_shape_and_hands_back_new_tensors():
    staging = base.PinnedStaging(pin=False)
    x = torch.arange(6.0).view(2, 3)
    assert staging.to_device(x, "cpu") is not None and torch.equal(staging.to_device(x, "cpu"), x)
    first = staging.to_host(x.double())
    second = staging.to_host(x + 1)
    assert torch.equal(first, x) and torch.equal(second, x + 1) and first.data_ptr() != second.data_ptr()
    assert staging.describe() == "pageable host memory, inside every call"


def test_torch_tf32_settings_are_read_back_by_name():
    from engines.torch_engine import tf32_settings

    with fp32_math(tf32=False):
        assert set(tf32_settings().values()) == {"ieee"}
    with fp32_math(tf32=True):
        assert set(tf32_settings().values()) == {"tf32"}
    assert "cudnn.conv.fp32_precision" in tf32_settings()
