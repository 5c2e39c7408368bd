"""Reliability (issue 13, items 2, 3, 6 and part of 7): one writer per run folder, export file and compare output;
a diverged or empty training is an error, not a success; non-finite weights are refused; the environment's
failures (full disk, read-only folder, a file where a folder should be) are one line; stale temporaries go."""

from __future__ import annotations

import errno
import json
import os
import socket
import subprocess
import sys
import time
from contextlib import contextmanager
from dataclasses import replace
from pathlib import Path

import pytest
import torch
from PIL import Image

from mldrnet import models
from mldrnet.checkpoint import FORMAT, Checkpoint
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError
from mldrnet.io.atomic import atomic_write_text
from mldrnet.io.layout import RunFolder, checkpoint_path
from mldrnet.training.config import resolve
from mldrnet.training.hooks import Start
from mldrnet.training.loop import train_model

TINY = dict(crop=40, batch_size=32, lr=0.02, workers=0, device="cpu")  # as tests/test_train.py
CLASSES = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")
root_only = pytest.mark.skipif(os.geteuid() != 0, reason="needs root (mounts a tmpfs)")
not_root = pytest.mark.skipif(os.geteuid() == 0, reason="root ignores permission bits")


def tiny_data():
    from mldrnet.data import DataConfig

    return DataConfig(dataset="synth", synth_n=320, synth_size=48, seed=0)


def _one_line(e: pytest.ExceptionInfo) -> str:
    text = str(e.value)
    assert "\n" not in text and "Traceback" not in text, text
    return text


@contextmanager
def held_by_another_process(lock_file: Path):
    """A second process holding `lock_file` through mldrnet.io.lock, as a concurrent bench run would."""
    code = (
        "import sys, time\nfrom mldrnet.io.lock import exclusive\nwith exclusive(sys.argv[1], 'test'):\n"
        "    print('locked', flush=True)\n    time.sleep(120)\n"
    )
    proc = subprocess.Popen([sys.executable, "-c", code, str(lock_file)], stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout.readline().strip() == "locked"
        yield proc
    finally:
        proc.kill()
        proc.wait()


def _assert_names_holder(message: str, proc: subprocess.Popen) -> None:
    assert "in use by another bench process" in message
    assert f"pid {proc.pid}" in message and socket.gethostname() in message and "since" in message


@pytest.fixture
def tmpfs():
    """mount(path, size, ro): a small tmpfs at `path` (root only), unmounted at the end."""
    mounted = []

    def mount(path: Path, size: str = "64k", ro: bool = False) -> Path:
        path.mkdir(parents=True, exist_ok=True)
        r = subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"size={size}" + (",ro" if ro else ""), "tmpfs", str(path)],
            capture_output=True,
            text=True,
        )
        if r.returncode:
            pytest.skip(f"cannot mount a tmpfs here: {r.stderr.strip()}")
        mounted.append(path)
        return path

    yield mount
    for p in reversed(mounted):
        subprocess.run(["umount", "-l", str(p)], capture_output=True)


def _checkpoint(root: Path, *, nan: bool = False, model: str = "mldrnet") -> Path:
    torch.manual_seed(0)
    net = models.create(model, num_classes=len(CLASSES))
    if nan:
        with torch.no_grad():
            next(net.parameters())[0].fill_(float("nan"))
    ckpt = Checkpoint.of_model(model, net, CLASSES, Preprocessing(crop=64), data_config={"dataset": "synth"})
    return ckpt.save(checkpoint_path(root, model, "synth"))


def _image(tmp_path: Path) -> Path:
    path = tmp_path / "img.png"
    Image.new("RGB", (80, 80), (120, 30, 200)).save(path)
    return path


# --- item 2: one writer per run folder, export file and compare output ------------------------------------


