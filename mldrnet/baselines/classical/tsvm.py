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

API (scikit-learn's semi-supervised convention): `fit(X, y)` with y = -1 on the unlabelled rows. The
features are not scaled inside: `make("tsvm")` puts a StandardScaler in front, which a Pipeline fits on every
row of X, labelled and unlabelled, i.e. the standardisation over the whole transductive input. The final SVM
is inductive: `predict` / `decision_function` work on any X; `transduction_` holds, for every row of X, its
given label or the one OP2 assigned (which can differ from the final SVM's sign on points inside the
margin). The model keeps its support vectors, so a saved model predicts any X without refitting.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.metrics.pairwise import pairwise_kernels
from sklearn.svm import SVC
from sklearn.utils.validation import check_is_fitted, validate_data

from mldrnet.baselines.classical.base import BinaryClassifier, decode_labels, validate_semi_supervised

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


class _Problem:
    """The precomputed kernel of the labelled rows followed by the unlabelled ones, and SVC training on it."""

    def __init__(self, k: np.ndarray, n_l: int, tol: float):
        self.k, self.n_l, self.tol = k, n_l, tol
        self.lab, self.unl, self.all = np.arange(n_l), np.arange(n_l, k.shape[0]), np.arange(k.shape[0])

    def train(self, y: np.ndarray, weights: np.ndarray, rows: np.ndarray) -> SVC:
        svc = SVC(C=1.0, kernel="precomputed", tol=self.tol)
        return svc.fit(self.k[np.ix_(rows, rows)], y, sample_weight=weights)

    def scores(self, svc: SVC, rows: np.ndarray, trained_on: np.ndarray) -> np.ndarray:
        return svc.decision_function(self.k[np.ix_(rows, trained_on)])


class TransductiveSVM(BinaryClassifier):
    """Joachims' transductive SVM with label switching; see the module docstring.

    TransductiveSVM(C=1.0, C_star=None, kernel="rbf", gamma=None).fit(X, y) with y = -1 on the unlabelled rows;
    predict(X); decision_function(X); transduction_ (the label of every row of X, given or assigned).
    """

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
        self.C = C
        self.C_star = C_star
        self.kernel = kernel
        self.gamma = gamma
        self.positive_fraction = positive_fraction
        self.max_rounds = max_rounds
        self.tol = tol

    def _kernel(self, a: np.ndarray, b: np.ndarray) -> np.ndarray:
        # gamma=None: 1 / n_features, i.e. scikit-learn's gamma="scale" on standardised features
        gamma = self.gamma if self.gamma is not None else 1.0 / a.shape[1]
        return pairwise_kernels(a, b, metric=self.kernel, filter_params=True, gamma=gamma)

    def _costs(self) -> tuple[float, float]:
        if self.kernel not in _KERNELS:
            raise ValueError(f"kernel must be one of {_KERNELS}, got {self.kernel!r}")
        c, c_star = float(self.C), float(self.C if self.C_star is None else self.C_star)
        if c <= 0 or c_star <= 0:
            raise ValueError(f"C and C_star must be positive, got {c}, {c_star}")
        return c, c_star

    def fit(self, X: Any, y: Any) -> TransductiveSVM:
        c, c_star = self._costs()
        x, labelled, self.classes_, y_l = validate_semi_supervised(self, X, y)
        order = np.concatenate([np.flatnonzero(labelled), np.flatnonzero(~labelled)])
        x_all = x[order]  # labelled rows first
        problem = _Problem(self._kernel(x_all, x_all), int(labelled.sum()), self.tol)
        # 1: the inductive SVM on the labelled points
        svc = problem.train(y_l, np.full(problem.n_l, c), problem.lab)
        y_u = np.zeros(0)
        self.n_rounds_, self.n_switches_, self.converged_ = 0, 0, True  # no unlabelled row: the inductive SVM
        if problem.unl.size:
            y_u = self._initial_labels(y_l, problem.scores(svc, problem.unl, problem.lab))
            svc, y_u = self._switching(problem, y_l, y_u, c, c_star)
        self.support_vectors_ = x_all[svc.support_]
        self.dual_coef_ = np.asarray(svc.dual_coef_[0], dtype=np.float64)
        self.intercept_ = float(svc.intercept_[0])
        assigned = np.empty(len(x), dtype=self.classes_.dtype)
        assigned[order] = decode_labels(np.concatenate([y_l, y_u]), self.classes_)
        self.transduction_ = assigned
        return self

    def _initial_labels(self, y_l: np.ndarray, scores_u: np.ndarray) -> np.ndarray:
        """2: the num_+ highest-scoring unlabelled points positive, keeping the positive fraction."""
        frac = float(np.mean(y_l > 0)) if self.positive_fraction is None else float(self.positive_fraction)
        if not 0.0 <= frac <= 1.0:
            raise ValueError(f"positive_fraction must be in [0, 1], got {frac}")
        n_u = scores_u.shape[0]
        top = np.argsort(-scores_u, kind="stable")[: int(round(frac * n_u))]
        return np.where(np.isin(np.arange(n_u), top), 1.0, -1.0)

    def _switching(
        self, problem: _Problem, y_l: np.ndarray, y_u: np.ndarray, c: float, c_star: float
    ) -> tuple[SVC, np.ndarray]:
        """3-4: raise the unlabelled costs from 1e-5 to C*, switching label pairs at each level."""
        n_u, n_pos = y_u.shape[0], int(np.sum(y_u > 0))
        c_neg = 1e-5  # 3: tiny costs for the unlabelled points, balanced as in Joachims' Fig. 2
        c_pos = 1e-5 * n_pos / (n_u - n_pos) if 0 < n_pos < n_u else 1e-5
        rounds = switches = 0
        converged = True
        while True:
            while True:
                weights = np.concatenate([np.full(problem.n_l, c), np.where(y_u > 0, c_pos, c_neg)])
                svc = problem.train(np.concatenate([y_l, y_u]), weights, problem.all)
                rounds += 1
                pos, neg, n_switch = _switchable_pairs(y_u, problem.scores(svc, problem.unl, problem.all))
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
        self.n_rounds_, self.n_switches_, self.converged_ = rounds, switches, converged
        return svc, y_u

    def decision_function(self, X: Any) -> np.ndarray:
        """The final SVM's decision value (positive means classes_[1]), for any X."""
        check_is_fitted(self)
        x = validate_data(self, X, reset=False, dtype=np.float64)
        return self._kernel(x, self.support_vectors_) @ self.dual_coef_ + self.intercept_
