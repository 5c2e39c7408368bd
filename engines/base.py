"""The Engine interface and the registry of engines.

An engine runs a classifier on a preprocessed batch and returns logits:

    engine = create_engine("onnxruntime", path, EngineOptions(device="cpu", threads=2))
    logits = engine(batch)        # (B, 3, H, W) float32 CPU tensor -> (B, num_classes) float32 CPU tensor
    engine.warmup(batch_size)
    engine.describe()             # what actually ran: provider, precision, threads, versions

Each engine class lives in its own module and registers itself by name; `create_engine` looks the name up,
so there is no if/elif chain over formats. Which module defines an engine, which file it loads and which
precisions and devices it takes are rows of the formats table (engines.formats); the modules are imported on
first use, so importing this module never imports onnxruntime or tensorrt.
"""

from __future__ import annotations

import functools
import hashlib
import importlib
import importlib.metadata
import json
import os
import platform
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any, ClassVar

import torch

from engines import formats
from mldrnet.checkpoint import ModelMeta
from mldrnet.errors import BenchError


@dataclass(frozen=True)
class EngineOptions:
    device: str = "cpu"  # "cpu" or "cuda"
    # fp32 (IEEE, on every engine) | tf32 | fp16 | bf16 | int8 (what each engine supports differs)
    precision: str = "fp32"
    threads: int | None = None  # CPU threads, pinned and recorded; None = the engine's default
    provider: str | None = None  # onnxruntime: "cpu" | "cuda" | "tensorrt"
    compile: bool = False  # torch: torch.compile
    io_binding: bool = True  # onnxruntime on GPU: device-resident timing
    max_batch: int | None = None  # largest batch the caller will run (ORT's TensorRT provider: its profile); None: 32
    # the batch sizes the caller times: TensorRT (engine or ORT provider) gets one optimisation profile tuned at
    # each (and at max_batch); None: 1 and max_batch
    profile_batches: tuple[int, ...] | None = None

    def to_dict(self) -> dict:
        return asdict(self)


class Engine:
    """Base class: subclasses set `name`, implement `__call__` and `describe`, and may override `synchronize`
    and `run_on_device`. `meta` is set when the engine was loaded from a file (None for an in-memory model)."""

    name: ClassVar[str]
    meta: ModelMeta | None = None

    def __init__(self, source: Any, options: EngineOptions = EngineOptions()) -> None:
        raise NotImplementedError  # each engine loads its own kind of source

    @property
    def file_meta(self) -> ModelMeta:
        """The model metadata of the engine's file (an engine loaded from a file always has it)."""
        if self.meta is None:
            raise BenchError(f"the {self.name} engine carries no model metadata: re-export the model")
        return self.meta

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def describe(self) -> dict[str, Any]:
        raise NotImplementedError

    def synchronize(self) -> None:
        """Wait for queued device work (GPU engines); timing code calls it around measurements."""

    def run_on_device(self, batch: torch.Tensor) -> torch.Tensor:
        """Device-resident inference: `batch` already on the engine's device, logits stay there (GPU engines
        override it, so timing can separate compute from host<->device copies). CPU engines: same as `__call__`."""
        return self(batch)

    def warmup(self, batch_size: int, size: int, iterations: int = 3) -> None:
        x = torch.zeros(batch_size, 3, size, size)
        for _ in range(iterations):
            self(x)
        self.synchronize()


class PinnedStaging:
    """Page-locked host buffers, one per (shape, dtype), reused: a GPU engine's host<->device copies go through
    them (`to_device`, `to_host`), so they run at DMA speed and the upload is asynchronous, instead of being
    staged by the driver from pageable memory on every call. The copies are still inside every `__call__` (the
    end-to-end time); `run_on_device` has none. `pin=False` (or no CUDA) keeps plain tensors: the same code runs
    on a CPU machine."""

    def __init__(self, pin: bool | None = None):
        self.pin = torch.cuda.is_available() if pin is None else pin
        self._buffers: dict[tuple, torch.Tensor] = {}

    def _buffer(self, shape: tuple[int, ...], dtype: torch.dtype, role: str) -> torch.Tensor:
        key = (role, tuple(shape), dtype)
        buf = self._buffers.get(key)
        if buf is None:
            buf = self._buffers[key] = torch.empty(shape, dtype=dtype, pin_memory=self.pin)
        return buf

    def to_device(self, batch: torch.Tensor, device: str | torch.device, dtype: torch.dtype = torch.float32):
        if batch.device.type != "cpu" or torch.device(device).type == "cpu":
            return batch.to(device, dtype)
        host = self._buffer(tuple(batch.shape), dtype, "in")
        host.copy_(batch)
        return host.to(device, non_blocking=self.pin)

    def to_host(self, tensor: torch.Tensor) -> torch.Tensor:
        """The device tensor as a new CPU float32 tensor (the caller may keep it), via a pinned buffer."""
        if tensor.device.type == "cpu":
            return tensor.float()
        host = self._buffer(tuple(tensor.shape), torch.float32, "out")
        host.copy_(tensor, non_blocking=self.pin)
        if self.pin:
            torch.cuda.current_stream(tensor.device).synchronize()
        return host.clone()

    def describe(self) -> str:
        return "pinned host buffers, inside every call" if self.pin else "pageable host memory, inside every call"


