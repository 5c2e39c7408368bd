"""Colour tables and conversions shared by the Machajdik and Zhao features: one RYB hue map, one set of colour
names, one Lab conversion.

RYB (Itten) hue map. Itten's 12-hue wheel puts red, yellow and blue 120 degrees apart (red 0, orange 60,
yellow 120, green 180, blue 240, violet 300; complements opposite: red-green, yellow-violet, blue-orange).
`ryb_hue` maps an RGB hue onto it piecewise linearly, with knots where a named sRGB hue sits at the wheel
position of the same name: red 0 -> 0, orange 30 -> 60, yellow 60 -> 120, green 120 -> 180, cyan 180 -> 210
(blue-green), blue 240 -> 240, magenta 300 -> 300 (violet). It is an approximation: Itten gives no RGB
coordinates, and other maps in use differ (the artistic wheel of the kuler-d3 colour picker, modelled on
Adobe Kuler, puts sRGB blue at 275 and magenta at 330). The two methods used to disagree on magenta (Machajdik
315, Zhao 300): this table keeps Zhao's 300, which puts every knot but cyan's on one of Itten's named hues
rather than between two (315 lies between violet and red-violet).

Colour names. The 11 basic colour terms of van de Weijer et al., "Learning color names for real-world
applications" (IEEE TIP 2009): black, blue, brown, grey, green, orange, pink, purple, red, white, yellow.
Their learned table (w2c, a probability per name for each bin of a 32x32x32 RGB grid) is external data we do
not ship; it is approximated here by the nearest of 11 sRGB prototypes in CIE Lab (CIE76 distance), evaluated
on the same 32^3 grid (bin centres), so `colour_name_index` is a drop-in for the real table. The prototypes are
typical sRGB colours of each term, not fitted to any data. The methods used to disagree (Machajdik: black 20,
white 245, and slightly different blue, brown, pink and yellow); this table keeps Zhao's, whose black and white
are the gamut's ends (0 and 255), as in van de Weijer's own display colours for the names.

Lab. scikit-image's `rgb2lab` (sRGB, D65 white, 2 degree observer), for both methods: it is the exact CIE
formula in float64 with its illuminant named, and Machajdik's Luv ground distances already come from
scikit-image. OpenCV's float `cvtColor` (Zhao's before) differs from it by up to 0.5 Delta-E (other constants
and a gamma approximation): below a just-noticeable difference, but one definition is better than two. Its
speed does not matter: the methods never convert pixels, only the 32^3 bin centres, once (`colour_name_index`
and `binned_lightness` are table look-ups).
"""

from __future__ import annotations

import functools

import numpy as np
from skimage.color import rgb2lab

COLOUR_NAMES = ("black", "blue", "brown", "grey", "green", "orange", "pink", "purple", "red", "white", "yellow")
COLOUR_PROTOTYPES = np.array(  # sRGB, one row per COLOUR_NAMES entry
    [
        [0, 0, 0],
        [30, 60, 200],
        [120, 70, 30],
        [128, 128, 128],
        [40, 160, 50],
        [255, 140, 0],
        [255, 150, 190],
        [130, 50, 160],
        [210, 30, 30],
        [255, 255, 255],
        [250, 230, 40],
    ],
    dtype=np.uint8,
)

RGB_HUE_KNOTS = np.array([0.0, 30.0, 60.0, 120.0, 180.0, 240.0, 300.0, 360.0])  # degrees
RYB_HUE_KNOTS = np.array([0.0, 60.0, 120.0, 180.0, 210.0, 240.0, 300.0, 360.0])

_BINS = 32  # van de Weijer's grid: 32 levels per channel, bin = value // 8


def ryb_hue(hue_deg: np.ndarray) -> np.ndarray:
    """RGB hue (degrees, any range) -> hue on Itten's RYB wheel (degrees in [0, 360))."""
    return np.mod(np.interp(np.mod(hue_deg, 360.0), RGB_HUE_KNOTS, RYB_HUE_KNOTS), 360.0)


def rgb_to_lab(rgb: np.ndarray) -> np.ndarray:
    """sRGB (..., 3), uint8 or float in [0, 1] -> CIE Lab float64 (L* in [0, 100]), D65 / 2 degrees."""
    arr = np.asarray(rgb)
    x = arr / 255.0 if arr.dtype == np.uint8 else arr.astype(np.float64)
    return np.asarray(rgb2lab(x), dtype=np.float64)


@functools.cache
def _lut() -> tuple[np.ndarray, np.ndarray]:
    """(colour-name index, L*) of each 32^3 RGB bin's centre; the index is the nearest prototype in Lab."""
    q = np.arange(_BINS, dtype=np.float64) * (256 // _BINS) + (256 // _BINS - 1) / 2.0
    centres = np.stack(np.meshgrid(q, q, q, indexing="ij"), axis=-1).reshape(-1, 3) / 255.0
    lab = rgb_to_lab(centres)
    protos = rgb_to_lab(COLOUR_PROTOTYPES)
    d2 = ((lab[:, None, :] - protos[None, :, :]) ** 2).sum(-1)
    return d2.argmin(axis=1).astype(np.uint8), lab[:, 0].copy()


def _bin(rgb: np.ndarray) -> np.ndarray:
    q = (np.asarray(rgb, dtype=np.uint8) >> 3).astype(np.int64)
    return (q[..., 0] << 10) | (q[..., 1] << 5) | q[..., 2]


def colour_name_index(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (..., 3) -> index into COLOUR_NAMES of each pixel (through the 32^3 lookup table)."""
    return _lut()[0][_bin(rgb)]


def colour_name_shares(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (..., 3) -> (11,) share of the pixels named by each of COLOUR_NAMES (sums to 1)."""
    names = colour_name_index(rgb).ravel()
    return np.bincount(names, minlength=len(COLOUR_NAMES)) / max(names.size, 1)


def binned_lightness(rgb: np.ndarray) -> np.ndarray:
    """RGB uint8 (..., 3) -> L* of each pixel's 32^3 bin centre: a table look-up, within 2 L* of the pixel's own."""
    return _lut()[1][_bin(rgb)]
