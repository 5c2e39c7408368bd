"""Starts from ImageNet weights (issue 19 B): --pretrained / --weights reach train-all and reproduce, the start is
named by the weights loaded (run key, config hash, how-trained), reproduce reuses a `bench train` run of the same
start, and a missing or wrong file is one line. No network: the weights are small files in torchvision's format
that the tests make."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch
import torchvision
from typer.testing import CliRunner

from mldrnet.errors import BenchError
from mldrnet.models.torchvision import file_sha256, published
from tests.helpers.compare_fakes import cli_app

runner = CliRunner()
TINY = dict(epochs=1, crop=64, batch_size=32)  # AlexNet's smallest input is 63 px


def small_imagenet_file(arch: str, path: Path, seed: int = 0) -> Path:
    """torchvision's state dict of `arch` with random weights and the right keys and shapes, small on disk: the
    first layer drawn at random, every other tensor one random number broadcast to its shape (torch.save keeps
    a broadcast view's one-element storage: kilobytes instead of AlexNet's 240 MB)."""
    torch.manual_seed(seed)
    state = {}
    for i, (key, t) in enumerate(torchvision.models.get_model(arch, weights=None).state_dict().items()):
        if i < 2 or not t.is_floating_point():
            state[key] = t.clone()
        else:
            state[key] = (torch.randn(()) * 0.01).expand(t.shape)
    path.parent.mkdir(parents=True, exist_ok=True)
    torch.save(state, path)
    return path


@pytest.fixture(scope="module")
def weights(tmp_path_factory) -> Path:
    return small_imagenet_file("alexnet", tmp_path_factory.mktemp("w") / "alexnet-random.pth", seed=7)


def _data(**changes):
    from mldrnet.data import DataConfig

    return replace(DataConfig(dataset="synth", synth_n=96, synth_size=64), **changes)


def _one_line(message: str) -> str:
    assert "\n" not in message and "Traceback" not in message, message
    return message


def test_the_start_is_named_by_the_weights_loaded_not_by_their_path(weights, tmp_path):
    from mldrnet.training.start import imagenet_start

    digest = file_sha256(weights)
    start = imagenet_start("alexnet", None, str(weights))
    assert (
        start is not None and start.tag == f"imagenet:{digest[:12]}" and start.key_suffix == f"-imagenet-{digest[:8]}"
    )
    copy = shutil.copy(weights, tmp_path / "elsewhere.pth")
    assert imagenet_start("alexnet-svm", None, str(copy)).tag == start.tag  # same weights, same start
    assert imagenet_start("mldrnet", None, str(weights)) is None  # no ImageNet start: from scratch
    assert imagenet_start("zhao", True, None) is None
    assert imagenet_start("alexnet", None, None) is None
    # a torch-hub folder: torchvision's file name under checkpoints/ (here random weights: keyed by their hash)
    name = published("alexnet")[0][1].rsplit("/", 1)[-1]
    hub = small_imagenet_file("alexnet", tmp_path / "hub" / "checkpoints" / name, seed=3)
    found = imagenet_start("alexnet", None, str(tmp_path / "hub"))
    assert found.file == hub and found.tag == f"imagenet:{file_sha256(hub)[:12]}"


def test_train_all_starts_a_fine_tuned_model_from_the_file_and_mldrnet_from_scratch(weights, tmp_path, monkeypatch):
    """The first layer at step 0 is the file's; the run key, config and how-trained carry the start; MldrNet,
    which has no ImageNet start, ignores the option and trains from scratch; a second train-all reuses both."""
    from bench.train_all import train_all
    from mldrnet.checkpoint import Checkpoint
    from mldrnet.training import loop

    at_step_0 = {}
    fit = loop.fit

    def recording_fit(job, **kwargs):
        first = next(p for p in job.model.parameters())
        at_step_0[job.cfg.model] = first.detach().clone()
        return fit(job, **kwargs)

    monkeypatch.setattr(loop, "fit", recording_fit)
    results = train_all(["alexnet", "mldrnet-l2"], "quick", _data(), tmp_path, weights_path=str(weights), **TINY)
    assert all(r.ok for r in results), [r.error for r in results]
    alexnet, mldrnet = results
    expected = torch.load(weights, weights_only=True)["features.0.weight"]
    assert torch.equal(at_step_0["alexnet"], expected)
    digest = file_sha256(weights)
    assert Path(alexnet.run_dir).parent.name == f"synth-imagenet-{digest[:8]}"
    assert f"from imagenet:{digest[:12]}" in alexnet.how_trained
    assert Checkpoint.load(Path(alexnet.run_dir) / "best.pt").train_config["start"] == f"imagenet:{digest[:12]}"
    # MldrNet trained from scratch under the plain run key, and copied beside the fine-tuned baseline, so that
    # `bench compare --dataset synth-imagenet-...` compares both
    scratch = tmp_path / "runs" / "synth" / "mldrnet-l2"
    assert "from scratch" in mldrnet.how_trained and Path(mldrnet.run_dir).parent == Path(alexnet.run_dir).parent
    assert (Path(mldrnet.run_dir) / "best.pt").read_bytes() == (scratch / "best.pt").read_bytes()
    again = train_all(["alexnet", "mldrnet-l2"], "quick", _data(), tmp_path, weights_path=str(weights), **TINY)
    assert [r.skipped for r in again] == [True, True] and [r.run_dir for r in again] == [r.run_dir for r in results]


def test_reproduce_reuses_the_bench_train_run_of_the_same_start(weights, tmp_path):
    """`bench train alexnet --weights FILE`, then a reproduce cell with the same weights at another path: reused,
    not trained again; a cell without the start is another run key (it would not take the fine-tuned run)."""
    from bench.reproduce.context import ReproduceConfig, train_cell

    args = ["train", "alexnet", "--weights", weights, "--synth-n", "96", "--synth-size", "64", "--no-progress"]
    args += ["--epochs", "1", "--crop", "64", "--batch-size", "32", "--results-dir", tmp_path]
    r = runner.invoke(cli_app(), [str(a) for a in args])
    assert r.exit_code == 0, r.output
    copy = shutil.copy(weights, tmp_path / "copy.pth")
    ctx = ReproduceConfig(tmp_path, tmp_path / "report", data_overrides=dict(synth_n=96, synth_size=64))
    ctx.train_overrides, ctx.weights = dict(TINY), str(copy)
    cell = train_cell(ctx, "alexnet", ctx.data_config("large"), seeds=[0])
    (run,) = cell.runs
    assert run.ok and run.skipped, run
    assert Path(run.run_dir).parent.name == f"synth-imagenet-{file_sha256(weights)[:8]}"
    assert "imagenet:" in run.how_trained


def test_a_reproduce_experiment_passes_the_start_to_the_fine_tuned_baselines_only(weights, tmp_path, monkeypatch):
    """Table III's trainings: AlexNet, VGG-19, ResNet-101 and AlexNet+SVM get --weights; MldrNet and the
    hand-crafted baselines do not (the training itself is replaced: this checks what reproduce asks for)."""
    from bench.reproduce import tables
    from bench.reproduce.context import ReproduceConfig
    from mldrnet.training import loop

    asked = {}

    def fake_train_model(cfg, data_cfg, root, **kwargs):
        asked[cfg.model] = cfg.weights_path
        return loop.TrainResult(cfg.model, error="not trained in this test")

    monkeypatch.setattr(loop, "train_model", fake_train_model)
    monkeypatch.setattr("bench.reproduce.context.ReproduceConfig.start_options", _no_file_check)
    ctx = ReproduceConfig(tmp_path, tmp_path / "report", seeds=1, weights=str(weights))
    tables.table3(ctx)
    fine_tuned = {"alexnet", "vgg19", "resnet101", "alexnet-svm"}
    assert fine_tuned <= set(asked)
    assert all(asked[m] == str(weights) for m in fine_tuned)
    assert all(path is None for m, path in asked.items() if m not in fine_tuned), asked


def _no_file_check(self, model):
    """start_options without looking the weights up: the alexnet file would not do for vgg19 (its keys are
    checked when a training loads it, which this test replaces)."""
    from mldrnet.training.start import takes_imagenet

    return {"weights_path": self.weights} if takes_imagenet(model) else {}


# --- the one-line refusals ---------------------------------------------------------------------------------------


def test_a_missing_weights_file_is_one_line_naming_it(tmp_path):
    from bench.train_all import train_all

    missing = tmp_path / "nope.pth"
    with pytest.raises(BenchError) as e:
        train_all(["mldrnet-l2", "alexnet"], "quick", _data(), tmp_path / "res", weights_path=str(missing), **TINY)
    assert str(missing) in _one_line(str(e.value)) and "does not exist" in str(e.value)
    assert not (tmp_path / "res" / "runs").exists()  # refused before any training, MldrNet's included


def test_a_folder_without_the_file_names_where_it_looked(tmp_path):
    from mldrnet.training.start import imagenet_start

    with pytest.raises(BenchError) as e:
        imagenet_start("vgg19", None, str(tmp_path))
    message = _one_line(str(e.value))
    assert "vgg19" in message and str(tmp_path / "hub" / "checkpoints") in message and "--weights FILE" in message


def test_weights_of_another_architecture_are_one_line_naming_the_file(tmp_path):
    wrong = small_imagenet_file("resnet18", tmp_path / "resnet18.pth")
    args = ["train", "alexnet", "--weights", wrong, "--synth-n", "96", "--synth-size", "64", "--no-progress"]
    r = runner.invoke(cli_app(), [str(a) for a in args + ["--epochs", "1", "--results-dir", tmp_path / "res"]])
    assert r.exit_code == 1 and isinstance(r.exception, BenchError), r.output
    message = _one_line(str(r.exception))
    assert str(wrong) in message and "keys" in message and "missing" in message and "pass a torchvision" in message


@pytest.mark.parametrize("command", [["train-all", "-m", "alexnet"], ["reproduce", "table3"]])
def test_cli_refuses_a_missing_weights_path_in_one_line(command, tmp_path):
    missing = tmp_path / "missing.pth"
    args = [*command, "--weights", missing, "--results-dir", tmp_path / "res"]
    r = runner.invoke(cli_app(), [str(a) for a in args])
    assert r.exit_code == 1 and isinstance(r.exception, BenchError), r.output
    assert str(missing) in _one_line(str(r.exception))


def test_train_all_refuses_a_start_no_model_takes(weights, tmp_path):
    r = runner.invoke(
        cli_app(), ["train-all", "-m", "mldrnet", "--weights", str(weights), "--results-dir", str(tmp_path)]
    )
    assert r.exit_code == 1 and "apply to none of mldrnet" in _one_line(str(r.exception))


def test_reproduce_refuses_a_start_for_an_experiment_that_fine_tunes_nothing(weights, tmp_path):
    args = ["reproduce", "table1", "--weights", weights, "--results-dir", tmp_path / "res", "--out", tmp_path / "o"]
    r = runner.invoke(cli_app(), [str(a) for a in args])
    assert r.exit_code == 1 and "does not apply to table1" in _one_line(str(r.exception))
    assert not (tmp_path / "res" / "runs").exists()


def test_reproduce_looks_every_fine_tuned_baseline_up_before_training(tmp_path):
    """A torch-hub folder holding AlexNet's file but not VGG-19's: Table III is refused at once, naming where it
    looked, not after hours of the models before VGG-19."""
    from bench.reproduce.context import ReproduceConfig
    from bench.reproduce.run import check_start, fine_tuned

    assert fine_tuned("table3") == ["alexnet-svm", "alexnet", "vgg19", "resnet101"]
    assert fine_tuned("fig6") == ["alexnet"] and fine_tuned("table1") == []
    name = published("alexnet")[0][1].rsplit("/", 1)[-1]
    small_imagenet_file("alexnet", tmp_path / "hub" / "checkpoints" / name)
    ctx = ReproduceConfig(tmp_path, tmp_path / "o", weights=str(tmp_path / "hub"))
    check_start(["fig6"], ctx, "fig6")  # AlexNet's file is there
    with pytest.raises(BenchError) as e:
        check_start(["table3"], ctx, "table3")
    assert "no vgg19 ImageNet weights" in _one_line(str(e.value)) and str(tmp_path / "hub") in str(e.value)
    # with every architecture's file there, each fine-tuned baseline of Table III starts from its own
    from mldrnet.training.start import imagenet_start

    for arch in ("vgg19", "resnet101"):
        small_imagenet_file(arch, tmp_path / "hub" / "checkpoints" / published(arch)[0][1].rsplit("/", 1)[-1])
    check_start(["table3"], ctx, "table3")
    files = {m: imagenet_start(m, None, ctx.weights).file.name for m in fine_tuned("table3")}
    assert files["alexnet"] == files["alexnet-svm"] == name and files["vgg19"].startswith("vgg19-")
    assert files["resnet101"].startswith("resnet101-")
    assert ctx.start_options("vgg19") == {"pretrained": None, "weights_path": str(tmp_path / "hub")}
    assert ctx.start_options("mldrnet") == {}


def test_how_trained_names_the_start():
    from mldrnet.training.hooks import describe_training

    cfg = {"profile": "quick", "epochs": 6, "crop": 96, "seed": 0, "pretrained": True, "weights_path": "/a/b.pth"}
    assert describe_training("alexnet", {**cfg, "start": "imagenet:IMAGENET1K_V1"}, None) == (
        "quick, 6 ep, 96 px, from imagenet:IMAGENET1K_V1"
    )
    assert describe_training("alexnet", {**cfg, "start": None}, None) == "quick, 6 ep, 96 px, from scratch"
    head = describe_training("alexnet-svm", {**cfg, "epochs": 0, "start": "imagenet:0123456789ab"}, None)
    assert head == "quick, head fitted on the trained alexnet, 96 px, alexnet from imagenet:0123456789ab"
    assert describe_training("alexnet", cfg, None) == "quick, 6 ep, 96 px, from b.pth"  # a run of an older version


def test_only_the_default_published_weights_share_the_plain_key(weights, monkeypatch):
    import mldrnet.training.start as start

    digest = file_sha256(weights)
    # torchvision publishes two files for some networks (ResNet-101: V2, the default, and V1): two starts
    two = [("IMAGENET1K_V2", "v2", "ffffffff"), ("IMAGENET1K_V1", "v1", digest[:8])]
    monkeypatch.setattr(start, "published", lambda arch: two)
    other = start.imagenet_start("alexnet", None, str(weights))
    assert other.tag == "imagenet:IMAGENET1K_V1" and other.key_suffix == "-imagenet-imagenet1k_v1"
    monkeypatch.setattr(start, "published", lambda arch: [("IMAGENET1K_V1", "v1", digest[:8])])
    default = start.imagenet_start("alexnet", None, str(weights))
    assert default.tag == "imagenet:IMAGENET1K_V1" and default.key_suffix == "-imagenet"
