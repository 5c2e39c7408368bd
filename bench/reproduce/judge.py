"""How a claim of `bench reproduce` is judged: comparisons of two cells and claims made of them. Pure: results in,
verdicts out; the tests are mldrnet.evaluation.statistics' (scipy, statsmodels).

A claim is "supported", "not supported", "not testable" or "not testable (underpowered)", always with the numbers
it was judged on and the data it rests on. A difference counts only when its 95 % interval excludes zero:

- over seeds (independent trainings of each system on the same split and test images): Student's t of the
  difference of the two means, each side's spread with its n-1 degrees of freedom (Welch; Satterthwaite's df).
  A side with one run, or whose runs all gave the same number (a spread of 0 from runs that happen to agree is
  no evidence of no spread), takes the spread pooled over every multi-seed cell of the experiment (zeros
  included), with the pooled df; with no spread anywhere the comparison is not testable.
- over folds (the same test folds for every system: Table IV, Figs. 8-10): paired per fold, with Nadeau and
  Bengio's corrected resampled t (variance (1/k + 1/(K-1)) s² for k folds of a K-fold cross-validation, df
  k-1), because the folds' training sets overlap and the plain paired t is too optimistic.

A "no difference" claim ("little is gained past 4 levels", "mean >= concat", "only slightly better") is judged by
an equivalence test: TOST at a stated margin (EQUIVALENCE_MARGIN, ±1 point, unless the claim states another). It
holds when the two one-sided tests reject (the 90 % interval lies inside ±margin) or when the difference is
significant in the direction the claim allows; it is "not testable (underpowered)" when the interval is wider
than the margin, never "supported".

A claim made of several comparisons is an intersection-union test (each part at 5 %, no correction needed): not
supported as soon as one comparison that can be judged fails, not testable when none fails but one cannot be
judged, and supported when every one holds. The report says how many claims each experiment tested.

A system whose model stayed near chance (mldrnet.io.provenance) makes every comparison it is in not testable: its
accuracy says nothing about its architecture. So does a system that failed or was not run.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from bench.reproduce.results import (
    NOT_SUPPORTED,
    NOT_TESTABLE,
    SUPPORTED,
    UNDERPOWERED,
    Cell,
    Claim,
    ExperimentResult,
)
from mldrnet.data.synth import SUMMARY
from mldrnet.errors import BenchError
from mldrnet.evaluation import statistics as st

EQUIVALENCE_MARGIN = st.EQUIVALENCE_MARGIN  # points: "about as good as"
SLIGHT_MARGIN = 3.0  # points: "only slightly better" (the paper's gains of VGG-19 and ResNet-101: +0.71 and +2.21)

HOLDS, FAILS, UNTESTABLE = "holds", "fails", "untestable"  # a part's state; or UNDERPOWERED


@dataclass(frozen=True)
class Comparison:
    """a - b with its standard error and Student's t df; `problem` says why it cannot be judged."""

    diff: float = math.nan
    se: float = math.nan
    df: float = math.nan
    how: str = ""  # which test: "Welch t", "pooled spread", "Nadeau-Bengio"
    problem: str = ""

    @property
    def testable(self) -> bool:
        return not self.problem

    @property
    def t(self) -> st.TDifference:
        return st.TDifference(self.diff, self.se, self.df)

    @property
    def margin(self) -> float:
        """Half the 95 % interval of the difference (nan when not testable, never 0 for runs that agree)."""
        return self.t.half_width() if self.testable else math.nan

    @property
    def greater(self) -> bool:
        """a > b beyond the 95 % interval."""
        return self.testable and self.diff > self.margin

    @property
    def less(self) -> bool:
        return self.testable and self.diff < -self.margin

    def equivalence(self, margin: float = EQUIVALENCE_MARGIN) -> st.Equivalence:
        return st.tost(self.t, margin)


def _unusable(name: str, cell: Cell | None) -> str:
    if cell is None or cell.mean is None:
        return f"{name} has no result" + (f" ({cell.errors[0]})" if cell is not None and cell.errors else "")
    if cell.near_chance:
        return f"{name} stayed near chance (not trained to a usable level)"
    return ""


def _folds(name_a: str, a: Cell, name_b: str, b: Cell) -> Comparison:
    """Paired over the folds both have, Nadeau-Bengio corrected."""
    va = {r.index: r.value for r in a.runs if r.ok}
    vb = {r.index: r.value for r in b.runs if r.ok}
    shared = sorted(set(va) & set(vb))
    if len(shared) < 2:
        return Comparison(problem=f"{name_a} and {name_b} share fewer than two folds")
    total = max(a.folds, b.folds, len(shared))  # K of the K-fold cross-validation (the cell's, or the folds seen)
    d = st.corrected_resampled_t([va[i] - vb[i] for i in shared], 1.0 / (total - 1))
    return Comparison(d.diff, d.se, d.df, f"Nadeau-Bengio t over {len(shared)} of {total} folds, df {d.df:.0f}")


def _spread(name: str, cell: Cell, pooled: st.Spread | None) -> tuple[st.Spread | None, str]:
    """(the spread to judge `cell` by, "own" or "pooled"; or None and why there is none)."""
    if cell.n >= 2 and cell.std:
        return st.Spread(cell.std, cell.n - 1), "own"
    if pooled is not None and pooled.sd > 0:
        return pooled, "pooled"
    own = "one run" if cell.n < 2 else f"{cell.n} runs that all gave {cell.mean:.2f} (a spread of 0 is not evidence)"
    return None, f"{name} has {own} and no run-to-run spread to pool"


