"""`bench mlperf`: MLPerf LoadGen's scenarios over our engines (a thin wrapper over bench.mlperf.runner).

Its choices and table are defined here: the options it shares with other commands come from bench.cli.options.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.markup import escape
from rich.table import Table

from bench.cli.console import error, info, out, print_table, warn
from bench.cli.options import (
    CPUS,
    DEFAULT_DATASET,
    MAX_BATCH,
    DataRoot,
    Dataset,
    Duration,
    InputSize,
    Labels,
    Onnx,
    ResultsDir,
    TargetLatency,
    choices,
    finite,
)
from engines import formats
from mldrnet.errors import BenchError
from mldrnet.io.layout import results_root

SCENARIO_NAMES = ("single-stream", "multi-stream", "server", "offline")  # bench.mlperf.settings.SCENARIOS
Scenario = choices("Scenario", (*SCENARIO_NAMES, "all"))
Mode = choices("Mode", ("performance", "accuracy"))
MlperfPrecision = choices("MlperfPrecision", formats.precisions())


def mlperf(
    model: Annotated[
        str | None, typer.Argument(help="A trained zoo model (see `bench models`); omit with --onnx.")
    ] = None,
    engine: Annotated[
        list[str] | None,
        typer.Option(
            "--engine",
            "-e",
            help="Engine variant(s), as compare names them: torch-cpu, ort-cpu, ov-cpu, torch-cuda, ort-cuda, "
            "ort-trt, trt (repeat or comma-separate) (default: ort-cpu).",
        ),
    ] = None,
    precision: Annotated[
        MlperfPrecision, typer.Option("--precision", "-p", help="Precision of the variant (fp32, int8, fp16, ...).")
    ] = MlperfPrecision("fp32"),
    scenario: Annotated[Scenario, typer.Option("--scenario", "-s", help="LoadGen scenario, or all four.")] = Scenario(
        "all"
    ),
    mode: Annotated[
        Mode,
        typer.Option("--mode", help="performance (LoadGen times it) or accuracy (top-1 from LoadGen's accuracy log)."),
    ] = Mode("performance"),
    target_latency_ms: TargetLatency = 100.0,
    duration: Duration = 10.0,
    official: Annotated[
        bool,
        typer.Option(
            "--official",
            help="The run rules: LoadGen's mlperf.conf for resnet50 (600 s per run, its minimum counts and seeds); "
            "overrides --duration.",
        ),
    ] = False,
    server_qps: Annotated[
        float | None,
        typer.Option(
            "--server-qps",
            callback=finite(0.0, 1e7, above=True),
            help="Server: one run at this offered load instead of searching for the highest VALID one.",
        ),
    ] = None,
    search_steps: Annotated[
        int, typer.Option("--search-steps", min=1, max=50, help="Server search: LoadGen runs at most.")
    ] = 8,
    min_queries: Annotated[
        int | None,
        typer.Option(
            "--min-queries",
            min=1,
            max=10_000_000,
            help="Quick runs: LoadGen's minimum query count (default: what early stopping needs to call a run "
            "VALID: 64 single-stream, 662 multi-stream, 459 server).",
        ),
    ] = None,
    max_batch: Annotated[
        int | None,
        typer.Option(
            "--max-batch",
            min=1,
            max=MAX_BATCH,
            help="Largest engine call of offline (default: 8, GPU 32) and server (default: the largest whose "
            "median call takes at most a quarter of the deadline).",
        ),
    ] = None,
    size: Annotated[
        int | None,
        typer.Option(
            "--size", min=16, max=4096, help="Serving size in px (exported at it) (default: the trained crop)."
        ),
    ] = None,
    max_images: Annotated[
        int | None, typer.Option("--max-images", min=1, max=10_000_000, help="A seeded subset of the test split.")
    ] = None,
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, max=CPUS, help="CPU threads (default: all usable cores).")
    ] = None,
    onnx: Onnx = None,
    input_size: InputSize = None,
    labels: Labels = None,
    null_sut: Annotated[
        bool, typer.Option("--null-sut", help="A SUT that does nothing: LoadGen's and the harness's own cost.")
    ] = False,
    dataset: Dataset = DEFAULT_DATASET,
    data_root: DataRoot = None,
    results_dir: ResultsDir = None,
    out_dir: Annotated[
        Path | None, typer.Option("--out", "-o", help="Output folder (default: results/mlperf/<timestamp>).")
    ] = None,
) -> None:
    """MLPerf LoadGen scenarios over an engine: LoadGen's own figures, VALID or INVALID, logs under results/mlperf."""
    from bench.mlperf.record import new_run_dir
    from bench.mlperf.runner import MlperfConfig, run_mlperf
    from mldrnet.io.atomic import writable_dir

    if (model is None) == (onnx is None):
        raise BenchError("name a trained MODEL or give --onnx FILE (one of the two)")
    names = tuple(v.strip() for item in engine or ["ort-cpu"] for v in item.split(",") if v.strip())
    config = MlperfConfig(
        model=model,
        engines=names,
        precision=precision.value,
        scenarios=SCENARIO_NAMES if scenario.value == "all" else (scenario.value,),
        mode=mode.value,
        target_latency_ms=target_latency_ms,
        duration_s=600.0 if official else duration,
        official=official,
        dataset=dataset,
        data_root=str(data_root) if data_root else None,
        threads=threads,
        size=size,
        max_batch=max_batch,
        max_images=max_images,
        server_qps=server_qps,
        search_steps=search_steps,
        min_queries=min_queries,
        onnx=str(onnx) if onnx else None,
        input_size=input_size,
        labels=str(labels) if labels else None,
        null_sut=null_sut,
    )
    root = results_root(results_dir)
    target = writable_dir(out_dir or new_run_dir(root), "mlperf output folder")
    if official:
        warn("--official: 600 s per LoadGen run (the server search: per step); this takes a while")
    else:
        info(f"quick runs of {duration:g} s (not official MLPerf results: --official for the run rules)")
    run = run_mlperf(config, root, target, progress=info)
    print_table(mlperf_table(run.records, group=out.is_terminal))
    for line in mlperf_notes(run.records):
        warn(line)
    for r in run.records:
        if r.accuracy_note and r.accuracy_pct is None:
            warn(f"{r.model} {r.variant}: {r.accuracy_note}")
    ok = sum(r.ok for r in run.records)
    info(f"{ok}/{len(run.records)} rows ran; wrote {len(run.files)} files and LoadGen's logs to {target}")
    if ok == 0:
        error("no row ran")
        raise typer.Exit(1)


