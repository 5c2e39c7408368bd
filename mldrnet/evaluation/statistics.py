"""The statistics a comparison of two models rests on, from scipy and statsmodels (never hand-rolled tests).

One test split, two models (the same test images):
    wilson(k, n)                      95 % Wilson interval of an accuracy (statsmodels proportion_confint)
    mcnemar_exact(right_a, right_b)   exact McNemar on the paired 2x2 table (statsmodels mcnemar, exact=True)
    paired_bootstrap(right_a, right_b) 95 % percentile interval of the accuracy difference, the same resampled
                                      test images for both models (seeded)

Several trainings (seeds) of each model:
    welch(a, b) / paired_t(a, b)      mean difference with Student's t: Welch's df from each side's n-1
                                      (scipy ttest_ind(equal_var=False)), or n-1 for paired seeds (ttest_rel)
    from_spreads(...)                 the same from (mean, sd, df, n) per side: a side whose own spread is
                                      unknown (one run) or 0 (runs that happened to agree) takes the pooled one
    pooled_spread(samples)            sqrt(sum (n_i-1) s_i^2 / sum (n_i-1)), with its degrees of freedom
    tost(d, margin)                   "no difference": two one-sided tests at +-margin (statsmodels ttost_ind /
                                      ttost_paired on raw samples: tost_samples); not testable (underpowered)
                                      when the 90 % interval is wider than the margin

k-fold cross-validation (the folds' training sets overlap, so the plain paired t is too optimistic):
    corrected_resampled_t(diffs, test_train_ratio)   Nadeau and Bengio (2003): variance (1/k + n_test/n_train) s^2

A family of comparisons: holm(pvalues) (statsmodels multipletests, method="holm").

Differences are in the units of the samples (accuracy points when the samples are percentages). Numpy, scipy
and statsmodels only: no torch.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import NamedTuple

import numpy as np
from scipy import stats

CONFIDENCE = 0.95
EQUIVALENCE_MARGIN = 1.0  # points: "no difference" means within +-1 point of accuracy unless a claim says otherwise
BOOTSTRAP_RESAMPLES = 2000


# --- one test split, two models --------------------------------------------------------------------------------


def wilson(correct: int, total: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """Wilson score interval of a proportion (0..1); (nan, nan) without any image."""
    from statsmodels.stats.proportion import proportion_confint

    if total <= 0:
        return math.nan, math.nan
    lo, hi = proportion_confint(int(correct), int(total), alpha=1 - confidence, method="wilson")
    return float(lo), float(hi)


def wilson_pct(accuracy_pct: float, total: int, confidence: float = CONFIDENCE) -> tuple[float, float]:
    """The Wilson interval (%) of an accuracy given in % over `total` images (rounded to a count of images)."""
    lo, hi = wilson(round(accuracy_pct / 100.0 * total), total, confidence)
    return 100.0 * lo, 100.0 * hi


@dataclass(frozen=True)
class McNemar:
    only_a: int  # images model A got right and B wrong
    only_b: int  # images B got right and A wrong
    pvalue: float  # exact (binomial) two-sided p of only_a vs only_b


def _rights(right_a, right_b) -> tuple[np.ndarray, np.ndarray]:
    a, b = np.asarray(right_a, dtype=bool), np.asarray(right_b, dtype=bool)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired tests need one right/wrong per shared image: shapes {a.shape} and {b.shape}")
    return a, b


def mcnemar_exact(right_a, right_b) -> McNemar:
    """Exact McNemar test on the 2x2 table of (A right?, B right?) over the same test images."""
    from statsmodels.stats.contingency_tables import mcnemar

    a, b = _rights(right_a, right_b)
    table = [[int(np.sum(a & b)), int(np.sum(a & ~b))], [int(np.sum(~a & b)), int(np.sum(~a & ~b))]]
    result = mcnemar(table, exact=True)
    return McNemar(table[0][1], table[1][0], float(result.pvalue))


class Interval(NamedTuple):
    estimate: float
    low: float
    high: float


def paired_bootstrap(
    right_a, right_b, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = 0, confidence: float = CONFIDENCE
) -> Interval:
    """Accuracy of A minus accuracy of B (proportions) with the percentile interval of a paired bootstrap: each
    resample draws test images with replacement and scores both models on the same draw."""
    a, b = _rights(right_a, right_b)
    if len(a) == 0:
        return Interval(math.nan, math.nan, math.nan)
    delta = a.astype(np.float64) - b.astype(np.float64)  # per image: +1 A only, -1 B only, 0 both or neither
    rng = np.random.default_rng(seed)
    idx = rng.integers(0, len(delta), size=(resamples, len(delta)))
    means = delta[idx].mean(axis=1)
    tail = 100.0 * (1 - confidence) / 2
    lo, hi = np.percentile(means, [tail, 100.0 - tail])
    return Interval(float(delta.mean()), float(lo), float(hi))


# --- several trainings: Student's t ------------------------------------------------------------------------------


@dataclass(frozen=True)
class TDifference:
    """A difference of means with its standard error and Student's t degrees of freedom."""

    diff: float
    se: float
    df: float

    def half_width(self, confidence: float = CONFIDENCE) -> float:
        """Half the two-sided interval: the margin a difference must exceed to count at this confidence."""
        if self.se == 0:
            return 0.0
        return float(stats.t.ppf(1 - (1 - confidence) / 2, self.df)) * self.se

    def interval(self, confidence: float = CONFIDENCE) -> tuple[float, float]:
        h = self.half_width(confidence)
        return self.diff - h, self.diff + h

    def pvalue(self) -> float:
        """Two-sided p of diff != 0."""
        if self.se == 0:
            return 0.0 if self.diff else 1.0
        return float(2 * stats.t.sf(abs(self.diff) / self.se, self.df))


