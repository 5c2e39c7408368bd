"""Emotion distributions for image files through any engine (`bench predict`).

The engine is loaded from its own file in the run folder (best.pt, model.onnx or model.<precision>.engine) and
the evaluation preprocessing comes from that file's metadata, so predictions match what compare measured. An
exported file must be the export of the best.pt beside it as it is now (the checkpoint's sha256 it records,
engines.export.require_same_checkpoint): predict never exports, so a stale or foreign file is refused in one line
saying how to export it again, never used. An image file that cannot be read becomes a prediction with an error;
the others are still classified.
"""

from __future__ import annotations

import math
import os
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import torch

from engines import formats
from engines.base import Engine, EngineOptions, create_engine
from mldrnet.checkpoint import ModelMeta
from mldrnet.data.transforms import eval_transform
from mldrnet.errors import BenchError


@dataclass(frozen=True)
class Prediction:
    path: str
    probabilities: dict[str, float] | None  # class name -> probability, in label order
    top: str | None
    error: str | None = None  # one line; None when it was classified

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def confidence(self) -> float | None:
        return self.probabilities[self.top] if self.probabilities and self.top is not None else None

    def to_dict(self) -> dict:
        """Valid JSON whatever happened: a number that is not finite (never made by predict_images) is null."""
        probabilities = None if self.probabilities is None else {k: _finite(v) for k, v in self.probabilities.items()}
        return {
            "path": self.path,
            "top": self.top,
            "confidence": _finite(self.confidence),
            "probabilities": probabilities,
            "error": self.error,
        }


def _finite(v: float | None) -> float | None:
    return v if v is None or math.isfinite(v) else None


def predict_images(
    engine: Engine, meta: ModelMeta, paths: Sequence[str | os.PathLike], batch_size: int = 16
) -> list[Prediction]:
    """One Prediction per path, in order."""
    from mldrnet.data import UnreadableImage, decode_image

    transform = eval_transform(meta.preprocessing)
    results: list[Prediction | None] = [None] * len(paths)
    readable: list[tuple[int, torch.Tensor]] = []
    for i, path in enumerate(paths):
        try:
            # the same decode as the data loader (reduced-scale JPEG decode down to the resize target), so a
            # prediction matches the evaluation of the same file
            image = decode_image(path, min_size=meta.preprocessing.resize_to)
        except UnreadableImage as e:  # one line ("path: reason"), and the other files go on
            results[i] = Prediction(str(path), None, None, f"cannot classify {e}")
            continue
        readable.append((i, transform(image)))
    for start in range(0, len(readable), batch_size):
        chunk = readable[start : start + batch_size]
        probs = torch.softmax(engine(torch.stack([x for _, x in chunk])).float(), dim=1)  # (B, num_classes)
        if not bool(torch.isfinite(probs).all()):  # broken weights (e.g. an export from a diverged training)
            raise BenchError(
                f"the {meta.model} model's outputs are not finite numbers (NaN or inf): its weights are "
                f"broken; train {meta.model} again (with a lower --lr) and re-export it"
            )
        for (i, _), p in zip(chunk, probs):
            dist = {name: float(v) for name, v in zip(meta.classes, p.tolist())}
            results[i] = Prediction(str(paths[i]), dist, meta.classes[int(p.argmax())])
    return [r for r in results if r is not None]  # every index was filled: a Prediction or its error


def load_engine(engine: str, run: Path, options: EngineOptions = EngineOptions()) -> Engine:
    """The engine from its own file in run folder `run`, with the metadata that file carries."""
    # each engine says itself what is missing (its file, a GPU, a package) and how to make it
    fmt = formats.of_engine(engine, options.precision)
    path = fmt.path(run, options.precision)
    if fmt.exporter is not None:
        from engines.export import require_same_checkpoint

        require_same_checkpoint(path, formats.get("torch").path(run), fmt)
    loaded = create_engine(engine, path, options)
    if loaded.meta is None:
        raise BenchError(f"{path} carries no model metadata: re-export it")
    return loaded


def predict_files(
    paths: Sequence[str | os.PathLike],
    engine: str,
    run: Path,
    options: EngineOptions = EngineOptions(),
    batch_size: int = 16,
) -> tuple[list[Prediction], dict]:
    """(one Prediction per path, the engine's describe()) for the model trained in run folder `run`."""
    loaded = load_engine(engine, run, options)
    return predict_images(loaded, loaded.file_meta, paths, batch_size), loaded.describe()
