"""PNG views of compare records: accuracy against latency (batch 1) and against throughput (the best batch: the
offline scenario) per engine and precision, a confusion matrix per model (the paper's
Fig. 6), and per-class true-positive rates as grouped bars (the paper's Figs. 8-10).

Figures are built with matplotlib's object API (`Figure`), so nothing depends on a display or on global pyplot
state: scikit-learn's `ConfusionMatrixDisplay` imports pyplot but draws on the axes it is given, so no figure
enters pyplot's registry. Per-model plots use the reference row (PyTorch fp32 on the CPU) when it succeeded, else
the first successful row of that model: accuracy is the model's, whichever engine produced it.
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench.records import Record
from bench.variants import is_reference

MARKERS = "osD^v<>pPX*h"


def _safe(name: str) -> str:
    return re.sub(r"[^A-Za-z0-9_.-]+", "_", name)


def _is_ref(r: Record) -> bool:
    # a torch.compile row runs the same arithmetic but is not the reference eager row
    return is_reference(r.engine, r.device, r.precision) and not r.variant.endswith("-compile")


def model_rows(records: list[Record]) -> dict[str, Record]:
    """model -> the row whose accuracy stands for the model (reference row first)."""
    chosen: dict[str, Record] = {}
    for r in records:
        if not r.ok or r.accuracy_pct is None:
            continue
        if r.model not in chosen or (_is_ref(r) and not _is_ref(chosen[r.model])):
            chosen[r.model] = r
    return chosen


MIN_Y_SPAN = 10.0  # points of top-1: a narrower axis makes a one-image difference look like a cliff
LABEL_STEP = 11  # points between the stacked labels of models that land on the same spot


def _plain_log_axis(axis) -> None:
    """Plain numbers on a log axis (1, 2, 5, 10, 20 ...), never '10^0' beside '2x10^1'."""
    axis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))
    axis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    axis.set_minor_formatter(NullFormatter())


def _y_range(ax, values: list[float]) -> None:
    """At least MIN_Y_SPAN points, centred on the data, inside 0..100."""
    low, high = min(values), max(values)
    pad = max(0.0, MIN_Y_SPAN - (high - low)) / 2 + 0.08 * (high - low)
    low, high = max(0.0, low - pad), min(100.0, high + pad)
    if high - low < MIN_Y_SPAN:  # squeezed against 0 or 100: extend the other way
        low, high = (0.0, MIN_Y_SPAN) if low == 0.0 else (100.0 - MIN_Y_SPAN, 100.0)
    ax.set_ylim(low, high)


def int8_fails_gate(r: Record) -> bool:
    """An int8 row whose top-1 agreement with PyTorch fp32 is below the gate's limit (or was not measured)."""
    from bench.check import Tolerance

    return r.precision == "int8" and (r.agreement_pct is None or r.agreement_pct < Tolerance().int8_agreement_pct)


def _label_models(ax, ok: list[Record], x_of, fastest_last: bool) -> None:
    """Each model named once, at its fastest engine; models whose labels would land on the same spot (same
    accuracy, nearby x) are stacked, not drawn over each other."""
    placed: list[tuple[float, float]] = []
    for model in dict.fromkeys(r.model for r in ok):
        rows = sorted((r for r in ok if r.model == model), key=x_of)
        ax.plot([x_of(r) for r in rows], [r.accuracy_pct for r in rows], color="0.7", lw=0.8, zorder=1)
        top = rows[-1] if fastest_last else rows[0]
        x, y = float(np.log10(x_of(top))), float(top.accuracy_pct or 0.0)
        stacked = sum(1 for px, py in placed if abs(px - x) < 0.35 and abs(py - y) < 1.5)
        placed.append((x, y))
        ax.annotate(
            model + (" (near chance)" if top.near_chance else ""),
            (x_of(top), top.accuracy_pct),
            textcoords="offset points",
            xytext=(4 if fastest_last else -4, 6 + LABEL_STEP * stacked),
            ha="left" if fastest_last else "right",
            fontsize=8,
            arrowprops={"arrowstyle": "-", "color": "0.6", "lw": 0.5} if stacked else None,
        )


def _styles(rows: list[Record]) -> dict[tuple[str, str], tuple[str, str]]:
    """(variant, precision) -> (marker, colour), the same in every panel of a figure."""
    keys = sorted({(r.variant, r.precision) for r in rows})
    return {key: (MARKERS[i % len(MARKERS)], f"C{i % 10}") for i, key in enumerate(keys)}


