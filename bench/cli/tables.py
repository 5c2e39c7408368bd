"""The rich tables the CLI prints, each a view of a library result: compare's records table (grouped by model,
best value per column in bold green) and its MLPerf scenarios table, then the tables of check, train, export,
predict, models, data info, features and doctor. Only the CLI renders; the library returns records and data
(the compare run's warnings, scenarios and files are bench.report's).

Best values: accuracy, agreement and throughput are compared across all successful rows; latency only among
rows of the same batch size (a batch of 8 is slower per call than a batch of 1 by design). int8 rows whose top-1
agreement with PyTorch fp32 is below bench.report.INT8_AGREEMENT_PCT are marked in red.

Imported inside the commands (never at `bench -h`).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from rich.table import Table

from bench.cli.console import escape
from bench.records import CompareRun, Record
from bench.report import INT8_AGREEMENT_PCT, MIN_P99_SAMPLES, int8_below, scenarios
from mldrnet.io.provenance import NEAR_CHANCE_NOTE

# --- compare: the records table and the scenarios table ---------------------------------------------------------


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
    Column(
        "status", lambda r: "ok" if r.ok else f"[red]error[/]: {escape(r.error or '')}", justify="left", markup=True
    ),
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
    heading = (
        f"bench compare: {env.get('dataset', '?')} on {env.get('cpu', '?')}"
        + (f" + {env['gpu']}" if env.get("gpu") else "")
        + f", {env.get('threads', '?')} threads"
        + (f", fp32 matmul peak {peak:.0f} GFLOP/s" if peak else "")
    )
    table = Table(
        title=escape(title or heading),
        caption="bold green = best in column (latency: among rows of the same batch); "
        "latency per call at the row's batch; agree/dlogit vs PyTorch fp32 on the CPU; "
        f"red ✗ = int8 agreement below {INT8_AGREEMENT_PCT:g}%; px acc/time = accuracy size / "
        "timing size; GFLOPs, GFLOP/s and % peak (of the run's fp32 matrix-product rate) "
        "at the timing size",
    )
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


SCENARIO_COLUMNS = (
    "model",
    "engine",
    "prec",
    "px acc/time",
    "top-1 %",
    "agree %",
    "p50 ms",
    "p90 ms",
    "p99 ms",
    "offline img/s",
    "batch",
    "GFLOP/s",
    "% peak",
    "status",
)


def scenarios_table(run: CompareRun) -> Table:
    """The scenarios (see `scenarios`), grouped by model, the best of each column in bold green."""
    rows = scenarios(run)
    calls = sorted({x["single_stream"]["count"] for x in rows if x["single_stream"] and x["single_stream"]["count"]})
    n = "-" if not calls else str(calls[0]) if len(calls) == 1 else f"{calls[0]}-{calls[-1]}"
    table = Table(
        title=f"MLPerf scenarios by our timer on compare's batch rows ({n} timed calls at batch 1; not LoadGen: "
        "`bench mlperf` runs it): single-stream = batch 1, offline = best throughput over the batch sizes",
        caption=f'latency per image at batch 1 (n = timed calls; a p99 needs >= {MIN_P99_SAMPLES}: "- (n)" below); '
        "offline = the batch with the highest images/s of this run; % peak of the run's fp32 matrix-product rate",
    )
    for col in SCENARIO_COLUMNS:
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
        size = (
            str(x["input_size"])
            if x["timing_size"] in (None, x["input_size"])
            else f"{x['input_size']}/{x['timing_size']}"
        )
        fraction = offline(x, "peak_fraction")
        status = "ok" if x["error"] is None else f"[red]error[/]: {escape(x['error'])}"
        table.add_row(
            escape(x["model"]) if x["model"] != last else "",
            escape(x["variant"]),
            escape(x["precision"]),
            size,
            cell(x["accuracy_pct"], ".2f"),
            agree,
            cell(single(x, "p50_ms"), ".2f", single(x, "p50_ms") == best_p50),
            cell(single(x, "p90_ms"), ".2f"),
            _p99_cell(x["single_stream"]),
            cell(offline(x, "throughput_ips"), ".1f", offline(x, "throughput_ips") == best_ips),
            cell(offline(x, "batch_size"), "d"),
            cell(offline(x, "achieved_gflops"), ".1f"),
            cell(None if fraction is None else 100 * fraction, ".0f"),
            status,
        )
        last = x["model"]
    return table


def _p99_cell(single: dict | None) -> str:
    """The batch-1 p99, or "- (n=5)" when it came from fewer than MIN_P99_SAMPLES timed calls."""
    if single is None:
        return "-"
    if single["p99_ms"] is None:
        return f"- (n={single['count']})" if single.get("count") else "-"
    return f"{single['p99_ms']:.2f}"


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
        how = ", ".join(
            f"{d}: this machine took x{s:.2f} the baseline's calibration time" for d, s in result.scale.items()
        )
        norm = f"timings normalized by a calibration matrix product timed in each run ({how or 'no timed rows'})"
    else:
        norm = "timings NOT normalized: only meaningful when both runs are from the same machine"
    table = Table(
        title="bench check: run vs baseline",
        caption=f"{norm}; tolerance: accuracy -{tol.accuracy_points:g} "
        f"points, timing x{1 + tol.timing:.2f}; p50 x > 1 and img/s x < 1 mean slower",
    )
    for col in ("model", "engine", "batch", "top-1 %", "agree %", "p50 x", "img/s x", "verdict"):
        table.add_column(col, justify="left" if col in ("model", "engine", "verdict") else "right")
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
            escape(f"{r.key[1]} {r.key[2]}"),
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
        table.add_row(
            escape(r.model),
            str(r.epochs),
            f"{r.best_val_acc:.3f}",
            f"{r.test_acc:.3f}",
            f"{r.seconds:.0f} s",
            escape(r.how_trained or "-"),
            status,
        )
    return table


def export_table(results) -> Table:
    """engines.export.ExportResult rows."""
    table = Table(title="Exports (parity against PyTorch eager, fp32, on test-split images)")
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


def predict_table(model: str, described: dict, predictions) -> Table:
    """engines.predict.Prediction rows that were classified: every class's probability, the top one in bold."""
    good = [p for p in predictions if p.ok]
    how = f"{described['engine']} ({described['provider']}, {described['precision']})"
    table = Table(title=escape(f"{model} via {how}"))
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
    for col, justify in [
        ("model", "left"),
        ("family", "left"),
        ("params (M)", "right"),
        ("GFLOPs", "right"),
        ("output", "right"),
        ("paper FI acc %", "right"),
        ("description", "left"),
    ]:
        table.add_column(col, justify=justify)
    for r in rows:
        acc = "-" if r.paper_fi_accuracy is None else f"{r.paper_fi_accuracy:.2f}"
        gflops = "-" if r.gflops is None else f"{r.gflops:.2f}"
        runs = size >= r.min_crop
        table.add_row(
            escape(r.name),
            r.family,
            f"{r.params / 1e6:.2f}",
            gflops if runs else f"needs >= {r.min_crop} px",
            str(tuple(r.output_shape)) if r.output_shape else "-",
            acc,
            escape(r.description),
        )
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
    """bench.paired rows: MldrNet against each baseline on the same test images (McNemar, paired bootstrap)."""
    from bench.paired import CAPTION, HEADER, row_cells

    table = Table(title=escape(title), caption=escape(caption or CAPTION))
    for h in HEADER:
        table.add_column(escape(h), justify="left" if h in ("A", "B") else "right")
    for r in rows:
        cells = [escape(c) for c in row_cells(r)]
        if r.problem:
            cells[5] = f"[yellow]{cells[5]}[/]"
        table.add_row(*cells)
    return table


def tune_table(log: dict) -> Table:
    """A `bench tune` study: one row per trial, the values tried, its best val top-1 and how it ended."""
    names = sorted({k for t in log["trials"] for k in t["params"]})
    table = Table(
        title=f"bench tune {escape(log['model'])}: {len(log['trials'])} trials, "
        f"{log['budget']['seconds_per_trial']:g} s of training each",
        caption="val top-1 (the test split is never read); * the best",
    )
    for col in ("trial", *names, "val top-1 %", "epochs run", "ended", "s"):
        table.add_column(col, justify="left" if col == "ended" else "right")
    best = (log.get("best") or {}).get("number")
    for t in log["trials"]:
        value = "-" if t["val_top1"] is None else f"{100 * t['val_top1']:.2f}" + (" *" if t["number"] == best else "")
        params = [f"{t['params'][n]:g}" if n in t["params"] else "-" for n in names]
        ended = "failed" if t["state"] == "FAIL" else "pruned" if t["state"] == "PRUNED" else t.get("stopped_by") or "-"
        seconds = "-" if t.get("seconds") is None else f"{t['seconds']:.0f}"
        table.add_row(str(t["number"]), *params, value, str(t.get("epochs_done") or "-"), ended, seconds)
    return table
