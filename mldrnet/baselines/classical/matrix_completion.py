"""Transductive matrix completion of missing labels: LMC (linear kernel) and NLMC (RBF kernel).

Papers: Goldberg, Zhu, Recht, Xu & Nowak, "Transduction with matrix completion: three birds with one stone",
NIPS 2010 (LMC, MldrNet ref. [51]), and Alameda-Pineda, Ricci, Yan & Sebe, "Recognizing emotions from
abstract paintings using non-linear matrix completion", CVPR 2016 (NLMC, MldrNet ref. [17]).

Model. Stack, for the N = n_L + n_U paintings as columns, the label row over the feature rows:
Z = [sqrt(lam) * (y - b); phi(x_1) ... phi(x_N)], where y holds the ±1 labels (observed on the labelled
columns, missing on the unlabelled ones), b is an unpenalised label offset (Goldberg et al. add a row of
ones for it) and phi is the identity (LMC) or the RBF feature map (NLMC), centred over the N columns. Both
papers assume Z is (close to) low rank and complete the missing label entries. We use a fixed-rank
Frobenius version: choose a rank-r row space span(Q), Q on the Stiefel manifold St(N, r), and the missing
labels, to minimise the Eckart-Young residual of Z, with K = Phi^T Phi and S = Q^T K Q,

    ||Z - Z Q Q^T||_F^2 = tr(K) - tr(S) + lam * ||(y - b)(I - Q Q^T)||^2,

where, as in Goldberg et al.'s "three birds" reading, the label row is a linear function of the low-rank
features, y - b ~ w^T Phi Q Q^T, whose weight norm is penalised: ||w||^2 = a^T S^-1 a for the label
coefficients a = Q^T (y - b). Eliminating the missing labels (y_U = b + Q_U a) leaves a trace objective over
the orthonormal Q alone,

    f(Q) = tr(K) - tr(S) + lam * min_{a, b} ( ||y_L - b - Q_L a||^2 + mu * a^T S^-1 a ).

Only K enters: the kernel trick is exact, NLMC never forms phi. Without the mu term, rank slots beyond the
data's rank are free to fit the observed labels on the labelled columns alone, and accuracy collapsed to
chance on our synthetic test at r = 5 for rank-3 data; mu penalises label directions that carry little
feature energy. f is minimised by Riemannian gradient descent on St(N, r) (embedded metric,
grad = G - Q sym(Q^T G); Euclidean G = -2 K Q - 2 lam mu K Q u u^T - 2 lam [e a^T; 0], u = S^-1 a, e the
label residual, by the envelope theorem), QR retraction and Armijo backtracking, from the closed-form start
Q0 = top-r eigenvectors of K + lam * y0 y0^T (y0 = centred observed labels, zeros elsewhere). The completed
labels are decision = b + Q_U a; prediction is their sign (the sign rule of both papers).

Departures, and why. (1) Goldberg et al. minimise a nuclear norm with a logistic loss on the label entries
(fixed-point continuation), and the CVPR 2016 paper a kernel counterpart, whose exact equations were not
at hand here: we follow the description in shared/notes/paper-baselines.md (trace objective over an
orthonormal Q of rank 2-5, regulariser lambda, Stiefel gradient descent with QR retraction), with a fixed
rank instead of a nuclear norm and a squared label loss, which make the label step closed-form and keep the
kernelisation exact. (2) The mu weight penalty (above) is ours. (3) Single binary task, not multi-label.
(4) K is scaled to mean diagonal 1, so lam weighs one label entry against one sample's feature energy for
both kernels. (5) Features are standardised inside over the N samples of each solve (labelled and
unlabelled: the unlabelled features are part of the transductive input). This stays inside rather than in a
StandardScaler of a Pipeline: a Pipeline fits its scaler once, on the fit-time X, and would apply those
statistics to a re-solve for new points, whose transductive set (labelled + the new points) differs.

API (scikit-learn's semi-supervised convention): fit(X, y) with y = -1 on the unlabelled rows;
`transduction_` is the label of every row of X (given, or completed). predict / decision_function on the
fitted unlabelled rows return the completed labels; on any other X they re-solve the completion with X as
the unlabelled set (the labelled set is stored, so saved models can do this too) and leave the fitted state
unchanged: the prediction of a point depends on the other points predicted with it, by design.
"""

