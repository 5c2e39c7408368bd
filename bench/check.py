"""The CI gate: a compare run against a committed baseline, row by row, never a silent pass.

Rows match on (model, engine variant, precision, batch). Per matched row:
- accuracy: top-1 and top-1 agreement with PyTorch may drop at most `accuracy_points` percentage points;
- speed: median latency may grow, and throughput shrink, by at most the fraction `timing`. Timings from two
  machines are only comparable after dividing by each run's calibration (a fixed matrix product timed in the
  same run, see bench.timing.calibrate): latency in "calibration units", throughput in images per unit;
- a row that was ok in the baseline and is an error now is a regression; a baseline row absent from the run
  is one too (unless allowed), and so is a run with no matching rows, another dataset, or no calibration.
Faster or more accurate is never a failure; `--update` records the run as the new baseline.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass
from pathlib import Path

from bench.records import CompareRun, Record, load_run, read_json
from mldrnet.atomic import atomic_write_text
from mldrnet.errors import BenchError


@dataclass(frozen=True)
class Tolerance:
    accuracy_points: float = 2.0  # percentage points of top-1 / agreement
    timing: float = 0.5  # relative: 0.5 = fail when 1.5x slower (after normalization)
    normalize: bool = True  # divide timings by each run's calibration (off: same machine only)
    allow_missing: bool = False  # baseline rows absent from the run are not failures
    busy_spread: float = 1.5  # a run whose calibration varied more than this (max / min) ran on a busy machine

    def to_dict(self) -> dict:
        return asdict(self)


@dataclass(frozen=True)
class RowCheck:
    key: tuple[str, str, str, int]
    verdict: str  # ok | regression | missing | new | error (also in baseline) | fixed
    reasons: tuple[str, ...]
    accuracy: tuple[float | None, float | None] = (None, None)  # baseline, current (%)
    agreement: tuple[float | None, float | None] = (None, None)
    latency_ratio: float | None = None  # current / baseline median latency (normalized); > 1 = slower
    throughput_ratio: float | None = None  # current / baseline images/s (normalized); < 1 = slower
    noisy: bool = False

    @property
    def failed(self) -> bool:
        return self.verdict in ("regression", "missing")


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
    def failures(self) -> int:
        return sum(r.failed for r in self.rows) + len(self.problems)

    @property
    def passed(self) -> bool:
        return self.failures == 0


def _cal(run: CompareRun, device: str) -> float | None:
    c = run.calibration.get(device)
    return float(c["median_ms"]) if c and c.get("median_ms") else None


def _compare_row(base: Record, cur: Record, tol: Tolerance, scale: dict) -> RowCheck:
    if not base.ok:
        return RowCheck(cur.key, "error (also in baseline)" if not cur.ok else "fixed", (cur.error or "",) if not cur.ok else ())
    if not cur.ok:
        return RowCheck(cur.key, "regression", (f"error: {cur.error}",))
    reasons = []
    for name, b, c in (("top-1", base.accuracy_pct, cur.accuracy_pct), ("agreement", base.agreement_pct, cur.agreement_pct)):
        if b is not None and c is not None and b - c > tol.accuracy_points:
            reasons.append(f"{name} {b:.2f}% -> {c:.2f}% (-{b - c:.2f} points > {tol.accuracy_points:g})")
    s = scale.get(cur.device, 1.0) if tol.normalize else 1.0
    lat = cur.lat_p50_ms / s / base.lat_p50_ms if base.lat_p50_ms and cur.lat_p50_ms else None
    ips = cur.throughput_ips * s / base.throughput_ips if base.throughput_ips and cur.throughput_ips else None
    if lat is not None and lat > 1 + tol.timing:
        reasons.append(f"median latency x{lat:.2f} (> x{1 + tol.timing:.2f})")
    if ips is not None and 1 / ips > 1 + tol.timing:
        reasons.append(f"throughput x{ips:.2f} (< x{1 / (1 + tol.timing):.2f})")
    return RowCheck(cur.key, "regression" if reasons else "ok", tuple(reasons), (base.accuracy_pct, cur.accuracy_pct),
                    (base.agreement_pct, cur.agreement_pct), lat, ips, bool(cur.noisy))


def compare_runs(current: CompareRun, baseline: CompareRun, tol: Tolerance = Tolerance()) -> CheckResult:
    problems, notes = [], []
    b_env, c_env = baseline.environment, current.environment
    if b_env.get("dataset") != c_env.get("dataset"):
        problems.append(f"dataset differs: baseline {b_env.get('dataset')!r}, run {c_env.get('dataset')!r}")
    if set(b_env.get("split_hashes", [])) != set(c_env.get("split_hashes", [])):
        notes.append("the test split differs from the baseline's (another data version): accuracies compare loosely")
    if b_env.get("threads") != c_env.get("threads"):
        # timings at other thread counts are not comparable; nor do they normalize (a matrix product scales with
        # threads far better than a small model at batch 1)
        problems.append(f"thread count differs: baseline {b_env.get('threads')}, run {c_env.get('threads')}: "
                        f"run compare with --threads {b_env.get('threads')}")
    base_rows = {r.key: r for r in baseline.records}
    cur_rows = {r.key: r for r in current.records}
    scale: dict = {}
    if tol.normalize:
        for device in sorted({r.device for r in current.records if r.key in base_rows and r.ok}):
            b, c = _cal(baseline, device), _cal(current, device)
            sizes = {run.calibration.get(device, {}).get("size") for run in (baseline, current)}
            if b is None or c is None:
                problems.append(f"no {device} calibration in the {'baseline' if b is None else 'run'}: "
                                "timings cannot be normalized (use --no-normalize on one machine)")
            elif len(sizes) > 1:
                problems.append(f"the {device} calibration changed ({' vs '.join(map(str, sizes))}): refresh the "
                                "baseline with --update")
            else:
                scale[device] = c / b
            spread = current.calibration.get(device, {}).get("spread", 1.0)
            if spread > tol.busy_spread:
                # under contention, models with many small parallel ops slow down far more than one matrix
                # product: no normalization rescues such timings, and a flaky gate is worse than a loud one
                problems.append(f"the machine was busy during the run: its {device} calibration varied x{spread:.1f} "
                                f"(limit x{tol.busy_spread:g}); rerun compare on a quiet machine")
    rows = []
    for key, base in base_rows.items():
        if key in cur_rows:
            rows.append(_compare_row(base, cur_rows[key], tol, scale))
        elif base.ok and not tol.allow_missing:
            rows.append(RowCheck(key, "missing", ("in the baseline, not in this run",)))
    rows += [RowCheck(key, "new", ("not in the baseline",)) for key in cur_rows if key not in base_rows]
    if not any(r.verdict not in ("missing", "new") for r in rows):
        problems.append("no rows match the baseline (model, engine, precision, batch): nothing was checked")
    return CheckResult(tuple(rows), tuple(problems), tuple(notes), tol, scale)


def load_baseline(path: Path) -> tuple[CompareRun, dict]:
    """The baseline run and the tolerances stored with it (empty if none), from one read of the file."""
    if not path.is_file():
        raise BenchError(f"baseline {path} does not exist: create it with `bench check RESULTS --baseline {path} --update`")
    data = read_json(path)
    run = CompareRun.from_dict(data, str(path))  # a corrupt or foreign file is a BenchError there
    return run, dict(data.get("tolerance") or {})


def resolve_tolerance(stored: dict, **given) -> Tolerance:
    """Command-line values win over the baseline's stored ones, which win over the defaults."""
    known = Tolerance.__dataclass_fields__
    values = {k: v for k, v in stored.items() if k in known}
    values.update({k: v for k, v in given.items() if v is not None})
    return Tolerance(**values)


