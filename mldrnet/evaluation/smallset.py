"""The paper's small-set protocol (section IV-C) for IAPS-Subset, ArtPhoto and Abstract, after Machajdik & Hanbury
2010 ([3]): per emotion a "one against all" classifier, "the image samples from each category are randomly split
into five batches and 5-fold cross validation", scored by "the true positive rate per class suggested in [3]".

- Folds: `class_folds` deals each category's shuffled images round-robin into the folds (mldrnet.data.splits
  `kfold_split`), so a category with at least `folds` images has positives in every test fold, and the same folds
  serve every one-vs-all problem.
- Not evaluable: a category with fewer images than folds gets no number (`ClassResult.evaluable` False, `mean_tpr`
  None), never a made-up one. The paper reports no anger for Abstract (3 images) nor for IAPS-Subset (8 images,
  two folds of one positive); `min_images` (default: `folds`) reproduces the latter when set to 10.
- Score: `tpr_per_class`, Machajdik & Hanbury's true positive rate per class of the one-vs-all problem, the true
  positive rate averaged over the positive and the negative class, 0.5 * (TP/P + TN/N) (balanced accuracy), so an
  always-"no" classifier scores 0.5 whatever the imbalance.
- Deep models: "we use the images to train the last fully connected layer in our MldrNet and AlexNet", i.e. the
  network is frozen and only its classification layer is refit per emotion. `last_layer_features` returns that
  layer's input; the default classifier (`last_layer_classifier`) is logistic regression, the same linear
  hypothesis as a retrained FC layer with a sigmoid, on standardised features, `class_weight="balanced"` because a
  one-vs-all problem is imbalanced (one emotion against seven) and the score weighs both classes equally.
- Hand-crafted features (Machajdik, Zhao, Rao): `handcrafted_features` reuses the cached extraction of
  mldrnet.models.handcrafted, and `svm_classifier` is the SVM factory to pass to `cross_validate_one_vs_all`.
- Regularisation: both classifiers choose C inside each outer training fold, by a grid search over
  `INNER_FOLDS` stratified inner folds scored by the same balanced accuracy (sklearn's GridSearchCV), then refit
  on the whole training fold; the outer test fold is never seen by the choice. The chosen C per fold is kept
  (`ClassResult.chosen_c`). An evaluable class has at least `folds` images, so a training fold holds at least
  `folds - 1` >= `INNER_FOLDS` positives.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from numpy.typing import ArrayLike
from sklearn.metrics import recall_score
from torch import nn

from mldrnet.data.splits import kfold_split
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError
from mldrnet.models.handcrafted import FeatureCache, FeatureSpec, split_features

FOLDS = 5


@dataclass(frozen=True)
class ClassResult:
    """One emotion's one-vs-all result over the folds; `mean_tpr` and `std_tpr` are None when not evaluable."""

    name: str
    label: int
    n_images: int
    evaluable: bool
    mean_tpr: float | None = None
    std_tpr: float | None = None
    fold_tprs: tuple[float, ...] = ()
    reason: str | None = None  # why it is not evaluable
    chosen_c: tuple[float, ...] = ()  # per fold, the C chosen on its inner folds

    def to_dict(self) -> dict:
        return asdict(self)


def class_folds(labels: ArrayLike, folds: int = FOLDS, seed: int = 0) -> np.ndarray:
    """Fold number (0..folds-1) per sample: each category split at random into `folds` batches."""
    return np.asarray(kfold_split([int(v) for v in np.asarray(labels)], folds, seed))


def one_vs_all(labels: ArrayLike, label: int) -> np.ndarray:
    """1 for the samples of `label`, 0 for every other category."""
    return (np.asarray(labels) == label).astype(int)


def tpr_per_class(y_true_binary: ArrayLike, y_pred_binary: ArrayLike) -> float:
    """Machajdik & Hanbury's "true positive rate per class" of a one-vs-all problem: the true positive rate
    averaged over the positive and the negative class, 0.5 * (TP/P + TN/N) (balanced accuracy), from the recall of
    each class (sklearn.metrics.recall_score, average=None)."""
    y, p = np.asarray(y_true_binary).astype(bool), np.asarray(y_pred_binary).astype(bool)
    if y.shape != p.shape:
        raise BenchError(f"true and predicted labels differ in length: {y.shape} vs {p.shape}")
    n_pos, n_neg = int(y.sum()), int((~y).sum())
    if not n_pos or not n_neg:
        raise BenchError(f"the true positive rate per class needs positives and negatives (got P={n_pos}, N={n_neg})")
    tpr, tnr = recall_score(y, p, labels=[True, False], average=None)  # TP/P, TN/N
    return 0.5 * (float(tpr) + float(tnr))


# --- classifiers -------------------------------------------------------------------------------------------


