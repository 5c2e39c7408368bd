"""Zhao et al. 2014, "Exploring principles-of-art features for image emotion recognition" (ACM MM 2014).

The MldrNet paper's baseline "Zhao[4]" (Sec. II and IV-B): one feature family per principle of art (balance,
emphasis, harmony, variety, gradation, movement), written from Zhao et al.'s description as summarised in the
project's baseline notes (shared/notes/paper-baselines.md); no original code was used. Every image is first
resized to about 200,000 pixels (`image.resize_to_pixels`); symmetry, colour and harmony features run on a
half-size working copy (~50k pixels), gradients and gradation on the 200k image, saliency and gaze on a map
64 pixels wide (Hou & Zhang's size).

Groups (84 dimensions in all, in this order):

- balance (15): bilateral symmetry by mirror matching (Loy & Eklundh 2006): OpenCV SIFT keypoints of the
  image are matched against SIFT keypoints of its left-right mirror (OpenCV's brute-force matcher: up to 3
  nearest matches per keypoint, each closer than 0.8x the 4th nearest, so repeated structures survive); each
  pair votes with weight angular-symmetry x scale-similarity for its symmetry axis in a (theta, r) Hough
  space; features:
  strength (best 3x3 Hough cell / number of keypoints), number of axes (local maxima >= half the best),
  axis orientation (cos 2b, sin 2b of the axis angle b), axis offset from the image centre (5); plus a cheap
  flip-correlation, 1 - |g - flip(g)|^2 / (|g - mean|^2 + |flip(g) - mean|^2), left-right and top-bottom (2);
  rotational symmetry (Loy & Eklundh): SIFT keypoints matched within the image, each pair votes for its
  rotation centre: strength (about n-1 for n-fold symmetry), number of centres, centre offset, mean rotation
  angle / pi (4); radial symmetry
  by the fast radial symmetry transform (Loy & Zelinsky 2003, radii 3/6/12 px of the working copy):
  log1p(peak), log1p(mean), peak offset from centre, number of peaks (4).
- emphasis (9): Itten's seven colour contrasts over an 8x8 grid of blocks (light-dark on L*, saturation, hue,
  cold-warm, complementary, simultaneous, extension) and the rate of focused attention (spectral-residual
  saliency inside the subject region / total saliency) with the subject region's area fraction.
- harmony (10): per pixel, the chroma-weighted (S x V) hue histogram on Itten's 12-hue (RYB) wheel (HSV hue
  through `colour.ryb_hue`) in a 15x15 window of the working copy (~30 px at 200k); its two dominant hues are
  harmonious when their wheel distance is 0, 1, 4 or 6 steps (monochrome, analogous, triad, complementary);
  pixel harmony = (w1 + w2 [harmonious]) / (w1 + w2); pooled as chroma-weighted mean, std, fraction >= 0.9 (3)
  and the distance histogram (7).
- variety (31): colour-name variety: share of each of 11 basic colour names on the working copy
  (`colour.colour_name_shares`) (11), number of names covering >= 2 % of the image, colour-name entropy in
  bits (2); gradient distribution (Sobel): magnitude-weighted orientation histogram (8 bins over [0, pi)),
  magnitude histogram (8 fixed log-spaced bins), entropies of both in bits (18).
- gradation (6): windowed total variation D and windowed inherent variation L of relative total variation
  (Xu et al. 2012, Gaussian window sigma 3 px at 200k) in x and y: mean Dx, Dy, Lx, Ly, mean D/(L + 1e-3)
  in x and y.
- movement (13): a simulated gaze path of 8 fixations over the saliency map: winner-take-all with Gaussian
  inhibition of return (sigma = 1/8 of the map's shorter side) and a 1e-3 centre prior (so ties and flat
  images give a defined path); its 7 steps give a length-weighted direction histogram (8), mean and std of
  step length (in map diagonals), straightness |sum v| / sum |v|, mean fixation distance from the centre,
  and the share of saliency within the inhibited discs.

Departures from the original, and why:

- Itten's contrasts are computed over a fixed 8x8 grid of blocks, not over segmented regions: a grid is
  deterministic and fast; segmentation would dominate the time budget.
- The 11 colour names are nearest Lab prototypes of typical sRGB colours, an approximation of van de
  Weijer's learned colour-name table (external data we do not ship), and the Itten wheel is a piecewise-linear
  map of HSV hue: both are shared with Machajdik's features and documented in `colour`. L* (light-dark
  contrast) is that of the pixel's 32^3 RGB bin (`colour.binned_lightness`), as in Machajdik's features.
- Harmony uses the two dominant hues in each window and a fixed set of harmonious intervals; Zhao's exact
  pixel harmony formula is not reproduced.
- Saliency is spectral residual (Hou & Zhang 2007) for both the rate of focused attention and the gaze path,
  whatever saliency model the original used; the subject region is the saliency map above 3x its mean (Hou &
  Zhang's object threshold), not a separate subject detector; the gaze simulation is a plain WTA + IOR loop.
- Symmetry uses SIFT on the half-size copy with at most 500 keypoints (strongest responses), and matches
  must pass a ratio test (Loy & Eklundh keep the k nearest without one), to fit the time budget and keep
  random matches on texture from voting.
- The exact dimensions of the original groups are not published in the MldrNet text; these are ours.

Speed: ~66 ms per 200k-pixel image (~15 images/s) on one core (OpenCV and BLAS single-threaded).

All outputs are finite: flat, tiny, grayscale and huge images give zeros (or the defined defaults above)
where a statistic has nothing to measure.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
from scipy import ndimage
from scipy.stats import entropy

from mldrnet.baselines.features.colour import COLOUR_NAMES, binned_lightness, colour_name_shares, ryb_hue
from mldrnet.baselines.features.image import as_rgb_uint8, resize_to_pixels

NAME = "zhao"
VERSION = 2  # 2: colour names and L* from the `colour` tables shared with Machajdik (32^3 grid, scikit-image Lab)
GROUPS: dict[str, int] = {
    "balance": 15,
    "emphasis": 9,
    "harmony": 10,
    "variety": 31,
    "gradation": 6,
    "movement": 13,
}
# Name of each dimension, per group (same order as the vectors).
FEATURE_NAMES: dict[str, tuple[str, ...]] = {
    "balance": (
        "bilateral_strength", "bilateral_axes", "bilateral_axis_cos2", "bilateral_axis_sin2", "bilateral_offset",
        "flip_similarity_lr", "flip_similarity_tb",
        "rotational_strength", "rotational_centres", "rotational_offset", "rotational_angle",
        "radial_peak", "radial_mean", "radial_offset", "radial_peaks",
    ),
    "emphasis": (
        "itten_light_dark", "itten_saturation", "itten_hue", "itten_cold_warm", "itten_complementary",
        "itten_simultaneous", "itten_extension", "rfa", "subject_area",
    ),
    "harmony": ("harmony_mean", "harmony_std", "harmony_fraction", *(f"hue_step_{d}" for d in range(7))),
    "variety": (
        *(f"colour_{n}" for n in COLOUR_NAMES),
        "colour_count", "colour_entropy",
        *(f"orientation_{i}" for i in range(8)), *(f"magnitude_{i}" for i in range(8)),
        "orientation_entropy", "magnitude_entropy",
    ),
    "gradation": ("tv_x", "tv_y", "iv_x", "iv_y", "rtv_x", "rtv_y"),
    "movement": (
        *(f"direction_{i}" for i in range(8)), "step_mean", "step_std", "straightness", "centre_distance",
        "saliency_captured",
    ),
}  # fmt: skip
assert {g: len(n) for g, n in FEATURE_NAMES.items()} == GROUPS

_EPS = 1e-12
_MAX_KEYPOINTS = 500
_RATIO = 0.8
_SALIENCY_WIDTH = 64
_FIXATIONS = 8

# Itten's harmonious areas for yellow, orange, red, violet, blue, green (inverse of Goethe's light values
# 9:8:6:3:4:6), indexed by RYB sector of 60 degrees starting at red: red, orange, yellow, green, blue, violet.
_ITTEN_AREAS = np.array([6.0, 4.0, 3.0, 6.0, 8.0, 9.0])
_HARMONIOUS_STEPS = np.array([True, True, False, False, True, False, True])  # wheel distance 0..6
_MAG_EDGES = np.array([0.0, 0.005, 0.01, 0.02, 0.04, 0.08, 0.16, 0.32, np.inf])


# -- helpers ------------------------------------------------------------------------------------------------
def _entropy(p: np.ndarray) -> float:
    """Shannon entropy in bits of a histogram (normalised here); 0 for an empty one."""
    p = np.asarray(p, dtype=np.float64)
    return float(entropy(p, base=2)) + 0.0 if p.sum() > _EPS else 0.0


def _normalised(h: np.ndarray) -> np.ndarray:
    total = float(h.sum())
    return h / total if total > _EPS else np.zeros_like(h, dtype=np.float64)


def _block_means(arr: np.ndarray, n: int) -> np.ndarray:
    """Means over an n x n grid of blocks: (H, W, C) -> (n, n, C) (exact, with uneven block sizes)."""
    h, w = arr.shape[:2]
    ey = np.linspace(0, h, n + 1).round().astype(int)
    ex = np.linspace(0, w, n + 1).round().astype(int)
    sums = np.add.reduceat(np.add.reduceat(arr.astype(np.float64), ey[:-1], axis=0), ex[:-1], axis=1)
    counts = np.diff(ey)[:, None] * np.diff(ex)[None, :]
    return sums / np.maximum(counts, 1)[..., None]


def _local_maxima_count(a: np.ndarray, threshold: float, size: int, mode="nearest") -> int:
    """Number of local maxima (size x size window) reaching `threshold`; a plateau of equal maxima counts once.
    Not skimage's peak_local_max: it keeps plateau pixels min_distance apart, so the 3x3 plateau that one
    smoothed Hough vote makes would count as 4 peaks."""
    if threshold <= 0:
        return 0
    peaks = (a == ndimage.maximum_filter(a, size=size, mode=mode)) & (a >= threshold)
    return int(ndimage.label(peaks)[1])


def spectral_residual(gray: np.ndarray, width: int = _SALIENCY_WIDTH) -> np.ndarray:
    """Spectral-residual saliency (Hou & Zhang 2007) of a [0, 1] gray image, on a map `width` pixels wide.

    Returns float64 in [0, 1] (max 1), or zeros for a flat image.
    """
    h, w = gray.shape
    mh = max(4, round(h * width / max(w, 1)))
    small = cv2.resize(gray.astype(np.float32), (width, mh), interpolation=cv2.INTER_AREA).astype(np.float64)
    if small.std() < 1e-4:
        return np.zeros((mh, width))
    spectrum = np.fft.fft2(small)
    log_amp = np.log(np.abs(spectrum) + 1e-9)
    residual = log_amp - cv2.blur(log_amp, (3, 3), borderType=cv2.BORDER_REPLICATE)
    sal = np.abs(np.fft.ifft2(np.exp(residual + 1j * np.angle(spectrum)))) ** 2
    sal = cv2.GaussianBlur(sal, (0, 0), 2.5)
    top = sal.max()
    return sal / top if np.isfinite(top) and top > _EPS else np.zeros_like(sal)


# -- balance ------------------------------------------------------------------------------------------------
def _sift(gray_u8: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(xy (n, 2), image-coordinate orientation (n,) radians, size (n,), descriptors (n, 128))."""
    kps, desc = cv2.SIFT.create().detectAndCompute(gray_u8, None)
    if desc is None or len(kps) == 0:
        return np.zeros((0, 2)), np.zeros(0), np.zeros(0), np.zeros((0, 128), np.float32)
    response = np.array([k.response for k in kps])
    keep = np.argsort(-response, kind="stable")[:_MAX_KEYPOINTS]
    xy = np.array([kps[i].pt for i in keep], dtype=np.float64)
    # OpenCV's keypoint angle, in degrees, turns with the image in (x right, y down) coordinates: rotating the
    # image by b there (np.rot90: b = -90 degrees) adds b to the angle (checked empirically).
    ang = np.deg2rad(np.array([kps[i].angle for i in keep], dtype=np.float64))
    size = np.array([kps[i].size for i in keep], dtype=np.float64)
    return xy, ang, size, desc[keep]


