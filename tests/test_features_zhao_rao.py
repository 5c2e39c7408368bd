"""Zhao (principles of art) and Rao (multi-scale blocks + MIL) hand-crafted features: shapes, robustness, and
that each feature family measures what it claims on synthetic images."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import skimage.data as skimage_data

from mldrnet.baselines.classical import Codebook, MaxPoolMIL, saving
from mldrnet.baselines.features import extract_vector, method
from mldrnet.baselines.features.image import resize_to_pixels

zhao = method("zhao")
rao = method("rao")


def _feature(groups: dict, group: str, name: str) -> float:
    return float(groups[group][zhao.FEATURE_NAMES[group].index(name)])


@pytest.fixture(scope="module")
def astronaut() -> np.ndarray:
    return skimage_data.astronaut()


@pytest.fixture(scope="module")
def noise() -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (400, 500, 3), dtype=np.uint8)


@pytest.fixture(scope="module")
def mirrored(astronaut) -> np.ndarray:
    img = resize_to_pixels(astronaut)
    left = img[:, : img.shape[1] // 2]
    return np.ascontiguousarray(np.concatenate([left, left[:, ::-1]], axis=1))


EDGE_CASES = {
    "flat": lambda: np.full((240, 320, 3), 128, np.uint8),
    "tiny": lambda: np.random.default_rng(1).integers(0, 256, (5, 7, 3), dtype=np.uint8),
    "gray": lambda: skimage_data.camera(),  # (H, W) grayscale
    "huge": lambda: np.random.default_rng(2).integers(0, 256, (3000, 4000, 3), dtype=np.uint8),
}


# -- common interface ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("mod", [zhao, rao], ids=["zhao", "rao"])
def test_dims_match_groups(mod, astronaut):
    groups = mod.extract(astronaut)
    assert list(groups) == list(mod.GROUPS)
    for name, dims in mod.GROUPS.items():
        assert groups[name].shape == (dims,) and groups[name].dtype == np.float64, name
    vec = extract_vector(mod.NAME, astronaut)
    assert vec.shape == (sum(mod.GROUPS.values()),)
    assert np.isfinite(vec).all()


@pytest.mark.parametrize("case", list(EDGE_CASES))
@pytest.mark.parametrize("mod", [zhao, rao], ids=["zhao", "rao"])
def test_finite_on_edge_cases(mod, case):
    groups = mod.extract(EDGE_CASES[case]())
    for name, dims in mod.GROUPS.items():
        assert groups[name].shape == (dims,), name
        assert np.isfinite(groups[name]).all(), (name, groups[name])


# -- zhao ---------------------------------------------------------------------------------------------------
def test_zhao_feature_names_cover_groups():
    assert {g: len(n) for g, n in zhao.FEATURE_NAMES.items()} == zhao.GROUPS
    assert zhao.VERSION == 2  # 2: the shared `colour` tables (the feature cache is keyed on it)


def test_bilateral_symmetry_high_on_mirror_low_on_noise(mirrored, noise, astronaut):
    sym, rnd, nat = zhao.extract(mirrored), zhao.extract(noise), zhao.extract(astronaut)
    assert _feature(sym, "balance", "bilateral_strength") > 0.5
    assert _feature(rnd, "balance", "bilateral_strength") < 0.1
    assert _feature(sym, "balance", "bilateral_strength") > 5 * _feature(nat, "balance", "bilateral_strength")
    # the axis found is the vertical one through the middle: cos 2b = -1 for b = 90 degrees, offset ~ 0
    assert _feature(sym, "balance", "bilateral_axis_cos2") < -0.9
    assert _feature(sym, "balance", "bilateral_offset") < 0.05
    assert _feature(sym, "balance", "flip_similarity_lr") > 0.99
    assert abs(_feature(rnd, "balance", "flip_similarity_lr")) < 0.1


def test_rotational_symmetry_finds_the_centre(astronaut, noise):
    q = cv2.resize(astronaut, (224, 224), interpolation=cv2.INTER_AREA)
    top = np.concatenate([q, np.rot90(q, -1)], axis=1)
    bottom = np.concatenate([np.rot90(q, 1), np.rot90(q, 2)], axis=1)
    four_fold = zhao.extract(np.ascontiguousarray(np.concatenate([top, bottom], axis=0)))
    # each keypoint has 3 rotated partners (90, 180, 270 degrees) around the image centre
    assert _feature(four_fold, "balance", "rotational_strength") > 1.5
    assert _feature(four_fold, "balance", "rotational_offset") < 0.1
    assert 0.5 <= _feature(four_fold, "balance", "rotational_angle") <= 0.85
    assert _feature(zhao.extract(noise), "balance", "rotational_strength") < 0.1


def test_rate_of_focused_attention_blob_vs_noise(noise):
    yy, xx = np.mgrid[:400, :500]
    blob = np.zeros((400, 500, 3), np.uint8)
    blob[(yy - 180) ** 2 + (xx - 300) ** 2 < 40**2] = 255
    rfa_blob = _feature(zhao.extract(blob), "emphasis", "rfa")
    rfa_noise = _feature(zhao.extract(noise), "emphasis", "rfa")
    assert rfa_blob > 0.6
    assert rfa_blob > rfa_noise + 0.3


def test_gradation_higher_on_noise_than_smooth_gradient(noise):
    ramp = np.repeat(np.linspace(0, 255, 500)[None, :], 400, axis=0).astype(np.uint8)
    smooth, rough = zhao.extract(ramp)["gradation"], zhao.extract(noise)["gradation"]
    names = zhao.FEATURE_NAMES["gradation"]
    for name in ("tv_x", "tv_y", "rtv_x", "rtv_y"):
        i = names.index(name)
        assert rough[i] > 10 * smooth[i] + 1e-3, name
    # a ramp's variation is all consistent: windowed total variation equals the inherent variation
    assert smooth[names.index("tv_x")] == pytest.approx(smooth[names.index("iv_x")], rel=0.05)


def test_movement_finite_and_deterministic(astronaut):
    a, b = zhao.extract(astronaut)["movement"], zhao.extract(astronaut.copy())["movement"]
    assert np.isfinite(a).all()
    assert np.array_equal(a, b)
    names = zhao.FEATURE_NAMES["movement"]
    assert a[: names.index("step_mean")].sum() == pytest.approx(1.0)  # length-weighted direction histogram


def test_gaze_path_visits_peaks_by_saliency_with_inhibition_of_return():
    sal = np.zeros((48, 64))
    peaks = [(10, 8, 1.0), (50, 12, 0.8), (30, 40, 0.6)]  # (x, y, height), far apart
    yy, xx = np.mgrid[:48, :64]
    for x, y, hgt in peaks:
        sal += hgt * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / 8.0)
    fix = zhao.gaze_path(sal, n=3)
    assert np.allclose(fix, [(x, y) for x, y, _ in peaks], atol=1)


# -- rao ----------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def small_codebook(astronaut):
    arrays = [rao.descriptors(img).sift_all for img in (astronaut, skimage_data.coffee())]
    return Codebook(n_clusters=8, random_state=3).fit(np.concatenate(arrays))


def test_rao_codebook_round_trips(small_codebook, astronaut):
    loaded = saving.loads(saving.dumps(small_codebook), Codebook, saving.trusted_types())  # skops, no pickle
    assert np.array_equal(loaded.cluster_centers_, small_codebook.cluster_centers_) and loaded.n_clusters == 8
    desc = rao.descriptors(astronaut).sift_all
    assert np.array_equal(loaded.encode(desc), small_codebook.encode(desc))
    assert small_codebook.encode(desc).sum() == pytest.approx(1.0)


def test_rao_blocks_and_instances(small_codebook, astronaut):
    bd = rao.descriptors(astronaut)
    sift = bd.sift
    assert len(sift) == rao.N_BLOCKS == 21
    assert len(sift[0]) == sum(len(s) for s in sift[1:5]) == sum(len(s) for s in sift[5:])
    assert np.allclose(bd.color.sum(1), 1) and np.allclose(bd.lbp.sum(1), 1)
    inst = rao.instances(bd, small_codebook)
    assert inst.shape == (21, 8 + rao.COLOR_BINS + rao.LBP_BINS)
    for block in (0, 3, 12):  # the pyramid aggregation matches encoding each block's own descriptors
        assert np.allclose(inst[block, :8], small_codebook.encode(sift[block]))
    assert np.array_equal(inst, rao.instances(astronaut, small_codebook))


def test_rao_extract_pools_default_codebook_instances(astronaut):
    inst = rao.instances(astronaut, rao.default_codebook())
    groups = rao.extract(astronaut)
    assert np.array_equal(groups["bovw_max"], inst[:, : rao.DEFAULT_K].max(0))
    assert np.allclose(groups["lbp_mean"], inst[:, -rao.LBP_BINS :].mean(0))


def _toy_bags(n: int, seed: int, n_classes: int = 2):
    """Bags of 21 Gaussian instances; a bag of class c > 0 (or of any class when n_classes > 2) hides one
    instance shifted by +4 along feature c."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, n_classes, n)
    bags = []
    for label in y:
        bag = rng.normal(0.0, 1.0, (21, 10))
        if n_classes > 2 or label == 1:
            bag[rng.integers(21), label] += 4.0
        bags.append(bag)
    return bags, y


@pytest.mark.parametrize("n_classes", [2, 3])
def test_mil_separates_toy_problem_and_round_trips(n_classes):
    train, y_train = _toy_bags(120, 0, n_classes)
    test, y_test = _toy_bags(200, 1, n_classes)
    test = np.stack(test).reshape(200, -1)  # one row per bag: its 21 instances flattened
    model = MaxPoolMIL(n_instances=rao.N_BLOCKS).fit(np.stack(train).reshape(120, -1), y_train)
    scores = model.decision_function(test)
    assert scores.shape == ((200,) if n_classes == 2 else (200, n_classes))
    accuracy = float((model.predict(test) == y_test).mean())
    assert accuracy > 0.8, accuracy  # chance is 1 / n_classes
    loaded = saving.loads(saving.dumps(model), MaxPoolMIL, saving.trusted_types())
    assert np.array_equal(loaded.decision_function(test), scores)
    assert np.array_equal(loaded.predict(test), model.predict(test))
