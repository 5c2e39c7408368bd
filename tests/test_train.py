"""Training: beats chance, resumes to identical weights after a kill, SVM folding, profiles, torchrun."""

import json
import os
import shutil
import signal
import socket
import subprocess
import sys
import time

import numpy as np
import pytest
import torch
from torch import nn

from mldrnet.checkpoint import Checkpoint, save_atomic
from mldrnet.errors import BenchError
from mldrnet.models.svm import fit_svm, fold_into_linear
from mldrnet.training.config import PROFILES, TrainConfig, resolve
from mldrnet.training.loop import lr_at, train_model

TINY = dict(crop=40, batch_size=32, lr=0.02, workers=0, device="cpu")


def tiny_data():
    from mldrnet.data import DataConfig

    return DataConfig(dataset="synth", synth_n=320, synth_size=48, seed=0)


def _bench(*args, env=None, **kw):
    return subprocess.Popen(
        [sys.executable, "-m", "bench", *args],
        env={**os.environ, **(env or {})},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kw,
    )


def test_short_run_beats_chance(tmp_path):
    cfg = resolve("mldrnet", "quick", epochs=6, **TINY)
    result = train_model(cfg, tiny_data(), tmp_path)
    assert result.test_acc > 0.3, f"8 classes: chance is 0.125, got {result.test_acc}"
    run = tmp_path / "runs" / "synth" / "mldrnet"
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert [h["epoch"] for h in history] == list(range(1, 7))
    assert history[-1]["train_loss"] < history[0]["train_loss"]
    ckpt = Checkpoint.load(run / "best.pt")
    assert ckpt.test_acc == result.test_acc and ckpt.epoch == result.best_epoch
    assert ckpt.best_val_acc == max(h["val_acc"] for h in history)
    assert ckpt.classes[0] == "amusement" and ckpt.preprocessing.crop == 40
    # a second identical run is skipped; --force trains again
    again = train_model(cfg, tiny_data(), tmp_path)
    assert again.skipped and again.test_acc == result.test_acc


def _weights(path):
    return Checkpoint.load(path).state_dict


def test_killed_then_resumed_run_ends_with_identical_weights(tmp_path):
    args = [
        "train",
        "mldrnet",
        "--epochs",
        "5",
        "--crop",
        "40",
        "--batch-size",
        "32",
        "--lr",
        "0.02",
        "--synth-n",
        "320",
        "--synth-size",
        "48",
        "--device",
        "cpu",
        "--no-progress",
    ]
    straight, killed = tmp_path / "straight", tmp_path / "killed"
    # the synthetic data and split are shared, so both runs see the same images
    proc = _bench(*args, env={"BENCH_RESULTS_DIR": str(straight)})
    assert proc.wait(timeout=300) == 0, proc.stderr.read()
    shutil.copytree(straight / "data", killed / "data")
    shutil.copytree(straight / "splits", killed / "splits")

    proc = _bench(*args, env={"BENCH_RESULTS_DIR": str(killed)})
    last = killed / "runs" / "synth" / "mldrnet" / "last.pt"
    deadline = time.time() + 300
    while not last.exists() and proc.poll() is None and time.time() < deadline:
        time.sleep(0.01)
    proc.send_signal(signal.SIGKILL)  # just after the first epoch's files: mid-save or early in epoch 2
    proc.wait()
    assert Checkpoint.load(last).epoch < 5, "the run finished before it could be killed"
    resumed = _bench(*args, "--resume", env={"BENCH_RESULTS_DIR": str(killed)})
    assert resumed.wait(timeout=300) == 0, resumed.stderr.read()

    a = _weights(straight / "runs/synth/mldrnet/best.pt")
    b = _weights(killed / "runs/synth/mldrnet/best.pt")
    assert a.keys() == b.keys()
    for key in a:
        assert torch.equal(a[key], b[key]), key
    ha = json.loads((straight / "runs/synth/mldrnet/result.json").read_text())
    hb = json.loads((killed / "runs/synth/mldrnet/result.json").read_text())
    assert ha["test_acc"] == hb["test_acc"] and ha["best_val_acc"] == hb["best_val_acc"]


def test_resume_refuses_a_checkpoint_of_another_model(tmp_path):
    cfg = resolve("mldrnet-l2", "quick", epochs=1, **TINY)
    train_model(cfg, tiny_data(), tmp_path)
    run = tmp_path / "runs" / "synth"
    (run / "mldrnet").mkdir()
    shutil.copy(run / "mldrnet-l2" / "last.pt", run / "mldrnet" / "last.pt")
    with pytest.raises(BenchError, match="checkpoint of mldrnet-l2"):
        train_model(resolve("mldrnet", "quick", epochs=1, **TINY), tiny_data(), tmp_path, resume=True)
    with pytest.raises(BenchError, match="another configuration"):
        train_model(resolve("mldrnet-l2", "quick", epochs=1, **{**TINY, "lr": 0.5}), tiny_data(), tmp_path, resume=True)


@pytest.mark.parametrize("classes", [8, 2])
def test_svm_head_reproduces_sklearn_decision_function(classes):
    rng = np.random.default_rng(0)
    x = rng.normal(size=(200, 32)) * rng.uniform(0.1, 10, size=32) + rng.normal(size=32)
    y = rng.integers(0, classes, size=200)
    x[y == 1] += 1.5  # something to learn
    svm = fit_svm(x, y)
    linear = nn.Linear(32, classes)
    fold_into_linear(svm, linear)
    with torch.no_grad():
        out = linear(torch.as_tensor(x, dtype=torch.float32)).double().numpy()
    decision = svm.decision_function(x)
    if classes == 2:
        np.testing.assert_allclose(out[:, 1], decision, rtol=1e-4, atol=1e-4)
        np.testing.assert_array_equal(out[:, 0], 0)
    else:
        np.testing.assert_allclose(out, decision, rtol=1e-4, atol=1e-4)
    np.testing.assert_array_equal(out.argmax(1), svm.predict(x))


