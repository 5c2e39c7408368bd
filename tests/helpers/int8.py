"""int8 against fp32, judged where it can be judged on any x86-64 CPU.

An image whose two best fp32 logits are closer than int8 rounding can move them has no "right" int8 top-1: which
way it falls depends on the int8 kernels (AVX-512 VNNI or AVX2), not on the quantization. So agreement is required
only on images whose fp32 top-2 margin exceeds twice the int8 noise, the noise being measured apart from the test
images, on the file's own calibration images (the 90th percentile of each image's largest logit difference): an
image flips only when its two logits move by more than the margin between them. The check cannot go vacuous: at
least a quarter of the images must clear the margin, else int8 noise swamps the model and the test says so.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

NOISE_QUANTILE = 0.9
MIN_CONFIDENT = 0.25


@dataclass(frozen=True)
class Agreement:
    overall: float  # top-1 agreement on every image (reported, not judged)
    confident: float  # on the images whose fp32 margin exceeds 2 x noise
    confident_images: int
    images: int
    noise: float  # the 90th percentile of max |int8 - fp32| per calibration image

    def __str__(self) -> str:
        return (
            f"{self.confident * 100:.1f} % of {self.confident_images} confident images "
            f"(margin > 2 x {self.noise:.2g}; {self.overall * 100:.1f} % of all {self.images})"
        )


def logits(engine, batches) -> torch.Tensor:
    """The engine's logits over batches of images (torch tensors or numpy arrays, as calibration keeps them)."""
    with torch.inference_mode():
        return torch.cat([engine(torch.as_tensor(b)).float() for b in batches])


def margins(fp32: torch.Tensor) -> torch.Tensor:
    top2 = fp32.topk(2, dim=1).values
    return top2[:, 0] - top2[:, 1]


def int8_noise(int8, fp32, calibration_batches) -> float:
    """How far int8 rounding moves a logit: measured on the calibration images, not on the images judged."""
    diff = (logits(int8, calibration_batches) - logits(fp32, calibration_batches)).abs().amax(dim=1)
    return float(torch.quantile(diff, NOISE_QUANTILE))


def agreement(int8_logits: torch.Tensor, fp32_logits: torch.Tensor, noise: float) -> Agreement:
    same = int8_logits.argmax(1) == fp32_logits.argmax(1)
    confident = margins(fp32_logits) > 2 * noise
    n = int(confident.sum())
    return Agreement(
        float(same.float().mean()),
        float(same[confident].float().mean()) if n else float("nan"),
        n,
        len(same),
        noise,
    )


def assert_agrees(result: Agreement, at_least: float = 0.9) -> None:
    assert result.confident_images >= MIN_CONFIDENT * result.images, (
        f"int8 noise swamps the model's margins: only {result.confident_images} of {result.images} images are "
        f"confident ({result})"
    )
    assert result.confident >= at_least, str(result)
