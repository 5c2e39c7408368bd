"""A checkpoint's model, built from the registry with its weights loaded: what every consumer of `best.pt` calls."""

from __future__ import annotations

from torch import nn

from mldrnet.checkpoint import Checkpoint
from mldrnet.models.registry import create


def load(ckpt: Checkpoint) -> nn.Module:
    """The checkpoint's model, weights loaded, in eval mode; non-finite weights are refused (require_finite)."""
    ckpt.require_finite()
    model = create(ckpt.model, num_classes=len(ckpt.classes), **ckpt.model_config)
    model.load_state_dict(ckpt.state_dict)
    return model.eval()
