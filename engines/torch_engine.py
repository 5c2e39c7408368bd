"""PyTorch engine: eager or torch.compile, CPU or CUDA, fp32 / bf16 / fp16.

The source is an in-memory `nn.Module` (compare's reference, tests) or a bench checkpoint file. Reduced precision
uses autocast rather than `.half()`: autocast keeps the weights in fp32 and runs the ops that lose accuracy in
low precision (reductions, the GRU's recurrences, softmax) in fp32, which is what a deployment through PyTorch
would do; bf16 and fp16 autocast exist on both CPU and CUDA. The engine takes ownership of a module passed in:
it is put in eval mode and moved to the engine's device.
"""

from __future__ import annotations

import contextlib
import os
from pathlib import Path
from typing import Any

import torch
from torch import nn

from engines.base import Engine, EngineOptions, check_options, cpu_name, register_engine
from mldrnet.checkpoint import Checkpoint
from mldrnet.errors import BenchError

DTYPES = {"fp32": None, "bf16": torch.bfloat16, "fp16": torch.float16}  # the formats table's torch precisions


@register_engine
class TorchEngine(Engine):
    name = "torch"

    def __init__(self, source: Any, options: EngineOptions = EngineOptions()):
        check_options(self.name, options)
        if options.device == "cuda" and not torch.cuda.is_available():
            raise BenchError("the torch engine was asked for CUDA but torch sees no GPU: use --device cpu, "
                             "or run on a machine with an NVIDIA GPU and a CUDA build of torch")
        self.options = options
        self.device = torch.device(options.device)
        if isinstance(source, nn.Module):
            model, self.source = source, "in-memory"
        else:
            ckpt = Checkpoint.load(source)
            model, self.source = ckpt.build_model(), str(Path(source))
            self.meta = ckpt.meta
        if options.threads:
            # process-wide: torch has no per-module thread pool; recorded in describe() either way
            torch.set_num_threads(options.threads)
        self.model = model.eval().to(self.device)
        self.forward = torch.compile(self.model) if options.compile else self.model

    def _autocast(self):
        dtype = DTYPES[self.options.precision]
        if dtype is None:
            return contextlib.nullcontext()
        return torch.autocast(self.device.type, dtype=dtype)

    def run_on_device(self, batch: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode(), self._autocast():
            return self.forward(batch.to(self.device, non_blocking=True))

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return self.run_on_device(batch).float().cpu()

    def synchronize(self) -> None:
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)

    def describe(self) -> dict[str, Any]:
        cuda = self.device.type == "cuda"
        return {
            "engine": self.name,
            "provider": "torch.compile (inductor)" if self.options.compile else "eager",
            "device": torch.cuda.get_device_name(self.device) if cuda else cpu_name(),
            "precision": self.options.precision,
            "threads": torch.get_num_threads(),
            "source": self.source,
            "file_mb": round(os.path.getsize(self.source) / 2**20, 2) if self.source != "in-memory" else None,
            "versions": {"torch": torch.__version__, "cuda": torch.version.cuda if cuda else None},
        }
