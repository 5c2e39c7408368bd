"""The rich tables the CLI prints, each a view of a library result: compare's records table and its MLPerf scenarios
table, then the tables of check, train, export, predict, models, data info, features and doctor. Only the CLI
renders; the library returns records and data (the compare run's warnings, scenarios and files are bench.report's).

Compare's tables fit an ordinary terminal: by default the compact columns (COMPACT: a line of about 75 characters
for the standard models), `--columns` by name, `--wide` every column; one space between columns (LEAN); every cell
that tells rows apart kept whole (only free text such as an error wraps). Off a terminal every row carries its
model's name (`grep` keeps it); a terminal groups a model's rows under one name. The best value of a column is
marked with "*" as well as colour: accuracy, agreement and throughput across all successful rows, latency only
among rows of the same batch size (a batch of 8 is slower per call than a batch of 1 by design). int8 rows whose
top-1 agreement with PyTorch fp32 is below bench.report.INT8_AGREEMENT_PCT are marked with a red ✗.

Imported inside the commands (never at `bench -h`).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from rich import box
from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
from rich.table import Table
from rich.text import Text

from bench.cli.console import escape
from bench.records import CompareRun, Record
from bench.report import INT8_AGREEMENT_PCT, MIN_P99_SAMPLES, int8_below, scenarios
from bench.text import shown
from mldrnet.errors import BenchError
from mldrnet.io.provenance import NEAR_CHANCE_NOTE

# --- compare: the records table and the scenarios table ---------------------------------------------------------

BEST = "*"  # after the best value of a column: a character, so that a log or a reader without colour sees it
NEAR_CHANCE_MARK = "~"  # after a model's name: its val accuracy stayed near chance
LEAN = dict(box=box.SIMPLE_HEAD, padding=0, show_edge=False)  # one space between columns: 80 columns hold the rows


@dataclass(frozen=True)
class Column:
    """A column of compare's tables over its rows (records, or scenario rows): the name `--columns` picks it by, its
    title, value and format, and which way is better (the best value is marked)."""

    name: str
    title: str
    get: Callable[[Any], object]
    fmt: str | Callable[[float], str] = "{}"  # a format string, or a function of the value
    better: str | None = None  # "max" | "min" | None
    per_batch: bool = False  # best value among rows of the same batch size only
    justify: str = "right"
    markup: bool = False  # get() returns rich markup (its dynamic parts escaped); else plain text, escaped here
    flag: Callable[[Any], bool] | None = None  # a value to mark in red (e.g. int8 agreement below the limit)
    empty: Callable[[Any], str] | None = None  # the cell of a row without a value, when "-" says too little
    note: Callable[[Any], str] | None = None  # text after the value (a mark explained in the caption)
    wrap: bool = False  # free text that may wrap; every other cell is kept whole (it tells the rows apart)


def ms(v: float) -> str:
    """A latency in ms with the decimals it needs, so that a 2000 ms row of a slow model does not widen its
    column past 80 terminal columns: 2 below 100 ms, 1 below 1000 ms, none above."""
    return f"{v:.2f}" if v < 100 else f"{v:.1f}" if v < 1000 else f"{v:.0f}"


def _mb(r: Record) -> float | None:
    return None if r.file_bytes is None else r.file_bytes / 1e6


def _mparams(r: Record) -> float | None:
    return None if r.params is None else r.params / 1e6


def _sizes(r: Record) -> str | None:
    """px of the accuracy / of the timing: one number when they are the same."""
    if r.input_size is None and r.timing_size is None:
        return None
    if r.timing_size is None or r.timing_size == r.input_size:
        return str(r.input_size)
    return f"{r.input_size if r.input_size is not None else '?'}/{r.timing_size}"


def _pct_of_peak(r: Record) -> float | None:
    return None if r.peak_fraction is None else 100 * r.peak_fraction


def few_calls(count: int | None) -> bool:
    """Fewer timed calls than a p99 needs (an unknown count, from an older file, is not judged)."""
    return count is not None and count < MIN_P99_SAMPLES


def _p99(r: Record) -> float | None:
    return None if few_calls(r.lat_count) else r.lat_p99_ms


def _no_p99(count: int | None) -> str:
    return f"- (n={count})" if count and few_calls(count) else "-"


INT8_LOW = "int8 ✗"  # the status of an int8 row below the agreement limit (the compact view has no agreement column)


def _status(r: Record) -> str:
    """ok, error (the message is the `error` column's, and a warning under the table) or INT8_LOW."""
    return "[red]error[/]" if not r.ok else f"[bold red]{INT8_LOW}[/]" if int8_below(r) else "ok"


def _trained(r: Record) -> str | None:
    how = escape(r.how_trained or "")
    if r.near_chance:
        return f"[yellow]{how + '; ' if how else ''}near chance[/]"
    return how or None


COLUMNS = (
    Column(
        "model", "model", lambda r: r.model, justify="left", note=lambda r: NEAR_CHANCE_MARK if r.near_chance else ""
    ),
    Column("engine", "engine", lambda r: r.variant, justify="left"),
    Column("precision", "prec", lambda r: r.precision, justify="left"),
    Column("batch", "batch", lambda r: r.batch_size),
    Column("px", "px", _sizes),
    Column("top-1", "top-1", lambda r: r.accuracy_pct, "{:.2f}", "max"),
    Column("tpr", "mean TPR %", lambda r: r.mean_tpr_pct, "{:.2f}", "max"),
    Column("paper", "paper FI %", lambda r: r.paper_fi_accuracy_pct, "{:.2f}"),
    Column("agree", "agree %", lambda r: r.agreement_pct, "{:.1f}", "max", flag=int8_below),
    Column("dlogit", "max |dlogit|", lambda r: r.max_logit_diff, "{:.1e}", "min"),
    Column("p50", "p50 ms", lambda r: r.lat_p50_ms, ms, "min", per_batch=True),
    Column("p99", "p99 ms", _p99, ms, "min", per_batch=True, empty=lambda r: _no_p99(r.lat_count)),
    Column("cv", "CV", lambda r: r.lat_cv, "{:.2f}"),
    Column("img/s", "img/s", lambda r: r.throughput_ips, "{:.1f}", "max"),
    # GPU rows only (left out on a CPU run): the input already on the device, no host copies, CUDA events
    Column("dev-p50", "dev p50 ms", lambda r: r.resident_p50_ms, ms, "min", per_batch=True),
    Column("dev-host", "dev host p50", lambda r: r.resident_host_p50_ms, ms),
    Column("dev-img/s", "dev img/s", lambda r: r.resident_ips, "{:.1f}", "max"),
    Column("params", "params M", _mparams, "{:.2f}"),
    Column("gflops", "GFLOPs", lambda r: r.gflops, "{:.2f}"),
    Column("gflop/s", "GFLOP/s", lambda r: r.achieved_gflops, "{:.1f}", "max"),
    Column("peak", "% peak", _pct_of_peak, "{:.0f}", "max"),
    Column("size-mb", "size MB", _mb, "{:.1f}", "min"),
    # what was timed, and what the row cost the machine (bench.mlperf.resources)
    Column("timed", "timed", lambda r: r.timed, justify="left"),
    Column("rss", "RSS MB", lambda r: r.window_rss_mb, "{:.0f}"),
    Column("cpu", "CPU %", lambda r: r.cpu_util_pct, "{:.0f}"),
    Column("load-s", "load s", lambda r: r.load_s, "{:.2f}"),
    Column("dev-mb", "dev MB", lambda r: r.device_used_mb, "{:.0f}"),
    Column("trained", "how trained", _trained, justify="left", markup=True, wrap=True),
    Column("note", "note", lambda r: r.accuracy_note, justify="left", wrap=True),
    Column("status", "status", _status, justify="left", markup=True),
    Column("error", "error", lambda r: r.error, justify="left", wrap=True),
)
COMPACT = ("model", "engine", "precision", "batch", "top-1", "p50", "p99", "img/s", "status")


def best_values(records: list[Record], columns=COLUMNS) -> dict[tuple[str, int | None], float]:
    """(column title, batch size or None) -> the best value of that column among successful rows, leaving out the
    values a column flags (an int8 agreement below the limit, a figure LoadGen judged INVALID)."""
    best: dict[tuple[str, int | None], Any] = {}
    for col in columns:
        if col.better is None:
            continue
        pick = max if col.better == "max" else min
        for r in records:
            v = col.get(r)
            if not r.ok or v is None or (col.flag is not None and col.flag(r)):  # a flagged value is no one's best
                continue
            key = (col.title, r.batch_size if col.per_batch else None)
            best[key] = pick(best.get(key, v), v)
    return best


def _cell(col: Column, r: Any, best: dict) -> str:
    v = col.get(r)
    note = col.note(r) if col.note else ""
    if v is None:
        text = col.empty(r) if col.empty else "-"
    elif isinstance(v, (int, float)):
        text = col.fmt(v) if callable(col.fmt) else col.fmt.format(v)
    else:  # names, paths and error messages are text: `pip install 'pkg[gpu]'` must not be read as a style tag
        text = str(v) if col.markup else escape(str(v))
    text += f" {note}" if note else ""
    if col.flag is not None and col.flag(r):
        return f"[bold red]{text} ✗[/]"
    if v is None or col.better is None:
        return text
    if r.ok and best.get((col.title, r.batch_size if col.per_batch else None)) == v:
        return f"[bold green]{text}{BEST}[/]"
    return text + " " * len(BEST)  # the digits stay aligned with the marked value's


def column_names() -> list[str]:
    """Every name `--columns` takes (the records table's and the scenarios table's)."""
    return list(dict.fromkeys(c.name for c in (*COLUMNS, *SCENARIO_COLUMNS, *LOADGEN_COLUMNS)))


def check_columns(names: tuple[str, ...] | None) -> tuple[str, ...] | None:
    """--columns as given, after refusing a name no table has (one line listing the valid ones)."""
    valid = column_names()
    unknown = [n for n in names or () if n not in valid]
    if unknown:
        raise BenchError(f"--columns: unknown column {unknown[0]!r}: choose from {', '.join(valid)}")
    return names


def chosen_columns(pool: tuple[Column, ...], compact: tuple[str, ...], rows: list, names, wide: bool) -> list[Column]:
    """The columns a table shows: `names` in their order (the model first), else every column (`wide`) or the
    compact set, less those no row has a value for."""
    if names:
        by_name = {c.name: c for c in pool}
        return [by_name[n] for n in dict.fromkeys(("model", *names)) if n in by_name]
    shown = [c for c in pool if wide or c.name in compact]

    def has_value(c: Column) -> bool:
        return c.name in ("model", "status") or any(
            c.get(r) is not None or (c.empty is not None and c.empty(r) != "-") for r in rows
        )

    return [c for c in shown if has_value(c)] or shown


def fill_rows(table: Table, columns: list[Column], rows: list, best: dict, group: bool) -> None:
    """One line per row; `group` (a terminal): a model's name on its first row only, a gap between models. Off a
    terminal every row carries its model's name, so that `grep ort-cpu` keeps it."""
    for col in columns:
        table.add_column(  # a cut cell shows "…", never silently cropped (the width tests look for it)
            col.title,
            justify=col.justify,  # type: ignore[arg-type]
            no_wrap=not col.wrap,
            overflow="fold" if col.wrap else "ellipsis",
        )
    last = None
    for r in rows:
        cells = [_cell(c, r, best) for c in columns]
        if group and r.model == last:
            cells = ["" if c.name == "model" else cell for c, cell in zip(columns, cells, strict=True)]
        elif group and last is not None:
            table.add_section()
        table.add_row(*cells)
        last = r.model


def _with_sizes(compact: tuple[str, ...], sizes: set) -> tuple[str, ...]:
    """The compact columns, with the sizes (px) when the rows were not all measured at one size, or were
    timed at another size than their accuracy: the numbers do not read right without it."""
    sizes -= {None}
    return compact if len(sizes) <= 1 and not any("/" in s for s in sizes) else (*compact, "px")


def by_model(rows: list) -> list:
    """`rows` with each model's rows together, models in the order they first appear."""
    models = list(dict.fromkeys(r.model for r in rows))
    return [r for m in models for r in rows if r.model == m]


def records_table(
    run: CompareRun,
    title: str | None = None,
    columns: tuple[str, ...] | None = None,
    wide: bool = False,
    group: bool = False,
) -> Table:
    """The records, a line each: the compact columns (COMPACT), `columns` by name, or every column (`wide`)."""
    records = by_model(list(run.records))
    chosen = chosen_columns(COLUMNS, _with_sizes(COMPACT, {_sizes(r) for r in records}), records, columns, wide)
    env = run.environment
    peak = run.peak_gflops("cpu")
    heading = (
        f"bench compare: {env.get('dataset', '?')} on {env.get('cpu', '?')}"
        + (f" + {env['gpu']}" if env.get("gpu") else "")
        + f", {env.get('threads', '?')} threads"
        + (f", fp32 matmul peak {peak:.0f} GFLOP/s" if peak else "")
    )
    table = Table(
        title=escape(title or heading), caption=_records_caption(records, chosen, bool(columns) or wide), **LEAN
    )
    fill_rows(table, chosen, records, best_values(records, chosen), group)
    return table


def _records_caption(records: list[Record], chosen: list[Column], full: bool) -> str:
    """What the marks and the shown columns mean, only those present."""
    names = {c.name for c in chosen}
    parts = [f"{BEST} = best in its column (latency: among rows of the same batch)"]
    if "top-1" in names:
        parts.append("top-1 in %")
    if names & {"p50", "p99", "dev-p50"}:
        parts.append("latency per call at the row's batch")
    if any(r.copies_included for r in records):  # GPU rows: say what each latency spans
        parts.append(
            "GPU rows: p50/p99 and img/s on the host clock with the copies in and out, one call at a time "
            "(synchronous); dev p50 = CUDA events, input already on the GPU; dev host p50 = the same calls on the "
            "host clock"
        )
    if "p99" in names and any(r.ok and few_calls(r.lat_count) for r in records):
        parts.append(f'"- (n=N)": only N timed calls, a p99 needs {MIN_P99_SAMPLES}')
    if names & {"agree", "dlogit"}:
        parts.append("agree/dlogit vs PyTorch fp32 on the CPU")
    if any(int8_below(r) for r in records):
        parts.append(f"✗ = int8 top-1 agreement with fp32 below {INT8_AGREEMENT_PCT:g}% (bench check fails it)")
    if "error" not in names and any(not r.ok for r in records):
        parts.append("each error is a warning below")
    if "model" in names and any(r.near_chance for r in records):
        parts.append(f"{NEAR_CHANCE_MARK} after a model: its val accuracy stayed near chance")
    if "px" in names:
        parts.append("px = input size (accuracy/timing where they differ)")
    timed = {r.timed for r in records if r.ok} - {None}
    if timed == {"model"}:  # what every timing spans, said in every table (also when the column is not shown)
        parts.append("timed: the model alone, on preprocessed tensors in memory")
    elif timed:
        parts.append(
            'timed: "model" = preprocessed tensors in memory; "end to end" (-e2e rows) = JPEG decode, '
            "resize, crop and normalise, then the model, on the same threads"
        )
    if names & {"rss", "cpu", "load-s", "dev-mb"}:
        parts.append("RSS = the largest resident memory during the row's timing; CPU % of the usable cores")
    if names & {"gflops", "gflop/s", "peak"}:
        parts.append(
            "GFLOPs (convolutions over real pixels, as the engines run them), GFLOP/s and % peak (of the run's "
            "fp32 matrix-product rate; int8 rows: of the int8 limit, 2x or 4x it) at the timing size"
        )
    if not full:
        parts.append("--wide: every column")
    return escape("; ".join(parts))


@dataclass(frozen=True)
class _Scenario:
    """A row of bench.report.scenarios, as the columns read it."""

    x: dict
    model: str
    ok: bool
    batch_size: None = None  # the scenarios' bests are over every row


def _single(s: _Scenario, key: str) -> Any:
    return None if s.x["single_stream"] is None else s.x["single_stream"][key]


def _offline(s: _Scenario, key: str) -> Any:
    return None if s.x["offline"] is None else s.x["offline"][key]


def _scenario_size(s: _Scenario) -> str | None:
    x = s.x
    if x["input_size"] is None and x["timing_size"] is None:
        return None
    return (
        str(x["input_size"]) if x["timing_size"] in (None, x["input_size"]) else f"{x['input_size']}/{x['timing_size']}"
    )


def _scenario_peak(s: _Scenario) -> float | None:
    fraction = _offline(s, "peak_fraction")
    return None if fraction is None else 100 * fraction


def _scenario_p99_empty(s: _Scenario) -> str:
    return _no_p99(_single(s, "count")) if s.x["single_stream"] is not None else "-"


def _scenario_status(s: _Scenario) -> str:
    return "[red]error[/]" if not s.ok else f"[bold red]{INT8_LOW}[/]" if s.x["int8_below_limit"] else "ok"


SCENARIO_COLUMNS = (
    Column(
        "model",
        "model",
        lambda s: s.model,
        justify="left",
        note=lambda s: NEAR_CHANCE_MARK if s.x.get("near_chance") else "",  # older scenarios.json lack the key
    ),
    Column("engine", "engine", lambda s: s.x["variant"], justify="left"),
    Column("precision", "prec", lambda s: s.x["precision"], justify="left"),
    Column("px", "px", _scenario_size),
    Column("top-1", "top-1", lambda s: s.x["accuracy_pct"], "{:.2f}", "max"),
    Column("agree", "agree %", lambda s: s.x["agreement_pct"], "{:.1f}", flag=lambda s: s.x["int8_below_limit"]),
    Column("p50", "p50 ms", lambda s: _single(s, "p50_ms"), ms, "min"),
    Column("p90", "p90 ms", lambda s: _single(s, "p90_ms"), ms),
    Column("p99", "p99 ms", lambda s: _single(s, "p99_ms"), ms, empty=_scenario_p99_empty),
    Column("img/s", "img/s", lambda s: _offline(s, "throughput_ips"), "{:.1f}", "max"),
    Column("batch", "batch", lambda s: _offline(s, "batch_size")),
    Column("gflop/s", "GFLOP/s", lambda s: _offline(s, "achieved_gflops"), "{:.1f}"),
    Column("peak", "% peak", _scenario_peak, "{:.0f}"),
    Column("status", "status", _scenario_status, justify="left", markup=True),
    Column("error", "error", lambda s: s.x["error"], justify="left", wrap=True),
)
SCENARIO_COMPACT = ("model", "engine", "precision", "top-1", "p50", "p99", "img/s", "batch", "status")


def scenarios_table(
    run: CompareRun, columns: tuple[str, ...] | None = None, wide: bool = False, group: bool = False
) -> Table:
    """The scenarios (see `scenarios`), a line each, the best of a column marked; columns as records_table's."""
    rows = by_model([_Scenario(x, x["model"], x["error"] is None) for x in scenarios(run)])
    calls = sorted({c for c in (_single(s, "count") for s in rows) if c})
    n = "-" if not calls else str(calls[0]) if len(calls) == 1 else f"{calls[0]}-{calls[-1]}"
    chosen = chosen_columns(
        SCENARIO_COLUMNS, _with_sizes(SCENARIO_COMPACT, {_scenario_size(s) for s in rows}), rows, columns, wide
    )
    table = Table(
        title=f"MLPerf scenarios by our timer on compare's batch rows ({n} timed calls at batch 1; not LoadGen: "
        "`bench mlperf` runs it): single-stream = batch 1, offline = best throughput over the batch sizes",
        caption=f"{BEST} = best in its column; top-1 in %; latency per image at batch 1 (n = timed calls; a p99 "
        f'needs >= {MIN_P99_SAMPLES}: "- (n=N)" below); img/s = offline: the highest images/s of the run\'s batch '
        "sizes, at the batch shown"
        + (
            f"; {INT8_LOW} = int8 agreement below {INT8_AGREEMENT_PCT:g}%"
            if any(s.x["int8_below_limit"] for s in rows)
            else ""
        )
        + (
            "; % peak of the run's fp32 matrix-product rate (int8 rows: of the int8 limit)"
            if any(c.name == "peak" for c in chosen)
            else ""
        )
        + ("; px = input size (accuracy/timing where they differ)" if any(c.name == "px" for c in chosen) else "")
        + (
            f"; {NEAR_CHANCE_MARK} after a model: its val accuracy stayed near chance"
            if any(s.x.get("near_chance") for s in rows) and any(c.name == "model" for c in chosen)
            else ""
        ),
        **LEAN,
    )
    fill_rows(table, chosen, rows, best_values(rows, chosen), group)
    return table


def _loadgen(s: _Scenario, scenario: str, key: str = "figure") -> Any:
    return (s.x.get(scenario) or {}).get(key)


def _invalid(scenario: str) -> Callable[[Any], bool]:
    return lambda s: _loadgen(s, scenario, "validity") == "INVALID"


LOADGEN_COLUMNS = (
    Column("model", "model", lambda s: s.model, justify="left"),
    Column("engine", "engine", lambda s: s.x["variant"], justify="left"),
    Column("precision", "prec", lambda s: s.x["precision"], justify="left"),
    Column("p90", "1s p90", lambda s: _loadgen(s, "single-stream"), ms, "min", flag=_invalid("single-stream")),
    Column("n", "n", lambda s: _loadgen(s, "single-stream", "count")),
    Column("p99", "8s p99", lambda s: _loadgen(s, "multi-stream"), ms, "min", flag=_invalid("multi-stream")),
    Column("server", "srv/s", lambda s: _loadgen(s, "server"), "{:.1f}", "max", flag=_invalid("server")),
    Column("img/s", "off/s", lambda s: _loadgen(s, "offline"), "{:.1f}", "max", flag=_invalid("offline")),
    Column("status", "status", lambda s: "ok" if s.ok else "[red]error[/]", justify="left", markup=True),
    Column("error", "error", lambda s: s.x["error"], justify="left", wrap=True),
)


def loadgen_table(
    figures: list[dict], columns: tuple[str, ...] | None = None, wide: bool = False, group: bool = False
) -> Table:
    """`compare --scenarios`: LoadGen's own figure per scenario and row (bench.mlperf.compare_scenarios), a line
    each, the best marked, the figure of a run LoadGen judged INVALID marked with ✗."""
    rows = by_model([_Scenario(x, x["model"], x["error"] is None) for x in figures])
    compact = tuple(c.name for c in LOADGEN_COLUMNS if c.name != "error")
    chosen = chosen_columns(LOADGEN_COLUMNS, compact, rows, columns, wide)
    deadline = {_loadgen(s, "server", "target_latency_ms") for s in rows} - {None}
    meaning = {  # the caption explains the columns shown, no others
        "p90": "1s p90 = single-stream p90 ms",
        "n": "n = single-stream queries of one image",
        "p99": "8s p99 = multi-stream p99 ms of 8-image queries",
        "server": "srv/s = server samples/s" + (f" with p99 <= {min(deadline):g} ms" if deadline else ""),
        "img/s": "off/s = offline samples/s",
    }
    table = Table(
        title="MLPerf scenarios by LoadGen (its timer and verdicts; logs in the run's mlperf/ folder)",
        caption="; ".join(
            [f"{BEST} = best in its column", "✗ = INVALID by LoadGen's rules (reasons in mlperf.json)"]
            + [meaning[c.name] for c in chosen if c.name in meaning]
        ),
        **LEAN,
    )
    fill_rows(table, chosen, rows, best_values(rows, chosen), group)
    return table


# --- the other commands' tables: each a view of its library result -------------------------------------------


def markdown(table: Table) -> str:
    """`table` as a GitHub markdown table (its title a bold line, its caption a paragraph), marks and all, no
    colour: what table.md and `bench report --format md` hold."""
    cols = table.columns
    head = "| " + " | ".join(_md(c.header) for c in cols) + " |"
    rule = "|" + "|".join("---:" if c.justify == "right" else "---" for c in cols) + "|"
    cells = [list(c.cells) for c in cols]
    rows = ["| " + " | ".join(_md(cells[i][j]) for i in range(len(cols))) + " |" for j in range(table.row_count)]
    title = [f"**{_md(table.title)}**", ""] if table.title else []
    caption = ["", _md(table.caption)] if table.caption else []
    return "\n".join([*title, head, rule, *rows, *caption]) + "\n"


def table_csv(table: Table) -> str:
    """`table`'s header and cells as CSV text, without markup (what it shows, marks included)."""
    cells = [list(c.cells) for c in table.columns]
    rows = [[plain(c.header) for c in table.columns]]
    rows += [[plain(cells[i][j]) for i in range(len(cells))] for j in range(table.row_count)]
    return _csv(rows)


def records_csv(run: CompareRun, columns: tuple[str, ...] | None = None, wide: bool = False) -> str:
    """The records' columns as chosen for the table (by name) as CSV: raw values, unrounded and unmarked, a row
    without one empty (records.csv holds every field)."""
    records = by_model(list(run.records))
    chosen = chosen_columns(COLUMNS, _with_sizes(COMPACT, {_sizes(r) for r in records}), records, columns, wide)

    def value(c: Column, r: Record) -> str:
        v = c.get(r)
        return "" if v is None else plain(v) if c.markup else shown(v)

    return _csv([[c.name for c in chosen], *([value(c, r) for c in chosen] for r in records)])


def _csv(rows: list[list[str]]) -> str:
    buf = io.StringIO()
    csv.writer(buf, lineterminator="\n").writerows(rows)
    return buf.getvalue()


def plain(cell: object) -> str:
    """A cell's text without its markup and padding."""
    return Text.from_markup(cell).plain.strip() if isinstance(cell, str) else str(cell or "")


def md_text(text: str) -> str:
    """Plain text (a name, a message) shown as written in markdown, on one line, its control characters visible."""
    return _md(escape(text))


def _md(cell: object) -> str:
    text = " ".join(plain(cell).split())
    for c in "\\`*_|<":  # markdown's own characters, shown as written
        text = text.replace(c, "\\" + c)
    return text


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _pair(values: tuple[float | None, float | None], spec: str) -> str:
    """baseline→current, or the one value where both print the same (the change is what the eye looks for)."""
    if values == (None, None):
        return "-"
    before, now = _fmt(values[0], spec), _fmt(values[1], spec)
    return now if before == now else f"{before}→{now}"


def check_table(result) -> Table:
    """bench.check.CheckResult, row by row."""
    tol = result.tolerance
    if tol.normalize:
        how = ", ".join(
            f"{d}: this machine took x{s:.2f} the baseline's calibration time" for d, s in result.scale.items()
        )
        norm = f"timings normalized by a calibration matrix product timed in each run ({how or 'no timed rows'})"
    else:
        norm = "timings NOT normalized: only meaningful when both runs are from the same machine"
    table = Table(
        title="bench check: run vs baseline",
        caption=f"{norm}; tolerance: accuracy -{tol.accuracy_points:g} "
        f"points, timing x{1 + tol.timing:.2f}; p50 x > 1 and img/s x < 1 mean slower; top-1 and agree in %, "
        "a→b: the baseline's a, this run's b (one number: unchanged)",
        **LEAN,
    )
    for col in ("model", "engine", "prec", "batch", "top-1", "agree", "p50 x", "img/s x", "verdict"):
        left = col in ("model", "engine", "prec", "verdict")
        table.add_column(col, justify="left" if left else "right", no_wrap=col != "verdict")
    style = {
        "ok": "green",
        "fixed": "green",
        "new": "cyan",
        "regression": "bold red",
        "missing": "bold red",
        "unchecked": "bold red",
    }
    for r in result.rows:
        verdict = f"[{style.get(r.verdict, 'yellow')}]{r.verdict}[/]" + (" (noisy)" if r.noisy else "")
        table.add_row(
            escape(r.key[0]),
            escape(r.key[1]),
            escape(r.key[2]),
            str(r.key[3]),
            _pair(r.accuracy, ".2f"),
            _pair(r.agreement, ".1f"),
            _fmt(r.latency_ratio, ".2f"),
            _fmt(r.throughput_ratio, ".2f"),
            verdict,
        )
    return table


def _error_cell(error: str) -> str:
    return f"[red]error: {escape(error)}[/]"


def train_table(results) -> Table:
    """mldrnet.training.loop.TrainResult rows (bench train, bench train-all), in 80 columns: each says how it was
    trained (the free text wraps), and a model whose val accuracy stayed near chance is marked (and named in the
    caption: not trained to a usable level)."""
    near = [r.model for r in results if r.ok and r.near_chance]
    reused = any(r.ok and r.skipped for r in results)
    caption = "; ".join(
        ["top-1 in %"]
        + ([f"{NEAR_CHANCE_MARK} = {NEAR_CHANCE_NOTE} ({', '.join(near)})"] if near else [])
        + (["reused = already trained with this configuration (--force trains it again)"] if reused else [])
    )
    table = Table(title="Training summary", caption=escape(caption), **LEAN)
    for col in ("model", "epochs", "val top-1", "test top-1", "time", "how trained", "status"):
        wraps = col in ("how trained", "status")  # free text, and an error message
        table.add_column(
            col, justify="left" if col in ("model", "how trained", "status") else "right", no_wrap=not wraps
        )
    for r in results:
        if not r.ok:
            table.add_row(escape(r.model), "-", "-", "-", "-", "-", _error_cell(r.error))
            continue
        table.add_row(
            escape(r.model) + (f" [yellow]{NEAR_CHANCE_MARK}[/]" if r.near_chance else ""),
            str(r.epochs),
            f"{100 * r.best_val_acc:.2f}",  # percentages, as compare prints them
            f"{100 * r.test_acc:.2f}",
            f"{r.seconds:.0f} s",
            escape(r.how_trained or "-"),
            "reused" if r.skipped else "trained",
        )
    return table


def export_table(results) -> Table:
    """engines.export.ExportResult rows."""
    table = Table(title="Exports (parity against PyTorch eager, fp32, on test-split images)", **LEAN)
    for col, justify in [
        ("model", "left"),
        ("format", "left"),
        ("precision", "left"),
        ("file", "left"),
        ("MB", "right"),
        ("top-1 agree", "right"),
        ("max |Δlogit|", "right"),
        ("s", "right"),
        ("status", "left"),
    ]:
        table.add_column(col, justify=justify)
    for r in results:
        if not r.ok:
            # the error itself follows the table as one line per model
            table.add_row(
                escape(r.model), r.format, r.precision, "-", "-", "-", "-", f"{r.seconds:.1f}", "[red]failed[/]"
            )
            continue
        mb = r.path.stat().st_size / 2**20
        table.add_row(
            escape(r.model),
            r.format,
            r.precision,
            escape(str(r.path)),
            f"{mb:.1f}",
            f"{r.parity.top1_agreement:.1%}",
            f"{r.parity.max_abs_diff:.2e}",
            f"{r.seconds:.1f}",
            "[green]ok[/]",
        )
    return table


class Fit:
    """The first of `tables` whose natural width fits where it is printed, else the last (the narrowest): a table
    with a column per class in a wide terminal or a log, one that wraps in a narrow terminal."""

    def __init__(self, *tables: Table):
        self.tables = tables

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        return Measurement.get(console, options, self.tables[0])

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        unbounded = options.update(max_width=10_000)  # a measurement is clamped to the width it is given
        for table in self.tables:
            if Measurement.get(console, unbounded, table).maximum <= options.max_width:
                yield table
                return
        yield self.tables[-1]


def short_paths(paths: list[str]) -> list[str]:
    """Each path's shortest end (its file name, else with as many folders as it takes) that no other path of
    `paths` ends with: the rows stay apart without a long folder folding over lines."""
    parts = [Path(p).parts for p in paths]
    out = []
    for p in parts:
        others = [q for q in parts if q != p]
        k = next((k for k in range(1, len(p)) if all(q[-k:] != p[-k:] for q in others)), len(p))
        out.append(str(Path(*p[-k:])) if p else "")
    return out


def predict_table(model: str, described: dict, predictions) -> Fit:
    """engines.predict.Prediction rows that were classified: every class's probability, the top one in bold (a
    column per class where it fits, else a wrapping list)."""
    good = [p for p in predictions if p.ok]
    how = f"{described['engine']} ({described['provider']}, {described['precision']})"
    names = short_paths([str(p.path) for p in good])
    caption = "probabilities in %" + (
        "; image: the end of its path that tells it apart (--json: the whole path)"
        if any(n != str(p.path) for n, p in zip(names, good, strict=True))
        else ""
    )
    wide = Table(title=escape(f"{model} via {how}"), caption=caption, **LEAN)
    narrow = Table(title=escape(f"{model} via {how}"), caption=caption, **LEAN)
    for table in (wide, narrow):
        table.add_column("image", no_wrap=True)
        table.add_column("top emotion", no_wrap=True)
    classes = list(good[0].probabilities) if good else []
    for c in classes:
        wide.add_column(escape(c), justify="right", no_wrap=True)  # class names come from the dataset's folders
    narrow.add_column("probabilities")
    for name, p in zip(names, good, strict=True):
        # percentages, as every other table prints them (--json keeps the probabilities)
        cells = [f"[bold]{100 * v:.1f}[/]" if c == p.top else f"{100 * v:.1f}" for c, v in p.probabilities.items()]
        top = escape(f"{p.top} ({p.confidence:.1%})")
        wide.add_row(escape(name), top, *cells)
        listed = ", ".join(f"{escape(c)}:{v}" for c, v in zip(p.probabilities, cells, strict=True))  # wraps whole
        narrow.add_row(escape(name), top, listed)
    return Fit(wide, narrow)


def models_table(rows, size: int) -> Table:
    """bench.models.ModelRow rows: the zoo with parameters, GFLOPs and the paper's FI accuracy. Every cell but the
    description is kept whole (at 80 columns the description wraps); an output shape every model shares, and the
    sizes too small for some models, are said in the caption."""
    shapes = sorted({tuple(r.output_shape) for r in rows if r.output_shape})
    shared = len(shapes) == 1  # the same for every model: said once, in the caption
    small = [r for r in rows if size < r.min_crop]
    notes = [f"output {shapes[0]} for every model"] if shared else []
    if small:
        notes.append(
            "n/a: the input is too small (" + ", ".join(f"{r.name} needs {r.min_crop} px" for r in small) + ")"
        )
    table = Table(title=f"Model zoo (input {size}x{size})", caption=escape("; ".join(notes)) or None, **LEAN)
    columns = ["model", "family", "params M", "GFLOPs", *([] if shared else ["output"]), "paper FI %"]
    for col in columns:
        table.add_column(col, justify="left" if col in ("model", "family") else "right", no_wrap=True)
    table.add_column("description")
    for r in rows:
        gflops = "n/a" if size < r.min_crop else "-" if r.gflops is None else f"{r.gflops:.2f}"
        output = [] if shared else [str(tuple(r.output_shape)) if r.output_shape else "-"]
        acc = "-" if r.paper_fi_accuracy is None else f"{r.paper_fi_accuracy:.2f}"
        table.add_row(escape(r.name), r.family, f"{r.params / 1e6:.2f}", gflops, *output, acc, escape(r.description))
    return table


def dataset_table(data, rows, title: str) -> Table:
    """Images per class and split of a prepared dataset (mldrnet.data.audit.class_rows), with unreadable files."""
    split = f"fold {data.fold} of {data.folds} as test" if data.folds else "train / val / test"
    table = Table(
        title=escape(f"{title}: {split}"),
        caption=escape(  # paths are text, not markup
            f"{data.root}\nsplit {data.split_file} (hash {data.split_hash}); unreadable = header check, "
            f"`bench data verify` decodes every file"
        ),
    )
    for col in ("class", "train", "val", "test", "total", "unreadable"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for r in rows:
        table.add_row(escape(r.name), str(r.train), str(r.val), str(r.test), str(r.total), str(r.unreadable or "-"))
    table.add_section()
    table.add_row(
        "all", *(str(sum(getattr(r, c) for r in rows)) for c in ("train", "val", "test", "total", "unreadable"))
    )
    return table


def features_table(method: str, path: str, groups: dict[str, dict[str, float]]) -> Table:
    """One image's hand-crafted features (mldrnet.baselines.features.extract_file), a section per group."""
    table = Table(title=escape(f"{method} features of {path}"))
    for col, justify in (("group", "left"), ("feature", "left"), ("value", "right")):
        table.add_column(col, justify=justify)
    for i, (group, values) in enumerate(groups.items()):
        if i:
            table.add_section()
        for j, (feature, value) in enumerate(values.items()):
            table.add_row(escape(group) if j == 0 else "", escape(feature), f"{value:.4g}")
    return table


def doctor_table(data: dict) -> Table:
    """bench.doctor.report(): every engine x device x precision, available or why not, under the machine's stack."""
    m = data["machine"]
    caption = (
        f"torch {m['torch']} (CUDA {m['torch_cuda'] or 'none'}), GPU: {m['gpu'] or 'none'}, "
        f"onnxruntime {m['onnxruntime'] or 'none'}, TensorRT {m['tensorrt'] or 'none'}"
    )
    table = Table(title="bench doctor: what this machine can run", caption=escape(caption))
    for col in ("engine", "provider", "device", "precision", "available", "why not"):
        table.add_column(col)
    for r in data["engines"]:
        table.add_row(
            r["engine"],
            r["provider"] or "",
            r["device"],
            r["precision"],
            "yes" if r["available"] else "no",
            escape("; ".join(r["reasons"])),
        )
    return table


def paired_table(rows, title: str, caption: str = "") -> Table:
    """bench.paired rows: MldrNet against each baseline on the same test images (McNemar, paired bootstrap), in
    80 columns: each accuracy and the difference over its interval (two lines a row), the A column left out (and
    named in the title) when every row has the same A."""
    from bench.paired import CAPTION

    same_a = len({r.a for r in rows}) == 1
    problems = [f"{r.b if same_a else f'{r.a} vs {r.b}'} not compared: {r.problem}" for r in rows if r.problem]
    table = Table(
        title=escape(title + (f" (A = {rows[0].a})" if same_a and rows else "")),
        caption=escape(
            "; ".join(problems + ([caption] if caption else []))
            + ("; " if problems or caption else "")
            + "A and B top-1 % over their 95 % Wilson intervals; only = images only A / only B got right; "
            "p: McNemar; " + CAPTION
        ),
        show_lines=True,
        **LEAN,
    )
    headers = ([] if same_a else ["A"]) + ["B", "n", "A top-1 %", "B top-1 %", "A - B", "only", "p", "Holm p"]
    for h in headers:
        table.add_column(h, justify="left" if h in ("A", "B") else "right", no_wrap=True)
    for r in rows:
        table.add_row(*([] if same_a else [escape(r.a)]), *_paired_cells(r))
    return table


def _paired_cells(r) -> list[str]:
    from bench.paired import p_text

    if r.problem:  # why this pair is not compared is in the caption: a cell would widen its column past 80
        return [escape(r.b), "-", "-", "-", "[yellow]see below[/]", "-", "-", "-"]
    return [
        escape(r.b),
        str(r.images),
        f"{r.acc_a:.2f}\n[{r.wilson_a[0]:.1f}, {r.wilson_a[1]:.1f}]",
        f"{r.acc_b:.2f}\n[{r.wilson_b[0]:.1f}, {r.wilson_b[1]:.1f}]",
        f"{r.diff:+.2f}\n[{r.boot_low:+.1f}, {r.boot_high:+.1f}]",
        f"{r.only_a}/{r.only_b}",
        p_text(r.p),
        p_text(r.p_holm),
    ]


def tune_table(log: dict) -> Table:
    """A `bench tune` study: one row per trial, the values tried, its best val top-1 and how it ended (80 columns:
    short headers, the caption says them)."""
    names = sorted({k for t in log["trials"] for k in t["params"]})
    short = {"batch_size": "batch", "crop": "px", "epochs": "ep"}
    budget = log["budget"]["seconds_per_trial"]
    table = Table(
        title=f"bench tune {escape(log['model'])}: {len(log['trials'])} trials, {budget:g} s of training each",
        caption="val %: best val top-1 (the test split is never read), * the chosen; ran: epochs run; budget: "
        f"past {budget:g} s, never chosen; pruned: behind the median",
    )
    for col in ("#", *(short.get(n, n) for n in names), "val %", "ran", "ended", "s"):
        table.add_column(col, justify="left" if col == "ended" else "right")
    best = (log.get("best") or {}).get("number")
    for t in log["trials"]:
        val = t["val_top1"] if t["val_top1"] is not None else t.get("val_seen")
        value = "-" if val is None else f"{100 * val:.2f}" + (" *" if t["number"] == best else "")
        params = [f"{t['params'][n]:.3g}" if n in t["params"] else "-" for n in names]
        ended = {"FAIL": "failed", "PRUNED": "pruned"}.get(t["state"], t.get("stopped_by") or "-")
        ended = "budget" if t.get("stopped_by") == "budget" else ended
        seconds = "-" if t.get("seconds") is None else f"{t['seconds']:.0f}"
        table.add_row(str(t["number"]), *params, value, str(t.get("epochs_done") or "-"), ended, seconds)
    return table