from __future__ import annotations

from functools import partial
from typing import Any

import numpy as np
from scipy.linalg import eigh
from sklearn.metrics.pairwise import linear_kernel, rbf_kernel
from sklearn.preprocessing import KernelCenterer, StandardScaler
from sklearn.utils.validation import check_is_fitted, validate_data

from mldrnet.baselines.classical.base import BinaryClassifier, decode_labels, validate_semi_supervised

_KERNELS = ("linear", "rbf")


def _retract(m: np.ndarray) -> np.ndarray:
    """QR retraction onto the Stiefel manifold (the Q factor with a positive diagonal of R)."""
    q, r = np.linalg.qr(m)
    signs = np.sign(np.diag(r))
    signs[signs == 0] = 1.0
    return q * signs


def _objective(q: np.ndarray, k: np.ndarray, y_pm: np.ndarray, lam: float, mu: float):
    """f(Q) with the label map (a, b) at its optimum, and what the gradient needs: (f, a, b, e, u, KQ).

    f(Q) = tr K - tr S + lam * min_{a,b} ( ||y_L - b - Q_L a||^2 + mu a^T S^-1 a ),  S = Q^T K Q;
    the labelled samples are the first len(y_pm) rows of K.
    """
    n_l = y_pm.shape[0]
    trace_k = float(np.trace(k))
    kq = k @ q
    s_eval, s_evec = np.linalg.eigh(q.T @ kq)
    floor = 1e-10 * max(trace_k, 1e-300)  # S is singular where Q reaches the kernel's null space
    s_inv = (s_evec / np.maximum(s_eval, floor)) @ s_evec.T
    ql = q[:n_l]
    qc, yc = ql - ql.mean(axis=0), y_pm - y_pm.mean()
    a = np.linalg.solve(qc.T @ qc + mu * s_inv, qc.T @ yc)
    b = float(y_pm.mean() - ql.mean(axis=0) @ a)
    e = y_pm - b - ql @ a
    u = s_inv @ a
    f = trace_k - float(np.sum(q * kq)) + lam * (float(e @ e) + mu * float(a @ u))
    return f, a, b, e, u, kq


def _euclidean_gradient(a, e, u, kq, lam: float, mu: float) -> np.ndarray:
    """df/dQ: -2KQ for -tr S, -2 lam mu KQ u u^T for mu a^T S^-1 a (u = S^-1 a), -2 lam e a^T on the
    labelled rows for the residual (envelope theorem: a, b are at their optimum)."""
    g = -2.0 * kq - (2.0 * lam * mu) * np.outer(kq @ u, u)
    g[: e.shape[0]] -= 2.0 * lam * np.outer(e, a)
    return g


