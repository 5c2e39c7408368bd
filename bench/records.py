"""The result record: one flat row per (model, engine variant, precision, batch size), and a run's files.

The rich table, records.json, records.csv, the plots and the CI gate are all views of these rows. A row is
flat (scalars, plus a few JSON-encoded lists in the CSV) so that a spreadsheet or pandas reads it directly.
Accuracies are percentages (like the paper's tables); times are milliseconds; throughput is images/s.
A failing row keeps its identity and its `error` (one line, mldrnet.errors.one_line), its numbers are empty;
`status` ("ok" or "error") is derived from it and written to the files for readers that filter on it.
Reading is strict (Record.from_dict, CompareRun.from_dict: the one reader of runs and baselines): every field of
its declared type, every number finite, an ok row with its accuracy and timings (OK_ROW_NUMBERS says which
numbers may be null); each failure is one BenchError line naming the file and the field.
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

from mldrnet.io.atomic import atomic_write_text
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
    input_size: int | None = None  # px: the accuracy size (the checkpoint's crop, what the model was trained at)
    params: int | None = None
    gflops: float | None = None  # per image at timing_size
    file_format: str | None = None
    file_bytes: int | None = None
    paper_fi_accuracy_pct: float | None = None  # only when the dataset is FI
    engine_info: dict = field(default_factory=dict)  # Engine.describe(): what actually ran
    # the serving size and how close the row came to the machine's limit (None in files of older benches)
    timing_size: int | None = None  # px of the timed batch and of gflops (bench compare --size; default input_size)
    achieved_gflops: float | None = None  # GFLOP/s: gflops x throughput_ips
    peak_fraction: float | None = None  # achieved_gflops / the run's measured fp32 matrix-product rate (calibration.<device>.peak)
    # how the model was trained (mldrnet.io.provenance; None in files of older benches)
    how_trained: str | None = None  # profile, epochs, input size, starting point
    near_chance: bool | None = None  # val accuracy within a few points of chance: not trained to a usable level

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
    def from_dict(cls, d: dict, where: str = "a record") -> "Record":
        """The strict reader of one row (JSON values; read_csv converts its text first): every field of its
        declared type, every number finite, an ok row with the numbers the gate compares (OK_ROW_NUMBERS).
        Anything else is a BenchError naming `where` and the field."""
        if not isinstance(d, dict):
            raise BenchError(f"{where} is {_kind(d)}, expected an object: {FIX}")
        d = dict(d)
        status = d.pop("status", None)  # derived from `error`; an error row without a message still fails
        if status not in (None, "ok", "error"):
            raise BenchError(f"{where}.status is {status!r}, expected 'ok' or 'error': {FIX}")
        if status == "error" and not d.get("error"):
            d["error"] = "error (no message recorded)"
        if status == "ok" and d.get("error") is not None:
            raise BenchError(f"{where}.status is 'ok' but its error is set: {FIX}")
        hints = _hints()
        unknown = set(d) - set(hints)
        if unknown:
            raise BenchError(f"{where}: unknown record fields {sorted(unknown)}: written by a newer bench?")
        missing = [f.name for f in _required() if f.name not in d]
        if missing:
            raise BenchError(f"{where} lacks {', '.join(missing)}: the file is incomplete or from an older bench; "
                             "re-run `bench compare`")
        values = {k: _typed(v, hints[k], f"{where}.{k}") for k, v in d.items()}
        if values["batch_size"] < 1:
            raise BenchError(f"{where}.batch_size is {values['batch_size']}, expected >= 1: {FIX}")
        for name in PERCENT_FIELDS:
            if values.get(name) is not None:
                number(values[name], f"{where}.{name}", 0.0, 100.0)
        for name in NONNEGATIVE_FIELDS:
            if values.get(name) is not None:
                number(values[name], f"{where}.{name}", 0.0)
        for name in POSITIVE_INT_FIELDS:
            if values.get(name) is not None:
                number(values[name], f"{where}.{name}", 1, integer=True)
        if values.get("error") is None:
            for name, low, high in OK_ROW_NUMBERS:
                v = values.get(name)
                if v is None:
                    raise BenchError(f"{where}.{name} is null on an ok row (the gate compares it; compare always "
                                     f"writes it): {FIX}")
                if not (low < v if high is None else low <= v <= high):
                    raise BenchError(f"{where}.{name} is {v!r}, out of range "
                                     f"({f'> {low:g}' if high is None else f'{low:g}..{high:g}'}): {FIX}")
        return cls(**values)


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


# --- the strict reader: typed values, finite numbers, one line naming the file and the field -------------

FIX = "a damaged or hand-edited file: regenerate it (`bench compare`; for a baseline `bench check --update`)"

# Numbers an ok row must have (compare.py always writes them; the gate compares them), with their range
# (low, high; high None = strictly above low). Every other number may be null on an ok row: agreement_pct and
# max_logit_diff (no PyTorch reference ran), mean_tpr_pct and per_class_tpr_pct entries (a class without test
# images), resident_* (CPU rows), the lat_* statistics other than p50, lat_count, test_images, calibration_ms,
# params, gflops, input_size, timing_size, achieved_gflops, peak_fraction, file_* and paper_fi_accuracy_pct
# (informative, never compared; bench.check refuses timings at another timing_size than the baseline's). An error row may
# lack every number. Percentages present anywhere must lie in 0..100.
OK_ROW_NUMBERS = (("accuracy_pct", 0.0, 100.0), ("lat_p50_ms", 0.0, None), ("throughput_ips", 0.0, None))
PERCENT_FIELDS = ("accuracy_pct", "agreement_pct", "mean_tpr_pct")
NONNEGATIVE_FIELDS = ("achieved_gflops", "peak_fraction", "gflops")
POSITIVE_INT_FIELDS = ("timing_size", "input_size")


def _kind(v: Any) -> str:
    """How a wrong value is named in a message."""
    if v is None:
        return "null"
    if isinstance(v, bool):
        return f"a boolean ({str(v).lower()})"
    if isinstance(v, float) and math.isnan(v):
        return "NaN"
    if isinstance(v, float) and math.isinf(v):
        return "infinite" if v > 0 else "-infinite"
    if isinstance(v, int):
        return "an integer too large for a float" if _too_big(v) else f"an integer ({v})"
    if isinstance(v, float):
        return f"a number ({v!r})"
    if isinstance(v, str):
        return f"a string ({v[:40]!r})"
    return {list: "a list", tuple: "a list", dict: "an object"}.get(type(v), type(v).__name__)


def _too_big(v: int) -> bool:
    try:
        float(v)
    except OverflowError:
        return True
    return False


def bad_number(v: Any) -> bool:
    """A number that is not one: NaN, an infinity, or an integer too large for a float."""
    if isinstance(v, float):
        return not math.isfinite(v)
    return isinstance(v, int) and not isinstance(v, bool) and _too_big(v)


def check_numbers(value: Any, where: str) -> None:
    """Refuse NaN, infinities and integers too large for a float anywhere in a JSON value (json.loads takes
    NaN, Infinity and 1e400 as floats), naming the path, e.g. `x.json: calibration.cpu.median_ms is NaN`."""
    if bad_number(value):
        raise BenchError(f"{where} is {_kind(value)}: {FIX}")
    if isinstance(value, dict):
        for k, v in value.items():
            check_numbers(v, f"{where}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            check_numbers(v, f"{where}[{i}]")


def number(v: Any, where: str, low: float | None = None, high: float | None = None, above: bool = False,
           integer: bool = False) -> float | int:
    """A finite number (an int when `integer`) within [low, high] (low excluded when `above`), else a BenchError."""
    ok_type = isinstance(v, int) if integer else isinstance(v, (int, float))
    if isinstance(v, bool) or not ok_type or bad_number(v):
        raise BenchError(f"{where} is {_kind(v)}, expected {'an integer' if integer else 'a finite number'}: {FIX}")
    if low is not None and (v <= low if above else v < low) or high is not None and v > high:
        bounds = f"{'>' if above else '>='} {low:g}" if high is None else f"{low:g}..{high:g}"
        raise BenchError(f"{where} is {v!r}, expected {bounds}: {FIX}")
    return v if integer else float(v)


def _typed(v: Any, hint: Any, where: str) -> Any:
    """A JSON value -> the field's declared type (lists -> tuples, so round-trips compare equal), strictly."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        if v is None:
            return None
        inner = [a for a in typing.get_args(hint) if a is not type(None)]
        return _typed(v, inner[0], where)
    if origin is tuple:
        if not isinstance(v, (list, tuple)):
            raise BenchError(f"{where} is {_kind(v)}, expected a list: {FIX}")
        args = typing.get_args(hint)
        return tuple(_typed(x, args[0], f"{where}[{i}]") for i, x in enumerate(v))
    if hint is float:
        return number(v, where)
    if hint is int:
        return number(v, where, integer=True)
    if hint is bool:
        if not isinstance(v, bool):
            raise BenchError(f"{where} is {_kind(v)}, expected true or false: {FIX}")
        return v
    if hint is str:
        if not isinstance(v, str):
            raise BenchError(f"{where} is {_kind(v)}, expected a string: {FIX}")
        return v
    if hint is dict:
        if not isinstance(v, dict):
            raise BenchError(f"{where} is {_kind(v)}, expected an object: {FIX}")
        check_numbers(v, where)
        return v
    return v


