"""The compare matrix on fake engines over real tiny checkpoints: rows, numbers, failure rows, round trips."""

import dataclasses
import json
import math

import pytest

from bench.compare import CompareConfig, find_trained, run_compare
from bench.records import CompareRun, Record, load_run, read_csv, save_run
from bench.variants import select_variants
from mldrnet.errors import BenchError
from tests.helpers.compare_fakes import CLASSES, FAST, fake_hooks, fake_run, write_checkpoint


@pytest.fixture(scope="module")
def run_and_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("results")
    return fake_run(root, models=("mldrnet", "mldrnet-l2"), hooks=fake_hooks(noise=0.5)), root


def test_one_row_per_model_variant_precision_batch(run_and_root):
    run, _ = run_and_root
    keys = [r.key for r in run.records]
    assert len(keys) == len(set(keys)) == 2 * 2 * 2
    assert {k[0] for k in keys} == {"mldrnet", "mldrnet-l2"}
    assert {k[1] for k in keys} == {"torch-cpu", "ort-cpu"}
    assert {k[3] for k in keys} == {1, 4}
    assert all(r.ok for r in run.records), [r.error for r in run.records]


def test_ok_rows_carry_accuracy_speed_model_and_environment(run_and_root):
    run, _ = run_and_root
    for r in run.records:
        assert r.test_images == 24 and r.classes == CLASSES
        assert 0 <= r.accuracy_pct <= 100 and 0 <= r.mean_tpr_pct <= 100
        assert len(r.per_class_tpr_pct) == 8 and sum(map(sum, r.confusion)) == 24
        assert r.lat_count >= 3 and r.lat_min_ms <= r.lat_p50_ms <= r.lat_p90_ms <= r.lat_p99_ms <= r.lat_max_ms
        assert r.throughput_ips > 0 and r.threads == 1
        assert r.params > 0 and r.gflops > 0 and r.input_size == 64
        assert r.file_bytes == (1000 if r.variant == "torch-cpu" else 2000)
        assert r.paper_fi_accuracy_pct is None  # synth, not FI
        assert r.split_hash == "abc123" and r.engine_info["engine"] == "fake"
    assert run.environment["dataset"] == "synth" and run.environment["threads"] == 1
    for key in ("cpu", "torch", "onnxruntime", "git_commit", "split_hashes"):
        assert key in run.environment
    cal = run.calibration["cpu"]
    assert cal["median_ms"] > 0 and cal["before_ms"] > 0 and cal["after_ms"] > 0


def test_parity_against_the_torch_reference(run_and_root):
    run, _ = run_and_root
    ref = [r for r in run.records if r.variant == "torch-cpu"]
    other = [r for r in run.records if r.variant == "ort-cpu"]
    assert all(r.agreement_pct == 100.0 and r.max_logit_diff == 0.0 for r in ref)
    # the fake ORT engine adds noise of std 0.5 to the logits: parity must see it
    assert all(r.max_logit_diff > 0.1 for r in other)
    assert all(r.agreement_pct < 100.0 for r in other)


def test_a_failing_engine_becomes_error_rows_and_the_run_goes_on(tmp_path):
    run = fake_run(tmp_path, hooks=fake_hooks(fail_engine="onnxruntime", fail_message="CUDAExecutionProvider missing"))
    bad = [r for r in run.records if r.variant == "ort-cpu"]
    good = [r for r in run.records if r.variant == "torch-cpu"]
    assert len(bad) == 2 and all(r.status == "error" for r in bad)
    assert all("CUDAExecutionProvider missing" in r.error and "RuntimeError" in r.error for r in bad)
    assert all(r.accuracy_pct is None and r.lat_p50_ms is None for r in bad)
    assert bad[0].params and bad[0].file_bytes == 2000  # what is known about the model stays
    assert len(good) == 2 and all(r.ok and r.accuracy_pct is not None for r in good)


def test_fail_fast_raises_instead(tmp_path):
    with pytest.raises(RuntimeError, match="boom"):
        fake_run(tmp_path, hooks=fake_hooks(fail_engine="onnxruntime", fail_message="boom"), fail_fast=True)


def test_an_untrained_model_gives_error_rows(tmp_path):
    write_checkpoint(tmp_path, "mldrnet")
    cfg = CompareConfig(
        models=("mldrnet", "alexnet"),
        engines=("torch-cpu",),
        batch_sizes=(1,),
        threads=1,
        timing=FAST,
        calibration=FAST,
    )
    run = run_compare(cfg, tmp_path, fake_hooks())
    by_model = {r.model: r for r in run.records}
    assert by_model["mldrnet"].ok
    assert by_model["alexnet"].status == "error" and "train" in by_model["alexnet"].error


def test_no_trained_models_and_unknown_names_are_user_errors(tmp_path):
    with pytest.raises(BenchError, match="bench train-all"):
        find_trained(tmp_path, "synth", None)
    with pytest.raises(BenchError, match="unknown model"):
        find_trained(tmp_path, "synth", ("nonsense",))
    write_checkpoint(tmp_path, "mldrnet-l2")
    assert [t.name for t in find_trained(tmp_path, "synth", None)] == ["mldrnet-l2"]


