"""TensorRT engine: a serialized .engine file plus the JSON metadata beside it (see `engines.tensorrt_build`).

Buffers are torch CUDA tensors bound by name (`set_tensor_address`) and the engine is enqueued with
`execute_async_v3` on its own stream (TensorRT synchronizes extra when given the legacy default stream). The
stream waits for torch's current stream before the run and torch's stream waits for it after, so callers can
treat the result like any other CUDA tensor. Batches larger than the engine's profile are run in chunks, and
`describe()` says so (`chunked_batches`: batch size -> calls), since such a timing is of several calls.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from engines.base import Engine, EngineOptions, register_engine
from engines.tensorrt_build import read_engine_meta, require_tensorrt
from mldrnet.errors import BenchError


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
        self.path, self.options = path, options
        self.logger = trt.Logger(trt.Logger.WARNING)
        self.runtime = trt.Runtime(self.logger)
        self.engine = self.runtime.deserialize_cuda_engine(path.read_bytes())
        if self.engine is None:
            raise BenchError(
                f"TensorRT {trt.__version__} cannot load {path} (built with TensorRT "
                f"{self.record.get('tensorrt')} on {self.record.get('gpu')}? engines are tied to both): "
                "rebuild it here with `bench export MODEL --to tensorrt`"
            )
        self.context = self.engine.create_execution_context()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        self.input = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT)
        self.output = next(n for n in names if self.engine.get_tensor_mode(n) == trt.TensorIOMode.OUTPUT)
        dtypes = {trt.float32: torch.float32, trt.float16: torch.float16, trt.bfloat16: torch.bfloat16}
        self.input_dtype = dtypes[self.engine.get_tensor_dtype(self.input)]
        self.output_dtype = dtypes[self.engine.get_tensor_dtype(self.output)]
        self.max_batch = self.engine.get_tensor_profile_shape(self.input, 0)[2][0]
        self.device = torch.device("cuda")
        self.stream = torch.cuda.Stream(self.device)
        self.trt_version = trt.__version__
        self.chunked: dict[int, int] = {}  # batch size -> engine calls it took, for batches over max_batch

    def run_on_device(self, batch: torch.Tensor) -> torch.Tensor:
        if batch.shape[0] > self.max_batch:
            chunks = batch.split(self.max_batch)
            self.chunked[int(batch.shape[0])] = len(chunks)
            return torch.cat([self.run_on_device(c) for c in chunks])
        current = torch.cuda.current_stream(self.device)
        x = batch.to(self.device, self.input_dtype, non_blocking=True).contiguous()
        self.context.set_input_shape(self.input, tuple(x.shape))
        out = torch.empty(
            tuple(self.context.get_tensor_shape(self.output)), dtype=self.output_dtype, device=self.device
        )
        self.context.set_tensor_address(self.input, x.data_ptr())
        self.context.set_tensor_address(self.output, out.data_ptr())
        self.stream.wait_stream(current)  # x is written on torch's stream
        if not self.context.execute_async_v3(self.stream.cuda_stream):
            raise RuntimeError(f"TensorRT execute_async_v3 failed on {self.path}")
        current.wait_stream(self.stream)
        # both tensors were allocated on torch's stream but used on ours: keep the allocator from reusing them early
        x.record_stream(self.stream)
        out.record_stream(self.stream)
        return out

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        return self.run_on_device(batch).float().cpu()

    def synchronize(self) -> None:
        torch.cuda.synchronize(self.device)

    def describe(self) -> dict[str, Any]:
        return {
            "engine": self.name,
            "provider": f"TensorRT {self.trt_version}",
            "device": torch.cuda.get_device_name(self.device),
            "precision": self.record["precision"],
            "threads": None,
            "max_batch": int(self.max_batch),
            "tf32": False,  # fp32 engines are built with TF32 cleared (engines.tensorrt_build)
            "source_sha256": self.record.get("source_sha256"),  # the model.onnx it was built from
            **({"chunked_batches": dict(sorted(self.chunked.items()))} if self.chunked else {}),
            "file": str(self.path),
            "file_mb": round(os.path.getsize(self.path) / 2**20, 2),
            "versions": {"tensorrt": self.trt_version, "torch": torch.__version__, "cuda": torch.version.cuda},
        }
