"""One registry of every model the harness knows: name -> builder.

`create(name, num_classes=8, **cfg)` builds a model; `names()` lists them; `info(name)` says what the paper
reports for it and which training hooks it has (mldrnet.zoo_hooks: what the loop does for it besides the
epochs). Baselines are torchvision's architectures with the classifier swapped for an
`num_classes`-way head; `pretrained=True` goes through torchvision's weights API (torch hub cache), and
`weights_path=FILE` loads a local ImageNet state dict instead (`weights_only=True`).
"""

from __future__ import annotations

import inspect
import os
import urllib.error
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Callable

import torch
import torchvision
from torch import nn

from mldrnet.alexnet_svm import AlexNetSVM, fit_svm_head, start_from_trained_alexnet
from mldrnet.errors import BenchError, first_line
from mldrnet.feature_models import FeatureModel, fit_on_features, no_epochs
from mldrnet.model import MldrNet, MldrNetConfig
from mldrnet.paper_cnns import ACNN, TCNN
from mldrnet.zoo_hooks import TrainHooks


@dataclass(frozen=True)
class ZooEntry:
    name: str
    builder: Callable[..., nn.Module]
    family: str  # "mldrnet" or "baseline"
    paper_fi_accuracy: float | None  # Table I / II / III of the paper, FI well-labelled split
    description: str
    hooks: TrainHooks = TrainHooks()  # what the training loop does for this model besides the epochs
    formats: tuple[str, ...] | None = None  # the engine formats it has (engines.formats names); None: all

    @property
    def is_network(self) -> bool:
        """A neural network (trained by gradient descent, exportable), not hand-crafted features + classifier."""
        return self.family in NETWORK_FAMILIES


_REGISTRY: dict[str, ZooEntry] = {}
NETWORK_FAMILIES = ("mldrnet", "baseline")


def register(name: str, family: str, paper_fi_accuracy: float | None, description: str,
             hooks: TrainHooks = TrainHooks(), formats: tuple[str, ...] | None = None):
    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ZooEntry(name, fn, family, paper_fi_accuracy, description, hooks, formats)
        return fn

    return wrap


def names() -> list[str]:
    return list(_REGISTRY)


def networks() -> list[str]:
    """The neural networks of the zoo (every name but the hand-crafted-feature and MART baselines)."""
    return [n for n, e in _REGISTRY.items() if e.is_network]


def info(name: str) -> ZooEntry:
    if name not in _REGISTRY:
        raise BenchError(f"unknown model {name!r}: choose one of {', '.join(_REGISTRY)} (see `bench models`)")
    return _REGISTRY[name]


def training_order(models: list[str]) -> list[str]:
    """The user's order with repeats dropped, except that a model comes after the models its hooks name in
    `after` when they are in the list too (alexnet before alexnet-svm: the SVM is fitted on its features)."""
    todo, done = list(dict.fromkeys(models)), []

    def visit(name: str, path: tuple[str, ...]) -> None:
        if name in done or name in path:
            return
        for dep in info(name).hooks.after:
            if dep in todo:
                visit(dep, path + (name,))
        done.append(name)

    for name in todo:
        visit(name, ())
    return done


def takes(name: str, option: str) -> bool:
    """Whether the model's builder takes `option` (e.g. the baselines' `pretrained` and `weights_path`)."""
    params = inspect.signature(info(name).builder).parameters
    return option in params or any(p.kind is p.VAR_KEYWORD for p in params.values())


def create(name: str, num_classes: int = 8, **cfg) -> nn.Module:
    builder = info(name).builder
    # checked against the signature, not by catching TypeError from the call: one inside a builder is a bug
    params = inspect.signature(builder).parameters
    if not any(p.kind is p.VAR_KEYWORD for p in params.values()):
        unknown = [k for k in cfg if k not in params]
        if unknown:
            takes = [k for k in params if k != "num_classes"]
            raise BenchError(f"{name} takes no option {', '.join(unknown)} (its options: {', '.join(takes) or 'none'})")
    return builder(num_classes=num_classes, **cfg)


