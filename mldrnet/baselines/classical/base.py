"""Helpers the classical estimators share: feature and label checks, and their saved metadata."""

from __future__ import annotations

from typing import Any

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
