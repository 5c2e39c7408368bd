"""Split assignment: pure, seeded, stratified functions of (labels, seed).

- ratio: per class, a seeded shuffle cut into train / val / test at the given fractions (FI: 80 / 5 / 15).
- kfold: per class, a seeded shuffle dealt round-robin into k folds; each class starts where the previous one
  stopped, so fold sizes differ by at most one even when a class has fewer images than folds (Abstract has 3
  anger paintings, IAPS-Subset 8).
- val for k-fold: a seeded, stratified `KFOLD_VAL_FRACTION` of the training folds, so training can choose a
  checkpoint without looking at the test fold.
Every class gets its own RNG stream (seed, tag, class), so the functions depend on nothing but their inputs.
"""

from __future__ import annotations

import numpy as np

KFOLD_VAL_FRACTION = 0.1
_RATIO, _FOLD, _VAL = 1, 2, 3  # RNG stream tags: the three draws never share random numbers


def _by_class(labels: list[int]) -> dict[int, list[int]]:
    groups: dict[int, list[int]] = {}
    for i, label in enumerate(labels):
        groups.setdefault(label, []).append(i)
    return dict(sorted(groups.items()))


def _shuffled(indices: list[int], seed: int, tag: int, label: int) -> list[int]:
    rng = np.random.default_rng([seed, tag, label])
    return [indices[j] for j in rng.permutation(len(indices))]


def ratio_split(labels: list[int], ratios: tuple[float, float, float], seed: int) -> list[str]:
    """'train' / 'val' / 'test' per sample; `ratios` = (train, val, test) fractions per class."""
    _, val_frac, test_frac = ratios
    out = ["train"] * len(labels)
    for label, idx in _by_class(labels).items():
        idx = _shuffled(idx, seed, _RATIO, label)
        n_test = int(round(test_frac * len(idx)))
        n_val = int(round(val_frac * len(idx)))
        for i in idx[:n_test]:
            out[i] = "test"
        for i in idx[n_test : n_test + n_val]:
            out[i] = "val"
    return out


def kfold_split(labels: list[int], k: int, seed: int) -> list[int]:
    """Fold number (0..k-1) per sample."""
    out = [0] * len(labels)
    start = 0
    for label, idx in _by_class(labels).items():
        for j, i in enumerate(_shuffled(idx, seed, _FOLD, label)):
            out[i] = (start + j) % k
        start = (start + len(idx)) % k
    return out


def kfold_val(labels: list[int], folds: list[int], test_fold: int, seed: int) -> list[int]:
    """Indices of the validation samples carved from the training folds of `test_fold`, stratified."""
    train = [i for i, f in enumerate(folds) if f != test_fold]
    val: list[int] = []
    for label, idx in _by_class([labels[i] for i in train]).items():
        members = _shuffled([train[j] for j in idx], seed, _VAL * 1000 + test_fold, label)
        val += members[: int(round(KFOLD_VAL_FRACTION * len(members)))]
    return sorted(val)