def _ratio_matches(d1: np.ndarray, d2: np.ndarray, forbid: np.ndarray, k: int = 3) -> tuple[np.ndarray, np.ndarray]:
    """Index pairs (i, j): d2[j] is one of d1[i]'s k nearest neighbours (L2, OpenCV's brute-force matcher) outside
    `forbid` and is closer than 0.8 times the (k+1)-th (Lowe's ratio test against the (k+1)-th neighbour, so up
    to k repeated partners survive; with k or fewer allowed neighbours, all of them pass)."""
    if len(d1) == 0 or len(d2) == 0:
        return np.zeros(0, int), np.zeros(0, int)
    allowed = np.ascontiguousarray(~forbid, dtype=np.uint8)
    knn = cv2.BFMatcher(cv2.NORM_L2).knnMatch(d1.astype(np.float32), d2.astype(np.float32), k=k + 1, mask=allowed)
    pairs = [
        (m.queryIdx, m.trainIdx)
        for row in knn
        for m in row[:k]
        if len(row) <= k or m.distance < _RATIO * row[k].distance
    ]
    i, j = np.array(pairs, dtype=int).reshape(-1, 2).T
    return i, j


def _close_pairs(p: np.ndarray, q: np.ndarray, radius: float = 3.0) -> np.ndarray:
    """(len(p), len(q)) bool: the points are within `radius` pixels of each other."""
    dx = p[:, 0][:, None] - q[:, 0][None, :]
    dy = p[:, 1][:, None] - q[:, 1][None, :]
    return dx * dx + dy * dy < radius * radius