def test_a_second_training_of_a_run_folder_refuses_naming_the_holder(tmp_path):
    cfg = resolve("mldrnet", "quick", epochs=1, **TINY)
    run = RunFolder.at(tmp_path, "mldrnet", "synth")
    run.path.mkdir(parents=True)
    with held_by_another_process(run.lock) as holder:
        with pytest.raises(BenchError) as e:
            train_model(cfg, tiny_data(), tmp_path)
        _assert_names_holder(_one_line(e), holder)
        assert not run.checkpoint.exists() and not run.result.exists()
    # the holder was killed: the OS released its lock, nothing stale stops the next run
    result = train_model(cfg, tiny_data(), tmp_path)
    assert result.ok and not result.skipped and run.result.is_file()
    names = {p.name for p in run.path.iterdir()}  # the training files (+ per-image test predictions), no temporary
    assert (
        {"best.pt", "last.pt", "metrics.jsonl", "result.json"}
        <= names
        <= {
            "best.pt",
            "last.pt",
            "metrics.jsonl",
            "result.json",
            "predictions.npz",
        }
    )


def test_already_trained_only_when_result_and_best_pt_agree(tmp_path):
    cfg = resolve("mldrnet", "quick", epochs=1, **TINY)
    first = train_model(cfg, tiny_data(), tmp_path)
    run = RunFolder(Path(first.run_dir))
    assert train_model(cfg, tiny_data(), tmp_path).skipped
    # best.pt of another run beside this run's result.json (two writers, or a copy): trained again
    best = Checkpoint.load(run.checkpoint)
    replace(best, config_hash="0" * 16).save(run.checkpoint)
    again = train_model(cfg, tiny_data(), tmp_path)
    assert not again.skipped and Checkpoint.load(run.checkpoint).config_hash == best.config_hash
    # a best.pt that does not load: trained again, not trusted
    run.checkpoint.write_bytes(b"half a checkpoint")
    assert not train_model(cfg, tiny_data(), tmp_path).skipped
    Checkpoint.load(run.checkpoint)


def test_a_second_export_of_a_file_refuses_naming_the_holder(tmp_path):
    from engines.export import ExportOptions, export_checkpoint
    from mldrnet.io.lock import lock_file_for

    ckpt = _checkpoint(tmp_path)
    target = ckpt.parent / "model.onnx"
    with held_by_another_process(lock_file_for(target)) as holder:
        with pytest.raises(BenchError) as e:
            export_checkpoint(ckpt, ExportOptions(to="onnx"), tmp_path)
        _assert_names_holder(_one_line(e), holder)
    assert not target.exists()


def test_a_second_compare_into_one_folder_refuses_naming_the_holder(tmp_path):
    from bench.report import save_all
    from tests.helpers.compare_fakes import synthetic_run

    out = tmp_path / "compare" / "ci"
    out.mkdir(parents=True)
    with held_by_another_process(out / ".lock") as holder:
        with pytest.raises(BenchError) as e:
            save_all(synthetic_run([dict(model="mldrnet", variant="torch-cpu", batch_size=1)]), out, plots=False)
        _assert_names_holder(_one_line(e), holder)
        from bench.compare import output_lock

        with pytest.raises(BenchError):
            with output_lock(out):
                pass
    assert not (out / "records.json").exists()
    # this process may hold it around the whole run and still save (re-entrant); released afterwards
    with output_lock(out):
        save_all(synthetic_run([dict(model="mldrnet", variant="torch-cpu", batch_size=1)]), out, plots=False)
    assert sorted(p.name for p in out.iterdir()) == ["records.csv", "records.json", "scenarios.json"]  # no lock left


# --- item 3: failure is not success --------------------------------------------------------------------------


@pytest.mark.parametrize("lr", [float("nan"), float("inf")])
def test_a_non_finite_learning_rate_is_refused(tmp_path, lr):
    with pytest.raises(BenchError) as e:
        train_model(resolve("mldrnet", "quick", epochs=1, **{**TINY, "lr": lr}), tiny_data(), tmp_path)
    assert "lr" in _one_line(e)
    assert not list(tmp_path.glob("runs/*/*/*.pt"))


