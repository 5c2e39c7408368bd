"""The files of an OpenVINO IR and the JSON that describes them (written by engines.openvino_export): its
metadata's reader and the check that the .xml and .bin are the ones the JSON describes. Apart from the exporter so
that engines.export can judge an IR's staleness without importing it (engines.openvino_export imports export)."""

from __future__ import annotations

import os
from pathlib import Path

from engines.base import file_sha256, read_file_meta
from mldrnet.checkpoint import ModelMeta
from mldrnet.errors import BenchError

IR_FORMAT = "bench-openvino/1"
REMAKE = "re-export it with `bench export MODEL --to openvino`"


def meta_path(xml: str | os.PathLike) -> Path:
    return Path(xml).with_suffix(".json")


def read_ir_meta(xml: str | os.PathLike) -> tuple[ModelMeta, dict]:
    return read_file_meta(meta_path(xml), Path(xml), IR_FORMAT, "OpenVINO", REMAKE)


def check_ir_files(xml: Path, record: dict) -> None:
    """The .xml and .bin are the ones the JSON describes (their sha256, recorded when they were written): a
    truncated, altered or swapped IR is refused in one line naming the file, before OpenVINO reads it."""
    for path, key in ((xml, "xml_sha256"), (xml.with_suffix(".bin"), "bin_sha256")):
        expected = record.get(key)
        if expected is None:  # an IR written by an older bench: nothing to compare with
            continue
        if not path.is_file():
            raise BenchError(f"{path} is missing (the weights of {xml.name}): {REMAKE}")
        if file_sha256(path) != expected:
            raise BenchError(
                f"{path} is not the file its metadata {meta_path(xml).name} describes (truncated or altered since "
                f"it was written): {REMAKE}"
            )