# --- CSV: scalars as text, lists and dicts as JSON ------------------------------------------------------


def _csv_cell(v: Any) -> str:
    if v is None:
        return ""
    if isinstance(v, (list, tuple, dict)):
        return json.dumps(_jsonable(v))
    return repr(v) if isinstance(v, float) else str(v)  # repr: floats round-trip exactly


def _csv_value(text: str, hint: Any, where: str) -> Any:
    """A CSV cell -> its JSON value (then typed and checked by Record.from_dict, like a records.json value)."""
    if text == "":
        return None
    base = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
    try:
        if typing.get_origin(base[0]) is tuple or base[0] is dict:
            return json.loads(text)
        if base[0] is int:
            return int(text)
        if base[0] is float:
            return float(text)
        if base[0] is bool and text in ("True", "False"):
            return text == "True"
    except ValueError as e:  # json.JSONDecodeError is one
        raise BenchError(f"{where} is {text[:40]!r}, not a {getattr(base[0], '__name__', 'value')}: {FIX}") from e
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
    hints = {**_hints(), "status": str}
    with open(path, newline="") as f:
        rows = list(csv.DictReader(f))
    return [Record.from_dict({k: _csv_value(v, hints.get(k, str), f"{path}: row {i + 1}.{k}") for k, v in row.items()},
                             f"{path}: row {i + 1}") for i, row in enumerate(rows)]


