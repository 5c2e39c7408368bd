"""The CI gate: a compare run against a committed baseline, row by row, never a silent pass.

Rows match on (model, engine variant, precision, batch). Per matched row:
- accuracy: top-1 and top-1 agreement with PyTorch may drop at most `accuracy_points` percentage points;
- speed: median latency may grow, and throughput shrink, by at most the fraction `timing`. Timings from two
  machines are only comparable after dividing by each run's calibration (a fixed matrix product timed in the
  same run, see bench.timing.calibrate): latency in "calibration units", throughput in images per unit;
- a row that was ok in the baseline and is an error now is a regression; a baseline row absent from the run
  is one too (unless allowed), and so is a run with no matching rows, another dataset, or no calibration.
- two ok rows compare only when they were measured alike: the same number of test images, the same accuracy
  size (input_size) and timing size (timing_size, bench compare --size). A row where one differs, or is missing
  on either side, is "incomparable": it fails, and is never also reported as a regression;
- the calibration must record its matrix size on both sides and its spread in the run: a missing field fails
  the check (it never skips the busy-machine or the same-yardstick check).
int8 rows of the run (ok ones, matched or new) whose top-1 agreement with PyTorch fp32 is below
`int8_agreement_pct` (default 99 %), or was not measured, fail whatever the baseline holds. A matched row without
an agreement on either side (no PyTorch reference ran) is "unchecked", never a silent pass.
Faster or more accurate is never a failure; `--update` records the run as the new baseline (refused for a run
with error rows unless `allow_error_rows`, and always for a run without an ok row).
Both files are read by bench.records' strict reader (bounded in size and depth, no key twice in an object, typed
fields, finite numbers, no duplicated row key: each failure one line naming the file and the field), the stored
tolerance by `validate_tolerance`. `latest` (bench.records.latest_run) is the run recorded newest, by the time in
its records.json, not by its folder's name; the CLI prints which run it checked. "Checked" means
compared to a number: a matched ok row lacking its accuracy or timings is "unchecked" (a failure), and a check
in which no row was compared fails.
"""

from __future__ import annotations

import json
import math
import re
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from bench.record_schema import ToleranceValues, validated
from bench.records import CompareRun, Record, load_run, read_json
from mldrnet.errors import BenchError
from mldrnet.io.atomic import atomic_write_text


@dataclass(frozen=True)
class Tolerance:
    accuracy_points: float = 2.0  # percentage points of top-1 / agreement
    timing: float = 0.5  # relative: 0.5 = fail when 1.5x slower (after normalization)
    normalize: bool = True  # divide timings by each run's calibration (off: same machine only)
    allow_missing: bool = False  # baseline rows absent from the run are not failures
    busy_spread: float = 1.5  # a run whose calibration varied more than this (max / min) ran on a busy machine
    int8_agreement_pct: float = 99.0  # an int8 row's top-1 agreement with PyTorch fp32 below this fails

    def __post_init__(self) -> None:
        validate_tolerance(asdict(self), "the tolerance")

    def to_dict(self) -> dict:
        return asdict(self)


def validate_tolerance(values: object, where: str) -> dict:
    """The known tolerance fields of `values` (a baseline's stored `tolerance`, or given ones), each of its type
    and finite within its range (bench.record_schema.ToleranceValues), else a BenchError naming `where` and the
    field. Unknown keys are ignored."""
    return validated(ToleranceValues, values, where).model_dump(exclude_unset=True)


# verdicts that fail the gate: worse than the baseline, absent, not compared to a number, or not comparable at all
# (another number of test images, another size: reported as such, never also as a regression)
FAILING = ("regression", "missing", "unchecked", "incomparable")


@dataclass(frozen=True)
class RowCheck:
    key: tuple[str, str, str, int]
    verdict: str  # ok | regression | missing | unchecked | incomparable | new | error (also in baseline) | fixed
    reasons: tuple[str, ...]
    accuracy: tuple[float | None, float | None] = (None, None)  # baseline, current (%)
    agreement: tuple[float | None, float | None] = (None, None)
    latency_ratio: float | None = None  # current / baseline median latency (normalized); > 1 = slower
    throughput_ratio: float | None = None  # current / baseline images/s (normalized); < 1 = slower
    noisy: bool = False
    compared: bool = False  # accuracy, latency and throughput were each compared to a number

    @property
    def failed(self) -> bool:
        return self.verdict in FAILING


