"""ONNX Runtime engine: a .onnx file written by `engines.onnx_export`, on the CPU, CUDA or TensorRT provider.

The provider is passed explicitly and checked after the session is made: ONNX Runtime silently falls back to
the CPU when a requested provider is missing (e.g. the CPU `onnxruntime` wheel instead of `onnxruntime-gpu`),
and a row that asked for CUDA but ran on the CPU must be an error, not a result. The intra-op thread count is
pinned (default: torch's, so eager PyTorch and ONNX Runtime rows use the same cores) and recorded. On a GPU,
inputs and outputs are bound to device memory (IO binding, one binding per input shape, reused) so that timing
measures the model, not host copies.

When the requested provider is not the one running, the error says which of two different things happened:
the wheel has no such provider (the CPU `onnxruntime` wheel: install onnxruntime-gpu), or the provider is built
in but its shared library failed to load (a CUDA / cuDNN / TensorRT library of the wrong major version or
missing: the library is named, found by loading the provider's .so the way ONNX Runtime does).

Precision. "fp32" is IEEE fp32 on every provider: the CUDA provider gets `use_tf32=0` (its default is on), and
the TensorRT provider, which has no TF32 option and builds with TensorRT's default (TF32 on), builds with
`NVIDIA_TF32_OVERRIDE=0` in the environment (read by TensorRT, cuBLAS and cuDNN when they build or initialise;
set only while the session, and so its engine, is created, then restored so later rows are unaffected).
"tf32" is the same file with TF32 allowed (CUDA or TensorRT provider); "fp16" is the TensorRT provider's.
describe()'s "tf32" is what the session really got: the CUDA provider's `use_tf32` as ONNX Runtime reports it
back, the TensorRT provider's NVIDIA_TF32_OVERRIDE while its engine was built.

No silent fallback. A GPU session is made with `session.disable_cpu_ep_fallback=1` and without the CPU provider
in its chain (ONNX Runtime refuses both together), so a node no GPU provider takes fails the session instead of
running on the CPU. Where the row names the TensorRT provider, nodes may still land on the CUDA provider: so a
GPU session profiles one run when it is made (ONNX Runtime stops profiling after `end_profiling`), counts the
nodes per provider (`node_placement`, in describe()), and refuses, in one line, a row whose nodes did not all
run on the provider it names: an error row, never a fast-looking number of a mixed graph.

TensorRT's libraries are loaded before any session or probe that asks for the TensorRT provider
(engines.gpu_libraries): its provider library has no RUNPATH to the tensorrt wheels' folder.

The TensorRT provider's engine cache is a folder per (precision, sha256 of model.onnx, TensorRT version, GPU)
under ort-trt-cache/ beside the model: ONNX Runtime keys its cache on names and graph structure, not weights,
so a retrained, re-exported model.onnx would otherwise reuse the engine built from the old weights. It gets one
optimisation profile per timed batch size (EngineOptions.profile_batches, default 1 and max_batch), each taking
batch 1..max_batch and tuned (its opt shape) at that batch, so no batch size in the range triggers a rebuild
and batch 1 does not run on kernels chosen for batch 32. The timing cache is keyed like the engine cache
(TensorRT version, GPU).

A file whose input size is not the one its metadata says (a renamed model.s375.onnx) is refused when it is
loaded, and a batch of the wrong size in one line naming the file, never ONNX Runtime's "Got invalid dimensions".
"""

from __future__ import annotations

import contextlib
import ctypes
import json
import logging
import os
import re
import shutil
import tempfile
import warnings
import weakref
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engines.base import (
    Engine,
    EngineOptions,
    PinnedStaging,
    check_options,
    cpu_name,
    file_sha256,
    gpu_name,
    register_engine,
    tensorrt_version,
)
from engines.gpu_libraries import preload_tensorrt
from engines.onnx_export import INPUT_NAME, meta_from_props, read_onnx_meta
from mldrnet.errors import BenchError

