"""Checkpoint files: written atomically, loaded with `weights_only=True`, self-describing.

A checkpoint is a plain dict (tensors, numbers, strings, lists, dicts only, so `weights_only=True` loads it):

    format          "bench-checkpoint/1"
    model           zoo name, e.g. "mldrnet"
    model_config    keyword arguments for `zoo.create(model, num_classes=..., **model_config)`
    classes         class names, in label order
    preprocessing   `Preprocessing.to_dict()`
    state_dict      the model's weights
    ... plus what training adds (epoch, history, optimizer and RNG state, data and train configs).

`best.pt` (best val accuracy, what export/compare/predict use) and `last.pt` (resume) sit in the run folder.
"""

from __future__ import annotations

import os
from pathlib import Path

import torch
from torch import nn

from mldrnet import zoo
from mldrnet.atomic import atomic_open
from mldrnet.errors import BenchError
from mldrnet.preprocess import Preprocessing

FORMAT = "bench-checkpoint/1"


def save_atomic(obj: dict, path: Path) -> None:
    """`torch.save` through mldrnet.atomic: a kill never leaves half a checkpoint."""
    with atomic_open(path) as f:
        torch.save(obj, f)


def load_checkpoint(path: str | os.PathLike) -> dict:
    path = Path(path)
    if not path.is_file():
        raise BenchError(f"checkpoint {path} does not exist: train the model first (`bench train MODEL`)")
    try:
        ckpt = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as e:
        raise BenchError(f"cannot read checkpoint {path}: {str(e).splitlines()[0]}") from e
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise BenchError(f"{path} is not a bench checkpoint (expected format {FORMAT})")
    return ckpt


def build_model(ckpt: dict) -> nn.Module:
    """The checkpoint's model, weights loaded, in eval mode."""
    model = zoo.create(ckpt["model"], num_classes=len(ckpt["classes"]), **ckpt.get("model_config", {}))
    model.load_state_dict(ckpt["state_dict"])
    return model.eval()


def load_model(path: str | os.PathLike) -> tuple[nn.Module, dict]:
    """(model in eval mode, checkpoint dict) from a checkpoint file."""
    ckpt = load_checkpoint(path)
    return build_model(ckpt), ckpt


def preprocessing_of(ckpt: dict) -> Preprocessing:
    return Preprocessing.from_dict(ckpt["preprocessing"])
