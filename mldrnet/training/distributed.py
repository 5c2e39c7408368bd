"""Single-process or torchrun/DistributedDataParallel: one small context that the training loop asks.

Under `torchrun --nproc-per-node N` the environment carries RANK, WORLD_SIZE and LOCAL_RANK; we then join the
process group (gloo on CPU, nccl on CUDA). Only rank 0 writes files and shows progress.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist

from mldrnet.errors import BenchError


@dataclass(frozen=True)
class DistContext:
    rank: int
    world_size: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def enabled(self) -> bool:
        return self.world_size > 1

    def barrier(self) -> None:
        if self.enabled:
            dist.barrier()


def is_main_process() -> bool:
    """Rank 0, or the only process: the one that prints summaries and writes files."""
    return int(os.environ.get("RANK", "0")) == 0


def resolve_device(preference: str) -> torch.device:
    if preference == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if preference == "cuda" and not torch.cuda.is_available():
        raise BenchError("--device cuda asked for, but torch sees no CUDA GPU: use --device cpu (or auto)")
    if preference not in ("cpu", "cuda"):
        raise BenchError(f"unknown device {preference!r}: choose auto, cpu or cuda")
    return torch.device(preference)


def setup(device_preference: str) -> DistContext:
    device = resolve_device(device_preference)
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size == 1:
        return DistContext(0, 1, device)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    if device.type == "cuda":
        torch.cuda.set_device(local_rank)
        device = torch.device("cuda", local_rank)
    if not dist.is_initialized():
        dist.init_process_group(backend="nccl" if device.type == "cuda" else "gloo")
    return DistContext(rank, world_size, device)


def teardown(ctx: DistContext) -> None:
    if ctx.enabled and dist.is_initialized():
        dist.destroy_process_group()
