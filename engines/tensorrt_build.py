"""ONNX -> TensorRT engine, with the TensorRT 10 and 11 APIs.

- One optimisation profile per timed batch size (`profile_batches`: 1 and max_batch by default), each taking batch
  1..max_batch and tuned at its own batch (its opt shape), so batch-1 latency does not run on kernels chosen for
  batch 32; the engine picks the profile whose opt shape is the batch it runs (engines.tensorrt_engine).
- A timing cache file beside the engine, keyed like ONNX Runtime's engine cache (TensorRT version, GPU):
  `tensorrt-<version>-<gpu>.timing-cache`. Rebuilding (another precision, a retrained checkpoint) reuses the
  measured kernel timings and takes seconds instead of minutes; another TensorRT or GPU never reads it.
- Precision.
  - fp32 clears TF32, so that "fp32" means IEEE fp32; the record says so ("tf32": false).
  - int8 is explicit quantization: the Q/DQ ONNX file that ONNX Runtime's `quantize_static` makes for TensorRT
    (engines.quantize, target "tensorrt": symmetric signed int8 activations and weights, float biases; written as
    model.trt-int8.onnx beside model.onnx), built as a strongly typed network (the types come from the file, no
    precision flag). TensorRT's implicit quantization (the calibrator API, removed in TensorRT 11) is not used.
  - fp16: from TensorRT 10.12 on (the FP16 builder flag is weak typing, deprecated in 10.12 and gone in 11), a
    strongly typed network built from an fp16 copy of the ONNX file (model.fp16.onnx, input and output kept fp32):
    ModelOpt's AutoCast where nvidia-modelopt is installed (it is in no extra: see `MODELOPT`), else ONNX Runtime's
    float16 converter (onnxruntime.transformers.float16, in every onnxruntime wheel). Before 10.12 the FP16 flag,
    which was then the supported way. The record says which (`fp16_from`).
- One TensorRT logger per process (`logger()`), shared by builder and runtime, as TensorRT asks.
- Builds keep per-layer details (`ProfilingVerbosity.DETAILED`): `layer_precisions` reads each layer's precision
  back with the engine inspector (bench doctor --gpu-check keeps it as evidence).
- Metadata (the ModelMeta plus precision, profiles, versions, GPU, the sha256 of the checkpoint, and the name and
  sha256 of the ONNX file it was built from) goes to a JSON file beside the engine; `engines.export.stale_reason`
  rebuilds an engine whose checkpoint, model.onnx, TensorRT release or GPU differs from the recorded ones.

Without a GPU or without tensorrt, `require_tensorrt` says in one line what is missing and how to get it.
"""

from __future__ import annotations

import json
import os
import re
import time
from collections.abc import Iterable
from pathlib import Path

import torch

from engines import formats
from engines.base import CHECKPOINT_KEY, file_sha256, read_file_meta, release
from engines.gpu_libraries import INSTALL as TENSORRT_INSTALL
from mldrnet.checkpoint import ModelMeta
from mldrnet.errors import BenchError
from mldrnet.io.atomic import atomic_write_bytes, atomic_write_text

PRECISIONS = formats.get("tensorrt").export_precisions
GPU_INSTALL = (
    "on a machine with an NVIDIA GPU, `pip install 'bench-mldrnet[gpu]'` (onnxruntime-gpu with its CUDA and "
    "cuDNN wheels; torch from PyPI is already the CUDA build) and "
    f"{TENSORRT_INSTALL.replace('install ', '', 1)}"
)
MODELOPT = (
    "nvidia-modelopt[onnx] is in no extra (it pins a CUDA 12 onnxruntime-gpu and cupy-cuda12x, which would break "
    "the gpu extra's CUDA 13 stack): install it by hand, in an environment of its own"
)
ENGINE_FORMAT = "bench-tensorrt/1"
QDQ_FILE = "model.trt-int8.onnx"  # the Q/DQ ONNX an int8 engine is built from (engines.quantize, target tensorrt)

_LOGGER = None


def logger(trt):
    """The process's one TensorRT logger (TensorRT wants a single ILogger shared by builders and runtimes)."""
    global _LOGGER
    if _LOGGER is None:
        _LOGGER = trt.Logger(trt.Logger.WARNING)
    return _LOGGER


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


def qdq_path(engine_path: Path) -> Path:
    """model.int8.engine -> model.trt-int8.onnx; model.int8.s375.engine -> model.trt-int8.s375.onnx."""
    size = re.search(r"\.(s\d+)\.engine$", engine_path.name)
    stem, _, ext = QDQ_FILE.rpartition(".")
    return engine_path.with_name(f"{stem}.{size.group(1)}.{ext}" if size else QDQ_FILE)


def profile_batches(batches: Iterable[int] | None, max_batch: int) -> tuple[int, ...]:
    """The opt batch of each profile: each timed batch up to max_batch, and max_batch (the accuracy pass's)."""
    from engines.onnx_engine import profile_batches as ort_profile_batches  # one rule for both TensorRT paths

    return ort_profile_batches(tuple(batches) if batches else None, max_batch)


