"""make_loader: shapes, the paper's crops, unreadable files skipped and counted, seeded shuffling."""

import numpy as np
import pytest
import torch
from PIL import Image

from mldrnet.data import make_loader
from mldrnet.data.transforms import IMAGENET_MEAN, IMAGENET_STD, Preprocessing
from tests.helpers.data_files import COLOURS, jpg, text_as_jpg, truncated_jpg, zero_byte

PRE = Preprocessing(crop=16, resize=32)  # no resampling of a 32 px image: crops are exact pixel windows


def position_png(path):
    """32x32 image whose red channel is 8*x and green 8*y, so every crop says where it came from."""
    y, x = np.mgrid[0:32, 0:32]
    arr = np.stack([x * 8, y * 8, np.full_like(x, 100)], -1).astype(np.uint8)
    Image.fromarray(arr).save(path)
    return str(path)


def to_pixels(t):
    mean, std = torch.tensor(IMAGENET_MEAN)[:, None, None], torch.tensor(IMAGENET_STD)[:, None, None]
    return ((t * std + mean) * 255).round().to(torch.int64)  # (3, H, W) back to 0..255


def origin(t):
    """(x, y) of the crop's top-left pixel and whether it is mirrored."""
    px = to_pixels(t)
    x0, y0, x1 = px[0, 0, 0].item() // 8, px[1, 0, 0].item() // 8, px[0, 0, -1].item() // 8
    return (min(x0, x1), y0, x0 > x1)


def test_center_crop_is_the_middle_window(tmp_path):
    images, labels, bad = next(iter(make_loader([(position_png(tmp_path / "p.png"), 3)], PRE, train=False)))
    assert images.shape == (1, 3, 16, 16) and images.dtype == torch.float32
    assert labels.tolist() == [3] and labels.dtype == torch.int64 and bad == 0
    assert origin(images[0]) == (8, 8, False)


def test_five_crop_tta_gives_corners_and_centre(tmp_path):
    images, _, _ = next(iter(make_loader([(position_png(tmp_path / "p.png"), 0)], PRE, train=False, tta="five")))
    assert images.shape == (1, 5, 3, 16, 16)
    assert [origin(c) for c in images[0]] == [
        (0, 0, False),
        (16, 0, False),
        (0, 16, False),
        (16, 16, False),
        (8, 8, False),
    ]


def test_train_takes_a_random_one_of_the_five_crops_and_flips(tmp_path):
    samples = [(position_png(tmp_path / "p.png"), 0)] * 64
    torch.manual_seed(0)
    seen = [origin(x) for images, _, _ in make_loader(samples, PRE, train=True, batch_size=64) for x in images]
    allowed = {(0, 0), (16, 0), (0, 16), (16, 16), (8, 8)}
    assert {(x, y) for x, y, _ in seen} == allowed  # all five windows occur, nothing else
    assert {m for *_, m in seen} == {True, False}  # and both orientations


def test_unreadable_files_are_skipped_counted_and_warned_once(tmp_path, caplog):
    good = [(str(jpg(tmp_path / f"g{i}.jpg", COLOURS[i])), i) for i in range(5)]
    bad = [
        (str(truncated_jpg(tmp_path / "t.jpg")), 5),
        (str(zero_byte(tmp_path / "z.jpg")), 6),
        (str(text_as_jpg(tmp_path / "x.jpg")), 7),
    ]
    loader = make_loader(good + bad, PRE, train=False, batch_size=3)
    for _ in range(2):  # two epochs: still one warning per bad file
        batches = list(loader)
        assert sum(n for _, _, n in batches) == 3
        assert sorted(y for _, labels, _ in batches for y in labels.tolist()) == [0, 1, 2, 3, 4]
        assert all(images.shape[0] == labels.shape[0] for images, labels, _ in batches)
    err = caplog.text  # library warnings go through logging (the CLI prints them)
    for path, _ in bad:
        assert err.count(path) == 1
    assert set(loader.unreadable) == {p for p, _ in bad}


def test_a_batch_of_only_bad_files_is_empty_not_an_error(tmp_path):
    bad = [(str(zero_byte(tmp_path / "z.jpg")), 1), (str(text_as_jpg(tmp_path / "x.jpg")), 2)]
    ((images, labels, n),) = list(make_loader(bad, PRE, train=False, batch_size=4))
    assert images.shape == (0, 3, 16, 16) and labels.shape == (0,) and labels.dtype == torch.int64 and n == 2
    ((images, _, _),) = list(make_loader(bad, PRE, train=False, tta="five", batch_size=4))
    assert images.shape == (0, 5, 3, 16, 16)


def order(samples, seed, **kw):
    return [
        y
        for _, labels, _ in make_loader(samples, PRE, train=False, shuffle=True, seed=seed, batch_size=8, **kw)
        for y in labels.tolist()
    ]


def test_shuffle_is_deterministic_for_a_seed(tmp_path):
    path = jpg(tmp_path / "a.jpg")
    samples = [(str(path), i) for i in range(24)]
    a, b, c = order(samples, 0), order(samples, 0), order(samples, 1)
    assert a == b and a != c and sorted(a) == list(range(24))
    assert [
        y for _, labels, _ in make_loader(samples, PRE, train=False, batch_size=8) for y in labels.tolist()
    ] == list(range(24))


@pytest.mark.slow
def test_worker_processes_give_the_same_batches(tmp_path, caplog):
    path = jpg(tmp_path / "a.jpg")
    samples = [(str(path), i) for i in range(24)] + [(str(zero_byte(tmp_path / "z.jpg")), 0)]
    assert order(samples, 5, workers=2) == order(samples, 5)
    assert caplog.text.count("z.jpg") == 2  # once per loader (each warned in the main process)


def test_only_evaluation_loaders_keep_their_workers():
    # training builds a new train loader every epoch and reuses its val loader: only the latter may keep workers
    pre = Preprocessing(crop=8, resize=8)
    assert not make_loader([], pre, train=True, workers=2).persistent_workers
    assert make_loader([], pre, train=False, workers=2).persistent_workers
    assert not make_loader([], pre, train=False, workers=0).persistent_workers
