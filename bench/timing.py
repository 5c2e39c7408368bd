"""Latency and throughput measurement: warm-up, synchronization, percentiles, a noise warning, calibration.

What the numbers mean (trtexec / timm / MLPerf conventions):
- warm-up runs until BOTH a number of iterations and a wall time have passed: iterations alone can end before
  lazy initialization, clock ramp-up and allocator growth settle on a slow model; time alone can be one
  iteration of a huge model;
- each measured iteration is `sync(); t0; run(); sync(); t1`, so a GPU engine's queued work is inside the
  sample (CPU engines' `synchronize` is a no-op);
- the measured loop stops when both `min_iters` and the time budget are reached (or at `max_iters`);
- latency = per-call wall time; throughput = batch x iterations / wall time of the measured loop;
- the coefficient of variation (std / mean) flags a noisy run (shared machine, thermal throttling): gate on
  the median, show the tails, and warn.

`calibrate` times a fixed matrix product with the same threads: the CI gate divides timings by it, so a
baseline taken on one machine can judge a run on another (to first order: both are dense float maths).
`measure_peak` is another matter: the machine's fp32 matrix-product limit (the best of several large products),
measured once per compare run, what each row's achieved GFLOP/s is a fraction of (`achieved`).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass

import numpy as np
import torch


@dataclass(frozen=True)
class TimingConfig:
    warmup_iters: int = 3
    warmup_s: float = 0.2
    min_iters: int = 5
    max_iters: int = 10_000
    budget_s: float = 1.0  # measured phase per row; the default keeps a whole compare within minutes on 2 cores
    cv_warn: float = 0.15  # coefficient of variation above which a row is marked noisy

    def __post_init__(self) -> None:
        if self.warmup_iters < 0 or self.min_iters < 1 or self.max_iters < self.min_iters:
            raise ValueError("need warmup_iters >= 0 and 1 <= min_iters <= max_iters")
        if self.warmup_s < 0 or self.budget_s < 0:
            raise ValueError("warm-up time and budget must be >= 0")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class LatencyStats:
    count: int
    mean_ms: float
    std_ms: float
    min_ms: float
    p50_ms: float
    p90_ms: float
    p99_ms: float
    max_ms: float

    @property
    def cv(self) -> float:
        return self.std_ms / self.mean_ms if self.mean_ms > 0 else math.nan

    @classmethod
    def from_seconds(cls, samples: list[float]) -> LatencyStats:
        if not samples:
            raise ValueError("no timing samples")
        ms = np.asarray(samples, dtype=np.float64) * 1e3
        p50, p90, p99 = np.percentile(ms, [50, 90, 99])
        std = float(ms.std(ddof=1)) if len(ms) > 1 else 0.0
        return cls(len(ms), float(ms.mean()), std, float(ms.min()), float(p50), float(p90), float(p99), float(ms.max()))


@dataclass(frozen=True)
class Measurement:
    batch_size: int
    latency: LatencyStats  # per call, i.e. per batch
    images_per_s: float
    wall_s: float  # measured phase
    warmup_iters: int  # what the warm-up actually ran
    warmup_s: float
    noisy: bool  # latency CV above the configured threshold


def _noop() -> None:
    pass


def measure(
    run: Callable[[], object],
    batch_size: int,
    config: TimingConfig = TimingConfig(),
    sync: Callable[[], None] = _noop,
    clock: Callable[[], float] = time.perf_counter,
) -> Measurement:
    """Time `run()` (one batch of `batch_size` images) after warming it up; `sync` waits for device work."""
    sync()
    start = clock()
    warm = 0
    while warm < config.warmup_iters or clock() - start < config.warmup_s:
        run()
        warm += 1
        if warm >= config.max_iters:  # a run too fast for the clock's resolution still ends
            break
    sync()
    warm_s = clock() - start

    samples: list[float] = []
    loop_start = clock()
    while len(samples) < config.max_iters and (
        len(samples) < config.min_iters or clock() - loop_start < config.budget_s
    ):
        sync()
        t0 = clock()
        run()
        sync()
        samples.append(clock() - t0)
    wall = clock() - loop_start
    stats = LatencyStats.from_seconds(samples)
    return Measurement(
        batch_size,
        stats,
        batch_size * len(samples) / wall if wall > 0 else math.inf,
        wall,
        warm,
        warm_s,
        bool(stats.cv > config.cv_warn),
    )


def measure_engine(engine, batch: torch.Tensor, config: TimingConfig = TimingConfig()) -> Measurement:
    """An `engines.base.Engine` on one fixed input batch (the same tensor every call: no data pipeline inside)."""
    return measure(lambda: engine(batch), int(batch.shape[0]), config, sync=engine.synchronize)


def measure_resident(
    engine, batch: torch.Tensor, device: str = "cuda", config: TimingConfig = TimingConfig()
) -> Measurement:
    """Device-resident timing, measured the same way for every GPU engine: the batch is copied to `device` once,
    before timing; each sample is `synchronize(); t0; engine.run_on_device(x); synchronize(); t1`, so whatever an
    engine does inside (torch: enqueue on its stream; TensorRT: enqueue on its own stream joined to torch's; ONNX
    Runtime: a run on its stream that returns when done) the sample spans the same work: the model on inputs
    already on the device, logits left there, no host copies."""
    x = batch.to(device)
    if device.startswith("cuda"):
        torch.cuda.synchronize()
    return measure(lambda: engine.run_on_device(x), int(batch.shape[0]), config, sync=engine.synchronize)


# --- calibration ----------------------------------------------------------------------------------------

CALIBRATION_SIZE = {"cpu": 512, "cuda": 4096}  # big enough to be compute-bound, small enough to take ~ms


@dataclass(frozen=True)
class Calibration:
    device: str
    size: int  # an (n x n) @ (n x n) float32 matrix product
    median_ms: float
    count: int
    threads: int

    def to_dict(self) -> dict:
        return asdict(self)


def calibrate(
    device: str = "cpu",
    config: TimingConfig = TimingConfig(warmup_s=0.1, budget_s=0.5, min_iters=20),
    size: int | None = None,
) -> Calibration:
    """Median time of a fixed float32 matrix product on `device` with the current torch thread count."""
    n = size or CALIBRATION_SIZE.get(device.split(":")[0], 384)
    gen = torch.Generator().manual_seed(0)
    a = torch.rand(n, n, generator=gen).to(device)
    b = torch.rand(n, n, generator=gen).to(device)
    sync = torch.cuda.synchronize if device.startswith("cuda") else _noop
    m = measure(lambda: torch.mm(a, b), 1, config, sync=sync)
    return Calibration(device, n, m.latency.p50_ms, m.latency.count, torch.get_num_threads())


# --- the machine's limit: a proper fp32 matrix-product peak, measured once per run ---------------------

PEAK_SIZE = {"cpu": 2048, "cuda": 8192}  # n of the (n x n) @ (n x n) float32 product; big enough to be compute bound


@dataclass(frozen=True)
class Peak:
    """The best fp32 matrix-product rate seen on `device` with the current threads: what "% of peak" divides by."""

    device: str
    size: int
    best_ms: float  # fastest of the timed products
    runs: int
    threads: int

    @property
    def gflops_per_s(self) -> float:
        return 2.0 * self.size**3 / (self.best_ms * 1e-3) / 1e9

    def to_dict(self) -> dict:
        return {**asdict(self), "gflops_per_s": self.gflops_per_s}


def measure_peak(
    device: str = "cpu",
    size: int | None = None,
    min_runs: int = 3,
    max_runs: int = 20,
    budget_s: float = 1.0,
    clock: Callable[[], float] = time.perf_counter,
) -> Peak:
    """The best of several float32 `torch.matmul` products of two (n x n) matrices (2048 on the CPU, grown to 4096
    when one takes under 10 ms; 8192 on a GPU) after one warm-up product, run until `min_runs` products and
    `budget_s` seconds have passed (at most `max_runs`): about a second on a 2-core CPU. Peak means the best run,
    not the median: the question is what the machine can do, not what it did on average."""
    kind = device.split(":")[0]
    n = size or PEAK_SIZE.get(kind, 2048)
    sync = torch.cuda.synchronize if kind == "cuda" else _noop
    gen = torch.Generator().manual_seed(0)

    def operands(n: int) -> tuple[torch.Tensor, torch.Tensor]:
        return torch.rand(n, n, generator=gen).to(device), torch.rand(n, n, generator=gen).to(device)

    def once(a: torch.Tensor, b: torch.Tensor) -> float:
        sync()
        t0 = clock()
        torch.matmul(a, b)
        sync()
        return clock() - t0

    a, b = operands(n)
    first = once(a, b)  # warm-up (thread pool start, first-touch of the output)
    if size is None and kind == "cpu" and first < 0.01:  # many cores: a bigger product keeps them all busy
        n = 2 * n
        a, b = operands(n)
        once(a, b)
    times: list[float] = []
    start = clock()
    while len(times) < max_runs and (len(times) < min_runs or clock() - start < budget_s):
        times.append(once(a, b))
    return Peak(device, n, min(times) * 1e3, len(times), torch.get_num_threads())


def achieved(
    gflops_per_image: float | None, images_per_s: float | None, peak_gflops_per_s: float | None
) -> tuple[float | None, float | None]:
    """(achieved GFLOP/s, fraction of the peak): GFLOPs per image at the timed size x images/s, and that over the
    machine's measured fp32 matrix-product rate (None where a number is missing; the fraction may pass 1 for
    reduced precision, which the fp32 peak does not bound)."""
    if gflops_per_image is None or images_per_s is None or not math.isfinite(images_per_s):
        return None, None
    rate = gflops_per_image * images_per_s
    if peak_gflops_per_s is None or not peak_gflops_per_s > 0:
        return rate, None
    return rate, rate / peak_gflops_per_s


def pin_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (None keeps the current setting); returns what is in force, to record."""
    if threads is not None:
        if threads < 1:
            raise ValueError("threads must be >= 1")
        torch.set_num_threads(threads)
    return torch.get_num_threads()