def timing_cache_path(folder: Path, trt_version: str, gpu: str) -> Path:
    """The timing cache for this TensorRT release and GPU (kernel timings are valid for that pair only)."""
    from engines.onnx_engine import _slug

    version = ".".join(map(str, release(trt_version) or ())) or "unknown"
    return folder / f"tensorrt-{_slug(version)}-{_slug(gpu)}.timing-cache"


def is_qdq(onnx_path: Path) -> bool:
    """Whether the ONNX file holds Q/DQ nodes (an explicitly quantized network)."""
    import onnx

    graph = onnx.load(str(onnx_path), load_external_data=False).graph
    return any(n.op_type in ("QuantizeLinear", "DequantizeLinear") for n in graph.node)


def build_engine(
    onnx_path: Path,
    engine_path: Path,
    meta: ModelMeta,
    *,
    precision: str = "fp32",
    max_batch: int = 32,
    batches: Iterable[int] | None = None,
    source_onnx: Path | None = None,
    checkpoint_sha256: str | None = None,
    workspace_gib: float = 4.0,
) -> Path:
    """Build `engine_path` from `onnx_path` (for int8: the Q/DQ file; `source_onnx` is then the fp32 model.onnx it
    was quantized from, whose hash the record keeps). `batches`: the timed batch sizes (one profile each)."""
    if precision not in PRECISIONS:
        raise BenchError(f"TensorRT precision must be one of {', '.join(PRECISIONS)}, got {precision!r}")
    source_onnx = Path(source_onnx or onnx_path)
    if precision == "int8" and not is_qdq(onnx_path):
        raise BenchError(
            f"{onnx_path.name} has no Q/DQ nodes: TensorRT int8 is built from the file engines.quantize makes "
            f"({QDQ_FILE}, `bench export MODEL --to tensorrt --precision int8`)"
        )
    trt = require_tensorrt()
    major = int(trt.__version__.split(".")[0])
    started = time.perf_counter()
    typed_fp16 = precision == "fp16" and not fp16_by_flag(trt.__version__)
    build_onnx, fp16_from = fp16_onnx(onnx_path) if typed_fp16 else (onnx_path, None)
    strongly_typed = precision == "int8" or major >= 11 or typed_fp16

    builder, network = _parse(trt, build_onnx, strongly_typed and major < 11)
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_gib * 2**30))
    config.profiling_verbosity = trt.ProfilingVerbosity.DETAILED  # per-layer precision for the engine inspector
    inp = network.get_input(0)
    opts = _add_profiles(builder, config, inp, profile_batches(batches, max_batch), max_batch)
    tf32 = _set_precision(trt, config, precision, strongly_typed)

    gpu = torch.cuda.get_device_name()
    cache_path = timing_cache_path(engine_path.parent, trt.__version__, gpu)
    cache = config.create_timing_cache(cache_path.read_bytes() if cache_path.is_file() else b"")
    if not config.set_timing_cache(cache, ignore_mismatch=False):  # damaged: start a new one
        config.set_timing_cache(config.create_timing_cache(b""), ignore_mismatch=False)

    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise BenchError(f"TensorRT could not build {engine_path.name} from {build_onnx.name} (see its log above)")
    atomic_write_bytes(engine_path, bytes(serialized))
    atomic_write_bytes(cache_path, bytes(config.get_timing_cache().serialize()))
    record = {
        "format": ENGINE_FORMAT,
        "meta": meta.to_dict(),
        "precision": precision,
        "max_batch": max_batch,
        "profiles": list(opts),  # opt batch of each profile, in profile order
        "input": inp.name,
        "onnx": build_onnx.name,
        "strongly_typed": strongly_typed,
        "fp16_from": fp16_from,  # what cast the ONNX file to fp16 (None: the FP16 flag, or no fp16)
        "tf32": tf32,
        # what stale_reason hashes again: model.onnx, even when built from a converted or quantized copy
        "source_onnx": source_onnx.name,
        "source_sha256": file_sha256(source_onnx),
        CHECKPOINT_KEY: checkpoint_sha256,
        "tensorrt": trt.__version__,
        "gpu": gpu,
        "timing_cache": cache_path.name,
        "build_seconds": round(time.perf_counter() - started, 1),
    }
    atomic_write_text(engine_meta_path(engine_path), json.dumps(record, indent=2))
    return engine_path


def _parse(trt, onnx_path: Path, strongly_typed_flag: bool):
    """(builder, network) with the ONNX file parsed; explicit batch is the only mode since TensorRT 10, and 11 is
    always strongly typed (10 needs the flag)."""
    log = logger(trt)
    builder = trt.Builder(log)
    network = builder.create_network(
        1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED) if strongly_typed_flag else 0
    )
    parser = trt.OnnxParser(network, log)
    if not parser.parse_from_file(str(onnx_path)):
        errors = [str(parser.get_error(i)) for i in range(parser.num_errors)]
        raise BenchError(f"TensorRT cannot parse {onnx_path}: {errors[0] if errors else 'unknown error'}")
    return builder, network


