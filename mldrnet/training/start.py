"""Where a training starts: from scratch, or from ImageNet weights (the baselines the paper fine-tunes: AlexNet,
VGG-19, ResNet-101 and AlexNet+SVM's backbone; `--pretrained`, `--weights PATH`).

A start is named by what was loaded, not by how it was asked for: torchvision's published weights are
"imagenet:<torchvision's name>" (e.g. imagenet:IMAGENET1K_V1) whether they came from the hub cache or from a file
with the published sha256, and any other file is "imagenet:<its sha256, 12 hex digits>". The name goes into the
run's config hash and how-trained line, and a suffix of it into the run key (the run folder), so that a
fine-tuned run and a from-scratch run of one model sit side by side instead of overwriting each other, and
`bench reproduce --weights` finds the `bench train --weights` run of the same file wherever the file lies.

Models without an ImageNet start (MldrNet, whose trunk is AlexNet-like in shape but initialised from scratch;
the paper CNNs; the hand-crafted and MART baselines) ignore the options: no start, trained from scratch.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from mldrnet import models
from mldrnet.models.torchvision import IMAGENET_ARCH, file_sha256, imagenet_file, published

IMAGENET_KEY = "-imagenet"  # run key suffix of torchvision's default weights; other published weights add their
# name (-imagenet-imagenet1k_v1), a file of its own its hash


@dataclass(frozen=True)
class ImageNetStart:
    file: Path  # the state-dict file loaded
    tag: str  # "imagenet:IMAGENET1K_V1" or "imagenet:<sha256 12 hex>": part of the config hash and how-trained
    key_suffix: str  # appended to the run key: "-imagenet" or "-imagenet-<sha256 8 hex>"


def takes_imagenet(model: str) -> bool:
    """Whether the zoo model can start from ImageNet weights (its builder takes them)."""
    return model in IMAGENET_ARCH and models.takes(model, "weights_path")


def imagenet_start(model: str, pretrained: bool | None, weights_path: str | None) -> ImageNetStart | None:
    """The start of `model` asked for by --pretrained / --weights (None: from scratch, also for a model without an
    ImageNet start). A missing, unreadable or absent-from-the-folder file, or no network and no cache for
    --pretrained, is one BenchError line that names where it looked."""
    if not (pretrained or weights_path) or not takes_imagenet(model):
        return None
    arch = IMAGENET_ARCH[model]
    file = imagenet_file(arch, bool(pretrained), weights_path)
    assert file is not None  # asked for a start: imagenet_file returns a file or raises
    digest = file_sha256(file)
    known = [(i, name) for i, (name, _, prefix) in enumerate(published(arch)) if digest.startswith(prefix)]
    if known:  # torchvision's own file, wherever it lies; its DEFAULT (first) is what --pretrained loads
        i, name = known[0]
        # another published file (ResNet-101's IMAGENET1K_V1 beside the default V2) is another start: its own folder
        return ImageNetStart(file, f"imagenet:{name}", IMAGENET_KEY if i == 0 else f"{IMAGENET_KEY}-{name.lower()}")
    return ImageNetStart(file, f"imagenet:{digest[:12]}", f"{IMAGENET_KEY}-{digest[:8]}")


def start_phrase(tag: str | None) -> str:
    """How-trained's starting point: "from scratch" or "from imagenet:..."."""
    return f"from {tag}" if tag else "from scratch"
