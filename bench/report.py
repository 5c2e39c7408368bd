"""The tables every command prints, each a view of a library result, and the files of a compare run.

A compare run: the rich table (grouped by model, best value per column in bold green), the warnings worth
reading (errors, noisy timings, broken parity), and the files under results/compare/<timestamp>/. Then the
tables of check, train, export, predict and models. No table is built in the CLI modules.

Best values: accuracy, agreement and throughput are compared across all successful rows; latency only among
rows of the same batch size (a batch of 8 is slower per call than a batch of 1 by design).

After the main table, the two scenarios as MLPerf names them, per model x engine x precision: single-stream (batch
1: p50/p90/p99 latency) and offline (the best throughput over the run's batch sizes, and that batch), saved as
scenarios.json beside records.json (a view of the records; records.json keeps its format). int8 rows whose top-1
agreement with PyTorch fp32 is below INT8_AGREEMENT_PCT are marked (and fail `bench check`).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

from rich.markup import escape
from rich.table import Table

from bench.check import Tolerance
from bench.plots import write_plots
from bench.records import CompareRun, Record
from mldrnet.io.provenance import NEAR_CHANCE_NOTE

BUSY_SPREAD = Tolerance().busy_spread  # calibration max / min above this: the machine's load changed (the gate's limit)
PARITY_WARN_PCT = 99.0  # top-1 agreement with PyTorch below this on an fp32 row points at a broken export
INT8_AGREEMENT_PCT = Tolerance().int8_agreement_pct  # int8 rows below this are marked (the gate's default limit)
SCENARIOS_NAME = "scenarios.json"
SCENARIOS_FORMAT = "bench-scenarios/1"


@dataclass(frozen=True)
class Column:
    title: str
    get: Callable[[Record], object]
    fmt: str = "{}"
    better: str | None = None  # "max" | "min" | None
    per_batch: bool = False  # best value among rows of the same batch size only
    justify: str = "right"
    markup: bool = False  # get() returns rich markup (its dynamic parts escaped); else plain text, escaped here
    flag: Callable[[Record], bool] | None = None  # a value to mark in red (e.g. int8 agreement below the limit)


def _mb(r: Record) -> float | None:
    return None if r.file_bytes is None else r.file_bytes / 1e6


def _mparams(r: Record) -> float | None:
    return None if r.params is None else r.params / 1e6


def int8_below(r: Record, limit: float = INT8_AGREEMENT_PCT) -> bool:
    """An ok int8 row whose top-1 agreement with PyTorch fp32 is below the limit (or was not measured)."""
    return r.ok and r.precision == "int8" and (r.agreement_pct is None or r.agreement_pct < limit)


def _sizes(r: Record) -> str | None:
    """px of the accuracy / of the timing: one number when they are the same."""
    if r.input_size is None and r.timing_size is None:
        return None
    if r.timing_size is None or r.timing_size == r.input_size:
        return str(r.input_size)
    return f"{r.input_size if r.input_size is not None else '?'}/{r.timing_size}"


def _pct_of_peak(r: Record) -> float | None:
    return None if r.peak_fraction is None else 100 * r.peak_fraction


COLUMNS = (
    Column("engine", lambda r: r.variant, justify="left"),
    Column("prec", lambda r: r.precision, justify="left"),
    Column("batch", lambda r: r.batch_size),
    Column("px acc/time", _sizes),
    Column("top-1 %", lambda r: r.accuracy_pct, "{:.2f}", "max"),
    Column("mean TPR %", lambda r: r.mean_tpr_pct, "{:.2f}", "max"),
    Column("paper FI %", lambda r: r.paper_fi_accuracy_pct, "{:.2f}"),
    Column("agree %", lambda r: r.agreement_pct, "{:.1f}", "max", flag=int8_below),
    Column("max |dlogit|", lambda r: r.max_logit_diff, "{:.1e}", "min"),
    Column("p50 ms", lambda r: r.lat_p50_ms, "{:.2f}", "min", per_batch=True),
    Column("p99 ms", lambda r: r.lat_p99_ms, "{:.2f}", "min", per_batch=True),
    Column("CV", lambda r: r.lat_cv, "{:.2f}"),
    Column("img/s", lambda r: r.throughput_ips, "{:.1f}", "max"),
    # GPU rows only (left out on a CPU run): the input already on the device, no host copies
    Column("dev p50 ms", lambda r: r.resident_p50_ms, "{:.2f}", "min", per_batch=True),
    Column("dev img/s", lambda r: r.resident_ips, "{:.1f}", "max"),
    Column("params M", _mparams, "{:.2f}"),
    Column("GFLOPs", lambda r: r.gflops, "{:.2f}"),
    Column("GFLOP/s", lambda r: r.achieved_gflops, "{:.1f}", "max"),
    Column("% peak", _pct_of_peak, "{:.0f}", "max"),
    Column("size MB", _mb, "{:.1f}", "min"),
    Column("status", lambda r: "ok" if r.ok else f"[red]error[/]: {escape(r.error or '')}", justify="left",
           markup=True),
)


def best_values(records: list[Record]) -> dict[tuple[str, int | None], float]:
    """(column title, batch size or None) -> the best value of that column among successful rows."""
    best: dict[tuple[str, int | None], float] = {}
    for col in COLUMNS:
        if col.better is None:
            continue
        pick = max if col.better == "max" else min
        for r in records:
            v = col.get(r)
            if not r.ok or v is None:
                continue
            key = (col.title, r.batch_size if col.per_batch else None)
            best[key] = pick(best.get(key, v), v)
    return best


def _cell(col: Column, r: Record, best: dict) -> str:
    v = col.get(r)
    if v is None:
        return "-"
    if isinstance(v, (int, float)):
        text = col.fmt.format(v)
    else:  # names, paths and error messages are text: `pip install 'pkg[gpu]'` must not be read as a style tag
        text = str(v) if col.markup else escape(str(v))
    key = (col.title, r.batch_size if col.per_batch else None)
    if col.flag is not None and col.flag(r):
        return f"[bold red]{text} ✗[/]"
    if r.ok and col.better and key in best and best[key] == v:
        return f"[bold green]{text}[/]"
    return text


def records_table(run: CompareRun, title: str | None = None) -> Table:
    records = list(run.records)
    env = run.environment
    best = best_values(records)
    peak = run.peak_gflops("cpu")
    heading = (f"bench compare: {env.get('dataset', '?')} on {env.get('cpu', '?')}"
               + (f" + {env['gpu']}" if env.get("gpu") else "") + f", {env.get('threads', '?')} threads"
               + (f", fp32 matmul peak {peak:.0f} GFLOP/s" if peak else ""))
    table = Table(title=escape(title or heading),
                  caption="bold green = best in column (latency: among rows of the same batch); "
                          "latency per call at the row's batch; agree/dlogit vs PyTorch fp32 on the CPU; "
                          f"red ✗ = int8 agreement below {INT8_AGREEMENT_PCT:g}%; px acc/time = accuracy size / "
                          "timing size; GFLOPs, GFLOP/s and % peak (of the run's fp32 matrix-product rate) "
                          "at the timing size")
    # a column no row has a value for (paper FI accuracy off FI, ...) is left out
    columns = [c for c in COLUMNS if any(c.get(r) is not None for r in records)] or list(COLUMNS)
    table.add_column("model", justify="left", style="bold")
    for col in columns:
        table.add_column(col.title, justify=col.justify)
    models = list(dict.fromkeys(r.model for r in records))
    for i, model in enumerate(models):
        if i:
            table.add_section()
        rows = [r for r in records if r.model == model]
        for j, r in enumerate(rows):
            table.add_row(_model_cell(model, rows[0], j, len(rows)), *[_cell(c, r, best) for c in columns])
    return table


def _model_cell(model: str, first: Record, j: int, n_rows: int) -> str:
    """The model column of a model's rows: its name, then (second row, or a second line of a single row) how it was
    trained, in yellow with a mark when its val accuracy stayed near chance."""
    how = escape(first.how_trained or "")
    if first.near_chance:
        how = f"[yellow]{how}; near chance[/]"  # the whole note is a warning under the table
    elif how:
        how = f"[dim]{how}[/]"
    if j == 0:
        return escape(model) + (f"\n{how}" if n_rows == 1 and how else "")
    return how if j == 1 else ""


def warnings_for(run: CompareRun) -> list[str]:
    out = [f"{model}: {NEAR_CHANCE_NOTE} ({how}): its accuracy says nothing about the architecture"
           for model, how in dict.fromkeys((r.model, r.how_trained) for r in run.records if r.near_chance)]
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
            out.append(f"{name}: int8 top-1 agreement with fp32 {agree}, below {INT8_AGREEMENT_PCT:g}% "
                       "(bench check fails it)")
    for device, cal in run.calibration.items():
        if cal.get("spread", 1.0) > BUSY_SPREAD:
            out.append(f"the {device} calibration varied x{cal['spread']:.1f} during the run: the machine was busy, "
                       "timings say more about its load than about the engines")
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
        out.append({
            "model": model, "variant": variant, "engine": first.engine, "device": first.device, "precision": precision,
            "input_size": first.input_size, "timing_size": first.timing_size,
            "accuracy_pct": first.accuracy_pct if ok else None, "agreement_pct": first.agreement_pct if ok else None,
            "int8_below_limit": any(int8_below(r) for r in ok),
            "single_stream": None if single is None else {
                "batch_size": 1, "p50_ms": single.lat_p50_ms, "p90_ms": single.lat_p90_ms, "p99_ms": single.lat_p99_ms,
                "throughput_ips": single.throughput_ips},
            "offline": None if best is None else {
                "batch_size": best.batch_size, "throughput_ips": best.throughput_ips,
                "batches_tried": sorted(r.batch_size for r in timed), "achieved_gflops": best.achieved_gflops,
                "peak_fraction": best.peak_fraction},
            "error": None if ok else rows[0].error,
        })
    return out


def write_scenarios(run: CompareRun, path: Path) -> Path:
    from bench.records import _jsonable
    from mldrnet.io.atomic import atomic_write_text

    data = {"format": SCENARIOS_FORMAT, "peak_gflops": {d: run.peak_gflops(d) for d in run.calibration},
            "scenarios": _jsonable(scenarios(run))}
    atomic_write_text(path, json.dumps(data, indent=1, allow_nan=False) + "\n")
    return path


def scenarios_table(run: CompareRun) -> Table:
    """The scenarios (see `scenarios`), grouped by model, the best of each column in bold green."""
    rows = scenarios(run)
    table = Table(title="MLPerf scenarios: single-stream (batch 1) and offline (best throughput over the batch sizes)",
                  caption="latency per image at batch 1; offline = the batch with the highest images/s of this run; "
                          "% peak of the run's fp32 matrix-product rate")
    for col in ("model", "engine", "prec", "px acc/time", "top-1 %", "agree %", "p50 ms", "p90 ms", "p99 ms",
                "offline img/s", "batch", "GFLOP/s", "% peak", "status"):
        table.add_column(col, justify="left" if col in ("model", "engine", "prec", "status") else "right")

    def best(get, pick):
        values = [v for v in (get(x) for x in rows) if v is not None]
        return pick(values) if values else None

    single = lambda x, k: None if x["single_stream"] is None else x["single_stream"][k]  # noqa: E731
    offline = lambda x, k: None if x["offline"] is None else x["offline"][k]  # noqa: E731
    best_p50 = best(lambda x: single(x, "p50_ms"), min)
    best_ips = best(lambda x: offline(x, "throughput_ips"), max)

    def cell(v, spec, bold=False):
        if v is None:
            return "-"
        return f"[bold green]{v:{spec}}[/]" if bold else format(v, spec)

    last = None
    for x in rows:
        if last is not None and x["model"] != last:
            table.add_section()
        agree = cell(x["agreement_pct"], ".1f")
        if x["int8_below_limit"]:
            agree = f"[bold red]{agree} ✗[/]"
        size = (str(x["input_size"]) if x["timing_size"] in (None, x["input_size"])
                else f"{x['input_size']}/{x['timing_size']}")
        fraction = offline(x, "peak_fraction")
        status = "ok" if x["error"] is None else f"[red]error[/]: {escape(x['error'])}"
        table.add_row(escape(x["model"]) if x["model"] != last else "", escape(x["variant"]), escape(x["precision"]),
                      size, cell(x["accuracy_pct"], ".2f"), agree,
                      cell(single(x, "p50_ms"), ".2f", single(x, "p50_ms") == best_p50),
                      cell(single(x, "p90_ms"), ".2f"), cell(single(x, "p99_ms"), ".2f"),
                      cell(offline(x, "throughput_ips"), ".1f", offline(x, "throughput_ips") == best_ips),
                      cell(offline(x, "batch_size"), "d"), cell(offline(x, "achieved_gflops"), ".1f"),
                      cell(None if fraction is None else 100 * fraction, ".0f"), status)
        last = x["model"]
    return table


def save_all(run: CompareRun, out_dir: Path, plots: bool = True) -> list[Path]:
    """records.csv, scenarios.json, (with `plots`) the PNG plots, then records.json last, under the output folder's lock; returns
    every path written. records.json marks a complete run (what `bench check` and `latest` read): a previous
    one there is removed first, so a run that fails half-way never leaves records beside files of another."""
    from bench.compare import check_output_dir, output_lock
    from bench.records import CSV_NAME, JSON_NAME, write_csv, write_json
    from mldrnet.io.atomic import os_error

    out_dir = Path(out_dir)
    check_output_dir(out_dir)
    with output_lock(out_dir):
        try:
            (out_dir / JSON_NAME).unlink(missing_ok=True)
            csv_path = write_csv(list(run.records), out_dir / CSV_NAME)
            scenarios_path = write_scenarios(run, out_dir / SCENARIOS_NAME)
            images = write_plots(list(run.records), out_dir) if plots else []
        except OSError as e:  # matplotlib writes its files itself
            raise os_error(e, e.filename or out_dir) from None
        json_path = write_json(run, out_dir / JSON_NAME)  # last: it marks the run complete
    return [json_path, csv_path, scenarios_path, *images]


# --- the other commands' tables: each a view of its library result -------------------------------------------


def _fmt(v: float | None, spec: str) -> str:
    return "-" if v is None else format(v, spec)


def _pair(values: tuple[float | None, float | None], spec: str) -> str:
    """baseline -> current"""
    return "-" if values == (None, None) else f"{_fmt(values[0], spec)} -> {_fmt(values[1], spec)}"


def check_table(result) -> Table:
    """bench.check.CheckResult, row by row."""
    tol = result.tolerance
    if tol.normalize:
        how = ", ".join(f"{d}: this machine took x{s:.2f} the baseline's calibration time" for d, s in result.scale.items())
        norm = f"timings normalized by a calibration matrix product timed in each run ({how or 'no timed rows'})"
    else:
        norm = "timings NOT normalized: only meaningful when both runs are from the same machine"
    table = Table(title="bench check: run vs baseline", caption=f"{norm}; tolerance: accuracy -{tol.accuracy_points:g} "
                  f"points, timing x{1 + tol.timing:.2f}; p50 x > 1 and img/s x < 1 mean slower")
    for col in ("model", "engine", "batch", "top-1 %", "agree %", "p50 x", "img/s x", "verdict"):
        table.add_column(col, justify="left" if col in ("model", "engine", "verdict") else "right")
    style = {"ok": "green", "fixed": "green", "new": "cyan", "regression": "bold red", "missing": "bold red",
             "unchecked": "bold red"}
    for r in result.rows:
        verdict = f"[{style.get(r.verdict, 'yellow')}]{r.verdict}[/]" + (" (noisy)" if r.noisy else "")
        table.add_row(escape(r.key[0]), escape(f"{r.key[1]} {r.key[2]}"), str(r.key[3]), _pair(r.accuracy, ".2f"),
                      _pair(r.agreement, ".1f"), _fmt(r.latency_ratio, ".2f"), _fmt(r.throughput_ratio, ".2f"), verdict)
    return table


def _error_cell(error: str) -> str:
    return f"[red]error: {escape(error)}[/]"


def train_table(results) -> Table:
    """mldrnet.training.loop.TrainResult rows (bench train, bench train-all): each says how it was trained, and a model
    whose val accuracy stayed near chance is marked as not trained to a usable level."""
    table = Table(title="Training summary")
    for col in ("model", "epochs", "best val acc", "test acc", "time", "how trained", "status"):
        table.add_column(col, justify="left" if col in ("model", "how trained", "status") else "right")
    for r in results:
        if not r.ok:
            table.add_row(escape(r.model), "-", "-", "-", "-", "-", _error_cell(r.error))
            continue
        status = "already trained (use --force)" if r.skipped else "trained"
        if r.near_chance:
            status += f"; [yellow]{NEAR_CHANCE_NOTE}[/]"
        table.add_row(escape(r.model), str(r.epochs), f"{r.best_val_acc:.3f}", f"{r.test_acc:.3f}",
                      f"{r.seconds:.0f} s", escape(r.how_trained or "-"), status)
    return table


def export_table(results) -> Table:
    """engines.export.ExportResult rows."""
    table = Table(title="Exports (parity against PyTorch eager, fp32, on test-split images)")
    for col, justify in [("model", "left"), ("format", "left"), ("precision", "left"), ("file", "left"),
                         ("MB", "right"), ("top-1 agree", "right"), ("max |Δlogit|", "right"), ("s", "right"),
                         ("status", "left")]:
        table.add_column(col, justify=justify)
    for r in results:
        if not r.ok:
            # the error itself follows the table as one line per model
            table.add_row(escape(r.model), r.format, r.precision, "-", "-", "-", "-", f"{r.seconds:.1f}", "[red]failed[/]")
            continue
        mb = r.path.stat().st_size / 2**20
        table.add_row(escape(r.model), r.format, r.precision, escape(str(r.path)), f"{mb:.1f}",
                      f"{r.parity.top1_agreement:.1%}", f"{r.parity.max_abs_diff:.2e}", f"{r.seconds:.1f}", "[green]ok[/]")
    return table


def predict_table(model: str, described: dict, predictions) -> Table:
    """engines.predict.Prediction rows that were classified: every class's probability, the top one in bold."""
    good = [p for p in predictions if p.ok]
    table = Table(title=escape(f"{model} via {described['engine']} ({described['provider']}, {described['precision']})"))
    table.add_column("image", overflow="fold")
    table.add_column("top emotion")
    classes = list(good[0].probabilities) if good else []
    for c in classes:
        table.add_column(escape(c), justify="right")  # class names come from the dataset's folders
    for p in good:
        cells = [f"[bold]{v:.3f}[/]" if c == p.top else f"{v:.3f}" for c, v in p.probabilities.items()]
        table.add_row(escape(str(p.path)), escape(f"{p.top} ({p.confidence:.0%})"), *cells)
    return table


