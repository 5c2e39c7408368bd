import math

import numpy as np
import pytest

from mldrnet.evaluation.metrics import (
    classification_metrics,
    confusion,
    fold_summary,
    max_abs_diff,
    mean_ignoring_nan,
    per_class_tpr,
    top1_agreement,
)


def test_metrics_on_a_hand_computed_example():
    labels = [0, 0, 0, 0, 1, 1, 2, 2]
    preds = [0, 0, 0, 1, 1, 0, 2, 2]
    m = classification_metrics(labels, preds, num_classes=4)
    assert m.top1 == pytest.approx(6 / 8)
    assert m.per_class_tpr[:3] == pytest.approx((3 / 4, 1 / 2, 1.0))
    assert math.isnan(m.per_class_tpr[3])  # class 3 has no test images
    assert m.mean_class_tpr == pytest.approx((0.75 + 0.5 + 1.0) / 3)  # NaN class skipped, not counted as 0
    assert m.confusion == ((3, 1, 0, 0), (1, 1, 0, 0), (0, 0, 2, 0), (0, 0, 0, 0))
    assert m.count == 8


def test_confusion_rows_are_true_classes_and_every_class_is_present():
    cm = confusion([2, 2], [0, 2], num_classes=3)
    assert cm.shape == (3, 3)
    assert cm[2, 0] == 1 and cm[2, 2] == 1 and cm.sum() == 2
    tpr = per_class_tpr([2, 2], [0, 2], num_classes=3)
    # class 0 was predicted but never true: undefined, like class 1 that was neither
    assert math.isnan(tpr[0]) and math.isnan(tpr[1]) and tpr[2] == pytest.approx(0.5)


def test_mean_tpr_differs_from_top1_on_imbalanced_data():
    labels = [0] * 9 + [1]
    preds = [0] * 10  # always the big class
    m = classification_metrics(labels, preds, 2)
    assert m.top1 == pytest.approx(0.9)
    assert m.mean_class_tpr == pytest.approx(0.5)


def test_bad_inputs():
    with pytest.raises(ValueError):
        classification_metrics([0, 1], [0], 2)
    with pytest.raises(ValueError):
        classification_metrics([], [], 2)
    assert math.isnan(mean_ignoring_nan([math.nan]))


def test_parity_helpers():
    a = np.array([[1.0, 2.0], [3.0, 0.0], [0.0, 1.0]], dtype=np.float32)
    b = a.copy()
    b[0, 0] = 2.5  # flips the first sample's arg-max
    assert top1_agreement(a, a) == 1.0
    assert top1_agreement(a, b) == pytest.approx(2 / 3)
    assert max_abs_diff(a, b) == pytest.approx(1.5)
    with pytest.raises(ValueError):
        top1_agreement(a, a[:2])


def test_fold_summary():
    mean, std = fold_summary([0.6, 0.7, 0.8])
    assert mean == pytest.approx(0.7) and std == pytest.approx(0.1)
    assert fold_summary([0.5]) == (0.5, 0.0)