def _scale_similarity(s1: np.ndarray, s2: np.ndarray) -> np.ndarray:
    return np.exp(-np.abs(s1 - s2) / (s1 + s2 + _EPS)) ** 2


def _hough_peak(votes: np.ndarray, mode) -> tuple[float, tuple[int, int], np.ndarray]:
    """Best 3x3 neighbourhood sum of a vote histogram: (value, cell index, the 3x3-summed histogram)."""
    summed = ndimage.uniform_filter(votes, size=3, mode=mode) * 9.0
    idx = np.unravel_index(int(np.argmax(summed)), summed.shape)
    return float(summed[idx]), (int(idx[0]), int(idx[1])), summed


def _bilateral(gray_u8: np.ndarray, feats) -> np.ndarray:
    h, w = gray_u8.shape
    xy, ang, size, desc = feats
    mxy, mang, msize, mdesc = _sift(np.ascontiguousarray(gray_u8[:, ::-1]))
    out = np.zeros(5)
    if len(xy) < 2 or len(mxy) < 2:
        return out
    # keypoints of the mirror, mapped back into the image: x -> w-1-x, direction (dx, dy) -> (-dx, dy)
    mxy = np.column_stack([w - 1.0 - mxy[:, 0], mxy[:, 1]])
    mang = np.pi - mang
    forbid = _close_pairs(xy, mxy)  # a keypoint and its own reflection
    i, j = _ratio_matches(desc, mdesc, forbid)
    if len(i) == 0:
        return out
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    half_diag = 0.5 * math.hypot(w, h)
    d = mxy[j] - xy[i]
    theta = np.mod(np.arctan2(d[:, 1], d[:, 0]), np.pi)  # normal of the symmetry axis, folded to [0, pi)
    mid = 0.5 * (mxy[j] + xy[i]) - centre
    r = (mid[:, 0] * np.cos(theta) + mid[:, 1] * np.sin(theta)) / half_diag
    # the reflection across an axis with normal theta maps direction a to 2 theta + pi - a
    phi = 0.5 * (1.0 - np.cos(ang[i] + mang[j] - 2.0 * theta))
    weight = phi * _scale_similarity(size[i], msize[j])
    votes, _, _ = np.histogram2d(theta, np.clip(r, -1, 1), bins=(36, 40), range=((0, np.pi), (-1, 1)), weights=weight)
    peak, (ti, ri), summed = _hough_peak(votes, mode=("wrap", "nearest"))
    if peak <= _EPS:
        return out
    axis = (ti + 0.5) * np.pi / 36 + np.pi / 2
    out[0] = peak / len(xy)
    out[1] = _local_maxima_count(summed, 0.5 * peak, 5, mode=("wrap", "nearest"))
    out[2], out[3] = math.cos(2 * axis), math.sin(2 * axis)
    out[4] = abs(-1 + (ri + 0.5) * 2 / 40)
    return out


