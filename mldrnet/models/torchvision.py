"""The paper's ImageNet baselines (Table III): torchvision's AlexNet, VGG-19 and ResNet-101 with the classifier
swapped for a `num_classes`-way head. `pretrained=True` loads torchvision's published ImageNet weights from the
torch hub cache (downloaded there when absent) after checking the file's sha256 against the hash in its published
name, and `weights_path=FILE` loads a local ImageNet state dict instead; both with `weights_only=True`, so no
pickled code in a cached or given file ever runs.
"""

from __future__ import annotations

import hashlib
import os
import urllib.error
from collections.abc import Callable
from pathlib import Path

import torch
import torchvision
from torch import nn

from mldrnet.errors import BenchError, first_line
from mldrnet.models.registry import register

# --- Baselines: torchvision architectures with an num_classes-way head -----------------------------------


def load_imagenet(arch: str, pretrained: bool, weights_path: str | os.PathLike | None) -> nn.Module:
    """torchvision's `arch` with its 1000-class ImageNet head, weights loaded if asked: from `weights_path`, or
    (`pretrained`) from torch hub's cache, downloaded there when absent. Both are read with `weights_only=True`;
    the cached file only after its sha256 matched the hash torchvision publishes in the file's name (torchvision
    itself unpickles a cached file with weights_only=False and checks its hash only when it downloads it)."""
    model = torchvision.models.get_model(arch, weights=None)
    if weights_path is None and not pretrained:
        return model
    path = Path(weights_path) if weights_path is not None else cached_imagenet_weights(arch)
    if weights_path is not None and not path.is_file():
        raise BenchError(f"weights file {path} does not exist: pass a torchvision {arch} state dict")
    _load_state_file(model, arch, path)
    return model


def published_weights(arch: str) -> tuple[str, str]:
    """(url, sha256 prefix) of the ImageNet weights torchvision publishes for `arch` (its DEFAULT weights enum):
    the prefix is the hex after the file name's last '-', as torch.hub's own check reads it."""
    url = torchvision.models.get_model_weights(arch).DEFAULT.url
    stem = url.rsplit("/", 1)[-1].split(".", 1)[0]
    prefix = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    if len(prefix) < 8 or any(c not in "0123456789abcdef" for c in prefix):
        raise BenchError(f"torchvision publishes no hash for {arch}'s weights ({url}): pass --weights FILE")
    return url, prefix


def cached_imagenet_weights(arch: str) -> Path:
    """The cached file of `arch`'s published ImageNet weights (downloaded when absent), its sha256 checked."""
    url, prefix = published_weights(arch)
    target = Path(torch.hub.get_dir()) / "checkpoints" / url.rsplit("/", 1)[-1]
    if not target.is_file():
        try:
            target.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(url, str(target), hash_prefix=prefix, progress=False)
        except (urllib.error.URLError, OSError, RuntimeError) as e:
            raise BenchError(
                f"cannot get {arch} ImageNet weights ({type(e).__name__}): put {target.name} (from {url}) at "
                f"{target}, or pass --weights FILE"
            ) from e
    digest = file_sha256(target)
    if not digest.startswith(prefix):
        raise BenchError(
            f"{target} is not torchvision's {arch} weights: its sha256 starts {digest[: len(prefix)]}, the published "
            f"one {prefix}; delete it (bench downloads it again) or pass --weights FILE"
        )
    return target


def file_sha256(path: Path) -> str:
    h = hashlib.sha256()
    try:
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
    except OSError as e:
        raise BenchError(f"cannot read {path}: {first_line(e) or type(e).__name__}") from e
    return h.hexdigest()


def _load_state_file(model: nn.Module, arch: str, path: Path) -> None:
    """A state dict file into `model` (weights only: no pickled code runs); a wrong file is one line naming it."""
    try:
        if path.stat().st_size == 0:
            raise BenchError("the file is empty")
        state = torch.load(path, map_location="cpu", weights_only=True)
        if isinstance(state, dict) and isinstance(state.get("state_dict"), dict):
            state = state["state_dict"]
        if not isinstance(state, dict):
            raise BenchError(f"it holds a {type(state).__name__}, not a state dict")
        model.load_state_dict(state)
    except Exception as e:  # a wrong file is the user's to fix, say so in one line
        reason = first_line(e) or f"{type(e).__name__} (a truncated or damaged file)"
        raise BenchError(
            f"cannot load {arch} ImageNet weights from {path}: {reason}; pass a torchvision {arch} state dict"
        ) from e
    broken = next((k for k, t in model.state_dict().items() if t.is_floating_point() and not t.isfinite().all()), None)
    if broken is not None:
        raise BenchError(
            f"cannot use {arch} ImageNet weights from {path}: {broken} holds NaN or infinite values (a damaged "
            "file); pass another state dict"
        )


def _baseline(arch: str, swap_head: Callable[[nn.Module, int], None], scratch_init: Callable | None = None):
    def build(num_classes: int = 8, pretrained: bool = False, weights_path=None) -> nn.Module:
        model = load_imagenet(arch, pretrained, weights_path)
        swap_head(model, num_classes)
        if scratch_init is not None and not pretrained and weights_path is None:
            scratch_init(model)
        return model

    return build


def he_init(model: nn.Module) -> None:
    """The initialisation torchvision gives VGG (He-normal convolutions, N(0, 0.01) linear layers, zero biases),
    for a network it leaves at PyTorch's defaults because its weights are meant to be loaded: AlexNet. From
    scratch and without batch norm, the defaults shrink the signal through its eight layers and it sits near
    chance for epochs; with this init it starts learning in the first epoch."""
    for m in model.modules():
        if isinstance(m, nn.Conv2d):
            nn.init.kaiming_normal_(m.weight, mode="fan_out", nonlinearity="relu")
            if m.bias is not None:
                nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def _swap_classifier(model: nn.Module, num_classes: int) -> None:
    classifier = model.get_submodule("classifier")  # AlexNet's and VGG's nn.Sequential; [6] is the last Linear
    last = classifier.get_submodule("6")
    assert isinstance(last, nn.Linear)
    classifier.add_module("6", nn.Linear(last.in_features, num_classes))  # replaces it in place


def _swap_fc(model: nn.Module, num_classes: int) -> None:
    fc = model.get_submodule("fc")  # ResNet's last Linear
    assert isinstance(fc, nn.Linear)
    model.fc = nn.Linear(fc.in_features, num_classes)


ALEXNET_MIN_CROP = 63  # its 11x11 stride-4 stem and three 3x3 stride-2 pools leave nothing below 63 px

register("alexnet", "baseline", 58.61, "AlexNet fine-tuned (torchvision), 8-class head", min_crop=ALEXNET_MIN_CROP)(
    _baseline("alexnet", _swap_classifier, scratch_init=he_init)
)
register("vgg19", "baseline", 59.32, "VGGNet-19 fine-tuned (torchvision), 8-class head")(
    _baseline("vgg19", _swap_classifier)
)
register("resnet101", "baseline", 60.82, "ResNet-101 fine-tuned (torchvision), 8-class head")(
    _baseline("resnet101", _swap_fc)
)


# models whose from-scratch initialisation is ours, not their builder's: part of a run's config hash, so a run
# trained before the init changed is trained again instead of reused
SCRATCH_INIT = {"alexnet": "he", "alexnet-svm": "he"}


def init_tag(name: str, pretrained: bool = False, weights_path=None) -> str | None:
    """The initialisation a from-scratch model gets when it is ours (SCRATCH_INIT), else None."""
    return None if pretrained or weights_path else SCRATCH_INIT.get(name)