@dataclass(frozen=True)
class CheckResult:
    rows: tuple[RowCheck, ...]
    problems: tuple[str, ...]  # run-level failures
    notes: tuple[str, ...]  # run-level remarks that do not fail
    tolerance: Tolerance
    scale: dict  # device -> current calibration / baseline calibration (how much slower this machine is)

    @property
    def matched(self) -> int:
        return sum(r.verdict not in ("missing", "new") for r in self.rows)

    @property
    def checked(self) -> int:
        """Rows compared to numbers (accuracy, latency, throughput): what a pass means."""
        return sum(r.compared for r in self.rows)

    @property
    def failures(self) -> int:
        return sum(r.failed for r in self.rows) + len(self.problems)

    @property
    def passed(self) -> bool:
        return self.failures == 0


def _num(v: object, positive: bool = False) -> float | None:
    """A finite number (> 0 when `positive`), else None: a value that cannot be compared."""
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) or (positive and v <= 0):
        return None
    return float(v)


def _cal(run: CompareRun, device: str) -> float | None:
    return _cal_field(run, device, "median_ms")


def _cal_field(run: CompareRun, device: str, name: str) -> float | None:
    """A positive finite number of the run's calibration on `device`, else None (absent or unusable)."""
    c = run.calibration.get(device)
    return _num(c.get(name), positive=True) if isinstance(c, dict) else None


def _compare_row(base: Record, cur: Record, tol: Tolerance, scale: dict) -> RowCheck:
    if not base.ok:
        if not cur.ok:
            return RowCheck(cur.key, "error (also in baseline)", (cur.error or "",))
        return RowCheck(cur.key, "fixed", ())
    if not cur.ok:
        return RowCheck(cur.key, "regression", (f"error: {cur.error}",))
    apart = incomparable(base, cur)
    if apart:  # not a regression, not a pass: the two rows measured different things
        return RowCheck(
            cur.key,
            "incomparable",
            tuple(apart),
            (base.accuracy_pct, cur.accuracy_pct),
            (base.agreement_pct, cur.agreement_pct),
        )
    # "checked" means compared to a number: a value that is missing or not a finite number fails the row
    # (the strict reader refuses such files; this guards runs built in memory). Agreement with PyTorch fp32 is
    # compared like accuracy: null on either side (no reference row ran) is "unchecked", never a silent pass.
    needed = {"accuracy_pct": False, "agreement_pct": False, "lat_p50_ms": True, "throughput_ips": True}
    absent = [
        f"{name} in the {side}"
        for name, positive in needed.items()
        for side, row in (("baseline", base), ("run", cur))
        if _num(getattr(row, name), positive) is None
    ]
    s = _num(scale.get(cur.device, 1.0) if tol.normalize else 1.0, positive=True)
    if absent or s is None:
        return RowCheck(
            cur.key,
            "unchecked",
            (f"nothing to compare: no usable {', '.join(absent) or 'calibration'}",),
            (base.accuracy_pct, cur.accuracy_pct),
            (base.agreement_pct, cur.agreement_pct),
        )
    reasons = []
    for name, b, c in (
        ("top-1", base.accuracy_pct, cur.accuracy_pct),
        ("agreement", base.agreement_pct, cur.agreement_pct),
    ):
        b, c = _num(b), _num(c)
        if b is not None and c is not None and b - c > tol.accuracy_points:
            reasons.append(f"{name} {b:.2f}% -> {c:.2f}% (-{b - c:.2f} points > {tol.accuracy_points:g})")
    lat = cur.lat_p50_ms / s / base.lat_p50_ms
    ips = cur.throughput_ips * s / base.throughput_ips
    if not lat <= 1 + tol.timing:  # written so that a NaN fails
        reasons.append(f"median latency x{lat:.2f} (> x{1 + tol.timing:.2f})")
    if not 1 / ips <= 1 + tol.timing:
        reasons.append(f"throughput x{ips:.2f} (< x{1 / (1 + tol.timing):.2f})")
    return RowCheck(
        cur.key,
        "regression" if reasons else "ok",
        tuple(reasons),
        (base.accuracy_pct, cur.accuracy_pct),
        (base.agreement_pct, cur.agreement_pct),
        lat,
        ips,
        bool(cur.noisy),
        compared=True,
    )


