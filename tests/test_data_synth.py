"""The synthetic dataset: deterministic, balanced, FI's layout, atomic, and its palette cue is real."""

import json

import numpy as np
import pytest
from PIL import Image

from mldrnet import EMOTIONS
from mldrnet.data import DATASETS, DataConfig, prepare_data, synth
from mldrnet.data.synth import CUES, MARKER, SynthParams, draw, ensure_synth
from mldrnet.errors import BenchError

SMALL = SynthParams(n=20, size=32, seed=0)


def files(root):
    return sorted(p.relative_to(root).as_posix() for p in (root / "emotion_dataset").rglob("*.jpg"))


def test_fi_layout_and_class_balance(tmp_path):
    root = ensure_synth(SMALL, tmp_path / "s")
    names = files(root)
    counts = [sum(n.startswith(f"emotion_dataset/{e}/{e}_") for n in names) for e in EMOTIONS]
    assert counts == [3, 3, 3, 3, 2, 2, 2, 2] and len(names) == 20
    assert "emotion_dataset/fear/fear_0001.jpg" in names
    assert Image.open(root / names[0]).size == (32, 32)
    assert json.loads((root / MARKER).read_text())["params"] == {"n": 20, "size": 32, "seed": 0}
    listing = DATASETS["fi"].scan(root)  # the real FI loader reads it
    assert len(listing.samples) == 20 and not listing.dropped


def test_deterministic_for_a_seed(tmp_path):
    a, b = ensure_synth(SMALL, tmp_path / "a"), ensure_synth(SMALL, tmp_path / "b")
    c = ensure_synth(SynthParams(20, 32, seed=1), tmp_path / "c")
    same = [(a / n).read_bytes() == (b / n).read_bytes() for n in files(a)]
    other = [(a / n).read_bytes() == (c / n).read_bytes() for n in files(a)]
    assert all(same) and not any(other)


def test_a_larger_set_extends_a_smaller_one(tmp_path):
    small, big = ensure_synth(SMALL, tmp_path / "a"), ensure_synth(SynthParams(40, 32, 0), tmp_path / "b")
    assert all((small / n).read_bytes() == (big / n).read_bytes() for n in files(small))


def test_reused_not_regenerated_and_mismatch_refused(tmp_path, monkeypatch):
    root = ensure_synth(SMALL, tmp_path / "s")
    monkeypatch.setattr(synth, "generate", lambda *a: pytest.fail("regenerated an existing set"))
    assert ensure_synth(SMALL, root) == root
    with pytest.raises(BenchError, match="holds a synthetic set with"):
        ensure_synth(SynthParams(24, 32, 0), root)
    (tmp_path / "other").mkdir()
    (tmp_path / "other" / "x.txt").write_text("mine")
    with pytest.raises(BenchError, match="is not a synthetic dataset"):
        ensure_synth(SMALL, tmp_path / "other")


def test_a_set_drawn_by_an_older_format_is_drawn_again(tmp_path):
    root = ensure_synth(SMALL, tmp_path / "s")
    marker = json.loads((root / MARKER).read_text())
    (root / MARKER).write_text(json.dumps({**marker, "format": "bench-synth/1"}))
    image = root / files(root)[0]
    image.write_bytes(b"drawn by version 1")
    assert ensure_synth(SMALL, root) == root
    assert json.loads((root / MARKER).read_text())["format"] == "bench-synth/2"
    assert image.read_bytes()[:2] == b"\xff\xd8"  # a JPEG again
    assert [p.name for p in tmp_path.iterdir()] == ["s"]  # the old set moved aside, then removed


def test_the_composition_cue_is_not_on_mldrnets_pooling_grid():
    """Off-centre shapes land in the middle, edge and corner cells of a 3x3 grid (MldrNet's branch pooling), so no
    cell of it holds the cue: a share of them sits in the middle cell with every centred one."""
    rng = np.random.default_rng(0)

    def cell(xy):  # 0: middle cell, 1: an edge cell, 2: a corner cell
        return int(sum(abs(int(3 * min(max(v, 0.0), 0.999)) - 1) for v in xy))

    off = [draw.place(rng, "off-centre") for _ in range(2000)]
    radii = [float(np.hypot(*(xy - 0.5))) for xy in off]
    assert draw.OFF_CENTRE[0] <= min(radii) and max(radii) <= draw.OFF_CENTRE[1]
    shares = np.bincount([cell(xy) for xy in off], minlength=3) / len(off)
    # measured: 30 % middle, 65 % edge, 5 % corner (the rule-of-thirds draw put all of them in the corners)
    assert shares[0] > 0.2 and shares[1] > 0.2 and shares[2] > 0.01, shares
    assert {cell(draw.place(rng, "centred")) for _ in range(500)} == {0}


