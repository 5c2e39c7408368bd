"""The quick profile is what `bench tune` chose on val: the committed file holds, for every default network, the
values of its best trial that fit the budget and the whole search log, with the same space, trials and seconds for
each; `resolve` gives those values, "how trained" says how they were chosen, and a value given on the command
line ends that claim."""

from __future__ import annotations

import json

import pytest

from mldrnet.errors import BenchError
from mldrnet.io.provenance import how_trained
from mldrnet.training import tuned
from mldrnet.training.config import resolve

TUNED_NETWORKS = ("mldrnet", "alexnet", "vgg19", "resnet101")  # train-all's networks; alexnet-svm is trained as alexnet


def _log(model="mldrnet", best=True, trials=4, seconds=30.0):
    cut = {"params": {"lr": 0.05, "epochs": 9, "batch_size": 32, "crop": 96}, "stopped_by": "budget"}
    chosen = {"params": {"lr": 0.01, "epochs": 3, "batch_size": 64, "crop": 64}, "stopped_by": "epochs"}
    if not best:
        chosen["stopped_by"] = "budget"
    runs = [
        {"number": 0, "state": "PRUNED", "val_top1": None, "val_seen": 0.5, **cut},
        {
            "number": 1,
            "state": "COMPLETE" if best else "PRUNED",
            "val_top1": 0.4 if best else None,
            "val_seen": 0.4,
            **chosen,
        },
    ]
    return {
        "model": model,
        "space": {"crop": [32, 64, 96]},
        "budget": {"trials": trials, "seconds_per_trial": seconds},
        "data": {"dataset": "synth"},
        "trials": runs,
        "best": runs[1] if best else None,
    }


def test_an_entry_is_the_best_trial_that_fit_the_budget():
    entry = tuned.entry_from_log(_log())
    assert entry["values"] == {"lr": 0.01, "epochs": 3, "batch_size": 64, "crop": 64}
    assert entry["tuned"] == "tuned: 4 trials on synth's val, 30 s each" and entry["search"]["best"]["number"] == 1


def test_no_trial_inside_the_budget_is_a_finding_with_the_cheapest_setting():
    entry = tuned.entry_from_log(_log(best=False))
    assert entry["values"] == {"lr": 0.05, "batch_size": 32, "epochs": 1, "crop": 32}  # lr, batch of the best seen
    assert entry["tuned"] == "tuned on synth: none of 4 trials fit 30 s, cheapest setting" and entry["val_top1"] is None


def test_record_writes_an_entry_and_the_rules_for_the_others(tmp_path, monkeypatch):
    path = tmp_path / "profiles" / "quick.json"
    tuned.record(path, _log("mldrnet"))
    tuned.record(path, _log("alexnet", seconds=30.0))
    data = tuned.read_profile(path)
    assert set(data["models"]) == {"mldrnet", "alexnet", "alexnet-svm"}
    assert tuned.entry_for(data, "alexnet-svm") == (
        data["models"]["alexnet"]["values"],
        "as alexnet: tuned: 4 trials on synth's val, 30 s each",
    )
    assert tuned.entry_for(data, "mldrnet-l2")[1] == "mldrnet's tuned values"  # fmt: skip
    monkeypatch.setattr(tuned, "PROFILES_DIR", path.parent)
    cfg = resolve("mldrnet-l2", "quick")
    assert (cfg.lr, cfg.epochs, cfg.batch_size, cfg.crop, cfg.tuned) == (0.01, 3, 64, 64, "mldrnet's tuned values")
    assert resolve("mldrnet", "quick", epochs=3).tuned == "tuned: 4 trials on synth's val, 30 s each"  # the same value
    assert resolve("mldrnet", "quick", epochs=5).tuned is None  # another value: no longer what was tuned
    assert resolve("zhao", "quick").tuned is None  # hand-crafted features: nothing tuned
    path.write_text("{")
    with pytest.raises(BenchError, match="cannot read the profile file"):
        resolve("mldrnet", "quick")


def test_how_trained_says_how_the_values_were_chosen():
    cfg = {"profile": "quick", "tuned": "tuned: 10 trials on synth's val, 60 s each", "epochs": 4, "crop": 64}
    assert how_trained(cfg) == "quick (tuned: 10 trials on synth's val, 60 s each), 4 ep, 64 px, from scratch"


def test_the_committed_quick_profile_was_tuned_with_one_budget_for_every_network():
    data = json.loads(tuned.profile_path("quick").read_text())
    assert data["format"] == tuned.FORMAT and data["models"]["alexnet-svm"] == {"same_as": "alexnet"}
    budgets, spaces = set(), []
    for model in TUNED_NETWORKS:
        entry, log = data["models"][model], data["models"][model]["search"]
        assert log["model"] == model and "test split is never read" in log["objective"]
        budgets.add((log["budget"]["trials"], log["budget"]["seconds_per_trial"], log["budget"]["sampler"]))
        spaces.append({k: v for k, v in log["space"].items() if k != "crop"})
        assert len(log["trials"]) >= log["budget"]["trials"]
        assert entry == tuned.entry_from_log(log)  # the values are what the log's best trial (or rule) gives
        assert resolve(model, "quick").tuned == entry["tuned"]
        assert {k: getattr(resolve(model, "quick"), k) for k in tuned.KEYS} == entry["values"]
    assert len(budgets) == 1 and all(space == spaces[0] for space in spaces)  # the same budget and space for all