def _draw_scatter(ax, ok: list[Record], x_of, fastest_last: bool, styles: dict) -> None:
    """One marker per engine variant + precision; near-chance models hollow, int8 rows that fail the agreement
    gate crossed in red."""
    for (variant, precision), (marker, colour) in styles.items():
        rows = [r for r in ok if (r.variant, r.precision) == (variant, precision)]
        for hollow in (False, True):
            part = [r for r in rows if bool(r.near_chance) == hollow]
            if part:
                ax.scatter(
                    [x_of(r) for r in part],
                    [r.accuracy_pct for r in part],
                    marker=marker,
                    s=50,
                    label=None if hollow and len(part) < len(rows) else f"{variant} {precision}",
                    zorder=3,
                    color=colour,
                    facecolors="none" if hollow else None,
                )
    failing = [r for r in ok if int8_fails_gate(r)]
    if failing:
        ax.scatter(
            [x_of(r) for r in failing],
            [r.accuracy_pct for r in failing],
            marker="x",
            s=110,
            color="red",
            zorder=4,
            label="int8 below the agreement gate",
        )
    if any(r.near_chance for r in ok):
        ax.scatter([], [], marker="o", s=50, facecolors="none", edgecolors="0.3", label="hollow: near chance")
    _label_models(ax, ok, x_of, fastest_last)


def _accuracy_scatter(
    ok: list[Record],
    failed: list[Record],
    x_of,
    fastest_last: bool,
    xlabel: str,
    title: str,
    subtitle: str = "",
) -> Figure:
    """Top-1 against `x_of(row)` (log scale), one panel per serving size (latencies at different sizes share no
    axis); failed rows listed under the plot, every accuracy's training said."""
    sizes = sorted({r.timing_size or r.input_size or 0 for r in ok})
    fig = Figure(figsize=(8 if len(sizes) == 1 else 5.5 * len(sizes), 5.5), layout="constrained")
    axes = fig.subplots(1, len(sizes), sharey=True, squeeze=False)[0]
    styles = _styles(ok)
    for ax, size in zip(axes, sizes):
        rows = [r for r in ok if (r.timing_size or r.input_size or 0) == size]
        _draw_scatter(ax, rows, x_of, fastest_last, styles)
        ax.set_xscale("log")
        _plain_log_axis(ax.xaxis)
        ax.margins(x=0.15)  # room for the model names beside the fastest points
        ax.set_xlabel(xlabel + (f", at {size} px" if size else ""))
        ax.grid(True, alpha=0.3)
        ax.legend(fontsize=7)
    _y_range(axes[0], [r.accuracy_pct for r in ok if r.accuracy_pct is not None])
    axes[0].set_ylabel("top-1 accuracy on the test split (%)")
    fig.suptitle(title + (f"\n{subtitle}" if subtitle else ""), fontsize=11)
    notes = [f"{r.model}: {r.how_trained}" for r in dict((r.model, r) for r in ok).values() if r.how_trained]
    lines = ["how trained: " + "; ".join(notes)] if notes else []
    if failed:
        lines.append("failed (no point): " + "; ".join(f"{r.model} {r.variant} {r.precision}" for r in failed))
    if lines:
        fig.text(0.01, 0.005, "\n".join(lines), fontsize=6, wrap=True, va="bottom")
        fig.get_layout_engine().set(rect=(0, 0.04 + 0.03 * len(lines), 1, 0.96 - 0.03 * len(lines)))
    return fig


def _failed(records: list[Record]) -> list[Record]:
    return list({(r.model, r.variant, r.precision): r for r in records if not r.ok}.values())


def latency_figure(records: list[Record], subtitle: str = "") -> Figure | None:
    """Top-1 against the median latency at the run's smallest batch (MLPerf's single-stream scenario)."""
    ok = [r for r in records if r.ok and r.lat_p50_ms is not None and r.accuracy_pct is not None]
    if not ok:
        return None
    batch = min(r.batch_size for r in ok)  # latency is comparable only at one batch size: the smallest
    return _accuracy_scatter(
        [r for r in ok if r.batch_size == batch],
        _failed(records),
        lambda r: r.lat_p50_ms,
        False,
        f"median latency at batch {batch} (ms, log scale)",
        "Accuracy vs latency per engine and precision (single-stream)",
        subtitle,
    )


def throughput_figure(records: list[Record], subtitle: str = "") -> Figure | None:
    """Top-1 against the best throughput of each (model, engine variant, precision) over the run's batch sizes
    (MLPerf's offline scenario), one marker per variant + precision."""
    best: dict[tuple[str, str, str], Record] = {}
    for r in records:
        if r.ok and r.throughput_ips is not None and r.accuracy_pct is not None:
            key = (r.model, r.variant, r.precision)
            if key not in best or r.throughput_ips > (best[key].throughput_ips or 0.0):
                best[key] = r
    if not best:
        return None
    return _accuracy_scatter(
        list(best.values()),
        _failed(records),
        lambda r: r.throughput_ips,
        True,
        "best throughput over the batch sizes (images/s, log scale)",
        "Accuracy vs throughput per engine and precision (offline)",
        subtitle,
    )


def row_rates(cm) -> np.ndarray:
    """Counts -> per-true-class rates (each row sums to 1); a class without test images stays a row of zeros."""
    cm = np.asarray(cm, dtype=np.float64)
    support = cm.sum(axis=1, keepdims=True)
    return np.divide(cm, support, out=np.zeros_like(cm), where=support > 0)