class Spread(NamedTuple):
    sd: float
    df: float  # degrees of freedom of the estimate: n-1 for one sample, sum of n_i-1 for a pooled one


def _values(x: Sequence[float]) -> np.ndarray:
    v = np.asarray(x, dtype=np.float64)
    if v.ndim != 1 or len(v) < 1:
        raise ValueError("need at least one value")
    return v


def satterthwaite(v_a: float, df_a: float, v_b: float, df_b: float) -> float:
    """Welch-Satterthwaite degrees of freedom of v_a + v_b, each variance of a mean estimated with its own df."""
    total = v_a + v_b
    if total == 0:
        return math.inf
    denom = (v_a**2 / df_a if v_a else 0.0) + (v_b**2 / df_b if v_b else 0.0)
    return total**2 / denom


def from_spreads(mean_a: float, a: Spread, n_a: int, mean_b: float, b: Spread, n_b: int) -> TDifference:
    """mean_a - mean_b, independent samples, each side's spread with its own degrees of freedom (a pooled spread
    brings the pooled df): Welch's test generalised by Satterthwaite's df."""
    v_a, v_b = a.sd**2 / n_a, b.sd**2 / n_b
    return TDifference(mean_a - mean_b, math.sqrt(v_a + v_b), satterthwaite(v_a, a.df, v_b, b.df))


def welch(a: Sequence[float], b: Sequence[float]) -> TDifference:
    """Independent trainings of two systems (at least two each): Welch's t, as scipy.stats.ttest_ind(a, b,
    equal_var=False) computes it (each side's df n-1)."""
    x, y = _values(a), _values(b)
    if len(x) < 2 or len(y) < 2:
        raise ValueError("Welch's t needs two runs or more per side")
    sa, sb = Spread(float(x.std(ddof=1)), len(x) - 1), Spread(float(y.std(ddof=1)), len(y) - 1)
    return from_spreads(float(x.mean()), sa, len(x), float(y.mean()), sb, len(y))


def paired_t(a: Sequence[float], b: Sequence[float]) -> TDifference:
    """Paired samples (the same seed or fold on both sides): Student's t of the differences, n-1 df, as
    scipy.stats.ttest_rel computes it."""
    d = _values(a) - _values(b)
    if len(d) < 2:
        raise ValueError("a paired t needs two pairs or more")
    return TDifference(float(d.mean()), float(d.std(ddof=1) / math.sqrt(len(d))), len(d) - 1)


def corrected_resampled_t(diffs: Sequence[float], test_train_ratio: float) -> TDifference:
    """Nadeau and Bengio's corrected resampled t over k paired fold differences: the variance of the mean is
    (1/k + n_test/n_train) s^2 instead of s^2/k, because the folds' training sets overlap; df k-1. For k-fold
    cross-validation n_test/n_train = 1/(k-1)."""
    d = _values(diffs)
    k = len(d)
    if k < 2:
        raise ValueError("the corrected resampled t needs two folds or more")
    var = (1.0 / k + test_train_ratio) * float(d.var(ddof=1))
    return TDifference(float(d.mean()), math.sqrt(var), k - 1)


