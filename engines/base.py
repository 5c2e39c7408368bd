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

import importlib
import platform
from dataclasses import asdict, dataclass
from typing import Any, ClassVar

import torch

from engines import formats
from mldrnet.checkpoint import ModelMeta
from mldrnet.errors import BenchError


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


ENGINES: dict[str, type[Engine]] = {}  # filled as engine modules are imported (see engine_class)


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
    return list(formats.engine_names())


def engine_class(name: str) -> type[Engine]:
    """The engine's class; its module (the formats table's `module`) is imported on first use."""
    fmt = formats.of_engine(name)
    if name not in ENGINES:
        importlib.import_module(fmt.module)
    return ENGINES[name]


def check_options(name: str, options: EngineOptions) -> None:
    """The formats table's precisions and devices for engine `name`: one message for every engine."""
    fmt = formats.of_engine(name)
    if options.precision not in fmt.precisions:
        raise BenchError(f"{name} engine precision must be one of {', '.join(fmt.precisions)}, got {options.precision!r}")
    if options.device not in fmt.devices:
        raise BenchError(f"{name} engine device must be {' or '.join(fmt.devices)}, got {options.device!r}")


def create_engine(name: str, source: Any, options: EngineOptions = EngineOptions()) -> Engine:
    """`source` is the engine's own file (checkpoint .pt for torch, .onnx, .engine) or, for torch, an nn.Module."""
    return engine_class(name)(source, options)