# provider option name -> ONNX Runtime's provider chain (the first one must be the one that runs). No CPU provider
# behind a GPU one: GPU sessions disable the CPU fallback, and ONNX Runtime refuses a CPU provider named with that.
PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider"],
}
NO_CPU_FALLBACK = "session.disable_cpu_ep_fallback"
GPU_HINT = (
    "install onnxruntime-gpu in place of onnxruntime (`pip uninstall onnxruntime && "
    "pip install 'bench-mldrnet[gpu]'`) on a machine with an NVIDIA GPU"
)
LOAD_HINT = (
    "install the gpu extra's coherent CUDA 13 stack (`pip install 'bench-mldrnet[gpu]'`, and for TensorRT "
    "`'bench-mldrnet[tensorrt]'` from NVIDIA's index; `bench doctor` shows what is installed)"
)
# the provider's shared library inside the onnxruntime package (onnxruntime/capi/)
PROVIDER_LIBRARIES = {
    "CUDAExecutionProvider": "libonnxruntime_providers_cuda.so",
    "TensorrtExecutionProvider": "libonnxruntime_providers_tensorrt.so",
}
DEFAULT_MAX_BATCH = 32
_MISSING = re.compile(r"([\w.+-]+\.so(?:\.[\w.]+)?): cannot open shared object file")
_CUDA_SONAME = re.compile(r"lib(?:cudart|cublas|cublasLt|nvrtc)\.so\.(\d+)")


def missing_library(message: str) -> str | None:
    """The library a dlopen error says it could not find (`libcublas.so.12: cannot open shared object file`)."""
    m = _MISSING.search(message)
    return m.group(1) if m else None


def provider_load_error(ort, provider: str) -> str | None:
    """Why the provider's shared library does not load in this process (None: it loads). ONNX Runtime loads it
    after libonnxruntime_providers_shared.so (global symbols), so this does the same; TensorRT's libraries are
    preloaded first for the TensorRT provider, as a session would have them."""
    lib_name = PROVIDER_LIBRARIES.get(provider)
    if lib_name is None:
        return None
    if provider == "TensorrtExecutionProvider":
        preload_tensorrt()
    capi = Path(ort.__file__).parent / "capi"
    lib = capi / lib_name
    if not lib.is_file():
        return f"{lib_name} is not in {capi}"
    try:
        shared = capi / "libonnxruntime_providers_shared.so"
        if shared.is_file():
            ctypes.CDLL(str(shared), mode=ctypes.RTLD_GLOBAL)
        ctypes.CDLL(str(lib))
    except OSError as e:
        return str(e).strip().splitlines()[0] if str(e).strip() else repr(e)
    return None


def explain_missing(library: str) -> str:
    """What a missing library means: no driver, another CUDA major, another TensorRT major, or just missing."""
    if library.startswith("libcuda.so"):
        return f"missing library {library}: no NVIDIA driver on this machine"
    cuda = _CUDA_SONAME.match(library)
    if cuda:
        torch_cuda = (torch.version.cuda or "").split(".")[0]
        if torch_cuda and torch_cuda != cuda.group(1):
            return (
                f"missing library {library}: this onnxruntime is built for CUDA {cuda.group(1)} but torch is "
                f"CUDA {torch_cuda} (CUDA majors disagree)"
            )
        return f"missing library {library} (CUDA {cuda.group(1)})"
    trt = re.match(r"libnv(?:infer|onnxparser)\w*\.so\.(\d+)", library)
    if trt:
        installed = tensorrt_version()
        if installed and installed.split(".")[0] != trt.group(1):
            return (
                f"missing library {library}: this onnxruntime's TensorRT provider links TensorRT {trt.group(1)} "
                f"but TensorRT {installed} is installed"
            )
        why = preload_tensorrt().why_not()
        return f"missing library {library} (TensorRT {trt.group(1)}){f': {why}' if why else ''}"
    return f"missing library {library}"


def provider_failure(ort, provider: str) -> str:
    """Why `provider` is not running, told apart: the CPU wheel (no such provider in it) or a provider that is
    built in but cannot load (which library it lacks)."""
    available = list(ort.get_available_providers())
    if provider not in available:
        return f"this onnxruntime build has no {provider} (available: {', '.join(available)}): {GPU_HINT}"
    error = provider_load_error(ort, provider)
    version = getattr(ort, "__version__", "?")
    if error is None:
        return (
            f"{provider} is built into onnxruntime {version} and its library loads, but the session did not "
            "use it (no CUDA device visible to ONNX Runtime?); rerun with --debug for ONNX Runtime's log"
        )
    library = missing_library(error)
    why = explain_missing(library) if library else error
    return f"{provider} is built into onnxruntime {version} but failed to load ({why}): {LOAD_HINT}"


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9.]+", "-", text).strip("-") or "unknown"


