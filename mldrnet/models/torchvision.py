"""The paper's ImageNet baselines (Table III): torchvision's AlexNet, VGG-19 and ResNet-101 with the classifier
swapped for a `num_classes`-way head. `pretrained=True` loads torchvision's published ImageNet weights from the
torch hub cache (downloaded there when absent) after checking the file's sha256 against the hash in its published
name, and `weights_path=PATH` loads a local ImageNet state dict instead (a file, or a folder such as torch hub's
cache holding torchvision's file); both with `weights_only=True`, so no pickled code in a cached or given file
ever runs. `IMAGENET_ARCH` names the zoo models that take such a start (mldrnet.training.start names the start).
"""

from __future__ import annotations

import functools
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


# the zoo models that start from torchvision's ImageNet weights, and the architecture whose weights each loads
IMAGENET_ARCH = {"alexnet": "alexnet", "alexnet-svm": "alexnet", "vgg19": "vgg19", "resnet101": "resnet101"}
# where torchvision's file name is looked for in a --weights folder: the folder itself, torch hub's
# <hub dir>/checkpoints, and TORCH_HOME's hub/checkpoints
HUB_SUBDIRS = (".", "checkpoints", "hub/checkpoints")


def load_imagenet(arch: str, pretrained: bool, weights_path: str | os.PathLike | None) -> nn.Module:
    """torchvision's `arch` with its 1000-class ImageNet head, weights loaded if asked: from `weights_path` (a
    file, or a folder holding torchvision's file: `imagenet_file`), or (`pretrained`) from torch hub's cache,
    downloaded there when absent. Both are read with `weights_only=True`; the cached file only after its sha256
    matched the hash torchvision publishes in the file's name (torchvision itself unpickles a cached file with
    weights_only=False and checks its hash only when it downloads it)."""
    model = torchvision.models.get_model(arch, weights=None)
    path = imagenet_file(arch, pretrained, weights_path)
    if path is not None:
        _load_state_file(model, arch, path)
    return model


def imagenet_file(arch: str, pretrained: bool, weights_path: str | os.PathLike | None) -> Path | None:
    """The state-dict file a start from ImageNet reads (None: from scratch). `weights_path` is a file, or a folder
    (torch hub's cache, TORCH_HOME) holding torchvision's published file for `arch` (found under HUB_SUBDIRS);
    without it, `pretrained` takes the cache's file (downloaded when absent, its sha256 checked)."""
    if weights_path is None:
        return cached_imagenet_weights(arch) if pretrained else None
    path = Path(weights_path).expanduser()
    if path.is_dir():
        names = [url.rsplit("/", 1)[-1] for _, url, _ in published(arch)]
        folders = [path / sub if sub != "." else path for sub in HUB_SUBDIRS]
        found = next((f / n for n in names for f in folders if (f / n).is_file()), None)
        if found is None:
            raise BenchError(
                f"no {arch} ImageNet weights in {path}: looked for {' or '.join(names)} in "
                f"{', '.join(str(f) for f in folders)}; put torchvision's file there or pass --weights FILE"
            )
        return found
    if not path.is_file():
        raise BenchError(
            f"weights file {path} does not exist: pass a torchvision {arch} state dict (a .pth file) or a torch hub "
            "folder holding it"
        )
    return path


def published_weights(arch: str) -> tuple[str, str]:
    """(url, sha256 prefix) of the ImageNet weights torchvision publishes for `arch` (its DEFAULT weights enum):
    the prefix is the hex after the file name's last '-', as torch.hub's own check reads it."""
    url = torchvision.models.get_model_weights(arch).DEFAULT.url
    stem = url.rsplit("/", 1)[-1].split(".", 1)[0]
    prefix = stem.rsplit("-", 1)[-1] if "-" in stem else ""
    if len(prefix) < 8 or any(c not in "0123456789abcdef" for c in prefix):
        raise BenchError(f"torchvision publishes no hash for {arch}'s weights ({url}): pass --weights FILE")
    return url, prefix


def published(arch: str) -> list[tuple[str, str, str]]:
    """(torchvision's name, url, sha256 prefix of the file name) of every ImageNet weights torchvision publishes
    for `arch`, its DEFAULT first (e.g. ("IMAGENET1K_V2", ".../resnet101-cd907fc2.pth", "cd907fc2"))."""
    enum = torchvision.models.get_model_weights(arch)
    members = [enum.DEFAULT] + [w for w in enum if w is not enum.DEFAULT]
    return [(w.name, w.url, w.url.rsplit("/", 1)[-1].split(".", 1)[0].rsplit("-", 1)[-1]) for w in members]


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
    """The file's sha256 (hex); computed once per file version (path, size, modification time) and process: a
    training names its start by it, and train-all asks for it once per model."""
    try:
        stat = path.stat()
    except OSError as e:
        raise BenchError(f"cannot read {path}: {first_line(e) or type(e).__name__}") from e
    return _sha256(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=64)
def _sha256(path: str, size: int, mtime_ns: int) -> str:
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
        _require_keys(model, state)
        model.load_state_dict(state)
    except Exception as e:  # a wrong file is the user's to fix, say so in one line
        reason = _reason(e)
        raise BenchError(
            f"cannot load {arch} ImageNet weights from {path}: {reason}; pass a torchvision {arch} state dict "
            f"(torchvision.models.{arch}().state_dict() saved with torch.save)"
        ) from e
    broken = next((k for k, t in model.state_dict().items() if t.is_floating_point() and not t.isfinite().all()), None)
    if broken is not None:
        raise BenchError(
            f"cannot use {arch} ImageNet weights from {path}: {broken} holds NaN or infinite values (a damaged "
            "file); pass another state dict"
        )


def _require_keys(model: nn.Module, state: dict) -> None:
    """The file's keys are the model's: load_state_dict's own error lists every key over many lines, and its
    first line says only that loading failed; this says how many differ and names one of each."""
    wanted, given = set(model.state_dict()), {k for k in state if isinstance(k, str)}
    missing, unexpected = sorted(wanted - given), sorted(given - wanted)
    if missing or unexpected:
        parts = [f"{len(missing)} of its keys missing (e.g. {missing[0]})"] if missing else []
        parts += [f"{len(unexpected)} unexpected (e.g. {unexpected[0][:60]})"] if unexpected else []
        raise BenchError(f"its keys are not this architecture's: {', '.join(parts)}")


def _reason(e: Exception) -> str:
    """The informative line of a loading error: load_state_dict's first line is only a heading ("Error(s) in
    loading state_dict for AlexNet:"), the size mismatch it means is on the next one."""
    lines = [line.strip() for line in str(e).splitlines() if line.strip()]
    if len(lines) > 1 and lines[0].startswith("Error(s) in loading"):
        return lines[1][:200]
    return first_line(e) or f"{type(e).__name__} (a truncated or damaged file)"


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
