"""Latency and throughput measurement: warm-up, synchronization, percentiles, a noise warning, calibration.

What the numbers mean (trtexec / timm / MLPerf conventions):
- warm-up runs until BOTH a number of iterations and a wall time have passed: iterations alone can end before
  lazy initialization, clock ramp-up and allocator growth settle on a slow model; time alone can be one
  iteration of a huge model;
- each measured iteration is `sync(); t0; run(); sync(); t1`, so a GPU engine's queued work is inside the
  sample (CPU engines' `synchronize` is a no-op); device-resident GPU timing (`measure_resident`) takes each
  sample from CUDA events recorded around the call instead, and keeps the host clock beside it;
- every Measurement says what it spans (`labels`): the clock, whether host<->device copies are inside (GPU
  end to end: yes; device-resident: no), and that throughput is synchronous (one call at a time, no pipelining);
- the measured loop stops when both `min_iters` and the time budget are reached (or at `max_iters`);
- latency = per-call wall time; throughput = batch x iterations / wall time of the measured loop (with CUDA
  events: over the summed device time);
- the coefficient of variation (std / mean) flags a noisy run (shared machine, thermal throttling): gate on
  the median, show the tails, and warn.

`calibrate` times a fixed matrix product with the same threads: the CI gate divides timings by it, so a
baseline taken on one machine can judge a run on another (to first order: both are dense float maths).
`measure_peak` (bench.peak) is another matter: the machine's steady-state fp32 matrix-product limit, with the
theoretical FMA peak and the int8 limit beside it, measured once per compare run: what each row's achieved
GFLOP/s is a fraction of (`achieved`, by the row's precision).
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
import torch

from bench.peak import Peak, measure_peak  # noqa: F401  (measure_peak re-exported: callers import it from here)


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


HOST_CLOCK = "host clock"  # time.perf_counter around synchronize(): what the caller waits, launch overhead included
CUDA_EVENTS = "CUDA events"  # device time between two events on the stream: GPU work (and its launch gaps) only


@dataclass(frozen=True)
class Measurement:
    batch_size: int
    latency: LatencyStats  # per call, i.e. per batch, on `clock`
    images_per_s: float  # batch x calls / (the loop's wall time; with CUDA events the summed device time)
    wall_s: float  # measured phase, host clock
    warmup_iters: int  # what the warm-up actually ran
    warmup_s: float
    noisy: bool  # latency CV above the configured threshold
    clock: str = HOST_CLOCK
    copies_included: bool | None = None  # host<->device copies inside each sample; None: a CPU engine (no device)
    synchronous: bool = True  # one call at a time, each waiting for the last: no overlap of copies with compute
    host_latency: LatencyStats | None = None  # with CUDA events: the same calls on the host clock

    def labels(self) -> dict:
        """What the figures span, for a record or a column header: clock, copies, synchronous throughput."""
        copies = {True: "host<->device copies included", False: "no host<->device copies", None: "no device"}
        return {
            "clock": self.clock,
            "copies_included": self.copies_included,
            "synchronous": self.synchronous,
            "timed": f"{self.clock}; {copies[self.copies_included]}; "
            + ("synchronous: one call at a time" if self.synchronous else "pipelined"),
        }


class EventTimer:
    """Device time of one call: an event recorded on `stream` before it and one after; `elapsed_s` once the
    device is synchronized. The stream is torch's current stream: every GPU engine's `run_on_device` leaves its
    work ordered before that stream's next operation (torch enqueues on it; TensorRT makes it wait for its own
    stream; ONNX Runtime returns after its stream is done), so the end event follows the whole call. For ONNX
    Runtime, whose work runs on its own stream while the host waits, the interval is therefore the whole call,
    launch and host overhead included: its dev p50 is close to the host clock's."""

    def __init__(self, new_event: Callable[[], Any], stream: Any = None):
        self.begin, self.end, self.stream = new_event(), new_event(), stream

    @classmethod
    def cuda(cls, device: str = "cuda") -> EventTimer:
        return cls(lambda: torch.cuda.Event(enable_timing=True), torch.cuda.current_stream(device))

    def start(self) -> None:
        self.begin.record(self.stream)

    def stop(self) -> None:
        self.end.record(self.stream)

    def elapsed_s(self) -> float:
        self.end.synchronize()  # elapsed_time needs both events complete
        return self.begin.elapsed_time(self.end) / 1e3  # milliseconds


def _noop() -> None:
    pass


def _warm_up(run: Callable[[], object], config: TimingConfig, sync: Callable[[], None], clock) -> tuple[int, float]:
    sync()
    start = clock()
    warm = 0
    while warm < config.warmup_iters or clock() - start < config.warmup_s:
        run()
        warm += 1
        if warm >= config.max_iters:  # a run too fast for the clock's resolution still ends
            break
    sync()
    return warm, clock() - start


