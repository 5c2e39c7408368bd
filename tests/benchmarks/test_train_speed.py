"""Benchmark: MldrNet training throughput at the paper's 375 px on this CPU, and the data pipeline's share.

Run with `pytest tests/benchmarks/test_train_speed.py --benchmark-enable`; `extra_info` carries images/s and
the fraction of the epoch spent waiting for data (decode + five-crop + flip).
"""

import numpy as np
import pytest
import torch
from PIL import Image

from mldrnet import models
from mldrnet.data import make_loader
from mldrnet.data.transforms import Preprocessing
from mldrnet.training.config import TrainConfig
from mldrnet.training.loop import train_one_epoch

N_IMAGES, BATCH = 32, 16


@pytest.fixture(scope="module")
def jpegs(tmp_path_factory):
    folder = tmp_path_factory.mktemp("jpegs")
    rng = np.random.default_rng(0)
    samples = []
    for i in range(N_IMAGES):
        path = folder / f"img_{i}.jpg"
        # photo-sized (500x430) noisy gradients: JPEG decode cost like a real FI image
        base = np.linspace(0, 255, 500 * 430 * 3).reshape(430, 500, 3)
        Image.fromarray((base + rng.normal(0, 30, base.shape)).clip(0, 255).astype(np.uint8)).save(path, quality=90)
        samples.append((str(path), i % 8))
    return samples


def test_mldrnet_train_throughput_375(benchmark, jpegs):
    torch.manual_seed(0)
    model = models.create("mldrnet")
    cfg = TrainConfig(crop=375, batch_size=BATCH)
    optimizer = torch.optim.SGD(model.parameters(), lr=0.001, momentum=0.9, weight_decay=0.0005)
    loader = make_loader(jpegs, Preprocessing(crop=375), train=True, batch_size=BATCH, shuffle=True)

    stats = benchmark.pedantic(
        train_one_epoch, args=(model, loader, optimizer, torch.device("cpu"), cfg, None), rounds=1, iterations=1
    )
    benchmark.extra_info.update(images_per_s=stats["images_per_s"], data_share=stats["data_share"])
    assert stats["images"] == N_IMAGES and stats["train_loss"] > 0
    assert 0 <= stats["data_share"] < 1