ENGINES: dict[str, type[Engine]] = {}  # filled as engine modules are imported (see engine_class)

_HASHES: dict[tuple[str, int, int], str] = {}


def file_sha256(path: str | os.PathLike) -> str:
    """The sha256 of a file's content, streamed (a VGG-19 ONNX file is 550 MB); remembered per (path, size,
    mtime) so that asking again for an unchanged file costs a stat. Caches and engines built from a file are
    keyed on it: a retrained, re-exported model.onnx has a new hash even when its name and graph are the same."""
    path = Path(path)
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _HASHES:
        with open(path, "rb") as f:
            _HASHES[key] = hashlib.file_digest(f, "sha256").hexdigest()
    return _HASHES[key]


CHECKPOINT_KEY = "checkpoint_sha256"  # in an exported file's JSON metadata: the checkpoint it was made from


def release(version: str | None) -> tuple[int, ...] | None:
    """A version's release numbers, without the .postN / .devN / +local parts a wheel's metadata may carry and the
    module's __version__ may not (tensorrt 10.16.1.11 and its 10.16.1.11.post1 wheel are one TensorRT); None when
    it is missing or not a version."""
    from packaging.version import InvalidVersion, Version

    if not version:
        return None
    try:
        return Version(str(version)).release
    except InvalidVersion:
        return None


def same_version(a: str | None, b: str | None) -> bool:
    """Whether two version strings name one release (False when either is missing or unreadable)."""
    ra, rb = release(a), release(b)
    return ra is not None and ra == rb


def tensorrt_version() -> str | None:
    """The installed TensorRT's version from package metadata (no `import tensorrt`: it loads CUDA); None if absent."""
    for dist in ("tensorrt", "tensorrt-cu13", "tensorrt-cu12", "tensorrt_cu13_libs", "tensorrt_cu12_libs"):
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            continue
    return None


def gpu_name() -> str | None:
    """The CUDA device's model name (engines and their caches are tied to it); None without a GPU."""
    return torch.cuda.get_device_name() if torch.cuda.is_available() else None


def read_file_meta(path: Path, of: Path, fmt: str, what: str, remake: str) -> tuple[ModelMeta, dict]:
    """(ModelMeta, whole record) of the JSON that describes an engine file `of` (a TensorRT engine, an OpenVINO
    IR), checked for its format marker; each failure one line saying how to make the file again (`remake`)."""
    if not path.is_file():
        raise BenchError(f"{path} (the metadata of {of.name}) is missing: {remake}")
    try:
        record = json.loads(path.read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BenchError(f"cannot read {path} (the metadata of {of.name}): {e}; {remake}") from e
    if not isinstance(record, dict) or record.get("format") != fmt:
        raise BenchError(f"{path} is not bench {what} metadata (format {fmt}): {remake}")
    return ModelMeta.from_dict(record.get("meta") or {}, str(path)), record


@functools.cache
def _cpuinfo(key: str) -> str:
    """The first `key: value` of /proc/cpuinfo ('' where there is none, e.g. not Linux)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith(key):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return ""


def cpu_name() -> str:
    """The CPU's model name for describe() (platform.processor() is empty on most Linux systems)."""
    return _cpuinfo("model name") or platform.processor() or platform.machine()


BF16_FLAGS = frozenset({"avx512_bf16", "amx_bf16"})  # native bf16 arithmetic (no emulation)


def cpu_flags() -> frozenset[str]:
    """The CPU's feature flags (avx512_vnni, amx_bf16, ...): what int8 and bf16 paths can use natively."""
    return frozenset(_cpuinfo("flags").split())


def register_engine(cls: type[Engine]) -> type[Engine]:
    if cls.name in ENGINES:
        raise ValueError(f"engine {cls.name!r} is registered twice")
    ENGINES[cls.name] = cls
    return cls


def engine_names() -> list[str]:
    return list(formats.engine_names())


def engine_class(name: str) -> type[Engine]:
    """The engine's class; its module (the formats table's `module`) is imported on first use."""
    fmt = formats.of_engine(name)
    if name not in ENGINES:
        importlib.import_module(fmt.module)
    return ENGINES[name]


def check_options(name: str, options: EngineOptions) -> None:
    """The formats table's precisions and devices for engine `name`: one message for every engine."""
    precisions, devices = formats.engine_precisions(name), formats.engine_devices(name)
    if options.precision not in precisions:
        raise BenchError(f"{name} engine precision must be one of {', '.join(precisions)}, got {options.precision!r}")
    if options.device not in devices:
        raise BenchError(f"{name} engine device must be {' or '.join(devices)}, got {options.device!r}")


def create_engine(name: str, source: Any, options: EngineOptions = EngineOptions()) -> Engine:
    """`source` is the engine's own file (checkpoint .pt for torch, .onnx, .engine) or, for torch, an nn.Module."""
    return engine_class(name)(source, options)