def _flip_similarity(g: np.ndarray) -> np.ndarray:
    out = np.zeros(2)
    for k, f in enumerate((g[:, ::-1], g[::-1, :])):
        num = float(((g - f) ** 2).sum())
        den = float(((g - g.mean()) ** 2).sum() + ((f - f.mean()) ** 2).sum())
        out[k] = 1.0 - num / den if den > 1e-9 else 1.0
    return out


def _rotational(gray_u8: np.ndarray, feats) -> np.ndarray:
    h, w = gray_u8.shape
    xy, ang, size, desc = feats
    out = np.zeros(4)
    if len(xy) < 3:
        return out
    forbid = _close_pairs(xy, xy)  # itself and co-located duplicates
    i, j = _ratio_matches(desc, desc, forbid)
    beta = np.angle(np.exp(1j * (ang[j] - ang[i])))  # rotation angle in (-pi, pi]
    keep = np.abs(beta) >= np.deg2rad(15.0)  # near-zero rotation is a translation (centre at infinity)
    i, j, beta = i[keep], j[keep], beta[keep]
    if len(i) == 0:
        return out
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    p, q = xy[i] - centre, xy[j] - centre
    c, s = np.cos(beta), np.sin(beta)
    # q = R p' where p' = p - C: C = (I - R)^-1 (q - R p)
    rhs_x = q[:, 0] - (c * p[:, 0] - s * p[:, 1])
    rhs_y = q[:, 1] - (s * p[:, 0] + c * p[:, 1])
    det = 2.0 - 2.0 * c
    cx = ((1 - c) * rhs_x - s * rhs_y) / det
    cy = (s * rhs_x + (1 - c) * rhs_y) / det
    weight = _scale_similarity(size[i], size[j])
    inside = (np.abs(cx) <= w / 2.0) & (np.abs(cy) <= h / 2.0)
    if not inside.any():
        return out
    rng = ((-h / 2.0, h / 2.0), (-w / 2.0, w / 2.0))
    votes, ye, xe = np.histogram2d(cy[inside], cx[inside], bins=(24, 24), range=rng, weights=weight[inside])
    peak, (yi, xi), summed = _hough_peak(votes, mode="constant")
    if peak <= _EPS:
        return out
    py, px = 0.5 * (ye[yi] + ye[yi + 1]), 0.5 * (xe[xi] + xe[xi + 1])
    near = inside & (np.abs(cy - py) <= 1.5 * (ye[1] - ye[0])) & (np.abs(cx - px) <= 1.5 * (xe[1] - xe[0]))
    out[0] = peak / len(xy)
    out[1] = _local_maxima_count(summed, 0.5 * peak, 5, mode="constant")
    out[2] = math.hypot(px, py) / (0.5 * math.hypot(w, h))
    out[3] = float(np.average(np.abs(beta[near]), weights=weight[near] + _EPS) / np.pi) if near.any() else 0.0
    return out


