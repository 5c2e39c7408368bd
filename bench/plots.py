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


def _accuracy_scatter(ok: list[Record], x_of, fastest_last: bool, xlabel: str, title: str, path: Path) -> Path:
    """Top-1 against `x_of(row)` (log scale), one marker per engine variant + precision; each model's engines
    joined by a line (they share its accuracy) and the model named once, at its fastest engine."""
    fig = Figure(figsize=(8, 5.5), layout="constrained")
    ax = fig.add_subplot()
    for i, (variant, precision) in enumerate(sorted({(r.variant, r.precision) for r in ok})):
        rows = [r for r in ok if (r.variant, r.precision) == (variant, precision)]
        ax.scatter(
            [x_of(r) for r in rows],
            [r.accuracy_pct for r in rows],
            marker=MARKERS[i % len(MARKERS)],
            s=50,
            label=f"{variant} {precision}",
            zorder=3,
        )
    for model in dict.fromkeys(r.model for r in ok):
        rows = sorted((r for r in ok if r.model == model), key=x_of)
        ax.plot([x_of(r) for r in rows], [r.accuracy_pct for r in rows], color="0.7", lw=0.8, zorder=1)
        top = rows[-1] if fastest_last else rows[0]
        label = model + (" (near chance)" if top.near_chance else "")
        ax.annotate(
            label,
            (x_of(top), top.accuracy_pct),
            textcoords="offset points",
            xytext=(4, 6) if fastest_last else (-4, 6),
            ha="left" if fastest_last else "right",
            fontsize=8,
        )
    sizes = sorted({r.timing_size or r.input_size for r in ok if (r.timing_size or r.input_size)})
    ax.set_xscale("log")
    ax.margins(x=0.12, y=0.08)  # room for the model names beside the fastest points
    ax.set_xlabel(xlabel + (f", at {'/'.join(map(str, sizes))} px" if sizes else ""))
    ax.set_ylabel("top-1 accuracy on the test split (%)")
    ax.set_title(title)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8)
    trained = dict.fromkeys(f"{r.model}: {r.how_trained}" for r in ok if r.how_trained)
    if trained:  # every accuracy says how its model was trained
        fig.text(0.01, 0.005, "how trained: " + "; ".join(trained), fontsize=6, wrap=True, va="bottom")
        fig.get_layout_engine().set(rect=(0, 0.06, 1, 0.94))
    fig.savefig(path, dpi=120)
    return path


def plot_accuracy_latency(records: list[Record], path: Path) -> Path | None:
    """Top-1 against the median latency at the run's smallest batch (MLPerf's single-stream scenario)."""
    ok = [r for r in records if r.ok and r.lat_p50_ms is not None and r.accuracy_pct is not None]
    if not ok:
        return None
    batch = min(r.batch_size for r in ok)  # latency is comparable only at one batch size: the smallest
    return _accuracy_scatter(
        [r for r in ok if r.batch_size == batch],
        lambda r: r.lat_p50_ms,
        False,
        f"median latency at batch {batch} (ms, log scale)",
        "Accuracy vs latency per engine and precision (single-stream)",
        path,
    )


def plot_accuracy_throughput(records: list[Record], path: Path) -> Path | None:
    """Top-1 against the best throughput of each (model, engine variant, precision) over the run's batch sizes
    (MLPerf's offline scenario), one marker per variant + precision."""
    best: dict[tuple[str, str, str], Record] = {}
    for r in records:
        if r.ok and r.throughput_ips is not None and r.accuracy_pct is not None:
            key = (r.model, r.variant, r.precision)
            if key not in best or r.throughput_ips > best[key].throughput_ips:
                best[key] = r
    if not best:
        return None
    return _accuracy_scatter(
        list(best.values()),
        lambda r: r.throughput_ips,
        True,
        "best throughput over the batch sizes (images/s, log scale)",
        "Accuracy vs throughput per engine and precision (offline)",
        path,
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


def plot_per_class_tpr(records: list[Record], path: Path) -> Path | None:
    rows = [r for r in model_rows(records).values() if r.per_class_tpr_pct]
    if not rows:
        return None
    classes = list(rows[0].classes or range(len(rows[0].per_class_tpr_pct)))
    rows = [r for r in rows if len(r.per_class_tpr_pct) == len(classes)]
    width = 0.8 / len(rows)
    fig = Figure(figsize=(max(8, 1.2 * len(classes)), 4.5), layout="constrained")
    ax = fig.add_subplot()
    x = np.arange(len(classes))
    for i, r in enumerate(rows):
        values = [np.nan if t is None else t for t in r.per_class_tpr_pct]  # no test images: no bar
        ax.bar(x + (i - (len(rows) - 1) / 2) * width, values, width, label=r.model)
    ax.set_xticks(x, classes, rotation=30, ha="right")
    ax.set_ylabel("true positive rate (%)")
    ax.set_ylim(0, 100)
    ax.set_title("Per-class true positive rate on the test split")
    ax.grid(True, axis="y", alpha=0.3)
    ax.legend(fontsize=8, ncols=min(len(rows), 5))
    fig.savefig(path, dpi=120)
    return path


def write_plots(records: list[Record], out_dir: Path) -> list[Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    written = [
        plot_accuracy_latency(records, out_dir / "accuracy_vs_latency.png"),
        plot_accuracy_throughput(records, out_dir / "accuracy_vs_throughput.png"),
        plot_per_class_tpr(records, out_dir / "per_class_tpr.png"),
    ]
    for model, r in model_rows(records).items():
        if r.confusion:
            written.append(plot_confusion(r, out_dir / f"confusion_{_safe(model)}.png"))
    return [p for p in written if p is not None]
