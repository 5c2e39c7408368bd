"""The result record: one flat row per (model, engine variant, precision, batch size), and a run's files.

The rich table, records.json, records.csv, the plots and the CI gate are all views of these rows. A row is
flat (scalars, plus a few JSON-encoded lists in the CSV) so that a spreadsheet or pandas reads it directly.
Accuracies are percentages (like the paper's tables); times are milliseconds; throughput is images/s.
A failing row keeps its identity and its `error` (one line, mldrnet.errors.one_line), its numbers are empty;
`status` ("ok" or "error") is derived from it and written to the files for readers that filter on it.
"""

from __future__ import annotations

import csv
import functools
import io
import json
import math
import types
import typing
from dataclasses import MISSING, asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from mldrnet.atomic import atomic_write_text
from mldrnet.errors import BenchError

FORMAT = "bench-compare/1"
JSON_NAME = "records.json"
CSV_NAME = "records.csv"


@dataclass(frozen=True)
class Record:
    # identity: the row key is (model, variant, precision, batch_size)
    model: str
    variant: str  # engine + device (+ provider), e.g. "torch-cpu", "ort-cpu", "ort-trt", "trt"
    engine: str  # name in engines.base's registry
    device: str
    precision: str
    batch_size: int
    provider: str | None = None  # onnxruntime provider asked for
    error: str | None = None  # None: the row ran; else why it did not, in one line
    # accuracy on the test split, evaluation preprocessing (centre crop)
    dataset: str | None = None
    split_hash: str | None = None
    test_images: int | None = None
    unreadable: int | None = None
    accuracy_pct: float | None = None
    mean_tpr_pct: float | None = None
    per_class_tpr_pct: tuple[float | None, ...] | None = None  # None for a class without test images
    confusion: tuple[tuple[int, ...], ...] | None = None  # [true][predicted]
    classes: tuple[str, ...] | None = None
    # parity against the PyTorch fp32 reference on the same images
    agreement_pct: float | None = None
    max_logit_diff: float | None = None
    # speed at batch_size: latency per call (one batch), throughput = images/s
    lat_count: int | None = None
    lat_mean_ms: float | None = None
    lat_std_ms: float | None = None
    lat_min_ms: float | None = None
    lat_p50_ms: float | None = None
    lat_p90_ms: float | None = None
    lat_p99_ms: float | None = None
    lat_max_ms: float | None = None
    lat_cv: float | None = None
    throughput_ips: float | None = None
    noisy: bool | None = None
    # GPU only: the input already on the device (no host copy); the lat_*/throughput above are end to end
    resident_p50_ms: float | None = None
    resident_ips: float | None = None
    threads: int | None = None
    calibration_ms: float | None = None  # bench.timing.calibrate on this row's device, just before its timing
    # the model and its file in this format
    input_size: int | None = None
    params: int | None = None
    gflops: float | None = None
    file_format: str | None = None
    file_bytes: int | None = None
    paper_fi_accuracy_pct: float | None = None  # only when the dataset is FI
    engine_info: dict = field(default_factory=dict)  # Engine.describe(): what actually ran

    @property
    def key(self) -> tuple[str, str, str, int]:
        return (self.model, self.variant, self.precision, self.batch_size)

    @property
    def ok(self) -> bool:
        return self.error is None

    @property
    def status(self) -> str:
        return "ok" if self.ok else "error"

    def to_dict(self) -> dict:
        d = {k: _jsonable(v) for k, v in asdict(self).items()}
        return {**{k: d.pop(k) for k in ("model", "variant", "engine", "device", "precision", "batch_size",
                                          "provider")}, "status": self.status, **d}

    @classmethod
    def from_dict(cls, d: dict) -> "Record":
        d = dict(d)
        status = d.pop("status", None)  # derived from `error`; an error row without a message still fails
        if status == "error" and not d.get("error"):
            d["error"] = "error (no message recorded)"
        hints = _hints()
        unknown = set(d) - set(hints)
        if unknown:
            raise BenchError(f"unknown record fields {sorted(unknown)}: written by a newer bench?")
        missing = [f.name for f in _required() if f.name not in d]
        if missing:
            raise BenchError(f"a record lacks {', '.join(missing)}: the file is incomplete or from an older bench; "
                             "re-run `bench compare`")
        try:
            return cls(**{k: _coerce(v, hints[k]) for k, v in d.items()})
        except (TypeError, ValueError) as e:  # a value of the wrong kind: a hand-edited or damaged file
            raise BenchError(f"a record has a malformed value ({e}): re-run `bench compare`") from e


