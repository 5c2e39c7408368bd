"""Lasso and (sparse) Group Lasso on ±1 targets, the MART baselines of Sartori et al. (MldrNet Table IV).

Sartori, Culibrk, Yan, Sebe, "Who's afraid of Itten: using the art theory of color combination to analyze
emotions in abstract paintings", ACM MM 2015 (MldrNet ref. [48]) classify MART paintings with sparse linear
models on colour-combination features: the Lasso (Tibshirani 1996) and the Group Lasso (Yuan & Lin 2006),
a group being the features of one colour-combination descriptor. We follow the usual reading of such
"regression as classification" baselines: squared loss on targets in {-1, +1}, an unpenalised intercept,
prediction by the sign of the fitted value.

`SparseGroupLasso` minimises the sparse-group-lasso objective of Simon, Friedman, Hastie & Tibshirani
("A sparse-group lasso", JCGS 2013, eq. 1, with the loss scaled like scikit-learn's Lasso):

    (1 / 2n) ||y - b - X w||^2 + alpha * ( l1_ratio * ||w||_1 + (1 - l1_ratio) * sum_g sqrt(p_g) ||w_g||_2 )

with FISTA (Beck & Teboulle 2009, accelerated proximal gradient, constant step 1/L, L = ||X||_2^2 / n).
The prox of the penalty is exact in closed form (Simon et al., sec. 3; Friedman et al. 2010): soft-threshold
each coordinate by t*alpha*l1_ratio, then shrink each group's vector by max(0, 1 - t*alpha*(1-l1_ratio)
*sqrt(p_g) / ||w_g||), which sets whole groups to exactly zero. `l1_ratio=0` is the plain Group Lasso of
Yuan & Lin (what Sartori et al. call Group Lasso); `l1_ratio=1` is the Lasso (same scaling as
scikit-learn's `Lasso`, which the tests use as the reference). Departures: Sartori et al. do not state the
solver nor the group weights; sqrt(p_g) is Yuan & Lin's choice. Features of no listed group become
singleton groups; overlapping groups are refused (their prox is not this closed form).

`LassoClassifier` is scikit-learn's `Lasso` (coordinate descent) with the same ±1 / sign convention.

Both are scikit-learn classifiers (two classes, any labels) that centre the features for the unpenalised
intercept but do not scale them: `make("lasso")` / `make("group-lasso")` put a StandardScaler (fitted on the
training set) in front, so that `alpha` is on the scale of standardised features, as in Sartori et al.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
from sklearn.linear_model import Lasso
from sklearn.utils.validation import check_is_fitted, validate_data

from mldrnet.baselines.classical.base import BinaryClassifier, encode_labels


class _LinearSignModel(BinaryClassifier):
    """Shared validation and prediction of a linear model f(x) = x . w + b on ±1 targets."""

    coef_: np.ndarray
    intercept_: float

    def decision_function(self, X: Any) -> np.ndarray:
        """The fitted value; positive means classes_[1]."""
        check_is_fitted(self)
        x = validate_data(self, X, reset=False, dtype=np.float64)
        return x @ self.coef_ + self.intercept_

    def _validate(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        x, y = validate_data(self, X, y, dtype=np.float64)
        self.classes_, y_pm = encode_labels(y)
        return x, y_pm


class LassoClassifier(_LinearSignModel):
    """scikit-learn's Lasso on ±1 targets; predicts the sign's class.

    LassoClassifier(alpha=0.01).fit(X, y); predict(X); decision_function(X); coef_, intercept_, n_iter_.
    """

    def __init__(self, alpha: float = 0.01, max_iter: int = 10000, tol: float = 1e-4):
        self.alpha = alpha
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: Any, y: Any) -> LassoClassifier:
        x, y_pm = self._validate(X, y)
        lasso = Lasso(alpha=self.alpha, max_iter=self.max_iter, tol=self.tol).fit(x, y_pm)
        self.coef_ = np.asarray(lasso.coef_, dtype=np.float64)
        self.intercept_ = float(lasso.intercept_)
        self.n_iter_ = int(lasso.n_iter_)
        return self


def _group_ids(groups: Sequence[Sequence[int]] | None, n_features: int) -> np.ndarray:
    """Feature -> group index; features in no group get singleton groups after the listed ones."""
    ids = np.full(n_features, -1, dtype=np.int64)
    for g, members in enumerate(groups or []):
        idx = np.asarray(list(members), dtype=np.int64)
        if idx.size == 0:
            raise ValueError(f"groups[{g}] is empty: every group needs at least one feature index")
        if idx.min() < 0 or idx.max() >= n_features:
            raise ValueError(f"groups[{g}] has feature indices outside 0..{n_features - 1}")
        if np.any(ids[idx] >= 0) or np.unique(idx).size != idx.size:
            raise ValueError(f"groups[{g}] overlaps another group: groups must be disjoint")
        ids[idx] = g
    n_listed = len(groups or [])
    free = np.flatnonzero(ids < 0)
    ids[free] = n_listed + np.arange(free.size)
    return ids


def sparse_group_prox(w: np.ndarray, group_id: np.ndarray, l1: float, l2: np.ndarray) -> np.ndarray:
    """Prox of l1*||w||_1 + sum_g l2[g]*||w_g||_2: soft-threshold, then shrink each group (Simon et al.)."""
    u = np.sign(w) * np.maximum(np.abs(w) - l1, 0.0)
    norms = np.sqrt(np.bincount(group_id, weights=u * u, minlength=l2.shape[0]))
    with np.errstate(divide="ignore", invalid="ignore"):
        shrink = np.where(norms > 0, np.maximum(1.0 - l2 / norms, 0.0), 0.0)
    return u * shrink[group_id]


def _fista(
    xc: np.ndarray, yc: np.ndarray, group_id: np.ndarray, l1: float, l2: np.ndarray, max_iter: int, tol: float
) -> tuple[np.ndarray, int, bool]:
    """FISTA with constant step 1/L on (1/2n)||yc - xc w||^2 + the sparse-group penalty: (w, iterations, converged)."""
    n, d = xc.shape
    step = 1.0 / max(np.linalg.norm(xc, 2) ** 2 / n, 1e-12)
    w = np.zeros(d)
    z, t = w.copy(), 1.0
    for it in range(1, max_iter + 1):
        grad = xc.T @ (xc @ z - yc) / n
        w_new = sparse_group_prox(z - step * grad, group_id, step * l1, step * l2)
        t_new = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
        z = w_new + ((t - 1.0) / t_new) * (w_new - w)
        delta = np.linalg.norm(w_new - w)
        w, t = w_new, t_new
        if delta <= tol * max(1.0, float(np.linalg.norm(w))):
            return w, it, True
    return w, max_iter, False


class SparseGroupLasso(_LinearSignModel):
    """Sparse group lasso on ±1 targets by FISTA; predicts the sign's class (see the module docstring).

    SparseGroupLasso(alpha, l1_ratio, groups).fit(X, y); predict(X); decision_function(X); coef_, intercept_,
    group_id_, n_iter_, converged_.
    """

    def __init__(
        self,
        alpha: float = 0.01,
        l1_ratio: float = 0.5,
        groups: Sequence[Sequence[int]] | None = None,
        max_iter: int = 5000,
        tol: float = 1e-7,
    ):
        self.alpha = alpha
        self.l1_ratio = l1_ratio
        self.groups = groups
        self.max_iter = max_iter
        self.tol = tol

    def fit(self, X: Any, y: Any) -> SparseGroupLasso:
        if self.alpha < 0 or not 0.0 <= self.l1_ratio <= 1.0:
            raise ValueError(f"need alpha >= 0 and 0 <= l1_ratio <= 1, got {self.alpha}, {self.l1_ratio}")
        x, y_pm = self._validate(X, y)
        group_id = _group_ids(self.groups, x.shape[1])
        l2 = self.alpha * (1.0 - self.l1_ratio) * np.sqrt(np.bincount(group_id))  # per-group weight
        x_mean, y_mean = x.mean(axis=0), float(y_pm.mean())  # centred, the intercept decouples
        w, self.n_iter_, self.converged_ = _fista(
            x - x_mean, y_pm - y_mean, group_id, self.alpha * self.l1_ratio, l2, self.max_iter, self.tol
        )
        self.coef_, self.intercept_, self.group_id_ = w, y_mean - float(x_mean @ w), group_id
        return self

    def nonzero_groups(self) -> np.ndarray:
        """Indices of the groups (numbered as in `group_id_`) with a nonzero coefficient."""
        check_is_fitted(self)
        return np.unique(self.group_id_[self.coef_ != 0])