def test_interrupted_generation_leaves_nothing(tmp_path, monkeypatch):
    real, calls = synth.render, []

    def failing(params, label, k):
        calls.append(1)
        if len(calls) == 5:
            raise KeyboardInterrupt
        return real(params, label, k)

    from mldrnet.data.synth import writer

    monkeypatch.setattr(writer, "render", failing)
    with pytest.raises(KeyboardInterrupt):
        ensure_synth(SMALL, tmp_path / "s")
    assert list(tmp_path.iterdir()) == []  # no half dataset, no temporary folder


def test_bad_parameters_are_one_line_errors(tmp_path):
    with pytest.raises(BenchError, match="too small"):
        ensure_synth(SynthParams(4, 32, 0), tmp_path / "s")
    with pytest.raises(BenchError, match="size"):
        ensure_synth(SynthParams(16, 8, 0), tmp_path / "s")


def test_each_emotion_is_a_distinct_cue_combination():
    assert set(CUES) == set(EMOTIONS) and len(set(CUES.values())) == 8


def test_palette_cue_separates_warm_from_dark():
    params = SynthParams(64, 32, 0)

    def warmth(label):  # mean (R - B) + brightness over a few images of the class
        arr = np.stack([np.asarray(synth.render(params, label, k), np.float32) for k in range(6)])
        return float((arr[..., 0] - arr[..., 2]).mean() + arr.mean())

    warm = [warmth(EMOTIONS.index(e)) for e, (p, _, _) in CUES.items() if p == "warm"]
    dark = [warmth(EMOTIONS.index(e)) for e, (p, _, _) in CUES.items() if p == "dark"]
    assert min(warm) > max(dark)


def test_prepare_data_generates_synth_on_first_use(tmp_path):
    cfg = DataConfig(synth_n=24, synth_size=32)
    d = prepare_data(cfg, tmp_path)
    assert d.name == "synth" and d.classes == EMOTIONS and len(d.train) + len(d.val) + len(d.test) == 24
    assert d.root == tmp_path / "data" / "synth-n24-px32-seed0" / "emotion_dataset"
    assert d.split_file == tmp_path / "splits" / "synth-n24-px32-seed0_seed0.json"
    assert prepare_data(cfg, tmp_path).test == d.test


def test_a_generated_folder_is_used_with_its_own_parameters(tmp_path):
    root = ensure_synth(SynthParams(16, 24, seed=3), tmp_path / "mine")
    d = prepare_data(DataConfig(data_root=str(root)), tmp_path / "r")  # config defaults say n=2400, 128 px, seed 0
    assert len(d.train) + len(d.val) + len(d.test) == 16 and d.root == root / "emotion_dataset"
    assert d.split_file.name == "synth-n16-px24-seed3_seed0.json"
    empty = prepare_data(DataConfig(data_root=str(tmp_path / "new"), synth_n=8, synth_size=16), tmp_path / "r")
    assert len(empty.train) + len(empty.val) + len(empty.test) == 8  # a new folder is generated with the config's


def _checkpoint(data_config, **kw):
    from mldrnet.checkpoint import Checkpoint
    from mldrnet.data.transforms import Preprocessing

    return Checkpoint("mldrnet", EMOTIONS, Preprocessing(**kw), {}, data_config=data_config)


def test_data_config_from_checkpoint_drops_unknown_keys_and_takes_overrides(tmp_path):
    from mldrnet.data.evalset import data_config
    from mldrnet.errors import BenchError

    ckpt = _checkpoint({"dataset": "fi", "synth_n": 24, "key_from_another_bench": 1})
    assert data_config(ckpt) == DataConfig(dataset="fi", synth_n=24)
    assert data_config(ckpt, "synth", tmp_path) == DataConfig(synth_n=24, data_root=str(tmp_path))
    with pytest.raises(BenchError, match="records no data_config"):  # never silently the synthetic set
        data_config(_checkpoint(None))


def test_parity_images_come_from_a_checkpoint_with_unknown_data_keys(tmp_path):
    from engines.parity import parity_batches

    ckpt = _checkpoint(
        {"dataset": "synth", "synth_n": 80, "synth_size": 32, "key_from_another_bench": 1}, crop=24, resize=32
    )
    batches = parity_batches(ckpt, "test", 4, tmp_path)
    assert sum(len(b) for b in batches) >= 1 and batches[0].shape[1:] == (3, 24, 24)