# --- MldrNet and its paper variants -------------------------------------------------------------------


def _mldrnet(num_classes: int, defaults: MldrNetConfig, **cfg) -> MldrNet:
    try:
        return MldrNet(replace(defaults, num_classes=num_classes, **cfg))
    except (ValueError, TypeError) as e:
        raise BenchError(f"bad MldrNet option: {e}") from e


def _register_mldrnet(name: str, acc: float | None, description: str, **defaults) -> None:
    base = MldrNetConfig(**defaults)
    register(name, "mldrnet", acc, description)(lambda num_classes=8, **cfg: _mldrnet(num_classes, base, **cfg))


_register_mldrnet("mldrnet", 67.24, "MldrNet, 4 levels, mean fusion (the paper's model)")
_register_mldrnet("mldrnet-concat", 66.92, "MldrNet, concatenation fusion (Table II)", fusion="concat")
_register_mldrnet("mldrnet-max", 64.79, "MldrNet, max fusion (Table II)", fusion="max")
_register_mldrnet("mldrnet-min", 62.44, "MldrNet, min fusion (Table II)", fusion="min")
_register_mldrnet("mldrnet-bigru", 73.03, "MldrNet + Bi-GRU over the level sequence (Table III)", fusion="bigru")
for _levels, _acc in {2: 52.12, 3: 58.34, 5: 67.55, 6: 67.68}.items():
    _register_mldrnet(f"mldrnet-l{_levels}", _acc, f"MldrNet, {_levels} levels, mean fusion (Table I)", levels=_levels)


# --- Baselines: torchvision architectures with an num_classes-way head -----------------------------------


def _load_imagenet(arch: str, pretrained: bool, weights_path: str | os.PathLike | None) -> nn.Module:
    """torchvision's `arch` with its 1000-class ImageNet head, weights loaded if asked."""
    if weights_path is not None:
        model = torchvision.models.get_model(arch, weights=None)
        path = Path(weights_path)
        if not path.is_file():
            raise BenchError(f"weights file {path} does not exist: pass a torchvision {arch} state dict")
        try:
            state = torch.load(path, map_location="cpu", weights_only=True)
            model.load_state_dict(state.get("state_dict", state) if isinstance(state, dict) else state)
        except Exception as e:  # a wrong file is the user's to fix, say so in one line
            raise BenchError(f"cannot load {arch} ImageNet weights from {path}: {first_line(e)}") from e
        return model
    if not pretrained:
        return torchvision.models.get_model(arch, weights=None)
    weights = torchvision.models.get_model_weights(arch).DEFAULT
    try:
        return torchvision.models.get_model(arch, weights=weights)
    except (urllib.error.URLError, OSError, RuntimeError) as e:
        target = Path(torch.hub.get_dir()) / "checkpoints" / os.path.basename(weights.url)
        raise BenchError(
            f"cannot get {arch} ImageNet weights ({type(e).__name__}): put {weights.url.rsplit('/', 1)[-1]} "
            f"at {target}, or pass --weights FILE"
        ) from e


def _baseline(arch: str, swap_head: Callable[[nn.Module, int], None], scratch_init: Callable | None = None):
    def build(num_classes: int = 8, pretrained: bool = False, weights_path=None) -> nn.Module:
        model = _load_imagenet(arch, pretrained, weights_path)
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
            nn.init.zeros_(m.bias)
        elif isinstance(m, nn.Linear):
            nn.init.normal_(m.weight, 0, 0.01)
            nn.init.zeros_(m.bias)


def _swap_classifier(model: nn.Module, num_classes: int) -> None:
    model.classifier[6] = nn.Linear(model.classifier[6].in_features, num_classes)


def _swap_fc(model: nn.Module, num_classes: int) -> None:
    model.fc = nn.Linear(model.fc.in_features, num_classes)


