"""What each compare row timed ("model" or "end to end") and what it cost the machine: resident memory, CPU over
the timing, the time to get the file, make the engine and run its first call, device memory on a GPU."""

import mmap
import time
from dataclasses import asdict

import numpy as np
import pytest
import torch

from bench.compare import CompareConfig, Hooks, run_compare
from bench.records import Record, load_run, read_csv, save_run
from mldrnet import models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data.prepare import DataConfig
from mldrnet.data.transforms import Preprocessing
from mldrnet.io.layout import checkpoint_path
from tests.helpers.compare_fakes import CLASSES, FAST, ModuleEngine, fake_hooks, write_checkpoint

BUSY = FAST.__class__(warmup_iters=1, warmup_s=0.0, min_iters=5, budget_s=0.3)  # a window psutil can resolve
HELD_MB = 64


class Sleeper(ModuleEngine):
    """Waits instead of computing: a timed window without CPU work."""

    def __call__(self, batch):
        time.sleep(0.01)
        return torch.zeros(len(batch), len(CLASSES))


class Spinner(ModuleEngine):
    """Computes in Python for 10 ms a call (one core busy), and holds HELD_MB of memory from its making on."""

    def __init__(self, module, options):
        super().__init__(module, options)
        # fresh pages from the kernel, written (resident, not only reserved): a malloc'd array can reuse memory the
        # suite's earlier tests freed but the allocator kept resident, and then the RSS does not move at all
        self.held = mmap.mmap(-1, HELD_MB * 2**20)
        np.frombuffer(self.held, np.uint8)[:] = 1

    def __call__(self, batch):
        end = time.perf_counter() + 0.01
        while time.perf_counter() < end:
            pass
        return torch.zeros(len(batch), len(CLASSES))


def _hooks(kind):
    base = fake_hooks(n_images=16)
    return Hooks(eval_set=base.eval_set, artifact=base.artifact, engine=lambda name, source, o: kind(source, o))


def _run(root, kind):
    write_checkpoint(root, "mldrnet-l2")
    cfg = CompareConfig(
        models=("mldrnet-l2",),
        engines=("torch-cpu",),
        batch_sizes=(1,),
        threads=1,
        eval_batch_size=8,
        timing=BUSY,
        calibration=FAST,
        peak_budget_s=0.0,
    )
    (row,) = run_compare(cfg, root, _hooks(kind)).records
    assert row.ok, row.error
    return row


def test_cpu_utilisation_tells_a_busy_engine_from_an_idle_one(tmp_path):
    busy, idle = _run(tmp_path / "a", Spinner), _run(tmp_path / "b", Sleeper)
    # one core spinning reads ~1 on a quiet machine; the bounds leave room for 2 cores shared by several processes
    assert busy.cpu_cores_busy > 0.3 and idle.cpu_cores_busy < 0.15, (busy.cpu_cores_busy, idle.cpu_cores_busy)
    assert busy.cpu_util_pct == pytest.approx(100 * busy.cpu_cores_busy / _cores(), rel=1e-6)


def _cores():
    from bench.mlperf.resources import usable_cores

    return usable_cores()


def test_memory_and_making_figures(tmp_path):
    row = _run(tmp_path, Spinner)
    assert row.engine_rss_mb >= HELD_MB * 0.9  # the engine's own memory, made between the two readings
    assert row.window_rss_mb >= HELD_MB and row.peak_rss_mb >= row.window_rss_mb * 0.99
    assert row.load_s >= 0 and row.export_s >= 0 and row.first_call_s >= 0.009  # one 10 ms call at least
    assert row.file_bytes == 1000 and row.timed == "model"
    assert row.device_used_mb is None and row.device_peak_mb is None  # a CPU row


def test_old_records_without_the_new_fields_still_load():
    old = dict(
        model="mldrnet", variant="torch-cpu", engine="torch", device="cpu", precision="fp32", batch_size=1,
        accuracy_pct=50.0, lat_p50_ms=1.0, throughput_ips=1000.0, test_images=8, input_size=64, timing_size=64,
    )  # fmt: skip
    r = Record.from_dict(old)
    assert r.timed is None and r.peak_rss_mb is None and r.load_s is None
    with pytest.raises(Exception, match="timed"):
        Record.from_dict({**old, "timed": "everything"})


# --- end to end: decoding the image files on every call ------------------------------------------------------


