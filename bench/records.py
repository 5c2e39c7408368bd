"""The result record: one flat row per (model, engine variant, precision, batch size), and a run's files.

The rich table, records.json, records.csv, the plots and the CI gate are all views of these rows. A row is
flat (scalars, plus a few JSON-encoded lists in the CSV) so that a spreadsheet or pandas reads it directly.
Accuracies are percentages (like the paper's tables); times are milliseconds; throughput is images/s.
A failing row keeps its identity and its `error` (one line, mldrnet.errors.one_line), its numbers are empty;
`status` ("ok" or "error") is derived from it and written to the files for readers that filter on it.
Reading is strict and goes through pydantic v2 (Record.from_dict, CompareRun.from_dict: the one reader of runs
and baselines): Record's annotations (bench.record_schema's bounded types) are its schema, every number finite,
an ok row with its accuracy and timings (OK_ROW_NUMBERS), no unknown field; each failure is one BenchError line
naming the file and the field. A Record built in memory is not validated (compare's rows may hold NaN, which the
writers turn into null).
"""

from __future__ import annotations

import csv
import datetime as dt
import functools
import io
import json
import math
import types
import typing
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StrictBool, StrictStr, TypeAdapter, model_validator

from bench.record_schema import (
    FIX,
    Calibration,
    Count,
    Device,
    Engine,
    Environment,
    FileFormat,
    Finite,
    JsonObject,
    Name,
    NonNegative,
    Percent,
    Positive,
    PositiveInt,
    Precision,
    Timed,
    ToleranceValues,
    bench_failure,
    validated,
)
from mldrnet.errors import BenchError
from mldrnet.io import jsonfile
from mldrnet.io.atomic import atomic_write_text

FORMAT = "bench-compare/1"
JSON_NAME = "records.json"
CSV_NAME = "records.csv"

# Numbers an ok row must have (compare.py always writes them; the gate compares the first three and matches rows
# on the other three: the number of test images, the accuracy size and the timing size); their ranges are their
# types'. Every other number may be null on an ok row: agreement_pct and max_logit_diff (no PyTorch reference
# ran: the gate then calls the row unchecked), mean_tpr_pct and per_class_tpr_pct entries (a class without test
# images), resident_* (CPU rows), the other lat_* statistics, calibration_ms, params, gflops and
# paper_fi_accuracy_pct (informative, never compared), the resource figures. accuracy_pct may be null on an ok
# row that says why in accuracy_note (an --onnx model whose labels are not the dataset's classes: the gate calls
# it unchecked). An error row may lack every number.
OK_ROW_NUMBERS = ("accuracy_pct", "lat_p50_ms", "throughput_ips", "test_images", "input_size", "timing_size")


