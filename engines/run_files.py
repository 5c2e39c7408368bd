"""The files of a trained run, results/runs/<run key>/<model>/: which file each engine loads, whether an
exported file is still current, and which models have been trained.

    best.pt                 the checkpoint (torch engine), written by training
    model.onnx              fp32, dynamic batch (onnxruntime engine)
    model.<precision>.engine + model.<precision>.json  (tensorrt engine; the JSON records its batch range)

export, compare and predict all find files through here, so the names live in one place.
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable

from mldrnet.errors import BenchError

CHECKPOINT = "best.pt"
# engine name -> its file in a run folder, by precision
ARTIFACTS: dict[str, Callable[[str], str]] = {
    "torch": lambda precision: CHECKPOINT,
    "onnxruntime": lambda precision: "model.onnx",
    "tensorrt": lambda precision: f"model.{precision}.engine",
}


def artifact_path(run: Path, engine: str, precision: str = "fp32") -> Path:
    if engine not in ARTIFACTS:
        raise BenchError(f"unknown engine {engine!r}: choose one of {', '.join(ARTIFACTS)}")
    return Path(run) / ARTIFACTS[engine](precision)


def checkpoint_path(results_root: str | Path, model: str, dataset: str) -> Path:
    """The checkpoint export, compare and predict use: results_root/runs/<dataset>/<model>/best.pt."""
    from bench.paths import run_dir

    return run_dir(Path(results_root), model, dataset) / CHECKPOINT


def trained_models(results_root: str | Path, dataset: str) -> list[str]:
    """Zoo models, in zoo order, that have a checkpoint for `dataset` under results_root."""
    from mldrnet import zoo

    return [n for n in zoo.names() if checkpoint_path(results_root, n, dataset).is_file()]


def is_current(path: Path, checkpoint: Path, max_batch: int | None = None) -> bool:
    """Whether the file exported from `checkpoint` can be used as it is: it exists and is not older than the
    checkpoint (else the model was retrained since), and a TensorRT engine was built for batches up to
    `max_batch` (an engine built for fewer would run every larger batch in chunks and time the wrong thing)."""
    path = Path(path)
    if not path.is_file() or path.stat().st_mtime < Path(checkpoint).stat().st_mtime:
        return False
    if max_batch is None or path.suffix != ".engine":
        return True
    from engines.tensorrt_build import read_engine_meta  # no tensorrt import: the metadata is a JSON file

    try:
        _, record = read_engine_meta(path)
    except BenchError:  # no or foreign metadata: rebuilding writes it
        return False
    return int(record.get("max_batch") or 0) >= max_batch
