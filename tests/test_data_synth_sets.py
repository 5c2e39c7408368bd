"""The small generated sets (synth-artphoto, -abstract, -iaps, -mart): the real sets' class counts, deterministic,
no image shared with `synth`, k-fold splits like their real counterparts, and synth-mart's cues as designed; the
cue-ablation variants of synth (synth-low, -mid, -high): one level carries a 2-class label."""

import json
from collections import Counter

import numpy as np
import pytest

from mldrnet import EMOTIONS
from mldrnet.data import DATASETS, DataConfig, prepare_data, synth
from mldrnet.data.labels import POLARITY
from mldrnet.data.synth import ABLATIONS, MARKER, SynthParams, ensure_synth, read_params
from mldrnet.data.synth import params as synth_params
from mldrnet.data.synth import sets as synth_sets
from mldrnet.errors import BenchError

SIZE = 32


def files(root):
    return sorted(p.relative_to(root).as_posix() for p in (root / "emotion_dataset").rglob("*.jpg"))


def test_the_default_kind_keeps_its_key_and_marker():
    assert SynthParams().key == "synth-n2400-px128-seed0"
    assert SynthParams(24, 32, 1).key == "synth-n24-px32-seed1"
    assert SynthParams(24, 32, 1).to_json() == {"n": 24, "size": 32, "seed": 1}
    assert SynthParams(24, 32, 1, kind="abstract").key == "synth-abstract-px32-seed1"


def test_fixed_count_kinds_ignore_n():
    assert SynthParams(n=2400, kind="artphoto") == SynthParams(n=5, kind="artphoto")
    assert SynthParams(kind="artphoto").n == 807  # the published table's counts (its text says 806)
    assert [SynthParams(kind=k).n for k in ("abstract", "iaps", "mart")] == [228, 395, 500]


@pytest.mark.parametrize("kind", ["abstract", "iaps", "mart"])
def test_class_counts_are_the_tables(tmp_path, kind):
    params = SynthParams(size=SIZE, kind=kind)
    root = ensure_synth(params, tmp_path / kind)
    spec = DATASETS[f"synth-{kind}"]
    listing = spec.scan(root)
    counts = Counter(label for _, label in listing.samples)
    assert [counts[c] for c in range(len(spec.classes))] == list(synth.COUNTS[kind]) and not listing.dropped
    assert spec.classes == (POLARITY if kind == "mart" else EMOTIONS) and spec.synth_kind == kind
    assert read_params(root) == params and json.loads((root / MARKER).read_text())["params"]["kind"] == kind


def test_artphoto_counts_without_writing():
    assert SynthParams(kind="artphoto").per_class() == [101, 77, 103, 70, 70, 105, 115, 166]
    assert SynthParams(kind="iaps").per_class() == [37, 8, 54, 63, 74, 55, 42, 62]
    assert SynthParams(kind="abstract").per_class() == [25, 3, 15, 63, 18, 36, 36, 32]


@pytest.mark.parametrize("kind", synth.KINDS)
def test_deterministic_and_no_image_shared_with_synth(kind):
    params, other_seed = SynthParams(size=SIZE, kind=kind), SynthParams(size=SIZE, seed=1, kind=kind)
    base = SynthParams(n=2400, size=SIZE)
    for label, k in [(0, 0), (1, 2), (len(params.classes) - 1, 1)]:
        a = np.asarray(synth.render(params, label, k))
        assert a.shape == (SIZE, SIZE, 3)
        assert np.array_equal(a, np.asarray(synth.render(params, label, k)))
        assert not np.array_equal(a, np.asarray(synth.render(other_seed, label, k)))
        assert not np.array_equal(a, np.asarray(synth.render(base, label, k)))
        for other in synth.KINDS:
            if other != kind and label < len(synth_params.classes(other)):
                assert not np.array_equal(a, np.asarray(synth.render(SynthParams(size=SIZE, kind=other), label, k)))


def test_unknown_kind_is_a_one_line_error(tmp_path):
    with pytest.raises(BenchError, match="unknown synthetic set kind"):
        ensure_synth(SynthParams(size=SIZE, kind="nope"), tmp_path / "s")


