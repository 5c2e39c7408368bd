"""`bench export` and `bench predict`: thin wrappers over engines.export and engines.predict."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.markup import escape
from rich.table import Table

from bench.console import error, out, warn
from bench.options import DEFAULT_DATASET, DataRoot, Dataset, ResultsDir
from mldrnet.errors import BenchError


class ExportTo(str, Enum):
    onnx = "onnx"
    tensorrt = "tensorrt"


class ExportPrecision(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    int8 = "int8"


class Precision(str, Enum):
    fp32 = "fp32"
    fp16 = "fp16"
    bf16 = "bf16"
    int8 = "int8"


class EngineName(str, Enum):
    torch = "torch"
    onnxruntime = "onnxruntime"
    tensorrt = "tensorrt"


class Device(str, Enum):
    cpu = "cpu"
    cuda = "cuda"


def export(
    model: Annotated[Optional[str], typer.Argument(help="Zoo model to export (see `bench models`).")] = None,
    all_models: Annotated[bool, typer.Option("--all", help="Every model with a trained checkpoint for --dataset.")] = False,
    to: Annotated[ExportTo, typer.Option("--to", help="onnx (fp32, any machine) or tensorrt (NVIDIA GPU).")] = ExportTo.onnx,
    precision: Annotated[ExportPrecision, typer.Option("--precision", help="TensorRT precision; int8 calibrates on training images.")] = ExportPrecision.fp32,
    max_batch: Annotated[int, typer.Option("--max-batch", min=1, help="TensorRT engines run batch 1..N.")] = 32,
    parity_images: Annotated[int, typer.Option("--parity-images", min=1, help="Test-split images for the parity check.")] = 64,
    dataset: Dataset = DEFAULT_DATASET,
    data_root: DataRoot = None,
    results_dir: ResultsDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Write ONNX files / TensorRT engines next to the checkpoints, each checked against PyTorch on test images."""
    from bench.paths import results_root
    from engines.export import ExportOptions, export_models
    from engines.run_files import trained_models

    root = results_root(results_dir)
    if all_models == (model is not None):
        raise BenchError("name one MODEL or pass --all (see `bench models`)")
    if all_models:
        models = trained_models(root, dataset)
        if not models:
            raise BenchError(f"no trained checkpoints under {root / 'runs' / dataset}: run `bench train-all` first")
    else:
        from mldrnet import zoo

        models = [zoo.info(model).name]
    options = ExportOptions(to=to.value, precision=precision.value, max_batch=max_batch, parity_images=parity_images,
                            data_root=str(data_root) if data_root else None)
    results = export_models(models, options, root, dataset, keep_going=all_models)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        _export_table(results)
    for r in results:
        if r.error:
            error(f"{r.model}: {r.error}")
        elif r.precision != "fp32" and not r.parity.ok:
            warn(f"{r.model} {r.precision}: {r.parity.summary()}")
    if any(r.error for r in results):
        raise typer.Exit(1)


def _export_table(results) -> None:
    table = Table(title="Exports (parity against PyTorch eager, fp32, on test-split images)")
    for col, justify in [("model", "left"), ("format", "left"), ("precision", "left"), ("file", "left"),
                         ("MB", "right"), ("top-1 agree", "right"), ("max |Δlogit|", "right"), ("s", "right"),
                         ("status", "left")]:
        table.add_column(col, justify=justify)
    for r in results:
        if r.error:
            table.add_row(escape(r.model), r.format, r.precision, "-", "-", "-", "-", f"{r.seconds:.1f}",
                          "[red]failed[/]")
            continue
        mb = r.path.stat().st_size / 2**20
        table.add_row(escape(r.model), r.format, r.precision, escape(str(r.path)), f"{mb:.1f}", f"{r.parity.top1_agreement:.1%}",
                      f"{r.parity.max_abs_diff:.2e}", f"{r.seconds:.1f}", "[green]ok[/]")
    out.print(table)


def predict(
    images: Annotated[list[Path], typer.Argument(help="Image files to classify.")],
    model: Annotated[str, typer.Option("--model", help="Zoo model (see `bench models`).")] = "mldrnet",
    engine: Annotated[EngineName, typer.Option("--engine", help="Which engine runs it (its file must exist).")] = EngineName.torch,
    precision: Annotated[Precision, typer.Option("--precision", help="torch: fp32/bf16/fp16; tensorrt: the engine's precision.")] = Precision.fp32,
    device: Annotated[Device, typer.Option("--device", help="cpu or cuda (tensorrt is always cuda).")] = Device.cpu,
    threads: Annotated[Optional[int], typer.Option("--threads", min=1, help="CPU threads (default: torch's).")] = None,
    dataset: Dataset = DEFAULT_DATASET,
    results_dir: ResultsDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Each image's emotion distribution (all classes' probabilities) and top emotion, through any engine."""
    from bench.paths import results_root, run_dir
    from engines.base import EngineOptions
    from engines.predict import predict_files
    from mldrnet import zoo

    name = zoo.info(model).name
    dev = "cuda" if engine is EngineName.tensorrt else device.value
    options = EngineOptions(device=dev, precision=precision.value, threads=threads)
    predictions, described = predict_files(images, engine.value, run_dir(results_root(results_dir), name, dataset),
                                           options)
    for p in predictions:
        if p.error:
            error(p.error)
    good = [p for p in predictions if p.ok]
    if as_json:
        print(json.dumps({"model": name, "engine": described, "predictions": [p.to_dict() for p in predictions]},
                         indent=2))
    elif good:
        classes = list(good[0].probabilities)
        table = Table(title=escape(f"{name} via {described['engine']} ({described['provider']}, "
                                   f"{described['precision']})"))
        table.add_column("image", overflow="fold")
        table.add_column("top emotion")
        for c in classes:
            table.add_column(escape(c), justify="right")  # class names come from the dataset's folders
        for p in good:
            cells = [f"[bold]{v:.3f}[/]" if c == p.top else f"{v:.3f}" for c, v in p.probabilities.items()]
            table.add_row(escape(str(p.path)), escape(f"{p.top} ({p.confidence:.0%})"), *cells)
        out.print(table)
    if len(good) < len(predictions):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("predict")(predict)
