"""The paper's preprocessing (section IV-A), shared by training, every engine, predict and compare.

Resize the shorter side, then take 375x375 crops from the centre and the four corners: training uses a random
one of the five crops plus a horizontal flip; evaluation uses the centre crop, or averages the logits of all
five (`tta="five"`). The resize keeps torchvision's 256/224 ratio between resize and crop, so the corner
crops differ from the centre crop by a margin of ~1/8 of the image; the crop size is configurable (quick
runs use a small one). ImageNet normalization, because the baselines are ImageNet networks.
`Preprocessing` is stored in checkpoints and ONNX metadata so that every consumer rebuilds the same transform.
"""

from __future__ import annotations

from dataclasses import asdict, dataclass

import torch
from torchvision.transforms import v2

IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)
TTA_MODES = ("center", "five")


@dataclass(frozen=True)
class Preprocessing:
    crop: int = 375
    resize: int | None = None  # shorter side before cropping; None = round(crop * 256 / 224)
    mean: tuple[float, float, float] = IMAGENET_MEAN
    std: tuple[float, float, float] = IMAGENET_STD

    @property
    def resize_to(self) -> int:
        return self.resize if self.resize is not None else round(self.crop * 256 / 224)

    def to_dict(self) -> dict:
        return {**asdict(self), "resize": self.resize_to, "mean": list(self.mean), "std": list(self.std)}

    @classmethod
    def from_dict(cls, d: dict) -> Preprocessing:
        return cls(int(d["crop"]), int(d["resize"]), tuple(d["mean"]), tuple(d["std"]))


class RandomFiveCrop(torch.nn.Module):
    """One of the centre and four corner crops, chosen with torch's RNG (so seeds make it repeatable)."""

    def __init__(self, size: int):
        super().__init__()
        self.five = v2.FiveCrop(size)

    def forward(self, img):
        crops = self.five(img)  # (top-left, top-right, bottom-left, bottom-right, centre)
        return crops[int(torch.randint(len(crops), ()))]


class StackCrops(torch.nn.Module):
    """A tuple of PIL crops -> one (N, 3, H, W) tensor (a class, not a lambda, so DataLoader workers can pickle it)."""

    def __init__(self, to_tensor):
        super().__init__()
        self.to_tensor = to_tensor

    def forward(self, crops):
        return torch.stack([self.to_tensor(c) for c in crops])


def _to_tensor(p: Preprocessing) -> list:
    return [v2.ToImage(), v2.ToDtype(torch.float32, scale=True), v2.Normalize(p.mean, p.std)]


def train_transform(p: Preprocessing) -> v2.Compose:
    """PIL RGB image -> (3, crop, crop) float tensor: random five-crop + horizontal flip."""
    return v2.Compose([v2.Resize(p.resize_to), RandomFiveCrop(p.crop), v2.RandomHorizontalFlip(), *_to_tensor(p)])


def eval_transform(p: Preprocessing, tta: str = "center") -> v2.Compose:
    """PIL RGB image -> (3, crop, crop) for tta="center", or (5, 3, crop, crop) for tta="five"."""
    if tta == "center":
        return v2.Compose([v2.Resize(p.resize_to), v2.CenterCrop(p.crop), *_to_tensor(p)])
    if tta == "five":
        return v2.Compose([v2.Resize(p.resize_to), v2.FiveCrop(p.crop), StackCrops(v2.Compose(_to_tensor(p)))])
    raise ValueError(f"tta must be one of {', '.join(TTA_MODES)}, got {tta!r}")
