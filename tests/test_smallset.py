"""The small-set protocol (section IV-C): per-category folds, one-vs-all labels, the true positive rate per class,
categories too small to evaluate, last-layer features of the zoo networks, and the cross-validation itself."""

import numpy as np
import pytest
import torch
from torch import nn

from mldrnet import models
from mldrnet.data.evalset import from_tensors
from mldrnet.errors import BenchError
from mldrnet.evaluation.smallset import (
    ClassResult,
    class_folds,
    cross_validate_one_vs_all,
    last_layer_features,
    one_vs_all,
    svm_classifier,
    tpr_per_class,
)

CLASSES = ("amusement", "anger", "awe", "contentment", "disgust", "excitement", "fear", "sadness")


def test_every_category_with_enough_images_is_in_every_fold():
    counts = [12, 3, 5, 9, 7, 20, 6, 4]
    labels = np.repeat(np.arange(8), counts)
    folds = class_folds(labels, 5, seed=1)
    assert folds.shape == labels.shape and set(folds.tolist()) == set(range(5))  # each sample in exactly one fold
    for label, n in enumerate(counts):
        in_folds = set(folds[labels == label].tolist())
        assert in_folds == set(range(5)) if n >= 5 else len(in_folds) == n
    assert np.array_equal(folds, class_folds(labels, 5, seed=1))  # seeded
    assert not np.array_equal(folds, class_folds(labels, 5, seed=2))


def test_one_vs_all_labels():
    assert one_vs_all([0, 2, 1, 2, 7], 2).tolist() == [0, 1, 0, 1, 0]


def test_tpr_per_class_hand_computed():
    # P = 4 (TP = 3), N = 6 (TN = 3): 0.5 * (3/4 + 3/6) = 0.625
    y = [1, 1, 1, 1, 0, 0, 0, 0, 0, 0]
    p = [1, 1, 1, 0, 1, 1, 1, 0, 0, 0]
    assert tpr_per_class(y, p) == pytest.approx(0.625)
    assert tpr_per_class(y, [0] * 10) == 0.5  # always "no": chance, whatever the imbalance
    assert tpr_per_class(y, y) == 1.0
    with pytest.raises(BenchError, match="positives and negatives"):
        tpr_per_class([0, 0], [0, 1])


def _blobs(counts, sep=8.0, seed=0):
    """One Gaussian blob per category at `sep` along its own axis: linearly separable one against all."""
    rng = np.random.default_rng(seed)
    labels = np.repeat(np.arange(len(counts)), counts)
    centres = sep * np.eye(len(counts))
    return centres[labels] + rng.normal(size=(len(labels), len(counts))), labels


def test_separable_problem_scores_one_and_small_category_is_not_evaluable():
    x, labels = _blobs([15, 3, 10, 12, 8, 10, 9, 11])
    results = cross_validate_one_vs_all(x, labels, CLASSES, folds=5, seed=0)
    assert list(results) == list(CLASSES)
    anger = results["anger"]
    assert isinstance(anger, ClassResult) and not anger.evaluable and anger.n_images == 3
    assert anger.mean_tpr is None and anger.std_tpr is None and anger.fold_tprs == () and "3 images" in anger.reason
    for name in CLASSES:
        if name != "anger":
            r = results[name]
            assert r.evaluable and len(r.fold_tprs) == 5 and r.mean_tpr == pytest.approx(1.0, abs=0.01), r
    # an SVM factory for hand-crafted features goes through the same protocol
    svm = cross_validate_one_vs_all(x, labels, CLASSES, make_classifier=svm_classifier)
    assert svm["awe"].mean_tpr == pytest.approx(1.0, abs=0.05) and not svm["anger"].evaluable


def test_min_images_reproduces_the_papers_iaps_anger():
    x, labels = _blobs([8, 12, 10])  # IAPS-Subset anger: 8 images, not reported in the paper
    assert cross_validate_one_vs_all(x, labels, CLASSES[:3])["amusement"].evaluable
    assert not cross_validate_one_vs_all(x, labels, CLASSES[:3], min_images=10)["amusement"].evaluable


def test_random_features_score_near_chance():
    rng = np.random.default_rng(0)
    labels = np.repeat(np.arange(4), 30)
    results = cross_validate_one_vs_all(rng.normal(size=(120, 5)), labels, CLASSES[:4])
    assert all(0.2 < r.mean_tpr < 0.8 for r in results.values())


def test_mldrnet_features_are_every_branch_input():
    torch.manual_seed(0)
    model = models.create("mldrnet").train()
    x = torch.randn(6, 3, 64, 64)
    feats = last_layer_features(model, x, batch_size=4)
    cfg = model.cfg
    assert feats.shape == (6, cfg.levels * cfg.hidden) and feats.dtype == np.float32
    assert model.training  # mode restored
    # the concatenation in module order: branch 0's fc2 input first; the mean of the fc2s is linear in it
    model.eval()
    with torch.no_grad():
        w = torch.cat([b.fc2.weight for b in model.branches], dim=1) / cfg.levels
        bias = torch.stack([b.fc2.bias for b in model.branches]).mean(0)
        torch.testing.assert_close(torch.from_numpy(feats) @ w.T + bias, model(x), rtol=1e-4, atol=1e-4)
    # a loader of (images, labels, unreadable) batches gives the same rows
    loader = from_tensors(x, torch.zeros(6, dtype=torch.long), CLASSES, 4)
    np.testing.assert_allclose(last_layer_features(model, loader.batches()), feats, rtol=1e-5, atol=1e-5)


