"""Transductive SVM (Joachims 1999), the kernel TSVM baseline of MldrNet Table IV (ref. [50]).

Joachims, "Transductive inference for text classification using support vector machines", ICML 1999.
Optimisation problem OP2 there: min over w, b, the unlabelled labels y*_j and slacks of
    1/2 ||w||^2 + C sum_i xi_i + C*_- sum_{j: y*_j = -1} xi*_j + C*_+ sum_{j: y*_j = +1} xi*_j,
solved by the algorithm of his Fig. 2, which we follow step by step:
  1. train an inductive SVM on the labelled points (cost C);
  2. label the unlabelled points by that SVM, the num_+ highest scores positive, num_+ set so the
     unlabelled positive fraction equals the labelled one (or `positive_fraction`);
  3. C*_- = 1e-5, C*_+ = 1e-5 * num_+ / (n_U - num_+);
  4. loop: train on all points (costs C, C*_-, C*_+); while some unlabelled positive m and negative l
     have xi_m > 0, xi_l > 0 and xi_m + xi_l > 2, switch their labels and retrain; then double C*_-, C*_+
     (capped at C*), until both equal C* and no switch is left.
Each pair switch strictly lowers OP2 (Joachims' Theorem 2), so the loop terminates.

Departures. (a) We switch, per retraining, every disjoint (positive, negative) pair that qualifies, pairing
the largest positive slacks with the largest negative ones, not one pair: the objective decrease of
Theorem 2 holds for each pair with w, b fixed, so it adds up over disjoint pairs and termination stands;
it saves retrainings. (b) Fig. 2 returns after the last doubling without a round at C*_± = C* exactly; we
run that final round, so the returned model solves OP2 at the stated costs. (c) `max_rounds` caps the
retrainings against a cycle caused by the SVM solver's tolerance (`converged_` says if it was hit).
(d) scikit-learn's SVC (libsvm) is the solver; per-point costs are its sample weights, and the kernel is
computed once by sklearn.metrics.pairwise and passed as kernel="precomputed".

Features are standardised inside over labelled + unlabelled points (the unlabelled features are part of
the transductive input). The final SVM is inductive: `predict` / `decision_function` work on any X;
`transduction_` holds the labels OP2 assigned to the unlabelled set (they can differ from the final SVM's
sign on points inside the margin). `to_arrays` stores the support vectors, so a saved model predicts
any X without refitting.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.preprocessing import StandardScaler
from sklearn.svm import SVC

from mldrnet.baselines.classical.base import _as_features, _check_meta, _decode_labels, _encode_labels
from mldrnet.errors import BenchError

_KERNELS = ("rbf", "linear", "poly", "sigmoid", "laplacian")


def _switchable_pairs(y_u: np.ndarray, f_u: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """Joachims' switching rule: (positives, negatives, n) such that swapping the labels of the first n of each
    (a positive and a negative point whose slacks sum to more than 2) lowers the objective."""
    slack = np.maximum(0.0, 1.0 - y_u * f_u)
    pos = np.flatnonzero((y_u > 0) & (slack > 0))
    neg = np.flatnonzero((y_u < 0) & (slack > 0))
    pos = pos[np.argsort(-slack[pos], kind="stable")]
    neg = neg[np.argsort(-slack[neg], kind="stable")]
    m = min(pos.size, neg.size)
    ok = slack[pos[:m]] + slack[neg[:m]] > 2.0  # sorted: the qualifying pairs form a prefix
    return pos, neg, int(np.argmin(ok)) if not ok.all() else m


class TransductiveSVM:
    """Joachims' transductive SVM with label switching; see the module docstring.

    TransductiveSVM(C=1.0, C_star=None, kernel="rbf", gamma=None).fit(X_labeled, y, X_unlabeled);
    predict(X); decision_function(X); transduction_ (labels assigned to the unlabelled set).
    """

    _PARAMS = ("C", "C_star", "kernel", "gamma", "positive_fraction", "max_rounds", "tol")

    def __init__(
        self,
        C: float = 1.0,
        C_star: float | None = None,
        kernel: str = "rbf",
        gamma: float | None = None,
        positive_fraction: float | None = None,
        max_rounds: int = 1000,
        tol: float = 1e-3,
    ):
        self.C, self.C_star, self.kernel, self.gamma = C, C_star, kernel, gamma
        self.positive_fraction, self.max_rounds, self.tol = positive_fraction, max_rounds, tol
        self.dual_coef_ = None

    def get_params(self) -> dict[str, Any]:
        return {name: getattr(self, name) for name in self._PARAMS}

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # gamma=None: 1 / n_features, i.e. scikit-learn's gamma="scale" on standardised features
        gamma = self.gamma if self.gamma is not None else 1.0 / a.shape[1]
        return pairwise_kernels(a, b, metric=self.kernel, filter_params=True, gamma=gamma)

    def fit(self, X_labeled: Any, y: Any, X_unlabeled: Any) -> "TransductiveSVM":
        if self.kernel not in _KERNELS:
            raise BenchError(f"kernel must be one of {_KERNELS}, got {self.kernel!r}")
        xl = _as_features(X_labeled, "X_labeled")
        xu = _as_features(X_unlabeled, "X_unlabeled")
        if xl.shape[1] != xu.shape[1]:
            raise BenchError(f"X_labeled has {xl.shape[1]} features but X_unlabeled {xu.shape[1]}")
        self.classes_, y_l = _encode_labels(y, xl.shape[0])
        c, c_star = float(self.C), float(self.C if self.C_star is None else self.C_star)
        if c <= 0 or c_star <= 0:
            raise BenchError(f"C and C_star must be positive, got {c}, {c_star}")
        n_l, n_u = xl.shape[0], xu.shape[0]
        scaler = StandardScaler().fit(np.vstack([xl, xu]))
        self.mean_, self.scale_ = scaler.mean_, scaler.scale_
        x_all = (np.vstack([xl, xu]) - self.mean_) / self.scale_
        k = self._kernel(x_all, x_all)
        lab, unl = np.arange(n_l), np.arange(n_l, n_l + n_u)

        def train(y_all: np.ndarray, weights: np.ndarray, rows: np.ndarray) -> SVC:
            svc = SVC(C=1.0, kernel="precomputed", tol=self.tol)
            return svc.fit(k[np.ix_(rows, rows)], y_all, sample_weight=weights)

        # 1-2: inductive SVM, then label the unlabelled set keeping the positive fraction
        svc = train(y_l, np.full(n_l, c), lab)
        scores_u = svc.decision_function(k[np.ix_(unl, lab)])
        frac = float(np.mean(y_l > 0)) if self.positive_fraction is None else float(self.positive_fraction)
        if not 0.0 <= frac <= 1.0:
            raise BenchError(f"positive_fraction must be in [0, 1], got {frac}")
        n_pos = int(round(frac * n_u))
        y_u = np.where(np.isin(np.arange(n_u), np.argsort(-scores_u, kind="stable")[:n_pos]), 1.0, -1.0)
        # 3: tiny costs for the unlabelled points, balanced as in Joachims' Fig. 2
        c_neg = 1e-5
        c_pos = 1e-5 * n_pos / (n_u - n_pos) if 0 < n_pos < n_u else 1e-5
        rows = np.concatenate([lab, unl])
        rounds = switches = 0
        converged = True
        while True:  # 4: raise the unlabelled costs, switching labels at each level
            while True:
                weights = np.concatenate([np.full(n_l, c), np.where(y_u > 0, c_pos, c_neg)])
                svc = train(np.concatenate([y_l, y_u]), weights, rows)
                rounds += 1
                pos, neg, n_switch = _switchable_pairs(y_u, svc.decision_function(k[np.ix_(unl, rows)]))
                if n_switch == 0:
                    break
                if rounds >= self.max_rounds:
                    converged = False
                    break
                y_u[pos[:n_switch]], y_u[neg[:n_switch]] = -1.0, 1.0
                switches += n_switch
            if (c_neg >= c_star and c_pos >= c_star) or not converged:
                break
            c_neg, c_pos = min(2.0 * c_neg, c_star), min(2.0 * c_pos, c_star)

        self._keep(svc, x_all, y_u)
        self.n_rounds_, self.n_switches_, self.converged_ = rounds, switches, converged
        return self

    def _keep(self, svc: SVC, x_all: np.ndarray, y_u: np.ndarray) -> None:
        self.support_vectors_ = x_all[svc.support_]
        self.dual_coef_ = np.asarray(svc.dual_coef_[0], dtype=np.float64)
        self.intercept_ = float(svc.intercept_[0])
        self.transduction_ = _decode_labels(y_u, self.classes_)

    def _check_fitted(self) -> None:
        if self.dual_coef_ is None:
            raise BenchError("TransductiveSVM is not fitted: call fit(X_labeled, y, X_unlabeled) first")

    def decision_function(self, X: Any) -> np.ndarray:
        """The final SVM's decision value (positive means classes_[1]), for any X."""
        self._check_fitted()
        x = _as_features(X, "X")
        if x.shape[1] != self.mean_.shape[0]:
            raise BenchError(f"X has {x.shape[1]} features, the model was fitted on {self.mean_.shape[0]}")
        return self._kernel((x - self.mean_) / self.scale_, self.support_vectors_) @ self.dual_coef_ + self.intercept_

    def predict(self, X: Any) -> np.ndarray:
        return _decode_labels(self.decision_function(X), self.classes_)

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        """(arrays, meta): support vectors (standardised), dual coefficients, scaler, transductive labels."""
        self._check_fitted()
        arrays = {
            "support_vectors": self.support_vectors_,
            "dual_coef": self.dual_coef_,
            "intercept": np.asarray([self.intercept_]),
            "mean": self.mean_,
            "scale": self.scale_,
            "classes": self.classes_,
            "transduction": self.transduction_,
        }
        meta = {
            "class": type(self).__name__,
            "params": self.get_params(),
            "n_rounds": int(self.n_rounds_),
            "n_switches": int(self.n_switches_),
            "converged": bool(self.converged_),
        }
        return arrays, meta

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict) -> "TransductiveSVM":
        model = cls(**_check_meta(meta, cls.__name__)["params"])
        model.support_vectors_ = np.asarray(arrays["support_vectors"], dtype=np.float64)
        model.dual_coef_ = np.asarray(arrays["dual_coef"], dtype=np.float64)
        model.intercept_ = float(np.asarray(arrays["intercept"]).reshape(-1)[0])
        model.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        model.scale_ = np.asarray(arrays["scale"], dtype=np.float64)
        model.classes_ = np.asarray(arrays["classes"])
        model.transduction_ = np.asarray(arrays["transduction"])
        model.n_rounds_, model.n_switches_ = meta.get("n_rounds"), meta.get("n_switches")
        model.converged_ = meta.get("converged")
        return model
