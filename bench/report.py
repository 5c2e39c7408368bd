"""What a compare run says beyond its records, as data: the warnings worth reading (errors, noisy timings, broken
parity), the two MLPerf scenarios, and the files written under results/compare/<timestamp>/. The rich tables
the CLI prints from these are bench.cli.tables' (only the CLI renders).

The two scenarios as MLPerf names them, per model x engine x precision, from our own timer over compare's batch
rows (not LoadGen's: `bench mlperf` runs LoadGen): single-stream (batch 1: p50/p90/p99 latency, with the number
of timed calls; a p99 needs at least MIN_P99_SAMPLES calls, else it is None: the largest of five numbers is no
99th percentile) and offline (the best throughput over the run's batch sizes, and that batch), saved as scenarios.json
beside records.json (a view of the records; records.json keeps its format). int8 rows whose top-1 agreement with
PyTorch fp32 is below INT8_AGREEMENT_PCT are marked (and fail `bench check`).

Beside them: table.md (the compact tables as markdown, rendered by the CLI and written by save_all), and the
documents `--json` prints (compare_document, check_document).
"""

from __future__ import annotations

import json
from pathlib import Path

from bench.check import Tolerance
from bench.plots import write_plots
from bench.records import CompareRun, Record
from mldrnet.errors import BenchError
from mldrnet.io.provenance import NEAR_CHANCE_NOTE

BUSY_SPREAD = Tolerance().busy_spread  # calibration max / min above this: the machine's load changed (the gate's limit)
PARITY_WARN_PCT = 99.0  # top-1 agreement with PyTorch below this on an fp32 row points at a broken export
INT8_AGREEMENT_PCT = Tolerance().int8_agreement_pct  # int8 rows below this are marked (the gate's default limit)
SCENARIOS_NAME = "scenarios.json"
SCENARIOS_FORMAT = "bench-scenarios/1"
SCENARIOS_SOURCE = "our timer (bench.timing) over compare's batch rows, not LoadGen"
MIN_P99_SAMPLES = 100  # fewer timed calls than this give no p99 (the count is shown instead)
TABLE_NAME = "table.md"  # the compact tables as markdown, beside records.json (the CLI renders them)


def int8_below(r: Record, limit: float = INT8_AGREEMENT_PCT) -> bool:
    """An ok int8 row whose top-1 agreement with PyTorch fp32 is below the limit (or was not measured)."""
    return r.ok and r.precision == "int8" and (r.agreement_pct is None or r.agreement_pct < limit)


def warnings_for(run: CompareRun) -> list[str]:
    """One line per thing worth a warning under compare's table: models trained near chance, error rows, noisy
    timings, fp32 rows with poor agreement with PyTorch, int8 rows below the limit, a busy machine."""
    out = [
        f"{model}: {NEAR_CHANCE_NOTE} ({how}): its accuracy says nothing about the architecture"
        for model, how in dict.fromkeys((r.model, r.how_trained) for r in run.records if r.near_chance)
    ]
    for r in run.records:
        name = f"{r.model} {r.variant} {r.precision} batch {r.batch_size}"
        if not r.ok:
            out.append(f"{name}: {r.error}")
            continue
        if r.noisy:
            out.append(f"{name}: noisy timing (CV {r.lat_cv:.2f}): the machine was busy; read the median, not the mean")
        if r.precision == "fp32" and r.agreement_pct is not None and r.agreement_pct < PARITY_WARN_PCT:
            out.append(f"{name}: only {r.agreement_pct:.1f}% top-1 agreement with PyTorch fp32")
        if int8_below(r):
            agree = "not measured" if r.agreement_pct is None else f"{r.agreement_pct:.1f}%"
            out.append(
                f"{name}: int8 top-1 agreement with fp32 {agree}, below {INT8_AGREEMENT_PCT:g}% (bench check fails it)"
            )
    for device, cal in run.calibration.items():
        if cal.get("spread", 1.0) > BUSY_SPREAD:
            out.append(
                f"the {device} calibration varied x{cal['spread']:.1f} during the run: the machine was busy, "
                "timings say more about its load than about the engines"
            )
    return out


# --- the two MLPerf scenarios: single-stream (batch 1) and offline (the best batch) ------------------------------


def scenarios(run: CompareRun) -> list[dict]:
    """Per (model, variant, precision), in the records' order: single-stream = the batch-1 row's p50/p90/p99 latency
    (None without an ok batch-1 row), offline = the highest throughput among its ok rows over the run's batch sizes
    and the batch that gave it (with that row's GFLOP/s and fraction of the peak). Accuracy and agreement are the
    group's (the same on every row of it)."""
    groups: dict[tuple[str, str, str], list[Record]] = {}
    for r in run.records:
        groups.setdefault((r.model, r.variant, r.precision), []).append(r)
    out = []
    for (model, variant, precision), rows in groups.items():
        ok = [r for r in rows if r.ok]
        single = next((r for r in ok if r.batch_size == 1 and r.lat_p50_ms is not None), None)
        timed = [r for r in ok if r.throughput_ips is not None]
        best = max(timed, key=lambda r: r.throughput_ips) if timed else None
        first = ok[0] if ok else rows[0]
        out.append(
            {
                "model": model,
                "variant": variant,
                "engine": first.engine,
                "device": first.device,
                "precision": precision,
                "input_size": first.input_size,
                "timing_size": first.timing_size,
                "accuracy_pct": first.accuracy_pct if ok else None,
                "agreement_pct": first.agreement_pct if ok else None,
                "int8_below_limit": any(int8_below(r) for r in ok),
                "near_chance": any(r.near_chance for r in rows),
                "single_stream": None
                if single is None
                else {
                    "batch_size": 1,
                    "p50_ms": single.lat_p50_ms,
                    "p90_ms": single.lat_p90_ms,
                    "p99_ms": single.lat_p99_ms if (single.lat_count or 0) >= MIN_P99_SAMPLES else None,
                    "count": single.lat_count,
                    "throughput_ips": single.throughput_ips,
                },
                "offline": None
                if best is None
                else {
                    "batch_size": best.batch_size,
                    "throughput_ips": best.throughput_ips,
                    "batches_tried": sorted(r.batch_size for r in timed),
                    "achieved_gflops": best.achieved_gflops,
                    "peak_fraction": best.peak_fraction,
                },
                "error": None if ok else rows[0].error,
            }
        )
    return out


