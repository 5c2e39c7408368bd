"""`bench export` end to end: a checkpoint in a temporary results folder -> model.onnx beside it, parity-checked
on the checkpoint's own test split (a tiny synthetic set)."""

import json
from dataclasses import asdict
from pathlib import Path

import pytest
import torch
from typer.testing import CliRunner

from bench.cli import _register_commands, app
from engines import export
from engines.onnx_export import read_onnx_meta
from mldrnet import EMOTIONS, models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data import DataConfig
from mldrnet.data.transforms import Preprocessing
from mldrnet.errors import BenchError
from mldrnet.io import layout

runner = CliRunner()
_register_commands()
SIZE = 64
DATA = DataConfig(dataset="synth", synth_n=80, synth_size=SIZE)  # seconds to generate, 16 test images


def write_checkpoint(root: Path, name: str = "mldrnet-l2", data: DataConfig | None = DATA) -> Path:
    torch.manual_seed(0)
    model = models.create(name)
    ckpt = Checkpoint.of_model(
        name, model, EMOTIONS, Preprocessing(crop=SIZE), data_config=asdict(data) if data is not None else None
    )
    return ckpt.save(layout.checkpoint_path(root, name, "synth"))


def test_export_writes_a_checked_onnx_file_next_to_the_checkpoint(tmp_path):
    checkpoint = write_checkpoint(tmp_path)
    result = runner.invoke(
        app, ["export", "mldrnet-l2", "--parity-images", "8", "--json"], env={"BENCH_RESULTS_DIR": str(tmp_path)}
    )
    assert result.exit_code == 0, result.output
    [row] = json.loads(result.stdout)
    onnx_path = checkpoint.parent / "model.onnx"
    assert row["path"] == str(onnx_path) and row["format"] == "onnx" and row["error"] is None
    assert row["parity"]["ok"] and row["parity"]["images"] == 8 and row["parity"]["top1_agreement"] == 1.0
    meta = read_onnx_meta(onnx_path)
    assert meta.model == "mldrnet-l2" and meta.classes == EMOTIONS and meta.preprocessing.crop == SIZE
    assert list((tmp_path / "data").iterdir())  # the synthetic test split was rebuilt under this results root


def test_export_all_exports_every_trained_model_and_reports_the_broken_one(tmp_path):
    write_checkpoint(tmp_path, "mldrnet-l2")
    broken = write_checkpoint(tmp_path, "mldrnet-l3", data=None)  # no data_config: no test split to check on
    result = runner.invoke(
        app, ["export", "--all", "--results-dir", str(tmp_path), "--parity-images", "4"], env={"COLUMNS": "250"}
    )
    assert result.exit_code == 1
    assert (tmp_path / "runs/synth/mldrnet-l2/model.onnx").is_file()
    assert not (broken.parent / "model.onnx").exists()
    assert "mldrnet-l3: the mldrnet-l3 checkpoint records no data_config" in result.output
    assert "ok" in result.output and "failed" in result.output  # both rows in the table


def test_export_argument_errors(tmp_path):
    for args, message in [
        (["export"], "name one MODEL or pass --all"),
        (["export", "mldrnet", "--all"], "name one MODEL or pass --all"),
        (["export", "--all"], "no trained checkpoints"),
        (["export", "nosuchnet"], "unknown model 'nosuchnet'"),
        (["export", "mldrnet"], "does not exist: train the model first"),
        (["export", "mldrnet", "--precision", "fp16"], "--to onnx exports fp32, not --precision fp16"),
    ]:
        if args[-1] == "fp16":
            write_checkpoint(tmp_path, "mldrnet")
        result = runner.invoke(app, [*args, "--results-dir", str(tmp_path)])
        assert isinstance(result.exception, BenchError) and message in str(result.exception), (args, result.output)


def test_library_export_finds_the_results_root_from_the_checkpoint_path(tmp_path, monkeypatch):
    # compare calls export_onnx(checkpoint, path) without a results root: the split must come from the
    # checkpoint's own results folder, not from ./results of whatever the working directory is
    checkpoint = write_checkpoint(tmp_path / "elsewhere")
    monkeypatch.chdir(tmp_path)
    result = export.export_onnx(checkpoint, tmp_path / "out" / "best.onnx", parity_images=4)
    assert result.path == tmp_path / "out" / "best.onnx" and result.parity.ok
    assert (tmp_path / "elsewhere" / "data").is_dir() and not (tmp_path / "results").exists()


def test_artifact_names():
    from engines import formats

    run = Path("results/runs/synth/mldrnet")
    assert formats.of_engine("torch").path(run) == run / "best.pt"
    assert formats.of_engine("onnxruntime").path(run) == run / "model.onnx"
    assert formats.of_engine("tensorrt").path(run, "int8") == run / "model.int8.engine"
    with pytest.raises(BenchError):
        formats.of_engine("tflite")


def test_trained_models_are_the_zoo_models_with_a_checkpoint(tmp_path):
    assert layout.trained_models(tmp_path, "synth", models.names()) == []
    for name in ("mldrnet-l3", "mldrnet"):
        path = layout.checkpoint_path(tmp_path, name, "synth")
        path.parent.mkdir(parents=True)
        path.write_bytes(b"")
    assert layout.checkpoint_path(tmp_path, "mldrnet", "synth") == tmp_path / "runs/synth/mldrnet/best.pt"
    assert layout.trained_models(tmp_path, "synth", models.names()) == ["mldrnet", "mldrnet-l3"]  # zoo order
    assert layout.trained_models(tmp_path, "fi", models.names()) == []
