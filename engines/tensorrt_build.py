"""ONNX -> TensorRT engine, with the TensorRT 10 and 11 APIs.

- One optimization profile for batch 1..max (the ONNX batch dimension is dynamic), tuned at max.
- A timing cache file beside the engine: rebuilding (another precision, a retrained checkpoint) reuses the
  measured kernel timings and takes seconds instead of minutes.
- Precision. TensorRT 11 only builds strongly typed networks: the types come from the ONNX file, so fp16 and
  int8 are first baked into a copy of it with NVIDIA ModelOpt (AutoCast for fp16, Q/DQ quantization calibrated
  on training images for int8). TensorRT 10 is weakly typed: the FP16 / INT8 builder flags, and an entropy
  calibrator fed with training images for int8. fp32 clears TF32 so that "fp32" means fp32.
- Metadata (the ModelMeta plus precision, batch range, versions, GPU, and the name and sha256 of the ONNX file it
  was built from) goes to a JSON file beside the engine; `engines.export.is_current` rebuilds an engine whose
  model.onnx, TensorRT version or GPU differs from the recorded ones.
- int8 with ModelOpt calibrates at the real batch (`calibration_shapes`), not batch 1.

Without a GPU or without tensorrt, `require_tensorrt` says in one line what is missing and how to get it.
"""

from __future__ import annotations

import json
import os
import time
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np
import torch

from engines import formats
from engines.base import file_sha256, read_file_meta
from mldrnet.checkpoint import ModelMeta
from mldrnet.errors import BenchError
from mldrnet.io.atomic import atomic_write_bytes, atomic_write_text

PRECISIONS = formats.get("tensorrt").export_precisions
GPU_INSTALL = (
    "on a machine with an NVIDIA GPU, `pip install 'bench-mldrnet[gpu]'` (tensorrt, onnxruntime-gpu, modelopt)"
)
ENGINE_FORMAT = "bench-tensorrt/1"


def require_tensorrt():
    """The tensorrt module, or one BenchError naming everything that is missing."""
    missing = []
    if not torch.cuda.is_available():
        missing.append("a CUDA GPU (torch.cuda.is_available() is False)")
    try:
        import tensorrt as trt
    except ImportError:
        trt = None
        missing.append("the tensorrt package")
    if missing:
        raise BenchError(f"TensorRT cannot run here, missing {' and '.join(missing)}: {GPU_INSTALL}")
    major = int(trt.__version__.split(".")[0])
    if major < 10:
        raise BenchError(f"tensorrt {trt.__version__} is too old (10 or later needed): {GPU_INSTALL}")
    return trt


def engine_meta_path(engine_path: str | os.PathLike) -> Path:
    return Path(engine_path).with_suffix(".json")


