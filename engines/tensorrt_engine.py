"""TensorRT engine: a serialized .engine file plus the JSON metadata beside it (see `engines.tensorrt_build`).

Buffers are torch CUDA tensors bound by name (`set_tensor_address`) and the engine is enqueued with
`execute_async_v3` on its own stream (TensorRT synchronizes extra when given the legacy default stream). The
stream waits for torch's current stream before the run and torch's stream waits for it after, so callers can
treat the result like any other CUDA tensor.

An engine holds one optimisation profile per timed batch size (each batch 1..max_batch, tuned at its own batch):
a batch runs in the profile whose opt batch is the batch, else the smallest opt batch above it, else the largest
(one execution context, switched to that profile on its stream when the batch size changes: a timing loop runs
one batch size, so it switches once). Batches larger than the engine's
profiles are run in chunks, and `describe()` says so (`chunked_batches`: batch size -> calls), since such a timing
is of several calls. describe() reports the TF32 state the engine was built with (the record's "tf32") and the
precision of its layers as TensorRT's engine inspector reads them back (`layer_precisions`).
"""

from __future__ import annotations

import os
from collections import Counter
from pathlib import Path
from typing import Any

import torch

from engines.base import Engine, EngineOptions, PinnedStaging, register_engine
from engines.tensorrt_build import layer_precisions, logger, read_engine_meta, require_tensorrt
from mldrnet.errors import BenchError


def choose_profile(opts: list[int], batch: int) -> int:
    """The profile for `batch`: the one tuned at it, else the smallest tuned above it, else the largest."""
    if batch in opts:
        return opts.index(batch)
    above = [i for i, b in enumerate(opts) if b >= batch]
    if above:
        return min(above, key=lambda i: opts[i])
    return max(range(len(opts)), key=lambda i: opts[i])


@register_engine
class TensorRTEngine(Engine):
    name = "tensorrt"

    def __init__(self, source: Any, options: EngineOptions = EngineOptions()):
        trt = require_tensorrt()
        path = Path(source)
        if not path.is_file():
            raise BenchError(f"TensorRT engine {path} does not exist: build it with `bench export MODEL --to tensorrt`")
        self.meta, self.record = read_engine_meta(path)
        if options.precision != self.record["precision"]:  # a row labelled fp32 must not time an fp16 engine
            raise BenchError(
                f"{path.name} was built for {self.record['precision']}, not {options.precision}: "
                f"use model.{options.precision}.engine (`bench export --to tensorrt --precision ...`)"
            )
        self.path, self.options, self.trt = path, options, trt
        self.runtime = trt.Runtime(logger(trt))
        self.engine = self.runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise BenchError(
                f"TensorRT {trt.__version__} cannot load {path} (built with TensorRT "
                f"{self.record.get('tensorrt')} on {self.record.get('gpu')}? engines are tied to both): "
                "rebuild it here with `bench export MODEL --to tensorrt`"
            )
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        dtypes = {trt.float32: torch.float32, trt.float16: torch.float16, trt.bfloat16: torch.bfloat16}
        self.input_dtype = dtypes[self.engine.get_tensor_dtype(self.input)]
        self.output_dtype = dtypes[self.engine.get_tensor_dtype(self.output)]
        profiles = range(self.engine.num_optimization_profiles)
        self.opts = [int(self.engine.get_tensor_profile_shape(self.input, p)[1][0]) for p in profiles]
        self.max_batch = min(int(self.engine.get_tensor_profile_shape(self.input, p)[2][0]) for p in profiles)
        self.device = torch.device("cuda")
        self.stream = torch.cuda.Stream(self.device)
        self.context = self.engine.create_execution_context()  # profile 0 until a batch asks for another
        self.profile = 0
        self.trt_version = trt.__version__
        self.chunked: dict[int, int] = {}  # batch size -> engine calls it took, for batches over max_batch
        self.used_profiles: dict[int, int] = {}  # batch size -> the profile it ran in
        self.staging = PinnedStaging()

    def _context(self, batch: int):
        index = choose_profile(self.opts, batch)
        self.used_profiles[batch] = index
        if index != self.profile:
            if not self.context.set_optimization_profile_async(index, self.stream.cuda_stream):
                raise RuntimeError(f"TensorRT cannot switch {self.path.name} to its profile {index}")
            self.profile = index
        return self.context

    def run_on_device(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.shape[0] > self.max_batch:
            chunks = batch.split(self.max_batch)
            self.chunked[int(batch.shape[0])] = len(chunks)
            return torch.cat([self.run_on_device(c) for c in chunks])
        current = torch.cuda.current_stream(self.device)
        x = batch.to(self.device, self.input_dtype, non_blocking=True).contiguous()
        context = self._context(int(x.shape[0]))
        context.set_input_shape(self.input, tuple(x.shape))
        out = torch.empty(tuple(context.get_tensor_shape(self.output)), dtype=self.output_dtype, device=self.device)
        context.set_tensor_address(self.input, x.data_ptr())
        context.set_tensor_address(self.output, out.data_ptr())
        self.stream.wait_stream(current)  # x is written on torch's stream
        if not context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError(f"TensorRT execute_async_v3 failed on {self.path}")
        current.wait_stream(self.stream)
        # both tensors were allocated on torch's stream but used on ours: keep the allocator from reusing them early
        x.record_stream(self.stream)
        out.record_stream(self.stream)
        return out

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        """End to end: host batch in (through a pinned buffer), host logits out; copies included."""
        x = self.staging.to_device(batch, self.device, self.input_dtype)
        return self.staging.to_host(self.run_on_device(x).float())

    def synchronize(self) -> None:
        torch.cuda.synchronize(self.device)

    def layers(self) -> list[dict]:
        """Each layer's name, type and precision (TensorRT's engine inspector)."""
        return layer_precisions(self.engine, self.trt)

    def describe(self) -> dict[str, Any]:
        try:
            precisions = dict(Counter(str(layer["precision"]) for layer in self.layers()))
        except Exception:  # noqa: BLE001 - an engine built without detailed verbosity (an older bench)
            precisions = None
        return {
            "engine": self.name,
            "provider": f"TensorRT {self.trt_version}",
            "device": torch.cuda.get_device_name(self.device),
            "precision": self.record["precision"],
            "threads": None,
            "max_batch": int(self.max_batch),
            "profiles": list(self.opts),
            "profile_of_batch": dict(sorted(self.used_profiles.items())),
            "strongly_typed": self.record.get("strongly_typed"),
            "host_copies": self.staging.describe(),  # __call__ (end to end) includes them; run_on_device has none
            # as built (engines.tensorrt_build): cleared for fp32; NVIDIA_TF32_OVERRIDE=0 at run time forces it off
            "tf32": bool(self.record.get("tf32")) and os.environ.get("NVIDIA_TF32_OVERRIDE") != "0",
            "layer_precisions": precisions,
            "source_sha256": self.record.get("source_sha256"),  # the model.onnx it was built from
            **({"chunked_batches": dict(sorted(self.chunked.items()))} if self.chunked else {}),
            "file": str(self.path),
            "file_mb": round(os.path.getsize(self.path) / 2**20, 2),
            "versions": {"tensorrt": self.trt_version, "torch": torch.__version__, "cuda": torch.version.cuda},
        }
