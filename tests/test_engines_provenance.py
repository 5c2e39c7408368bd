"""Engine files are tied to their checkpoint by content (issue 23, classes 6, 9 and 10): every exported file
records the sha256 of the best.pt it was made from; compare and export re-export a stale or foreign file, predict
refuses it in one line; a truncated or altered OpenVINO IR, an ONNX file of another size, and a read-only results
folder each get one line naming the file and the fix, never a traceback or a silent wrong answer."""

import json
import shutil

import numpy as np
import onnx
import pytest
import torch
from typer.testing import CliRunner

from engines import export, formats
from engines.base import EngineOptions, create_engine, file_sha256
from engines.export import ensure_file, recorded_checkpoint, require_same_checkpoint, stale_reason
from engines.onnx_export import CHECKPOINT_PROP
from mldrnet.checkpoint import Checkpoint
from mldrnet.errors import BenchError
from tests.helpers.compare_fakes import cli_app

runner = CliRunner()
app = cli_app()
ONNX = formats.get("onnx")


@pytest.fixture
def run(trained, tmp_path):
    """A copy of the trained fixture's results root (these tests replace and damage its files)."""
    root, checkpoint, _ = trained
    copy = tmp_path / "results"
    shutil.copytree(root, copy, ignore=shutil.ignore_patterns("*.lock", "openvino-cache", "ort-trt-cache"))
    checkpoint = copy / checkpoint.relative_to(root)
    return copy, checkpoint


def _retrain(checkpoint):
    """best.pt with other weights (what a new training writes): same name, same model, other content."""
    ckpt = Checkpoint.load(checkpoint)
    state = {k: (v + 0.01 if v.is_floating_point() else v) for k, v in ckpt.state_dict.items()}
    Checkpoint.of_model(
        ckpt.model,
        _model(ckpt, state),
        ckpt.classes,
        ckpt.preprocessing,
        data_config=ckpt.data_config,
    ).save(checkpoint)


def _model(ckpt, state):
    from mldrnet import models

    model = models.load(ckpt)
    model.load_state_dict(state)
    return model


def test_every_exported_file_records_the_checkpoint_it_came_from(run):
    root, checkpoint = run
    here = file_sha256(checkpoint)
    for fmt, precision in (("onnx", "fp32"), ("onnx-int8", "int8"), ("openvino", "fp32"), ("openvino", "int8")):
        path = ensure_file(formats.get(fmt), precision, checkpoint, results_root=root)
        assert recorded_checkpoint(path) == here, (fmt, precision)
        assert stale_reason(path, checkpoint) is None


def test_compare_and_export_re_export_a_file_of_another_checkpoint(run, caplog):
    root, checkpoint = run
    onnx_path = ensure_file(ONNX, "fp32", checkpoint, results_root=root)
    foreign = onnx.load(str(onnx_path))
    for prop in foreign.metadata_props:
        if prop.key == CHECKPOINT_PROP:
            prop.value = json.dumps("f" * 64)  # an export of another training, copied in
    onnx.save(foreign, str(onnx_path))
    reason = stale_reason(onnx_path, checkpoint)
    assert reason.startswith("re-exporting model.onnx: model.onnx was exported from another checkpoint (sha256 ffff")
    with caplog.at_level("WARNING", logger="engines.export"):
        ensure_file(ONNX, "fp32", checkpoint, results_root=root)
    assert "exported from another checkpoint" in caplog.text
    assert recorded_checkpoint(onnx_path) == file_sha256(checkpoint)  # re-exported, not used

    _retrain(checkpoint)  # a newer best.pt: the file is stale by content, whatever the times say
    assert "was exported from another checkpoint" in stale_reason(onnx_path, checkpoint)
    ensure_file(ONNX, "fp32", checkpoint, results_root=root)
    assert recorded_checkpoint(onnx_path) == file_sha256(checkpoint)


def test_predict_refuses_a_stale_or_foreign_file_in_one_line(run):
    root, checkpoint = run
    ensure_file(ONNX, "fp32", checkpoint, results_root=root)
    image = next((root / "data").rglob("*.png"), None) or next((root / "data").rglob("*.jpg"))
    args = ["predict", str(image), "--model", "mldrnet-l2", "--engine", "onnxruntime", "--results-dir", str(root)]
    assert runner.invoke(app, args).exit_code == 0
    _retrain(checkpoint)
    result = runner.invoke(app, args)
    assert isinstance(result.exception, BenchError)
    message = str(result.exception)
    assert "\n" not in message and "model.onnx was exported from another checkpoint" in message
    assert "it is not used" in message and "bench export MODEL --to onnx" in message
    xml = formats.get("openvino").path(checkpoint.parent)
    with pytest.raises(BenchError, match=r"records no checkpoint hash .*--to openvino"):
        record = {"format": "bench-openvino/1", "meta": Checkpoint.load(checkpoint).meta.to_dict()}
        xml.write_text("<net/>")
        xml.with_suffix(".json").write_text(json.dumps(record))  # an older bench's IR
        require_same_checkpoint(xml, checkpoint, formats.get("openvino"))