# --- the run: records + environment, as records.json ----------------------------------------------------


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
        return {"format": FORMAT, "environment": _jsonable(self.environment), "config": _jsonable(self.config),
                "calibration": self.calibration, "records": [r.to_dict() for r in self.records]}

    @classmethod
    def from_dict(cls, d: dict, source: str = "records", unique_keys: bool = False) -> "CompareRun":
        """The strict reader of a run or a baseline (the one place both are read): `records` a list of rows
        (Record.from_dict), no row key twice when `unique_keys` (the gate reads with it: bench.check), `environment`, `config` and `calibration` objects of the right value
        types, no NaN, infinity or integer too large for a float anywhere. A failure is one BenchError line
        naming `source` and the field, e.g. `x.json: records[3].lat_p50_ms is NaN: ...`."""
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            raise BenchError(f"{source} is not a bench compare result (expected format {FORMAT})")
        for name in ("environment", "config", "calibration"):
            if not isinstance(d.get(name, {}), dict):
                raise BenchError(f"{source}: {name} is {_kind(d[name])}, expected an object: {FIX}")
            check_numbers(d.get(name, {}), f"{source}: {name}")
        rows = d.get("records")
        if not isinstance(rows, list):
            raise BenchError(f"{source}: records is {_kind(rows)}, expected a list of rows: {FIX}")
        records, seen = [], {}
        for i, row in enumerate(rows):
            record = Record.from_dict(row, f"{source}: records[{i}]")
            if unique_keys and record.key in seen:
                raise BenchError(f"{source}: records[{i}] repeats the row key (model, variant, precision, batch) "
                                 f"{' '.join(map(str, record.key))} of records[{seen[record.key]}]: {FIX}")
            seen[record.key] = i
            records.append(record)
        environment = dict(d.get("environment", {}))
        _environment(environment, f"{source}: environment")
        calibration = dict(d.get("calibration", {}))
        for device, cal in calibration.items():
            _calibration(cal, f"{source}: calibration.{device}")
        return cls(tuple(records), environment, dict(d.get("config", {})), calibration)


def _environment(env: dict, where: str) -> None:
    """The fields the gate reads: dataset, threads, split_hashes."""
    if env.get("dataset") is not None and not isinstance(env["dataset"], str):
        raise BenchError(f"{where}.dataset is {_kind(env['dataset'])}, expected a string: {FIX}")
    for name in ("threads", "interop_threads", "cpus_usable"):
        if env.get(name) is not None:
            number(env[name], f"{where}.{name}", 1, integer=True)
    hashes = env.get("split_hashes", [])
    if not isinstance(hashes, list) or not all(isinstance(h, str) for h in hashes):
        raise BenchError(f"{where}.split_hashes is {_kind(hashes)}, expected a list of strings: {FIX}")


def _calibration(cal: Any, where: str) -> None:
    """bench.compare.summarize_calibration's dict: its median (the yardstick) a positive number, the rest too."""
    if not isinstance(cal, dict):
        raise BenchError(f"{where} is {_kind(cal)}, expected an object: {FIX}")
    if "median_ms" not in cal:
        raise BenchError(f"{where}.median_ms is missing: {FIX}")
    for name in ("median_ms", "before_ms", "after_ms", "spread"):
        if name in cal:
            number(cal[name], f"{where}.{name}", 0.0, above=True)
    for name in ("size", "count", "threads", "samples"):
        if name in cal:
            number(cal[name], f"{where}.{name}", 1, integer=True)
    if "peak" in cal:  # bench.timing.Peak.to_dict(): the fp32 matrix-product peak (absent in older files)
        peak = cal["peak"]
        if not isinstance(peak, dict):
            raise BenchError(f"{where}.peak is {_kind(peak)}, expected an object: {FIX}")
        for name in ("gflops_per_s", "best_ms"):
            number(peak.get(name), f"{where}.peak.{name}", 0.0, above=True)
        for name in ("size", "runs", "threads"):
            if name in peak:
                number(peak[name], f"{where}.peak.{name}", 1, integer=True)


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
    """A JSON file's content; an unreadable or corrupt file is a BenchError naming it."""
    try:
        return json.loads(Path(file).read_text())
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise BenchError(f"cannot read {file}: {e}") from e
