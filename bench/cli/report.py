"""`bench report RUN_DIR`: a saved run shown again from its files, as the command that made it showed it: a compare
folder from records.json (the same tables, marks and warnings as `bench compare` printed, or markdown, CSV, JSON),
an mlperf folder from mlperf.json, a reproduce folder's report.md. `latest` is the newest compare run."""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from bench.cli.compare import AsJson, Columns, Wide, print_json, table_choice
from bench.cli.console import info, out, print_table, warn
from bench.cli.options import ResultsDir
from bench.text import shown
from mldrnet.errors import BenchError

REPRODUCE_REPORT = "report.md"  # bench.reproduce.report.write_report's files
REPRODUCE_RESULTS = "results.json"


class Format(StrEnum):
    table = "table"
    md = "md"
    csv = "csv"
    json = "json"


RunDir = Annotated[
    Path,
    typer.Argument(
        help="A saved run: a compare folder (records.json), an mlperf folder (mlperf.json) or a reproduce folder "
        "(report.md); `latest` = the newest compare run under results/compare.",
        show_default=False,
    ),
]
FormatOption = Annotated[
    Format, typer.Option("--format", "-f", help="table (as the run printed it), md (markdown), csv or json.")
]


def kind_of(path: Path) -> tuple[str, Path]:
    """("compare" | "mlperf" | "reproduce", its folder) of a saved run's folder or main file; else one line saying
    what a run folder holds."""
    from bench.mlperf.record import JSON_NAME as MLPERF_JSON
    from bench.records import JSON_NAME

    kinds = {JSON_NAME: "compare", MLPERF_JSON: "mlperf", REPRODUCE_REPORT: "reproduce", REPRODUCE_RESULTS: "reproduce"}
    if path.is_file() and path.name in kinds:
        return kinds[path.name], path.parent
    if not path.exists():
        raise BenchError(f"{path} does not exist: give a run folder (e.g. results/compare/<timestamp>) or `latest`")
    for name, kind in kinds.items():
        if path.is_dir() and (path / name).is_file():
            return kind, path
    raise BenchError(
        f"{path} is not a saved run: a compare folder holds {JSON_NAME}, an mlperf folder {MLPERF_JSON}, a "
        f"reproduce folder {REPRODUCE_REPORT}; give one of those"
    )


def report(
    run_dir: RunDir,
    fmt: FormatOption = Format.table,
    columns: Columns = None,
    wide: Wide = False,
    results_dir: ResultsDir = None,
    as_json: AsJson = False,
) -> None:
    """Print a saved compare, mlperf or reproduce run again, from its files (nothing is measured)."""
    from bench.records import latest_run
    from mldrnet.io.layout import results_root

    names = table_choice(columns, wide)
    fmt = Format.json if as_json else fmt
    if str(run_dir) == "latest":
        run_dir, when = latest_run(results_root(results_dir))
        info(f"latest compare run (newest recorded time, {when.isoformat()}): {run_dir}")
    kind, folder = kind_of(run_dir)
    if kind != "compare" and (names or wide):
        raise BenchError(f"--columns and --wide choose a compare run's columns; {folder} is a {kind} run: drop them")
    {"compare": _compare, "mlperf": _mlperf, "reproduce": _reproduce}[kind](folder, fmt, names, wide)


def _compare(folder: Path, fmt: Format, names: tuple[str, ...] | None, wide: bool) -> None:
    from bench.cli.compare import compare_markdown, show_run
    from bench.cli.tables import records_csv
    from bench.records import load_run
    from bench.report import compare_document

    run = load_run(folder)
    if fmt is Format.table:
        show_run(run, folder, names, wide)
    elif fmt is Format.md:
        sys.stdout.write(compare_markdown(run, names, wide, folder=folder))
    elif fmt is Format.csv:
        sys.stdout.write(records_csv(run, names, wide))
    else:
        print_json(compare_document(run, folder))


def _mlperf(folder: Path, fmt: Format, names: tuple[str, ...] | None, wide: bool) -> None:
    from bench.cli.mlperf import mlperf_notes, mlperf_table
    from bench.cli.tables import markdown, table_csv
    from bench.mlperf.record import JSON_NAME, MlperfRecord
    from mldrnet.io.jsonfile import read_json

    fix = "a damaged or hand-edited file: run `bench mlperf` again"
    data = read_json(folder / JSON_NAME, fix=fix)
    if fmt is Format.json:
        print_json(data)
        return
    try:
        records = [MlperfRecord(**r) for r in data["records"]]
    except (KeyError, TypeError) as e:
        raise BenchError(f"{folder / JSON_NAME} is not an mlperf result this bench reads ({e}): {fix}") from None
    table = mlperf_table(records, group=fmt is Format.table and out.is_terminal)
    if fmt is Format.table:  # as `bench mlperf` printed it: the table, then the errors and INVALID reasons
        print_table(table)
        for line in mlperf_notes(records):
            warn(line)
    else:
        sys.stdout.write(markdown(table) if fmt is Format.md else table_csv(table))


def _reproduce(folder: Path, fmt: Format, names: tuple[str, ...] | None, wide: bool) -> None:
    from mldrnet.io.jsonfile import read_json

    if fmt is Format.csv:
        raise BenchError(f"{folder} is a reproduce run: its report is markdown (--format md) or JSON (--format json)")
    if fmt is Format.json:
        print_json(read_json(folder / REPRODUCE_RESULTS, fix="run `bench reproduce` again"))
        return
    try:
        text = (folder / REPRODUCE_REPORT).read_text(encoding="utf-8", errors="backslashreplace")
    except OSError as e:
        raise BenchError(f"cannot read {folder / REPRODUCE_REPORT}: {e.strerror or e}") from None
    sys.stdout.write(shown(text))  # a name in it may hold control characters: shown, never sent


def register(app) -> None:
    app.command("report")(report)