def _jsonable(v: Any) -> Any:
    """NaN and infinities are not JSON: they become null (e.g. the TPR of a class with no test images)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


@functools.cache
def _hints() -> dict[str, Any]:
    return typing.get_type_hints(Record)


def _required() -> list:
    """The fields without a default: a row's identity."""
    return [f for f in fields(Record) if f.default is MISSING and f.default_factory is MISSING]


def _coerce(v: Any, hint: Any) -> Any:
    """A JSON/CSV value -> the field's declared type (lists -> tuples, so round-trips compare equal)."""
    if v is None:
        return None
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _coerce(v, inner[0])
    if origin is tuple:
        args = typing.get_args(hint)
        return tuple(_coerce(x, args[0]) for x in v)
    if hint is float:
        return float(v)
    if hint is int:
        return int(v)
    if hint is bool:
        return v if isinstance(v, bool) else str(v).lower() == "true"
    return v


# --- CSV: scalars as text, lists and dicts as JSON ------------------------------------------------------


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(_jsonable(v))
    return repr(v) if isinstance(v, float) else str(v)  # repr: floats round-trip exactly


def _csv_value(text: str, hint: Any) -> Any:
    if text == "":
        return None
    base = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    if typing.get_origin(base[0]) is tuple or base[0] is dict:
        return json.loads(text)
    return text


def write_csv(records: list[Record], path: Path) -> None:
    names = list(records[0].to_dict()) if records else [f.name for f in fields(Record)]
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(names)
    for r in records:
        row = r.to_dict()
        w.writerow([_csv_cell(row[n]) for n in names])
    atomic_write_text(path, text.getvalue())


def read_csv(path: Path) -> list[Record]:
    hints = {**_hints(), "status": str}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [Record.from_dict({k: _csv_value(v, hints[k]) for k, v in row.items()}) for row in rows]


# --- the run: records + environment, as records.json ----------------------------------------------------


@dataclass(frozen=True)
class CompareRun:
    records: tuple[Record, ...]
    environment: dict  # bench.envinfo.environment(): machine, versions, threads, git commit, dataset, splits
    config: dict  # the CompareConfig it ran with
    calibration: dict  # device -> bench.timing.Calibration.to_dict(), measured in the same run

    def to_dict(self) -> dict:
        return {"format": FORMAT, "environment": _jsonable(self.environment), "config": _jsonable(self.config),
                "calibration": self.calibration, "records": [r.to_dict() for r in self.records]}

    @classmethod
    def from_dict(cls, d: dict, source: str = "records") -> "CompareRun":
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise BenchError(f"{source} is not a bench compare result (expected format {FORMAT})")
        return cls(tuple(Record.from_dict(r) for r in d.get("records", [])), d.get("environment", {}),
                   d.get("config", {}), d.get("calibration", {}))


def save_run(run: CompareRun, out_dir: Path) -> tuple[Path, Path]:
    json_path, csv_path = out_dir / JSON_NAME, out_dir / CSV_NAME
    atomic_write_text(json_path, json.dumps(run.to_dict(), indent=1, allow_nan=False) + "\n")
    write_csv(list(run.records), csv_path)
    return json_path, csv_path


def load_run(path: str | Path) -> CompareRun:
    """A compare folder (with records.json) or a records/baseline JSON file."""
    path = Path(path)
    file = path / JSON_NAME if path.is_dir() else path
    if not file.is_file():
        raise BenchError(f"{path} has no compare results: expected a folder with {JSON_NAME} or a JSON file")
    return CompareRun.from_dict(read_json(file), str(file))


def read_json(file: Path) -> Any:
    """A JSON file's content; an unreadable or corrupt file is a BenchError naming it."""
    try:
        return json.loads(Path(file).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BenchError(f"cannot read {file}: {e}") from e
