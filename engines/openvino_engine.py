"""OpenVINO engine: an IR written by engines.openvino_export (fp32 weights, or NNCF int8), on the CPU plugin.

- Precision is explicit: `hints.inference_precision` is f32 unless the row asks for bf16, which runs only where
  the CPU has native bf16 (else one line refuses it); OpenVINO's default on such CPUs would be a silent bf16.
  An int8 IR runs its quantized ops in int8 and the rest in f32.
- Two compiled models, chosen per call by the batch size: batch 1 runs a LATENCY-hinted model with one static
  (1, 3, H, W) request; a larger batch runs a THROUGHPUT-hinted model (several streams) with an AsyncInferQueue
  of its optimal number of requests, one image per request, all in flight, gathered in order.
- Threads pinned (`inference_num_threads` = EngineOptions.threads, default torch's); compiled blobs cached in
  openvino-cache/ beside the IR (`props.cache_dir`); each compile is timed and shown in describe(), apart from
  the steady-state timing that the caller measures.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engines.base import BF16_FLAGS, Engine, EngineOptions, check_options, cpu_flags, cpu_name, register_engine
from engines.openvino_export import require_openvino
from engines.openvino_files import REMAKE, check_ir_files, read_ir_meta
from mldrnet.errors import BenchError

OV_PRECISIONS = {"fp32": "f32", "int8": "f32", "bf16": "bf16"}  # hints.inference_precision per row precision


def cpu_has_bf16(core) -> bool:
    """Native bf16 in the CPU plugin's view and in the CPU's flags (AVX512_BF16 or AMX)."""
    return "BF16" in core.get_property("CPU", "OPTIMIZATION_CAPABILITIES") and bool(cpu_flags() & BF16_FLAGS)


@register_engine
class OpenVinoEngine(Engine):
    name = "openvino"

    def __init__(self, source: Any, options: EngineOptions = EngineOptions()):
        ov = require_openvino()
        check_options(self.name, options)
        path = Path(source)
        if not path.is_file():
            raise BenchError(f"OpenVINO IR {path} does not exist: export it with `bench export MODEL --to openvino`")
        self.path, self.options = path, options
        self.meta, self.record = read_ir_meta(path)
        check_ir_files(path, self.record)  # a truncated or altered IR: one line, before OpenVINO reads it
        if (options.precision == "int8") != (self.record.get("precision") == "int8"):
            raise BenchError(
                f"{path.name} is a {self.record.get('precision')} IR but the row asks for "
                f"{options.precision}: int8 runs model.openvino.int8.xml, fp32/bf16 model.openvino.xml"
            )
        self.core = ov.Core()
        if options.precision == "bf16" and not cpu_has_bf16(self.core):
            raise BenchError(
                f"this CPU ({cpu_name()}) has no native bf16 (AVX512_BF16/AMX): run OpenVINO in fp32 or int8"
            )
        self.threads = options.threads or torch.get_num_threads()
        self.cache_dir: Path | None = path.parent / "openvino-cache"
        try:
            self.cache_dir.mkdir(parents=True, exist_ok=True)
            if not os.access(self.cache_dir, os.W_OK):
                raise PermissionError(self.cache_dir)
        except OSError:  # a read-only results folder: compile every time, which describe() shows
            self.cache_dir = None
        if self.cache_dir is not None:
            self.core.set_property({"CACHE_DIR": str(self.cache_dir)})
        self.compiled: dict[str, Any] = {}  # "latency" | "throughput" -> compiled model
        self.compile_seconds: dict[str, float] = {}
        self._request: Any = None  # openvino.InferRequest, made on first use
        self._queue: Any = None  # openvino.AsyncInferQueue, made on first use
        self._out: Any = None  # np.ndarray being filled by the queue's callback

    def _compile(self, mode: str):
        import openvino as ov
        import openvino.properties as props
        import openvino.properties.hint as hints

        try:
            model = self.core.read_model(str(self.path))
            model.reshape([1, *self.file_meta.input_shape])  # one image per request: static shapes suit the CPU
        except Exception as e:  # a damaged IR of an older bench (no hashes to check it against), or a foreign one
            raise BenchError(
                f"OpenVINO cannot read {self.path} ({(str(e).strip().splitlines() or [repr(e)])[0][:160]}): {REMAKE}"
            ) from e
        config = {
            hints.performance_mode: hints.PerformanceMode.LATENCY
            if mode == "latency"
            else hints.PerformanceMode.THROUGHPUT,
            hints.inference_precision: ov.Type.bf16 if OV_PRECISIONS[self.options.precision] == "bf16" else ov.Type.f32,
            props.inference_num_threads: self.threads,
        }
        started = time.perf_counter()
        try:
            compiled = self.core.compile_model(model, "CPU", config)
        except Exception as e:
            raise BenchError(
                f"OpenVINO cannot compile {self.path}: {(str(e).strip().splitlines() or [repr(e)])[0][:160]}: {REMAKE}"
            ) from e
        self.compile_seconds[mode] = round(time.perf_counter() - started, 3)
        self.compiled[mode] = compiled
        if mode == "latency":
            self._request = compiled.create_infer_request()
        else:
            self._queue = ov.AsyncInferQueue(compiled, compiled.get_property(props.optimal_number_of_infer_requests))
            self._queue.set_callback(self._gather)
        return compiled

    def _gather(self, request, index: int) -> None:
        self._out[index] = request.get_output_tensor(0).data[0]

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = np.ascontiguousarray(batch.detach().to("cpu", torch.float32).numpy())
        if len(x) == 1:
            if "latency" not in self.compiled:
                self._compile("latency")
            result = self._request.infer({0: x})
            return torch.from_numpy(np.array(result[0], dtype=np.float32, copy=True))
        if "throughput" not in self.compiled:
            self._compile("throughput")
        self._out = np.empty((len(x), len(self.file_meta.classes)), dtype=np.float32)
        for i in range(len(x)):
            self._queue.start_async({0: x[i : i + 1]}, i)
        self._queue.wait_all()
        out, self._out = self._out, None
        return torch.from_numpy(out)

    def _mode(self, mode: str) -> dict | None:
        import openvino.properties as props
        import openvino.properties.hint as hints

        compiled = self.compiled.get(mode)
        if compiled is None:
            return None
        return {
            "hint": str(compiled.get_property(hints.performance_mode)).split(".")[-1],
            "streams": int(compiled.get_property(props.num_streams)),
            "requests": int(compiled.get_property(props.optimal_number_of_infer_requests)),
            "inference_precision": compiled.get_property(hints.inference_precision).get_type_name(),
            "compile_seconds": self.compile_seconds[mode],
        }

    def describe(self) -> dict[str, Any]:
        import openvino as ov

        files = [self.path, self.path.with_suffix(".bin")]
        return {
            "engine": self.name,
            "provider": "OpenVINO CPU",
            "device": cpu_name(),
            "precision": self.options.precision,
            "inference_precision": OV_PRECISIONS[self.options.precision],
            "threads": self.threads,
            "modes": {m: d for m in ("latency", "throughput") if (d := self._mode(m))},
            "compile_seconds": dict(self.compile_seconds),  # apart from steady-state timing
            "cache_dir": str(self.cache_dir) if self.cache_dir else None,
            **({"quantization": self.record["quantization"]} if "quantization" in self.record else {}),
            "file": str(self.path),
            "file_mb": round(sum(os.path.getsize(f) for f in files if f.is_file()) / 2**20, 2),
            "versions": {"openvino": ov.__version__, "torch": torch.__version__},
        }
