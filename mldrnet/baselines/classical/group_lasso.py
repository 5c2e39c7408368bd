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

Both standardise the features inside (StandardScaler fitted on the training set), so `alpha` is on the
scale of standardised features, and the intercept is the mean ±1 target (features are centred).
"""

from __future__ import annotations

from typing import Any, Sequence

import numpy as np
from sklearn.linear_model import Lasso
from sklearn.preprocessing import StandardScaler

from mldrnet.baselines.classical.base import _as_features, _check_meta, _decode_labels, _encode_labels
from mldrnet.errors import BenchError


class _LinearSignModel:
    """Shared prediction and storage of a standardised linear model f(x) = ((x - mean) / scale) . w + b."""

    _PARAMS: tuple[str, ...] = ()

    def _check_fitted(self) -> None:
        if getattr(self, "coef_", None) is None:
            raise BenchError(f"{type(self).__name__} is not fitted: call fit(X, y) first")

    def decision_function(self, X: Any) -> np.ndarray:
        """The fitted value; positive means classes_[1]."""
        self._check_fitted()
        x = _as_features(X, "X")
        if x.shape[1] != self.coef_.shape[0]:
            raise BenchError(f"X has {x.shape[1]} features, the model was fitted on {self.coef_.shape[0]}")
        return ((x - self.mean_) / self.scale_) @ self.coef_ + self.intercept_

    def predict(self, X: Any) -> np.ndarray:
        return _decode_labels(self.decision_function(X), self.classes_)

    def _fit_scaler(self, X: Any, y: Any) -> tuple[np.ndarray, np.ndarray]:
        x = _as_features(X, "X")
        self.classes_, y_pm = _encode_labels(y, x.shape[0])
        scaler = StandardScaler().fit(x)
        self.mean_, self.scale_ = scaler.mean_, scaler.scale_
        return (x - self.mean_) / self.scale_, y_pm

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PARAMS}

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, meta) of the fitted model: store arrays as .npz and meta as JSON."""
        self._check_fitted()
        arrays = {
            "coef": self.coef_,
            "intercept": np.asarray([self.intercept_]),
            "mean": self.mean_,
            "scale": self.scale_,
            "classes": self.classes_,
        }
        return arrays, {"class": type(self).__name__, "params": self._json_params()}

    def _json_params(self) -> dict[str, Any]:
        return self.get_params()

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict):
        model = cls(**_check_meta(meta, cls.__name__)["params"])
        model.coef_ = np.asarray(arrays["coef"], dtype=np.float64)
        model.intercept_ = float(np.asarray(arrays["intercept"]).reshape(-1)[0])
        model.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        model.scale_ = np.asarray(arrays["scale"], dtype=np.float64)
        model.classes_ = np.asarray(arrays["classes"])
        return model


class LassoClassifier(_LinearSignModel):
    """scikit-learn's Lasso on standardised features and ±1 targets; predicts the sign's class.

    LassoClassifier(alpha=0.01).fit(X, y); predict(X); decision_function(X); coef_ (on standardised features).
    """

    _PARAMS = ("alpha", "max_iter", "tol")

    def __init__(self, alpha: float = 0.01, max_iter: int = 10000, tol: float = 1e-4):
        self.alpha, self.max_iter, self.tol = alpha, max_iter, tol
        self.coef_ = None

    def fit(self, X: Any, y: Any) -> "LassoClassifier":
        xs, y_pm = self._fit_scaler(X, y)
        lasso = Lasso(alpha=self.alpha, max_iter=self.max_iter, tol=self.tol).fit(xs, y_pm)
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
            raise BenchError(f"groups[{g}] is empty: every group needs at least one feature index")
        if idx.min() < 0 or idx.max() >= n_features:
            raise BenchError(f"groups[{g}] has feature indices outside 0..{n_features - 1}")
        if np.any(ids[idx] >= 0) or np.unique(idx).size != idx.size:
            raise BenchError(f"groups[{g}] overlaps another group: groups must be disjoint")
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


class SparseGroupLasso(_LinearSignModel):
    """Sparse group lasso on ±1 targets by FISTA; predicts the sign's class (see the module docstring).

    SparseGroupLasso(alpha, l1_ratio, groups).fit(X, y); predict(X); decision_function(X); coef_.
    """

    _PARAMS = ("alpha", "l1_ratio", "groups", "max_iter", "tol")

    def __init__(
        self,
        alpha: float = 0.01,
        l1_ratio: float = 0.5,
        groups: Sequence[Sequence[int]] | None = None,
        max_iter: int = 5000,
        tol: float = 1e-7,
    ):
        self.alpha, self.l1_ratio, self.groups, self.max_iter, self.tol = alpha, l1_ratio, groups, max_iter, tol
        self.coef_ = None

    def _json_params(self) -> dict[str, Any]:
        params = self.get_params()
        if params["groups"] is not None:
            params["groups"] = [[int(i) for i in g] for g in params["groups"]]
        return params

    def fit(self, X: Any, y: Any) -> "SparseGroupLasso":
        if self.alpha < 0 or not 0.0 <= self.l1_ratio <= 1.0:
            raise BenchError(f"need alpha >= 0 and 0 <= l1_ratio <= 1, got {self.alpha}, {self.l1_ratio}")
        xs, y_pm = self._fit_scaler(X, y)
        n, d = xs.shape
        group_id = _group_ids(self.groups, d)
        sizes = np.bincount(group_id)
        l2 = self.alpha * (1.0 - self.l1_ratio) * np.sqrt(sizes)  # per-group weight
        l1 = self.alpha * self.l1_ratio
        intercept = float(y_pm.mean())  # features are centred, so the intercept decouples
        yc = y_pm - intercept
        lipschitz = max(np.linalg.norm(xs, 2) ** 2 / n, 1e-12)
        step = 1.0 / lipschitz
        w = np.zeros(d)
        z, t = w.copy(), 1.0
        self.n_iter_, self.converged_ = self.max_iter, False
        for it in range(1, self.max_iter + 1):
            grad = xs.T @ (xs @ z - yc) / n
            w_new = sparse_group_prox(z - step * grad, group_id, step * l1, step * l2)
            t_new = (1.0 + np.sqrt(1.0 + 4.0 * t * t)) / 2.0
            z = w_new + ((t - 1.0) / t_new) * (w_new - w)
            delta = np.linalg.norm(w_new - w)
            w, t = w_new, t_new
            if delta <= self.tol * max(1.0, np.linalg.norm(w)):
                self.n_iter_, self.converged_ = it, True
                break
        self.coef_, self.intercept_, self.group_id_ = w, intercept, group_id
        return self

    def nonzero_groups(self) -> np.ndarray:
        """Indices of the groups (numbered as in `group_id_`) with a nonzero coefficient."""
        self._check_fitted()
        group_id = getattr(self, "group_id_", None)
        if group_id is None:
            group_id = _group_ids(self.groups, self.coef_.shape[0])
        return np.unique(group_id[self.coef_ != 0])
