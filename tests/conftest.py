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


@pytest.fixture(scope="session")
def trained(tmp_path_factory):
    """(results root, best.pt, Checkpoint) of an MldrNet-l2 trained briefly at 40 px on a tiny synthetic set: the
    model the export and quantization tests convert (trained once per session; modules may define their own)."""
    from mldrnet.checkpoint import Checkpoint
    from mldrnet.data import DataConfig
    from mldrnet.training.config import resolve
    from mldrnet.training.loop import train_model

    root = tmp_path_factory.mktemp("trained")
    result = train_model(
        resolve("mldrnet-l2", "quick", epochs=2, crop=40, batch_size=32, lr=0.02),
        DataConfig(dataset="synth", synth_n=160, synth_size=48),
        root,
    )
    assert result.ok
    checkpoint = root / "runs" / "synth" / "mldrnet-l2" / "best.pt"
    return root, checkpoint, Checkpoint.load(checkpoint)