def test_variant_selection():
    labels = lambda vs: [(v.label, v.precision) for v in vs]  # noqa: E731
    assert labels(select_variants(None, None, gpu=False)) == [("torch-cpu", "fp32"), ("ort-cpu", "fp32")]
    gpu = labels(select_variants(None, None, gpu=True))
    assert ("trt", "fp16") in gpu and ("ort-trt", "fp32") in gpu and ("torch-cuda", "fp16") in gpu
    assert gpu[0] == ("torch-cpu", "fp32")  # the reference runs first
    # an engine name on a CPU machine keeps what runs here; one that cannot run at all is kept for its error rows
    assert labels(select_variants(["torch"], None, gpu=False)) == [("torch-cpu", "fp32")]
    assert labels(select_variants(["tensorrt"], None, gpu=False)) == [("trt", "fp32"), ("trt", "fp16"), ("trt", "int8")]
    assert labels(select_variants(["trt"], ["fp16"], gpu=True)) == [("trt", "fp16")]
    with pytest.raises(BenchError):
        select_variants(["nope"], None, gpu=False)
    with pytest.raises(BenchError):
        select_variants(["ort-cpu"], ["fp16"], gpu=False)  # a precision the variant does not have (int8 it has now)


def test_records_round_trip_json_and_csv(run_and_root, tmp_path):
    run, _ = run_and_root
    err_row = Record("m", "ort-cpu", "onnxruntime", "cpu", "fp32", 1, "cpu", error='x, "quoted"\nline')
    nan_row = dataclasses.replace(run.records[0], per_class_tpr_pct=(50.0, None) + (1 / 3,) * 6)
    full = CompareRun(run.records + (err_row, nan_row), run.environment, run.config, run.calibration)
    json_path, csv_path = save_run(full, tmp_path)
    back = load_run(tmp_path)
    assert back.records == full.records
    assert back.environment == json.loads(json.dumps(full.environment))
    assert back.calibration == full.calibration
    assert load_run(json_path).records == full.records
    assert read_csv(csv_path) == list(full.records)
    json.loads(json_path.read_text())  # strict JSON: no NaN
    assert "NaN" not in json_path.read_text()


def test_nan_becomes_null(tmp_path):
    r = Record("m", "torch-cpu", "torch", "cpu", "fp32", 1, per_class_tpr_pct=(math.nan, 10.0), lat_cv=math.inf)
    d = r.to_dict()
    assert d["per_class_tpr_pct"] == [None, 10.0] and d["lat_cv"] is None


def test_loading_garbage_is_a_user_error(tmp_path):
    with pytest.raises(BenchError):
        load_run(tmp_path / "nothing")
    (tmp_path / "x.json").write_text('{"format": "other"}')
    with pytest.raises(BenchError, match="not a bench compare result"):
        load_run(tmp_path / "x.json")
    with pytest.raises(BenchError, match="unknown record fields"):
        Record.from_dict({"model": "m", "bogus": 1})


def test_parity_reference_is_the_model_itself_when_the_torch_row_is_missing_or_failed(tmp_path):
    run = fake_run(tmp_path, hooks=fake_hooks(fail_engine="torch"))
    ort = [r for r in run.records if r.variant == "ort-cpu"]
    assert all(r.ok and r.agreement_pct == 100.0 and r.max_logit_diff == 0.0 for r in ort)
    assert all(not r.ok for r in run.records if r.variant == "torch-cpu")
    cfg = CompareConfig(
        models=("mldrnet",), engines=("ort-cpu",), batch_sizes=(1,), threads=1, timing=FAST, calibration=FAST
    )
    noisy = run_compare(cfg, tmp_path, fake_hooks(noise=0.5)).records[0]
    assert noisy.ok and noisy.max_logit_diff > 0.1


def test_eval_set_subsample_and_cache():
    import torch

    from mldrnet.data.evalset import from_tensors, subsample

    samples = [(f"img{i}.jpg", i // 10) for i in range(80)]  # ordered by class, like split files
    sub = subsample(samples, 16)
    assert sub == subsample(samples, 16) and len(sub) == 16 and len({y for _, y in sub}) > 3
    assert subsample(samples, None) == samples and subsample(samples, 500) == samples
    ev = from_tensors(torch.zeros(10, 3, 8, 8), torch.zeros(10, dtype=torch.long), CLASSES, batch_size=4)
    assert ev.materialize(cache_bytes=10).cache_size() == 0  # too big: stays streaming
    assert ev.materialize(cache_bytes=1 << 20).cache_size() == 3  # 3 batches of <= 4 kept
    assert sum(len(y) for _, y in ev.batches()) == 10


def test_default_batch_sizes_follow_the_device(tmp_path):
    from bench.compare import CPU_BATCHES, GPU_BATCHES

    write_checkpoint(tmp_path, "mldrnet-l2")
    cfg = CompareConfig(
        models=("mldrnet-l2",),
        engines=("torch-cpu", "torch-cuda"),
        precisions=("fp32",),
        threads=1,
        timing=FAST,
        calibration=FAST,
    )
    run = run_compare(cfg, tmp_path, fake_hooks())
    batches = {v: sorted(r.batch_size for r in run.records if r.variant == v) for v in ("torch-cpu", "torch-cuda")}
    assert batches == {"torch-cpu": sorted(CPU_BATCHES), "torch-cuda": sorted(GPU_BATCHES)}
