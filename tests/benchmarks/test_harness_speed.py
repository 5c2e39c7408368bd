"""Benchmarks of the harness itself (not the models): what it adds on top of the engines it times.

- the timing loop's own overhead per call (it must stay far below the fastest engine call it measures);
- the calibration matrix product (the machine's yardstick: a change here means another or a busier machine);
- the fp32 matrix-product peak compare measures once per run (its default budget: how long it adds to a run);
- scoring a FI-sized test split (3.5k predictions: top-1, per-class TPR, confusion matrix);
- records.json + records.csv of a large run, written and read back.

Run: `pytest tests/benchmarks --benchmark-enable` (see the README's CI section for saving and comparing).
"""

import numpy as np
import torch

from bench.peak import measure_peak
from bench.records import CompareRun, Record, load_run, read_csv, save_run
from bench.timing import TimingConfig, calibrate, measure
from mldrnet.evaluation.metrics import classification_metrics

CALLS = 2000


def test_timing_loop_overhead(benchmark):
    cfg = TimingConfig(warmup_iters=0, warmup_s=0.0, min_iters=CALLS, max_iters=CALLS, budget_s=0.0)
    m = benchmark(measure, lambda: None, 1, cfg)
    assert m.latency.count == CALLS
    assert m.latency.p50_ms < 0.05  # an empty call costs microseconds: the loop adds no visible time


def test_calibration_matmul(benchmark):
    cfg = TimingConfig(warmup_iters=2, warmup_s=0.0, min_iters=10, max_iters=10, budget_s=0.0)
    cal = benchmark.pedantic(calibrate, args=("cpu", cfg), rounds=3, iterations=1)
    assert cal.count == 10 and cal.median_ms > 0 and cal.threads == torch.get_num_threads()


def test_score_a_fi_sized_split(benchmark):
    rng = np.random.default_rng(0)
    labels = rng.integers(0, 8, 3500).tolist()
    preds = [y if rng.random() < 0.6 else int(rng.integers(0, 8)) for y in labels]
    m = benchmark(classification_metrics, labels, preds, 8)
    assert m.count == 3500 and 0.6 < m.top1 < 0.7


def test_records_round_trip_200_rows(benchmark, tmp_path):
    cm = tuple(tuple(int(i == j) * 40 for j in range(8)) for i in range(8))
    rows = tuple(
        Record(
            f"model{i // 8}",
            "ort-cpu",
            "onnxruntime",
            "cpu",
            "fp32",
            1 + i % 8,
            accuracy_pct=60.0 + i / 7,
            confusion=cm,
            per_class_tpr_pct=(50.0,) * 8,
            lat_p50_ms=1.0 + i / 3,
            throughput_ips=100.0,
            engine_info={"i": i},
            test_images=320,  # an ok row records what it was measured on (the gate matches rows on it)
            input_size=64,
            timing_size=64,
        )
        for i in range(200)
    )
    run = CompareRun(rows, {"dataset": "synth"}, {}, {})

    def round_trip():
        _, csv_path = save_run(run, tmp_path)
        return load_run(tmp_path), read_csv(csv_path)

    back, csv_rows = benchmark(round_trip)
    assert back.records == rows and tuple(csv_rows) == rows


def test_fp32_peak_measurement(benchmark):
    p = benchmark.pedantic(measure_peak, args=("cpu",), rounds=1, iterations=1)
    assert p.size >= 2048 and p.runs >= 3 and p.gflops_per_s > 0 and p.spread >= 0