@dataclass(frozen=True)
class Record:
    __pydantic_config__ = ConfigDict(extra="forbid", allow_inf_nan=False)

    # identity: the row key is (model, variant, precision, batch_size)
    model: Name
    variant: Name  # engine + device (+ provider), e.g. "torch-cpu", "ort-cpu", "ort-trt", "trt"
    engine: Engine  # name in engines.base's registry
    device: Device
    precision: Precision
    batch_size: PositiveInt
    provider: StrictStr | None = None  # onnxruntime provider asked for
    error: StrictStr | None = None  # None: the row ran; else why it did not, in one line
    # accuracy on the test split, evaluation preprocessing (centre crop)
    dataset: StrictStr | None = None
    split_hash: StrictStr | None = None
    test_images: Count | None = None
    unreadable: Count | None = None
    accuracy_pct: Percent | None = None
    mean_tpr_pct: Percent | None = None
    per_class_tpr_pct: tuple[Percent | None, ...] | None = None  # None for a class without test images
    confusion: tuple[tuple[Count, ...], ...] | None = None  # [true][predicted]
    classes: tuple[StrictStr, ...] | None = None
    # parity against the PyTorch fp32 reference on the same images
    agreement_pct: Percent | None = None
    max_logit_diff: NonNegative | None = None
    # speed at batch_size: latency per call (one batch), throughput = images/s
    lat_count: Count | None = None
    lat_mean_ms: Positive | None = None
    lat_std_ms: NonNegative | None = None
    lat_min_ms: NonNegative | None = None
    lat_p50_ms: Positive | None = None
    lat_p90_ms: Positive | None = None
    lat_p99_ms: Positive | None = None
    lat_max_ms: Positive | None = None
    lat_cv: NonNegative | None = None
    throughput_ips: Positive | None = None
    noisy: StrictBool | None = None
    # GPU only: the input already on the device (no host copy); the lat_*/throughput above are end to end
    resident_p50_ms: Positive | None = None
    resident_ips: Positive | None = None
    # GPU rows: what the latencies span. lat_* and throughput_ips: host clock, host copies in and out included,
    # one call at a time (synchronous: no second stream overlaps copies and compute); resident_*: CUDA events
    # (resident_clock) around the engine call with the input already on the device, and the host clock's p50 of
    # the same calls beside it (Python and launch overhead included)
    copies_included: StrictBool | None = None
    synchronous: StrictBool | None = None
    resident_clock: StrictStr | None = None
    resident_host_p50_ms: Positive | None = None
    threads: PositiveInt | None = None
    calibration_ms: Positive | None = None  # bench.timing.calibrate on this row's device, just before its timing
    # the model and its file in this format
    input_size: PositiveInt | None = None  # px: the accuracy size (the checkpoint's crop, what it was trained at)
    params: Count | None = None
    gflops: NonNegative | None = None  # per image at timing_size
    file_format: FileFormat | None = None
    file_bytes: Count | None = None
    paper_fi_accuracy_pct: Percent | None = None  # only when the dataset is FI
    engine_info: JsonObject = field(default_factory=dict)  # Engine.describe(): what actually ran
    # the serving size and how close the row came to the machine's limit (None in files of older benches)
    timing_size: PositiveInt | None = None  # px of the timed batch and of gflops (compare --size; default input_size)
    achieved_gflops: NonNegative | None = None  # GFLOP/s: gflops x throughput_ips
    peak_fraction: NonNegative | None = None  # achieved_gflops / the run's fp32 matrix-product rate (calibration)
    # how the model was trained (mldrnet.io.provenance; None in files of older benches)
    how_trained: StrictStr | None = None  # profile, epochs, input size, starting point
    near_chance: StrictBool | None = None  # val accuracy within a few points of chance: not trained to a usable level
    # what the timings span (bench.record_schema.Timed): "model" (preprocessed tensors in memory) or "end to end"
    # (JPEG decode, resize, crop, normalise, then the model, in the calling thread); None in files of older benches
    timed: Timed | None = None
    accuracy_note: StrictStr | None = None  # why an ok row has no accuracy (an --onnx model whose labels do not match)
    # what the row cost the machine (bench.mlperf.resources; None in files of older benches). Memory in MiB.
    peak_rss_mb: NonNegative | None = None  # the process's resident high-water mark (getrusage) after this row:
    # compare runs every engine in one process, so it also holds the rows before it; window_rss_mb is this row's
    window_rss_mb: NonNegative | None = None  # the largest resident memory sampled during this row's timing
    engine_rss_mb: Finite | None = None  # resident memory right after making the engine minus right before
    cpu_util_pct: NonNegative | None = None  # process CPU seconds / wall over the timing, % of the usable cores
    cpu_cores_busy: NonNegative | None = None  # the same as a number of cores
    export_s: NonNegative | None = None  # seconds to get the engine's file: exported or built when missing or stale
    load_s: NonNegative | None = None  # seconds to make the engine from its file (load, session, deserialise)
    first_call_s: NonNegative | None = None  # its first batch (torch.compile and ORT's TensorRT provider build here)
    device_used_mb: NonNegative | None = None  # GPU rows: device memory in use at the end (every allocator)
    device_peak_mb: NonNegative | None = None  # GPU rows: torch.cuda.max_memory_allocated over the timing (torch's
    # allocator only: near 0 for ONNX Runtime and TensorRT rows, whose memory device_used_mb holds)

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
        return {
            **{k: d.pop(k) for k in ("model", "variant", "engine", "device", "precision", "batch_size", "provider")},
            "status": self.status,
            **d,
        }

    @classmethod
    def from_dict(cls, d: dict, where: str = "a record") -> Record:
        """The strict reader of one row (JSON values; read_csv converts its text first), by pydantic: a
        BenchError naming `where` and the field unless the row fits the declared types and the rules below."""
        return validated(_record_adapter(), d, where)

    @model_validator(mode="before")
    @classmethod
    def _status(cls, d: Any) -> Any:
        """`status` is derived from `error`: it is checked and dropped; an error row without a message still fails."""
        if not isinstance(d, dict) or "status" not in d:
            return d
        d = dict(d)
        status = d.pop("status")
        if status not in (None, "ok", "error"):
            raise bench_failure(".status", f"is {status!r}, expected 'ok' or 'error'")
        if status == "error" and not d.get("error"):
            d["error"] = "error (no message recorded)"
        if status == "ok" and d.get("error") is not None:
            raise bench_failure(".status", "is 'ok' but its error is set")
        return d

    @model_validator(mode="after")
    def _ok_row_numbers(self) -> Record:
        for name in OK_ROW_NUMBERS if self.ok else ():
            if name == "accuracy_pct" and self.accuracy_note:  # a foreign model's row says why it has none
                continue
            if getattr(self, name) is None:
                raise bench_failure(f".{name}", "is null on an ok row (the gate compares it; compare always writes it)")
        return self


