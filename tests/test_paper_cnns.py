"""The paper's Fig. 4 structures (A-CNN, T-CNN) as zoo models: the layers section III-B describes, any input size
from 64 px, trained by the ordinary loop, exported to ONNX. (Forward/backward at 64 and 375 px and the ONNX parity
of every zoo network are in test_models.py and test_engines_onnx.py.)"""

import pytest
import torch
from torch import nn

from mldrnet import models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data import DataConfig
from mldrnet.models.paper_cnns import ACNN, TCNN
from mldrnet.training.config import resolve
from mldrnet.training.loop import train_model

NAMES = ("a-cnn", "t-cnn")


def _layers(model: nn.Module, kind) -> list[nn.Module]:
    return [m for m in model.modules() if isinstance(m, kind)]


def test_registered_as_baselines_without_a_paper_accuracy():
    for name in NAMES:
        entry = models.info(name)
        assert entry.family == "baseline" and entry.paper_fi_accuracy is None and entry.description
        assert name in models.networks() and entry.formats is None  # every engine format


def test_a_cnn_has_four_convs_two_pools_and_fc_1000_256_8():
    model = models.create("a-cnn")
    assert isinstance(model, ACNN)
    assert [c.kernel_size[0] for c in _layers(model, nn.Conv2d)] == [11, 5, 3, 3]
    assert [lin.out_features for lin in _layers(model, nn.Linear)] == [1000, 256, 8]
    # max-pooling after the first and second convolutions only
    order = [type(m) for m in model.features if isinstance(m, (nn.Conv2d, nn.MaxPool2d))]
    assert order == [nn.Conv2d, nn.MaxPool2d, nn.Conv2d, nn.MaxPool2d, nn.Conv2d, nn.Conv2d]


def test_t_cnn_is_alexnet_conv1_conv2_energy_and_fc_4096_4096_8():
    model = models.create("t-cnn")
    assert isinstance(model, TCNN)
    convs = _layers(model, nn.Conv2d)
    assert [(c.kernel_size[0], c.out_channels, c.stride[0]) for c in convs] == [(11, 64, 4), (5, 192, 1)]
    assert [lin.out_features for lin in _layers(model, nn.Linear)] == [4096, 4096, 8]


def test_energy_layer_is_the_papers_27x27_average_at_227_px():
    model = models.create("t-cnn").eval()
    x = torch.randn(2, 3, 227, 227)
    with torch.no_grad():
        conv2 = model.features(x)
        assert conv2.shape[-2:] == (27, 27)  # AlexNet's conv2 map at 227 px
        torch.testing.assert_close(model.energy(conv2), nn.functional.avg_pool2d(conv2, 27))


@pytest.mark.parametrize("size", [64, 100, 227])
def test_any_input_from_64_px(size):
    for name in NAMES:
        with torch.no_grad():
            assert models.create(name).eval()(torch.randn(1, 3, size, size)).shape == (1, 8)


def test_num_classes_and_options():
    model = models.create("a-cnn", num_classes=2, batch_norm=False, dropout=0.0)
    assert model(torch.randn(1, 3, 64, 64)).shape == (1, 2) and not _layers(model, nn.BatchNorm2d)


@pytest.mark.parametrize("name", NAMES)
def test_trains_with_the_loop(name, tmp_path):
    cfg = resolve(name, "quick", epochs=1, crop=64, batch_size=16, workers=0)
    result = train_model(cfg, DataConfig(dataset="synth", synth_n=96, synth_size=72, seed=0), tmp_path)
    assert result.ok and result.epochs == 1 and 0 <= result.test_acc <= 1
    model = models.load(Checkpoint.load(tmp_path / "runs" / "synth" / name / "best.pt"))  # what export loads
    assert type(model) is type(models.create(name)) and model(torch.randn(1, 3, 64, 64)).shape == (1, 8)