def _add_profiles(builder, config, inp, opts: tuple[int, ...], max_batch: int) -> tuple[int, ...]:
    """One optimisation profile per opt batch, each taking batch 1..max_batch."""
    _, c, h, w = inp.shape
    for opt in opts:
        profile = builder.create_optimization_profile()
        profile.set_shape(inp.name, (1, c, h, w), (opt, c, h, w), (max_batch, c, h, w))
        config.add_optimization_profile(profile)
    return opts


def _set_precision(trt, config, precision: str, strongly_typed: bool) -> bool:
    """Builder flags; returns whether fp32 layers may use TF32 (what describe() reports). A strongly typed network
    takes no precision flag: its types are the ONNX file's (fp32 with Q/DQ int8, or a ModelOpt fp16 copy)."""
    tf32_flag = getattr(trt.BuilderFlag, "TF32", None)
    if precision == "fp32" or tf32_flag is None:
        if tf32_flag is not None:
            config.clear_flag(tf32_flag)  # TF32 is on by default: 10-bit mantissas in "fp32" convs
        return False
    if not strongly_typed:  # TensorRT before 10.12: weak typing's FP16 flag (fp16_by_flag)
        config.set_flag(trt.BuilderFlag.FP16)
    return bool(config.get_flag(tf32_flag))


FP16_FLAG_UNTIL = (10, 12)  # TensorRT's FP16 builder flag (weak typing) is deprecated from this release on


def fp16_by_flag(version: str | None) -> bool:
    """Whether this TensorRT builds fp16 with the FP16 builder flag (before 10.12), not as a strongly typed network
    from an fp16 ONNX file; an unreadable version takes the current way (strongly typed)."""
    numbers = release(version)
    return numbers is not None and tuple(numbers[:2]) < FP16_FLAG_UNTIL


def fp16_onnx(onnx_path: Path) -> tuple[Path, str]:
    """(model.fp16.onnx beside `onnx_path`, what made it): the model with fp16 weights and activations, its input
    and output kept fp32 (the engine's buffers), for a strongly typed fp16 network. ModelOpt's AutoCast where it is
    importable (it keeps range-sensitive layers in fp32), else ONNX Runtime's float16 converter, whose Cast nodes
    are then put in topological order (the converter appends them; ONNX and TensorRT's parser want them sorted)."""
    import onnx

    out = onnx_path.with_name(f"{onnx_path.stem}.fp16.onnx")
    try:
        from modelopt.onnx.autocast import convert_to_mixed_precision
    except ImportError:
        from onnxruntime.transformers.float16 import convert_float_to_float16

        converted = convert_float_to_float16(onnx.load(str(onnx_path)), keep_io_types=True)
        _topological_order(converted.graph, onnx_path.name)
        how = "onnxruntime float16"
    else:
        converted = convert_to_mixed_precision(onnx_path=str(onnx_path), low_precision_type="fp16", keep_io_types=True)
        how = "modelopt autocast"
    onnx.checker.check_model(converted)
    onnx.save(converted, str(out))
    return out, how


def _topological_order(graph, name: str) -> None:
    """Reorder `graph.node` so that each node comes after the nodes making its inputs (Kahn's order, stable)."""
    known = {i.name for i in graph.input} | {i.name for i in graph.initializer} | {""}  # "": an omitted input
    pending, ordered = list(graph.node), []
    while pending:
        ready = [n for n in pending if all(i in known for i in n.input)]
        if not ready:
            missing = sorted({i for n in pending for i in n.input if i not in known})[:3]
            raise BenchError(f"the fp16 copy of {name} has nodes whose inputs nothing makes ({', '.join(missing)})")
        for n in ready:
            known.update(n.output)
        ordered += ready
        pending = [n for n in pending if all(n is not r for r in ready)]
    del graph.node[:]
    graph.node.extend(ordered)


def layer_precisions(engine, trt) -> list[dict]:
    """Each layer of a deserialized engine with its name, type and the precision it runs in (the engine
    inspector's JSON, available because engines are built with detailed profiling verbosity)."""
    inspector = engine.create_engine_inspector()
    info = json.loads(inspector.get_engine_information(trt.LayerInformationFormat.JSON))
    layers = []
    for layer in info.get("Layers", []):
        if isinstance(layer, str):  # built without detailed verbosity: names only
            layers.append({"name": layer, "type": None, "precision": None})
            continue
        outputs = layer.get("Outputs") or []
        precision = layer.get("Precision") or (outputs[0].get("Format/Datatype") if outputs else None)
        layers.append({"name": layer.get("Name"), "type": layer.get("LayerType"), "precision": precision})
    return layers
