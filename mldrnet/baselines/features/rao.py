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
  `instances(image, codebook) -> (21, k + 46)`. The two learned parts are scikit-learn estimators in
  mldrnet.baselines.classical: `Codebook` (codebook.py: MiniBatchKMeans codewords, nearest-codeword
  assignment) and `MaxPoolMIL` (mil.py: an mi-SVM, Andrews et al. 2003, with a linear SVM per class,
  one-vs-rest, whose bag score is the max instance score; a bag is one row, its 21 instances flattened).

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
vector is defined without a training set (fit a `Codebook` on training images and use `instances` +
`MaxPoolMIL(n_instances=N_BLOCKS)` for the MIL protocol). The default codebook is deterministic for a given
installation of scikit-image / OpenCV / scikit-learn; other library versions may give slightly different codewords.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass

import cv2
import numpy as np

from mldrnet.baselines.classical.codebook import Codebook
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
    grid = [cv2.KeyPoint(float(x), float(y), size, 0.0) for x, y in zip(xs.ravel(), ys.ravel())]
    kps, desc = cv2.SIFT.create().compute(gray, grid)
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
@functools.lru_cache(maxsize=1)
def default_codebook() -> Codebook:
    """The fixed codebook of `extract`: DEFAULT_K words from the dense SIFT of scikit-image's sample images."""
    import skimage.data

    arrays = [descriptors(getattr(skimage.data, name)()).sift_all for name in DEFAULT_CODEBOOK_IMAGES]
    return Codebook(n_clusters=DEFAULT_K, random_state=DEFAULT_SEED).fit(np.concatenate(arrays))


# -- instances ----------------------------------------------------------------------------------------------
def instances(image, codebook: Codebook) -> np.ndarray:
    """The bag of an image: (21, k + COLOR_BINS + LBP_BINS) float64, one row per block, coarse to fine:
    [word histogram | colour histogram | LBP histogram]. `image` may be a `BlockDescriptors` already computed."""
    bd = image if isinstance(image, BlockDescriptors) else descriptors(image)
    g, k = LEVELS[-1], codebook.cluster_centers_.shape[0]
    words = codebook.predict(bd.sift_all)
    fine = np.bincount(bd.cell * k + words, minlength=g * g * k).astype(np.float64)
    bovw = _l1_rows(_pyramid(fine.reshape(g, g, k)))
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
