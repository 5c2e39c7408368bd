"""A test that tells TF32 from IEEE fp32 on every GPU engine.

The inputs are built so that IEEE fp32 computes the model exactly while TF32 cannot: every input is 1 + k * 2^-13
(k = 0..3), which fp32 holds exactly but TF32's 10-bit mantissa rounds to 1; the 2x2 stride-2 convolution's
weights are +1 / -1 in pairs, so TF32 gives every convolution output 0 where IEEE fp32 gives k-differences of
2^-13; the linear layer on those small multiples of 2^-13 is exact in both. Every partial sum is a multiple of
2^-13 below 2^6, which fp32 holds exactly in any order of addition, so the IEEE logits are exact on any engine
and algorithm (no Winograd for a 2x2 kernel), while TF32 moves them by 100 %.

On the CPU the test checks exactly that (IEEE in float32 equals float64; the same maths with inputs and weights
rounded to TF32 is nowhere near it). On a GPU (marker `gpu`), each engine's fp32 row must give the IEEE logits to
1e-4 relative, and describe() must say tf32 False; its tf32 row must say tf32 True.
"""

import numpy as np
import pytest
import torch
from torch import nn

from engines.base import EngineOptions, create_engine
from mldrnet import EMOTIONS
from mldrnet.checkpoint import ModelMeta
from mldrnet.data.transforms import Preprocessing

SIZE = 4  # 3x4x4 images: 12 products per convolution output, 32 inputs to the linear layer


def tf32_round(x: np.ndarray) -> np.ndarray:
    """float32 -> the nearest TF32 value (10 explicit mantissa bits, round to nearest even), as float32."""
    bits = np.asarray(x, np.float32).view(np.uint32).astype(np.uint64)
    drop = 13  # 23 - 10 mantissa bits
    half, low = 1 << (drop - 1), bits & ((1 << drop) - 1)
    up = (low > half) | ((low == half) & (((bits >> drop) & 1) == 1))
    rounded = ((bits >> drop) + up.astype(np.uint64)) << drop
    return rounded.astype(np.uint32).view(np.float32)