@functools.cache
def _record_adapter() -> TypeAdapter:
    return TypeAdapter(Record)


def _jsonable(v: Any) -> Any:
    """NaN and infinities are not JSON: they become null (e.g. the TPR of a class with no test images)."""
    if isinstance(v, float) and not math.isfinite(v):
        return None
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, dict):
        return {k: _jsonable(x) for k, x in v.items()}
    return v


# --- CSV: scalars as text, lists and dicts as JSON ------------------------------------------------------


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(_jsonable(v))
    return repr(v) if isinstance(v, float) else str(v)  # repr: floats round-trip exactly


@functools.cache
def _csv_types() -> dict[str, Any]:
    """field -> the base type of its cells (the declared type without None and constraints)."""

    def base(hint: Any) -> Any:
        if typing.get_origin(hint) in (typing.Union, types.UnionType):
            hint = next(a for a in typing.get_args(hint) if a is not type(None))
        return typing.get_origin(hint) or hint

    return {k: base(h) for k, h in typing.get_type_hints(Record).items()}


def _csv_value(text: str, kind: Any, where: str) -> Any:
    """A CSV cell -> its JSON value (then typed and checked by Record.from_dict, like a records.json value)."""
    if text == "":
        return None
    if kind in (tuple, dict):
        return jsonfile.loads(text, where, fix=FIX)  # bounded like a file: depth, long integers, duplicate keys
    try:
        if kind in (int, float):
            return kind(text)
        if kind is bool and text in ("True", "False"):
            return text == "True"
    except ValueError as e:  # json.JSONDecodeError is one
        raise BenchError(f"{where} is {text[:40]!r}, not a {kind.__name__}: {FIX}") from e
    return text


def write_csv(records: list[Record], path: Path) -> Path:
    names = list(records[0].to_dict()) if records else [f.name for f in fields(Record)]
    text = io.StringIO(newline="")
    w = csv.writer(text)
    w.writerow(names)
    for r in records:
        row = r.to_dict()
        w.writerow([_csv_cell(row[n]) for n in names])
    atomic_write_text(path, text.getvalue())
    return path


def read_csv(path: Path) -> list[Record]:
    kinds = _csv_types()
    try:
        if Path(path).stat().st_size > jsonfile.MAX_JSON_BYTES:
            raise BenchError(f"{path} is larger than a compare run's records.csv can be: {FIX}")
        with open(path, newline="", encoding="utf-8", errors="backslashreplace") as f:
            rows = list(csv.DictReader(f))
    except (OSError, csv.Error) as e:
        raise BenchError(f"cannot read {path}: {e}: {FIX}") from None
    return [
        Record.from_dict(
            {k: _csv_value(v, kinds.get(k, str), f"{path}: row {i + 1}.{k}") for k, v in row.items()},
            f"{path}: row {i + 1}",
        )
        for i, row in enumerate(rows)
    ]


# --- the run: records + environment, as records.json ----------------------------------------------------


class RunFile(BaseModel):
    """records.json or a baseline, as read: every row a Record, the environment and calibration typed where the
    gate reads them, the config any finite JSON object, a baseline's stored tolerance (bench.check) typed."""

    model_config = ConfigDict(extra="forbid", allow_inf_nan=False)
    format: Literal[FORMAT]
    environment: Environment = Field(default_factory=Environment)
    config: JsonObject = {}
    calibration: dict[str, Calibration] = {}
    records: list[Record]
    tolerance: ToleranceValues | None = None


