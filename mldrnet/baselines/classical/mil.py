"""The multiple-instance classifier of Rao et al.'s baseline (mldrnet.baselines.features.rao): mi-SVM (Andrews,
Tsochantaridis & Hofmann, "Support vector machines for multiple-instance learning", NIPS 2003) with a linear SVM,
one-vs-rest, a bag scored by its maximum instance score.

Input, as a scikit-learn classifier: one bag per row of X, the row being the bag's `n_instances` instance vectors
of d features each, concatenated (a (n_instances, d) bag flattened in C order, as mldrnet.models.handcrafted
stores Rao's 21 blocks); `n_instances=1` is a plain linear SVM per class.

mi-SVM (Andrews et al., sec. 2, the heuristic of their Fig. 1): instances of negative bags are negative;
instances of positive bags start positive, then are relabelled by the sign of the SVM score, each positive bag
keeping at least its best instance positive (its witness), until the labels stop changing or `max_iter`. With
two classes one mi-SVM is trained with classes_[1] as the positive (witness-holding) class and the decision
value is its bag score (positive means classes_[1], as in scikit-learn): under the MIL assumption a negative
bag has no witness to look for. With more, one mi-SVM per class and the bag goes to the highest score.

Standardisation is inside, per feature over all instances of all bags: a StandardScaler in a Pipeline would
standardise each (instance slot, feature) column of the flattened bag on its own, not the one instance space
the shared SVM scores every instance in. A feature with std <= 1e-12 keeps scale 1.
`balanced=True` weights the ±1 instance labels of each mi-SVM inversely to their frequency (LinearSVC's
class_weight="balanced"); it is off by default: once relabelled, the few witnesses got huge weights and the
toy accuracy fell from ~0.89 to ~0.52.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.svm import LinearSVC
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_array, check_is_fitted, validate_data


class MaxPoolMIL(ClassifierMixin, BaseEstimator):
    """mi-SVM with max-pooled instance scores, one-vs-rest; see the module docstring.

    MaxPoolMIL(n_instances=21).fit(X, y) with X (n_bags, 21 * d); predict(X); decision_function(X) -> (n_bags,)
    for two classes, (n_bags, n_classes) otherwise; coef_ (one row per mi-SVM, on standardised instances).
    """

    def __init__(
        self,
        n_instances: int = 1,
        C: float = 1.0,
        max_iter: int = 10,
        balanced: bool = False,
        random_state: int | None = None,
    ):
        self.n_instances = n_instances
        self.C = C
        self.max_iter = max_iter
        self.balanced = balanced
        self.random_state = random_state

    def _instances(self, x: np.ndarray, n: int) -> np.ndarray:
        """(n_bags, n * d) -> (n_bags * n, d): the instances, bag after bag."""
        if int(n) < 1 or x.shape[1] % int(n):
            raise ValueError(f"X has {x.shape[1]} features per bag, not a multiple of n_instances={n}")
        return x.reshape(len(x) * int(n), x.shape[1] // int(n))

    def fit(self, X: Any, y: Any) -> MaxPoolMIL:
        x, y = validate_data(self, X, y, dtype=np.float64)
        check_classification_targets(y)
        classes = np.unique(y)
        if len(classes) < 2:
            raise ValueError(f"MaxPoolMIL needs at least 2 classes, got {len(classes)} class")
        inst = self._instances(x, self.n_instances)
        self.mean_ = inst.mean(axis=0)
        std = inst.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        xs = (inst - self.mean_) / self.scale_
        coef, intercept, iters = [], [], []
        for cls in classes[1:] if len(classes) == 2 else classes:
            svm, it = self._mi_svm(xs, y == cls)
            coef.append(svm.coef_[0].astype(np.float64))
            intercept.append(float(svm.intercept_[0]))
            iters.append(it)
        self.coef_, self.intercept_ = np.vstack(coef), np.asarray(intercept)
        self.classes_, self.n_iter_ = classes, np.asarray(iters)
        return self

    def _mi_svm(self, xs: np.ndarray, positive_bag: np.ndarray) -> tuple[LinearSVC, int]:
        """One mi-SVM: the bags in `positive_bag` hold witnesses, the others are negative throughout."""
        n_bags = positive_bag.shape[0]
        labels = np.where(np.repeat(positive_bag, len(xs) // n_bags), 1, -1)
        weight = "balanced" if self.balanced else None
        for it in range(1, self.max_iter + 1):
            svm = LinearSVC(C=self.C, class_weight=weight, dual=False, max_iter=2000, random_state=self.random_state)
            scores = svm.fit(xs, labels).decision_function(xs).reshape(n_bags, -1)
            new = np.where(positive_bag[:, None] & (scores > 0), 1, -1)
            lost = positive_bag & ~(new > 0).any(axis=1)  # such a bag keeps its best-scoring instance (witness)
            new[lost, scores[lost].argmax(axis=1)] = 1
            if np.array_equal(new.ravel(), labels) or it == self.max_iter:
                return svm, it
            labels = new.ravel()
        raise ValueError(f"max_iter must be at least 1, got {self.max_iter}")  # the loop ran no round

    def _scores(self, instances: np.ndarray) -> np.ndarray:
        return (instances - self.mean_) / self.scale_ @ self.coef_.T + self.intercept_

    def instance_scores(self, instances: Any) -> np.ndarray:
        """(n, d) instances -> their linear SVM scores: (n,) for two classes, (n, n_classes) otherwise."""
        check_is_fitted(self)
        scores = self._scores(check_array(instances, dtype=np.float64))
        return scores[:, 0] if len(self.classes_) == 2 else scores

    def decision_function(self, X: Any) -> np.ndarray:
        """Each class's maximum instance score in the bag: (n_bags,) for two classes (positive means
        classes_[1]), (n_bags, n_classes) otherwise."""
        check_is_fitted(self)
        x = validate_data(self, X, reset=False, dtype=np.float64)
        inst = self._instances(x, x.shape[1] // self.coef_.shape[1])
        best = self._scores(inst).reshape(len(x), -1, self.coef_.shape[0]).max(axis=1)
        return best[:, 0] if len(self.classes_) == 2 else best

    def predict(self, X: Any) -> np.ndarray:
        scores = self.decision_function(X)
        return self.classes_[(scores > 0).astype(np.intp) if scores.ndim == 1 else np.argmax(scores, axis=1)]
