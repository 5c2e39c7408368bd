"""Rao et al. 2016, multi-scale blocks with multiple-instance learning: a RECONSTRUCTION, not the original.

The MldrNet paper describes this baseline ("Rao[5]") only in Sec. II ("SIFT features extracted from both
global view and local view") and Sec. IV-B ("different visual features extracted from multi-scale image
patches"); the cited paper's title adds multiple-instance learning. No original code was used; this module
follows the stand-in described in the project's baseline notes (shared/notes/paper-baselines.md):

- Blocks: the image (resized to about 200,000 pixels) is cut into a 1x1 / 2x2 / 4x4 pyramid: 21 blocks,
  ordered whole image, then the 2x2 blocks row by row, then the 4x4 blocks row by row. Each block is an
  instance; the image is a bag of 21 instances.
- Per block: dense SIFT (OpenCV `SIFT.compute` on a grid of keypoints every 8 px, 16x16-px patches =
  4-px spatial bins, orientation fixed at 0) encoded as a bag of visual words (hard assignment to the nearest
  codeword, L1-normalised); a 36-bin colour histogram (chromatic pixels, S and V >= 0.2: 8 hue x 2 saturation
  x 2 value bins; achromatic pixels: 4 value bins); a 10-bin uniform LBP histogram (scikit-image
  `local_binary_pattern`, P=8, R=1). A keypoint belongs to the blocks its centre falls in.
- API: `descriptors(image) -> BlockDescriptors` (raw SIFT per block, colour and LBP histograms);
  `Codebook().fit(list_of_descriptor_arrays, k, seed)` (scikit-learn MiniBatchKMeans), `encode`,
  `to_arrays()/from_arrays()`; `instances(image, codebook) -> (21, k + 46)`; `MaxPoolMIL`, an mi-SVM
  (Andrews et al. 2003) with a linear SVM per class (one-vs-rest) whose bag score is the max instance score.

The common interface `extract(image)` cannot use a codebook learned from the training set, so it uses a fixed
default codebook: k=64 words fitted (MiniBatchKMeans, seed 0, one initialisation) on the dense SIFT descriptors
of 15 images bundled with scikit-image (`DEFAULT_CODEBOOK_IMAGES`), built once per process at first use
(~1-2 s). The 21 instance vectors are pooled over the blocks by max and by mean. Groups (220 dimensions in
all, in order):

    bovw_max 64, bovw_mean 64, color_max 36, color_mean 36, lbp_max 10, lbp_mean 10 (total 220)

Speed: ~42 ms per 200k-pixel image (~24 images/s) on one core, once the default codebook is built.

Departures, and why: the block layout (a fixed spatial pyramid), the feature set (SIFT BoVW, colour, LBP), the
codebook size and the MIL formulation are our choices, since the MldrNet text does not give Rao's; the default
codebook of `extract` comes from scikit-image's sample images, not from emotion data, so that the feature
vector is defined without a training set (train a `Codebook` on training images and use `instances` +
`MaxPoolMIL` for the MIL protocol). The default codebook is deterministic for a given installation of
scikit-image / OpenCV / scikit-learn; other library versions may give slightly different codewords.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from typing import Any, Sequence

import cv2
import numpy as np

from mldrnet.errors import BenchError
from mldrnet.baselines.features.image import as_rgb_uint8, resize_to_pixels

NAME = "rao"
VERSION = 1

LEVELS = (1, 2, 4)
N_BLOCKS = sum(n * n for n in LEVELS)  # 21
SIFT_STEP = 8  # px between dense keypoints
SIFT_PATCH = 16  # px covered by a descriptor (4 x 4 spatial bins of 4 px)
SIFT_DIM = 128
COLOR_BINS = 36
LBP_P, LBP_R = 8, 1
LBP_BINS = LBP_P + 2
DEFAULT_K = 64
DEFAULT_SEED = 0
DEFAULT_CODEBOOK_IMAGES = (
    "astronaut", "camera", "coffee", "chelsea", "rocket", "coins", "moon", "page",
    "text", "clock", "grass", "gravel", "brick", "immunohistochemistry", "hubble_deep_field",
)  # fmt: skip

GROUPS: dict[str, int] = {
    "bovw_max": DEFAULT_K,
    "bovw_mean": DEFAULT_K,
    "color_max": COLOR_BINS,
    "color_mean": COLOR_BINS,
    "lbp_max": LBP_BINS,
    "lbp_mean": LBP_BINS,
}


# -- blocks -------------------------------------------------------------------------------------------------
def _cell_edges(n: int) -> np.ndarray:
    return np.linspace(0, n, LEVELS[-1] + 1).round().astype(np.intp)


def _cell_index(coord: np.ndarray, edges: np.ndarray) -> np.ndarray:
    return np.clip(np.searchsorted(edges, coord, side="right") - 1, 0, LEVELS[-1] - 1)


def _pyramid(fine: np.ndarray) -> np.ndarray:
    """Counts of the finest 4x4 cells (4, 4, C) -> counts of all 21 blocks (21, C), coarse to fine."""
    c = fine.shape[-1]
    return np.concatenate(
        [fine.sum((0, 1))[None], fine.reshape(2, 2, 2, 2, c).sum((1, 3)).reshape(4, c), fine.reshape(16, c)]
    )


def _l1_rows(counts: np.ndarray) -> np.ndarray:
    total = counts.sum(axis=1, keepdims=True)
    return np.divide(counts, total, out=np.zeros(counts.shape, np.float64), where=total > 0)


def _pixel_histograms(codes: np.ndarray, bins: int) -> np.ndarray:
    """Per-pixel codes (H, W) in [0, bins) -> L1-normalised histograms of the 21 blocks (21, bins)."""
    h, w = codes.shape
    cell = _cell_index(np.arange(h), _cell_edges(h))[:, None] * LEVELS[-1] + _cell_index(np.arange(w), _cell_edges(w))
    n = LEVELS[-1] ** 2
    fine = np.bincount((cell * bins + codes).ravel(), minlength=n * bins).reshape(LEVELS[-1], LEVELS[-1], bins)
    return _l1_rows(_pyramid(fine.astype(np.float64)))


def _color_codes(rgb: np.ndarray) -> np.ndarray:
    hsv = cv2.cvtColor(rgb, cv2.COLOR_RGB2HSV)  # uint8: H in [0, 180), S and V in [0, 255]
    h, s, v = (hsv[..., i].astype(np.intp) for i in range(3))
    chromatic = (s >= 51) & (v >= 51)
    code_c = (h * 8 // 180) * 4 + (s >= 153) * 2 + (v >= 153)
    code_a = 32 + np.minimum(v * 4 // 256, 3)
    return np.where(chromatic, code_c, code_a)


def _dense_sift(gray: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(positions (n, 2) as (x, y), descriptors (n, 128) float32) on a regular grid."""
    h, w = gray.shape
    half = SIFT_PATCH / 2.0

    def axis(n: int) -> np.ndarray:
        return np.arange(half, n - half + 1e-9, SIFT_STEP) if n >= SIFT_PATCH else np.array([(n - 1) / 2.0])

    ys, xs = np.meshgrid(axis(h), axis(w), indexing="ij")
    # OpenCV's descriptor spans 4 bins of 3 * size / 2 px each: a SIFT_PATCH-px patch is size SIFT_PATCH / 6
    size = SIFT_PATCH / 6.0
    kps = [cv2.KeyPoint(float(x), float(y), size, 0.0) for x, y in zip(xs.ravel(), ys.ravel())]
    kps, desc = cv2.SIFT_create().compute(gray, kps)
    if desc is None or len(kps) == 0:
        return np.zeros((0, 2)), np.zeros((0, SIFT_DIM), np.float32)
    return np.array([k.pt for k in kps], dtype=np.float64), np.ascontiguousarray(desc, dtype=np.float32)


