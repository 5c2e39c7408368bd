"""Parity of an engine against PyTorch eager: top-1 agreement and the largest logit difference.

The tolerance scales with the logits (`atol + rtol * max|reference|`): an untrained ResNet-101 emits logits in
the thousands, a trained MldrNet single digits, and fp32 kernels differ by a relative ~1e-6 either way. A wrong
input layout, normalization or weight shows up as a relative difference of order 1, far above it.
"""

from __future__ import annotations

import os
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Callable, Iterable

import torch

from mldrnet.errors import BenchError

FP32_RTOL, FP32_ATOL = 1e-3, 1e-4


@dataclass(frozen=True)
class ParityReport:
    images: int
    top1_agreement: float  # fraction of images whose argmax is the same as the reference's
    max_abs_diff: float
    mean_abs_diff: float
    tolerance: float  # max_abs_diff allowed: atol + rtol * max |reference logit|

    @property
    def ok(self) -> bool:
        # written so that NaN fails; within the tolerance, a top-1 flip can only be a near tie
        return self.max_abs_diff <= self.tolerance

    def summary(self) -> str:
        return (f"top-1 agreement {self.top1_agreement:.2%} on {self.images} images, "
                f"max |logit diff| {self.max_abs_diff:.3g} (tolerance {self.tolerance:.3g})")

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def compare_logits(reference: torch.Tensor, candidate: torch.Tensor, rtol: float = FP32_RTOL,
                   atol: float = FP32_ATOL) -> ParityReport:
    reference, candidate = reference.float().cpu(), candidate.float().cpu()
    if reference.shape != candidate.shape:
        raise BenchError(f"engine output has shape {tuple(candidate.shape)}, PyTorch {tuple(reference.shape)}")
    diff = (reference - candidate).abs()
    agree = (reference.argmax(1) == candidate.argmax(1)).float().mean().item()
    return ParityReport(images=reference.shape[0], top1_agreement=agree, max_abs_diff=diff.max().item(),
                        mean_abs_diff=diff.mean().item(), tolerance=atol + rtol * reference.abs().max().item())


def check_parity(reference: Callable[[torch.Tensor], torch.Tensor], candidate: Callable[[torch.Tensor], torch.Tensor],
                 batches: Iterable[torch.Tensor], rtol: float = FP32_RTOL, atol: float = FP32_ATOL) -> ParityReport:
    """Run both on every batch (CPU float32 in, logits out) and compare all logits at once."""
    refs, cands = [], []
    with torch.inference_mode():
        for batch in batches:
            refs.append(reference(batch).float().cpu())
            cands.append(candidate(batch).float().cpu())
    if not refs:
        raise BenchError("no images for the parity check")
    return compare_logits(torch.cat(refs), torch.cat(cands), rtol, atol)


def eager(model: torch.nn.Module) -> Callable[[torch.Tensor], torch.Tensor]:
    """The reference: the model in eval mode on its own device, fp32."""
    model = model.eval()
    device = next(model.parameters()).device
    return lambda batch: model(batch.to(device))


def split_images(ckpt: dict, split: str, n: int, results_root: str | os.PathLike,
                 data_root: str | os.PathLike | None = None, batch_size: int = 16) -> list[torch.Tensor]:
    """Up to `n` images of the checkpoint's dataset split ("test" for parity, "train" for int8 calibration),
    spread evenly over the split, with the checkpoint's evaluation preprocessing, as (B, 3, H, W) batches."""
    from mldrnet.checkpoint import preprocessing_of
    from mldrnet.data import DataConfig, make_loader, prepare_data

    if "data_config" not in ckpt:
        raise BenchError(f"the {ckpt.get('model', '?')} checkpoint records no data_config, so its {split} split "
                         "cannot be rebuilt: retrain it with the current `bench train`")
    cfg = DataConfig.from_checkpoint(ckpt, data_root=data_root)
    samples = getattr(prepare_data(cfg, Path(results_root)), split)
    if not samples:
        raise BenchError(f"the {split} split of {cfg.dataset} is empty: check --data-root")
    step = max(1, len(samples) // n)  # splits are often ordered by class: take every step-th, not the first n
    chosen = samples[::step][:n]
    batches = [images for images, _labels, _bad in make_loader(chosen, preprocessing_of(ckpt), train=False,
                                                                batch_size=batch_size)]
    batches = [b for b in batches if len(b)]
    if not batches:
        raise BenchError(f"none of the {len(chosen)} {split} images of {cfg.dataset} could be read")
    return batches