@pytest.mark.parametrize("name,dim", [("alexnet", 4096), ("a-cnn", 256), ("t-cnn", 4096)])
def test_single_head_networks_give_the_input_of_their_last_fc(name, dim):
    assert last_layer_features(models.create(name), torch.randn(2, 3, 64, 64)).shape == (2, dim)


def test_a_model_without_a_classification_layer_is_refused():
    model = nn.Sequential(nn.Conv2d(3, 8, 3), nn.AdaptiveAvgPool2d(1), nn.Flatten())
    with pytest.raises(BenchError, match="no linear layer with 8 outputs"):
        last_layer_features(model, torch.randn(2, 3, 16, 16))


def test_handcrafted_features_go_through_the_feature_cache(tmp_path):
    from PIL import Image

    from mldrnet.data.transforms import Preprocessing
    from mldrnet.evaluation.smallset import handcrafted_features

    rng = np.random.default_rng(0)
    paths = []
    for i in range(3):
        paths.append(tmp_path / f"{i}.png")
        Image.fromarray(rng.integers(0, 255, (48, 48, 3), dtype=np.uint8)).save(paths[-1])
    (tmp_path / "bad.jpg").write_bytes(b"not an image")
    paths.insert(1, tmp_path / "bad.jpg")
    x, kept = handcrafted_features(paths, "zhao", tmp_path / "results", Preprocessing(crop=40), workers=1)
    assert kept.tolist() == [0, 2, 3] and x.shape[0] == 3 and np.isfinite(x).all()
    assert list((tmp_path / "results").rglob("*.npy"))  # cached: a second call reads the vectors back
    x2, _ = handcrafted_features(paths, "zhao", tmp_path / "results", Preprocessing(crop=40), workers=1)
    np.testing.assert_array_equal(x, x2)


def test_given_folds_are_checked_and_used():
    from mldrnet.errors import BenchError
    from mldrnet.evaluation.smallset import cross_validate_one_vs_all

    rng = np.random.default_rng(0)
    labels = np.repeat([0, 1], 10)
    x = rng.normal(size=(20, 3)) + labels[:, None] * 3
    folds = np.tile(np.arange(5), 4)
    out = cross_validate_one_vs_all(x, labels, ("a", "b"), 5, fold_of=folds)
    assert out["a"].evaluable and len(out["a"].fold_tprs) == 5
    with pytest.raises(BenchError, match="one fold in 0..4 per row"):
        cross_validate_one_vs_all(x, labels, ("a", "b"), 5, fold_of=folds[:-1])
    with pytest.raises(BenchError, match="one fold in 0..4 per row"):
        cross_validate_one_vs_all(x, labels, ("a", "b"), 5, fold_of=folds + 1)


def test_c_is_chosen_per_training_fold_on_its_inner_folds():
    from mldrnet.evaluation.smallset import INNER_FOLDS, LAST_LAYER_C, SVM_C

    x, labels = _blobs([12, 10, 11], sep=2.0)
    seen: list[int] = []

    def spying(seed):
        clf = svm_classifier(seed)
        fit = clf.fit
        clf.fit = lambda xs, ys: (seen.append(len(xs)), fit(xs, ys))[1]
        return clf

    svm = cross_validate_one_vs_all(x, labels, CLASSES[:3], make_classifier=spying)
    # one search per (class, fold), on the training fold only: 4/5 of the 33 rows, never the test fold's
    assert len(seen) == 15 and max(seen) <= 33 - 33 // 5
    for r in svm.values():
        assert len(r.chosen_c) == 5 and set(r.chosen_c) <= set(SVM_C)
    logistic = cross_validate_one_vs_all(x, labels, CLASSES[:3])
    assert all(len(r.chosen_c) == 5 and set(r.chosen_c) <= set(LAST_LAYER_C) for r in logistic.values())
    search = svm_classifier(0)
    assert search.cv.get_n_splits() == INNER_FOLDS and search.scoring == "balanced_accuracy"


def test_the_inner_search_regularises_where_most_features_are_noise():
    # one informative feature among 400 noise features and 40 rows: the smallest C of the grid generalises best,
    # and the search, seeing only the training folds, should find a small C in most folds
    from mldrnet.evaluation.smallset import LAST_LAYER_C

    rng = np.random.default_rng(3)
    labels = np.repeat([0, 1], 20)
    x = np.hstack([labels[:, None] * 1.5 + rng.normal(size=(40, 1)), rng.normal(size=(40, 400))])
    r = cross_validate_one_vs_all(x, labels, ("a", "b"))["a"]
    assert sorted(r.chosen_c)[2] <= LAST_LAYER_C[1], r.chosen_c