register("alexnet", "baseline", 58.61, "AlexNet fine-tuned (torchvision), 8-class head")(
    _baseline("alexnet", _swap_classifier, scratch_init=he_init)
)
register("vgg19", "baseline", 59.32, "VGGNet-19 fine-tuned (torchvision), 8-class head")(
    _baseline("vgg19", _swap_classifier)
)
register("resnet101", "baseline", 60.82, "ResNet-101 fine-tuned (torchvision), 8-class head")(
    _baseline("resnet101", _swap_fc)
)


@register("alexnet-svm", "baseline", 57.89, "AlexNet features + linear SVM head (You et al.)",
          hooks=TrainHooks(after=("alexnet",), start=start_from_trained_alexnet, finish=fit_svm_head))
def _alexnet_svm(num_classes: int = 8, pretrained: bool = False, weights_path=None) -> nn.Module:
    backbone = _load_imagenet("alexnet", pretrained, weights_path)
    if not pretrained and weights_path is None:  # it trains its own backbone when no trained alexnet is beside it
        he_init(backbone)
    return AlexNetSVM(backbone, num_classes)


# models whose from-scratch initialisation is ours, not their builder's: part of a run's config hash, so a run
# trained before the init changed is trained again instead of reused
SCRATCH_INIT = {"alexnet": "he", "alexnet-svm": "he"}


def init_tag(name: str, pretrained: bool = False, weights_path=None) -> str | None:
    """The initialisation a from-scratch model gets when it is ours (SCRATCH_INIT), else None."""
    return None if pretrained or weights_path else SCRATCH_INIT.get(name)


# The shallow CNNs of the paper's Fig. 4 (section III-B), trained from scratch; no FI accuracy in the paper
register("a-cnn", "baseline", None, "A-CNN (Fig. 4b, Lu et al. RAPID): 4 convs, FC 1000-256-8, from scratch")(ACNN)
register("t-cnn", "baseline", None, "T-CNN (Fig. 4c): AlexNet conv1-2 + energy (mean) layer, FC 4096-4096-8")(TCNN)


# --- The paper's non-CNN baselines: hand-crafted features + a classifier (mldrnet.feature_models) ----------------

_FEATURE_HOOKS = TrainHooks(start=no_epochs, finish=fit_on_features)


def _register_features(name: str, family: str, acc: float | None, description: str, method: str,
                       classifier: str, groups: tuple[str, ...] | None = None) -> None:
    def build(num_classes: int = 8, method: str = method, groups: list[str] | None = groups,
              classifier: str = classifier) -> nn.Module:
        return FeatureModel(num_classes, method, list(groups) if groups else None, classifier)

    # eager PyTorch runs them (numpy / scikit-image / OpenCV inside): no ONNX or TensorRT form
    register(name, family, acc, description, hooks=_FEATURE_HOOKS, formats=("torch",))(build)


_register_features("machajdik", "hand-crafted", None, "Machajdik & Hanbury 2010 features (116-d) + SVM (Table III)",
                   "machajdik", "svm")
_register_features("zhao", "hand-crafted", 46.52, "Zhao et al. 2014 principles-of-art features + SVM (Table III)",
                   "zhao", "svm")
_register_features("rao", "hand-crafted", 51.67, "Rao et al. 2016 multi-scale blocks, mi-SVM (Table III)", "rao", "mil")
# Table IV (MART, positive/negative): colour and composition features of abstract paintings, two classes
for _name, _what in {"tsvm": "transductive SVM", "lmc": "linear matrix completion", "nlmc": "non-linear (RBF) "
                     "matrix completion", "lasso": "Lasso", "group-lasso": "sparse group lasso"}.items():
    _register_features(_name, "mart", None, f"MART baseline: {_what} on colour + composition features (Table IV)",
                       "machajdik", _name, ("colour", "composition"))
