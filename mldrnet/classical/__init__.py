"""Classical classifiers of the MART baselines (MldrNet Table IV): TSVM, LMC, NLMC, Lasso, Group Lasso.
May import numpy, scipy, scikit-learn and `mldrnet.errors` only; models are saved as arrays + JSON."""

# `METHODS[name](**params)` or `make(name, **params)` builds an unfitted estimator. Transductive ones
# (`tsvm`, `lmc`, `nlmc`) fit as `fit(X_labeled, y, X_unlabeled)`; inductive ones (`lasso`, `group-lasso`)
# as `fit(X, y)`. Every estimator takes any two class labels, standardises its features itself, and has
# `to_arrays() -> (arrays, meta)` / `from_arrays(arrays, meta)` for .npz + JSON storage.
# The helpers below are shared by the submodules, so they are defined before the submodules are imported.

from __future__ import annotations

from typing import Any, Callable

import numpy as np

from mldrnet.errors import BenchError


def _as_features(x: Any, what: str) -> np.ndarray:
    """`x` as a finite float64 matrix (samples x features), or a BenchError naming `what`."""
    arr = np.asarray(x, dtype=np.float64)
    if arr.ndim != 2 or arr.shape[0] == 0 or arr.shape[1] == 0:
        raise BenchError(f"{what}: expected a non-empty 2-D feature matrix, got shape {arr.shape}")
    if not np.all(np.isfinite(arr)):
        raise BenchError(f"{what}: features contain NaN or infinite values; clean or impute them first")
    return arr


def _encode_labels(y: Any, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Two-class labels -> (classes sorted, ±1 float codes: classes[1] is +1)."""
    y = np.asarray(y)
    if y.ndim != 1 or y.shape[0] != n:
        raise BenchError(f"labels: expected {n} labels in a 1-D array, got shape {y.shape}")
    classes = np.unique(y)
    if classes.shape[0] != 2:
        raise BenchError(f"labels: these classifiers are binary, got {classes.shape[0]} classes {classes[:5]!r}")
    return classes, np.where(y == classes[1], 1.0, -1.0)


def _decode_labels(scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Decision values -> class labels (positive means classes[1], as in scikit-learn)."""
    return classes[(np.asarray(scores) > 0).astype(np.intp)]


def _check_meta(meta: dict, cls_name: str) -> dict:
    if meta.get("class") != cls_name:
        raise BenchError(f"saved model is a {meta.get('class')!r}, not a {cls_name!r}: load it with its own class")
    return meta


from mldrnet.classical.group_lasso import LassoClassifier, SparseGroupLasso  # noqa: E402
from mldrnet.classical.matrix_completion import MatrixCompletion  # noqa: E402
from mldrnet.classical.tsvm import TransductiveSVM  # noqa: E402

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
