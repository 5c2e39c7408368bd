"""The timing code on fake engines whose delays are known: real sleeps (loose bounds) and a fake clock (exact)."""

import math
import time

import numpy as np
import pytest
import torch

from bench.timing import (
    CUDA_EVENTS,
    HOST_CLOCK,
    Calibration,
    EventTimer,
    LatencyStats,
    TimingConfig,
    calibrate,
    measure,
    measure_engine,
    measure_resident,
    pin_threads,
)
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


# --- GPU timing honesty: CUDA events for device time, host clock end to end, labels (issue 22 item 7) ---------


class FakeEvent:
    """A timing event on a fake stream: `record` stamps the fake device's time; the log keeps the call order."""

    def __init__(self, device, log):
        self.device, self.log, self.t = device, log, None

    def record(self, stream=None):
        self.log.append(("record", stream))
        self.t = self.device.now

    def synchronize(self):
        self.log.append(("event sync",))

    def elapsed_time(self, end):  # milliseconds, as torch.cuda.Event's
        return (end.t - self.t) * 1e3


class FakeDevice:
    """A device whose clock moves by each call's kernel time, and a host clock that also pays launch overhead and
    the synchronize round trip: what events leave out and the host clock keeps."""

    def __init__(self, kernels, launch=0.002, sync=0.001):
        self.now = 0.0  # device time
        self.host = 0.0
        self.kernels, self.launch, self.sync_s, self.i = list(kernels), launch, sync, 0
        self.log: list = []

    def clock(self):
        return self.host

    def run(self):
        self.log.append(("run",))
        k = self.kernels[self.i % len(self.kernels)]
        self.i += 1
        self.host += self.launch + k
        self.now += k

    def synchronize(self):
        self.log.append(("sync",))
        self.host += self.sync_s

    def events(self, stream="s0"):
        return EventTimer(lambda: FakeEvent(self, self.log), stream)


def test_cuda_events_time_the_device_work_and_the_host_clock_is_kept_beside_it():
    dev = FakeDevice([0.010, 0.010, 0.010, 0.020])
    cfg = TimingConfig(warmup_iters=0, warmup_s=0, min_iters=4, max_iters=4, budget_s=0)
    m = measure(dev.run, 8, cfg, sync=dev.synchronize, clock=dev.clock, events=dev.events(), copies_included=False)
    assert m.clock == CUDA_EVENTS and m.latency.count == 4
    assert m.latency.min_ms == pytest.approx(10.0) and m.latency.max_ms == pytest.approx(20.0)  # kernels only
    assert m.images_per_s == pytest.approx(8 * 4 / 0.050)  # summed device time of synchronous calls
    assert m.host_latency is not None and m.host_latency.min_ms == pytest.approx(10.0 + 2.0 + 1.0)  # launch + sync
    assert m.labels() == {
        "clock": CUDA_EVENTS,
        "copies_included": False,
        "synchronous": True,
        "timed": "CUDA events; no host<->device copies; synchronous: one call at a time",
    }


def test_events_are_recorded_on_the_stream_right_around_each_call_and_read_after_sync():
    dev = FakeDevice([0.005])
    cfg = TimingConfig(warmup_iters=1, warmup_s=0, min_iters=2, max_iters=2, budget_s=0)
    measure(dev.run, 1, cfg, sync=dev.synchronize, clock=dev.clock, events=dev.events("engine stream"))
    timed = dev.log[dev.log.index(("sync",), 3) :]  # after the warm-up (run, sync) and its closing sync
    one = [("sync",), ("record", "engine stream"), ("run",), ("record", "engine stream"), ("sync",), ("event sync",)]
    assert timed == one + one


def test_host_clock_measurements_say_so_and_whether_copies_are_inside():
    clock = FakeClock([0.010])
    m = measure(clock.run, 1, TimingConfig(warmup_iters=0, warmup_s=0, min_iters=2, budget_s=0), clock=clock)
    assert m.clock == HOST_CLOCK and m.host_latency is None and m.copies_included is None
    assert m.labels()["timed"] == "host clock; no device; synchronous: one call at a time"

    class GpuEngine(SleepEngine):
        device = "cuda"  # what GPU engines expose; its __call__ copies the host batch in and the logits out

    cfg = TimingConfig(warmup_iters=0, warmup_s=0, min_iters=2, budget_s=0)
    gpu = measure_engine(GpuEngine(0.0), torch.zeros(1, 3, 8, 8), cfg)
    assert gpu.copies_included is True and gpu.clock == HOST_CLOCK
    assert "host<->device copies included" in gpu.labels()["timed"]
    assert measure_engine(SleepEngine(0.0), torch.zeros(1, 3, 8, 8), cfg).copies_included is None
    assert measure_engine(SleepEngine(0.0), torch.zeros(1, 3, 8, 8), cfg, device="cuda:0").copies_included is True


def test_resident_timing_on_the_cpu_keeps_the_host_clock_and_takes_given_events():
    cfg = TimingConfig(warmup_iters=0, warmup_s=0, min_iters=2, budget_s=0)
    m = measure_resident(SleepEngine(0.0), torch.zeros(2, 3, 8, 8), "cpu", cfg)
    assert m.clock == HOST_CLOCK and m.batch_size == 2
    dev = FakeDevice([0.004])
    engine = SleepEngine(0.0)
    engine.run_on_device = lambda x: dev.run()
    m = measure_resident(engine, torch.zeros(2, 3, 8, 8), "cpu", cfg, events=dev.events())
    assert m.clock == CUDA_EVENTS and m.latency.p50_ms == pytest.approx(4.0)


@pytest.mark.gpu
def test_resident_gpu_timing_uses_cuda_events_that_exclude_the_host_round_trip():
    if not torch.cuda.is_available():
        pytest.skip("needs a CUDA GPU")
    w = torch.randn(2048, 2048, device="cuda")

    class MatmulEngine(SleepEngine):
        device = "cuda"

        def run_on_device(self, x):
            return (x.flatten(1)[:, :2048] @ w).sum()

        def synchronize(self):
            torch.cuda.synchronize()

    cfg = TimingConfig(warmup_iters=3, warmup_s=0, min_iters=20, budget_s=0)
    m = measure_resident(MatmulEngine(0.0), torch.randn(4096, 3, 32, 32), "cuda", cfg)
    assert m.clock == CUDA_EVENTS and m.copies_included is False and m.host_latency is not None
    assert 0 < m.latency.p50_ms <= m.host_latency.p50_ms + 0.05  # events never include the host's sync round trip