def _samples(
    run: Callable[[], object], config: TimingConfig, sync: Callable[[], None], clock, events: EventTimer | None
) -> tuple[list[float], list[float], float]:
    """(samples on the measuring clock, the same on the host clock, wall seconds of the loop)."""
    samples: list[float] = []
    host: list[float] = []
    loop_start = clock()
    while len(samples) < config.max_iters and (
        len(samples) < config.min_iters or clock() - loop_start < config.budget_s
    ):
        sync()
        t0 = clock()
        if events is not None:
            events.start()
        run()
        if events is not None:
            events.stop()
        sync()
        host.append(clock() - t0)
        samples.append(events.elapsed_s() if events is not None else host[-1])
    return samples, host, clock() - loop_start


def measure(
    run: Callable[[], object],
    batch_size: int,
    config: TimingConfig = TimingConfig(),
    sync: Callable[[], None] = _noop,
    clock: Callable[[], float] = time.perf_counter,
    events: EventTimer | None = None,
    copies_included: bool | None = None,
) -> Measurement:
    """Time `run()` (one batch of `batch_size` images) after warming it up; `sync` waits for device work. With
    `events`, each sample is the device time between them (the host clock still bounds the loop and is kept
    as `host_latency`); `copies_included` only labels what `run` does."""
    warm, warm_s = _warm_up(run, config, sync, clock)
    samples, host, wall = _samples(run, config, sync, clock, events)
    stats = LatencyStats.from_seconds(samples)
    busy = sum(samples) if events is not None else wall  # device time of synchronous calls: no host gaps
    return Measurement(
        batch_size,
        stats,
        batch_size * len(samples) / busy if busy > 0 else math.inf,
        wall,
        warm,
        warm_s,
        bool(stats.cv > config.cv_warn),
        clock=CUDA_EVENTS if events is not None else HOST_CLOCK,
        copies_included=copies_included,
        host_latency=LatencyStats.from_seconds(host) if events is not None else None,
    )


def _on_cuda(device: Any) -> bool:
    return str(device).startswith("cuda")


def measure_engine(
    engine, batch: torch.Tensor, config: TimingConfig = TimingConfig(), device: str | None = None
) -> Measurement:
    """An `engines.base.Engine` on one fixed input batch (the same tensor every call: no data pipeline inside),
    end to end on the host clock: on a GPU engine each call copies the host batch in and the logits out, so
    the figures include the copies (`copies_included`). `device`: the engine's, else its `device` attribute."""
    on_gpu = _on_cuda(device if device is not None else getattr(engine, "device", "cpu"))
    return measure(
        lambda: engine(batch),
        int(batch.shape[0]),
        config,
        sync=engine.synchronize,
        copies_included=True if on_gpu else None,
    )


def measure_resident(
    engine,
    batch: torch.Tensor,
    device: str = "cuda",
    config: TimingConfig = TimingConfig(),
    events: EventTimer | None = None,
) -> Measurement:
    """Device-resident timing, measured the same way for every GPU engine: the batch is copied to `device` once,
    before timing; each sample is `synchronize(); start event; engine.run_on_device(x); end event; synchronize()`
    and is the device time between the events (CUDA events on torch's current stream, `EventTimer`), so whatever
    an engine does inside (torch: enqueue on its stream; TensorRT: enqueue on its own stream joined to torch's;
    ONNX Runtime: a run on its stream that returns when done) the sample spans the same work: the model on inputs
    already on the device, logits left there, no host copies, without the host's synchronize round trip. On a
    CPU device it is the host clock. `events` replaces the CUDA events (tests)."""
    x = batch.to(device)
    if _on_cuda(device):
        torch.cuda.synchronize()
        events = events or EventTimer.cuda(device)
    return measure(
        lambda: engine.run_on_device(x),
        int(batch.shape[0]),
        config,
        sync=engine.synchronize,
        events=events,
        copies_included=False if _on_cuda(device) else None,
    )


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


# --- the machine's limit (bench.peak) and how close a row came to it ---------------------------------------


def achieved(
    gflops_per_image: float | None,
    images_per_s: float | None,
    peak: Peak | float | None,
    precision: str = "fp32",
) -> tuple[float | None, float | None]:
    """(achieved GFLOP/s, fraction of the row's limit): GFLOPs per image at the timed size x images/s, and that
    over `peak.reference(precision)` (the fp32 peak; for int8 rows the int8 limit, 2x or 4x it by VNNI) or over a
    rate given as a number. None where a number is missing; the fraction may pass 1 only for fp16/bf16/tf32,
    which the fp32 peak does not bound."""
    if gflops_per_image is None or images_per_s is None or not math.isfinite(images_per_s):
        return None, None
    rate = gflops_per_image * images_per_s
    reference = peak.reference(precision) if isinstance(peak, Peak) else peak
    if reference is None or not reference > 0:
        return rate, None
    return rate, rate / reference


def pin_threads(threads: int | None) -> int:
    """Set torch's intra-op threads (None keeps the current setting); returns what is in force, to record."""
    if threads is not None:
        if threads < 1:
            raise ValueError("threads must be >= 1")
        torch.set_num_threads(threads)
    return torch.get_num_threads()
