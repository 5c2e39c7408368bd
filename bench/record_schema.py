"""The pydantic v2 vocabulary of bench compare's files (records.json, records.csv, baselines): the bounded field
types that bench.records.Record declares, the models of a run's environment and calibration and of a baseline's
stored tolerance, and the one conversion of a pydantic ValidationError into a one-line BenchError that names the
file and the field, e.g. `x.json: records[3].lat_p50_ms is NaN, expected a finite number: ...`.

Numbers are strict (a string or a boolean is not one; an integer is a float) and finite: NaN and infinities are
refused (allow_inf_nan=False), and so is an integer too large for a float. Free-form objects (the run config,
engine_info, unknown environment and calibration keys) may hold anything JSON but such a number.
Engine, device, precision and file format are the closed vocabularies of engines.formats (torch-free).
"""

from __future__ import annotations

import math
from typing import Annotated, Any, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    StrictBool,
    StrictFloat,
    StrictInt,
    StrictStr,
    ValidationError,
)
from pydantic_core import PydanticCustomError

from engines import formats
from mldrnet.errors import BenchError

FIX = "a damaged or hand-edited file: regenerate it (`bench compare`; for a baseline `bench check --update`)"
MAX_INT = 2**63 - 1  # counts and sizes; larger is a damaged file

# --- field types -------------------------------------------------------------------------------------------------
Name = Annotated[StrictStr, Field(min_length=1)]
Count = Annotated[StrictInt, Field(ge=0, le=MAX_INT)]  # images, parameters, bytes, confusion cells
PositiveInt = Annotated[StrictInt, Field(ge=1, le=MAX_INT)]  # batch size, px, threads
Percent = Annotated[StrictFloat, Field(ge=0, le=100)]
Positive = Annotated[StrictFloat, Field(gt=0)]  # a latency, a throughput, a rate
NonNegative = Annotated[StrictFloat, Field(ge=0)]
Finite = StrictFloat  # any sign (a change, e.g. resident memory after loading an engine minus before)
# what a row's timings span: "model": preprocessed tensors already in memory, through the engine; "end to end":
# each call decodes its JPEG files, resizes, crops and normalises them (the evaluation transform), then the model
Timed = Literal["model", "end to end"]
TIMED = ("model", "end to end")
Engine = Literal[tuple(dict.fromkeys(f.engine for f in formats.FORMATS))]  # type: ignore[valid-type]
Device = Literal[formats.devices()]  # type: ignore[valid-type]
Precision = Literal[formats.precisions()]  # type: ignore[valid-type]
FileFormat = Literal[tuple(f.name for f in formats.FORMATS)]  # type: ignore[valid-type]


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
        return "an integer too large for a float" if bad_number(v) else f"an integer ({v})"
    if isinstance(v, float):
        return f"a number ({v!r})"
    if isinstance(v, str):
        return f"a string ({v[:40]!r})"
    return {list: "a list", tuple: "a list", dict: "an object"}.get(type(v), type(v).__name__)


def bad_number(v: Any) -> bool:
    """A number that is not one: NaN, an infinity, or an integer too large for a float."""
    if isinstance(v, float):
        return not math.isfinite(v)
    if isinstance(v, int) and not isinstance(v, bool):
        try:
            float(v)
        except OverflowError:
            return True
    return False


def _finite_tree(value: Any, path: str = "") -> Any:
    """`value` itself, after refusing a bad number anywhere in it (json.loads takes NaN, Infinity and 1e400)."""
    if bad_number(value):
        raise PydanticCustomError(
            "bench", "is {kind}, expected a finite number", {"suffix": path, "kind": _kind(value)}
        )
    if isinstance(value, dict):
        for k, v in value.items():
            _finite_tree(v, f"{path}.{k}")
    elif isinstance(value, (list, tuple)):
        for i, v in enumerate(value):
            _finite_tree(v, f"{path}[{i}]")
    return value


JsonObject = Annotated[dict[str, Any], AfterValidator(_finite_tree)]
FiniteJson = Annotated[Any, AfterValidator(_finite_tree)]


def bench_failure(suffix: str, message: str) -> PydanticCustomError:
    """A rule of ours broken at `suffix` below the validated object (".status"), as a pydantic error."""
    return PydanticCustomError("bench", message, {"suffix": suffix})


# --- the objects of a run beside its records ------------------------------------------------------------------


class _Open(BaseModel):
    """Known fields typed; any other key kept if it is finite JSON."""

    model_config = ConfigDict(extra="allow", allow_inf_nan=False, frozen=True)
    __pydantic_extra__: dict[str, FiniteJson]


class Environment(_Open):
    """bench.envinfo.environment(): the fields the gate reads typed."""

    dataset: StrictStr | None = None
    threads: PositiveInt | None = None
    interop_threads: PositiveInt | None = None
    cpus_usable: PositiveInt | None = None
    split_hashes: list[StrictStr] = []