def check(results: Path, baseline: Path, **tolerance) -> CheckResult:
    """The gate: the run in `results` against the baseline file, with its stored tolerances unless overridden."""
    current = load_run(results)
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


def update_baseline(results: Path, baseline: Path, **tolerance) -> BaselineUpdate:
    """Write the run in `results` as the new baseline; the tolerances not given are kept from the old one."""
    current = load_run(results)
    old, stored = load_baseline(baseline) if baseline.is_file() else (None, {})
    tol = resolve_tolerance(stored, **tolerance)
    against_old = compare_runs(current, old, tol) if old is not None else None
    write_baseline(current, baseline, tol)
    return BaselineUpdate(baseline, current, tol, against_old)


def write_baseline(run: CompareRun | Path, baseline: Path, tol: Tolerance) -> Path:
    """The run's records, environment and calibration (a CompareRun, or a compare folder / records file), plus
    the tolerances to check against them."""
    if not isinstance(run, CompareRun):
        run = load_run(run)
    data = {**run.to_dict(), "tolerance": tol.to_dict()}
    atomic_write_text(baseline, json.dumps(data, indent=1, allow_nan=False) + "\n")
    return baseline


def failure_lines(result: CheckResult) -> list[str]:
    """One line per failing row, for logs where a table is hard to read."""
    return [f"{' '.join(map(str, r.key))}: {r.verdict}: {'; '.join(r.reasons)}" for r in result.rows if r.failed]
