"""Training configuration and the two profiles.

The paper's recipe (section IV-A): SGD, lr 0.001, momentum 0.9, weight decay 0.0005, batch 64, cross-entropy,
a random one of five 375x375 crops plus a horizontal flip; keep the checkpoint with the best val accuracy
and report its test accuracy. The paper gives no epoch count or schedule; we choose:

- `paper`: 30 epochs with a cosine decay of the learning rate to zero. The FI training split is 18.5k
  images, so 30 epochs is ~8.7k steps of batch 64 — enough for the 6M-parameter MldrNet trained from scratch
  to flatten out, and the cosine decay removes the need to pick step milestones. Meant for a GPU.
- `quick`: the default on the built-in synthetic dataset. Its per-network values (lr, epochs, batch size, crop)
  are what `bench tune` chose on val for each of the default networks (MldrNet, AlexNet, VGG-19, ResNet-101),
  with the same search space, the same number of trials and the same seconds per trial for each, on a stated
  machine: profiles/quick.json holds them with their search logs (mldrnet.training.tuned). AlexNet+SVM is
  trained as AlexNet (it fits its SVM on AlexNet's features); the other networks (the MldrNet variants, A-CNN
  and T-CNN) take MldrNet's values; the hand-crafted and MART methods only read the crop. The seconds cap keeps
  `bench train-all` for the five default models plus `bench compare` within about ten minutes on 2 cores. A
  network that learns nothing inside the shared budget (VGG-19 and ResNet-101 from scratch on 2 cores) shows
  that as a finding: its rows are marked near chance, and the table says which model learned more in the
  seconds it was given, not which architecture is better.
  AlexNet is He-initialised (mldrnet.models.torchvision.he_init: torchvision leaves it at PyTorch's default
  init, meant to be overwritten by ImageNet weights, and from scratch without batch norm that sits near chance).

Every option given on the command line overrides its profile value.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import asdict, dataclass, field, fields, replace
from typing import Any

from mldrnet import models
from mldrnet.data.transforms import TTA_MODES
from mldrnet.errors import BenchError
from mldrnet.io.limits import MAX_RESIZE
from mldrnet.training import tuned as tuned_profiles


@dataclass(frozen=True)
class TrainConfig:
    model: str = "mldrnet"
    profile: str = "quick"
    epochs: int = 10
    batch_size: int = 64  # global batch: divided among processes under torchrun
    lr: float = 0.001
    momentum: float = 0.9
    weight_decay: float = 0.0005
    schedule: str = "cosine"  # cosine | constant
    crop: int = 375
    resize: int | None = None  # None: crop * 256 / 224 (see mldrnet.data.transforms)
    tta: str = "center"  # evaluation of val/test: centre crop or the mean over five crops
    seed: int = 0
    workers: int = 0
    device: str = "auto"  # auto | cpu | cuda
    bf16: bool = False  # CUDA only: bf16 autocast
    channels_last: bool = False  # CUDA only
    pretrained: bool = False  # baselines: torchvision ImageNet weights
    weights_path: str | None = None  # baselines: a local ImageNet state dict, or a folder holding torchvision's
    # where the training started, named by what was loaded (mldrnet.training.start): None (scratch),
    # "imagenet:IMAGENET1K_V1" or "imagenet:<sha256 prefix>"; set by the training loop, not by the user
    start: str | None = None
    tuned: str | None = None  # how the profile's values were chosen ("tuned: 10 trials on synth's val, 60 s each")
    svm_c: float | None = None  # alexnet-svm: LinearSVC's C; None: chosen on val (hooks.SVM_C_GRID)
    model_config: dict = field(default_factory=dict)  # extra keyword arguments for models.create

    def to_dict(self) -> dict:
        return asdict(self)

    def fingerprint(self, extra: dict | None = None) -> str:
        """Hash of everything that changes the trained weights (not where they run or how fast). The start counts
        by `start`, what was loaded, not by how it was asked for (--pretrained, or --weights by one path or
        another): the same weights give the same hash, so reproduce finds a `bench train` run."""
        keep = {k: v for k, v in asdict(self).items() if k not in ("workers", "pretrained", "weights_path")}
        blob = json.dumps({"train": keep, **(extra or {})}, sort_keys=True, default=str)
        return hashlib.sha256(blob.encode()).hexdigest()[:16]


# Per-profile values; any of them may be a dict keyed by model name with a "*" default (see `resolve`).
PROFILES: dict[str, dict] = {
    "paper": {"epochs": {"*": 30}, "lr": 0.001, "crop": 375, "batch_size": 64},
    # what a model without a tuned entry takes (the hand-crafted and MART methods read only the crop); the
    # networks' values come from profiles/quick.json, written by `bench tune --profile-out`
    "quick": {"epochs": 10, "lr": 0.01, "crop": 64, "batch_size": 64},
}


def tuned_values(model: str, profile: str) -> tuple[dict[str, Any], str] | None:
    """The tuned values of a network in the profile's file (mldrnet.training.tuned), and how they were chosen."""
    path = tuned_profiles.profile_path(profile)
    if not models.info(model).is_network or not path.exists():
        return None
    return tuned_profiles.entry_for(tuned_profiles.read_profile(path), model)


def resolve(model: str, profile: str = "quick", **overrides) -> TrainConfig:
    """The profile's values for `model`, then every override that is not None."""
    if profile not in PROFILES:
        raise BenchError(f"unknown profile {profile!r}: choose one of {', '.join(PROFILES)}")
    values: dict[str, Any] = {}
    for key, value in PROFILES[profile].items():  # a per-model dict: the model's value, or its "*" default
        values[key] = value.get(model, value["*"]) if isinstance(value, dict) else value
    known = {f.name for f in fields(TrainConfig)}
    unknown = set(overrides) - known
    if unknown:
        raise ValueError(f"unknown training options: {sorted(unknown)}")
    tuned = tuned_values(model, profile)
    if tuned is not None:
        values.update(tuned[0])
        given = {k: v for k, v in overrides.items() if v is not None and k in tuned[0]}
        # the phrase holds only while the tuned values do: a value given on the command line ends it
        values["tuned"] = (tuned[1] or None) if all(given[k] == tuned[0][k] for k in given) else None
    values.update({k: v for k, v in overrides.items() if v is not None})
    cfg = replace(TrainConfig(), model=model, profile=profile, **values)
    if cfg.tta not in TTA_MODES:
        raise BenchError(f"--tta {cfg.tta!r}: choose one of {', '.join(TTA_MODES)}")
    if cfg.schedule not in ("cosine", "constant"):
        raise BenchError(f"schedule {cfg.schedule!r}: choose cosine or constant")
    if cfg.epochs < 0 or cfg.batch_size < 1 or cfg.lr <= 0:
        raise BenchError(f"bad training options: epochs={cfg.epochs}, batch_size={cfg.batch_size}, lr={cfg.lr}")
    models.check_input_size(model, cfg.crop)  # each model's smallest input is its zoo entry's
    if cfg.resize is not None and not cfg.crop <= cfg.resize <= MAX_RESIZE:
        raise BenchError(f"resize {cfg.resize}: must be from the crop ({cfg.crop}) to {MAX_RESIZE} px")
    return cfg