@pytest.mark.parametrize("batch_size", [32, 512], ids=["loss-check", "weights-check"])
def test_a_diverging_run_stops_and_keeps_the_last_good_epoch(tmp_path, monkeypatch, batch_size):
    """From epoch 2 on the learning rate is NaN (a divergence): with several batches an epoch the next batch's loss
    is NaN and the step never happens; with one batch (512 > the split) the weights after the step are NaN."""
    import mldrnet.training.loop as train

    good_lr = train.lr_at
    monkeypatch.setattr(train, "lr_at", lambda cfg, epoch: float("nan") if epoch >= 1 else good_lr(cfg, epoch))
    cfg = resolve("mldrnet", "quick", epochs=3, **{**TINY, "batch_size": batch_size})
    with pytest.raises(BenchError) as e:
        train_model(cfg, tiny_data(), tmp_path)
    message = _one_line(e)
    assert "diverged in epoch 2" in message and "lower --lr" in message
    run = RunFolder.at(tmp_path, "mldrnet", "synth")
    for path in (run.checkpoint, run.last):
        ckpt = Checkpoint.load(path).require_finite()
        assert ckpt.epoch == 1
    assert [json.loads(line)["epoch"] for line in run.metrics.read_text().splitlines()] == [1]
    assert not run.result.exists()  # never reported as trained
    assert not run.lock.exists() and not list(run.path.glob("*.tmp"))


def test_zero_epochs_is_refused_unless_a_start_hook_needs_none(tmp_path):
    with pytest.raises(BenchError) as e:
        train_model(resolve("mldrnet", "quick", epochs=0, **TINY), tiny_data(), tmp_path)
    assert "--epochs 0" in _one_line(e)
    assert not (tmp_path / "runs").exists()
    from mldrnet.training.loop import _require_epochs

    _require_epochs(resolve("alexnet-svm", "quick", epochs=0), Start("alexnet:abc", epochs=0))  # from trained alexnet
    with pytest.raises(BenchError):
        _require_epochs(resolve("alexnet-svm", "quick", epochs=0), None)  # from scratch: needs epochs


def test_non_finite_weights_are_refused_by_export_predict_and_compare(tmp_path):
    from engines.export import ExportOptions, export_checkpoint
    from engines.predict import predict_files
    from tests.helpers.compare_fakes import fake_run

    ckpt = _checkpoint(tmp_path, nan=True)
    with pytest.raises(BenchError) as e:
        models.load(Checkpoint.load(ckpt))
    assert "non-finite weights" in _one_line(e) and "train mldrnet again" in str(e.value) and "--lr" not in str(e.value)
    with pytest.raises(BenchError) as e:
        export_checkpoint(ckpt, ExportOptions(to="onnx"), tmp_path)
    assert "non-finite weights" in _one_line(e)
    assert not (ckpt.parent / "model.onnx").exists()
    with pytest.raises(BenchError) as e:
        predict_files([_image(tmp_path)], "torch", ckpt.parent)
    assert "non-finite weights" in _one_line(e)
    run = fake_run(tmp_path)
    assert run.records and all(r.error and "non-finite weights" in r.error for r in run.records)


def test_predict_refuses_non_finite_outputs_and_its_json_is_always_valid(tmp_path):
    from engines.predict import Prediction, predict_images

    meta = Checkpoint.load(_checkpoint(tmp_path)).meta
    nan_engine = lambda x: torch.full((len(x), len(CLASSES)), float("nan"))  # noqa: E731 (an exported NaN model)
    with pytest.raises(BenchError) as e:
        predict_images(nan_engine, meta, [_image(tmp_path)])
    assert "not finite" in _one_line(e)
    p = Prediction("x.jpg", {"amusement": float("nan"), "anger": float("inf")}, "amusement")
    doc = json.loads(json.dumps(p.to_dict(), allow_nan=False))
    assert doc["confidence"] is None and doc["probabilities"] == {"amusement": None, "anger": None}


# --- item 6: the environment's failures are one line -------------------------------------------------------


