"""Every zoo model builds, runs, trains; the MldrNet options change the architecture as documented."""

import urllib.error

import pytest
import torch
import torchvision
from torch import nn

from mldrnet import models
from mldrnet.errors import BenchError
from mldrnet.models.mldrnet import MldrNet, MldrNetConfig
from mldrnet.models.stats import count_params, profile

HEAVY = {"vgg19", "resnet101"}


@pytest.mark.parametrize("name", models.networks())
@pytest.mark.parametrize("size", [64, 375])
def test_forward_backward(name, size):
    if size == 375 and name in HEAVY:
        pytest.skip(
            "backward of VGG-19/ResNet-101 at 375 px is slow on 2 CPU cores: 64 px covers the backward, "
            "test_eval_forward_at_375 the 375 px forward"
        )
    torch.manual_seed(0)
    model = models.create(name).train()
    x = torch.randn(2, 3, size, size)
    logits = model(x)
    assert logits.shape == (2, 8)
    assert torch.isfinite(logits).all()
    nn.functional.cross_entropy(logits, torch.tensor([0, 7])).backward()
    missing = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not missing, f"parameters without a finite gradient: {missing[:5]}"


@pytest.mark.parametrize("name", models.networks())
def test_eval_forward_at_375(name):
    model = models.create(name).eval()
    with torch.no_grad():
        assert model(torch.randn(1, 3, 375, 375)).shape == (1, 8)


@pytest.mark.parametrize(
    "name,arch", [("alexnet", "alexnet"), ("vgg19", "vgg19"), ("resnet101", "resnet101"), ("alexnet-svm", "alexnet")]
)
def test_baseline_params_equal_torchvision(name, arch):
    expected = count_params(torchvision.models.get_model(arch, weights=None, num_classes=8))
    assert count_params(models.create(name)) == expected


def test_default_mldrnet_is_cheap():
    p = profile(models.create("mldrnet"), 375)
    assert p.gflops <= 8.0, "the paper's point is a shallow, cheap network"
    assert p.output_shape == (1, 8)


@pytest.mark.parametrize("levels", [2, 3, 4, 5, 6])
def test_levels(levels):
    model = MldrNet(MldrNetConfig(levels=levels))
    assert len(model.levels) == len(model.branches) == levels
    kernels = [lvl[0].kernel_size[0] for lvl in model.levels]
    assert kernels == [11] + [5] * (levels - 1)
    assert all(b.reduce[0].out_channels == 128 and b.reduce[0].kernel_size == (1, 1) for b in model.branches)


def test_fusion_options_change_the_head():
    mean = MldrNet(MldrNetConfig(fusion="mean"))
    assert isinstance(mean.head, nn.Identity) and mean.branches[0].fc2.out_features == 8
    concat = MldrNet(MldrNetConfig(fusion="concat", levels=3))
    assert concat.head.in_features == 8 * 3
    features = MldrNet(MldrNetConfig(fusion="max", fuse_on="features"))
    assert features.branches[0].fc2 is None and features.head.in_features == 512
    bigru = MldrNet(MldrNetConfig(fusion="bigru"))
    assert isinstance(bigru.gru, nn.GRU) and bigru.gru.bidirectional and bigru.branches[0].fc2 is None


@pytest.mark.parametrize("fusion,reduce", [("mean", torch.mean), ("max", torch.amax), ("min", torch.amin)])
def test_fusion_combines_branch_scores(fusion, reduce):
    model = MldrNet(MldrNetConfig(fusion=fusion, levels=3)).eval()
    x = torch.randn(2, 3, 64, 64)
    with torch.no_grad():
        branch_scores, h = [], x
        for level, branch in zip(model.levels, model.branches):
            h = level(h)
            branch_scores.append(branch(h))
        expected = reduce(torch.stack(branch_scores), dim=0)
        torch.testing.assert_close(model(x), expected)


def test_branch_grid_keeps_layout():
    model = MldrNet(MldrNetConfig(branch_grid=3))
    assert model.branches[0].fc1[1].in_features == 128 * 9


