"""Classical classifiers of the MART baselines (MldrNet Table IV: TSVM, LMC, NLMC, Lasso, Group Lasso) and the
bag-of-words / multiple-instance parts of Rao et al.'s baseline (Table III), all scikit-learn estimators.
May import numpy, scipy, scikit-learn and skops only; they raise ValueError, never the CLI's BenchError.

`make(name, **params)` (or `METHODS[name](**params)`) builds an unfitted Table IV method: the transductive ones
(`tsvm`, `lmc`, `nlmc`) fit as `fit(X, y)` with y = -1 on the unlabelled rows (scikit-learn's semi-supervised
convention), the inductive ones (`lasso`, `group-lasso`) as `fit(X, y)`. Every method takes any two class labels;
`tsvm`, `lasso` and `group-lasso` come as a Pipeline (StandardScaler, estimator), while matrix completion
standardises each transductive solve itself (see its module). `Codebook` and `MaxPoolMIL` are Rao's. Fitted
estimators are saved with skops (mldrnet.baselines.classical.saving), never pickled.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sklearn.base import BaseEstimator
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler

from mldrnet.baselines.classical.codebook import Codebook
from mldrnet.baselines.classical.group_lasso import LassoClassifier, SparseGroupLasso
from mldrnet.baselines.classical.matrix_completion import MatrixCompletion
from mldrnet.baselines.classical.mil import MaxPoolMIL
from mldrnet.baselines.classical.tsvm import TransductiveSVM


def standardised(estimator: BaseEstimator) -> Pipeline:
    """StandardScaler then `estimator` (a Pipeline fitted on every row of X: labelled and unlabelled ones)."""
    return Pipeline([("scale", StandardScaler()), ("model", estimator)])


METHODS: dict[str, Callable[..., Any]] = {
    "tsvm": lambda **params: standardised(TransductiveSVM(**params)),
    "lmc": lambda **params: MatrixCompletion(kernel="linear", **params),
    "nlmc": lambda **params: MatrixCompletion(kernel="rbf", **params),
    "lasso": lambda **params: standardised(LassoClassifier(**params)),
    "group-lasso": lambda **params: standardised(SparseGroupLasso(**params)),
}

TRANSDUCTIVE = frozenset({"tsvm", "lmc", "nlmc"})


def make(name: str, **params: Any) -> Any:
    """An unfitted estimator for the Table IV method `name` (a key of METHODS), built with `params`."""
    if name not in METHODS:
        raise ValueError(f"unknown classical method {name!r}: choose one of {', '.join(METHODS)}")
    return METHODS[name](**params)


__all__ = [
    "METHODS",
    "TRANSDUCTIVE",
    "Codebook",
    "LassoClassifier",
    "MatrixCompletion",
    "MaxPoolMIL",
    "SparseGroupLasso",
    "TransductiveSVM",
    "make",
    "standardised",
]
