"""LoadGen's TestSettings for one run: the scenario, the mode, how long, and what LoadGen should expect.

Quick runs (the default) set the minimum duration to `--duration` and the minimum query count to what LoadGen's
early stopping (99 % confidence) needs before it can call the run VALID at all: 64 single-stream queries (90th
percentile), 662 multi-stream queries (99th percentile, mlperf.conf's count) and 459 server queries (99th
percentile with none over the deadline; a few late queries need more, as LoadGen's reason then says). They are
not official results, and the records say so.

`--official` loads LoadGen's built-in mlperf.conf for the image-classification benchmark (resnet50: 600 s per
scenario, 24,576 offline samples at least, 1,024 performance samples, its seeds), then sets only what is ours to
set: the server's offered QPS and deadline and the expected rates.

LoadGen pre-generates its queries from the expected figures, so they come from a short measurement of the engine
first (`Expected`): single- and multi-stream expect half the measured latency (more queries generated than
needed; too few ends a run early, INVALID), offline 1.25x the measured rate (LoadGen sizes its one query at 1.1x
expected QPS x duration: too low a guess makes the run too short).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mldrnet.data.prepare import DataConfig

SCENARIOS = ("single-stream", "multi-stream", "server", "offline")
LOADGEN_SCENARIO = {
    "single-stream": "SingleStream",
    "multi-stream": "MultiStream",
    "server": "Server",
    "offline": "Offline",
}
MODES = ("performance", "accuracy")
EARLY_STOPPING_QUERIES = {"single-stream": 64, "multi-stream": 662, "server": 459, "offline": 1}
MULTI_STREAM_SAMPLES = 8
OFFICIAL_MODEL = "resnet50"  # mlperf.conf's image-classification benchmark: its counts are the run rules'
OFFICIAL_DURATION_S = 600.0
QUICK_DURATION_S = 10.0
PERCENTILE = {"single-stream": 90, "multi-stream": 99, "server": 99, "offline": None}


@dataclass(frozen=True)
class Expected:
    """What the engine did in a short measurement: what LoadGen pre-generates its queries from."""

    latency_s: float  # one sample (batch 1)
    multi_latency_s: float  # a multi-stream query (MULTI_STREAM_SAMPLES samples)
    samples_per_s: float  # at the SUT's batch
    batch_latency_s: dict[int, float] = field(default_factory=dict)  # batch -> median call time (powers of two)

    def to_dict(self) -> dict:
        """For records (JSON): the batches as strings, as JSON keys are."""
        return {**asdict(self), "batch_latency_s": {str(b): t for b, t in self.batch_latency_s.items()}}


SERVER_BATCH_SHARE = 0.25  # a server batch's call may take at most this share of the deadline (median)


def server_batch(expected: Expected, max_batch: int, target_latency_ms: float) -> int:
    """The server SUT's largest batch: the largest measured batch (<= max_batch) whose median call takes at most
    SERVER_BATCH_SHARE of the deadline. A query waits for the batch being run, then runs in the next one, and the
    99th percentile of a call is a few times its median on a busy machine: batches that fill the throughput best
    (offline's) can alone push the server's p99 over the deadline (MldrNet at 375 px on 2 cores: batch 8 calls of
    70-270 ms against a 100 ms deadline, where batch 1 takes 11 ms)."""
    fits = [
        b
        for b, t in expected.batch_latency_s.items()
        if b <= max_batch and t * 1e3 <= SERVER_BATCH_SHARE * target_latency_ms
    ]
    return max(fits, default=1)


@dataclass(frozen=True)
class RunSettings:
    scenario: str
    mode: str = "performance"
    duration_s: float = QUICK_DURATION_S
    official: bool = False
    target_latency_ms: float = 100.0  # server: the deadline of the 99th percentile
    server_qps: float | None = None  # server: the offered load
    max_duration_s: float | None = None  # quick runs: LoadGen stops issuing after this (None: no cap)
    performance_count: int | None = None
    min_query_count: int | None = None  # quick runs: instead of early stopping's minimum (runs may then be INVALID)

    def __post_init__(self) -> None:
        if self.scenario not in SCENARIOS:
            raise ValueError(f"unknown scenario {self.scenario!r}")
        if self.mode not in MODES:
            raise ValueError(f"unknown mode {self.mode!r}")

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class MlperfConfig:
    model: str | None = None  # a zoo model trained on `dataset` (or None with `onnx`)
    engines: tuple[str, ...] = ("ort-cpu",)
    precision: str = "fp32"
    scenarios: tuple[str, ...] = SCENARIOS
    mode: str = "performance"
    target_latency_ms: float = 100.0
    duration_s: float = QUICK_DURATION_S
    official: bool = False
    dataset: str = "synth"
    data_root: str | None = None
    threads: int | None = None
    size: int | None = None  # serving size (px) of a zoo model; None: its trained crop
    max_batch: int | None = None  # the SUT's largest engine call (server, offline); None: 8 on a CPU, 32 on a GPU
    max_images: int | None = None  # a seeded subset of the test split
    server_qps: float | None = None  # one server run at this load instead of the search
    search_steps: int = 8
    min_queries: int | None = None  # quick runs: LoadGen's minimum query count instead of early stopping's
    onnx: str | None = None
    input_size: int | None = None
    labels: str | None = None
    null_sut: bool = False
    data_config: DataConfig | None = field(default=None, compare=False)  # --onnx images (None: `dataset`'s)

    def to_dict(self) -> dict:
        d = asdict(self)
        d["data_config"] = asdict(self.data_config) if self.data_config else None
        return d


def min_queries(scenario: str) -> int:
    return EARLY_STOPPING_QUERIES[scenario]


def default_cap(duration_s: float) -> float:
    """A quick run's cap on issuing: a minute past its duration, or four times it."""
    return max(4 * duration_s, duration_s + 60.0)


def loadgen_settings(rs: RunSettings, expected: Expected):
    """LoadGen's TestSettings for `rs` (mlperf_loadgen imported here: only the command needs it)."""
    import mlperf_loadgen as lg

    s = lg.TestSettings()
    if rs.official:
        s.FromConfig("", OFFICIAL_MODEL, LOADGEN_SCENARIO[rs.scenario], 0)  # conf_type 0: mlperf.conf alone
    else:
        s.min_duration_ms = int(round(rs.duration_s * 1000))
        s.min_query_count = rs.min_query_count or min_queries(rs.scenario)
        if rs.max_duration_s:
            s.max_duration_ms = int(round(max(rs.max_duration_s, rs.duration_s) * 1000))
    s.scenario = getattr(lg.TestScenario, LOADGEN_SCENARIO[rs.scenario])
    s.mode = lg.TestMode.AccuracyOnly if rs.mode == "accuracy" else lg.TestMode.PerformanceOnly
    if rs.performance_count is not None:
        s.performance_sample_count_override = int(rs.performance_count)
    s.single_stream_expected_latency_ns = max(1000, int(expected.latency_s * 0.5e9))
    s.multi_stream_expected_latency_ns = max(1000, int(expected.multi_latency_s * 0.5e9))
    s.multi_stream_samples_per_query = MULTI_STREAM_SAMPLES
    s.offline_expected_qps = max(1.0, expected.samples_per_s * 1.25)
    s.server_target_latency_ns = int(round(rs.target_latency_ms * 1e6))
    s.server_target_latency_percentile = 0.99
    s.server_target_qps = float(rs.server_qps or max(1.0, expected.samples_per_s * 0.5))
    return s