def tensorrt_cache_key(path: str | os.PathLike, precision: str) -> str:
    """The ORT TensorRT provider's engine-cache folder name: precision, model content, TensorRT version, GPU."""
    return (
        f"{precision}-{file_sha256(path)[:16]}-trt{_slug(tensorrt_version() or 'unknown')}-"
        f"{_slug(gpu_name() or 'nogpu')}"
    )


def profile_batches(batches: tuple[int, ...] | None, max_batch: int) -> tuple[int, ...]:
    """The opt batch of each optimisation profile: every timed batch up to max_batch, and max_batch itself (the
    accuracy pass's batch); 1 and max_batch when no timed batches are given."""
    chosen = {int(b) for b in (batches or (1,)) if 1 <= int(b) <= max_batch}
    return tuple(sorted(chosen | {int(max_batch)}))


def tensorrt_profile(
    input_name: str, chw: tuple[int, ...], max_batch: int, batches: tuple[int, ...] | None = None
) -> dict[str, str]:
    """Provider options for one optimisation profile per batch of `profile_batches` (the input named once per
    profile, as ONNX Runtime reads several profiles), each batch 1..max_batch, tuned at its own batch."""
    dims = "x".join(str(int(d)) for d in chw)
    opts = profile_batches(batches, max_batch)

    def shapes(batch_of) -> str:
        return ",".join(f"{input_name}:{batch_of(b)}x{dims}" for b in opts)

    return {
        "trt_profile_min_shapes": shapes(lambda b: 1),
        "trt_profile_opt_shapes": shapes(lambda b: b),
        "trt_profile_max_shapes": shapes(lambda b: max_batch),
    }


def node_placement(events: list) -> dict[str, int]:
    """Nodes per provider in an ONNX Runtime profile (`end_profiling`'s JSON): each node's kernel event. The
    host<->device copies ONNX Runtime inserts (Memcpy*) are data movement, not the model: not counted."""
    nodes: dict[str, str] = {}
    for e in events if isinstance(events, list) else []:
        if not isinstance(e, dict) or e.get("cat") != "Node" or not str(e.get("name", "")).endswith("_kernel_time"):
            continue
        args = e.get("args") or {}
        provider = args.get("provider")
        if str(args.get("op_name", "")).startswith("Memcpy"):
            continue
        if provider:
            nodes[str(e["name"])[: -len("_kernel_time")]] = str(provider)
    counts: dict[str, int] = {}
    for provider in nodes.values():
        counts[provider] = counts.get(provider, 0) + 1
    return dict(sorted(counts.items()))


def placement_problem(placement: dict[str, int], provider: str) -> str | None:
    """Why a run whose nodes ran as `placement` says is not a row of `provider` (None: all of them ran there)."""
    if not placement:
        return f"ONNX Runtime's profile shows no node at all: cannot tell that {provider} ran the model"
    others = {p: n for p, n in placement.items() if p != provider}
    if not others:
        return None
    total = sum(placement.values())
    where = ", ".join(f"{n} on {p}" for p, n in others.items())
    return f"{sum(others.values())} of {total} nodes did not run on {provider} ({where})"


@contextlib.contextmanager
def environment(**values: str):
    """Set environment variables for the block, then restore them."""
    saved = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in saved.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