@pytest.fixture(scope="module")
def files_root(tmp_path_factory):
    """A tiny untrained MldrNet-l2 whose test split is 64 px JPEG files (the synthetic set, 96 images)."""
    root = tmp_path_factory.mktemp("results")
    torch.manual_seed(0)
    data = DataConfig(dataset="synth", synth_n=96, synth_size=64)
    net = models.create("mldrnet-l2", num_classes=len(CLASSES))
    Checkpoint.of_model("mldrnet-l2", net, CLASSES, Preprocessing(crop=56), data_config=asdict(data)).save(
        checkpoint_path(root, "mldrnet-l2", "synth")
    )
    return root


@pytest.fixture(scope="module")
def e2e_run(files_root):
    cfg = CompareConfig(
        models=("mldrnet-l2",),
        engines=("torch-cpu",),
        batch_sizes=(1, 4),
        threads=1,
        eval_batch_size=8,
        timing=FAST,
        calibration=FAST,
        peak_budget_s=0.0,
        end_to_end=True,
    )
    return run_compare(cfg, files_root)


def test_end_to_end_rows_beside_the_model_rows(e2e_run):
    rows = {(r.variant, r.batch_size): r for r in e2e_run.records}
    assert set(rows) == {("torch-cpu", 1), ("torch-cpu", 4), ("torch-cpu-e2e", 1), ("torch-cpu-e2e", 4)}
    assert all(r.ok for r in rows.values()), [r.error for r in rows.values()]
    assert {rows["torch-cpu", b].timed for b in (1, 4)} == {"model"}
    assert {rows["torch-cpu-e2e", b].timed for b in (1, 4)} == {"end to end"}
    e2e, model = rows["torch-cpu-e2e", 4], rows["torch-cpu", 4]
    assert e2e.engine == "torch" and e2e.accuracy_pct == model.accuracy_pct  # same engine, same accuracy pass
    assert e2e.cpu_util_pct is not None and e2e.peak_rss_mb > 0


def test_end_to_end_calls_decode_the_files_each_time(files_root, monkeypatch):
    """Every end-to-end call goes through the data package's decoder, once per image of its batch."""
    from mldrnet.data import loader

    calls = []
    real = loader.decode_image
    monkeypatch.setattr(loader, "decode_image", lambda path, **kw: calls.append(path) or real(path, **kw))
    cfg = CompareConfig(
        models=("mldrnet-l2",),
        engines=("torch-cpu",),
        batch_sizes=(3,),
        threads=1,
        eval_batch_size=8,
        timing=FAST,
        calibration=FAST,
        peak_budget_s=0.0,
        end_to_end=True,
        max_test_images=16,
    )
    run = run_compare(cfg, files_root)
    timed = {(r.variant, r.batch_size): r for r in run.records}
    assert set(timed) == {("torch-cpu", 3), ("torch-cpu-e2e", 1), ("torch-cpu-e2e", 3)}
    decoded = len(calls) - 16  # the accuracy pass decoded each test image once (the split is cached in memory)
    runs = [timed["torch-cpu-e2e", b] for b in (1, 3)]
    assert decoded >= sum(r.batch_size * r.lat_count for r in runs)  # + warm-up calls


def test_in_memory_images_give_end_to_end_error_rows(tmp_path):
    write_checkpoint(tmp_path, "mldrnet-l2")
    cfg = CompareConfig(
        models=("mldrnet-l2",),
        engines=("torch-cpu",),
        batch_sizes=(1,),
        threads=1,
        timing=FAST,
        calibration=FAST,
        peak_budget_s=0.0,
        end_to_end=True,
    )
    rows = {r.variant: r for r in run_compare(cfg, tmp_path, fake_hooks()).records}
    assert rows["torch-cpu"].ok and not rows["torch-cpu-e2e"].ok
    assert "image files" in rows["torch-cpu-e2e"].error and rows["torch-cpu-e2e"].timed == "end to end"


def test_new_fields_round_trip(e2e_run, tmp_path):
    save_run(e2e_run, tmp_path)
    assert load_run(tmp_path, unique_keys=True).records == e2e_run.records
    assert read_csv(tmp_path / "records.csv") == list(e2e_run.records)


@pytest.mark.gpu
def test_a_gpu_row_records_device_memory(tmp_path):
    write_checkpoint(tmp_path, "mldrnet-l2")
    cfg = CompareConfig(
        models=("mldrnet-l2",),
        engines=("torch-cuda",),
        precisions=("fp32",),
        batch_sizes=(4,),
        threads=1,
        timing=FAST,
        calibration=FAST,
        peak_budget_s=0.0,
    )
    (row,) = run_compare(cfg, tmp_path, Hooks(eval_set=fake_hooks().eval_set)).records  # the real torch engine
    assert row.ok, row.error
    assert row.device_peak_mb > 0 and row.device_used_mb >= row.device_peak_mb
