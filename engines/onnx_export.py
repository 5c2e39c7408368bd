"""PyTorch model -> one self-describing ONNX file.

The torch.export-based exporter (`dynamo=True`, the default since torch 2.9) traces with an example batch of 2:
a batch of 1 would specialize the batch dimension to 1. Height and width stay static because adaptive pooling
lowers to ONNX only for fixed sizes. Weights are stored inside the file (not as external data) and the
`ModelMeta` goes into `metadata_props`, JSON-encoded, so the .onnx file alone is enough to classify images.
"""

from __future__ import annotations

import json
import os
import warnings
from pathlib import Path

import torch
from torch import nn

from engines.base import ModelMeta
from mldrnet.errors import BenchError
from mldrnet.io.atomic import atomic_write_bytes

FORMAT = "bench-onnx/1"
INPUT_NAME, OUTPUT_NAME = "images", "logits"
_PREFIX = "bench."
_PROTOBUF_LIMIT = 2**31 - 1  # a single-file ONNX model is one protobuf message


def meta_to_props(meta: ModelMeta) -> dict[str, str]:
    props = {f"{_PREFIX}{k}": json.dumps(v) for k, v in meta.to_dict().items()}
    return {f"{_PREFIX}format": FORMAT, **props}


def meta_from_props(props: dict[str, str], where: str) -> ModelMeta:
    if props.get(f"{_PREFIX}format") != FORMAT:
        raise BenchError(
            f"{where} has no bench metadata (format {FORMAT}): re-export it with `bench export MODEL --to onnx`"
        )
    try:
        fields = {
            k[len(_PREFIX) :]: json.loads(v)
            for k, v in props.items()
            if k.startswith(_PREFIX) and k != f"{_PREFIX}format"
        }
    except json.JSONDecodeError as e:
        raise BenchError(
            f"{where} has unreadable bench metadata ({e}): re-export it with `bench export MODEL --to onnx`"
        ) from e
    return ModelMeta.from_dict(fields, where)


def read_onnx_meta(path: str | os.PathLike) -> ModelMeta:
    import onnx

    path = Path(path)
    if not path.is_file():
        raise BenchError(f"ONNX file {path} does not exist: export it with `bench export MODEL --to onnx`")
    model = onnx.load(str(path), load_external_data=False)
    return meta_from_props({p.key: p.value for p in model.metadata_props}, str(path))


def export_onnx(
    model: nn.Module, meta: ModelMeta, path: str | os.PathLike, *, example_batch: int = 2, opset: int | None = None
) -> Path:
    """Export `model` (put in eval mode) to `path` with a dynamic batch; check it; write it atomically."""
    import onnx

    if example_batch < 2:
        raise ValueError("example_batch must be >= 2, or the exporter specializes the batch dimension to 1")
    path = Path(path)
    model = model.eval()
    device = next(model.parameters()).device
    example = torch.randn(example_batch, *meta.input_shape, device=device)
    batch = torch.export.Dim("batch", min=1)
    try:
        with warnings.catch_warnings():
            # torch.export's notes about its own internals (nn.GRU's flat weights, deprecated size checks) are
            # not something a user of `bench export` can act on
            warnings.filterwarnings("ignore", message=r"The tensor attributes .* were assigned during export")
            warnings.filterwarnings("ignore", category=FutureWarning)
            program = torch.onnx.export(
                model,
                (example,),
                dynamo=True,
                input_names=[INPUT_NAME],
                output_names=[OUTPUT_NAME],
                dynamic_shapes=({0: batch},),
                opset_version=opset,
                verbose=False,
            )
    except Exception as e:  # the exporter's own errors are long; keep the first line, --debug shows the rest
        raise BenchError(f"ONNX export of {meta.model} failed: {str(e).strip().splitlines()[0]}") from e
    if program is None:  # dynamo=True always returns a program; None would be the legacy exporter's
        raise BenchError(f"ONNX export of {meta.model} returned no program")
    proto = program.model_proto
    for key, value in meta_to_props(meta).items():
        proto.metadata_props.add(key=key, value=value)
    if proto.ByteSize() > _PROTOBUF_LIMIT:
        raise BenchError(f"{meta.model} is over 2 GB as ONNX: a single-file export is impossible")
    try:
        onnx.checker.check_model(proto, full_check=True)
    except onnx.checker.ValidationError as e:
        raise BenchError(f"the ONNX model exported from {meta.model} is invalid: {str(e).splitlines()[0]}") from e
    # one protobuf message with the weights inside (under 2 GB, checked above); atomic: an interrupted export
    # never leaves half a model
    atomic_write_bytes(path, proto.SerializeToString())
    return path