def _radial(gray: np.ndarray, radii=(3, 6, 12), alpha: float = 2.0) -> np.ndarray:
    """Fast radial symmetry transform (Loy & Zelinsky 2003), both polarities."""
    h, w = gray.shape
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3).astype(np.float64)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3).astype(np.float64)
    mag = np.hypot(gx, gy)
    top = mag.max()
    out = np.zeros(4)
    if top <= 1e-6:
        return out
    ys, xs = np.nonzero(mag >= 0.1 * top)
    m = mag[ys, xs]
    ux, uy = gx[ys, xs] / m, gy[ys, xs] / m
    m = m / m.mean()
    total = np.zeros(h * w)
    for n in radii:
        kn = 8.0 if n == 1 else 9.9
        orient = np.zeros(h * w)
        magnitude = np.zeros(h * w)
        for sign in (1.0, -1.0):
            py = np.clip(np.rint(ys + sign * uy * n), 0, h - 1).astype(np.intp)
            px = np.clip(np.rint(xs + sign * ux * n), 0, w - 1).astype(np.intp)
            idx = py * w + px
            orient += sign * np.bincount(idx, minlength=h * w)
            magnitude += sign * np.bincount(idx, weights=m, minlength=h * w)
        f = magnitude / kn * (np.abs(np.clip(orient, -kn, kn)) / kn) ** alpha
        total += cv2.GaussianBlur(f.reshape(h, w), (0, 0), 0.25 * n).ravel()
    s = np.abs(total.reshape(h, w)) / len(radii)
    peak = float(s.max())
    if peak <= _EPS:
        return out
    py, px = np.unravel_index(int(np.argmax(s)), s.shape)
    out[0] = math.log1p(peak)
    out[1] = math.log1p(float(s.mean()))
    out[2] = math.hypot(px - (w - 1) / 2.0, py - (h - 1) / 2.0) / (0.5 * math.hypot(w, h))
    out[3] = _local_maxima_count(s, 0.5 * peak, 2 * max(radii) + 1)
    return out