INNER_FOLDS = 3
# The C grids: logistic regression on hundreds to thousands of standardised network features with a few dozen
# positives wants strong regularisation, so its grid reaches down to 0.001; the RBF SVM's hand-crafted features
# are tens of dimensions, and 1 was the fixed choice before the search.
LAST_LAYER_C = (0.001, 0.01, 0.1, 1.0)
SVM_C = (0.1, 1.0, 10.0)


def inner_search(pipeline: Any, param: str, grid: Sequence[float], seed: int) -> Any:
    """`pipeline` with its `param` (C) chosen on `INNER_FOLDS` stratified folds of the data it is fit on, by the
    protocol's score (balanced accuracy), then refit on all of it."""
    from sklearn.model_selection import GridSearchCV, StratifiedKFold

    folds = StratifiedKFold(INNER_FOLDS, shuffle=True, random_state=seed)
    return GridSearchCV(pipeline, {param: list(grid)}, scoring="balanced_accuracy", cv=folds, refit=True)


def last_layer_classifier(seed: int = 0, grid: Sequence[float] = LAST_LAYER_C) -> Any:
    """The retrained last layer: standardised features + logistic regression, classes weighted to balance, C
    chosen on inner folds of the training fold."""
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler

    logistic = LogisticRegression(class_weight="balanced", max_iter=2000, random_state=seed)
    pipe = make_pipeline(StandardScaler(), logistic)
    return inner_search(pipe, "logisticregression__C", grid, seed)


def svm_classifier(seed: int = 0, kernel: str = "rbf", grid: Sequence[float] = SVM_C) -> Any:
    """For hand-crafted features: standardised features + an SVC with balanced class weights, C chosen on inner
    folds of the training fold."""
    from sklearn.pipeline import make_pipeline
    from sklearn.preprocessing import StandardScaler
    from sklearn.svm import SVC

    pipe = make_pipeline(StandardScaler(), SVC(kernel=kernel, class_weight="balanced", random_state=seed))
    return inner_search(pipe, "svc__C", grid, seed)


def chosen_c(classifier: Any) -> float | None:
    """The C an inner search chose (None for a plain estimator)."""
    best = getattr(classifier, "best_params_", None) or {}
    return next((float(v) for k, v in best.items() if k.endswith("__C")), None)


# --- cross-validation --------------------------------------------------------------------------------------


def _fold_tprs(
    x: np.ndarray, y: np.ndarray, folds: np.ndarray, n_folds: int, make_classifier, seed: int
) -> tuple[list[float], list[float]]:
    """Per outer fold: the true positive rate per class on the held-out fold, and the C chosen on the others."""
    tprs, cs = [], []
    for k in range(n_folds):
        test = folds == k
        clf = make_classifier(seed)
        clf.fit(x[~test], y[~test])
        tprs.append(tpr_per_class(y[test], np.asarray(clf.predict(x[test])).astype(int)))
        if (c := chosen_c(clf)) is not None:
            cs.append(c)
    return tprs, cs


def _not_evaluable(y: np.ndarray, folds: np.ndarray, n_folds: int, min_images: int) -> str | None:
    n_pos = int(y.sum())
    if n_pos < min_images:
        return f"{n_pos} images, fewer than {min_images}: no {n_folds}-fold cross-validation"
    missing = [k for k in range(n_folds) if not y[folds == k].any() or y[folds == k].all()]
    if missing:
        return f"test fold(s) {missing} lack positives or negatives"
    return None


def cross_validate_one_vs_all(
    features: np.ndarray,
    labels: np.ndarray,
    classes: Sequence[str],
    folds: int = FOLDS,
    seed: int = 0,
    make_classifier: Callable[[int], Any] = last_layer_classifier,
    min_images: int | None = None,
    fold_of: Sequence[int] | None = None,
) -> dict[str, ClassResult]:
    """Per emotion (label i is `classes[i]`): one-vs-all classifiers trained on `folds` - 1 batches and scored on
    the held-out one; mean and (population) std of the per-fold true positive rate per class.
    `make_classifier(seed)` returns a fresh scikit-learn estimator (fit / predict on 0/1 labels). `fold_of` gives
    each row's fold (default: `class_folds` of these labels); pass the folds dealt once over the whole set, subset
    to the rows a method could read, so that every method is scored on the same test folds."""
    x, labels = np.asarray(features, dtype=np.float64), np.asarray(labels).astype(int)
    if x.ndim != 2 or len(x) != len(labels):
        raise BenchError(f"features must be (N, D) with one row per label: got {x.shape} for {len(labels)} labels")
    if folds < 2:
        raise BenchError(f"cross-validation needs at least 2 folds, got {folds}")
    fold_arr = class_folds(labels, folds, seed) if fold_of is None else np.asarray(fold_of)
    if fold_arr.shape != labels.shape or fold_arr.min(initial=0) < 0 or fold_arr.max(initial=0) >= folds:
        raise BenchError(
            f"fold_of must give one fold in 0..{folds - 1} per row: got {fold_arr.shape[0]} values in "
            f"{fold_arr.min(initial=0)}..{fold_arr.max(initial=0)} for {len(labels)} rows"
        )
    results = {}
    for label, name in enumerate(classes):
        y = one_vs_all(labels, label)
        reason = _not_evaluable(y, fold_arr, folds, folds if min_images is None else min_images)
        if reason:
            results[name] = ClassResult(name, label, int(y.sum()), False, reason=reason)
            continue
        tprs, cs = _fold_tprs(x, y, fold_arr, folds, make_classifier, seed)
        results[name] = ClassResult(
            name, label, int(y.sum()), True, float(np.mean(tprs)), float(np.std(tprs)), tuple(tprs), chosen_c=tuple(cs)
        )
    return results


