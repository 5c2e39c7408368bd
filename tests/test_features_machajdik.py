"""Machajdik & Hanbury (2010) features: shapes, finiteness on degenerate images, and that each feature moves the
way its definition says on images built to differ in exactly that property."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data
from skimage.color import hsv2rgb

from mldrnet.baselines.features import colour, extract_vector, method
from mldrnet.baselines.features import machajdik as mj

H, W = 400, 500  # exactly 200k pixels: resize_to_pixels leaves synthetic images untouched


def feats(image) -> dict[str, float]:
    """Feature name -> value, over all groups."""
    groups = mj.extract(image)
    return {n: float(v) for g in mj.GROUPS for n, v in zip(mj.FEATURE_NAMES[g], groups[g], strict=True)}


def solid(rgb) -> np.ndarray:
    return np.tile(np.asarray(rgb, dtype=np.uint8), (H, W, 1))


@pytest.fixture(scope="module")
def astronaut():
    return data.astronaut()


@pytest.fixture(scope="module")
def astronaut_feats(astronaut):
    return feats(astronaut)


def test_interface_and_dimensions(astronaut):
    assert mj.NAME == "machajdik" and mj.VERSION == 2  # 2: the shared `colour` tables
    assert method("machajdik") is mj
    assert list(mj.GROUPS) == ["colour", "texture", "composition", "content"]
    assert {g: len(n) for g, n in mj.FEATURE_NAMES.items()} == mj.GROUPS
    names = [n for g in mj.GROUPS for n in mj.FEATURE_NAMES[g]]
    assert len(set(names)) == len(names)
    out = mj.extract(astronaut)
    assert list(out) == list(mj.GROUPS)
    for g, v in out.items():
        assert v.dtype == np.float64 and v.shape == (mj.GROUPS[g],)
    vec = extract_vector("machajdik", astronaut)
    assert vec.shape == (sum(mj.GROUPS.values()),)
    np.testing.assert_array_equal(vec, np.concatenate([out[g] for g in mj.GROUPS]))


_rng = np.random.default_rng(0)
DEGENERATE = {
    "flat": np.full((300, 400, 3), 128, np.uint8),
    "black": np.zeros((60, 80, 3), np.uint8),
    "tiny": _rng.integers(0, 256, (5, 7, 3), dtype=np.uint8),
    "gray_2d": _rng.integers(0, 256, (240, 320), dtype=np.uint8),
    "gray_rgb": np.repeat(_rng.integers(0, 256, (240, 320, 1), dtype=np.uint8), 3, axis=2),
    "huge": _rng.integers(0, 256, (3000, 4000, 3), dtype=np.uint8),
    "one_row": _rng.integers(0, 256, (1, 900, 3), dtype=np.uint8),
}


@pytest.mark.parametrize("kind", list(DEGENERATE))
def test_finite_on_degenerate_images(kind):
    with np.errstate(all="raise"):  # no silent 0/0 inside either (the final nan_to_num is only a backstop)
        vec = extract_vector("machajdik", DEGENERATE[kind])
    assert vec.shape == (sum(mj.GROUPS.values()),)
    assert np.isfinite(vec).all()


def test_flat_image_has_no_texture_lines_or_faces():
    f = feats(DEGENERATE["flat"])
    assert f["saturation_mean"] == 0.0
    assert f["tamura_contrast"] == 0.0 and f["glcm_contrast_y"] == 0.0
    assert f["lines_log_count"] == 0.0 and f["faces_count"] == 0.0
    assert f["level_of_detail"] == 1.0
    assert f["brightness_mean"] == pytest.approx(128 / 255, abs=1e-6)


def test_saturation_rises_on_more_saturated_copy(astronaut, astronaut_feats):
    img = astronaut.astype(np.float64)
    gray = img.mean(axis=2, keepdims=True)
    washed = np.clip(gray + 0.4 * (img - gray), 0, 255).astype(np.uint8)
    f = feats(washed)
    assert astronaut_feats["saturation_mean"] > f["saturation_mean"] * 1.5
    # Valdez arousal weights saturation most: it follows
    assert astronaut_feats["arousal"] > f["arousal"]


def test_brightness_rises_on_brighter_copy(astronaut, astronaut_feats):
    brighter = np.clip(astronaut.astype(np.int64) + 50, 0, 255).astype(np.uint8)
    f = feats(brighter)
    assert f["brightness_mean"] > astronaut_feats["brightness_mean"] + 0.1
    assert f["pleasure"] > astronaut_feats["pleasure"]
    assert f["area_bright"] > astronaut_feats["area_bright"]


def test_skin_area():
    assert feats(solid([0, 0, 255]))["skin_area"] < 0.01
    assert feats(solid([224, 172, 140]))["skin_area"] > 0.9


def test_face_found_in_astronaut(astronaut_feats):
    # Checked by eye at 200k px: one box on the astronaut's face, none on the flag or the shuttle.
    assert astronaut_feats["faces_count"] == 1.0
    assert 0.01 < astronaut_feats["faces_largest_area"] < 0.2
    assert astronaut_feats["skin_per_face"] > 0


def test_rule_of_thirds_follows_the_subject():
    centre = np.zeros((H, W, 3), np.uint8)
    centre[170:230, 220:280] = 255
    corner = np.zeros((H, W, 3), np.uint8)
    corner[10:70, 10:70] = 255
    fc, fk = feats(centre), feats(corner)
    assert fc["thirds_brightness"] > 0.1
    assert fk["thirds_brightness"] == pytest.approx(0.0, abs=1e-9)
    assert fc["brightness_mean"] == pytest.approx(fk["brightness_mean"], abs=1e-9)


def test_hough_dynamics_diagonal_vs_horizontal():
    yy, xx = np.mgrid[0:H, 0:W]
    horizontal = np.where(yy % 40 < 3, 255, 0).astype(np.uint8)
    diagonal = np.where((xx + yy) % 56 < 4, 255, 0).astype(np.uint8)
    fh, fd = feats(horizontal), feats(diagonal)
    assert fh["lines_log_count"] > 0 and fd["lines_log_count"] > 0
    assert fd["lines_slanted_share"] > 0.8 > 0.2 > fh["lines_slanted_share"]
    assert fd["lines_mean_slant"] > fh["lines_mean_slant"]


def test_contrast_checkerboard_vs_gradient():
    yy, xx = np.mgrid[0:H, 0:W]
    checker = np.where((yy // 5 + xx // 5) % 2 == 0, 255, 0).astype(np.uint8)  # 5 px: off the Haar grid
    gradient = np.broadcast_to((xx * 255 // (W - 1)).astype(np.uint8), (H, W))
    fc, fg = feats(checker), feats(gradient)
    assert fc["glcm_contrast_y"] > 10 * fg["glcm_contrast_y"]
    assert fc["tamura_contrast"] > 1.5 * fg["tamura_contrast"]
    assert fc["wavelet_y_sum"] > fg["wavelet_y_sum"]


def test_colourfulness_rainbow_vs_gray():
    yy, xx = np.mgrid[0:H, 0:W]
    hsv = np.stack([xx / W, np.ones((H, W)), 0.25 + 0.75 * yy / (H - 1)], axis=-1)
    rainbow = (hsv2rgb(hsv) * 255).round().astype(np.uint8)
    gray = np.repeat(((yy * 255) // (H - 1)).astype(np.uint8)[..., None], 3, axis=2)
    fr, fg = feats(rainbow), feats(gray)
    assert fr["colourfulness"] > fg["colourfulness"] + 0.2
    assert fr["hue_dispersion"] > 0.8  # hues all around the circle
    assert fr["colour_name_grey"] + fr["colour_name_black"] + fr["colour_name_white"] < 0.2
    assert fg["colour_name_grey"] + fg["colour_name_black"] + fg["colour_name_white"] > 0.9


def test_colour_names_and_valdez_on_solid_colours():
    red, blue = feats(solid([220, 20, 20])), feats(solid([20, 40, 220]))
    assert red["colour_name_red"] == 1.0 and blue["colour_name_blue"] == 1.0
    assert red["area_warm"] == 1.0 and blue["area_cold"] == 1.0
    # IHLS hue: red at 0 rad, blue at 240 deg
    assert red["hue_mean_cos"] == pytest.approx(1.0, abs=1e-6)
    assert np.arctan2(blue["hue_wmean_sin"], blue["hue_wmean_cos"]) % (2 * np.pi) == pytest.approx(
        np.radians(240), abs=0.1
    )
    s, y = red["saturation_mean"], red["brightness_mean"]
    assert red["dominance"] == pytest.approx(-0.76 * y + 0.32 * s)


def test_colour_tables_are_the_ones_zhao_uses():
    zhao = method("zhao")
    assert mj.FEATURE_NAMES["colour"][12:23] == tuple(f"colour_name_{n}" for n in colour.COLOUR_NAMES)
    assert zhao.FEATURE_NAMES["variety"][:11] == tuple(f"colour_{n}" for n in colour.COLOUR_NAMES)
    # Itten's wheel: red, orange, yellow, green, blue and magenta (as violet) land on their names' positions
    np.testing.assert_allclose(
        colour.ryb_hue(np.array([0.0, 30, 60, 120, 240, 300, 360, -60])), [0, 60, 120, 180, 240, 300, 0, 300]
    )
    # the gamut's ends and mid grey are named black, white and grey; every name is some 32^3 bin's
    ends = np.array([[0, 0, 0], [255, 255, 255], [128, 128, 128]], np.uint8)
    assert [colour.COLOUR_NAMES[i] for i in colour.colour_name_index(ends)] == ["black", "white", "grey"]
    assert set(colour.colour_name_index(colour.COLOUR_PROTOTYPES)) == set(range(len(colour.COLOUR_NAMES)))
    assert colour.colour_name_shares(solid([250, 230, 40]))[colour.COLOUR_NAMES.index("yellow")] == 1.0
    np.testing.assert_allclose(colour.binned_lightness(ends), colour.rgb_to_lab(ends)[:, 0], atol=2.0)
