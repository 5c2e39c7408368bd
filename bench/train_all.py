"""`bench train-all`: train every model that compare needs, skipping those already trained the same way."""

from __future__ import annotations

from pathlib import Path

from mldrnet.errors import BenchError
from mldrnet.train import TrainResult, train_model
from mldrnet.train_config import resolve

# alexnet before alexnet-svm: the SVM is fitted on the trained AlexNet's features
DEFAULT_MODELS = ("mldrnet", "alexnet", "vgg19", "resnet101", "alexnet-svm")


def order_models(models: list[str]) -> list[str]:
    """Keep the user's order but put alexnet ahead of alexnet-svm, and drop repeats."""
    seen = list(dict.fromkeys(models))
    if "alexnet" in seen and "alexnet-svm" in seen and seen.index("alexnet") > seen.index("alexnet-svm"):
        seen.remove("alexnet")
        seen.insert(seen.index("alexnet-svm"), "alexnet")
    return seen


def train_all(models: list[str], profile: str, data_cfg, results_root: Path, *, force: bool = False,
              show_progress: bool = True, on_result=None, debug: bool = False, **overrides) -> list[TrainResult | tuple[str, str]]:
    """Train each model in turn; a model that fails becomes (name, error) and the others still train."""
    results: list[TrainResult | tuple[str, str]] = []
    for name in order_models(models):
        try:
            cfg = resolve(name, profile, **overrides)
            result = train_model(cfg, data_cfg, results_root, force=force, show_progress=show_progress)
        except BenchError as e:
            result = (name, str(e))
        except Exception as e:  # out of memory, a crop too small for a model...: the other models still train
            if debug:
                raise
            result = (name, f"{type(e).__name__}: {(str(e).strip().splitlines() or [''])[0]}")
        results.append(result)
        if on_result:
            on_result(result)
    return results
