"""Classification metrics the paper reports: top-1 accuracy, per-class true-positive rate, confusion matrix.

All rates are fractions in [0, 1]; callers that show percentages multiply by 100. The per-class true-positive
rate (recall, "TPR per class" in the paper's Figs. 8-10, following Machajdik & Hanbury) is scikit-learn's
per-class `recall_score`, the diagonal of the row-normalized confusion matrix; its mean is the balanced
accuracy, which unlike top-1 is not inflated by a model that favours the large classes. A class with no test
images has an undefined TPR (NaN), and the mean skips it, as the paper does for anger on Abstract and
IAPS-Subset.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
from sklearn.metrics import accuracy_score, confusion_matrix, recall_score

from mldrnet.errors import BenchError


@dataclass(frozen=True)
class ClassificationMetrics:
    top1: float  # fraction of test images whose arg-max class is the label
    mean_class_tpr: float  # mean over classes that have test images of the per-class TPR
    per_class_tpr: tuple[float, ...]  # NaN for a class without test images
    confusion: tuple[tuple[int, ...], ...]  # [true class][predicted class] counts
    count: int


def confusion(labels: Sequence[int], predictions: Sequence[int], num_classes: int) -> np.ndarray:
    """(num_classes, num_classes) counts, rows = true class, columns = predicted; every class present."""
    return confusion_matrix(np.asarray(labels), np.asarray(predictions), labels=list(range(num_classes)))


def per_class_tpr(labels: Sequence[int], predictions: Sequence[int], num_classes: int) -> np.ndarray:
    """(num_classes,) recall of each class; NaN where a class has no samples (not 0: nothing was missed)."""
    return recall_score(
        np.asarray(labels), np.asarray(predictions), labels=list(range(num_classes)), average=None, zero_division=np.nan
    )


def mean_ignoring_nan(values: Sequence[float]) -> float:
    finite = [v for v in values if not math.isnan(v)]
    return float(sum(finite) / len(finite)) if finite else float("nan")


def classification_metrics(
    labels: Sequence[int], predictions: Sequence[int], num_classes: int
) -> ClassificationMetrics:
    if len(labels) != len(predictions):
        raise ValueError(f"{len(labels)} labels but {len(predictions)} predictions")
    if len(labels) == 0:
        raise ValueError("no samples to score")
    cm = confusion(labels, predictions, num_classes)
    tpr = per_class_tpr(labels, predictions, num_classes)
    return ClassificationMetrics(
        top1=float(accuracy_score(np.asarray(labels), np.asarray(predictions))),
        mean_class_tpr=mean_ignoring_nan(tpr.tolist()),
        per_class_tpr=tuple(float(t) for t in tpr),
        confusion=tuple(tuple(int(c) for c in row) for row in cm),
        count=len(labels),
    )


def top1_agreement(logits_a: np.ndarray, logits_b: np.ndarray) -> float:
    """Fraction of samples on which two models pick the same class (parity of an engine with the reference)."""
    if logits_a.shape != logits_b.shape:
        raise ValueError(f"logit shapes differ: {logits_a.shape} vs {logits_b.shape}")
    return float(np.mean(logits_a.argmax(axis=1) == logits_b.argmax(axis=1)))


def max_abs_diff(logits_a: np.ndarray, logits_b: np.ndarray) -> float:
    if logits_a.shape != logits_b.shape:
        raise ValueError(f"logit shapes differ: {logits_a.shape} vs {logits_b.shape}")
    return float(np.max(np.abs(logits_a.astype(np.float64) - logits_b.astype(np.float64))))


# --- parity of an engine with the reference model ------------------------------------------------------------

FP32_RTOL, FP32_ATOL = 1e-3, 1e-4


@dataclass(frozen=True)
class ParityReport:
    """How far an engine's logits are from the reference's (PyTorch fp32 eager on the CPU) on the same images.

    The tolerance scales with the logits (`atol + rtol * max|reference|`): an untrained ResNet-101 emits logits in
    the thousands, a trained MldrNet single digits, and fp32 kernels differ by a relative ~1e-6 either way. A
    wrong input layout, normalization or weight shows up as a relative difference of order 1, far above it."""

    images: int
    top1_agreement: float  # fraction of images whose argmax is the same as the reference's
    max_abs_diff: float
    mean_abs_diff: float
    tolerance: float  # max_abs_diff allowed: atol + rtol * max |reference logit|

    @property
    def ok(self) -> bool:
        # written so that NaN fails; within the tolerance, a top-1 flip can only be a near tie
        return self.max_abs_diff <= self.tolerance

    def summary(self) -> str:
        return (
            f"top-1 agreement {self.top1_agreement:.2%} on {self.images} images, "
            f"max |logit diff| {self.max_abs_diff:.3g} (tolerance {self.tolerance:.3g})"
        )

    def to_dict(self) -> dict:
        return {**asdict(self), "ok": self.ok}


def parity(reference, candidate, rtol: float = FP32_RTOL, atol: float = FP32_ATOL) -> ParityReport:
    """The one parity measure: (N, C) logits of the reference and of the candidate (arrays or tensors)."""
    ref, cand = np.asarray(reference, dtype=np.float64), np.asarray(candidate, dtype=np.float64)
    if ref.shape != cand.shape:
        raise BenchError(f"engine output has shape {cand.shape}, PyTorch {ref.shape}")
    diff = np.abs(ref - cand)
    return ParityReport(
        images=int(ref.shape[0]),
        top1_agreement=top1_agreement(ref, cand),
        max_abs_diff=max_abs_diff(ref, cand),
        mean_abs_diff=float(diff.mean()),
        tolerance=atol + rtol * float(np.abs(ref).max()),
    )


def fold_summary(values: Sequence[float]) -> tuple[float, float]:
    """(mean, sample standard deviation) of per-fold scores, for the k-fold small-set experiments."""
    if not values:
        raise ValueError("no folds to summarize")
    arr = np.asarray(values, dtype=np.float64)
    return float(arr.mean()), float(arr.std(ddof=1)) if len(arr) > 1 else 0.0
