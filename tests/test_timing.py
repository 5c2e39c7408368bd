"""The timing code on fake engines whose delays are known: real sleeps (loose bounds) and a fake clock (exact)."""

import math
import time

import numpy as np
import pytest
import torch

from bench.timing import Calibration, LatencyStats, TimingConfig, calibrate, measure, measure_engine, pin_threads
from engines.base import Engine


class SleepEngine(Engine):
    """Sleeps `delay_s` per call; counts calls and synchronize() calls."""

    name = "sleep"

    def __init__(self, delay_s: float):
        self.delay_s = delay_s
        self.calls = 0
        self.syncs = 0

    def __call__(self, batch):
        self.calls += 1
        time.sleep(self.delay_s)
        return torch.zeros(batch.shape[0], 8)

    def synchronize(self):
        self.syncs += 1

    def describe(self):
        return {"engine": "sleep"}


class FakeClock:
    """A clock that only moves when the fake engine runs: each call takes the next duration from a list."""

    def __init__(self, durations):
        self.now = 0.0
        self.durations = list(durations)
        self.i = 0

    def __call__(self):
        return self.now

    def run(self):
        self.now += self.durations[self.i % len(self.durations)]
        self.i += 1


def test_sleep_engine_latency_and_throughput_within_the_bounds_sleep_guarantees():
    engine = SleepEngine(0.01)
    cfg = TimingConfig(warmup_iters=2, warmup_s=0.0, min_iters=10, budget_s=0.0)
    m = measure_engine(engine, torch.zeros(4, 3, 8, 8), cfg)
    lat = m.latency
    assert lat.count == 10
    assert engine.calls == 12  # 2 warm-up + 10 measured
    assert engine.syncs >= 2 * 10  # around every measured call
    # sleep never returns early, but a loaded machine may add any amount on top: only lower bounds on latency
    # and upper bounds on throughput hold
    assert 10.0 <= lat.min_ms <= lat.p50_ms <= lat.p90_ms <= lat.p99_ms <= lat.max_ms
    assert lat.min_ms <= lat.mean_ms <= lat.max_ms
    assert 0.0 < m.images_per_s <= 400.0  # 4 images per call of >= 10 ms
    assert m.batch_size == 4


def test_warmup_runs_for_iterations_and_for_time():
    clock = FakeClock([1 / 64])  # binary-exact durations: 8 calls make exactly the 0.125 s asked for
    cfg = TimingConfig(warmup_iters=1, warmup_s=0.125, min_iters=1, budget_s=0.0)
    m = measure(clock.run, 1, cfg, clock=clock)
    assert m.warmup_s == 0.125 and m.warmup_iters == 8  # the time, not just the one iteration asked for
    cfg = TimingConfig(warmup_iters=4, warmup_s=0.0, min_iters=1, budget_s=0.0)
    assert measure_engine(SleepEngine(0.0), torch.zeros(1, 3, 8, 8), cfg).warmup_iters == 4


def test_measured_phase_honours_time_budget_and_min_iters():
    cfg = TimingConfig(warmup_iters=0, warmup_s=0.0, min_iters=3, budget_s=0.2)
    m = measure_engine(SleepEngine(0.02), torch.zeros(1, 3, 8, 8), cfg)
    assert m.wall_s >= 0.2
    # calls of >= 20 ms: at most ~10 fit into 0.2 s; on a loaded machine fewer, but never under min_iters
    assert 3 <= m.latency.count <= 11
    slow = measure_engine(
        SleepEngine(0.05),
        torch.zeros(1, 3, 8, 8),
        TimingConfig(warmup_iters=0, warmup_s=0.0, min_iters=3, budget_s=0.0),
    )
    assert slow.latency.count == 3


def test_exact_statistics_with_a_fake_clock():
    # 20 calls: 18 x 10 ms and two slow outliers of 30 ms / 50 ms
    durations = [0.010] * 18 + [0.030, 0.050]
    clock = FakeClock([0.010] * 2 + durations)  # two warm-up calls first
    cfg = TimingConfig(warmup_iters=2, warmup_s=0.0, min_iters=20, max_iters=20, budget_s=0.0, cv_warn=0.15)
    m = measure(clock.run, 8, cfg, clock=clock)
    lat = m.latency
    expected = np.asarray(durations) * 1e3
    assert lat.count == 20
    assert lat.mean_ms == pytest.approx(expected.mean())
    assert lat.std_ms == pytest.approx(expected.std(ddof=1))
    assert lat.min_ms == pytest.approx(10.0)
    assert lat.max_ms == pytest.approx(50.0)
    assert lat.p50_ms == pytest.approx(10.0)
    assert lat.p99_ms == pytest.approx(np.percentile(expected, 99))
    assert m.images_per_s == pytest.approx(8 * 20 / expected.sum() * 1e3)
    assert m.noisy  # the outliers push the CV to ~0.8


def test_steady_run_is_not_noisy():
    clock = FakeClock([0.010, 0.0101, 0.0099])
    m = measure(
        clock.run, 1, TimingConfig(warmup_iters=0, warmup_s=0, min_iters=30, max_iters=30, budget_s=0), clock=clock
    )
    assert not m.noisy
    assert m.latency.cv < 0.02


def test_latency_stats_reject_empty_and_handle_one_sample():
    with pytest.raises(ValueError):
        LatencyStats.from_seconds([])
    one = LatencyStats.from_seconds([0.002])
    assert one.count == 1 and one.std_ms == 0.0 and one.p99_ms == pytest.approx(2.0)


def test_bad_config_is_refused():
    with pytest.raises(ValueError):
        TimingConfig(min_iters=0)
    with pytest.raises(ValueError):
        TimingConfig(budget_s=-1)


def test_calibration_times_a_matrix_product_with_pinned_threads():
    before = torch.get_num_threads()
    try:
        assert pin_threads(1) == 1
        cal = calibrate("cpu", TimingConfig(warmup_iters=1, warmup_s=0, min_iters=5, budget_s=0), size=128)
        assert isinstance(cal, Calibration)
        assert cal.threads == 1 and cal.size == 128 and cal.count == 5
        assert 0 < cal.median_ms < 1000 and math.isfinite(cal.median_ms)
        big = calibrate("cpu", TimingConfig(warmup_iters=1, warmup_s=0, min_iters=5, budget_s=0), size=512)
        assert big.median_ms > cal.median_ms  # 64x the work takes longer
    finally:
        torch.set_num_threads(before)
    with pytest.raises(ValueError):
        pin_threads(0)
