"""`bench reproduce EXPERIMENT`: run experiments in order, print each one's tables, and rewrite the report after
each, so an interrupted `all` keeps what it finished (the trained runs are reused by the next invocation)."""

from __future__ import annotations

import time
from collections.abc import Callable

from bench.reproduce import claims, paired, smallsets, tables, visual
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


# the systems each experiment trains, where a start from ImageNet weights can apply (the rest train MldrNet alone)
SYSTEMS = {
    "table3": tables.TABLE3_SYSTEMS + tables.TABLE3_EXTENDED,
    "table4": tables.TABLE4_SYSTEMS,
    "fig6": visual.FIG6_MODELS,
    "fig7": visual.FIG6_MODELS,
    "fig8": smallsets.CNNS,
    "fig9": smallsets.CNNS,
    "fig10": smallsets.CNNS,
}


def fine_tuned(experiment: str) -> list[str]:
    """The baselines the paper fine-tuned from ImageNet that `experiment` trains: those --pretrained and --weights
    start from ImageNet weights (mldrnet.training.start)."""
    from mldrnet.training.start import takes_imagenet

    return [m for _, m in SYSTEMS.get(experiment, ()) if takes_imagenet(m)]


def check_start(names: list[str], ctx: ReproduceConfig, experiment: str) -> None:
    """--pretrained / --weights, before any training: refused for an experiment that fine-tunes nothing, and the
    weights of every fine-tuned model looked up (a missing file, or no cache and no network: one line)."""
    from mldrnet.training.start import imagenet_start

    if not (ctx.pretrained or ctx.weights):
        return
    models = list(dict.fromkeys(m for name in names for m in fine_tuned(name)))
    if not models and experiment != ALL:
        option = "--weights" if ctx.weights else "--pretrained"
        raise BenchError(
            f"{option} does not apply to {experiment}: it trains no baseline the paper fine-tuned (they are in "
            "table3, table4, fig6 to fig10); drop it"
        )
    for model in models:
        imagenet_start(model, ctx.pretrained, ctx.weights)


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
        start, first_run = time.perf_counter(), len(ctx.runs)
        try:
            res = EXPERIMENTS[name](ctx)
        except Exception as e:  # one experiment's failure (its data, its model) leaves the others to run
            if ctx.debug:
                raise
            res = ExperimentResult(
                name, name, ctx.dataset or "synthetic", ctx.profile, "-", notes=[f"{FAILED}{one_line(e)}"]
            )
        res.seconds = time.perf_counter() - start
        res.notes += cell_notes(res)
        res.runs = ctx.runs[first_run:]
        _statistics(res, ctx)
        results.append(res)
        write_report(results, ctx.out)
        if on_result:
            on_result(res)
    return results


def _statistics(res: ExperimentResult, ctx: ReproduceConfig) -> None:
    """Each claim names its data; MldrNet against each system on the same test images (McNemar, bootstrap)."""
    res.claims = claims.on_data(res)
    if res.claims:
        res.notes.append(
            f"{len(res.claims)} claim(s) tested, each at 95 % (a claim of several comparisons needs every one of "
            "them to hold: no correction across them)"
        )
    try:
        res.paired = paired.families(res)
    except Exception as e:  # a damaged predictions file costs the paired table, not the experiment
        if ctx.debug:
            raise
        res.notes.append(f"no paired tests: {one_line(e)}")


FAILED = "failed: "  # the note of an experiment that raised (run_experiments)
NO_MODEL = "did not train"  # the figures' note when the model they show could not be trained


def failures(results: list[ExperimentResult]) -> list[str]:
    """What failed in a reproduce run, one line each: an experiment that raised, a training of a table's cell,
    a figure whose model did not train. Empty: everything ran (a "not evaluable" cell is the protocol's answer,
    not a failure). The CLI exits non-zero when this is not empty, after the report is written."""
    lines: list[str] = []
    for res in results:
        failed = [n for n in res.notes if n.startswith(FAILED) or NO_MODEL in n]
        lines += [f"{res.name}: {n}" for n in failed]
        for row in res.rows:
            for column, cell in row.cells.items():
                lines += [f"{res.name}: {row.system} ({column}): training failed: {e}" for e in cell.errors]
    return list(dict.fromkeys(lines))


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
