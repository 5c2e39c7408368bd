import pytest
import torch


def pytest_configure(config):
    # Tests share 2 cores; one intra-op thread per test process keeps timings steady and avoids oversubscription.
    torch.set_num_threads(1)


def pytest_collection_modifyitems(config, items):
    if torch.cuda.is_available():
        return
    skip = pytest.mark.skip(reason="needs a CUDA GPU")
    for item in items:
        if "gpu" in item.keywords:
            item.add_marker(skip)
