"""The Engine interface and the registry of engines.

An engine runs a classifier on a preprocessed batch and returns logits:

    engine = create_engine("onnxruntime", path, EngineOptions(device="cpu", threads=2))
    logits = engine(batch)        # (B, 3, H, W) float32 CPU tensor -> (B, num_classes) float32 CPU tensor
    engine.warmup(batch_size)
    engine.describe()             # what actually ran: provider, precision, threads, versions

Each engine class lives in its own module and registers itself by name; `create_engine` looks the name up,
so there is no if/elif chain over formats. The registry is filled lazily (`_load_builtin_engines`) so that
importing this module never imports onnxruntime or tensorrt.
"""

from __future__ import annotations

import importlib
import platform
from dataclasses import asdict, dataclass, field
from typing import Any, ClassVar

import torch

from mldrnet.errors import BenchError
from mldrnet.preprocess import Preprocessing


@dataclass(frozen=True)
class EngineOptions:
    device: str = "cpu"  # "cpu" or "cuda"
    precision: str = "fp32"  # fp32 | fp16 | bf16 | int8 (what each engine supports differs)
    threads: int | None = None  # CPU threads, pinned and recorded; None = the engine's default
    provider: str | None = None  # onnxruntime: "cpu" | "cuda" | "tensorrt"
    compile: bool = False  # torch: torch.compile
    io_binding: bool = True  # onnxruntime on GPU: device-resident timing

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class ModelMeta:
    """What a consumer needs besides the weights: which model, its classes and its evaluation preprocessing.

    Every engine file carries it (checkpoint dict, ONNX metadata_props, the JSON beside a TensorRT engine), so
    an engine loaded from its own file alone can classify images.
    """

    model: str
    classes: tuple[str, ...]
    preprocessing: Preprocessing
    model_config: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, self.preprocessing.crop, self.preprocessing.crop)

    def to_dict(self) -> dict:
        return {"model": self.model, "classes": list(self.classes), "input_size": list(self.input_shape),
                "preprocessing": self.preprocessing.to_dict(), "model_config": dict(self.model_config)}

    @classmethod
    def from_dict(cls, d: dict, where: str = "the model metadata") -> "ModelMeta":
        """`where` names the file it came from, for the error when it is incomplete (a file from another bench)."""
        try:
            return cls(d["model"], tuple(d["classes"]), Preprocessing.from_dict(d["preprocessing"]),
                       dict(d.get("model_config") or {}))
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise BenchError(f"{where} is incomplete or malformed ({type(e).__name__}: {e}): re-export the model "
                             "with `bench export MODEL`") from e

    @classmethod
    def from_checkpoint(cls, ckpt: dict) -> "ModelMeta":
        return cls(ckpt["model"], tuple(ckpt["classes"]), Preprocessing.from_dict(ckpt["preprocessing"]),
                   dict(ckpt.get("model_config", {})))


class Engine:
    """Base class: subclasses set `name`, implement `__call__` and `describe`, and may override `synchronize`
    and `run_on_device`. `meta` is set when the engine was loaded from a file (None for an in-memory model)."""

    name: ClassVar[str]
    meta: ModelMeta | None = None

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


ENGINES: dict[str, type[Engine]] = {}
# name -> module that defines and registers it (imported on first use)
_BUILTIN_MODULES = {
    "torch": "engines.torch_engine",
    "onnxruntime": "engines.onnx_engine",
    "tensorrt": "engines.tensorrt_engine",
}


def cpu_name() -> str:
    """The CPU's model name for describe() (platform.processor() is empty on most Linux systems)."""
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def register_engine(cls: type[Engine]) -> type[Engine]:
    if cls.name in ENGINES:
        raise ValueError(f"engine {cls.name!r} is registered twice")
    ENGINES[cls.name] = cls
    return cls


def engine_names() -> list[str]:
    return list(_BUILTIN_MODULES)


def engine_class(name: str) -> type[Engine]:
    if name not in _BUILTIN_MODULES:
        raise BenchError(f"unknown engine {name!r}: choose one of {', '.join(_BUILTIN_MODULES)}")
    if name not in ENGINES:
        importlib.import_module(_BUILTIN_MODULES[name])
    return ENGINES[name]


def create_engine(name: str, source: Any, options: EngineOptions = EngineOptions()) -> Engine:
    """`source` is the engine's own file (checkpoint .pt for torch, .onnx, .engine) or, for torch, an nn.Module."""
    return engine_class(name)(source, options)
