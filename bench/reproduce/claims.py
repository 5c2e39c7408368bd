"""The paper's claims, checked against this run's numbers. Torch-free, pure: results in, verdicts out.

A claim is "supported", "not supported" or "not testable on this data", always with the numbers it was judged on.
A difference counts only when it is larger than the run-to-run spread, never merely above zero:

- over seeds (independent trainings of each system on the same split): the margin is two standard errors of the
  difference of the two means, 2 sqrt(std_a²/n_a + std_b²/n_b); a side with one run (or a spread estimated from
  two runs that happen to agree) takes the spread pooled over every multi-seed cell of the experiment, so a
  single-run system (VGG-19 in the quick profile, a deterministic feature method) is still judged; with no
  spread anywhere the comparison is not testable.
- over folds (the same test folds for every system: Table IV, Figs. 8-10): the comparison is paired, and the
  margin is two standard errors of the per-fold differences (2 std / sqrt(folds)).

A claim made of several comparisons is not supported as soon as one comparison that can be judged fails, not
testable when none fails but one cannot be judged, and supported when every one holds.

A system whose model stayed near chance (mldrnet.io.provenance) makes every comparison it is in not testable: its
accuracy says nothing about its architecture. So does a system that failed or was not run.
"""

from __future__ import annotations

import math
import statistics
from dataclasses import dataclass

from bench.reproduce.results import NOT_SUPPORTED, NOT_TESTABLE, SUPPORTED, Cell, Claim, ExperimentResult

SE_FACTOR = 2.0  # a difference must exceed 2 standard errors (of the seeds' means, or of the paired folds)


@dataclass(frozen=True)
class Comparison:
    """a - b with the margin it must exceed; `problem` says why it cannot be judged (then the rest is unset)."""

    diff: float = 0.0
    margin: float = 0.0
    problem: str = ""

    @property
    def testable(self) -> bool:
        return not self.problem

    @property
    def greater(self) -> bool:
        """a > b beyond the spread."""
        return self.testable and self.diff > self.margin

    @property
    def not_less(self) -> bool:
        """a >= b: not below b by more than the spread."""
        return self.testable and self.diff >= -self.margin


def _unusable(name: str, cell: Cell | None) -> str:
    if cell is None or cell.mean is None:
        return f"{name} has no result" + (f" ({cell.errors[0]})" if cell is not None and cell.errors else "")
    if cell.near_chance:
        return f"{name} stayed near chance (not trained to a usable level)"
    return ""


def _paired(a: Cell, b: Cell) -> tuple[float, float] | None:
    """(mean difference, margin) over the folds both have, or None without two shared folds."""
    va = {r.index: r.value for r in a.runs if r.ok}
    vb = {r.index: r.value for r in b.runs if r.ok}
    shared = sorted(set(va) & set(vb))
    if len(shared) < 2:
        return None
    diffs = [va[i] - vb[i] for i in shared]
    return statistics.fmean(diffs), SE_FACTOR * statistics.stdev(diffs) / math.sqrt(len(diffs))


def pooled_std(res: ExperimentResult, columns: tuple[str, ...] | None = None) -> float | None:
    """The seed spread pooled over every cell (of `columns`, when the experiment's columns measure different
    things) with two runs or more: the root mean variance."""
    variances = [
        c.std**2
        for r in res.rows
        for col, c in r.cells.items()
        if (columns is None or col in columns) and c.unit == "seeds" and c.std is not None and not c.near_chance
    ]
    return math.sqrt(statistics.fmean(variances)) if variances else None


def compare(name_a: str, a: Cell | None, name_b: str, b: Cell | None, pooled: float | None = None) -> Comparison:
    """a - b against the run-to-run spread (see the module docstring); `pooled` stands in for a side's spread
    when it has one run."""
    problem = _unusable(name_a, a) or _unusable(name_b, b)
    if problem:
        return Comparison(problem=problem)
    if a.unit == "folds" and b.unit == "folds":
        paired = _paired(a, b)
        if paired is None:
            return Comparison(problem=f"{name_a} and {name_b} share fewer than two folds")
        return Comparison(*paired)
    spreads = [s for s in (a.std, b.std, pooled) if s is not None]
    if not spreads:
        return Comparison(problem=f"one run each of {name_a} and {name_b}: no run-to-run spread to judge by")
    fallback = pooled if pooled is not None else max(spreads)
    sa = a.std if a.std is not None else fallback
    sb = b.std if b.std is not None else fallback
    return Comparison(a.mean - b.mean, SE_FACTOR * math.sqrt(sa**2 / a.n + sb**2 / b.n))