def compare(name_a: str, a: Cell | None, name_b: str, b: Cell | None, pooled: st.Spread | None = None) -> Comparison:
    """a - b against the run-to-run spread (see the module docstring); `pooled` (default: the two cells' spreads
    pooled) stands in for a side's spread when it has one run or its runs agree."""
    problem = _unusable(name_a, a) or _unusable(name_b, b)
    if problem:
        return Comparison(problem=problem)
    assert a is not None and b is not None and a.mean is not None and b.mean is not None
    if a.unit == "folds" and b.unit == "folds":
        return _folds(name_a, a, name_b, b)
    if pooled is None:  # no experiment-wide spread given: the two cells' own, pooled
        pooled = st.pooled_spread([c.values for c in (a, b) if c.n >= 2])
    (sa, how_a), (sb, how_b) = _spread(name_a, a, pooled), _spread(name_b, b, pooled)
    if sa is None or sb is None:
        return Comparison(problem=how_a if sa is None else how_b)
    d = st.from_spreads(a.mean, sa, a.n, b.mean, sb, b.n)
    how = "Welch t" if how_a == how_b == "own" else "t with the pooled spread"
    return Comparison(d.diff, d.se, d.df, f"{how}, df {d.df:.1f}")


def fmt(cmp: Comparison, name_a: str, name_b: str) -> str:
    if not cmp.testable:
        return cmp.problem
    return f"{name_a} - {name_b} = {cmp.diff:+.2f} (95 % margin {cmp.margin:.2f}, {cmp.how})"


def all_of(text: str, parts: list[tuple[str, str]]) -> Claim:
    """A claim made of comparisons that must all hold: (label, state). Not supported when any part fails; else
    not testable when any part cannot be judged; else underpowered when an equivalence part is; else supported."""
    evidence = "; ".join(label for label, _ in parts)
    states = [s for _, s in parts]
    failed = states.count(FAILS)
    if failed:
        return Claim(text, NOT_SUPPORTED, evidence + f" [fails: {failed} of {len(parts)}]")
    if UNTESTABLE in states:
        return Claim(text, NOT_TESTABLE, evidence)
    if UNDERPOWERED in states:
        return Claim(text, UNDERPOWERED, evidence)
    return Claim(text, SUPPORTED, evidence)


def _state(c: Comparison, holds: bool) -> str:
    return UNTESTABLE if not c.testable else HOLDS if holds else FAILS


def greater_part(name_a: str, a: Cell | None, name_b: str, b: Cell | None, pooled=None) -> tuple[str, str]:
    c = compare(name_a, a, name_b, b, pooled)
    return fmt(c, name_a, name_b), _state(c, c.greater)


def greater(text: str, pairs: list[tuple[str, Cell | None, str, Cell | None]], pooled=None) -> Claim:
    """Every a > b beyond the 95 % interval."""
    return all_of(text, [greater_part(na, a, nb, b, pooled) for na, a, nb, b in pairs])


def about_as_good(
    name_a: str,
    a: Cell | None,
    name_b: str,
    b: Cell | None,
    pooled=None,
    margin: float = EQUIVALENCE_MARGIN,
    allow: str = "",
) -> tuple[str, str]:
    """a within ±margin of b by TOST; `allow` ("greater" or "less") also accepts a significant difference in that
    direction (mean >= concat holds when mean is clearly better; "little gained" when more is clearly worse)."""
    c = compare(name_a, a, name_b, b, pooled)
    if not c.testable:
        return c.problem, UNTESTABLE
    eq = c.equivalence(margin)
    label = (
        f"{name_a} - {name_b} = {c.diff:+.2f}, 90 % interval [{eq.low:+.2f}, {eq.high:+.2f}] against ±{margin:g} "
        f"(TOST p {eq.pvalue:.3f}, {c.how})"
    )
    if eq.verdict == st.EQUIVALENT or (allow == "greater" and c.greater) or (allow == "less" and c.less):
        return label, HOLDS
    return label, UNDERPOWERED if eq.verdict == st.UNDERPOWERED else FAILS


def pooled_std(res: ExperimentResult, columns: tuple[str, ...] | None = None) -> st.Spread | None:
    """The seed spread pooled over every cell (of `columns`, when the experiment's columns measure different
    things) with two runs or more, and its degrees of freedom."""
    return st.pooled_spread(
        [
            c.values
            for r in res.rows
            for col, c in r.cells.items()
            if (columns is None or col in columns) and c.unit == "seeds" and c.n >= 2 and not c.near_chance
        ]
    )


def synthetic_kind(dataset: str) -> str | None:
    """The synthetic set's kind (mldrnet.data.synth) of a dataset name; None for real data."""
    from mldrnet.data import get_spec

    try:
        return get_spec(dataset).synth_kind
    except BenchError:
        return None


def on_data(res: ExperimentResult) -> list[Claim]:
    """The experiment's claims, each naming the data its verdict rests on."""
    return [c if c.data else replace(c, data=data_line(res)) for c in res.claims]


def data_line(res: ExperimentResult) -> str:
    kind = synthetic_kind(res.dataset)
    what = f"{res.dataset}" + (
        f" (synthetic, {SUMMARY[kind]}: a verdict is about the cues we drew, not about photographs)" if kind else ""
    )
    cells = [c for r in res.rows for c in r.cells.values() if c.runs]
    images = max((c.test_images for c in cells), default=0)
    seeds = sorted({c.n for c in cells if c.unit == "seeds" and c.n})
    folds = sorted({c.n for c in cells if c.unit == "folds" and c.n})
    parts = [what] + ([f"{images} test images"] if images else [])
    parts += [f"{'/'.join(map(str, seeds))} run(s) per system"] if seeds else []
    parts += [f"{'/'.join(map(str, folds))} folds"] if folds else []
    return "; ".join(parts)