class MatrixCompletion(BinaryClassifier):
    """Fixed-rank (kernel) matrix completion of the missing labels; see the module docstring.

    MatrixCompletion(kernel="linear"|"rbf", rank=3, lam=1.0, mu=1.0, gamma=None).fit(X, y) with y = -1 on the
    unlabelled rows; predict(X) / decision_function(X) (X = the fitted unlabelled rows, or new points: re-solved).
    """

    def __init__(
        self,
        kernel: str = "rbf",
        rank: int = 3,
        lam: float = 1.0,
        mu: float = 1.0,
        gamma: float | None = None,
        max_iter: int = 300,
        tol: float = 1e-6,
    ):
        self.kernel = kernel
        self.rank = rank
        self.lam = lam
        self.mu = mu
        self.gamma = gamma
        self.max_iter = max_iter
        self.tol = tol

    # -- fitting -------------------------------------------------------------------------------------------
    def fit(self, X: Any, y: Any) -> MatrixCompletion:
        x, labelled, self.classes_, y_pm = validate_semi_supervised(self, X, y)
        self.X_labeled_, self.y_pm_, self.X_unlabeled_ = x[labelled], y_pm, x[~labelled]
        self.decision_unlabeled_, self.objective_, self.n_iter_ = self._solve(self.X_labeled_, y_pm, self.X_unlabeled_)
        transduction = np.empty(len(x), dtype=self.classes_.dtype)
        transduction[labelled] = decode_labels(y_pm, self.classes_)
        transduction[~labelled] = decode_labels(self.decision_unlabeled_, self.classes_)
        self.transduction_ = transduction
        return self

    def _gram(self, x: np.ndarray) -> np.ndarray:
        if self.kernel not in _KERNELS:
            raise ValueError(f"kernel must be one of {_KERNELS}, got {self.kernel!r}")
        xs = StandardScaler().fit_transform(x)
        if self.kernel == "linear":
            k = linear_kernel(xs)
        else:  # gamma=None: 1 / n_features, i.e. scikit-learn's "scale" on standardised features
            k = rbf_kernel(xs, gamma=self.gamma if self.gamma is not None else 1.0 / x.shape[1])
        k = KernelCenterer().fit_transform(k)
        trace = np.trace(k)
        if trace <= 0:
            raise ValueError("the centred kernel matrix is zero (all samples identical?): nothing to complete")
        return k * (k.shape[0] / trace)

    def _solve(self, xl: np.ndarray, y_pm: np.ndarray, xu: np.ndarray) -> tuple[np.ndarray, float, int]:
        n_l, n = xl.shape[0], xl.shape[0] + xu.shape[0]
        r = int(self.rank)
        if not 1 <= r < n:
            raise ValueError(f"rank must be in 1..{n - 1} for {n} samples, got {self.rank}")
        if self.lam <= 0 or self.mu <= 0:
            raise ValueError(f"lam and mu must be positive, got {self.lam}, {self.mu}")
        k = self._gram(np.vstack([xl, xu]))
        lam, mu = float(self.lam), float(self.mu)
        objective = partial(_objective, k=k, y_pm=y_pm, lam=lam, mu=mu)

        y0 = np.zeros(n)
        y0[:n_l] = y_pm - y_pm.mean()
        _, q = eigh(k + lam * np.outer(y0, y0), subset_by_index=[n - r, n - 1])
        q = _retract(q)
        f, a, b, e, u, kq = objective(q)
        step, it = 1.0 / (2.0 * (np.abs(k).sum(axis=1).max() + lam * n_l)), 0  # 1 / (a Lipschitz bound)
        while it < self.max_iter:
            it += 1
            g = _euclidean_gradient(a, e, u, kq, lam=lam, mu=mu)
            qtg = q.T @ g
            grad = g - q @ ((qtg + qtg.T) / 2.0)  # Riemannian gradient, embedded metric
            gnorm2 = float(np.sum(grad * grad))
            if gnorm2 <= (self.tol * max(1.0, abs(f))) ** 2:
                break
            step *= 2.0
            while True:  # Armijo backtracking along the retracted negative gradient
                q_new = _retract(q - step * grad)
                new = objective(q_new)
                if new[0] <= f - 1e-4 * step * gnorm2 or step < 1e-20:
                    break
                step /= 2.0
            decrease = f - new[0]
            q, (f, a, b, e, u, kq) = q_new, new
            if decrease <= self.tol * max(1.0, abs(f)):
                break
        return b + q[n_l:] @ a, f, it

    # -- prediction ----------------------------------------------------------------------------------------
    def decision_function(self, X: Any) -> np.ndarray:
        """Completed label values (positive means classes_[1]); new points are completed by re-solving."""
        check_is_fitted(self)
        x = validate_data(self, X, reset=False, dtype=np.float64)
        if x.shape == self.X_unlabeled_.shape and np.array_equal(x, self.X_unlabeled_):
            return self.decision_unlabeled_.copy()
        return self._solve(self.X_labeled_, self.y_pm_, x)[0]