# --- features ----------------------------------------------------------------------------------------------


def _batches(data, batch_size: int) -> Iterable[torch.Tensor]:
    """Image batches from a (N, 3, H, W) tensor, or from a loader of tensors / (images, labels, ...) tuples."""
    if isinstance(data, torch.Tensor):
        for i in range(0, len(data), batch_size):
            yield data[i : i + batch_size]
        return
    for batch in data:
        yield batch[0] if isinstance(batch, (tuple, list)) else batch


def classification_layers(model: nn.Module, num_classes: int) -> list[nn.Linear]:
    """Every nn.Linear that emits `num_classes` scores, in module order (MldrNet with fusion over the scores: one
    per branch, `branches[i].fc2`; AlexNet: `classifier[6]`)."""
    return [m for m in model.modules() if isinstance(m, nn.Linear) and m.out_features == num_classes]


@torch.no_grad()
def last_layer_features(
    model: nn.Module, loader_or_tensors, device: str | torch.device = "cpu", batch_size: int = 64
) -> np.ndarray:
    """(N, D): the inputs of the model's last classification layer(s), concatenated in module order, which are
    the layers the protocol retrains. The number of classes is the width of the model's output; every nn.Linear
    with that many outputs counts. For MldrNet's mean fusion of branch scores that is each branch's `fc2`
    (D = levels * hidden): the mean of the branches' linear scores is one linear map of their concatenated inputs,
    so a linear classifier on the concatenation is the same hypothesis class as retraining every fc2 together.
    AlexNet: the 4096-d input of `classifier[6]`. A five-crop batch (B, 5, 3, H, W) gives the crops' mean."""
    was_training = model.training
    model.eval().to(device)
    seen: dict[nn.Linear, torch.Tensor] = {}
    linears = [m for m in model.modules() if isinstance(m, nn.Linear)]
    handles = [m.register_forward_hook(lambda mod, inp, out: seen.__setitem__(mod, inp[0])) for m in linears]
    rows: list[np.ndarray] = []
    try:
        for images in _batches(loader_or_tensors, batch_size):
            crops = images.shape[1] if images.dim() == 5 else 1
            seen.clear()
            out = model(images.flatten(0, 1).to(device) if crops > 1 else images.to(device))
            chosen = [m for m in linears if m.out_features == out.shape[-1] and m in seen]
            if not chosen:
                raise BenchError(
                    f"{type(model).__name__} has no linear layer with {out.shape[-1]} outputs "
                    "(its class scores): there is no last layer to retrain"
                )
            feats = torch.cat([seen[m].flatten(1) for m in chosen], dim=1).float()
            rows.append(feats.view(-1, crops, feats.shape[1]).mean(1).cpu().numpy())
    finally:
        for h in handles:
            h.remove()
        model.train(was_training)
    if not rows:
        raise BenchError("no images to extract features from")
    return np.concatenate(rows)


def handcrafted_features(
    paths: Sequence[str | Path],
    method: str,
    results_root: str | Path,
    prep=None,
    workers: int = 0,
    groups: tuple[str, ...] | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """(features (M, D), kept (M,)) of the image files for `method` machajdik | zhao | rao, through the cached,
    parallel extraction of mldrnet.models.handcrafted (results/features/); `kept` are the indices into `paths` of the
    readable images (an unreadable file is dropped, as in training). Pass the rows to
    `cross_validate_one_vs_all(..., make_classifier=svm_classifier)` with `labels[kept]`."""
    prep = prep or Preprocessing()
    spec = FeatureSpec(method, groups)
    cache = FeatureCache(Path(results_root), spec, prep)
    # the sample "labels" are the indices, so the returned labels say which files were readable
    x, kept = split_features(spec, prep, [(str(p), i) for i, p in enumerate(paths)], cache, workers)
    return x, kept.astype(int)