class Probe(nn.Module):
    """2x2 stride-2 convolution (3 -> 8 channels, +-1 weights summing to 0), flatten, linear (32 -> 8, +-1)."""

    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(3, 8, 2, stride=2, bias=False)
        self.fc = nn.Linear(8 * (SIZE // 2) ** 2, len(EMOTIONS), bias=False)
        g = torch.Generator().manual_seed(0)
        with torch.no_grad():
            signs = torch.tensor([1.0, -1.0]).repeat(6)  # 12 weights per output channel, half +1 half -1
            self.conv.weight.copy_(
                torch.stack([signs[torch.randperm(12, generator=g)] for _ in range(8)]).view(8, 3, 2, 2)
            )
            self.fc.weight.copy_(torch.randint(0, 2, self.fc.weight.shape, generator=g).float() * 2 - 1)

    def forward(self, x):
        return self.fc(self.conv(x).flatten(1))


def probe_inputs(batch: int = 4) -> torch.Tensor:
    g = torch.Generator().manual_seed(1)
    k = torch.randint(0, 4, (batch, 3, SIZE, SIZE), generator=g).float()
    return 1 + k * 2.0**-13


def reference(model: Probe, x: torch.Tensor, tf32: bool, dtype=np.float64) -> np.ndarray:
    """The probe's logits computed with numpy (no torch kernel involved), inputs and weights rounded to TF32 first
    when `tf32`, accumulated in `dtype`."""
    w1, w2, xs = (t.detach().numpy().astype(np.float32) for t in (model.conv.weight, model.fc.weight, x))
    if tf32:
        w1, w2, xs = tf32_round(w1), tf32_round(w2), tf32_round(xs)
    b = xs.shape[0]
    patches = xs.reshape(b, 3, SIZE // 2, 2, SIZE // 2, 2).transpose(0, 2, 4, 1, 3, 5).reshape(b, -1, 12)
    conv = patches.astype(dtype) @ w1.reshape(8, 12).T.astype(dtype)  # (b, positions, channels)
    if tf32:
        conv = tf32_round(conv.astype(np.float32)).astype(dtype)  # the linear layer's inputs, rounded again
    flat = conv.transpose(0, 2, 1).reshape(b, -1)  # torch's flatten order: channel, then position
    return (flat @ w2.T.astype(dtype)).astype(np.float32)


def test_the_inputs_tell_tf32_from_ieee_on_the_cpu():
    model, x = Probe().eval(), probe_inputs()
    exact = reference(model, x, tf32=False)
    assert np.array_equal(reference(model, x, tf32=False, dtype=np.float32), exact)  # fp32 holds every partial sum
    with torch.inference_mode():
        assert np.array_equal(model(x).numpy(), exact)  # PyTorch's CPU kernels agree to the last bit
    assert np.abs(exact).max() > 1e-3 and np.abs(exact).min() >= 0  # logits of a few 2^-13
    tf32 = reference(model, x, tf32=True)
    assert np.array_equal(tf32, np.zeros_like(tf32))  # TF32 rounds every input to 1: the pairs cancel
    moved = np.abs(tf32 - exact).max() / np.abs(exact).max()
    assert moved > 0.5  # TF32 moves the logits by ~100 % of their scale: 1e-4 relative tells the two apart
    assert tf32_round(np.float32(1 + 3 * 2.0**-13)) == 1.0 and tf32_round(np.float32(1 + 2.0**-10)) == 1 + 2.0**-10


def _assert_ieee(engine, x, expected):
    got = engine(x).float().numpy()
    scale = np.abs(expected).max()
    assert np.abs(got - expected).max() <= 1e-4 * scale, (engine.describe().get("provider"), got[0], expected[0])
    assert engine.describe()["tf32"] is False


def _onnx(tmp_path):
    from engines.onnx_export import export_onnx

    model = Probe().eval()
    return model, export_onnx(model, ModelMeta("probe", EMOTIONS, Preprocessing(crop=SIZE)), tmp_path / "model.onnx")


@pytest.mark.gpu
def test_torch_cuda_fp32_is_ieee_and_tf32_says_so():
    model, x = Probe().eval(), probe_inputs()
    expected = reference(model, x, tf32=False)
    _assert_ieee(create_engine("torch", model, EngineOptions(device="cuda")), x, expected)
    tf32 = create_engine("torch", Probe().eval(), EngineOptions(device="cuda", precision="tf32"))
    tf32(x)
    assert tf32.describe()["tf32"] is True


@pytest.mark.gpu
@pytest.mark.parametrize("provider", ["cuda", "tensorrt"])
def test_onnxruntime_gpu_fp32_is_ieee(provider, tmp_path):
    from tests.test_engines_tensorrt import _ort_provider_or_skip

    _ort_provider_or_skip({"cuda": "CUDAExecutionProvider", "tensorrt": "TensorrtExecutionProvider"}[provider])
    model, path = _onnx(tmp_path)
    x = probe_inputs()
    expected = reference(model, x, tf32=False)
    _assert_ieee(create_engine("onnxruntime", path, EngineOptions(device="cuda", provider=provider)), x, expected)
    tf32 = create_engine("onnxruntime", path, EngineOptions(device="cuda", provider=provider, precision="tf32"))
    assert tf32.describe()["tf32"] is True


@pytest.mark.gpu
def test_tensorrt_fp32_engine_is_ieee(tmp_path):
    pytest.importorskip("tensorrt")
    from engines.tensorrt_build import build_engine

    model, path = _onnx(tmp_path)
    meta = ModelMeta("probe", EMOTIONS, Preprocessing(crop=SIZE))
    engine_path = build_engine(path, tmp_path / "model.fp32.engine", meta, precision="fp32", max_batch=4)
    x = probe_inputs()
    _assert_ieee(create_engine("tensorrt", engine_path, EngineOptions(device="cuda")), x, reference(model, x, False))