@dataclass(frozen=True)
class CompareRun:
    records: tuple[Record, ...]
    environment: dict  # bench.envinfo.environment(): machine, versions, threads, git commit, dataset, splits
    config: dict  # the CompareConfig it ran with
    calibration: dict  # device -> bench.timing.Calibration.to_dict(), measured in the same run

    def peak_gflops(self, device: str) -> float | None:
        """The fp32 matrix-product peak measured in this run on `device` (GFLOP/s), None if not measured."""
        cal = self.calibration.get(device)
        peak = cal.get("peak") if isinstance(cal, dict) else None
        return peak.get("gflops_per_s") if isinstance(peak, dict) else None

    def to_dict(self) -> dict:
        return {
            "format": FORMAT,
            "environment": _jsonable(self.environment),
            "config": _jsonable(self.config),
            "calibration": self.calibration,
            "records": [r.to_dict() for r in self.records],
        }

    @classmethod
    def from_dict(cls, d: dict, source: str = "records", unique_keys: bool = False) -> CompareRun:
        """The strict reader of a run or a baseline (the one place both are read), by pydantic (RunFile): no row
        key twice when `unique_keys` (the gate reads with it: bench.check). A failure is one BenchError line
        naming `source` and the field, e.g. `x.json: records[3].lat_p50_ms is NaN, expected a finite number: ...`."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise BenchError(f"{source} is not a bench compare result (expected format {FORMAT})")
        run = validated(RunFile, d, source, file=True)
        seen: dict = {}
        for i, record in enumerate(run.records):
            if unique_keys and record.key in seen:
                raise BenchError(
                    f"{source}: records[{i}] repeats the row key (model, variant, precision, batch) "
                    f"{' '.join(map(str, record.key))} of records[{seen[record.key]}]: {FIX}"
                )
            seen.setdefault(record.key, i)
        return cls(
            tuple(run.records),
            dict(d.get("environment", {})),
            dict(d.get("config", {})),
            dict(d.get("calibration", {})),
        )


def write_json(run: CompareRun, path: Path) -> Path:
    atomic_write_text(path, json.dumps(run.to_dict(), indent=1, allow_nan=False) + "\n")
    return path


def save_run(run: CompareRun, out_dir: Path) -> tuple[Path, Path]:
    json_path, csv_path = out_dir / JSON_NAME, out_dir / CSV_NAME
    write_json(run, json_path)
    write_csv(list(run.records), csv_path)
    return json_path, csv_path


def load_run(path: str | Path, unique_keys: bool = False) -> CompareRun:
    """A compare folder (with records.json) or a records/baseline JSON file, read strictly (CompareRun.from_dict)."""
    path = Path(path)
    file = path / JSON_NAME if path.is_dir() else path
    if not file.is_file():
        raise BenchError(f"{path} has no compare results: expected a folder with {JSON_NAME} or a JSON file")
    return CompareRun.from_dict(read_json(file), str(file), unique_keys)


def read_json(file: Path) -> Any:
    """A JSON file's content, read by the one bounded reader (mldrnet.io.jsonfile: size, depth and integer length
    bounded, no key twice in one object); an unreadable, oversized or corrupt file is a BenchError naming it."""
    try:
        return jsonfile.read_json(file, fix=FIX)
    except BenchError as e:
        text, name = str(e), str(file)
        if text.startswith(name):  # "<file> is not valid JSON ..." -> "cannot read <file>: it is not valid JSON ..."
            text = f"cannot read {name}: it{text[len(name) :]}"
        raise BenchError(text) from None


def recorded_time(file: Path) -> dt.datetime | None:
    """When the run in records.json `file` was made (environment.created, as bench.envinfo writes it), or None
    when it is not recorded or the file cannot be read."""
    try:
        data = read_json(file)
        created = data["environment"]["created"]
        when = dt.datetime.fromisoformat(created)
    except (BenchError, KeyError, TypeError, ValueError):
        return None
    return when if when.tzinfo is not None else when.replace(tzinfo=dt.UTC)


def latest_run(results_root: str | Path) -> tuple[Path, dt.datetime]:
    """(the compare folder, its time) of the run recorded newest under results/compare: by the time in its
    records.json, not its folder's name (`ci` sorts after every timestamp, `...-2` after `...-10`). Ties go to
    the records.json written last. Folders without a readable time are not candidates; none at all is a
    BenchError."""
    from mldrnet.io.layout import compare_dir

    where = compare_dir(results_root)
    found = []
    try:
        folders = [p for p in where.iterdir() if (p / JSON_NAME).is_file()] if where.is_dir() else []
    except OSError as e:
        raise BenchError(f"cannot list {where}: {e.strerror or e}") from None
    for folder in folders:
        when = recorded_time(folder / JSON_NAME)
        if when is not None:
            found.append((when, (folder / JSON_NAME).stat().st_mtime_ns, folder))
    if not found:
        raise BenchError(
            f"no compare run with a recorded time under {where}: run `bench compare` first (or name the folder)"
        )
    when, _, folder = max(found)
    return folder, when