def models_table(rows, size: int) -> Table:
    """bench.models.ModelRow rows: the zoo with parameters, GFLOPs and the paper's FI accuracy."""
    table = Table(title=f"Model zoo (input {size}x{size})")
    for col, justify in [("model", "left"), ("family", "left"), ("params (M)", "right"), ("GFLOPs", "right"),
                         ("output", "right"), ("paper FI acc %", "right"), ("description", "left")]:
        table.add_column(col, justify=justify)
    for r in rows:
        acc = "-" if r.paper_fi_accuracy is None else f"{r.paper_fi_accuracy:.2f}"
        gflops = "-" if r.gflops is None else f"{r.gflops:.2f}"
        table.add_row(escape(r.name), r.family, f"{r.params / 1e6:.2f}", gflops, str(tuple(r.output_shape)),
                      acc, escape(r.description))
    return table


def dataset_table(data, rows, title: str) -> Table:
    """Images per class and split of a prepared dataset (mldrnet.data.audit.class_rows), with unreadable files."""
    split = f"fold {data.fold} of {data.folds} as test" if data.folds else "train / val / test"
    table = Table(title=escape(f"{title}: {split}"), caption=escape(  # paths are text, not markup
        f"{data.root}\nsplit {data.split_file} (hash {data.split_hash}); unreadable = header check, "
        f"`bench data verify` decodes every file"))
    for col in ("class", "train", "val", "test", "total", "unreadable"):
        table.add_column(col, justify="left" if col == "class" else "right")
    for r in rows:
        table.add_row(escape(r.name), str(r.train), str(r.val), str(r.test), str(r.total), str(r.unreadable or "-"))
    table.add_section()
    table.add_row("all", *(str(sum(getattr(r, c) for r in rows)) for c in ("train", "val", "test", "total", "unreadable")))
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
