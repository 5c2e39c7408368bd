"""One registry of every model the harness knows: name -> builder (torchvision's `models/_api.py` shape).

`create(name, num_classes=8, **cfg)` builds a model; `names()` lists them; `info(name)` says what the paper
reports for it. The registry imports no model: each model module registers its own entries with `@register`
when it is imported, and `mldrnet.models` imports them all. What the training loop does for a model besides the
epochs (its hooks) is mldrnet.training.hooks', not the registry's.
"""

from __future__ import annotations

import inspect
from collections.abc import Callable
from dataclasses import dataclass

from torch import nn

from mldrnet.errors import BenchError


@dataclass(frozen=True)
class ZooEntry:
    name: str
    builder: Callable[..., nn.Module]
    family: str  # "mldrnet" or "baseline"
    paper_fi_accuracy: float | None  # Table I / II / III of the paper, FI well-labelled split
    description: str
    formats: tuple[str, ...] | None = None  # the engine formats it has (engines.formats names); None: all
    min_crop: int = 32  # px: the smallest input it runs at (mldrnet.io.limits.MIN_CROP; AlexNet's stem: 63)

    @property
    def is_network(self) -> bool:
        """A neural network (trained by gradient descent, exportable), not hand-crafted features + classifier."""
        return self.family in NETWORK_FAMILIES


_REGISTRY: dict[str, ZooEntry] = {}
NETWORK_FAMILIES = ("mldrnet", "baseline")  # the others: "hand-crafted" and "mart"


def register(
    name: str,
    family: str,
    paper_fi_accuracy: float | None,
    description: str,
    formats: tuple[str, ...] | None = None,
    min_crop: int = 32,
) -> Callable[[Callable[..., nn.Module]], Callable[..., nn.Module]]:
    def wrap(fn: Callable[..., nn.Module]) -> Callable[..., nn.Module]:
        if name in _REGISTRY:
            raise ValueError(f"model {name!r} is registered twice")
        _REGISTRY[name] = ZooEntry(name, fn, family, paper_fi_accuracy, description, formats, min_crop)
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


def takes(name: str, option: str) -> bool:
    """Whether the model's builder names `option` (e.g. the baselines' `pretrained` and `weights_path`). A builder
    that takes **options (MldrNet's: its config fields) does not count as taking every name: passing it
    `weights_path` would fail inside it."""
    return option in inspect.signature(info(name).builder).parameters


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