def fmt(cmp: Comparison, name_a: str, name_b: str) -> str:
    if not cmp.testable:
        return cmp.problem
    return f"{name_a} - {name_b} = {cmp.diff:+.2f} (margin {cmp.margin:.2f})"


def all_of(text: str, parts: list[tuple[str, Comparison, bool]]) -> Claim:
    """A claim made of comparisons that must all hold: (label, comparison, holds). Not testable when any part
    is; not supported when any part fails."""
    evidence = "; ".join(label for label, _, _ in parts)
    failed = [label for label, c, holds in parts if c.testable and not holds]
    if failed:
        return Claim(text, NOT_SUPPORTED, evidence + f" [fails: {len(failed)} of {len(parts)}]")
    if any(not c.testable for _, c, _ in parts):
        return Claim(text, NOT_TESTABLE, evidence)
    return Claim(text, SUPPORTED, evidence)


def greater(text: str, pairs: list[tuple[str, Cell | None, str, Cell | None]], pooled: float | None = None) -> Claim:
    """Every a > b beyond the spread."""
    parts = []
    for na, a, nb, b in pairs:
        c = compare(na, a, nb, b, pooled)
        parts.append((fmt(c, na, nb), c, c.greater))
    return all_of(text, parts)


# --- the paper's claims, one function per experiment ---------------------------------------------------------------


def table1(res: ExperimentResult) -> list[Claim]:
    """Table I: more levels help up to 4 (2 < 3 < 4), and little after (5 and 6 within the spread of 4 or below)."""
    cell, pooled = {k: res.cell(m) for k, m in LEVEL_MODELS.items()}, pooled_std(res)
    rise = greater(
        "Accuracy rises with the number of levels up to 4 (2 < 3 < 4 levels)",
        [("3 levels", cell[3], "2 levels", cell[2]), ("4 levels", cell[4], "3 levels", cell[3])],
        pooled,
    )
    parts = []
    for k in (5, 6):
        c = compare(f"{k} levels", cell[k], "4 levels", cell[4], pooled)
        parts.append((fmt(c, f"{k} levels", "4 levels"), c, c.testable and c.diff <= c.margin))
    little = all_of("Little is gained beyond 4 levels (5 and 6 levels no better than 4 beyond the spread)", parts)
    return [rise, little]


LEVEL_MODELS = {2: "mldrnet-l2", 3: "mldrnet-l3", 4: "mldrnet", 5: "mldrnet-l5", 6: "mldrnet-l6"}
FUSION_MODELS = {"mean": "mldrnet", "max": "mldrnet-max", "min": "mldrnet-min", "concat": "mldrnet-concat"}


def table2(res: ExperimentResult, well: str = "well", noisy: str = "noisy") -> list[Claim]:
    """Table II: mean >= concat > max > min on the well-labelled set; mean loses the least to label noise."""
    c, pooled = {f: res.cell(m, well) for f, m in FUSION_MODELS.items()}, pooled_std(res)
    mean_concat = compare("mean", c["mean"], "concat", c["concat"], pooled)
    order = all_of(
        "Fusion order on the well-labelled set: mean >= concat > max > min",
        [
            (fmt(mean_concat, "mean", "concat"), mean_concat, mean_concat.not_less),
            *[
                (fmt(x, a, b), x, x.greater)
                for a, b, x in [
                    (a, b, compare(a, c[a], b, c[b], pooled)) for a, b in (("concat", "max"), ("max", "min"))
                ]
            ],
        ],
    )
    return [order, _robustness(res, well, noisy)]


