"""A checkpoint's model, built from the registry with its weights loaded: what every consumer of `best.pt` calls."""

from __future__ import annotations

from torch import nn

from mldrnet.checkpoint import Checkpoint
from mldrnet.errors import BenchError
from mldrnet.io.limits import MAX_CROP
from mldrnet.models.registry import create, info


def load(ckpt: Checkpoint) -> nn.Module:
    """The checkpoint's model, weights loaded, in eval mode; non-finite weights are refused (require_finite)."""
    ckpt.require_finite()
    where = ckpt.path or f"the {ckpt.model} checkpoint"
    info(ckpt.model)  # an unknown model is named as such
    try:
        model = create(ckpt.model, num_classes=len(ckpt.classes), **ckpt.model_config)
    except BenchError as e:
        raise BenchError(f"{where}: its model_config does not build {ckpt.model} ({e}): train it again") from None
    try:
        model.load_state_dict(ckpt.state_dict)
    except (RuntimeError, KeyError, TypeError, ValueError) as e:  # missing, unexpected or wrong-shaped tensors
        first = next((line.strip() for line in str(e).splitlines()[1:] if line.strip()), str(e).strip()[:200])
        raise BenchError(
            f"{where}: its weights do not fit {ckpt.model} with {len(ckpt.classes)} classes ({first[:200]}): a damaged "
            "checkpoint or one of another model; train it again"
        ) from None
    return model.eval()


def check_input_size(name: str, size: int, option: str = "--crop") -> int:
    """`size` when model `name` runs at it (its zoo entry's min_crop up to MAX_CROP), else one BenchError line."""
    entry = info(name)
    if not entry.min_crop <= size <= MAX_CROP:
        raise BenchError(
            f"{option} {size}: {name} needs an input of {entry.min_crop} to {MAX_CROP} px"
            + (f" (its smallest: {entry.min_crop} px)" if size < entry.min_crop else "")
        )
    return size