def write_scenarios(run: CompareRun, path: Path) -> Path:
    from bench.records import _jsonable
    from mldrnet.io.atomic import atomic_write_text

    data = {
        "format": SCENARIOS_FORMAT,
        "source": SCENARIOS_SOURCE,
        "min_p99_samples": MIN_P99_SAMPLES,
        "peak_gflops": {d: run.peak_gflops(d) for d in run.calibration},
        "scenarios": _jsonable(scenarios(run)),
    }
    atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
    return path


def save_all(run: CompareRun, out_dir: Path, plots: bool = True, texts: dict[str, str] | None = None) -> list[Path]:
    """records.csv, scenarios.json, `texts` (file name -> its text: the CLI's table.md), (with `plots`) the PNG
    plots, then records.json last, under the output folder's lock; returns every path written. records.json marks
    a complete run (what `bench check` and `latest` read): a previous one there is removed first, so a run that
    fails half-way never leaves records beside files of another. A plot that fails (a name matplotlib cannot draw)
    never costs the records: they are written, then the failure is raised."""
    from bench.compare import check_output_dir, output_lock
    from bench.records import CSV_NAME, JSON_NAME, write_csv, write_json
    from mldrnet.io.atomic import atomic_write_text, os_error

    out_dir = Path(out_dir)
    check_output_dir(out_dir)
    with output_lock(out_dir):
        try:
            (out_dir / JSON_NAME).unlink(missing_ok=True)
            csv_path = write_csv(list(run.records), out_dir / CSV_NAME)
            scenarios_path = write_scenarios(run, out_dir / SCENARIOS_NAME)
            extra = [atomic_write_text(out_dir / name, text) for name, text in (texts or {}).items()]
        except OSError as e:
            raise os_error(e, e.filename or out_dir) from None
        images, plot_error = _plots(run, out_dir) if plots else ([], None)
        json_path = write_json(run, out_dir / JSON_NAME)  # last: it marks the run complete
    if plot_error is not None:  # the records are saved; the run still fails, saying what was kept
        raise BenchError(f"the plots could not be written ({plot_error}); the records are saved in {out_dir}")
    return [json_path, csv_path, scenarios_path, *extra, *images]


def _plots(run: CompareRun, out_dir: Path) -> tuple[list[Path], str | None]:
    """The plots of the run's records, their text shown safely (bench.text.plot_text: names and errors may hold
    control characters, bytes that are not UTF-8 or a `$`); a failure is returned, not raised, so that the
    records are written whatever a plot does."""
    from dataclasses import replace

    from bench.text import plot_text
    from mldrnet.errors import one_line
    from mldrnet.io.atomic import os_error

    texts = ("model", "how_trained", "error")
    safe = [
        replace(
            r,
            **{k: plot_text(getattr(r, k)) for k in texts if getattr(r, k) is not None},
            classes=None if r.classes is None else tuple(plot_text(c) for c in r.classes),
        )
        for r in run.records
    ]
    environment = {k: plot_text(v) if isinstance(v, str) else v for k, v in run.environment.items()}
    try:
        return write_plots(safe, out_dir, environment), None
    except OSError as e:  # matplotlib writes its files itself
        return [], str(os_error(e, e.filename or out_dir))
    except Exception as e:  # a plot must never cost the records
        return [], one_line(e)


# --- one JSON document per command (`--json`): the run or the check, as data ---------------------------------------


def compare_document(run: CompareRun, folder: Path | None = None, files: list[Path] | None = None) -> dict:
    """What `bench compare --json` and `bench report --format json` print: the run (records.json's content) with
    its folder, the warnings and the two scenarios; NaN is null."""
    from bench.records import _jsonable

    doc = {"run_dir": None if folder is None else str(folder), "warnings": warnings_for(run)}
    if files is not None:
        doc["files"] = [str(f) for f in files]
    return {**doc, "scenarios": _jsonable(scenarios(run)), "run": run.to_dict()}


def check_document(result, results: str, baseline: str) -> dict:
    """What `bench check --json` prints: the verdict, the run-level problems and notes, and every row's check."""
    from bench.records import _jsonable

    rows = [
        {
            "model": r.key[0],
            "variant": r.key[1],
            "precision": r.key[2],
            "batch_size": r.key[3],
            "verdict": r.verdict,
            "failed": r.failed,
            "reasons": list(r.reasons),
            "accuracy_pct": {"baseline": r.accuracy[0], "run": r.accuracy[1]},
            "agreement_pct": {"baseline": r.agreement[0], "run": r.agreement[1]},
            "latency_ratio": r.latency_ratio,
            "throughput_ratio": r.throughput_ratio,
            "noisy": r.noisy,
            "compared": r.compared,
        }
        for r in result.rows
    ]
    doc = {
        "results": results,
        "baseline": baseline,
        "passed": result.passed,
        "failures": result.failures,
        "checked": result.checked,
        "problems": list(result.problems),
        "notes": list(result.notes),
        "tolerance": result.tolerance.to_dict(),
        "scale": result.scale,
        "rows": rows,
    }
    return _jsonable(doc)
