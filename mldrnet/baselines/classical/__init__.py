"""Classical classifiers of the MART baselines (MldrNet Table IV): TSVM, LMC, NLMC, Lasso, Group Lasso.
May import numpy, scipy, scikit-learn and `mldrnet.errors` only; models are saved as arrays + JSON."""

# `METHODS[name](**params)` or `make(name, **params)` builds an unfitted estimator. Transductive ones
# (`tsvm`, `lmc`, `nlmc`) fit as `fit(X_labeled, y, X_unlabeled)`; inductive ones (`lasso`, `group-lasso`)
# as `fit(X, y)`. Every estimator takes any two class labels, standardises its features itself, and has
# `to_arrays() -> (arrays, meta)` / `from_arrays(arrays, meta)` for .npz + JSON storage.

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from mldrnet.errors import BenchError


from mldrnet.baselines.classical.group_lasso import LassoClassifier, SparseGroupLasso
from mldrnet.baselines.classical.matrix_completion import MatrixCompletion
from mldrnet.baselines.classical.tsvm import TransductiveSVM

METHODS: dict[str, Callable[..., Any]] = {
    "tsvm": TransductiveSVM,
    "lmc": lambda **params: MatrixCompletion(kernel="linear", **params),
    "nlmc": lambda **params: MatrixCompletion(kernel="rbf", **params),
    "lasso": LassoClassifier,
    "group-lasso": SparseGroupLasso,
}

TRANSDUCTIVE = frozenset({"tsvm", "lmc", "nlmc"})

CLASSES = {cls.__name__: cls for cls in (TransductiveSVM, MatrixCompletion, LassoClassifier, SparseGroupLasso)}


def make(name: str, **params: Any) -> Any:
    """An unfitted estimator for the Table IV method `name` (a key of METHODS), built with `params`."""
    if name not in METHODS:
        raise BenchError(f"unknown classical method {name!r}: choose one of {', '.join(METHODS)}")
    return METHODS[name](**params)


def from_arrays(arrays: dict[str, np.ndarray], meta: dict) -> Any:
    """Rebuild any fitted estimator of this package from its `to_arrays()` output."""
    cls = CLASSES.get(meta.get("class", ""))
    if cls is None:
        raise BenchError(f"saved model class {meta.get('class')!r} is not one of {', '.join(CLASSES)}")
    return cls.from_arrays(arrays, meta)


__all__ = [
    "METHODS",
    "TRANSDUCTIVE",
    "LassoClassifier",
    "MatrixCompletion",
    "SparseGroupLasso",
    "TransductiveSVM",
    "from_arrays",
    "make",
]