def _figure(r) -> str | None:
    """LoadGen's figure with its unit: ms for the stream scenarios, samples/s (/s) for server and offline."""
    if r.figure is None:
        return None
    return f"{r.figure:.2f} ms" if r.scenario in ("single-stream", "multi-stream") else f"{r.figure:.1f}/s"


def _verdict(r) -> str:
    """LoadGen's verdict, or "error" where the row did not run (the error is a line under the table)."""
    if not r.ok:
        return "[red]error[/]"
    return "-" if r.validity is None else ("[green]VALID[/]" if r.validity == "VALID" else "[red]INVALID[/]")


def _mlperf_columns():
    from bench.cli.tables import Column

    return (
        Column("model", "model", lambda r: r.model, justify="left"),
        Column("engine", "engine", lambda r: r.variant, justify="left"),
        Column("precision", "prec", lambda r: r.precision, justify="left"),
        Column("scenario", "scenario", lambda r: r.scenario, justify="left"),
        Column("result", "result", _verdict, justify="left", markup=True),
        Column("figure", "figure", _figure),
        Column("qps", "QPS", lambda r: r.offered_qps if r.scenario == "server" else None, "{:.3g}"),
        Column("p99", "p99 ms", lambda r: r.p99_ms, "{:.2f}"),
        Column("n", "n", lambda r: r.latency_count),
        Column("top-1", "top-1 %", lambda r: r.accuracy_pct, "{:.2f}"),
    )


def mlperf_table(records, group: bool = False) -> Table:
    """One line per LoadGen record, in 80 columns: LoadGen's figure for the scenario, its verdict, the p99 with the
    count behind it; the errors and LoadGen's reasons for INVALID are lines below it (`mlperf_notes`), the
    resources are in mlperf.json."""
    from bench.cli.tables import LEAN, chosen_columns, fill_rows

    quick = not any(r.official for r in records)
    models = {r.model for r in records}
    one = group and len(models) == 1  # a terminal: the model in the title, its column's width for the others (a log
    # or a file names it on every row, as the other tables do)
    table = Table(
        title="MLPerf LoadGen: LoadGen's own figures"
        + (f" for {escape(next(iter(models)))}" if one else "")
        + " (timed: the model on preprocessed tensors in memory)",
        caption=escape(
            ("quick runs, not official MLPerf results" if quick else "official run rules (LoadGen's mlperf.conf)")
            + "; figure: single-stream p90, multi-stream p99 of 8-image queries, server and offline samples/s; "
            "QPS = the load offered to the server; n = the queries (offline: samples) behind the percentiles; "
            "resources per row in mlperf.json"
        ),
        **LEAN,
    )
    names = (
        *(() if one else ("model",)),
        "engine",
        "precision",
        "scenario",
        "result",
        "figure",
        "qps",
        "p99",
        "n",
        "top-1",
    )
    columns = chosen_columns(_mlperf_columns(), names, list(records), None, False)
    fill_rows(table, columns, list(records), {}, group=False)
    return table


def mlperf_notes(records) -> list[str]:
    """What the table leaves out: each error, and LoadGen's reasons for an INVALID run."""
    notes = []
    for r in records:
        name = f"{r.model} {r.variant} {r.precision} {r.scenario}"
        if not r.ok:
            notes.append(f"{name}: {r.error}")
        elif r.validity == "INVALID" and r.invalid_reasons:
            notes.append(f"{name}: INVALID: {'; '.join(r.invalid_reasons[:2])}")
    return notes


def register(app: typer.Typer) -> None:
    app.command("mlperf")(mlperf)
