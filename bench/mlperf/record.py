"""The record of one `bench mlperf` row (one LoadGen run, or a server search over several), and mlperf.json.

Every record says what was timed, whether LoadGen judged the run VALID and why not, LoadGen's own figure for
its scenario, the latency percentiles with the number of samples behind them, accuracy where it was computed,
and what the row cost the machine. A row that failed carries `error` and no figures.
"""

from __future__ import annotations

import datetime as dt
import json
import math
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any

from mldrnet.io.atomic import atomic_write_text

FORMAT = "bench-mlperf/1"
JSON_NAME = "mlperf.json"
MLPERF = "mlperf"  # results/mlperf/<timestamp>/
TIMED_MODEL = (
    "model: preprocessed tensors already in memory (LoadGen's QSL), through the engine, logits back to LoadGen"
)
QUICK_NOTE = "quick run (--duration, minimum counts for early stopping): not an official MLPerf result"
OFFICIAL_NOTE = "official run rules: LoadGen's mlperf.conf for resnet50 (600 s, its minimum counts and seeds)"
# LoadGen's figure per scenario: (record field, what it is)
FIGURES = {
    "single-stream": ("p90_ms", "90th-percentile latency (ms)"),
    "multi-stream": ("p99_ms", "99th-percentile latency of 8-sample queries (ms)"),
    "server": ("samples_per_s", "completed samples/s with p99 within the deadline"),
    "offline": ("samples_per_s", "samples/s"),
}


@dataclass
class MlperfRecord:
    model: str
    variant: str  # ort-cpu, torch-cpu, ... or "onnx" for a file given with --onnx, "null" for the do-nothing SUT
    engine: str
    device: str
    precision: str
    scenario: str
    mode: str = "performance"
    timed: str = TIMED_MODEL
    official: bool = False
    note: str = QUICK_NOTE
    provider: str | None = None
    dataset: str | None = None
    split_hash: str | None = None
    input_size: int | None = None  # px of the preprocessed images (and of the engine's file)
    test_images: int | None = None  # the QSL's total count
    performance_count: int | None = None  # images LoadGen kept in memory for performance queries
    max_batch: int | None = None  # the SUT's largest engine call (server, offline; multi-stream: 8)
    threads: int | None = None
    settings: dict = field(default_factory=dict)  # RunSettings + expected figures given to LoadGen
    # LoadGen's judgement and figure
    validity: str | None = None  # VALID | INVALID
    invalid_reasons: list[str] = field(default_factory=list)
    figure_name: str | None = None
    figure: float | None = None
    samples_per_s: float | None = None
    latency_count: int | None = None  # queries behind the percentiles (samples for single-stream and server)
    latency: dict = field(default_factory=dict)  # p50_ms .. p99.9_ms, min/mean/max_ms (multi-stream: per query)
    p90_ms: float | None = None
    p99_ms: float | None = None
    target_latency_ms: float | None = None  # server
    offered_qps: float | None = None  # server: the load of this run (of the best VALID step after a search)
    search: list[dict] = field(default_factory=list)  # server: every step of the QPS search
    # accuracy mode
    accuracy_pct: float | None = None
    accuracy_images: int | None = None
    accuracy_note: str | None = None
    # resources
    peak_rss_mb: float | None = None
    window_rss_mb: float | None = None
    cpu_util_pct: float | None = None
    cpu_cores_busy: float | None = None
    device_used_mb: float | None = None
    load_s: float | None = None  # making the engine (load, build or compile) from its file
    first_call_s: float | None = None  # its first call (lazy initialisation, JIT)
    qsl_load_s: float | None = None  # preprocessing in LoadGen's load callbacks (outside the timed window)
    file: str | None = None
    file_bytes: int | None = None
    engine_info: dict = field(default_factory=dict)
    log_dir: str | None = None
    error: str | None = None

    @property
    def ok(self) -> bool:
        return self.error is None

    def to_dict(self) -> dict:
        return _finite(asdict(self))


def _finite(v: Any) -> Any:
    if isinstance(v, float):
        return v if math.isfinite(v) else None
    if isinstance(v, dict):
        return {k: _finite(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_finite(x) for x in v]
    return v


def new_run_dir(results_root: str | Path) -> Path:
    """results/mlperf/<timestamp>, with a suffix when two runs start in the same second."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    base = Path(results_root) / MLPERF
    out, n = base / stamp, 1
    while out.exists():
        n += 1
        out = base / f"{stamp}-{n}"
    return out


def row_name(model: str, variant: str, precision: str, scenario: str, mode: str = "performance") -> str:
    """The row's folder: results/mlperf/<timestamp>/<model>_<variant>_<precision>_<scenario>[_accuracy]."""
    safe = "".join(c if c.isalnum() or c in "-._" else "-" for c in f"{model}_{variant}_{precision}_{scenario}")
    return safe.replace("--", "-") + ("_accuracy" if mode == "accuracy" else "")


def write_records(records: list[MlperfRecord], out_dir: Path, environment: dict, config: dict) -> Path:
    data = {
        "format": FORMAT,
        "environment": environment,
        "config": config,
        "records": [r.to_dict() for r in records],
    }
    path = Path(out_dir) / JSON_NAME
    atomic_write_text(path, json.dumps(_finite(data), indent=1, allow_nan=False, default=str) + "\n")
    return path


def read_records(path: str | Path) -> list[MlperfRecord]:
    data = json.loads(Path(path).read_text())
    return [MlperfRecord(**r) for r in data["records"]]
