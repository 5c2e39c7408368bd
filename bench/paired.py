"""MldrNet against each baseline on the same test images: the exact McNemar p, the paired-bootstrap 95 % interval
of the accuracy difference, each accuracy's 95 % Wilson interval, and Holm's correction over the family. The
inputs are per-image prediction files (mldrnet.training.predictions), matched by image path; `bench compare`
prints these rows after its main table and `bench reproduce` puts them in its report. Torch-free."""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

from mldrnet.errors import BenchError, one_line
from mldrnet.evaluation import statistics
from mldrnet.training.predictions import Predictions, aligned

REFERENCE_MODEL = "mldrnet"


@dataclass(frozen=True)
class PairedRow:
    a: str  # MldrNet (or the system compared), named as the table names it
    b: str  # the baseline
    images: int = 0  # test images both scored
    acc_a: float = math.nan  # % on the shared images
    acc_b: float = math.nan
    wilson_a: tuple[float, float] = (math.nan, math.nan)  # %
    wilson_b: tuple[float, float] = (math.nan, math.nan)
    diff: float = math.nan  # acc_a - acc_b, points
    boot_low: float = math.nan  # paired-bootstrap 95 % percentile interval of diff, points
    boot_high: float = math.nan
    only_a: int = 0  # images only A got right
    only_b: int = 0
    p: float = math.nan  # exact McNemar, two-sided
    p_holm: float = math.nan  # Holm-adjusted over the family of rows it was computed with
    problem: str = ""  # why there is no test (no file, different images)

    def to_dict(self) -> dict:
        """JSON-ready: NaN (no test) as null, also inside the intervals."""

        def clean(v):
            if isinstance(v, tuple):
                return [clean(x) for x in v]
            return None if isinstance(v, float) and math.isnan(v) else v

        return {k: clean(v) for k, v in asdict(self).items()}


def paired_row(name_a: str, a: Predictions, name_b: str, b: Predictions, seed: int = 0) -> PairedRow:
    try:
        right_a, right_b, n = aligned(a, b)
    except BenchError as e:
        return PairedRow(name_a, name_b, problem=one_line(e))
    if n == 0:
        return PairedRow(name_a, name_b, problem="no test image in common")
    k_a, k_b = int(right_a.sum()), int(right_b.sum())
    mc = statistics.mcnemar_exact(right_a, right_b)
    boot = statistics.paired_bootstrap(right_a, right_b, seed=seed)
    wa, wb = statistics.wilson(k_a, n), statistics.wilson(k_b, n)
    return PairedRow(
        name_a,
        name_b,
        n,
        100.0 * k_a / n,
        100.0 * k_b / n,
        (100.0 * wa[0], 100.0 * wa[1]),
        (100.0 * wb[0], 100.0 * wb[1]),
        100.0 * boot.estimate,
        100.0 * boot.low,
        100.0 * boot.high,
        mc.only_a,
        mc.only_b,
        mc.pvalue,
    )


def with_holm(rows: list[PairedRow]) -> list[PairedRow]:
    """The rows with Holm-adjusted p over those that have a test."""
    adjusted = statistics.holm([r.p for r in rows])
    return [replace(r, p_holm=h) for r, h in zip(rows, adjusted)]


def family(reference: tuple[str, Predictions | None], others: list[tuple[str, Predictions | None]]) -> list[PairedRow]:
    """The reference system against each other one (a missing file becomes a row with its problem), Holm over
    the rows that could be tested."""
    name_a, a = reference
    rows = []
    for name_b, b in others:
        if a is None or b is None:
            missing = name_a if a is None else name_b
            rows.append(PairedRow(name_a, name_b, problem=f"no per-image predictions of {missing}"))
        else:
            rows.append(paired_row(name_a, a, name_b, b))
    return with_holm(rows)


def load_or_none(path: str | Path | None) -> Predictions | None:
    if path is None or not Path(path).is_file():
        return None
    try:
        return Predictions.load(path)
    except BenchError:
        return None


def concatenated(parts: list[Predictions]) -> Predictions | None:
    """Several disjoint test sets of one system (the folds of a cross-validation) as one set of predictions."""
    import numpy as np

    if not parts:
        return None
    return Predictions(
        tuple(p for part in parts for p in part.paths),
        np.concatenate([part.labels for part in parts]),
        np.concatenate([part.probs for part in parts]),
        parts[0].classes,
        {**parts[0].meta, "parts": len(parts)},
    )


# --- bench compare: one file per accuracy row ------------------------------------------------------------------


def compare_family(folder: Path, models: list[str] | None = None) -> tuple[list[PairedRow], str]:
    """MldrNet against each other model of a compare run, on the predictions of each model's reference row
    (PyTorch fp32 on the CPU) or, without one, its first fp32 row; (rows, which rows were used). `models` keeps
    only the models of the run (files of an earlier run in the same folder are ignored)."""
    chosen: dict[str, tuple[tuple, Predictions]] = {}
    for path in sorted(Path(folder).glob("*.npz")):
        try:
            pred = Predictions.load(path)
        except BenchError:
            continue
        model = str(pred.meta.get("model", path.name.split(".")[0]))
        if models is not None and model not in models:
            continue
        rank = (not pred.meta.get("reference", False), pred.meta.get("precision") != "fp32", path.name)
        if model not in chosen or rank < chosen[model][0]:
            chosen[model] = (rank, pred)
    if REFERENCE_MODEL not in chosen or len(chosen) < 2:
        return [], ""
    used = ", ".join(f"{m} {p.meta.get('variant', '?')} {p.meta.get('precision', '?')}" for m, (_, p) in chosen.items())
    ref = chosen.pop(REFERENCE_MODEL)[1]
    return family((REFERENCE_MODEL, ref), [(m, p) for m, (_, p) in chosen.items()]), used


# --- the rows as text: bench compare's rich table and bench reproduce's report --------------------------------

HEADER = (
    "A",
    "B",
    "images",
    "A top-1 % [95 % Wilson]",
    "B top-1 % [95 % Wilson]",
    "A - B (points) [95 % paired bootstrap]",
    "only A / only B right",
    "McNemar p",
    "Holm p",
)
CAPTION = (
    "the same test images for both; A - B with the 95 % percentile interval of a paired bootstrap (2000 resamples "
    "of the test images, seeded); exact McNemar p on the images only one of the two got right; Holm's correction "
    "over the rows"
)


def _ci(x: float, ci: tuple[float, float]) -> str:
    return f"{x:.2f} [{ci[0]:.1f}, {ci[1]:.1f}]"


def p_text(p: float) -> str:
    return "-" if math.isnan(p) else (f"{p:.3f}" if p >= 0.001 else f"{p:.1e}")


def row_cells(r: PairedRow) -> list[str]:
    if r.problem:
        return [r.a, r.b, "-", "-", "-", r.problem, "-", "-", "-"]
    return [
        r.a,
        r.b,
        str(r.images),
        _ci(r.acc_a, r.wilson_a),
        _ci(r.acc_b, r.wilson_b),
        f"{r.diff:+.2f} [{r.boot_low:+.2f}, {r.boot_high:+.2f}]",
        f"{r.only_a} / {r.only_b}",
        p_text(r.p),
        p_text(r.p_holm),
    ]
