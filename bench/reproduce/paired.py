"""MldrNet against each other system of an experiment on the same test images (bench.paired: exact McNemar, the
paired-bootstrap interval, Wilson intervals, Holm over the experiment's family), from the per-image predictions
every training writes beside its result.json.

Seeds: each system's first run (seed 0), since every seed is scored on the same test images and one paired test
per pair of systems is the family Holm corrects. Folds: every fold's predictions together (the folds' test images
are disjoint, so each image is scored once by each system). Columns whose runs are those of an earlier column
(Fig. 6's confusion columns) are not tested twice; systems without a run folder (hand-crafted rows of Figs. 8-10,
whose cells are cross-validated classifiers, not trainings) have no predictions and are left out."""

from __future__ import annotations

from pathlib import Path

from bench import paired
from bench.reproduce.results import Cell, ExperimentResult
from mldrnet.training.predictions import PREDICTIONS_FILE, Predictions

REFERENCE = "mldrnet"


def _predictions(cell: Cell | None) -> Predictions | None:
    if cell is None:
        return None
    runs = sorted((r for r in cell.runs if r.ok and r.run_dir), key=lambda r: r.index)
    if cell.unit == "folds":
        parts = [paired.load_or_none(Path(r.run_dir) / PREDICTIONS_FILE) for r in runs]
        return paired.concatenated([p for p in parts if p is not None]) if parts and None not in parts else None
    return paired.load_or_none(Path(runs[0].run_dir) / PREDICTIONS_FILE) if runs else None


def _runs_of(cell: Cell | None) -> frozenset[str]:
    return frozenset(r.run_dir for r in cell.runs if r.run_dir) if cell is not None else frozenset()


def families(res: ExperimentResult) -> list[paired.PairedRow]:
    """MldrNet's row against every other row with runs, per column; Holm over all of the experiment's rows."""
    ref = res.row(REFERENCE)
    if ref is None:
        return []
    rows, seen = [], set()
    for column in res.columns:
        mine = ref.cells.get(column)
        runs = _runs_of(mine)
        if not runs or runs in seen:
            continue
        seen.add(runs)
        suffix = f" ({column})" if len(res.columns) > 1 else ""
        others = [r for r in res.rows if r is not ref and r.model and _runs_of(r.cells.get(column))]
        if not others:
            continue
        family = paired.family(
            (ref.system + suffix, _predictions(mine)),
            [(r.system + suffix, _predictions(r.cells.get(column))) for r in others],
        )
        rows += family
    return paired.with_holm(rows)