# fields two ok rows must share for their numbers to compare: (field, what a difference means and what to do)
SAME = (
    (
        "test_images",
        "accuracies on other images do not compare: run compare on the whole test split (no --max-test-images) or "
        "refresh the baseline with --update",
    ),
    ("input_size", "the model was trained at another crop: refresh the baseline with --update"),
    ("timing_size", "timings at two sizes do not compare: run compare with --size {b}"),
)


def incomparable(base: Record, cur: Record) -> list[str]:
    """Why two ok rows cannot be compared (another number of test images, another accuracy or timing size, or
    such a field missing on either side: a missing field fails, it never skips the check); empty if they can."""
    reasons = []
    for name, todo in SAME:
        b, c = getattr(base, name), getattr(cur, name)
        if b is None or c is None:
            side = "baseline" if b is None else "run"
            reasons.append(
                f"no {name} in the {side}: cannot tell whether the rows compare (re-run compare, refresh "
                "the baseline with --update)"
            )
        elif b != c:
            reasons.append(f"{name} {c} in the run, {b} in the baseline: {todo.format(b=b)}")
    return reasons


def _int8_gate(check: RowCheck, cur: Record, tol: Tolerance) -> RowCheck:
    """An ok int8 row of the run fails below the agreement limit (or without an agreement to judge), whatever the
    baseline says; other rows pass through unchanged."""
    if not (cur.ok and cur.precision == "int8"):
        return check
    agree = _num(cur.agreement_pct)
    if agree is not None and agree >= tol.int8_agreement_pct:
        return check
    why = (
        "int8 row without a top-1 agreement with fp32: the int8 gate cannot judge it"
        if agree is None
        else f"int8 top-1 agreement with fp32 {agree:.2f}% < {tol.int8_agreement_pct:g}%"
    )
    reasons = check.reasons if check.verdict != "new" else ()
    verdict = check.verdict if check.failed else "regression"
    return replace(check, verdict=verdict, reasons=(*reasons, why), agreement=(check.agreement[0], cur.agreement_pct))


def _environment_problems(current: CompareRun, baseline: CompareRun) -> tuple[list[str], list[str]]:
    """(problems, notes) of the two runs as wholes: recorded dataset and threads, unique row keys, same data."""
    problems, notes = [], []
    b_env, c_env = baseline.environment, current.environment
    for side, env in (("baseline", b_env), ("run", c_env)):
        for name in ("dataset", "threads"):
            if env.get(name) is None:
                problems.append(f"the {side} does not record its {name}: runs cannot be matched (re-run compare)")
    for side, run in (("baseline", baseline), ("run", current)):
        keys = [r.key for r in run.records]
        if len(set(keys)) != len(keys):
            problems.append(f"the {side} has a row key (model, engine, precision, batch) more than once")
    if b_env.get("dataset") != c_env.get("dataset"):
        problems.append(f"dataset differs: baseline {b_env.get('dataset')!r}, run {c_env.get('dataset')!r}")
    if set(b_env.get("split_hashes", [])) != set(c_env.get("split_hashes", [])):
        notes.append("the test split differs from the baseline's (another data version): accuracies compare loosely")
    if b_env.get("threads") != c_env.get("threads"):
        # timings at other thread counts are not comparable; nor do they normalize (a matrix product scales with
        # threads far better than a small model at batch 1)
        problems.append(
            f"thread count differs: baseline {b_env.get('threads')}, run {c_env.get('threads')}: "
            f"run compare with --threads {b_env.get('threads')}"
        )
    return problems, notes


