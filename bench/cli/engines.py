"""`bench export` and `bench predict`: thin wrappers over engines.export and engines.predict."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bench.cli.console import error, print_table, warn
from bench.cli.options import CPUS, DEFAULT_DATASET, MAX_BATCH, DataRoot, Dataset, ResultsDir, choices
from engines import formats
from mldrnet.errors import BenchError
from mldrnet.io.layout import results_root

# every choice comes from the formats table (engines.formats): a new engine row is a new choice
ExportTo = choices("ExportTo", [f.name for f in formats.exportable()])
ExportPrecision = choices("ExportPrecision", formats.export_precisions())  # bf16 is refused at export
Precision = choices("Precision", formats.precisions())
EngineName = choices("EngineName", formats.engine_names())
Device = choices("Device", formats.devices())


def export(
    model: Annotated[str | None, typer.Argument(help="Zoo model to export (see `bench models`).")] = None,
    all_models: Annotated[
        bool, typer.Option("--all", help="Every model with a trained checkpoint for --dataset.")
    ] = False,
    to: Annotated[
        ExportTo,
        typer.Option(
            "--to",
            help="The format to write: "
            + ", ".join(f"{f.name} ({'/'.join(f.devices)})" for f in formats.exportable())
            + ".",
        ),
    ] = ExportTo("onnx"),
    precision: Annotated[
        ExportPrecision | None,
        typer.Option(
            "--precision",
            help="Precision to export: fp32 unless the format has one precision (onnx-int8: int8); "
            "int8 calibrates on training images.",
        ),
    ] = None,
    max_batch: Annotated[
        int, typer.Option("--max-batch", min=1, max=MAX_BATCH, help="TensorRT engines run batch 1..N.")
    ] = 32,
    parity_images: Annotated[
        int, typer.Option("--parity-images", min=1, max=100_000, help="Test-split images for the parity check.")
    ] = 64,
    dataset: Dataset = DEFAULT_DATASET,
    data_root: DataRoot = None,
    results_dir: ResultsDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Write ONNX files / TensorRT engines next to the checkpoints, each checked against PyTorch on test images."""
    from bench.cli.tables import export_table
    from engines.export import ExportOptions, export_models
    from mldrnet import models
    from mldrnet.io import layout

    root = results_root(results_dir)
    chosen = export_precision(to.value, precision.value if precision is not None else None)
    if all_models == (model is not None):
        raise BenchError("name one MODEL or pass --all (see `bench models`)")
    if all_models:
        names = layout.trained_models(root, dataset, models.names())
        if not names:
            raise BenchError(
                f"no trained checkpoints under {layout.runs_dir(root, dataset)}: run `bench train-all` first"
            )
    else:
        names = [models.info(model).name]
    options = ExportOptions(
        to=to.value,
        precision=chosen,
        max_batch=max_batch,
        parity_images=parity_images,
        data_root=str(data_root) if data_root else None,
    )
    results = export_models(names, options, root, dataset, keep_going=all_models)
    if as_json:
        print(json.dumps([r.to_dict() for r in results], indent=2))
    else:
        print_table(export_table(results))
    for r in results:
        if not r.ok:
            error(f"{r.model}: {r.error}")
        elif r.precision != "fp32" and not r.parity.ok:
            warn(f"{r.model} {r.precision}: {r.parity.summary()}")
    if not all(r.ok for r in results):
        raise typer.Exit(1)


def export_precision(to: str, given: str | None) -> str:
    """The precision `bench export --to TO` writes: the one given, else fp32, else the format's only precision
    (onnx-int8 writes int8); a precision the format does not export is refused in one line."""
    offered = formats.get(to).export_precisions
    if given is None:
        return "fp32" if "fp32" in offered else offered[0]
    if given not in offered:
        raise BenchError(f"--to {to} exports {' or '.join(offered)}, not --precision {given}: drop --precision")
    return given


def predict(
    images: Annotated[list[Path], typer.Argument(help="Image files to classify.")],
    model: Annotated[str, typer.Option("--model", help="Zoo model (see `bench models`).")] = "mldrnet",
    engine: Annotated[
        EngineName, typer.Option("--engine", help="Which engine runs it (its file must exist).")
    ] = EngineName("torch"),
    precision: Annotated[
        Precision, typer.Option("--precision", help="torch: fp32/bf16/fp16; tensorrt: the engine's precision.")
    ] = Precision("fp32"),
    device: Annotated[Device, typer.Option("--device", help="cpu or cuda (tensorrt is always cuda).")] = Device("cpu"),
    threads: Annotated[
        int | None, typer.Option("--threads", min=1, max=CPUS, help="CPU threads (default: torch's).")
    ] = None,
    dataset: Dataset = DEFAULT_DATASET,
    results_dir: ResultsDir = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
) -> None:
    """Each image's emotion distribution (all classes' probabilities) and top emotion, through any engine."""
    from bench.cli.tables import predict_table
    from engines.base import EngineOptions
    from engines.predict import predict_files
    from mldrnet import models
    from mldrnet.io.layout import RunFolder

    name = models.info(model).name
    fmt = formats.of_engine(engine.value)
    dev = device.value if device.value in fmt.devices else fmt.devices[0]  # tensorrt runs on cuda only
    options = EngineOptions(device=dev, precision=precision.value, threads=threads)
    run = RunFolder.at(results_root(results_dir), name, dataset)
    predictions, described = predict_files(images, engine.value, run.path, options)
    for p in predictions:
        if p.error:
            error(p.error)
    if as_json:
        print(
            json.dumps(
                {"model": name, "engine": described, "predictions": [p.to_dict() for p in predictions]}, indent=2
            )
        )
    elif any(p.ok for p in predictions):
        print_table(predict_table(name, described, predictions))
    if not all(p.ok for p in predictions):
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("predict")(predict)
