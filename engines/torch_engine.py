"""PyTorch engine: eager or torch.compile, CPU or CUDA, fp32 / bf16 / fp16.

The source is an in-memory `nn.Module` (compare's reference, tests) or a bench checkpoint file. Reduced precision
uses autocast rather than `.half()`: autocast keeps the weights in fp32 and runs the ops that lose accuracy in
low precision (reductions, the GRU's recurrences, softmax) in fp32, which is what a deployment through PyTorch
would do; bf16 and fp16 autocast exist on both CPU and CUDA. The engine takes ownership of a module passed in:
it is put in eval mode and moved to the engine's device.

On CUDA, "fp32" is IEEE fp32: cuDNN runs convolutions in TF32 by default, so every call runs with TF32 switched
off for convolutions, matmuls and RNNs (and the caller's settings restored after); "tf32" is its own precision
with TF32 switched on. cuDNN's autotuner (`cudnn.benchmark`) is switched on for CUDA engines, as ONNX Runtime
and TensorRT autotune their kernels too (process-wide: torch has no per-module switch; recorded in describe()).

describe()'s "tf32" is the state the last run really had (the TF32 switches read inside the block that set them),
not what was asked for.

On the CPU, fp32 eager and compiled rows run with channels_last weights (measured faster, see __init__). On CUDA
every row runs channels_last, weights and input (NHWC is cuDNN's tensor-core layout: fp16 and TF32 convolutions
on NCHW pay a transpose per layer).
torch.compile on the CPU is inductor with frozen weights (`options={"freezing": True}`: scoped to that compile,
the process-wide inductor config is untouched) and static shapes; the first call of each batch size compiles and
is timed apart (describe()'s compile_seconds), so steady-state timing after warmup excludes it.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engines.base import Engine, EngineOptions, PinnedStaging, check_options, cpu_name, register_engine
from mldrnet import models
from mldrnet.checkpoint import Checkpoint
from mldrnet.errors import BenchError

DTYPES = {
    "fp32": None,
    "tf32": None,
    "bf16": torch.bfloat16,
    "fp16": torch.float16,
}  # the formats table's torch precisions


def _tf32_switches() -> list[tuple[object, str, Any, Any]]:
    """(object, attribute, IEEE value, TF32 value) of this torch's TF32 switches: the `fp32_precision` API of
    torch >= 2.9 where it exists (mixing it with the legacy `allow_tf32` flags is an error there), else those."""
    cudnn: Any = torch.backends.cudnn  # its conv/rnn submodules exist only in newer torch
    if hasattr(getattr(cudnn, "conv", None), "fp32_precision"):
        switches = [
            (torch.backends.cuda.matmul, "fp32_precision", "ieee", "tf32"),
            (cudnn.conv, "fp32_precision", "ieee", "tf32"),
        ]
        if hasattr(getattr(cudnn, "rnn", None), "fp32_precision"):
            switches.append((cudnn.rnn, "fp32_precision", "ieee", "tf32"))
        return switches
    return [(torch.backends.cuda.matmul, "allow_tf32", False, True), (cudnn, "allow_tf32", False, True)]


def tf32_settings() -> dict[str, Any]:
    """The TF32 switches as they are now, by name (cuda.matmul, cudnn.conv, cudnn.rnn; or the legacy flags)."""
    cudnn: Any = torch.backends.cudnn
    names = {id(torch.backends.cuda.matmul): "cuda.matmul", id(cudnn): "cudnn"}
    for sub in ("conv", "rnn"):
        if hasattr(cudnn, sub):
            names[id(getattr(cudnn, sub))] = f"cudnn.{sub}"
    return {
        f"{names.get(id(obj), type(obj).__name__)}.{attr}": getattr(obj, attr) for obj, attr, _, _ in _tf32_switches()
    }


@contextlib.contextmanager
def fp32_math(tf32: bool):
    """Run the block with TF32 on (`tf32`) or off (IEEE fp32) in cuBLAS and cuDNN; restores the previous settings."""
    switches = _tf32_switches()
    saved = [getattr(obj, attr) for obj, attr, _, _ in switches]
    try:
        for obj, attr, ieee, tf in switches:
            setattr(obj, attr, tf if tf32 else ieee)
        yield
    finally:
        for (obj, attr, _, _), value in zip(switches, saved):
            setattr(obj, attr, value)


@register_engine
class TorchEngine(Engine):
    name = "torch"

    def __init__(self, source: Any, options: EngineOptions = EngineOptions()):
        check_options(self.name, options)
        if options.precision == "tf32" and options.device != "cuda":
            raise BenchError("tf32 is a CUDA precision (tensor cores): use --device cuda, or fp32/bf16/fp16 on the CPU")
        if options.device == "cuda" and not torch.cuda.is_available():
            raise BenchError(
                "the torch engine was asked for CUDA but torch sees no GPU: use --device cpu, "
                "or run on a machine with an NVIDIA GPU and a CUDA build of torch"
            )
        self.options = options
        self.device = torch.device(options.device)
        if isinstance(source, nn.Module):
            model, self.source = source, "in-memory"
        else:
            ckpt = Checkpoint.load(source)
            model, self.source = models.load(ckpt), str(Path(source))
            self.meta = ckpt.meta
        if options.threads:
            # process-wide: torch has no per-module thread pool; recorded in describe() either way
            torch.set_num_threads(options.threads)
        self.model = model.eval().to(self.device)
        # channels_last on the CPU (oneDNN's preferred layout): measured faster for MldrNet and AlexNet eager fp32
        # at 64 and 375 px, batch 1 and 16 (1.2-1.4x); the compiled path uses it too. Only the weights are
        # converted: convolutions then give channels_last outputs whatever the input's layout.
        cpu = self.device.type == "cpu"
        self.channels_last = (options.compile or options.precision == "fp32") if cpu else True
        if self.channels_last:
            self.model = self.model.to(memory_format=torch.channels_last)
        if self.device.type == "cuda":
            torch.backends.cudnn.benchmark = True  # autotune convolutions, as ORT's and TensorRT's engines do
        self.compile_seconds: dict[int, float] = {}  # batch size -> its first (compiling) call, timed apart
        self.tf32_seen: dict[str, Any] | None = None  # the TF32 switches as the last run had them (CUDA)
        self.staging = PinnedStaging(pin=self.device.type == "cuda")
        self.forward = self._compiled() if options.compile else self.model

    def _compiled(self):
        """torch.compile with inductor; on the CPU with frozen weights (constants folded into the graph; set per
        compile through `options`, so the process-wide inductor config is left as it was) and channels_last
        weights, static shapes (one graph per batch size, as the other engines tune per shape)."""
        if self.device.type != "cpu":
            return torch.compile(self.model)
        return torch.compile(self.model, backend="inductor", dynamic=False, options={"freezing": True})

    def _autocast(self):
        dtype = DTYPES[self.options.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def _math(self):
        if self.device.type != "cuda":
            return contextlib.nullcontext()  # no TF32 on the CPU: fp32 is IEEE there already
        return fp32_math(tf32=self.options.precision == "tf32")

    def run_on_device(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), self._math(), self._autocast():
            if self.device.type == "cuda":
                self.tf32_seen = tf32_settings()
            x = batch.to(self.device, non_blocking=True)
            if self.channels_last and self.device.type == "cuda" and x.dim() == 4:
                x = x.contiguous(memory_format=torch.channels_last)
            if not self.options.compile or len(x) in self.compile_seconds:
                return self.forward(x)
            started = time.perf_counter()  # the first call of a batch size compiles: timed apart
            out = self.forward(x)
            self.synchronize()
            self.compile_seconds[len(x)] = round(time.perf_counter() - started, 2)
            return out

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.device.type != "cuda":
            return self.run_on_device(batch).float().cpu()
        # end to end through pinned host buffers (copies included); run_on_device alone has none
        return self.staging.to_host(self.run_on_device(self.staging.to_device(batch, self.device)).float())

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def tf32_state(self) -> bool:
        """Whether the last CUDA run allowed TF32 (any switch on), as read inside the run; before any run, what the
        precision will set."""
        if self.tf32_seen is None:
            return self.options.precision == "tf32"
        return any(value in ("tf32", True) for value in self.tf32_seen.values())

    def describe(self) -> dict[str, Any]:
        cuda = self.device.type == "cuda"
        return {
            "engine": self.name,
            "provider": "torch.compile (inductor)" if self.options.compile else "eager",
            "device": torch.cuda.get_device_name(self.device) if cuda else cpu_name(),
            "precision": self.options.precision,
            **({"tf32": self.tf32_state(), "tf32_switches": self.tf32_seen} if cuda else {}),
            **({"cudnn_benchmark": torch.backends.cudnn.benchmark} if cuda else {}),
            **({"host_copies": self.staging.describe()} if cuda else {}),
            "threads": torch.get_num_threads(),
            "channels_last": self.channels_last,
            **(
                {"compile_seconds": dict(self.compile_seconds), "freezing": self.device.type == "cpu"}
                if self.options.compile
                else {}
            ),
            "source": self.source,
            "file_mb": round(os.path.getsize(self.source) / 2**20, 2) if self.source != "in-memory" else None,
            "versions": {"torch": torch.__version__, "cuda": torch.version.cuda if cuda else None},
        }