@dataclass(frozen=True)
class BlockDescriptors:
    """What an image gives before encoding: dense SIFT with the finest cell of each keypoint, and the
    colour / LBP histograms of the 21 blocks."""

    sift_all: np.ndarray  # (n, 128) float32, every dense descriptor of the image
    cell: np.ndarray  # (n,) finest (4x4) cell of each descriptor, row-major
    color: np.ndarray  # (21, COLOR_BINS) L1-normalised
    lbp: np.ndarray  # (21, LBP_BINS) L1-normalised

    @property
    def sift(self) -> tuple[np.ndarray, ...]:
        """The raw SIFT descriptors of each of the 21 blocks (coarse to fine)."""
        g = LEVELS[-1]
        row, col = self.cell // g, self.cell % g
        blocks = [self.sift_all]
        for n in LEVELS[1:]:
            f = g // n
            for by in range(n):
                for bx in range(n):
                    blocks.append(self.sift_all[(row // f == by) & (col // f == bx)])
        return tuple(blocks)


def descriptors(image) -> BlockDescriptors:
    """Dense SIFT, colour and LBP of the 21 pyramid blocks of an image (any size; resized to ~200k px)."""
    from skimage.feature import local_binary_pattern

    rgb = resize_to_pixels(as_rgb_uint8(image))
    gray = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    h, w = gray.shape
    pos, desc = _dense_sift(gray)
    cell = (_cell_index(pos[:, 1], _cell_edges(h)) * LEVELS[-1] + _cell_index(pos[:, 0], _cell_edges(w))).astype(
        np.intp
    )
    lbp = local_binary_pattern(gray, LBP_P, LBP_R, method="uniform").astype(np.intp)
    return BlockDescriptors(
        sift_all=desc,
        cell=cell,
        color=_pixel_histograms(_color_codes(rgb), COLOR_BINS),
        lbp=_pixel_histograms(np.clip(lbp, 0, LBP_BINS - 1), LBP_BINS),
    )


# -- codebook -----------------------------------------------------------------------------------------------
class Codebook:
    """A bag-of-visual-words codebook: k-means (MiniBatchKMeans) centres of SIFT descriptors."""

    def __init__(self, k: int = DEFAULT_K, seed: int = DEFAULT_SEED, max_descriptors: int = 200_000):
        self.k, self.seed, self.max_descriptors = int(k), int(seed), int(max_descriptors)
        self.centers_: np.ndarray | None = None

    def fit(
        self, descriptor_arrays: Sequence[np.ndarray], k: int | None = None, seed: int | None = None
    ) -> "Codebook":
        """Learn k codewords from a list of (n_i, 128) descriptor arrays (at most `max_descriptors`, sampled)."""
        from sklearn.cluster import MiniBatchKMeans

        if k is not None:
            self.k = int(k)
        if seed is not None:
            self.seed = int(seed)
        arrays = [np.asarray(a, dtype=np.float32).reshape(-1, SIFT_DIM) for a in descriptor_arrays]
        x = np.concatenate(arrays) if arrays else np.zeros((0, SIFT_DIM), np.float32)
        if self.k < 1:
            raise BenchError(f"codebook: k must be at least 1, got {self.k}")
        if not np.all(np.isfinite(x)):
            raise BenchError("codebook: descriptors contain NaN or infinite values")
        if len(x) > self.max_descriptors:
            keep = np.random.default_rng(self.seed).choice(len(x), self.max_descriptors, replace=False)
            x = x[np.sort(keep)]
        rows = np.ascontiguousarray(x).view(np.dtype((np.void, x.dtype.itemsize * SIFT_DIM))).ravel()
        distinct = len(np.unique(rows))
        if distinct < self.k:
            raise BenchError(f"codebook: {distinct} distinct descriptors cannot make {self.k} words; use more images")
        km = MiniBatchKMeans(n_clusters=self.k, random_state=self.seed, n_init=1, batch_size=2048, max_iter=100)
        km.fit(x.astype(np.float64))  # float64: scikit-learn's float32 distance path upcasts in slow chunks
        self.centers_ = np.ascontiguousarray(km.cluster_centers_, dtype=np.float32)
        return self

    def _check(self) -> np.ndarray:
        if self.centers_ is None:
            raise BenchError("codebook is not fitted: call fit(descriptor_arrays) or load it with from_arrays")
        return self.centers_

    def assign(self, desc: np.ndarray) -> np.ndarray:
        """Index of the nearest codeword of each descriptor: (n,) int."""
        c = self._check().astype(np.float64)
        x = np.asarray(desc, dtype=np.float64).reshape(-1, SIFT_DIM)
        if len(x) == 0:
            return np.zeros(0, np.intp)
        return np.argmin((c * c).sum(1)[None, :] - 2.0 * x @ c.T, axis=1)

    def encode(self, desc: np.ndarray) -> np.ndarray:
        """L1-normalised word histogram (k,) of a descriptor array (zeros for no descriptors)."""
        counts = np.bincount(self.assign(desc), minlength=self.k).astype(np.float64)
        return _l1_rows(counts[None])[0]

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        return {"centers": self._check().copy()}, {
            "class": type(self).__name__,
            "k": self.k,
            "dim": SIFT_DIM,
            "seed": self.seed,
            "max_descriptors": self.max_descriptors,
            "version": VERSION,
        }

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict) -> "Codebook":
        if meta.get("class") != cls.__name__:
            raise BenchError(f"saved model is a {meta.get('class')!r}, not a {cls.__name__!r}")
        centers = np.ascontiguousarray(arrays["centers"], dtype=np.float32)
        if centers.ndim != 2 or centers.shape != (int(meta["k"]), SIFT_DIM):
            raise BenchError(f"saved codebook: centres of shape {centers.shape} do not match k={meta['k']}")
        seed, limit = meta.get("seed", DEFAULT_SEED), meta.get("max_descriptors", 200_000)
        book = cls(k=meta["k"], seed=seed, max_descriptors=limit)
        book.centers_ = centers
        return book


@functools.lru_cache(maxsize=1)
def default_codebook() -> Codebook:
    """The fixed codebook of `extract`: DEFAULT_K words from the dense SIFT of scikit-image's sample images."""
    import skimage.data

    arrays = [descriptors(getattr(skimage.data, name)()).sift_all for name in DEFAULT_CODEBOOK_IMAGES]
    return Codebook(k=DEFAULT_K, seed=DEFAULT_SEED).fit(arrays)


# -- instances ----------------------------------------------------------------------------------------------
def instances(image, codebook: Codebook) -> np.ndarray:
    """The bag of an image: (21, k + COLOR_BINS + LBP_BINS) float64, one row per block, coarse to fine:
    [word histogram | colour histogram | LBP histogram]. `image` may be a `BlockDescriptors` already computed."""
    bd = image if isinstance(image, BlockDescriptors) else descriptors(image)
    g = LEVELS[-1]
    words = codebook.assign(bd.sift_all)
    fine = np.bincount(bd.cell * codebook.k + words, minlength=g * g * codebook.k).astype(np.float64)
    bovw = _l1_rows(_pyramid(fine.reshape(g, g, codebook.k)))
    return np.hstack([bovw, bd.color, bd.lbp])


def extract(image) -> dict[str, np.ndarray]:
    """RGB image -> {group: float64 vector}: the default-codebook instances pooled over the 21 blocks."""
    book = default_codebook()
    inst = instances(image, book)
    parts = {
        "bovw": inst[:, :DEFAULT_K],
        "color": inst[:, DEFAULT_K : DEFAULT_K + COLOR_BINS],
        "lbp": inst[:, DEFAULT_K + COLOR_BINS :],
    }
    out = {}
    for kind, block in parts.items():
        out[f"{kind}_max"] = block.max(axis=0).astype(np.float64)
        out[f"{kind}_mean"] = block.mean(axis=0).astype(np.float64)
    return {g: out[g] for g in GROUPS}


# -- multiple-instance classifier ---------------------------------------------------------------------------
def _as_bags(bags: Any, dim: int | None = None) -> tuple[np.ndarray, np.ndarray]:
    """A list of (n_i, d) instance arrays -> (stacked instances, bag start offsets)."""
    arrays = [np.asarray(b, dtype=np.float64) for b in bags]
    if not arrays:
        raise BenchError("bags: expected at least one bag")
    for i, a in enumerate(arrays):
        if a.ndim != 2 or a.shape[0] == 0:
            raise BenchError(f"bags[{i}]: expected a non-empty (instances, features) array, got shape {a.shape}")
    dims = {a.shape[1] for a in arrays}
    if len(dims) != 1 or (dim is not None and dims != {dim}):
        raise BenchError(f"bags: instances must all have {dim or 'the same number of'} features, got {sorted(dims)}")
    x = np.concatenate(arrays)
    if not np.all(np.isfinite(x)):
        raise BenchError("bags: instances contain NaN or infinite values")
    offsets = np.concatenate([[0], np.cumsum([len(a) for a in arrays])[:-1]]).astype(np.intp)
    return x, offsets


class MaxPoolMIL:
    """mi-SVM (Andrews et al. 2003), one-vs-rest: per class a linear SVM (LinearSVC) on standardised instances.

    Instances of negative bags are negative; instances of positive bags start positive, then are relabelled
    by the sign of the SVM score (each positive bag keeps at least its best instance positive) until the
    labels stop changing or `max_iter`. A bag's score for a class is its maximum instance score. With two
    classes one mi-SVM is trained with classes_[1] as the positive (witness-holding) class, and the decision
    columns are (-score, score): under the MIL assumption a negative bag has no witness to look for.
    `class_weight="balanced"` is off by default: once relabelled, the few witnesses got huge weights and the
    toy accuracy fell from ~0.89 to ~0.52.
    """

    def __init__(self, c: float = 1.0, max_iter: int = 10, class_weight: str | None = None, seed: int = 0):
        self.c, self.max_iter, self.class_weight, self.seed = float(c), int(max_iter), class_weight, int(seed)

    def get_params(self) -> dict:
        return {"c": self.c, "max_iter": self.max_iter, "class_weight": self.class_weight, "seed": self.seed}

    def fit(self, bags: Sequence[np.ndarray], y: Any) -> "MaxPoolMIL":
        from sklearn.svm import LinearSVC

        x, offsets = _as_bags(bags)
        y = np.asarray(y)
        if y.ndim != 1 or len(y) != len(offsets):
            raise BenchError(f"labels: expected {len(offsets)} labels in a 1-D array, got shape {y.shape}")
        classes = np.unique(y)
        if len(classes) < 2:
            raise BenchError(f"labels: need at least 2 classes, got {len(classes)}")
        self.mean_ = x.mean(axis=0)
        std = x.std(axis=0)
        self.scale_ = np.where(std > 1e-12, std, 1.0)
        xs = (x - self.mean_) / self.scale_
        sizes = np.diff(np.append(offsets, len(x)))
        bag_of = np.repeat(np.arange(len(offsets)), sizes)
        coef, intercept, iters = [], [], []
        for cls in classes[1:] if len(classes) == 2 else classes:
            positive_bag = (y == cls)[bag_of]
            labels = np.where(positive_bag, 1, -1)
            for it in range(1, self.max_iter + 1):
                svm = LinearSVC(
                    C=self.c, class_weight=self.class_weight, dual=False, max_iter=2000, random_state=self.seed
                ).fit(xs, labels)
                scores = svm.decision_function(xs)
                new = np.where(positive_bag & (scores > 0), 1, -1)
                # a positive bag with no positive instance keeps its best-scoring one (its witness)
                best = np.maximum.reduceat(scores, offsets)[bag_of]
                has_pos = np.logical_or.reduceat(new > 0, offsets)[bag_of]
                witness = positive_bag & ~has_pos & (scores == best)
                first = np.zeros(len(x), bool)
                idx = np.nonzero(witness)[0]
                _, keep = np.unique(bag_of[idx], return_index=True)
                first[idx[keep]] = True
                new = np.where(first, 1, new)
                if np.array_equal(new, labels):
                    break
                labels = new
            coef.append(svm.coef_[0].astype(np.float64))
            intercept.append(float(svm.intercept_[0]))
            iters.append(it)
        self.coef_, self.intercept_ = np.vstack(coef), np.asarray(intercept)
        self.classes_, self.n_iter_ = classes, iters
        return self

    def _check(self) -> None:
        if not hasattr(self, "coef_"):
            raise BenchError("MaxPoolMIL is not fitted: call fit(bags, y) or load it with from_arrays")

    def instance_scores(self, instances: np.ndarray) -> np.ndarray:
        """(n, d) instances -> (n, n_classes) linear SVM scores ((-s, s) for two classes)."""
        self._check()
        xs = (np.asarray(instances, dtype=np.float64) - self.mean_) / self.scale_
        scores = xs @ self.coef_.T + self.intercept_
        return np.hstack([-scores, scores]) if len(self.classes_) == 2 else scores

    def decision_function(self, bags: Sequence[np.ndarray]) -> np.ndarray:
        """(n_bags, n_classes): each class's maximum instance score in the bag ((-s, s) for two classes)."""
        self._check()
        x, offsets = _as_bags(bags, self.coef_.shape[1])
        scores = (x - self.mean_) / self.scale_ @ self.coef_.T + self.intercept_
        best = np.maximum.reduceat(scores, offsets, axis=0)
        return np.hstack([-best, best]) if len(self.classes_) == 2 else best

    def predict(self, bags: Sequence[np.ndarray]) -> np.ndarray:
        return self.classes_[np.argmax(self.decision_function(bags), axis=1)]

    def to_arrays(self) -> tuple[dict[str, np.ndarray], dict]:
        self._check()
        arrays = {
            "mean": self.mean_,
            "scale": self.scale_,
            "coef": self.coef_,
            "intercept": self.intercept_,
            "classes": self.classes_,
        }
        return arrays, {"class": type(self).__name__, "params": self.get_params(), "n_iter": list(self.n_iter_)}

    @classmethod
    def from_arrays(cls, arrays: dict[str, np.ndarray], meta: dict) -> "MaxPoolMIL":
        if meta.get("class") != cls.__name__:
            raise BenchError(f"saved model is a {meta.get('class')!r}, not a {cls.__name__!r}")
        model = cls(**meta["params"])
        model.mean_ = np.asarray(arrays["mean"], dtype=np.float64)
        model.scale_ = np.asarray(arrays["scale"], dtype=np.float64)
        model.coef_ = np.asarray(arrays["coef"], dtype=np.float64)
        model.intercept_ = np.asarray(arrays["intercept"], dtype=np.float64)
        model.classes_ = np.asarray(arrays["classes"])
        model.n_iter_ = list(meta.get("n_iter", []))
        return model
