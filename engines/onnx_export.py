"""PyTorch model -> one self-describing ONNX file.

The torch.export-based exporter (`dynamo=True`, the default since torch 2.9) traces with an example batch of 2:
a batch of 1 would specialize the batch dimension to 1. Height and width stay static because adaptive pooling
lowers to ONNX only for fixed sizes. Weights are stored inside the file (not as external data) and the
`ModelMeta` goes into `metadata_props`, JSON-encoded, so the .onnx file alone is enough to classify images; so
does the sha256 of the checkpoint it was exported from (`bench.checkpoint_sha256`), which ties the file to that
checkpoint by content (`engines.export.stale_reason`, `engines.predict.load_engine`).
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
CHECKPOINT_PROP = f"{_PREFIX}checkpoint_sha256"  # the sha256 of the checkpoint file it was exported from
_NOT_META = (f"{_PREFIX}format", CHECKPOINT_PROP, f"{_PREFIX}quantization")  # props beside the ModelMeta
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
            k[len(_PREFIX) :]: json.loads(v) for k, v in props.items() if k.startswith(_PREFIX) and k not in _NOT_META
        }
    except json.JSONDecodeError as e:
        raise BenchError(
            f"{where} has unreadable bench metadata ({e}): re-export it with `bench export MODEL --to onnx`"
        ) from e
    return ModelMeta.from_dict(fields, where)


_PROPS: dict[tuple[str, int, int], dict[str, str]] = {}


def read_onnx_props(path: str | os.PathLike) -> dict[str, str]:
    """The file's metadata_props; remembered per (path, size, mtime), since parsing a big model takes seconds. One
    line naming the file and the fix when it is not an ONNX file (truncated, or something else)."""
    import onnx
    from google.protobuf.message import DecodeError

    path = Path(path)
    if not path.is_file():
        raise BenchError(f"ONNX file {path} does not exist: export it with `bench export MODEL --to onnx`")
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _PROPS:
        try:
            model = onnx.load(str(path), load_external_data=False)
        except (DecodeError, OSError, ValueError, RuntimeError) as e:
            raise BenchError(
                f"{path} is not a readable ONNX file ({type(e).__name__}: {str(e).strip()[:120] or 'no detail'}; "
                "truncated or altered?): export it again with `bench export MODEL --to onnx`"
            ) from e
        _PROPS[key] = {p.key: p.value for p in model.metadata_props}
    return _PROPS[key]


def read_onnx_meta(path: str | os.PathLike) -> ModelMeta:
    return meta_from_props(read_onnx_props(path), str(path))


def read_onnx_checkpoint(path: str | os.PathLike) -> str | None:
    """The sha256 of the checkpoint the file was exported from; None when it records none (an older bench)."""
    raw = read_onnx_props(path).get(CHECKPOINT_PROP)
    try:
        value = json.loads(raw) if raw is not None else None
    except json.JSONDecodeError:
        return None
    return value if isinstance(value, str) else None


def export_onnx(
    model: nn.Module,
    meta: ModelMeta,
    path: str | os.PathLike,
    *,
    example_batch: int = 2,
    opset: int | None = None,
    checkpoint_sha256: str | None = None,
) -> Path:
    """Export `model` (put in eval mode) to `path` with a dynamic batch; check it; write it atomically.
    `checkpoint_sha256`: the checkpoint file the weights came from (None for an in-memory model)."""
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
    if checkpoint_sha256 is not None:
        proto.metadata_props.add(key=CHECKPOINT_PROP, value=json.dumps(checkpoint_sha256))
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
