"""Checkpoint files, typed: `Checkpoint.load(path)` is the one reader, `Checkpoint.save(path)` the one writer.
The file format only: `mldrnet.models.load(ckpt)` builds its model, `mldrnet.data.evalset.for_checkpoint(ckpt)`
its evaluation images, `mldrnet.training.hooks.describe_checkpoint(ckpt)` says how it was trained.

On disk a checkpoint is a plain dict (tensors, numbers, strings, lists, dicts only, so `torch.load(...,
weights_only=True)` reads it, never a code-executing pickle), written atomically:

    format          "bench-checkpoint/1"
    model           zoo name, e.g. "mldrnet"
    model_config    keyword arguments for `models.create(model, num_classes=..., **model_config)`
    classes         class names, in label order
    preprocessing   `Preprocessing.to_dict()`
    state_dict      the model's weights
    ... plus what training adds (data and train configs, split and config hashes, epoch, history, and in
    last.pt the optimizer and RNG state for --resume).

`ModelMeta` is the part every engine file carries too (ONNX metadata, the JSON beside a TensorRT engine): which
model, its classes and its evaluation preprocessing. `best.pt` (best val accuracy, what export, compare and
predict use) and `last.pt` (resume) sit in the run folder (mldrnet.io.layout).
"""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

import torch
from torch import nn

from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError
from mldrnet.io import limits
from mldrnet.io.atomic import atomic_open
from mldrnet.io.layout import NAME
from mldrnet.io.provenance import near_chance

FORMAT = "bench-checkpoint/1"