def test_a_full_disk_during_torch_save_names_the_disk_not_torch(tmp_path, monkeypatch):
    """Any user: the temporary file fills up after 1 kB (torch.save then says only "unexpected pos")."""
    import mldrnet.io.atomic as atomic

    real_fdopen = os.fdopen

    class Full:
        def __init__(self, f):
            self.f, self.n = f, 0

        def write(self, b):
            self.n += len(b)
            if self.n > 1024:
                raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
            return self.f.write(b)

        def __getattr__(self, name):
            return getattr(self.f, name)

        def __enter__(self):
            return self

        def __exit__(self, *exc):
            self.f.close()

    monkeypatch.setattr(atomic.os, "fdopen", lambda fd, mode: Full(real_fdopen(fd, mode)))
    net = models.create("mldrnet", num_classes=8)
    ckpt = Checkpoint.of_model("mldrnet", net, CLASSES, Preprocessing(crop=64))
    with pytest.raises(BenchError) as e:
        ckpt.save(tmp_path / "best.pt")
    message = _one_line(e)
    assert "no space left on device" in message and str(tmp_path / "best.pt") in message
    assert "unexpected pos" not in message
    assert list(tmp_path.iterdir()) == []  # no half file, no temporary


@root_only
def test_a_full_disk_stops_training_with_one_line(tmp_path, tmpfs):
    from mldrnet.data import prepare_data

    prepare_data(tiny_data(), tmp_path)  # the images and split on the real disk, the run folder on a 64 kB one
    tmpfs(tmp_path / "runs", size="64k")
    with pytest.raises(BenchError) as e:
        train_model(resolve("mldrnet", "quick", epochs=1, **TINY), tiny_data(), tmp_path)
    message = _one_line(e)
    assert "no space left on device" in message and "best.pt" in message and "--results-dir" in message
    run = RunFolder.at(tmp_path, "mldrnet", "synth")
    assert not list(run.path.glob("*.tmp")) and not run.lock.exists()


@root_only
def test_a_read_only_results_folder_is_one_line_before_any_work(tmp_path, tmpfs):
    ro = tmpfs(tmp_path / "ro", ro=True)
    with pytest.raises(BenchError) as e:
        train_model(resolve("mldrnet", "quick", epochs=1, **TINY), tiny_data(), ro)
    assert "read-only file system" in _one_line(e) and str(ro) in str(e.value)
    from bench.compare import check_output_dir
    from bench.report import save_all
    from tests.helpers.compare_fakes import synthetic_run

    with pytest.raises(BenchError) as e:
        check_output_dir(ro / "compare" / "ci")
    assert "read-only file system" in _one_line(e)
    with pytest.raises(BenchError) as e:
        save_all(synthetic_run([dict(model="mldrnet", variant="torch-cpu", batch_size=1)]), ro / "out")
    assert "read-only file system" in _one_line(e)


@not_root
def test_an_unwritable_results_folder_is_one_line(tmp_path):
    from mldrnet.io.atomic import writable_dir

    locked = tmp_path / "locked"
    locked.mkdir()
    locked.chmod(0o555)
    try:
        with pytest.raises(BenchError) as e:
            writable_dir(locked / "runs", "results folder")
        assert "permission denied" in _one_line(e)
        with pytest.raises(BenchError) as e:
            atomic_write_text(locked / "x.json", "{}")
        assert "permission denied" in _one_line(e)
    finally:
        locked.chmod(0o755)


def test_a_results_path_that_is_a_file_is_one_line(tmp_path):
    from bench.train_all import train_all

    file = tmp_path / "results"
    file.write_text("not a folder")
    with pytest.raises(BenchError) as e:
        train_model(resolve("mldrnet", "quick", epochs=1, **TINY), tiny_data(), file)
    assert f"{file} is a file, not a folder" in _one_line(e)
    with pytest.raises(BenchError) as e:
        train_all(["mldrnet"], "quick", tiny_data(), file, epochs=1)
    assert "is a file, not a folder" in _one_line(e)
    with pytest.raises(BenchError) as e:
        atomic_write_text(file / "splits" / "x.json", "{}")
    assert "is a file, not a folder" in _one_line(e)
    from bench.compare import check_output_dir

    with pytest.raises(BenchError) as e:
        check_output_dir(file / "compare" / "ci")
    assert "is a file, not a folder" in _one_line(e)


