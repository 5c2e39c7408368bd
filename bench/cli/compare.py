"""`bench compare` (the benchmark matrix, its table and files) and `bench check` (the CI regression gate): thin
wrappers over bench.compare and bench.check; the tables are bench.cli.tables'. How a run is shown (--columns,
--wide, --json; show_run) is shared with `bench report` (bench.cli.report), which prints a saved run again."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Annotated

import typer

from bench.cli.console import err, error, escape, info, out, print_table, warn
from bench.cli.options import (
    CPUS,
    DEFAULT_DATASET,
    MAX_BATCH,
    MAX_CROP,
    MIN_CROP,
    DataRoot,
    Dataset,
    Duration,
    Engines,
    InputSize,
    Labels,
    Onnx,
    Precisions,
    ResultsDir,
    TargetLatency,
    finite,
    out_path_option,
)
from mldrnet.errors import BenchError
from mldrnet.io.layout import results_root


def _split(values: list[str] | None) -> tuple[str, ...] | None:
    """Accept both `--models a --models b` and `--models a,b`."""
    if not values:
        return None
    return tuple(v.strip() for item in values for v in item.split(",") if v.strip())


def _batch_sizes(values: list[str] | None) -> list[str] | None:
    """--batch-sizes: integers 1..MAX_BATCH, checked at parse time (before any model loads)."""
    for item in _split(values) or ():
        try:
            b = int(item)
        except ValueError:
            raise typer.BadParameter(f"{item!r} is not an integer (e.g. 1,8)") from None
        if not 1 <= b <= MAX_BATCH:
            raise typer.BadParameter(f"{b} is out of range (1..{MAX_BATCH})")
    return values


# Rough peak host memory of one timed row beyond its input batch (batch x 3 x size x size x 4 bytes), as a
# multiple of it: the CNN's activations at inference. Measured on the CPU (peak RSS growth, batch 8, 160 px):
# vgg19 ~64x its input, resnet101 ~18x, mldrnet ~2x; the zoo's worst is used (GPU rows hold them on the GPU:
# an overestimate there, harmless on hosts with the memory GPUs come with).
ACTIVATION_FACTOR = 64


def free_memory_bytes() -> int | None:
    """Memory the kernel reports available now (None where it does not say)."""
    try:
        return os.sysconf("SC_AVPHYS_PAGES") * os.sysconf("SC_PAGE_SIZE")
    except (ValueError, OSError, AttributeError):
        return None


def timing_memory_estimate(batch: int, size: int) -> int:
    """Bytes a timed row at `batch` images of `size` px needs, roughly: its input batch and activations."""
    return batch * 3 * size * size * 4 * (1 + ACTIVATION_FACTOR)


def check_timing_memory(batch: int, size: int, free: int | None = None) -> None:
    """Refuse a timing batch whose estimate exceeds the free memory, in one line with both numbers."""
    free = free_memory_bytes() if free is None else free
    need = timing_memory_estimate(batch, size)
    if free is not None and need > free:
        raise BenchError(
            f"batch {batch} at {size} px needs about {need / 2**30:.1f} GiB (input and activations), "
            f"only {free / 2**30:.1f} GiB free: time smaller --batch-sizes"
        )


def _memory_checked_eval_set(batches: tuple[int, ...] | None, size: int | None = None):
    """compare's eval-set hook, checking the largest timing batch at the timing size (`size`, else the model's
    input size) before any row allocates it (a refusal is that model's error rows, with the estimate)."""
    from bench.compare import CPU_BATCHES, GPU_BATCHES, Hooks
    from bench.variants import cuda_available

    default = Hooks().eval_set
    largest = max(batches or (GPU_BATCHES if cuda_available() else CPU_BATCHES))

    def eval_set(ckpt, config, root):
        ev = default(ckpt, config, root)
        check_timing_memory(largest, max(size or 0, ev.size))
        return ev

    return eval_set


# compare's options (the shared ones are bench.cli.options')
Models = Annotated[
    list[str] | None,
    typer.Option("--models", "-m", help="Models (comma-separated or repeated); default: every trained one."),
]
BatchSizes = Annotated[
    list[str] | None,
    typer.Option(
        "--batch-sizes",
        "-b",
        callback=_batch_sizes,
        help=f"Batch sizes to time, e.g. 1,8 (each 1..{MAX_BATCH}; default: 1 and a throughput batch).",
    ),
]
OutDir = Annotated[
    Path | None,
    typer.Option("--out", "-o", callback=out_path_option, help="Output folder (default results/compare/<timestamp>)."),
]
Threads = Annotated[
    int | None,
    typer.Option(
        "--threads", min=1, max=CPUS, help="CPU threads, pinned for every engine (default: all usable cores)."
    ),
]
ServingSize = Annotated[
    int | None,
    typer.Option(
        "--size",
        min=MIN_CROP,
        max=MAX_CROP,
        help="Serving size in px: export and time every engine at this size "
        "(accuracy stays at the size each model was trained at) "
        "[default: the trained size].",
    ),
]
TimeBudget = Annotated[
    float,
    typer.Option("--time-budget", callback=finite(0.0, 3600.0), help="Seconds of timed calls per row (after warm-up)."),
]
WarmupTime = Annotated[
    float, typer.Option("--warmup-time", callback=finite(0.0, 3600.0), help="Minimum warm-up seconds per row.")
]
WarmupIters = Annotated[int, typer.Option("--warmup-iters", min=0, max=10000, help="Minimum warm-up calls per row.")]
Iters = Annotated[int, typer.Option("--iters", min=1, help="Minimum timed calls per row, even past the time budget.")]
MaxTestImages = Annotated[
    int | None,
    typer.Option(
        "--max-test-images", min=1, max=10_000_000, help="Evaluate accuracy on a seeded subset of the test split."
    ),
]
EvalBatchSize = Annotated[
    int, typer.Option("--eval-batch-size", min=1, max=MAX_BATCH, help="Batch size of the accuracy pass.")
]
Plots = Annotated[bool, typer.Option("--plots/--no-plots", help="Write the PNG plots.")]
FailFast = Annotated[bool, typer.Option("--fail-fast", help="Stop at the first failing row instead of recording it.")]
EndToEnd = Annotated[
    bool,
    typer.Option(
        "--end-to-end/--model-only",
        help="Also time each engine end to end (rows <engine>-e2e): JPEG decode, resize, crop and normalise, then "
        "the model, at batch 1 and the largest batch.",
    ),
]
Scenarios = Annotated[
    str | None,
    typer.Option(
        "--scenarios",
        help="Run MLPerf LoadGen's scenarios (single-stream, multi-stream, server, offline, or all; "
        "comma-separated) over every row that ran, and show its figures instead of our timer's.",
    ),
]
# how a run is shown (compare and `bench report`)
Columns = Annotated[
    list[str] | None,
    typer.Option(
        "--columns",
        metavar="NAMES",
        help="The tables' columns by name, comma-separated or repeated, e.g. model,engine,p50,img/s (the model "
        "always first; an unknown name lists the valid ones). Default: model, engine, precision, batch, top-1, "
        "p50, p99, img/s, status.",
    ),
]
Wide = Annotated[bool, typer.Option("--wide", help="Every column (a wide terminal, a log) instead of the compact set.")]
AsJson = Annotated[
    bool,
    typer.Option("--json", help="Print one JSON document on stdout instead of the tables (messages stay on stderr)."),
]


def table_choice(columns: list[str] | None, wide: bool) -> tuple[str, ...] | None:
    """--columns, checked (before any work: a typo costs no run), or None for the compact set or --wide."""
    from bench.cli.tables import check_columns

    names = check_columns(_split(columns))
    if names and wide:
        raise BenchError("--columns and --wide both choose the columns: give one of them")
    return names


def loadgen_figures(folder: Path | None) -> list[dict]:
    """The LoadGen figures of `compare --scenarios` saved in the run's folder (none when it was not asked for)."""
    if folder is None:
        return []
    from bench.mlperf.compare_scenarios import MLPERF_SUBDIR, scenario_figures
    from bench.mlperf.record import JSON_NAME, read_records

    files = sorted((Path(folder) / MLPERF_SUBDIR).glob(f"*/{JSON_NAME}"))
    return scenario_figures([r for f in files for r in read_records(f)])


def compare_tables(
    run,
    columns: tuple[str, ...] | None = None,
    wide: bool = False,
    group: bool = False,
    folder: Path | None = None,
) -> list:
    """The records table and the scenarios table of `run`, as compare prints them: LoadGen's figures where
    `compare --scenarios` saved them in `folder`, else our timer's view of the batch rows."""
    from bench.cli.tables import loadgen_table, records_table, scenarios_table

    figures = loadgen_figures(folder)
    return [
        records_table(run, columns=columns, wide=wide, group=group),
        loadgen_table(figures, columns=columns, wide=wide, group=group)
        if figures
        else scenarios_table(run, columns=columns, wide=wide, group=group),
    ]


def compare_markdown(
    run, columns: tuple[str, ...] | None = None, wide: bool = False, folder: Path | None = None
) -> str:
    """The tables in markdown, every row with its model's name, then the warnings (each error row's message among
    them): table.md holds the compact tables; `bench report --format md` prints it again."""
    from bench.cli.tables import markdown, md_text
    from bench.report import warnings_for

    tables = [markdown(t) for t in compare_tables(run, columns, wide, folder=folder)]
    warnings = [f"- {md_text(line)}" for line in warnings_for(run)]
    return "\n".join(tables + (["**Warnings**\n\n" + "\n".join(warnings) + "\n"] if warnings else []))


def show_run(run, folder: Path, columns: tuple[str, ...] | None = None, wide: bool = False) -> None:
    """What compare prints after its run, and `bench report` of a saved one: the tables (a terminal groups a model's
    rows under one name; a log names the model on every row), MldrNet against each model, the warnings."""
    from bench.compare import PREDICTIONS_DIR
    from bench.report import warnings_for

    for table in compare_tables(run, columns, wide, group=out.is_terminal, folder=folder):
        print_table(table)
    _print_paired(run, folder / PREDICTIONS_DIR)
    for line in warnings_for(run):
        warn(line)


def print_json(doc: dict) -> None:
    """One JSON document on stdout, nothing else there (NaN is null; control characters escaped by json)."""
    print(json.dumps(doc, indent=1, allow_nan=False))


def compare(
    models: Models = None,
    engines: Engines = None,
    precisions: Precisions = None,
    batch_sizes: BatchSizes = None,
    dataset: Dataset = DEFAULT_DATASET,
    data_root: DataRoot = None,
    results_dir: ResultsDir = None,
    out_dir: OutDir = None,
    threads: Threads = None,
    size: ServingSize = None,
    time_budget: TimeBudget = 1.0,
    warmup_time: WarmupTime = 0.2,
    warmup_iters: WarmupIters = 3,
    iters: Iters = 5,
    max_test_images: MaxTestImages = None,
    eval_batch_size: EvalBatchSize = 32,
    plots: Plots = True,
    fail_fast: FailFast = False,
    onnx: Onnx = None,
    input_size: InputSize = None,
    labels: Labels = None,
    end_to_end: EndToEnd = False,
    scenarios: Scenarios = None,
    duration: Duration = 10.0,
    target_latency_ms: TargetLatency = 100.0,
    columns: Columns = None,
    wide: Wide = False,
    as_json: AsJson = False,
) -> None:
    """Accuracy x engine x precision x batch for trained models: a table, records.json/.csv, table.md and plots."""
    from bench.compare import PREDICTIONS_DIR, CompareConfig, Hooks, check_output_dir, output_lock, run_compare
    from bench.mlperf.compare_scenarios import parse_scenarios
    from bench.report import TABLE_NAME, compare_document, save_all, warnings_for
    from bench.timing import TimingConfig
    from mldrnet.io.layout import new_compare_dir

    names = table_choice(columns, wide)
    loadgen = parse_scenarios(scenarios) if scenarios else None  # checked before any work
    try:
        batches = tuple(int(b) for b in _split(batch_sizes)) if batch_sizes else None
    except ValueError as e:
        raise BenchError(f"--batch-sizes takes integers like 1,8: {e}") from e
    if iters > TimingConfig.max_iters:
        raise BenchError(f"--iters {iters} is over the {TimingConfig.max_iters} timed calls a row may take")
    config = CompareConfig(
        dataset=dataset,
        data_root=str(data_root) if data_root else None,
        models=_split(models),
        engines=_split(engines),
        precisions=_split(precisions),
        batch_sizes=batches,
        eval_batch_size=eval_batch_size,
        max_test_images=max_test_images,
        threads=threads,
        size=size,
        fail_fast=fail_fast,
        timing=TimingConfig(warmup_iters=warmup_iters, warmup_s=warmup_time, min_iters=iters, budget_s=time_budget),
        end_to_end=end_to_end,
        onnx=str(onnx) if onnx else None,
        onnx_input_size=input_size,
        onnx_labels=str(labels) if labels else None,
    )
    root = results_root(results_dir)
    target = out_dir or new_compare_dir(root)
    existed = target.exists()
    check_output_dir(target)  # before any measuring: a read-only or misplaced output loses no work
    try:
        with output_lock(target):
            hooks = Hooks(eval_set=_memory_checked_eval_set(batches, size))
            run = _measure(run_compare, config, root, hooks, target / PREDICTIONS_DIR)
            if loadgen:
                _loadgen_scenarios(run, target, root, loadgen, duration, target_latency_ms)
            written = save_all(run, target, plots, texts={TABLE_NAME: compare_markdown(run, folder=target)})
    except BaseException:  # a refused or interrupted compare leaves no empty output folder behind
        if not existed:
            remove_if_empty(target)
        raise
    if as_json:
        print_json(compare_document(run, target, written))
        for line in warnings_for(run):  # in the document too; on stderr as without --json
            warn(line)
    else:
        show_run(run, target, names, wide)
    ok = sum(r.ok for r in run.records)
    info(f"{ok}/{len(run.records)} rows ok; wrote {len(written)} files to {target}")
    if ok == 0:
        error("no row succeeded")
        raise typer.Exit(1)


def _measure(run_compare, config, root: Path, hooks, predictions_dir: Path):
    """run_compare with a progress line per step and "row n/N, ~T left" (a live line on a terminal)."""
    from bench.cli.progress import RowProgress

    with RowProgress() as progress:
        return run_compare(
            config, root, hooks, progress=progress, on_row=progress.rows, predictions_dir=predictions_dir
        )


def _loadgen_scenarios(run, target: Path, root: Path, scenarios: tuple[str, ...], duration: float, deadline: float):
    """--scenarios: LoadGen over every row that ran, its logs and mlperf.json under <target>/mlperf/."""
    from bench.mlperf.compare_scenarios import run_loadgen_scenarios
    from bench.mlperf.settings import MlperfConfig

    info(f"LoadGen: {', '.join(scenarios)}, {duration:g} s each (quick runs, not official MLPerf results)")
    base = MlperfConfig(duration_s=duration, target_latency_ms=deadline)
    run_loadgen_scenarios(run, target, root, scenarios, base, progress=info)


def remove_if_empty(folder: Path) -> None:
    """Remove `folder` when it holds nothing but empty folders (and no file but a lock left behind)."""
    from mldrnet.io.layout import LOCK_FILE

    try:
        for parent, dirs, files in os.walk(folder, topdown=False):
            if any(name != LOCK_FILE or Path(parent) != folder for name in files):
                return
            for name in files:
                os.unlink(os.path.join(parent, name))
            for name in dirs:
                os.rmdir(os.path.join(parent, name))
        folder.rmdir()
    except OSError:
        pass  # not ours to clean, or already gone


def _print_paired(run, folder: Path) -> None:
    """MldrNet against each other model on the same test images (from the accuracy rows' predictions)."""
    from bench.cli.tables import paired_table
    from bench.paired import compare_family

    rows, used = compare_family(folder, sorted({r.model for r in run.records if r.accuracy_pct is not None}))
    if rows:
        print_table(paired_table(rows, "MldrNet against each model on the same test images", f"predictions: {used}"))


# check's options
Results = Annotated[
    Path,
    typer.Argument(help="A compare output folder (or its records.json); `latest` = the newest under results/compare."),
]
Baseline = Annotated[Path, typer.Option("--baseline", help="Baseline JSON (e.g. results/baselines/ci-synth-cpu.json).")]
TimingTolerance = Annotated[
    float | None,
    typer.Option(
        "--tolerance",
        callback=finite(0.0, 1000.0),
        help="Allowed slowdown as a fraction (0.5 = 1.5x) of normalized "
        "median latency and throughput "
        "[default: the baseline's, else 0.5].",
    ),
]
AccuracyTolerance = Annotated[
    float | None,
    typer.Option(
        "--accuracy-tolerance",
        callback=finite(0.0, 100.0),
        help="Allowed drop of top-1 and agreement in percentage points [default: the baseline's, else 2].",
    ),
]
Normalize = Annotated[
    bool | None,
    typer.Option("--normalize/--no-normalize", help="Divide timings by each run's calibration [default: on]."),
]
BusyLimit = Annotated[
    float | None,
    typer.Option(
        "--busy-limit",
        callback=finite(1.0, 1000.0),
        help="Fail when the run's calibration varied more than this factor "
        "(a busy machine) [default: the baseline's, else 1.5].",
    ),
]
AllowMissing = Annotated[
    bool | None,
    typer.Option("--allow-missing/--no-allow-missing", help="Baseline rows absent from the run do not fail."),
]
Int8Agreement = Annotated[
    float | None,
    typer.Option(
        "--int8-agreement",
        callback=finite(0.0, 100.0),
        help="Fail an int8 row of the run whose top-1 agreement with "
        "PyTorch fp32 is below this percentage, baseline or not "
        "[default: the baseline's, else 99].",
    ),
]
Update = Annotated[
    bool, typer.Option("--update", help="Write RESULTS as the new baseline (with these tolerances) instead of failing.")
]
AllowErrorRows = Annotated[
    bool,
    typer.Option("--allow-error-rows", help="With --update: accept a run with error rows (they are never checked)."),
]
Junit = Annotated[
    Path | None,
    typer.Option("--junit", help="Also write the check as JUnit XML to this file (one test case per row)."),
]


def check(
    results: Results,
    baseline: Baseline,
    tolerance: TimingTolerance = None,
    accuracy_tolerance: AccuracyTolerance = None,
    normalize: Normalize = None,
    busy_limit: BusyLimit = None,
    allow_missing: AllowMissing = None,
    int8_agreement: Int8Agreement = None,
    update: Update = False,
    allow_error_rows: AllowErrorRows = False,
    results_dir: ResultsDir = None,
    junit: Junit = None,
    as_json: AsJson = False,
) -> None:
    """CI gate: compare a compare-run with a baseline row by row; exit 1 on a regression, a missing baseline or no match."""  # noqa: E501 (one line: the command list shows it)
    from bench.check import check as run_check
    from bench.check import failure_lines, junit_xml
    from bench.cli.tables import check_table
    from bench.records import latest_run, recorded_time
    from bench.report import check_document

    if str(results) == "latest":
        results, when = latest_run(results_root(results_dir))
        info(f"latest compare run (newest recorded time, {when.isoformat()}): {results}")
    else:
        file = results / "records.json" if results.is_dir() else results
        when = recorded_time(file) if file.is_file() else None
        info(f"checking {results}" + (f" (recorded {when.isoformat()})" if when else ""))
    given = dict(
        timing=tolerance,
        accuracy_points=accuracy_tolerance,
        normalize=normalize,
        allow_missing=allow_missing,
        busy_spread=busy_limit,
        int8_agreement_pct=int8_agreement,
    )
    if update:
        _update(results, baseline, allow_error_rows, as_json, given)
        return
    result = run_check(results, baseline, **given)
    if junit is not None:
        from mldrnet.io.atomic import atomic_write_text

        atomic_write_text(junit, junit_xml(result, str(results), str(baseline)))
        info(f"wrote JUnit XML {junit}")
    if as_json:
        print_json(check_document(result, str(results), str(baseline)))
    else:
        print_table(check_table(result))
    for note in result.notes:
        warn(note)
    for line in list(result.problems) + failure_lines(result):  # run-level first: they explain the rows
        error(line)
    if not result.passed:
        error(f"{result.failures} failure(s) against {baseline}")
        raise typer.Exit(1)
    err.print(
        f"[green]passed[/]: {escape(f'{result.checked} rows checked against {baseline} (run {results})')}",
        highlight=False,
    )


def _update(results: Path, baseline: Path, allow_error_rows: bool, as_json: bool, given: dict) -> None:
    """check --update: write the baseline; show the run against the baseline it replaces, if there was one."""
    from bench.check import update_baseline
    from bench.cli.tables import check_table
    from bench.report import check_document

    done = update_baseline(results, baseline, allow_error_rows=allow_error_rows, **given)
    old = done.against_old
    if as_json:
        against = None if old is None else check_document(old, str(results), str(baseline))
        print_json({"baseline": str(baseline), "updated": True, "rows": len(done.run.records), "against_old": against})
    elif old is not None:
        print_table(check_table(old))
    if done.error_rows:
        warn("the new baseline has error rows: they will not be checked")
    info(f"wrote baseline {baseline} ({len(done.run.records)} rows)")


def register(app) -> None:
    app.command("compare")(compare)
    app.command("check")(check)
