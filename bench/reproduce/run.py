"""`bench reproduce EXPERIMENT`: run experiments in order, print each one's tables, and rewrite the report after
each, so an interrupted `all` keeps what it finished (the trained runs are reused by the next invocation)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.reproduce import smallsets, tables, visual
from bench.reproduce.context import ReproduceConfig
from bench.reproduce.report import write_report
from bench.reproduce.results import ExperimentResult
from mldrnet.errors import BenchError, one_line

EXPERIMENTS: dict[str, Callable[[ReproduceConfig], ExperimentResult]] = {
    "table1": tables.table1,
    "table2": tables.table2,
    "table3": tables.table3,
    "table4": tables.table4,
    "fig5": visual.fig5,
    "fig6": visual.fig6,
    "fig7": visual.fig7,
    "fig8": smallsets.fig8,
    "fig9": smallsets.fig9,
    "fig10": smallsets.fig10,
}
ALL = "all"
ROLE = {"table4": "binary", "fig8": "small", "fig9": "small", "fig10": "small"}  # the rest: the large set


def applicable(ctx: ReproduceConfig, name: str) -> bool:
    """Whether experiment `name` runs on ctx.dataset (always, with the built-in synthetic sets)."""
    try:
        ctx.dataset_for(ROLE.get(name, "large"), name)
    except BenchError:
        return False
    return True


def select(experiment: str, ctx: ReproduceConfig) -> tuple[list[str], list[str]]:
    """(experiments to run, those `all` skips because --dataset does not apply to them)."""
    if experiment == ALL:
        names = list(EXPERIMENTS)
        return [n for n in names if applicable(ctx, n)], [n for n in names if not applicable(ctx, n)]
    if experiment not in EXPERIMENTS:
        raise BenchError(f"unknown experiment {experiment!r}: choose one of {', '.join(EXPERIMENTS)} or all")
    ctx.dataset_for(ROLE.get(experiment, "large"), experiment)  # refuses a dataset the experiment cannot use
    return [experiment], []


def run_experiments(
    names: list[str], ctx: ReproduceConfig, on_result: Callable[[ExperimentResult], None] | None = None
) -> list[ExperimentResult]:
    results: list[ExperimentResult] = []
    for name in names:
        start = time.perf_counter()
        try:
            res = EXPERIMENTS[name](ctx)
        except Exception as e:  # one experiment's failure (its data, its model) leaves the others to run
            if ctx.debug:
                raise
            res = ExperimentResult(
                name, name, ctx.dataset or "synthetic", ctx.profile, "-", notes=[f"failed: {one_line(e)}"]
            )
        res.seconds = time.perf_counter() - start
        res.notes += cell_notes(res)
        results.append(res)
        write_report(results, ctx.out)
        if on_result:
            on_result(res)
    return results


def cell_notes(res: ExperimentResult) -> list[str]:
    """Why a cell has no number, once per reason: the tables show only 'failed' or 'not evaluable'."""
    notes = {}
    for row in res.rows:
        for column, cell in row.cells.items():
            for error in cell.errors:
                notes.setdefault(f"{row.system} ({column}): failed: {error}", None)
            if cell.note and cell.mean is None:
                notes.setdefault(f"{column}: {cell.note}", None)
    return list(notes)
