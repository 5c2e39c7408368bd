"""Loader throughput at the paper's 375 px crop: decode + resize + random five-crop + flip + normalize.

Real-size (640x480) JPEGs are made in a temporary folder; each round is one epoch over them, in steady state
(workers already started). images/s = images / mean round time, stored in the benchmark's extra_info.
Run: `pytest tests/benchmarks/test_data_pipeline.py --benchmark-enable`.
"""

import pytest
from PIL import Image

from mldrnet.data import make_loader
from mldrnet.data.synth import SynthParams, render
from mldrnet.data.transforms import Preprocessing

N_IMAGES = 16
PRE = Preprocessing(crop=375)


@pytest.fixture(scope="module")
def photos(tmp_path_factory):
    folder = tmp_path_factory.mktemp("photos")
    params = SynthParams(n=N_IMAGES, size=480, seed=0)
    samples = []
    for k in range(N_IMAGES):  # smooth shapes, gradients and sensor-like noise: decodes like a photo, not like static
        path = folder / f"photo_{k:03d}.jpg"
        render(params, k % 8, k).resize((640, 480), Image.BILINEAR).save(path, quality=90)
        samples.append((str(path), k % 8))
    return samples


@pytest.mark.parametrize("workers", [0, 2])
def test_train_loader_throughput(benchmark, photos, workers):
    loader = make_loader(photos, PRE, train=True, batch_size=8, shuffle=True, workers=workers)

    def epoch():
        n = 0
        for images, labels, bad in loader:
            assert images.shape[1:] == (3, 375, 375) and bad == 0
            n += len(labels)
        return n

    epoch()  # start the workers and warm the page cache outside the measurement
    assert benchmark.pedantic(epoch, rounds=3, iterations=1) == N_IMAGES
    if benchmark.stats is not None:  # None under --benchmark-disable
        benchmark.extra_info["images_per_s"] = round(N_IMAGES / benchmark.stats.stats.mean, 1)