@pytest.mark.parametrize("bad", [{"levels": 7}, {"levels": 1}, {"fusion": "sum"}, {"fuse_on": "pixels"}])
def test_bad_options_are_clean_errors(bad):
    with pytest.raises(BenchError, match="bad MldrNet option"):
        models.create("mldrnet", **bad)


def test_an_option_the_builder_does_not_take_is_a_clean_error():
    with pytest.raises(BenchError, match=r"alexnet takes no option levels \(its options: pretrained, weights_path\)"):
        models.create("alexnet", levels=3)


def test_a_model_too_big_for_the_input_size_is_a_clean_error():
    from bench.models import model_rows

    # its stem and pools need >= 63 px (its zoo entry's min_crop): a row that says so, not a failed `bench models`
    (row,) = model_rows(32, ["alexnet"])
    assert row.gflops is None and row.output_shape == () and row.min_crop == 63 and row.params > 0
    with pytest.raises(BenchError, match="--crop 32: alexnet needs an input of 63 to 1024 px"):
        models.check_input_size("alexnet", 32)


def test_unknown_model():
    with pytest.raises(BenchError, match="unknown model 'lenet'"):
        models.create("lenet")


def test_registry_refuses_duplicates():
    with pytest.raises(ValueError, match="twice"):
        models.register("mldrnet", "mldrnet", None, "dup")(lambda **kw: None)


def test_pretrained_offline_says_where_to_put_the_file(monkeypatch, tmp_path):
    monkeypatch.setenv("TORCH_HOME", str(tmp_path))

    def offline(*args, **kwargs):
        raise urllib.error.URLError("no network")

    monkeypatch.setattr(torch.hub, "download_url_to_file", offline)  # bench downloads, then loads weights only
    with pytest.raises(BenchError) as e:
        models.create("alexnet", pretrained=True)
    msg = str(e.value)
    assert "\n" not in msg and "alexnet-owt-7be5be79.pth" in msg and str(tmp_path / "hub" / "checkpoints") in msg


def test_local_weights_file(tmp_path):
    torch.manual_seed(1)
    imagenet = torchvision.models.alexnet(weights=None)
    path = tmp_path / "alexnet.pth"
    torch.save(imagenet.state_dict(), path)
    for name in ("alexnet", "alexnet-svm"):
        model = models.create(name, weights_path=path)
        torch.testing.assert_close(model.features[0].weight, imagenet.features[0].weight)
    with pytest.raises(BenchError, match="does not exist"):
        models.create("alexnet", weights_path=tmp_path / "missing.pth")
    (tmp_path / "junk.pth").write_bytes(b"not a state dict")
    with pytest.raises(BenchError, match="cannot load alexnet ImageNet weights"):
        models.create("alexnet", weights_path=tmp_path / "junk.pth")


def test_alexnet_from_scratch_gets_he_init_and_loaded_weights_stay(tmp_path):
    """torchvision leaves AlexNet at PyTorch's default init (its weights are meant to be loaded): from scratch it
    sat near chance for epochs. The zoo gives it VGG's He init; weights loaded from a file are left as they are."""
    import math

    import torch
    import torchvision

    from mldrnet import models

    torch.manual_seed(0)
    model = models.create("alexnet")
    conv = model.features[0]
    fan_out = conv.out_channels * conv.kernel_size[0] * conv.kernel_size[1]
    assert float(conv.weight.std()) == pytest.approx(math.sqrt(2 / fan_out), rel=0.05)
    assert float(model.classifier[1].weight.std()) == pytest.approx(0.01, rel=0.05)
    assert float(conv.bias.abs().max()) == 0.0
    svm = models.create("alexnet-svm")  # trains its own backbone when no trained alexnet is beside it: same init
    assert float(svm.features[0].weight.std()) == pytest.approx(math.sqrt(2 / fan_out), rel=0.05)
    assert models.init_tag("alexnet") == "he" and models.init_tag("alexnet", pretrained=True) is None
    assert models.init_tag("mldrnet") is None
    state = torchvision.models.alexnet().state_dict()
    torch.save(state, tmp_path / "alexnet.pth")
    loaded = models.create("alexnet", weights_path=str(tmp_path / "alexnet.pth"))
    assert torch.equal(loaded.features[0].weight, state["features.0.weight"])
