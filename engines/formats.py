"""The formats table: one row per engine format, read by export, engine lookup, compare's variants, the CLI's
choices and the docs (in the spirit of Ultralytics' export formats). Adding an engine is one row here plus one
engine module that registers its class.

    format    engine        file in the run folder      precisions          devices    made by
    torch     torch         best.pt                     fp32 bf16 fp16 tf32 cpu cuda   training
    onnx      onnxruntime   model.onnx                  fp32 (fp16: TRT EP; cpu cuda   export (from best.pt)
                                                        tf32: CUDA/TRT EP)
    tensorrt  tensorrt      model.<precision>.engine    fp32 fp16 int8      cuda       export (from model.onnx)
    onnx-int8 onnxruntime   model.ort-int8.onnx         int8                cpu        ORT static quantization (from model.onnx)
    openvino  openvino      model.openvino.xml (+.bin)  fp32 bf16 int8      cpu        export (from model.onnx); int8: NNCF,
                            model.openvino.int8.xml                                    model.openvino.int8.xml

A file exported at a serving size S other than the checkpoint's crop has ".sS" before its extension
(model.s375.onnx, model.openvino.int8.s375.xml): the models end in adaptive pooling, so the same weights run at
any size. One engine may load several rows' files (onnxruntime: model.onnx and model.ort-int8.onnx); the row of
an (engine, precision) is the first that offers that precision (`of_engine`).

"fp32" is IEEE fp32 on every engine and device (TF32 switched off where a GPU library would use it by default);
"tf32" (CUDA only) is the same file with TF32 tensor-core math allowed, as its own row.

No torch here: the CLI builds its option choices from this table before deciding to import anything heavy.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from mldrnet.errors import BenchError
from mldrnet.io import layout


@dataclass(frozen=True)
class Format:
    name: str  # `bench export --to NAME`, Record.file_format
    title: str  # in messages: "ONNX", "TensorRT"
    engine: str  # the engine that loads the file (engines.base registry name)
    module: str  # the module that defines and registers that engine (imported on first use)
    file: str  # file name in the run folder; "{precision}" is filled in for per-precision files
    precisions: tuple[str, ...]  # what the engine runs from this file
    devices: tuple[str, ...]
    exporter: str | None = None  # "module:function" that writes the file from a checkpoint; None: training does
    export_precisions: tuple[str, ...] = ()  # the precisions the exporter writes
    made_from: str | None = None  # the format whose file the exporter reads (tensorrt builds from onnx)
    description: str = ""
    precision_files: tuple[tuple[str, str], ...] = ()  # (precision, file) where a precision has its own file

    def filename(self, precision: str = "fp32", size: int | None = None) -> str:
        """The file's name; `size`: a serving size other than the trained one, written as ".s<size>" before the
        extension (None: the checkpoint's own size)."""
        name = dict(self.precision_files).get(precision, self.file).format(precision=precision)
        if size is None:
            return name
        stem, dot, ext = name.rpartition(".")
        return f"{stem}.s{int(size)}{dot}{ext}"

    def path(self, run: str | Path, precision: str = "fp32", size: int | None = None) -> Path:
        """The file in run folder `run` (results/runs/<run key>/<model>/)."""
        return layout.RunFolder(Path(run)).file(self.filename(precision, size))

    def exporter_function(self) -> Callable:
        if self.exporter is None:
            raise BenchError(f"{self.name} files are written by training, not exported")
        module, _, function = self.exporter.partition(":")
        return getattr(importlib.import_module(module), function)


FORMATS: tuple[Format, ...] = (
    Format(
        "torch",
        "PyTorch",
        "torch",
        "engines.torch_engine",
        layout.CHECKPOINT_FILE,
        ("fp32", "bf16", "fp16", "tf32"),
        ("cpu", "cuda"),
        description="the training checkpoint, eager PyTorch (or torch.compile)",
    ),
    Format(
        "onnx",
        "ONNX",
        "onnxruntime",
        "engines.onnx_engine",
        layout.ONNX_FILE,
        ("fp32", "fp16", "tf32"),
        ("cpu", "cuda"),
        exporter="engines.export:export_onnx_format",
        export_precisions=("fp32",),
        made_from="torch",
        description="fp32 ONNX, dynamic batch, metadata inside; fp16 only through ORT's TensorRT provider, "
        "tf32 through its CUDA or TensorRT provider",
    ),
    Format(
        "tensorrt",
        "TensorRT",
        "tensorrt",
        "engines.tensorrt_engine",
        layout.ENGINE_FILE,
        ("fp32", "fp16", "int8"),
        ("cuda",),
        exporter="engines.tensorrt_export:export_tensorrt_format",
        export_precisions=("fp32", "fp16", "int8"),
        made_from="onnx",
        description="a TensorRT engine per precision, built from model.onnx (NVIDIA GPU)",
    ),
    Format(
        "onnx-int8",
        "ONNX int8",
        "onnxruntime",
        "engines.onnx_engine",
        "model.ort-int8.onnx",
        ("int8",),
        ("cpu",),
        exporter="engines.quantize:export_onnx_int8_format",
        export_precisions=("int8",),
        made_from="onnx",
        description="ONNX Runtime static int8 (QDQ, per-channel), calibrated on training images",
    ),
    Format(
        "openvino",
        "OpenVINO",
        "openvino",
        "engines.openvino_engine",
        "model.openvino.xml",
        ("fp32", "bf16", "int8"),
        ("cpu",),
        exporter="engines.openvino_export:export_openvino_format",
        export_precisions=("fp32", "int8"),
        made_from="onnx",
        precision_files=(("int8", "model.openvino.int8.xml"),),
        description="OpenVINO IR with fp32 weights (bf16: the same IR run in bf16 where the CPU has it); "
        "int8 quantized by NNCF on training images",
    ),
)
BY_NAME = {f.name: f for f in FORMATS}
BY_ENGINE: dict[str, Format] = {}
for _f in FORMATS:
    BY_ENGINE.setdefault(_f.engine, _f)  # an engine's first row: its module, its devices


def get(name: str) -> Format:
    if name not in BY_NAME:
        raise BenchError(f"unknown format {name!r}: choose one of {', '.join(BY_NAME)}")
    return BY_NAME[name]


def of_engine(engine: str, precision: str | None = None) -> Format:
    """The engine's row; with `precision`, the first of its rows that offers it (onnxruntime int8: onnx-int8)."""
    if engine not in BY_ENGINE:
        raise BenchError(f"unknown engine {engine!r}: choose one of {', '.join(BY_ENGINE)}")
    rows = [f for f in FORMATS if f.engine == engine and (precision is None or precision in f.precisions)]
    return rows[0] if rows else BY_ENGINE[engine]


def engine_precisions(engine: str) -> tuple[str, ...]:
    """Every precision any row of `engine` runs."""
    return tuple(dict.fromkeys(p for f in FORMATS if f.engine == engine for p in f.precisions))


def engine_devices(engine: str) -> tuple[str, ...]:
    return tuple(dict.fromkeys(d for f in FORMATS if f.engine == engine for d in f.devices))


def engine_names() -> tuple[str, ...]:
    return tuple(BY_ENGINE)


def exportable() -> tuple[Format, ...]:
    return tuple(f for f in FORMATS if f.exporter)


def precisions() -> tuple[str, ...]:
    """Every precision some engine runs, in table order."""
    return tuple(dict.fromkeys(p for f in FORMATS for p in f.precisions))


def export_precisions() -> tuple[str, ...]:
    return tuple(dict.fromkeys(p for f in exportable() for p in f.export_precisions))


def devices() -> tuple[str, ...]:
    return tuple(dict.fromkeys(d for f in FORMATS for d in f.devices))