def test_a_truncated_or_altered_openvino_ir_is_refused_in_one_line(run):
    root, checkpoint = run
    xml = ensure_file(formats.get("openvino"), "fp32", checkpoint, results_root=root)
    create_engine("openvino", xml, EngineOptions(threads=1))  # intact
    weights = xml.with_suffix(".bin")
    original = weights.read_bytes()
    for damaged, what in ((original[: len(original) // 2], "truncated"), (b"\0" * len(original), "altered")):
        weights.write_bytes(damaged)
        with pytest.raises(BenchError) as e:
            create_engine("openvino", xml, EngineOptions(threads=1))
        message = str(e.value)
        assert "\n" not in message and str(weights) in message, what
        assert "truncated or altered" in message and "bench export MODEL --to openvino" in message
    weights.write_bytes(original)
    xml.write_text(xml.read_text().replace("<layers>", "<layers><!-- edited -->", 1))
    with pytest.raises(BenchError, match=r"model.openvino.xml is not the file its metadata"):
        create_engine("openvino", xml, EngineOptions(threads=1))
    record = json.loads(xml.with_suffix(".json").read_text())  # an IR of an older bench: no hashes to check
    del record["xml_sha256"], record["bin_sha256"]
    xml.with_suffix(".json").write_text(json.dumps(record))
    xml.write_text(xml.read_text()[:200])
    with pytest.raises(BenchError, match=r"OpenVINO cannot read .*model.openvino.xml .*re-export it") as e:
        create_engine("openvino", xml, EngineOptions(threads=1))(torch.zeros(1, 3, 40, 40))
    assert "\n" not in str(e.value)


def test_an_onnx_file_of_another_size_is_named_not_got_invalid_dimensions(run):
    root, checkpoint = run
    crop = Checkpoint.load(checkpoint).preprocessing.crop
    sized = ensure_file(ONNX, "fp32", checkpoint, results_root=root, size=48)
    engine = create_engine("onnxruntime", sized, EngineOptions(threads=1))
    with pytest.raises(BenchError) as e:
        engine(torch.zeros(2, 3, crop, crop))  # what compare feeds a file it believes is at the trained size
    message = str(e.value)
    assert "\n" not in message and str(sized) in message and "takes 3x48x48 images, not 3x40x40" in message
    assert "Got invalid dimensions" not in message
    renamed = ONNX.path(checkpoint.parent)
    shutil.copy(sized, renamed)  # model.s48.onnx renamed model.onnx: same checkpoint, another size
    assert "it takes 48 px images, 40 px are needed" in stale_reason(renamed, checkpoint, size=crop)
    assert ensure_file(ONNX, "fp32", checkpoint, results_root=root) == renamed
    assert onnx.load(str(renamed)).graph.input[0].type.tensor_type.shape.dim[2].dim_value == crop  # re-exported
    proto = onnx.load(str(renamed))
    for prop in proto.metadata_props:
        if prop.key == "bench.preprocessing":
            prep = json.loads(prop.value)
            prop.value = json.dumps({**prep, "crop": 56, "resize": 64})  # metadata that lies about the graph
    onnx.save(proto, str(renamed))
    with pytest.raises(BenchError, match=r"takes 3x40x40 images but its metadata says 3x56x56"):
        create_engine("onnxruntime", renamed, EngineOptions(threads=1))


def test_a_read_only_results_folder_serves_its_current_files_without_locking(run, monkeypatch):
    root, checkpoint = run
    path = ensure_file(ONNX, "fp32", checkpoint, results_root=root)

    def no_lock(*args, **kwargs):
        raise AssertionError("a current file must be used without taking its export lock")

    monkeypatch.setattr(export, "exclusive", no_lock)
    assert ensure_file(ONNX, "fp32", checkpoint, results_root=root) == path  # compare on a read-only folder
    monkeypatch.setattr(export.os, "access", lambda p, mode: False)
    _retrain(checkpoint)
    with pytest.raises(BenchError) as e:
        ensure_file(ONNX, "fp32", checkpoint, results_root=root)
    message = str(e.value)
    assert "\n" not in message and "was exported from another checkpoint" in message
    assert f"{checkpoint.parent} is not writable" in message and "--results-dir" in message


def test_the_int8_onnx_carries_its_model_onnx_checkpoint(run):
    root, checkpoint = run
    int8 = ensure_file(formats.get("onnx-int8"), "int8", checkpoint, results_root=root)
    props = {p.key: p.value for p in onnx.load(str(int8)).metadata_props}
    assert json.loads(props[CHECKPOINT_PROP]) == file_sha256(checkpoint)
    engine = create_engine("onnxruntime", int8, EngineOptions(precision="int8", threads=1))
    assert np.isfinite(engine(torch.zeros(1, 3, 40, 40)).numpy()).all()
