"""`bench predict` end to end through the CLI: a checkpoint in a temporary results folder, real image files, a
corrupt one and a missing one; the torch and onnxruntime engines must give the same distributions."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from typer.testing import CliRunner

from bench.cli import _register_commands, app
from engines.base import file_sha256
from engines.export import export_onnx_checked
from mldrnet import EMOTIONS, models
from mldrnet.checkpoint import Checkpoint
from mldrnet.data import decode_image
from mldrnet.data.transforms import Preprocessing, eval_transform
from mldrnet.errors import BenchError
from mldrnet.io.layout import RunFolder

runner = CliRunner()
_register_commands()
SIZE = 64
MODEL = "mldrnet-l2"


@pytest.fixture(scope="module")
def results(tmp_path_factory) -> Path:
    """A results folder with a trained-looking checkpoint and its ONNX export."""
    root = tmp_path_factory.mktemp("results")
    torch.manual_seed(0)
    model = models.create(MODEL).eval()
    ckpt = Checkpoint.of_model(MODEL, model, EMOTIONS, Preprocessing(crop=SIZE))
    run = RunFolder.at(root, MODEL, "synth").path
    ckpt.save(run / "best.pt")
    export_onnx_checked(
        model,
        ckpt.meta,
        run / "model.onnx",
        [torch.randn(2, 3, SIZE, SIZE)],
        checkpoint_sha256=file_sha256(run / "best.pt"),
    )
    return root


@pytest.fixture(scope="module")
def images(tmp_path_factory) -> dict[str, Path]:
    folder = tmp_path_factory.mktemp("images")
    rng = np.random.default_rng(0)
    paths = {}
    # wide.jpg is big enough for a reduced-scale JPEG decode: predict must decode like the data loader does
    for name, (w, h) in {"wide.jpg": (400, 300), "tall.png": (70, 100)}.items():
        paths[name] = folder / name
        Image.fromarray(rng.integers(0, 256, (h, w, 3), dtype=np.uint8)).save(paths[name])
    paths["corrupt.jpg"] = folder / "corrupt.jpg"
    paths["corrupt.jpg"].write_bytes(b"\xff\xd8\xff\xe0 definitely not the rest of a JPEG")
    paths["missing.jpg"] = folder / "missing.jpg"
    return paths


def _expected(results: Path, path: Path) -> torch.Tensor:
    """What the checkpoint says for `path`, computed without the engines: decode, eval transform, softmax."""
    ckpt = Checkpoint.load(RunFolder.at(results, MODEL, "synth").checkpoint)
    model, p = models.load(ckpt), ckpt.preprocessing
    x = eval_transform(p)(decode_image(path, min_size=p.resize_to))[None]
    with torch.inference_mode():
        return torch.softmax(model(x), dim=1)[0]


def _predict(results, files, *extra):
    return runner.invoke(
        app,
        ["predict", *map(str, files), "--model", MODEL, "--results-dir", str(results), *extra],
        env={"COLUMNS": "250"},
    )


@pytest.mark.parametrize("engine", ["torch", "onnxruntime"])
def test_predict_json_classifies_the_good_files_and_reports_the_bad_ones(results, images, engine):
    order = [images["wide.jpg"], images["corrupt.jpg"], images["tall.png"], images["missing.jpg"]]
    result = _predict(results, order, "--engine", engine, "--json")
    assert result.exit_code == 1  # some files failed
    report = json.loads(result.stdout)
    assert report["model"] == MODEL and report["engine"]["engine"] == engine
    preds = report["predictions"]
    assert [p["path"] for p in preds] == [str(p) for p in order]  # one record per file, in the given order
    for p in (preds[0], preds[2]):
        assert p["error"] is None and list(p["probabilities"]) == list(EMOTIONS)
        probs = torch.tensor(list(p["probabilities"].values()))
        torch.testing.assert_close(probs, _expected(results, Path(p["path"])), rtol=1e-4, atol=1e-5)
        assert p["top"] == EMOTIONS[int(probs.argmax())] and p["confidence"] == pytest.approx(probs.max().item())
    assert preds[1]["probabilities"] is None and "corrupt.jpg" in preds[1]["error"]
    assert preds[3]["probabilities"] is None and "file not found" in preds[3]["error"]
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 2 and "corrupt.jpg" in errors[0] and "missing.jpg" in errors[1]


def test_predict_table_exits_0_when_every_file_is_read(results, images):
    result = _predict(results, [images["wide.jpg"], images["tall.png"]], "--engine", "onnxruntime")
    assert result.exit_code == 0, result.output
    assert "top emotion" in result.stdout and "CPUExecutionProvider" in result.stdout
    assert all(e in result.stdout for e in EMOTIONS) and "wide.jpg" in result.stdout and "tall.png" in result.stdout


def test_predict_without_the_engine_file_says_how_to_make_it(tmp_path, images):
    result = _predict(tmp_path, [images["wide.jpg"]], "--engine", "onnxruntime")
    assert isinstance(result.exception, BenchError) and "bench export" in str(result.exception)
    result = _predict(tmp_path, [images["wide.jpg"]])
    assert isinstance(result.exception, BenchError) and "train the model first" in str(result.exception)
