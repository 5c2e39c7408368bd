"""What an experiment produces: rows of systems, cells of repeated runs, claims, figures. Torch-free.

A `Cell` holds one system's runs in one column (seeds of a training, or folds of a cross-validation); its mean
and standard deviation are what tables show ("mean ± std over n") and what the claim checker compares. Each run
keeps how its model was trained and whether it stayed near chance, so no number leaves without them.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import asdict, dataclass, field


@dataclass(frozen=True)
class Run:
    value: float | None  # the measured number (test top-1 %, or a per-class TPR %), None when the run failed
    index: int = 0  # the seed, or the fold
    how_trained: str = ""
    near_chance: bool = False
    error: str | None = None
    seconds: float = 0.0
    skipped: bool = False  # reused: trained before with the same configuration
    run_dir: str = ""  # its run folder: best.pt, result.json, predictions.npz (per-image test predictions)
    test_images: int = 0  # test images its value was measured on (0: not known, or not an accuracy)

    @property
    def ok(self) -> bool:
        return self.error is None and self.value is not None and math.isfinite(self.value)


@dataclass(frozen=True)
class Cell:
    runs: tuple[Run, ...] = ()
    unit: str = "seeds"  # what the runs repeat over: "seeds" or "folds"
    note: str = ""  # e.g. "not evaluable: 3 images, fewer than 5 folds"
    folds: int = 0  # K of a K-fold cross-validation (unit "folds"; 0: the folds present), for Nadeau-Bengio
    chosen_c: tuple[float, ...] = ()  # small sets: the classifier's C per fold, chosen on that fold's inner folds

    @property
    def values(self) -> list[float]:
        return [r.value for r in self.runs if r.ok]

    @property
    def n(self) -> int:
        return len(self.values)

    @property
    def mean(self) -> float | None:
        return statistics.fmean(self.values) if self.values else None

    @property
    def std(self) -> float | None:
        """Sample standard deviation over the runs (None with fewer than two: no spread is known)."""
        return statistics.stdev(self.values) if self.n >= 2 else None

    @property
    def test_images(self) -> int:
        """Test images behind the mean: one run's for seeds (each seed scores the same test split), all folds'
        for folds (disjoint test folds); 0 when not known."""
        counts = [r.test_images for r in self.runs if r.ok and r.test_images]
        if not counts:
            return 0
        return sum(counts) if self.unit == "folds" else max(counts)

    @property
    def near_chance(self) -> bool:
        """One of its runs stayed near chance (a model that did not learn): its mean and spread mix a trained
        model with an untrained one, so the cell is marked and claims do not judge on it."""
        return any(r.near_chance for r in self.runs if r.ok)

    @property
    def how_trained(self) -> str:
        hows = list(dict.fromkeys(_without_seed(r.how_trained) for r in self.runs if r.how_trained))
        return "; ".join(hows)

    @property
    def errors(self) -> list[str]:
        return [r.error for r in self.runs if r.error]

    def text(self, spec: str = ".2f", count: bool = True) -> str:
        """'67.24 ± 0.51 (3 seeds)', '66.10 (1 seed)' (without the count: '67.24 ± 0.51'), or why there is no
        number: the note up to its colon ('not evaluable'), or 'failed'."""
        if self.mean is None:
            return self.note.split(":")[0] if self.note else ("failed" if self.errors else "-")
        unit = self.unit if self.n != 1 else self.unit.rstrip("s")
        spread = f" ± {self.std:{spec}}" if self.std is not None else ""
        return f"{self.mean:{spec}}{spread}" + (f" ({self.n} {unit})" if count else "")


def _without_seed(how: str) -> str:
    return ", ".join(part for part in how.split(", ") if not part.startswith("seed "))


@dataclass(frozen=True)
class Row:
    system: str  # what the paper calls it ("MldrNet", "4 levels", "mean")
    model: str  # the zoo name that was trained ("" for a system with no model)
    paper: dict[str, float | None] = field(default_factory=dict)  # column -> the paper's number
    cells: dict[str, Cell] = field(default_factory=dict)  # column -> ours


@dataclass(frozen=True)
class Claim:
    text: str  # the paper's claim, in its words where possible
    verdict: str  # one of VERDICTS
    evidence: str  # the numbers it was judged on, and the margin
    data: str = ""  # the data the verdict rests on (dataset, test images, runs)

    def to_dict(self) -> dict:
        return asdict(self)


SUPPORTED, NOT_SUPPORTED, NOT_TESTABLE = "supported", "not supported", "not testable"
UNDERPOWERED = "not testable (underpowered)"  # a "no difference" claim whose interval is wider than its margin
VERDICTS = (SUPPORTED, NOT_SUPPORTED, NOT_TESTABLE, UNDERPOWERED)


@dataclass
class ExperimentResult:
    name: str  # table1 ... fig10
    title: str
    dataset: str
    profile: str
    metric: str  # what the cells hold, e.g. "test top-1 accuracy (%)"
    columns: list[str] = field(default_factory=list)
    rows: list[Row] = field(default_factory=list)
    claims: list[Claim] = field(default_factory=list)
    figures: list[str] = field(default_factory=list)  # PNG file names in the report folder
    notes: list[str] = field(default_factory=list)
    seconds: float = 0.0
    paper_dataset: str = "FI"  # what the paper's numbers were measured on
    paired: list = field(default_factory=list)  # bench.paired.PairedRow: MldrNet against each system, same images
    runs: list[Run] = field(default_factory=list)  # every training it asked for (trained here, or reused)

    def row(self, model: str) -> Row | None:
        return next((r for r in self.rows if r.model == model), None)

    def cell(self, model: str, column: str | None = None) -> Cell | None:
        row = self.row(model)
        if row is None:
            return None
        return row.cells.get(column or self.columns[0])

    def to_dict(self) -> dict:
        rows = [
            {
                "system": r.system,
                "model": r.model,
                "paper": r.paper,
                "ours": {c: _cell_dict(cell) for c, cell in r.cells.items()},
            }
            for r in self.rows
        ]
        return {
            "name": self.name,
            "title": self.title,
            "dataset": self.dataset,
            "profile": self.profile,
            "metric": self.metric,
            "paper_dataset": self.paper_dataset,
            "columns": self.columns,
            "rows": rows,
            "claims": [c.to_dict() for c in self.claims],
            "figures": self.figures,
            "notes": self.notes,
            "paired": [p.to_dict() for p in self.paired],
            "runs": [asdict(r) for r in self.runs],
            "seconds": round(self.seconds, 1),
        }


def _cell_dict(cell: Cell) -> dict:
    return {
        "mean": cell.mean,
        "std": cell.std,
        "n": cell.n,
        "unit": cell.unit,
        "near_chance": cell.near_chance,
        "how_trained": cell.how_trained,
        "note": cell.note,
        "test_images": cell.test_images,
        "runs": [asdict(r) for r in cell.runs],
        **({"chosen_c": list(cell.chosen_c)} if cell.chosen_c else {}),
    }
