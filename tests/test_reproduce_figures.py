"""Figures 5-7 of the paper: the data gathered for them is right, and each drawing writes a real PNG."""

import numpy as np
import pytest
import torch

from bench.reproduce import figures
from mldrnet import models

PNG = b"\x89PNG\r\n\x1a\n"
CLASSES = ["amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness"]


def _is_png(path) -> bool:
    data = path.read_bytes()
    return data[:8] == PNG and len(data) > 2000


@pytest.fixture(scope="module")
def tiny():
    torch.manual_seed(0)
    model = models.create("mldrnet").eval()
    image = torch.randn(1, 3, 64, 64)
    return model, image, figures.strongest_filters(model, image)


def test_strongest_filters_one_per_level_and_level_one_recomputed(tiny):
    model, image, found = tiny
    assert [lv.level for lv in found] == list(range(1, len(model.levels) + 1))
    conv, bn = model.levels[0][0], model.levels[0][1]
    with torch.no_grad():
        act = torch.relu(bn(conv(image)))[0]  # (96, H, W), by hand
    i = int(act.amax(dim=(1, 2)).argmax())
    assert found[0].filter == i
    assert found[0].peak == pytest.approx(float(act[i].max()))
    np.testing.assert_allclose(found[0].activation, act[i].numpy(), rtol=1e-5, atol=1e-6)
    np.testing.assert_array_equal(found[0].weights, conv.weight[i].detach().numpy())
    assert found[0].weights.shape == (3, 11, 11)
    for lv in found:  # every map is a 2-D post-ReLU map and its filter has the level's input channels
        assert lv.activation.ndim == 2 and lv.activation.min() >= 0 and lv.activation.max() == lv.peak
    assert not model.training


def test_strongest_filters_restores_training_mode_and_rejects_other_models(tiny):
    model, image, found = tiny
    model.train()
    again = figures.strongest_filters(model, image)
    assert model.training
    model.eval()
    assert [lv.filter for lv in again] == [lv.filter for lv in found]  # ran in eval mode all the same
    with pytest.raises(TypeError, match="MldrNet"):
        figures.strongest_filters(torch.nn.Linear(2, 2), image)


def test_draw_fig5_writes_a_png(tiny, tmp_path):
    model, _, found = tiny
    rgb = (np.random.default_rng(0).random((64, 64, 3)) * 255).astype(np.uint8)
    path = figures.draw_fig5(rgb, found, figures.first_level_weights(model), tmp_path / "sub" / "fig5.png")
    assert path == tmp_path / "sub" / "fig5.png" and _is_png(path)


def test_filter_mosaic_scales_each_tile_on_its_own():
    w = np.stack([np.full((3, 2, 2), 5.0), np.arange(12.0).reshape(3, 2, 2) * 100])
    mosaic, step = figures.filter_mosaic(w, cols=2, gap=1)
    assert mosaic.shape == (2, 5, 3) and step == 3
    assert np.all(mosaic[:, :2] == 0.5)  # a constant filter: mid grey, no division by zero
    assert mosaic[:, 3:].min() == 0 and mosaic[:, 3:].max() == 1
    assert np.all(mosaic[:, 2] == 1)  # the white gap


CM = np.array([[8, 2, 0], [0, 5, 5], [1, 0, 0]])


def test_confused_pairs_and_off_diagonal_mass_on_a_hand_made_matrix():
    pairs = figures.confused_pairs(CM, ["fear", "sadness", "awe"], top=3)
    assert [(p.true, p.predicted) for p in pairs] == [("awe", "fear"), ("sadness", "awe"), ("fear", "sadness")]
    assert [p.rate for p in pairs] == pytest.approx([1.0, 0.5, 0.2])
    assert figures.confused_pairs(CM, ["a", "b", "c"], top=1)[0] == ("c", "a", 1.0)
    assert figures.confused_pairs(np.diag([3, 4]), ["a", "b"]) == []
    assert figures.off_diagonal_mass(CM) == pytest.approx(1 - (0.8 + 0.5 + 0.0) / 3)
    assert figures.off_diagonal_mass(np.diag([3, 4, 0])) == 0.0  # a class without test images is left out
    assert figures.off_diagonal_mass(np.zeros((2, 2))) != figures.off_diagonal_mass(np.zeros((2, 2)))  # NaN


def test_draw_confusions_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    matrices = {
        name: rng.integers(0, 20, (8, 8)) + np.eye(8, dtype=int) * 30
        for name in ("AlexNet, well", "MldrNet, well", "AlexNet, noisy")
    }
    matrices["MldrNet, noisy"] = np.zeros((8, 8), dtype=int)  # an empty matrix draws as zeros, no crash
    path = figures.draw_confusions(
        matrices,
        CLASSES,
        tmp_path / "fig6.png",
        subtitles={"AlexNet, well": "quick profile, 10 epochs, 64 px, from scratch"},
    )
    assert _is_png(path)
    with pytest.raises(ValueError):
        figures.draw_confusions({}, CLASSES, tmp_path / "none.png")


def _probs(preds, n_classes=4, p=0.7):
    out = np.full((len(preds), n_classes), (1 - p) / (n_classes - 1))
    out[np.arange(len(preds)), preds] = p
    return out


def test_pick_examples_only_a_right_b_wrong_spread_over_classes():
    labels = np.array([0, 0, 0, 1, 1, 2, 3, 3])
    pa = _probs([0, 0, 0, 1, 1, 2, 0, 3])  # A wrong on index 6
    pa[1, 0], pa[2, 0] = 0.9, 0.8  # within class 0: index 1, then 2, then 0
    pb = _probs([1, 1, 1, 2, 1, 2, 1, 0])  # B right on 4 and 5
    picked = figures.pick_examples(labels, pa, pb, n=6)
    assert all(pa[i].argmax() == labels[i] and pb[i].argmax() != labels[i] for i in picked)
    assert picked == [1, 3, 7, 2, 0]  # round 1: one per class (0, 1, 3), then the rest of class 0
    assert figures.pick_examples(labels, pa, pb, n=2) == [1, 3]
    assert figures.pick_examples(labels, pa, pb, n=6, seed=3) == picked  # deterministic
    assert figures.pick_examples(labels, pa, pa, n=6) == []  # B never wrong where A is right
    assert figures.pick_examples(labels, pb, pb, n=6) == []


def test_draw_fig7_writes_a_png(tmp_path):
    rng = np.random.default_rng(0)
    images = [(rng.random((48, 64, 3)) * 255).astype(np.uint8) for _ in range(3)]
    labels = np.array([6, 7, 3])
    pa, pb = _probs([6, 7, 3], 8), _probs([7, 6, 5], 8)
    path = figures.draw_fig7(images, labels, pa, pb, CLASSES, tmp_path / "fig7.png")
    assert _is_png(path)
    with pytest.raises(ValueError):
        figures.draw_fig7([], labels[:0], pa[:0], pb[:0], CLASSES, tmp_path / "none.png")
