"""The views of `bench reproduce` results: a rich table per experiment, and the report folder (report.md with
the tables, the claims, MldrNet against each system on the same test images, the runs trained and reused, and the
plots; results.json; one PNG per table). Every number says how its model was trained, near-chance models are
marked, the paper's numbers sit beside ours with the difference, and a test accuracy has its 95 % Wilson
interval (over the test images: the test set's sampling error, apart from the ± of the seeds)."""

from __future__ import annotations

import json
import platform
from pathlib import Path

from rich.markup import escape
from rich.table import Table

from bench import paired
from bench.reproduce.judge import synthetic_kind
from bench.reproduce.results import NOT_SUPPORTED, SUPPORTED, Cell, ExperimentResult
from mldrnet.data.synth import describe
from mldrnet.io.atomic import atomic_write_text
from mldrnet.io.provenance import NEAR_CHANCE_NOTE, USABLE_SHARE

FORMAT = "bench-reproduce/1"
VERDICT_STYLE = {SUPPORTED: "green", NOT_SUPPORTED: "red"}


def _has_paper(res: ExperimentResult, column: str) -> bool:
    return any(r.paper.get(column) is not None for r in res.rows)


def _diff(res_row, column: str) -> str:
    cell, paper = res_row.cells.get(column), res_row.paper.get(column)
    if cell is None or cell.mean is None or paper is None:
        return "-"
    return f"{cell.mean - paper:+.2f}"


def _how(res_row) -> str:
    hows = list(dict.fromkeys(c.how_trained for c in res_row.cells.values() if c.how_trained))
    return "; ".join(hows) or "-"


def _wilson_columns(res: ExperimentResult) -> set[str]:
    """The columns that hold test accuracies with a known count of test images: they get a Wilson interval."""
    if not res.metric.startswith("test top-1"):
        return set()
    return {c for c in res.columns if any((cell := r.cells.get(c)) is not None and cell.test_images for r in res.rows)}


def _wilson(cell: Cell | None) -> str:
    from mldrnet.evaluation.statistics import wilson_pct

    if cell is None or cell.mean is None or not cell.test_images:
        return "-"
    lo, hi = wilson_pct(cell.mean, cell.test_images)
    return f"[{lo:.1f}, {hi:.1f}] of {cell.test_images}"


def table_rows(res: ExperimentResult) -> tuple[list[str], list[list[str]], list[bool]]:
    """(header, rows of plain text, near-chance flag per row): what both the rich and the markdown table show."""
    header = ["system"]
    wilson = _wilson_columns(res)
    for c in res.columns:
        header += (
            ([f"paper {c}"] if _has_paper(res, c) else [])
            + [f"ours {c}"]
            + ([f"95 % Wilson {c}"] if c in wilson else [])
            + (["diff"] if _has_paper(res, c) else [])
        )
    header.append("how trained")
    rows, flags = [], []
    many = len(res.columns) > 3  # per-class columns (Figs. 8-10): compact cells, the fold count in the metric
    for r in res.rows:
        line = [r.system]
        for c in res.columns:
            cell = r.cells.get(c)
            ours = cell.text(".1f" if many else ".2f", count=not many) if cell is not None else "-"
            if cell is not None and cell.near_chance:
                ours += " (near chance)"
            paper = r.paper.get(c)
            line += (
                ([f"{paper:.2f}" if paper is not None else "-"] if _has_paper(res, c) else [])
                + [ours]
                + ([_wilson(cell)] if c in wilson else [])
                + ([_diff(r, c)] if _has_paper(res, c) else [])
            )
        line.append(_how(r))
        rows.append(line)
        flags.append(any(cell.near_chance for cell in r.cells.values()))
    return header, rows, flags


def rich_table(res: ExperimentResult) -> Table:
    table = Table(
        title=escape(
            f"{res.title} — ours on {res.dataset} ({res.profile} profile), the paper's on {res.paper_dataset}"
        ),
        caption=escape(_metric(res)),
    )
    header, rows, flags = table_rows(res)
    for h in header:
        table.add_column(escape(h), justify="left" if h in ("system", "how trained") else "right")
    for line, flag in zip(rows, flags):
        table.add_row(*[f"[yellow]{escape(x)}[/]" if flag and "near chance" in x else escape(x) for x in line])
    return table


def _metric(res: ExperimentResult) -> str:
    """What the cells hold, and over what their mean ± std is (unless the metric says it already)."""
    return res.metric if "±" in res.metric else f"{res.metric}, mean ± std over seeds or folds"


def claims_table(res: ExperimentResult) -> Table:
    table = Table(title=escape(f"{res.name}: the paper's claims on this run"))
    for h in ("claim", "verdict", "evidence", "data"):
        table.add_column(h, justify="left")
    for c in res.claims:
        style = VERDICT_STYLE.get(c.verdict, "yellow")
        table.add_row(escape(c.text), f"[{style}]{escape(c.verdict)}[/]", escape(c.evidence), escape(c.data))
    return table


def paired_title(res: ExperimentResult) -> str:
    return f"{res.name}: MldrNet against each system on the same test images (seed 0; folds pooled)"


def _paired_markdown(res: ExperimentResult) -> list[str]:
    if not res.paired:
        return []
    out = [f"{paired_title(res)}: {paired.CAPTION}.", ""]
    out += ["| " + " | ".join(paired.HEADER) + " |", "|" + "---|" * len(paired.HEADER)]
    out += ["| " + " | ".join(x.replace("|", "/") for x in paired.row_cells(r)) + " |" for r in res.paired]
    return out + [""]


