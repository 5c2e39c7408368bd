"""One exported graph that every runtime reads, at every size: MldrNet's branch pooling is exported as fixed
pooling ops for the size being exported (no Gather / GatherND / Where, no BOOL constants), and OpenCV's DNN module
and OpenVINO read the file with the logits of ONNX Runtime; eager PyTorch and checkpoints are unchanged."""

import collections

import numpy as np
import onnx
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from engines.onnx_export import export_onnx
from mldrnet import EMOTIONS, models
from mldrnet.checkpoint import ModelMeta
from mldrnet.data.transforms import Preprocessing
from mldrnet.models.mldrnet import GridPool, grid_bins, grid_pool_fixed, grid_runs

SIZES = (64, 375)  # branch maps 8/4/2/1 wide at 64 px (none divides by 3 but 4 -> kernel 2 stride 1), 47/24/12/6 at 375


def _mldrnet(name: str = "mldrnet") -> nn.Module:
    torch.manual_seed(0)
    return models.create(name).eval()


@pytest.fixture(scope="module", params=SIZES)
def exported(request, tmp_path_factory):
    size = request.param
    model = _mldrnet()
    path = export_onnx(
        model, ModelMeta("mldrnet", EMOTIONS, Preprocessing(crop=size)), tmp_path_factory.mktemp("p") / "m.onnx"
    )
    x = np.random.default_rng(size).standard_normal((3, 3, size, size)).astype(np.float32)
    return size, model, path, x


def _ort(path, x):
    import onnxruntime as ort

    return ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(None, {"images": x})[0]


def test_the_bins_are_pytorchs_and_runs_are_one_op_where_they_can_be():
    assert grid_bins(8, 3) == [(0, 3), (2, 6), (5, 8)] and grid_bins(2, 3) == [(0, 1), (0, 2), (1, 2)]
    assert grid_runs(24, 3) == [(0, 8, 8, 3)] and grid_runs(4, 3) == [(0, 2, 1, 3)]  # one AveragePool each
    assert grid_runs(1, 3) == [(0, 1, 1, 1)]  # one window, repeated
    assert grid_runs(47, 3) == [(0, 16, 1, 1), (15, 17, 1, 1), (31, 16, 1, 1)]  # a kernel per output cell


@pytest.mark.parametrize("height", [*range(1, 30), 47, 93])
def test_fixed_pooling_is_adaptive_pooling(height):
    g = torch.Generator().manual_seed(height)
    for width in {height, height + 1, 3, max(1, height - 4)}:
        x = torch.randn(2, 5, height, width, generator=g) * 4
        for t in (x, x.contiguous(memory_format=torch.channels_last)):
            expected = F.adaptive_avg_pool2d(t, 3)
            torch.testing.assert_close(grid_pool_fixed(t, 3), expected, rtol=1e-6, atol=1e-6)


def test_eager_outputs_and_checkpoints_are_unchanged():
    """GridPool runs adaptive pooling itself in eager mode (bit for bit what nn.AdaptiveAvgPool2d gave) and has no
    parameters: state_dict keys and values are those of the model as it was."""
    model = _mldrnet()
    before = _mldrnet()
    for branch in before.branches:
        assert isinstance(branch.grid, GridPool)
        branch.grid = nn.AdaptiveAvgPool2d(3)
    assert list(model.state_dict()) == list(before.state_dict())
    x = torch.randn(3, 3, 64, 64, generator=torch.Generator().manual_seed(0))
    with torch.inference_mode():
        assert torch.equal(model(x), before(x))
    model.train(), before.train()
    torch.manual_seed(1)
    a = model(x)
    torch.manual_seed(1)
    assert torch.equal(a, before(x))  # training too (dropout under one seed)


def test_the_export_has_no_bool_tensor_and_no_gather_or_where(exported):
    size, _, path, _ = exported
    proto = onnx.load(str(path))
    ops = collections.Counter(n.op_type for n in proto.graph.node)
    assert not {"Gather", "GatherND", "GatherElements", "Where", "Transpose"} & set(ops), (size, ops)
    assert ops["AveragePool"] >= 4 and ops["Slice"] > 0  # the branch pooling, as fixed pooling ops
    bools = [t.name for t in proto.graph.initializer if t.data_type == onnx.TensorProto.BOOL]
    constants = [
        a.t.name for n in proto.graph.node if n.op_type == "Constant" for a in n.attribute if a.t.data_type == 9
    ]
    assert not bools and not constants
    inferred = onnx.shape_inference.infer_shapes(proto)
    assert not [v.name for v in inferred.graph.value_info if v.type.tensor_type.elem_type == onnx.TensorProto.BOOL]


def test_onnxruntime_matches_eager(exported):
    size, model, path, x = exported
    with torch.inference_mode():
        expected = model(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(_ort(path, x), expected, rtol=0, atol=1e-5)


def test_opencv_dnn_reads_it_with_the_logits_of_onnxruntime(exported):
    cv2 = pytest.importorskip("cv2")
    size, _, path, x = exported
    reference = _ort(path, x)
    for batch in (x, x[:1]):
        net = cv2.dnn.readNetFromONNX(str(path))
        net.setInput(batch)
        got = net.forward()
        assert got.shape == (len(batch), len(EMOTIONS)), (size, got.shape)
        assert np.abs(got - reference[: len(batch)]).max() < 1e-4


def test_openvino_reads_it_with_the_logits_of_onnxruntime(exported):
    ov = pytest.importorskip("openvino")
    size, _, path, x = exported
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    got = compiled(x)[0]
    assert got.shape == (len(x), len(EMOTIONS)) and np.abs(got - _ort(path, x)).max() < 1e-4


def test_the_exported_gru_is_the_gru():
    from mldrnet.models.mldrnet import gru_last_states

    torch.manual_seed(0)
    gru = nn.GRU(16, 8, batch_first=True, bidirectional=True)
    steps = [torch.randn(3, 16) for _ in range(4)]
    _, h_n = gru(torch.stack(steps, dim=1))
    assert torch.allclose(gru_last_states(gru, steps), torch.cat([h_n[0], h_n[1]], dim=1), atol=1e-6)


@pytest.mark.parametrize("name", ["mldrnet-max", "mldrnet-concat", "mldrnet-bigru"])
def test_other_fusions_export_as_portable_graphs(name, tmp_path):
    cv2 = pytest.importorskip("cv2")
    model = _mldrnet(name)
    path = export_onnx(model, ModelMeta(name, EMOTIONS, Preprocessing(crop=64)), tmp_path / "m.onnx")
    ops = {n.op_type for n in onnx.load(str(path)).graph.node}
    assert not {"Gather", "GatherND", "Where", "GRU"} & ops
    x = np.random.default_rng(0).standard_normal((2, 3, 64, 64)).astype(np.float32)
    net = cv2.dnn.readNetFromONNX(str(path))
    net.setInput(x)
    assert np.abs(net.forward() - _ort(path, x)).max() < 1e-4
    ov = pytest.importorskip("openvino")
    compiled = ov.Core().compile_model(str(path), "CPU", {"INFERENCE_PRECISION_HINT": "f32"})
    assert np.abs(compiled(x)[0] - _ort(path, x)).max() < 1e-4