def test_prepare_data_abstract_five_folds(tmp_path):
    cfg = DataConfig(dataset="synth-abstract", synth_size=SIZE, synth_n=7)  # synth_n is ignored
    d = prepare_data(cfg, tmp_path)
    assert d.root == tmp_path / "data" / "synth-abstract-px32-seed0" / "emotion_dataset"
    assert d.split_file == tmp_path / "splits" / "synth-abstract-px32-seed0_seed0.json"
    assert d.folds == 5 and d.classes == EMOTIONS and len(d.train) + len(d.val) + len(d.test) == 228
    counts = synth.COUNTS["abstract"]
    for fold in range(5):
        test = prepare_data(DataConfig(dataset="synth-abstract", synth_size=SIZE, fold=fold), tmp_path).test
        present = {label for _, label in test}
        assert present >= {c for c, n in enumerate(counts) if n >= 5}


def test_prepare_data_mart_ten_folds_and_kind_mismatch(tmp_path):
    d = prepare_data(DataConfig(dataset="synth-mart", synth_size=SIZE), tmp_path)
    assert d.folds == 10 and d.classes == POLARITY and {label for _, label in d.test} == {0, 1}
    assert len(d.train) + len(d.val) + len(d.test) == 500
    with pytest.raises(BenchError, match="use --dataset synth-mart"):
        prepare_data(DataConfig(dataset="synth", data_root=str(d.root.parent)), tmp_path)


def test_mart_cues_agree_with_the_label_on_four_images_in_five():
    params = SynthParams(kind="mart")
    agree, majority = np.zeros(3), 0
    for label in range(2):
        positive = POLARITY[label] == "positive"
        for k in range(250):
            cues = np.array(synth_sets.mart_design(params, label, k)[1:])
            agree += cues == positive
            majority += (cues.sum() >= 2) == positive
    assert np.all(agree == 400)  # exactly AGREE of each class, per cue
    assert 0.85 < majority / 500 < 0.94  # all three cues together: 89.6% expected


def _colour_stats(img):
    a = np.asarray(img, np.float32) / 255
    return np.concatenate([a.mean((0, 1)), a.std((0, 1)), [a.max(2).mean(), (a.max(2) - a.min(2)).mean()]])


def test_mart_colour_alone_does_not_give_the_label_away():
    params = SynthParams(size=SIZE, kind="mart")
    x, y = [], []
    for label in range(2):
        for k in range(150):
            x.append(_colour_stats(synth.render(params, label, k)))
            y.append(1.0 if label == 0 else -1.0)
    x, y = np.array(x), np.array(y)
    x = np.c_[(x - x.mean(0)) / (x.std(0) + 1e-6), np.ones(len(x))]
    order = np.random.default_rng(0).permutation(len(y))
    train, test = order[:200], order[200:]
    w = np.linalg.lstsq(x[train], y[train], rcond=None)[0]  # a linear least-squares classifier
    acc = float(np.mean(np.sign(x[test] @ w) == y[test]))
    assert 0.6 < acc <= 0.86  # learnable from colour, but colour reads two of three 80% cues: ~80% at best


@pytest.mark.parametrize("kind", ["low", "mid", "high"])
def test_a_cue_ablation_set_lets_one_level_carry_the_label(kind, monkeypatch):
    """The label is the level's cue on every image; the other two cues take both values, whatever the label."""
    from mldrnet.data.synth import ablation

    drawn: list[tuple[str, str, str]] = []
    monkeypatch.setattr(ablation, "draw_emotion", lambda rng, size, cues: drawn.append(cues))
    params = SynthParams(n=80, size=32, kind=kind)
    level = ablation.LEVELS.index(kind)
    for label, value in enumerate(ABLATIONS[kind]):
        drawn.clear()
        for k in range(40):
            ablation.render(params, label, k)
        assert {cues[level] for cues in drawn} == {value}
        for other in set(range(3)) - {level}:
            values = [cues[other] for cues in drawn]
            assert set(values) == set(ABLATIONS[ablation.LEVELS[other]]) and 10 <= values.count(values[0]) <= 30


def test_cue_ablation_sets_are_two_balanced_classes_with_n_images(tmp_path):
    data = prepare_data(DataConfig(dataset="synth-high", synth_n=40, synth_size=32), tmp_path)
    assert data.classes == ("rounded", "jagged")
    labels = [label for _, label in (*data.train, *data.val, *data.test)]
    assert len(labels) == 40 and labels.count(0) == labels.count(1) == 20
    assert SynthParams(40, 32, kind="high").key == "synth-high-n40-px32-seed0"
    marker = json.loads((tmp_path / "data" / "synth-high-n40-px32-seed0" / "synth.json").read_text())
    assert marker["cues"] == {"label": "shape (high level): rounded / jagged", "random": ["palette", "composition"]}