def read_engine_meta(engine_path: str | os.PathLike) -> tuple[ModelMeta, dict]:
    """(ModelMeta, the whole JSON record) of the engine at `engine_path`."""
    return read_file_meta(
        engine_meta_path(engine_path),
        Path(engine_path),
        ENGINE_FORMAT,
        "engine",
        "rebuild the engine with `bench export MODEL --to tensorrt`",
    )


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    meta: ModelMeta,
    *,
    precision: str = "fp32",
    max_batch: int = 32,
    calibration: Callable[[], Iterable[np.ndarray]] | None = None,
    workspace_gib: float = 4.0,
) -> Path:
    """Build `engine_path` from `onnx_path`; `calibration()` yields (B, 3, H, W) float32 training batches (int8)."""
    if precision not in PRECISIONS:
        raise BenchError(f"TensorRT precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    if precision == "int8" and calibration is None:
        raise BenchError("int8 needs calibration images (the checkpoint's training split)")
    trt = require_tensorrt()
    major = int(trt.__version__.split(".")[0])
    started = time.perf_counter()
    build_onnx = onnx_path
    if major >= 11 and precision != "fp32":
        build_onnx = _modelopt_convert(onnx_path, precision, calibration)

    logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(logger)
    network = builder.create_network(0)  # explicit batch is the only mode since 10; 11 is always strongly typed
    parser = trt.OnnxParser(network, logger)
    if not parser.parse_from_file(str(build_onnx)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise BenchError(f"TensorRT cannot parse {build_onnx}: {errors[0] if errors else 'unknown error'}")

    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * 2**30))
    inp = network.get_input(0)
    _, c, h, w = inp.shape
    profile = builder.create_optimization_profile()
    profile.set_shape(inp.name, (1, c, h, w), (max_batch, c, h, w), (max_batch, c, h, w))
    config.add_optimization_profile(profile)
    calibrator = _set_precision(trt, major, builder, config, inp.name, precision, calibration, engine_path)

    cache_path = engine_path.parent / "tensorrt.timing-cache"
    cache = config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b"")
    if not config.set_timing_cache(cache, ignore_mismatch=False):  # a cache from another GPU or version
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)

    serialized = builder.build_serialized_network(network, config)
    del calibrator  # keeps its device buffers alive until the build is done
    if serialized is None:
        raise BenchError(f"TensorRT could not build {engine_path.name} from {build_onnx.name} (see its log above)")
    atomic_write_bytes(engine_path, bytes(serialized))
    atomic_write_bytes(cache_path, bytes(config.get_timing_cache().serialize()))
    record = {
        "format": ENGINE_FORMAT,
        "meta": meta.to_dict(),
        "precision": precision,
        "max_batch": max_batch,
        "input": inp.name,
        "onnx": build_onnx.name,
        # what is_current hashes again: model.onnx, even when built from a converted copy
        "source_onnx": onnx_path.name,
        "source_sha256": file_sha256(onnx_path),
        "tensorrt": trt.__version__,
        "gpu": torch.cuda.get_device_name(),
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    atomic_write_text(engine_meta_path(engine_path), json.dumps(record, indent=2))
    return engine_path


def _set_precision(trt, major: int, builder, config, input_name: str, precision: str, calibration, engine_path: Path):
    """Builder flags on TensorRT 10 (on 11 the converted ONNX already carries the types). Returns the calibrator."""
    if precision == "fp32":
        if hasattr(trt.BuilderFlag, "TF32"):
            config.clear_flag(trt.BuilderFlag.TF32)  # TF32 is on by default: 10-bit mantissas in "fp32" convs
        return None
    if major >= 11:
        return None
    config.set_flag(trt.BuilderFlag.FP16)  # int8 too: layers without an int8 kernel fall back to fp16
    if precision != "int8":
        return None
    config.set_flag(trt.BuilderFlag.INT8)
    calibrator = _entropy_calibrator(trt, calibration(), engine_path.with_suffix(".calib"))
    config.int8_calibrator = calibrator
    # calibration runs at the calibration profile's opt shape, so it must be exactly the calibration batch
    calib_profile = builder.create_optimization_profile()
    shape = (calibrator.get_batch_size(), *calibrator.image_shape)
    calib_profile.set_shape(input_name, shape, shape, shape)
    config.set_calibration_profile(calib_profile)
    return calibrator


def _entropy_calibrator(trt, batches: Iterable[np.ndarray], cache_path: Path):
    """TensorRT 10's IInt8EntropyCalibrator2 over host batches, each copied into a torch CUDA tensor."""
    batches = list(batches)
    if not batches:
        raise BenchError("no calibration images for int8")
    batch_size = max(len(b) for b in batches)
    batches = [b for b in batches if len(b) == batch_size]  # TensorRT takes one fixed calibration batch size

    class Calibrator(trt.IInt8EntropyCalibrator2):
        def __init__(self):
            trt.IInt8EntropyCalibrator2.__init__(self)  # pybind11 trampolines need the explicit parent call
            self.pending = iter(batches)
            self.image_shape = tuple(batches[0].shape[1:])
            self.current: torch.Tensor | None = None

        def get_batch_size(self) -> int:
            return batch_size

        def get_batch(self, names):
            batch = next(self.pending, None)
            if batch is None:
                return None
            # the reference keeps the device buffer alive until TensorRT asks for the next batch
            self.current = torch.from_numpy(np.ascontiguousarray(batch, dtype=np.float32)).cuda()
            torch.cuda.synchronize()
            return [int(self.current.data_ptr())]

        def read_calibration_cache(self):
            return None  # always calibrate: a cache from an earlier checkpoint would give wrong ranges silently

        def write_calibration_cache(self, cache) -> None:
            atomic_write_bytes(cache_path, bytes(cache))  # kept for inspection

    return Calibrator()


def _modelopt_convert(onnx_path: Path, precision: str, calibration) -> Path:
    """TensorRT 11: a strongly typed copy of the ONNX file (model.fp16.onnx / model.int8.onnx) made by ModelOpt."""
    try:
        import onnx
        from modelopt.onnx.autocast import convert_to_mixed_precision
        from modelopt.onnx.quantization import quantize
    except ImportError as e:
        raise BenchError(
            f"TensorRT 11 builds {precision} only from a ModelOpt-converted ONNX, and nvidia-modelopt "
            f"is not importable ({e}): {GPU_INSTALL}"
        ) from e
    out = onnx_path.with_name(f"{onnx_path.stem}.{precision}.onnx")
    if precision == "fp16":
        converted = convert_to_mixed_precision(onnx_path=str(onnx_path), low_precision_type="fp16", keep_io_types=True)
        onnx.save(converted, str(out))
        return out
    import onnxruntime as ort

    from engines.onnx_export import INPUT_NAME

    data, shapes = calibration_input(list(calibration()))
    # calibration runs in ONNX Runtime: on the GPU when onnxruntime-gpu is installed, else on the CPU
    eps = (["cuda:0"] if "CUDAExecutionProvider" in ort.get_available_providers() else []) + ["cpu"]
    quantize(
        str(onnx_path),
        quantize_mode="int8",
        calibration_data={INPUT_NAME: data},
        calibration_method="entropy",
        calibration_eps=eps,
        calibration_shapes=shapes,
        output_path=str(out),
    )
    return out


def calibration_input(batches: list[np.ndarray]) -> tuple[np.ndarray, str]:
    """ModelOpt's calibration data and `calibration_shapes`: the images at the real batch size (the largest batch
    given; without the shape ModelOpt runs a dynamic-batch model at batch 1), trimmed to whole batches."""
    from engines.onnx_export import INPUT_NAME

    if not batches:
        raise BenchError("no calibration images for int8")
    batch = max(len(b) for b in batches)
    data = np.concatenate(batches).astype(np.float32)
    data = data[: max(batch, len(data) // batch * batch)]
    dims = "x".join(str(d) for d in (batch, *data.shape[1:]))
    return data, f"{INPUT_NAME}:{dims}"