@register_engine
class OnnxRuntimeEngine(Engine):
    name = "onnxruntime"

    def __init__(self, source: Any, options: EngineOptions = EngineOptions()):
        import onnxruntime as ort

        path = Path(source)
        if not path.is_file():
            raise BenchError(f"ONNX file {path} does not exist: export it with `bench export MODEL --to onnx`")
        check_options(self.name, options)
        self.path, self.options = path, options
        self.provider = options.provider or ("cuda" if options.device == "cuda" else "cpu")
        if self.provider not in PROVIDERS:
            raise BenchError(f"unknown onnxruntime provider {self.provider!r}: choose one of {', '.join(PROVIDERS)}")
        self.device = "cpu" if self.provider == "cpu" else "cuda"
        self._check_precision(options.precision)
        self.max_batch = options.max_batch or DEFAULT_MAX_BATCH
        self.trt_cache: Path | None = None
        self.threads = options.threads or torch.get_num_threads()

        gpu = self.provider != "cpu"
        self.profile_batches = profile_batches(options.profile_batches, self.max_batch)
        requested = PROVIDERS[self.provider]
        self.session = self._session(ort, path, self._session_options(ort, gpu), requested)
        running = self.session.get_providers()
        if running[0] != requested[0]:
            raise BenchError(
                f"onnxruntime was asked for {requested[0]} but runs on {running[0]}: "
                f"{provider_failure(ort, requested[0])}"
            )
        props = self.session.get_modelmeta().custom_metadata_map
        self.meta = meta_from_props(props, str(path))
        self.quantization = json.loads(props["bench.quantization"]) if "bench.quantization" in props else None
        if (options.precision == "int8") != (self.quantization is not None):
            raise BenchError(
                f"{path.name} is {'an int8' if self.quantization else 'not an int8'} file but the row asks "
                f"for {options.precision}: int8 runs model.ort-int8.onnx (`bench export MODEL --to onnx-int8`)"
            )
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        self._check_input_size()
        self.io_binding = options.io_binding and self.device == "cuda"
        self._bindings: dict[tuple[int, ...], list] = {}  # input shape -> [IOBinding, bound input pointer]
        self._staging = PinnedStaging(pin=self.io_binding)
        self.placement: dict[str, int] | None = None
        if gpu:
            self._check_placement(requested[0])

    def _session_options(self, ort, gpu: bool):
        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1  # one image graph, no parallel branches worth a second pool
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # ONNX Runtime's own log on stderr only under --debug: its errors reach the user as our one line
        so.log_severity_level = 1 if logging.getLogger("engines").isEnabledFor(logging.DEBUG) else 4
        if gpu:
            so.add_session_config_entry(NO_CPU_FALLBACK, "1")  # a node no GPU provider takes fails the session
            so.enable_profiling = True  # one run's node placement, read in _check_placement (then it stops)
            self._profile_dir = tempfile.mkdtemp(prefix="bench-ort-profile-")
            # removed after the placement check, and also when the engine is dropped or the process ends: a session
            # that failed to start (no GPU provider) left these folders in /tmp, one per attempt
            weakref.finalize(self, shutil.rmtree, self._profile_dir, ignore_errors=True)
            so.profile_file_prefix = str(Path(self._profile_dir) / "ort")
        return so

    def _session(self, ort, path: Path, so, requested: list[str]):
        """The session on the requested provider chain; a failure to make it, in one line (a provider the wheel
        lacks or cannot load is told apart from a file ONNX Runtime cannot read)."""
        if self.provider == "tensorrt":
            preload_tensorrt()  # libnvinfer & co. from the tensorrt wheels: the provider library has no RUNPATH
        chain = self.provider_chain(requested, path)
        # IEEE fp32 through the TensorRT provider: TensorRT reads NVIDIA_TF32_OVERRIDE when it builds the engine
        # (at session creation: the profile is explicit), so it is set only meanwhile
        ieee_trt = self.provider == "tensorrt" and self.options.precision == "fp32"
        with warnings.catch_warnings(), environment(NVIDIA_TF32_OVERRIDE="0") if ieee_trt else contextlib.nullcontext():
            warnings.simplefilter("ignore")  # ORT warns about a missing provider, then falls back: we check instead
            try:
                return ort.InferenceSession(str(path), so, providers=chain)
            except Exception as e:
                first = (str(e).strip().splitlines() or [repr(e)])[0]
                missing = requested[0] not in ort.get_available_providers()
                if self.provider != "cpu" and (missing or provider_load_error(ort, requested[0])):
                    raise BenchError(
                        f"onnxruntime cannot run {path.name} on {requested[0]}: {provider_failure(ort, requested[0])}"
                    ) from e
                raise BenchError(f"onnxruntime cannot load {path}: {first}") from e

    def _check_input_size(self) -> None:
        """The graph's fixed input dimensions against the metadata's: a file exported at another size (a renamed
        model.s375.onnx) is refused here, in one line, not by ONNX Runtime's "Got invalid dimensions" later."""
        dims = list(getattr(self.session.get_inputs()[0], "shape", None) or [])[1:]
        expected = list(self.file_meta.input_shape)
        if len(dims) == len(expected) and all(isinstance(d, int) for d in dims) and dims != expected:
            raise BenchError(
                f"{self.path} takes {'x'.join(map(str, dims))} images but its metadata says "
                f"{'x'.join(map(str, expected))}: the file was renamed or altered; export it again with "
                "`bench export MODEL --to onnx` (--size for another serving size)"
            )

    def _check_placement(self, provider: str) -> None:
        """One profiled run of a batch of 1 (the session stops profiling after it): every node must have run on
        `provider`, else the row is refused in one line."""
        try:
            x = np.zeros((1, *self.file_meta.input_shape), dtype=np.float32)
            self.session.run([self.output_name], {self.input_name: x})
            profile = self.session.end_profiling()
            events = json.loads(Path(profile).read_text()) if profile else []
        except Exception as e:
            raise BenchError(
                f"onnxruntime could not run {self.path.name} on {provider}: "
                f"{(str(e).strip().splitlines() or [repr(e)])[0]}"
            ) from e
        finally:
            shutil.rmtree(self._profile_dir, ignore_errors=True)
        self.placement = node_placement(events)
        problem = placement_problem(self.placement, provider)
        if problem is not None:
            raise BenchError(
                f"{self.path.name} does not run wholly on {provider}: {problem}; a mixed graph's timing is not a "
                f"{provider} number (rerun with --debug for ONNX Runtime's log)"
            )

    def _check_precision(self, precision: str) -> None:
        """Refuse a precision this provider does not run from the fp32 (or int8) ONNX file."""
        if precision == "tf32" and self.provider == "cpu":
            raise BenchError("tf32 is a GPU precision: use the cuda or tensorrt provider (ort-cuda / ort-trt)")
        if precision == "int8" and self.provider != "cpu":
            raise BenchError(
                "onnxruntime int8 (model.ort-int8.onnx) runs on the cpu provider only: use ort-cpu int8, "
                "or the tensorrt engine on a GPU"
            )
        if precision not in ("fp32", "tf32", "int8") and not (self.provider == "tensorrt" and precision == "fp16"):
            raise BenchError(
                f"onnxruntime runs the fp32 ONNX file; precision {precision} is only offered "
                "through the TensorRT provider (fp16) or the tensorrt engine"
            )

    def provider_chain(self, names: list[str], path: Path) -> list:
        """The providers with their options: TF32 per precision, the TensorRT provider's cache and profile."""
        tf32 = self.options.precision == "tf32"
        chain: list = []
        for name in names:
            if name == "CUDAExecutionProvider":
                chain.append((name, {"use_tf32": "1" if tf32 else "0"}))  # ORT's default is 1: TF32 convs
            elif name == "TensorrtExecutionProvider":
                chain.append((name, self._tensorrt_options(path)))
            else:
                chain.append(name)
        return chain

    def _tensorrt_options(self, path: Path) -> dict:
        """The engine cache is a folder per (precision, profiles, model content, TensorRT, GPU), the timing cache
        one per (TensorRT, GPU); on a read-only results folder both are off (the engine is built every time)."""
        root = path.parent / "ort-trt-cache"
        profiles = "b" + "-".join(map(str, self.profile_batches))
        machine = f"trt{_slug(tensorrt_version() or 'unknown')}-{_slug(gpu_name() or 'nogpu')}"
        self.trt_cache = root / f"{tensorrt_cache_key(path, self.options.precision)}-{profiles}"
        timing = root / f"timing-{machine}"
        try:
            for folder in (self.trt_cache, timing):
                folder.mkdir(parents=True, exist_ok=True)
            writable = os.access(self.trt_cache, os.W_OK) and os.access(timing, os.W_OK)
        except OSError:
            writable = False
        if not writable:
            self.trt_cache = None
        chw = read_onnx_meta(path).input_shape
        return {
            "trt_fp16_enable": self.options.precision == "fp16",
            "trt_engine_cache_enable": writable,
            **({"trt_engine_cache_path": str(self.trt_cache)} if writable else {}),
            "trt_timing_cache_enable": writable,
            **({"trt_timing_cache_path": str(timing)} if writable else {}),
            **tensorrt_profile(INPUT_NAME, chw, self.max_batch, self.profile_batches),
        }

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.io_binding:  # end to end through pinned host buffers (copies included), the model on device memory
            return self._staging.to_host(self.run_on_device(self._staging.to_device(batch, "cuda")))
        x = batch.detach().to("cpu", torch.float32).contiguous().numpy()
        self._check_batch(x.shape)
        logits = self.session.run([self.output_name], {self.input_name: x})[0]
        return torch.from_numpy(logits).float()

    def _check_batch(self, shape: tuple[int, ...]) -> None:
        """Images of another size than the file takes: one line naming the file (not "Got invalid dimensions")."""
        expected = tuple(self.file_meta.input_shape)
        if tuple(shape[1:]) != expected:
            raise BenchError(
                f"{self.path} takes {'x'.join(map(str, expected))} images, not {'x'.join(map(str, shape[1:]))}: "
                "preprocess at the size its metadata says, or export it at this size (`bench export --size`)"
            )

    def run_on_device(self, batch: torch.Tensor) -> torch.Tensor:
        if not self.io_binding:
            return self(batch)
        x = batch.to(self._torch_device, torch.float32).contiguous()
        self._check_batch(tuple(x.shape))
        out = torch.empty((x.shape[0], len(self.file_meta.classes)), dtype=torch.float32, device=x.device)
        device_id = x.device.index or 0
        shape = tuple(x.shape)
        entry = self._bindings.get(shape)
        if entry is None:  # one binding per input shape, made once and reused
            entry = self._bindings[shape] = [self.session.io_binding(), None]
        binding = entry[0]
        if entry[1] != x.data_ptr():  # the same tensor again (timing): nothing to rebind
            binding.bind_input(self.input_name, self._ort_device, device_id, np.float32, shape, x.data_ptr())
            entry[1] = x.data_ptr()
        # a fresh output per call, as every engine returns (the caller may keep the previous one): a pointer update
        binding.bind_output(self.output_name, self._ort_device, device_id, np.float32, tuple(out.shape), out.data_ptr())
        # ORT runs on its own CUDA stream: the input written on torch's stream must be complete first
        self._wait_for_torch()
        self.session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return out

    _torch_device, _ort_device = "cuda", "cuda"  # tests replace them to exercise the binding cache on the CPU

    def _wait_for_torch(self) -> None:
        torch.cuda.current_stream().synchronize()

    def synchronize(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()

    def tf32_state(self) -> bool:
        """Whether the session really runs fp32 maths in TF32: the CUDA provider's `use_tf32` as ONNX Runtime
        reports its options back; the TensorRT provider's NVIDIA_TF32_OVERRIDE while its engine was built (set to 0
        for fp32, left to TensorRT's default, TF32 on, otherwise); False on the CPU (no TF32 there)."""
        if self.provider == "cpu":
            return False
        if self.provider == "tensorrt":
            return self.options.precision != "fp32"
        try:
            options = self.session.get_provider_options().get("CUDAExecutionProvider", {})
        except Exception:  # noqa: BLE001 - an older onnxruntime without the call: what was asked for
            options = {}
        value = options.get("use_tf32")
        return str(value) not in ("0", "False", "false") if value is not None else self.options.precision == "tf32"

    def describe(self) -> dict[str, Any]:
        import onnxruntime as ort

        device = gpu_name() if self.device == "cuda" else cpu_name()
        trt = self.provider == "tensorrt"
        return {
            "engine": self.name,
            "provider": self.session.get_providers()[0],
            "device": device,
            "precision": self.options.precision,
            "tf32": self.tf32_state(),
            **({"node_placement": self.placement, "cpu_fallback": False} if self.placement is not None else {}),
            **(
                {
                    "max_batch": self.max_batch,
                    "profiles": list(self.profile_batches),
                    "tensorrt_cache": str(self.trt_cache) if self.trt_cache else None,
                }
                if trt
                else {}
            ),
            "threads": self.threads,
            "io_binding": self.io_binding,
            **({"host_copies": self._staging.describe()} if self.device == "cuda" else {}),
            **({"quantization": self.quantization} if self.quantization else {}),
            "file": str(self.path),
            "file_mb": round(os.path.getsize(self.path) / 2**20, 2),
            "versions": {"onnxruntime": ort.__version__, "torch": torch.__version__},
        }