def _scales(current: CompareRun, baseline: CompareRun, tol: Tolerance, base_rows: dict) -> tuple[dict, list[str]]:
    """(device -> current / baseline calibration, problems): the normalization, and a busy machine refused."""
    scale: dict = {}
    problems: list[str] = []
    if not tol.normalize:
        return scale, problems
    for device in sorted({r.device for r in current.records if r.key in base_rows and r.ok}):
        b, c = _cal(baseline, device), _cal(current, device)
        sizes = [_cal_field(run, device, "size") for run in (baseline, current)]
        if b is None or c is None:
            problems.append(
                f"no {device} calibration in the {'baseline' if b is None else 'run'}: "
                "timings cannot be normalized (use --no-normalize on one machine)"
            )
        elif None in sizes:
            side = "baseline" if sizes[0] is None else "run"
            problems.append(
                f"the {side}'s {device} calibration records no matrix size: its timings cannot be normalized "
                "(re-run compare, refresh the baseline with --update)"
            )
        elif sizes[0] != sizes[1]:
            problems.append(
                f"the {device} calibration changed ({sizes[0]} vs {sizes[1]}): refresh the baseline with --update"
            )
        else:
            scale[device] = c / b
        spread = _cal_field(current, device, "spread")
        if spread is None and c is not None:
            problems.append(
                f"the run's {device} calibration records no spread: whether the machine was busy cannot be told; "
                "re-run compare"
            )
        elif spread is not None and not spread <= tol.busy_spread:
            # under contention, models with many small parallel ops slow down far more than one matrix
            # product: no normalization rescues such timings, and a flaky gate is worse than a loud one
            problems.append(
                f"the machine was busy during the run: its {device} calibration varied x{spread:.1f} "
                f"(limit x{tol.busy_spread:g}); rerun compare on a quiet machine"
            )
    return scale, problems


def compare_runs(current: CompareRun, baseline: CompareRun, tol: Tolerance = Tolerance()) -> CheckResult:
    problems, notes = _environment_problems(current, baseline)
    base_rows = {r.key: r for r in baseline.records}
    cur_rows = {r.key: r for r in current.records}
    scale, busy = _scales(current, baseline, tol, base_rows)
    problems += busy
    rows = []
    for key, base in base_rows.items():
        if key in cur_rows:
            rows.append(_compare_row(base, cur_rows[key], tol, scale))
        elif base.ok and not tol.allow_missing:
            rows.append(RowCheck(key, "missing", ("in the baseline, not in this run",)))
    rows += [RowCheck(key, "new", ("not in the baseline",)) for key in cur_rows if key not in base_rows]
    if not any(r.verdict not in ("missing", "new") for r in rows):
        problems.append("no rows match the baseline (model, engine, precision, batch): nothing was checked")
    elif not any(r.compared for r in rows):
        problems.append(
            "no row was compared to a number (every matching row is an error or lacks its values): nothing was checked"
        )
    rows = [_int8_gate(r, cur_rows[r.key], tol) if r.key in cur_rows else r for r in rows]  # after the match count
    return CheckResult(tuple(rows), tuple(problems), tuple(notes), tol, scale)


def load_baseline(path: Path) -> tuple[CompareRun, dict]:
    """The baseline run and the tolerances stored with it (empty if none), from one read of the file."""
    if not path.is_file():
        raise BenchError(
            f"baseline {path} does not exist: create it with `bench check RESULTS --baseline {path} --update`"
        )
    data = read_json(path)
    run = CompareRun.from_dict(data, str(path), unique_keys=True)  # a corrupt or foreign file is a BenchError there
    if data.get("tolerance") is None:  # absent: the defaults (a baseline written by hand or an older bench)
        return run, {}
    return run, validate_tolerance(data["tolerance"], f"{path}: tolerance")


def resolve_tolerance(stored: dict, **given) -> Tolerance:
    """Command-line values win over the baseline's stored ones, which win over the defaults."""
    values = validate_tolerance(stored, "the stored tolerance")
    values.update(validate_tolerance({k: v for k, v in given.items() if v is not None}, "the given tolerance"))
    return Tolerance(**values)


def check(results: Path, baseline: Path, **tolerance) -> CheckResult:
    """The gate: the run in `results` against the baseline file, with its stored tolerances unless overridden."""
    current = load_run(results, unique_keys=True)
    base, stored = load_baseline(baseline)
    return compare_runs(current, base, resolve_tolerance(stored, **tolerance))


@dataclass(frozen=True)
class BaselineUpdate:
    path: Path
    run: CompareRun  # what was written
    tolerance: Tolerance
    against_old: CheckResult | None  # the run checked against the baseline it replaces, if there was one

    @property
    def error_rows(self) -> int:
        return sum(not r.ok for r in self.run.records)


