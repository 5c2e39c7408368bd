"""Model cost figures measured on the module itself: parameters, FLOPs per image, output shape."""

from __future__ import annotations

from dataclasses import dataclass

import torch
from torch import nn
from torch.utils.flop_counter import FlopCounterMode


@dataclass(frozen=True)
class ModelProfile:
    params: int
    gflops: float  # forward FLOPs for one image, one multiply-add = 2 FLOPs (torch's counter)
    output_shape: tuple[int, ...]  # for a batch of one


def count_params(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@torch.no_grad()
def profile(model: nn.Module, size: int) -> ModelProfile:
    was_training = model.training
    model.eval()
    try:
        with FlopCounterMode(display=False) as counter:
            out = model(torch.zeros(1, 3, size, size))
    finally:
        model.train(was_training)
    return ModelProfile(count_params(model), counter.get_total_flops() / 1e9, tuple(out.shape))