def test_records_json_is_written_last(tmp_path, monkeypatch):
    """records.json is written last (it marks a complete run) and a failing step before it leaves none, not even a
    previous run's; a failing plot never costs the records (issue 23): they are written, then the run fails."""
    import bench.report as report
    from tests.helpers.compare_fakes import synthetic_run

    run = synthetic_run([dict(model="mldrnet", variant="torch-cpu", batch_size=1)])
    out = tmp_path / "out"
    report.save_all(run, out, plots=False)
    assert (out / "records.json").is_file()

    def broken(*args, **kwargs):
        raise OSError(errno.ENOSPC, "No space left on device")

    monkeypatch.setattr(report, "write_scenarios", broken)
    with pytest.raises(BenchError, match="no space left"):
        report.save_all(run, out, plots=False)
    assert not (out / "records.json").exists() and (out / "records.csv").is_file()
    monkeypatch.undo()

    def crashed(records, out_dir, environment=None):
        raise RuntimeError("matplotlib crashed")

    monkeypatch.setattr(report, "write_plots", crashed)
    with pytest.raises(BenchError, match="matplotlib crashed.*the records are saved"):
        report.save_all(run, out, plots=True)
    assert (out / "records.json").is_file() and (out / "records.csv").is_file()


def test_stale_temporaries_are_removed(tmp_path):
    target = tmp_path / "split.json"
    stale, fresh = tmp_path / "split.jsonab12cd_e.tmp", tmp_path / "split.jsonzz99yy_x.tmp"
    other = tmp_path / "other.jsonab12cd_e.tmp"
    for p in (stale, fresh, other):
        p.write_text("half")
    old = time.time() - 3600
    os.utime(stale, (old, old))
    os.utime(other, (old, old))
    atomic_write_text(target, "{}")
    assert not stale.exists()  # a killed write's, before this process started
    assert fresh.exists() and other.exists()  # maybe a live writer's; another file's


def test_stale_temporaries_in_a_run_folder_are_removed_when_it_is_locked(tmp_path):
    from mldrnet.training.loop import writing

    run = RunFolder.at(tmp_path, "mldrnet", "synth")
    run.path.mkdir(parents=True)
    litter = run.path / "last.ptk3j4h5g6.tmp"
    litter.write_bytes(b"half a checkpoint")
    export_tmp = run.path / "model.onnxk3j4h5g6.tmp"  # an export's: its own lock, not the run's
    export_tmp.write_bytes(b"x")
    with writing(run):
        assert run.lock.is_file()
    assert not litter.exists() and export_tmp.exists() and not run.lock.exists()


# --- item 7 (checkpoints) -----------------------------------------------------------------------------------


def test_a_checkpoint_with_the_marker_but_missing_keys_is_one_line(tmp_path):
    path = tmp_path / "best.pt"
    torch.save({"format": FORMAT, "model": "mldrnet"}, path)
    with pytest.raises(BenchError) as e:
        Checkpoint.load(path)
    assert "incomplete bench checkpoint" in _one_line(e)


class _Evil:
    def __reduce__(self):
        return (print, ("this ran",))


def test_the_code_executing_pickle_refusal_never_suggests_unsafe_loading(tmp_path, capsys):
    path = tmp_path / "best.pt"
    torch.save({"format": FORMAT, "model": _Evil()}, path)
    with pytest.raises(BenchError) as e:
        Checkpoint.load(path)
    message = _one_line(e)
    assert "would run code" in message and "print" in message
    for advice in ("weights_only", "can still be loaded", "safe_globals", "trust"):
        assert advice not in message
    assert "this ran" not in capsys.readouterr().out
    path.write_bytes(b"garbage" * 20)
    with pytest.raises(BenchError) as e:
        Checkpoint.load(path)
    assert "weights_only" not in _one_line(e)
    with pytest.raises(BenchError) as e:
        Checkpoint.load(tmp_path)  # a folder
    assert "is a folder" in _one_line(e)