def confusion_panel(ax, cm, classes: list[str], title: str, fontsize: float = 7, title_size: float | None = None):
    """The row-normalized confusion matrix `cm` (counts, true classes as rows) on `ax`, drawn by scikit-learn's
    ConfusionMatrixDisplay on a fixed [0, 1] colour scale (panels compare); returns the image for a colour bar."""
    from sklearn.metrics import ConfusionMatrixDisplay  # scikit-learn is slow to import: only when drawing

    rates = row_rates(cm)
    disp = ConfusionMatrixDisplay(rates, display_labels=list(classes)).plot(
        ax=ax,
        cmap="Blues",
        colorbar=False,
        values_format=".2f",
        xticks_rotation=45,
        im_kw={"vmin": 0, "vmax": 1},
        text_kw={"fontsize": fontsize},
    )
    for (i, j), text in np.ndenumerate(disp.text_):  # it picks text colours from the data's range, not [0, 1]
        text.set_color("white" if rates[i, j] > 0.5 else "black")
    for label in ax.get_xticklabels():
        label.set_horizontalalignment("right")
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=title_size)
    return disp.im_


def plot_confusion(r: Record, path: Path) -> Path:
    """The model's row-normalized confusion matrix, like the paper's Fig. 6."""
    classes = list(r.classes or [str(i) for i in range(len(r.confusion))])
    fig = Figure(figsize=(1.0 + 0.75 * len(classes), 0.8 + 0.7 * len(classes)), layout="constrained")
    ax = fig.add_subplot()
    title = f"{r.model} ({r.variant} {r.precision}): top-1 {r.accuracy_pct:.1f}%"
    im = confusion_panel(ax, r.confusion, classes, title)
    fig.colorbar(im, ax=ax, fraction=0.046)
    fig.savefig(path, dpi=120)
    return path


def per_class_figure(records: list[Record], subtitle: str = "") -> Figure | None:
    """Grouped bars of each model's per-class true positive rate, with the rate of a uniform guess (100 / classes)
    drawn as the chance line; the legend sits under the axes, never over the bars."""
    rows = [r for r in model_rows(records).values() if r.per_class_tpr_pct]
    if not rows:
        return None
    classes = list(rows[0].classes or range(len(rows[0].per_class_tpr_pct or [])))
    rows = [r for r in rows if len(r.per_class_tpr_pct or []) == len(classes)]
    width = 0.8 / len(rows)
    fig = Figure(figsize=(max(8, 1.2 * len(classes)), 5), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(classes))
    for i, r in enumerate(rows):
        values = [np.nan if t is None else t for t in (r.per_class_tpr_pct or [])]  # no test images: no bar
        label = r.model + (" (near chance)" if r.near_chance else "")
        ax.bar(x + (i - (len(rows) - 1) / 2) * width, values, width, label=label, hatch="//" if r.near_chance else None)
    chance = 100.0 / len(classes)
    ax.axhline(chance, color="0.2", ls="--", lw=1, label=f"chance ({chance:.1f} %: a uniform guess)")
    ax.set_xticks(x, [str(c) for c in classes], rotation=30, ha="right")
    ax.set_ylabel("true positive rate (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Per-class true positive rate on the test split" + (f"\n{subtitle}" if subtitle else ""))
    ax.grid(True, axis="y", alpha=0.3)
    fig.legend(*ax.get_legend_handles_labels(), loc="outside lower center", fontsize=8, ncols=min(len(rows) + 1, 4))
    return fig


def machine_line(environment: dict | None) -> str:
    """'<cpu or gpu>, <threads> threads, <date>': what the plot's numbers were measured on, and when."""
    env = environment or {}
    device = env.get("gpu") or env.get("cpu") or "unknown machine"
    threads = f", {env['threads']} threads" if env.get("threads") else ""
    when = str(env.get("created") or "")[:10]
    return f"{device}{threads}" + (f", {when}" if when else "")


def write_plots(records: list[Record], out_dir: Path, environment: dict | None = None) -> list[Path]:
    """Every plot of a compare run; titles name the machine and the date (`environment`, bench.envinfo)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    subtitle = machine_line(environment) if environment else ""
    figures = {
        "accuracy_vs_latency.png": latency_figure(records, subtitle),
        "accuracy_vs_throughput.png": throughput_figure(records, subtitle),
        "per_class_tpr.png": per_class_figure(records, subtitle),
    }
    written: list[Path | None] = []
    for name, fig in figures.items():
        if fig is not None:
            fig.savefig(out_dir / name, dpi=120)
            written.append(out_dir / name)
    for model, r in model_rows(records).items():
        if r.confusion:
            written.append(plot_confusion(r, out_dir / f"confusion_{_safe(model)}.png"))
    return [p for p in written if p is not None]