def pooled_spread(samples: Sequence[Sequence[float]]) -> Spread | None:
    """The spread pooled over every sample of two values or more (variances weighted by their df), or None. A
    sample whose values agree counts with variance 0: it is data, pooled with the rest, never alone."""
    parts = [np.asarray(s, dtype=np.float64) for s in samples if len(s) >= 2]
    if not parts:
        return None
    df = sum(len(p) - 1 for p in parts)
    return Spread(math.sqrt(sum(float(p.var(ddof=1)) * (len(p) - 1) for p in parts) / df), df)


# --- "no difference": equivalence ------------------------------------------------------------------------------

EQUIVALENT, NOT_EQUIVALENT, UNDERPOWERED = "equivalent", "not equivalent", "not testable (underpowered)"


@dataclass(frozen=True)
class Equivalence:
    """TOST at +-margin: equivalent when both one-sided tests reject at alpha, i.e. the (1 - 2 alpha) interval
    lies inside (-margin, +margin). The interval can only fit when it is narrower than the margin on each side:
    when it is not (and does not lie wholly beyond the margin, which shows a difference), the data cannot tell
    equivalence from a difference and the verdict is underpowered."""

    diff: float
    low: float  # the 90 % interval (for alpha 0.05)
    high: float
    margin: float
    pvalue: float  # the larger of the two one-sided p values

    @property
    def underpowered(self) -> bool:
        return (self.high - self.low) / 2 >= self.margin

    @property
    def outside(self) -> bool:
        """The whole interval lies beyond the margin: a difference larger than the margin is shown."""
        return self.low >= self.margin or self.high <= -self.margin

    @property
    def verdict(self) -> str:
        """Equivalent; not equivalent (the interval is beyond the margin, or narrow and across its edge); or
        underpowered (wider than the margin and not beyond it: these data cannot tell)."""
        if self.pvalue < 1 - CONFIDENCE:
            return EQUIVALENT
        return UNDERPOWERED if self.underpowered and not self.outside else NOT_EQUIVALENT


def tost(d: TDifference, margin: float = EQUIVALENCE_MARGIN, alpha: float = 1 - CONFIDENCE) -> Equivalence:
    """Two one-sided t tests of |diff| < margin from a difference with its standard error and df."""
    if d.se == 0:
        p = 0.0 if abs(d.diff) < margin else 1.0
        return Equivalence(d.diff, d.diff, d.diff, margin, p)
    p_low = float(stats.t.sf((d.diff + margin) / d.se, d.df))  # H0: diff <= -margin
    p_high = float(stats.t.cdf((d.diff - margin) / d.se, d.df))  # H0: diff >= +margin
    lo, hi = d.interval(1 - 2 * alpha)
    return Equivalence(d.diff, lo, hi, margin, max(p_low, p_high))


def tost_samples(
    a: Sequence[float], b: Sequence[float], margin: float = EQUIVALENCE_MARGIN, paired: bool = False
) -> Equivalence:
    """TOST on raw samples with statsmodels (ttost_paired, or ttost_ind with Welch's variances)."""
    from statsmodels.stats.weightstats import ttost_ind, ttost_paired

    x, y = _values(a), _values(b)
    if paired:
        p, _, _ = ttost_paired(x, y, -margin, margin)
        d = paired_t(a, b)
    else:
        p, _, _ = ttost_ind(x, y, -margin, margin, usevar="unequal")
        d = welch(a, b)
    lo, hi = d.interval(1 - 2 * (1 - CONFIDENCE))
    return Equivalence(d.diff, lo, hi, margin, float(p))


# --- a family of comparisons -----------------------------------------------------------------------------------


def holm(pvalues: Sequence[float]) -> list[float]:
    """Holm-adjusted p values (statsmodels multipletests, method="holm"); NaNs stay NaN and are not counted."""
    from statsmodels.stats.multitest import multipletests

    p = np.asarray(pvalues, dtype=np.float64)
    out = np.full(p.shape, np.nan)
    ok = ~np.isnan(p)
    if ok.any():
        out[ok] = multipletests(p[ok], method="holm")[1]
    return [float(x) for x in out]
