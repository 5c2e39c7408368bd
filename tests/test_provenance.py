"""Every accuracy says how its model was trained, and a model that stayed near chance is marked."""

from __future__ import annotations

from bench.cli.tables import records_table, train_table
from bench.records import CompareRun, Record
from bench.report import warnings_for
from mldrnet.io.provenance import chance_pct, how_trained, near_chance
from mldrnet.training.loop import TrainResult

QUICK = {"profile": "quick", "epochs": 4, "crop": 64, "seed": 0, "pretrained": False, "weights_path": None}


def test_how_trained_names_profile_epochs_size_and_start():
    assert how_trained(QUICK) == "quick, 4 ep, 64 px, from scratch"
    assert how_trained(QUICK, epochs_run=3) == "quick, 3 ep, 64 px, from scratch"
    assert how_trained({**QUICK, "pretrained": True, "seed": 2}) == "quick, 4 ep, 64 px, from ImageNet weights, seed 2"
    assert how_trained({**QUICK, "weights_path": "/w/alexnet.pth"}) == "quick, 4 ep, 64 px, from alexnet.pth"
    assert how_trained(QUICK, "features") == "quick, hand-crafted features at 64 px + fitted classifier, no epochs"
    assert how_trained(QUICK, "head", "alexnet") == "quick, head fitted on the trained alexnet, 64 px"
    assert how_trained(None).startswith("unknown")


def test_near_chance_is_less_than_a_fifth_of_the_way_from_chance_to_perfect():
    assert chance_pct(8) == 12.5 and chance_pct(2) == 50.0
    assert near_chance(0.27, 8) and near_chance(0.29, 8) and not near_chance(0.31, 8)  # the 27 % AlexNet
    assert near_chance(0.59, 2) and not near_chance(0.61, 2)
    assert near_chance(None, 8) and near_chance(float("nan"), 8)


def _text(table) -> str:
    from rich.console import Console

    console = Console(width=400, record=True)
    console.print(table)
    return console.export_text()


def test_train_table_shows_how_and_marks_near_chance():
    rows = [
        TrainResult(
            "mldrnet", epochs=10, best_val_acc=0.9, test_acc=0.88, how_trained="quick, 10 ep, 64 px, from scratch"
        ),
        TrainResult(
            "vgg19",
            epochs=1,
            best_val_acc=0.14,
            test_acc=0.13,
            how_trained="quick, 1 ep, 32 px, from scratch",
            near_chance=True,
        ),
    ]
    text = _text(train_table(rows))
    assert "quick, 10 ep, 64 px, from scratch" in text
    assert "near chance: not trained to a usable level" in text.split("vgg19")[1]
    assert "near chance" not in text.split("vgg19")[0].split("mldrnet")[1]


def test_compare_rows_carry_how_trained_into_table_and_warnings():
    common = dict(engine="torch", device="cpu", precision="fp32", batch_size=1, accuracy_pct=13.0)
    records = (
        Record("vgg19", "torch-cpu", how_trained="quick, 1 ep, 32 px, from scratch", near_chance=True, **common),
        Record("mldrnet", "torch-cpu", how_trained="quick, 10 ep, 64 px, from scratch", near_chance=False, **common),
    )
    run = CompareRun(records=records, environment={}, config={}, calibration={})
    assert "vgg19 ~ " in _text(records_table(run)) and "mldrnet ~" not in _text(records_table(run))
    text = _text(records_table(run, wide=True))  # how each model was trained: a column of the full table
    assert (
        "quick, 1 ep, 32 px, from scratch; near chance" in text
        and "usable level" not in text
        and "quick, 10 ep, 64 px, from scratch" in text
    )
    assert any(w.startswith("vgg19: near chance") for w in warnings_for(run))
    failed = Record("vgg19", "torch-cpu", "torch", "cpu", "fp32", 1, error="x", how_trained="quick", near_chance=True)
    back = Record.from_dict(failed.to_dict())  # the strict reader knows the fields
    assert back.how_trained == "quick" and back.near_chance is True
