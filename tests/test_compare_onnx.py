"""`bench compare --onnx FILE`: an image classifier bench did not write (torchvision's mobilenet_v3_small with random
weights, exported here at 64 px), timed beside the zoo models on the same test split; accuracy only where its
labels name the dataset's classes, and the row says why otherwise."""

import warnings
from dataclasses import asdict

import numpy as np
import pytest
import torch

from bench.compare import CompareConfig, run_compare
from bench.mlperf.foreign import ForeignOnnx
from bench.records import load_run, save_run
from mldrnet import models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data.evalset import load_split
from mldrnet.data.prepare import DataConfig
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError
from mldrnet.io.layout import checkpoint_path
from tests.helpers.compare_fakes import CLASSES, FAST

DATA = DataConfig(dataset="synth", synth_n=96, synth_size=64)


@pytest.fixture(scope="module")
def root(tmp_path_factory):
    """A zoo model (untrained MldrNet-l2 at 56 px) whose data is 96 synthetic 64 px images."""
    root = tmp_path_factory.mktemp("results")
    torch.manual_seed(0)
    net = models.create("mldrnet-l2", num_classes=len(CLASSES))
    Checkpoint.of_model("mldrnet-l2", net, CLASSES, Preprocessing(crop=56), data_config=asdict(DATA)).save(
        checkpoint_path(root, "mldrnet-l2", "synth")
    )
    return root


@pytest.fixture(scope="module")
def mobilenet(tmp_path_factory):
    import torchvision

    path = tmp_path_factory.mktemp("onnx") / "mobilenet_v3_small.onnx"
    torch.manual_seed(0)
    model = torchvision.models.mobilenet_v3_small(weights=None).eval()
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        torch.onnx.export(
            model,
            (torch.randn(1, 3, 64, 64),),
            str(path),
            input_names=["x"],
            dynamic_axes={"x": {0: "n"}},
            dynamo=False,
        )
    return path


def _labels(tmp_path, matching: bool):
    names = [f"imagenet{i}" for i in range(1000)]
    if matching:
        for i, c in enumerate(CLASSES):  # the dataset's classes among the model's outputs, in another case
            names[10 * i + 3] = c.upper()
    path = tmp_path / ("right.txt" if matching else "wrong.txt")
    path.write_text("\n".join(names) + "\n")
    return str(path)


def _run(root, mobilenet, **kw):
    cfg = CompareConfig(
        models=("mldrnet-l2",),
        engines=("torch-cpu",),
        batch_sizes=(1, 4),
        threads=1,
        eval_batch_size=8,
        timing=FAST,
        calibration=FAST,
        peak_budget_s=0.0,
        onnx=str(mobilenet),
        **kw,
    )
    return run_compare(cfg, root)


def test_an_onnx_file_is_timed_beside_the_zoo_model_without_claiming_accuracy(root, mobilenet, tmp_path):
    run = _run(root, mobilenet, end_to_end=True)
    zoo = [r for r in run.records if r.model == "mldrnet-l2"]
    foreign = {(r.variant, r.batch_size): r for r in run.records if r.model == "mobilenet_v3_small.onnx"}
    assert len(zoo) == 4 and all(r.ok for r in zoo), [r.error for r in zoo]
    assert set(foreign) == {("ort-cpu", 1), ("ort-cpu", 4), ("ort-cpu-e2e", 1), ("ort-cpu-e2e", 4)}
    for r in foreign.values():
        assert r.ok, r.error
        assert r.engine == "onnxruntime" and r.file_format == "onnx" and r.file_bytes == mobilenet.stat().st_size
        assert r.input_size == r.timing_size == 64 and r.test_images == zoo[0].test_images  # the zoo's test split
        assert r.accuracy_pct is None and "without --labels" in r.accuracy_note
        assert r.lat_p50_ms > 0 and r.load_s > 0 and r.peak_rss_mb > 0
        assert r.engine_info["classes"] == 1000 and r.agreement_pct is None  # no reference to agree with
    assert {r.timed for k, r in foreign.items() if k[0] == "ort-cpu-e2e"} == {"end to end"}
    save_run(run, tmp_path)  # an ok row without accuracy but with its note is a valid record
    assert load_run(tmp_path, unique_keys=True).records == run.records


def test_accuracy_only_where_the_labels_name_the_datasets_classes(root, mobilenet, tmp_path):
    (bad, *_) = [r for r in _run(root, mobilenet, onnx_labels=_labels(tmp_path, False)).records if "onnx" in r.model]
    assert bad.ok and bad.accuracy_pct is None and "do not match" in bad.accuracy_note
    run = _run(root, mobilenet, onnx_labels=_labels(tmp_path, True))
    good = [r for r in run.records if "onnx" in r.model]
    assert all(r.ok and r.accuracy_note is None for r in good), [r.error for r in good]
    # the same images, run here: the top output mapped to a dataset class (an output outside them is wrong)
    ev = load_split(DATA, Preprocessing(crop=64), "test", root)
    engine = ForeignOnnx(mobilenet, 1)
    hits = total = 0
    for images, y in ev.batches():
        top = engine(images).argmax(1).numpy()
        predicted = np.array([t // 10 if t % 10 == 3 and t < 80 else -1 for t in top])
        hits, total = hits + int((predicted == y.numpy()).sum()), total + len(y)
    assert good[0].accuracy_pct == pytest.approx(100 * hits / total)
    assert len(good[0].per_class_tpr_pct) == len(CLASSES)


def test_a_wrong_input_size_is_an_error_row_and_orphan_options_are_refused(root, mobilenet):
    rows = [r for r in _run(root, mobilenet, onnx_input_size=96).records if "onnx" in r.model]
    assert rows and all(not r.ok and "64 px" in r.error for r in rows)
    with pytest.raises(BenchError, match="--onnx"):
        run_compare(CompareConfig(onnx_labels="labels.txt"), root)


def test_only_an_onnx_file_needs_no_trained_model(mobilenet, tmp_path):
    # no zoo model trained here: the file runs on the dataset named (a tiny synthetic set in its own folder)
    from mldrnet.data.synth import ensure_synth

    ensure_synth(DATA.synth_params(), tmp_path / "data")
    cfg = CompareConfig(
        dataset="synth",
        data_root=str(tmp_path / "data"),
        batch_sizes=(2,),
        threads=1,
        timing=FAST,
        calibration=FAST,
        peak_budget_s=0.0,
        onnx=str(mobilenet),
        max_test_images=8,
    )
    (row,) = run_compare(cfg, tmp_path / "results").records
    assert row.ok and row.model == "mobilenet_v3_small.onnx" and row.test_images == 8