def _balance(gray_half_u8: np.ndarray) -> np.ndarray:
    feats = _sift(gray_half_u8)
    g = gray_half_u8.astype(np.float64) / 255.0
    return np.concatenate(
        [
            _bilateral(gray_half_u8, feats),
            _flip_similarity(g),
            _rotational(gray_half_u8, feats),
            _radial(g.astype(np.float32)),
        ]
    )


# -- emphasis -----------------------------------------------------------------------------------------------
def _itten_contrasts(hue_ryb: np.ndarray, sat: np.ndarray, val: np.ndarray, light: np.ndarray) -> np.ndarray:
    n = 8
    rad = np.deg2rad(hue_ryb)
    chroma = sat * val
    stack = np.stack(
        [light, sat, chroma * np.cos(rad), chroma * np.sin(rad), chroma * np.cos(rad - np.deg2rad(60.0))], axis=-1
    )
    blocks = _block_means(stack, n).reshape(n * n, -1)
    bl, bs, vx, vy, warm = blocks.T
    bc = np.hypot(vx, vy)  # chroma of the block's mean hue vector
    bh = np.arctan2(vy, vx)
    out = np.zeros(7)
    out[0] = bl.std()  # light-dark
    out[1] = bs.std()  # saturation
    out[2] = 1.0 - math.hypot(vx.sum(), vy.sum()) / bc.sum() if bc.sum() > 1e-9 else 0.0  # hue
    out[3] = warm.std()  # cold-warm
    pair_w = np.triu(np.outer(bc, bc), 1)
    opposition = (0.5 * (1.0 - np.cos(bh[:, None] - bh[None, :]))) ** 4
    out[4] = float((pair_w * opposition).sum() / pair_w.sum()) if pair_w.sum() > 1e-12 else 0.0  # complementary
    grid_c, grid_l = bc.reshape(n, n), bl.reshape(n, n)
    simult = [
        np.abs(np.diff(grid_c, axis=ax)) * (1.0 - np.abs(np.diff(grid_l, axis=ax))) for ax in (0, 1)
    ]  # a saturated block next to a neutral one of similar lightness
    out[5] = float(np.mean(np.concatenate([s.ravel() for s in simult])))
    sector = (np.mod(hue_ryb + 30.0, 360.0) // 60.0).astype(np.intp).ravel()
    area = np.bincount(sector, weights=chroma.ravel(), minlength=6)[:6]
    present = area >= 0.05 * area.sum() if area.sum() > 1e-9 else np.zeros(6, bool)
    if present.sum() >= 2:  # extension: distance from Itten's harmonious area proportions
        out[6] = 0.5 * float(np.abs(_normalised(area[present]) - _normalised(_ITTEN_AREAS[present])).sum())
    return out


def _emphasis(hsv_half: np.ndarray, hue_ryb: np.ndarray, lightness: np.ndarray, saliency: np.ndarray) -> np.ndarray:
    contrasts = _itten_contrasts(hue_ryb, hsv_half[..., 1], hsv_half[..., 2], lightness / 100.0)
    total = saliency.sum()
    if total > _EPS:
        subject = saliency >= 3.0 * saliency.mean()
        rfa, area = float(saliency[subject].sum() / total), float(subject.mean())
    else:
        rfa, area = 0.0, 0.0
    return np.concatenate([contrasts, [rfa, area]])


# -- harmony ------------------------------------------------------------------------------------------------
def _harmony(hue_ryb: np.ndarray, sat: np.ndarray, val: np.ndarray, window: int = 15) -> np.ndarray:
    h, w = hue_ryb.shape
    chroma = (sat * val).astype(np.float32)
    sector = (np.mod(hue_ryb + 15.0, 360.0) // 30.0).astype(np.intp) % 12
    onehot = np.zeros((h, w, 12), np.float32)
    np.put_along_axis(onehot, sector[..., None], chroma[..., None], axis=2)
    local = cv2.boxFilter(onehot, -1, (window, window), borderType=cv2.BORDER_REFLECT).reshape(-1, 12)
    local = np.maximum(local, 0.0)
    order = np.argsort(-local, axis=1, kind="stable")[:, :2]
    rows = np.arange(local.shape[0])
    w1, w2 = local[rows, order[:, 0]].astype(np.float64), local[rows, order[:, 1]].astype(np.float64)
    step = np.abs(order[:, 0] - order[:, 1])
    step = np.minimum(step, 12 - step)
    step = np.where(w2 < 0.1 * w1, 0, step)  # one dominant hue: monochrome
    tot = w1 + w2
    chromatic = tot > 1e-6
    out = np.zeros(10)
    if chromatic.sum() == 0:  # achromatic image: monochrome, perfectly harmonious
        out[0], out[1], out[2] = 1.0, 0.0, 1.0
        return out
    harm = np.where(_HARMONIOUS_STEPS[step], 1.0, w1 / np.maximum(tot, _EPS))
    wt = np.where(chromatic, tot, 0.0)
    mean = float(np.average(harm, weights=wt))
    out[0] = mean
    out[1] = math.sqrt(max(float(np.average((harm - mean) ** 2, weights=wt)), 0.0))
    out[2] = float(np.average(harm >= 0.9, weights=wt))
    out[3:] = _normalised(np.bincount(step, weights=wt, minlength=7)[:7])
    return out


# -- variety ------------------------------------------------------------------------------------------------
def _variety(rgb_half: np.ndarray, gray: np.ndarray) -> np.ndarray:
    share = colour_name_shares(rgb_half)
    gx = cv2.Sobel(gray, cv2.CV_32F, 1, 0, ksize=3)
    gy = cv2.Sobel(gray, cv2.CV_32F, 0, 1, ksize=3)
    mag = (np.hypot(gx, gy) / 4.0).astype(np.float64).ravel()  # a unit step gives 1
    theta = np.mod(np.arctan2(gy, gx).astype(np.float64).ravel(), np.pi)
    ori = _normalised(np.histogram(theta, bins=8, range=(0, np.pi), weights=mag)[0])
    mags = np.histogram(mag, bins=_MAG_EDGES)[0] / max(mag.size, 1)
    return np.concatenate(
        [share, [float((share >= 0.02).sum()), _entropy(share)], ori, mags, [_entropy(ori), _entropy(mags)]]
    )


# -- gradation ----------------------------------------------------------------------------------------------
def _gradation(gray: np.ndarray, sigma: float = 3.0, eps: float = 1e-3) -> np.ndarray:
    g = gray.astype(np.float32)
    dx = np.diff(g, axis=1, append=g[:, -1:])
    dy = np.diff(g, axis=0, append=g[-1:, :])
    out = []
    for d in (dx, dy):
        tv = cv2.GaussianBlur(np.abs(d), (0, 0), sigma).astype(np.float64)  # windowed total variation
        iv = np.abs(cv2.GaussianBlur(d, (0, 0), sigma)).astype(np.float64)  # windowed inherent variation
        out.append((tv.mean(), iv.mean(), float((tv / (iv + eps)).mean())))
    (dx_tv, dx_iv, dx_rtv), (dy_tv, dy_iv, dy_rtv) = out
    return np.array([dx_tv, dy_tv, dx_iv, dy_iv, dx_rtv, dy_rtv])


# -- movement -----------------------------------------------------------------------------------------------
def gaze_path(saliency: np.ndarray, n: int = _FIXATIONS) -> np.ndarray:
    """Fixations (n, 2) as (x, y) map pixels: winner-take-all over the saliency map with inhibition of return."""
    h, w = saliency.shape
    ys, xs = np.mgrid[0:h, 0:w].astype(np.float64)
    cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
    centre = np.exp(-((xs - cx) ** 2 + (ys - cy) ** 2) / (2.0 * (0.25 * max(h, w)) ** 2))
    s = saliency + 1e-3 * centre
    sigma2 = 2.0 * (min(h, w) / 8.0) ** 2
    fixations = np.zeros((n, 2))
    for k in range(n):
        y, x = np.unravel_index(int(np.argmax(s)), s.shape)
        fixations[k] = (x, y)
        s = s * (1.0 - np.exp(-((xs - x) ** 2 + (ys - y) ** 2) / sigma2))
    return fixations


def _movement(saliency: np.ndarray) -> np.ndarray:
    h, w = saliency.shape
    diag = math.hypot(w, h)
    fix = gaze_path(saliency)
    steps = np.diff(fix, axis=0) / diag
    length = np.hypot(steps[:, 0], steps[:, 1])
    direction = np.mod(np.arctan2(steps[:, 1], steps[:, 0]), 2 * np.pi)
    hist = _normalised(np.histogram(direction, bins=8, range=(0, 2 * np.pi), weights=length)[0])
    straight = float(np.hypot(*steps.sum(0)) / length.sum()) if length.sum() > _EPS else 0.0
    centre = np.array([(w - 1) / 2.0, (h - 1) / 2.0])
    dist_centre = float(np.hypot(*(fix - centre).T).mean() / (0.5 * diag))
    ys, xs = np.mgrid[0:h, 0:w]
    near = np.zeros((h, w), bool)
    radius2 = (min(h, w) / 8.0) ** 2
    for x, y in fix:
        near |= (xs - x) ** 2 + (ys - y) ** 2 <= radius2
    total = saliency.sum()
    captured = float(saliency[near].sum() / total) if total > _EPS else 0.0
    return np.concatenate([hist, [length.mean(), length.std(), straight, dist_centre, captured]])


# -- interface ----------------------------------------------------------------------------------------------
def extract(image) -> dict[str, np.ndarray]:
    """RGB image -> {group: float64 vector of GROUPS[group] dims} (see the module docstring)."""
    rgb = resize_to_pixels(as_rgb_uint8(image))
    gray_u8 = cv2.cvtColor(rgb, cv2.COLOR_RGB2GRAY)
    gray = gray_u8.astype(np.float32) / 255.0
    half = cv2.resize(rgb, (max(8, rgb.shape[1] // 2), max(8, rgb.shape[0] // 2)), interpolation=cv2.INTER_AREA)
    half_f = half.astype(np.float32) / 255.0
    hsv_half = cv2.cvtColor(half_f, cv2.COLOR_RGB2HSV)  # H degrees [0, 360), S and V in [0, 1]
    light_half = binned_lightness(half)  # L* in [0, 100]
    hue_ryb = ryb_hue(hsv_half[..., 0].astype(np.float64))
    gray_half_u8 = cv2.cvtColor(half, cv2.COLOR_RGB2GRAY)
    saliency = spectral_residual(gray)

    groups = {
        "balance": _balance(gray_half_u8),
        "emphasis": _emphasis(hsv_half, hue_ryb, light_half, saliency),
        "harmony": _harmony(hue_ryb, hsv_half[..., 1], hsv_half[..., 2]),
        "variety": _variety(half, gray),
        "gradation": _gradation(gray),
        "movement": _movement(saliency),
    }
    out = {}
    for name, dims in GROUPS.items():
        vec = np.asarray(groups[name], dtype=np.float64).ravel()
        if vec.shape != (dims,):
            raise AssertionError(f"zhao: group {name} has {vec.shape[0]} dims, expected {dims}")
        out[name] = vec
    return out
