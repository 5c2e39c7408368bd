"""What the classical estimators share: the binary-only scikit-learn base class, the two-class ±1 coding, and
scikit-learn's semi-supervised convention (a label of -1 marks an unlabelled row, as in sklearn.semi_supervised)."""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import validate_data

UNLABELLED = -1


class BinaryClassifier(ClassifierMixin, BaseEstimator):
    """Base of the two-class estimators: tagged binary-only; `predict` is the sign of `decision_function`."""

    classes_: np.ndarray

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.classifier_tags.multi_class = False
        return tags

    def decision_function(self, X: Any) -> np.ndarray:
        raise NotImplementedError

    def predict(self, X: Any) -> np.ndarray:
        """The class of the decision value's sign (positive means classes_[1], as in scikit-learn)."""
        return decode_labels(self.decision_function(X), self.classes_)


def encode_labels(y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two-class labels -> (classes sorted, ±1 float codes: classes[1] is +1); ValueError otherwise."""
    check_classification_targets(y)
    classes = np.unique(y)
    if classes.shape[0] != 2:
        raise ValueError(
            f"Only binary classification is supported: got {classes.shape[0]} class(es) {classes[:5].tolist()!r}"
        )
    return classes, np.where(y == classes[1], 1.0, -1.0)


def decode_labels(scores: np.ndarray, classes: np.ndarray) -> np.ndarray:
    """Decision values -> class labels (positive means classes[1])."""
    return classes[(np.asarray(scores) > 0).astype(np.intp)]


def unlabelled_mask(y: np.ndarray) -> np.ndarray:
    """True where y is the unlabelled marker -1 (numeric or object labels; string labels have none)."""
    if y.dtype.kind in "iuf":
        return y == UNLABELLED
    if y.dtype.kind == "O":
        return np.fromiter((isinstance(v, (int, float, np.number)) and v == UNLABELLED for v in y), bool, len(y))
    return np.zeros(len(y), bool)


def validate_semi_supervised(
    est: BaseEstimator, X: Any, y: Any
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(X as float64, labelled-row mask, classes, ±1 codes of the labelled rows) for `fit(X, y)` where -1 marks
    the unlabelled rows; sets `n_features_in_`."""
    x, y = validate_data(est, X, y, dtype=np.float64)
    labelled = ~unlabelled_mask(y)
    classes, y_pm = encode_labels(y[labelled])
    return x, labelled, classes, y_pm
