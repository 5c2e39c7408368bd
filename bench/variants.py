"""The engine axis of the compare matrix: which engine, on which device, at which precision, through which
provider. Each variant names its row of the formats table (engines.formats), which says which file it loads
and which engine runs it. A `Variant` is one column group of the paper-style table ("ort-cpu fp32", "trt fp16", ...).

Defaults follow what the machine has: on a CPU-only machine torch eager and ONNX Runtime's CPU provider; with a
CUDA device also torch on CUDA (fp32, fp16), ONNX Runtime's CUDA and TensorRT providers, and TensorRT fp32/fp16.
A variant the user names explicitly is always run, so that a missing GPU, provider or library shows up as an
error row with its reason instead of a silently shorter table.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from engines import formats
from engines.base import EngineOptions, engine_names
from mldrnet.errors import BenchError


def is_reference(engine: str, device: str, precision: str) -> bool:
    """PyTorch fp32 eager on the CPU: the reference every other row's parity is measured against."""
    return (engine, device, precision) == ("torch", "cpu", "fp32")


@dataclass(frozen=True)
class Variant:
    label: str  # short name shown in tables, e.g. "ort-cpu"
    format: str  # a row of the formats table (engines.formats): which file, which engine loads it
    device: str
    precision: str
    provider: str | None = None  # onnxruntime only
    compile: bool = False  # torch only: torch.compile (inductor) instead of eager

    @property
    def engine(self) -> str:
        return formats.get(self.format).engine

    def options(
        self, threads: int | None, max_batch: int | None = None, batches: tuple[int, ...] | None = None
    ) -> EngineOptions:
        """`max_batch`: the largest batch the row will run; `batches`: the batch sizes it times (TensorRT, engine or
        ORT provider, gets one optimisation profile tuned at each; None: 1 and max_batch)."""
        return EngineOptions(
            device=self.device,
            precision=self.precision,
            threads=threads,
            provider=self.provider,
            compile=self.compile,
            max_batch=max_batch,
            profile_batches=batches,
        )

    @property
    def is_reference(self) -> bool:
        return is_reference(self.engine, self.device, self.precision) and not self.compile


VARIANTS: tuple[Variant, ...] = (
    Variant("torch-cpu", "torch", "cpu", "fp32"),
    Variant("ort-cpu", "onnx", "cpu", "fp32", "cpu"),
    Variant("torch-cuda", "torch", "cuda", "fp32"),
    Variant("torch-cuda", "torch", "cuda", "fp16"),
    Variant("torch-cuda", "torch", "cuda", "tf32"),  # TF32 tensor cores, its own row: fp32 rows are IEEE fp32
    Variant("ort-cuda", "onnx", "cuda", "fp32", "cuda"),
    Variant("ort-cuda", "onnx", "cuda", "tf32", "cuda"),
    Variant("ort-trt", "onnx", "cuda", "fp32", "tensorrt"),
    Variant("trt", "tensorrt", "cuda", "fp32"),
    Variant("trt", "tensorrt", "cuda", "fp16"),
    # explicit Q/DQ int8 (model.trt-int8.onnx, calibrated on training images on first use): named only, like the
    # CPU int8 rows; bench check fails it below its int8 agreement limit (99 % top-1 with PyTorch fp32)
    Variant("trt", "tensorrt", "cuda", "int8"),
    # named only (`--engines torch-cpu-compile` / `torch-cuda-compile`), never a default: torch.compile rows
    Variant("torch-cpu-compile", "torch", "cpu", "fp32", compile=True),
    Variant("torch-cuda-compile", "torch", "cuda", "fp32", compile=True),
    # not in the default CPU selection (the CI gate compares torch-cpu + ort-cpu fp32 with its baseline): run when
    # named (`--engines ov-cpu`, `--engines openvino`, `--engines all`, `--engines ort-cpu --precisions int8`);
    # int8 files are calibrated on training images on first use
    Variant("ort-cpu", "onnx-int8", "cpu", "int8", "cpu"),
    Variant("ov-cpu", "openvino", "cpu", "fp32"),
    Variant("ov-cpu", "openvino", "cpu", "int8"),
)
OPT_IN = frozenset({"torch-cpu-compile", "torch-cuda-compile"})  # run only when named (compiling takes minutes)
# variants outside the default selection that `all` and engine names still pick
NOT_DEFAULT = frozenset({("ort-cpu", "int8"), ("ov-cpu", "fp32"), ("ov-cpu", "int8"), ("trt", "int8")})
LABELS = tuple(dict.fromkeys(v.label for v in VARIANTS))


def cuda_available() -> bool:
    return torch.cuda.is_available()


def default_variants(gpu: bool) -> list[Variant]:
    return [
        v
        for v in VARIANTS
        if (gpu or v.device == "cpu") and v.label not in OPT_IN and (v.label, v.precision) not in NOT_DEFAULT
    ]


def _label_variants(label: str, precisions: list[str] | None) -> list[Variant]:
    """A label's variants: those of the default selection (ort-cpu: fp32), its others (ort-cpu int8) when
    --precisions names them; a label with no default variant (ov-cpu) gives them all."""
    ours = [v for v in VARIANTS if v.label == label]
    usual = [v for v in ours if (v.label, v.precision) not in NOT_DEFAULT]
    return [v for v in ours if v in usual or not usual or v.precision in (precisions or ())]


def select_variants(
    names: list[str] | None = None, precisions: list[str] | None = None, gpu: bool | None = None
) -> list[Variant]:
    """Variants for `--engines` (variant labels, engine names, or "all") and `--precisions`.

    An engine name selects its variants that this machine can run (all of them if it can run none, so the
    reason shows as error rows); a label is taken as asked.
    """
    gpu = cuda_available() if gpu is None else gpu
    if not names:
        chosen = default_variants(gpu)
    else:
        chosen = []
        for name in names:
            if name == "all":
                picked = [v for v in VARIANTS if v.label not in OPT_IN]
            elif name in LABELS:
                picked = _label_variants(name, precisions)
            elif name in engine_names():
                picked = [v for v in VARIANTS if v.engine == name and v.label not in OPT_IN]
                picked = [v for v in picked if gpu or v.device == "cpu"] or picked
            else:
                raise BenchError(
                    f"unknown engine {name!r}: choose from {', '.join(LABELS + tuple(engine_names()))}, all"
                )
            chosen += [v for v in picked if v not in chosen]
    if precisions:
        chosen = [v for v in chosen if v.precision in precisions]
    if not chosen:
        raise BenchError("no engine variant left to run: check --engines and --precisions")
    # the reference first: its logits are the parity reference for the rows after it
    return sorted(chosen, key=lambda v: not v.is_reference)
