"""Latency under load: p99 latency against offered QPS, one curve per engine row, from the server search's steps.

The deadline (`--target-latency-ms`) is a horizontal line; each row's knee, its highest VALID offered load, is a
star with its QPS written beside it. VALID steps are filled markers, INVALID ones hollow (LoadGen may call a step
INVALID for its duration or counts even under the deadline: the record's reasons say which). matplotlib's object
API (`Figure`, the Agg canvas): no display, no pyplot state.
"""

from __future__ import annotations

from pathlib import Path

from matplotlib.figure import Figure
from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

from bench.mlperf.record import MlperfRecord

PLOT_NAME = "server_p99_vs_qps.png"
MARKERS = "osD^v<>pPXh"


def write_server_plot(records: list[MlperfRecord], out_dir: Path, machine: str = "") -> Path | None:
    """The plot of every server record with search steps (None when there is none); `machine`: the CPU or GPU
    and the date, under the title."""
    rows = [r for r in records if r.scenario == "server" and r.search]
    if not rows:
        return None
    fig = Figure(figsize=(8, 5), layout="constrained")
    ax = fig.add_subplot()
    deadline = None
    for i, r in enumerate(rows):
        steps = sorted((s for s in r.search if s.get("p99_ms") is not None), key=lambda s: s["offered_qps"])
        if not steps:
            continue
        label = f"{r.model} {r.variant} {r.precision}"
        color = f"C{i % 10}"
        marker = MARKERS[i % len(MARKERS)]
        ax.plot([s["offered_qps"] for s in steps], [s["p99_ms"] for s in steps], "-", color=color, alpha=0.6)
        for s in steps:
            filled = s["validity"] == "VALID"
            ax.plot(
                s["offered_qps"],
                s["p99_ms"],
                marker,
                color=color,
                markerfacecolor=color if filled else "none",
                markersize=7,
            )
        ax.plot([], [], marker + "-", color=color, label=label)
        best = [s for s in steps if s["validity"] == "VALID"]
        if best:
            knee = max(best, key=lambda s: s["offered_qps"])
            ax.plot(knee["offered_qps"], knee["p99_ms"], "*", color=color, markersize=18, markeredgecolor="black")
            ax.annotate(
                f"knee {knee['offered_qps']:.3g} QPS",
                (knee["offered_qps"], knee["p99_ms"]),
                textcoords="offset points",
                xytext=(8, -14),
                fontsize=9,
                color=color,
            )
        deadline = r.target_latency_ms if r.target_latency_ms is not None else deadline
    if deadline is not None:
        ax.axhline(deadline, color="red", linestyle="--", linewidth=1.2, label=f"deadline p99 {deadline:g} ms")
    ax.set_yscale("log")
    ax.yaxis.set_major_locator(LogLocator(subs=(1.0, 2.0, 5.0)))  # plain 20, 50, 100: never "6x10^1"
    ax.yaxis.set_major_formatter(FuncFormatter(lambda v, _: f"{v:g}"))
    ax.yaxis.set_minor_formatter(NullFormatter())
    ax.set_xlabel("offered load (queries/s, Poisson arrivals; 1 sample per query)")
    ax.set_ylabel("p99 latency (ms, LoadGen)")
    title = "Server scenario (LoadGen): p99 latency vs offered load\nfilled: VALID, hollow: INVALID, star: the knee"
    ax.set_title(title + (f"\n{machine}" if machine else ""), fontsize=10)
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    path = Path(out_dir) / PLOT_NAME
    fig.savefig(path, dpi=110)
    return path
