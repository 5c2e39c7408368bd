"""Parity of an engine against PyTorch eager: run both on the same batches, then `mldrnet.evaluation.metrics.parity`.

`parity_batches` picks the images: the checkpoint's own split through `Checkpoint.eval_set`, the one loader of
evaluation images, so export's check and compare's accuracy read images the same way.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Iterable

import torch

from mldrnet.checkpoint import Checkpoint
from mldrnet.data.evalset import for_checkpoint
from mldrnet.errors import BenchError
from mldrnet.evaluation.metrics import FP32_ATOL, FP32_RTOL, ParityReport, parity

__all__ = ["FP32_ATOL", "FP32_RTOL", "ParityReport", "check_parity", "eager", "parity_batches"]


def check_parity(
    reference: Callable[[torch.Tensor], torch.Tensor],
    candidate: Callable[[torch.Tensor], torch.Tensor],
    batches: Iterable[torch.Tensor],
    rtol: float = FP32_RTOL,
    atol: float = FP32_ATOL,
) -> ParityReport:
    """Run both on every batch (CPU float32 in, logits out) and compare all logits at once."""
    refs, cands = [], []
    with torch.inference_mode():
        for batch in batches:
            refs.append(reference(batch).float().cpu())
            cands.append(candidate(batch).float().cpu())
    if not refs:
        raise BenchError("no images for the parity check")
    return parity(torch.cat(refs).numpy(), torch.cat(cands).numpy(), rtol, atol)


def eager(model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """The reference: the model in eval mode on its own device, fp32."""
    model = model.eval()
    device = next(model.parameters()).device
    return lambda batch: model(batch.to(device))


def parity_batches(
    ckpt: Checkpoint,
    split: str,
    n: int,
    results_root: str | os.PathLike,
    data_root: str | os.PathLike | None = None,
    batch_size: int = 16,
) -> list[torch.Tensor]:
    """Up to `n` images (a seeded sample) of the checkpoint's dataset split ("test" for parity, "train" for int8
    calibration), with the checkpoint's evaluation preprocessing, as (B, 3, H, W) batches."""
    ev = for_checkpoint(ckpt, split, results_root, data_root=data_root, batch_size=batch_size, max_images=n)
    batches = [images for images, _labels in ev.batches() if len(images)]
    if not batches:
        raise BenchError(f"none of the {ev.count} {split} images of {ev.dataset} could be read")
    return batches
