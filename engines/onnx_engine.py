"""ONNX Runtime engine: a .onnx file written by `engines.onnx_export`, on the CPU, CUDA or TensorRT provider.

The provider is passed explicitly and checked after the session is made: ONNX Runtime silently falls back to
the CPU when a requested provider is missing (e.g. the CPU `onnxruntime` wheel instead of `onnxruntime-gpu`),
and a row that asked for CUDA but ran on the CPU must be an error, not a result. The intra-op thread count is
pinned (default: torch's, so eager PyTorch and ONNX Runtime rows use the same cores) and recorded. On a GPU,
inputs and outputs are bound to device memory (IO binding) so that timing measures the model, not host copies.
"""

from __future__ import annotations

import os
import warnings
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engines.base import Engine, EngineOptions, check_options, cpu_name, register_engine
from engines.onnx_export import meta_from_props
from mldrnet.errors import BenchError

# provider option name -> ONNX Runtime's provider chain (the first one must be the one that runs)
PROVIDERS = {
    "cpu": ["CPUExecutionProvider"],
    "cuda": ["CUDAExecutionProvider", "CPUExecutionProvider"],
    "tensorrt": ["TensorrtExecutionProvider", "CUDAExecutionProvider", "CPUExecutionProvider"],
}
GPU_HINT = ("install onnxruntime-gpu in place of onnxruntime (`pip uninstall onnxruntime && "
            "pip install 'bench-mldrnet[gpu]'`) on a machine with an NVIDIA GPU")


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
        if options.precision != "fp32" and not (self.provider == "tensorrt" and options.precision == "fp16"):
            raise BenchError(f"onnxruntime runs the fp32 ONNX file; precision {options.precision} is only offered "
                             "through the TensorRT provider (fp16) or the tensorrt engine")
        self.threads = options.threads or torch.get_num_threads()

        so = ort.SessionOptions()
        so.intra_op_num_threads = self.threads
        so.inter_op_num_threads = 1  # one image graph, no parallel branches worth a second pool
        so.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        requested = PROVIDERS[self.provider]
        with warnings.catch_warnings():  # ORT warns about a missing provider, then falls back: we check instead
            warnings.simplefilter("ignore")
            try:
                self.session = ort.InferenceSession(str(path), so, providers=self._provider_chain(requested, path))
            except Exception as e:
                raise BenchError(f"onnxruntime cannot load {path}: {str(e).strip().splitlines()[0]}") from e
        running = self.session.get_providers()
        if running[0] != requested[0]:
            raise BenchError(f"onnxruntime was asked for {requested[0]} but runs on {running[0]} "
                             f"(available: {', '.join(ort.get_available_providers())}): {GPU_HINT}")
        self.meta = meta_from_props(self.session.get_modelmeta().custom_metadata_map, str(path))
        self.input_name = self.session.get_inputs()[0].name
        self.output_name = self.session.get_outputs()[0].name
        self.io_binding = options.io_binding and self.device == "cuda"

    def _provider_chain(self, names: list[str], path: Path) -> list:
        if names[0] != "TensorrtExecutionProvider":
            return names
        trt_options = {
            "trt_fp16_enable": self.options.precision == "fp16",
            # ORT builds a TensorRT engine per new input shape: cache them beside the model, not in the cwd
            "trt_engine_cache_enable": True,
            "trt_engine_cache_path": str(path.parent / "ort-trt-cache"),
            "trt_timing_cache_enable": True,
            "trt_timing_cache_path": str(path.parent / "ort-trt-cache"),
        }
        return [(names[0], trt_options), *names[1:]]

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        if self.io_binding:
            return self.run_on_device(batch.to("cuda", torch.float32)).float().cpu()
        x = batch.detach().to("cpu", torch.float32).contiguous().numpy()
        logits = self.session.run([self.output_name], {self.input_name: x})[0]
        return torch.from_numpy(logits).float()

    def run_on_device(self, batch: torch.Tensor) -> torch.Tensor:
        if not self.io_binding:
            return self(batch)
        x = batch.to("cuda", torch.float32).contiguous()
        out = torch.empty((x.shape[0], len(self.meta.classes)), dtype=torch.float32, device=x.device)
        device_id = x.device.index or 0
        binding = self.session.io_binding()
        binding.bind_input(self.input_name, "cuda", device_id, np.float32, tuple(x.shape), x.data_ptr())
        binding.bind_output(self.output_name, "cuda", device_id, np.float32, tuple(out.shape), out.data_ptr())
        # ORT runs on its own CUDA stream: the input written on torch's stream must be complete first
        torch.cuda.current_stream().synchronize()
        self.session.run_with_iobinding(binding)
        binding.synchronize_outputs()
        return out

    def synchronize(self) -> None:
        if self.device == "cuda":
            torch.cuda.synchronize()

    def describe(self) -> dict[str, Any]:
        import onnxruntime as ort

        device = torch.cuda.get_device_name() if self.device == "cuda" else cpu_name()
        return {
            "engine": self.name,
            "provider": self.session.get_providers()[0],
            "device": device,
            "precision": self.options.precision,
            "threads": self.threads,
            "io_binding": self.io_binding,
            "file": str(self.path),
            "file_mb": round(os.path.getsize(self.path) / 2**20, 2),
            "versions": {"onnxruntime": ort.__version__, "torch": torch.__version__},
        }
