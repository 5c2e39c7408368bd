"""Absurd options are usage errors at parse time (issue 13, item 4), before any data, model or training work;
Ctrl-C in `bench train` says how to resume and exits 130; inspecting a missing --data-root creates nothing;
the console never repeats torch's advice to disable safe loading (item 7)."""

import time

import pytest
from typer.testing import CliRunner

from bench.cli.compare import ACTIVATION_FACTOR, check_timing_memory, timing_memory_estimate
from bench.cli.console import safe_text
from mldrnet.errors import BenchError
from tests.helpers.compare_fakes import cli_app

runner = CliRunner()


@pytest.fixture(autouse=True)
def no_work(monkeypatch):
    """Any training, compare or data preparation that starts is a failure of the parse-time check."""
    import bench.compare
    import bench.train_all
    import engines.export
    import engines.predict
    import mldrnet.data
    import mldrnet.data.prepare
    import mldrnet.data.synth
    import mldrnet.training.loop

    def started(*a, **k):
        raise AssertionError("work started before the options were checked")

    for module, name in (
        (mldrnet.training.loop, "train_model"),
        (bench.train_all, "train_all"),
        (bench.compare, "run_compare"),
        (mldrnet.data, "prepare_data"),
        (mldrnet.data.prepare, "scan"),
        (mldrnet.data.synth, "ensure_synth"),
        (engines.export, "export_models"),
        (engines.predict, "predict_files"),
    ):
        monkeypatch.setattr(module, name, started)


TRAIN = ["train", "mldrnet"]
CHECK = ["check", "run", "--baseline", "base.json"]


@pytest.mark.parametrize(
    "args",
    [
        TRAIN + ["--crop", "100000"],
        TRAIN + ["--crop", "0"],
        TRAIN + ["--crop", "1"],
        TRAIN + ["--workers", "-1"],
        TRAIN + ["--workers", "100000"],
        TRAIN + ["--seed", "-1"],
        TRAIN + ["--lr", "nan"],
        TRAIN + ["--lr", "inf"],
        TRAIN + ["--lr", "0"],
        TRAIN + ["--lr", "-0.1"],
        TRAIN + ["--epochs", "0"],
        TRAIN + ["--batch-size", "0"],
        TRAIN + ["--label-noise", "nan"],
        TRAIN + ["--synth-n", "0"],
        TRAIN + ["--synth-size", "100000"],
        ["train-all", "--crop", "100000"],
        ["train-all", "--epochs", "0"],
        ["train-all", "--lr", "nan"],
        ["compare", "--threads", "999"],
        ["compare", "--batch-sizes", "100000"],
        ["compare", "--batch-sizes", "1,0"],
        ["compare", "--batch-sizes", "1,x"],
        ["compare", "--time-budget", "inf"],
        ["compare", "--time-budget", "nan"],
        ["compare", "--eval-batch-size", "100000"],
        CHECK + ["--tolerance", "inf"],
        CHECK + ["--tolerance", "nan"],
        CHECK + ["--accuracy-tolerance", "nan"],
        CHECK + ["--busy-limit", "inf"],
        ["predict", "x.jpg", "--threads", "999"],
        ["export", "mldrnet", "--max-batch", "100000"],
        ["data", "synth", "--n", "1000000000"],
        ["data", "synth", "--seed", "-1"],
        ["data", "info", "--seed", "-1"],
        ["data", "verify", "--workers", "100000"],
        # choices: refused at parse time too (issue item 5)
        TRAIN + ["--profile", "fast"],
        TRAIN + ["--tta", "three"],
        TRAIN + ["--device", "tpu"],
        TRAIN + ["--dataset", "imagenet"],
        ["train-all", "--profile", "fast"],
        ["train-all", "--device", "tpu"],
        ["reproduce", "table1", "--profile", "fast"],
        ["reproduce", "table1", "--dataset", "imagenet"],
        # reproduce takes train's bounds (its --crop once had a minimum of 64, train's 32)
        ["reproduce", "table1", "--crop", "16"],
        ["reproduce", "table1", "--crop", "100000"],
        ["reproduce", "table1", "--epochs", "0"],
        ["reproduce", "table1", "--synth-n", "0"],
    ],
    ids=lambda a: " ".join(a),
)
def test_absurd_numbers_are_usage_errors_before_any_work(args):
    start = time.perf_counter()
    r = runner.invoke(cli_app(), args)
    assert r.exit_code == 2, r.output  # click's usage error, no work done (the fixture would raise)
    assert "Traceback" not in r.output and "Invalid value" in r.output, r.output
    assert time.perf_counter() - start < 5


def test_ctrl_c_during_train_says_how_to_resume_and_exits_130(monkeypatch):
    import mldrnet.training.loop

    def interrupted(*a, **k):
        raise KeyboardInterrupt

    monkeypatch.setattr(mldrnet.training.loop, "train_model", interrupted)
    r = runner.invoke(cli_app(), ["train", "mldrnet", "--epochs", "1"])
    assert r.exit_code == 130 and "interrupted: resume with `bench train mldrnet --resume`" in r.output, r.output


def test_data_info_on_a_missing_data_root_creates_nothing(tmp_path):
    missing = tmp_path / "missing"
    for cmd in ("info", "verify", "split"):
        r = runner.invoke(
            cli_app(),
            ["data", cmd, "--dataset", "synth", "--data-root", str(missing), "--results-dir", str(tmp_path / "r")],
        )
        assert isinstance(r.exception, BenchError) and f"--data-root {missing} does not exist" in str(r.exception)
        assert not missing.exists()


def test_timing_memory_is_estimated_before_the_batch_is_allocated():
    assert timing_memory_estimate(2, 64) == 2 * 3 * 64 * 64 * 4 * (1 + ACTIVATION_FACTOR)  # input + activations
    check_timing_memory(8, 64, free=1 << 30)  # 0.003 GiB: fine
    with pytest.raises(BenchError, match=r"batch 1024 at 1024 px needs about \d+\.\d GiB .*only 1\.0 GiB free"):
        check_timing_memory(1024, 1024, free=1 << 30)


def test_the_console_never_suggests_disabling_safe_loading():
    torch_text = (
        "Weights only load failed. In PyTorch 2.6, we changed the default value of the `weights_only` "
        "argument in `torch.load` from `False` to `True`. Re-running `torch.load` with `weights_only` set to "
        "`False` will likely succeed, but it can result in arbitrary code execution."
    )
    shown = safe_text(f"cannot load alexnet ImageNet weights from w.pt: {torch_text}")
    assert shown.startswith("cannot load alexnet ImageNet weights from w.pt: ") and "False" not in shown
    assert safe_text("loaded with weights_only=True") == "loaded with weights_only=True"