class Peak(_Open):
    """bench.timing.Peak.to_dict(): the fp32 matrix-product peak (absent in older files). A field that is
    present may not be null."""

    gflops_per_s: Positive
    best_ms: Positive
    size: PositiveInt = None  # type: ignore[assignment]
    runs: PositiveInt = None  # type: ignore[assignment]
    threads: PositiveInt = None  # type: ignore[assignment]


class Calibration(_Open):
    """bench.compare.summarize_calibration's dict: its median (the yardstick) required; a field that is present
    may not be null."""

    median_ms: Positive
    before_ms: Positive = None  # type: ignore[assignment]
    after_ms: Positive = None  # type: ignore[assignment]
    spread: Positive = None  # type: ignore[assignment]
    size: PositiveInt = None  # type: ignore[assignment]
    count: PositiveInt = None  # type: ignore[assignment]
    threads: PositiveInt = None  # type: ignore[assignment]
    samples: PositiveInt = None  # type: ignore[assignment]
    peak: Peak = None  # type: ignore[assignment]


class ToleranceValues(BaseModel):
    """A baseline's stored `tolerance` (or given ones): the known fields typed and bounded, others ignored; a
    field that is present may not be null. bench.check.Tolerance holds the defaults."""

    model_config = ConfigDict(extra="ignore", allow_inf_nan=False)
    accuracy_points: Annotated[StrictFloat, Field(ge=0, le=100)] = None  # type: ignore[assignment]
    timing: Annotated[StrictFloat, Field(ge=0, le=1000)] = None  # type: ignore[assignment]
    normalize: StrictBool = None  # type: ignore[assignment]
    allow_missing: StrictBool = None  # type: ignore[assignment]
    busy_spread: Annotated[StrictFloat, Field(ge=1, le=1000)] = None  # type: ignore[assignment]
    int8_agreement_pct: Annotated[StrictFloat, Field(ge=0, le=100)] = None  # type: ignore[assignment]


# --- a ValidationError as one line -------------------------------------------------------------------------------

EXPECTED = {
    "int_type": "an integer",
    "float_type": "a finite number",
    "finite_number": "a finite number",
    "string_type": "a string",
    "bool_type": "true or false",
    "dict_type": "an object",
    "model_type": "an object",
    "dataclass_type": "an object",
    "list_type": "a list",
    "tuple_type": "a list",
    "string_too_short": "a non-empty string",
}
BOUNDS = {"greater_than_equal": ">=", "greater_than": ">", "less_than_equal": "<=", "less_than": "<"}
UNKNOWN = ("extra_forbidden", "unexpected_keyword_argument")  # the latter: a dataclass (a Record)


def _path(loc: tuple) -> str:
    return "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc)


def _describe(err: dict) -> str:
    """`is <the value>, expected <what>` for one pydantic error."""
    v, kind, ctx = err["input"], err["type"], err.get("ctx") or {}
    if kind == "bench":
        return err["msg"]
    if bad_number(v):
        return f"is {_kind(v)}, expected a finite number"
    if kind in BOUNDS:
        bound = next(iter(ctx.values()))
        return f"is {v!r}, expected {BOUNDS[kind]} {bound:g}"
    if kind == "literal_error":
        shown = repr(v) if isinstance(v, str) else _kind(v)
        return f"is {shown}, expected {ctx.get('expected')}"
    return f"is {_kind(v)}, expected {EXPECTED.get(kind, err['msg'].lower())}"


def bench_error(e: ValidationError, where: str, file: bool = False) -> BenchError:
    """The first problem of `e` as one BenchError line naming `where` and the field: `where: a.b[1].c ...` for a
    file (`file`), `where.c ...` for an object inside one. Unknown fields come first, then missing ones."""
    errors = sorted(e.errors(include_url=False), key=lambda x: (x["type"] not in UNKNOWN, x["type"] != "missing"))
    first = errors[0]

    def place(loc: tuple) -> str:
        path = _path(loc)
        return f"{where}: {path[1:]}" if file and path else f"{where}{path}"

    if first["type"] in UNKNOWN or first["type"] == "missing":
        parent = first["loc"][:-1]
        names = [str(x["loc"][-1]) for x in errors if x["type"] == first["type"] and x["loc"][:-1] == parent]
        if first["type"] == "missing":
            return BenchError(
                f"{place(parent)} lacks {', '.join(names)}: the file is incomplete or from an older "
                "bench; re-run `bench compare`"
            )
        noun = "record " if first["type"] == "unexpected_keyword_argument" else ""
        return BenchError(f"{place(parent)}: unknown {noun}fields {sorted(names)}: written by a newer bench?")
    suffix = (first.get("ctx") or {}).get("suffix", "")
    return BenchError(f"{place(first['loc'])}{suffix} {_describe(first)}: {FIX}")


def validated(model: Any, value: Any, where: str, file: bool = False) -> Any:
    """`value` validated by `model` (a pydantic model class or TypeAdapter); a failure is bench_error's line."""
    try:
        return model.validate_python(value) if hasattr(model, "validate_python") else model.model_validate(value)
    except ValidationError as e:
        raise bench_error(e, where, file) from None