def test_alexnet_svm_uses_the_trained_alexnet(tmp_path):
    opts = {**TINY, "crop": 64}  # torchvision's AlexNet needs at least 63 px
    train_model(resolve("alexnet", "quick", epochs=1, **opts), tiny_data(), tmp_path)
    svm_result = train_model(resolve("alexnet-svm", "quick", **opts), tiny_data(), tmp_path)
    assert svm_result.epochs == 0  # backbone taken from the trained AlexNet, only the SVM is fitted
    alexnet = Checkpoint.load(tmp_path / "runs/synth/alexnet/best.pt").state_dict
    svm = Checkpoint.load(tmp_path / "runs/synth/alexnet-svm/best.pt").state_dict
    assert torch.equal(alexnet["features.0.weight"], svm["features.0.weight"])
    assert not torch.equal(alexnet["classifier.6.weight"], svm["svm.weight"])
    assert svm_result.test_acc > 0.2  # chance is 0.125: the SVM on a (briefly) trained AlexNet's features learns


def test_profiles_and_overrides():
    assert resolve("zhao", "quick").crop == PROFILES["quick"]["crop"]  # no tuned entry: the profile's value
    paper = resolve("mldrnet", "paper")
    assert (paper.lr, paper.momentum, paper.weight_decay, paper.batch_size, paper.crop) == (0.001, 0.9, 0.0005, 64, 375)
    assert resolve("mldrnet", "paper", lr=0.1, crop=96).lr == 0.1
    with pytest.raises(BenchError, match="unknown profile"):
        resolve("mldrnet", "fast")
    assert TrainConfig(epochs=10).fingerprint() != TrainConfig(epochs=11).fingerprint()
    assert TrainConfig(workers=0).fingerprint() == TrainConfig(workers=4).fingerprint()


def test_cosine_schedule():
    cfg = TrainConfig(lr=0.1, epochs=10)
    lrs = [lr_at(cfg, e) for e in range(10)]
    assert lrs[0] == 0.1 and all(a > b for a, b in zip(lrs, lrs[1:])) and lrs[-1] < 0.01


def test_save_atomic_leaves_no_partial_file(tmp_path, monkeypatch):
    path = tmp_path / "c.pt"
    save_atomic({"a": torch.ones(2)}, path)

    def boom(*args, **kwargs):
        raise OSError("disk full")

    monkeypatch.setattr(torch, "save", boom)
    with pytest.raises(BenchError):  # a write error is one line (what, where, what to do), never a traceback
        save_atomic({"a": torch.zeros(2)}, path)
    assert torch.load(path, weights_only=True)["a"].sum() == 2
    assert [p.name for p in tmp_path.iterdir()] == ["c.pt"]


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_two_process_torchrun(tmp_path):
    torchrun = shutil.which("torchrun", path=os.path.dirname(sys.executable))
    if torchrun is None:
        pytest.skip("torchrun is not installed beside this python")
    env = {**os.environ, "BENCH_RESULTS_DIR": str(tmp_path), "OMP_NUM_THREADS": "1"}
    proc = subprocess.run(
        [
            torchrun,
            "--nproc-per-node",
            "2",
            "--master-port",
            str(_free_port()),
            "-m",
            "bench",
            "train",
            "mldrnet",
            "--epochs",
            "2",
            "--crop",
            "40",
            "--batch-size",
            "32",
            "--synth-n",
            "320",
            "--synth-size",
            "48",
            "--device",
            "cpu",
            "--no-progress",
        ],
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    run = tmp_path / "runs" / "synth" / "mldrnet"
    history = [json.loads(line) for line in (run / "metrics.jsonl").read_text().splitlines()]
    assert len(history) == 2
    # the epoch's figures count both processes' images (each saw half of the training split)
    assert abs(history[0]["images"] - 256) <= 2
    # the summary table is printed once, by rank 0
    assert proc.stderr.count("Training summary") == 1
    files = ["best.pt", "last.pt", "metrics.jsonl", "predictions.npz", "result.json"]
    assert sorted(p.name for p in run.iterdir()) == files


def test_train_all_goes_on_after_a_failing_model(tmp_path):
    from bench.train_all import train_all

    # AlexNet cannot run on 40 px crops: that model fails with one line, the next one still trains
    results = train_all(
        ["alexnet", "mldrnet-l2"],
        "quick",
        tiny_data(),
        tmp_path,
        epochs=1,
        **{k: v for k, v in TINY.items() if k != "lr"},
    )
    assert not results[0].ok and results[0].model == "alexnet" and "\n" not in results[0].error
    assert results[1].model == "mldrnet-l2" and not results[1].skipped


def test_label_noise_runs_get_their_own_folder(tmp_path):
    from dataclasses import replace

    noisy = replace(tiny_data(), label_noise=0.2)
    result = train_model(resolve("mldrnet-l2", "quick", epochs=1, **TINY), noisy, tmp_path)
    assert result.run_dir.endswith(os.path.join("runs", "synth-noise0.2", "mldrnet-l2"))


def test_bad_tta_is_a_clean_error():
    with pytest.raises(BenchError, match="--tta 'three'"):
        resolve("mldrnet", "quick", tta="three")