def runs_markdown(res: ExperimentResult) -> list[str]:
    """The trainings the experiment asked for: trained in this invocation, or reused (trained before the same
    way, with the same code: the run key holds the source hash)."""
    by_dir = {}
    for r in res.runs:
        if r.run_dir:
            by_dir.setdefault(r.run_dir, r)
    if not by_dir:
        return []
    trained = [d for d, r in by_dir.items() if not r.skipped]
    reused = [d for d, r in by_dir.items() if r.skipped]
    out = [f"Runs: {len(trained)} trained here, {len(reused)} reused (`--force` trains them again)."]
    out += [f"- trained: `{d}`" for d in trained] + [f"- reused: `{d}`" for d in reused]
    return out + [""]


def markdown(res: ExperimentResult) -> str:
    header, rows, _ = table_rows(res)
    out = [
        f"## {res.title}",
        "",
        f"Ours: {_metric(res)} on `{res.dataset}` ({res.profile} profile); the paper's: {res.paper_dataset}. "
        f"Time: {res.seconds / 60:.1f} min.",
        "",
    ]
    if rows:
        out += ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
        out += ["| " + " | ".join(x.replace("|", "/") for x in line) + " |" for line in rows] + [""]
    if res.claims:
        out += ["| claim | verdict | evidence | data |", "|---|---|---|---|"]
        out += [f"| {c.text} | **{c.verdict}** | {c.evidence} | {c.data} |" for c in res.claims] + [""]
    out += _paired_markdown(res)
    out += [f"- {n}" for n in res.notes] + [""]
    out += runs_markdown(res)
    out += [""] + [f"![{f}]({f})" for f in res.figures] + [""]
    return "\n".join(out)


def plot_table(res: ExperimentResult, out: Path) -> str | None:
    """Ours (mean, std as an error bar) beside the paper's number, per system and column: <name>.png."""
    rows = [r for r in res.rows if any(c.mean is not None for c in r.cells.values())]
    if not rows or res.name.startswith("fig"):
        return None
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    fig = Figure(figsize=(8, 0.5 + 0.45 * len(rows) * len(res.columns)), layout="constrained")
    FigureCanvasAgg(fig)
    ax = fig.add_subplot()
    labels, ys = [], 0
    for r in rows:
        for c in res.columns:
            cell = r.cells.get(c)
            mean = cell.mean if cell is not None and cell.mean is not None else 0.0
            ax.barh(
                ys,
                mean,
                xerr=(cell.std or 0) if cell else 0,
                color="#e0a030" if cell and cell.near_chance else "#4878a8",
            )
            if r.paper.get(c) is not None:
                ax.plot(r.paper[c], ys, "k|", markersize=16, mew=2.5)
            labels.append(f"{r.system} ({c})" if len(res.columns) > 1 else r.system)
            ys += 1
    ax.set_yticks(range(ys), labels, fontsize=8)
    ax.invert_yaxis()
    ax.set_xlabel(
        f"{res.metric}: bars ours on {res.dataset} (orange: near chance), | the paper's on {res.paper_dataset}"
    )
    ax.set_title(res.title, fontsize=9)
    name = f"{res.name}.png"
    fig.savefig(out / name, dpi=110)
    return name


def data_section(results: list[ExperimentResult]) -> list[str]:
    """What each synthetic set the experiments ran on holds, and what a verdict on it can and cannot say."""
    kinds = {r.dataset: synthetic_kind(r.dataset) for r in results}
    lines = [f"- {name}: {describe(kind)}" for name, kind in kinds.items() if kind]
    return ["## The data", "", *lines, ""] if lines else []


def write_report(results: list[ExperimentResult], out: Path, environment: dict | None = None) -> Path:
    """report.md and results.json in `out` (rewritten whole after each experiment, atomically)."""
    out.mkdir(parents=True, exist_ok=True)
    for res in results:
        name = plot_table(res, out)
        if name and name not in res.figures:
            res.figures.insert(0, name)
    env = {"python": platform.python_version(), "machine": platform.platform(), **(environment or {})}
    head = [
        "# bench reproduce",
        "",
        "Each experiment of the paper on this machine. Ours are measured here; the paper's numbers are FI's "
        "(Tables I-III) and MART's (Table IV): on other data the difference says how far the setting is from "
        "the paper's, not whether the paper is right. Claims are judged against the run-to-run spread, never "
        "against zero: over seeds by Student's t (each side's n-1 df; a single run, or runs that agree, take the "
        "spread pooled over the experiment), over folds by Nadeau and Bengio's corrected resampled t; a "
        "'no difference' claim by TOST at a stated margin (±1 point unless it says otherwise), 'not testable "
        "(underpowered)' when its interval is wider than the margin. Each verdict names the data it rests on. "
        "MldrNet is also compared with each system on the same test images (exact McNemar, paired bootstrap, "
        "Holm). A model whose validation accuracy covered less than "
        f"{USABLE_SHARE:.0%} of the way from chance to 100 % is marked '{NEAR_CHANCE_NOTE}' and makes the "
        "comparisons it is in not testable.",
        "",
        f"Environment: {json.dumps(env)}",
        "",
    ]
    head += data_section(results)
    summary = ["| experiment | minutes | claims |", "|---|---|---|"] + [
        f"| {r.name} | {r.seconds / 60:.1f} | " + ", ".join(f"{c.verdict}" for c in r.claims) + " |" for r in results
    ]
    text = "\n".join(head + summary + [""] + [markdown(r) for r in results])
    atomic_write_text(out / "report.md", text)
    payload = {"format": FORMAT, "environment": env, "experiments": [r.to_dict() for r in results]}
    atomic_write_text(out / "results.json", json.dumps(payload, indent=2, allow_nan=False))
    return out / "report.md"