def _drop(res: ExperimentResult, model: str, well: str, noisy: str) -> Cell | None:
    """Per-seed accuracy lost to label noise (well - noisy), as a cell, so its spread is the seeds' spread."""
    a, b = res.cell(model, well), res.cell(model, noisy)
    if a is None or b is None:
        return None
    nb = {r.index: r for r in b.runs if r.ok}
    runs = tuple(
        type(r)(r.value - nb[r.index].value, r.index, r.how_trained, r.near_chance or nb[r.index].near_chance)
        for r in a.runs
        if r.ok and r.index in nb
    )
    return Cell(runs, a.unit)


def _robustness(res: ExperimentResult, well: str, noisy: str) -> Claim:
    drop = {f: _drop(res, m, well, noisy) for f, m in FUSION_MODELS.items()}
    variances = [d.std**2 for d in drop.values() if d is not None and d.std is not None]
    pooled = math.sqrt(statistics.fmean(variances)) if variances else None
    return greater(
        "Mean fusion is the most robust to label noise (it loses the least accuracy)",
        [(f"{f} drop", drop[f], "mean drop", drop["mean"]) for f in ("concat", "max", "min")],
        pooled,
    )


DEEP = ("alexnet-svm", "alexnet", "vgg19", "resnet101", "mldrnet", "mldrnet-bigru")
HAND_CRAFTED = ("machajdik", "zhao", "rao")


def table3(res: ExperimentResult) -> list[Claim]:
    """Table III: deep representations beat hand-crafted features; MldrNet beats the deeper CNNs; the Bi-GRU helps."""
    pooled = pooled_std(res)
    hand = [(m, res.cell(m)) for m in HAND_CRAFTED if res.cell(m) is not None and res.cell(m).mean is not None]
    best_hand = max(hand, key=lambda x: x[1].mean, default=(None, None))
    deep = greater(
        f"Deep representations beat hand-crafted features (each CNN > the best hand-crafted, {best_hand[0] or 'none'})",
        [(m, res.cell(m), best_hand[0] or "hand-crafted", best_hand[1]) for m in DEEP if res.row(m) is not None],
        pooled,
    )
    deeper = greater(
        "MldrNet beats the deeper CNNs (VGG-19, ResNet-101) and AlexNet",
        [("mldrnet", res.cell("mldrnet"), m, res.cell(m)) for m in ("alexnet", "vgg19", "resnet101")],
        pooled,
    )
    gru = greater(
        "MldrNet+Bi-GRU beats MldrNet",
        [("mldrnet-bigru", res.cell("mldrnet-bigru"), "mldrnet", res.cell("mldrnet"))],
        pooled,
    )
    return [deep, deeper, gru]


MART_BASELINES = ("tsvm", "lmc", "lasso", "group-lasso", "nlmc", "alexnet")


def table4(res: ExperimentResult) -> list[Claim]:
    return [
        greater(
            "MldrNet is best on MART (above every baseline)",
            [("mldrnet", res.cell("mldrnet"), m, res.cell(m)) for m in MART_BASELINES],
        )
    ]


def small_set(res: ExperimentResult, ours: str = "mldrnet") -> list[Claim]:
    """Figs. 8-10: MldrNet best on most evaluable categories (columns are classes, rows methods, folds paired)."""
    best, judged, lines = 0, 0, []
    for column in res.columns:  # paired over folds: no pooled spread needed
        mine = res.cell(ours, column)
        others = [(r.model, r.cells.get(column)) for r in res.rows if r.model != ours]
        cmps = [(m, compare(ours, mine, m, c)) for m, c in others]
        if not cmps or any(not c.testable for _, c in cmps):
            continue
        judged += 1
        wins = all(c.greater for _, c in cmps)
        best += wins
        lines.append(
            f"{column}: {'best' if wins else 'not best'} (closest {min(cmps, key=lambda x: x[1].diff)[0]} "
            f"{min(c.diff for _, c in cmps):+.1f})"
        )
    text = "MldrNet has the best true positive rate on most emotion categories"
    if not judged:
        return [Claim(text, NOT_TESTABLE, "no category could be judged (not evaluable, or a method near chance)")]
    verdict = SUPPORTED if best * 2 > judged else NOT_SUPPORTED
    return [
        Claim(
            text, verdict, f"best beyond the fold spread in {best} of {judged} judged categories: " + "; ".join(lines)
        )
    ]