def update_baseline(results: Path, baseline: Path, allow_error_rows: bool = False, **tolerance) -> BaselineUpdate:
    """Write the run in `results` as the new baseline; the tolerances not given are kept from the old one.
    A run with error rows is refused unless `allow_error_rows` (those rows would never be checked), and a run
    without one ok row always (nothing could ever be checked against it)."""
    current = load_run(results, unique_keys=True)
    refuse_unfit_baseline(current, str(results), allow_error_rows)
    old, stored = load_baseline(baseline) if baseline.is_file() else (None, {})
    tol = resolve_tolerance(stored, **tolerance)
    against_old = compare_runs(current, old, tol) if old is not None else None
    write_baseline(current, baseline, tol, allow_error_rows)
    return BaselineUpdate(baseline, current, tol, against_old)


def refuse_unfit_baseline(run: CompareRun, source: str, allow_error_rows: bool = False) -> None:
    errors = [r for r in run.records if not r.ok]
    if len(errors) == len(run.records):
        raise BenchError(
            f"{source} has no ok row ({len(errors)} error rows): a baseline from it would check nothing; "
            "fix the errors and re-run `bench compare`"
        )
    if errors and not allow_error_rows:
        first = errors[0]
        raise BenchError(
            f"{source} has {len(errors)} error row(s) (e.g. {' '.join(map(str, first.key))}: "
            f"{first.error}): "
            "a baseline would never check them; fix them and re-run `bench compare`, or pass "
            "--allow-error-rows"
        )


def write_baseline(run: CompareRun | Path, baseline: Path, tol: Tolerance, allow_error_rows: bool = False) -> Path:
    """The run's records, environment and calibration (a CompareRun, or a compare folder / records file), plus
    the tolerances to check against them."""
    if not isinstance(run, CompareRun):
        run = load_run(run, unique_keys=True)
    refuse_unfit_baseline(run, "the run", allow_error_rows)
    data = {**run.to_dict(), "tolerance": tol.to_dict()}
    atomic_write_text(baseline, json.dumps(data, indent=1, allow_nan=False) + "\n")
    return baseline


_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f-\x9f\ud800-\udfff\ufffe\uffff]")


def _xml(text: str, limit: int = 2000) -> str:
    """`text` with every character XML 1.0 cannot hold (control characters, lone surrogates) as \\xNN, cut."""
    return _NOT_XML.sub(lambda m: f"\\x{ord(m.group()):02x}", text[:limit])


def junit_xml(result: CheckResult, run: str, baseline: str) -> str:
    """The check as JUnit XML (what CI systems display): one testcase per row (a failure for a failing verdict,
    skipped for a row without a counterpart that does not fail: new, or an error in both), one per run-level
    problem, all in one testsuite named after the run checked."""
    from xml.etree import ElementTree as ET

    cases = []
    for r in result.rows:
        model, variant, precision, batch = r.key
        case = ET.Element(
            "testcase", classname=_xml(f"bench.check.{model}"), name=_xml(f"{variant} {precision} batch {batch}")
        )
        if r.failed:
            ET.SubElement(case, "failure", message=_xml(f"{r.verdict}: {'; '.join(r.reasons)}"), type=r.verdict)
        elif r.verdict not in ("ok", "fixed"):
            ET.SubElement(case, "skipped", message=_xml(f"{r.verdict}: {'; '.join(r.reasons)}"))
        cases.append(case)
    for i, problem in enumerate(result.problems):
        case = ET.Element("testcase", classname="bench.check.run", name=f"run-level check {i + 1}")
        ET.SubElement(case, "failure", message=_xml(problem), type="run")
        cases.append(case)
    suite = ET.Element(
        "testsuite",
        name=_xml(f"bench check {run} against {baseline}"),
        tests=str(len(cases)),
        failures=str(sum(case.find("failure") is not None for case in cases)),
        errors="0",
        skipped=str(sum(case.find("skipped") is not None for case in cases)),
    )
    suite.extend(cases)
    root = ET.Element("testsuites")
    root.append(suite)
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def failure_lines(result: CheckResult) -> list[str]:
    """One line per failing row, for logs where a table is hard to read."""
    return [f"{' '.join(map(str, r.key))}: {r.verdict}: {'; '.join(r.reasons)}" for r in result.rows if r.failed]
