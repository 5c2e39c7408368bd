"""The bag-of-visual-words codebook of Rao et al.'s baseline (mldrnet.baselines.features.rao): k-means centres of
local descriptors, and the hard assignment of each descriptor to its nearest codeword (Sivic & Zisserman 2003,
"Video Google"; Csurka et al. 2004, "Visual categorization with bags of keypoints").

`Codebook(n_clusters, random_state, max_descriptors)` is a scikit-learn clusterer: `fit(X)` on the stacked
(n, d) descriptors of the training images (at most `max_descriptors` of them, a seeded random subset) runs
MiniBatchKMeans (one initialisation); `predict(X)` is the nearest codeword (sklearn.metrics
`pairwise_distances_argmin`), `encode(X)` the L1-normalised word histogram of one image's descriptors.
Descriptors are held as float32 (SIFT's own type) and the k-means runs in float64.
"""

from __future__ import annotations

from typing import Any

import numpy as np
from sklearn.base import BaseEstimator, ClusterMixin
from sklearn.cluster import MiniBatchKMeans
from sklearn.metrics import pairwise_distances_argmin
from sklearn.utils.validation import check_is_fitted, validate_data


class Codebook(ClusterMixin, BaseEstimator):
    """k-means (MiniBatchKMeans) codewords of local descriptors; see the module docstring.

    Codebook(n_clusters=64, random_state=0).fit(descriptors); predict(descriptors) -> word per descriptor;
    encode(descriptors) -> (n_clusters,) histogram; cluster_centers_ (n_clusters, d) float32; labels_.
    """

    def __init__(self, n_clusters: int = 64, random_state: int | None = 0, max_descriptors: int = 200_000):
        self.n_clusters = n_clusters
        self.random_state = random_state
        self.max_descriptors = max_descriptors

    def fit(self, X: Any, y: Any = None) -> Codebook:
        """Learn `n_clusters` codewords from the (n, d) descriptors X (a seeded subset of `max_descriptors`)."""
        x = validate_data(self, X, dtype=np.float32)
        if self.n_clusters < 1:
            raise ValueError(f"codebook: n_clusters must be at least 1, got {self.n_clusters}")
        if len(x) > self.max_descriptors:
            keep = np.random.default_rng(self.random_state).choice(len(x), self.max_descriptors, replace=False)
            x = x[np.sort(keep)]
        rows = np.ascontiguousarray(x).view(np.dtype((np.void, x.dtype.itemsize * x.shape[1]))).ravel()
        distinct = len(np.unique(rows))
        if distinct < self.n_clusters:
            raise ValueError(
                f"codebook: {len(x)} sample(s) with {distinct} distinct descriptors cannot make "
                f"{self.n_clusters} words; use more images"
            )
        km = MiniBatchKMeans(
            n_clusters=self.n_clusters, random_state=self.random_state, n_init=1, batch_size=2048, max_iter=100
        )
        km.fit(x.astype(np.float64))  # float64: scikit-learn's float32 distance path upcasts in slow chunks
        self.cluster_centers_ = np.ascontiguousarray(km.cluster_centers_, dtype=np.float32)
        self.labels_ = self.predict(X)
        return self

    def predict(self, X: Any) -> np.ndarray:
        """Index of the nearest codeword of each descriptor: (n,) int (empty for no descriptors)."""
        check_is_fitted(self)
        x = validate_data(self, X, reset=False, dtype=np.float64, ensure_min_samples=0)
        if len(x) == 0:
            return np.zeros(0, np.intp)
        return pairwise_distances_argmin(x, self.cluster_centers_.astype(np.float64))

    def encode(self, X: Any) -> np.ndarray:
        """L1-normalised word histogram (n_clusters,) of a descriptor array (zeros for no descriptors)."""
        counts = np.bincount(self.predict(X), minlength=self.cluster_centers_.shape[0]).astype(np.float64)
        total = counts.sum()
        return counts / total if total > 0 else counts
