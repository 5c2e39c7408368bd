"""Any image-classifier ONNX that bench did not write (`bench mlperf --onnx FILE`), behind the Engine interface.

bench's own ONNX engine (engines.onnx_engine) runs only files bench exported: it reads the model's classes and
preprocessing from the metadata it wrote there. A file from elsewhere (torchvision's, a model zoo's) has none,
so this small engine reads what the graph itself says:
- the input: one float tensor (N, 3, H, W); H and W from the file, or `--input-size` where they are dynamic (a
  size that disagrees with a fixed one is refused); a fixed batch N is respected (larger batches run in chunks);
- the classes: the output's last dimension; their names from `--labels FILE` (one name a line, in output order).
Images get the usual ImageNet preprocessing at that size (resize to size x 256/224, centre crop, ImageNet mean
and std), which is what torchvision's classifiers and most exported ones expect.

Accuracy needs the model's outputs to mean the dataset's classes: only when every class of the dataset is
named in the labels (case-insensitive) is a prediction mapped to a class; an output with a name the dataset
does not have counts as wrong. Without labels, or when they do not cover the dataset's classes, accuracy is not
reported and the record says why.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np
import torch

from engines.base import cpu_name
from mldrnet.errors import BenchError


def file_bytes(path: Path) -> int:
    extra = path.with_name(path.name + ".data")  # external weights, where the exporter wrote any
    return path.stat().st_size + (extra.stat().st_size if extra.is_file() else 0)


class ForeignOnnx:
    name = "onnxruntime"
    meta = None

    def __init__(self, path: str | os.PathLike, threads: int, input_size: int | None = None) -> None:
        import onnxruntime as ort

        self.path = Path(path)
        if not self.path.is_file():
            raise BenchError(f"ONNX file {self.path} does not exist")
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        so.log_severity_level = 3
        try:
            self.session = ort.InferenceSession(str(self.path), so, providers=["CPUExecutionProvider"])
        except Exception as e:
            raise BenchError(f"onnxruntime cannot load {self.path}: {str(e).strip().splitlines()[0]}") from e
        self.threads = threads
        inputs = self.session.get_inputs()
        if len(inputs) != 1:
            raise BenchError(f"{self.path.name} takes {len(inputs)} inputs: an image classifier takes one (N, 3, H, W)")
        x = inputs[0]
        shape = list(x.shape)
        if len(shape) != 4 or shape[1] not in (3, "3") or x.type != "tensor(float)":
            raise BenchError(
                f"{self.path.name}'s input is {x.type} {shape}: an image classifier takes float (N, 3, H, W)"
            )
        self.input_name, self.output_name = x.name, self.session.get_outputs()[0].name
        fixed = [d for d in shape[2:] if isinstance(d, int) and d > 0]
        if len(fixed) == 2 and fixed[0] != fixed[1]:
            raise BenchError(f"{self.path.name} takes {fixed[0]}x{fixed[1]} images: only square inputs are supported")
        if fixed and input_size is not None and input_size != fixed[0]:
            raise BenchError(f"{self.path.name} takes {fixed[0]} px images, not --input-size {input_size}")
        size = fixed[0] if fixed else input_size
        if size is None:
            raise BenchError(f"{self.path.name}'s input size is dynamic: give it with --input-size S")
        self.size = int(size)
        self.fixed_batch = shape[0] if isinstance(shape[0], int) and shape[0] > 0 else None
        out_shape = self.session.get_outputs()[0].shape
        last = out_shape[-1] if out_shape else None
        self.classes = (
            int(last) if isinstance(last, int) else int(self(torch.zeros(1, 3, self.size, self.size)).shape[1])
        )

    def _run(self, x: np.ndarray) -> np.ndarray:
        return self.session.run([self.output_name], {self.input_name: x})[0]

    def __call__(self, batch: torch.Tensor) -> torch.Tensor:
        x = batch.detach().to("cpu", torch.float32).contiguous().numpy()
        n = self.fixed_batch
        if n is None or x.shape[0] == n:
            out = self._run(x)
        else:  # a file made for batch n: run in chunks of n (the last one padded)
            parts = []
            for i in range(0, x.shape[0], n):
                chunk = x[i : i + n]
                pad = n - chunk.shape[0]
                if pad:
                    chunk = np.concatenate([chunk, np.zeros((pad, *chunk.shape[1:]), np.float32)])
                parts.append(self._run(chunk)[: n - pad])
            out = np.concatenate(parts)
        return torch.from_numpy(np.asarray(out, np.float32).reshape(x.shape[0], -1))

    def synchronize(self) -> None:
        pass

    def warmup(self, batch_size: int, size: int, iterations: int = 3) -> None:
        for _ in range(iterations):
            self(torch.zeros(batch_size, 3, size, size))

    def describe(self) -> dict[str, Any]:
        import onnxruntime as ort

        return {
            "engine": self.name,
            "provider": self.session.get_providers()[0],
            "device": cpu_name(),
            "threads": self.threads,
            "file": str(self.path),
            "input": {"name": self.input_name, "size": self.size, "fixed_batch": self.fixed_batch},
            "classes": self.classes,
            "note": "an ONNX file bench did not write: ImageNet preprocessing, classes from --labels",
            "versions": {"onnxruntime": ort.__version__},
        }


def read_labels(path: str | os.PathLike) -> list[str]:
    """One class name a line (blank lines and '#' comments skipped), in the model's output order."""
    try:
        lines = Path(path).read_text().splitlines()
    except (OSError, UnicodeDecodeError) as e:
        raise BenchError(f"cannot read the labels file {path}: {e}") from e
    labels = [line.strip() for line in lines if line.strip() and not line.lstrip().startswith("#")]
    if not labels:
        raise BenchError(f"the labels file {path} names no class")
    return labels


def mapped_predictions(logits: np.ndarray, mapping: np.ndarray, classes: int) -> np.ndarray:
    """Each image's dataset class from the model's top output (label_map's `mapping`); an output the dataset has
    no class for becomes `classes` (one past the last: a wrong answer of its own, never a dataset class)."""
    mapped = mapping[np.asarray(logits).argmax(1)]
    return np.where(mapped < 0, classes, mapped)


def label_map(labels: list[str] | None, outputs: int, classes: tuple[str, ...], dataset: str):
    """(output index -> dataset class index, -1 for a class the dataset lacks; or None) and why not, if None."""
    if labels is None:
        return None, (
            f"accuracy not reported: without --labels the model's {outputs} outputs cannot be matched to "
            f"{dataset}'s classes"
        )
    if len(labels) != outputs:
        return None, f"accuracy not reported: --labels names {len(labels)} classes, the model has {outputs} outputs"
    index = {c.lower(): i for i, c in enumerate(classes)}
    missing = [c for c in classes if c.lower() not in {name.lower() for name in labels}]
    if missing:
        return None, (
            f"accuracy not reported: the labels do not match {dataset}'s classes ({', '.join(missing)} not among "
            f"the model's {outputs} labels)"
        )
    return np.array([index.get(name.lower(), -1) for name in labels], dtype=np.int64), None
