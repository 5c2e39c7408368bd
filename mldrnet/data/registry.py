"""The dataset registry: name -> `DatasetSpec`. One module per on-disk format; `synth` is FI's format with a
generated root (see `synth.py`), so it shares FI's loader and split scheme."""

from __future__ import annotations

from dataclasses import replace

from mldrnet.data import abstract, artphoto, emoset, emotion6, fi, iaps, mart
from mldrnet.data.base import DatasetSpec
from mldrnet.errors import BenchError

SYNTH = replace(fi.SPEC, name="synth", title="synthetic emotions (built in, generated on first use, FI layout)")

DATASETS: dict[str, DatasetSpec] = {
    spec.name: spec
    for spec in (SYNTH, fi.SPEC, artphoto.SPEC, abstract.SPEC, iaps.SPEC, emotion6.SPEC, emoset.SPEC, mart.SPEC)
}


def get_spec(name: str) -> DatasetSpec:
    try:
        return DATASETS[name.lower()]
    except KeyError:
        raise BenchError(f"unknown dataset {name!r}; choose one of {', '.join(DATASETS)}") from None
