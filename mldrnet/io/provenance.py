"""How a model was trained, in one short phrase, and whether it learned anything at all.

Every accuracy the harness shows (train summaries, compare rows and plots, `bench reproduce`) carries these two
facts, because an accuracy without them invites a wrong conclusion: "MldrNet 90 % beside VGG-19 24 %" says
nothing about the architectures when VGG-19 had one epoch from scratch at 64 px and never left chance.

- `how_trained`: profile (and how its values were chosen), epochs, input size and the starting point ("quick
  (tuned: 10 trials on synth's val, 60 s each), 9 ep, 64 px, from scratch";
  "quick, hand-crafted features at 64 px + fitted classifier, no epochs"; "quick, head on alexnet (SVM), 64 px").
- `near_chance`: the validation accuracy covered less than `USABLE_SHARE` of the way from chance (100 / classes)
  to 100 % (under 30 % with 8 emotions, under 60 % for positive/negative): such a model is "not trained to a
  usable level", and its rows say so. A fixed number of points would not do: 5 points above chance is a
  different thing for 8 classes and for 2, and the from-scratch baselines of a quick CPU run sit 10-15 points
  above chance on 8 emotions without having learned what the comparison is about.

No torch here: records and reports read it without loading a model.
"""

from __future__ import annotations

import os

USABLE_SHARE = 0.2  # share of the way from chance to 100 % a model must cover on val to count as trained
NEAR_CHANCE_NOTE = "near chance: not trained to a usable level"


def chance_pct(num_classes: int) -> float:
    """Accuracy of guessing uniformly, in percent (12.5 % for 8 emotions, 50 % for positive/negative)."""
    return 100.0 / max(1, num_classes)


def usable_from_pct(num_classes: int) -> float:
    """The val accuracy (%) from which a model counts as trained: 30 % for 8 classes, 60 % for 2."""
    chance = chance_pct(num_classes)
    return chance + USABLE_SHARE * (100.0 - chance)


def near_chance(val_acc: float | None, num_classes: int) -> bool:
    """Whether a validation accuracy (a fraction, 0..1) stayed below `usable_from_pct`. No accuracy at all (a
    run that never evaluated) counts as near chance: nothing shows it learned."""
    if val_acc is None or val_acc != val_acc:  # None or NaN
        return True
    return 100.0 * val_acc < usable_from_pct(num_classes)


def _start(cfg: dict) -> str:
    if cfg.get("weights_path"):
        return f"from {os.path.basename(str(cfg['weights_path']))}"
    return "from ImageNet weights" if cfg.get("pretrained") else "from scratch"


def how_trained(
    train_config: dict | None, kind: str = "network", backbone: str | None = None, epochs_run: int | None = None
) -> str:
    """One phrase: profile, epochs, input size, starting point. `kind` is "network" (gradient descent),
    "features" (hand-crafted features + a fitted classifier: no epochs) or "head" (a classifier fitted on the
    features of the trained `backbone` run). `epochs_run` (epochs actually run) wins over the configured count."""
    if not train_config:
        return "unknown (checkpoint without its training config)"
    cfg = train_config
    profile, crop = cfg.get("profile", "?"), cfg.get("crop", "?")
    if kind == "features":
        return f"{profile}, hand-crafted features at {crop} px + fitted classifier, no epochs"
    if kind == "head":
        return f"{profile}, head fitted on the trained {backbone or 'backbone'}, {crop} px"
    epochs = epochs_run if epochs_run is not None else cfg.get("epochs", "?")
    seed = f", seed {cfg['seed']}" if cfg.get("seed") else ""
    tuned = f" ({cfg['tuned']})" if cfg.get("tuned") else ""  # how the profile's values were chosen
    return f"{profile}{tuned}, {epochs} ep, {crop} px, {_start(cfg)}{seed}"
