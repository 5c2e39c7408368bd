"""`bench doctor`: which engines and precisions this machine can run and why not; `--gpu-check` runs the GPU path.

A thin wrapper over bench.doctor; torch and onnxruntime are imported inside the command."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from bench.cli.console import error, info, out, print_table


def doctor(
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")] = False,
    resolve_gpu_extra: Annotated[
        bool,
        typer.Option(
            "--resolve-gpu-extra",
            help="Also resolve the gpu extra with pip from the public index alone (no install; needs the index) and "
            "check the tensorrt extra by name: fail when their packages are built for different CUDA majors, the gpu "
            "extra pulls TensorRT, or the tensorrt extra allows TensorRT below 10.15.",
        ),
    ] = False,
    gpu_check: Annotated[
        bool,
        typer.Option(
            "--gpu-check",
            help="On a GPU machine: run every GPU test (a skipped one fails), a training, a 2-process DDP step, a "
            "compare of every GPU engine (fp32/fp16/tf32/int8), torch.compile and predict, each in its time box "
            "(15 minutes in all), and keep an evidence folder (nvidia-smi -q, versions, pip freeze, logs, JUnit XML, "
            "TensorRT layer precisions, ONNX Runtime node placement, compare records).",
        ),
    ] = False,
    out_dir: Annotated[
        Path | None,
        typer.Option("--out", "-o", help="--gpu-check: folder for its logs and records (default results/gpu-check)."),
    ] = None,
) -> None:
    """What this machine can run: every engine x device x precision, and for each one it cannot, why."""
    from bench import doctor as lib

    if gpu_check:
        summary = lib.gpu_check(out_dir or Path("results") / "gpu-check", progress=info)
        if as_json:
            print(json.dumps(summary, indent=2))
        for step in summary["steps"]:
            if not step["ok"]:
                problems = step.get("problems") or step.get("tail") or ["failed"]
                error(f"{step['step']}: {' | '.join(problems[:3])}{' ...' if len(problems) > 3 else ''}")
        if not summary["ok"]:
            error(f"GPU check failed: logs and evidence in {summary['out']}")
            raise typer.Exit(1)
        if not as_json:
            out.print(f"GPU check passed: logs and evidence in {summary['out']}")
        return

    data = lib.report()
    stack = None
    if resolve_gpu_extra:
        try:
            stack = lib.check_gpu_stack().to_dict()
        except lib.ResolverUnavailable as e:
            stack = {"ok": None, "message": str(e), "majors": {}}
        data["gpu_extra"] = stack
    if as_json:
        print(json.dumps(data, indent=2))
    else:
        from bench.cli.tables import doctor_table

        print_table(doctor_table(data))
        if stack is not None:
            (info if stack["ok"] else error)(f"gpu extra: {stack['message']}")
    if stack is not None and stack["ok"] is False:
        raise typer.Exit(1)


def register(app: typer.Typer) -> None:
    app.command("doctor")(doctor)
