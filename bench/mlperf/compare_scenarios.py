"""`bench compare --scenarios`: the scenarios table's figures from MLPerf LoadGen instead of our timer. After
compare's rows, every (model, engine variant, precision) that ran is driven through LoadGen's scenarios by
`run_mlperf`, at the run's serving size and threads, into `<compare run>/mlperf/` (mlperf.json and LoadGen's
logs, the same files `bench mlperf` writes); `scenario_figures` then gives one entry per row with LoadGen's own
figure for each scenario, its verdict and its sample count.

Without `--scenarios` compare's scenarios table stays a view of its batch rows (bench.report.scenarios) and says
so in its title: LoadGen's runs take `--duration` seconds per scenario and row, too long for the CI gate, which
keeps the stable batch rows.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from pathlib import Path

from bench.mlperf.record import MlperfRecord
from bench.mlperf.settings import SCENARIOS, MlperfConfig
from bench.records import CompareRun, Record
from mldrnet.errors import BenchError, one_line

MLPERF_SUBDIR = "mlperf"


def parse_scenarios(text: str) -> tuple[str, ...]:
    """`--scenarios single-stream,offline` (or `all`) -> the scenario names, in LoadGen's order; else one line."""
    names = [s.strip() for s in text.split(",") if s.strip()]
    if names == ["all"]:
        return tuple(SCENARIOS)
    unknown = [n for n in names if n not in SCENARIOS]
    if unknown or not names:
        raise BenchError(f"--scenarios {text!r}: use 'all' or a comma list of {', '.join(SCENARIOS)}")
    return tuple(s for s in SCENARIOS if s in names)


def _groups(records: list[Record], foreign: str | None) -> dict[tuple[str, str], list[str]]:
    """(model, precision) -> the variants whose rows ran, in the run's order: one run_mlperf call each (it takes one
    model, one precision and several engines). Left out: the end-to-end rows (LoadGen times the model on the
    tensors of its sample library: the model rows of the same engine are the ones it stands for) and the --onnx
    file's rows (model `foreign`), which get a run of their own."""
    groups: dict[tuple[str, str], list[str]] = {}
    for r in records:
        if r.ok and r.timed != "end to end" and r.model != foreign:
            variants = groups.setdefault((r.model, r.precision), [])
            if r.variant not in variants:
                variants.append(r.variant)
    return groups


def _serving_size(records: list[Record], model: str) -> int | None:
    """The size compare timed the model at when it differs from the trained one (--size), else None (trained)."""
    for r in records:
        if r.model == model and r.timing_size is not None and r.timing_size != r.input_size:
            return r.timing_size
    return None


def run_loadgen_scenarios(
    run: CompareRun,
    out_dir: Path,
    results_root: Path,
    scenarios: tuple[str, ...],
    base: MlperfConfig,
    progress: Callable[[str], None] = lambda s: None,
) -> list[MlperfRecord]:
    """LoadGen's `scenarios` for every (model, variant, precision) of `run` that ran, written under
    `<out_dir>/mlperf/<model>-<precision>/` (out_dir: the compare run's folder). `base` carries the duration,
    deadline and query settings; the dataset, data root, threads and serving size come from the compare run, so
    that both measure the same thing."""
    from bench.mlperf.runner import run_mlperf

    env, c = run.environment, run.config
    common = dict(
        scenarios=scenarios,
        mode="performance",
        dataset=str(env.get("dataset") or base.dataset),
        data_root=c.get("data_root") or base.data_root,
        threads=env.get("threads") or base.threads,
    )
    foreign = Path(c["onnx"]).name if c.get("onnx") else None  # compare names an --onnx row by its file name
    runs = [
        (model, precision, variants, replace(base, model=model, engines=tuple(variants), precision=precision,
                                             size=_serving_size(list(run.records), model), **common))
        for (model, precision), variants in _groups(list(run.records), foreign).items()
    ]  # fmt: skip
    if foreign is not None and any(r.ok and r.model == foreign and r.timed != "end to end" for r in run.records):
        onnx = dict(onnx=c["onnx"], input_size=c.get("onnx_input_size"), labels=c.get("onnx_labels"))
        runs.append((foreign, "fp32", ["ort-cpu"], replace(base, model=None, precision="fp32", **onnx, **common)))
    records: list[MlperfRecord] = []
    for model, precision, variants, config in runs:
        progress(f"LoadGen: {model} {precision} on {', '.join(variants)}: {', '.join(scenarios)}")
        out = Path(out_dir) / MLPERF_SUBDIR / f"{model}-{precision}"
        try:
            got = run_mlperf(config, results_root, out, progress).records
        except Exception as e:  # one model's failure is its rows' error, never the loss of the measured compare
            where = {(r.model, r.variant): (r.engine, r.device) for r in run.records}
            got = [
                MlperfRecord(model, v, *where.get((model, v), ("", "")), precision, s, error=one_line(e))
                for v in variants
                for s in scenarios
            ]
        if model == foreign:  # as compare names it: the file's name, on ort-cpu
            got = [replace(r, model=foreign, variant="ort-cpu") for r in got]
        records += got
    return records


def scenario_figures(records: list[MlperfRecord]) -> list[dict]:
    """One entry per (model, variant, precision), in the records' order: for each scenario LoadGen ran, its figure
    (single-stream: p90 ms; multi-stream: p99 ms of 8-image queries; server: completed samples/s at the deadline;
    offline: samples/s), the p99 and the count behind it, and VALID/INVALID with LoadGen's first reason."""
    rows: dict[tuple[str, str, str], dict] = {}
    for r in records:
        key = (r.model, r.variant, r.precision)
        row = rows.setdefault(key, {"model": r.model, "variant": r.variant, "precision": r.precision, "error": None})
        if not r.ok:
            row["error"] = row["error"] or r.error
            continue
        row[r.scenario] = {
            "figure_name": r.figure_name,
            "figure": r.figure,
            "p90_ms": r.p90_ms,
            "p99_ms": r.p99_ms,
            "count": r.latency_count,
            "validity": r.validity,
            "reason": r.invalid_reasons[0] if r.invalid_reasons else None,
            "offered_qps": r.offered_qps,
            "target_latency_ms": r.target_latency_ms,
            "log_dir": r.log_dir,
        }
    return list(rows.values())
