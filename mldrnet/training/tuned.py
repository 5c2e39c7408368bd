"""Profiles that `bench tune` wrote: per-model training settings chosen on val, each with its search log.

The quick profile is such a file (profiles/quick.json, committed): every network the default `bench train-all`
trains was tuned with the same space, the same number of trials and the same seconds per trial, on one stated
machine (mldrnet.training.tune); `bench tune MODEL --profile-out FILE` adds or replaces the model's entry.

An entry holds the chosen `values` (the best trial that finished inside the budget: exactly what `bench train`
then runs), the phrase "how trained" shows ("tuned: 10 trials on synth's val, 60 s each") and the whole search log.
Where no trial of a model fit the budget, that is the finding: the entry says so, and its values are the space's
cheapest point (one epoch at the smallest crop), with the learning rate and batch size of the trial that reached
the best val before it was cut off, so that the model still has a row to time.
A model trained on another's features (alexnet-svm) names that model in `same_as`: it must be trained as that
model was. A network with no entry (the MldrNet variants, A-CNN/T-CNN) takes the values of the `default` model,
and "how trained" says so.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from mldrnet.errors import BenchError
from mldrnet.io.atomic import atomic_write_text

FORMAT = "bench-profile/1"
PROFILES_DIR = Path(__file__).with_name("profiles")
KEYS = ("lr", "epochs", "batch_size", "crop")  # what a tuned entry sets (the search space's names)
DEFAULT = "mldrnet"  # the networks without an entry are MldrNet's variants and relatives: they take its values


def profile_path(profile: str) -> Path:
    return PROFILES_DIR / f"{profile}.json"


def read_profile(path: Path) -> dict[str, Any]:
    """The file's contents; a missing file is an empty profile (the first `--profile-out` creates it)."""
    if not path.exists():  # the zoo's two rules, then the tuned entries as `record` adds them
        return {"format": FORMAT, "default": DEFAULT, "models": {"alexnet-svm": {"same_as": "alexnet"}}}
    try:
        data = json.loads(path.read_text())
    except (OSError, ValueError) as e:
        raise BenchError(f"cannot read the profile file {path}: {e}; restore it (git checkout) or retune") from e
    if data.get("format") != FORMAT:
        raise BenchError(f"{path} is not a {FORMAT} profile file: restore it (git checkout) or retune")
    return data


def entry_for(data: dict[str, Any], model: str) -> tuple[dict[str, Any], str] | None:
    """(values, "how trained" phrase) of `model` in a profile file's contents; None where it has no entry and
    no default."""
    entries = data.get("models", {})
    entry = entries.get(model)
    if entry and entry.get("same_as"):
        values, phrase = entry_for(data, entry["same_as"]) or ({}, "")
        return values, f"as {entry['same_as']}: {phrase}" if phrase else ""
    if entry:
        return dict(entry["values"]), entry["tuned"]
    default = data.get("default")
    if default and default in entries and default != model:
        values, _ = entry_for(data, default) or ({}, "")
        return values, f"{default}'s tuned values"
    return None


def entry_from_log(log: dict[str, Any]) -> dict[str, Any]:
    """A profile entry from a search log (mldrnet.training.tune.search_log)."""
    budget = log["budget"]
    trials, seconds = budget["trials"], budget["seconds_per_trial"]
    data = (log.get("data") or {}).get("dataset", "?")  # the values are for data like it: the phrase says which
    best = log["best"]
    if best is not None:
        values = {k: best["params"][k] for k in KEYS}
        phrase = f"tuned: {trials} trials on {data}'s val, {seconds:g} s each"
        return {"values": values, "tuned": phrase, "val_top1": best["val_top1"], "trial": best["number"], "search": log}
    seen = [t for t in log["trials"] if t.get("val_seen") is not None]
    if not seen:
        raise BenchError(f"no trial of {log['model']} finished an epoch: nothing to record; retune with more seconds")
    furthest = max(seen, key=lambda t: float(t["val_seen"]))
    values = {
        "lr": furthest["params"]["lr"],
        "batch_size": furthest["params"]["batch_size"],
        "epochs": 1,
        "crop": min(log["space"]["crop"]),
    }
    phrase = f"tuned on {data}: none of {trials} trials fit {seconds:g} s, cheapest setting"
    return {"values": values, "tuned": phrase, "val_top1": None, "trial": None, "search": log}


def record(path: Path, log: dict[str, Any]) -> dict[str, Any]:
    """Add or replace the model's entry in the profile file at `path` (written atomically); the entry."""
    data = read_profile(path)
    entry = entry_from_log(log)
    data["models"][log["model"]] = entry
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(data, indent=1, sort_keys=False, default=str) + "\n")
    return entry