@dataclass(frozen=True)
class ModelMeta:
    """What a consumer needs besides the weights: which model, its classes and its evaluation preprocessing."""

    model: str
    classes: tuple[str, ...]
    preprocessing: Preprocessing
    model_config: dict = field(default_factory=dict)

    @property
    def input_shape(self) -> tuple[int, int, int]:
        return (3, self.preprocessing.crop, self.preprocessing.crop)

    def to_dict(self) -> dict:
        return {
            "model": self.model,
            "classes": list(self.classes),
            "input_size": list(self.input_shape),
            "preprocessing": self.preprocessing.to_dict(),
            "model_config": dict(self.model_config),
        }

    @classmethod
    def from_dict(cls, d: dict, where: str = "the model metadata") -> ModelMeta:
        """`where` names the file it came from, for the error when it is incomplete (a file from another bench)."""
        try:
            return cls(
                d["model"],
                tuple(d["classes"]),
                Preprocessing.from_dict(d["preprocessing"]),
                dict(d.get("model_config") or {}),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise BenchError(
                f"{where} is incomplete or malformed ({type(e).__name__}: {e}): re-export the model "
                "with `bench export MODEL`"
            ) from e


@dataclass(frozen=True)
class Checkpoint:
    model: str
    classes: tuple[str, ...]
    preprocessing: Preprocessing
    state_dict: dict
    model_config: dict = field(default_factory=dict)
    # what training adds
    data_config: dict | None = None  # mldrnet.data.DataConfig as a dict: rebuilds the same split
    train_config: dict | None = None
    dataset: str | None = None
    split_hash: str | None = None
    config_hash: str | None = None
    epoch: int = 0
    best_val_acc: float | None = None
    best_epoch: int | None = None
    test_acc: float | None = None
    history: list = field(default_factory=list)
    optimizer: dict | None = None  # last.pt only
    rng: torch.Tensor | None = None  # last.pt only
    path: Path | None = field(default=None, compare=False)  # where it was loaded from (not saved)

    # --- the file ------------------------------------------------------------------------------------------

    @classmethod
    def load(cls, path: str | os.PathLike) -> Checkpoint:
        path = Path(path)
        if path.is_dir():
            raise BenchError(f"checkpoint {path} is a folder, not a checkpoint file: give its best.pt")
        if not path.is_file():
            raise BenchError(f"checkpoint {path} does not exist: train the model first (`bench train MODEL`)")
        try:
            raw = torch.load(path, map_location="cpu", weights_only=True)
        except Exception as e:
            raise BenchError(_unreadable(path, e)) from e
        return cls.from_dict(raw, path)

    @classmethod
    def from_dict(cls, raw: Any, path: Path | None = None) -> Checkpoint:
        where = path or "the checkpoint"
        if not isinstance(raw, dict) or raw.get("format") != FORMAT:
            raise BenchError(f"{where} is not a bench checkpoint (expected format {FORMAT})")
        known = {f.name for f in fields(cls)} - {"path"}
        try:
            values = {k: v for k, v in raw.items() if k in known}
            _check_values(values, str(where))
            values["classes"] = tuple(values["classes"])
            values["preprocessing"] = Preprocessing.from_dict(values["preprocessing"])
            values["model_config"] = dict(values.get("model_config") or {})
            return cls(**values, path=path)
        except (KeyError, TypeError, ValueError, AttributeError) as e:
            raise BenchError(
                f"{where} is an incomplete bench checkpoint ({type(e).__name__}: {e}): train the model again"
            ) from e

    def to_dict(self) -> dict:
        out: dict[str, Any] = {"format": FORMAT}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name == "path" or (f.name in ("optimizer", "rng") and value is None):
                continue
            out[f.name] = value
        out["classes"] = list(self.classes)
        out["preprocessing"] = self.preprocessing.to_dict()
        return out

    def save(self, path: str | os.PathLike) -> Path:
        """`torch.save` through mldrnet.io.atomic: a kill never leaves half a checkpoint."""
        save_atomic(self.to_dict(), Path(path))
        return Path(path)

    # --- what readers need -----------------------------------------------------------------------------------

    @property
    def near_chance(self) -> bool:
        """Validation accuracy within a few points of chance: not trained to a usable level."""
        return near_chance(self.best_val_acc, len(self.classes))

    @property
    def meta(self) -> ModelMeta:
        return ModelMeta(self.model, self.classes, self.preprocessing, dict(self.model_config))

    def require_finite(self) -> Checkpoint:
        """Itself, when every weight is a finite number; else a BenchError naming the first broken tensor (every
        output of the model would be NaN; training never saves such weights, so the file is damaged)."""
        for name, value in self.state_dict.items():
            if isinstance(value, torch.Tensor) and value.is_floating_point() and not bool(torch.isfinite(value).all()):
                raise BenchError(
                    f"{self.path or 'the ' + self.model + ' checkpoint'} has non-finite weights (NaN or "
                    f"inf in {name}): bench never saves such weights (a diverging training stops first), so the "
                    f"file is damaged or was not written by `bench train`; train {self.model} again"
                )
        return self

    @classmethod
    def of_model(cls, name: str, model: nn.Module, classes, preprocessing: Preprocessing, **training) -> Checkpoint:
        """A checkpoint of an in-memory model (training, tests), equal to what loading its file gives back."""
        resolved = Preprocessing.from_dict(preprocessing.to_dict())  # resize=None written as its value
        return cls(name, tuple(classes), resolved, model.state_dict(), **training)


def _check_values(values: dict, where: str) -> None:
    """The checkpoint's values held to the bounds the command line holds options to (mldrnet.io.limits): a file
    cannot carry a crop of 0 or 100000, a std of 0, repeated class names, or accuracies that are not fractions."""
    fix = "train the model again (a damaged or hand-edited checkpoint)"
    for name in ("model", "classes", "preprocessing", "state_dict"):
        if name not in values:
            raise BenchError(f"{where} is an incomplete bench checkpoint (it lacks {name}): {fix}")
    if not isinstance(values["model"], str) or not NAME.fullmatch(values["model"]):
        raise BenchError(f"{where}: model is {str(values['model'])[:60]!r}, not a zoo name: {fix}")
    limits.check_classes(values["classes"], where)
    prep = values["preprocessing"]
    if not isinstance(prep, dict):
        raise BenchError(f"{where}: preprocessing is not an object: {fix}")
    limits.check_preprocessing(prep.get("crop"), prep.get("resize"), prep.get("mean"), prep.get("std"), where)
    state = values["state_dict"]
    if not isinstance(state, dict) or not all(
        isinstance(k, str) and (isinstance(v, torch.Tensor) or k.endswith("_extra_state")) for k, v in state.items()
    ):  # a module's extra state (a fitted classifier's arrays and JSON) is its own to check
        raise BenchError(f"{where}: state_dict is not a mapping of names to tensors: {fix}")
    for name in ("model_config", "data_config", "train_config", "optimizer"):
        if values.get(name) is not None and not isinstance(values[name], dict):
            raise BenchError(f"{where}: {name} is not an object: {fix}")
    for name in ("epoch", "best_epoch"):
        v = values.get(name)
        if v is not None and (isinstance(v, bool) or not isinstance(v, int) or not -1 <= v <= 10**6):
            raise BenchError(f"{where}: {name} is {str(v)[:40]!r}, not an epoch number: {fix}")
    for name in ("best_val_acc", "test_acc"):
        v = values.get(name)
        if v is None or (name == "best_val_acc" and v == -1.0):  # -1: no epoch evaluated yet (last.pt)
            continue
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not 0.0 <= v <= 1.0:
            raise BenchError(f"{where}: {name} is {str(v)[:40]!r}, not an accuracy between 0 and 1: {fix}")
    if not isinstance(values.get("history", []), list):
        raise BenchError(f"{where}: history is not a list: {fix}")


def _unreadable(path: Path, e: Exception) -> str:
    """Why torch.load failed, in one line. Torch's weights-only refusal advises loading with weights_only=False
    (running the file's code) or allowlisting its globals: bench never does either, nor suggests it."""
    text = str(e)
    if isinstance(e, IsADirectoryError) or Path(path).is_dir():
        return f"cannot read checkpoint {path}: it is a folder, not a checkpoint file"
    if isinstance(e, OSError):
        return f"cannot read checkpoint {path}: {e.strerror or text}"
    if "weights_only" in text or "Weights only load failed" in text or "WeightsUnpickler" in text:
        found = re.search(r"Unsupported global: GLOBAL ([\w.]+)", text)
        if found:
            return (
                f"refusing checkpoint {path}: it contains pickled Python objects ({found.group(1)}) that would "
                "run code when loaded; bench never loads such files: use a checkpoint written by `bench train`"
            )
        return (
            f"cannot read checkpoint {path}: it is not a checkpoint bench can load safely (corrupt, truncated, "
            "or pickled Python objects): use a checkpoint written by `bench train`"
        )
    first = text.strip().splitlines()[0] if text.strip() else type(e).__name__
    return f"cannot read checkpoint {path}: {first[:200]}"


def save_atomic(obj: dict, path: Path) -> None:
    with atomic_open(path) as f:
        torch.save(obj, f)
